//! `Pool` and `AsyncPool`: several sessions to one server, batch and tree transfers, and
//! `session()` to borrow one session for a while.
//!
//! Both wrap one `ferroftp::Pool` (cheap to clone, safe to share). A batch runs on the core's
//! workers (one per session); its progress reaches Python where the caller is — the thread of
//! a blocking call or the event loop of an awaitable — one call at a time with the latest value,
//! and the final totals always arrive before the result.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ferroftp::{BatchOptions, BatchProgress, PoolOptions};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

use crate::errors::ftp_err;
use crate::file::Bytes;
use crate::options::{ChecksumArg, MaxSessions, Remote, UrlArg, WaitTimeout, type_name};
use crate::runtime::{Awaiting, Blocking, Face, ready, spawn_async, wait};
use crate::session::{PyAsyncSession, PySession};
use crate::transfer::{ProgressGate, ProgressValue, callback};

/// What a batch did (`BatchResult`): `ok` maps each transferred remote path to its byte count,
/// `failed` maps each failed remote path to its exception, `skipped` lists the files a tree
/// transfer left alone because they already matched.
#[pyclass(frozen, module = "ferroftp", name = "BatchResult")]
pub(crate) struct PyBatchResult {
    ok: Py<PyDict>,
    failed: Py<PyDict>,
    skipped: Py<PyList>,
    bytes: u64,
}

#[pymethods]
impl PyBatchResult {
    /// `{remote path: bytes}` of the files transferred.
    #[getter]
    fn ok(&self, py: Python<'_>) -> Py<PyDict> {
        self.ok.clone_ref(py)
    }

    /// `{remote path: ferroftp.Error}` of the files that failed.
    #[getter]
    fn failed(&self, py: Python<'_>) -> Py<PyDict> {
        self.failed.clone_ref(py)
    }

    /// Remote paths skipped because they already matched (tree transfers, `skip_existing`).
    #[getter]
    fn skipped(&self, py: Python<'_>) -> Py<PyList> {
        self.skipped.clone_ref(py)
    }

    /// Bytes transferred by the files in `ok`.
    #[getter]
    fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Raises the first failure's exception (in path order); returns `None` when all went well.
    fn raise_first(&self, py: Python<'_>) -> PyResult<()> {
        let failed = self.failed.bind(py);
        let mut first: Option<(String, Bound<'_, PyAny>)> = None;
        for (path, e) in failed.iter() {
            let path: String = path.extract()?;
            if first.as_ref().is_none_or(|(p, _)| path < *p) {
                first = Some((path, e));
            }
        }
        match first {
            Some((_, e)) => Err(PyErr::from_value(e)),
            None => Ok(()),
        }
    }

    /// True when no file failed.
    fn __bool__(&self, py: Python<'_>) -> bool {
        self.failed.bind(py).is_empty()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<ferroftp.BatchResult ok={} failed={} skipped={} bytes={}>",
            self.ok.bind(py).len(),
            self.failed.bind(py).len(),
            self.skipped.bind(py).len(),
            self.bytes
        )
    }
}

/// A core batch result on its way to Python (built into a `BatchResult` with the GIL).
pub(crate) struct BatchOut(ferroftp::BatchResult);

impl<'py> IntoPyObject<'py> for BatchOut {
    type Target = PyBatchResult;
    type Output = Bound<'py, PyBatchResult>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let r = self.0;
        let ok = PyDict::new(py);
        let mut bytes = 0u64;
        for (path, n) in &r.ok {
            ok.set_item(path, n)?;
            bytes += n;
        }
        let failed = PyDict::new(py);
        for (path, e) in r.failed {
            failed.set_item(path, ftp_err(e).into_value(py))?;
        }
        let skipped = PyList::new(py, &r.skipped)?;
        Bound::new(
            py,
            PyBatchResult {
                ok: ok.unbind(),
                failed: failed.unbind(),
                skipped: skipped.unbind(),
                bytes,
            },
        )
    }
}

/// A batch's progress as the callback sees it (`BatchProgress`): files and bytes done and in
/// all; `bytes_total` is `None` when some file's size is unknown.
#[pyclass(frozen, module = "ferroftp", name = "BatchProgress")]
pub(crate) struct PyBatchProgress {
    /// Files finished, successfully or not.
    #[pyo3(get)]
    files_done: usize,
    /// Files in the batch.
    #[pyo3(get)]
    files_total: usize,
    /// Bytes transferred so far (never decreases).
    #[pyo3(get)]
    bytes_done: u64,
    /// Bytes in the batch, when every size is known.
    #[pyo3(get)]
    bytes_total: Option<u64>,
}

#[pymethods]
impl PyBatchProgress {
    fn __repr__(&self) -> String {
        let total = self
            .bytes_total
            .map_or_else(|| "?".to_string(), |t| t.to_string());
        format!(
            "<ferroftp.BatchProgress files {}/{} bytes {}/{}>",
            self.files_done, self.files_total, self.bytes_done, total
        )
    }
}

/// A batch's progress is passed as one `BatchProgress` argument.
impl ProgressValue for BatchProgress {
    fn args<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let p = Bound::new(
            py,
            PyBatchProgress {
                files_done: self.files_done,
                files_total: self.files_total,
                bytes_done: self.bytes_done,
                bytes_total: self.bytes_total,
            },
        )?;
        PyTuple::new(py, [p])
    }
}

/// `(a, b)` pairs from any iterable of 2-item iterables.
fn pairs<A, B>(
    obj: &Bound<'_, PyAny>,
    what: &str,
    first: impl Fn(&Bound<'_, PyAny>) -> PyResult<A>,
    second: impl Fn(&Bound<'_, PyAny>) -> PyResult<B>,
) -> PyResult<Vec<(A, B)>> {
    let bad = |item: &Bound<'_, PyAny>| {
        PyTypeError::new_err(format!(
            "{what} must be an iterable of {} pairs, not {} containing {}",
            what_pair(what),
            type_name(obj),
            type_name(item)
        ))
    };
    let iter = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be an iterable of {} pairs, not {}",
            what_pair(what),
            type_name(obj)
        ))
    })?;
    let mut out = Vec::new();
    for item in iter {
        let item = item?;
        let tuple: Vec<Bound<'_, PyAny>> = match item.extract() {
            Ok(v) if !item.is_instance_of::<pyo3::types::PyString>() => v,
            _ => return Err(bad(&item)),
        };
        let [a, b] = tuple.as_slice() else {
            return Err(bad(&item));
        };
        out.push((first(a)?, second(b)?));
    }
    Ok(out)
}

fn what_pair(what: &str) -> &'static str {
    if what == "items" {
        "(remote, local)"
    } else {
        "(local, remote)"
    }
}

/// A local path (`str` or `os.PathLike`).
fn local_path(obj: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    obj.extract::<PathBuf>().map_err(|_| {
        PyTypeError::new_err(format!(
            "a local path must be a str or os.PathLike, not {}",
            type_name(obj)
        ))
    })
}

fn remote_path(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(obj.extract::<Remote>()?.0)
}

fn batch_options(
    stop_on_error: bool,
    skip_existing: bool,
    checksum: Option<ChecksumArg>,
) -> BatchOptions {
    BatchOptions::default()
        .stop_on_error(stop_on_error)
        .skip_existing(skip_existing)
        .checksum(checksum.map(|c| c.0).unwrap_or_default())
}

/// Runs a batch through `face`, with its progress delivered where the caller is.
fn run_batch<'py, R, F>(
    face: R,
    progress: Option<Bound<'py, PyAny>>,
    options: BatchOptions,
    batch: impl FnOnce(BatchOptions) -> F,
) -> PyResult<R::Out<BatchOut>>
where
    R: Face<'py>,
    F: Future<Output = ferroftp::Result<ferroftp::BatchResult>> + Send + 'static,
{
    match callback(progress)? {
        None => {
            let op = batch(options);
            face.run(async move { op.await.map(BatchOut) })
        }
        Some(cb) => {
            let (gate, pump) = ProgressGate::<BatchProgress>::new(cb);
            let op = batch(options.progress(gate.sink()));
            face.run_with(async move { gate.run(op).await.map(BatchOut) }, pump)
        }
    }
}

/// `(remote, offset, length)` triples (`length` None: the whole file) from any iterable.
fn read_list(obj: &Bound<'_, PyAny>) -> PyResult<Vec<(String, u64, Option<u64>)>> {
    let bad = |item: &Bound<'_, PyAny>| {
        PyTypeError::new_err(format!(
            "reads must be an iterable of (remote, offset, length) triples, not {} containing {}",
            type_name(obj),
            type_name(item)
        ))
    };
    let iter = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "reads must be an iterable of (remote, offset, length) triples, not {}",
            type_name(obj)
        ))
    })?;
    let mut out = Vec::new();
    for item in iter {
        let item = item?;
        let Ok((remote, offset, length)) = item.extract::<(Remote, u64, Option<u64>)>() else {
            return Err(bad(&item));
        };
        out.push((remote.0, offset, length));
    }
    Ok(out)
}

/// The results of `read_many` on their way to Python: a list of bytes or exceptions.
pub(crate) struct ReadsOut(Vec<ferroftp::Result<Vec<u8>>>);

impl<'py> IntoPyObject<'py> for ReadsOut {
    type Target = PyList;
    type Output = Bound<'py, PyList>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let items = self.0.into_iter().map(|r| match r {
            Ok(data) => pyo3::types::PyBytes::new(py, &data).into_any(),
            Err(e) => ftp_err(e).into_value(py).into_bound(py).into_any(),
        });
        PyList::new(py, items)
    }
}

fn describe(kind: &str, pool: &ferroftp::Pool) -> String {
    let c = pool.config();
    let host = if c.host.contains(':') {
        format!("[{}]", c.host)
    } else {
        c.host.clone()
    };
    format!(
        "<ferroftp.{kind} ftp://{}@{host}:{} open={} limit={}>",
        c.user,
        c.port,
        pool.open_sessions(),
        pool.limit()
    )
}

/// Up to `max_sessions` blocking sessions to one server, for parallel transfers.
#[pyclass(frozen, module = "ferroftp", name = "Pool")]
pub(crate) struct PyPool {
    inner: ferroftp::Pool,
}

/// Up to `max_sessions` asyncio sessions to one server, for parallel transfers.
#[pyclass(frozen, module = "ferroftp", name = "AsyncPool")]
pub(crate) struct PyAsyncPool {
    inner: ferroftp::Pool,
}

/// The `#[pymethods]` of a pool class: the constructor, the four batch operations (run by
/// `$face`: [`Blocking`] or [`Awaiting`]) and the state getters are the same for both faces;
/// `$name` is the Python class name and `$($own)*` are the methods of that face alone.
macro_rules! pool_methods {
    ($class:ident, $name:literal, $face:ident, $($own:tt)*) => {
        #[pymethods]
        impl $class {
            /// A pool for the server of `url` (or of `host=`, `port=`, `user=`, `password=`);
            /// sessions are opened when first needed. The keyword options other than
            /// `max_sessions` and `wait_timeout` are those of `connect`.
            #[new]
            #[pyo3(
                signature = (url = None, *, max_sessions = MaxSessions(8), wait_timeout = None,
                             **options),
                text_signature = "(url=None, *, max_sessions=8, wait_timeout=None, **options)"
            )]
            fn new(
                url: Option<UrlArg>,
                max_sessions: MaxSessions,
                wait_timeout: Option<WaitTimeout>,
                options: Option<&Bound<'_, PyDict>>,
            ) -> PyResult<Self> {
                let config = crate::options::config($name, url.as_ref().map(|u| u.0.as_str()), options)?;
                let mut pool_options = PoolOptions::default();
                pool_options.max_sessions = max_sessions.0;
                pool_options.wait_timeout = wait_timeout.map(|w| w.0);
                let inner = ferroftp::Pool::with_options(config, pool_options).map_err(ftp_err)?;
                Ok(Self { inner })
            }

            /// Downloads `(remote, local)` pairs in parallel; gives a `BatchResult`.
            #[pyo3(signature = (items, *, progress = None, stop_on_error = false,
                                checksum = None))]
            fn download_many<'py>(
                &self,
                py: Python<'py>,
                items: &Bound<'py, PyAny>,
                progress: Option<Bound<'py, PyAny>>,
                stop_on_error: bool,
                checksum: Option<ChecksumArg>,
            ) -> PyResult<<$face<'py> as Face<'py>>::Out<BatchOut>> {
                let items = pairs(items, "items", remote_path, local_path)?;
                let pool = self.inner.clone();
                run_batch($face(py), progress, batch_options(stop_on_error, false, checksum), |o| async move {
                    Ok(pool.download_many(items, o).await)
                })
            }

            /// Uploads `(local, remote)` pairs in parallel; gives a `BatchResult`.
            #[pyo3(signature = (items, *, progress = None, stop_on_error = false,
                                checksum = None))]
            fn upload_many<'py>(
                &self,
                py: Python<'py>,
                items: &Bound<'py, PyAny>,
                progress: Option<Bound<'py, PyAny>>,
                stop_on_error: bool,
                checksum: Option<ChecksumArg>,
            ) -> PyResult<<$face<'py> as Face<'py>>::Out<BatchOut>> {
                let items = pairs(items, "upload items", local_path, remote_path)?;
                let pool = self.inner.clone();
                run_batch($face(py), progress, batch_options(stop_on_error, false, checksum), |o| async move {
                    Ok(pool.upload_many(items, o).await)
                })
            }

            /// Mirrors the remote directory `remote` into the local directory `local`.
            #[pyo3(signature = (remote, local, *, skip_existing = false, progress = None,
                                stop_on_error = false, checksum = None))]
            #[allow(clippy::too_many_arguments)] // the Python signature
            fn download_tree<'py>(
                &self,
                py: Python<'py>,
                remote: Remote,
                local: &Bound<'py, PyAny>,
                skip_existing: bool,
                progress: Option<Bound<'py, PyAny>>,
                stop_on_error: bool,
                checksum: Option<ChecksumArg>,
            ) -> PyResult<<$face<'py> as Face<'py>>::Out<BatchOut>> {
                let local = local_path(local)?;
                let pool = self.inner.clone();
                let options = batch_options(stop_on_error, skip_existing, checksum);
                run_batch($face(py), progress, options, |o| async move {
                    pool.download_tree(&remote, local, o).await
                })
            }

            /// Mirrors the local directory `local` into the remote directory `remote`.
            #[pyo3(signature = (local, remote, *, skip_existing = false, progress = None,
                                stop_on_error = false, checksum = None))]
            #[allow(clippy::too_many_arguments)] // the Python signature
            fn upload_tree<'py>(
                &self,
                py: Python<'py>,
                local: &Bound<'py, PyAny>,
                remote: Remote,
                skip_existing: bool,
                progress: Option<Bound<'py, PyAny>>,
                stop_on_error: bool,
                checksum: Option<ChecksumArg>,
            ) -> PyResult<<$face<'py> as Face<'py>>::Out<BatchOut>> {
                let local = local_path(local)?;
                let pool = self.inner.clone();
                let options = batch_options(stop_on_error, skip_existing, checksum);
                run_batch($face(py), progress, options, |o| async move {
                    pool.upload_tree(local, &remote, o).await
                })
            }

            /// Reads `length` bytes of `remote` from byte `offset` (fewer at the end of the
            /// file) on a session borrowed for this one read.
            fn read_range<'py>(
                &self,
                py: Python<'py>,
                remote: Remote,
                offset: u64,
                length: u64,
            ) -> PyResult<<$face<'py> as Face<'py>>::Out<Bytes>> {
                let pool = self.inner.clone();
                $face(py).run(async move { pool.read_range(&remote, offset, length).await.map(Bytes) })
            }

            /// Downloads `remote` into memory on a session borrowed for this one read.
            fn read_bytes<'py>(
                &self,
                py: Python<'py>,
                remote: Remote,
            ) -> PyResult<<$face<'py> as Face<'py>>::Out<Bytes>> {
                let pool = self.inner.clone();
                $face(py).run(async move { pool.read_bytes(&remote).await.map(Bytes) })
            }

            /// Many reads at once over the pool's sessions: `reads` is an iterable of
            /// `(remote, offset, length)` (`length` None: the whole file); gives a list with one
            /// item per read, in order: its bytes, or its exception.
            fn read_many<'py>(
                &self,
                py: Python<'py>,
                reads: &Bound<'py, PyAny>,
            ) -> PyResult<<$face<'py> as Face<'py>>::Out<ReadsOut>> {
                let reads = read_list(reads)?;
                let pool = self.inner.clone();
                $face(py).run(async move { Ok(ReadsOut(pool.read_many(reads).await)) })
            }

            /// Closes the pool: idle sessions say goodbye; later calls raise
            /// `ferroftp.ClosedError`.
            fn close<'py>(&self, py: Python<'py>) -> PyResult<<$face<'py> as Face<'py>>::Out<()>> {
                let pool = self.inner.clone();
                $face(py).run(async move {
                    pool.close().await;
                    Ok(())
                })
            }

            /// Sessions open now (idle or lent).
            #[getter]
            fn open_sessions(&self) -> usize {
                self.inner.open_sessions()
            }

            /// How many sessions the pool may open now (lowered while the server refuses
            /// more).
            #[getter]
            fn limit(&self) -> usize {
                self.inner.limit()
            }

            fn __repr__(&self) -> String {
                describe($name, &self.inner)
            }

            $($own)*
        }
    };
}

pool_methods! {
    PyPool,
    "Pool",
    Blocking,
    /// Borrows one session: `with pool.session() as s: ...` (a `Session`, handed back at the
    /// end of the block; do not keep it beyond).
    fn session(&self) -> PyLease {
        PyLease {
            pool: self.inner.clone(),
            guard: Arc::new(Mutex::new(None)),
        }
    }
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyType>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

pool_methods! {
    PyAsyncPool,
    "AsyncPool",
    Awaiting,
    /// A blocking `Pool` over the same sessions (for callers on threads without an event
    /// loop, e.g. a buffered file's block reads: no hop through a loop's thread).
    fn blocking(&self) -> PyPool {
        PyPool {
            inner: self.inner.clone(),
        }
    }
    /// Borrows one session: `async with pool.session() as s: ...` (an `AsyncSession`).
    fn session(&self) -> PyAsyncLease {
        PyAsyncLease {
            pool: self.inner.clone(),
            guard: Arc::new(Mutex::new(None)),
        }
    }
    fn __aenter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        ready(slf.into_any())
    }
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exc_type: Option<&Bound<'py, PyType>>,
        _exc: Option<&Bound<'py, PyAny>>,
        _tb: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let pool = self.inner.clone();
        spawn_async(py, async move {
            pool.close().await;
            Ok(false)
        })
    }
}

type Guard = Arc<Mutex<Option<ferroftp::PooledSession>>>;

/// Hands the borrowed session back to its pool (dropping the guard does it).
fn give_back(guard: &Guard) {
    let taken = guard.lock().map(|mut g| g.take()).unwrap_or(None);
    drop(taken);
}

/// `Pool.session()`: a context manager lending one `Session` for its block.
#[pyclass(frozen, module = "ferroftp", name = "PooledSession")]
pub(crate) struct PyLease {
    pool: ferroftp::Pool,
    guard: Guard,
}

#[pymethods]
impl PyLease {
    fn __enter__(&self, py: Python<'_>) -> PyResult<PySession> {
        let pool = self.pool.clone();
        // The guard is set here, once the caller has the session: a lend interrupted (Ctrl-C)
        // after the pool lent drops the lent session, which goes back to the pool.
        let lent = wait(py, async move { pool.session().await.map_err(ftp_err) })?;
        let session = PySession::from_core((*lent).clone());
        if let Ok(mut g) = self.guard.lock() {
            *g = Some(lent);
        }
        Ok(session)
    }

    fn __exit__(
        &self,
        _exc_type: Option<&Bound<'_, PyType>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        give_back(&self.guard);
        false
    }
}

/// `AsyncPool.session()`: an async context manager lending one `AsyncSession` for its block.
#[pyclass(frozen, module = "ferroftp", name = "AsyncPooledSession")]
pub(crate) struct PyAsyncLease {
    pool: ferroftp::Pool,
    guard: Guard,
}

#[pymethods]
impl PyAsyncLease {
    /// An awaitable ([`Lending`]) that gives the session only to a caller that receives it.
    fn __aenter__(&self, py: Python<'_>) -> PyResult<Lending> {
        let pool = self.pool.clone();
        let future = spawn_async(py, async move {
            let lent = pool.session().await.map_err(ftp_err)?;
            Ok(Lent(Mutex::new(Some(lent))))
        })?;
        Ok(Lending {
            future: future.unbind(),
            guard: Arc::clone(&self.guard),
        })
    }

    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exc_type: Option<&Bound<'py, PyType>>,
        _exc: Option<&Bound<'py, PyAny>>,
        _tb: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        give_back(&self.guard);
        ready(pyo3::types::PyBool::new(py, false).to_owned().into_any())
    }
}

/// A session the pool lent, on its way to the caller of `__aenter__` (dropped unclaimed, it
/// goes back to the pool).
#[pyclass(frozen)]
pub(crate) struct Lent(Mutex<Option<ferroftp::PooledSession>>);

impl Lent {
    fn take(&self) -> Option<ferroftp::PooledSession> {
        self.0.lock().map(|mut l| l.take()).unwrap_or(None)
    }
}

/// What `AsyncPooledSession.__aenter__` returns: an awaitable (its own iterator) over the
/// future of the lend, handing the session to the lease (whose `__aexit__` gives it back) only
/// when the awaiting coroutine receives it. A cancellation thrown into it while the pool is
/// lending cancels the lend, and one that arrives after the pool lent (the future done, the
/// coroutine not yet resumed) gives the session back at once: a cancelled lend never holds a
/// session, garbage collection or not.
#[pyclass(frozen)]
pub(crate) struct Lending {
    future: Py<PyAny>,
    guard: Guard,
}

#[pymethods]
impl Lending {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let future = self.future.bind(py);
        if !future
            .call_method0(pyo3::intern!(py, "done"))?
            .is_truthy()?
        {
            // As `asyncio.Future.__await__`: the task waits for this future.
            future.setattr(pyo3::intern!(py, "_asyncio_future_blocking"), true)?;
            return Ok(future.clone().unbind());
        }
        let lent = future.call_method0(pyo3::intern!(py, "result"))?; // raises its error
        let lent = lent.cast::<Lent>()?.get().take().ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err("this lend was awaited already")
        })?;
        let session = PyAsyncSession::from_core((*lent).clone());
        if let Ok(mut g) = self.guard.lock() {
            *g = Some(lent);
        }
        Err(pyo3::exceptions::PyStopIteration::new_err(
            Bound::new(py, session)?.into_any().unbind(),
        ))
    }

    fn send(&self, py: Python<'_>, _value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.__next__(py)
    }

    /// A cancellation (or another exception) thrown into the awaiting coroutine: the lend is
    /// abandoned, and the exception goes on.
    #[pyo3(signature = (typ, val = None, _tb = None))]
    fn throw(
        &self,
        py: Python<'_>,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.abandon(py)?;
        if typ.is_instance_of::<pyo3::exceptions::PyBaseException>() {
            return Err(PyErr::from_value(typ.clone()));
        }
        let exc = match val {
            Some(v) if v.is_instance_of::<pyo3::exceptions::PyBaseException>() => v.clone(),
            Some(v) if !v.is_none() => typ.call1((v,))?,
            _ => typ.call0()?,
        };
        Err(PyErr::from_value(exc))
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.abandon(py)
    }
}

impl Lending {
    /// Cancels the lend, or gives back the session it lent already.
    fn abandon(&self, py: Python<'_>) -> PyResult<()> {
        let future = self.future.bind(py);
        if !future
            .call_method0(pyo3::intern!(py, "done"))?
            .is_truthy()?
        {
            future.call_method0(pyo3::intern!(py, "cancel"))?;
            return Ok(());
        }
        if future
            .call_method0(pyo3::intern!(py, "cancelled"))?
            .is_truthy()?
            || !future
                .call_method0(pyo3::intern!(py, "exception"))?
                .is_none()
        {
            return Ok(());
        }
        let lent = future.call_method0(pyo3::intern!(py, "result"))?;
        if let Ok(lent) = lent.cast::<Lent>() {
            drop(lent.get().take()); // back to the pool
        }
        Ok(())
    }
}
