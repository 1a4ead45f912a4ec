//! One-call reads over a [`Pool`]: a ranged read (or a whole file) on a session borrowed for
//! that one read, and many reads fanned out over the pool's sessions — what a filesystem layer
//! (fsspec's `cat_file`, `cat`, `cat_ranges`, a buffered file's block reads) needs, without
//! borrowing a session per read from the caller's side.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::Pool;
use crate::error::{Error, ErrorKind, Result};

/// One read of [`Pool::read_many`]: `(path, offset, length)`; `length` `None` reads the whole
/// file (with its size check), `Some(n)` at most `n` bytes from `offset` (fewer at the end).
pub type Read = (String, u64, Option<u64>);

/// The results of [`Pool::read_many`] as its workers fill them in (`None`: not run).
type Slots = Mutex<Vec<Option<Result<Vec<u8>>>>>;

impl Pool {
    /// [`crate::Session::read_range`] on a session borrowed for this one read.
    ///
    /// # Errors
    /// Those of [`Pool::session`] and of the read.
    pub async fn read_range(&self, remote: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        self.session()
            .await?
            .read_range(remote, offset, length)
            .await
    }

    /// [`crate::Session::read_bytes`] on a session borrowed for this one read.
    ///
    /// # Errors
    /// Those of [`Pool::session`] and of the read.
    pub async fn read_bytes(&self, remote: &str) -> Result<Vec<u8>> {
        self.session().await?.read_bytes(remote).await
    }

    /// Many reads at once, over up to `max_sessions` sessions (each borrowed once and kept
    /// for a worker's run of reads); one result per read, in the order given. One failing read
    /// does not stop the others. Dropping the future stops the reads (the sessions stay in
    /// step: every session operation is cancel-safe).
    pub async fn read_many(&self, reads: Vec<Read>) -> Vec<Result<Vec<u8>>> {
        let count = reads.len();
        let reads = Arc::new(reads);
        let next = Arc::new(AtomicUsize::new(0));
        let results: Arc<Slots> = Arc::new(Mutex::new((0..count).map(|_| None).collect()));
        let workers = self.inner.options.max_sessions.min(count);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let (pool, reads, next, results) = (
                self.clone(),
                Arc::clone(&reads),
                Arc::clone(&next),
                Arc::clone(&results),
            );
            set.spawn(async move {
                let mut session = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, offset, length)) = reads.get(i) else {
                        break;
                    };
                    if session.is_none() {
                        match pool.session().await {
                            Ok(s) => session = Some(s),
                            Err(e) => {
                                store(&results, i, Err(e));
                                continue;
                            }
                        }
                    }
                    let s = session.as_ref().expect("borrowed above");
                    let got = match length {
                        None => s.read_bytes(path).await,
                        Some(n) => s.read_range(path, *offset, *n).await,
                    };
                    store(&results, i, got);
                }
            });
        }
        while set.join_next().await.is_some() {}
        let mut results = results
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *results)
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(Error::new(ErrorKind::Cancelled, "the read did not run")))
            })
            .collect()
    }
}

fn store(results: &Slots, i: usize, r: Result<Vec<u8>>) {
    let mut results = results
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results[i] = Some(r);
}
