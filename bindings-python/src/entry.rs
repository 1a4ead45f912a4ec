//! `ferroftp.Entry`: one directory entry of a listing.

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;

/// One entry of a directory listing (immutable).
#[pyclass(frozen, module = "ferroftp", name = "Entry")]
pub(crate) struct PyEntry {
    /// The file name, without any directory part.
    #[pyo3(get)]
    name: String,
    /// The file name as the server's bytes (differs from `name` only for names that are not
    /// UTF-8, which `name` carries as private-use characters).
    name_bytes: Vec<u8>,
    /// The listed directory joined with the name.
    #[pyo3(get)]
    path: String,
    /// `"file"`, `"dir"`, `"link"` or `"other"`.
    #[pyo3(get)]
    kind: &'static str,
    /// The size in bytes, when the listing gives one.
    #[pyo3(get)]
    size: Option<u64>,
    /// The modification time (aware, UTC), when the listing gives one.
    #[pyo3(get)]
    modified: Option<DateTime<Utc>>,
    /// Permissions as the server gave them (`"rwxr-xr-x"`, `"0755"`, or MLSD `perm` facts).
    #[pyo3(get)]
    permissions: Option<String>,
    /// The target of a symbolic link, when the listing gives it.
    #[pyo3(get)]
    target: Option<String>,
    /// The listing line, unchanged.
    #[pyo3(get)]
    raw: String,
}

impl From<ferroftp::Entry> for PyEntry {
    fn from(e: ferroftp::Entry) -> Self {
        Self {
            name_bytes: e.name_bytes(),
            name: e.name,
            path: e.path,
            kind: e.kind.as_str(),
            size: e.size,
            modified: e.modified,
            permissions: e.permissions,
            target: e.target,
            raw: e.raw,
        }
    }
}

/// Converts a listing.
pub(crate) fn entries(list: Vec<ferroftp::Entry>) -> Vec<PyEntry> {
    list.into_iter().map(PyEntry::from).collect()
}

impl PyEntry {
    fn key(&self) -> impl PartialEq + '_ {
        (
            &self.name,
            &self.path,
            self.kind,
            self.size,
            self.modified,
            &self.permissions,
            &self.target,
            &self.raw,
        )
    }
}

#[pymethods]
impl PyEntry {
    /// The file name as the server sent it (bytes).
    #[getter]
    fn name_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, &self.name_bytes)
    }

    /// The path as the server's bytes (to pass back as a `bytes` path).
    #[getter]
    fn path_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, &ferroftp::names::encode(&self.path))
    }

    /// Whether the entry is a directory.
    fn is_dir(&self) -> bool {
        self.kind == "dir"
    }

    /// Whether the entry is a regular file.
    fn is_file(&self) -> bool {
        self.kind == "file"
    }

    fn __repr__(&self) -> String {
        let size = self.size.map_or("None".to_string(), |s| s.to_string());
        let modified = self
            .modified
            .map_or("None".to_string(), |m| format!("'{}'", m.to_rfc3339()));
        format!(
            "Entry(path={:?}, kind='{}', size={size}, modified={modified})",
            self.path, self.kind
        )
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> Py<PyAny> {
        let py = other.py();
        let Ok(other) = other.cast::<PyEntry>() else {
            return py.NotImplemented();
        };
        let other = other.get();
        match op {
            CompareOp::Eq => (self.key() == other.key()).into_pyobject(py),
            CompareOp::Ne => (self.key() != other.key()).into_pyobject(py),
            _ => return py.NotImplemented(),
        }
        .map(|b| b.to_owned().into_any().unbind())
        .unwrap_or_else(|_| py.NotImplemented())
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&self.path, &self.raw).hash(&mut h);
        h.finish()
    }
}
