//! The work of a batch and the workers that do it: one shared queue of directory steps (list a
//! remote directory, make one: [`Dir`]) and file transfers, drained by up to `max_sessions`
//! workers, each keeping one pooled session busy.
//!
//! A tree is walked while its files already move: a directory step puts the files it found
//! and its subdirectories in the queue, and every worker takes a directory step first when
//! one waits (so that the queue fills), else a file. A worker that finds the queue empty while
//! directory steps are still under way waits for them; the batch is over when the queue is
//! empty and no directory step is under way.
//!
//! Pipelining: a worker starting a download may take (reserve) the next download at once, so
//! that its `RETR` goes ahead at the end of this one (see `DownloadOptions::next`); it then
//! runs that download next, whatever came into the queue meanwhile, so a `RETR` sent ahead is
//! always taken. It reserves only when no directory step waits: a step waiting goes to the
//! first worker free (its listing still uses the `EPSV` sent ahead).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::error::Error;

use super::batch::{BatchOptions, BatchResult, Job, Tracker};
use super::tree::{Dir, Found};
use super::{Pool, PooledSession};

/// The queue of a batch, shared by its workers.
pub(super) struct Work {
    queue: Mutex<Queue>,
    /// Woken when a directory step ends or the batch stops.
    wake: Notify,
    tracker: Arc<Tracker>,
    result: Mutex<BatchResult>,
}

struct Queue {
    dirs: VecDeque<Dir>,
    files: VecDeque<(usize, Job)>,
    /// Directory steps taken and not finished.
    busy: usize,
    /// Set by `stop_on_error` after a failure: nothing new starts.
    stopped: bool,
    /// Why the top directory could not be walked (the call then fails with it).
    top_error: Option<Error>,
}

enum Task {
    Dir(Dir),
    File(usize, Job),
}

enum Next<T = Task> {
    Task(T),
    /// Nothing queued, but directory steps are under way.
    Wait,
    Done,
}

impl Work {
    /// The work of the files `jobs`.
    pub(super) fn files(jobs: Vec<Job>, options: &BatchOptions) -> Self {
        let tracker = Tracker::new(options.progress.clone());
        let files = jobs
            .into_iter()
            .map(|j| (tracker.add(j.size()), j))
            .collect();
        Self::new(VecDeque::new(), files, tracker)
    }

    /// The work of a tree, starting with its top directory's step.
    pub(super) fn tree(top: Dir, options: &BatchOptions) -> Self {
        let tracker = Tracker::new(options.progress.clone());
        Self::new(VecDeque::from([top]), VecDeque::new(), tracker)
    }

    fn new(dirs: VecDeque<Dir>, files: VecDeque<(usize, Job)>, tracker: Tracker) -> Self {
        Self {
            queue: Mutex::new(Queue {
                dirs,
                files,
                busy: 0,
                stopped: false,
                top_error: None,
            }),
            wake: Notify::new(),
            tracker: Arc::new(tracker),
            result: Mutex::new(BatchResult::default()),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn result(&self) -> MutexGuard<'_, BatchResult> {
        self.result.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next(&self) -> Next {
        let mut q = self.queue();
        if q.stopped {
            return Next::Done;
        }
        if let Some(d) = q.dirs.pop_front() {
            q.busy += 1;
            return Next::Task(Task::Dir(d));
        }
        if let Some((i, j)) = q.files.pop_front() {
            return Next::Task(Task::File(i, j));
        }
        if q.busy > 0 { Next::Wait } else { Next::Done }
    }

    /// The download to run after the current one, when the queue offers one and no directory
    /// step waits.
    fn reserve(&self) -> Option<(usize, Job)> {
        let mut q = self.queue();
        if q.stopped || !q.dirs.is_empty() || !q.files.front().is_some_and(|(_, j)| j.is_download())
        {
            return None;
        }
        q.files.pop_front()
    }

    /// Whether a task is there to take (without taking it).
    fn peek(&self) -> Next<()> {
        let q = self.queue();
        if q.stopped {
            Next::Done
        } else if !q.dirs.is_empty() || !q.files.is_empty() {
            Next::Task(())
        } else if q.busy > 0 {
            Next::Wait
        } else {
            Next::Done
        }
    }

    /// No session can be had (and no worker has one, so no task is under way): everything
    /// queued fails with `e`.
    fn fail_all(&self, e: &Error) {
        let mut q = self.queue();
        let mut r = self.result();
        let copy = || Error::new(e.kind(), e.message());
        let dirs: Vec<Dir> = q.dirs.drain(..).collect();
        for d in dirs {
            if d.is_top() {
                q.top_error = Some(copy());
            } else {
                r.failed.push((d.remote().to_string(), copy()));
            }
        }
        for (_, j) in q.files.drain(..) {
            r.failed.push((j.remote().to_string(), copy()));
        }
        drop((q, r));
        self.wake.notify_waiters();
    }

    /// Queues what the step of `dir` found, or records why it failed.
    fn dir_done(&self, dir: &Dir, found: crate::Result<Found>, stop_on_error: bool) {
        let mut q = self.queue();
        q.busy -= 1;
        match found {
            // Stopped meanwhile: what it found is not started (nor counted).
            Ok(_) if q.stopped => {}
            Ok(found) => {
                let added = !found.files.is_empty();
                q.dirs.extend(found.dirs);
                for job in found.files {
                    let index = self.tracker.add(job.size());
                    q.files.push_back((index, job));
                }
                self.result().skipped.extend(found.skipped);
                drop(q);
                if added {
                    self.tracker.announce();
                }
            }
            Err(e) if dir.is_top() => {
                q.top_error = Some(e);
                q.stopped = true;
            }
            Err(e) => {
                self.result().failed.push((dir.remote().to_string(), e));
                if stop_on_error {
                    q.stopped = true;
                    q.dirs.clear();
                    q.files.clear();
                }
            }
        }
        self.wake.notify_waiters();
    }

    fn stop(&self) {
        let mut q = self.queue();
        q.stopped = true;
        q.dirs.clear();
        q.files.clear();
        drop(q);
        self.wake.notify_waiters();
    }

    /// The result, and the error of the top directory if it could not be walked.
    fn finish(&self) -> (BatchResult, Option<Error>) {
        let mut out = std::mem::take(&mut *self.result());
        out.ok.sort_by(|a, b| a.0.cmp(&b.0));
        out.skipped.sort();
        (out, self.queue().top_error.take())
    }
}

impl Pool {
    /// Runs the file jobs `jobs`.
    pub(super) async fn run_batch(&self, jobs: Vec<Job>, options: BatchOptions) -> BatchResult {
        let workers = self.inner.options.max_sessions.min(jobs.len().max(1));
        let work = Arc::new(Work::files(jobs, &options));
        self.run_work(work, workers, &options).await.0
    }

    /// Runs `work` with `workers` workers until it is done; returns the result and the top
    /// directory's error, if any.
    pub(super) async fn run_work(
        &self,
        work: Arc<Work>,
        workers: usize,
        options: &BatchOptions,
    ) -> (BatchResult, Option<Error>) {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let (pool, work, options) = (self.clone(), work.clone(), options.clone());
            set.spawn(async move { pool.worker(&work, &options).await });
        }
        while let Some(joined) = set.join_next().await {
            if joined.is_err() {
                // A worker panicked (a bug): let the others finish instead of waiting for a
                // directory step that will never end.
                work.stop();
            }
        }
        work.finish()
    }

    /// One worker: takes tasks until the work is done, borrowing a session for the first.
    async fn worker(&self, work: &Work, options: &BatchOptions) {
        let pipelining = self.inner.config.pipelining;
        let mut borrowed: Option<PooledSession> = None;
        // The download this worker runs next, taken from the queue early so that its RETR
        // can go ahead at the end of the current one.
        let mut reserved: Option<(usize, Job)> = None;
        loop {
            // Registered before the queue is looked at, so that no wake-up is missed.
            let woken = work.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            // The session first, the task after: a task is only ever in the hands of a worker
            // with a session, so a directory step under way always ends (a worker holding one
            // while it waits for a session that the waiting workers hold would never end).
            if borrowed.is_none() {
                match work.peek() {
                    Next::Wait => {
                        woken.await;
                        continue;
                    }
                    Next::Done => return,
                    Next::Task(()) => {}
                }
                match self.session().await {
                    Ok(s) => borrowed = Some(s),
                    Err(e) => {
                        // Without a session this worker can do nothing; if no worker has
                        // one, everything left fails with this error.
                        if self.open_sessions() == 0 {
                            work.fail_all(&e);
                        }
                        return;
                    }
                }
                continue;
            }
            let task = match reserved.take() {
                Some((i, j)) => Task::File(i, j),
                None => match work.next() {
                    Next::Task(t) => t,
                    Next::Wait => {
                        woken.await;
                        continue;
                    }
                    Next::Done => return,
                },
            };
            let Some(s) = borrowed.as_ref() else { return };
            match task {
                Task::Dir(dir) => {
                    let found = dir.expand(s, options.skip_existing).await;
                    work.dir_done(&dir, found, options.stop_on_error);
                }
                Task::File(index, job) => {
                    if pipelining && job.is_download() {
                        reserved = work.reserve();
                    }
                    let next = reserved.as_ref().map(|(_, j)| j.remote());
                    let outcome = job
                        .run(s, &work.tracker, index, options.checksum, next)
                        .await;
                    work.tracker
                        .file_done(index, outcome.as_ref().ok().copied());
                    let failed = outcome.is_err();
                    {
                        let mut r = work.result();
                        match outcome {
                            Ok(n) => r.ok.push((job.remote().to_string(), n)),
                            Err(e) => r.failed.push((job.remote().to_string(), e)),
                        }
                    }
                    if failed && options.stop_on_error {
                        work.stop();
                        return;
                    }
                }
            }
        }
    }
}
