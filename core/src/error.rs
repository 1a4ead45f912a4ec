//! The one error type of ferroftp: a kind, the FTP reply code where there is one, and a message.

use std::fmt;

use suppaftp::FtpError;

use crate::reply::reply_code;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in words a caller can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The TCP connection (or the server's greeting) could not be established.
    Connect,
    /// The TLS handshake or a certificate check failed.
    Tls,
    /// The server refused the credentials (530 and friends).
    Auth,
    /// The remote file or directory does not exist (usually 550).
    NotFound,
    /// Any other permanent refusal (5xx): repeating the command will not help. Also a feature
    /// the operation requires that the server does not offer (no reply code then), such as a
    /// required checksum ([`crate::Checksum::Required`]).
    Permanent,
    /// A transient refusal (4xx): the same command may succeed later.
    Transient,
    /// A connect, reply or data timeout fired.
    Timeout,
    /// The operation was cancelled before it finished.
    Cancelled,
    /// The server said something that is not valid FTP, or not what the command expects.
    Protocol,
    /// A local or network I/O error (disk full, connection reset, ...).
    Io,
    /// The session was closed by the caller.
    Closed,
    /// A bad argument: a malformed URL, option or path.
    InvalidInput,
    /// A transfer's data does not match the server's file: the checksum the server computed
    /// (HASH, XSHA256, ...) differs from the one computed over the bytes sent or received (see
    /// [`crate::Checksum`]). The connection is fine; the transfer is not repeated by itself,
    /// but repeating it may help (the file may have changed on the server meanwhile).
    Integrity,
}

impl ErrorKind {
    /// Every kind, in declaration order: the faces (C statuses, Python exception classes)
    /// translate each of these, and their tests check that none is missing.
    pub const ALL: [Self; 13] = [
        Self::Connect,
        Self::Tls,
        Self::Auth,
        Self::NotFound,
        Self::Permanent,
        Self::Transient,
        Self::Timeout,
        Self::Cancelled,
        Self::Protocol,
        Self::Io,
        Self::Closed,
        Self::InvalidInput,
        Self::Integrity,
    ];

    /// Whether repeating an operation that failed with this kind of error can help (see
    /// [`Error::is_retryable`]).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Connect | Self::Transient | Self::Timeout | Self::Io | Self::Integrity
        )
    }

    /// A short lowercase name (`"not-found"`, `"timeout"`, ...), stable for bindings and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Auth => "auth",
            Self::NotFound => "not-found",
            Self::Permanent => "permanent",
            Self::Transient => "transient",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
            Self::Protocol => "protocol",
            Self::Io => "io",
            Self::Closed => "closed",
            Self::InvalidInput => "invalid-input",
            Self::Integrity => "integrity",
        }
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = Error;

    /// The kind of an [`ErrorKind::as_str`] name.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::invalid_input(format!("unknown error kind {s:?}")))
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from a ferroftp operation.
///
/// It keeps the FTP reply code and the server's text when the server refused something, and
/// says whether the control connection survived it (see [`Error::is_retryable`]).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    code: Option<u16>,
    message: String,
    uncertain: bool,
    unsent: bool,
    data_refused: bool,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: None,
            message: message.into(),
            uncertain: false,
            unsent: false,
            data_refused: false,
            source: None,
        }
    }

    /// An [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// An error for a server reply `code` with its `text`, classified by the code.
    ///
    /// `context` names the command that was refused (`"SIZE /a.txt"`). A 550 becomes
    /// [`ErrorKind::NotFound`] only when `lookup` says the command looks a path up (RETR, SIZE,
    /// CWD, ...) and the text does not speak of permissions.
    pub fn from_reply(code: u16, text: &str, context: &str, lookup: bool) -> Self {
        let lower = text.to_ascii_lowercase();
        let kind = match code {
            530 | 532 | 331 | 332 => ErrorKind::Auth,
            550 | 450 if lookup && !lower.contains("denied") && !lower.contains("permission") => {
                ErrorKind::NotFound
            }
            // e.g. pyftpdlib's "501 No such directory." for MLSD of a missing path
            400..=599 if lookup && (lower.contains("no such") || lower.contains("not found")) => {
                ErrorKind::NotFound
            }
            400..=499 => ErrorKind::Transient,
            // vsftpd's "500 OOPS: ..." is not a refusal: its session process failed and exits,
            // closing the connection (seen as "priv_sock_get_int" under load). A fresh
            // connection may well succeed.
            500 if text
                .trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start_matches(['-', ' '])
                .starts_with("OOPS") =>
            {
                ErrorKind::Transient
            }
            500..=599 => ErrorKind::Permanent,
            _ => ErrorKind::Protocol,
        };
        Self {
            kind,
            code: Some(code),
            message: format!("{context}: the server replied {}", text.trim_end()),
            uncertain: false,
            unsent: false,
            data_refused: false,
            source: None,
        }
    }

    /// Adds a source error (kept for `std::error::Error::source`).
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The FTP reply code, when the error is the server's answer to a command.
    pub fn code(&self) -> Option<u16> {
        self.code
    }

    /// The human-readable message (includes the server's text where there is one).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether a command that changes something (STOR, DELE, RNTO, MKD, ...) may have taken
    /// effect although this error was returned: the connection failed after it was sent.
    /// Such operations are never repeated automatically.
    pub fn may_have_taken_effect(&self) -> bool {
        self.uncertain
    }

    /// Marks an error of a transfer that failed before its command (STOR, RETR, ...) was sent,
    /// while the data connection was being negotiated: the server did nothing yet, so the
    /// operation may be repeated whatever it is.
    pub(crate) fn mark_unsent(mut self) -> Self {
        self.unsent = true;
        self
    }

    /// Whether the failure came before the operation's command was sent (see
    /// [`Error::mark_unsent`]).
    pub(crate) fn unsent(&self) -> bool {
        self.unsent
    }

    /// Marks a transfer's refusal by a server that rejected the TLS session of its data
    /// connection (522, e.g. vsftpd's "session reuse required") before any data moved: the
    /// transfer may be tried once more on a new data connection, which then resumes a session
    /// the server accepts.
    pub(crate) fn mark_data_refused(mut self) -> Self {
        self.data_refused = true;
        self
    }

    /// Whether the server refused the data connection's TLS session (see
    /// [`Error::mark_data_refused`]).
    pub(crate) fn data_refused(&self) -> bool {
        self.data_refused
    }

    /// Marks an error of a non-repeatable operation whose connection failed mid-way (not one
    /// that is [unsent](Error::mark_unsent): nothing was done then).
    pub(crate) fn mark_uncertain(mut self) -> Self {
        if !self.uncertain && !self.unsent {
            self.uncertain = true;
            self.message
                .push_str(" (the connection failed mid-command: it may have taken effect)");
        }
        self
    }

    /// Marks the error of an upload that failed after the server accepted its command (150):
    /// the server may hold part of the file. (A refused TLS data session is marked too:
    /// vsftpd, for one, creates the file before it refuses the data connection.)
    pub(crate) fn mark_partial(mut self) -> Self {
        if !self.uncertain && !self.unsent {
            self.uncertain = true;
            self.message
                .push_str(" (the upload stopped part-way: it may have taken effect)");
        }
        self
    }

    /// Whether repeating the operation (on a fresh connection if need be) can help: whether
    /// its kind [is retryable](ErrorKind::is_retryable).
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// Whether the control connection can no longer be trusted after this error.
    ///
    /// A server's refusal keeps the connection in step (except 421, which closes it), and so
    /// do the errors found between commands (a bad argument, a missing local file, a server
    /// lacking a required feature, a checksum mismatch); anything else (I/O error, timeout,
    /// garbage, cancellation) means it must be reopened.
    pub(crate) fn breaks_connection(&self) -> bool {
        match self.code {
            Some(421) => true,
            // A 5xx that is transient is vsftpd's "500 OOPS": the session is gone.
            Some(500..=599) => self.kind == ErrorKind::Transient,
            Some(_) => false,
            None => !matches!(
                self.kind,
                ErrorKind::InvalidInput
                    | ErrorKind::NotFound
                    | ErrorKind::Permanent
                    | ErrorKind::Integrity
            ),
        }
    }

    /// Appends a sentence to the message (what the failure left behind, ...).
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        self.message.push_str("; ");
        self.message.push_str(note);
        self
    }

    /// Translates a suppaftp error for the command described by `context`.
    pub(crate) fn from_ftp(err: FtpError, context: &str, lookup: bool) -> Self {
        match err {
            FtpError::UnexpectedResponse(resp) => {
                let text = String::from_utf8_lossy(&resp.body);
                let code = reply_code(&resp.body).unwrap_or(resp.status.code() as u16);
                Self::from_reply(code, &text, context, lookup)
            }
            FtpError::ConnectionError(io) => Self::from_io(io, context),
            FtpError::SecureError(msg) => Self::new(ErrorKind::Tls, format!("{context}: {msg}")),
            FtpError::BadResponse => Self::new(
                ErrorKind::Protocol,
                format!("{context}: the server's reply is not valid FTP"),
            ),
            FtpError::InvalidAddress(e) => Self::new(
                ErrorKind::Protocol,
                format!("{context}: the server gave an invalid data address: {e}"),
            )
            .with_source(e),
            FtpError::DataConnectionAlreadyOpen => Self::new(
                ErrorKind::Protocol,
                format!("{context}: a data connection is already open"),
            ),
        }
    }

    /// Translates an I/O error that happened during `context`.
    pub(crate) fn from_io(io: std::io::Error, context: &str) -> Self {
        use std::io::ErrorKind as K;
        let kind = match io.kind() {
            K::TimedOut => ErrorKind::Timeout,
            K::InvalidInput => ErrorKind::InvalidInput,
            K::NotFound => ErrorKind::NotFound, // a local file or directory
            _ => ErrorKind::Io,
        };
        Self::new(kind, format!("{context}: {io}")).with_source(io)
    }

    /// A timeout error for `context` after `secs` seconds.
    pub(crate) fn timeout(context: &str, secs: f64) -> Self {
        Self::new(
            ErrorKind::Timeout,
            format!("{context}: no answer within {secs:.1} s"),
        )
    }

    /// Rewrites the kind (used where the phase decides it, e.g. connect errors).
    pub(crate) fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes_classify() {
        let e = Error::from_reply(500, "500 OOPS: priv_sock_get_int", "STOR /x", false);
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert!(e.breaks_connection() && e.is_retryable());
        let e = Error::from_reply(500, "500 Unknown command.", "FOO", false);
        assert_eq!(e.kind(), ErrorKind::Permanent);
        assert!(!e.breaks_connection());
        let e = Error::from_reply(550, "550 No such file or directory.", "SIZE /x", true);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.code(), Some(550));
        assert!(e.message().contains("No such file"));
        assert!(!e.breaks_connection());
        let e = Error::from_reply(550, "550 Permission denied.", "RETR /x", true);
        assert_eq!(e.kind(), ErrorKind::Permanent);
        let e = Error::from_reply(
            550,
            "550 Create directory operation failed.",
            "MKD /x",
            false,
        );
        assert_eq!(e.kind(), ErrorKind::Permanent);
        let e = Error::from_reply(530, "530 Login incorrect.", "PASS", false);
        assert_eq!(e.kind(), ErrorKind::Auth);
        let e = Error::from_reply(421, "421 Too many connections", "connect", false);
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert!(e.is_retryable());
        assert!(e.breaks_connection());
    }

    #[test]
    fn kinds_have_distinct_names_that_parse_back() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        for kind in ErrorKind::ALL {
            assert_eq!(kind.as_str().parse::<ErrorKind>().unwrap(), kind);
        }
    }
}
