//! How an exported call runs a core operation: always as a task on the core's one runtime
//! ([`ferroftp::runtime`]), waited for in one of three ways.
//!
//! - [`block`]: the blocking methods, through the core's one blocking runner
//!   ([`ferroftp::runtime::BlockingCall`]); with [`block_reporting`], the progress of the
//!   operation is handed to the caller's callback on the calling thread while it waits (so
//!   the callback never runs on a runtime thread: no JVM thread attach per call, and Ruby's
//!   lock is never needed by a thread it does not know).
//! - [`spawned`]: the async methods. The foreign event loop awaits a task of the core's runtime
//!   (no second runtime); when the foreign side drops the future (a cancelled coroutine), the
//!   task is aborted, which the core makes safe.
//! - [`crate::task`]: a task behind a handle with `cancel()`.

use std::future::Future;
use std::time::Duration;

use ferroftp::runtime::{BlockingCall, Waited};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{FtpError, Result};

/// Runs `fut` on the core's runtime and blocks until it is done.
pub(crate) fn block<T: Send + 'static>(
    fut: impl Future<Output = ferroftp::Result<T>> + Send + 'static,
) -> Result<T> {
    Ok(ferroftp::runtime::run(fut)?)
}

/// As [`block`], handing each new value of `events` to `deliver` on the calling thread while
/// the operation runs (the latest one only, when several came between two looks), and the last
/// one before returning.
pub(crate) fn block_reporting<T: Send + 'static, P: Clone>(
    fut: impl Future<Output = ferroftp::Result<T>> + Send + 'static,
    mut events: watch::Receiver<Option<P>>,
    deliver: impl Fn(P),
) -> Result<T> {
    let mut call = BlockingCall::start(fut)?;
    let hand_over = |events: &mut watch::Receiver<Option<P>>| {
        if let Some(p) = events.borrow_and_update().clone() {
            deliver(p);
        }
    };
    loop {
        match call.wait_or(events.changed(), Duration::from_secs(3600)) {
            Waited::Done(result) => {
                if events.has_changed().unwrap_or(true) {
                    hand_over(&mut events);
                }
                return Ok(result?);
            }
            Waited::Event(Ok(())) => hand_over(&mut events),
            // The operation dropped its sender: it is about to finish.
            Waited::Event(Err(_)) => {
                let result = call.wait();
                hand_over(&mut events);
                return Ok(result?);
            }
            Waited::Elapsed => {}
        }
    }
}

/// A task of the core's runtime that is aborted when this is dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `fut` as a task on the core's runtime and waits for it without blocking: the future
/// the async methods return to the foreign event loop. Dropping it aborts the task.
pub(crate) async fn spawned<T: Send + 'static>(
    fut: impl Future<Output = ferroftp::Result<T>> + Send + 'static,
) -> Result<T> {
    let mut task = AbortOnDrop(ferroftp::runtime::handle()?.spawn(fut));
    match (&mut task.0).await {
        Ok(result) => Ok(result?),
        Err(e) if e.is_panic() => Err(FtpError::panicked(&*e.into_panic())),
        Err(_) => Err(cancelled()),
    }
}

/// The error of an operation that was cancelled.
pub(crate) fn cancelled() -> FtpError {
    FtpError::new(
        ferroftp::ErrorKind::Cancelled,
        "the operation was cancelled",
    )
}
