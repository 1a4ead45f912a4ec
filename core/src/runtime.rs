//! The one process-wide tokio runtime behind the blocking API and the bindings.
//!
//! Created lazily on first use and created anew in a child process after `fork()` (the
//! parent's worker threads do not exist there).

use std::future::Future;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};

use crate::error::{Error, ErrorKind, Result};

struct Owned {
    pid: u32,
    runtime: Runtime,
}

/// The runtime of the process that created it; never freed (a runtime inherited through
/// `fork()` is left alone: its threads do not exist in the child).
static CURRENT: AtomicPtr<Owned> = AtomicPtr::new(std::ptr::null_mut());

/// The pid of the process in which a thread is creating a runtime now, else 0. A value left by
/// the parent of a forked child names another process and is taken over; no lock is ever held
/// across `fork()`, so a child can never wait for a thread it does not have.
static CREATING: AtomicU32 = AtomicU32::new(0);

/// The current runtime, if it belongs to this process.
#[allow(unsafe_code)]
fn current(pid: u32) -> Option<Handle> {
    let ptr = CURRENT.load(Ordering::Acquire);
    // SAFETY: a non-null `CURRENT` comes from `Box::into_raw` in `handle` and is never freed,
    // so it points to a live `Owned` for the rest of the process.
    let owned = unsafe { ptr.as_ref() }?;
    (owned.pid == pid).then(|| owned.runtime.handle().clone())
}

/// A handle to the shared runtime (2 worker threads named `ferroftp-rt`).
///
/// Lock-free once the runtime exists; safe to call in a forked child (which gets a runtime of
/// its own).
///
/// # Errors
/// [`ErrorKind::Io`] if the runtime's threads cannot be started.
pub fn handle() -> Result<Handle> {
    let pid = std::process::id();
    loop {
        if let Some(h) = current(pid) {
            return Ok(h);
        }
        let creator = CREATING.load(Ordering::Acquire);
        if creator == pid {
            std::thread::yield_now(); // another thread of this process is creating it
            continue;
        }
        if CREATING
            .compare_exchange(creator, pid, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue;
        }
        if let Some(h) = current(pid) {
            CREATING.store(0, Ordering::Release);
            return Ok(h);
        }
        let built = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ferroftp-rt")
            .enable_all()
            .build();
        let runtime = match built {
            Ok(r) => r,
            Err(e) => {
                CREATING.store(0, Ordering::Release);
                return Err(Error::from_io(e, "starting the ferroftp runtime"));
            }
        };
        let handle = runtime.handle().clone();
        // Any previous runtime was inherited through fork(): it is left as it is (dropping it
        // would wait for threads that are gone).
        CURRENT.store(
            Box::into_raw(Box::new(Owned { pid, runtime })),
            Ordering::Release,
        );
        CREATING.store(0, Ordering::Release);
        return Ok(handle);
    }
}

/// The one check of every blocking call: never from a thread that drives an async runtime.
fn not_in_runtime() -> Result<()> {
    if Handle::try_current().is_ok() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "a blocking ferroftp call was made from inside an async runtime; \
             use the async API there (or move the call to a thread of its own)",
        ));
    }
    Ok(())
}

/// An operation running on the shared runtime for a caller that blocks until it is done:
/// the one runner of every blocking face (this crate's [`crate::blocking`], the C and Python
/// bindings). Dropping it cancels the operation (the core is cancel-safe).
///
/// ```no_run
/// # fn demo(s: ferroftp::Session) -> ferroftp::Result<()> {
/// let call = ferroftp::runtime::BlockingCall::start(async move { s.pwd().await })?;
/// let dir = call.wait()?;
/// # Ok(()) }
/// ```
#[must_use = "dropping a BlockingCall cancels its operation"]
#[derive(Debug)]
pub struct BlockingCall<T> {
    handle: Handle,
    task: tokio::task::JoinHandle<Result<T>>,
    /// The result, once [`BlockingCall::wait_or`] has seen the task finish (its handle must
    /// not be polled again).
    done: Option<Result<T>>,
}

/// What [`BlockingCall::wait_or`] saw first.
#[derive(Debug)]
pub enum Waited<T, E> {
    /// The operation finished.
    Done(Result<T>),
    /// The other event came first (the operation goes on).
    Event(E),
    /// Neither within the time limit (the operation goes on).
    Elapsed,
}

impl<T: Send + 'static> BlockingCall<T> {
    /// Spawns `fut` on the shared runtime, for a caller that is going to block on it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when called from inside an async runtime (blocking there
    /// would stall it), [`ErrorKind::Io`] if the runtime cannot start.
    pub fn start(fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<Self> {
        not_in_runtime()?;
        let handle = handle()?;
        let task = handle.spawn(fut);
        Ok(Self {
            handle,
            task,
            done: None,
        })
    }

    /// Blocks until the operation is done and returns its result.
    ///
    /// # Errors
    /// The operation's error; [`ErrorKind::Cancelled`] if the runtime dropped it. A panic in
    /// the operation is resumed on the calling thread.
    pub fn wait(mut self) -> Result<T> {
        if let Some(done) = self.done.take() {
            return done;
        }
        let result = self.handle.block_on(&mut self.task);
        joined(result)
    }

    /// Blocks until the operation is done, `event` happens, or `limit` passes, whichever
    /// comes first (for callers with work of their own between waits: Python checks for
    /// signals, runs progress callbacks and moves file-object data).
    ///
    /// Once it has returned [`Waited::Done`], later calls return the result again only through
    /// [`BlockingCall::wait`]; they report [`Waited::Elapsed`] at once or the event.
    pub fn wait_or<E>(&mut self, event: impl Future<Output = E>, limit: Duration) -> Waited<T, E> {
        if self.done.is_some() {
            return self.handle.block_on(async {
                tokio::select! {
                    biased;
                    event = event => Waited::Event(event),
                    () = std::future::ready(()) => Waited::Elapsed,
                }
            });
        }
        let task = &mut self.task;
        let waited = self.handle.block_on(async {
            tokio::select! {
                biased;
                event = event => Waited::Event(event),
                r = task => Waited::Done(joined(r)),
                () = tokio::time::sleep(limit) => Waited::Elapsed,
            }
        });
        if let Waited::Done(_) = &waited {
            // The handle is spent: a later wait_or must not poll it again.
            self.done = Some(Err(Error::new(
                ErrorKind::Cancelled,
                "the operation's result was already taken",
            )));
        }
        waited
    }

    /// Waits (at most `limit`) for the operation and keeps its result for
    /// [`BlockingCall::wait`]; returns whether it is done. For callers that still have work
    /// of their own after it finished.
    pub fn wait_done(&mut self, limit: Duration) -> bool {
        if self.done.is_some() {
            return true;
        }
        let task = &mut self.task;
        let r = self
            .handle
            .block_on(async { tokio::time::timeout(limit, task).await });
        match r {
            Ok(r) => {
                self.done = Some(joined(r));
                true
            }
            Err(_) => false,
        }
    }

    /// Whether the operation has finished (its result is ready for [`BlockingCall::wait`]).
    pub fn is_finished(&self) -> bool {
        self.done.is_some() || self.task.is_finished()
    }

    /// Cancels the operation and waits (at most `limit`) until it has been dropped, so that
    /// its cleanup (a removed part file, a released lock) is done when this returns.
    pub fn cancel(mut self, limit: Duration) {
        self.task.abort();
        let task = &mut self.task;
        self.handle.block_on(async {
            let _ = tokio::time::timeout(limit, task).await;
        });
    }
}

impl<T> Drop for BlockingCall<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn joined<T>(r: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
    match r {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(Error::new(
            ErrorKind::Cancelled,
            "the operation was cancelled",
        )),
    }
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

/// Runs `fut` as a task on the shared runtime and blocks the calling thread until it is done
/// ([`BlockingCall::start`] then [`BlockingCall::wait`]).
///
/// # Errors
/// As [`BlockingCall::start`] and [`BlockingCall::wait`]; a panic in `fut` is resumed on the
/// calling thread.
pub fn run<T: Send + 'static>(fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    BlockingCall::start(fut)?.wait()
}
