//! The core's `log` records → Python's `logging` (through `pyo3-log`).
//!
//! Records keep their Rust target as the logger name (`ferroftp.session`, `ferroftp.pool`,
//! `suppaftp.async_ftp...`), so `logging.getLogger("ferroftp")` configures them all. Which
//! levels a logger lets through is read once per logger and cached, so that a record nobody
//! listens to costs no GIL; [`reset_log_cache`] re-reads them after a change. Passwords never
//! reach a record: the core hands suppaftp a placeholder for PASS.
//!
//! Records are emitted on the runtime's threads, with the GIL taken for each one that a logger
//! lets through; every blocking call waits with the GIL released, so they never wait for each
//! other. As with any thread that logs, a `fork()` while such records are being written may
//! leave the child's copy of a handler's stream locked (CPython does not reset those locks).

use std::sync::OnceLock;

use log::{Level, LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;
use pyo3_log::{Caching, Logger, ResetHandle};

/// The handle of the installed logger; unset when another extension installed its own first.
static RESET: OnceLock<ResetHandle> = OnceLock::new();

/// Installs the bridge as the process's `log` logger, unless one is installed already.
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    // Trace too: suppaftp logs every command line at trace level (Python level 5).
    let logger = Logger::new(py, Caching::LoggersAndLevels)?.filter(LevelFilter::Trace);
    let handle = logger.reset_handle();
    if log::set_boxed_logger(Box::new(Quiet(logger))).is_ok() {
        log::set_max_level(LevelFilter::Trace);
        let _ = RESET.set(handle);
    }
    Ok(())
}

/// The bridge, with suppaftp's warnings lowered to debug: they report what the core recovers
/// from by itself (a transfer stream dropped without `finish()` whose reply the next command
/// reads, a data connection from an unexpected address ignored), and what it does not recover
/// from reaches the caller as an exception. A library logs those at debug, so that nothing
/// reaches the stderr of a script that configured no logging.
struct Quiet(Logger);

/// The level a record is logged at.
fn level_of(target: &str, level: Level) -> Level {
    if level == Level::Warn && (target == "suppaftp" || target.starts_with("suppaftp::")) {
        Level::Debug
    } else {
        level
    }
}

impl Log for Quiet {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let level = level_of(metadata.target(), metadata.level());
        // Takes the GIL the first time a logger is asked: not once the interpreter exits.
        crate::runtime::guarded(|| {
            self.0.enabled(
                &Metadata::builder()
                    .level(level)
                    .target(metadata.target())
                    .build(),
            )
        })
        .unwrap_or(false)
    }

    fn log(&self, record: &Record<'_>) {
        // A record is written with the GIL, from any thread: none once the interpreter exits
        // (see `runtime::attach`).
        crate::runtime::guarded(|| self.log_now(record));
    }

    fn flush(&self) {
        self.0.flush();
    }
}

impl Quiet {
    fn log_now(&self, record: &Record<'_>) {
        let level = level_of(record.target(), record.level());
        if level == record.level() {
            self.0.log(record);
        } else {
            self.0.log(
                &Record::builder()
                    .args(*record.args())
                    .level(level)
                    .target(record.target())
                    .module_path(record.module_path())
                    .file(record.file())
                    .line(record.line())
                    .build(),
            );
        }
    }
}

/// Re-reads the levels of the `ferroftp` and `suppaftp` loggers: call it after changing them
/// (levels are cached after a logger's first record).
#[pyfunction]
pub(crate) fn reset_log_cache() {
    if let Some(handle) = RESET.get() {
        handle.reset();
    }
}
