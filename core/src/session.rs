//! The async [`Session`]: one control connection behind a fair lock, shared by every clone.
//!
//! Each method is one operation under the lock ([`crate::op`]): the connection it uses, and
//! whether it may be repeated on a fresh one.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::listing::Entry;
use crate::op::{Op, Repeat, Shared, run};
use crate::transfer::{self, DownloadOptions, RemoteReader, RemoteWriter, UploadOptions};

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
            .field("host", &self.config().host)
            .field("port", &self.config().port)
            .field("user", &self.config().user)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connects and logs in to the server of `url` (`ftp://user:pass@host:port/dir`).
    ///
    /// # Errors
    /// Invalid URL, connection refused, bad credentials, timeouts (see [`ErrorKind`](crate::ErrorKind)).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(Config::from_url(url)?).await
    }

    /// Connects and logs in with `config`.
    ///
    /// # Errors
    /// Invalid settings, connection refused, bad credentials, timeouts (see [`ErrorKind`](crate::ErrorKind)).
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
            shared: Arc::new(Shared::new(config)),
        })
    }

    /// `Some(true)` when the connection is open and in step, `Some(false)` when it is gone,
    /// broken or closed, `None` when an operation holds it right now.
    pub(crate) fn connection_state(&self) -> Option<bool> {
        self.shared.connection_state()
    }

    /// Whether this session's connection is open and in step, or in use (a pool keeps only
    /// those).
    pub(crate) fn is_usable(&self) -> bool {
        self.connection_state().unwrap_or(true)
    }

    /// The configuration this session was opened with.
    pub fn config(&self) -> &Config {
        self.shared.config()
    }

    /// Lists a directory: MLSD when the server offers it, else LIST parsed.
    ///
    /// Entry paths are absolute. An empty `path` lists the working directory.
    pub async fn list(&self, path: &str) -> Result<Vec<Entry>> {
        run!(self, Repeat::Safe, |c| c.list(path))
    }

    /// The server's greeting (its 220 reply), connecting first if need be.
    pub async fn welcome(&self) -> Result<String> {
        run!(self, Repeat::Safe, |c| std::future::ready(Ok(c
            .control
            .welcome()
            .unwrap_or_default())))
    }

    /// The raw bytes of a listing command with any arguments, as the server sent them:
    /// `LIST`, `LIST -la /pub`, `NLST dir`, `MLSD` (for callers that want the server's own
    /// lines, as ftplib's `retrlines` gives them). Other commands are
    /// [`crate::ErrorKind::InvalidInput`].
    pub async fn list_raw(&self, command: &str) -> Result<Vec<u8>> {
        run!(self, Repeat::Safe, |c| c.listing_raw(command))
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
    /// ([`ErrorKind::Integrity`](crate::ErrorKind::Integrity)).
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

    /// Downloads `remote` from byte `offset` to its end into any writer, in one transfer
    /// under the session's lock (REST + RETR; a server without REST sends the file from its
    /// start and the bytes before `offset` are skipped). Then, where the server offers SIZE,
    /// checks that the end was reached (a data connection cut short looks like the end). Not
    /// retried (the writer may hold partial data). An `offset` at or past the end writes
    /// nothing.
    pub async fn download_to_at<W>(&self, remote: &str, offset: u64, sink: &mut W) -> Result<u64>
    where
        W: tokio::io::AsyncWrite + Unpin + Send,
    {
        run!(self, Repeat::Read, |c| async {
            let n = c.retrieve_range(remote, offset, u64::MAX, sink).await?;
            if c.control.has_size() {
                match c.control.size(remote).await {
                    Ok(size) if offset + n != size && !(n == 0 && offset >= size) => {
                        return Err(Error::new(
                            crate::ErrorKind::Io,
                            format!(
                                "RETR {remote}: received bytes {offset} to {}, the file has {size}",
                                offset + n
                            ),
                        ));
                    }
                    Err(e) if e.code().is_none() => return Err(e),
                    _ => {}
                }
            }
            Ok(n)
        })
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
            Ok(c) => c.data().open_read(&format!("RETR {remote}"), true).await,
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
            Ok(c) => c.data().open_upload(remote, false).await,
            Err(e) => Err(e),
        };
        match opened {
            Ok(stream) => Ok(RemoteWriter::new(op, stream, remote)),
            Err(e) => Err(op.fail(e)),
        }
    }

    /// Reads `length` bytes of `remote` from byte `offset` (fewer at the end of the file;
    /// nothing past it). The transfer stops as soon as the bytes are in (REST, RETR, then the
    /// data connection closed), without the session going out of step; a server without REST
    /// sends the file from its start and the bytes before `offset` are discarded.
    pub async fn read_range(&self, remote: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        run!(self, Repeat::Safe, |c| async {
            let mut data = Vec::new();
            c.retrieve_range(remote, offset, length, &mut data).await?;
            Ok(data)
        })
    }

    /// One entry for `path`, a file or a directory (MLST facts where the server offers them,
    /// else SIZE and MDTM, or CWD for a directory); [`crate::ErrorKind::NotFound`] when there
    /// is neither.
    pub async fn stat(&self, path: &str) -> Result<Entry> {
        run!(self, Repeat::Safe, |c| c.control.stat(path))
    }

    /// Sets the modification time of a remote file (MFMT, or vsftpd's MDTM with a time).
    pub async fn set_modified(&self, path: &str, time: DateTime<Utc>) -> Result<()> {
        run!(self, Repeat::Safe, |c| c.control.set_modified(path, time))
    }

    /// Sets the permissions of a remote file or directory (`SITE CHMOD`; `mode` as in
    /// `0o644`).
    pub async fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        run!(self, Repeat::Safe, |c| c.control.chmod(path, mode))
    }

    /// The size of a remote file in bytes (SIZE).
    pub async fn size(&self, path: &str) -> Result<u64> {
        run!(self, Repeat::Safe, |c| c.control.size(path))
    }

    /// The modification time of a remote file (MDTM), in UTC.
    pub async fn modified(&self, path: &str) -> Result<DateTime<Utc>> {
        run!(self, Repeat::Safe, |c| c.control.modified(path))
    }

    /// Whether a remote file or directory exists.
    pub async fn exists(&self, path: &str) -> Result<bool> {
        run!(self, Repeat::Safe, |c| c.control.exists(path))
    }

    /// Creates a directory; with `parents`, also its missing parents (an existing directory is
    /// then not an error).
    pub async fn mkdir(&self, path: &str, parents: bool) -> Result<()> {
        let repeat = if parents { Repeat::Safe } else { Repeat::Never };
        run!(self, repeat, |c| c.control.mkdir(path, parents))
    }

    /// Removes a directory; with `recursive`, everything in it first.
    pub async fn rmdir(&self, path: &str, recursive: bool) -> Result<()> {
        run!(self, Repeat::Never, |c| c.rmdir(path, recursive))
    }

    /// Removes a file (DELE).
    pub async fn remove(&self, path: &str) -> Result<()> {
        run!(self, Repeat::Never, |c| c.control.remove(path))
    }

    /// Renames (moves) a remote file or directory.
    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        run!(self, Repeat::Never, |c| c.control.rename(from, to))
    }

    /// Changes the working directory; it is restored after any reconnect.
    pub async fn cwd(&self, path: &str) -> Result<()> {
        run!(self, Repeat::Safe, |c| c.control.cwd(path))
    }

    /// The working directory.
    pub async fn pwd(&self) -> Result<String> {
        run!(self, Repeat::Safe, |c| c.control.pwd())
    }

    /// NOOP: checks that the connection is alive (reopening it if needed).
    pub async fn noop(&self) -> Result<()> {
        run!(self, Repeat::Safe, |c| c.control.noop())
    }

    /// Sends a raw command line and returns the reply's code and text, whatever the code.
    ///
    /// Commands that change connection state the session relies on (TYPE, REST, PASV, ...)
    /// make the session reopen its connection before the next operation.
    pub async fn quote(&self, line: &str) -> Result<(u16, String)> {
        let mut op = Op::begin(&self.shared).await?;
        let result = match op.conn().await {
            Ok(c) => c.control.quote(line).await,
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
    /// [`crate::ErrorKind::Closed`]. Waits for operations already queued.
    pub async fn close(&self) -> Result<()> {
        self.shared.close().await;
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
