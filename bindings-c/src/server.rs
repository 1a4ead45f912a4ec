//! `ferroftp_server`: where to connect and as whom, given piece by piece instead of as a URL, so
//! that a password with `@ / : #` (or any other character) needs no percent-encoding. The
//! connect and pool calls that take it are in `session` and `pool`; this module builds the
//! core's `Config` from it (the options go through `crate::options::apply`).

use std::ffi::c_char;

use ferroftp::{Config, Password, TlsMode};

use crate::error::{CError, ferroftp_status};
use crate::ffi::{str_from, try_out};
use crate::options::{self, ferroftp_options};
use crate::panic::ffi_panic_boundary;

use ferroftp_status as S;

/// Where to connect and as whom, each part as it is (no percent-encoding: a password such as
/// `p@ss/w:rd#1` is given exactly like that).
///
/// A plain struct owned by the caller: fill it with `ferroftp_server_init` (every field NULL or
/// 0), set the fields you need, and pass a pointer to `ferroftp_session_connect_server`,
/// `ferroftp_session_connect_server_start` or `ferroftp_pool_new_server`, which copy what they
/// need (the struct and its strings may be released as soon as the call returns). Strings are
/// UTF-8 and NUL-terminated; a string that is not UTF-8 is `FERROFTP_STATUS_INVALID_UTF8`, and
/// a user name, password or account holding CR or LF is `FERROFTP_STATUS_INVALID_INPUT`. TLS
/// comes from `ferroftp_options.tls` (`FERROFTP_TLS_FROM_URL`, the default, means plain FTP
/// here). Always initialise it with `ferroftp_server_init`: fields may be added in later
/// versions (always at the end; see the README's versioning rule).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferroftp_server {
    /// Host name or IP address (an IPv6 address with or without brackets). Required: NULL is
    /// `FERROFTP_STATUS_NULL_ARGUMENT`, an empty string `FERROFTP_STATUS_INVALID_INPUT`.
    pub host: *const c_char,
    /// TCP port of the control connection; 0 (default) means 21, or 990 when
    /// `ferroftp_options.tls` is `FERROFTP_TLS_IMPLICIT`.
    pub port: u16,
    /// User name, or NULL (default) for an anonymous login (`anonymous`).
    pub user: *const c_char,
    /// Password, or NULL (default): then an empty password, or `anonymous@` when `user` is
    /// NULL too. Never logged and never part of an error message.
    pub password: *const c_char,
    /// Account information, sent with `ACCT` when the server asks for one after the password
    /// (reply 332), or NULL (default). Never logged, like the password.
    pub account: *const c_char,
    /// Directory to change to after login (and after every reconnect), or NULL (default).
    pub directory: *const c_char,
}

impl Default for ferroftp_server {
    fn default() -> Self {
        Self {
            host: std::ptr::null(),
            port: 0,
            user: std::ptr::null(),
            password: std::ptr::null(),
            account: std::ptr::null(),
            directory: std::ptr::null(),
        }
    }
}

/// An optional string field of `ferroftp_server` (`field` names it in the error; the value
/// itself is never quoted).
///
/// # Safety
/// `ptr` must be NULL or a NUL-terminated string that outlives the returned borrow.
unsafe fn field<'a>(ptr: *const c_char, field: &str) -> Result<Option<&'a str>, CError> {
    // SAFETY: see the function's contract.
    match unsafe { str_from(ptr) } {
        None => Ok(None),
        Some(Ok(s)) => Ok(Some(s)),
        Some(Err(())) => Err(CError::new(
            S::FERROFTP_STATUS_INVALID_UTF8,
            format!("ferroftp_server.{field} is not valid UTF-8"),
        )),
    }
}

/// The core's config for `server` with `options` (NULL: the defaults); nothing borrowed
/// remains.
///
/// # Safety
/// `server`'s string fields must each be NULL or a NUL-terminated string; `options` as for
/// [`options::apply`].
pub(crate) unsafe fn config(
    server: &ferroftp_server,
    options: *const ferroftp_options,
) -> Result<Config, CError> {
    // SAFETY (the five string fields): see the function's contract.
    let (host, user, password, account, directory) = unsafe {
        (
            field(server.host, "host")?,
            field(server.user, "user")?,
            field(server.password, "password")?,
            field(server.account, "account")?,
            field(server.directory, "directory")?,
        )
    };
    let Some(host) = host else {
        return Err(CError::new(
            S::FERROFTP_STATUS_NULL_ARGUMENT,
            "ferroftp_server.host is NULL",
        ));
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let mut config = Config::new(host);
    match (user, password) {
        (Some(user), password) => {
            config.user = user.to_string();
            config.password = Password::new(password.unwrap_or(""));
        }
        (None, Some(password)) => config.password = Password::new(password),
        (None, None) => {}
    }
    config.account = account.map(Password::new);
    config.initial_dir = directory
        .filter(|d| !d.is_empty() && *d != "/")
        .map(str::to_string);
    // SAFETY: see the function's contract.
    unsafe { options::apply(&mut config, options) }?;
    config.port = match server.port {
        0 if config.tls == TlsMode::Implicit => Config::DEFAULT_IMPLICIT_PORT,
        0 => Config::DEFAULT_PORT,
        port => port,
    };
    config.validate()?;
    Ok(config)
}

/// Fills `*server_out` with the defaults: every string NULL (no host yet, anonymous, no
/// account, no directory) and port 0 (the default port).
///
/// `server_out` points to caller-owned memory; nothing is allocated.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_server_init(server_out: *mut ferroftp_server) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(server_out);
        out.write(ferroftp_server::default());
        S::FERROFTP_STATUS_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &std::ffi::CStr) -> ferroftp_server {
        ferroftp_server {
            host: host.as_ptr(),
            ..Default::default()
        }
    }

    #[test]
    fn parts_go_into_the_config_as_they_are() {
        let mut s = server(c"ftp.example.test");
        s.user = c"me".as_ptr();
        s.password = c"p@ss/w:rd#%41".as_ptr();
        s.account = c"acc:1".as_ptr();
        s.directory = c"/pub".as_ptr();
        // SAFETY: static strings, no options.
        let c = unsafe { config(&s, std::ptr::null()) }.unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.user.as_str()),
            ("ftp.example.test", 21, "me")
        );
        assert_eq!(
            c.password.expose(),
            "p@ss/w:rd#%41",
            "never percent-decoded"
        );
        assert_eq!(c.account.as_ref().map(Password::expose), Some("acc:1"));
        assert_eq!(c.initial_dir.as_deref(), Some("/pub"));
        assert_eq!(c.tls, TlsMode::None);
    }

    #[test]
    fn defaults_brackets_and_ports() {
        let anonymous = Config::new("x");
        // SAFETY: static strings, no options.
        let c = unsafe { config(&server(c"[::1]"), std::ptr::null()) }.unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 21));
        assert_eq!(c.user, anonymous.user);
        assert_eq!(c.password, anonymous.password);
        assert!(c.account.is_none() && c.initial_dir.is_none());

        let o = ferroftp_options {
            tls: crate::options::ferroftp_tls::FERROFTP_TLS_IMPLICIT as u32,
            ..Default::default()
        };
        // SAFETY: as above; `o` has no strings.
        let c = unsafe { config(&server(c"h"), &o) }.unwrap();
        assert_eq!((c.tls, c.port), (TlsMode::Implicit, 990));
        let mut s = server(c"h");
        s.port = 2121;
        // SAFETY: as above.
        assert_eq!(unsafe { config(&s, &o) }.unwrap().port, 2121);
        s.user = c"u".as_ptr();
        // SAFETY: as above.
        let c = unsafe { config(&s, std::ptr::null()) }.unwrap();
        assert_eq!(c.password.expose(), "", "a user without a password");
    }

    #[test]
    fn bad_fields_are_refused_without_quoting_them() {
        // SAFETY: all NULL.
        let e = unsafe { config(&ferroftp_server::default(), std::ptr::null()) }.unwrap_err();
        assert_eq!(e.status, S::FERROFTP_STATUS_NULL_ARGUMENT);
        assert!(e.message.contains("host"), "{}", e.message);
        let bad = [0xffu8 as c_char, 0];
        let mut s = server(c"h");
        s.password = bad.as_ptr();
        // SAFETY: NUL-terminated.
        let e = unsafe { config(&s, std::ptr::null()) }.unwrap_err();
        assert_eq!(e.status, S::FERROFTP_STATUS_INVALID_UTF8);
        assert_eq!(e.message, "ferroftp_server.password is not valid UTF-8");
        s.password = c"secret\r\nDELE x".as_ptr();
        // SAFETY: static strings.
        let e = unsafe { config(&s, std::ptr::null()) }.unwrap_err();
        assert_eq!(e.status, S::FERROFTP_STATUS_INVALID_INPUT);
        assert!(!e.message.contains("secret"), "{}", e.message);
        // SAFETY: static strings.
        let e = unsafe { config(&server(c""), std::ptr::null()) }.unwrap_err();
        assert_eq!(e.status, S::FERROFTP_STATUS_INVALID_INPUT);
    }
}
