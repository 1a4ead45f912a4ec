//! `ferroftp_reader` and `ferroftp_writer`: a remote file open for reading or writing, for code
//! that prefers to pull the data (`ferroftp_reader_read`) or push it (`ferroftp_writer_write`)
//! rather than be called back. They are the core's `RemoteReader` / `RemoteWriter`, which hold
//! the session's lock from the open to the finish (or free).

use std::ffi::c_char;
use std::sync::{Mutex, MutexGuard};

use ferroftp::{RemoteReader, RemoteWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::blocking::{block, finish, status};
use crate::callback::{in_callback, in_callback_error};
use crate::error::{CError, ferroftp_status};
use crate::ffi::{Castable, free_box, to_boxed_mut_ptr, try_out, try_ref, try_slice, try_str};
use crate::panic::ffi_panic_boundary;
use crate::session::{CSession, ferroftp_session};

use ferroftp_status as S;

/// A remote file open for reading (RETR), holding its session's lock until it is finished or
/// freed: every other operation on that session waits meanwhile — so a thread that holds a
/// reader must not start another blocking operation on the same session before it has
/// finished or freed the reader (it would wait for itself).
///
/// Behind the pointer: a Rust `Box` holding the core's `ferroftp::RemoteReader` (behind a
/// mutex) and a reference to its session (a session lent by a pool stays lent until the reader
/// is freed). Made by `ferroftp_session_open_read`; to avoid a leak (and to release the
/// session) it must eventually be freed with `ferroftp_reader_free`. Meant for one thread at a
/// time; calls from several threads are serialized.
pub struct ferroftp_reader {
    _private: [u8; 0],
}

/// What a `ferroftp_reader *` points to.
pub(crate) struct CReader {
    /// `None` once finished.
    reader: Mutex<Option<RemoteReader>>,
    remote: String,
    _session: CSession,
}

impl Castable for ferroftp_reader {
    type RustType = CReader;
}

/// A remote file open for writing (STOR), holding its session's lock until it is finished or
/// freed (see `ferroftp_reader` for what that means for other calls on the session).
///
/// Behind the pointer: a Rust `Box` holding the core's `ferroftp::RemoteWriter` (behind a
/// mutex) and a reference to its session. Made by `ferroftp_session_open_write`; to avoid a
/// leak it must eventually be freed with `ferroftp_writer_free`. The upload is complete only
/// when `ferroftp_writer_finish` returned `FERROFTP_STATUS_OK`. Meant for one thread at a time;
/// calls from several threads are serialized.
pub struct ferroftp_writer {
    _private: [u8; 0],
}

/// What a `ferroftp_writer *` points to.
pub(crate) struct CWriter {
    /// `None` once finished.
    writer: Mutex<Option<RemoteWriter>>,
    remote: String,
    _session: CSession,
}

impl Castable for ferroftp_writer {
    type RustType = CWriter;
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn finished(what: &str) -> CError {
    CError::new(
        S::FERROFTP_STATUS_CLOSED,
        format!("the {what} was finished already"),
    )
}

/// An I/O error of a streaming read or write as a `CError` (a stalled server's timeout as
/// `FERROFTP_STATUS_TIMEOUT`).
fn io_error(e: &std::io::Error, context: &str) -> CError {
    let status = if e.kind() == std::io::ErrorKind::TimedOut {
        S::FERROFTP_STATUS_TIMEOUT
    } else {
        S::FERROFTP_STATUS_IO
    };
    CError::new(status, format!("{context}: {e}"))
}

async fn op_open_read(s: CSession, remote: String) -> Result<CReader, CError> {
    let reader = s.open_read(&remote).await?;
    Ok(CReader {
        reader: Mutex::new(Some(reader)),
        remote,
        _session: s,
    })
}

async fn op_open_write(s: CSession, remote: String) -> Result<CWriter, CError> {
    let writer = s.open_write(&remote).await?;
    Ok(CWriter {
        writer: Mutex::new(Some(writer)),
        remote,
        _session: s,
    })
}

/// Runs a reader's or writer's I/O on the calling thread (the core's blocking streams do the
/// same); refused inside a callback.
fn io<T>(f: impl std::future::Future<Output = Result<T, CError>>) -> Result<T, CError> {
    if in_callback() {
        return Err(in_callback_error());
    }
    ferroftp::runtime::block_on(async { Ok(f.await) })?
}

// ---------------------------------------------------------------------------------------------
// Reader

/// Opens the remote file `remote` for reading (RETR), blocking until the server has started
/// sending it, and writes the reader to `*reader_out`; the caller owns it and must free it with
/// `ferroftp_reader_free`.
///
/// From now until the reader is finished or freed, the reader holds the session's lock (other
/// operations on the session wait: do not start one on this thread meanwhile). Failures as for
/// `ferroftp_session_read` (`FERROFTP_STATUS_NOT_FOUND`, ...).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_open_read(
    session: *const ferroftp_session,
    remote: *const c_char,
    reader_out: *mut *mut ferroftp_reader,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let out = try_out!(reader_out);
        finish(block(op_open_read(s.clone(), remote.into())), out, to_boxed_mut_ptr::<ferroftp_reader>)
    }
}

/// Reads the next bytes of the file into the caller's `buffer` (up to `capacity` bytes),
/// blocking until some arrive, and writes how many to `*read_out`: 0 (with `capacity` > 0)
/// means the end of the file; then call `ferroftp_reader_finish`.
///
/// `buffer` is only used during the call (NULL only with `capacity` 0). A server that sends
/// nothing for the session's timeout fails the read with `FERROFTP_STATUS_TIMEOUT`; other
/// failures are `FERROFTP_STATUS_IO`; after `ferroftp_reader_finish`,
/// `FERROFTP_STATUS_CLOSED`. Inside a callback: `FERROFTP_STATUS_IN_CALLBACK`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_reader_read(
    reader: *mut ferroftp_reader,
    buffer: *mut u8,
    capacity: usize,
    read_out: *mut usize,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let r = try_ref!(reader);
        let out = try_out!(read_out);
        if buffer.is_null() && capacity != 0 {
            return CError::new(
                S::FERROFTP_STATUS_NULL_ARGUMENT,
                "argument `buffer` is NULL but `capacity` is not 0",
            )
            .raise();
        }
        let mut state = locked(&r.reader);
        let Some(stream) = state.as_mut() else {
            return finished("reader").raise();
        };
        if capacity == 0 {
            out.write(0);
            return S::FERROFTP_STATUS_OK;
        }
        // SAFETY: the caller promises `capacity` writable bytes at `buffer` for the call.
        let buf = unsafe { std::slice::from_raw_parts_mut(buffer, capacity) };
        let context = format!("reading {}", r.remote);
        finish(
            io(async { stream.read(buf).await.map_err(|e| io_error(&e, &context)) }),
            out,
            |n| n,
        )
    }
}

/// Finishes a reader, blocking: closes the data connection, reads the server's final reply and
/// releases the session's lock. A reader read to its end is checked against the size the
/// server announced (else SIZE, where the server offers it), so a transfer cut short is an
/// error even when the server reported success; finishing before the end makes most servers
/// report the transfer as aborted (an error here; the session stays usable either way).
/// The reader must still be freed with `ferroftp_reader_free`; a second finish is
/// `FERROFTP_STATUS_CLOSED`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_reader_finish(reader: *mut ferroftp_reader) -> ferroftp_status {
    ffi_panic_boundary! {
        let r = try_ref!(reader);
        if in_callback() {
            return in_callback_error().raise();
        }
        let Some(stream) = locked(&r.reader).take() else {
            return finished("reader").raise();
        };
        status(block(async move { Ok(stream.finish().await?) }))
    }
}

/// Frees a reader; NULL is a no-op. Does not block. An unfinished reader is abandoned: the
/// session's lock is released and the session reopens its connection before its next
/// operation. `reader` must not be used again.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_reader_free(reader: *mut ferroftp_reader) {
    ffi_panic_boundary! {
        // SAFETY: the caller hands back a pointer this library made, once.
        unsafe { free_box(reader) }
    }
}

// ---------------------------------------------------------------------------------------------
// Writer

/// Opens the remote file `remote` for writing (STOR), blocking until the server is ready to
/// receive, and writes the writer to `*writer_out`; the caller owns it and must free it with
/// `ferroftp_writer_free`.
///
/// From now until the writer is finished or freed, the writer holds the session's lock (other
/// operations on the session wait: do not start one on this thread meanwhile). Failures as for
/// `ferroftp_session_write`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_open_write(
    session: *const ferroftp_session,
    remote: *const c_char,
    writer_out: *mut *mut ferroftp_writer,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let out = try_out!(writer_out);
        finish(block(op_open_write(s.clone(), remote.into())), out, to_boxed_mut_ptr::<ferroftp_writer>)
    }
}

/// Sends all `len` bytes of `data`, blocking until they are handed to the network. `data` is
/// only used during the call (NULL only with `len` 0).
///
/// A server that takes nothing for the session's timeout fails the write with
/// `FERROFTP_STATUS_TIMEOUT`; other failures are `FERROFTP_STATUS_IO` (the server may keep what
/// it received: `ferroftp_last_error_may_have_taken_effect` is true); after
/// `ferroftp_writer_finish`, `FERROFTP_STATUS_CLOSED`. Inside a callback:
/// `FERROFTP_STATUS_IN_CALLBACK`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_writer_write(
    writer: *mut ferroftp_writer,
    data: *const u8,
    len: usize,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let w = try_ref!(writer);
        let data = try_slice!(data, len);
        let mut state = locked(&w.writer);
        let Some(stream) = state.as_mut() else {
            return finished("writer").raise();
        };
        let context = format!("writing {}", w.remote);
        status(io(async {
            stream.write_all(data).await.map_err(|e| {
                let mut e = io_error(&e, &context);
                e.may_have_taken_effect = true;
                e
            })
        }))
    }
}

/// Finishes a writer, blocking: sends what is buffered, closes the data connection and waits
/// for the server's confirmation, then checks the server's size of the file (SIZE, where the
/// server offers it) against the bytes written; releases the session's lock. The upload is
/// complete only when this returns `FERROFTP_STATUS_OK`. The writer must still be freed with
/// `ferroftp_writer_free`; a second finish is `FERROFTP_STATUS_CLOSED`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_writer_finish(writer: *mut ferroftp_writer) -> ferroftp_status {
    ffi_panic_boundary! {
        let w = try_ref!(writer);
        if in_callback() {
            return in_callback_error().raise();
        }
        let Some(stream) = locked(&w.writer).take() else {
            return finished("writer").raise();
        };
        status(block(async move { Ok(stream.finish().await?) }))
    }
}

/// Frees a writer; NULL is a no-op. Does not block. An unfinished writer abandons the upload
/// (the server may keep the part it received) and releases the session's lock; the session
/// reopens its connection before its next operation. `writer` must not be used again.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_writer_free(writer: *mut ferroftp_writer) {
    ffi_panic_boundary! {
        // SAFETY: the caller hands back a pointer this library made, once.
        unsafe { free_box(writer) }
    }
}
