//! [`Pool`]: parallelism through several sessions to one server, within what the server allows.
//!
//! One session carries one operation at a time; a pool holds up to `max_sessions` of them,
//! opened lazily and reused. When the server refuses a new connection as "too many" (421, or a
//! 530/550 saying so), the pool lowers its limit to the sessions it has and carries on, raising
//! the limit again later. Batch operations keep every session busy: each worker borrows one
//! session for its whole run and takes files from a shared queue.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::checksum::Checksum;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::listing::{EntryKind, join_path};
use crate::session::Session;
use crate::transfer::{DownloadOptions, UploadOptions};

/// Settings of a [`Pool`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoolOptions {
    /// Most sessions open at once (the server may allow fewer).
    pub max_sessions: usize,
    /// An idle session is checked with NOOP before reuse after this long.
    pub check_after: Duration,
    /// An idle session is closed instead of reused after this long.
    pub close_after: Duration,
    /// How long a caller waits for a session before a timeout error (`None`: no limit).
    pub wait_timeout: Option<Duration>,
    /// After the server said "too many connections", try one more session after this long.
    pub raise_after: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_sessions: 8,
            check_after: Duration::from_secs(15),
            close_after: Duration::from_secs(120),
            wait_timeout: None,
            raise_after: Duration::from_secs(30),
        }
    }
}

struct State {
    idle: Vec<(Session, Instant)>,
    /// Sessions open (idle or lent).
    open: usize,
    /// The effective limit (≤ max_sessions).
    limit: usize,
    /// Permits still to withdraw from circulation as they come back (after a lowering).
    to_forget: usize,
    lowered_at: Option<Instant>,
}

struct Inner {
    config: Config,
    options: PoolOptions,
    permits: Arc<Semaphore>,
    state: Mutex<State>,
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Up to `max_sessions` sessions to one server; cheap to clone, safe to share.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.inner.state();
        f.debug_struct("Pool")
            .field("host", &self.inner.config.host)
            .field("open", &st.open)
            .field("limit", &st.limit)
            .finish_non_exhaustive()
    }
}

/// A session borrowed from a [`Pool`]; handed back when dropped.
pub struct PooledSession {
    session: Option<Session>,
    pool: Arc<Inner>,
    permit: Option<OwnedSemaphorePermit>,
}

impl std::ops::Deref for PooledSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        self.session.as_ref().expect("present until dropped")
    }
}

impl Drop for PooledSession {
    fn drop(&mut self) {
        let mut st = self.pool.state();
        if let Some(s) = self.session.take() {
            if s.is_usable() && !self.pool.permits.is_closed() {
                st.idle.push((s, Instant::now()));
            } else {
                st.open -= 1;
            }
        }
        if let Some(permit) = self.permit.take()
            && st.to_forget > 0
        {
            st.to_forget -= 1;
            permit.forget();
        }
    }
}

/// Whether a connection refusal means "the server has too many connections".
fn too_many(e: &Error) -> bool {
    let text = e.message().to_ascii_lowercase();
    e.code() == Some(421)
        || (matches!(e.code(), Some(530 | 550 | 450 | 451))
            && (text.contains("too many") || text.contains("maximum") || text.contains("max ")))
}

impl Pool {
    /// A pool for the server of `url` with up to `max_sessions` sessions; nothing is opened yet.
    ///
    /// # Errors
    /// An invalid URL ([`ErrorKind::InvalidInput`]).
    pub fn new(url: &str, max_sessions: usize) -> Result<Self> {
        let options = PoolOptions {
            max_sessions,
            ..PoolOptions::default()
        };
        Self::with_options(Config::from_url(url)?, options)
    }

    /// A pool with explicit settings.
    ///
    /// # Errors
    /// Invalid settings ([`ErrorKind::InvalidInput`]).
    pub fn with_options(config: Config, options: PoolOptions) -> Result<Self> {
        config.validate()?;
        if options.max_sessions == 0 {
            return Err(Error::invalid_input("max_sessions must be at least 1"));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(options.max_sessions)),
                state: Mutex::new(State {
                    idle: Vec::new(),
                    open: 0,
                    limit: options.max_sessions,
                    to_forget: 0,
                    lowered_at: None,
                }),
                config,
                options,
            }),
        })
    }

    /// The sessions' configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// How many sessions the pool may open now (lowered when the server refused more).
    pub fn limit(&self) -> usize {
        self.inner.state().limit
    }

    /// How many sessions are open (idle or lent).
    pub fn open_sessions(&self) -> usize {
        self.inner.state().open
    }

    fn maybe_raise(&self) {
        let mut st = self.inner.state();
        let due = st
            .lowered_at
            .is_some_and(|t| t.elapsed() >= self.inner.options.raise_after);
        if due && st.limit < self.inner.options.max_sessions {
            st.limit += 1;
            st.lowered_at = (st.limit < self.inner.options.max_sessions).then(Instant::now);
            if st.to_forget > 0 {
                st.to_forget -= 1;
            } else {
                self.inner.permits.add_permits(1);
            }
            log::debug!("pool limit raised to {}", st.limit);
        }
    }

    /// Borrows a session for as long as the returned guard lives (FIFO among waiters).
    ///
    /// # Errors
    /// Connection errors when no session is open and none can be opened, or a timeout when
    /// `wait_timeout` passes first.
    pub async fn session(&self) -> Result<PooledSession> {
        loop {
            self.maybe_raise();
            let acquire = Arc::clone(&self.inner.permits).acquire_owned();
            let permit = match self.inner.options.wait_timeout {
                Some(t) => tokio::time::timeout(t, acquire)
                    .await
                    .map_err(|_| Error::timeout("waiting for a pooled session", t.as_secs_f64()))?,
                None => acquire.await,
            }
            .map_err(|_| Error::new(ErrorKind::Closed, "the pool is closed"))?;
            let idle = self.inner.state().idle.pop();
            if let Some((session, since)) = idle {
                let age = since.elapsed();
                if age < self.inner.options.close_after
                    && (age < self.inner.options.check_after || session.noop().await.is_ok())
                {
                    return Ok(self.lend(session, permit));
                }
                self.inner.state().open -= 1;
                drop(permit);
                continue;
            }
            self.inner.state().open += 1;
            match Session::connect_once(self.inner.config.clone()).await {
                Ok(session) => return Ok(self.lend(session, permit)),
                Err(e) => {
                    let mut st = self.inner.state();
                    st.open -= 1;
                    if !too_many(&e) || st.open == 0 {
                        return Err(e);
                    }
                    // Carry on with the sessions we have: lower the limit to them.
                    let lower_by = st.limit - st.open;
                    st.limit = st.open;
                    st.lowered_at = Some(Instant::now());
                    permit.forget();
                    let forgotten = self.inner.permits.forget_permits(lower_by - 1);
                    st.to_forget += lower_by - 1 - forgotten;
                    log::info!(
                        "the server refused a new connection ({e}); pool limit lowered to {}",
                        st.limit
                    );
                }
            }
        }
    }

    fn lend(&self, session: Session, permit: OwnedSemaphorePermit) -> PooledSession {
        PooledSession {
            session: Some(session),
            pool: Arc::clone(&self.inner),
            permit: Some(permit),
        }
    }

    /// Closes the pool: the idle sessions say goodbye (QUIT), sessions on loan are closed
    /// when they come back, and later borrows fail with [`ErrorKind::Closed`].
    pub async fn close(&self) {
        self.inner.permits.close();
        let idle: Vec<_> = std::mem::take(&mut self.inner.state().idle);
        for (s, _) in idle {
            self.inner.state().open -= 1;
            let _ = s.close().await;
        }
    }

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

    /// Mirrors the remote directory `remote` into the local directory `local` (created as
    /// needed), listing each remote directory once.
    ///
    /// # Errors
    /// When the tree cannot be listed or a local directory cannot be created; failures of
    /// single files are in the result instead.
    pub async fn download_tree(
        &self,
        remote: &str,
        local: impl AsRef<Path>,
        options: BatchOptions,
    ) -> Result<BatchResult> {
        let local = local.as_ref();
        let mut jobs = Vec::new();
        let mut skipped = Vec::new();
        {
            let s = self.session().await?;
            let mut dirs = VecDeque::from([(
                remote.trim_end_matches('/').to_string(),
                local.to_path_buf(),
            )]);
            while let Some((rdir, ldir)) = dirs.pop_front() {
                std::fs::create_dir_all(&ldir)
                    .map_err(|e| Error::from_io(e, &format!("creating {}", ldir.display())))?;
                let listed = if rdir.is_empty() { "/" } else { rdir.as_str() };
                for entry in s.list(listed).await? {
                    let lpath = ldir.join(&entry.name);
                    let rpath = join_path(listed, &entry.name);
                    match entry.kind {
                        EntryKind::Dir => dirs.push_back((rpath, lpath)),
                        EntryKind::File | EntryKind::Link => {
                            if options.skip_existing
                                && same_file(&lpath, entry.size, entry.modified)
                            {
                                skipped.push(rpath);
                                continue;
                            }
                            jobs.push(Job::Download {
                                remote: rpath,
                                local: lpath,
                                size: entry.size,
                                mtime: entry.modified,
                            });
                        }
                        EntryKind::Other => {}
                    }
                }
            }
        }
        let mut result = self.run_batch(jobs, options).await;
        result.skipped = skipped;
        Ok(result)
    }

    /// Mirrors the local directory `local` into the remote directory `remote` (created as
    /// needed, with its subdirectories).
    ///
    /// # Errors
    /// When the local tree cannot be read or a remote directory cannot be created; failures of
    /// single files are in the result instead.
    pub async fn upload_tree(
        &self,
        local: impl AsRef<Path>,
        remote: &str,
        options: BatchOptions,
    ) -> Result<BatchResult> {
        let local = local.as_ref();
        let mut jobs = Vec::new();
        let mut skipped = Vec::new();
        {
            let s = self.session().await?;
            let mut dirs = VecDeque::from([(
                local.to_path_buf(),
                remote.trim_end_matches('/').to_string(),
            )]);
            while let Some((ldir, rdir)) = dirs.pop_front() {
                let rdir_name = if rdir.is_empty() {
                    "/".to_string()
                } else {
                    rdir.clone()
                };
                s.mkdir(&rdir_name, true).await?;
                let existing = if options.skip_existing {
                    s.list(&rdir_name).await?
                } else {
                    Vec::new()
                };
                let read = std::fs::read_dir(&ldir)
                    .map_err(|e| Error::from_io(e, &format!("reading {}", ldir.display())))?;
                for item in read {
                    let item = item
                        .map_err(|e| Error::from_io(e, &format!("reading {}", ldir.display())))?;
                    let name = item.file_name().to_string_lossy().into_owned();
                    let meta = item.metadata().map_err(|e| {
                        Error::from_io(e, &format!("reading {}", item.path().display()))
                    })?;
                    let rpath = join_path(&rdir_name, &name);
                    if meta.is_dir() {
                        dirs.push_back((item.path(), rpath));
                    } else if meta.is_file() {
                        let remote_copy = existing.iter().find(|e| e.name == name);
                        let up_to_date = remote_copy.is_some_and(|e| {
                            e.size == Some(meta.len())
                                && match (e.modified, meta.modified().ok()) {
                                    (Some(r), Some(l)) => {
                                        DateTime::<Utc>::from(l)
                                            <= r + chrono::Duration::seconds(60)
                                    }
                                    _ => true,
                                }
                        });
                        if up_to_date {
                            skipped.push(rpath);
                        } else {
                            jobs.push(Job::Upload {
                                local: item.path(),
                                remote: rpath,
                                size: Some(meta.len()),
                            });
                        }
                    }
                }
            }
        }
        let mut result = self.run_batch(jobs, options).await;
        result.skipped = skipped;
        Ok(result)
    }

    async fn run_batch(&self, jobs: Vec<Job>, options: BatchOptions) -> BatchResult {
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

impl Session {
    /// Whether this session's connection is open and in step (a pool keeps only those).
    fn is_usable(&self) -> bool {
        self.connection_state().unwrap_or(true)
    }
}

/// Whether the local file at `path` already matches a remote file of `size` and `mtime`.
fn same_file(path: &Path, size: Option<u64>, mtime: Option<DateTime<Utc>>) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if size != Some(meta.len()) {
        return false;
    }
    match (mtime, meta.modified().ok()) {
        (Some(remote), Some(local)) => {
            let local = DateTime::<Utc>::from(local);
            (local - remote).num_seconds().abs() < 60
        }
        _ => true,
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
    /// that file with [`ErrorKind::Integrity`].
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

enum Job {
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
