//! `RemoteFile` / `AsyncRemoteFile`: the objects `Session.open` / `AsyncSession.open` return.
//!
//! Each wraps the core's streaming reader or writer, which holds the session's lock until the
//! file is closed. An operation that is interrupted (Ctrl-C, a cancelled await) abandons the
//! transfer: the file can no longer be used, the lock is released and the session reconnects
//! for its next operation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferroftp::{ErrorKind, RemoteReader, RemoteWriter};
use pyo3::PyErrArguments;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PySlice, PyType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::errors::{err, ftp_err, io_err};
use crate::runtime::{ready, spawn_async, wait};
use crate::transfer::{CHUNK, bytes_arg};

enum State {
    Reading {
        reader: RemoteReader,
        eof: bool,
    },
    Writing(RemoteWriter),
    Closed,
    /// An operation was interrupted or failed; the transfer is abandoned.
    Broken,
}

/// `io.UnsupportedOperation` (or `ValueError` for a closed file), raised lazily.
struct IoMisuse {
    closed: bool,
    message: String,
}

impl PyErrArguments for IoMisuse {
    fn arguments(self, py: Python<'_>) -> Py<PyAny> {
        let made = if self.closed {
            py.get_type::<pyo3::exceptions::PyValueError>()
                .call1((self.message,))
        } else {
            py.import("io")
                .and_then(|io| io.getattr("UnsupportedOperation"))
                .and_then(|c| c.call1((self.message,)))
        };
        match made {
            Ok(e) => e.unbind(),
            Err(e) => e.into_value(py).into_any(),
        }
    }
}

fn misuse(closed: bool, message: impl Into<String>) -> PyErr {
    PyErr::new::<PyException, _>(IoMisuse {
        closed,
        message: message.into(),
    })
}

/// What both faces share: the state behind an async lock (operations on one file queue up).
pub(crate) struct FileCore {
    state: tokio::sync::Mutex<State>,
    closed: AtomicBool,
    path: String,
    mode: &'static str,
}

impl FileCore {
    pub(crate) fn reader(path: String, reader: RemoteReader) -> Arc<Self> {
        Arc::new(Self {
            state: tokio::sync::Mutex::new(State::Reading { reader, eof: false }),
            closed: AtomicBool::new(false),
            path,
            mode: "rb",
        })
    }

    pub(crate) fn writer(path: String, writer: RemoteWriter) -> Arc<Self> {
        Arc::new(Self {
            state: tokio::sync::Mutex::new(State::Writing(writer)),
            closed: AtomicBool::new(false),
            path,
            mode: "wb",
        })
    }

    fn unusable(&self, state: &State, op: &str) -> PyErr {
        match state {
            State::Closed => misuse(true, "I/O operation on closed file"),
            State::Broken => err(
                ErrorKind::Cancelled,
                format!(
                    "{}: an earlier operation on this file was interrupted or failed; \
                     the transfer is abandoned (open the file again)",
                    self.path
                ),
            ),
            _ => misuse(
                false,
                format!("{op}: the file is open in mode {:?}", self.mode),
            ),
        }
    }

    /// Reads up to `size` bytes (all of the rest with `None`), fewer only at the end.
    async fn read(self: Arc<Self>, size: Option<usize>) -> PyResult<Vec<u8>> {
        let mut state = self.state.lock().await;
        let (mut reader, eof) = match std::mem::replace(&mut *state, State::Broken) {
            State::Reading { reader, eof } => (reader, eof),
            other => {
                let e = self.unusable(&other, "read");
                *state = other;
                return Err(e);
            }
        };
        let mut out = Vec::new();
        let mut at_end = eof;
        let limit = size.unwrap_or(usize::MAX);
        while !at_end && out.len() < limit {
            let start = out.len();
            out.resize(start + (limit - start).min(CHUNK), 0);
            match reader.read(&mut out[start..]).await {
                Ok(n) => {
                    out.truncate(start + n);
                    at_end = n == 0;
                }
                // `reader` is dropped: the transfer is abandoned and the lock released.
                Err(e) => return Err(io_err(&e, &format!("reading {}", self.path))),
            }
        }
        *state = State::Reading {
            reader,
            eof: at_end,
        };
        Ok(out)
    }

    /// Writes all of `data`.
    async fn write(self: Arc<Self>, data: PyBackedBytes) -> PyResult<usize> {
        let mut state = self.state.lock().await;
        let mut writer = match std::mem::replace(&mut *state, State::Broken) {
            State::Writing(w) => w,
            other => {
                let e = self.unusable(&other, "write");
                *state = other;
                return Err(e);
            }
        };
        match writer.write_all(&data).await {
            Ok(()) => {
                *state = State::Writing(writer);
                Ok(data.len())
            }
            Err(e) => Err(io_err(&e, &format!("writing {}", self.path))),
        }
    }

    /// Flushes written data to the data connection.
    async fn flush(self: Arc<Self>) -> PyResult<()> {
        let mut state = self.state.lock().await;
        if let State::Writing(w) = &mut *state
            && let Err(e) = w.flush().await
        {
            *state = State::Broken;
            return Err(io_err(&e, &format!("writing {}", self.path)));
        }
        Ok(())
    }

    /// Ends the transfer: a writer waits for the server's confirmation (unless `abandon`), a
    /// reader that reached the end reads the final reply; a reader closed before the end
    /// abandons the transfer. Closing twice does nothing.
    async fn close(self: Arc<Self>, abandon: bool) -> PyResult<()> {
        self.closed.store(true, Ordering::SeqCst);
        let mut state = self.state.lock().await;
        match std::mem::replace(&mut *state, State::Closed) {
            State::Reading { reader, eof: true } if !abandon => {
                reader.finish().await.map_err(ftp_err)
            }
            State::Writing(writer) if !abandon => writer.finish().await.map_err(ftp_err),
            _ => Ok(()),
        }
    }

    /// Abandons the transfer at once, without waiting (for a file that never reached its
    /// caller). Does nothing while an operation on the file is under way.
    fn abandon_now(&self) {
        if let Ok(mut state) = self.state.try_lock() {
            self.closed.store(true, Ordering::SeqCst);
            *state = State::Closed;
        }
    }

    fn repr(&self, class: &str) -> String {
        let closed = if self.closed.load(Ordering::SeqCst) {
            " closed"
        } else {
            ""
        };
        format!(
            "<ferroftp.{class} {:?} mode={:?}{closed}>",
            self.path, self.mode
        )
    }
}

fn size_arg(size: Option<i64>) -> Option<usize> {
    match size {
        Some(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => None,
    }
}

/// A remote file open for reading (`"rb"`) or writing (`"wb"`); returned by `Session.open`.
#[pyclass(frozen, module = "ferroftp", name = "RemoteFile")]
pub(crate) struct PyRemoteFile {
    core: Arc<FileCore>,
}

impl PyRemoteFile {
    pub(crate) fn new(core: Arc<FileCore>) -> Self {
        Self { core }
    }
}

#[pymethods]
impl PyRemoteFile {
    /// Reads up to `size` bytes (all of the rest when `size` is negative or omitted).
    #[pyo3(signature = (size = -1, /), text_signature = "($self, size=-1, /)")]
    fn read(&self, py: Python<'_>, size: Option<i64>) -> PyResult<Py<PyAny>> {
        let data = wait(py, Arc::clone(&self.core).read(size_arg(size)))?;
        Ok(pyo3::types::PyBytes::new(py, &data).into_any().unbind())
    }

    /// Reads all of the rest of the file.
    fn readall(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.read(py, None)
    }

    /// Reads into a writable buffer (bytearray, memoryview); returns the byte count.
    #[pyo3(signature = (buffer, /))]
    fn readinto(&self, py: Python<'_>, buffer: &Bound<'_, PyAny>) -> PyResult<usize> {
        let len = buffer.len()?;
        let data = wait(py, Arc::clone(&self.core).read(Some(len)))?;
        let n = data.len();
        let slice = PySlice::new(py, 0, n as isize, 1);
        buffer.set_item(slice, pyo3::types::PyBytes::new(py, &data))?;
        Ok(n)
    }

    /// Writes all of `data` (bytes-like); returns its length.
    #[pyo3(signature = (data, /))]
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        let data = bytes_arg(data, "data")?;
        wait(py, Arc::clone(&self.core).write(data))
    }

    /// Flushes written data to the server's data connection.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        wait(py, Arc::clone(&self.core).flush())
    }

    /// Ends the transfer and releases the session (a finished upload is confirmed by the
    /// server; a download closed before its end is abandoned).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        wait(py, Arc::clone(&self.core).close(false))
    }

    /// Whether the file was closed.
    #[getter]
    fn closed(&self) -> bool {
        self.core.closed.load(Ordering::SeqCst)
    }

    /// The remote path.
    #[getter]
    fn name(&self) -> &str {
        &self.core.path
    }

    /// `"rb"` or `"wb"`.
    #[getter]
    fn mode(&self) -> &'static str {
        self.core.mode
    }

    fn readable(&self) -> bool {
        self.core.mode == "rb"
    }

    fn writable(&self) -> bool {
        self.core.mode == "wb"
    }

    fn seekable(&self) -> bool {
        false
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the file; after an exception, an upload is abandoned instead of confirmed.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyType>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        wait(py, Arc::clone(&self.core).close(exc_type.is_some()))?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        self.core.repr("RemoteFile")
    }
}

/// The awaitable twin of `RemoteFile`; returned by `AsyncSession.open`.
#[pyclass(frozen, module = "ferroftp", name = "AsyncRemoteFile")]
pub(crate) struct PyAsyncRemoteFile {
    core: Arc<FileCore>,
}

impl PyAsyncRemoteFile {
    pub(crate) fn new(core: Arc<FileCore>) -> Self {
        Self { core }
    }
}

#[pymethods]
impl PyAsyncRemoteFile {
    /// See `RemoteFile.read`.
    #[pyo3(signature = (size = -1, /), text_signature = "($self, size=-1, /)")]
    fn read<'py>(&self, py: Python<'py>, size: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        let core = Arc::clone(&self.core);
        spawn_async(
            py,
            async move { core.read(size_arg(size)).await.map(Bytes) },
        )
    }

    /// See `RemoteFile.write`.
    #[pyo3(signature = (data, /))]
    fn write<'py>(&self, py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let data = bytes_arg(data, "data")?;
        spawn_async(py, Arc::clone(&self.core).write(data))
    }

    /// See `RemoteFile.flush`.
    fn flush<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        spawn_async(py, Arc::clone(&self.core).flush())
    }

    /// See `RemoteFile.close`.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        spawn_async(py, Arc::clone(&self.core).close(false))
    }

    /// Whether the file was closed.
    #[getter]
    fn closed(&self) -> bool {
        self.core.closed.load(Ordering::SeqCst)
    }

    /// The remote path.
    #[getter]
    fn name(&self) -> &str {
        &self.core.path
    }

    /// `"rb"` or `"wb"`.
    #[getter]
    fn mode(&self) -> &'static str {
        self.core.mode
    }

    fn readable(&self) -> bool {
        self.core.mode == "rb"
    }

    fn writable(&self) -> bool {
        self.core.mode == "wb"
    }

    fn __aenter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        ready(slf.into_any())
    }

    /// Closes the file; after an exception, an upload is abandoned instead of confirmed.
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        exc_type: Option<&Bound<'py, PyType>>,
        _exc: Option<&Bound<'py, PyAny>>,
        _tb: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = Arc::clone(&self.core);
        let abandon = exc_type.is_some();
        spawn_async(py, async move { core.close(abandon).await.map(|()| false) })
    }

    /// Abandons the transfer now (used by `open` when it is cancelled at the last moment).
    fn _abandon(&self) {
        self.core.abandon_now();
    }

    fn __repr__(&self) -> String {
        self.core.repr("AsyncRemoteFile")
    }
}

/// Data that becomes `bytes` in Python (a `Vec<u8>` would too, but this says so).
pub(crate) struct Bytes(pub(crate) Vec<u8>);

impl<'py> IntoPyObject<'py> for Bytes {
    type Target = pyo3::types::PyBytes;
    type Output = Bound<'py, pyo3::types::PyBytes>;
    type Error = std::convert::Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(pyo3::types::PyBytes::new(py, &self.0))
    }
}
