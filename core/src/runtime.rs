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

/// Runs `fut` to completion on the shared runtime, blocking the calling thread.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] when called from inside an async runtime (a blocking call there
/// would stall it; use the async API instead), or the future's own error.
pub fn block_on<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    if Handle::try_current().is_ok() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "a blocking ferroftp call was made from inside an async runtime; \
             use the async API (ferroftp::Session) or spawn_blocking",
        ));
    }
    handle()?.block_on(fut)
}
