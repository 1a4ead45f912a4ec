//! Local files of transfers: the file itself, written in place, and the part file a
//! download goes to until it is complete.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{Error, ErrorKind, Result};

/// A local file read and written synchronously from the async tasks.
///
/// Disk writes of a transfer buffer land in the page cache in microseconds; doing them in
/// place (instead of on tokio's blocking pool) means a cancelled transfer has no write still
/// in flight that could land in a part file after it was removed or resumed.
pub(crate) struct LocalFile(pub(super) std::fs::File);

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
pub(super) struct PartFile {
    pub(super) file: LocalFile,
    pub(super) part: PathBuf,
    pub(super) target: PathBuf,
    pub(super) committed: bool,
    pub(super) keep: bool,
}

pub(super) fn file_name(target: &Path) -> Result<String> {
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::invalid_input(format!("{} does not name a file", target.display())))
}

impl PartFile {
    /// A fresh part file with a unique name.
    pub(super) fn create(target: &Path) -> Result<Self> {
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
    pub(super) fn resumable(target: &Path) -> Result<(Self, u64)> {
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
    pub(super) fn commit(mut self) -> Result<()> {
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

pub(super) fn local_error(e: std::io::Error, path: &Path, what: &str) -> Error {
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        _ => ErrorKind::Io,
    };
    Error::new(kind, format!("{what} {}: {e}", path.display())).with_source(e)
}
