//! `ferroftp_session`: every operation of the core session, as a blocking call and as a
//! `_start` call returning a `ferroftp_future`. Both forms of an operation sit side by side and
//! share one definition of the work (the `op_*` functions, typed by their value); the blocking
//! form runs it through `crate::blocking` (`block`, then `finish` writes the value), the
//! `_start` form spawns it (`crate::future::spawn`) and its value is taken with the
//! `ferroftp_future_take_*` of its type (`ferroftp_future_take_session` is here, next to the
//! session).

use std::ffi::{CString, c_char};
use std::ops::Deref;
use std::sync::Arc;

use ferroftp::{DownloadOptions, PooledSession, Session, UploadOptions};

use crate::blocking::{block, finish, status};
use crate::entries::{self, CEntry, ferroftp_entries};
use crate::error::{CError, ferroftp_status};
use crate::ffi::{Castable, Out, free_box, to_boxed_mut_ptr, try_out, try_ref, try_slice, try_str};
use crate::future::{FutureResult, ferroftp_future, spawn, take};
use crate::options::{self, ferroftp_options};
use crate::panic::ffi_panic_boundary;
use crate::server::ferroftp_server;
use crate::values::{self, Reply, UnixTime, c_string, ferroftp_bytes, ferroftp_strings};

/// An FTP session: one control connection, shared safely by any number of threads.
///
/// Behind the pointer: a Rust `Box` holding a `ferroftp::Session` of its own, or one lent by a
/// pool (`ferroftp::PooledSession`, shared through an `Arc`). Made by `ferroftp_session_connect`,
/// `ferroftp_session_connect_server`, `ferroftp_pool_session` or `ferroftp_future_take_session`;
/// to avoid a leak it must eventually be freed with `ferroftp_session_free` (which hands a lent
/// session back to its pool). Every operation takes a `const ferroftp_session *` and may be
/// called from any number of threads at once: calls are serialized in arrival order (a fair
/// lock), each holding the connection from its first command to its last reply. Futures,
/// readers and writers started on a session keep working after it is freed (they hold their own
/// reference to the connection, and a lent session goes back to its pool only once the last of
/// them is done).
pub struct ferroftp_session {
    _private: [u8; 0],
}

impl Castable for ferroftp_session {
    type RustType = CSession;
}

/// What a `ferroftp_session *` points to: a session of its own or one lent by a pool. Cheap to
/// clone (every operation takes a clone, so a lent session stays lent until the last operation
/// started on it has ended); dereferences to the core's `Session`.
#[derive(Clone)]
pub(crate) struct CSession(Lease);

#[derive(Clone)]
enum Lease {
    Own(Session),
    /// Handed back to the pool when the last clone is dropped.
    Pooled(Arc<PooledSession>),
}

impl CSession {
    /// A session lent by a pool, returned to it when the last clone is dropped.
    pub(crate) fn pooled(lent: PooledSession) -> Self {
        Self(Lease::Pooled(Arc::new(lent)))
    }
}

impl From<Session> for CSession {
    fn from(s: Session) -> Self {
        Self(Lease::Own(s))
    }
}

impl Deref for CSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        match &self.0 {
            Lease::Own(s) => s,
            Lease::Pooled(lent) => lent,
        }
    }
}

impl FutureResult for CSession {
    fn what(&self) -> &'static str {
        "a session (ferroftp_future_take_session)"
    }
}

// ---------------------------------------------------------------------------------------------
// The work of each operation, shared by both forms (owned arguments: the futures are 'static),
// with the type of its value: the blocking form writes it to the out-parameter, the `_start`
// form's future holds it for the `ferroftp_future_take_*` of that type.

pub(crate) async fn op_connect(
    config: Result<ferroftp::Config, CError>,
) -> Result<CSession, CError> {
    Ok(Session::connect_with(config?).await?.into())
}

async fn op_close(s: CSession) -> Result<(), CError> {
    Ok(s.close().await?)
}

async fn op_list(s: CSession, path: String) -> Result<Vec<CEntry>, CError> {
    entries::convert(s.list(&path).await?)
}

async fn op_names(s: CSession, path: String) -> Result<Vec<CString>, CError> {
    values::convert_strings(s.names(&path).await?)
}

async fn op_download(s: CSession, remote: String, local: String) -> Result<u64, CError> {
    Ok(s.download(&remote, local, DownloadOptions::default())
        .await?)
}

async fn op_upload(s: CSession, local: String, remote: String) -> Result<u64, CError> {
    Ok(s.upload(local, &remote, UploadOptions::default()).await?)
}

async fn op_read(s: CSession, remote: String) -> Result<Vec<u8>, CError> {
    Ok(s.read_bytes(&remote).await?)
}

async fn op_write(s: CSession, remote: String, data: Vec<u8>) -> Result<u64, CError> {
    Ok(s.write_bytes(&remote, &data).await?)
}

async fn op_size(s: CSession, path: String) -> Result<u64, CError> {
    Ok(s.size(&path).await?)
}

async fn op_modified(s: CSession, path: String) -> Result<UnixTime, CError> {
    Ok(UnixTime(s.modified(&path).await?.timestamp()))
}

async fn op_exists(s: CSession, path: String) -> Result<bool, CError> {
    Ok(s.exists(&path).await?)
}

async fn op_stat(s: CSession, path: String) -> Result<Vec<CEntry>, CError> {
    entries::convert(vec![s.stat(&path).await?])
}

async fn op_chmod(s: CSession, path: String, mode: u32) -> Result<(), CError> {
    Ok(s.chmod(&path, mode).await?)
}

async fn op_set_modified(s: CSession, path: String, unix_seconds: i64) -> Result<(), CError> {
    let Some(time) = chrono::DateTime::from_timestamp(unix_seconds, 0) else {
        return Err(CError::new(
            ferroftp_status::FERROFTP_STATUS_INVALID_INPUT,
            format!("unix_seconds {unix_seconds} is not a time that can be set"),
        ));
    };
    Ok(s.set_modified(&path, time).await?)
}

async fn op_mkdir(s: CSession, path: String, parents: bool) -> Result<(), CError> {
    Ok(s.mkdir(&path, parents).await?)
}

async fn op_rmdir(s: CSession, path: String, recursive: bool) -> Result<(), CError> {
    Ok(s.rmdir(&path, recursive).await?)
}

async fn op_remove(s: CSession, path: String) -> Result<(), CError> {
    Ok(s.remove(&path).await?)
}

async fn op_rename(s: CSession, from: String, to: String) -> Result<(), CError> {
    Ok(s.rename(&from, &to).await?)
}

async fn op_cwd(s: CSession, path: String) -> Result<(), CError> {
    Ok(s.cwd(&path).await?)
}

async fn op_pwd(s: CSession) -> Result<CString, CError> {
    c_string(s.pwd().await?, "directory")
}

async fn op_noop(s: CSession) -> Result<(), CError> {
    Ok(s.noop().await?)
}

async fn op_quote(s: CSession, line: String) -> Result<Reply, CError> {
    let (code, text) = s.quote(&line).await?;
    Ok(Reply {
        code,
        text: c_string(text, "reply")?,
    })
}

// ---------------------------------------------------------------------------------------------
// connect / close / free

/// Connects and logs in to the server of `url` (`ftp://user:password@host:port/dir`, UTF-8;
/// user and password percent-encoded: `ferroftp_session_connect_server` takes them as they
/// are, and an account too) with `options` (NULL for the defaults), blocking until done, and
/// writes the new session to `*session_out`.
///
/// The caller owns the session and must free it with `ferroftp_session_free`. `url` and
/// `options` are only borrowed for the call. Failures: `FERROFTP_STATUS_CONNECT`,
/// `FERROFTP_STATUS_AUTH`, `FERROFTP_STATUS_TIMEOUT`, `FERROFTP_STATUS_TLS`,
/// `FERROFTP_STATUS_INVALID_INPUT` (bad URL or option value), ...
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_connect(
    url: *const c_char,
    options: *const ferroftp_options,
    session_out: *mut *mut ferroftp_session,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let url = try_str!(url);
        let out = try_out!(session_out);
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let config = unsafe { options::config(url, options) };
        finish(block(op_connect(config)), out, to_boxed_mut_ptr::<ferroftp_session>)
    }
}

/// Starts `ferroftp_session_connect` and writes its future to `*future_out` (take the session
/// with `ferroftp_future_take_session`). The caller owns the future and must free it with
/// `ferroftp_future_free`. `url` and `options` are copied before this call returns.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_connect_start(
    url: *const c_char,
    options: *const ferroftp_options,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let url = try_str!(url);
        let out = try_out!(future_out);
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let config = unsafe { options::config(url, options) };
        spawn(op_connect(config), out)
    }
}

/// The core's config for a `ferroftp_server` (a NULL `server` is an error naming it).
///
/// # Safety
/// `server` must be NULL or point to a valid `ferroftp_server`; `options` as for
/// `ferroftp_session_connect`.
pub(crate) unsafe fn server_config(
    server: *const ferroftp_server,
    options: *const ferroftp_options,
) -> Result<ferroftp::Config, CError> {
    // SAFETY: see the function's contract.
    match unsafe { server.as_ref() } {
        // SAFETY: see the function's contract.
        Some(server) => unsafe { crate::server::config(server, options) },
        None => Err(CError::new(
            ferroftp_status::FERROFTP_STATUS_NULL_ARGUMENT,
            "argument `server` is NULL",
        )),
    }
}

/// Connects and logs in to `server` (host, port, user, password, account and directory given
/// separately, without percent-encoding: see `ferroftp_server`) with `options` (NULL for the
/// defaults; its `tls` chooses TLS), blocking until done, and writes the new session to
/// `*session_out`.
///
/// The caller owns the session and must free it with `ferroftp_session_free`. `server` (with
/// its strings) and `options` are only borrowed for the call. Failures as for
/// `ferroftp_session_connect`; a NULL `server` or `server->host` is
/// `FERROFTP_STATUS_NULL_ARGUMENT`, a field that is not UTF-8 `FERROFTP_STATUS_INVALID_UTF8`
/// (the message names the field, never its value).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_connect_server(
    server: *const ferroftp_server,
    options: *const ferroftp_options,
    session_out: *mut *mut ferroftp_session,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(session_out);
        // SAFETY: the caller promises valid (or NULL) structs.
        let config = match unsafe { server_config(server, options) } {
            Ok(c) => c,
            Err(e) => return e.raise(),
        };
        finish(block(op_connect(Ok(config))), out, to_boxed_mut_ptr::<ferroftp_session>)
    }
}

/// Starts `ferroftp_session_connect_server` and writes its future to `*future_out` (take the
/// session with `ferroftp_future_take_session`). The caller owns the future and must free it
/// with `ferroftp_future_free`. `server` and `options` are copied before this call returns; an
/// argument error (NULL, not UTF-8, a bad option) is returned at once, without a future.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_connect_server_start(
    server: *const ferroftp_server,
    options: *const ferroftp_options,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(future_out);
        // SAFETY: the caller promises valid (or NULL) structs.
        let config = match unsafe { server_config(server, options) } {
            Ok(c) => c,
            Err(e) => return e.raise(),
        };
        spawn(op_connect(Ok(config)), out)
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
        take(f, out, |s: CSession| to_boxed_mut_ptr::<ferroftp_session>(s))
    }
}

/// Says goodbye (QUIT) and closes the connection, after the operations already queued; later
/// operations on this session (and its futures not yet started) fail with
/// `FERROFTP_STATUS_CLOSED`. Blocks until done. The session must still be freed with
/// `ferroftp_session_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_close(session: *const ferroftp_session) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        status(block(op_close(s.clone())))
    }
}

/// Starts `ferroftp_session_close`; writes its future (no value: its status is the result) to
/// `*future_out`, owned by the caller (free it with `ferroftp_future_free`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_close_start(
    session: *const ferroftp_session,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let out = try_out!(future_out);
        spawn(op_close(s.clone()), out)
    }
}

/// Frees a session; NULL is a no-op. Does not block and sends nothing: call
/// `ferroftp_session_close` first for a polite QUIT. The connection is dropped when the last
/// future, reader or writer started on the session has finished too. A session lent by a pool
/// (`ferroftp_pool_session`) is handed back to it instead (at that same moment), and stays open
/// for the next borrower (unless it was closed). `session` must not be used again; no other
/// thread may be using it at the same time.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_free(session: *mut ferroftp_session) {
    ffi_panic_boundary! {
        // SAFETY: the caller hands back a pointer this library made, once.
        unsafe { free_box(session) }
    }
}

// ---------------------------------------------------------------------------------------------
// Listings

/// Lists the directory `path` (MLSD when the server offers it, else LIST parsed; an empty `path`
/// lists the working directory), blocking, and writes the listing to `*entries_out`; the caller
/// owns it and must free it with `ferroftp_entries_free`. Entry paths are absolute.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_list(
    session: *const ferroftp_session,
    path: *const c_char,
    entries_out: *mut *mut ferroftp_entries,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(entries_out);
        finish(block(op_list(s.clone(), path.into())), out, to_boxed_mut_ptr::<ferroftp_entries>)
    }
}

/// Starts `ferroftp_session_list`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the result with `ferroftp_future_take_entries`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_list_start(
    session: *const ferroftp_session,
    path: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_list(s.clone(), path.into()), out)
    }
}

/// Lists the names in the directory `path` (NLST, without their directory part), blocking, and
/// writes them to `*names_out`; the caller owns the list and must free it with
/// `ferroftp_strings_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_names(
    session: *const ferroftp_session,
    path: *const c_char,
    names_out: *mut *mut ferroftp_strings,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(names_out);
        finish(block(op_names(s.clone(), path.into())), out, to_boxed_mut_ptr::<ferroftp_strings>)
    }
}

/// Starts `ferroftp_session_names`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the result with `ferroftp_future_take_names`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_names_start(
    session: *const ferroftp_session,
    path: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_names(s.clone(), path.into()), out)
    }
}

// ---------------------------------------------------------------------------------------------
// Transfers

/// Downloads the remote file `remote` to the local file `local`, blocking, and writes the byte
/// count to `*bytes_out` (unless `bytes_out` is NULL).
///
/// The data lands in a temporary file beside `local`, renamed into place only after the
/// server's final reply; on failure no partial file is left (a `local` that is not a regular
/// file, such as `/dev/null`, is written directly).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_download(
    session: *const ferroftp_session,
    remote: *const c_char,
    local: *const c_char,
    bytes_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let local = try_str!(local);
        let out = Out::optional(bytes_out);
        finish(block(op_download(s.clone(), remote.into(), local.into())), out, |n| n)
    }
}

/// Starts `ferroftp_session_download`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the byte count with `ferroftp_future_take_u64`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_download_start(
    session: *const ferroftp_session,
    remote: *const c_char,
    local: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let local = try_str!(local);
        let out = try_out!(future_out);
        spawn(op_download(s.clone(), remote.into(), local.into()), out)
    }
}

/// Uploads the local file `local` to the remote path `remote`, blocking until the server
/// confirmed the transfer, and writes the byte count to `*bytes_out` (unless `bytes_out` is
/// NULL).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_upload(
    session: *const ferroftp_session,
    local: *const c_char,
    remote: *const c_char,
    bytes_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let local = try_str!(local);
        let remote = try_str!(remote);
        let out = Out::optional(bytes_out);
        finish(block(op_upload(s.clone(), local.into(), remote.into())), out, |n| n)
    }
}

/// Starts `ferroftp_session_upload`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the byte count with `ferroftp_future_take_u64`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_upload_start(
    session: *const ferroftp_session,
    local: *const c_char,
    remote: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let local = try_str!(local);
        let remote = try_str!(remote);
        let out = try_out!(future_out);
        spawn(op_upload(s.clone(), local.into(), remote.into()), out)
    }
}

/// Reads the whole remote file `remote` into memory, blocking, and writes the buffer to
/// `*bytes_out`; the caller owns it and must free it with `ferroftp_bytes_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_read(
    session: *const ferroftp_session,
    remote: *const c_char,
    bytes_out: *mut *mut ferroftp_bytes,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let out = try_out!(bytes_out);
        finish(block(op_read(s.clone(), remote.into())), out, ferroftp_bytes::into_raw)
    }
}

/// Starts `ferroftp_session_read`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the buffer with `ferroftp_future_take_bytes`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_read_start(
    session: *const ferroftp_session,
    remote: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let out = try_out!(future_out);
        spawn(op_read(s.clone(), remote.into()), out)
    }
}

/// Writes `len` bytes from the caller's buffer `data` to the remote file `remote` (STOR),
/// blocking until the server confirmed it, and writes the byte count to `*bytes_out` (unless
/// `bytes_out` is NULL). `data` is borrowed for the call only; it may be NULL when `len` is 0.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_write(
    session: *const ferroftp_session,
    remote: *const c_char,
    data: *const u8,
    len: usize,
    bytes_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let data = try_slice!(data, len);
        let out = Out::optional(bytes_out);
        finish(block(op_write(s.clone(), remote.into(), data.to_vec())), out, |n| n)
    }
}

/// Starts `ferroftp_session_write`; `data` is copied before this call returns, so the caller's
/// buffer may be reused at once. Writes the future to `*future_out`, owned by the caller (free it
/// with `ferroftp_future_free`; take the byte count with `ferroftp_future_take_u64`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_write_start(
    session: *const ferroftp_session,
    remote: *const c_char,
    data: *const u8,
    len: usize,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let data = try_slice!(data, len);
        let out = try_out!(future_out);
        spawn(op_write(s.clone(), remote.into(), data.to_vec()), out)
    }
}

// ---------------------------------------------------------------------------------------------
// Facts about remote files

/// Writes the size in bytes of the remote file `path` (SIZE) to `*size_out`, blocking.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_size(
    session: *const ferroftp_session,
    path: *const c_char,
    size_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(size_out);
        finish(block(op_size(s.clone(), path.into())), out, |n| n)
    }
}

/// Starts `ferroftp_session_size`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the size with `ferroftp_future_take_u64`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_size_start(
    session: *const ferroftp_session,
    path: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_size(s.clone(), path.into()), out)
    }
}

/// Writes the modification time of the remote file `path` (MDTM), in seconds since the Unix
/// epoch (UTC), to `*unix_seconds_out`, blocking.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_modified(
    session: *const ferroftp_session,
    path: *const c_char,
    unix_seconds_out: *mut i64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(unix_seconds_out);
        finish(block(op_modified(s.clone(), path.into())), out, |t| t.0)
    }
}

/// Starts `ferroftp_session_modified`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the time with `ferroftp_future_take_time`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_modified_start(
    session: *const ferroftp_session,
    path: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_modified(s.clone(), path.into()), out)
    }
}

/// Writes whether the remote file or directory `path` exists to `*exists_out`, blocking.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_exists(
    session: *const ferroftp_session,
    path: *const c_char,
    exists_out: *mut bool,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(exists_out);
        finish(block(op_exists(s.clone(), path.into())), out, |b| b)
    }
}

/// Starts `ferroftp_session_exists`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the answer with `ferroftp_future_take_bool`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_exists_start(
    session: *const ferroftp_session,
    path: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_exists(s.clone(), path.into()), out)
    }
}

/// Looks up one remote file or directory, blocking, and writes it to `*entries_out` as a list
/// of exactly one entry (read it with the `ferroftp_entries_*` accessors at index 0: name,
/// path, kind, size, modified, permissions, ...). The caller owns the list and must free it
/// with `ferroftp_entries_free`.
///
/// Uses MLST where the server offers it, else SIZE and MDTM (or CWD for a directory); which
/// facts are known depends on the server (`has_size`, `has_modified`). A path that is neither a
/// file nor a directory is `FERROFTP_STATUS_NOT_FOUND`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_stat(
    session: *const ferroftp_session,
    path: *const c_char,
    entries_out: *mut *mut ferroftp_entries,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(entries_out);
        finish(block(op_stat(s.clone(), path.into())), out, to_boxed_mut_ptr::<ferroftp_entries>)
    }
}

/// Starts `ferroftp_session_stat`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the one-entry list with
/// `ferroftp_future_take_entries`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_stat_start(
    session: *const ferroftp_session,
    path: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_stat(s.clone(), path.into()), out)
    }
}

/// Sets the permission bits of the remote file or directory `path` (`SITE CHMOD`, `mode` as in
/// `0644`), blocking. A server without `SITE CHMOD` refuses with `FERROFTP_STATUS_PERMANENT`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_chmod(
    session: *const ferroftp_session,
    path: *const c_char,
    mode: u32,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        status(block(op_chmod(s.clone(), path.into(), mode)))
    }
}

/// Starts `ferroftp_session_chmod`; writes its future (no value: its status is the result) to
/// `*future_out`, owned by the caller (free it with `ferroftp_future_free`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_chmod_start(
    session: *const ferroftp_session,
    path: *const c_char,
    mode: u32,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_chmod(s.clone(), path.into(), mode), out)
    }
}

/// Sets the modification time of the remote file `path` to `unix_seconds` (seconds since the
/// Unix epoch, UTC), blocking: MFMT, or vsftpd's MDTM with a time. A time more than about
/// 262,000 years away is `FERROFTP_STATUS_INVALID_INPUT`; a server that can set no times
/// refuses with `FERROFTP_STATUS_PERMANENT`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_set_modified(
    session: *const ferroftp_session,
    path: *const c_char,
    unix_seconds: i64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        status(block(op_set_modified(s.clone(), path.into(), unix_seconds)))
    }
}

/// Starts `ferroftp_session_set_modified`; writes its future (no value: its status is the
/// result) to `*future_out`, owned by the caller (free it with `ferroftp_future_free`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_set_modified_start(
    session: *const ferroftp_session,
    path: *const c_char,
    unix_seconds: i64,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_set_modified(s.clone(), path.into(), unix_seconds), out)
    }
}

// ---------------------------------------------------------------------------------------------
// Directory and file management

/// Creates the remote directory `path`, blocking; with `parents`, also its missing parents (an
/// existing directory is then not an error).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_mkdir(
    session: *const ferroftp_session,
    path: *const c_char,
    parents: bool,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        status(block(op_mkdir(s.clone(), path.into(), parents)))
    }
}

/// Starts `ferroftp_session_mkdir`; writes its future (no value: its status is the result) to
/// `*future_out`, owned by the caller (free it with `ferroftp_future_free`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_mkdir_start(
    session: *const ferroftp_session,
    path: *const c_char,
    parents: bool,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_mkdir(s.clone(), path.into(), parents), out)
    }
}

/// Removes the remote directory `path`, blocking; with `recursive`, everything in it first.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_rmdir(
    session: *const ferroftp_session,
    path: *const c_char,
    recursive: bool,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        status(block(op_rmdir(s.clone(), path.into(), recursive)))
    }
}

/// Starts `ferroftp_session_rmdir`; writes its future (no value: its status is the result) to
/// `*future_out`, owned by the caller (free it with `ferroftp_future_free`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_rmdir_start(
    session: *const ferroftp_session,
    path: *const c_char,
    recursive: bool,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_rmdir(s.clone(), path.into(), recursive), out)
    }
}

/// Removes the remote file `path` (DELE), blocking.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_remove(
    session: *const ferroftp_session,
    path: *const c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        status(block(op_remove(s.clone(), path.into())))
    }
}

/// Starts `ferroftp_session_remove`; writes its future (no value: its status is the result) to
/// `*future_out`, owned by the caller (free it with `ferroftp_future_free`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_remove_start(
    session: *const ferroftp_session,
    path: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_remove(s.clone(), path.into()), out)
    }
}

/// Renames (moves) the remote file or directory `from` to `to`, blocking.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_rename(
    session: *const ferroftp_session,
    from: *const c_char,
    to: *const c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let from = try_str!(from);
        let to = try_str!(to);
        status(block(op_rename(s.clone(), from.into(), to.into())))
    }
}

/// Starts `ferroftp_session_rename`; writes its future (no value: its status is the result) to
/// `*future_out`, owned by the caller (free it with `ferroftp_future_free`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_rename_start(
    session: *const ferroftp_session,
    from: *const c_char,
    to: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let from = try_str!(from);
        let to = try_str!(to);
        let out = try_out!(future_out);
        spawn(op_rename(s.clone(), from.into(), to.into()), out)
    }
}

/// Changes the session's working directory to `path`, blocking; it is restored after any
/// reconnect. It is shared by every thread using the session.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_cwd(
    session: *const ferroftp_session,
    path: *const c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        status(block(op_cwd(s.clone(), path.into())))
    }
}

/// Starts `ferroftp_session_cwd`; writes its future (no value: its status is the result) to
/// `*future_out`, owned by the caller (free it with `ferroftp_future_free`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_cwd_start(
    session: *const ferroftp_session,
    path: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let path = try_str!(path);
        let out = try_out!(future_out);
        spawn(op_cwd(s.clone(), path.into()), out)
    }
}

/// Writes the working directory (PWD) to `*path_out`, blocking: a new UTF-8 string the caller
/// owns and must free with `ferroftp_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_pwd(
    session: *const ferroftp_session,
    path_out: *mut *mut c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let out = try_out!(path_out);
        finish(block(op_pwd(s.clone())), out, |p| p.into_raw())
    }
}

/// Starts `ferroftp_session_pwd`; writes its future to `*future_out`, owned by the caller (free
/// it with `ferroftp_future_free`; take the path with `ferroftp_future_take_string`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_pwd_start(
    session: *const ferroftp_session,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let out = try_out!(future_out);
        spawn(op_pwd(s.clone()), out)
    }
}

/// Sends NOOP, blocking: checks that the connection is alive (reopening it if needed).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_noop(session: *const ferroftp_session) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        status(block(op_noop(s.clone())))
    }
}

/// Starts `ferroftp_session_noop`; writes its future (no value: its status is the result) to
/// `*future_out`, owned by the caller (free it with `ferroftp_future_free`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_noop_start(
    session: *const ferroftp_session,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let out = try_out!(future_out);
        spawn(op_noop(s.clone()), out)
    }
}

/// Sends the raw command `line` (without CR/LF), blocking, and writes the reply's code to
/// `*code_out` and its text to `*text_out`, whatever the code (a refusal is a reply too, not an
/// error); the text is a new string the caller owns and must free with `ferroftp_string_free`.
/// Commands that change state the session relies on (TYPE, REST, PASV, ...) make it reopen its
/// connection before the next operation.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_quote(
    session: *const ferroftp_session,
    line: *const c_char,
    code_out: *mut u16,
    text_out: *mut *mut c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let line = try_str!(line);
        let code = try_out!(code_out);
        let text = try_out!(text_out);
        finish(block(op_quote(s.clone(), line.into())), text, |reply| {
            code.write(reply.code);
            reply.text.into_raw()
        })
    }
}

/// Starts `ferroftp_session_quote`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the reply with `ferroftp_future_take_quote`).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_quote_start(
    session: *const ferroftp_session,
    line: *const c_char,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let line = try_str!(line);
        let out = try_out!(future_out);
        spawn(op_quote(s.clone(), line.into()), out)
    }
}
