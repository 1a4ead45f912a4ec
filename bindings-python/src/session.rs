//! `Session` and `AsyncSession`: each operation's blocking and awaitable faces side by side.
//!
//! Both wrap one `ferroftp::Session` (cheap to clone; clones share the connection and its fair
//! lock), so one object may be used by any number of threads or tasks. Every method only
//! converts arguments, results, errors and threads; the FTP work is the core's.

use std::time::Duration;

use ferroftp::{Checksum, Config, DataMode, DownloadOptions, UploadOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyModule, PyType};

use crate::entry::{PyEntry, entries};
use crate::errors::ftp_err;
use crate::file::{Bytes, FileCore, PyAsyncRemoteFile, PyRemoteFile};
use crate::options::{
    CaFile, ChecksumArg, ClientCert, ClientKey, CommandLine, ConnectTimeout, DataModeArg, Options,
    Pipelining, Remote, Retries, Timeout, Tls, TlsServerName, UrlArg, Verify,
};
use crate::runtime::{ready, spawn_async, spawn_async_with, wait, wait_with};
use crate::transfer::{
    FromFile, Local, ProgressGate, ToFile, bytes_arg, callback, core_progress, path_only,
};

/// A function of the pure-Python helper module `ferroftp._helpers`.
fn helper<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || {
            PyResult::Ok(py.import("ferroftp._helpers")?.unbind())
        })?
        .bind(py)
        .getattr(name)
}

fn describe(config: &Config) -> String {
    let host = if config.host.contains(':') {
        format!("[{}]", config.host)
    } else {
        config.host.clone()
    };
    format!("ftp://{}@{host}:{}", config.user, config.port)
}

fn open_mode(mode: &str) -> PyResult<bool> {
    match mode {
        "rb" | "br" => Ok(false),
        "wb" | "bw" => Ok(true),
        _ => Err(PyValueError::new_err(format!(
            "mode must be \"rb\" or \"wb\" (remote files are binary), not {mode:?}"
        ))),
    }
}

/// The core's download options from the keyword arguments (no progress yet).
fn download_options(
    resume: bool,
    verify: &Verify,
    checksum: &Option<ChecksumArg>,
) -> DownloadOptions {
    DownloadOptions::default()
        .resume(resume)
        .verify(verify.0)
        .checksum(checksum.as_ref().map_or(Checksum::Off, |c| c.0))
}

/// The core's upload options from the keyword arguments (no progress yet).
fn upload_options(
    resume: bool,
    atomic: bool,
    verify: &Verify,
    checksum: &Option<ChecksumArg>,
) -> UploadOptions {
    UploadOptions::default()
        .resume(resume)
        .atomic(atomic)
        .verify(verify.0)
        .checksum(checksum.as_ref().map_or(Checksum::Off, |c| c.0))
}

/// Refuses the options a transfer from or to a file object cannot honour (its stream can be
/// neither resumed nor renamed; the core always checks its size and computes no checksum).
fn stream_options(
    resume: bool,
    atomic: bool,
    verify: &Verify,
    checksum: &Option<ChecksumArg>,
) -> PyResult<()> {
    path_only("resume=True", resume)?;
    path_only("atomic=True", atomic)?;
    path_only("verify=False", !verify.0)?;
    path_only("checksum", checksum.is_some())
}

/// Connects and logs in; returns a `Session`.
#[pyfunction]
#[pyo3(
    signature = (url, *, timeout = Timeout(Duration::from_secs(30)),
                 connect_timeout = ConnectTimeout(Duration::from_secs(10)), tls = None,
                 verify = Verify(true), ca_file = None,
                 tls_server_name = None, client_cert = None, client_key = None, data_mode = DataModeArg(DataMode::Auto),
                 retries = Retries(3), pipelining = Pipelining(true)),
    text_signature = "(url, *, timeout=30.0, connect_timeout=10.0, tls=None, verify=True, \
                      ca_file=None, tls_server_name=None, client_cert=None, client_key=None, data_mode='auto', retries=3, pipelining=True)"
)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn connect(
    py: Python<'_>,
    url: UrlArg,
    timeout: Timeout,
    connect_timeout: ConnectTimeout,
    tls: Option<Tls>,
    verify: Verify,
    ca_file: Option<CaFile>,
    tls_server_name: Option<TlsServerName>,
    client_cert: Option<ClientCert>,
    client_key: Option<ClientKey>,
    data_mode: DataModeArg,
    retries: Retries,
    pipelining: Pipelining,
) -> PyResult<PySession> {
    let config = Options {
        timeout,
        connect_timeout,
        tls,
        verify,
        ca_file,
        tls_server_name,
        client_cert,
        client_key,
        data_mode,
        retries,
        pipelining,
    }
    .config(&url.0)?;
    let inner = wait(py, async move {
        ferroftp::Session::connect_with(config)
            .await
            .map_err(ftp_err)
    })?;
    Ok(PySession { inner })
}

/// Connects and logs in; returns an awaitable of an `AsyncSession`.
#[pyfunction]
#[pyo3(
    signature = (url, *, timeout = Timeout(Duration::from_secs(30)),
                 connect_timeout = ConnectTimeout(Duration::from_secs(10)), tls = None,
                 verify = Verify(true), ca_file = None,
                 tls_server_name = None, client_cert = None, client_key = None, data_mode = DataModeArg(DataMode::Auto),
                 retries = Retries(3), pipelining = Pipelining(true)),
    text_signature = "(url, *, timeout=30.0, connect_timeout=10.0, tls=None, verify=True, \
                      ca_file=None, tls_server_name=None, client_cert=None, client_key=None, data_mode='auto', retries=3, pipelining=True)"
)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn connect_async<'py>(
    py: Python<'py>,
    url: UrlArg,
    timeout: Timeout,
    connect_timeout: ConnectTimeout,
    tls: Option<Tls>,
    verify: Verify,
    ca_file: Option<CaFile>,
    tls_server_name: Option<TlsServerName>,
    client_cert: Option<ClientCert>,
    client_key: Option<ClientKey>,
    data_mode: DataModeArg,
    retries: Retries,
    pipelining: Pipelining,
) -> PyResult<Bound<'py, PyAny>> {
    let config = Options {
        timeout,
        connect_timeout,
        tls,
        verify,
        ca_file,
        tls_server_name,
        client_cert,
        client_key,
        data_mode,
        retries,
        pipelining,
    }
    .config(&url.0)?;
    spawn_async(py, async move {
        let inner = ferroftp::Session::connect_with(config)
            .await
            .map_err(ftp_err)?;
        Ok(PyAsyncSession { inner })
    })
}

/// A blocking FTP session, safe to share between threads.
#[pyclass(frozen, module = "ferroftp", name = "Session")]
pub(crate) struct PySession {
    inner: ferroftp::Session,
}

impl PySession {
    /// A `Session` over a core session (e.g. one lent by a pool).
    pub(crate) fn from_core(inner: ferroftp::Session) -> Self {
        Self { inner }
    }
}

/// An asyncio FTP session, safe to share between tasks (and threads).
#[pyclass(frozen, module = "ferroftp", name = "AsyncSession")]
pub(crate) struct PyAsyncSession {
    inner: ferroftp::Session,
}

impl PyAsyncSession {
    /// An `AsyncSession` over a core session (e.g. one lent by a pool).
    pub(crate) fn from_core(inner: ferroftp::Session) -> Self {
        Self { inner }
    }
}

/// Runs `$body` (using the cloned core session `$s`) as a blocking call.
macro_rules! blocking {
    ($self:ident, $py:ident, |$s:ident| $body:expr) => {{
        let $s = $self.inner.clone();
        wait($py, async move { $body.await.map_err(ftp_err) })
    }};
}

/// Runs `$body` (using the cloned core session `$s`) as an awaitable.
macro_rules! awaitable {
    ($self:ident, $py:ident, |$s:ident| $body:expr) => {{
        let $s = $self.inner.clone();
        spawn_async($py, async move { $body.await.map_err(ftp_err) })
    }};
}

#[pymethods]
impl PySession {
    /// Lists a directory (MLSD when the server offers it, else LIST parsed).
    #[pyo3(signature = (path = Remote(String::new())), text_signature = "($self, path='')")]
    fn list(&self, py: Python<'_>, path: Remote) -> PyResult<Vec<PyEntry>> {
        blocking!(
            self,
            py,
            |s| async move { s.list(&path).await.map(entries) }
        )
    }

    /// The names in a directory (NLST).
    #[pyo3(signature = (path = Remote(String::new())), text_signature = "($self, path='')")]
    fn names(&self, py: Python<'_>, path: Remote) -> PyResult<Vec<String>> {
        blocking!(self, py, |s| s.names(&path))
    }

    /// Downloads `remote` to a local path or into a binary file object; returns the byte count.
    #[pyo3(
        signature = (remote, local, *, resume = false, verify = Verify(true), checksum = None,
                     progress = None),
        text_signature = "($self, remote, local, *, resume=False, verify=True, checksum=None, \
                          progress=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn download(
        &self,
        py: Python<'_>,
        remote: Remote,
        local: &Bound<'_, PyAny>,
        resume: bool,
        verify: Verify,
        checksum: Option<ChecksumArg>,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let progress = callback(progress)?;
        let s = self.inner.clone();
        let mut options = download_options(resume, &verify, &checksum);
        match (crate::transfer::local(local, "write")?, progress) {
            (Local::Path(path), None) => wait(py, async move {
                s.download(&remote, &path, options).await.map_err(ftp_err)
            }),
            (Local::Path(path), Some(cb)) => {
                let (gate, mut pump) = ProgressGate::new(cb);
                options.progress = Some(core_progress(&gate));
                let op = async move { gate.run(s.download(&remote, &path, options)).await };
                wait_with(py, op, &mut pump)
            }
            (Local::File(file), cb) => {
                stream_options(resume, false, &verify, &checksum)?;
                let (mut pump, mut pipe) = ToFile::new(file, cb);
                let op = async move {
                    let r = s.download_to(&remote, &mut pipe).await;
                    drop(pipe); // end of data for the file object
                    r.map_err(ftp_err)
                };
                wait_with(py, op, &mut pump)
            }
        }
    }

    /// Uploads a local path or a binary file object to `remote`; returns the byte count.
    #[pyo3(
        signature = (local, remote, *, resume = false, atomic = false, verify = Verify(true),
                     checksum = None, progress = None),
        text_signature = "($self, local, remote, *, resume=False, atomic=False, verify=True, \
                          checksum=None, progress=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn upload(
        &self,
        py: Python<'_>,
        local: &Bound<'_, PyAny>,
        remote: Remote,
        resume: bool,
        atomic: bool,
        verify: Verify,
        checksum: Option<ChecksumArg>,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let progress = callback(progress)?;
        let s = self.inner.clone();
        let mut options = upload_options(resume, atomic, &verify, &checksum);
        match (crate::transfer::local(local, "read")?, progress) {
            (Local::Path(path), None) => wait(py, async move {
                s.upload(&path, &remote, options).await.map_err(ftp_err)
            }),
            (Local::Path(path), Some(cb)) => {
                let (gate, mut pump) = ProgressGate::new(cb);
                options.progress = Some(core_progress(&gate));
                let op = async move { gate.run(s.upload(&path, &remote, options)).await };
                wait_with(py, op, &mut pump)
            }
            (Local::File(file), cb) => {
                stream_options(resume, atomic, &verify, &checksum)?;
                let (mut pump, mut pipe) = FromFile::new(py, file, cb)?;
                let op = async move { s.upload_from(&mut pipe, &remote).await.map_err(ftp_err) };
                wait_with(py, op, &mut pump)
            }
        }
    }

    /// Downloads `remote` into memory.
    fn read_bytes(&self, py: Python<'_>, remote: Remote) -> PyResult<Bytes> {
        blocking!(self, py, |s| async move {
            s.read_bytes(&remote).await.map(Bytes)
        })
    }

    /// Uploads `data` (bytes-like) to `remote`; returns the byte count.
    fn write_bytes(
        &self,
        py: Python<'_>,
        remote: Remote,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let data: PyBackedBytes = bytes_arg(data, "data")?;
        blocking!(
            self,
            py,
            |s| async move { s.write_bytes(&remote, &data).await }
        )
    }

    /// The size of a remote file in bytes (SIZE).
    fn size(&self, py: Python<'_>, path: Remote) -> PyResult<u64> {
        blocking!(self, py, |s| s.size(&path))
    }

    /// The modification time of a remote file (MDTM), an aware UTC datetime.
    fn modified(&self, py: Python<'_>, path: Remote) -> PyResult<chrono::DateTime<chrono::Utc>> {
        blocking!(self, py, |s| s.modified(&path))
    }

    /// Whether a remote file or directory exists.
    fn exists(&self, py: Python<'_>, path: Remote) -> PyResult<bool> {
        blocking!(self, py, |s| s.exists(&path))
    }

    /// Creates a directory (and its missing parents with `parents=True`).
    #[pyo3(signature = (path, *, parents = false))]
    fn mkdir(&self, py: Python<'_>, path: Remote, parents: bool) -> PyResult<()> {
        blocking!(self, py, |s| s.mkdir(&path, parents))
    }

    /// Removes a directory (and everything in it with `recursive=True`).
    #[pyo3(signature = (path, *, recursive = false))]
    fn rmdir(&self, py: Python<'_>, path: Remote, recursive: bool) -> PyResult<()> {
        blocking!(self, py, |s| s.rmdir(&path, recursive))
    }

    /// Removes a file.
    fn remove(&self, py: Python<'_>, path: Remote) -> PyResult<()> {
        blocking!(self, py, |s| s.remove(&path))
    }

    /// Renames (moves) a remote file or directory.
    fn rename(&self, py: Python<'_>, src: Remote, dst: Remote) -> PyResult<()> {
        blocking!(self, py, |s| s.rename(&src, &dst))
    }

    /// Changes the working directory (restored after any reconnect).
    fn cwd(&self, py: Python<'_>, path: Remote) -> PyResult<()> {
        blocking!(self, py, |s| s.cwd(&path))
    }

    /// The working directory.
    fn pwd(&self, py: Python<'_>) -> PyResult<String> {
        blocking!(self, py, |s| s.pwd())
    }

    /// NOOP: checks the connection (reopening it if needed).
    fn noop(&self, py: Python<'_>) -> PyResult<()> {
        blocking!(self, py, |s| s.noop())
    }

    /// Sends a raw command line; returns the reply's `(code, text)` whatever the code.
    fn quote(&self, py: Python<'_>, line: CommandLine) -> PyResult<(u16, String)> {
        blocking!(self, py, |s| s.quote(&line.0))
    }

    /// Opens `path` for streaming (`"rb"` or `"wb"`); the file holds the session until closed.
    #[pyo3(signature = (path, mode = "rb"))]
    fn open(&self, py: Python<'_>, path: Remote, mode: &str) -> PyResult<PyRemoteFile> {
        let write = open_mode(mode)?;
        let s = self.inner.clone();
        let core = wait(py, async move {
            if write {
                let w = s.open_write(&path).await.map_err(ftp_err)?;
                Ok(FileCore::writer(path.0, w))
            } else {
                let r = s.open_read(&path).await.map_err(ftp_err)?;
                Ok(FileCore::reader(path.0, r))
            }
        })?;
        Ok(PyRemoteFile::new(core))
    }

    /// Walks the tree under `top` like `os.walk`: yields `(dirpath, dirnames, filenames)`.
    fn walk<'py>(slf: Bound<'py, Self>, top: Remote) -> PyResult<Bound<'py, PyAny>> {
        helper(slf.py(), "walk")?.call1((slf, top.0))
    }

    /// Says goodbye (QUIT); later calls raise `ferroftp.ClosedError`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        blocking!(self, py, |s| s.close())
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

    fn __repr__(&self) -> String {
        format!("<ferroftp.Session {}>", describe(self.inner.config()))
    }
}

#[pymethods]
impl PyAsyncSession {
    /// See `Session.list`.
    #[pyo3(signature = (path = Remote(String::new())), text_signature = "($self, path='')")]
    fn list<'py>(&self, py: Python<'py>, path: Remote) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(
            self,
            py,
            |s| async move { s.list(&path).await.map(entries) }
        )
    }

    /// See `Session.names`.
    #[pyo3(signature = (path = Remote(String::new())), text_signature = "($self, path='')")]
    fn names<'py>(&self, py: Python<'py>, path: Remote) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.names(&path))
    }

    /// See `Session.download`; a file object is written on the event loop's thread.
    #[pyo3(
        signature = (remote, local, *, resume = false, verify = Verify(true), checksum = None,
                     progress = None),
        text_signature = "($self, remote, local, *, resume=False, verify=True, checksum=None, \
                          progress=None)"
    )]
    fn download<'py>(
        slf: &Bound<'py, Self>,
        remote: Remote,
        local: &Bound<'py, PyAny>,
        resume: bool,
        verify: Verify,
        checksum: Option<ChecksumArg>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let progress = callback(progress)?;
        let s = slf.get().inner.clone();
        let mut options = download_options(resume, &verify, &checksum);
        match crate::transfer::local(local, "write")? {
            Local::File(file) => {
                stream_options(resume, false, &verify, &checksum)?;
                let (pump, mut pipe) = ToFile::new(file, progress);
                let op = async move {
                    let r = s.download_to(&remote, &mut pipe).await;
                    drop(pipe); // end of data for the file object
                    r.map_err(ftp_err)
                };
                spawn_async_with(py, op, pump)
            }
            Local::Path(path) => match progress {
                None => spawn_async(py, async move {
                    s.download(&remote, &path, options).await.map_err(ftp_err)
                }),
                Some(cb) => {
                    let (gate, pump) = ProgressGate::new(cb);
                    options.progress = Some(core_progress(&gate));
                    let op = async move { gate.run(s.download(&remote, &path, options)).await };
                    spawn_async_with(py, op, pump)
                }
            },
        }
    }

    /// See `Session.upload`; a file object is read on the event loop's thread.
    #[pyo3(
        signature = (local, remote, *, resume = false, atomic = false, verify = Verify(true),
                     checksum = None, progress = None),
        text_signature = "($self, local, remote, *, resume=False, atomic=False, verify=True, \
                          checksum=None, progress=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn upload<'py>(
        slf: &Bound<'py, Self>,
        local: &Bound<'py, PyAny>,
        remote: Remote,
        resume: bool,
        atomic: bool,
        verify: Verify,
        checksum: Option<ChecksumArg>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let progress = callback(progress)?;
        let s = slf.get().inner.clone();
        let mut options = upload_options(resume, atomic, &verify, &checksum);
        match crate::transfer::local(local, "read")? {
            Local::File(file) => {
                stream_options(resume, atomic, &verify, &checksum)?;
                let (pump, mut pipe) = FromFile::new(py, file, progress)?;
                let op = async move { s.upload_from(&mut pipe, &remote).await.map_err(ftp_err) };
                spawn_async_with(py, op, pump)
            }
            Local::Path(path) => match progress {
                None => spawn_async(py, async move {
                    s.upload(&path, &remote, options).await.map_err(ftp_err)
                }),
                Some(cb) => {
                    let (gate, pump) = ProgressGate::new(cb);
                    options.progress = Some(core_progress(&gate));
                    let op = async move { gate.run(s.upload(&path, &remote, options)).await };
                    spawn_async_with(py, op, pump)
                }
            },
        }
    }

    /// See `Session.read_bytes`.
    fn read_bytes<'py>(&self, py: Python<'py>, remote: Remote) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| async move {
            s.read_bytes(&remote).await.map(Bytes)
        })
    }

    /// See `Session.write_bytes`.
    fn write_bytes<'py>(
        &self,
        py: Python<'py>,
        remote: Remote,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let data: PyBackedBytes = bytes_arg(data, "data")?;
        awaitable!(
            self,
            py,
            |s| async move { s.write_bytes(&remote, &data).await }
        )
    }

    /// See `Session.size`.
    fn size<'py>(&self, py: Python<'py>, path: Remote) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.size(&path))
    }

    /// See `Session.modified`.
    fn modified<'py>(&self, py: Python<'py>, path: Remote) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.modified(&path))
    }

    /// See `Session.exists`.
    fn exists<'py>(&self, py: Python<'py>, path: Remote) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.exists(&path))
    }

    /// See `Session.mkdir`.
    #[pyo3(signature = (path, *, parents = false))]
    fn mkdir<'py>(
        &self,
        py: Python<'py>,
        path: Remote,
        parents: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.mkdir(&path, parents))
    }

    /// See `Session.rmdir`.
    #[pyo3(signature = (path, *, recursive = false))]
    fn rmdir<'py>(
        &self,
        py: Python<'py>,
        path: Remote,
        recursive: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.rmdir(&path, recursive))
    }

    /// See `Session.remove`.
    fn remove<'py>(&self, py: Python<'py>, path: Remote) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.remove(&path))
    }

    /// See `Session.rename`.
    fn rename<'py>(
        &self,
        py: Python<'py>,
        src: Remote,
        dst: Remote,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.rename(&src, &dst))
    }

    /// See `Session.cwd`.
    fn cwd<'py>(&self, py: Python<'py>, path: Remote) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.cwd(&path))
    }

    /// See `Session.pwd`.
    fn pwd<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.pwd())
    }

    /// See `Session.noop`.
    fn noop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.noop())
    }

    /// See `Session.quote`.
    fn quote<'py>(&self, py: Python<'py>, line: CommandLine) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.quote(&line.0))
    }

    /// See `Session.open`; the awaitable gives an `AsyncRemoteFile`.
    ///
    /// A coroutine (`ferroftp._helpers.open_async`) around [`PyAsyncSession::_open`]: it starts
    /// the operation only when awaited, and if it is cancelled after the file was opened but
    /// before the file reached the caller, it abandons the file at once (so the session's lock
    /// is never left to a Python object nobody holds).
    #[pyo3(signature = (path, mode = "rb"))]
    fn open<'py>(slf: Bound<'py, Self>, path: Remote, mode: &str) -> PyResult<Bound<'py, PyAny>> {
        open_mode(mode)?;
        helper(slf.py(), "open_async")?.call1((slf, path.0, mode))
    }

    /// The operation behind `open`: an asyncio future of the opened file.
    #[pyo3(signature = (path, mode = "rb"))]
    fn _open<'py>(&self, py: Python<'py>, path: Remote, mode: &str) -> PyResult<Bound<'py, PyAny>> {
        let write = open_mode(mode)?;
        let s = self.inner.clone();
        spawn_async(py, async move {
            let core = if write {
                FileCore::writer(path.0.clone(), s.open_write(&path).await.map_err(ftp_err)?)
            } else {
                FileCore::reader(path.0.clone(), s.open_read(&path).await.map_err(ftp_err)?)
            };
            Ok(PyAsyncRemoteFile::new(core))
        })
    }

    /// See `Session.walk`; an async iterator.
    fn walk<'py>(slf: Bound<'py, Self>, top: Remote) -> PyResult<Bound<'py, PyAny>> {
        helper(slf.py(), "walk_async")?.call1((slf, top.0))
    }

    /// See `Session.close`.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable!(self, py, |s| s.close())
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
        awaitable!(self, py, |s| async move { s.close().await.map(|()| false) })
    }

    fn __repr__(&self) -> String {
        format!("<ferroftp.AsyncSession {}>", describe(self.inner.config()))
    }
}
