//! Transfer options and progress: records whose unset fields keep the core's defaults
//! (`ferroftp::DownloadOptions::default()`, ...), and the progress callback interface.

use std::sync::Arc;

use ferroftp::Checksum;
use tokio::sync::watch;

use crate::error::Result;

/// Receives a transfer's progress: `done` bytes so far, of `total` when known.
///
/// A blocking method calls it on the calling thread while it waits; an async method or a
/// background task calls it on a thread of the library's runtime. Keep it quick: the transfer
/// waits for it.
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    /// Called as data moves.
    fn on_progress(&self, done: u64, total: Option<u64>);
}

/// Options of a download; a field left unset keeps the core's default.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct DownloadOptions {
    /// Continue a partial download kept by an earlier failed attempt (REST).
    #[uniffi(default = None)]
    pub resume: Option<bool>,
    /// Check the received size against the server's.
    #[uniffi(default = None)]
    pub verify: Option<bool>,
    /// Compare a checksum with the server's: `"off"`, `"if-available"`, `"required"`,
    /// `"sha256"`, `"md5"`, ... (the core's names).
    #[uniffi(default = None)]
    pub checksum: Option<String>,
}

/// Options of an upload; a field left unset keeps the core's default.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct UploadOptions {
    /// Continue from what the server already has (REST + STOR, or APPE).
    #[uniffi(default = None)]
    pub resume: Option<bool>,
    /// Upload to a temporary name and rename it into place at the end.
    #[uniffi(default = None)]
    pub atomic: Option<bool>,
    /// Check the remote size after the upload.
    #[uniffi(default = None)]
    pub verify: Option<bool>,
    /// Compare a checksum with the server's (see `DownloadOptions.checksum`).
    #[uniffi(default = None)]
    pub checksum: Option<String>,
}

/// A checksum setting by the core's name.
pub(crate) fn checksum(name: Option<&str>, default: Checksum) -> Result<Checksum> {
    Ok(match name {
        Some(name) => name.parse()?,
        None => default,
    })
}

impl DownloadOptions {
    /// The core's options, with `progress` installed.
    pub(crate) fn core(
        self,
        progress: Option<ferroftp::Progress>,
    ) -> Result<ferroftp::DownloadOptions> {
        let mut o = ferroftp::DownloadOptions::default();
        o.resume = self.resume.unwrap_or(o.resume);
        o.verify = self.verify.unwrap_or(o.verify);
        o.checksum = checksum(self.checksum.as_deref(), o.checksum)?;
        o.progress = progress;
        Ok(o)
    }
}

impl UploadOptions {
    /// The core's options, with `progress` installed.
    pub(crate) fn core(
        self,
        progress: Option<ferroftp::Progress>,
    ) -> Result<ferroftp::UploadOptions> {
        let mut o = ferroftp::UploadOptions::default();
        o.resume = self.resume.unwrap_or(o.resume);
        o.atomic = self.atomic.unwrap_or(o.atomic);
        o.verify = self.verify.unwrap_or(o.verify);
        o.checksum = checksum(self.checksum.as_deref(), o.checksum)?;
        o.progress = progress;
        Ok(o)
    }
}

/// The latest progress of a transfer, `(done, total)`, as a blocking call reads it.
pub(crate) type Events = watch::Receiver<Option<(u64, Option<u64>)>>;

/// The progress of a transfer run for a blocking method: the core's callback stores the
/// latest `(done, total)` in a channel that the waiting caller reads
/// ([`crate::runner::block_reporting`]).
pub(crate) fn to_channel() -> (ferroftp::Progress, Events) {
    let (tx, rx) = watch::channel(None);
    let progress: ferroftp::Progress = Arc::new(move |done, total| {
        tx.send_replace(Some((done, total)));
    });
    (progress, rx)
}

/// The progress of a transfer run for an async method or a task: the listener is called on
/// the runtime's thread.
pub(crate) fn direct(listener: Option<Arc<dyn ProgressListener>>) -> Option<ferroftp::Progress> {
    listener.map(|l| {
        let progress: ferroftp::Progress = Arc::new(move |done, total| l.on_progress(done, total));
        progress
    })
}
