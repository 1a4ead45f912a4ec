//! `connect`, `connect_async`, `Session` and `AsyncSession`.
//!
//! Each operation is described once, in [`session_methods!`]: the description makes both the
//! blocking method of `Session` and the awaitable one of `AsyncSession` (the [`Face`] running
//! it decides which). The few methods whose faces differ (`open`, `walk`, the context
//! managers) sit there pairwise, side by side.
//!
//! Both classes wrap one `ferroftp::Session` (cheap to clone; clones share the connection and
//! its fair lock), so one object may be used by any number of threads or tasks. Every method
//! only converts arguments, results, errors and threads; the FTP work is the core's.

use std::future::Future;
use std::sync::Arc;

use ferroftp::{Checksum, Config, DownloadOptions, UploadOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule, PyType};

use crate::entry::{PyEntry, entries};
use crate::errors::ftp_err;
use crate::file::{Bytes, FileCore, PyAsyncRemoteFile, PyRemoteFile};
use crate::options::{ChecksumArg, CommandLine, Remote, UrlArg, Verify};
use crate::runtime::{Awaiting, Blocking, Face, ready, spawn_async, wait};
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

/// The command of a raw line as an error names it: never a password (as the core does).
fn command_context(line: &str) -> &str {
    match line.get(..5) {
        Some(verb) if verb.eq_ignore_ascii_case("PASS ") => "PASS",
        _ => line,
    }
}

/// Opens `path` in `mode` ("rb" or "wb"): the operation, for either face.
fn open_file(
    s: ferroftp::Session,
    path: Remote,
    mode: &str,
) -> PyResult<impl Future<Output = PyResult<Arc<FileCore>>> + Send + 'static> {
    let write = open_mode(mode)?;
    Ok(async move {
        Ok(if write {
            let writer = s.open_write(&path).await.map_err(ftp_err)?;
            FileCore::writer(s, path.0, writer)
        } else {
            let reader = s.open_read(&path).await.map_err(ftp_err)?;
            FileCore::reader(s, path.0, reader)
        })
    })
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

/// Connects and logs in; returns a `Session`. The server is a URL, or `host=` with `port=`,
/// `user=`, `password=`, `account=` (no percent-encoding; `user=`/`password=`/`account=`
/// also complete a URL). The other keyword options are the core's settings
/// (`ferroftp._native.SETTINGS`: timeout, connect_timeout, tls, verify, ca_file, ...).
#[pyfunction]
#[pyo3(signature = (url = None, **options))]
pub(crate) fn connect(
    py: Python<'_>,
    url: Option<UrlArg>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<PySession> {
    let config = crate::options::config("connect", url.as_ref().map(|u| u.0.as_str()), options)?;
    Blocking(py).run(async move {
        let inner = ferroftp::Session::connect_with(config).await?;
        Ok(PySession { inner })
    })
}

/// Connects and logs in; returns an awaitable of an `AsyncSession`. The options are those of
/// `connect`.
#[pyfunction]
#[pyo3(signature = (url = None, **options))]
pub(crate) fn connect_async<'py>(
    py: Python<'py>,
    url: Option<UrlArg>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let config =
        crate::options::config("connect_async", url.as_ref().map(|u| u.0.as_str()), options)?;
    Awaiting(py).run(async move {
        let inner = ferroftp::Session::connect_with(config).await?;
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

/// `Session` and `AsyncSession` from one description of each operation.
///
/// Each `fn name(s, face, args...) -> T { body }` becomes `Session.name`, returning `T`, and
/// `AsyncSession.name`, returning an awaitable of `T`: the body runs with `s`, a clone of the
/// core session, and `face`, the [`Face`] that runs the operation ([`Blocking`] or
/// [`Awaiting`]). Each `twins { ... } { ... }` pair holds the methods whose two faces differ,
/// the `Session` one first.
macro_rules! session_methods {
    (
        $(
            $(#[$attr:meta])*
            fn $name:ident($s:ident, $face:ident $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty
            $body:block
        )*
        $(twins { $($sync:tt)* } { $($async:tt)* })*
    ) => {
        #[pymethods]
        impl PySession {
            $(
                $(#[$attr])*
                fn $name<'py>(&self, py: Python<'py>, $($arg: $ty),*) -> PyResult<$ret> {
                    let ($s, $face) = (self.inner.clone(), Blocking(py));
                    $body
                }
            )*
            $($($sync)*)*
        }

        #[pymethods]
        impl PyAsyncSession {
            $(
                $(#[$attr])*
                fn $name<'py>(
                    &self,
                    py: Python<'py>,
                    $($arg: $ty),*
                ) -> PyResult<Bound<'py, PyAny>> {
                    let ($s, $face) = (self.inner.clone(), Awaiting(py));
                    $body
                }
            )*
            $($($async)*)*
        }
    };
}

session_methods! {
    /// Lists a directory (MLSD when the server offers it, else LIST parsed).
    #[pyo3(signature = (path = Remote(String::new())), text_signature = "($self, path='')")]
    fn list(s, face, path: Remote) -> Vec<PyEntry> {
        face.run(async move { s.list(&path).await.map(entries) })
    }

    /// The names in a directory (NLST).
    #[pyo3(signature = (path = Remote(String::new())), text_signature = "($self, path='')")]
    fn names(s, face, path: Remote) -> Vec<String> {
        face.run(async move { s.names(&path).await })
    }

    /// Downloads `remote` to a local path or into a binary file object (whose `write` runs
    /// where the caller is: this thread, or the event loop's); returns the byte count.
    #[pyo3(
        signature = (remote, local, *, resume = false, verify = Verify(true), checksum = None,
                     progress = None),
        text_signature = "($self, remote, local, *, resume=False, verify=True, checksum=None, \
                          progress=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn download(
        s,
        face,
        remote: Remote,
        local: &Bound<'py, PyAny>,
        resume: bool,
        verify: Verify,
        checksum: Option<ChecksumArg>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> u64 {
        let progress = callback(progress)?;
        let mut options = download_options(resume, &verify, &checksum);
        match (crate::transfer::local(local, "write")?, progress) {
            (Local::Path(path), None) => {
                face.run(async move { s.download(&remote, &path, options).await })
            }
            (Local::Path(path), Some(cb)) => {
                let (gate, pump) = ProgressGate::new(cb);
                options.progress = Some(core_progress(&gate));
                let op = async move { gate.run(s.download(&remote, &path, options)).await };
                face.run_with(op, pump)
            }
            (Local::File(file), cb) => {
                stream_options(resume, false, &verify, &checksum)?;
                let (pump, mut pipe) = ToFile::new(file, cb);
                let op = async move {
                    let r = s.download_to(&remote, &mut pipe).await;
                    drop(pipe); // end of data for the file object
                    r.map_err(ftp_err)
                };
                face.run_with(op, pump)
            }
        }
    }

    /// Uploads a local path or a binary file object (whose `read` runs where the caller is) to
    /// `remote`; returns the byte count.
    #[pyo3(
        signature = (local, remote, *, resume = false, atomic = false, verify = Verify(true),
                     checksum = None, progress = None),
        text_signature = "($self, local, remote, *, resume=False, atomic=False, verify=True, \
                          checksum=None, progress=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn upload(
        s,
        face,
        local: &Bound<'py, PyAny>,
        remote: Remote,
        resume: bool,
        atomic: bool,
        verify: Verify,
        checksum: Option<ChecksumArg>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> u64 {
        let progress = callback(progress)?;
        let mut options = upload_options(resume, atomic, &verify, &checksum);
        match (crate::transfer::local(local, "read")?, progress) {
            (Local::Path(path), None) => {
                face.run(async move { s.upload(&path, &remote, options).await })
            }
            (Local::Path(path), Some(cb)) => {
                let (gate, pump) = ProgressGate::new(cb);
                options.progress = Some(core_progress(&gate));
                let op = async move { gate.run(s.upload(&path, &remote, options)).await };
                face.run_with(op, pump)
            }
            (Local::File(file), cb) => {
                stream_options(resume, atomic, &verify, &checksum)?;
                let (pump, mut pipe) = FromFile::new(face.py(), file, cb)?;
                let op = async move { s.upload_from(&mut pipe, &remote).await.map_err(ftp_err) };
                face.run_with(op, pump)
            }
        }
    }

    /// Downloads `remote` into memory.
    fn read_bytes(s, face, remote: Remote) -> Bytes {
        face.run(async move { s.read_bytes(&remote).await.map(Bytes) })
    }

    /// Uploads `data` (bytes-like) to `remote`; returns the byte count.
    fn write_bytes(s, face, remote: Remote, data: &Bound<'py, PyAny>) -> u64 {
        let data: PyBackedBytes = bytes_arg(data, "data")?;
        face.run(async move { s.write_bytes(&remote, &data).await })
    }

    /// The raw bytes of a listing command with any arguments (`LIST -la /pub`, `NLST`,
    /// `MLSD dir`), as the server sent them.
    fn list_raw(s, face, command: CommandLine) -> Bytes {
        face.run(async move { s.list_raw(&command.0).await.map(Bytes) })
    }

    /// The server's greeting (its 220 reply).
    fn welcome(s, face) -> String {
        face.run(async move { s.welcome().await })
    }

    /// Reads `length` bytes of `remote` from byte `offset` (fewer at the end of the file);
    /// the transfer stops once they are in, and the session stays usable.
    fn read_range(s, face, remote: Remote, offset: u64, length: u64) -> Bytes {
        face.run(async move { s.read_range(&remote, offset, length).await.map(Bytes) })
    }

    /// One `Entry` for `path`, a file or a directory (MLST, else SIZE/MDTM or CWD);
    /// `ferroftp.NotFoundError` when there is neither.
    fn stat(s, face, path: Remote) -> PyEntry {
        face.run(async move { s.stat(&path).await.map(PyEntry::from) })
    }

    /// Sets the modification time of a remote file (an aware datetime; MFMT, or MDTM with a
    /// time where the server has no MFMT).
    fn set_modified(s, face, path: Remote, time: chrono::DateTime<chrono::Utc>) -> () {
        face.run(async move { s.set_modified(&path, time).await })
    }

    /// Sets the permissions of a remote file or directory (`SITE CHMOD`; `mode` such as
    /// `0o644`).
    fn chmod(s, face, path: Remote, mode: u32) -> () {
        face.run(async move { s.chmod(&path, mode).await })
    }

    /// The size of a remote file in bytes (SIZE).
    fn size(s, face, path: Remote) -> u64 {
        face.run(async move { s.size(&path).await })
    }

    /// The modification time of a remote file (MDTM), an aware UTC datetime.
    fn modified(s, face, path: Remote) -> chrono::DateTime<chrono::Utc> {
        face.run(async move { s.modified(&path).await })
    }

    /// Whether a remote file or directory exists.
    fn exists(s, face, path: Remote) -> bool {
        face.run(async move { s.exists(&path).await })
    }

    /// Creates a directory (and its missing parents with `parents=True`).
    #[pyo3(signature = (path, *, parents = false))]
    fn mkdir(s, face, path: Remote, parents: bool) -> () {
        face.run(async move { s.mkdir(&path, parents).await })
    }

    /// Removes a directory (and everything in it with `recursive=True`).
    #[pyo3(signature = (path, *, recursive = false))]
    fn rmdir(s, face, path: Remote, recursive: bool) -> () {
        face.run(async move { s.rmdir(&path, recursive).await })
    }

    /// Removes a file.
    fn remove(s, face, path: Remote) -> () {
        face.run(async move { s.remove(&path).await })
    }

    /// Renames (moves) a remote file or directory.
    fn rename(s, face, src: Remote, dst: Remote) -> () {
        face.run(async move { s.rename(&src, &dst).await })
    }

    /// Changes the working directory (restored after any reconnect).
    fn cwd(s, face, path: Remote) -> () {
        face.run(async move { s.cwd(&path).await })
    }

    /// The working directory.
    fn pwd(s, face) -> String {
        face.run(async move { s.pwd().await })
    }

    /// NOOP: checks the connection (reopening it if needed).
    fn noop(s, face) -> () {
        face.run(async move { s.noop().await })
    }

    /// Sends a raw command line; returns the reply's `(code, text)` whatever the code.
    fn quote(s, face, line: CommandLine) -> (u16, String) {
        face.run(async move { s.quote(&line.0).await })
    }

    /// Sends a raw command line like `quote` and returns the reply's text (the lines of a
    /// multi-line reply joined by `\n`), like ftplib's `sendcmd`; a refusal (4xx, 5xx) raises
    /// (`TransientError`, `PermanentError`), its `str()` the server's reply.
    fn command(s, face, line: CommandLine) -> String {
        face.run(async move {
            let (code, text) = s.quote(&line.0).await?;
            if code >= 400 {
                let context = command_context(&line.0);
                return Err(ferroftp::Error::from_reply(code, &text, context, false));
            }
            Ok(text.replace("\r\n", "\n"))
        })
    }

    /// Says goodbye (QUIT); later calls raise `ferroftp.ClosedError`.
    fn close(s, face) -> () {
        face.run(async move { s.close().await })
    }

    twins {
        /// Opens `path` for streaming (`"rb"` or `"wb"`); the file holds the session until
        /// closed.
        #[pyo3(signature = (path, mode = "rb"))]
        fn open(&self, py: Python<'_>, path: Remote, mode: &str) -> PyResult<PyRemoteFile> {
            let opening = open_file(self.inner.clone(), path, mode)?;
            Ok(PyRemoteFile::new(wait(py, opening)?))
        }
    } {
        /// See `Session.open`; the awaitable gives an `AsyncRemoteFile`.
        ///
        /// A coroutine (`ferroftp._helpers.open_async`) around [`PyAsyncSession::_open`]: it
        /// starts the operation only when awaited, and if it is cancelled after the file was
        /// opened but before the file reached the caller, it abandons the file at once (so the
        /// session's lock is never left to a Python object nobody holds).
        ///
        /// What it returns is also an async context manager: `async with s.open(path) as f`
        /// awaits the opening itself (`ferroftp._helpers.AsyncOpening`).
        #[pyo3(signature = (path, mode = "rb"))]
        fn open<'py>(
            slf: Bound<'py, Self>,
            path: Remote,
            mode: &str,
        ) -> PyResult<Bound<'py, PyAny>> {
            open_mode(mode)?;
            helper(slf.py(), "AsyncOpening")?.call1((slf, path.0, mode))
        }

        /// The operation behind `open`: an asyncio future of the opened file.
        #[pyo3(signature = (path, mode = "rb"))]
        fn _open<'py>(
            &self,
            py: Python<'py>,
            path: Remote,
            mode: &str,
        ) -> PyResult<Bound<'py, PyAny>> {
            let opening = open_file(self.inner.clone(), path, mode)?;
            spawn_async(py, async move { opening.await.map(PyAsyncRemoteFile::new) })
        }
    }

    twins {
        /// Walks the tree under `top` like `os.walk`: yields `(dirpath, dirnames, filenames)`;
        /// with `detail=True`, `(dirpath, {name: Entry}, {name: Entry})`.
        #[pyo3(
            signature = (top = Remote(String::from("/")), *, detail = false),
            text_signature = "($self, top='/', *, detail=False)"
        )]
        fn walk<'py>(
            slf: Bound<'py, Self>,
            top: Remote,
            detail: bool,
        ) -> PyResult<Bound<'py, PyAny>> {
            helper(slf.py(), "walk")?.call1((slf, top.0, detail))
        }

        /// The paths matching a pattern (`*`, `?`, `[...]` within a name, `**` for any
        /// depth), sorted.
        fn glob<'py>(slf: Bound<'py, Self>, pattern: Remote) -> PyResult<Bound<'py, PyAny>> {
            helper(slf.py(), "glob")?.call1((slf, pattern.0))
        }
    } {
        /// See `Session.walk`; an async iterator.
        #[pyo3(
            signature = (top = Remote(String::from("/")), *, detail = false),
            text_signature = "($self, top='/', *, detail=False)"
        )]
        fn walk<'py>(
            slf: Bound<'py, Self>,
            top: Remote,
            detail: bool,
        ) -> PyResult<Bound<'py, PyAny>> {
            helper(slf.py(), "walk_async")?.call1((slf, top.0, detail))
        }

        /// See `Session.glob`; an awaitable of the list.
        fn glob<'py>(slf: Bound<'py, Self>, pattern: Remote) -> PyResult<Bound<'py, PyAny>> {
            helper(slf.py(), "glob_async")?.call1((slf, pattern.0))
        }
    }

    twins {
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
    } {
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
            let s = self.inner.clone();
            Awaiting(py).run(async move { s.close().await.map(|()| false) })
        }
    }

    twins {
        fn __repr__(&self) -> String {
            format!("<ferroftp.Session {}>", describe(self.inner.config()))
        }
    } {
        fn __repr__(&self) -> String {
            format!("<ferroftp.AsyncSession {}>", describe(self.inner.config()))
        }
    }
}
