//! Batches: many files through the pool's sessions, each worker keeping one session busy.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::checksum::Checksum;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::transfer::{DownloadOptions, UploadOptions};

use super::{Pool, PooledSession};

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

    pub(super) async fn run_batch(&self, jobs: Vec<Job>, options: BatchOptions) -> BatchResult {
        let files_total = jobs.len();
        let bytes_total = jobs
            .iter()
            .map(Job::size)
            .try_fold(0u64, |acc, s| s.map(|s| acc + s));
        let tracker = Arc::new(Tracker {
            state: Mutex::new(TrackerState {
                progress: BatchProgress {
                    files_done: 0,
                    files_total,
                    bytes_done: 0,
                    bytes_total,
                },
                per_job: vec![0; files_total],
            }),
            callback: options.progress.clone(),
        });
        let queue: Arc<Mutex<VecDeque<(usize, Job)>>> =
            Arc::new(Mutex::new(jobs.into_iter().enumerate().collect()));
        let result = Arc::new(Mutex::new(BatchResult::default()));
        let workers = self.inner.options.max_sessions.min(files_total.max(1));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let (pool, queue, result, tracker) =
                (self.clone(), queue.clone(), result.clone(), tracker.clone());
            let (stop_on_error, checksum) = (options.stop_on_error, options.checksum);
            let pipelining = self.inner.config.pipelining;
            set.spawn(async move {
                let mut borrowed: Option<PooledSession> = None;
                // The download this worker runs next, taken from the queue early so that its
                // RETR can go ahead at the end of the current one.
                let mut reserved: Option<(usize, Job)> = None;
                loop {
                    if reserved.is_none() && queue.lock().map(|q| q.is_empty()).unwrap_or(true) {
                        return;
                    }
                    if borrowed.is_none() {
                        match pool.session().await {
                            Ok(s) => borrowed = Some(s),
                            Err(e) => {
                                // Without a session this worker can do nothing; if no worker
                                // has one, the remaining files fail with this error.
                                let open = pool.open_sessions();
                                if open == 0 {
                                    let mut rest: Vec<_> = queue
                                        .lock()
                                        .map(|mut q| q.drain(..).collect())
                                        .unwrap_or_default();
                                    rest.extend(reserved.take());
                                    let mut r = result.lock().unwrap_or_else(|p| p.into_inner());
                                    for (_, job) in rest {
                                        r.failed.push((
                                            job.remote().to_string(),
                                            Error::new(e.kind(), e.message()),
                                        ));
                                    }
                                }
                                return;
                            }
                        }
                    }
                    let Some((index, job)) = reserved
                        .take()
                        .or_else(|| queue.lock().ok().and_then(|mut q| q.pop_front()))
                    else {
                        return;
                    };
                    if pipelining && job.is_download() {
                        reserved = queue.lock().ok().and_then(|mut q| {
                            q.front()
                                .is_some_and(|(_, j)| j.is_download())
                                .then(|| q.pop_front())
                                .flatten()
                        });
                    }
                    let next = reserved.as_ref().map(|(_, j)| j.remote());
                    let Some(s) = borrowed.as_ref() else { return };
                    let outcome = job.run(s, &tracker, index, checksum, next).await;
                    tracker.file_done(index, outcome.as_ref().ok().copied());
                    let failed = outcome.is_err();
                    {
                        let mut r = result.lock().unwrap_or_else(|p| p.into_inner());
                        match outcome {
                            Ok(n) => r.ok.push((job.remote().to_string(), n)),
                            Err(e) => r.failed.push((job.remote().to_string(), e)),
                        }
                    }
                    if failed && stop_on_error {
                        if let Ok(mut q) = queue.lock() {
                            q.clear();
                        }
                        return;
                    }
                }
            });
        }
        while set.join_next().await.is_some() {}
        let mut out = std::mem::take(&mut *result.lock().unwrap_or_else(|p| p.into_inner()));
        out.ok.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Progress of a batch, reported after every chunk and every finished file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchProgress {
    /// Files finished (successfully or not).
    pub files_done: usize,
    /// Files in the batch.
    pub files_total: usize,
    /// Bytes transferred so far (never decreases, also across retries).
    pub bytes_done: u64,
    /// Bytes in the batch, when every file's size is known.
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
    fn size(&self) -> Option<u64> {
        match self {
            Job::Download { size, .. } | Job::Upload { size, .. } => *size,
        }
    }

    fn remote(&self) -> &str {
        match self {
            Job::Download { remote, .. } | Job::Upload { remote, .. } => remote,
        }
    }

    fn is_download(&self) -> bool {
        matches!(self, Job::Download { .. })
    }

    /// Runs the job on `s`; `next` is the remote file of the download the same worker runs
    /// next, if any.
    async fn run(
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

struct Tracker {
    state: Mutex<TrackerState>,
    callback: Option<Arc<dyn Fn(BatchProgress) + Send + Sync>>,
}

impl Tracker {
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

    fn file_done(&self, index: usize, bytes: Option<u64>) {
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
