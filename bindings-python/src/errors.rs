//! Errors: core [`ferroftp::Error`] → the exception classes of `ferroftp.exceptions`, and Rust
//! panics → Python exceptions.
//!
//! The exception classes are plain Python classes (they need several bases: `ftplib.error_perm`,
//! `FileNotFoundError`, ...), each naming the core's error kind it stands for in its `kind`
//! attribute: that is the one mapping from kinds to classes, and `ferroftp.exceptions._for_kind`
//! reads it. So an error is raised lazily: the [`PyErr`] made here holds only the kind's name,
//! the code, the message and whether the operation may have taken effect, and builds the
//! instance of the right class when Python needs it. That makes errors cheap to create on
//! runtime threads that do not hold the GIL.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use ferroftp::ErrorKind;
use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;
use pyo3::{PyErrArguments, intern};

/// What a raised `ferroftp.Error` carries; turned into the exception instance when raised.
struct FtpErrorArgs {
    kind: &'static str,
    code: Option<u16>,
    /// `str(e)`: the server's reply for a refusal (as ftplib has it), else the core's message.
    message: String,
    /// The core's whole message (`"SIZE /a: the server replied 550 ..."`).
    detail: String,
    /// The command line the server refused, and the remote path in it.
    command: Option<String>,
    path: Option<String>,
    may_have_taken_effect: bool,
}

impl PyErrArguments for FtpErrorArgs {
    fn arguments(self, py: Python<'_>) -> Py<PyAny> {
        // `PyErr_SetObject(Exception, instance)` keeps the instance and its own class.
        match self.instance(py) {
            Ok(exc) => exc.unbind(),
            Err(e) => e.into_value(py).into_any(),
        }
    }
}

impl FtpErrorArgs {
    fn instance<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        static FOR_KIND: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let for_kind = FOR_KIND.get_or_try_init(py, || {
            PyResult::Ok(
                py.import("ferroftp.exceptions")?
                    .getattr("_for_kind")?
                    .unbind(),
            )
        })?;
        let class = for_kind.bind(py).call1((self.kind,))?;
        // Built from the message alone: some classes are OSError subclasses, whose constructor
        // gives a meaning to a second and third argument.
        let exc = class.call1((self.message.as_str(),))?;
        exc.setattr(intern!(py, "code"), self.code)?;
        exc.setattr(intern!(py, "kind"), self.kind)?;
        exc.setattr(intern!(py, "detail"), self.detail.as_str())?;
        exc.setattr(intern!(py, "command"), self.command.as_deref())?;
        exc.setattr(intern!(py, "path"), self.path.as_deref())?;
        if let Some(command) = &self.command {
            // Shown under the traceback (Python 3.11+), as `add_note` would.
            let note = format!("ferroftp: in reply to {command}");
            exc.setattr(intern!(py, "__notes__"), vec![note])?;
        }
        exc.setattr(
            intern!(py, "may_have_taken_effect"),
            self.may_have_taken_effect,
        )?;
        Ok(exc)
    }
}

/// The Python exception for a core error (no GIL needed; built when raised).
///
/// A refusal's `str(e)` is the server's reply, as ftplib's `error_perm` has it (`"550 No such
/// file"`, so `str(e)[:3]` is the code), with the lines of a multi-line reply joined by `\n`
/// and anything the core added after the reply kept at its end; the refused command and its
/// path become `e.command` and `e.path`, and `e.detail` keeps the core's whole message.
pub(crate) fn ftp_err(e: ferroftp::Error) -> PyErr {
    let detail = e.message().to_string();
    let refusal = e.code().and_then(|_| split_refusal(&detail));
    let (message, command, path) = match refusal {
        Some((command, reply)) => (
            reply.replace("\r\n", "\n"),
            Some(command.to_string()),
            command_path(command).map(str::to_string),
        ),
        None => (detail.clone(), None, None),
    };
    PyErr::new::<PyException, _>(FtpErrorArgs {
        kind: e.kind().as_str(),
        code: e.code(),
        message,
        detail,
        command,
        path,
        may_have_taken_effect: e.may_have_taken_effect(),
    })
}

/// What the core's message of a refusal says between its parts: `"<command>: the server
/// replied <reply>"` (`ferroftp::Error::from_reply`).
const REPLIED: &str = ": the server replied ";

/// The command and the reply (with what the core appended) of a refusal's message; `None` for a
/// message of another form.
fn split_refusal(message: &str) -> Option<(&str, &str)> {
    message.match_indices(REPLIED).find_map(|(at, _)| {
        let reply = &message[at + REPLIED.len()..];
        let coded = reply.len() >= 3 && reply.as_bytes()[..3].iter().all(u8::is_ascii_digit);
        coded.then(|| (&message[..at], reply))
    })
}

/// The remote path a command line names: the argument of the commands that take one path, the
/// last argument of `MFMT <time> <path>` and `SITE CHMOD <mode> <path>`.
fn command_path(command: &str) -> Option<&str> {
    let (verb, rest) = command.split_once(' ')?;
    let verb = verb.to_ascii_uppercase();
    let path = match verb.as_str() {
        "RETR" | "STOR" | "STOU" | "APPE" | "SIZE" | "MDTM" | "DELE" | "RMD" | "XRMD" | "MKD"
        | "XMKD" | "CWD" | "XCWD" | "RNFR" | "RNTO" | "LIST" | "NLST" | "MLSD" | "MLST"
        | "HASH" | "XCRC" | "XMD5" | "XSHA1" | "XSHA256" | "XSHA512" => rest,
        "MFMT" => rest.split_once(' ')?.1,
        "SITE" => {
            let (site, args) = rest.split_once(' ')?;
            if !site.eq_ignore_ascii_case("CHMOD") {
                return None;
            }
            args.split_once(' ')?.1
        }
        _ => return None,
    };
    (!path.is_empty()).then_some(path)
}

/// `ferroftp._native.ERROR_KINDS`: the names of the core's error kinds, each of which has a
/// class of its own in `ferroftp.exceptions` (its test checks that).
pub(crate) fn error_kinds(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
    PyTuple::new(py, ErrorKind::ALL.map(ErrorKind::as_str))
}

/// Test hook `_error(kind, message)`: the exception a core error of `kind` (a name of
/// `ERROR_KINDS`) becomes, as every operation raises it.
#[pyfunction]
#[pyo3(signature = (kind, message, /))]
pub(crate) fn _error(py: Python<'_>, kind: &str, message: &str) -> PyResult<Py<PyAny>> {
    let kind = kind.parse::<ErrorKind>().map_err(ftp_err)?;
    Ok(err(kind, message).into_value(py).into_any())
}

/// Test hook `_refusal(code, reply, command)`: the exception the core's error for the server's
/// refusal `reply` (code `code`) of `command` becomes, as every operation raises it.
#[pyfunction]
#[pyo3(signature = (code, reply, command, /))]
pub(crate) fn _refusal(py: Python<'_>, code: u16, reply: &str, command: &str) -> Py<PyAny> {
    let e = ferroftp::Error::from_reply(code, reply, command, true);
    ftp_err(e).into_value(py).into_any()
}

/// The Python exception for an error of `kind` with `message`.
pub(crate) fn err(kind: ErrorKind, message: impl Into<String>) -> PyErr {
    ftp_err(ferroftp::Error::new(kind, message))
}

/// The Python exception for an I/O error of a streaming read or write, during `context`.
pub(crate) fn io_err(e: &std::io::Error, context: &str) -> PyErr {
    let kind = match e.kind() {
        std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Io,
    };
    err(kind, format!("{context}: {e}"))
}

/// The exception for a Rust panic that was caught at the boundary.
pub(crate) fn panic_err(payload: &(dyn Any + Send)) -> PyErr {
    let what = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("panic from Rust code");
    PanicException::new_err((format!("ferroftp: internal error (a Rust panic): {what}"),))
}

/// A `RuntimeError` for misuse that Python callers should see as such.
pub(crate) fn runtime_err(message: impl Into<String>) -> PyErr {
    PyRuntimeError::new_err(message.into())
}

/// A future that turns a panic while polling `F` into [`PanicException`], so that no panic of a
/// spawned operation ever goes unreported (the task would otherwise end with a `JoinError`).
pub(crate) struct CatchPanic<F> {
    inner: Pin<Box<F>>,
}

impl<F> CatchPanic<F> {
    pub(crate) fn new(fut: F) -> Self {
        Self {
            inner: Box::pin(fut),
        }
    }
}

impl<F, T> Future for CatchPanic<F>
where
    F: Future<Output = PyResult<T>>,
{
    type Output = PyResult<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => Poll::Ready(Err(panic_err(payload.as_ref()))),
        }
    }
}
