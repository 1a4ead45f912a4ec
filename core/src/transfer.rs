//! Transfers: files on local disk, and streaming readers and writers that hold the lock.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::checksum::{self, Checksum, Hasher, Hashing, Method};
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
    /// Compare a checksum of the received data with the server's (HASH, XSHA256, ...) before
    /// the file is renamed into place; off by default. See [`Checksum`].
    pub checksum: Checksum,
    /// The remote file this session downloads next (a batch knows it): its RETR may go
    /// ahead at the end of this download's data (see [`crate::Config::pipelining`]).
    pub(crate) next: Option<String>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            progress: None,
            resume: false,
            verify: true,
            checksum: Checksum::Off,
            next: None,
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

    /// Sets `checksum`, e.g. `DownloadOptions::default().checksum(Checksum::IfAvailable)`.
    #[must_use]
    pub fn checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = checksum;
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
    /// Compare a checksum of the local file with the server's digest of what it stored
    /// (HASH, XSHA256, ...), before an atomic upload is renamed into place; off by default.
    /// See [`Checksum`].
    pub checksum: Checksum,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            progress: None,
            resume: false,
            atomic: false,
            verify: true,
            checksum: Checksum::Off,
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

    /// Sets `checksum`, e.g. `UploadOptions::default().checksum(Checksum::Required)`.
    #[must_use]
    pub fn checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = checksum;
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

/// The checksum check a transfer will make, decided from FEAT before any data moves: a
/// required checksum the server cannot give fails here.
fn checksum_plan(c: &Connection, wanted: Checksum, context: &str) -> Result<Option<Method>> {
    c.hash_features().plan(wanted).map_err(|why| {
        Error::new(
            ErrorKind::Permanent,
            format!("{context}: a checksum is required, but {why}"),
        )
    })
}

/// Compares `ours`, the digest of the data transferred, with the server's digest of `remote`
/// (`len` bytes). Returns whether they were compared: a server that refuses the command (or
/// answers something unreadable) is only logged with [`Checksum::IfAvailable`].
async fn compare_checksum(
    c: &mut Connection,
    remote: &str,
    len: u64,
    method: &Method,
    ours: &[u8],
    wanted: Checksum,
    context: &str,
) -> Result<bool> {
    let theirs = match c.remote_digest(remote, len, method).await {
        Ok(d) => d,
        Err(e) if wanted == Checksum::IfAvailable && e.code().is_some() => {
            log::warn!("{context}: not checked with a checksum: {e}");
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    if theirs == ours {
        return Ok(true);
    }
    Err(Error::new(
        ErrorKind::Integrity,
        format!(
            "{context}: checksum mismatch: the {} of the data here is {}, the server's ({} {remote}) is {}",
            method.algorithm(),
            checksum::hex(ours),
            method.verb(),
            checksum::hex(&theirs),
        ),
    ))
}

/// The digest a transfer of `len` bytes from `offset` starts from: the local file's first
/// `offset` bytes (sent or received by an earlier attempt), or nothing.
async fn starting_digest(
    method: Option<&Method>,
    path: &Path,
    offset: u64,
) -> Result<Option<Hasher>> {
    match method.map(Method::algorithm) {
        Some(alg) if offset > 0 => checksum::hash_prefix(path, offset, alg)
            .await
            .map(Some)
            .map_err(|e| local_error(e, path, "cannot read")),
        alg => Ok(alg.map(Hasher::new)),
    }
}

/// After a download of `len` bytes: the checksum (if asked for), else the size check (if asked
/// for and not done yet). `digest` is the local one.
async fn check_download(
    c: &mut Connection,
    remote: &str,
    len: u64,
    method: Option<&Method>,
    digest: Option<Vec<u8>>,
    options: &DownloadOptions,
    size_checked: bool,
) -> Result<()> {
    let context = format!("RETR {remote}");
    let compared = match (method, digest) {
        (Some(m), Some(d)) => {
            compare_checksum(c, remote, len, m, &d, options.checksum, &context).await?
        }
        _ => false,
    };
    if options.verify && !size_checked && !compared {
        verify_size(c, remote, len, "RETR").await?;
    }
    Ok(())
}

/// The download that follows on the same session, whose RETR may go ahead: not when this
/// one ends with a checksum command, which would only give that RETR up.
fn next_download<'a>(options: &'a DownloadOptions, method: Option<&Method>) -> Option<&'a str> {
    options.next.as_deref().filter(|_| method.is_none())
}

/// RETR `remote` into a local file that is not a regular file: a FIFO is written through the
/// runtime's I/O driver (its reader may be slow: no thread blocks on it), other special files
/// (`/dev/null`, a character device) with plain writes. Nothing to rename: a failed checksum
/// can only say that the data was written.
async fn download_to_special(
    c: &mut Connection,
    remote: &str,
    local: &Path,
    meta: &std::fs::Metadata,
    method: Option<&Method>,
    options: &DownloadOptions,
) -> Result<u64> {
    use std::os::unix::fs::FileTypeExt;
    let progress = options.progress.as_ref();
    let hasher = || method.map(|m| Hasher::new(m.algorithm()));
    let (n, checked, digest) = if meta.file_type().is_fifo() {
        // Read-write, so that opening does not fail while no reader has opened it yet (the
        // data waits in the pipe for one, as a blocking open would have).
        let pipe = tokio::net::unix::pipe::OpenOptions::new()
            .read_write(true)
            .open_sender(local)
            .map_err(|e| local_error(e, local, "cannot open"))?;
        let mut sink = Hashing::new(pipe, hasher());
        let next = next_download(options, method);
        let (n, checked) = c
            .retrieve_from(remote, &mut sink, progress, 0, next)
            .await?;
        sink.flush()
            .await
            .map_err(|e| local_error(e, local, "cannot write"))?;
        (n, checked, sink.finish())
    } else {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(local)
            .map_err(|e| local_error(e, local, "cannot open"))?;
        let mut sink = Hashing::new(LocalFile(file), hasher());
        let next = next_download(options, method);
        let (n, checked) = c
            .retrieve_from(remote, &mut sink, progress, 0, next)
            .await?;
        (n, checked, sink.finish())
    };
    check_download(c, remote, n, method, digest, options, checked)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Integrity => e.with_note(&format!(
                "the data was written to {} directly",
                local.display()
            )),
            _ => e,
        })?;
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
    let method = checksum_plan(c, options.checksum, &format!("RETR {remote}"))?;
    let alg = method.as_ref().map(Method::algorithm);
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
            let n = download_to_special(c, remote, local, &m, method.as_ref(), options).await?;
            return Ok(n);
        }
        _ => {}
    }
    if options.resume {
        let (mut part, offset) = PartFile::resumable(local)?;
        let start = starting_digest(method.as_ref(), &part.part, offset).await?;
        let mut sink = Hashing::new(&mut part.file, start);
        let (received, checked) = match c
            .retrieve_from(remote, &mut sink, progress, offset, None)
            .await
        {
            Err(e) if offset > 0 && rest_refused(&e) => {
                log::debug!("{remote}: the server cannot resume ({e}); starting over");
                sink.inner
                    .0
                    .set_len(0)
                    .map_err(|e| local_error(e, &part.part, "cannot truncate"))?;
                sink.restart(alg);
                c.retrieve_from(remote, &mut sink, progress, 0, None)
                    .await?
            }
            other => other?,
        };
        let digest = sink.finish();
        let len = part
            .file
            .0
            .metadata()
            .map_err(|e| local_error(e, &part.part, "cannot read"))?
            .len();
        if let Err(e) =
            check_download(c, remote, len, method.as_ref(), digest, options, checked).await
        {
            if e.kind() != ErrorKind::Integrity {
                return Err(e);
            }
            // Resuming from bad data cannot help: start the next attempt afresh.
            part.keep = false;
            return Err(e.with_note(&format!(
                "the download was discarded (part file removed, {} left as it was)",
                local.display()
            )));
        }
        part.commit()?;
        return Ok(received);
    }
    let mut part = PartFile::create(local)?;
    let mut sink = Hashing::new(&mut part.file, alg.map(Hasher::new));
    let next = next_download(options, method.as_ref());
    let (n, checked) = c
        .retrieve_from(remote, &mut sink, progress, 0, next)
        .await?;
    let digest = sink.finish();
    check_download(c, remote, n, method.as_ref(), digest, options, checked)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Integrity => e.with_note(&format!(
                "the download was discarded ({} left as it was)",
                local.display()
            )),
            _ => e,
        })?;
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

/// After an upload to `dest` of a local file of `len` bytes: the checksum (if asked for), else
/// the size check (if asked for).
async fn check_upload(
    c: &mut Connection,
    dest: &str,
    len: u64,
    method: Option<&Method>,
    digest: Option<Vec<u8>>,
    options: &UploadOptions,
) -> Result<()> {
    let context = format!("STOR {dest}");
    let compared = match (method, digest) {
        (Some(m), Some(d)) => {
            compare_checksum(c, dest, len, m, &d, options.checksum, &context).await?
        }
        _ => false,
    };
    if options.verify && !compared {
        verify_size(c, dest, len, "STOR").await?;
    }
    Ok(())
}

/// Cleans up after a failed upload to `dest` (the temporary name of an atomic upload to
/// `remote`, or `remote` itself) and says in the error what was left behind.
async fn upload_failed(
    c: &mut Connection,
    e: Error,
    dest: &str,
    remote: &str,
    options: &UploadOptions,
) -> Error {
    let integrity = e.kind() == ErrorKind::Integrity;
    if options.atomic && (!options.resume || integrity) && !e.breaks_connection() {
        // A resumable temporary file is kept for the next attempt, unless its data is bad.
        let removed = c.remove(dest).await.is_ok();
        if integrity {
            return e.with_note(&if removed {
                format!("the temporary file {dest} was removed and {remote} left as it was")
            } else {
                format!("{remote} was left as it was, but the temporary file {dest} could not be removed")
            });
        }
    } else if integrity {
        return e.with_note(&if options.resume {
            format!(
                "{remote} is left as the server stored it (remove it: resuming would keep its bad data)"
            )
        } else {
            format!("{remote} is left as the server stored it")
        });
    }
    e
}

/// Uploads from a pipe, FIFO or device: read on tokio's blocking pool, so a writer that stalls
/// blocks no runtime thread (and the upload stays cancellable). It cannot be resumed.
async fn upload_from_stream(
    c: &mut Connection,
    local: &Path,
    remote: &str,
    options: &UploadOptions,
    method: Option<Method>,
) -> Result<u64> {
    if options.resume {
        return Err(Error::invalid_input(format!(
            "{} is not a regular file: an upload from it cannot be resumed",
            local.display()
        )));
    }
    let source = tokio::fs::File::open(local)
        .await
        .map_err(|e| local_error(e, local, "cannot open"))?;
    let mut source = Hashing::new(source, method.as_ref().map(|m| Hasher::new(m.algorithm())));
    let dest = if options.atomic {
        upload_temp_name(remote, false)
    } else {
        remote.to_string()
    };
    let checked = async {
        let sent = c
            .store(&dest, &mut source, None, false, options.progress.as_ref())
            .await?;
        check_upload(c, &dest, sent, method.as_ref(), source.finish(), options).await?;
        Ok(sent)
    }
    .await;
    let sent = match checked {
        Ok(n) => n,
        Err(e) => return Err(upload_failed(c, e, &dest, remote, options).await),
    };
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
    let method = checksum_plan(c, options.checksum, &format!("STOR {remote}"))?;
    if !meta.is_file() {
        return upload_from_stream(c, local, remote, options, method).await;
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
        let start = starting_digest(method.as_ref(), local, offset).await?;
        let (sent, digest) = if offset == len && offset > 0 {
            (0, start.map(Hasher::finish))
        } else if offset > 0 {
            use std::io::Seek;
            file.0
                .seek(std::io::SeekFrom::Start(offset))
                .map_err(|e| local_error(e, local, "cannot seek in"))?;
            let mut source = Hashing::new(&mut file, start);
            let sent = match c
                .store_at(&dest, &mut source, Some(len), false, progress, offset)
                .await
            {
                // Refused before any data was read: the digest still covers the prefix only.
                Err(e) if rest_refused(&e) => {
                    log::debug!("{dest}: REST refused ({e}); appending instead");
                    c.append_from(&dest, &mut source, Some(len), progress, offset)
                        .await?
                }
                other => other?,
            };
            (sent, source.finish())
        } else {
            let mut source = Hashing::new(&mut file, start);
            let sent = c
                .store(&dest, &mut source, Some(len), false, progress)
                .await?;
            (sent, source.finish())
        };
        check_upload(c, &dest, len, method.as_ref(), digest, options).await?;
        Ok(sent)
    }
    .await;
    let sent = match sent {
        Ok(n) => n,
        Err(e) => return Err(upload_failed(c, e, &dest, remote, options).await),
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
            if let Some(conn) = self.op.existing() {
                conn.end_upload(s).await;
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
