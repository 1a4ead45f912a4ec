//! The one process-wide tokio runtime behind the blocking API and the bindings.
//!
//! Created lazily on first use and created anew in a child process after `fork()` (the
//! parent's worker threads do not exist there).

use std::future::Future;
use std::sync::Mutex;

use tokio::runtime::{Handle, Runtime};

use crate::error::{Error, ErrorKind, Result};

struct Owned {
    pid: u32,
    runtime: Runtime,
}

static RUNTIME: Mutex<Option<Owned>> = Mutex::new(None);

/// A handle to the shared runtime (2 worker threads named `ferroftp-rt`).
///
/// # Errors
/// [`ErrorKind::Io`] if the runtime's threads cannot be started.
pub fn handle() -> Result<Handle> {
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    if let Some(owned) = slot.as_ref().filter(|o| o.pid == pid) {
        return Ok(owned.runtime.handle().clone());
    }
    if let Some(stale) = slot.take() {
        // Inherited through fork(): its threads are gone, and dropping it would wait for them.
        std::mem::forget(stale);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ferroftp-rt")
        .enable_all()
        .build()
        .map_err(|e| Error::from_io(e, "starting the ferroftp runtime"))?;
    let handle = runtime.handle().clone();
    *slot = Some(Owned { pid, runtime });
    Ok(handle)
}

fn not_in_runtime() -> Result<()> {
    if Handle::try_current().is_ok() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "a blocking ferroftp call was made from inside an async runtime; \
             use the async API (ferroftp::Session) or spawn_blocking",
        ));
    }
    Ok(())
}

/// Runs `fut` to completion on the calling thread, with the shared runtime's I/O and timers.
///
/// For futures that borrow from the caller; [`run`] is faster for the others (the future is
/// polled on a worker thread, next to the I/O driver, instead of being woken across threads
/// for every readiness event).
///
/// # Errors
/// [`ErrorKind::InvalidInput`] when called from inside an async runtime (a blocking call there
/// would stall it; use the async API instead), or the future's own error.
pub fn block_on<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    not_in_runtime()?;
    handle()?.block_on(fut)
}

/// Runs `fut` as a task on the shared runtime and blocks the calling thread until it is done.
///
/// # Errors
/// As [`block_on`]; a panic in `fut` is resumed on the calling thread.
pub fn run<T: Send + 'static>(fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    not_in_runtime()?;
    let handle = handle()?;
    let task = handle.spawn(fut);
    match handle.block_on(task) {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(Error::new(ErrorKind::Cancelled, "the runtime shut down")),
    }
}
