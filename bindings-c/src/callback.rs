//! Calls into C callbacks on library threads: the per-thread "inside a callback" flag that makes
//! a blocking ferroftp call made there refuse (`FERROFTP_STATUS_IN_CALLBACK`: waiting inside a
//! callback could deadlock), and the [`Gate`] that stops a freed future's progress callbacks.
//!
//! Completion callbacks ([`crate::future`]), progress callbacks ([`crate::transfer`],
//! [`crate::pool`]), write and read callbacks ([`crate::stream`]) and the log callback
//! ([`crate::logging`]) all run through [`flagged`]. This check is the C face's own; the misuse the
//! core's runner refuses (a blocking call from inside an async runtime) is another one.

use std::cell::Cell;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{CError, ferroftp_status};

thread_local! {
    /// Set while a completion, progress, write, read or log callback runs on this thread.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is running a completion, progress, write, read or log callback.
pub(crate) fn in_callback() -> bool {
    IN_CALLBACK.with(Cell::get)
}

/// Runs `f` (a call into a C callback) flagged, so that a blocking ferroftp call made inside it
/// returns `FERROFTP_STATUS_IN_CALLBACK`.
pub(crate) fn flagged<R>(f: impl FnOnce() -> R) -> R {
    let before = IN_CALLBACK.with(|c| c.replace(true));
    let r = f();
    IN_CALLBACK.with(|c| c.set(before));
    r
}

/// The error a blocking call made from inside a callback gets.
pub(crate) fn in_callback_error() -> CError {
    CError::new(
        ferroftp_status::FERROFTP_STATUS_IN_CALLBACK,
        "a blocking ferroftp call was made from inside a ferroftp callback (completion, progress, \
         write, read or log), where it could deadlock; start a future (`_start`) instead, or call \
         from another thread",
    )
}

/// Stops a future's progress callbacks once it is freed, so that the caller may release their
/// `userdata` right after `ferroftp_future_free` returns, even though the cancelled operation
/// ends a little later on a library thread. (A blocking call's gate is never closed.)
#[derive(Default)]
pub(crate) struct Gate {
    closed: AtomicBool,
    /// Held (shared) by every running progress call; `close` takes it exclusively to wait for them.
    running: RwLock<()>,
}

impl Gate {
    /// Runs `f` (a progress call) unless the gate is closed, keeping it from closing meanwhile.
    pub(crate) fn run(&self, f: impl FnOnce()) {
        let _running = self.running.read().unwrap_or_else(|p| p.into_inner());
        if !self.closed.load(Ordering::Acquire) {
            f();
        }
    }

    /// Closes the gate: no progress call starts after this returns, and the ones running have
    /// returned, except when called from inside a callback (where waiting could be waiting for
    /// itself): then a call already running on another thread may still be running.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if !in_callback() {
            drop(self.running.write().unwrap_or_else(|p| p.into_inner()));
        }
    }
}
