//! Python bindings of ferroftp: the private extension module `ferroftp._native`.
//!
//! The public package is `bindings-python/python/ferroftp/`; its `__init__.py` re-exports what
//! is defined here. This crate holds no FTP logic: it converts arguments, results, errors and
//! threads around the core crate `ferroftp`.
//!
//! * `session`: `connect`, `connect_async`, `Session`, `AsyncSession` (each operation described
//!   once for both faces).
//! * `file`: `RemoteFile`, `AsyncRemoteFile` (what `open` returns).
//! * `entry`: `Entry`.
//! * `pool`: `Pool`, `AsyncPool`, `BatchResult`, `BatchProgress`.
//! * `names`: `path_to_bytes`, `path_from_bytes` (remote names as the server's raw bytes).
//! * `options`: the connection options through the core's settings table (`SETTINGS`), and
//!   the other argument types.
//! * `runtime`: the two faces (`Blocking`: the core's `BlockingCall`, GIL released, Ctrl-C
//!   aware; `Awaiting`: asyncio awaitables) on the one runtime, and the pumps' drivers.
//! * `transfer`: local paths, and the pumps of file objects and progress callbacks.
//! * `errors`: core errors → `ferroftp.exceptions`, panics → exceptions.
//! * `logs`: the core's log records → Python's `logging`; `reset_log_cache`.
#![deny(unsafe_code)]

use pyo3::prelude::*;
use pyo3::types::PyTuple;

mod entry;
mod errors;
mod file;
mod logs;
mod names;
mod options;
mod pool;
mod runtime;
mod session;
mod transfer;

/// Panics inside a spawned operation, for the tests of the panic boundary.
#[pyfunction]
fn _panic_in_operation(py: Python<'_>) -> PyResult<()> {
    runtime::wait(py, async {
        let fail = std::hint::black_box(true);
        if fail {
            panic!("a test panic in a blocking operation");
        }
        Ok(())
    })
}

/// The awaitable twin of `_panic_in_operation`.
#[pyfunction]
fn _panic_in_operation_async(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    runtime::spawn_async(py, async {
        let fail = std::hint::black_box(true);
        if fail {
            panic!("a test panic in an async operation");
        }
        Ok(())
    })
}

/// The extension module `ferroftp._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The core's tables, for the tests that check this face against them (and for users).
    m.add("SETTINGS", options::settings_table(m.py())?)?;
    m.add("ERROR_KINDS", errors::error_kinds(m.py())?)?;
    let data_modes = ferroftp::DataMode::ALL.map(|d| d.as_str());
    m.add("DATA_MODES", PyTuple::new(m.py(), data_modes)?)?;
    m.add(
        "CHECKSUMS",
        PyTuple::new(m.py(), options::checksum_names().collect::<Vec<_>>())?,
    )?;
    logs::install(m.py())?;
    m.add_function(wrap_pyfunction!(logs::reset_log_cache, m)?)?;
    m.add_function(wrap_pyfunction!(session::connect, m)?)?;
    m.add_function(wrap_pyfunction!(session::connect_async, m)?)?;
    m.add_class::<session::PySession>()?;
    m.add_class::<session::PyAsyncSession>()?;
    m.add_class::<entry::PyEntry>()?;
    m.add_function(wrap_pyfunction!(names::path_to_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(names::path_from_bytes, m)?)?;
    m.add_class::<file::PyRemoteFile>()?;
    m.add_class::<file::PyAsyncRemoteFile>()?;
    m.add_class::<pool::PyPool>()?;
    m.add_class::<pool::PyAsyncPool>()?;
    m.add_class::<pool::PyBatchResult>()?;
    m.add_class::<pool::PyBatchProgress>()?;
    m.add_class::<pool::PyLease>()?;
    m.add_class::<pool::PyAsyncLease>()?;
    m.add_function(wrap_pyfunction!(_panic_in_operation, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_in_operation_async, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_error, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_refusal, m)?)?;
    // Before the interpreter finalizes, the runtime's threads leave Python for good.
    let before_exit = wrap_pyfunction!(runtime::_before_exit, m)?;
    m.add_function(before_exit.clone())?;
    m.py()
        .import("atexit")?
        .call_method1("register", (before_exit,))?;
    Ok(())
}
