//! Cancel handles: a long operation started in the background ([`TransferTask`] for a
//! download or upload, [`BatchTask`] for a pool's batch), to be cancelled, polled or joined
//! (blocking or async) from any thread.
//!
//! uniffi has no cancellation of its own for the foreign side (a cancelled Kotlin coroutine
//! does drop the Rust future it awaits, which aborts the operation, but that is Kotlin's way,
//! not every language's), so these handles make cancellation explicit, as matrix-rust-sdk's
//! `TaskHandle` does. Cancelling aborts the core's task at its next await point; the core
//! leaves the session usable (the next operation resynchronizes or reconnects).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::error::{FtpError, Result};
use crate::pool::BatchResult;
use crate::runner::cancelled;

/// An operation running on the core's runtime, with its result kept for every waiter.
pub(crate) struct Task<T> {
    abort: AbortHandle,
    result: watch::Receiver<Option<Result<T>>>,
}

impl<T: Clone + Send + Sync + 'static> Task<T> {
    /// Starts `fut` on the core's runtime; `finish` turns its outcome into the task's result.
    pub(crate) fn start<R: Send + 'static>(
        fut: impl Future<Output = R> + Send + 'static,
        finish: impl FnOnce(R) -> Result<T> + Send + 'static,
    ) -> Result<Self> {
        let runtime = ferroftp::runtime::handle()?;
        let (tx, result) = watch::channel(None);
        let work = runtime.spawn(fut);
        let abort = work.abort_handle();
        runtime.spawn(async move {
            let outcome = match work.await {
                Ok(r) => finish(r),
                Err(e) if e.is_panic() => Err(FtpError::panicked(&*e.into_panic())),
                Err(_) => Err(cancelled()),
            };
            let _ = tx.send(Some(outcome));
        });
        Ok(Self { abort, result })
    }

    fn cancel(&self) {
        self.abort.abort();
    }

    fn is_finished(&self) -> bool {
        self.result.borrow().is_some()
    }

    async fn wait_async(&self) -> Result<T> {
        outcome(self.result.clone()).await
    }

    fn wait(&self) -> Result<T> {
        let rx = self.result.clone();
        ferroftp::runtime::block_on(async { Ok(outcome(rx).await) })?
    }
}

/// The result a task's receiver will hold (a task dropped without one was cancelled).
async fn outcome<T: Clone>(mut rx: watch::Receiver<Option<Result<T>>>) -> Result<T> {
    let done = match rx.wait_for(Option::is_some).await {
        Ok(done) => done.clone(),
        Err(_) => None,
    };
    done.unwrap_or_else(|| Err(cancelled()))
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

/// Declares a uniffi object around a [`Task`] with the handle's methods.
macro_rules! task_object {
    ($(#[$doc:meta])* $name:ident => $t:ty) => {
        $(#[$doc])*
        #[derive(uniffi::Object)]
        pub struct $name(pub(crate) Task<$t>);

        #[uniffi::export]
        impl $name {
            /// Cancels the operation (it stops at its next await point; the session stays
            /// usable). Waiters then get a `Cancelled` error, unless it had finished already.
            pub fn cancel(&self) {
                self.0.cancel();
            }

            /// Whether the operation has finished (its result is ready).
            pub fn is_finished(&self) -> bool {
                self.0.is_finished()
            }

            /// Blocks until the operation is done and returns its result (any number of
            /// threads may wait; each gets the result). Named `join`: `wait` is taken on the
            /// JVM.
            pub fn join(&self) -> Result<$t> {
                self.0.wait()
            }

            /// As `join`, without blocking (a suspend function in Kotlin, async in Swift).
            pub async fn join_async(&self) -> Result<$t> {
                self.0.wait_async().await
            }
        }
    };
}

task_object! {
    /// A download or upload running in the background (`Session.start_download`,
    /// `Session.start_upload`); its result is the byte count. Dropping (closing, destroying)
    /// the handle cancels the operation, as `cancel()` does.
    TransferTask => u64
}

task_object! {
    /// A pool's batch running in the background (`Pool.start_download_many`, ...). Dropping
    /// (closing, destroying) the handle cancels the batch, as `cancel()` does.
    BatchTask => BatchResult
}

impl TransferTask {
    pub(crate) fn start(
        fut: impl Future<Output = ferroftp::Result<u64>> + Send + 'static,
    ) -> Result<Arc<Self>> {
        Ok(Arc::new(Self(Task::start(fut, |r| Ok(r?))?)))
    }
}

impl BatchTask {
    pub(crate) fn start<R: Send + 'static>(
        fut: impl Future<Output = R> + Send + 'static,
        finish: impl FnOnce(R) -> Result<BatchResult> + Send + 'static,
    ) -> Result<Arc<Self>> {
        Ok(Arc::new(Self(Task::start(fut, finish)?)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn cancel_reaches_every_waiter_and_finish_keeps_the_result() {
        let task = TransferTask::start(async {
            tokio::time::sleep(Duration::from_secs(600)).await;
            Ok(1)
        })
        .unwrap();
        assert!(!task.is_finished());
        task.cancel();
        let e = task.join().unwrap_err();
        assert_eq!(e.kind(), "cancelled");
        assert!(task.is_finished());
        assert_eq!(task.join().unwrap_err().kind(), "cancelled");

        let task = TransferTask::start(async { Ok(42) }).unwrap();
        assert_eq!(task.join(), Ok(42));
        assert_eq!(task.join(), Ok(42));
        task.cancel(); // after the end: nothing to cancel
        assert_eq!(task.join(), Ok(42));

        let task = TransferTask::start(async {
            Err(ferroftp::Error::from_reply(
                550,
                "550 No such file",
                "RETR /x",
                true,
            ))
        })
        .unwrap();
        let e = task.join().unwrap_err();
        assert_eq!((e.kind(), e.code()), ("not-found", Some(550)));
    }
}
