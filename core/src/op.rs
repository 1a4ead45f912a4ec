//! The session's lock and what an operation does with it ([`Op`]): reopening a connection left
//! out of step, recording how the operation ended, and retrying what is safe to repeat
//! ([`run!`]).
//!
//! Every operation takes the lock ([`Op::begin`]) for its whole exchange. The lock's slot
//! records whether an operation is in flight: an operation that is dropped half-way (cancelled,
//! timed out by the caller, its task aborted) leaves that mark behind, and the next operation
//! throws the connection away and opens a fresh one (login, binary type, working directory
//! restored) instead of reading a stale reply.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::config::Config;
use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};

/// What the lock protects: the connection and what is needed to reopen it.
struct Slot {
    conn: Option<Connection>,
    /// An operation started and did not say how it ended: the connection is out of step.
    in_flight: bool,
    /// The working directory to restore after a reconnect.
    cwd: Option<String>,
    /// `close()` was called.
    closed: bool,
}

pub(crate) struct Shared {
    config: Config,
    slot: Arc<Mutex<Slot>>,
}

impl Shared {
    /// A session's shared part, not connected yet.
    pub(crate) fn new(config: Config) -> Self {
        Self {
            config,
            slot: Arc::new(Mutex::new(Slot {
                conn: None,
                in_flight: false,
                cwd: None,
                closed: false,
            })),
        }
    }

    /// The session's configuration.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// `Some(true)` when the connection is open and in step, `Some(false)` when it is gone,
    /// broken or closed, `None` when an operation holds it right now.
    pub(crate) fn connection_state(&self) -> Option<bool> {
        let slot = self.slot.try_lock().ok()?;
        Some(slot.conn.is_some() && !slot.in_flight && !slot.closed)
    }

    /// Marks the session closed (waiting for operations already queued) and says goodbye on
    /// a connection that is in step.
    pub(crate) async fn close(&self) {
        let mut guard = self.slot.lock().await;
        guard.closed = true;
        if let Some(mut conn) = guard.conn.take()
            && !guard.in_flight
        {
            conn.control.quit().await;
        }
    }
}

/// The lock held by one operation (or by a streaming reader/writer until it is finished).
pub(crate) struct Op {
    guard: OwnedMutexGuard<Slot>,
    shared: Arc<Shared>,
}

impl Op {
    /// Waits for the session's lock; drops a connection left out of step by an interrupted
    /// operation.
    pub(crate) async fn begin(shared: &Arc<Shared>) -> Result<Self> {
        let mut guard = Arc::clone(&shared.slot).lock_owned().await;
        if guard.closed {
            return Err(Error::new(ErrorKind::Closed, "the session is closed"));
        }
        if guard.in_flight {
            log::debug!("an interrupted operation left the connection out of step; reopening it");
            guard.conn = None;
            guard.in_flight = false;
        }
        Ok(Self {
            guard,
            shared: Arc::clone(shared),
        })
    }

    /// The connection, opened (or reopened) if needed; marks the operation in flight.
    pub(crate) async fn conn(&mut self) -> Result<&mut Connection> {
        self.guard.in_flight = true;
        if let Some(c) = &self.guard.conn
            && c.out_of_step().await
        {
            log::debug!("unexpected bytes (or EOF) on the idle control connection; reopening it");
            self.guard.conn = None;
        }
        if self.guard.conn.is_none() {
            let cwd = self.guard.cwd.clone();
            let conn = Connection::open(&self.shared.config, cwd.as_deref()).await?;
            self.guard.conn = Some(conn);
        }
        match self.guard.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(Error::new(ErrorKind::Closed, "no connection")),
        }
    }

    /// Records how the operation ended: a broken connection is dropped, the working directory
    /// is remembered, and the in-flight mark is cleared.
    pub(crate) fn end<T>(&mut self, result: Result<T>) -> Result<T> {
        result
            .map_err(|e| self.fail(e))
            .inspect(|_| self.remember_cwd())
    }

    /// [`Op::end`] for an error.
    pub(crate) fn fail(&mut self, e: Error) -> Error {
        if e.breaks_connection() {
            self.guard.conn = None;
        } else {
            self.remember_cwd();
        }
        self.guard.in_flight = false;
        e
    }

    fn remember_cwd(&mut self) {
        if let Some(c) = &self.guard.conn {
            self.guard.cwd = Some(c.control.current_dir().to_string());
        }
        self.guard.in_flight = false;
    }

    /// The open connection of an operation under way (a streaming reader or writer).
    pub(crate) fn existing(&mut self) -> Option<&mut Connection> {
        self.guard.conn.as_mut()
    }

    /// Marks the connection for a reopen before the next operation.
    pub(crate) fn reset(&mut self) {
        self.guard.conn = None;
    }

    /// The session's configuration.
    pub(crate) fn config(&self) -> &Config {
        &self.shared.config
    }
}

/// Whether an operation may be repeated on a fresh connection after a connection failure.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Repeated on a fresh connection (listings, downloads to a path, SIZE...).
    Safe,
    /// Not repeated, and a broken connection leaves it uncertain (STOR, DELE, RNFR/RNTO...).
    Never,
    /// Not repeated (its data already went to the caller), but it changes nothing on the
    /// server: a failure is never uncertain (RETR into a caller's sink).
    Read,
    /// As `Never`, and not even after a refused TLS data session: it reads the caller's
    /// stream, which cannot be read again (an upload from a reader). (A failure before its
    /// command was sent is still repeated: nothing was read then.)
    Consumed,
}

/// Runs `$body` (an expression using the connection `$c`, evaluating to a future) under the
/// session's lock, retrying on a fresh connection when the connection failed and the operation
/// is safe to repeat.
///
/// A macro rather than a function taking an async closure: the futures stay concrete, so the
/// compiler can see that they are `Send` (needed by every binding that spawns them).
macro_rules! run {
    ($session:expr, $repeat:expr, |$c:ident| $body:expr) => {{
        let mut op = $crate::op::Op::begin(&$session.shared).await?;
        let retries = $session.shared.config().retries;
        let mut attempt = 0;
        let mut data_retried = false;
        loop {
            let result = match op.conn().await {
                Ok($c) => $body.await,
                Err(e) => Err(e),
            };
            match op.end(result) {
                // Once, on the same connection: a new data connection resumes another session.
                Err(e)
                    if e.data_refused()
                        && !data_retried
                        && $repeat != $crate::op::Repeat::Consumed =>
                {
                    data_retried = true;
                    log::debug!(
                        "the server refused a data connection's TLS session ({e}); trying again"
                    );
                }
                Err(e) if $crate::op::retry_helps(&e, $repeat) && attempt < retries => {
                    attempt += 1;
                    log::debug!("retrying after: {e} (attempt {attempt} of {retries})");
                    tokio::time::sleep($crate::op::backoff(attempt)).await;
                }
                Err(e)
                    if matches!(
                        $repeat,
                        $crate::op::Repeat::Never | $crate::op::Repeat::Consumed
                    ) && e.breaks_connection()
                        && e.kind() != $crate::ErrorKind::Connect =>
                {
                    break Err(e.mark_uncertain());
                }
                other => break other,
            }
        }
    }};
}

/// Whether retrying after `e` can help for an operation of this kind. Any operation may be
/// repeated when it failed before its command was sent (the server did nothing yet).
pub(crate) fn retry_helps(e: &Error, repeat: Repeat) -> bool {
    (repeat == Repeat::Safe || e.unsent())
        && e.is_retryable()
        && (e.breaks_connection() || e.kind() == ErrorKind::Transient)
}

/// 100 ms, 200 ms, 400 ms, ... capped at 3.2 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.min(6).saturating_sub(1))
}

pub(crate) use run;
