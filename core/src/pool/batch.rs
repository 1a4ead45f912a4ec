//! Batches: many files through the pool's sessions, each worker keeping one session busy.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::checksum::Checksum;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::transfer::{DownloadOptions, UploadOptions};

use super::Pool;

impl Pool {
    /// Downloads `(remote, local)` pairs with up to `max_sessions` sessions in parallel.
    ///
    /// One failing file does not stop the others (unless `stop_on_error`); failures are listed
    /// in the result. Downloads are retried on a fresh connection where that is safe.
    pub async fn download_many(
        &self,
        items: Vec<(String, PathBuf)>,
        options: BatchOptions,
    ) -> BatchResult {
        let jobs = items
            .into_iter()
            .map(|(remote, local)| Job::Download {
                remote,
                local,
                size: None,
                mtime: None,
            })
            .collect();
        self.run_batch(jobs, options).await
    }

    /// Uploads `(local, remote)` pairs with up to `max_sessions` sessions in parallel.
    ///
    /// A whole-file upload that failed on a broken connection is sent again once.
    pub async fn upload_many(
        &self,
        items: Vec<(PathBuf, String)>,
        options: BatchOptions,
    ) -> BatchResult {
        let jobs = items
            .into_iter()
            .map(|(local, remote)| {
                let size = std::fs::metadata(&local).ok().map(|m| m.len());
                Job::Upload {
                    local,
                    remote,
                    size,
                }
            })
            .collect();
        self.run_batch(jobs, options).await
    }
}

/// Progress of a batch, reported after every chunk and every finished file.
///
/// In a tree transfer (`download_tree`, `upload_tree`) files start moving while the tree is
/// still being walked, so `files_total` and `bytes_total` grow as directories are listed (a
/// report follows each directory that added files); they are final once the walk is over,
/// at the latest in the last report. `files_done` never exceeds `files_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchProgress {
    /// Files finished (successfully or not).
    pub files_done: usize,
    /// Files in the batch (in a tree: found so far).
    pub files_total: usize,
    /// Bytes transferred so far (never decreases, also across retries).
    pub bytes_done: u64,
    /// Bytes in the batch (in a tree: of the files found so far), when every file's size is
    /// known.
    pub bytes_total: Option<u64>,
}

/// Options of the batch operations.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Called with the batch's progress; it runs on the transfer tasks, so keep it quick.
    pub progress: Option<Arc<dyn Fn(BatchProgress) + Send + Sync>>,
    /// Stop starting new files after the first failure.
    pub stop_on_error: bool,
    /// Trees: skip files whose size (and time, where known) already match.
    pub skip_existing: bool,
    /// The checksum check of every file (see [`DownloadOptions::checksum`]); a mismatch fails
    /// that file with [`ErrorKind::Integrity`](crate::ErrorKind::Integrity).
    pub checksum: Checksum,
}

impl BatchOptions {
    /// Sets the progress callback.
    #[must_use]
    pub fn progress(mut self, f: impl Fn(BatchProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Sets `stop_on_error`.
    #[must_use]
    pub fn stop_on_error(mut self, yes: bool) -> Self {
        self.stop_on_error = yes;
        self
    }

    /// Sets `skip_existing`.
    #[must_use]
    pub fn skip_existing(mut self, yes: bool) -> Self {
        self.skip_existing = yes;
        self
    }

    /// Sets the checksum check of every file.
    #[must_use]
    pub fn checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = checksum;
        self
    }
}

/// What a batch did: the files done (remote path, bytes), the failures, and the files skipped.
#[derive(Debug, Default)]
pub struct BatchResult {
    /// Remote paths transferred, with their byte counts, sorted by path.
    pub ok: Vec<(String, u64)>,
    /// Remote paths that failed, with their errors.
    pub failed: Vec<(String, Error)>,
    /// Remote paths left alone because they already matched (trees with `skip_existing`).
    pub skipped: Vec<String>,
}

impl BatchResult {
    /// Whether every file succeeded.
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty()
    }
}

pub(super) enum Job {
    Download {
        remote: String,
        local: PathBuf,
        size: Option<u64>,
        mtime: Option<DateTime<Utc>>,
    },
    Upload {
        local: PathBuf,
        remote: String,
        size: Option<u64>,
    },
}

impl Job {
    pub(super) fn size(&self) -> Option<u64> {
        match self {
            Job::Download { size, .. } | Job::Upload { size, .. } => *size,
        }
    }

    pub(super) fn remote(&self) -> &str {
        match self {
            Job::Download { remote, .. } | Job::Upload { remote, .. } => remote,
        }
    }

    pub(super) fn is_download(&self) -> bool {
        matches!(self, Job::Download { .. })
    }

    /// Runs the job on `s`; `next` is the remote file of the download the same worker runs
    /// next, if any.
    pub(super) async fn run(
        &self,
        s: &Session,
        tracker: &Arc<Tracker>,
        index: usize,
        checksum: Checksum,
        next: Option<&str>,
    ) -> Result<u64> {
        match self {
            Job::Download {
                remote,
                local,
                mtime,
                ..
            } => {
                let t = tracker.clone();
                let mut opts = DownloadOptions::default()
                    .checksum(checksum)
                    .progress(move |n, _| t.bytes(index, n));
                opts.next = next.map(str::to_string);
                let n = s.download(remote, local, opts).await?;
                if let Some(m) = mtime {
                    // Keep the remote time, so a later mirror can tell the file is current.
                    let when = SystemTime::from(*m);
                    if let Ok(f) = std::fs::File::options().write(true).open(local) {
                        let _ = f.set_modified(when);
                    }
                }
                Ok(n)
            }
            Job::Upload { local, remote, .. } => {
                let mut attempt = 0;
                loop {
                    let t = tracker.clone();
                    let opts = UploadOptions::default()
                        .checksum(checksum)
                        .progress(move |n, _| t.bytes(index, n));
                    match s.upload(local, remote, opts).await {
                        // A whole-file STOR replaces the file: sending it again is safe.
                        Err(e) if attempt == 0 && e.is_retryable() => attempt += 1,
                        other => return other,
                    }
                }
            }
        }
    }
}

struct TrackerState {
    progress: BatchProgress,
    /// The most bytes reported for each job so far (a retry starts from zero again).
    per_job: Vec<u64>,
}

/// The progress of a batch whose files may still grow in number (a tree being walked).
pub(super) struct Tracker {
    state: Mutex<TrackerState>,
    callback: Option<Arc<dyn Fn(BatchProgress) + Send + Sync>>,
}

impl Tracker {
    /// A tracker of no files yet, reporting to `callback`.
    pub(super) fn new(callback: Option<Arc<dyn Fn(BatchProgress) + Send + Sync>>) -> Self {
        Self {
            state: Mutex::new(TrackerState {
                progress: BatchProgress {
                    files_done: 0,
                    files_total: 0,
                    bytes_done: 0,
                    bytes_total: Some(0),
                },
                per_job: Vec::new(),
            }),
            callback,
        }
    }

    /// Counts one more file of `size` bytes (unknown: the total becomes unknown for good);
    /// returns its index for [`Tracker::bytes`] and [`Tracker::file_done`].
    pub(super) fn add(&self, size: Option<u64>) -> usize {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.progress.files_total += 1;
        st.progress.bytes_total = st.progress.bytes_total.zip(size).map(|(a, b)| a + b);
        st.per_job.push(0);
        st.per_job.len() - 1
    }

    /// Reports the progress as it is (after files were added).
    pub(super) fn announce(&self) {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cb) = &self.callback {
            cb(st.progress);
        }
    }

    fn bytes(&self, index: usize, done: u64) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let seen = st.per_job.get(index).copied().unwrap_or(0);
        if done > seen {
            st.progress.bytes_done += done - seen;
            if let Some(slot) = st.per_job.get_mut(index) {
                *slot = done;
            }
            if let Some(cb) = &self.callback {
                cb(st.progress);
            }
        }
    }

    pub(super) fn file_done(&self, index: usize, bytes: Option<u64>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = bytes {
            let seen = st.per_job.get(index).copied().unwrap_or(0);
            if n > seen {
                st.progress.bytes_done += n - seen;
                if let Some(slot) = st.per_job.get_mut(index) {
                    *slot = n;
                }
            }
        }
        st.progress.files_done += 1;
        if let Some(cb) = &self.callback {
            cb(st.progress);
        }
    }
}
