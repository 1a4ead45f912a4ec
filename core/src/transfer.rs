//! Transfers: files on local disk, and streaming readers and writers that hold the lock.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::connection::{Connection, Progress, Transfer};
use crate::error::{Error, ErrorKind, Result};
use crate::session::Op;

/// Options of [`crate::Session::download`].
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Called with `(bytes done, total if known)` as data arrives.
    pub progress: Option<Progress>,
}

impl DownloadOptions {
    /// Sets the progress callback.
    #[must_use]
    pub fn progress(mut self, f: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(f));
        self
    }
}

/// Options of [`crate::Session::upload`].
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct UploadOptions {
    /// Called with `(bytes done, total if known)` as data is sent.
    pub progress: Option<Progress>,
}

impl UploadOptions {
    /// Sets the progress callback.
    #[must_use]
    pub fn progress(mut self, f: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(f));
        self
    }
}

/// A temporary file beside the target, removed on drop unless committed.
struct PartFile {
    file: tokio::fs::File,
    part: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl PartFile {
    fn create(target: &Path) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = target
            .file_name()
            .ok_or_else(|| {
                Error::invalid_input(format!("{} does not name a file", target.display()))
            })?
            .to_string_lossy();
        let part = target.with_file_name(format!(
            ".{name}.{}-{}.ferroftp-part",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        // Created synchronously (a quick syscall), so that a cancelled download can never leave
        // a part file behind that no guard knows about.
        let file =
            std::fs::File::create(&part).map_err(|e| local_error(e, &part, "cannot create"))?;
        Ok(Self {
            file: tokio::fs::File::from_std(file),
            part,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// Flushes the data and renames the part file into place.
    async fn commit(mut self) -> Result<()> {
        self.file
            .flush()
            .await
            .map_err(|e| local_error(e, &self.part, "cannot write"))?;
        std::fs::rename(&self.part, &self.target)
            .map_err(|e| local_error(e, &self.target, "cannot move the download into"))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.committed {
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

/// RETR `remote` into the local path `local` (see [`crate::Session::download`]).
pub(crate) async fn download_to_path(
    c: &mut Connection,
    remote: &str,
    local: &Path,
    progress: Option<&Progress>,
) -> Result<u64> {
    match tokio::fs::metadata(local).await {
        Ok(m) if m.is_dir() => {
            return Err(Error::invalid_input(format!(
                "{} is a directory",
                local.display()
            )));
        }
        Ok(m) if !m.is_file() => {
            // A device or FIFO: written directly, there is nothing to rename.
            let mut sink = tokio::fs::OpenOptions::new()
                .write(true)
                .open(local)
                .await
                .map_err(|e| local_error(e, local, "cannot open"))?;
            let n = c.retrieve(remote, &mut sink, progress).await?;
            sink.flush()
                .await
                .map_err(|e| local_error(e, local, "cannot write"))?;
            return Ok(n);
        }
        _ => {}
    }
    let mut part = PartFile::create(local)?;
    let n = c.retrieve(remote, &mut part.file, progress).await?;
    part.commit().await?;
    Ok(n)
}

/// STOR the local file `local` to `remote` (see [`crate::Session::upload`]).
pub(crate) async fn upload_from_path(
    c: &mut Connection,
    local: &Path,
    remote: &str,
    progress: Option<&Progress>,
) -> Result<u64> {
    let mut file = tokio::fs::File::open(local)
        .await
        .map_err(|e| local_error(e, local, "cannot open"))?;
    let total = file.metadata().await.ok().map(|m| m.len());
    c.store(remote, &mut file, total, false, progress).await
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
}

impl RemoteReader {
    pub(crate) fn new(op: Op, stream: Transfer, remote: &str, total: Option<u64>) -> Self {
        Self {
            op,
            stream: Some(stream),
            context: format!("RETR {remote}"),
            total,
        }
    }

    /// The file size the server announced when the transfer started, if it did.
    pub fn announced_size(&self) -> Option<u64> {
        self.total
    }

    /// Closes the data connection and reads the server's final reply, releasing the lock.
    ///
    /// Finishing before the end of the file makes most servers report the transfer as aborted
    /// (an error here); the session stays usable either way.
    pub async fn finish(mut self) -> Result<()> {
        finish_stream(&mut self.op, self.stream.take(), &self.context).await
    }
}

impl AsyncRead for RemoteReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.stream.as_mut() {
            Some(s) => Pin::new(s).poll_read(cx, buf),
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
}

impl RemoteWriter {
    pub(crate) fn new(op: Op, stream: Transfer, remote: &str) -> Self {
        Self {
            op,
            stream: Some(stream),
            context: format!("STOR {remote}"),
        }
    }

    /// Flushes, closes the data connection and waits for the server's confirmation.
    pub async fn finish(mut self) -> Result<()> {
        if let Some(s) = self.stream.as_mut() {
            let timeout = self.op.config().timeout;
            let flushed = crate::connection::bounded_io(timeout, &self.context, s.flush()).await;
            if let Err(e) = flushed {
                return Err(self.op.fail(e));
            }
        }
        finish_stream(&mut self.op, self.stream.take(), &self.context).await
    }
}

impl AsyncWrite for RemoteWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.stream.as_mut() {
            Some(s) => Pin::new(s).poll_write(cx, buf),
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

async fn finish_stream(op: &mut Op, stream: Option<Transfer>, context: &str) -> Result<()> {
    let Some(stream) = stream else {
        return Ok(());
    };
    let result = match op.existing() {
        Some(conn) => conn.finish(stream, context).await,
        None => Err(Error::new(ErrorKind::Closed, "the connection is gone")),
    };
    op.end(result)
}
