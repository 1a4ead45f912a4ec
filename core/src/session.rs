//! The async [`Session`]: one control connection behind a fair lock, shared by every clone.
//!
//! Every operation takes the lock ([`Op::begin`]) for its whole exchange. The lock's slot
//! records whether an operation is in flight: an operation that is dropped half-way (cancelled,
//! timed out by the caller, its task aborted) leaves that mark behind, and the next operation
//! throws the connection away and opens a fresh one (login, binary type, working directory
//! restored) instead of reading a stale reply.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::config::Config;
use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};
use crate::listing::Entry;
use crate::transfer::{self, DownloadOptions, RemoteReader, RemoteWriter, UploadOptions};

/// What the lock protects: the connection and what is needed to reopen it.
struct Slot {
    conn: Option<Connection>,
    /// An operation started and did not say how it ended: the connection is out of step.
    in_flight: bool,
    /// The working directory to restore after a reconnect.
    cwd: Option<String>,
    /// `close()` was called.
    closed: bool,
}

pub(crate) struct Shared {
    config: Config,
    slot: Arc<Mutex<Slot>>,
}

/// An FTP session: cheap to clone, safe to share between tasks and threads.
///
/// Clones share one control connection; operations from any number of callers run one at a
/// time, in arrival order (tokio's mutex is fair), each holding the connection from its first
/// command to its last reply, data connection included.
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("host", &self.shared.config.host)
            .field("port", &self.shared.config.port)
            .field("user", &self.shared.config.user)
            .finish_non_exhaustive()
    }
}

/// The lock held by one operation (or by a streaming reader/writer until it is finished).
pub(crate) struct Op {
    guard: OwnedMutexGuard<Slot>,
    config: Arc<Shared>,
}

impl Op {
    /// Waits for the session's lock; drops a connection left out of step by an interrupted
    /// operation.
    pub(crate) async fn begin(shared: &Arc<Shared>) -> Result<Self> {
        let mut guard = Arc::clone(&shared.slot).lock_owned().await;
        if guard.closed {
            return Err(Error::new(ErrorKind::Closed, "the session is closed"));
        }
        if guard.in_flight {
            log::debug!("an interrupted operation left the connection out of step; reopening it");
            guard.conn = None;
            guard.in_flight = false;
        }
        Ok(Self {
            guard,
            config: Arc::clone(shared),
        })
    }

    /// The connection, opened (or reopened) if needed; marks the operation in flight.
    pub(crate) async fn conn(&mut self) -> Result<&mut Connection> {
        self.guard.in_flight = true;
        if let Some(c) = &self.guard.conn
            && c.out_of_step().await
        {
            log::debug!("unexpected bytes (or EOF) on the idle control connection; reopening it");
            self.guard.conn = None;
        }
        if self.guard.conn.is_none() {
            let cwd = self.guard.cwd.clone();
            let conn = Connection::open(&self.config.config, cwd.as_deref()).await?;
            self.guard.conn = Some(conn);
        }
        match self.guard.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(Error::new(ErrorKind::Closed, "no connection")),
        }
    }

    /// Records how the operation ended: a broken connection is dropped, the working directory
    /// is remembered, and the in-flight mark is cleared.
    pub(crate) fn end<T>(&mut self, result: Result<T>) -> Result<T> {
        result
            .map_err(|e| self.fail(e))
            .inspect(|_| self.remember_cwd())
    }

    /// [`Op::end`] for an error.
    pub(crate) fn fail(&mut self, e: Error) -> Error {
        if e.breaks_connection() {
            self.guard.conn = None;
        } else {
            self.remember_cwd();
        }
        self.guard.in_flight = false;
        e
    }

    fn remember_cwd(&mut self) {
        if let Some(c) = &self.guard.conn {
            self.guard.cwd = Some(c.current_dir().to_string());
        }
        self.guard.in_flight = false;
    }

    /// The open connection of an operation under way (a streaming reader or writer).
    pub(crate) fn existing(&mut self) -> Option<&mut Connection> {
        self.guard.conn.as_mut()
    }

    /// Marks the connection for a reopen before the next operation.
    pub(crate) fn reset(&mut self) {
        self.guard.conn = None;
    }

    /// The session's configuration.
    pub(crate) fn config(&self) -> &Config {
        &self.config.config
    }
}

/// Whether an operation may be repeated on a fresh connection after a connection failure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Repeated on a fresh connection (listings, downloads to a path, SIZE...).
    Safe,
    /// Not repeated, and a broken connection leaves it uncertain (STOR, DELE, RNFR/RNTO...).
    Never,
    /// Not repeated (its data already went to the caller), but it changes nothing on the
    /// server: a failure is never uncertain (RETR into a caller's sink).
    Read,
    /// As `Never`, and not even after a refused TLS data session: it reads the caller's
    /// stream, which cannot be read again (an upload from a reader). (A failure before its
    /// command was sent is still repeated: nothing was read then.)
    Consumed,
}

/// Runs `$body` (an expression using the connection `$c`, evaluating to a future) under the
/// session's lock, retrying on a fresh connection when the connection failed and the operation
/// is safe to repeat.
///
/// A macro rather than a function taking an async closure: the futures stay concrete, so the
/// compiler can see that they are `Send` (needed by every binding that spawns them).
macro_rules! run {
    ($session:expr, $repeat:expr, |$c:ident| $body:expr) => {{
        let mut op = Op::begin(&$session.shared).await?;
        let retries = $session.shared.config.retries;
        let mut attempt = 0;
        let mut data_retried = false;
        loop {
            let result = match op.conn().await {
                Ok($c) => $body.await,
                Err(e) => Err(e),
            };
            match op.end(result) {
                // Once, on the same connection: a new data connection resumes another session.
                Err(e) if e.data_refused() && !data_retried && $repeat != Repeat::Consumed => {
                    data_retried = true;
                    log::debug!(
                        "the server refused a data connection's TLS session ({e}); trying again"
                    );
                }
                Err(e) if retry_helps(&e, $repeat) && attempt < retries => {
                    attempt += 1;
                    log::debug!("retrying after: {e} (attempt {attempt} of {retries})");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e)
                    if matches!($repeat, Repeat::Never | Repeat::Consumed)
                        && e.breaks_connection()
                        && e.kind() != ErrorKind::Connect =>
                {
                    break Err(e.mark_uncertain());
                }
                other => break other,
            }
        }
    }};
}

impl Session {
    /// Connects and logs in to the server of `url` (`ftp://user:pass@host:port/dir`).
    ///
    /// # Errors
    /// Invalid URL, connection refused, bad credentials, timeouts (see [`ErrorKind`]).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(Config::from_url(url)?).await
    }

    /// Connects and logs in with `config`.
    ///
    /// # Errors
    /// Invalid settings, connection refused, bad credentials, timeouts (see [`ErrorKind`]).
    pub async fn connect_with(config: Config) -> Result<Self> {
        let session = Self::unconnected(config)?;
        run!(session, Repeat::Safe, |_c| std::future::ready(Ok::<
            (),
            Error,
        >(())))?;
        Ok(session)
    }

    /// Connects with `config`, trying once: a pool decides itself what a refusal means.
    pub(crate) async fn connect_once(config: Config) -> Result<Self> {
        let session = Self::unconnected(config)?;
        run!(session, Repeat::Never, |_c| std::future::ready(Ok::<
            (),
            Error,
        >(
            ()
        )))?;
        Ok(session)
    }

    fn unconnected(config: Config) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                slot: Arc::new(Mutex::new(Slot {
                    conn: None,
                    in_flight: false,
                    cwd: None,
                    closed: false,
                })),
            }),
        })
    }

    /// `Some(true)` when the connection is open and in step, `Some(false)` when it is gone,
    /// broken or closed, `None` when an operation holds it right now.
    pub(crate) fn connection_state(&self) -> Option<bool> {
        let slot = self.shared.slot.try_lock().ok()?;
        Some(slot.conn.is_some() && !slot.in_flight && !slot.closed)
    }

    /// The configuration this session was opened with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Lists a directory: MLSD when the server offers it, else LIST parsed.
    ///
    /// Entry paths are absolute. An empty `path` lists the working directory.
    pub async fn list(&self, path: &str) -> Result<Vec<Entry>> {
        run!(self, Repeat::Safe, |c| c.list(path))
    }

    /// The names in a directory (NLST), without their directory part.
    pub async fn names(&self, path: &str) -> Result<Vec<String>> {
        run!(self, Repeat::Safe, |c| c.names(path))
    }

    /// Downloads `remote` to the local file `local`, returning the byte count.
    ///
    /// The data goes to a temporary file beside `local` that is renamed into place only after
    /// the server's final reply and the checks asked for: the size (`options.verify`) and a
    /// checksum (`options.checksum`, see [`crate::Checksum`]). A `local` that is not a regular
    /// file, such as `/dev/null`, is written directly. On failure no partial file is left,
    /// except with `options.resume`, where it is kept (under its temporary name) for the next
    /// attempt — unless the checksum showed its data to be wrong
    /// ([`ErrorKind::Integrity`]).
    pub async fn download(
        &self,
        remote: &str,
        local: impl AsRef<Path>,
        options: DownloadOptions,
    ) -> Result<u64> {
        let local = local.as_ref();
        run!(self, Repeat::Safe, |c| async {
            transfer::download_to_path(c, remote, local, &options).await
        })
    }

    /// Uploads the local file `local` to `remote`, returning the bytes sent; done means the
    /// server confirmed the transfer (and, with `options.verify`, that SIZE agrees; with
    /// `options.checksum`, that the server's checksum of the file matches the local file's).
    ///
    /// `options.resume` continues from what the server already has; `options.atomic` uploads
    /// to a temporary name and renames it into place at the end.
    pub async fn upload(
        &self,
        local: impl AsRef<Path>,
        remote: &str,
        options: UploadOptions,
    ) -> Result<u64> {
        let local = local.as_ref();
        // A resumable upload can be repeated: it continues from what the server has.
        let repeat = if options.resume {
            Repeat::Safe
        } else {
            Repeat::Never
        };
        run!(self, repeat, |c| async {
            transfer::upload_from_path(c, local, remote, &options).await
        })
    }

    /// Downloads `remote` into memory; the size is checked as for [`Session::download`].
    pub async fn read_bytes(&self, remote: &str) -> Result<Vec<u8>> {
        run!(self, Repeat::Safe, |c| async {
            let mut data = Vec::new();
            retrieve_checked(c, remote, &mut data).await?;
            Ok(data)
        })
    }

    /// Uploads `data` to `remote` (STOR), returning when the server confirmed it (and SIZE,
    /// where the server offers it, agrees).
    pub async fn write_bytes(&self, remote: &str, data: &[u8]) -> Result<u64> {
        run!(self, Repeat::Never, |c| async {
            let mut source = data;
            let n = c
                .store(remote, &mut source, Some(data.len() as u64), false, None)
                .await?;
            transfer::verify_size(c, remote, n, "STOR").await?;
            Ok(n)
        })
    }

    /// Downloads `remote` into any writer (not retried: the writer may hold partial data); the
    /// size is checked as for [`Session::download`].
    pub async fn download_to<W>(&self, remote: &str, sink: &mut W) -> Result<u64>
    where
        W: tokio::io::AsyncWrite + Unpin + Send,
    {
        run!(self, Repeat::Read, |c| retrieve_checked(c, remote, sink))
    }

    /// Uploads from any reader to `remote`; done means the server confirmed it (and SIZE,
    /// where the server offers it, agrees).
    pub async fn upload_from<R>(&self, source: &mut R, remote: &str) -> Result<u64>
    where
        R: tokio::io::AsyncRead + Unpin + Send,
    {
        run!(self, Repeat::Consumed, |c| async {
            let n = c.store(remote, source, None, false, None).await?;
            transfer::verify_size(c, remote, n, "STOR").await?;
            Ok(n)
        })
    }

    /// Opens `remote` for streaming reads. The reader holds the session's lock until it is
    /// finished ([`RemoteReader::finish`]) or dropped; every other operation waits meanwhile.
    pub async fn open_read(&self, remote: &str) -> Result<RemoteReader> {
        let mut op = Op::begin(&self.shared).await?;
        let opened = match op.conn().await {
            Ok(c) => c.open_data(&format!("RETR {remote}"), true).await,
            Err(e) => Err(e),
        };
        match opened {
            Ok((total, stream)) => Ok(RemoteReader::new(op, stream, remote, total)),
            Err(e) => Err(op.fail(e)),
        }
    }

    /// Opens `remote` for streaming writes (STOR). The writer holds the session's lock until it
    /// is finished ([`RemoteWriter::finish`], which waits for the server's confirmation) or
    /// dropped (which abandons the upload).
    pub async fn open_write(&self, remote: &str) -> Result<RemoteWriter> {
        let mut op = Op::begin(&self.shared).await?;
        let opened = match op.conn().await {
            Ok(c) => c.open_upload(remote, false).await,
            Err(e) => Err(e),
        };
        match opened {
            Ok(stream) => Ok(RemoteWriter::new(op, stream, remote)),
            Err(e) => Err(op.fail(e)),
        }
    }

    /// The size of a remote file in bytes (SIZE).
    pub async fn size(&self, path: &str) -> Result<u64> {
        run!(self, Repeat::Safe, |c| c.size(path))
    }

    /// The modification time of a remote file (MDTM), in UTC.
    pub async fn modified(&self, path: &str) -> Result<DateTime<Utc>> {
        run!(self, Repeat::Safe, |c| c.modified(path))
    }

    /// Whether a remote file or directory exists.
    pub async fn exists(&self, path: &str) -> Result<bool> {
        run!(self, Repeat::Safe, |c| c.exists(path))
    }

    /// Creates a directory; with `parents`, also its missing parents (an existing directory is
    /// then not an error).
    pub async fn mkdir(&self, path: &str, parents: bool) -> Result<()> {
        let repeat = if parents { Repeat::Safe } else { Repeat::Never };
        run!(self, repeat, |c| c.mkdir(path, parents))
    }

    /// Removes a directory; with `recursive`, everything in it first.
    pub async fn rmdir(&self, path: &str, recursive: bool) -> Result<()> {
        run!(self, Repeat::Never, |c| c.rmdir(path, recursive))
    }

    /// Removes a file (DELE).
    pub async fn remove(&self, path: &str) -> Result<()> {
        run!(self, Repeat::Never, |c| c.remove(path))
    }

    /// Renames (moves) a remote file or directory.
    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        run!(self, Repeat::Never, |c| c.rename(from, to))
    }

    /// Changes the working directory; it is restored after any reconnect.
    pub async fn cwd(&self, path: &str) -> Result<()> {
        run!(self, Repeat::Safe, |c| c.cwd(path))
    }

    /// The working directory.
    pub async fn pwd(&self) -> Result<String> {
        run!(self, Repeat::Safe, |c| c.pwd())
    }

    /// NOOP: checks that the connection is alive (reopening it if needed).
    pub async fn noop(&self) -> Result<()> {
        run!(self, Repeat::Safe, |c| c.noop())
    }

    /// Sends a raw command line and returns the reply's code and text, whatever the code.
    ///
    /// Commands that change connection state the session relies on (TYPE, REST, PASV, ...)
    /// make the session reopen its connection before the next operation.
    pub async fn quote(&self, line: &str) -> Result<(u16, String)> {
        let mut op = Op::begin(&self.shared).await?;
        let result = match op.conn().await {
            Ok(c) => c.quote(line).await,
            Err(e) => Err(e),
        };
        match op.end(result) {
            Ok((reply, reset)) => {
                if reset {
                    op.reset();
                }
                Ok(reply)
            }
            Err(e) => Err(e),
        }
    }

    /// Says goodbye (QUIT) and closes the connection; later operations fail with
    /// [`ErrorKind::Closed`]. Waits for operations already queued.
    pub async fn close(&self) -> Result<()> {
        let mut guard = self.shared.slot.lock().await;
        guard.closed = true;
        if let Some(mut conn) = guard.conn.take()
            && !guard.in_flight
        {
            conn.quit().await;
        }
        Ok(())
    }
}

/// RETR into `sink`, then the size check of [`Session::download`]: the size announced in the
/// 150 reply, else SIZE where the server offers it. (A data connection that ends early looks
/// like the end of the file, and the server may still report success.)
async fn retrieve_checked<W>(c: &mut Connection, remote: &str, sink: &mut W) -> Result<u64>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let (n, checked) = c.retrieve_from(remote, sink, None, 0, None).await?;
    if !checked {
        transfer::verify_size(c, remote, n, "RETR").await?;
    }
    Ok(n)
}

/// Whether retrying after `e` can help for an operation of this kind. Any operation may be
/// repeated when it failed before its command was sent (the server did nothing yet).
fn retry_helps(e: &Error, repeat: Repeat) -> bool {
    (repeat == Repeat::Safe || e.unsent())
        && e.is_retryable()
        && (e.breaks_connection() || e.kind() == ErrorKind::Transient)
}

/// 100 ms, 200 ms, 400 ms, ... capped at 3.2 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.min(6).saturating_sub(1))
}
