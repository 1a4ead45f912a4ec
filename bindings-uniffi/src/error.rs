//! [`FtpError`]: the core's [`ferroftp::Error`] as a uniffi error, one variant per
//! [`ferroftp::ErrorKind`] (Kotlin `FtpException.NotFound`, Swift `FtpError.NotFound`, Ruby
//! `Ferroftp::FtpError::NotFound`), each keeping the kind's name, the FTP reply code and
//! whether the operation may have taken effect.
//!
//! The kinds and their facts are the core's; this module only names a variant for each.

use ferroftp::ErrorKind;

/// Declares [`FtpError`] with one variant per core kind (every variant has the same fields)
/// and the translation from the core's kinds.
macro_rules! ftp_error {
    ($($(#[$doc:meta])* $variant:ident => $kind:ident,)*) => {
        /// An error of a ferroftp operation.
        ///
        /// The variant is the error's kind; every variant carries the same fields:
        /// `kind` (the core's name for it: `"not-found"`, `"timeout"`, ...), `code` (the FTP
        /// reply code when the server refused something), `detail` (the message, with the
        /// server's text where there is one), `may_have_taken_effect` (a command that changes
        /// something failed after it was sent: it is never repeated automatically) and
        /// `retryable` (whether repeating the operation can help).
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
        pub enum FtpError {
            $(
                $(#[$doc])*
                #[error("{detail}")]
                $variant {
                    /// The kind's name (`ferroftp::ErrorKind::as_str`).
                    kind: String,
                    /// The FTP reply code, when the server refused something.
                    code: Option<u16>,
                    /// What went wrong (includes the server's reply text where there is one).
                    detail: String,
                    /// Whether a command that changes something may have taken effect.
                    may_have_taken_effect: bool,
                    /// Whether repeating the operation can help.
                    retryable: bool,
                },
            )*
            /// An error this face cannot classify: a kind the core gained after this face was
            /// written (a test fails then), or a panic inside the library.
            #[error("{detail}")]
            Other {
                /// The kind's name.
                kind: String,
                /// The FTP reply code, if any.
                code: Option<u16>,
                /// What went wrong.
                detail: String,
                /// Whether a command that changes something may have taken effect.
                may_have_taken_effect: bool,
                /// Whether repeating the operation can help.
                retryable: bool,
            },
        }

        impl From<ferroftp::Error> for FtpError {
            fn from(e: ferroftp::Error) -> Self {
                let kind = e.kind().as_str().to_string();
                let code = e.code();
                let detail = e.message().to_string();
                let may_have_taken_effect = e.may_have_taken_effect();
                let retryable = e.is_retryable();
                match e.kind() {
                    $(ErrorKind::$kind => Self::$variant {
                        kind, code, detail, may_have_taken_effect, retryable,
                    },)*
                    _ => Self::Other { kind, code, detail, may_have_taken_effect, retryable },
                }
            }
        }

        impl FtpError {
            /// The variant's name (`"NotFound"`), for the face's own tests.
            #[cfg(test)]
            fn variant(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => stringify!($variant),)*
                    Self::Other { .. } => "Other",
                }
            }

            /// The kind's name (`"not-found"`).
            pub fn kind(&self) -> &str {
                match self {
                    $(Self::$variant { kind, .. })|* | Self::Other { kind, .. } => kind,
                }
            }

            /// The FTP reply code, when the server refused something.
            pub fn code(&self) -> Option<u16> {
                match self {
                    $(Self::$variant { code, .. })|* | Self::Other { code, .. } => *code,
                }
            }
        }
    };
}

ftp_error! {
    /// The TCP connection (or the server's greeting) could not be established.
    Connect => Connect,
    /// The TLS handshake or a certificate check failed.
    Tls => Tls,
    /// The server refused the credentials.
    Auth => Auth,
    /// The remote file or directory does not exist (usually 550).
    NotFound => NotFound,
    /// Any other permanent refusal (5xx), or a feature the server lacks.
    Permanent => Permanent,
    /// A transient refusal (4xx): the same command may succeed later.
    Transient => Transient,
    /// A connect, reply or data timeout fired.
    Timeout => Timeout,
    /// The operation was cancelled before it finished.
    Cancelled => Cancelled,
    /// The server's reply is not valid FTP, or not what the command expects.
    Protocol => Protocol,
    /// A local or network I/O error.
    Io => Io,
    /// The session was closed by the caller.
    Closed => Closed,
    /// A bad argument: a malformed URL, setting or path.
    InvalidInput => InvalidInput,
    /// A transfer's checksum does not match the server's.
    Integrity => Integrity,
}

impl FtpError {
    /// An error of `kind` with a message, made here (a setting this face cannot read, a task
    /// that ended without a result).
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ferroftp::Error::new(kind, message).into()
    }

    /// The error of an operation that panicked (a bug; the session stays usable).
    pub(crate) fn panicked(payload: &(dyn std::any::Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Self::Other {
            kind: "panic".into(),
            code: None,
            detail: format!("the operation panicked: {what}"),
            may_have_taken_effect: true,
            retryable: false,
        }
    }
}

/// The result of every exported call.
pub type Result<T> = std::result::Result<T, FtpError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// `NotFound` → `not-found`: the variant's name in the core's naming of kinds.
    fn kebab(variant: &str) -> String {
        let mut out = String::new();
        for (i, c) in variant.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    #[test]
    fn every_core_kind_has_its_own_variant() {
        let mut seen = Vec::new();
        for kind in ErrorKind::ALL {
            let e = FtpError::from(ferroftp::Error::new(kind, "x"));
            assert_ne!(e.variant(), "Other", "{kind:?} has no variant in this face");
            assert_eq!(e.kind(), kind.as_str());
            assert_eq!(kebab(e.variant()), kind.as_str(), "{kind:?}");
            assert!(!seen.contains(&e.variant()), "{kind:?} shares a variant");
            seen.push(e.variant());
        }
    }

    #[test]
    fn reply_code_and_facts_survive() {
        let core = ferroftp::Error::from_reply(550, "550 No such file.", "SIZE /x", true);
        let e = FtpError::from(core);
        match &e {
            FtpError::NotFound {
                kind,
                code,
                detail,
                may_have_taken_effect,
                retryable,
            } => {
                assert_eq!((kind.as_str(), *code), ("not-found", Some(550)));
                assert!(detail.contains("No such file"), "{detail}");
                assert!(!may_have_taken_effect && !retryable);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.to_string(), e_detail(&e));
        let e = FtpError::from(ferroftp::Error::from_reply(421, "421 Bye", "NOOP", false));
        assert!(matches!(
            e,
            FtpError::Transient {
                retryable: true,
                ..
            }
        ));
    }

    fn e_detail(e: &FtpError) -> String {
        match e {
            FtpError::NotFound { detail, .. } => detail.clone(),
            _ => unreachable!(),
        }
    }
}
