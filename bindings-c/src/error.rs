//! Status codes, the error as C sees it (`CError`) and the per-thread last error it is stored
//! in. This module exports no function (so that the panic boundary can record a panic here
//! without an import cycle); the `ferroftp_last_error_*` accessors are in [`crate::last_error`].
//!
//! Every fallible function returns a [`ferroftp_status`]; when it is neither
//! `FERROFTP_STATUS_OK` nor `FERROFTP_STATUS_PENDING`, the calling thread's last error holds the
//! status, the FTP reply code (when the server refused something), whether the failed operation
//! may have taken effect, and a message. Successful calls leave the last error unchanged (like
//! `errno`).
//!
//! The core's error kinds (`ferroftp::ErrorKind::ALL`) are translated here, each to a status
//! number of its own that never changes.

use std::cell::RefCell;
use std::ffi::CStr;

use ferroftp::ErrorKind;

/// The result of a ferroftp call. The numbers are stable: they never change and are never reused.
///
/// `FERROFTP_STATUS_OK` (0) is success and `FERROFTP_STATUS_PENDING` (1) says that a future has
/// not finished. 10..=99 mirror the core library's error kinds; 100..=199 are misuses of the C
/// API; 200 is an internal error (a Rust panic caught at the boundary — please report it).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferroftp_status {
    /// Success.
    FERROFTP_STATUS_OK = 0,
    /// The future has not finished yet (a wait timed out, or a result was asked for too early).
    FERROFTP_STATUS_PENDING = 1,
    /// The TCP connection or the server's greeting could not be established.
    FERROFTP_STATUS_CONNECT = 10,
    /// The TLS handshake or a certificate check failed.
    FERROFTP_STATUS_TLS = 11,
    /// The server refused the credentials.
    FERROFTP_STATUS_AUTH = 12,
    /// The remote file or directory does not exist (or a local file, for download/upload).
    FERROFTP_STATUS_NOT_FOUND = 13,
    /// Another permanent refusal (5xx): repeating the command will not help.
    FERROFTP_STATUS_PERMANENT = 14,
    /// A transient refusal (4xx): the same command may succeed later.
    FERROFTP_STATUS_TRANSIENT = 15,
    /// A connect, reply or data timeout fired.
    FERROFTP_STATUS_TIMEOUT = 16,
    /// The operation was cancelled (`ferroftp_future_cancel`), or stopped by its write or read
    /// callback returning false (`ferroftp_session_download_cb`, `ferroftp_session_upload_cb`).
    FERROFTP_STATUS_CANCELLED = 17,
    /// The server said something that is not valid FTP, or not what the command expects.
    FERROFTP_STATUS_PROTOCOL = 18,
    /// A local or network I/O error.
    FERROFTP_STATUS_IO = 19,
    /// The session was closed (`ferroftp_session_close`).
    FERROFTP_STATUS_CLOSED = 20,
    /// A bad argument value: a malformed URL, an unknown option value, a bad path.
    FERROFTP_STATUS_INVALID_INPUT = 21,
    /// A transfer's data does not match the server's file: the server's checksum differs from
    /// the one of the bytes sent or received (`ferroftp_transfer_options.checksum`). A download
    /// is discarded: nothing is written to the target (an existing file keeps its content) and
    /// no part file stays. An atomic upload's temporary file is removed; a plain upload's file
    /// is left as stored. The session stays usable; repeating the transfer may help.
    FERROFTP_STATUS_INTEGRITY = 22,
    /// An error kind this version of the C API does not know (a newer core); see the message.
    FERROFTP_STATUS_OTHER = 99,
    /// A required pointer argument was NULL.
    FERROFTP_STATUS_NULL_ARGUMENT = 100,
    /// A string argument was not valid UTF-8.
    FERROFTP_STATUS_INVALID_UTF8 = 101,
    /// The future's result is of another type than the `ferroftp_future_take_*` function asked for.
    FERROFTP_STATUS_WRONG_RESULT_TYPE = 102,
    /// The future's result was already taken.
    FERROFTP_STATUS_ALREADY_TAKEN = 103,
    /// A blocking call was made from inside a library callback: completion, progress, write,
    /// read or log (it could deadlock); or `ferroftp_set_log_callback` from inside the log
    /// callback.
    FERROFTP_STATUS_IN_CALLBACK = 104,
    /// An index was not below the count of an entries or string list.
    FERROFTP_STATUS_OUT_OF_RANGE = 105,
    /// The future already has a completion callback.
    FERROFTP_STATUS_CALLBACK_ALREADY_SET = 106,
    /// A string from the server holds a NUL byte and cannot be passed as a C string.
    FERROFTP_STATUS_NUL_IN_STRING = 107,
    /// Internal error: a Rust panic was caught at the C boundary.
    FERROFTP_STATUS_PANIC = 200,
}

use ferroftp_status as S;

impl ferroftp_status {
    /// The status for an error of the core library. Each kind of `ErrorKind::ALL` has a status
    /// of its own (a test fails when the core gains one without it); the catch-all arm exists
    /// only because the core's enum is `#[non_exhaustive]`.
    pub(crate) fn from_kind(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Connect => S::FERROFTP_STATUS_CONNECT,
            ErrorKind::Tls => S::FERROFTP_STATUS_TLS,
            ErrorKind::Auth => S::FERROFTP_STATUS_AUTH,
            ErrorKind::NotFound => S::FERROFTP_STATUS_NOT_FOUND,
            ErrorKind::Permanent => S::FERROFTP_STATUS_PERMANENT,
            ErrorKind::Transient => S::FERROFTP_STATUS_TRANSIENT,
            ErrorKind::Timeout => S::FERROFTP_STATUS_TIMEOUT,
            ErrorKind::Cancelled => S::FERROFTP_STATUS_CANCELLED,
            ErrorKind::Protocol => S::FERROFTP_STATUS_PROTOCOL,
            ErrorKind::Io => S::FERROFTP_STATUS_IO,
            ErrorKind::Closed => S::FERROFTP_STATUS_CLOSED,
            ErrorKind::InvalidInput => S::FERROFTP_STATUS_INVALID_INPUT,
            ErrorKind::Integrity => S::FERROFTP_STATUS_INTEGRITY,
            _ => S::FERROFTP_STATUS_OTHER,
        }
    }

    /// The enumerator's name as a static C string.
    pub(crate) fn name(self) -> &'static CStr {
        match self {
            S::FERROFTP_STATUS_OK => c"FERROFTP_STATUS_OK",
            S::FERROFTP_STATUS_PENDING => c"FERROFTP_STATUS_PENDING",
            S::FERROFTP_STATUS_CONNECT => c"FERROFTP_STATUS_CONNECT",
            S::FERROFTP_STATUS_TLS => c"FERROFTP_STATUS_TLS",
            S::FERROFTP_STATUS_AUTH => c"FERROFTP_STATUS_AUTH",
            S::FERROFTP_STATUS_NOT_FOUND => c"FERROFTP_STATUS_NOT_FOUND",
            S::FERROFTP_STATUS_PERMANENT => c"FERROFTP_STATUS_PERMANENT",
            S::FERROFTP_STATUS_TRANSIENT => c"FERROFTP_STATUS_TRANSIENT",
            S::FERROFTP_STATUS_TIMEOUT => c"FERROFTP_STATUS_TIMEOUT",
            S::FERROFTP_STATUS_CANCELLED => c"FERROFTP_STATUS_CANCELLED",
            S::FERROFTP_STATUS_PROTOCOL => c"FERROFTP_STATUS_PROTOCOL",
            S::FERROFTP_STATUS_IO => c"FERROFTP_STATUS_IO",
            S::FERROFTP_STATUS_CLOSED => c"FERROFTP_STATUS_CLOSED",
            S::FERROFTP_STATUS_INVALID_INPUT => c"FERROFTP_STATUS_INVALID_INPUT",
            S::FERROFTP_STATUS_INTEGRITY => c"FERROFTP_STATUS_INTEGRITY",
            S::FERROFTP_STATUS_OTHER => c"FERROFTP_STATUS_OTHER",
            S::FERROFTP_STATUS_NULL_ARGUMENT => c"FERROFTP_STATUS_NULL_ARGUMENT",
            S::FERROFTP_STATUS_INVALID_UTF8 => c"FERROFTP_STATUS_INVALID_UTF8",
            S::FERROFTP_STATUS_WRONG_RESULT_TYPE => c"FERROFTP_STATUS_WRONG_RESULT_TYPE",
            S::FERROFTP_STATUS_ALREADY_TAKEN => c"FERROFTP_STATUS_ALREADY_TAKEN",
            S::FERROFTP_STATUS_IN_CALLBACK => c"FERROFTP_STATUS_IN_CALLBACK",
            S::FERROFTP_STATUS_OUT_OF_RANGE => c"FERROFTP_STATUS_OUT_OF_RANGE",
            S::FERROFTP_STATUS_CALLBACK_ALREADY_SET => c"FERROFTP_STATUS_CALLBACK_ALREADY_SET",
            S::FERROFTP_STATUS_NUL_IN_STRING => c"FERROFTP_STATUS_NUL_IN_STRING",
            S::FERROFTP_STATUS_PANIC => c"FERROFTP_STATUS_PANIC",
        }
    }

    /// Every status, for `ferroftp_status_name` lookups by number.
    pub(crate) const ALL: [Self; 25] = [
        S::FERROFTP_STATUS_OK,
        S::FERROFTP_STATUS_PENDING,
        S::FERROFTP_STATUS_CONNECT,
        S::FERROFTP_STATUS_TLS,
        S::FERROFTP_STATUS_AUTH,
        S::FERROFTP_STATUS_NOT_FOUND,
        S::FERROFTP_STATUS_PERMANENT,
        S::FERROFTP_STATUS_TRANSIENT,
        S::FERROFTP_STATUS_TIMEOUT,
        S::FERROFTP_STATUS_CANCELLED,
        S::FERROFTP_STATUS_PROTOCOL,
        S::FERROFTP_STATUS_IO,
        S::FERROFTP_STATUS_CLOSED,
        S::FERROFTP_STATUS_INVALID_INPUT,
        S::FERROFTP_STATUS_INTEGRITY,
        S::FERROFTP_STATUS_OTHER,
        S::FERROFTP_STATUS_NULL_ARGUMENT,
        S::FERROFTP_STATUS_INVALID_UTF8,
        S::FERROFTP_STATUS_WRONG_RESULT_TYPE,
        S::FERROFTP_STATUS_ALREADY_TAKEN,
        S::FERROFTP_STATUS_IN_CALLBACK,
        S::FERROFTP_STATUS_OUT_OF_RANGE,
        S::FERROFTP_STATUS_CALLBACK_ALREADY_SET,
        S::FERROFTP_STATUS_NUL_IN_STRING,
        S::FERROFTP_STATUS_PANIC,
    ];
}

/// An error as the C side sees it: status, optional FTP reply code, message, and whether the
/// failed operation may have taken effect on the server.
#[derive(Debug, Clone)]
pub(crate) struct CError {
    pub(crate) status: ferroftp_status,
    pub(crate) code: Option<u16>,
    pub(crate) message: String,
    /// The core's `Error::may_have_taken_effect` (false for errors of the C face itself).
    pub(crate) may_have_taken_effect: bool,
}

impl CError {
    /// An error of the C face itself (a misuse, a bad argument): no reply code, no effect.
    pub(crate) fn new(status: ferroftp_status, message: impl Into<String>) -> Self {
        Self {
            status,
            code: None,
            message: message.into(),
            may_have_taken_effect: false,
        }
    }

    /// Makes this the calling thread's last error and returns its status.
    pub(crate) fn raise(self) -> ferroftp_status {
        let status = self.status;
        LAST_ERROR.with(|slot| *slot.borrow_mut() = Some(self));
        status
    }
}

impl From<ferroftp::Error> for CError {
    fn from(e: ferroftp::Error) -> Self {
        Self {
            status: ferroftp_status::from_kind(e.kind()),
            code: e.code(),
            message: e.message().to_string(),
            may_have_taken_effect: e.may_have_taken_effect(),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CError>> = const { RefCell::new(None) };
}

/// Sets the calling thread's last error; returns `status`.
pub(crate) fn set_error(
    status: ferroftp_status,
    code: Option<u16>,
    message: impl Into<String>,
) -> ferroftp_status {
    CError {
        status,
        code,
        message: message.into(),
        may_have_taken_effect: false,
    }
    .raise()
}

/// Sets the last error from a core error; returns its status.
pub(crate) fn raise(e: ferroftp::Error) -> ferroftp_status {
    CError::from(e).raise()
}

/// Runs `f` with the calling thread's last error (`None` when no call on this thread has failed).
pub(crate) fn with_last<R>(f: impl FnOnce(Option<&CError>) -> R) -> R {
    LAST_ERROR.with(|slot| f(slot.borrow().as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_unique_number_and_name() {
        let mut numbers: Vec<u32> = ferroftp_status::ALL.iter().map(|s| *s as u32).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), ferroftp_status::ALL.len());
        let mut names: Vec<&CStr> = ferroftp_status::ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ferroftp_status::ALL.len());
        for s in ferroftp_status::ALL {
            let name = s.name().to_str().unwrap();
            assert_eq!(name, format!("{s:?}"));
        }
    }

    /// A new kind in the core fails here until it has a status of its own (a new number,
    /// appended: statuses are never renumbered), instead of reaching C as `OTHER`.
    #[test]
    fn every_core_error_kind_has_a_status_of_its_own() {
        let mut seen = Vec::new();
        for kind in ErrorKind::ALL {
            let status = ferroftp_status::from_kind(kind);
            assert_ne!(
                status,
                S::FERROFTP_STATUS_OTHER,
                "the core's error kind {kind:?} (\"{kind}\") has no ferroftp_status: append one \
                 (a new number in 10..=98) and map it in ferroftp_status::from_kind"
            );
            assert!(
                (10..=98).contains(&(status as u32)),
                "{kind:?} maps to {status:?}, outside the error kinds' range"
            );
            assert!(!seen.contains(&status), "two error kinds map to {status:?}");
            assert!(
                ferroftp_status::ALL.contains(&status),
                "{status:?} is not in ALL"
            );
            seen.push(status);
        }
    }

    #[test]
    fn a_core_error_keeps_its_code_message_and_effect() {
        let e = CError::from(ferroftp::Error::from_reply(
            553,
            "553 Could not create file.",
            "STOR /x",
            false,
        ));
        assert_eq!(e.status, S::FERROFTP_STATUS_PERMANENT);
        assert_eq!(e.code, Some(553));
        assert!(e.message.contains("553 Could not create file."));
        assert!(!e.may_have_taken_effect, "a refusal did nothing");
        assert!(!CError::new(S::FERROFTP_STATUS_IO, "x").may_have_taken_effect);
    }
}
