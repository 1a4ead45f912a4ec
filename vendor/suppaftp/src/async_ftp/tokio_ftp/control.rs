//! Control-connection state shared between the tokio FTP client and its in-flight data transfer.
//!
//! The control connection (command socket, reply reader, and the "data connection open" flag)
//! lives behind an [`Arc`]`<`[`Mutex`]`>` so that a [`super::TransferStream`] can finalize itself:
//! once the data socket is shut down, the stream locks the control connection, clears the flag
//! and reads the server's completion reply. FTP allows a single data connection per session, so
//! the lock never serializes anything that could have run concurrently before.
//!
//! Async `Drop` cannot await, so a transfer stream that is dropped without
//! [`super::TransferStream::finish`] only closes its socket and flags a *pending transfer reply*;
//! the next command drains that reply before sending anything, keeping the control connection in
//! sync.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, MutexGuard};

use super::data_stream::DataStream;
use super::tls::TokioTlsStream;
use crate::Status;
use crate::command::Command;
use crate::regex::EPSV_PORT_RE;
use crate::encoding::Encoding;
use crate::types::{FtpError, FtpResult, MAX_REPLY_SIZE, ReplyTooLarge, Response};

/// Replies that complete a data transfer: `226` or `250`.
pub(super) const TRANSFER_COMPLETE: &[Status] =
    &[Status::ClosingDataConnection, Status::RequestedFileActionOk];

/// Shared, lockable handle to a [`ControlChannel`].
pub(super) type SharedControl<T> = Arc<Mutex<ControlChannel<T>>>;

/// Command socket plus the reply reader and the data-connection bookkeeping.
#[derive(Debug)]
pub(super) struct ControlChannel<T>
where
    T: TokioTlsStream + Send,
{
    /// Buffered reader over the control socket; writes go through [`BufReader::get_mut`].
    pub(super) reader: BufReader<DataStream<T>>,
    /// Whether a data connection is currently open.
    ///
    /// FTP forbids more than one data connection at a time, so this flag guards every data
    /// command against opening a second one.
    pub(super) data_connection_open: bool,
    /// Offset set by `resume_transfer`, sent as `REST` right before the next RETR/STOR/APPE.
    pub(super) restart: Option<usize>,
    /// The verb of the last command written, or whose writing was attempted (`"STOR"`).
    last_command: String,
    /// Whether a transfer stream was dropped without `finish()` and its reply is still unread.
    pub(super) pending_transfer_reply: Arc<AtomicBool>,
    /// Encoding of command lines and of the file names read back.
    pub(super) encoding: Arc<dyn Encoding>,
    /// Reply bytes survive cancellation while waiting for a complete line or multiline reply.
    response_line: Vec<u8>,
    response_body: Vec<u8>,
    /// An `EPSV` was sent ahead (see [`super::ImplAsyncFtpStream::send_epsv_ahead`]) and its
    /// reply, which comes after the reply of any transfer under way, is unread.
    pub(super) epsv_ahead: bool,
    /// The `229` reply of an `EPSV` sent ahead, kept for the next data command; any other
    /// command clears it.
    pub(super) ready_epsv: Option<Response>,
    /// The transfer command line (`RETR path`) sent right after an `EPSV` sent ahead: the
    /// server waits for its data connection. A data command with this very line takes it;
    /// any other command gives it up first ([`Self::abandon_transfer_ahead`]).
    pub(super) transfer_ahead: Option<String>,
    /// The statuses a transfer command's preliminary reply (`150`) may have, when that reply
    /// was left unread for [`Self::complete_transfer`] to read first (see
    /// [`super::ImplAsyncFtpStream::put_with_stream_unconfirmed`]).
    pub(super) preliminary_due: Option<Vec<Status>>,
    /// The last transfer command's preliminary reply, read by [`Self::complete_transfer`], was
    /// a refusal (the server never started the transfer).
    pub(super) preliminary_refused: bool,
}

/// Unwraps a shared control channel that is no longer referenced by any transfer.
///
/// # Errors
///
/// Returns [`FtpError::DataConnectionAlreadyOpen`] if a [`super::TransferStream`] still holds a
/// reference to the control channel.
#[cfg(feature = "async-secure")]
pub(super) fn into_exclusive<T>(control: SharedControl<T>) -> FtpResult<ControlChannel<T>>
where
    T: TokioTlsStream + Send,
{
    Arc::try_unwrap(control)
        .map(Mutex::into_inner)
        .map_err(|_| FtpError::DataConnectionAlreadyOpen)
}

impl<T> ControlChannel<T>
where
    T: TokioTlsStream + Send,
{
    /// Wraps `stream` as a fresh control channel with no data connection open.
    pub(super) fn new(stream: DataStream<T>, encoding: Arc<dyn Encoding>) -> Self {
        Self {
            reader: BufReader::new(stream),
            data_connection_open: false,
            restart: None,
            last_command: String::new(),
            pending_transfer_reply: Arc::new(AtomicBool::new(false)),
            encoding,
            response_line: Vec::new(),
            response_body: Vec::new(),
            epsv_ahead: false,
            ready_epsv: None,
            transfer_ahead: None,
            preliminary_due: None,
            preliminary_refused: false,
        }
    }

    /// Wraps `stream` into a [`SharedControl`].
    pub(super) fn shared(stream: DataStream<T>, encoding: Arc<dyn Encoding>) -> SharedControl<T> {
        Arc::new(Mutex::new(Self::new(stream, encoding)))
    }

    /// Returns the control socket.
    pub(super) fn socket(&self) -> &TcpStream {
        self.reader.get_ref().get_ref()
    }

    /// Sends `command` on the control connection, encoded with [`Self::encoding`].
    pub(super) async fn perform(&mut self, command: Command) -> FtpResult<()> {
        // Replies come in the order of the commands: what was sent ahead is answered first.
        self.abandon_transfer_ahead().await?;
        self.settle_epsv_ahead().await?;
        self.ready_epsv = None;
        let line = self.encode_line(command)?;
        self.write_lines(&line).await
    }

    /// Sends `command` and, in the same write, an `EPSV` for the next data command, whose reply
    /// (after `command`'s) is then pending as with
    /// [`super::ImplAsyncFtpStream::send_epsv_ahead`].
    pub(super) async fn perform_then_epsv(&mut self, command: Command) -> FtpResult<()> {
        self.abandon_transfer_ahead().await?;
        self.settle_epsv_ahead().await?;
        self.ready_epsv = None;
        let epsv = self.encode_line(Command::Epsv)?;
        let mut lines = self.encode_line(command)?;
        lines.extend_from_slice(&epsv);
        self.write_lines(&lines).await?;
        self.epsv_ahead = true;
        Ok(())
    }

    /// Writes already encoded command lines and flushes them.
    pub(super) async fn write_lines(&mut self, lines: &[u8]) -> FtpResult<()> {
        // A TLS stream may keep the end of a record back when the socket is full; only a
        // flush is sure to put the whole command on the wire.
        let writer = self.reader.get_mut();
        writer
            .write_all(lines)
            .await
            .map_err(FtpError::ConnectionError)?;
        writer.flush().await.map_err(FtpError::ConnectionError)
    }

    /// The bytes of `command`'s line as they go on the wire (encoded, Telnet IAC escaped when
    /// the encoding asks for it); records its verb as the last command.
    pub(super) fn encode_line(&mut self, command: Command) -> FtpResult<Vec<u8>> {
        let command = command.to_string();
        crate::command::validate_command_line(&command)?;
        trace!("CC OUT: {}", command.trim_end_matches("\r\n"));
        self.last_command.clear();
        self.last_command
            .push_str(command.split([' ', '\r']).next().unwrap_or_default());
        let line = self
            .encoding
            .encode(&command)
            .map_err(FtpError::ConnectionError)?;
        crate::command::validate_encoded_command_line(&line)?;
        Ok(if self.encoding.escape_telnet_iac() {
            crate::command::escape_telnet_iac(&line).into_owned()
        } else {
            line
        })
    }

    /// Reads one reply and checks that its status is `expected_code`.
    pub(super) async fn read_response(&mut self, expected_code: Status) -> FtpResult<Response> {
        self.read_response_in(&[expected_code]).await
    }

    /// Reads one (possibly multi-line) reply and checks that its status is in `expected_code`.
    pub(super) async fn read_response_in(
        &mut self,
        expected_code: &[Status],
    ) -> FtpResult<Response> {
        loop {
            let bytes_read = read_bounded_line(
                &mut self.reader,
                &mut self.response_line,
                self.response_body.len(),
            )
            .await?;
            // EOF before any of the reply, or in the middle of it, means the connection closed.
            // A first line that a cancelled read left unfinished is still parsed, as the sync
            // client parses a first line that ends at EOF.
            if bytes_read == 0 && (self.response_line.is_empty() || !self.response_body.is_empty())
            {
                return Err(FtpError::ConnectionError(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed before the end of the response",
                )));
            }
            self.response_body.extend_from_slice(&self.response_line);
            trace!("CC IN: {line:?}", line = self.response_line);

            if self.response_body.len() < 5 {
                self.response_line.clear();
                self.response_body.clear();
                return Err(FtpError::BadResponse);
            }
            let opening_code = match code_from_buffer(&self.response_body, 3) {
                Ok(code) => code,
                Err(err) => {
                    self.response_line.clear();
                    self.response_body.clear();
                    return Err(err);
                }
            };
            let opening = &self.response_body[..3];
            let line = &self.response_line;
            // Accept mismatched terminal codes for servers such as glFTPd. FEAT leaves its
            // continuation lines for `feat()` to consume after returning the `211-` opener.
            let terminal = line.len() >= 4
                && line[..3].iter().all(u8::is_ascii_digit)
                && (line[3] == b' '
                    || (expected_code.contains(&Status::System)
                        && line[..3] == *opening
                        && line[3] == b'-'));
            if terminal {
                let code = if line[..3] == *opening {
                    opening_code
                } else {
                    code_from_buffer(line, 3)?
                };
                let status = Status::from(code);
                self.response_line.clear();
                let response = Response::new(status, std::mem::take(&mut self.response_body));
                return if expected_code.contains(&status) {
                    Ok(response)
                } else {
                    Err(FtpError::UnexpectedResponse(response))
                };
            }
            self.response_line.clear();
        }
    }

    /// Reads bytes from the control connection until `\n` or EOF is found.
    ///
    /// `reply_len` is the number of bytes of the same reply read before this line; see
    /// [`read_bounded_line`].
    pub(super) async fn read_line(
        &mut self,
        line: &mut Vec<u8>,
        reply_len: usize,
    ) -> FtpResult<usize> {
        read_bounded_line(&mut self.reader, line, reply_len).await
    }

    /// Fails with [`FtpError::DataConnectionAlreadyOpen`] if a data connection is open.
    pub(super) fn guard_multiple_data_connections(&self) -> FtpResult<()> {
        if self.data_connection_open {
            Err(FtpError::DataConnectionAlreadyOpen)
        } else {
            Ok(())
        }
    }

    /// Marks the data connection as closed and reads the transfer completion reply.
    ///
    /// The data socket must already be closed, otherwise the server never sends the reply.
    pub(super) async fn complete_transfer(&mut self) -> FtpResult<()> {
        self.data_connection_open = false;
        if let Some(expected) = self.preliminary_due.clone() {
            trace!("data connection closed; reading the transfer command's preliminary reply");
            let preliminary = self.read_response_in(&expected).await;
            // Cleared only once it is read: a read cut short leaves it due.
            self.preliminary_due = None;
            if let Err(refused) = preliminary {
                // A refusal is the command's only reply: nothing else is due.
                self.preliminary_refused = matches!(refused, FtpError::UnexpectedResponse(_));
                self.pending_transfer_reply.store(false, Ordering::Release);
                return Err(refused);
            }
        }
        trace!("data connection closed; reading transfer reply");
        let mut reply = self.read_response_in(TRANSFER_COMPLETE).await.map(|_| ());
        // A server that reads commands during a transfer may answer an EPSV sent ahead before
        // the transfer: a 229 cannot be the transfer's reply, so it is that answer.
        if self.epsv_ahead
            && let Err(FtpError::UnexpectedResponse(response)) = &reply
            && response.status == Status::ExtendedPassiveMode
        {
            debug!("the EPSV sent ahead was answered before the transfer");
            self.epsv_ahead = false;
            self.ready_epsv = Some(response.clone());
            reply = self.read_response_in(TRANSFER_COMPLETE).await.map(|_| ());
        }
        self.pending_transfer_reply.store(false, Ordering::Release);
        reply
    }

    /// Reads the reply of an `EPSV` sent ahead, if one is pending: a `229` is kept in
    /// [`Self::ready_epsv`] for the next data command, any other reply is dropped (that data
    /// command then sends an `EPSV` of its own and gets its own answer).
    ///
    /// # Errors
    ///
    /// Returns [`FtpError::ConnectionError`] if the control connection cannot be read.
    pub(super) async fn settle_epsv_ahead(&mut self) -> FtpResult<()> {
        if !self.epsv_ahead {
            return Ok(());
        }
        let reply = self.read_response(Status::ExtendedPassiveMode).await;
        // Cleared only once the reply is read: a read cut short leaves it pending.
        self.epsv_ahead = false;
        match reply {
            Ok(response) => {
                self.ready_epsv = Some(response);
                Ok(())
            }
            Err(FtpError::UnexpectedResponse(response)) => {
                debug!("an EPSV sent ahead was refused: {response}");
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// Gives up a transfer command sent ahead that no data command took: reads its `EPSV`'s
    /// answer, opens the data connection the server waits for and closes it at once, then
    /// reads the command's replies, whatever they say (`150` then `226` or `426`, or a
    /// refusal). Does nothing when no transfer was sent ahead.
    ///
    /// # Errors
    ///
    /// Returns [`FtpError::ConnectionError`] if the control connection cannot be read.
    pub(super) async fn abandon_transfer_ahead(&mut self) -> FtpResult<()> {
        let Some(line) = self.transfer_ahead.clone() else {
            return Ok(());
        };
        debug!("giving up {line}, sent ahead");
        self.settle_epsv_ahead().await?;
        let port = self.ready_epsv.take().and_then(|r| epsv_port(&r).ok());
        let data = match port {
            Some(port) => {
                let mut address = self.socket().peer_addr().map_err(FtpError::ConnectionError)?;
                address.set_port(port);
                TcpStream::connect(address).await.ok()
            }
            None => None,
        };
        let opened = self
            .read_response_in(&[Status::AboutToSend, Status::AlreadyOpen])
            .await;
        drop(data);
        match opened {
            Ok(_) => match self.read_response_in(TRANSFER_COMPLETE).await {
                Ok(_) | Err(FtpError::UnexpectedResponse(_)) => {}
                Err(err) => return Err(err),
            },
            Err(FtpError::UnexpectedResponse(_)) => {}
            Err(err) => return Err(err),
        }
        self.transfer_ahead = None;
        Ok(())
    }

    /// Consumes the reply of a transfer stream that was dropped without `finish()`.
    ///
    /// The transfer outcome was abandoned by the caller, so a failure reply is only logged.
    ///
    /// # Errors
    ///
    /// Returns [`FtpError::ConnectionError`] if the control connection cannot be read.
    pub(super) async fn drain_pending_transfer_reply(&mut self) -> FtpResult<()> {
        if !self.pending_transfer_reply.load(Ordering::Acquire) {
            return Ok(());
        }
        debug!("reading the reply of a transfer stream dropped without finish()");
        match self.complete_transfer().await {
            Ok(()) => Ok(()),
            Err(FtpError::UnexpectedResponse(response)) => {
                warn!("a dropped transfer stream failed: {response}");
                Ok(())
            }
            Err(err) => Err(err),
        }
    }
}

/// Appends bytes from `reader` to `line` until `\n` or EOF is found, and returns how many were
/// read.
///
/// `reply_len` is the number of bytes of the same reply read before `line`; together they may
/// not exceed [`MAX_REPLY_SIZE`]. Bytes already in `line` count too, so a read resumed after
/// cancellation keeps the same bound.
///
/// # Errors
///
/// Returns [`ReplyTooLarge`] as a [`FtpError::ConnectionError`] once the reply exceeds
/// [`MAX_REPLY_SIZE`], without reading further.
async fn read_bounded_line<R>(
    reader: &mut R,
    line: &mut Vec<u8>,
    reply_len: usize,
) -> FtpResult<usize>
where
    R: AsyncBufRead + Unpin,
{
    // One byte past the limit tells a reply that exceeds it from one that just fits.
    let room = MAX_REPLY_SIZE.saturating_sub(reply_len + line.len()) as u64 + 1;
    let bytes_read = reader
        .take(room)
        .read_until(b'\n', line)
        .await
        .map_err(FtpError::ConnectionError)?;
    if reply_len + line.len() > MAX_REPLY_SIZE {
        return Err(ReplyTooLarge.into());
    }
    Ok(bytes_read)
}

/// Parses the leading `len` bytes of `buf` as a numeric reply code.
fn code_from_buffer(buf: &[u8], len: usize) -> FtpResult<u32> {
    if buf.len() < len {
        return Err(FtpError::BadResponse);
    }
    let buffer = buf[0..len].to_vec();
    let as_string = String::from_utf8(buffer).map_err(|_| FtpError::BadResponse)?;
    as_string.parse::<u32>().map_err(|_| FtpError::BadResponse)
}

/// Locked view of the control socket of an [`super::ImplAsyncFtpStream`].
///
/// Dereferences to the underlying [`TcpStream`], so socket options can be set on the control
/// connection. The control connection stays locked for as long as this value is alive: drop it
/// before finishing a [`super::TransferStream`], which needs the same lock to read the transfer
/// reply.
///
/// # Examples
///
/// ```rust,no_run
/// use suppaftp::tokio::AsyncFtpStream;
///
/// # async fn run() {
/// let stream = AsyncFtpStream::connect("127.0.0.1:21").await.unwrap();
/// stream.get_ref().await.set_nodelay(true).unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct ControlSocket<'a, T>
where
    T: TokioTlsStream + Send,
{
    guard: MutexGuard<'a, ControlChannel<T>>,
}

impl<'a, T> ControlSocket<'a, T>
where
    T: TokioTlsStream + Send,
{
    /// Wraps a locked control channel.
    pub(super) fn new(guard: MutexGuard<'a, ControlChannel<T>>) -> Self {
        Self { guard }
    }

    /// The verb of the last command written on the control connection, or whose writing was
    /// attempted (`"STOR"`, `"EPSV"`, ...); `None` before the first. After a failed transfer
    /// it tells whether the transfer command itself was sent or the failure came before it.
    pub fn last_command(&self) -> Option<&str> {
        Some(self.guard.last_command.as_str()).filter(|verb| !verb.is_empty())
    }
}

impl<T> Deref for ControlSocket<'_, T>
where
    T: TokioTlsStream + Send,
{
    type Target = TcpStream;

    fn deref(&self) -> &Self::Target {
        self.guard.socket()
    }
}

#[cfg(all(test, feature = "async-secure"))]
mod tls_transition_tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    use super::super::tls::{AsyncNoTlsStream, AsyncTlsConnector};
    use crate::tokio::AsyncFtpStream;
    use crate::{FtpError, FtpResult};

    #[derive(Debug)]
    struct UnusedConnector;

    #[async_trait::async_trait]
    impl AsyncTlsConnector for UnusedConnector {
        type Stream = AsyncNoTlsStream;

        async fn connect(&self, _: &str, _: tokio::net::TcpStream) -> FtpResult<Self::Stream> {
            panic!("TLS must not start while a transfer owns the control connection")
        }
    }

    #[tokio::test]
    async fn should_reject_tls_changes_before_sending_commands() {
        for secure in [false, true] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap();
            let server = thread::spawn(move || {
                let (socket, _) = listener.accept().unwrap();
                socket
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut reader = BufReader::new(socket);
                reader.get_mut().write_all(b"220 ready\r\n").unwrap();
                let mut command = String::new();
                reader.read_line(&mut command).unwrap();
                if !command.is_empty() {
                    let reply: &[u8] = if secure {
                        b"234 start TLS\r\n"
                    } else {
                        b"200 cleared\r\n"
                    };
                    reader.get_mut().write_all(reply).unwrap();
                    reader.read_to_end(&mut Vec::new()).unwrap();
                }
                command
            });
            let ftp = AsyncFtpStream::connect(address).await.unwrap();
            // A live transfer retains this handle even when a TLS transition consumes the client.
            let transfer_control = Arc::clone(&ftp.control);
            let result = if secure {
                ftp.into_secure(UnusedConnector, "localhost").await
            } else {
                ftp.clear_command_channel().await
            };
            assert!(matches!(result, Err(FtpError::DataConnectionAlreadyOpen)));
            drop(transfer_control);
            assert_eq!(server.join().unwrap(), "");
        }
    }
}

/// The port of a `229 Entering Extended Passive Mode (|||port|)` reply.
///
/// # Errors
///
/// [`FtpError::UnexpectedResponse`] if the reply names no port, [`FtpError::BadResponse`] if
/// it is not text or the port is out of range.
pub(super) fn epsv_port(response: &Response) -> FtpResult<u16> {
    let text = response.as_string().map_err(|_| FtpError::BadResponse)?;
    let caps = EPSV_PORT_RE
        .captures(&text)
        .ok_or_else(|| FtpError::UnexpectedResponse(response.clone()))?;
    caps[1].parse::<u16>().map_err(|_| FtpError::BadResponse)
}

#[cfg(test)]
mod reply_size_tests {
    use crate::tokio::AsyncFtpStream;
    use crate::types::reply_size_fixture::{
        assert_connection_closed, assert_reply_too_large, greeting_of_max_size, serve,
        serve_and_hang_up,
    };

    #[tokio::test]
    async fn should_accept_a_reply_of_exactly_the_limit() {
        let address = serve(greeting_of_max_size(), None, Vec::new());
        assert!(AsyncFtpStream::connect(address).await.is_ok());
    }

    #[tokio::test]
    async fn should_reject_a_reply_one_byte_over_the_limit() {
        let mut greeting = greeting_of_max_size();
        greeting.insert(4, b'a');
        let address = serve(greeting, None, Vec::new());
        assert_reply_too_large(AsyncFtpStream::connect(address).await.map(|_| ()));
    }

    #[tokio::test]
    async fn should_reject_an_endless_greeting_line() {
        let address = serve(b"220 ".to_vec(), None, b"a".repeat(4096));
        assert_reply_too_large(AsyncFtpStream::connect(address).await.map(|_| ()));
    }

    #[tokio::test]
    async fn should_reject_an_endless_multiline_greeting() {
        let address = serve(b"220-welcome\r\n".to_vec(), None, b" hi\r\n".repeat(1024));
        assert_reply_too_large(AsyncFtpStream::connect(address).await.map(|_| ()));
    }

    #[tokio::test]
    async fn should_reject_an_endless_feat_reply() {
        let address = serve(
            b"220 ready\r\n".to_vec(),
            Some(b"211-Features\r\n"),
            b" UTF8\r\n".repeat(1024),
        );
        let mut ftp = AsyncFtpStream::connect(address).await.unwrap();
        assert_reply_too_large(ftp.feat().await.map(|_| ()));
    }

    #[tokio::test]
    async fn should_report_a_connection_closed_before_the_greeting() {
        let result = AsyncFtpStream::connect(serve_and_hang_up()).await;
        assert_connection_closed(result.map(|_| ()));
    }
}
