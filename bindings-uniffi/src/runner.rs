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
    // Hands over the latest value: after `changed()` (which marked it seen), or else if it was
    // not seen yet. The channel's lock is not held while the callback runs.
    let hand_over = |events: &mut watch::Receiver<Option<P>>, changed: bool| {
        let latest = {
            let seen = events.borrow_and_update();
            if changed || seen.has_changed() {
                seen.clone()
            } else {
                None
            }
        };
        if let Some(p) = latest {
            deliver(p);
        }
    };
    loop {
        match call.wait_or(events.changed(), Duration::from_secs(3600)) {
            Waited::Done(result) => {
                hand_over(&mut events, false);
                return Ok(result?);
            }
            Waited::Event(Ok(())) => hand_over(&mut events, true),
            // The operation dropped its sender: it is about to finish.
            Waited::Event(Err(_)) => {
                let result = call.wait();
                hand_over(&mut events, false);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn progress_reaches_the_calling_thread_once_each_and_last() {
        let (tx, rx) = watch::channel(None);
        let fut = async move {
            for i in 1..=50u64 {
                tx.send_replace(Some(i));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Ok(7u8)
        };
        let caller = std::thread::current().id();
        let seen = std::sync::Mutex::new(Vec::new());
        let result = block_reporting(fut, rx, |p| {
            assert_eq!(std::thread::current().id(), caller);
            seen.lock().unwrap().push(p);
        });
        assert_eq!(result, Ok(7));
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.last(), Some(&50));
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    }

    #[test]
    fn dropping_an_async_call_aborts_its_task() {
        let dropped = Arc::new(AtomicBool::new(false));
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Flag(dropped.clone());
        let call = spawned(async move {
            let _flag = flag;
            tokio::time::sleep(Duration::from_secs(600)).await;
            Ok(())
        });
        // Poll it once (so that the task is spawned), then drop it.
        let outcome = ferroftp::runtime::block_on(async {
            Ok(tokio::time::timeout(Duration::from_millis(50), call).await)
        });
        assert!(outcome.unwrap().is_err());
        for _ in 0..200 {
            if dropped.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the task was not aborted");
    }
}
