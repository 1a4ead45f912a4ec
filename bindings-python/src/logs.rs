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

use log::LevelFilter;
use pyo3::prelude::*;
use pyo3_log::{Caching, Logger, ResetHandle};

/// The handle of the installed logger; unset when another extension installed its own first.
static RESET: OnceLock<ResetHandle> = OnceLock::new();

/// Installs the bridge as the process's `log` logger, unless one is installed already.
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    // Trace too: suppaftp logs every command line at trace level (Python level 5).
    let logger = Logger::new(py, Caching::LoggersAndLevels)?.filter(LevelFilter::Trace);
    if let Ok(handle) = logger.install() {
        let _ = RESET.set(handle);
    }
    Ok(())
}

/// Re-reads the levels of the `ferroftp` and `suppaftp` loggers: call it after changing them
/// (levels are cached after a logger's first record).
#[pyfunction]
pub(crate) fn reset_log_cache() {
    if let Some(handle) = RESET.get() {
        handle.reset();
    }
}
