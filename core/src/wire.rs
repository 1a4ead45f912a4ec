//! The bytes of the control connection (private): how command lines become bytes, how replies
//! become text, and how the password is sent.
//!
//! * Names: command lines are encoded with [`crate::names::encode`] and replies decoded with
//!   [`crate::names::decode`], so names that are not UTF-8 survive both ways.
//! * Telnet IAC (byte `0xFF`): RFC 959 makes the control connection a Telnet stream, where a
//!   data byte `0xFF` is sent doubled. Servers disagree on commands. ProFTPD decodes Telnet
//!   (`0xFF 0xFF` is one `0xFF`; `0xFF` + another byte is dropped), but vsftpd reads the command
//!   line byte for byte (its `ftpcmdio.c` has no Telnet decoding), and so does pyftpdlib (which
//!   decodes commands as UTF-8, where `0xFF` never occurs). So a `0xFF` is sent doubled, as the
//!   RFC says, except to servers known to read commands literally: those whose greeting names
//!   vsftpd or pyftpdlib ([`reads_commands_literally`]). An unknown server gets the RFC form:
//!   if it reads literally, a name with `0xFF` is then not found (a clean failure), whereas the
//!   literal form sent to a Telnet server would address another name (the byte after `0xFF` is
//!   dropped). Replies are Telnet text on every server (vsftpd doubles `0xFF` in them): a doubled
//!   `0xFF` in a reply is read as one ([`reply_text`]).
//! * The password: suppaftp logs every command line it sends (`trace!` under target
//!   `suppaftp`), `PASS` included. ferroftp hands suppaftp the line `PASS` + a placeholder
//!   ([`PASS_LINE`]) and the encoding puts the real password in place of the placeholder, after
//!   suppaftp's logging and only in the bytes written to the socket ([`Secret`]). So no log
//!   record, at any level, ever holds the password.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};

use suppaftp::{FtpResult, Status};

/// What suppaftp sees (and logs) of a `PASS` command: the verb and a placeholder.
pub(crate) const PASS_LINE: &str = "PASS \u{F700}";

/// The placeholder line as suppaftp hands it to the encoding (with its CRLF).
const PASS_LINE_CRLF: &str = "PASS \u{F700}\r\n";

/// What suppaftp sees of an `ACCT` command (an account is a credential too).
pub(crate) const ACCT_LINE: &str = "ACCT \u{F700}";
const ACCT_LINE_CRLF: &str = "ACCT \u{F700}\r\n";

/// The password waiting to be put into the next [`PASS_LINE`]: set just before that line is
/// sent, taken by the encoding as it encodes it, cleared after the reply. Shared between a
/// connection and its [`ControlEncoding`].
#[derive(Clone, Default)]
pub(crate) struct Secret(Arc<Mutex<Option<Vec<u8>>>>);

impl Secret {
    fn set(&self, value: Option<Vec<u8>>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = value;
    }

    fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The line to hand to suppaftp for `line`: a `PASS` command becomes [`PASS_LINE`] (its
    /// argument waits here for the encoding); anything else is `line` itself.
    pub(crate) fn outgoing<'a>(&self, line: &'a str) -> &'a str {
        match line.get(..5) {
            Some(verb) if verb.eq_ignore_ascii_case("PASS ") => {
                self.set(Some(crate::names::encode(&line[5..])));
                PASS_LINE
            }
            _ => line,
        }
    }

    /// Forgets a password that was not sent (the command failed before it was encoded).
    pub(crate) fn clear(&self) {
        self.set(None);
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The suppaftp encoding of one control connection.
#[derive(Debug)]
pub(crate) struct ControlEncoding {
    /// Whether `0xFF` is sent doubled (Telnet IAC escaping).
    double_iac: bool,
    secret: Secret,
}

impl ControlEncoding {
    pub(crate) fn new(double_iac: bool, secret: Secret) -> Self {
        Self { double_iac, secret }
    }
}

impl suppaftp::Encoding for ControlEncoding {
    fn decode(&self, bytes: &[u8]) -> String {
        crate::names::decode(bytes)
    }

    fn encode(&self, text: &str) -> io::Result<Vec<u8>> {
        if (text == PASS_LINE_CRLF || text == ACCT_LINE_CRLF)
            && let Some(secret) = self.secret.take()
        {
            let mut line = text.as_bytes()[..5].to_vec(); // "PASS " or "ACCT "
            line.extend_from_slice(&secret);
            line.extend_from_slice(b"\r\n");
            return Ok(line);
        }
        Ok(crate::names::encode(text))
    }

    fn escape_telnet_iac(&self) -> bool {
        self.double_iac
    }
}

/// Whether the server of `greeting` reads command lines byte for byte, without Telnet
/// decoding (so `0xFF` must be sent as it is): vsftpd and pyftpdlib, by their greetings.
pub(crate) fn reads_commands_literally(greeting: Option<&str>) -> bool {
    let greeting = greeting.unwrap_or("").to_ascii_lowercase();
    greeting.contains("vsftpd") || greeting.contains("pyftpdlib")
}

/// A reply's text: doubled `0xFF` bytes (Telnet IAC IAC) read as one, then decoded losslessly.
pub(crate) fn reply_text(body: &[u8]) -> String {
    crate::names::decode(&unescape_iac(body))
}

/// `0xFF 0xFF` → `0xFF`; a single `0xFF` is kept (a server sending it as it is).
fn unescape_iac(body: &[u8]) -> Cow<'_, [u8]> {
    if !body.windows(2).any(|w| w == [0xFF, 0xFF]) {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut bytes = body.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        out.push(b);
        if b == 0xFF && bytes.peek() == Some(&0xFF) {
            bytes.next();
        }
    }
    Cow::Owned(out)
}

/// USER, then (when asked for) PASS through [`PASS_LINE`], so the password reaches the socket
/// and nothing else, then (when asked for) ACCT with `account`, sent the same way.
pub(crate) async fn login(
    ftp: &mut suppaftp::tokio::AsyncRustlsFtpStream,
    secret: &Secret,
    user: &str,
    password: &str,
    account: Option<&str>,
) -> FtpResult<()> {
    let need_account = [Status::LoggedIn, Status::LoginNeedAccount];
    let mut reply = ftp
        .custom_command(
            format!("USER {user}"),
            &[
                Status::LoggedIn,
                Status::NeedPassword,
                Status::LoginNeedAccount,
            ],
        )
        .await?;
    if reply.status == Status::NeedPassword {
        secret.set(Some(crate::names::encode(password)));
        let sent = ftp.custom_command(PASS_LINE, &need_account).await;
        secret.clear();
        reply = sent?;
    }
    if reply.status == Status::LoginNeedAccount {
        // Without an account the server's 332 is the refusal the caller sees.
        let Some(account) = account else {
            return Err(suppaftp::FtpError::UnexpectedResponse(reply));
        };
        secret.set(Some(crate::names::encode(account)));
        let sent = ftp
            .custom_command(ACCT_LINE, &[Status::LoggedIn, Status::CommandOk])
            .await;
        secret.clear();
        sent?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use suppaftp::Encoding;

    #[test]
    fn the_password_is_only_in_the_encoded_bytes() {
        let secret = Secret::default();
        let enc = ControlEncoding::new(true, secret.clone());
        let line = secret.outgoing("PASS p\u{e9}ss w\u{f7ff}rd");
        assert_eq!(line, PASS_LINE);
        assert!(!format!("{secret:?} {enc:?}").contains("ss w"));
        let sent = enc.encode(&format!("{line}\r\n")).unwrap();
        assert_eq!(sent, b"PASS p\xc3\xa9ss w\xffrd\r\n");
        // Used once: the placeholder alone is sent as it is afterwards.
        assert_eq!(
            enc.encode(PASS_LINE_CRLF).unwrap(),
            PASS_LINE_CRLF.as_bytes()
        );
        assert_eq!(secret.outgoing("pass x"), PASS_LINE);
        secret.clear();
        assert_eq!(
            enc.encode(PASS_LINE_CRLF).unwrap(),
            PASS_LINE_CRLF.as_bytes()
        );
        assert_eq!(secret.outgoing("PWD"), "PWD");
        assert_eq!(secret.outgoing("PASSWORD"), "PASSWORD");
    }

    #[test]
    fn names_encode_losslessly() {
        let enc = ControlEncoding::new(false, Secret::default());
        let name = enc.decode(b"RETR caf\xe9\xff.txt\r\n");
        assert_eq!(enc.encode(&name).unwrap(), b"RETR caf\xe9\xff.txt\r\n");
        assert!(!enc.escape_telnet_iac());
        assert!(ControlEncoding::new(true, Secret::default()).escape_telnet_iac());
    }

    #[test]
    fn greetings() {
        assert!(reads_commands_literally(Some("220 (vsFTPd 3.0.3)")));
        assert!(reads_commands_literally(Some("220 pyftpdlib 2.2.0 ready.")));
        assert!(!reads_commands_literally(Some(
            "220 ProFTPD Server (Debian) [::ffff:127.0.0.1]"
        )));
        assert!(!reads_commands_literally(Some("220 Welcome")));
        assert!(!reads_commands_literally(None));
    }

    #[test]
    fn replies_undouble_iac() {
        assert_eq!(
            reply_text(b"257 \"/d\xff\xff\"\"q\" created"),
            "257 \"/d\u{f7ff}\"\"q\" created"
        );
        assert_eq!(reply_text(b"x\xff\xff\xff\xffy"), "x\u{f7ff}\u{f7ff}y");
        assert_eq!(reply_text(b"lone \xff here"), "lone \u{f7ff} here");
        assert_eq!(reply_text("caf\u{e9}".as_bytes()), "caf\u{e9}");
    }
}
