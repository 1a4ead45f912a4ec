//! One connection to the server (private): its control connection and the state of its data
//! connections, and the operations that use both (listings, transfers, recursive removal).
//!
//! A [`Connection`] is only ever touched by the operation that holds the session lock (see
//! [`crate::op`]).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use chrono::Utc;

use crate::config::Config;
use crate::control::{Control, bounded_io, check_path};
use crate::data::{self, Ahead, DataChannel, DataState, Transfer};
use crate::error::{Error, ErrorKind, Result};
use crate::listing::{self, Entry, ListingFormat};
use crate::progress::Progress;

/// The transfer buffer for `remaining` bytes (when known): no bigger than needed, so that a
/// small file does not allocate (and zero) a large buffer.
fn buffer_for(configured: usize, remaining: Option<u64>) -> usize {
    const SMALLEST: usize = 16 * 1024;
    match remaining {
        Some(n) => usize::try_from(n)
            .unwrap_or(usize::MAX)
            .saturating_add(1) // room to see the end of the data in the same read
            .clamp(SMALLEST.min(configured), configured),
        None => configured,
    }
}

/// One logged-in connection: the control connection and its data connections' state.
pub(crate) struct Connection {
    /// The control connection: every command that is one line and one reply.
    pub(crate) control: Control,
    data: DataState,
    buffer_size: usize,
}

impl Connection {
    /// Connects, logs in, selects binary type, reads FEAT and changes to `cwd` (or the
    /// config's initial directory).
    pub(crate) async fn open(config: &Config, cwd: Option<&str>) -> Result<Self> {
        Ok(Self {
            control: Control::open(config, cwd).await?,
            data: DataState::new(config),
            buffer_size: config.buffer_size,
        })
    }

    /// The data side: opens and closes data connections.
    pub(crate) fn data(&mut self) -> DataChannel<'_> {
        DataChannel::new(&mut self.control, &mut self.data)
    }

    /// Whether the control connection is out of step before a command: bytes nobody asked for
    /// are waiting (a late reply, a 421 before closing), or the server closed it. Then the
    /// connection is reopened rather than letting the next command read someone else's reply.
    ///
    /// Plain connections only: on TLS, waiting bytes may be TLS housekeeping (session tickets).
    pub(crate) async fn out_of_step(&self) -> bool {
        if self.control.is_tls() {
            return false;
        }
        match data::settle_ahead(&self.control).await {
            Ahead::Broken => return true,
            Ahead::Transfer => return false,
            Ahead::Nothing => {}
        }
        let control = self.control.ftp_ref().get_ref().await;
        let mut byte = [0u8; 1];
        let mut buf = tokio::io::ReadBuf::new(&mut byte);
        std::future::poll_fn(|cx| match control.poll_peek(cx, &mut buf) {
            std::task::Poll::Ready(Ok(_)) => std::task::Poll::Ready(true), // data, or EOF
            std::task::Poll::Ready(Err(_)) => std::task::Poll::Ready(true),
            std::task::Poll::Pending => std::task::Poll::Ready(false),
        })
        .await
    }

    /// Lists `path` (MLSD when the server has MLST, else LIST), parsed.
    pub(crate) async fn list(&mut self, path: &str) -> Result<Vec<Entry>> {
        check_path(path)?;
        let (verb, format) = if self.control.has_mlst() {
            ("MLSD", ListingFormat::Mlsd)
        } else {
            ("LIST", ListingFormat::List)
        };
        let data = self.read_listing(verb, path).await?;
        let dir = self.control.absolute(path);
        let entries = listing::parse_listing(&data, &dir, format, Utc::now());
        // Some servers (vsftpd) list a missing directory as empty: tell the two apart.
        if entries.is_empty() && !path.is_empty() && !self.control.is_dir(path).await? {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("{verb} {path}: no such directory"),
            ));
        }
        Ok(entries)
    }

    /// NLST: the names in `path`.
    pub(crate) async fn names(&mut self, path: &str) -> Result<Vec<String>> {
        check_path(path)?;
        let data = self.read_listing("NLST", path).await?;
        Ok(crate::names::decode(&data)
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
            .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
            .filter(|n| n != "." && n != "..")
            .collect())
    }

    /// The raw bytes of a listing command as the caller wrote it: `LIST`, `NLST` or `MLSD`,
    /// with any arguments (`LIST -la /pub`), for callers that want the server's own lines.
    pub(crate) async fn listing_raw(&mut self, command: &str) -> Result<Vec<u8>> {
        check_path(command)?;
        let (verb, args) = command
            .trim()
            .split_once(' ')
            .unwrap_or((command.trim(), ""));
        let verb = verb.to_ascii_uppercase();
        if !matches!(verb.as_str(), "LIST" | "NLST" | "MLSD") {
            return Err(Error::invalid_input(format!(
                "{command:?} is not a listing command (LIST, NLST or MLSD, with arguments)"
            )));
        }
        self.read_listing(&verb, args.trim()).await
    }

    /// Runs a listing command and returns the raw bytes of its data connection.
    async fn read_listing(&mut self, verb: &str, path: &str) -> Result<Vec<u8>> {
        let line = if path.is_empty() {
            verb.to_string()
        } else {
            format!("{verb} {path}")
        };
        let (_, mut stream) = self.data().open_read(&line, true).await?;
        let mut data = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = bounded_io(self.control.timeout(), &line, stream.read(&mut buf)).await?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        self.data()
            .finish_with(stream, &line, data.is_empty())
            .await?;
        Ok(data)
    }

    /// RMD; with `recursive`, removes the directory's contents first.
    pub(crate) async fn rmdir(&mut self, path: &str, recursive: bool) -> Result<()> {
        check_path(path)?;
        if recursive {
            let full = self.control.absolute(path);
            // Depth-first, iteratively: (directory, its contents were already removed).
            let mut stack = vec![(full, false)];
            while let Some((dir, emptied)) = stack.pop() {
                if emptied {
                    self.control
                        .command(&format!("RMD {dir}"), &[250, 200], true)
                        .await?;
                    continue;
                }
                stack.push((dir.clone(), true));
                for entry in self.list(&dir).await? {
                    match entry.kind {
                        listing::EntryKind::Dir => stack.push((entry.path, false)),
                        _ => self.control.remove(&entry.path).await?,
                    }
                }
            }
            return Ok(());
        }
        self.control
            .command(&format!("RMD {path}"), &[250, 200], true)
            .await
            .map(drop)
    }

    /// RETR `path` from byte `offset` (REST) into `sink`, returning the bytes received and
    /// whether they were checked against a size the server announced. Progress counts from
    /// `offset`. `next` is the remote file the caller downloads right after this one, whose
    /// RETR may then go ahead ([`Config::pipelining`]).
    pub(crate) async fn retrieve_from<W: AsyncWrite + Unpin>(
        &mut self,
        path: &str,
        sink: &mut W,
        progress: Option<&Progress>,
        offset: u64,
        next: Option<&str>,
    ) -> Result<(u64, bool)> {
        check_path(path)?;
        let line = format!("RETR {path}");
        if offset > 0 {
            let _ = self.control.ftp().resume_transfer(offset as usize).await;
        }
        let (announced, mut stream) = self.data().open_read_with(&line, true, offset == 0).await?;
        // After REST, servers differ on what the 150 reply announces: only trust it from 0.
        let total = announced.filter(|_| offset == 0);
        let mut buf = vec![0u8; buffer_for(self.buffer_size, total)];
        let mut done = 0u64;
        if let Some(p) = progress {
            p(offset, total);
        }
        loop {
            let n = bounded_io(self.control.timeout(), &line, stream.read(&mut buf)).await?;
            if n == 0 {
                if total == Some(done) {
                    self.data().data_ended(next).await?;
                }
                break;
            }
            sink.write_all(&buf[..n])
                .await
                .map_err(|e| Error::from_io(e, &format!("writing the data of {path}")))?;
            done += n as u64;
            if let Some(p) = progress {
                p(offset + done, total);
            }
        }
        self.data().finish_with(stream, &line, done == 0).await?;
        if let Some(expected) = total.filter(|&t| t != done) {
            return Err(Error::new(
                ErrorKind::Io,
                format!("RETR {path}: received {done} bytes, the server announced {expected}"),
            ));
        }
        Ok((done, total.is_some()))
    }

    /// RETR `length` bytes of `path` from byte `offset` into `sink` (fewer at the end of the
    /// file, none past it; a zero `length` asks the server nothing), returning the bytes
    /// written. The transfer stops as soon as they are in: the data
    /// connection is closed and the server's final reply is read (226, or 426/450/451 for a
    /// transfer cut short), so the connection stays in step. A server that refuses REST sends
    /// the file from its start, and the first `offset` bytes are discarded.
    pub(crate) async fn retrieve_range<W: AsyncWrite + Unpin>(
        &mut self,
        path: &str,
        offset: u64,
        length: u64,
        sink: &mut W,
    ) -> Result<u64> {
        check_path(path)?;
        if length == 0 {
            return Ok(0);
        }
        let line = format!("RETR {path}");
        let mut skip = 0u64;
        let (_, mut stream) = if offset == 0 {
            self.data().open_read(&line, true).await?
        } else {
            let _ = self.control.ftp().resume_transfer(offset as usize).await;
            match self.data().open_read_with(&line, true, false).await {
                Err(e) if matches!(e.code(), Some(500..=504)) => {
                    log::debug!("REST refused ({e}); reading {path} from its start");
                    skip = offset;
                    self.data().open_read(&line, true).await?
                }
                // "554 REST position > file size" (RFC 3659's answer to a REST past the end).
                Err(e) if e.code() == Some(554) => return Ok(0),
                opened => opened?,
            }
        };
        let limit = self.control.timeout();
        let mut buf = vec![0u8; buffer_for(self.buffer_size, Some(length.saturating_add(skip)))];
        let mut done = 0u64;
        let mut cut = false;
        while done < length {
            let n = bounded_io(limit, &line, stream.read(&mut buf)).await?;
            if n == 0 {
                break;
            }
            let mut chunk = &buf[..n];
            let dropped = skip.min(chunk.len() as u64) as usize;
            skip -= dropped as u64;
            chunk = &chunk[dropped..];
            let take = chunk
                .len()
                .min(usize::try_from(length - done).unwrap_or(usize::MAX));
            sink.write_all(&chunk[..take])
                .await
                .map_err(|e| Error::from_io(e, &format!("writing the data of {path}")))?;
            done += take as u64;
            cut = done == length;
        }
        match self.data().finish_with(stream, &line, done == 0).await {
            Ok(()) => Ok(done),
            // A transfer stopped on purpose: the server says it was cut short.
            Err(e) if cut && matches!(e.code(), Some(425 | 426 | 450 | 451)) => {
                log::debug!("{line}: stopped after {done} bytes ({e})");
                Ok(done)
            }
            Err(e) => Err(e),
        }
    }

    /// STOR (or APPE) the contents of `source` to `path`, returning the byte count.
    pub(crate) async fn store<R: AsyncRead + Unpin>(
        &mut self,
        path: &str,
        source: &mut R,
        total: Option<u64>,
        append: bool,
        progress: Option<&Progress>,
    ) -> Result<u64> {
        self.store_at(path, source, total, append, progress, 0)
            .await
    }

    /// STOR `source` into `path` from byte `offset` (REST + STOR), or with `append` APPE
    /// (no REST; `offset` is then only where progress starts). Returns the bytes sent.
    pub(crate) async fn store_at<R: AsyncRead + Unpin>(
        &mut self,
        path: &str,
        source: &mut R,
        total: Option<u64>,
        append: bool,
        progress: Option<&Progress>,
        offset: u64,
    ) -> Result<u64> {
        let rest = offset > 0 && !append;
        if rest {
            let _ = self.control.ftp().resume_transfer(offset as usize).await;
        }
        let size = total.map(|t| t.saturating_sub(offset));
        let stream = self
            .data()
            .open_upload_with(path, append, !rest, size)
            .await?;
        // Once the server has said 150, a failure may leave part of the file behind; a STOR
        // refused by the 150's place (data sent before it, see `open_upload_with`) did not.
        match self
            .send_data(path, stream, source, total, progress, offset)
            .await
        {
            Ok(n) => Ok(n),
            Err(e) if self.data().refused_before_start().await => Err(e),
            Err(e) => Err(e.mark_partial()),
        }
    }

    /// The data of [`Connection::store_at`], through its open data connection.
    async fn send_data<R: AsyncRead + Unpin>(
        &mut self,
        path: &str,
        mut stream: Transfer,
        source: &mut R,
        total: Option<u64>,
        progress: Option<&Progress>,
        offset: u64,
    ) -> Result<u64> {
        let ctx = format!("STOR {path}");
        let mut buf = vec![0u8; buffer_for(self.buffer_size, total.map(|t| t - offset.min(t)))];
        let mut done = 0u64;
        if let Some(p) = progress {
            p(offset, total);
        }
        loop {
            let n = source
                .read(&mut buf)
                .await
                .map_err(|e| Error::from_io(e, &format!("reading the data for {path}")))?;
            if n == 0 {
                break;
            }
            if let Err(e) =
                bounded_io(self.control.timeout(), &ctx, stream.write_all(&buf[..n])).await
            {
                return Err(self.data().refusal_or(stream, &ctx, e).await);
            }
            done += n as u64;
            if let Some(p) = progress {
                p(offset + done, total);
            }
        }
        if let Err(e) = bounded_io(self.control.timeout(), &ctx, stream.flush()).await {
            return Err(self.data().refusal_or(stream, &ctx, e).await);
        }
        self.data().end_upload(&mut stream).await;
        self.data().finish(stream, &ctx).await?;
        Ok(done)
    }

    /// APPE `source` to `path`; progress starts at `offset` (the size already there).
    pub(crate) async fn append_from<R: AsyncRead + Unpin>(
        &mut self,
        path: &str,
        source: &mut R,
        total: Option<u64>,
        progress: Option<&Progress>,
        offset: u64,
    ) -> Result<u64> {
        self.store_at(path, source, total, true, progress, offset)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_buffer_sizes() {
        assert_eq!(buffer_for(1 << 20, None), 1 << 20);
        assert_eq!(buffer_for(1 << 20, Some(4096)), 16 * 1024);
        assert_eq!(buffer_for(1 << 20, Some(100_000)), 100_001);
        assert_eq!(buffer_for(1 << 20, Some(u64::MAX)), 1 << 20);
        assert_eq!(buffer_for(4096, Some(0)), 4096);
        assert_eq!(buffer_for(1, Some(10)), 1);
    }
}
