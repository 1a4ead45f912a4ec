//! Threads: every operation runs on the one ferroftp runtime (`ferroftp::runtime`).
//!
//! An operation is a future and, when it needs Python-side work while it runs (progress
//! callbacks, a file object's `read`/`write`), a [`Pump`]. Each face runs the same pair
//! ([`Face`]), so an operation is described once for both:
//!
//! * [`Blocking`] (`Session`, `Pool`): the core's [`BlockingCall`] runs the operation while the
//!   calling thread waits with the GIL released, in slices of [`SLICE`] between which it checks
//!   for signals, and does the pump's work with the GIL. On a signal (Ctrl-C) or an exception of
//!   the pump's work the call is cancelled — the core is cancel-safe: the next operation on the
//!   session reconnects — and the exception is raised. A blocking call made on a thread of an
//!   async runtime is refused by the core's one misuse check, with the core's error.
//! * [`Awaiting`] (`AsyncSession`, `AsyncPool`): an asyncio future of the running loop
//!   ([`spawn_async`]), completed from the runtime with one `call_soon_threadsafe`, its result
//!   made a Python object on the loop's thread only if the future still waits for it; the
//!   pump's work runs on the event loop's thread ([`on_loop`]). Cancelling the asyncio future
//!   drops the operation. (pyo3-async-runtimes only finds the running loop, through
//!   [`FerroRuntime`].)
//!
//! The runtime's threads enter Python only through [`attach`]/[`guarded`], which an `atexit`
//! hook closes before the interpreter finalizes ([`_before_exit`]).
//!
//! A panic in an operation becomes a `PanicException` on both paths ([`CatchPanic`]).

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ferroftp::runtime::{BlockingCall, Waited};
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{self, ContextExt, Runtime};
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::errors::{CatchPanic, ftp_err, runtime_err};

/// How long a blocking call waits with the GIL released before it checks for signals.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// How long an interrupted blocking call waits for its cancelled operation to be dropped.
const ABORT_WAIT: Duration = Duration::from_secs(5);

/// The shared runtime, started if need be.
pub(crate) fn handle() -> PyResult<Handle> {
    ferroftp::runtime::handle().map_err(ftp_err)
}

/// Python-side work that an operation needs while it runs, done where its caller is: on the
/// thread of a blocking call, or on the event loop's thread for an awaitable.
pub(crate) trait Pump: Send + 'static {
    /// An event that [`Pump::handle`] turns into Python work.
    type Event: Send + 'static;

    /// Work to do with the GIL before the first wait and after each event (e.g. read the next
    /// chunk of a file object).
    fn prepare(&mut self, _py: Python<'_>) -> PyResult<()> {
        Ok(())
    }

    /// Whether [`Pump::next`] may produce an event now.
    fn active(&self) -> bool;

    /// Waits (without the GIL) for the next event; must be cancel-safe.
    fn next(&mut self) -> impl Future<Output = Self::Event> + Send + '_;

    /// Handles an event with the GIL (calls Python).
    fn handle(&mut self, py: Python<'_>, event: Self::Event) -> PyResult<()>;

    /// Whether everything the operation produced has been handed to Python; the operation's
    /// result is given once it has finished and this is true. Once it has finished, the events
    /// still to come are ready at once.
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

/// How a face runs an operation: what its methods return for an operation giving `T` (`T`
/// itself, or an awaitable of it), and where the pump's work is done.
pub(crate) trait Face<'py>: Copy {
    /// What a method of this face returns for an operation giving `T`.
    type Out<T>
    where
        T: 'py;

    /// The GIL token of the call.
    fn py(self) -> Python<'py>;

    /// Runs `fut` with `pump` doing its Python-side work.
    fn run_with<T, F, P>(self, fut: F, pump: P) -> PyResult<Self::Out<T>>
    where
        F: Future<Output = PyResult<T>> + Send + 'static,
        T: for<'a> IntoPyObject<'a> + Send + 'static,
        P: Pump;

    /// Runs a core operation that needs no Python-side work.
    fn run<T, F>(self, fut: F) -> PyResult<Self::Out<T>>
    where
        F: Future<Output = ferroftp::Result<T>> + Send + 'static,
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        self.run_with(async move { fut.await.map_err(ftp_err) }, NoPump)
    }
}

/// The blocking face: methods return the result once the operation is done.
#[derive(Clone, Copy)]
pub(crate) struct Blocking<'py>(pub(crate) Python<'py>);

/// The awaitable face: methods return an asyncio awaitable of the result.
#[derive(Clone, Copy)]
pub(crate) struct Awaiting<'py>(pub(crate) Python<'py>);

impl<'py> Face<'py> for Blocking<'py> {
    type Out<T>
        = T
    where
        T: 'py;

    fn py(self) -> Python<'py> {
        self.0
    }

    fn run_with<T, F, P>(self, fut: F, mut pump: P) -> PyResult<T>
    where
        F: Future<Output = PyResult<T>> + Send + 'static,
        T: for<'a> IntoPyObject<'a> + Send + 'static,
        P: Pump,
    {
        wait_with(self.0, fut, &mut pump)
    }
}

impl<'py> Face<'py> for Awaiting<'py> {
    type Out<T>
        = Bound<'py, PyAny>
    where
        T: 'py;

    fn py(self) -> Python<'py> {
        self.0
    }

    fn run_with<T, F, P>(self, fut: F, pump: P) -> PyResult<Bound<'py, PyAny>>
    where
        F: Future<Output = PyResult<T>> + Send + 'static,
        T: for<'a> IntoPyObject<'a> + Send + 'static,
        P: Pump,
    {
        spawn_async_with(self.0, fut, pump)
    }

    fn run<T, F>(self, fut: F) -> PyResult<Bound<'py, PyAny>>
    where
        F: Future<Output = ferroftp::Result<T>> + Send + 'static,
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        spawn_async(self.0, async move { fut.await.map_err(ftp_err) })
    }
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
    let caught = CatchPanic::new(fut);
    let mut call = BlockingCall::start(async move { Ok(caught.await) }).map_err(ftp_err)?;
    let outcome = (|| -> PyResult<T> {
        pump.prepare(py)?;
        let value = loop {
            let active = pump.active();
            let event = async {
                if active {
                    pump.next().await
                } else {
                    std::future::pending().await
                }
            };
            match py.detach(|| call.wait_or(event, SLICE)) {
                Waited::Done(result) => break result.map_err(ftp_err)??,
                Waited::Event(event) => {
                    pump.handle(py, event)?;
                    pump.prepare(py)?;
                }
                Waited::Elapsed => {}
            }
            py.check_signals()?;
        };
        // The operation is over: what it left for Python is there already.
        while !pump.drained() {
            let Some(event) = ready_now(pump.next()) else {
                break;
            };
            pump.handle(py, event)?;
        }
        Ok(value)
    })();
    if outcome.is_err() && !call.is_finished() {
        // Interrupted (a signal, an exception of the pump's work): cancel the operation and
        // let its cleanup run (e.g. a download's part file is removed) before the exception
        // reaches the caller.
        py.detach(|| call.cancel(ABORT_WAIT));
    }
    outcome
}

/// The output of `fut` if it is ready at once.
fn ready_now<F: Future>(fut: F) -> Option<F::Output> {
    match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Turns `fut` into an asyncio awaitable running on the ferroftp runtime.
///
/// The awaitable is a future of the running loop. `fut` runs as one task of the runtime; its
/// result reaches the loop in one hop ([`deliver`]) and is turned into a Python object there,
/// on the loop's thread, only if the future is still waiting for it: the result of an
/// operation whose awaitable was cancelled meanwhile is dropped in Rust (a session lent to it
/// goes back to its pool at once). Cancelling the awaitable drops the operation.
pub(crate) fn spawn_async<'py, T, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let runtime = handle()?; // started here, where a failure can still be raised
    let event_loop = generic::get_current_loop::<FerroRuntime>(py)?;
    let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
    future.call_method1(
        pyo3::intern!(py, "add_done_callback"),
        (OnDone(Mutex::new(Some(cancel_tx))),),
    )?;
    let target = Completion {
        event_loop: event_loop.unbind(),
        future: future.clone().unbind(),
    };
    let fut = CatchPanic::new(fut);
    runtime.spawn(async move {
        tokio::select! {
            biased;
            // Cancelled (or otherwise done without us): the operation is dropped here.
            _ = cancel_rx => {}
            result = fut => deliver(target, result),
        }
    });
    Ok(future)
}

/// Where an awaitable's result goes: its future, on its loop.
struct Completion {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
}

/// Hands `result` to the loop of `target` (`call_soon_threadsafe`), from a blocking thread of
/// the runtime: a runtime worker never waits for the GIL. Nothing is delivered once the
/// interpreter is exiting (see [`attach`]).
fn deliver<T>(target: Completion, result: PyResult<T>)
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let job: ToPython = Box::new(move |py| result.and_then(|v| v.into_py_any(py)));
    tokio::task::spawn_blocking(move || {
        attach(|py| {
            let set = SetResult(Mutex::new(Some(job)));
            let call = target.event_loop.bind(py).call_method1(
                pyo3::intern!(py, "call_soon_threadsafe"),
                (set, target.future.bind(py)),
            );
            // A closed loop: nobody waits for the result any more (it is dropped with `set`).
            drop(call);
        });
    });
}

/// The result of an awaitable, set on its future by the loop's thread (unless the future was
/// cancelled meanwhile: then the result is dropped unconverted).
#[pyclass(frozen)]
struct SetResult(Mutex<Option<ToPython>>);

/// An awaitable's result, made a Python object when called (with the GIL).
type ToPython = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

#[pymethods]
impl SetResult {
    fn __call__(&self, py: Python<'_>, future: &Bound<'_, PyAny>) -> PyResult<()> {
        let job = self.0.lock().map(|mut j| j.take()).unwrap_or(None);
        let Some(job) = job else { return Ok(()) };
        if future
            .call_method0(pyo3::intern!(py, "done"))?
            .is_truthy()?
        {
            return Ok(()); // cancelled: `job` (and the value in it) is dropped
        }
        match job(py) {
            Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,))?,
            Err(e) => {
                future.call_method1(pyo3::intern!(py, "set_exception"), (e.into_value(py),))?
            }
        };
        Ok(())
    }
}

/// The done callback of an awaitable's future: when it was cancelled, the operation is dropped.
#[pyclass(frozen)]
struct OnDone(Mutex<Option<oneshot::Sender<()>>>);

#[pymethods]
impl OnDone {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = future.py();
        if future
            .call_method0(pyo3::intern!(py, "cancelled"))?
            .is_truthy()?
        {
            let tx = self.0.lock().map(|mut t| t.take()).unwrap_or(None);
            if let Some(tx) = tx {
                let _ = tx.send(());
            }
        }
        Ok(())
    }
}

/// Set once the interpreter starts exiting (by [`before_exit`], an `atexit` hook).
static EXITING: AtomicBool = AtomicBool::new(false);

/// Runtime threads inside [`attach`] now.
static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);

/// How long the exit hook waits for runtime threads to leave Python.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// Runs `f` with the GIL on a thread of the runtime (not a Python thread), unless the
/// interpreter is exiting; `None` then.
///
/// Why: a thread that is not Python's own and takes the GIL while the interpreter finalizes
/// is ended by CPython (before 3.14, `PyThread_exit_thread`: a forced unwind through Rust
/// frames, which aborts the process) — and checking `Py_IsFinalizing` first does not help,
/// because Python code run here (asyncio's `call_soon_threadsafe` writes to the loop's
/// self-pipe) releases the GIL and takes it back, and finalization may start in between. So
/// the interpreter waits, in [`before_exit`] (an `atexit` hook: it runs before finalization
/// starts), until every runtime thread has left Python, and none enters afterwards.
pub(crate) fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    guarded(|| Python::try_attach(f)).flatten()
}

/// Runs `f`, which may take the GIL (e.g. a log record for Python's `logging`), unless the
/// interpreter is exiting (see [`attach`]).
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    struct Inside;
    impl Drop for Inside {
        fn drop(&mut self) {
            IN_PYTHON.fetch_sub(1, Ordering::SeqCst);
        }
    }
    IN_PYTHON.fetch_add(1, Ordering::SeqCst);
    let _inside = Inside;
    if EXITING.load(Ordering::SeqCst) {
        return None;
    }
    Some(f())
}

/// The `atexit` hook (registered by `ferroftp/__init__.py`): from now on no runtime thread
/// enters Python, and those inside are waited for (with the GIL released, so they can finish).
#[pyfunction]
pub(crate) fn _before_exit(py: Python<'_>) {
    EXITING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = std::time::Instant::now() + EXIT_WAIT;
        while IN_PYTHON.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// [`spawn_async`], with `pump` doing the operation's Python-side work on the running event
/// loop's thread (its first [`Pump::prepare`] here, on the caller's).
pub(crate) fn spawn_async_with<'py, T, F, P>(
    py: Python<'py>,
    fut: F,
    mut pump: P,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
    P: Pump,
{
    let target = Arc::new(LoopTarget {
        event_loop: generic::get_current_loop::<FerroRuntime>(py)?.unbind(),
        awaitable: OnceLock::new(),
    });
    pump.prepare(py)?;
    let awaitable = spawn_async(py, pumped_on_loop(Arc::clone(&target), fut, pump))?;
    let _ = target.awaitable.set(awaitable.clone().unbind());
    Ok(awaitable)
}

/// Where [`on_loop`] runs work: an event loop, for an awaitable (once it exists) whose
/// cancellation stops that work at once.
struct LoopTarget {
    event_loop: Py<PyAny>,
    awaitable: OnceLock<Py<PyAny>>,
}

impl LoopTarget {
    /// Whether the awaitable is done already (cancelled: its operation is being dropped).
    fn done(&self, py: Python<'_>) -> bool {
        self.awaitable.get().is_some_and(|a| {
            a.bind(py)
                .call_method0(pyo3::intern!(py, "done"))
                .and_then(|d| d.is_truthy())
                .unwrap_or(false)
        })
    }
}

/// The pump's work after an event, on the event loop: the pump travels there and back.
type Visit<P> = Pin<Box<dyn Future<Output = PyResult<P>> + Send>>;

/// Runs `fut` while `pump`'s events are handled on `target`'s loop; the operation goes on
/// while the loop does that work.
async fn pumped_on_loop<T, F, P>(target: Arc<LoopTarget>, fut: F, pump: P) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    P: Pump,
{
    let mut fut = pin!(fut);
    let mut pump = Some(pump); // `None` while it is on the event loop
    let mut visit: Option<Visit<P>> = None;
    let mut result = None;
    loop {
        if let (Some(p), Some(_)) = (&pump, &result)
            && (p.drained() || !p.active())
        {
            return Ok(result.take().expect("checked"));
        }
        tokio::select! {
            biased;
            back = async {
                match visit.as_mut() {
                    Some(v) => v.await,
                    None => std::future::pending().await,
                }
            } => {
                visit = None;
                pump = Some(back?);
            }
            r = &mut fut, if result.is_none() => match r {
                Ok(value) => result = Some(value),
                // An error of the pump's work (a callback's exception) stops the operation:
                // that one is raised, not the operation's report of being stopped.
                Err(e) => match visit.take() {
                    Some(v) => return Err(v.await.err().unwrap_or(e)),
                    None => return Err(e),
                },
            },
            event = async {
                match pump.as_mut() {
                    Some(p) if p.active() => p.next().await,
                    _ => std::future::pending().await,
                }
            } => {
                let p = pump.take().expect("an event comes from a pump at hand");
                visit = Some(Box::pin(on_loop(Arc::clone(&target), p, move |py, p| {
                    p.handle(py, event)?;
                    p.prepare(py)
                })));
            }
        }
    }
}

/// A job for the event loop's thread.
type Job = Box<dyn FnOnce(Python<'_>) + Send>;

/// Runs `work` on `value` on the thread of `target`'s event loop (with the GIL), and gives
/// `value` back. Once the awaitable is cancelled (or the waiting future dropped), the work is
/// not done.
async fn on_loop<V: Send + 'static>(
    target: Arc<LoopTarget>,
    value: V,
    work: impl FnOnce(Python<'_>, &mut V) -> PyResult<()> + Send + 'static,
) -> PyResult<V> {
    let (tx, rx) = oneshot::channel();
    let scheduler = Arc::clone(&target);
    let job: Job = Box::new(move |py| {
        if tx.is_closed() || target.done(py) {
            return;
        }
        let mut value = value;
        let done = work(py, &mut value);
        let _ = tx.send(done.map(|()| value));
    });
    // Scheduling needs the GIL: done on a blocking thread, never on a runtime worker.
    tokio::task::spawn_blocking(move || {
        attach(|py| -> PyResult<()> {
            let call = Py::new(py, LoopCall(Mutex::new(Some(job))))?;
            let event_loop = scheduler.event_loop.bind(py);
            event_loop.call_method1(pyo3::intern!(py, "call_soon_threadsafe"), (call,))?;
            Ok(())
        })
        .unwrap_or_else(|| Err(runtime_err("the interpreter is exiting")))
    })
    .await
    .map_err(|_| runtime_err("scheduling work on the event loop failed"))??;
    rx.await
        .unwrap_or_else(|_| Err(runtime_err("the event loop closed before the work ran")))
}

/// One [`Job`] scheduled with `call_soon_threadsafe`.
#[pyclass(frozen)]
struct LoopCall(Mutex<Option<Job>>);

#[pymethods]
impl LoopCall {
    fn __call__(&self, py: Python<'_>) {
        let job = self.0.lock().map(|mut j| j.take()).unwrap_or(None);
        if let Some(job) = job {
            job(py);
        }
    }
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
