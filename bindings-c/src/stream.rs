//! Transfers through the caller's callbacks: `ferroftp_session_download_cb` hands each chunk of
//! a remote file to a write callback as it arrives, `ferroftp_session_upload_cb` asks a read
//! callback for the data to send. Each has a blocking and a `_start` form.
//!
//! The core moves the data through an in-memory pipe of `CHUNK` bytes (`tokio::io::duplex`):
//! a download writes into it (`Session::download_to`), an upload reads from it
//! (`Session::upload_from`), so memory stays flat whatever the file's size. The other end is
//! pumped by `pump_download` / `pump_upload`, which call the C callback: in the blocking
//! form on the calling thread (the operation itself runs on the runtime), in the `_start` form
//! on a library thread inside the future's task, through the future's `Gate` (no call after
//! `ferroftp_future_free` has returned). A callback that asks to stop ends the transfer with
//! `FERROFTP_STATUS_CANCELLED`.

use std::ffi::{c_char, c_void};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, DuplexStream, ReadBuf};

use crate::callback::{Gate, flagged, in_callback, in_callback_error};
use crate::error::{CError, ferroftp_status};
use crate::ffi::{Out, try_out, try_ref, try_str};
use crate::future::{ferroftp_future, spawn_gated};
use crate::panic::ffi_panic_boundary;
use crate::session::{CSession, ferroftp_session};

use ferroftp_status as S;

/// The size of the pipe between the core and the callbacks, and of each callback's chunk.
const CHUNK: usize = 256 * 1024;

/// How long a blocking call stopped by its callback waits for the cancelled operation to be
/// dropped (its lock released) before it returns.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// A write callback (`ferroftp_session_download_cb`): `userdata` first, then a chunk of the
/// file, `len` bytes at `data` (1 to 262144 bytes, in the file's order), borrowed for the call
/// only. Return true to go on, false to stop the transfer: the download then ends with
/// `FERROFTP_STATUS_CANCELLED` and no further call is made.
///
/// The blocking call runs it on the calling thread; a `_start` call on a library thread, one
/// call at a time, never after `ferroftp_future_free` has returned. Inside it, blocking ferroftp
/// calls return `FERROFTP_STATUS_IN_CALLBACK` (the transfer holds the session's lock; waiting
/// there could deadlock). In the `_start` form it must be quick (it runs on one of the
/// library's two runtime threads); in the blocking form it may take its time (the server waits,
/// up to its own data timeout). It must not unwind (no C++ exception may leave it).
#[allow(non_camel_case_types)]
pub type ferroftp_write_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, data: *const u8, len: usize) -> bool>;

/// A read callback (`ferroftp_session_upload_cb`): `userdata` first, then a buffer of
/// `capacity` bytes (262144) to fill with the next bytes to send and where to write how many it
/// filled: `*filled_out` = 0 means the end of the data (the upload then completes). Return true
/// to go on, false to stop the upload: it then ends with `FERROFTP_STATUS_CANCELLED` (the
/// server may keep the part it received: `ferroftp_last_error_may_have_taken_effect`). A
/// `*filled_out` above `capacity` is `FERROFTP_STATUS_INVALID_INPUT`.
///
/// The threads it runs on and what it may do are as for `ferroftp_write_callback`.
#[allow(non_camel_case_types)]
pub type ferroftp_read_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        buffer: *mut u8,
        capacity: usize,
        filled_out: *mut usize,
    ) -> bool,
>;

/// The caller's write callback and userdata.
struct WriteFn {
    func: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> bool,
    userdata: *mut c_void,
}

// SAFETY: the C caller promises (documented on `ferroftp_write_callback`) that the callback and
// its userdata may be used from the thread that runs the transfer.
unsafe impl Send for WriteFn {}
// SAFETY: as above; calls are never concurrent and the library never touches `userdata`.
unsafe impl Sync for WriteFn {}

impl WriteFn {
    /// Hands `data` to the callback through `gate`; false when it asked to stop (or the gate is
    /// closed: the future was freed).
    fn call(&self, gate: &Gate, data: &[u8]) -> bool {
        let mut go = false;
        gate.run(|| {
            // SAFETY: the function and userdata the caller gave for this transfer; `data`
            // outlives the call.
            go = flagged(|| unsafe { (self.func)(self.userdata, data.as_ptr(), data.len()) });
        });
        go
    }
}

/// The caller's read callback and userdata.
struct ReadFn {
    func: unsafe extern "C" fn(*mut c_void, *mut u8, usize, *mut usize) -> bool,
    userdata: *mut c_void,
}

// SAFETY: as for `WriteFn` (documented on `ferroftp_read_callback`).
unsafe impl Send for ReadFn {}
// SAFETY: as for `WriteFn`.
unsafe impl Sync for ReadFn {}

/// What a read callback gave.
enum Fed {
    /// This many bytes at the start of the buffer.
    Data(usize),
    /// The end of the data.
    End,
    /// It asked to stop (or the gate is closed).
    Stop,
    /// It reported more bytes than the buffer holds.
    Overflow(usize),
}

impl ReadFn {
    fn call(&self, gate: &Gate, buf: &mut [u8]) -> Fed {
        let mut fed = Fed::Stop;
        gate.run(|| {
            let mut filled = 0usize;
            // SAFETY: the function and userdata the caller gave for this transfer; `buf` and
            // `filled` outlive the call.
            let go = flagged(|| unsafe {
                (self.func)(self.userdata, buf.as_mut_ptr(), buf.len(), &mut filled)
            });
            fed = match (go, filled) {
                (false, _) => Fed::Stop,
                (true, 0) => Fed::End,
                (true, n) if n > buf.len() => Fed::Overflow(n),
                (true, n) => Fed::Data(n),
            };
        });
        fed
    }
}

// ---------------------------------------------------------------------------------------------
// The core's side of the pipe

/// Downloads `remote` from byte `offset` into the pipe, returning the bytes written to it.
async fn fetch(
    s: CSession,
    remote: String,
    offset: u64,
    mut pipe: DuplexStream,
) -> Result<u64, CError> {
    if offset == 0 {
        return Ok(s.download_to(&remote, &mut pipe).await?);
    }
    Ok(s.download_to_at(&remote, offset, &mut pipe).await?)
}

/// The pipe end an upload reads from: its end of file is an error when the read callback
/// stopped (so that a stopped upload is not completed as if the data had ended).
struct Source {
    pipe: DuplexStream,
    stopped: Arc<AtomicBool>,
}

impl AsyncRead for Source {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.pipe).poll_read(cx, buf);
        let ended = matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() == before;
        if ended && buf.remaining() > 0 && self.stopped.load(Ordering::Acquire) {
            return Poll::Ready(Err(std::io::Error::other(
                "the read callback stopped the upload",
            )));
        }
        poll
    }
}

/// Uploads what the pipe delivers to `remote`, returning the bytes sent.
async fn store(s: CSession, remote: String, mut source: Source) -> Result<u64, CError> {
    Ok(s.upload_from(&mut source, &remote).await?)
}

// ---------------------------------------------------------------------------------------------
// The callbacks' side of the pipe

fn stopped(what: &str, n: u64) -> CError {
    CError::new(
        S::FERROFTP_STATUS_CANCELLED,
        format!("the {what} callback stopped the transfer after {n} bytes"),
    )
}

/// Hands what the pipe delivers to the write callback until the download has ended (its
/// result, with the bytes delivered) or the callback stops it (`CANCELLED`; `fetch` is then
/// dropped, which the core allows at any await).
async fn pump_download(
    fetch: impl Future<Output = Result<u64, CError>>,
    mut pipe: DuplexStream,
    cb: &WriteFn,
    gate: &Gate,
) -> Result<u64, CError> {
    let mut buf = vec![0u8; CHUNK];
    let mut delivered = 0u64;
    let mut fetch = std::pin::pin!(fetch);
    let mut fetched: Option<u64> = None;
    loop {
        tokio::select! {
            biased;
            read = pipe.read(&mut buf) => match read {
                // The pipe ends when `fetch` has returned (its end is dropped with it).
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !cb.call(gate, &buf[..n]) {
                        return Err(stopped("write", delivered));
                    }
                    delivered += n as u64;
                }
            },
            // Done (all its data is in the pipe): deliver the rest. Failed: stop here.
            r = &mut fetch, if fetched.is_none() => fetched = Some(r?),
        }
    }
    if fetched.is_none() {
        fetch.await?;
    }
    Ok(delivered)
}

/// Feeds the read callback's data into the pipe until it reports the end (then the upload's
/// result) or stops (then the upload's error as `CANCELLED`, keeping whether it may have taken
/// effect); an upload that fails first ends it with its error.
async fn pump_upload(
    store: impl Future<Output = Result<u64, CError>>,
    pipe: DuplexStream,
    stopped_flag: Arc<AtomicBool>,
    cb: &ReadFn,
    gate: &Gate,
) -> Result<u64, CError> {
    let feed = async move {
        let mut pipe = pipe;
        let mut buf = vec![0u8; CHUNK];
        let mut sent = 0u64;
        loop {
            match cb.call(gate, &mut buf) {
                Fed::Data(n) => {
                    if pipe.write_all(&buf[..n]).await.is_err() {
                        return None; // the upload stopped reading: its result says why
                    }
                    sent += n as u64;
                }
                Fed::End => {
                    let _ = pipe.shutdown().await;
                    return None;
                }
                Fed::Stop => {
                    stopped_flag.store(true, Ordering::Release);
                    return Some(stopped("read", sent));
                }
                Fed::Overflow(n) => {
                    stopped_flag.store(true, Ordering::Release);
                    return Some(CError::new(
                        S::FERROFTP_STATUS_INVALID_INPUT,
                        format!(
                            "the read callback reported {n} bytes filled in a buffer of {}",
                            buf.len()
                        ),
                    ));
                }
            }
        }
        // `pipe` is dropped here: the upload reads the end of the data (an error when stopped).
    };
    let mut store = std::pin::pin!(store);
    tokio::select! {
        biased;
        r = &mut store => r,
        why = feed => {
            let r = store.await;
            match (why, r) {
                (Some(mut why), Err(e)) => {
                    why.may_have_taken_effect = e.may_have_taken_effect;
                    Err(why)
                }
                // Not expected: once stopped, the source fails at its end instead of ending.
                (Some(why), Ok(_)) => Err(why),
                (None, r) => r,
            }
        }
    }
}

/// The result of an operation spawned on the runtime (aborted when dropped).
struct Joined<T>(tokio::task::JoinHandle<Result<T, CError>>);

impl<T> Future for Joined<T> {
    type Output = Result<T, CError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| match joined {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(CError::new(
                S::FERROFTP_STATUS_CANCELLED,
                "the operation was cancelled",
            )),
        })
    }
}

impl<T> Drop for Joined<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The blocking forms: runs `op` on the runtime and `pump` (given the operation's result to
/// come) on the calling thread, so that the callback runs on the caller's thread. When the pump
/// fails (a callback stopped, the operation failed), waits (at most [`STOP_WAIT`]) until the
/// operation has been dropped, so that the session's lock is free when the call returns.
fn pumped<T, P>(
    op: impl Future<Output = Result<T, CError>> + Send + 'static,
    pump: impl FnOnce(Joined<T>) -> P,
) -> Result<u64, CError>
where
    T: Send + 'static,
    P: Future<Output = Result<u64, CError>>,
{
    if in_callback() {
        return Err(in_callback_error());
    }
    // The check every blocking call makes (not on a thread of an async runtime), before the
    // operation starts.
    ferroftp::runtime::block_on(std::future::ready(Ok(())))?;
    let handle = ferroftp::runtime::handle()?;
    let (alive, gone) = tokio::sync::oneshot::channel::<()>();
    let task = handle.spawn(async move {
        let _alive = alive; // dropped with the operation, when it ends or is aborted
        op.await
    });
    let abort = task.abort_handle();
    let result = ferroftp::runtime::block_on(async { Ok(pump(Joined(task)).await) })?;
    if result.is_err() {
        abort.abort();
        let _ = ferroftp::runtime::block_on(async {
            let _ = tokio::time::timeout(STOP_WAIT, gone).await;
            Ok(())
        });
    }
    result
}

// ---------------------------------------------------------------------------------------------
// The C functions

fn write_fn(write: ferroftp_write_callback, userdata: *mut c_void) -> Option<WriteFn> {
    write.map(|func| WriteFn { func, userdata })
}

fn read_fn(read: ferroftp_read_callback, userdata: *mut c_void) -> Option<ReadFn> {
    read.map(|func| ReadFn { func, userdata })
}

fn null_callback(name: &str) -> ferroftp_status {
    CError::new(
        S::FERROFTP_STATUS_NULL_ARGUMENT,
        format!("argument `{name}` is NULL"),
    )
    .raise()
}

/// Downloads the remote file `remote` from byte `offset` (0: the whole file) into the write
/// callback `write`, blocking: each chunk goes to `write(userdata, data, len)` on the calling
/// thread as it arrives, in order, and memory stays flat whatever the file's size. On success
/// writes the number of bytes delivered to `*bytes_out` (unless `bytes_out` is NULL).
///
/// The session's lock is held for the whole transfer, from RETR to the final reply (other calls
/// on the session wait; the last chunks, up to 256 KiB, may reach the callback just after), and
/// the size is checked as by `ferroftp_session_download`. With `offset` > 0 the transfer starts
/// there (REST + RETR, one transfer under the lock as well), and the end is checked against SIZE
/// where the server offers it; an `offset` at or past the end delivers nothing. Nothing is written to local files. Failures as for `ferroftp_session_download`; a
/// callback that returned false stops the transfer with `FERROFTP_STATUS_CANCELLED` (the
/// session stays usable; no more calls follow), and the bytes it accepted are all there is.
/// See `ferroftp_write_callback` for what the callback may do. A NULL `write` is
/// `FERROFTP_STATUS_NULL_ARGUMENT`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_download_cb(
    session: *const ferroftp_session,
    remote: *const c_char,
    offset: u64,
    write: ferroftp_write_callback,
    userdata: *mut c_void,
    bytes_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let Some(cb) = write_fn(write, userdata) else {
            return null_callback("write");
        };
        let out = Out::optional(bytes_out);
        let (ours, theirs) = tokio::io::duplex(CHUNK);
        let op = fetch(s.clone(), remote.to_string(), offset, theirs);
        let gate = Gate::default();
        let result = pumped(op, |join| pump_download(join, ours, &cb, &gate));
        crate::blocking::finish(result, out, |n| n)
    }
}

/// Starts `ferroftp_session_download_cb`; writes its future to `*future_out`, owned by the
/// caller (free it with `ferroftp_future_free`; take the byte count with
/// `ferroftp_future_take_u64`). The callback then runs on a library thread (see
/// `ferroftp_write_callback`); `userdata` must stay valid until the future has finished or been
/// freed (no call is made once `ferroftp_future_free` has returned). Cancelling the future
/// stops the transfer as a callback returning false does.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_download_cb_start(
    session: *const ferroftp_session,
    remote: *const c_char,
    offset: u64,
    write: ferroftp_write_callback,
    userdata: *mut c_void,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let Some(cb) = write_fn(write, userdata) else {
            return null_callback("write");
        };
        let out = try_out!(future_out);
        let (s, remote) = (s.clone(), remote.to_string());
        spawn_gated(
            move |gate| async move {
                let (ours, theirs) = tokio::io::duplex(CHUNK);
                pump_download(fetch(s, remote, offset, theirs), ours, &cb, &gate).await
            },
            out,
        )
    }
}

/// Uploads to the remote file `remote` (STOR) the data the read callback `read` gives,
/// blocking: `read(userdata, buffer, capacity, &filled)` is called on the calling thread until
/// it reports 0 bytes (the end), and memory stays flat whatever the size. Done means the server
/// confirmed the transfer (and SIZE, where the server offers it, agrees); writes the bytes sent
/// to `*bytes_out` (unless `bytes_out` is NULL).
///
/// The session's lock is held for the whole transfer. Failures as for
/// `ferroftp_session_upload` (`ferroftp_last_error_may_have_taken_effect` says whether the
/// server may have kept something); a callback that returned false stops the upload with
/// `FERROFTP_STATUS_CANCELLED` (the session stays usable; the server may keep the part it
/// received, FTP has no transactions). See `ferroftp_read_callback`. A NULL `read` is
/// `FERROFTP_STATUS_NULL_ARGUMENT`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_upload_cb(
    session: *const ferroftp_session,
    read: ferroftp_read_callback,
    userdata: *mut c_void,
    remote: *const c_char,
    bytes_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let Some(cb) = read_fn(read, userdata) else {
            return null_callback("read");
        };
        let remote = try_str!(remote);
        let out = Out::optional(bytes_out);
        let (ours, theirs) = tokio::io::duplex(CHUNK);
        let flag = Arc::new(AtomicBool::new(false));
        let source = Source { pipe: theirs, stopped: Arc::clone(&flag) };
        let op = store(s.clone(), remote.to_string(), source);
        let gate = Gate::default();
        let result = pumped(op, |join| pump_upload(join, ours, flag, &cb, &gate));
        crate::blocking::finish(result, out, |n| n)
    }
}

/// Starts `ferroftp_session_upload_cb`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the byte count with `ferroftp_future_take_u64`).
/// The callback then runs on a library thread (see `ferroftp_read_callback`); `userdata` must
/// stay valid until the future has finished or been freed. Cancelling the future stops the
/// upload (the server may keep the part it received).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_upload_cb_start(
    session: *const ferroftp_session,
    read: ferroftp_read_callback,
    userdata: *mut c_void,
    remote: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let Some(cb) = read_fn(read, userdata) else {
            return null_callback("read");
        };
        let remote = try_str!(remote);
        let out = try_out!(future_out);
        let (s, remote) = (s.clone(), remote.to_string());
        spawn_gated(
            move |gate| async move {
                let (ours, theirs) = tokio::io::duplex(CHUNK);
                let flag = Arc::new(AtomicBool::new(false));
                let source = Source { pipe: theirs, stopped: Arc::clone(&flag) };
                pump_upload(store(s, remote, source), ours, flag, &cb, &gate).await
            },
            out,
        )
    }
}
