//! Remote files open for streaming reads and writes, holding the session's lock.

use std::pin::Pin;
use std::task::{Context, Poll};

use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::data::Transfer;
use crate::error::{Error, ErrorKind, Result};
use crate::op::Op;

use super::check::verify_size;

/// A remote file open for reading; holds the session's lock until finished or dropped.
///
/// Read it with [`tokio::io::AsyncReadExt`], then call [`RemoteReader::finish`] to read the
/// server's final reply. Dropping it unfinished abandons the transfer: the session reopens its
/// connection before the next operation.
pub struct RemoteReader {
    op: Op,
    stream: Option<Transfer>,
    context: String,
    total: Option<u64>,
    idle: Idle,
    length: Length,
    /// The data connection reached its end of stream.
    ended: bool,
}

/// The data-idle timeout of a streaming transfer: an I/O call that makes no progress for the
/// session's `timeout` fails with `TimedOut` instead of waiting forever on a stalled server.
pub(super) struct Idle {
    limit: std::time::Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Idle {
    fn new(limit: std::time::Duration) -> Self {
        Self {
            limit,
            timer: Box::pin(tokio::time::sleep(limit)),
        }
    }

    /// Passes `poll` through, restarting the timer on progress and failing once it runs out.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match poll {
            Poll::Ready(r) => {
                let next = tokio::time::Instant::now() + self.limit;
                self.timer.as_mut().reset(next);
                Poll::Ready(r)
            }
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no data for {:.1} s", self.limit.as_secs_f64()),
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl RemoteReader {
    pub(crate) fn new(op: Op, stream: Transfer, remote: &str, total: Option<u64>) -> Self {
        let idle = Idle::new(op.config().timeout);
        Self {
            op,
            stream: Some(stream),
            context: format!("RETR {remote}"),
            total,
            idle,
            length: Length::new("RETR", remote),
            ended: false,
        }
    }

    /// The file size the server announced when the transfer started, if it did.
    pub fn announced_size(&self) -> Option<u64> {
        self.total
    }

    /// Closes the data connection and reads the server's final reply, releasing the lock.
    ///
    /// Finishing before the end of the file makes most servers report the transfer as aborted
    /// (an error here); the session stays usable either way. A stream that reached its end is
    /// checked against the size the server announced (else SIZE, where the server offers it),
    /// so a data connection cut short is an error even when the server reported success.
    pub async fn finish(mut self) -> Result<()> {
        let length = self.ended.then_some((&self.length, self.total));
        finish_stream(&mut self.op, self.stream.take(), &self.context, length).await
    }
}

impl AsyncRead for RemoteReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        match this.stream.as_mut() {
            Some(s) => {
                let before = buf.filled().len();
                let poll = Pin::new(s).poll_read(cx, buf);
                if let Poll::Ready(Ok(())) = poll {
                    let n = buf.filled().len() - before;
                    this.length.done += n as u64;
                    // Nothing read into room for something: the end of the stream.
                    this.ended |= n == 0 && buf.remaining() > 0;
                }
                this.idle.guard(cx, poll)
            }
            None => Poll::Ready(Ok(())),
        }
    }
}

/// A remote file open for writing (STOR); holds the session's lock until finished or dropped.
///
/// Write with [`tokio::io::AsyncWriteExt`], then call [`RemoteWriter::finish`]: the upload is
/// complete only when it returns `Ok`. Dropping it unfinished abandons the upload.
pub struct RemoteWriter {
    op: Op,
    stream: Option<Transfer>,
    context: String,
    idle: Idle,
    length: Length,
}

impl RemoteWriter {
    pub(crate) fn new(op: Op, stream: Transfer, remote: &str) -> Self {
        let idle = Idle::new(op.config().timeout);
        Self {
            op,
            stream: Some(stream),
            context: format!("STOR {remote}"),
            idle,
            length: Length::new("STOR", remote),
        }
    }

    /// Flushes, closes the data connection and waits for the server's confirmation; then
    /// checks the server's size of the file (SIZE, where the server offers it) against the
    /// bytes written.
    pub async fn finish(mut self) -> Result<()> {
        if let Some(s) = self.stream.as_mut() {
            let timeout = self.op.config().timeout;
            let flushed = crate::control::bounded_io(timeout, &self.context, s.flush()).await;
            if let Err(e) = flushed {
                return Err(uncertain(self.op.fail(e)));
            }
            if let Some(conn) = self.op.existing() {
                conn.data().end_upload(s).await;
            }
        }
        let length = Some((&self.length, None));
        finish_stream(&mut self.op, self.stream.take(), &self.context, length)
            .await
            .map_err(uncertain)
    }
}

impl AsyncWrite for RemoteWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match this.stream.as_mut() {
            Some(s) => {
                let poll = Pin::new(s).poll_write(cx, buf);
                if let Poll::Ready(Ok(n)) = poll {
                    this.length.done += n as u64;
                }
                this.idle.guard(cx, poll)
            }
            None => Poll::Ready(Err(std::io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stream.as_mut() {
            Some(s) => Pin::new(s).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stream.as_mut() {
            Some(s) => Pin::new(s).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

/// A streaming upload that failed with its connection may still have taken effect (the STOR
/// was sent), as for [`crate::Session::upload`].
pub(super) fn uncertain(e: Error) -> Error {
    if e.breaks_connection() {
        e.mark_uncertain()
    } else {
        e
    }
}

/// The bytes a streaming transfer moved, to check once the server confirmed it.
pub(super) struct Length {
    verb: &'static str,
    remote: String,
    done: u64,
}

impl Length {
    fn new(verb: &'static str, remote: &str) -> Self {
        Self {
            verb,
            remote: remote.to_string(),
            done: 0,
        }
    }
}

/// Reads the final reply of a streaming transfer; with `length`, then checks the bytes moved
/// against the size the server announced (the `Option<u64>`), else against SIZE.
pub(super) async fn finish_stream(
    op: &mut Op,
    stream: Option<Transfer>,
    context: &str,
    length: Option<(&Length, Option<u64>)>,
) -> Result<()> {
    let Some(stream) = stream else {
        return Ok(());
    };
    let result = match op.existing() {
        Some(conn) => match (conn.data().finish(stream, context).await, length) {
            (Ok(()), Some((l, Some(total)))) if total != l.done => Err(Error::new(
                ErrorKind::Io,
                format!(
                    "{context}: received {} bytes, the server announced {total}",
                    l.done
                ),
            )),
            (Ok(()), Some((l, None))) => verify_size(conn, &l.remote, l.done, l.verb).await,
            (result, _) => result,
        },
        None => Err(Error::new(ErrorKind::Closed, "the connection is gone")),
    };
    op.end(result)
}
