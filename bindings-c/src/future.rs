//! `ferroftp_future`: an operation running on the library's runtime, with its result to take.
//!
//! Each `_start` call spawns the operation on `ferroftp::runtime::handle()` inside a task that
//! races it against a cancellation signal. When the operation ends (or is cancelled, which drops
//! it: the core is cancel-safe), the task stores the outcome, wakes `ferroftp_future_wait`, makes
//! the descriptor of `ferroftp_future_fd` readable and runs the completion callback, all on a
//! library thread.

use std::ffi::{CString, c_char, c_int, c_void};
use std::future::Future;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::callback::{Gate, flagged, in_callback, in_callback_error};
use crate::entries::{CEntry, ferroftp_entries};
use crate::error::{CError, ferroftp_status, set_error};
use crate::ffi::{Castable, Out, free_box, to_boxed_mut_ptr, try_out, try_ref};
use crate::panic::ffi_panic_boundary;
use crate::session::ferroftp_session;
use crate::values::{ferroftp_bytes, ferroftp_strings};

use ferroftp_status as S;

/// The value of a finished operation.
pub(crate) enum Value {
    Unit,
    U64(u64),
    Bool(bool),
    Time(i64),
    String(CString),
    Entries(Vec<CEntry>),
    Names(Vec<CString>),
    Bytes(Vec<u8>),
    Quote(u16, CString),
    Session(ferroftp::Session),
    Batch(crate::pool::CBatch),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Unit => "nothing (check the status only)",
            Value::U64(_) => "a u64 (ferroftp_future_take_u64)",
            Value::Bool(_) => "a bool (ferroftp_future_take_bool)",
            Value::Time(_) => "a time (ferroftp_future_take_time)",
            Value::String(_) => "a string (ferroftp_future_take_string)",
            Value::Entries(_) => "entries (ferroftp_future_take_entries)",
            Value::Names(_) => "names (ferroftp_future_take_names)",
            Value::Bytes(_) => "bytes (ferroftp_future_take_bytes)",
            Value::Quote(..) => "a reply (ferroftp_future_take_quote)",
            Value::Session(_) => "a session (ferroftp_future_take_session)",
            Value::Batch(_) => "a batch result (ferroftp_future_take_batch)",
        }
    }
}

/// The result of an operation as stored for C.
pub(crate) type Outcome = Result<Value, CError>;

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
    outcome: Option<Outcome>,
    /// The value was taken out (the error of a failed operation is never taken).
    taken: bool,
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
    fn complete(&self, outcome: Outcome) {
        let status = match &outcome {
            Ok(_) => S::FERROFTP_STATUS_OK,
            Err(e) => e.status,
        };
        let error = outcome.as_ref().err().cloned();
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

/// Spawns `op` on the library's runtime and hands out its future.
pub(crate) fn spawn<F>(op: F, future_out: Out<*mut ferroftp_future>) -> ferroftp_status
where
    F: Future<Output = Outcome> + Send + 'static,
{
    spawn_gated(|_| op, future_out)
}

/// Spawns the operation `make` builds around the future's [`Gate`] (through which its progress
/// callbacks run) and hands out its future.
pub(crate) fn spawn_gated<F>(
    make: impl FnOnce(Arc<Gate>) -> F,
    future_out: Out<*mut ferroftp_future>,
) -> ferroftp_status
where
    F: Future<Output = Outcome> + Send + 'static,
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
            outcome = op => outcome,
        };
        task_shared.complete(outcome);
    });
    future_out.write(to_boxed_mut_ptr::<ferroftp_future>(FutureHandle {
        shared,
        gate,
    }));
    S::FERROFTP_STATUS_OK
}

/// The status of a finished outcome, raising its error on the calling thread.
fn outcome_status(outcome: &Outcome) -> ferroftp_status {
    match outcome {
        Ok(_) => S::FERROFTP_STATUS_OK,
        Err(e) => e.clone().raise(),
    }
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
            Some(outcome) => outcome_status(outcome),
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
                return outcome_status(outcome);
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
                let (status, error) = match &state.outcome {
                    Some(Err(e)) => (e.status, Some(e.clone())),
                    _ => (S::FERROFTP_STATUS_OK, None),
                };
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

/// Takes the value out of a finished future, checking its type.
pub(crate) fn take<T>(
    future: &FutureHandle,
    out: Out<T>,
    pick: impl FnOnce(Value) -> Result<T, Value>,
) -> ferroftp_status {
    let mut state = future.shared.lock();
    let value = match state.outcome.take() {
        None => {
            return set_error(
                S::FERROFTP_STATUS_PENDING,
                None,
                "the future has not finished: wait for it first",
            );
        }
        Some(Err(e)) => {
            let status = e.clone().raise();
            state.outcome = Some(Err(e));
            return status;
        }
        Some(Ok(value)) => value,
    };
    if state.taken {
        state.outcome = Some(Ok(value));
        return set_error(
            S::FERROFTP_STATUS_ALREADY_TAKEN,
            None,
            "the future's result was already taken",
        );
    }
    match pick(value) {
        Ok(v) => {
            state.outcome = Some(Ok(Value::Unit));
            state.taken = true;
            out.write(v);
            S::FERROFTP_STATUS_OK
        }
        Err(value) => {
            let message = format!("the future's result is {}", value.type_name());
            state.outcome = Some(Ok(value));
            set_error(S::FERROFTP_STATUS_WRONG_RESULT_TYPE, None, message)
        }
    }
}

/// Writes the u64 result (`size`, and the byte counts of `download`, `upload`, `write`) to
/// `*value_out`.
///
/// Like every `ferroftp_future_take_*`: takes the value out of a finished future, once (the future
/// must still be freed); returns `FERROFTP_STATUS_PENDING` before it finished, the operation's
/// error status (last error set) if it failed, `FERROFTP_STATUS_WRONG_RESULT_TYPE` for an operation
/// with another type of result and `FERROFTP_STATUS_ALREADY_TAKEN` on a second take; the
/// out-parameter is written only on `FERROFTP_STATUS_OK`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_u64(
    future: *const ferroftp_future,
    value_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(value_out);
        take(f, out, |v| match v {
            Value::U64(n) => Ok(n),
            other => Err(other),
        })
    }
}

/// Writes the bool result (`exists`) to `*value_out`. See `ferroftp_future_take_u64` for the
/// statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_bool(
    future: *const ferroftp_future,
    value_out: *mut bool,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(value_out);
        take(f, out, |v| match v {
            Value::Bool(b) => Ok(b),
            other => Err(other),
        })
    }
}

/// Writes the time result (`modified`: seconds since the Unix epoch, UTC) to
/// `*unix_seconds_out`. See `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_time(
    future: *const ferroftp_future,
    unix_seconds_out: *mut i64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(unix_seconds_out);
        take(f, out, |v| match v {
            Value::Time(t) => Ok(t),
            other => Err(other),
        })
    }
}

/// Writes the string result (`pwd`) to `*string_out`: a new UTF-8, NUL-terminated string that
/// the caller owns and must free with `ferroftp_string_free`. See `ferroftp_future_take_u64` for
/// the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_string(
    future: *const ferroftp_future,
    string_out: *mut *mut c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(string_out);
        take(f, out, |v| match v {
            Value::String(s) => Ok(s.into_raw()),
            other => Err(other),
        })
    }
}

/// Writes the reply of `quote` to `*code_out` (the FTP reply code) and `*text_out` (the reply
/// text: a new string the caller owns and must free with `ferroftp_string_free`). See
/// `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_quote(
    future: *const ferroftp_future,
    code_out: *mut u16,
    text_out: *mut *mut c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let code = try_out!(code_out);
        let out = try_out!(text_out);
        let mut reply_code = 0;
        let status = take(f, out, |v| match v {
            Value::Quote(c, text) => {
                reply_code = c;
                Ok(text.into_raw())
            }
            other => Err(other),
        });
        if status == S::FERROFTP_STATUS_OK {
            code.write(reply_code);
        }
        status
    }
}

/// Writes the listing (`list`) to `*entries_out`: a new list the caller owns and must free with
/// `ferroftp_entries_free`. See `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_entries(
    future: *const ferroftp_future,
    entries_out: *mut *mut ferroftp_entries,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(entries_out);
        take(f, out, |v| match v {
            Value::Entries(e) => Ok(to_boxed_mut_ptr::<ferroftp_entries>(e)),
            other => Err(other),
        })
    }
}

/// Writes the names (`names`) to `*names_out`: a new list the caller owns and must free with
/// `ferroftp_strings_free`. See `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_names(
    future: *const ferroftp_future,
    names_out: *mut *mut ferroftp_strings,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(names_out);
        take(f, out, |v| match v {
            Value::Names(n) => Ok(to_boxed_mut_ptr::<ferroftp_strings>(n)),
            other => Err(other),
        })
    }
}

/// Writes the file contents (`read`) to `*bytes_out`: a new buffer the caller owns and must free
/// with `ferroftp_bytes_free`. See `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_bytes(
    future: *const ferroftp_future,
    bytes_out: *mut *mut ferroftp_bytes,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(bytes_out);
        take(f, out, |v| match v {
            Value::Bytes(b) => Ok(ferroftp_bytes::into_raw(b)),
            other => Err(other),
        })
    }
}

/// Writes the connected session (`ferroftp_session_connect_start`) to `*session_out`: a new
/// session the caller owns and must free with `ferroftp_session_free`. See
/// `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_session(
    future: *const ferroftp_future,
    session_out: *mut *mut ferroftp_session,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(session_out);
        take(f, out, |v| match v {
            Value::Session(s) => Ok(to_boxed_mut_ptr::<ferroftp_session>(s)),
            other => Err(other),
        })
    }
}
