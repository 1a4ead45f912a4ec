//! Data connections (private): opening them (EPSV with its fallback to PASV, PASV, active),
//! their TLS (session reuse, the end of an upload), closing them with the transfer's final
//! reply, and pipelining (commands sent ahead).
//!
//! The one place that uses the vendored suppaftp's additions for pipelining and for telling
//! whether a transfer command was sent (`vendor/suppaftp/FERROFTP.md`, changes 2 and 4).

use std::time::Duration;

use rustls::HandshakeKind;
use suppaftp::Mode;
use suppaftp::Status;
use suppaftp::tokio::{AsyncRustlsStream, TransferStream};

use crate::config::Config;
use crate::control::{Control, bounded, check_path, reply_parts, size_reply};
use crate::error::{Error, ErrorKind, Result};
use crate::reply::{announced_size, line_context};
use crate::tls;

/// The largest upload whose data is sent before the server's `150` (see
/// [`DataChannel::open_upload_with`]): well within what a connection's socket buffers take
/// without the server reading.
pub(crate) const UNCONFIRMED_UPLOAD: u64 = 64 * 1024;

/// An open data connection of a transfer.
pub(crate) type Transfer = TransferStream<AsyncRustlsStream>;

/// What a control connection remembers about its data connections.
pub(crate) struct DataState {
    /// `true` while EPSV is in use and may still fall back to PASV (data mode `auto`).
    auto_epsv: bool,
    /// Send the next `EPSV` as soon as a download's data is in ([`Config::pipelining`]).
    pipelining: bool,
    /// Data connections that resumed the control connection's TLS session, and those that
    /// needed a full handshake (logged at debug level with each data connection).
    handshakes: (u64, u64),
}

impl DataState {
    /// The state of a fresh control connection under `config`.
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            auto_epsv: config.data_mode == crate::DataMode::Auto,
            pipelining: config.pipelining,
            handshakes: (0, 0),
        }
    }
}

/// What a command sent ahead has left on an idle control connection.
pub(crate) enum Ahead {
    /// Nothing: anything waiting is unexpected.
    Nothing,
    /// The replies of a transfer command sent ahead are due: whoever takes or gives it up
    /// reads them (a server may say 150 before the data connection opens).
    Transfer,
    /// The answer to an EPSV sent ahead could not be read: the connection is out of step.
    Broken,
}

/// Reads the answer of an EPSV sent ahead (it is expected, not stale) and says what else is
/// due; for the check of an idle connection.
pub(crate) async fn settle_ahead(control: &Control) -> Ahead {
    let ftp = control.ftp_ref();
    if ftp.epsv_ahead_pending().await
        && bounded(control.timeout(), "EPSV", false, ftp.settle_epsv_ahead())
            .await
            .is_err()
    {
        return Ahead::Broken;
    }
    if ftp.transfer_ahead_pending().await {
        Ahead::Transfer
    } else {
        Ahead::Nothing
    }
}

/// The data side of a control connection: opens, counts and closes its data connections.
pub(crate) struct DataChannel<'a> {
    control: &'a mut Control,
    state: &'a mut DataState,
}

impl<'a> DataChannel<'a> {
    /// The data side of `control`, whose data state is `state`.
    pub(crate) fn new(control: &'a mut Control, state: &'a mut DataState) -> Self {
        Self { control, state }
    }

    /// At the end of a download whose every announced byte arrived: with
    /// [`Config::pipelining`], sends the next data command's `EPSV` now. The server, done with
    /// the transfer, answers it, then the EPSV, while the client finishes its side.
    ///
    /// Only then: an end of data that comes early (a connection cut on the way) or that
    /// nothing announced leaves open whether the server is done, and a server that reads
    /// commands during a transfer (pyftpdlib) would answer the EPSV first, or abort.
    ///
    /// With `next` (the path the caller downloads next), its `RETR` goes in the same write, so
    /// that the server sends the next file as soon as its data connection opens; plain
    /// connections only (a RETR given up has its data connection opened and closed at once,
    /// which a TLS data channel would report as a failed handshake).
    pub(crate) async fn data_ended(&mut self, next: Option<&str>) -> Result<()> {
        if !self.state.pipelining {
            return Ok(());
        }
        let then = next
            .filter(|n| !self.control.is_tls() && check_path(n).is_ok())
            .map(|n| format!("RETR {n}"));
        bounded(
            self.control.timeout(),
            "EPSV",
            false,
            self.control.ftp().send_epsv_ahead(then.as_deref()),
        )
        .await?;
        Ok(())
    }

    /// The size of `path`, right after a transfer to it ended with its final reply: with
    /// [`Config::pipelining`], the next data command's `EPSV` goes in the same write, so that
    /// its answer comes with the size instead of a round trip later.
    ///
    /// Safe on every server: the transfer is over (its final reply is read), so the server is
    /// between commands and answers both in order, as it would answer them one at a time. A
    /// command other than a data command comes next: the `229` is read and dropped first (the
    /// server keeps its idle passive port until the next EPSV or PASV).
    pub(crate) async fn size_then_epsv(&mut self, path: &str) -> Result<u64> {
        if !self.state.pipelining {
            return self.control.size(path).await;
        }
        check_path(path)?;
        let line = format!("SIZE {path}");
        let reply = bounded(self.control.timeout(), "SIZE", false, async {
            match self
                .control
                .ftp()
                .custom_command_epsv_ahead(&line, &[])
                .await
            {
                Err(suppaftp::FtpError::UnexpectedResponse(r)) => Ok(r),
                other => other,
            }
        })
        .await?;
        let (code, text) = reply_parts(&reply);
        size_reply(&line, code, &text)
    }

    /// Opens a data connection for a command that reads from the server (RETR, LIST, ...),
    /// returning the size announced in the preliminary reply, if any.
    ///
    /// In `auto` mode a refused EPSV switches this connection to PASV once, and the command is
    /// sent again.
    pub(crate) async fn open_read(
        &mut self,
        line: &str,
        lookup: bool,
    ) -> Result<(Option<u64>, Transfer)> {
        self.open_read_with(line, lookup, true).await
    }

    /// [`DataChannel::open_read`]; `fallback` allows the EPSV→PASV switch (not with a REST
    /// pending: a refused REST would look like a refused EPSV, and the retry would lose the
    /// offset).
    pub(crate) async fn open_read_with(
        &mut self,
        line: &str,
        lookup: bool,
        fallback: bool,
    ) -> Result<(Option<u64>, Transfer)> {
        loop {
            let r = bounded(
                self.control.timeout(),
                line_context(line),
                lookup,
                self.control
                    .ftp()
                    .custom_data_command(line, &[Status::AboutToSend, Status::AlreadyOpen]),
            )
            .await;
            match r {
                Ok((resp, mut stream)) => {
                    self.count_handshake(&mut stream, line);
                    return Ok((announced_size(&String::from_utf8_lossy(&resp.body)), stream));
                }
                Err(e) if fallback && self.epsv_refused(&e) => continue,
                Err(e) => return Err(self.unless_sent(e, line_context(line)).await),
            }
        }
    }

    /// Opens a data connection for STOR (or APPE when `append`).
    pub(crate) async fn open_upload(&mut self, path: &str, append: bool) -> Result<Transfer> {
        self.open_upload_with(path, append, true, None).await
    }

    /// [`DataChannel::open_upload`]; `fallback` allows the EPSV→PASV switch (not with a REST
    /// pending), `size` is the number of bytes to send, when known.
    ///
    /// With [`Config::pipelining`], a STOR of at most [`UNCONFIRMED_UPLOAD`] bytes on a plain
    /// data connection does not wait for the server's `150`: the data follows the command at
    /// once and [`DataChannel::finish`] reads the `150` before the final reply (a round trip
    /// saved per file). Why that is safe:
    /// - the STOR is sent only once its data connection is open, exactly as without
    ///   pipelining, so no STOR is ever sent that could then be given up;
    /// - a server that takes the command reads the data waiting on the connection it accepted
    ///   (vsftpd accepts after STOR; pyftpdlib, which reads commands during transfers, has
    ///   accepted already and starts reading on STOR);
    /// - a server that refuses it (553) closes the data connection or leaves it unread: the
    ///   data, no more than the sockets' buffers hold, is dropped, and the refusal is what
    ///   `finish` returns;
    /// - TLS data connections wait: their handshake needs the server to have taken the command.
    pub(crate) async fn open_upload_with(
        &mut self,
        path: &str,
        append: bool,
        fallback: bool,
        size: Option<u64>,
    ) -> Result<Transfer> {
        check_path(path)?;
        let ctx = format!("{} {path}", if append { "APPE" } else { "STOR" });
        let unconfirmed = self.state.pipelining
            && !append
            && !self.control.is_tls()
            && size.is_some_and(|n| n <= UNCONFIRMED_UPLOAD);
        let limit = self.control.timeout();
        loop {
            let ftp = self.control.ftp();
            let opened = async {
                if unconfirmed {
                    ftp.put_with_stream_unconfirmed(path).await
                } else if append {
                    ftp.append_with_stream(path).await
                } else {
                    ftp.put_with_stream(path).await
                }
            };
            let r = bounded(limit, &ctx, false, opened).await;
            match r {
                Ok(mut stream) => {
                    self.count_handshake(&mut stream, &ctx);
                    return Ok(stream);
                }
                Err(e) if fallback && self.epsv_refused(&e) => continue,
                Err(e) => return Err(self.unless_sent(e, &ctx).await),
            }
        }
    }

    /// Whether the last upload opened with its data ahead of the server's `150` failed because
    /// the server refused its STOR (read in the 150's place): it never started.
    pub(crate) async fn refused_before_start(&self) -> bool {
        self.control.ftp_ref().preliminary_refused().await
    }

    /// Marks `e`, the failure of a transfer command (`context` starts with RETR, STOR or
    /// APPE), as [unsent](Error::mark_unsent) when the command itself was never written: the
    /// failure came while the data connection was negotiated (EPSV, PASV, PORT, REST). Each
    /// operation sends its transfer command before anything else that changes the server, so
    /// such an operation changed nothing. (Listings are left alone: a recursive RMD lists
    /// directories after deleting files.)
    async fn unless_sent(&self, e: Error, context: &str) -> Error {
        let verb = context.split(' ').next().unwrap_or_default();
        if !matches!(verb, "RETR" | "STOR" | "APPE") {
            return e;
        }
        let sent = self.control.ftp_ref().get_ref().await.last_command() == Some(verb);
        if sent { e } else { e.mark_unsent() }
    }

    /// In `auto` mode, turns a refused EPSV into a switch to PASV (returns whether to retry).
    /// Not vsftpd's "500 OOPS": its session died, and the connection with it.
    fn epsv_refused(&mut self, e: &Error) -> bool {
        if self.state.auto_epsv
            && !e.breaks_connection()
            && matches!(e.code(), Some(500 | 501 | 502 | 504 | 522))
        {
            log::debug!("EPSV refused ({e}); falling back to PASV");
            self.state.auto_epsv = false;
            self.control.ftp().set_mode(Mode::Passive);
            return true;
        }
        false
    }

    /// Counts (and logs) whether a data connection resumed the TLS session.
    fn count_handshake(&mut self, stream: &mut Transfer, context: &str) {
        let Some(kind) = tls::handshake(stream.get_mut()) else {
            return;
        };
        let resumed = kind == HandshakeKind::Resumed;
        if resumed {
            self.state.handshakes.0 += 1;
        } else {
            self.state.handshakes.1 += 1;
        }
        let (r, f) = self.state.handshakes;
        log::debug!(
            "data connection of {}: {} ({r} resumed, {f} full handshakes on this connection)",
            line_context(context),
            if resumed {
                "TLS session resumed"
            } else {
                "full TLS handshake"
            },
        );
    }

    /// Ends an upload's data: over TLS, `close_notify` and what the server sends back (its
    /// session ticket) before the TCP connection closes (see [`tls::end_upload`]).
    pub(crate) async fn end_upload(&mut self, stream: &mut Transfer) {
        tls::end_upload(stream.get_mut(), self.control.timeout()).await;
    }

    /// After an upload's data connection failed with `e` (the server closed it), the server's
    /// reply says why when it refused the transfer (522: the data connection's TLS session,
    /// 452/552: no room, ...): that refusal is returned, with the control connection still in
    /// step. Otherwise `e`.
    pub(crate) async fn refusal_or(&mut self, stream: Transfer, context: &str, e: Error) -> Error {
        if e.kind() == ErrorKind::Timeout {
            return e;
        }
        // Not the whole timeout: a server that is gone would keep the caller waiting for
        // nothing (and `e` breaks the connection anyway).
        let limit = self.control.timeout().min(Duration::from_secs(5));
        match tokio::time::timeout(limit, self.finish(stream, context)).await {
            Ok(Err(refusal)) if refusal.code().is_some() => refusal,
            _ => e,
        }
    }

    /// Closes the data connection and reads the transfer's final reply.
    pub(crate) async fn finish(&mut self, stream: Transfer, context: &str) -> Result<()> {
        self.finish_with(stream, context, true).await
    }

    /// [`DataChannel::finish`]; `repeatable` says that nothing the caller sees moved yet, so
    /// that a refused TLS data session ([`Error::mark_data_refused`]) may be tried again.
    pub(crate) async fn finish_with(
        &mut self,
        stream: Transfer,
        context: &str,
        repeatable: bool,
    ) -> Result<()> {
        let tls = self.control.is_tls();
        // A 550 ends a download of a missing file; an upload's is a refusal (no such
        // directory, no permission), read here when its STOR did not wait for the 150.
        let lookup = !matches!(context.split(' ').next(), Some("STOR" | "APPE"));
        bounded(self.control.timeout(), context, lookup, stream.finish())
            .await
            .map_err(|e| match e.code() {
                Some(522) if tls && repeatable => e.mark_data_refused(),
                _ => e,
            })
    }
}
