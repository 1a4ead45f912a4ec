//! Transfer glue: local targets (a path or a binary file object), progress callbacks, and the
//! pumps that move file-object data between Python and the core, chunk by chunk.
//!
//! Everything Python does for a transfer is a [`Pump`], run where the caller is — on the thread
//! of a blocking call, or on the event loop's thread for an awaitable (see `runtime`) — so each
//! of these is written once for both faces:
//!
//! * [`ProgressGate`] / [`ProgressPump`]: the core calls its progress callback on a runtime
//!   thread; that only stores the latest value in a watch channel. The operation runs inside a
//!   gate that, when a new value is there, pauses the transfer and hands the value to the pump,
//!   and resumes once the Python callback returned. So callbacks run one at a time, with the
//!   latest value (coalesced when Python is slower than the transfer), and an exception in one
//!   stops the transfer before more data moves; that exception is raised.
//! * [`ToFile`] / [`FromFile`]: a download into, or an upload from, a Python file object: the
//!   core reads or writes an in-memory pipe, and the pump calls the file's `write`/`read`.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyMemoryView, PyString, PyTuple};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::errors::{err, ftp_err};
use crate::options::type_name;
use crate::runtime::Pump;

/// Chunk size for file objects (and the in-memory pipe between them and the core).
pub(crate) const CHUNK: usize = 256 * 1024;

/// Where a download goes to, or an upload comes from.
pub(crate) enum Local {
    /// A local path.
    Path(PathBuf),
    /// A binary file object (with `write` for downloads, `read` for uploads).
    File(Py<PyAny>),
}

/// `obj` as a local path (`str` or `os.PathLike`) or a binary file object with `method`.
pub(crate) fn local(obj: &Bound<'_, PyAny>, method: &str) -> PyResult<Local> {
    let py = obj.py();
    if obj.is_instance_of::<PyString>() || obj.hasattr(pyo3::intern!(py, "__fspath__"))? {
        return Ok(Local::Path(obj.extract()?));
    }
    if obj.hasattr(method)? {
        return Ok(Local::File(obj.clone().unbind()));
    }
    Err(PyTypeError::new_err(format!(
        "expected a local path (str or os.PathLike) or a binary file object with a {method}() \
         method, not {}",
        type_name(obj)
    )))
}

/// Bytes from `bytes`, `bytearray` or `memoryview` (bytes are shared, not copied).
pub(crate) fn bytes_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<PyBackedBytes> {
    if let Ok(b) = obj.extract::<PyBackedBytes>() {
        return Ok(b);
    }
    if obj.is_instance_of::<PyMemoryView>() {
        let copy = PyBytes::new(obj.py(), &[]).get_type().call1((obj,))?;
        return Ok(copy.extract::<PyBackedBytes>()?);
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be bytes, bytearray or memoryview, not {}",
        type_name(obj)
    )))
}

/// Checks that `progress` is callable.
pub(crate) fn callback(progress: Option<Bound<'_, PyAny>>) -> PyResult<Option<Py<PyAny>>> {
    match progress {
        Some(p) if p.is_none() => Ok(None),
        Some(p) if !p.is_callable() => Err(PyTypeError::new_err(format!(
            "progress must be a callable taking (done, total), not {}",
            type_name(&p)
        ))),
        Some(p) => Ok(Some(p.unbind())),
        None => Ok(None),
    }
}

/// Refuses an option a file object cannot have (`what`, e.g. `"resume=True"`, when `set`): the
/// core resumes and renames local paths and remote files it names, a stream has neither, and
/// the streaming transfers always check the size and compute no checksum.
pub(crate) fn path_only(what: &str, set: bool) -> PyResult<()> {
    if set {
        return Err(pyo3::exceptions::PyNotImplementedError::new_err(format!(
            "{what} is supported for local paths only, not for file objects"
        )));
    }
    Ok(())
}

/// A progress value, and how it is passed to a Python callback.
pub(crate) trait ProgressValue: Copy + Send + Sync + 'static {
    /// The callback's arguments.
    fn args<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>>;
}

/// A single transfer's progress: `progress(done, total)`.
impl ProgressValue for (u64, Option<u64>) {
    fn args<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.into_pyobject(py)
    }
}

/// A core progress callback feeding a watch channel, and the channel's receiving end.
struct ProgressFeed<V> {
    tx: Arc<watch::Sender<Option<V>>>,
    rx: watch::Receiver<Option<V>>,
}

impl<V: ProgressValue> ProgressFeed<V> {
    fn new() -> Self {
        let (tx, rx) = watch::channel(None);
        Self {
            tx: Arc::new(tx),
            rx,
        }
    }

    /// Whether a value arrived that was not handed out yet (the sender lives in `self`, so the
    /// channel never reports itself closed).
    fn pending(&self) -> bool {
        self.rx.has_changed().unwrap_or(false)
    }

    async fn next(&mut self) -> Option<V> {
        let _ = self.rx.changed().await;
        *self.rx.borrow_and_update()
    }
}

/// One progress value handed to the pump, with the way to say it was seen.
pub(crate) type Handoff<V> = (V, oneshot::Sender<bool>);

/// Runs a transfer and hands its progress to a [`ProgressPump`], which calls the Python
/// callback where the caller is; the transfer is paused while a callback runs.
pub(crate) struct ProgressGate<V = (u64, Option<u64>)> {
    feed: ProgressFeed<V>,
    tx: mpsc::Sender<Handoff<V>>,
}

impl<V: ProgressValue> ProgressGate<V> {
    /// A gate, and the pump that calls `callback` with its values.
    pub(crate) fn new(callback: Py<PyAny>) -> (Self, ProgressPump<V>) {
        let (tx, rx) = mpsc::channel(1);
        let gate = Self {
            feed: ProgressFeed::new(),
            tx,
        };
        (gate, ProgressPump { rx, callback })
    }

    /// Where the core's callback stores each new value (the latest one wins).
    pub(crate) fn sink(&self) -> impl Fn(V) + Send + Sync + 'static {
        let tx = Arc::clone(&self.feed.tx);
        move |value| {
            tx.send_replace(Some(value));
        }
    }

    /// Runs `op` (a transfer reporting to [`ProgressGate::sink`]), delivering its progress;
    /// the last value is delivered before the result.
    pub(crate) async fn run<T>(
        mut self,
        op: impl Future<Output = ferroftp::Result<T>>,
    ) -> PyResult<T> {
        tokio::pin!(op);
        loop {
            tokio::select! {
                biased;
                latest = self.feed.next() => {
                    if let Some(v) = latest {
                        self.deliver(v).await?;
                    }
                }
                r = &mut op => {
                    if self.feed.pending()
                        && let Some(v) = self.feed.next().await
                    {
                        self.deliver(v).await?;
                    }
                    return r.map_err(ftp_err);
                }
            }
        }
    }

    /// Hands `value` to the pump and waits until its callback returned.
    async fn deliver(&self, value: V) -> PyResult<()> {
        let stopped = || {
            err(
                ferroftp::ErrorKind::Cancelled,
                "the transfer was stopped by its progress callback",
            )
        };
        let (ack, seen) = oneshot::channel();
        self.tx.send((value, ack)).await.map_err(|_| stopped())?;
        match seen.await {
            Ok(true) => Ok(()),
            _ => Err(stopped()),
        }
    }
}

/// Calls the progress callback (on the caller's thread or the event loop), while the transfer
/// waits.
pub(crate) struct ProgressPump<V> {
    rx: mpsc::Receiver<Handoff<V>>,
    callback: Py<PyAny>,
}

impl<V: ProgressValue> Pump for ProgressPump<V> {
    type Event = Option<Handoff<V>>;

    fn active(&self) -> bool {
        !self.rx.is_closed() || !self.rx.is_empty()
    }

    fn next(&mut self) -> impl Future<Output = Self::Event> + Send + '_ {
        self.rx.recv()
    }

    fn handle(&mut self, py: Python<'_>, event: Self::Event) -> PyResult<()> {
        if let Some((value, seen)) = event {
            let result = value
                .args(py)
                .and_then(|args| self.callback.call1(py, args));
            let _ = seen.send(result.is_ok());
            result?;
        }
        Ok(())
    }

    fn drained(&self) -> bool {
        true // the gate delivers everything before the operation ends
    }
}

/// Writes `data` to the Python file object `file` (looping over short writes of raw files).
fn write_all(py: Python<'_>, file: &Py<PyAny>, data: &[u8]) -> PyResult<()> {
    let mut pos = 0;
    while pos < data.len() {
        let chunk = PyBytes::new(py, &data[pos..]);
        let written = file.call_method1(py, pyo3::intern!(py, "write"), (chunk,))?;
        let n = if written.is_none(py) {
            data.len() - pos
        } else {
            written.extract::<usize>(py)?
        };
        if n == 0 {
            return Err(PyValueError::new_err(
                "the file object's write() wrote nothing",
            ));
        }
        pos += n.min(data.len() - pos);
    }
    Ok(())
}

/// A download into a Python file object: the core writes into an in-memory pipe; the waiting
/// thread takes each chunk and calls `file.write(chunk)` with the GIL.
pub(crate) struct ToFile {
    pipe: DuplexStream,
    buf: Vec<u8>,
    file: Py<PyAny>,
    progress: Option<Py<PyAny>>,
    done: u64,
    eof: bool,
}

impl ToFile {
    /// The pump, and the pipe end the core writes into.
    pub(crate) fn new(file: Py<PyAny>, progress: Option<Py<PyAny>>) -> (Self, DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(CHUNK);
        let pump = Self {
            pipe: ours,
            buf: vec![0; CHUNK],
            file,
            progress,
            done: 0,
            eof: false,
        };
        (pump, theirs)
    }
}

impl Pump for ToFile {
    type Event = std::io::Result<usize>;

    fn active(&self) -> bool {
        !self.eof
    }

    fn next(&mut self) -> impl Future<Output = Self::Event> + Send + '_ {
        self.pipe.read(&mut self.buf)
    }

    fn handle(&mut self, py: Python<'_>, event: Self::Event) -> PyResult<()> {
        match event {
            Ok(0) | Err(_) => self.eof = true, // the operation ended; its result says how
            Ok(n) => {
                write_all(py, &self.file, &self.buf[..n])?;
                self.done += n as u64;
                if let Some(p) = &self.progress {
                    p.call1(py, (self.done, None::<u64>))?;
                }
            }
        }
        Ok(())
    }

    fn drained(&self) -> bool {
        self.eof
    }
}

/// An upload from a Python file object: the waiting thread calls `file.read(CHUNK)` with the
/// GIL and feeds the chunks into an in-memory pipe that the core reads from.
pub(crate) struct FromFile {
    pipe: Option<DuplexStream>,
    chunk: PyBackedBytes,
    pos: usize,
    file: Py<PyAny>,
    progress: Option<Py<PyAny>>,
    done: u64,
}

impl FromFile {
    /// The pump, and the pipe end the core reads from.
    pub(crate) fn new(
        py: Python<'_>,
        file: Py<PyAny>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<(Self, DuplexStream)> {
        let (ours, theirs) = tokio::io::duplex(CHUNK);
        let pump = Self {
            pipe: Some(ours),
            chunk: PyBytes::new(py, &[]).extract()?,
            pos: 0,
            file,
            progress,
            done: 0,
        };
        Ok((pump, theirs))
    }
}

impl Pump for FromFile {
    type Event = std::io::Result<usize>;

    fn prepare(&mut self, py: Python<'_>) -> PyResult<()> {
        if self.pipe.is_none() || self.pos < self.chunk.len() {
            return Ok(());
        }
        let data = self
            .file
            .call_method1(py, pyo3::intern!(py, "read"), (CHUNK,))?
            .into_bound(py);
        if data.is_none() {
            return Err(PyValueError::new_err(
                "the file object's read() returned None (a non-blocking file with no data?)",
            ));
        }
        if data.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(
                "the file object's read() returned str: open the file in binary mode ('rb')",
            ));
        }
        self.chunk = bytes_arg(&data, "the file object's read() result")?;
        self.pos = 0;
        if self.chunk.is_empty() {
            self.pipe = None; // end of file: the core sees EOF
        }
        Ok(())
    }

    fn active(&self) -> bool {
        self.pipe.is_some() && self.pos < self.chunk.len()
    }

    fn next(&mut self) -> impl Future<Output = Self::Event> + Send + '_ {
        let Self {
            pipe, chunk, pos, ..
        } = self;
        async move {
            match pipe {
                Some(p) => p.write(&chunk[*pos..]).await,
                None => std::future::pending().await,
            }
        }
    }

    fn handle(&mut self, py: Python<'_>, event: Self::Event) -> PyResult<()> {
        match event {
            Ok(n) => {
                self.pos += n;
                self.done += n as u64;
                if let Some(p) = &self.progress {
                    p.call1(py, (self.done, None::<u64>))?;
                }
            }
            // The core stopped reading: the operation failed, and its result says why.
            Err(_) => self.pipe = None,
        }
        Ok(())
    }

    fn drained(&self) -> bool {
        true
    }
}

/// The core's per-transfer progress callback, feeding `gate`.
pub(crate) fn core_progress(gate: &ProgressGate) -> ferroftp::Progress {
    let sink = gate.sink();
    Arc::new(move |done, total| sink((done, total)))
}
