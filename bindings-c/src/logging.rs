//! `ferroftp_set_log_callback`: the core's `log` records (and suppaftp's, which log every
//! command line at trace level) handed to a C callback.
//!
//! The library installs its own `log` logger the first time a callback is set (the `log` crate
//! is linked into libferroftp, so no other code in a C program can have installed one) and
//! sets `log`'s level filter to the callback's level, so that records nobody wants cost next to
//! nothing. Records never hold a password or an account: the core hands suppaftp placeholders
//! for `PASS` and `ACCT` and puts the real values only into the bytes sent
//! (core/tests/password_logs.rs checks that).
//!
//! Calls into the callback hold a shared lock that `ferroftp_set_log_callback` takes
//! exclusively, so once it returns the previous callback is neither running nor called again;
//! a per-thread flag drops the records made while the callback runs on that thread (no
//! recursion) and makes `ferroftp_set_log_callback` refuse from inside it.

use std::cell::Cell;
use std::ffi::{CString, c_char, c_void};
use std::sync::RwLock;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::callback::flagged;
use crate::error::{ferroftp_status, set_error};
use crate::panic::ffi_panic_boundary;

use ferroftp_status as S;

/// How much the library logs (`ferroftp_set_log_callback`): each level includes the ones above
/// it. The numbers are stable.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferroftp_log_level {
    /// Nothing (turns the callback off).
    FERROFTP_LOG_OFF = 0,
    /// Errors the library could not recover from.
    FERROFTP_LOG_ERROR = 1,
    /// Something was not done as asked (a checksum that could not be checked, ...).
    FERROFTP_LOG_WARN = 2,
    /// Notable events (a pool lowering its limit after "421 too many connections", ...).
    FERROFTP_LOG_INFO = 3,
    /// What the library recovers from by itself: reconnects, retries, fallbacks (EPSV to PASV,
    /// REST refused).
    FERROFTP_LOG_DEBUG = 4,
    /// Everything, with every command line sent and every reply (passwords and accounts
    /// masked).
    FERROFTP_LOG_TRACE = 5,
}

impl ferroftp_log_level {
    const ALL: [Self; 6] = [
        Self::FERROFTP_LOG_OFF,
        Self::FERROFTP_LOG_ERROR,
        Self::FERROFTP_LOG_WARN,
        Self::FERROFTP_LOG_INFO,
        Self::FERROFTP_LOG_DEBUG,
        Self::FERROFTP_LOG_TRACE,
    ];

    fn from_number(n: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|l| *l as u32 == n)
    }

    fn filter(self) -> LevelFilter {
        match self {
            Self::FERROFTP_LOG_OFF => LevelFilter::Off,
            Self::FERROFTP_LOG_ERROR => LevelFilter::Error,
            Self::FERROFTP_LOG_WARN => LevelFilter::Warn,
            Self::FERROFTP_LOG_INFO => LevelFilter::Info,
            Self::FERROFTP_LOG_DEBUG => LevelFilter::Debug,
            Self::FERROFTP_LOG_TRACE => LevelFilter::Trace,
        }
    }

    fn of(level: Level) -> Self {
        match level {
            Level::Error => Self::FERROFTP_LOG_ERROR,
            Level::Warn => Self::FERROFTP_LOG_WARN,
            Level::Info => Self::FERROFTP_LOG_INFO,
            Level::Debug => Self::FERROFTP_LOG_DEBUG,
            Level::Trace => Self::FERROFTP_LOG_TRACE,
        }
    }
}

/// A log callback: `userdata` first, then the record's level, its target (the Rust module that
/// logged it, e.g. `ferroftp::op` or `suppaftp::async_ftp`) and its message, both UTF-8,
/// NUL-terminated and borrowed for the call only (copy them to keep them).
///
/// It is called on the thread that made the record: the library's runtime threads
/// (`ferroftp-rt`) for most records, other library threads, or a thread of yours inside a
/// ferroftp call; from several threads at once when several are logging (make it thread-safe).
/// It must be quick, must not block or wait for other threads (a thread of yours may be inside
/// a ferroftp call that waits for this record), and must not unwind (no C++ exception may leave
/// it). Re-entrancy: inside it, every ferroftp function that waits (the blocking session and
/// pool calls, `ferroftp_future_wait` with a timeout other than 0, reader and writer calls)
/// returns `FERROFTP_STATUS_IN_CALLBACK`, and so does `ferroftp_set_log_callback`. The
/// functions that neither wait nor free may be called: `_start` calls, `ferroftp_future_status`,
/// `ferroftp_future_wait` with timeout 0, `ferroftp_future_take_*`, the accessors of results,
/// `ferroftp_status_name`, `ferroftp_version`, `ferroftp_last_error_*` (a call that fails there
/// changes that thread's last error); the records they make on that thread are dropped (no
/// recursion). Call no `_free` function inside it: a record may be made while the library
/// holds a lock that freeing a session takes. Copy the record and act on it elsewhere.
#[allow(non_camel_case_types)]
pub type ferroftp_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: ferroftp_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// The callback set, with its userdata and level.
struct Sink {
    func: unsafe extern "C" fn(*mut c_void, ferroftp_log_level, *const c_char, *const c_char),
    userdata: *mut c_void,
    level: LevelFilter,
}

// SAFETY: the C caller promises (documented on `ferroftp_set_log_callback`) that the callback
// and its userdata may be used from any thread, also from several at once.
unsafe impl Send for Sink {}
// SAFETY: as above; the library never touches `userdata` itself.
unsafe impl Sync for Sink {}

/// The current callback: read-locked while it runs, write-locked to change it.
static SINK: RwLock<Option<Sink>> = RwLock::new(None);

thread_local! {
    /// Set while the log callback runs on this thread.
    static IN_LOG: Cell<bool> = const { Cell::new(false) };
}

/// The `log` logger of the library: hands each record to the C callback.
struct CLogger;

static LOGGER: CLogger = CLogger;

impl Log for CLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if IN_LOG.with(Cell::get) {
            return;
        }
        let sink = SINK.read().unwrap_or_else(|p| p.into_inner());
        let Some(sink) = sink.as_ref() else {
            return;
        };
        if record.level() > sink.level {
            return;
        }
        let target = c_text(record.target());
        let message = c_text(&record.args().to_string());
        IN_LOG.with(|c| c.set(true));
        // SAFETY: the function and userdata the C caller set; the strings outlive the call.
        flagged(|| unsafe {
            (sink.func)(
                sink.userdata,
                ferroftp_log_level::of(record.level()),
                target.as_ptr(),
                message.as_ptr(),
            );
        });
        IN_LOG.with(|c| c.set(false));
    }

    fn flush(&self) {}
}

/// A C string of a record's text (a NUL in it, which no record should hold, becomes U+FFFD).
fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{fffd}")).unwrap_or_default()
}

/// Sets the function that receives the library's log records at `level` and above (a
/// `ferroftp_log_level`), replacing the previous one; a NULL `callback` or
/// `FERROFTP_LOG_OFF` turns logging off (the default: the library is silent).
///
/// The records are the core's and suppaftp's, with the Rust module that made each one as its
/// target; at `FERROFTP_LOG_TRACE` every command line sent and every reply read, with
/// passwords and accounts never in any record. See `ferroftp_log_callback` for the threads it
/// runs on and what it may do. `userdata` is passed to it untouched and must stay valid until
/// the callback is replaced or turned off: once this function has returned, the previous
/// callback is not running and will not be called again, so its `userdata` may be released.
/// Process-wide (all sessions and pools); may be called from any thread at any time, except
/// from inside the log callback itself (`FERROFTP_STATUS_IN_CALLBACK`). Another `level` is
/// `FERROFTP_STATUS_INVALID_INPUT`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_set_log_callback(
    level: u32,
    callback: ferroftp_log_callback,
    userdata: *mut c_void,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let Some(level) = ferroftp_log_level::from_number(level) else {
            return set_error(
                S::FERROFTP_STATUS_INVALID_INPUT,
                None,
                format!("unknown log level {level} (a ferroftp_log_level value)"),
            );
        };
        if IN_LOG.with(Cell::get) {
            return set_error(
                S::FERROFTP_STATUS_IN_CALLBACK,
                None,
                "ferroftp_set_log_callback was called from inside the log callback",
            );
        }
        let sink = match (callback, level) {
            (Some(func), l) if l != ferroftp_log_level::FERROFTP_LOG_OFF => Some(Sink {
                func,
                userdata,
                level: l.filter(),
            }),
            _ => None,
        };
        let filter = sink.as_ref().map_or(LevelFilter::Off, |s| s.level);
        if sink.is_some() && log::set_logger(&LOGGER).is_err() && !installed() {
            return set_error(
                S::FERROFTP_STATUS_OTHER,
                None,
                "another Rust `log` logger is installed in this process; \
                 the library's records go there",
            );
        }
        // Lower the filter before taking the lock (fewer records wait for it), raise it after.
        if filter < log::max_level() {
            log::set_max_level(filter);
        }
        *SINK.write().unwrap_or_else(|p| p.into_inner()) = sink;
        log::set_max_level(filter);
        S::FERROFTP_STATUS_OK
    }
}

/// Whether the logger installed in this process is the library's own.
fn installed() -> bool {
    std::ptr::addr_eq(log::logger(), &LOGGER)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    static SEEN: Mutex<Vec<(ferroftp_log_level, String, String, bool)>> = Mutex::new(Vec::new());

    unsafe extern "C" fn record(
        userdata: *mut c_void,
        level: ferroftp_log_level,
        target: *const c_char,
        message: *const c_char,
    ) {
        // SAFETY: NUL-terminated strings borrowed for the call.
        let (target, message) = unsafe {
            (
                std::ffi::CStr::from_ptr(target)
                    .to_string_lossy()
                    .into_owned(),
                std::ffi::CStr::from_ptr(message)
                    .to_string_lossy()
                    .into_owned(),
            )
        };
        if target != "ferroftp_c_logging_test" {
            return; // records of other tests running at the same time
        }
        // Inside: no recursion, and no changing the callback.
        log::error!(target: "ferroftp_c_logging_test", "recursive");
        let inner = ferroftp_set_log_callback(0, None, std::ptr::null_mut());
        assert_eq!(userdata as usize, 7);
        SEEN.lock().unwrap().push((
            level,
            target,
            message,
            inner == S::FERROFTP_STATUS_IN_CALLBACK,
        ));
    }

    #[test]
    fn records_reach_the_callback_at_its_level_from_any_thread() {
        let userdata = 7usize as *mut c_void;
        assert_eq!(
            ferroftp_set_log_callback(9, Some(record), userdata),
            S::FERROFTP_STATUS_INVALID_INPUT
        );
        assert_eq!(
            ferroftp_set_log_callback(3, Some(record), userdata),
            S::FERROFTP_STATUS_OK
        );
        std::thread::spawn(|| {
            log::info!(target: "ferroftp_c_logging_test", "from a thread, nul \0 inside");
            log::debug!(target: "ferroftp_c_logging_test", "too verbose");
        })
        .join()
        .unwrap();
        assert_eq!(
            ferroftp_set_log_callback(0, Some(record), userdata),
            S::FERROFTP_STATUS_OK
        );
        log::error!(target: "ferroftp_c_logging_test", "after off");
        let seen = SEEN.lock().unwrap().clone();
        assert_eq!(
            seen,
            [(
                ferroftp_log_level::FERROFTP_LOG_INFO,
                "ferroftp_c_logging_test".to_string(),
                "from a thread, nul \u{fffd} inside".to_string(),
                true
            )]
        );
        assert!(installed());
        assert_eq!(log::max_level(), LevelFilter::Off);
    }
}
