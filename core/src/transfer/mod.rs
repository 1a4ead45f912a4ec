//! Transfers: files on local disk, and streaming readers and writers that hold the lock.

mod check;
mod download;
mod local;
mod remote;
mod upload;

use crate::checksum::Checksum;
use crate::progress::Progress;

pub(crate) use check::verify_size;
pub(crate) use download::download_to_path;
pub use remote::{RemoteReader, RemoteWriter};
pub(crate) use upload::upload_from_path;

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
