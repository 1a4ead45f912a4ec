//! `ferroftp_pool`: several sessions to one server for batch transfers (the core's `Pool`), and
//! `ferroftp_batch_result`, what a batch did. Every batch call exists as a blocking call and as a
//! `_start` call returning a `ferroftp_future` (take the result with
//! `ferroftp_future_take_batch`); both forms share one definition of the work (`op_*`).

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ferroftp::{BatchOptions, BatchProgress, BatchResult, Pool, PoolOptions};

use crate::blocking::{block, finish, status};
use crate::callback::{Gate, flagged};
use crate::error::{CError, ferroftp_status, set_error};
use crate::ffi::{Castable, free_box, str_from, to_boxed_mut_ptr, try_out, try_ref, try_str};
use crate::future::{FutureResult, ferroftp_future, spawn, spawn_gated, take};
use crate::options::{self, ferroftp_options};
use crate::panic::ffi_panic_boundary;
use crate::server::ferroftp_server;
use crate::session::{CSession, ferroftp_session, server_config};

use ferroftp_status as S;

/// Up to `max_sessions` sessions to one server, opened lazily, reused, health-checked, and
/// fewer when the server says it allows fewer connections ("421 too many": the pool lowers its
/// limit and carries on, raising it again later).
///
/// Behind the pointer: a Rust `Box<ferroftp::Pool>`. Made by `ferroftp_pool_new`; to avoid a
/// leak it must eventually be freed with `ferroftp_pool_free`. Every call takes a
/// `const ferroftp_pool *` and may be made from any number of threads at once (batches running
/// at the same time share the pool's sessions). Futures started on a pool keep working after it
/// is freed (they hold their own reference to it).
pub struct ferroftp_pool {
    _private: [u8; 0],
}

impl Castable for ferroftp_pool {
    type RustType = Pool;
}

/// The progress of a batch, as passed to a `ferroftp_batch_progress_callback`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferroftp_batch_progress {
    /// Files finished so far (successfully or not).
    pub files_done: usize,
    /// Files in the batch.
    pub files_total: usize,
    /// Bytes transferred so far (never decreases, also across retries).
    pub bytes_done: u64,
    /// Bytes in the batch when `bytes_total_known`, else 0.
    pub bytes_total: u64,
    /// Whether the size of every file of the batch is known.
    pub bytes_total_known: bool,
}

/// A batch progress callback: `userdata` first, then the progress (borrowed for the call only).
///
/// It runs on library threads, after every chunk and every finished file: calls may come from
/// different threads but never at the same time (the library serializes them), and the counts
/// they report never decrease. `bytes_total_known` is false for `ferroftp_pool_download_many`
/// (the remote sizes are not asked for); uploads and trees know every size. It must be quick and must not block: a blocking ferroftp call made inside
/// it returns `FERROFTP_STATUS_IN_CALLBACK`, and it must not wait for other futures. It must not
/// unwind (no C++ exception may leave it).
#[allow(non_camel_case_types)]
pub type ferroftp_batch_progress_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, progress: *const ferroftp_batch_progress)>;

/// Options of the batch calls. A plain struct owned by the caller: fill it with
/// `ferroftp_batch_options_init` (which writes every default), change the fields you need, and
/// pass a pointer (NULL for the defaults); the call copies it. Always initialise it with
/// `ferroftp_batch_options_init`: fields may be added in later versions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferroftp_batch_options {
    /// Stop starting new files after the first failure (default false: one failing file does not
    /// stop the others; failures are listed in the result).
    pub stop_on_error: bool,
    /// Trees only: skip files whose size (and time, where known) already match (default false);
    /// they are listed as skipped in the result.
    pub skip_existing: bool,
    /// Called with the batch's progress, or NULL (default). See
    /// `ferroftp_batch_progress_callback`.
    pub progress: ferroftp_batch_progress_callback,
    /// Passed to `progress` untouched (default NULL). It must stay valid until the blocking call
    /// returns, or until the future has finished or been freed (`ferroftp_future_free` stops
    /// the progress calls before it returns).
    pub userdata: *mut c_void,
    /// A `ferroftp_checksum` value for every file (default `FERROFTP_CHECKSUM_OFF`; see
    /// `ferroftp_transfer_options.checksum`): a file whose checksum does not match fails with
    /// `FERROFTP_STATUS_INTEGRITY`. Another number makes the call return
    /// `FERROFTP_STATUS_INVALID_INPUT` before anything starts.
    pub checksum: u32,
}

impl Default for ferroftp_batch_options {
    fn default() -> Self {
        let d = BatchOptions::default();
        Self {
            stop_on_error: d.stop_on_error,
            skip_existing: d.skip_existing,
            progress: None,
            userdata: std::ptr::null_mut(),
            checksum: crate::transfer::ferroftp_checksum::FERROFTP_CHECKSUM_OFF as u32,
        }
    }
}

/// The caller's batch progress function and its userdata, callable from library threads.
#[derive(Clone)]
struct BatchProgressFn {
    func: unsafe extern "C" fn(*mut c_void, *const ferroftp_batch_progress),
    userdata: *mut c_void,
    /// Held during each call: the C function is never run twice at once.
    serial: Arc<Mutex<()>>,
    /// Closed when the future is freed (never for a blocking call).
    gate: Arc<Gate>,
}

// SAFETY: the C caller promises (documented on `ferroftp_batch_progress_callback` and the
// `userdata` field) that the function and its userdata may be used from library threads.
unsafe impl Send for BatchProgressFn {}
// SAFETY: as above; the library never touches `userdata` itself.
unsafe impl Sync for BatchProgressFn {}

impl BatchProgressFn {
    fn call(&self, p: BatchProgress) {
        let c = ferroftp_batch_progress {
            files_done: p.files_done,
            files_total: p.files_total,
            bytes_done: p.bytes_done,
            bytes_total: p.bytes_total.unwrap_or(0),
            bytes_total_known: p.bytes_total.is_some(),
        };
        self.gate.run(|| {
            let _serial = self.serial.lock().unwrap_or_else(|p| p.into_inner());
            // SAFETY: a function pointer and userdata the C caller supplied for this batch, whose
            // future (if any) has not been freed (the gate is open); `c` outlives the call.
            flagged(|| unsafe { (self.func)(self.userdata, &c) });
        });
    }
}

/// The caller's batch options (NULL: the defaults), copied.
///
/// # Safety
/// `options` must be NULL or point to a valid `ferroftp_batch_options`.
unsafe fn read(options: *const ferroftp_batch_options) -> ferroftp_batch_options {
    // SAFETY: see the function's contract.
    unsafe { options.as_ref() }.copied().unwrap_or_default()
}

/// The caller's options (the defaults for NULL), with an unknown `checksum` refused.
///
/// # Safety
/// As [`read`].
unsafe fn checked(
    options: *const ferroftp_batch_options,
) -> Result<ferroftp_batch_options, crate::error::CError> {
    // SAFETY: passed on from the caller.
    let o = unsafe { read(options) };
    crate::transfer::checksum_of(o.checksum)?;
    Ok(o)
}

/// The core's batch options from the caller's (already [`checked`]), with progress calls
/// through `gate`.
fn batch_options(o: &ferroftp_batch_options, gate: Arc<Gate>) -> BatchOptions {
    let mut b = BatchOptions::default()
        .stop_on_error(o.stop_on_error)
        .skip_existing(o.skip_existing)
        .checksum(crate::transfer::checksum_of(o.checksum).unwrap_or_default());
    if let Some(func) = o.progress {
        let p = BatchProgressFn {
            func,
            userdata: o.userdata,
            serial: Arc::new(Mutex::new(())),
            gate,
        };
        b = b.progress(move |progress| p.call(progress));
    }
    b
}

/// One failed file of a batch, converted for C.
struct CFailure {
    path: CString,
    status: ferroftp_status,
    code: c_int,
    message: CString,
}

/// What a batch did, with its strings already NUL-terminated.
pub(crate) struct CBatch {
    ok: Vec<(CString, u64)>,
    failed: Vec<CFailure>,
    skipped: Vec<CString>,
}

/// An error message as a C string (a NUL byte in it, which no server should send, becomes U+FFFD).
fn message_string(message: &str) -> CString {
    CString::new(message.replace('\0', "\u{fffd}")).unwrap_or_default()
}

impl CBatch {
    fn new(r: BatchResult) -> Result<Self, CError> {
        let path = |p: String| crate::values::c_string(p, "path");
        Ok(Self {
            ok: r
                .ok
                .into_iter()
                .map(|(p, n)| Ok((path(p)?, n)))
                .collect::<Result<_, CError>>()?,
            failed: r
                .failed
                .into_iter()
                .map(|(p, e)| {
                    let e = CError::from(e);
                    Ok(CFailure {
                        path: path(p)?,
                        status: e.status,
                        code: e.code.map_or(0, c_int::from),
                        message: message_string(&e.message),
                    })
                })
                .collect::<Result<_, CError>>()?,
            skipped: r
                .skipped
                .into_iter()
                .map(path)
                .collect::<Result<_, CError>>()?,
        })
    }
}

/// What a batch did: the files transferred (remote path and bytes, sorted by path), the files
/// that failed (remote path, status, FTP reply code, message) and the files skipped (trees with
/// `skip_existing`).
///
/// Behind the pointer: a Rust `Box` holding those three lists with their strings already
/// NUL-terminated. Made by a blocking `ferroftp_pool_*` batch call or
/// `ferroftp_future_take_batch`; to avoid a leak it must eventually be freed with
/// `ferroftp_batch_result_free`. The strings its accessors return are owned by it and stay
/// valid until it is freed. It is immutable: any number of threads may read it at once.
pub struct ferroftp_batch_result {
    _private: [u8; 0],
}

impl Castable for ferroftp_batch_result {
    type RustType = CBatch;
}

impl FutureResult for CBatch {
    fn what(&self) -> &'static str {
        "a batch result (ferroftp_future_take_batch)"
    }
}

/// Reads `count` C strings from a caller array (NULL only with `count == 0`).
///
/// # Safety
/// `array` must be NULL or point to `count` pointers, each NULL or a NUL-terminated string.
unsafe fn strings_from(
    array: *const *const c_char,
    count: usize,
    name: &str,
) -> Result<Vec<String>, CError> {
    if array.is_null() {
        if count == 0 {
            return Ok(Vec::new());
        }
        return Err(CError::new(
            S::FERROFTP_STATUS_NULL_ARGUMENT,
            format!("argument `{name}` is NULL but `count` is {count}"),
        ));
    }
    // SAFETY: see the function's contract.
    let items = unsafe { std::slice::from_raw_parts(array, count) };
    items
        .iter()
        .enumerate()
        // SAFETY: see the function's contract.
        .map(|(i, p)| match unsafe { str_from(*p) } {
            Some(Ok(s)) => Ok(s.to_string()),
            Some(Err(())) => Err(CError::new(
                S::FERROFTP_STATUS_INVALID_UTF8,
                format!("`{name}[{i}]` is not valid UTF-8"),
            )),
            None => Err(CError::new(
                S::FERROFTP_STATUS_NULL_ARGUMENT,
                format!("`{name}[{i}]` is NULL"),
            )),
        })
        .collect()
}

/// Two parallel caller arrays as pairs.
///
/// # Safety
/// As [`strings_from`] for both arrays.
unsafe fn pairs(
    first: *const *const c_char,
    first_name: &str,
    second: *const *const c_char,
    second_name: &str,
    count: usize,
) -> Result<Vec<(String, String)>, CError> {
    // SAFETY: see the function's contract.
    let a = unsafe { strings_from(first, count, first_name) }?;
    // SAFETY: see the function's contract.
    let b = unsafe { strings_from(second, count, second_name) }?;
    Ok(a.into_iter().zip(b).collect())
}

// ---------------------------------------------------------------------------------------------
// The work of each operation, shared by both forms.

async fn op_download_many(
    pool: Pool,
    items: Vec<(String, String)>,
    o: BatchOptions,
) -> Result<CBatch, CError> {
    let items = items
        .into_iter()
        .map(|(remote, local)| (remote, PathBuf::from(local)))
        .collect();
    CBatch::new(pool.download_many(items, o).await)
}

async fn op_upload_many(
    pool: Pool,
    items: Vec<(String, String)>,
    o: BatchOptions,
) -> Result<CBatch, CError> {
    let items = items
        .into_iter()
        .map(|(local, remote)| (PathBuf::from(local), remote))
        .collect();
    CBatch::new(pool.upload_many(items, o).await)
}

async fn op_download_tree(
    pool: Pool,
    remote: String,
    local: String,
    o: BatchOptions,
) -> Result<CBatch, CError> {
    CBatch::new(pool.download_tree(&remote, local, o).await?)
}

async fn op_upload_tree(
    pool: Pool,
    local: String,
    remote: String,
    o: BatchOptions,
) -> Result<CBatch, CError> {
    CBatch::new(pool.upload_tree(local, &remote, o).await?)
}

async fn op_session(pool: Pool) -> Result<CSession, CError> {
    Ok(CSession::pooled(pool.session().await?))
}

async fn op_close(pool: Pool) -> Result<(), CError> {
    pool.close().await;
    Ok(())
}

/// A batch result handed to C (the blocking calls' conversion).
fn into_result(b: CBatch) -> *mut ferroftp_batch_result {
    to_boxed_mut_ptr::<ferroftp_batch_result>(b)
}

// ---------------------------------------------------------------------------------------------
// new / close / free, options

/// Makes a pool of up to `max_sessions` (≥ 1) sessions to the server of `url` (as for
/// `ferroftp_session_connect`) with `options` (NULL for the defaults) for each session, and
/// writes it to `*pool_out`. Nothing is opened yet: sessions are connected when a batch needs
/// them, so connection errors show up in the batches (as failures of their files, or as the
/// status of a tree call).
///
/// The caller owns the pool and must free it with `ferroftp_pool_free`. `url` and `options` are
/// only borrowed for the call. Failures: `FERROFTP_STATUS_INVALID_INPUT` (bad URL or option
/// value, `max_sessions` 0), `FERROFTP_STATUS_INVALID_UTF8`, `FERROFTP_STATUS_NULL_ARGUMENT`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_new(
    url: *const c_char,
    options: *const ferroftp_options,
    max_sessions: usize,
    pool_out: *mut *mut ferroftp_pool,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let url = try_str!(url);
        let out = try_out!(pool_out);
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        new_pool(unsafe { options::config(url, options) }, max_sessions, out)
    }
}

/// `ferroftp_pool_new` for a server given as a `ferroftp_server` (host, port, user, password,
/// account, directory, without percent-encoding) instead of a URL; every session of the pool
/// logs in with it. `server` (with its strings) and `options` are only borrowed for the call.
/// The caller owns the pool and must free it with `ferroftp_pool_free`. Failures as for
/// `ferroftp_pool_new` and `ferroftp_session_connect_server`'s argument errors.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_new_server(
    server: *const ferroftp_server,
    options: *const ferroftp_options,
    max_sessions: usize,
    pool_out: *mut *mut ferroftp_pool,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(pool_out);
        // SAFETY: the caller promises valid (or NULL) structs.
        new_pool(unsafe { server_config(server, options) }, max_sessions, out)
    }
}

/// A new pool handed out through `out`, or the error raised.
fn new_pool(
    config: Result<ferroftp::Config, CError>,
    max_sessions: usize,
    out: crate::ffi::Out<*mut ferroftp_pool>,
) -> ferroftp_status {
    let config = match config {
        Ok(c) => c,
        Err(e) => return e.raise(),
    };
    let mut pool_options = PoolOptions::default();
    pool_options.max_sessions = max_sessions;
    match Pool::with_options(config, pool_options) {
        Ok(pool) => {
            out.write(to_boxed_mut_ptr::<ferroftp_pool>(pool));
            S::FERROFTP_STATUS_OK
        }
        Err(e) => crate::error::raise(e),
    }
}

/// Borrows one of the pool's sessions (an idle one, checked with NOOP when it has been idle for
/// a while, or a new one while the pool is below its limit; otherwise waits, first come first
/// served, until one is handed back), blocking, and writes it to `*session_out`.
///
/// The result is an ordinary `ferroftp_session`: every session function works on it, from any
/// number of threads at once, for as many operations as you like; nobody else gets it
/// meanwhile. The caller owns it and must free it with `ferroftp_session_free`, which hands it
/// back to the pool (once the futures, readers and writers started on it are done as well): do
/// not keep a pool's sessions borrowed longer than needed, batches on the same pool wait for
/// them. `ferroftp_session_close` on it closes its connection (the pool then drops it when it
/// comes back). Failures: connection errors when no session can be opened
/// (`FERROFTP_STATUS_CONNECT`, `FERROFTP_STATUS_AUTH`, ...), `FERROFTP_STATUS_CLOSED` after
/// `ferroftp_pool_close`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_session(
    pool: *const ferroftp_pool,
    session_out: *mut *mut ferroftp_session,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let p = try_ref!(pool);
        let out = try_out!(session_out);
        finish(block(op_session(p.clone())), Some(out), to_boxed_mut_ptr::<ferroftp_session>)
    }
}

/// Starts `ferroftp_pool_session`; writes its future to `*future_out`, owned by the caller (free
/// it with `ferroftp_future_free`; take the session with `ferroftp_future_take_session`, and
/// free that with `ferroftp_session_free` to hand it back). A session borrowed by a future that
/// is freed before its session was taken goes straight back to the pool.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_session_start(
    pool: *const ferroftp_pool,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let p = try_ref!(pool);
        let out = try_out!(future_out);
        spawn(op_session(p.clone()), out)
    }
}

/// Closes the pool, blocking until done: its idle sessions say goodbye (QUIT), sessions lent
/// to running batches are closed when they come back, and later batches fail each file with
/// `FERROFTP_STATUS_CLOSED`. Call `ferroftp_pool_free` afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_close(pool: *const ferroftp_pool) -> ferroftp_status {
    ffi_panic_boundary! {
        let p = try_ref!(pool);
        status(block(op_close(p.clone())))
    }
}

/// Frees a pool; NULL is a no-op. Does not block and sends nothing (call `ferroftp_pool_close`
/// first for a polite QUIT on each idle session). Batches still running on futures keep their
/// own reference and finish normally. `pool` must not be used again; no other thread may be
/// using it at the same time.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_free(pool: *mut ferroftp_pool) {
    ffi_panic_boundary! {
        // SAFETY: the caller hands back a pointer this library made, once.
        unsafe { free_box(pool) }
    }
}

/// Fills `*options_out` with the defaults (see each field of `ferroftp_batch_options`): no
/// stop on error, no skipping, no progress callback.
///
/// `options_out` points to caller-owned memory; nothing is allocated.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_batch_options_init(
    options_out: *mut ferroftp_batch_options,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(options_out);
        out.write(ferroftp_batch_options::default());
        S::FERROFTP_STATUS_OK
    }
}

// ---------------------------------------------------------------------------------------------
// Batches

/// Downloads `count` files in parallel over the pool's sessions, blocking until all are done:
/// `remotes[i]` to the local file `locals[i]` (two parallel arrays of `count` UTF-8 strings,
/// NULL only when `count` is 0). Writes what happened to `*result_out`, owned by the caller (free
/// it with `ferroftp_batch_result_free`).
///
/// Returns `FERROFTP_STATUS_OK` when the batch ran, also when some files failed: each failure
/// (for example `FERROFTP_STATUS_NOT_FOUND` for a missing remote file) is in the result, and the
/// other files are still transferred (unless `stop_on_error`). Each file lands as with
/// `ferroftp_session_download` (a temporary file renamed into place). The arrays and `options`
/// are only borrowed for the call.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_download_many(
    pool: *const ferroftp_pool,
    remotes: *const *const c_char,
    locals: *const *const c_char,
    count: usize,
    options: *const ferroftp_batch_options,
    result_out: *mut *mut ferroftp_batch_result,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let p = try_ref!(pool);
        let out = try_out!(result_out);
        // SAFETY: the caller promises two arrays of `count` strings (or NULL with count 0).
        let items = match unsafe { pairs(remotes, "remotes", locals, "locals", count) } {
            Ok(items) => items,
            Err(e) => return e.raise(),
        };
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = match unsafe { checked(options) } {
            Ok(o) => batch_options(&o, Arc::default()),
            Err(e) => return e.raise(),
        };
        finish(block(op_download_many(p.clone(), items, o)), Some(out), into_result)
    }
}

/// Starts `ferroftp_pool_download_many`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the result with `ferroftp_future_take_batch`). The
/// arrays and `options` are copied before this call returns; the options' `userdata` must stay
/// valid until the future has finished or been freed. Cancelling the future stops the batch (files being
/// transferred are cancelled as single transfers are).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_download_many_start(
    pool: *const ferroftp_pool,
    remotes: *const *const c_char,
    locals: *const *const c_char,
    count: usize,
    options: *const ferroftp_batch_options,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let p = try_ref!(pool);
        let out = try_out!(future_out);
        // SAFETY: the caller promises two arrays of `count` strings (or NULL with count 0).
        let items = match unsafe { pairs(remotes, "remotes", locals, "locals", count) } {
            Ok(items) => items,
            Err(e) => return e.raise(),
        };
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = match unsafe { checked(options) } {
            Ok(o) => o,
            Err(e) => return e.raise(),
        };
        let p = p.clone();
        spawn_gated(|gate| op_download_many(p, items, batch_options(&o, gate)), out)
    }
}

/// Uploads `count` files in parallel over the pool's sessions, blocking until all are done: the
/// local file `locals[i]` to `remotes[i]` (two parallel arrays of `count` UTF-8 strings, NULL
/// only when `count` is 0). Writes what happened to `*result_out`, owned by the caller (free it
/// with `ferroftp_batch_result_free`). Statuses as for `ferroftp_pool_download_many`; a
/// whole-file upload that failed on a broken connection is sent again once.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_upload_many(
    pool: *const ferroftp_pool,
    locals: *const *const c_char,
    remotes: *const *const c_char,
    count: usize,
    options: *const ferroftp_batch_options,
    result_out: *mut *mut ferroftp_batch_result,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let p = try_ref!(pool);
        let out = try_out!(result_out);
        // SAFETY: the caller promises two arrays of `count` strings (or NULL with count 0).
        let items = match unsafe { pairs(locals, "locals", remotes, "remotes", count) } {
            Ok(items) => items,
            Err(e) => return e.raise(),
        };
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = match unsafe { checked(options) } {
            Ok(o) => batch_options(&o, Arc::default()),
            Err(e) => return e.raise(),
        };
        finish(block(op_upload_many(p.clone(), items, o)), Some(out), into_result)
    }
}

/// Starts `ferroftp_pool_upload_many`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the result with `ferroftp_future_take_batch`). The
/// arrays and `options` are copied before this call returns; the options' `userdata` must stay
/// valid until the future has finished or been freed.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_upload_many_start(
    pool: *const ferroftp_pool,
    locals: *const *const c_char,
    remotes: *const *const c_char,
    count: usize,
    options: *const ferroftp_batch_options,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let p = try_ref!(pool);
        let out = try_out!(future_out);
        // SAFETY: the caller promises two arrays of `count` strings (or NULL with count 0).
        let items = match unsafe { pairs(locals, "locals", remotes, "remotes", count) } {
            Ok(items) => items,
            Err(e) => return e.raise(),
        };
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = match unsafe { checked(options) } {
            Ok(o) => o,
            Err(e) => return e.raise(),
        };
        let p = p.clone();
        spawn_gated(|gate| op_upload_many(p, items, batch_options(&o, gate)), out)
    }
}

/// Mirrors the remote directory `remote` into the local directory `local` (created as needed,
/// with its subdirectories), blocking until done; writes what happened to `*result_out`, owned by
/// the caller (free it with `ferroftp_batch_result_free`).
///
/// Directories are listed in parallel over the pool's sessions while files already move, so
/// the progress totals grow as the walk finds files. Fails with a status (and no result) when the
/// top directory cannot be listed or `local` cannot be created; failures of single files and of
/// subdirectories (which cannot be listed, or whose local directory cannot be created) are in the
/// result instead, under their remote paths.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_download_tree(
    pool: *const ferroftp_pool,
    remote: *const c_char,
    local: *const c_char,
    options: *const ferroftp_batch_options,
    result_out: *mut *mut ferroftp_batch_result,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let p = try_ref!(pool);
        let remote = try_str!(remote);
        let local = try_str!(local);
        let out = try_out!(result_out);
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = match unsafe { checked(options) } {
            Ok(o) => batch_options(&o, Arc::default()),
            Err(e) => return e.raise(),
        };
        finish(
            block(op_download_tree(p.clone(), remote.into(), local.into(), o)),
            Some(out),
            into_result,
        )
    }
}

/// Starts `ferroftp_pool_download_tree`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the result with `ferroftp_future_take_batch`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_download_tree_start(
    pool: *const ferroftp_pool,
    remote: *const c_char,
    local: *const c_char,
    options: *const ferroftp_batch_options,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let p = try_ref!(pool);
        let remote = try_str!(remote);
        let local = try_str!(local);
        let out = try_out!(future_out);
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = match unsafe { checked(options) } {
            Ok(o) => o,
            Err(e) => return e.raise(),
        };
        let p = p.clone();
        spawn_gated(|gate| op_download_tree(p, remote.into(), local.into(), batch_options(&o, gate)), out)
    }
}

/// Mirrors the local directory `local` into the remote directory `remote` (created as needed,
/// with its subdirectories), blocking until done; writes what happened to `*result_out`, owned by
/// the caller (free it with `ferroftp_batch_result_free`).
///
/// Remote directories are made in parallel over the pool's sessions, each before its files,
/// while files already move. Fails with a status (and no result) when the local top directory
/// cannot be read or the remote one cannot be made; failures of single files and of
/// subdirectories are in the result instead, under their remote paths.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_upload_tree(
    pool: *const ferroftp_pool,
    local: *const c_char,
    remote: *const c_char,
    options: *const ferroftp_batch_options,
    result_out: *mut *mut ferroftp_batch_result,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let p = try_ref!(pool);
        let local = try_str!(local);
        let remote = try_str!(remote);
        let out = try_out!(result_out);
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = match unsafe { checked(options) } {
            Ok(o) => batch_options(&o, Arc::default()),
            Err(e) => return e.raise(),
        };
        finish(
            block(op_upload_tree(p.clone(), local.into(), remote.into(), o)),
            Some(out),
            into_result,
        )
    }
}

/// Starts `ferroftp_pool_upload_tree`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the result with `ferroftp_future_take_batch`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_pool_upload_tree_start(
    pool: *const ferroftp_pool,
    local: *const c_char,
    remote: *const c_char,
    options: *const ferroftp_batch_options,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let p = try_ref!(pool);
        let local = try_str!(local);
        let remote = try_str!(remote);
        let out = try_out!(future_out);
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = match unsafe { checked(options) } {
            Ok(o) => o,
            Err(e) => return e.raise(),
        };
        let p = p.clone();
        spawn_gated(|gate| op_upload_tree(p, local.into(), remote.into(), batch_options(&o, gate)), out)
    }
}

/// Writes the batch result of a finished `ferroftp_pool_*_start` future to `*result_out`: a new
/// result the caller owns and must free with `ferroftp_batch_result_free`. See
/// `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_batch(
    future: *const ferroftp_future,
    result_out: *mut *mut ferroftp_batch_result,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(result_out);
        take(f, out, into_result)
    }
}

// ---------------------------------------------------------------------------------------------
// Batch results

fn out_of_range(what: &str, index: usize, len: usize) -> ferroftp_status {
    set_error(
        S::FERROFTP_STATUS_OUT_OF_RANGE,
        None,
        format!("{what} index {index} is out of range (the result has {len})"),
    )
}

/// Writes the number of files transferred to `*count_out`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_batch_result_ok_count(
    result: *const ferroftp_batch_result,
    count_out: *mut usize,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let r = try_ref!(result);
        let out = try_out!(count_out);
        out.write(r.ok.len());
        S::FERROFTP_STATUS_OK
    }
}

/// Writes the number of files that failed to `*count_out`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_batch_result_failed_count(
    result: *const ferroftp_batch_result,
    count_out: *mut usize,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let r = try_ref!(result);
        let out = try_out!(count_out);
        out.write(r.failed.len());
        S::FERROFTP_STATUS_OK
    }
}

/// Writes the number of files skipped to `*count_out`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_batch_result_skipped_count(
    result: *const ferroftp_batch_result,
    count_out: *mut usize,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let r = try_ref!(result);
        let out = try_out!(count_out);
        out.write(r.skipped.len());
        S::FERROFTP_STATUS_OK
    }
}

/// Writes transferred file `index` (sorted by remote path): its remote path to `*path_out` and
/// its byte count to `*bytes_out`.
///
/// The string is owned by `result` and valid until `ferroftp_batch_result_free`: do not free it.
/// Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index` is not below the ok count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_batch_result_ok(
    result: *const ferroftp_batch_result,
    index: usize,
    path_out: *mut *const c_char,
    bytes_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let r = try_ref!(result);
        let path = try_out!(path_out);
        let bytes = try_out!(bytes_out);
        let Some((p, n)) = r.ok.get(index) else {
            return out_of_range("ok", index, r.ok.len());
        };
        path.write(p.as_ptr());
        bytes.write(*n);
        S::FERROFTP_STATUS_OK
    }
}

/// Writes failed file `index`: its remote path to `*path_out`, the status of its error to
/// `*status_out` (for example `FERROFTP_STATUS_NOT_FOUND`), the FTP reply code to `*code_out`
/// (0 when the error was not a server reply) and the error message to `*message_out`.
///
/// The strings are owned by `result` and valid until `ferroftp_batch_result_free`: do not free
/// them. This does not change the thread's last error. Returns `FERROFTP_STATUS_OUT_OF_RANGE`
/// when `index` is not below the failed count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_batch_result_failed(
    result: *const ferroftp_batch_result,
    index: usize,
    path_out: *mut *const c_char,
    status_out: *mut ferroftp_status,
    code_out: *mut c_int,
    message_out: *mut *const c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let r = try_ref!(result);
        let path = try_out!(path_out);
        let status = try_out!(status_out);
        let code = try_out!(code_out);
        let message = try_out!(message_out);
        let Some(f) = r.failed.get(index) else {
            return out_of_range("failed", index, r.failed.len());
        };
        path.write(f.path.as_ptr());
        status.write(f.status);
        code.write(f.code);
        message.write(f.message.as_ptr());
        S::FERROFTP_STATUS_OK
    }
}

/// Writes skipped file `index`'s remote path to `*path_out`.
///
/// The string is owned by `result` and valid until `ferroftp_batch_result_free`: do not free it.
/// Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index` is not below the skipped count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_batch_result_skipped(
    result: *const ferroftp_batch_result,
    index: usize,
    path_out: *mut *const c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let r = try_ref!(result);
        let path = try_out!(path_out);
        let Some(p) = r.skipped.get(index) else {
            return out_of_range("skipped", index, r.skipped.len());
        };
        path.write(p.as_ptr());
        S::FERROFTP_STATUS_OK
    }
}

/// Frees a batch result and its strings; NULL is a no-op. `result` must not be used again.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_batch_result_free(result: *mut ferroftp_batch_result) {
    ffi_panic_boundary! {
        // SAFETY: the caller hands back a pointer this library made, once.
        unsafe { free_box(result) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_arrays_are_checked_element_by_element() {
        let a = c"/a";
        let bad = [0xffu8 as c_char, 0];
        let good = [a.as_ptr(), a.as_ptr()];
        assert_eq!(
            unsafe { strings_from(good.as_ptr(), 2, "xs") }.unwrap(),
            vec!["/a", "/a"]
        );
        assert!(
            unsafe { strings_from(std::ptr::null(), 0, "xs") }
                .unwrap()
                .is_empty()
        );
        let e = unsafe { strings_from(std::ptr::null(), 1, "xs") }.unwrap_err();
        assert_eq!(e.status, S::FERROFTP_STATUS_NULL_ARGUMENT);
        let with_null = [a.as_ptr(), std::ptr::null()];
        let e = unsafe { strings_from(with_null.as_ptr(), 2, "xs") }.unwrap_err();
        assert_eq!(e.status, S::FERROFTP_STATUS_NULL_ARGUMENT);
        assert!(e.message.contains("xs[1]"));
        let with_bad = [bad.as_ptr(), a.as_ptr()];
        let e = unsafe { strings_from(with_bad.as_ptr(), 2, "xs") }.unwrap_err();
        assert_eq!(e.status, S::FERROFTP_STATUS_INVALID_UTF8);
        assert!(e.message.contains("xs[0]"));
    }

    #[test]
    fn a_nul_in_a_message_does_not_lose_it() {
        assert_eq!(message_string("a\0b").to_str().unwrap(), "a\u{fffd}b");
    }

    #[test]
    fn defaults_match_the_core() {
        let o = ferroftp_batch_options::default();
        assert!(!o.stop_on_error && !o.skip_existing && o.progress.is_none());
        assert!(o.userdata.is_null());
    }
}
