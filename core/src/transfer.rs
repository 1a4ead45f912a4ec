//! Transfers: files on local disk, and streaming readers and writers that hold the lock.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::connection::{Connection, Progress, Transfer};
use crate::error::{Error, ErrorKind, Result};
use crate::session::Op;

/// Options of [`crate::Session::download`].
#[derive(Clone)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Called with `(bytes done, total if known)` as data arrives.
    pub progress: Option<Progress>,
    /// Continue a partial download (REST) from the part file a failed earlier attempt kept;
    /// on failure the part file is kept for the next attempt.
    pub resume: bool,
    /// Check the received size against the server's (the size announced in the 150 reply,
    /// else SIZE where the server offers it).
    pub verify: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            progress: None,
            resume: false,
            verify: true,
        }
    }
}

impl DownloadOptions {
    /// Sets the progress callback.
    #[must_use]
    pub fn progress(mut self, f: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(f));
        self
    }

    /// Sets `resume`.
    #[must_use]
    pub fn resume(mut self, yes: bool) -> Self {
        self.resume = yes;
        self
    }

    /// Sets `verify`.
    #[must_use]
    pub fn verify(mut self, yes: bool) -> Self {
        self.verify = yes;
        self
    }
}

/// Options of [`crate::Session::upload`].
#[derive(Clone)]
#[non_exhaustive]
pub struct UploadOptions {
    /// Called with `(bytes done, total if known)` as data is sent.
    pub progress: Option<Progress>,
    /// Continue from the size the remote file (or, with `atomic`, its temporary file) already
    /// has: REST + STOR, or APPE where the server refuses REST.
    pub resume: bool,
    /// Upload to a temporary name beside the target and rename it into place after the
    /// server's final reply, so readers never see a partial file.
    pub atomic: bool,
    /// Check the remote size after the upload (SIZE, where the server offers it).
    pub verify: bool,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            progress: None,
            resume: false,
            atomic: false,
            verify: true,
        }
    }
}

impl UploadOptions {
    /// Sets the progress callback.
    #[must_use]
    pub fn progress(mut self, f: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(f));
        self
    }

    /// Sets `resume`.
    #[must_use]
    pub fn resume(mut self, yes: bool) -> Self {
        self.resume = yes;
        self
    }

    /// Sets `atomic`.
    #[must_use]
    pub fn atomic(mut self, yes: bool) -> Self {
        self.atomic = yes;
        self
    }

    /// Sets `verify`.
    #[must_use]
    pub fn verify(mut self, yes: bool) -> Self {
        self.verify = yes;
        self
    }
}

/// A local file read and written synchronously from the async tasks.
///
/// Disk writes of a transfer buffer land in the page cache in microseconds; doing them in
/// place (instead of on tokio's blocking pool) means a cancelled transfer has no write still
/// in flight that could land in a part file after it was removed or resumed.
pub(crate) struct LocalFile(std::fs::File);

impl AsyncWrite for LocalFile {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(std::io::Write::write(&mut self.0, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(std::io::Write::flush(&mut self.0))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for LocalFile {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = std::io::Read::read(&mut self.0, buf.initialize_unfilled());
        Poll::Ready(n.map(|n| buf.advance(n)))
    }
}

/// A temporary file beside the target: removed on drop unless committed (or kept for resume).
struct PartFile {
    file: LocalFile,
    part: PathBuf,
    target: PathBuf,
    committed: bool,
    keep: bool,
}

fn file_name(target: &Path) -> Result<String> {
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::invalid_input(format!("{} does not name a file", target.display())))
}

impl PartFile {
    /// A fresh part file with a unique name.
    fn create(target: &Path) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let part = target.with_file_name(format!(
            ".{}.{}-{}.ferroftp-part",
            file_name(target)?,
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        // Created synchronously (a quick syscall), so that a cancelled download can never leave
        // a part file behind that no guard knows about.
        let file =
            std::fs::File::create(&part).map_err(|e| local_error(e, &part, "cannot create"))?;
        Ok(Self {
            file: LocalFile(file),
            part,
            target: target.to_path_buf(),
            committed: false,
            keep: false,
        })
    }

    /// The resumable part file of `target` (a fixed name), opened for appending; returns it
    /// with the length it already has.
    fn resumable(target: &Path) -> Result<(Self, u64)> {
        let part = target.with_file_name(format!(".{}.ferroftp-part", file_name(target)?));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&part)
            .map_err(|e| local_error(e, &part, "cannot open"))?;
        let len = file
            .metadata()
            .map_err(|e| local_error(e, &part, "cannot read"))?
            .len();
        Ok((
            Self {
                file: LocalFile(file),
                part,
                target: target.to_path_buf(),
                committed: false,
                keep: true,
            },
            len,
        ))
    }

    /// Renames the part file into place.
    fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.part, &self.target)
            .map_err(|e| local_error(e, &self.target, "cannot move the download into"))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.committed && !self.keep {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

fn local_error(e: std::io::Error, path: &Path, what: &str) -> Error {
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        _ => ErrorKind::Io,
    };
    Error::new(kind, format!("{what} {}: {e}", path.display())).with_source(e)
}

/// A refused REST (the server cannot resume): 500-504.
fn rest_refused(e: &Error) -> bool {
    matches!(e.code(), Some(500..=504))
}

/// Compares `expected` with the server's SIZE of `remote`; servers without SIZE are trusted.
pub(crate) async fn verify_size(
    c: &mut Connection,
    remote: &str,
    expected: u64,
    what: &str,
) -> Result<()> {
    if !c.has_size() {
        return Ok(());
    }
    match c.size(remote).await {
        Ok(size) if size == expected => Ok(()),
        Ok(size) => Err(Error::new(
            ErrorKind::Io,
            format!("{what} {remote}: {expected} bytes here, the server has {size}"),
        )),
        Err(e) if e.code().is_some() => Ok(()), // SIZE refused for this file: nothing to compare
        Err(e) => Err(e),
    }
}

/// RETR `remote` into a local file that is not a regular file: a FIFO is written through the
/// runtime's I/O driver (its reader may be slow: no thread blocks on it), other special files
/// (`/dev/null`, a character device) with plain writes.
async fn download_to_special(
    c: &mut Connection,
    remote: &str,
    local: &Path,
    meta: &std::fs::Metadata,
    options: &DownloadOptions,
) -> Result<u64> {
    use std::os::unix::fs::FileTypeExt;
    let progress = options.progress.as_ref();
    let (n, checked) = if meta.file_type().is_fifo() {
        // Read-write, so that opening does not fail while no reader has opened it yet (the
        // data waits in the pipe for one, as a blocking open would have).
        let mut sink = tokio::net::unix::pipe::OpenOptions::new()
            .read_write(true)
            .open_sender(local)
            .map_err(|e| local_error(e, local, "cannot open"))?;
        let r = c.retrieve_from(remote, &mut sink, progress, 0).await?;
        sink.flush()
            .await
            .map_err(|e| local_error(e, local, "cannot write"))?;
        r
    } else {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(local)
            .map_err(|e| local_error(e, local, "cannot open"))?;
        c.retrieve_from(remote, &mut LocalFile(file), progress, 0)
            .await?
    };
    if options.verify && !checked {
        verify_size(c, remote, n, "RETR").await?;
    }
    Ok(n)
}

/// RETR `remote` into the local path `local` (see [`crate::Session::download`]).
pub(crate) async fn download_to_path(
    c: &mut Connection,
    remote: &str,
    local: &Path,
    options: &DownloadOptions,
) -> Result<u64> {
    let progress = options.progress.as_ref();
    // A quick syscall, done in place (a blocking-pool round trip costs more than the stat).
    match std::fs::metadata(local) {
        Ok(m) if m.is_dir() => {
            return Err(Error::invalid_input(format!(
                "{} is a directory",
                local.display()
            )));
        }
        Ok(m) if !m.is_file() => {
            // A device or FIFO: written directly, there is nothing to rename.
            let n = download_to_special(c, remote, local, &m, options).await?;
            return Ok(n);
        }
        _ => {}
    }
    if options.resume {
        let (mut part, offset) = PartFile::resumable(local)?;
        let (received, checked) = match c
            .retrieve_from(remote, &mut part.file, progress, offset)
            .await
        {
            Err(e) if offset > 0 && rest_refused(&e) => {
                log::debug!("{remote}: the server cannot resume ({e}); starting over");
                part.file
                    .0
                    .set_len(0)
                    .map_err(|e| local_error(e, &part.part, "cannot truncate"))?;
                c.retrieve_from(remote, &mut part.file, progress, 0).await?
            }
            other => other?,
        };
        let len = part
            .file
            .0
            .metadata()
            .map_err(|e| local_error(e, &part.part, "cannot read"))?
            .len();
        if options.verify && !checked {
            verify_size(c, remote, len, "RETR").await?;
        }
        part.commit()?;
        return Ok(received);
    }
    let mut part = PartFile::create(local)?;
    let (n, checked) = c.retrieve_from(remote, &mut part.file, progress, 0).await?;
    if options.verify && !checked {
        verify_size(c, remote, n, "RETR").await?;
    }
    part.commit()?;
    Ok(n)
}

/// The temporary remote name of an atomic upload to `remote`.
fn upload_temp_name(remote: &str, fixed: bool) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (dir, name) = match remote.rsplit_once('/') {
        Some((d, n)) => (format!("{d}/"), n),
        None => (String::new(), remote),
    };
    if fixed {
        format!("{dir}.{name}.ferroftp-upload")
    } else {
        format!(
            "{dir}.{name}.{}-{}.ferroftp-upload",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// Uploads from a pipe, FIFO or device: read on tokio's blocking pool, so a writer that stalls
/// blocks no runtime thread (and the upload stays cancellable). It cannot be resumed.
async fn upload_from_stream(
    c: &mut Connection,
    local: &Path,
    remote: &str,
    options: &UploadOptions,
) -> Result<u64> {
    if options.resume {
        return Err(Error::invalid_input(format!(
            "{} is not a regular file: an upload from it cannot be resumed",
            local.display()
        )));
    }
    let mut source = tokio::fs::File::open(local)
        .await
        .map_err(|e| local_error(e, local, "cannot open"))?;
    let dest = if options.atomic {
        upload_temp_name(remote, false)
    } else {
        remote.to_string()
    };
    let sent = c
        .store(&dest, &mut source, None, false, options.progress.as_ref())
        .await?;
    if options.verify {
        verify_size(c, &dest, sent, "STOR").await?;
    }
    if options.atomic {
        c.rename(&dest, remote).await?;
    }
    Ok(sent)
}

/// STOR the local file `local` to `remote` (see [`crate::Session::upload`]); returns the
/// bytes sent.
pub(crate) async fn upload_from_path(
    c: &mut Connection,
    local: &Path,
    remote: &str,
    options: &UploadOptions,
) -> Result<u64> {
    let progress = options.progress.as_ref();
    let meta = std::fs::metadata(local).map_err(|e| local_error(e, local, "cannot open"))?;
    if meta.is_dir() {
        return Err(Error::invalid_input(format!(
            "{} is a directory",
            local.display()
        )));
    }
    if !meta.is_file() {
        return upload_from_stream(c, local, remote, options).await;
    }
    let mut file =
        LocalFile(std::fs::File::open(local).map_err(|e| local_error(e, local, "cannot open"))?);
    let len = meta.len();
    let dest = if options.atomic {
        upload_temp_name(remote, options.resume)
    } else {
        remote.to_string()
    };
    let sent = async {
        let mut offset = 0;
        if options.resume {
            offset = match c.size(&dest).await {
                Ok(n) if n <= len => n,
                Ok(_) => 0, // longer than ours: not a prefix of this file, start over
                Err(e) if e.code().is_some() => 0,
                Err(e) => return Err(e),
            };
        }
        let sent = if offset == len && offset > 0 {
            0
        } else if offset > 0 {
            use std::io::Seek;
            file.0
                .seek(std::io::SeekFrom::Start(offset))
                .map_err(|e| local_error(e, local, "cannot seek in"))?;
            match c
                .store_at(&dest, &mut file, Some(len), false, progress, offset)
                .await
            {
                Err(e) if rest_refused(&e) => {
                    log::debug!("{dest}: REST refused ({e}); appending instead");
                    c.append_from(&dest, &mut file, Some(len), progress, offset)
                        .await?
                }
                other => other?,
            }
        } else {
            c.store(&dest, &mut file, Some(len), false, progress)
                .await?
        };
        if options.verify {
            verify_size(c, &dest, len, "STOR").await?;
        }
        Ok(sent)
    }
    .await;
    let sent = match sent {
        Ok(n) => n,
        Err(e) => {
            if options.atomic && !options.resume && !e.breaks_connection() {
                let _ = c.remove(&dest).await;
            }
            return Err(e);
        }
    };
    if options.atomic
        && let Err(e) = c.rename(&dest, remote).await
    {
        // Some servers refuse to rename over an existing file: replace it explicitly.
        if e.code().is_none() || c.remove(remote).await.is_err() {
            return Err(e);
        }
        c.rename(&dest, remote).await?;
    }
    Ok(sent)
}

/// A remote file open for reading; holds the session's lock until finished or dropped.
///
/// Read it with [`tokio::io::AsyncReadExt`], then call [`RemoteReader::finish`] to read the
/// server's final reply. Dropping it unfinished abandons the transfer: the session reopens its
/// connection before the next operation.
pub struct RemoteReader {
    op: Op,
    stream: Option<Transfer>,
    context: String,
    total: Option<u64>,
    idle: Idle,
    length: Length,
    /// The data connection reached its end of stream.
    ended: bool,
}

/// The data-idle timeout of a streaming transfer: an I/O call that makes no progress for the
/// session's `timeout` fails with `TimedOut` instead of waiting forever on a stalled server.
struct Idle {
    limit: std::time::Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Idle {
    fn new(limit: std::time::Duration) -> Self {
        Self {
            limit,
            timer: Box::pin(tokio::time::sleep(limit)),
        }
    }

    /// Passes `poll` through, restarting the timer on progress and failing once it runs out.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match poll {
            Poll::Ready(r) => {
                let next = tokio::time::Instant::now() + self.limit;
                self.timer.as_mut().reset(next);
                Poll::Ready(r)
            }
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no data for {:.1} s", self.limit.as_secs_f64()),
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl RemoteReader {
    pub(crate) fn new(op: Op, stream: Transfer, remote: &str, total: Option<u64>) -> Self {
        let idle = Idle::new(op.config().timeout);
        Self {
            op,
            stream: Some(stream),
            context: format!("RETR {remote}"),
            total,
            idle,
            length: Length::new("RETR", remote),
            ended: false,
        }
    }

    /// The file size the server announced when the transfer started, if it did.
    pub fn announced_size(&self) -> Option<u64> {
        self.total
    }

    /// Closes the data connection and reads the server's final reply, releasing the lock.
    ///
    /// Finishing before the end of the file makes most servers report the transfer as aborted
    /// (an error here); the session stays usable either way. A stream that reached its end is
    /// checked against the size the server announced (else SIZE, where the server offers it),
    /// so a data connection cut short is an error even when the server reported success.
    pub async fn finish(mut self) -> Result<()> {
        let length = self.ended.then_some((&self.length, self.total));
        finish_stream(&mut self.op, self.stream.take(), &self.context, length).await
    }
}

impl AsyncRead for RemoteReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        match this.stream.as_mut() {
            Some(s) => {
                let before = buf.filled().len();
                let poll = Pin::new(s).poll_read(cx, buf);
                if let Poll::Ready(Ok(())) = poll {
                    let n = buf.filled().len() - before;
                    this.length.done += n as u64;
                    // Nothing read into room for something: the end of the stream.
                    this.ended |= n == 0 && buf.remaining() > 0;
                }
                this.idle.guard(cx, poll)
            }
            None => Poll::Ready(Ok(())),
        }
    }
}

/// A remote file open for writing (STOR); holds the session's lock until finished or dropped.
///
/// Write with [`tokio::io::AsyncWriteExt`], then call [`RemoteWriter::finish`]: the upload is
/// complete only when it returns `Ok`. Dropping it unfinished abandons the upload.
pub struct RemoteWriter {
    op: Op,
    stream: Option<Transfer>,
    context: String,
    idle: Idle,
    length: Length,
}

impl RemoteWriter {
    pub(crate) fn new(op: Op, stream: Transfer, remote: &str) -> Self {
        let idle = Idle::new(op.config().timeout);
        Self {
            op,
            stream: Some(stream),
            context: format!("STOR {remote}"),
            idle,
            length: Length::new("STOR", remote),
        }
    }

    /// Flushes, closes the data connection and waits for the server's confirmation; then
    /// checks the server's size of the file (SIZE, where the server offers it) against the
    /// bytes written.
    pub async fn finish(mut self) -> Result<()> {
        if let Some(s) = self.stream.as_mut() {
            let timeout = self.op.config().timeout;
            let flushed = crate::connection::bounded_io(timeout, &self.context, s.flush()).await;
            if let Err(e) = flushed {
                return Err(uncertain(self.op.fail(e)));
            }
        }
        let length = Some((&self.length, None));
        finish_stream(&mut self.op, self.stream.take(), &self.context, length)
            .await
            .map_err(uncertain)
    }
}

impl AsyncWrite for RemoteWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match this.stream.as_mut() {
            Some(s) => {
                let poll = Pin::new(s).poll_write(cx, buf);
                if let Poll::Ready(Ok(n)) = poll {
                    this.length.done += n as u64;
                }
                this.idle.guard(cx, poll)
            }
            None => Poll::Ready(Err(std::io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stream.as_mut() {
            Some(s) => Pin::new(s).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stream.as_mut() {
            Some(s) => Pin::new(s).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

/// A streaming upload that failed with its connection may still have taken effect (the STOR
/// was sent), as for [`crate::Session::upload`].
fn uncertain(e: Error) -> Error {
    if e.breaks_connection() {
        e.mark_uncertain()
    } else {
        e
    }
}

/// The bytes a streaming transfer moved, to check once the server confirmed it.
struct Length {
    verb: &'static str,
    remote: String,
    done: u64,
}

impl Length {
    fn new(verb: &'static str, remote: &str) -> Self {
        Self {
            verb,
            remote: remote.to_string(),
            done: 0,
        }
    }
}

/// Reads the final reply of a streaming transfer; with `length`, then checks the bytes moved
/// against the size the server announced (the `Option<u64>`), else against SIZE.
async fn finish_stream(
    op: &mut Op,
    stream: Option<Transfer>,
    context: &str,
    length: Option<(&Length, Option<u64>)>,
) -> Result<()> {
    let Some(stream) = stream else {
        return Ok(());
    };
    let result = match op.existing() {
        Some(conn) => match (conn.finish(stream, context).await, length) {
            (Ok(()), Some((l, Some(total)))) if total != l.done => Err(Error::new(
                ErrorKind::Io,
                format!(
                    "{context}: received {} bytes, the server announced {total}",
                    l.done
                ),
            )),
            (Ok(()), Some((l, None))) => verify_size(conn, &l.remote, l.done, l.verb).await,
            (result, _) => result,
        },
        None => Err(Error::new(ErrorKind::Closed, "the connection is gone")),
    };
    op.end(result)
}
