//! `path_to_bytes` / `path_from_bytes`: between the `str` paths and names the library returns
//! and the server's raw bytes (the core's lossless mapping, [`ferroftp::names`]).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::options::type_name;

/// The server's bytes for a path or name the library gave as `str` (`Session.pwd()`,
/// `Session.names()`, `Entry.path`, ...).
#[pyfunction]
#[pyo3(signature = (path, /))]
pub(crate) fn path_to_bytes<'py>(path: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    match path.cast::<PyString>() {
        Ok(s) => Ok(PyBytes::new(
            path.py(),
            &ferroftp::names::encode(&s.to_cow()?),
        )),
        Err(_) => Err(PyTypeError::new_err(format!(
            "path_to_bytes() takes a str, not {}",
            type_name(path)
        ))),
    }
}

/// The `str` form of the server's bytes `raw`: the same string a listing would give for that
/// name, and equivalent to passing `raw` itself as a path.
#[pyfunction]
#[pyo3(signature = (raw, /))]
pub(crate) fn path_from_bytes(raw: &Bound<'_, PyAny>) -> PyResult<String> {
    match raw.cast::<PyBytes>() {
        Ok(b) => Ok(ferroftp::names::decode(b.as_bytes())),
        Err(_) => Err(PyTypeError::new_err(format!(
            "path_from_bytes() takes bytes, not {}",
            type_name(raw)
        ))),
    }
}
