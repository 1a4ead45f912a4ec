//! `RemoteFile` / `AsyncRemoteFile`: the objects `Session.open` / `AsyncSession.open` return.
//!
//! Each wraps the core's streaming reader or writer, which holds the session's lock until the
//! file is closed. An operation that is interrupted (Ctrl-C, a cancelled await) abandons the
//! transfer: the file can no longer be used, the lock is released and the session reconnects
//! for its next operation.
//!
//! A reader reads ahead into a buffer of its own (for `readline` and iteration by line). A
//! reader that seeks ends its streaming transfer (the session is free again) and reads from
//! then on with the core's ranged reads (REST + RETR), each one operation under the session's
//! lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ferroftp::{ErrorKind, RemoteReader, RemoteWriter};
use pyo3::PyErrArguments;
use pyo3::exceptions::{PyException, PyStopAsyncIteration, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PySlice, PyType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::errors::{err, ftp_err, io_err};
use crate::runtime::{ready, spawn_async, wait};
use crate::transfer::{CHUNK, bytes_arg};

enum State {
    Reading {
        reader: RemoteReader,
        eof: bool,
    },
    /// A reader that sought: each read is a ranged read of the session (from the position
    /// after the buffered bytes).
    Ranged {
        eof: bool,
    },
    Writing(RemoteWriter),
    Closed,
    /// An operation was interrupted or failed; the transfer is abandoned.
    Broken,
}

/// The state and the read-ahead buffer, behind the file's lock.
struct Inner {
    state: State,
    /// Bytes read from the server and not yet handed out: `buf[head..]`.
    buf: Vec<u8>,
    head: usize,
}

impl Inner {
    fn buffered(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    /// Hands out the first `n` buffered bytes.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let out = self.buf[self.head..self.head + n].to_vec();
        self.head += n;
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        } else if self.head > CHUNK && self.head * 2 > self.buf.len() {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        out
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.head = 0;
    }

    fn at_end(&self) -> bool {
        matches!(
            self.state,
            State::Reading { eof: true, .. } | State::Ranged { eof: true }
        )
    }
}

/// Where `seek` counts from (`io.SEEK_SET`, `SEEK_CUR`, `SEEK_END`).
#[derive(Clone, Copy)]
enum Whence {
    Start,
    Current,
    End,
}

fn whence_arg(whence: i32) -> PyResult<Whence> {
    match whence {
        0 => Ok(Whence::Start),
        1 => Ok(Whence::Current),
        2 => Ok(Whence::End),
        _ => Err(PyValueError::new_err(format!(
            "invalid whence ({whence}, should be 0, 1 or 2)"
        ))),
    }
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
    inner: tokio::sync::Mutex<Inner>,
    session: ferroftp::Session,
    closed: AtomicBool,
    /// The position in the file: bytes handed out (read) or taken (written).
    pos: AtomicU64,
    /// The size the server announced when the download started, if it did.
    announced: Option<u64>,
    path: String,
    mode: &'static str,
}

impl FileCore {
    pub(crate) fn reader(
        session: ferroftp::Session,
        path: String,
        reader: RemoteReader,
    ) -> Arc<Self> {
        let announced = reader.announced_size();
        Self::new(
            session,
            path,
            State::Reading { reader, eof: false },
            announced,
            "rb",
        )
    }

    pub(crate) fn writer(
        session: ferroftp::Session,
        path: String,
        writer: RemoteWriter,
    ) -> Arc<Self> {
        Self::new(session, path, State::Writing(writer), None, "wb")
    }

    fn new(
        session: ferroftp::Session,
        path: String,
        state: State,
        announced: Option<u64>,
        mode: &'static str,
    ) -> Arc<Self> {
        Arc::new(Self {
            inner: tokio::sync::Mutex::new(Inner {
                state,
                buf: Vec::new(),
                head: 0,
            }),
            session,
            closed: AtomicBool::new(false),
            pos: AtomicU64::new(0),
            announced,
            path,
            mode,
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

    /// Refuses `op` unless the file is a reader that can still be read.
    fn check_readable(&self, inner: &Inner, op: &str) -> PyResult<()> {
        match inner.state {
            State::Reading { .. } | State::Ranged { .. } => Ok(()),
            ref other => Err(self.unusable(other, op)),
        }
    }

    /// Reads up to `want` more bytes from the server into the buffer; false at the end of the
    /// file. A failed read abandons the transfer (the file is broken).
    async fn fill(&self, inner: &mut Inner, want: usize) -> PyResult<bool> {
        let source = inner.buffered().len() as u64 + self.pos.load(Ordering::SeqCst);
        match &mut inner.state {
            State::Reading { .. } => {
                // Broken until the read is done: a read that is interrupted (its future
                // dropped) abandons the transfer.
                let State::Reading { mut reader, eof } =
                    std::mem::replace(&mut inner.state, State::Broken)
                else {
                    unreachable!("matched above")
                };
                if eof {
                    inner.state = State::Reading { reader, eof };
                    return Ok(false);
                }
                let start = inner.buf.len();
                inner.buf.resize(start + want.clamp(1, CHUNK), 0);
                match reader.read(&mut inner.buf[start..]).await {
                    Ok(n) => {
                        inner.buf.truncate(start + n);
                        inner.state = State::Reading {
                            reader,
                            eof: n == 0,
                        };
                        Ok(n > 0)
                    }
                    Err(e) => {
                        inner.buf.truncate(start);
                        // `reader` is dropped: the transfer is abandoned and the lock released.
                        Err(io_err(&e, &format!("reading {}", self.path)))
                    }
                }
            }
            State::Ranged { eof } => {
                if *eof {
                    return Ok(false);
                }
                let want = want.max(1);
                let data = self
                    .session
                    .read_range(&self.path, source, want as u64)
                    .await
                    .map_err(ftp_err)?;
                *eof = data.len() < want;
                inner.buf.extend_from_slice(&data);
                Ok(!data.is_empty())
            }
            other => Err(self.unusable(other, "read")),
        }
    }

    /// Hands out `n` buffered bytes, moving the position.
    fn hand_out(&self, inner: &mut Inner, n: usize) -> Vec<u8> {
        let out = inner.take(n);
        self.pos.fetch_add(out.len() as u64, Ordering::SeqCst);
        out
    }

    /// Reads up to `size` bytes (all of the rest with `None`), fewer only at the end.
    async fn read(self: Arc<Self>, size: Option<usize>) -> PyResult<Vec<u8>> {
        let mut inner = self.inner.lock().await;
        self.check_readable(&inner, "read")?;
        let limit = size.unwrap_or(usize::MAX);
        while inner.buffered().len() < limit {
            let want = match (&inner.state, size) {
                // The rest of the file in one ranged read.
                (State::Ranged { .. }, None) => usize::MAX / 2,
                _ => limit - inner.buffered().len(),
            };
            if !self.fill(&mut inner, want).await? {
                break;
            }
        }
        let n = inner.buffered().len().min(limit);
        Ok(self.hand_out(&mut inner, n))
    }

    /// Reads one line, up to and including `\n` (at most `size` bytes when given); `b""` at the
    /// end of the file.
    async fn readline(self: Arc<Self>, size: Option<usize>) -> PyResult<Vec<u8>> {
        let mut inner = self.inner.lock().await;
        self.check_readable(&inner, "readline")?;
        let limit = size.unwrap_or(usize::MAX);
        let mut searched = 0;
        loop {
            let buffered = inner.buffered();
            if let Some(i) = buffered[searched..].iter().position(|&b| b == b'\n') {
                let n = (searched + i + 1).min(limit);
                return Ok(self.hand_out(&mut inner, n));
            }
            if buffered.len() >= limit {
                return Ok(self.hand_out(&mut inner, limit));
            }
            searched = buffered.len();
            if !self.fill(&mut inner, 64 * 1024).await? {
                let n = inner.buffered().len();
                return Ok(self.hand_out(&mut inner, n));
            }
        }
    }

    /// Moves a reader to `offset` (from where `whence` says); returns the new position.
    ///
    /// Within the bytes read ahead, the streaming transfer goes on; anywhere else it ends (the
    /// session is free again) and later reads are ranged reads from the new position.
    async fn seek(self: Arc<Self>, offset: i64, whence: Whence) -> PyResult<u64> {
        let mut inner = self.inner.lock().await;
        match inner.state {
            State::Reading { .. } | State::Ranged { .. } => {}
            ref other => {
                let e = match other {
                    State::Writing(_) => misuse(false, "seek: the file is open for writing"),
                    other => self.unusable(other, "seek"),
                };
                return Err(e);
            }
        }
        let pos = self.pos.load(Ordering::SeqCst);
        let base = match whence {
            Whence::Start => 0,
            Whence::Current => pos,
            Whence::End => {
                self.end_stream(&mut inner).await;
                self.session.size(&self.path).await.map_err(ftp_err)?
            }
        };
        let target = i128::from(base) + i128::from(offset);
        let target = u64::try_from(target)
            .map_err(|_| PyValueError::new_err(format!("negative seek position {target}")))?;
        if target == pos {
            return Ok(pos);
        }
        let ahead = inner.buffered().len() as u64;
        if target > pos && target - pos <= ahead {
            let skip = (target - pos) as usize;
            self.hand_out(&mut inner, skip);
            return Ok(target);
        }
        self.end_stream(&mut inner).await;
        inner.clear();
        inner.state = State::Ranged { eof: false };
        self.pos.store(target, Ordering::SeqCst);
        Ok(target)
    }

    /// Ends a reader's streaming transfer, if it has one, so that the session is free: later
    /// reads are ranged reads. The transfer's own verdict does not matter any more.
    /// The bytes read ahead stay good: the next ranged read starts after them.
    async fn end_stream(&self, inner: &mut Inner) {
        if let State::Reading { .. } = inner.state
            && let State::Reading { reader, eof } =
                std::mem::replace(&mut inner.state, State::Ranged { eof: false })
        {
            inner.state = State::Ranged { eof };
            let _ = reader.finish().await;
        }
    }

    /// Writes all of `data`.
    async fn write(self: Arc<Self>, data: PyBackedBytes) -> PyResult<usize> {
        let mut inner = self.inner.lock().await;
        let mut writer = match std::mem::replace(&mut inner.state, State::Broken) {
            State::Writing(w) => w,
            other => {
                let e = self.unusable(&other, "write");
                inner.state = other;
                return Err(e);
            }
        };
        match writer.write_all(&data).await {
            Ok(()) => {
                inner.state = State::Writing(writer);
                self.pos.fetch_add(data.len() as u64, Ordering::SeqCst);
                Ok(data.len())
            }
            Err(e) => Err(io_err(&e, &format!("writing {}", self.path))),
        }
    }

    /// Flushes written data to the data connection.
    async fn flush(self: Arc<Self>) -> PyResult<()> {
        let mut inner = self.inner.lock().await;
        if let State::Writing(w) = &mut inner.state
            && let Err(e) = w.flush().await
        {
            inner.state = State::Broken;
            return Err(io_err(&e, &format!("writing {}", self.path)));
        }
        Ok(())
    }

    /// Ends the transfer: a writer waits for the server's confirmation (unless `abandon`), a
    /// reader that reached the end reads the final reply; a reader closed before the end
    /// abandons the transfer. Closing twice does nothing.
    async fn close(self: Arc<Self>, abandon: bool) -> PyResult<()> {
        self.closed.store(true, Ordering::SeqCst);
        let mut inner = self.inner.lock().await;
        inner.clear();
        match std::mem::replace(&mut inner.state, State::Closed) {
            State::Reading { reader, eof: true } if !abandon => {
                reader.finish().await.map_err(ftp_err)
            }
            State::Writing(writer) if !abandon => writer.finish().await.map_err(ftp_err),
            _ => Ok(()),
        }
    }

    /// Whether a reader reached the end of the file (nothing buffered, nothing more to read).
    async fn at_eof(self: Arc<Self>) -> bool {
        let inner = self.inner.lock().await;
        inner.buffered().is_empty() && inner.at_end()
    }

    /// Abandons the transfer at once, without waiting (for a file that never reached its
    /// caller). Does nothing while an operation on the file is under way.
    fn abandon_now(&self) {
        if let Ok(mut inner) = self.inner.try_lock() {
            self.closed.store(true, Ordering::SeqCst);
            inner.state = State::Closed;
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
    fn read(&self, py: Python<'_>, size: Option<i64>) -> PyResult<Bytes> {
        wait(py, Arc::clone(&self.core).read(size_arg(size))).map(Bytes)
    }

    /// Reads all of the rest of the file.
    fn readall(&self, py: Python<'_>) -> PyResult<Bytes> {
        self.read(py, None)
    }

    /// Reads one line, up to and including `b"\n"` (at most `size` bytes); `b""` at the end.
    #[pyo3(signature = (size = -1, /), text_signature = "($self, size=-1, /)")]
    fn readline(&self, py: Python<'_>, size: Option<i64>) -> PyResult<Bytes> {
        wait(py, Arc::clone(&self.core).readline(size_arg(size))).map(Bytes)
    }

    /// Reads the rest of the file as a list of lines (stopping once `hint` bytes are in).
    #[pyo3(signature = (hint = -1, /), text_signature = "($self, hint=-1, /)")]
    fn readlines<'py>(&self, py: Python<'py>, hint: Option<i64>) -> PyResult<Bound<'py, PyList>> {
        let hint = size_arg(hint).filter(|&h| h > 0);
        let lines = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = wait(py, Arc::clone(&self.core).readline(None))?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            lines.append(PyBytes::new(py, &line))?;
            if hint.is_some_and(|h| total >= h) {
                break;
            }
        }
        Ok(lines)
    }

    /// Reads into a writable buffer (bytearray, memoryview); returns the byte count.
    #[pyo3(signature = (buffer, /))]
    fn readinto(&self, py: Python<'_>, buffer: &Bound<'_, PyAny>) -> PyResult<usize> {
        let len = buffer.len()?;
        let data = wait(py, Arc::clone(&self.core).read(Some(len)))?;
        copy_into(buffer, &data)
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

    /// The position: bytes read (or written) so far.
    fn tell(&self) -> u64 {
        self.core.pos.load(Ordering::SeqCst)
    }

    /// Moves a reader to `offset` (`whence`: 0 from the start, 1 from the position, 2 from the
    /// end); returns the new position.
    #[pyo3(signature = (offset, whence = 0, /), text_signature = "($self, offset, whence=0, /)")]
    fn seek(&self, py: Python<'_>, offset: i64, whence: i32) -> PyResult<u64> {
        let whence = whence_arg(whence)?;
        wait(py, Arc::clone(&self.core).seek(offset, whence))
    }

    /// Ends the transfer and releases the session (a finished upload is confirmed by the
    /// server; a download closed before its end is abandoned).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        wait(py, Arc::clone(&self.core).close(false))
    }

    /// Whether a reader has reached the end of the file.
    fn _at_eof(&self, py: Python<'_>) -> PyResult<bool> {
        let core = Arc::clone(&self.core);
        wait(py, async move { Ok(core.at_eof().await) })
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

    /// The size the server announced when the download started (its 150 reply), if it did.
    #[getter]
    fn announced_size(&self) -> Option<u64> {
        self.core.announced
    }

    fn readable(&self) -> bool {
        self.core.mode == "rb"
    }

    fn writable(&self) -> bool {
        self.core.mode == "wb"
    }

    fn seekable(&self) -> bool {
        self.core.mode == "rb"
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Bytes>> {
        let line = wait(py, Arc::clone(&self.core).readline(None))?;
        Ok((!line.is_empty()).then_some(Bytes(line)))
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

/// Copies `data` to the start of the writable `buffer`; returns its length.
fn copy_into(buffer: &Bound<'_, PyAny>, data: &[u8]) -> PyResult<usize> {
    let py = buffer.py();
    let n = data.len();
    let slice = PySlice::new(py, 0, n as isize, 1);
    buffer.set_item(slice, PyBytes::new(py, data))?;
    Ok(n)
}

/// The result of an awaitable `readinto`: the data is copied into the buffer when the result
/// reaches Python (with the GIL, on the event loop's thread).
struct IntoBuffer {
    buffer: Py<PyAny>,
    data: Vec<u8>,
}

impl<'py> IntoPyObject<'py> for IntoBuffer {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        let n = copy_into(self.buffer.bind(py), &self.data)?;
        Ok(n.into_pyobject(py)?.into_any())
    }
}

/// One line for `async for`: the end of the file stops the iteration.
struct NextLine(Vec<u8>);

impl<'py> IntoPyObject<'py> for NextLine {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        if self.0.is_empty() {
            Err(PyStopAsyncIteration::new_err(()))
        } else {
            Ok(PyBytes::new(py, &self.0).into_any())
        }
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

    /// See `RemoteFile.readline`.
    #[pyo3(signature = (size = -1, /), text_signature = "($self, size=-1, /)")]
    fn readline<'py>(&self, py: Python<'py>, size: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        let core = Arc::clone(&self.core);
        spawn_async(
            py,
            async move { core.readline(size_arg(size)).await.map(Bytes) },
        )
    }

    /// See `RemoteFile.readinto`.
    #[pyo3(signature = (buffer, /))]
    fn readinto<'py>(
        &self,
        py: Python<'py>,
        buffer: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let len = buffer.len()?;
        let buffer = buffer.clone().unbind();
        let core = Arc::clone(&self.core);
        spawn_async(py, async move {
            let data = core.read(Some(len)).await?;
            Ok(IntoBuffer { buffer, data })
        })
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

    /// See `RemoteFile.tell`.
    fn tell(&self) -> u64 {
        self.core.pos.load(Ordering::SeqCst)
    }

    /// See `RemoteFile.seek`.
    #[pyo3(signature = (offset, whence = 0, /), text_signature = "($self, offset, whence=0, /)")]
    fn seek<'py>(&self, py: Python<'py>, offset: i64, whence: i32) -> PyResult<Bound<'py, PyAny>> {
        let whence = whence_arg(whence)?;
        spawn_async(py, Arc::clone(&self.core).seek(offset, whence))
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

    /// See `RemoteFile.announced_size`.
    #[getter]
    fn announced_size(&self) -> Option<u64> {
        self.core.announced
    }

    fn readable(&self) -> bool {
        self.core.mode == "rb"
    }

    fn writable(&self) -> bool {
        self.core.mode == "wb"
    }

    fn seekable(&self) -> bool {
        self.core.mode == "rb"
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next line; the end of the file ends the iteration.
    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = Arc::clone(&self.core);
        spawn_async(py, async move { core.readline(None).await.map(NextLine) })
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
