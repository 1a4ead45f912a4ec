//! [`Pool`]: several sessions to one server for batches and trees; each batch blocking,
//! async, or in the background behind a [`BatchTask`].

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use crate::error::{FtpError, Result};
use crate::runner::{block, block_reporting, spawned};
use crate::settings::config;
use crate::task::BatchTask;
use crate::transfer::checksum;

/// One file of a batch: the remote path and the local one (for downloads and uploads alike).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TransferItem {
    /// The remote path.
    pub remote: String,
    /// The local path.
    pub local: String,
}

/// Options of a batch; a field left unset keeps the core's default.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct BatchOptions {
    /// Stop starting new files after the first failure.
    #[uniffi(default = None)]
    pub stop_on_error: Option<bool>,
    /// Trees: skip files whose size (and time, where known) already match.
    #[uniffi(default = None)]
    pub skip_existing: Option<bool>,
    /// The checksum check of every file (`"off"`, `"if-available"`, `"sha256"`, ...).
    #[uniffi(default = None)]
    pub checksum: Option<String>,
}

/// Progress of a batch, reported after chunks and finished files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct BatchProgress {
    /// Files finished (successfully or not).
    pub files_done: u64,
    /// Files in the batch.
    pub files_total: u64,
    /// Bytes transferred so far (never decreases).
    pub bytes_done: u64,
    /// Bytes in the batch, when every file's size is known.
    pub bytes_total: Option<u64>,
}

impl From<ferroftp::BatchProgress> for BatchProgress {
    fn from(p: ferroftp::BatchProgress) -> Self {
        Self {
            files_done: p.files_done as u64,
            files_total: p.files_total as u64,
            bytes_done: p.bytes_done,
            bytes_total: p.bytes_total,
        }
    }
}

/// Receives a batch's progress (as `ProgressListener` does a transfer's, on the same threads).
#[uniffi::export(with_foreign)]
pub trait BatchProgressListener: Send + Sync {
    /// Called as files and bytes move.
    fn on_progress(&self, progress: BatchProgress);
}

/// A file a batch transferred.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BatchDone {
    /// The remote path.
    pub remote: String,
    /// The bytes transferred.
    pub bytes: u64,
}

/// A file a batch could not transfer.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BatchFailure {
    /// The remote path.
    pub remote: String,
    /// Why.
    pub error: FtpError,
}

/// What a batch did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BatchResult {
    /// The files transferred, sorted by remote path.
    pub ok: Vec<BatchDone>,
    /// The files that failed.
    pub failed: Vec<BatchFailure>,
    /// Remote paths left alone because they already matched (trees with `skip_existing`).
    pub skipped: Vec<String>,
}

impl From<ferroftp::BatchResult> for BatchResult {
    fn from(r: ferroftp::BatchResult) -> Self {
        Self {
            ok: r
                .ok
                .into_iter()
                .map(|(remote, bytes)| BatchDone { remote, bytes })
                .collect(),
            failed: r
                .failed
                .into_iter()
                .map(|(remote, e)| BatchFailure {
                    remote,
                    error: e.into(),
                })
                .collect(),
            skipped: r.skipped,
        }
    }
}

/// Up to `max_sessions` sessions to one server, opened lazily and reused; safe to share.
#[derive(uniffi::Object)]
pub struct Pool {
    inner: ferroftp::Pool,
}

/// A batch's outcome as the core gives it: a plain result, or a tree's fallible one.
trait Outcome: Send + 'static {
    fn into_result(self) -> ferroftp::Result<BatchResult>;
}

impl Outcome for ferroftp::BatchResult {
    fn into_result(self) -> ferroftp::Result<BatchResult> {
        Ok(self.into())
    }
}

impl Outcome for ferroftp::Result<ferroftp::BatchResult> {
    fn into_result(self) -> ferroftp::Result<BatchResult> {
        self.map(Into::into)
    }
}

type Listener = Option<Arc<dyn BatchProgressListener>>;

/// How a batch is waited for.
enum Mode {
    /// Blocking: progress handed over on the calling thread.
    Block,
    /// Async, or in the background: progress on the runtime's threads.
    Direct,
}

impl Pool {
    /// The core's batch options from `options`, with `listener` installed for `mode`; for a
    /// blocking call also the channel its progress goes through.
    fn batch_options(
        options: Option<BatchOptions>,
        listener: &Listener,
        mode: Mode,
    ) -> Result<(
        ferroftp::BatchOptions,
        Option<watch::Receiver<Option<BatchProgress>>>,
    )> {
        let options = options.unwrap_or_default();
        let mut o = ferroftp::BatchOptions::default();
        o.stop_on_error = options.stop_on_error.unwrap_or(o.stop_on_error);
        o.skip_existing = options.skip_existing.unwrap_or(o.skip_existing);
        o.checksum = checksum(options.checksum.as_deref(), o.checksum)?;
        let Some(listener) = listener.clone() else {
            return Ok((o, None));
        };
        Ok(match mode {
            Mode::Block => {
                let (tx, rx) = watch::channel(None);
                let o = o.progress(move |p| {
                    tx.send_replace(Some(BatchProgress::from(p)));
                });
                (o, Some(rx))
            }
            Mode::Direct => (o.progress(move |p| listener.on_progress(p.into())), None),
        })
    }

    /// Runs a batch blocking; `make` builds it from the core's options.
    fn blocking<R: Outcome, F: Future<Output = R> + Send + 'static>(
        options: Option<BatchOptions>,
        progress: Listener,
        make: impl FnOnce(ferroftp::BatchOptions) -> F,
    ) -> Result<BatchResult> {
        let (o, events) = Self::batch_options(options, &progress, Mode::Block)?;
        let fut = make(o);
        let run = async move { fut.await.into_result() };
        match (events, progress) {
            (Some(events), Some(listener)) => {
                block_reporting(run, events, |p| listener.on_progress(p))
            }
            _ => block(run),
        }
    }

    /// Runs a batch for an async method.
    async fn async_batch<R: Outcome, F: Future<Output = R> + Send + 'static>(
        options: Option<BatchOptions>,
        progress: Listener,
        make: impl FnOnce(ferroftp::BatchOptions) -> F,
    ) -> Result<BatchResult> {
        let (o, _) = Self::batch_options(options, &progress, Mode::Direct)?;
        let fut = make(o);
        spawned(async move { fut.await.into_result() }).await
    }

    /// Starts a batch in the background.
    fn background<R: Outcome, F: Future<Output = R> + Send + 'static>(
        options: Option<BatchOptions>,
        progress: Listener,
        make: impl FnOnce(ferroftp::BatchOptions) -> F,
    ) -> Result<Arc<BatchTask>> {
        let (o, _) = Self::batch_options(options, &progress, Mode::Direct)?;
        BatchTask::start(make(o), |r| Ok(r.into_result()?))
    }
}

fn downloads(items: Vec<TransferItem>) -> Vec<(String, PathBuf)> {
    items
        .into_iter()
        .map(|i| (i.remote, PathBuf::from(i.local)))
        .collect()
}

fn uploads(items: Vec<TransferItem>) -> Vec<(PathBuf, String)> {
    items
        .into_iter()
        .map(|i| (PathBuf::from(i.local), i.remote))
        .collect()
}

/// Declares each batch blocking, async and in the background. `|pool, o| body` is the core's
/// batch on `pool` (a clone of the core's handle) with the core's options `o`.
macro_rules! batches {
    ($(
        $(#[$doc:meta])*
        fn $name:ident / $async_name:ident / $start_name:ident ($($arg:ident: $ty:ty),*)
            => |$pool:ident, $o:ident| $body:expr;
    )*) => {
        #[uniffi::export]
        impl Pool {
            $(
                $(#[$doc])*
                /// `progress` is called on this thread while the call waits.
                #[uniffi::method(default(options = None, progress = None))]
                pub fn $name(
                    &self,
                    $($arg: $ty,)*
                    options: Option<BatchOptions>,
                    progress: Option<Arc<dyn BatchProgressListener>>,
                ) -> Result<BatchResult> {
                    let $pool = self.inner.clone();
                    Self::blocking(options, progress, move |$o| $body)
                }

                $(#[$doc])*
                /// Async; `progress` is called on a thread of the library.
                #[uniffi::method(default(options = None, progress = None))]
                pub async fn $async_name(
                    &self,
                    $($arg: $ty,)*
                    options: Option<BatchOptions>,
                    progress: Option<Arc<dyn BatchProgressListener>>,
                ) -> Result<BatchResult> {
                    let $pool = self.inner.clone();
                    Self::async_batch(options, progress, move |$o| $body).await
                }

                $(#[$doc])*
                /// In the background: returns the batch's handle (cancel, wait); `progress` is
                /// called on a thread of the library.
                #[uniffi::method(default(options = None, progress = None))]
                pub fn $start_name(
                    &self,
                    $($arg: $ty,)*
                    options: Option<BatchOptions>,
                    progress: Option<Arc<dyn BatchProgressListener>>,
                ) -> Result<Arc<BatchTask>> {
                    let $pool = self.inner.clone();
                    Self::background(options, progress, move |$o| $body)
                }
            )*
        }
    };
}

batches! {
    /// Downloads the items with up to `max_sessions` sessions in parallel; one failing file
    /// does not stop the others (unless `stop_on_error`): failures are in the result.
    fn download_many / download_many_async / start_download_many(items: Vec<TransferItem>)
        => |pool, o| async move { pool.download_many(downloads(items), o).await };
    /// Uploads the items with up to `max_sessions` sessions in parallel.
    fn upload_many / upload_many_async / start_upload_many(items: Vec<TransferItem>)
        => |pool, o| async move { pool.upload_many(uploads(items), o).await };
    /// Mirrors the remote directory `remote` into the local directory `local`.
    fn download_tree / download_tree_async / start_download_tree(remote: String, local: String)
        => |pool, o| async move { pool.download_tree(&remote, &local, o).await };
    /// Mirrors the local directory `local` into the remote directory `remote`.
    fn upload_tree / upload_tree_async / start_upload_tree(local: String, remote: String)
        => |pool, o| async move { pool.upload_tree(&local, &remote, o).await };
}

#[uniffi::export]
impl Pool {
    /// A pool for the server of `url` with up to `max_sessions` sessions and `settings` by
    /// name (as `Session.connect`); nothing is opened yet.
    #[uniffi::constructor(default(settings))]
    pub fn new(
        url: String,
        max_sessions: u32,
        settings: HashMap<String, String>,
    ) -> Result<Arc<Self>> {
        let mut options = ferroftp::PoolOptions::default();
        options.max_sessions = max_sessions as usize;
        let inner = ferroftp::Pool::with_options(config(&url, &settings)?, options)?;
        Ok(Arc::new(Self { inner }))
    }

    /// How many sessions the pool may open now (lowered when the server refused more).
    pub fn limit(&self) -> u64 {
        self.inner.limit() as u64
    }

    /// How many sessions are open (idle or lent).
    pub fn open_sessions(&self) -> u64 {
        self.inner.open_sessions() as u64
    }

    /// Closes the pool: idle sessions say goodbye (QUIT), sessions on loan close when they
    /// come back, later batches fail with `Closed`. (Named `shutdown`: `close()` frees the
    /// object itself in Kotlin and Swift.)
    pub fn shutdown(&self) -> Result<()> {
        let pool = self.inner.clone();
        block(async move {
            pool.close().await;
            Ok(())
        })
    }

    /// As `shutdown`, without blocking.
    pub async fn shutdown_async(&self) -> Result<()> {
        let pool = self.inner.clone();
        spawned(async move {
            pool.close().await;
            Ok(())
        })
        .await
    }
}
