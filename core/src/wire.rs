//! The bytes of the control connection (private): how command lines become bytes and how
//! replies become text.
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

use std::borrow::Cow;
use std::io;

/// The suppaftp encoding of one control connection.
#[derive(Debug)]
pub(crate) struct ControlEncoding {
    /// Whether `0xFF` is sent doubled (Telnet IAC escaping).
    double_iac: bool,
}

impl ControlEncoding {
    pub(crate) fn new(double_iac: bool) -> Self {
        Self { double_iac }
    }
}

impl suppaftp::Encoding for ControlEncoding {
    fn decode(&self, bytes: &[u8]) -> String {
        crate::names::decode(bytes)
    }

    fn encode(&self, text: &str) -> io::Result<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use suppaftp::Encoding;

    #[test]
    fn names_encode_losslessly() {
        let enc = ControlEncoding::new(false);
        let name = enc.decode(b"RETR caf\xe9\xff.txt\r\n");
        assert_eq!(enc.encode(&name).unwrap(), b"RETR caf\xe9\xff.txt\r\n");
        assert!(!enc.escape_telnet_iac());
        assert!(ControlEncoding::new(true).escape_telnet_iac());
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
