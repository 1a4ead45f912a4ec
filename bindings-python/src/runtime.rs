//! Threads: every operation runs on the one ferroftp runtime (`ferroftp::runtime::handle()`).
//!
//! * Blocking calls ([`wait`], [`wait_with`]) spawn the operation on the runtime and wait for it
//!   with the GIL released, in slices of [`SLICE`], checking for signals between slices. On a
//!   signal (Ctrl-C) the task is aborted — the core is cancel-safe: the next operation on the
//!   session reconnects — and the signal's exception is raised. A [`Pump`] lets the waiting
//!   thread do Python work for the operation (progress callbacks, file object I/O) with the GIL.
//! * Awaitables ([`spawn_async`]) go through pyo3-async-runtimes with [`FerroRuntime`], a runtime
//!   marker that spawns on the same handle; cancelling the asyncio future drops the Rust future.
//!
//! A panic in an operation becomes a `PanicException` on both paths ([`CatchPanic`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{self, ContextExt, Runtime};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::errors::{CatchPanic, err, ftp_err, panic_err, runtime_err};

/// How long a blocking call waits with the GIL released before it checks for signals.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// How long an interrupted blocking call waits for its cancelled operation to be dropped.
const ABORT_WAIT: Duration = Duration::from_secs(5);

/// The shared runtime, started if need be.
pub(crate) fn handle() -> PyResult<Handle> {
    ferroftp::runtime::handle().map_err(ftp_err)
}

/// The shared runtime, for a call that is going to block the calling thread.
fn blocking_handle() -> PyResult<Handle> {
    if Handle::try_current().is_ok() {
        return Err(runtime_err(
            "a blocking ferroftp call was made on a thread of an async runtime; \
             use ferroftp.AsyncSession there",
        ));
    }
    handle()
}

/// A spawned operation, aborted when dropped (so that an early return — a signal, an exception
/// of a callback — cancels it).
struct Task<T>(JoinHandle<T>);

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn joined<T>(r: Result<PyResult<T>, tokio::task::JoinError>) -> PyResult<T> {
    match r {
        Ok(r) => r,
        Err(e) if e.is_panic() => Err(panic_err(e.into_panic().as_ref())),
        Err(_) => Err(err(
            ferroftp::ErrorKind::Cancelled,
            "the operation was cancelled",
        )),
    }
}

/// Python-side work that a blocking call does for its operation while waiting for it.
pub(crate) trait Pump: Send {
    /// An event the waiting thread hands to [`Pump::handle`].
    type Event: Send;

    /// Work to do with the GIL before the next wait (e.g. read the next chunk of a file object).
    fn prepare(&mut self, _py: Python<'_>) -> PyResult<()> {
        Ok(())
    }

    /// Whether [`Pump::next`] may produce an event now.
    fn active(&self) -> bool;

    /// Waits (without the GIL) for the next event; must be cancel-safe.
    fn next(&mut self) -> impl Future<Output = Self::Event> + Send + '_;

    /// Handles an event with the GIL (calls Python).
    fn handle(&mut self, py: Python<'_>, event: Self::Event) -> PyResult<()>;

    /// Whether everything the operation produced has been handed to Python; the blocking call
    /// returns once the operation has finished and this is true.
    fn drained(&self) -> bool;
}

/// No Python-side work.
pub(crate) struct NoPump;

impl Pump for NoPump {
    type Event = ();

    fn active(&self) -> bool {
        false
    }

    fn next(&mut self) -> impl Future<Output = ()> + Send + '_ {
        std::future::pending()
    }

    fn handle(&mut self, _py: Python<'_>, _event: ()) -> PyResult<()> {
        Ok(())
    }

    fn drained(&self) -> bool {
        true
    }
}

enum Step<T, E> {
    Done(Result<PyResult<T>, tokio::task::JoinError>),
    Pump(E),
    Tick,
}

/// Runs `fut` on the runtime and waits for it with the GIL released, raising on signals.
pub(crate) fn wait<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: Send + 'static,
{
    wait_with(py, fut, &mut NoPump)
}

/// [`wait`], with `pump` doing the operation's Python-side work on this thread.
pub(crate) fn wait_with<T, F, P>(py: Python<'_>, fut: F, pump: &mut P) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: Send + 'static,
    P: Pump,
{
    let handle = blocking_handle()?;
    let mut task = Task(handle.spawn(CatchPanic::new(fut)));
    let mut result: Option<T> = None;
    let outcome = (|| loop {
        pump.prepare(py)?;
        if pump.drained()
            && let Some(value) = result.take()
        {
            return Ok(value);
        }
        let running = result.is_none();
        let step = py.detach(|| {
            handle.block_on(async {
                let active = pump.active();
                tokio::select! {
                    biased;
                    event = pump.next(), if active => Step::Pump(event),
                    r = &mut task.0, if running => Step::Done(r),
                    () = tokio::time::sleep(SLICE) => Step::Tick,
                }
            })
        });
        match step {
            Step::Done(r) => result = Some(joined(r)?),
            Step::Pump(event) => pump.handle(py, event)?,
            Step::Tick => {}
        }
        py.check_signals()?;
    })();
    if outcome.is_err() && !task.0.is_finished() {
        // Interrupted (a signal, an exception of a callback): cancel the operation and let its
        // cleanup run (e.g. a download's part file is removed) before the exception reaches the
        // caller. Dropping a cancelled operation is quick; the bound only guards against a stall.
        task.0.abort();
        py.detach(|| {
            handle.block_on(async {
                let _ = tokio::time::timeout(ABORT_WAIT, &mut task.0).await;
            })
        });
    }
    outcome
}

/// Turns `fut` into an asyncio awaitable running on the ferroftp runtime.
pub(crate) fn spawn_async<'py, T, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    handle()?; // started here, where a failure can still be raised
    generic::future_into_py::<FerroRuntime, _, T>(py, CatchPanic::new(fut))
}

/// An asyncio future of the running loop, already resolved with `value`.
///
/// For `__aenter__`: awaiting it never yields, so no cancellation can fall between getting a
/// resource (an open remote file) and entering its `async with` block — and no Rust future
/// holds a Python object that keeps a session lock (a `Py` dropped on a runtime thread is only
/// released the next time Python code runs through pyo3).
pub(crate) fn ready<'py>(value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = value.py();
    let event_loop = generic::get_current_loop::<FerroRuntime>(py)?;
    let fut = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    fut.call_method1(pyo3::intern!(py, "set_result"), (value,))?;
    Ok(fut)
}

/// The pyo3-async-runtimes runtime marker for the ferroftp runtime.
pub(crate) struct FerroRuntime;

/// A tokio `JoinError` seen through pyo3-async-runtimes' trait.
pub(crate) struct TaskJoinError(tokio::task::JoinError);

impl generic::JoinError for TaskJoinError {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }

    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

/// A tokio `JoinHandle` seen through pyo3-async-runtimes' trait.
pub(crate) struct TaskHandle(JoinHandle<()>);

impl Future for TaskHandle {
    type Output = Result<(), TaskJoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map_err(TaskJoinError)
    }
}

fn runtime() -> Handle {
    // pyo3-async-runtimes spawns from inside our runtime (its tasks spawn more tasks): use the
    // current handle there. Elsewhere, `spawn_async` started the runtime before handing any
    // future over, and it stays up for the life of the process.
    Handle::try_current().unwrap_or_else(|_| {
        ferroftp::runtime::handle().expect("the ferroftp runtime was started before spawning")
    })
}

impl Runtime for FerroRuntime {
    type JoinError = TaskJoinError;
    type JoinHandle = TaskHandle;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        TaskHandle(runtime().spawn(fut))
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        TaskHandle(runtime().spawn_blocking(f))
    }
}

tokio::task_local! {
    static TASK_LOCALS: std::cell::OnceCell<TaskLocals>;
}

impl ContextExt for FerroRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = std::cell::OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|c| c.get().cloned())
            .unwrap_or_default()
    }
}
