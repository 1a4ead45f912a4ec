//! `ferroftp_future`: an operation running on the library's runtime, with its result to take.
//!
//! Each `_start` call spawns the operation on `ferroftp::runtime::handle()` inside a task that
//! races it against a cancellation signal. When the operation ends (or is cancelled, which drops
//! it: the core is cancel-safe), the task stores the outcome, wakes `ferroftp_future_wait`, makes
//! the descriptor of `ferroftp_future_fd` readable and runs the completion callback, all on a
//! library thread.
//!
//! This module knows no result type: a future holds its value boxed as a `dyn` `FutureResult`.
//! Each result type implements that trait in its own module, next to the
//! `ferroftp_future_take_*` function that takes it out through `take` (`u64`, strings, byte
//! buffers, ... in `values`, listings in `entries`, sessions in `session`, batch results in
//! `pool`). A take of the wrong type is a status with a message naming the value's type and its
//! take function, never a panic.

use std::any::Any;
use std::ffi::{c_int, c_void};
use std::future::Future;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::callback::{Gate, flagged, in_callback, in_callback_error};
use crate::error::{CError, ferroftp_status, set_error};
use crate::ffi::{Castable, Out, free_box, to_boxed_mut_ptr, try_out, try_ref};
use crate::panic::ffi_panic_boundary;

use ferroftp_status as S;

/// A value a future can finish with. Each result type implements it in its own module, next to
/// the `ferroftp_future_take_*` function that takes it out with [`take`].
pub(crate) trait FutureResult: Any + Send {
    /// What the value is and which function takes it, for the message of a take of another
    /// type: `"a u64 (ferroftp_future_take_u64)"`.
    fn what(&self) -> &'static str;
}

/// The value of operations without one (mkdir, remove, ...): their status is their result.
impl FutureResult for () {
    fn what(&self) -> &'static str {
        "nothing (check the status only)"
    }
}

/// What a finished future holds.
enum Finished {
    /// The operation's value, not taken yet.
    Value(Box<dyn FutureResult>),
    /// The value was taken out.
    Taken,
    /// The operation failed or was cancelled: every status request and take reports this.
    Failed(CError),
}

impl Finished {
    fn new(result: Result<Box<dyn FutureResult>, CError>) -> Self {
        match result {
            Ok(value) => Self::Value(value),
            Err(e) => Self::Failed(e),
        }
    }

    /// The operation's status (its error is not raised).
    fn status(&self) -> ferroftp_status {
        match self {
            Self::Failed(e) => e.status,
            Self::Value(_) | Self::Taken => S::FERROFTP_STATUS_OK,
        }
    }

    /// The operation's status, raising its error on the calling thread.
    fn raise(&self) -> ferroftp_status {
        match self {
            Self::Failed(e) => e.clone().raise(),
            Self::Value(_) | Self::Taken => S::FERROFTP_STATUS_OK,
        }
    }

    fn error(&self) -> Option<CError> {
        match self {
            Self::Failed(e) => Some(e.clone()),
            Self::Value(_) | Self::Taken => None,
        }
    }
}

/// A completion callback: `userdata` first, then the operation's status.
///
/// It runs on a library thread, once, when the future finishes (including by cancellation). It
/// must return quickly and must not block: a blocking ferroftp call (or a `ferroftp_future_wait`
/// with a non-zero timeout) made inside it returns `FERROFTP_STATUS_IN_CALLBACK`. It may take the
/// result and free the future. It must not unwind (no C++ exception may leave it).
#[allow(non_camel_case_types)]
pub type ferroftp_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, status: ferroftp_status)>;

struct Callback {
    func: unsafe extern "C" fn(*mut c_void, ferroftp_status),
    userdata: *mut c_void,
}

// SAFETY: the C caller promises (documented on ferroftp_future_set_callback) that the callback
// and its userdata may be used from a library thread.
unsafe impl Send for Callback {}

#[derive(Default)]
struct State {
    /// `None` while the operation runs.
    outcome: Option<Finished>,
    callback: Option<Callback>,
    /// A callback was registered (it may have run already).
    callback_registered: bool,
    /// The pipe of `ferroftp_future_fd`, made on first request.
    pipe: Option<(std::io::PipeReader, std::io::PipeWriter)>,
}

struct Shared {
    state: Mutex<State>,
    done: Condvar,
    cancel: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores the outcome and tells everyone waiting; runs the callback (on this library thread).
    fn complete(&self, outcome: Finished) {
        let status = outcome.status();
        let error = outcome.error();
        let callback = {
            let mut state = self.lock();
            state.outcome = Some(outcome);
            if let Some((_, writer)) = state.pipe.as_mut() {
                let _ = writer.write_all(&[1]);
            }
            self.done.notify_all();
            state.callback.take()
        };
        if let Some(cb) = callback {
            run_callback(cb, status, error);
        }
    }
}

/// A running or finished operation.
///
/// Behind the pointer: a Rust `Box` holding an `Arc` to the state shared with the task that runs
/// the operation. Made by a `ferroftp_session_*_start` call; to avoid a leak it must eventually be
/// freed with `ferroftp_future_free` (freeing a pending future cancels it). Every function on a
/// future may be called from any thread, also concurrently with each other, except that
/// `ferroftp_future_free` must be the last call on it.
pub struct ferroftp_future {
    _private: [u8; 0],
}

/// What a `ferroftp_future *` points to.
pub(crate) struct FutureHandle {
    shared: Arc<Shared>,
    /// Closed by `ferroftp_future_free`: the operation's progress callbacks stop.
    gate: Arc<Gate>,
}

impl Castable for ferroftp_future {
    type RustType = FutureHandle;
}

/// Spawns `op` on the library's runtime and hands out its future, which finishes with the
/// operation's value (taken with the `ferroftp_future_take_*` of `T`) or error.
pub(crate) fn spawn<T, F>(op: F, future_out: Out<*mut ferroftp_future>) -> ferroftp_status
where
    T: FutureResult,
    F: Future<Output = Result<T, CError>> + Send + 'static,
{
    spawn_gated(|_| op, future_out)
}

/// Spawns the operation `make` builds around the future's [`Gate`] (through which its progress
/// callbacks run) and hands out its future.
pub(crate) fn spawn_gated<T, F>(
    make: impl FnOnce(Arc<Gate>) -> F,
    future_out: Out<*mut ferroftp_future>,
) -> ferroftp_status
where
    T: FutureResult,
    F: Future<Output = Result<T, CError>> + Send + 'static,
{
    let gate = Arc::new(Gate::default());
    let op = make(Arc::clone(&gate));
    let handle = match ferroftp::runtime::handle() {
        Ok(h) => h,
        Err(e) => return crate::error::raise(e),
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        done: Condvar::new(),
        cancel: Notify::new(),
    });
    let task_shared = Arc::clone(&shared);
    handle.spawn(async move {
        let outcome = tokio::select! {
            biased;
            () = task_shared.cancel.notified() => Err(CError::new(
                S::FERROFTP_STATUS_CANCELLED,
                "the operation was cancelled",
            )),
            result = op => result.map(|value| Box::new(value) as Box<dyn FutureResult>),
        };
        task_shared.complete(Finished::new(outcome));
    });
    future_out.write(to_boxed_mut_ptr::<ferroftp_future>(FutureHandle {
        shared,
        gate,
    }));
    S::FERROFTP_STATUS_OK
}

/// Says whether the future has finished, without waiting: `FERROFTP_STATUS_PENDING` while it
/// runs, else the operation's own status (`FERROFTP_STATUS_OK`, or its error, which then also
/// becomes the calling thread's last error, with the FTP reply code and message).
///
/// Does not take the result; may be called any number of times, also from a callback.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_status(future: *const ferroftp_future) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let state = f.shared.lock();
        match &state.outcome {
            None => S::FERROFTP_STATUS_PENDING,
            Some(outcome) => outcome.raise(),
        }
    }
}

/// Waits until the future has finished, or for at most `timeout_ms` milliseconds (a negative
/// value waits without limit, 0 does not wait).
///
/// Returns `FERROFTP_STATUS_PENDING` when the time ran out, else the operation's status as
/// `ferroftp_future_status` gives it. From inside a completion callback only a timeout of 0 is
/// allowed; any other returns `FERROFTP_STATUS_IN_CALLBACK` (waiting there could deadlock).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_wait(
    future: *const ferroftp_future,
    timeout_ms: i64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        if timeout_ms != 0 && in_callback() {
            return in_callback_error().raise();
        }
        let deadline = u64::try_from(timeout_ms)
            .ok()
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        let mut state = f.shared.lock();
        loop {
            if let Some(outcome) = &state.outcome {
                return outcome.raise();
            }
            state = match deadline {
                None => f.shared.done.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return S::FERROFTP_STATUS_PENDING;
                    }
                    f.shared
                        .done
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

/// Writes a file descriptor to `*fd_out` that becomes readable when the future finishes (for
/// `poll`, `select`, `epoll` or libuv loops) and then stays readable.
///
/// The descriptor (the read end of a pipe, close-on-exec) is owned by the future: do not read
/// from it or close it; it is closed by `ferroftp_future_free`. Every call returns the same one.
/// Returns `FERROFTP_STATUS_IO` when no pipe can be made (too many open files).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_fd(
    future: *const ferroftp_future,
    fd_out: *mut c_int,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(fd_out);
        let mut state = f.shared.lock();
        if state.pipe.is_none() {
            let (reader, mut writer) = match std::io::pipe() {
                Ok(p) => p,
                Err(e) => {
                    return set_error(
                        S::FERROFTP_STATUS_IO,
                        None,
                        format!("cannot make the future's pipe: {e}"),
                    );
                }
            };
            if state.outcome.is_some() {
                let _ = writer.write_all(&[1]);
            }
            state.pipe = Some((reader, writer));
        }
        let fd = state.pipe.as_ref().map_or(-1, |(r, _)| r.as_raw_fd());
        out.write(fd);
        S::FERROFTP_STATUS_OK
    }
}

/// Registers `callback`, to be called once with `userdata` first and the operation's status
/// when the future finishes (also by cancellation). When the future has already finished, the
/// callback is run right away on a library thread. Inside the callback, the thread's last error
/// is the operation's error (when it failed).
///
/// `userdata` is not touched by the library; it must stay valid until the callback has run, and
/// the callback must be safe to run on another thread than the caller's. See `ferroftp_callback`
/// for what a callback must not do. Once `ferroftp_future_free` has returned, the callback is not
/// started any more (one that already started on another thread may still be running). Returns
/// `FERROFTP_STATUS_CALLBACK_ALREADY_SET` when the future already has one, and
/// `FERROFTP_STATUS_NULL_ARGUMENT` for a NULL `future` or `callback`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_set_callback(
    future: *const ferroftp_future,
    callback: ferroftp_callback,
    userdata: *mut c_void,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let Some(func) = callback else {
            return set_error(S::FERROFTP_STATUS_NULL_ARGUMENT, None, "argument `callback` is NULL");
        };
        let mut state = f.shared.lock();
        if state.callback_registered {
            return set_error(
                S::FERROFTP_STATUS_CALLBACK_ALREADY_SET,
                None,
                "the future already has a completion callback",
            );
        }
        state.callback_registered = true;
        state.callback = Some(Callback { func, userdata });
        if state.outcome.is_none() {
            return S::FERROFTP_STATUS_OK;
        }
        drop(state);
        // Finished already: run it on a library thread, as if it had finished now (unless the
        // future is freed first).
        let handle = match ferroftp::runtime::handle() {
            Ok(h) => h,
            Err(e) => return crate::error::raise(e),
        };
        let shared = Arc::clone(&f.shared);
        handle.spawn(async move {
            let (callback, status, error) = {
                let mut state = shared.lock();
                let (status, error) = state
                    .outcome
                    .as_ref()
                    .map_or((S::FERROFTP_STATUS_OK, None), |o| (o.status(), o.error()));
                (state.callback.take(), status, error)
            };
            if let Some(cb) = callback {
                run_callback(cb, status, error);
            }
        });
        S::FERROFTP_STATUS_OK
    }
}

/// Runs a completion callback on this (library) thread, flagged so that blocking calls refuse.
fn run_callback(cb: Callback, status: ferroftp_status, error: Option<CError>) {
    if let Some(e) = error {
        e.raise();
    }
    // SAFETY: a function pointer and userdata the C caller registered for this future.
    flagged(|| unsafe { (cb.func)(cb.userdata, status) });
}

/// Asks the operation to stop. The task drops the operation at its next await point; the
/// future then finishes with `FERROFTP_STATUS_CANCELLED` (readable fd, callback run) shortly
/// after, unless the operation had already finished, in which case its result stays.
///
/// Returns at once (`FERROFTP_STATUS_OK`, also when there was nothing to cancel). The session
/// stays usable: its next operation reopens the connection if the cancelled one left it out of
/// step. A cancelled upload may leave a partial remote file; a cancelled download never leaves a
/// local file behind.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_cancel(future: *const ferroftp_future) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        f.shared.cancel.notify_one();
        S::FERROFTP_STATUS_OK
    }
}

/// Frees a future; NULL is a no-op. A pending future is cancelled first (see
/// `ferroftp_future_cancel`) and its callback will not be called; its file descriptor is closed.
/// A result not taken out is freed with it. Its progress callbacks (transfer or batch options)
/// are not called any more once this returns, and none is still running then (unless this is
/// called from inside a callback, where a progress call already running on another thread may
/// still be finishing), so their `userdata` may be released right after.
///
/// May be called from inside the future's own callback. `future` must not be used again.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_free(future: *mut ferroftp_future) {
    ffi_panic_boundary! {
        // SAFETY: the caller hands back a pointer this library made and will not use it again.
        let Some(f) = (unsafe { crate::ffi::try_from(future.cast_const()) }) else {
            return;
        };
        let pending = {
            let mut state = f.shared.lock();
            state.callback = None;
            state.pipe = None;
            state.outcome.is_none()
        };
        if pending {
            f.shared.cancel.notify_one();
        }
        f.gate.close();
        // SAFETY: as above.
        unsafe { free_box(future) }
    }
}

/// Takes the value of a finished future out as a `T` and writes `convert(value)` to `out`, for
/// the `ferroftp_future_take_*` of `T`. Every other case is a status with a message (the calling
/// thread's last error), and `out` stays untouched: `FERROFTP_STATUS_PENDING` before the future
/// finished, the operation's error if it failed, `FERROFTP_STATUS_ALREADY_TAKEN` after a take,
/// `FERROFTP_STATUS_WRONG_RESULT_TYPE` (naming the value's type and its take function) when the
/// value is not a `T`; the value then stays for the right take.
pub(crate) fn take<T: FutureResult, O>(
    future: &FutureHandle,
    out: Out<O>,
    convert: impl FnOnce(T) -> O,
) -> ferroftp_status {
    let mut state = future.shared.lock();
    let value = match state.outcome.take() {
        Some(Finished::Value(value)) if (&*value as &dyn Any).is::<T>() => value,
        other => {
            let status = match &other {
                None => set_error(
                    S::FERROFTP_STATUS_PENDING,
                    None,
                    "the future has not finished: wait for it first",
                ),
                Some(failed @ Finished::Failed(_)) => failed.raise(),
                Some(Finished::Taken) => set_error(
                    S::FERROFTP_STATUS_ALREADY_TAKEN,
                    None,
                    "the future's result was already taken",
                ),
                Some(Finished::Value(value)) => wrong_type(value.what()),
            };
            state.outcome = other;
            return status;
        }
    };
    state.outcome = Some(Finished::Taken);
    drop(state);
    match (value as Box<dyn Any>).downcast::<T>() {
        Ok(value) => {
            out.write(convert(*value));
            S::FERROFTP_STATUS_OK
        }
        // Checked above; kept a status all the same.
        Err(_) => wrong_type("of another type"),
    }
}

fn wrong_type(what: &str) -> ferroftp_status {
    set_error(
        S::FERROFTP_STATUS_WRONG_RESULT_TYPE,
        None,
        format!("the future's result is {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A result type of the tests' own (the real ones live in their modules).
    struct Answer(u64);

    impl FutureResult for Answer {
        fn what(&self) -> &'static str {
            "an answer (the tests' take)"
        }
    }

    fn started<T: FutureResult>(
        op: impl Future<Output = Result<T, CError>> + Send + 'static,
    ) -> *mut ferroftp_future {
        let mut f = std::ptr::null_mut();
        assert_eq!(
            spawn(op, Out::new(&mut f).expect("non-NULL")),
            S::FERROFTP_STATUS_OK
        );
        f
    }

    fn handle<'a>(f: *mut ferroftp_future) -> &'a FutureHandle {
        // SAFETY: a live future of these tests.
        unsafe { crate::ffi::try_from(f.cast_const()) }.expect("non-NULL")
    }

    fn last_message() -> String {
        crate::error::with_last(|e| e.map(|e| e.message.clone()).unwrap_or_default())
    }

    #[test]
    fn a_take_of_another_type_is_a_status_and_leaves_the_value() {
        let f = started(async { Ok(Answer(42)) });
        assert_eq!(ferroftp_future_wait(f, -1), S::FERROFTP_STATUS_OK);
        let mut out = 7u64;
        let status = take(handle(f), Out::new(&mut out).unwrap(), |()| 1u64);
        assert_eq!(status, S::FERROFTP_STATUS_WRONG_RESULT_TYPE);
        assert_eq!(
            last_message(),
            "the future's result is an answer (the tests' take)"
        );
        assert_eq!(out, 7, "untouched");
        let status = take(handle(f), Out::new(&mut out).unwrap(), |a: Answer| a.0);
        assert_eq!((status, out), (S::FERROFTP_STATUS_OK, 42));
        let status = take(handle(f), Out::new(&mut out).unwrap(), |a: Answer| a.0 + 1);
        assert_eq!((status, out), (S::FERROFTP_STATUS_ALREADY_TAKEN, 42));
        let status = take(handle(f), Out::new(&mut out).unwrap(), |()| 1u64);
        assert_eq!(status, S::FERROFTP_STATUS_ALREADY_TAKEN);
        assert_eq!(ferroftp_future_status(f), S::FERROFTP_STATUS_OK);
        ferroftp_future_free(f);
    }

    #[test]
    fn nothing_is_a_result_type_too() {
        let f = started(async { Ok(()) });
        assert_eq!(ferroftp_future_wait(f, -1), S::FERROFTP_STATUS_OK);
        let mut out = 0u64;
        let status = take(handle(f), Out::new(&mut out).unwrap(), |a: Answer| a.0);
        assert_eq!(status, S::FERROFTP_STATUS_WRONG_RESULT_TYPE);
        assert_eq!(
            last_message(),
            "the future's result is nothing (check the status only)"
        );
        ferroftp_future_free(f);
    }

    #[test]
    fn a_failed_or_pending_future_reports_that_to_every_take() {
        let f =
            started::<Answer>(async { Err(CError::new(S::FERROFTP_STATUS_NOT_FOUND, "550 gone")) });
        assert_eq!(ferroftp_future_wait(f, -1), S::FERROFTP_STATUS_NOT_FOUND);
        let mut out = 0u64;
        for _ in 0..2 {
            let status = take(handle(f), Out::new(&mut out).unwrap(), |a: Answer| a.0);
            assert_eq!(status, S::FERROFTP_STATUS_NOT_FOUND);
            assert_eq!(last_message(), "550 gone");
        }
        ferroftp_future_free(f);

        let f = started(std::future::pending::<Result<Answer, CError>>());
        let status = take(handle(f), Out::new(&mut out).unwrap(), |a: Answer| a.0);
        assert_eq!(status, S::FERROFTP_STATUS_PENDING);
        ferroftp_future_free(f);
        assert_eq!(out, 0);
    }
}
