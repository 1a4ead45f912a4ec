//! Connection settings: built from a URL, then adjusted field by field.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// How the data connection of each transfer or listing is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataMode {
    /// EPSV, falling back to PASV for the rest of the connection when EPSV is refused.
    #[default]
    Auto,
    /// Extended passive mode (RFC 2428) only.
    Epsv,
    /// Classic passive mode only (IPv4).
    Pasv,
    /// Active mode: the client listens and the server connects back (PORT/EPRT).
    Active,
}

impl DataMode {
    /// Every mode: the faces offer each of these, and their tests check that none is missing.
    pub const ALL: [Self; 4] = [Self::Auto, Self::Epsv, Self::Pasv, Self::Active];

    /// The mode's name (`"auto"`, `"epsv"`, `"pasv"`, `"active"`), as [`FromStr`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Epsv => "epsv",
            Self::Pasv => "pasv",
            Self::Active => "active",
        }
    }
}

impl fmt::Display for DataMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "epsv" => Ok(Self::Epsv),
            "pasv" | "passive" => Ok(Self::Pasv),
            "active" | "port" | "eprt" => Ok(Self::Active),
            other => Err(Error::invalid_input(format!(
                "unknown data mode {other:?}: expected \"auto\", \"epsv\", \"pasv\" or \"active\""
            ))),
        }
    }
}

/// Whether and how the control connection is protected with TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain FTP.
    #[default]
    None,
    /// `AUTH TLS` after connecting (`ftpes://`).
    Explicit,
    /// TLS from the first byte (`ftps://`, port 990).
    Implicit,
}

impl TlsMode {
    /// Every mode.
    pub const ALL: [Self; 3] = [Self::None, Self::Explicit, Self::Implicit];

    /// The mode's name (`"none"`, `"explicit"`, `"implicit"`), as [`FromStr`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Explicit => "explicit",
            Self::Implicit => "implicit",
        }
    }

    /// The usual control port of the mode: 990 for implicit TLS, else 21.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Implicit => Config::DEFAULT_IMPLICIT_PORT,
            _ => Config::DEFAULT_PORT,
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TlsMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "" | "none" | "off" | "plain" => Ok(Self::None),
            "explicit" => Ok(Self::Explicit),
            "implicit" => Ok(Self::Implicit),
            other => Err(Error::invalid_input(format!(
                "unknown TLS mode {other:?}: expected \"explicit\", \"implicit\" or none"
            ))),
        }
    }
}

/// A password that never shows in `Debug` output, logs or error messages.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself, for the `PASS` command.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Everything needed to open (and reopen) a session.
///
/// Build it with [`Config::from_url`] (or `str::parse`), then change fields as needed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port of the control connection.
    pub port: u16,
    /// User name (`anonymous` when the URL has none).
    pub user: String,
    /// Password (`anonymous@` for anonymous logins when the URL has none).
    pub password: Password,
    /// Account information (`ACCT`), sent when the server asks for it after the password
    /// (332); like the password, never logged.
    pub account: Option<Password>,
    /// TLS mode of the control and data connections.
    pub tls: TlsMode,
    /// How data connections are opened.
    pub data_mode: DataMode,
    /// Limit for opening the TCP connection and reading the greeting.
    pub connect_timeout: Duration,
    /// Limit for each reply and for each read or write on a data connection.
    pub timeout: Duration,
    /// How many times an operation that is safe to repeat is retried on a fresh connection.
    pub retries: u32,
    /// Size of the transfer buffer in bytes.
    pub buffer_size: usize,
    /// Whether server certificates are verified (TLS only; turn off for self-signed test servers).
    pub verify: bool,
    /// Extra certificates (PEM) to trust (TLS only): CAs, and server certificates themselves.
    /// A server that presents a certificate listed here is trusted as long as the certificate
    /// is within its validity dates and names the host (it is *pinned*), even when it is a
    /// self-signed CA certificate as `openssl req -x509` makes them.
    pub ca_file: Option<PathBuf>,
    /// The name the server's certificate must carry, and the SNI sent, when it differs from
    /// `host` (a server reached by IP address or through a tunnel). TLS only.
    pub tls_server_name: Option<String>,
    /// A client certificate (PEM, with its chain) for servers that require one; needs
    /// `client_key`. TLS only.
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// Directory to change to after login (the URL's path), restored on every reconnect.
    pub initial_dir: Option<String>,
    /// Whether, as soon as a download's data has all arrived, the `EPSV` of the next data
    /// command is sent before the download's final reply is read, so that the server opens the
    /// next data port while the client finishes the file (one round trip fewer per file in a
    /// batch). Only in EPSV data modes; a port nobody uses is discarded with the next command.
    /// On by default; turn it off for a server that drops commands sent during a transfer.
    pub pipelining: bool,
}

impl Config {
    /// Default port for plain and explicit-TLS FTP.
    pub const DEFAULT_PORT: u16 = 21;
    /// Default port for implicit TLS.
    pub const DEFAULT_IMPLICIT_PORT: u16 = 990;

    /// A config for `host` with every other setting at its default (anonymous, port 21).
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port: Self::DEFAULT_PORT,
            user: "anonymous".into(),
            password: Password::new("anonymous@"),
            account: None,
            tls: TlsMode::None,
            data_mode: DataMode::Auto,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            retries: 3,
            buffer_size: 1024 * 1024,
            verify: true,
            ca_file: None,
            tls_server_name: None,
            client_cert: None,
            client_key: None,
            initial_dir: None,
            pipelining: true,
        }
    }

    /// Parses `ftp://user:pass@host:port/dir` (also `ftps://` = implicit TLS, `ftpes://` =
    /// explicit TLS). User and password are percent-decoded; a missing user means anonymous.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] naming what is wrong with the URL.
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = url::Url::parse(url.trim())
            .map_err(|e| Error::invalid_input(format!("invalid FTP URL {:?}: {e}", redact(url))))?;
        let tls = match parsed.scheme() {
            "ftp" => TlsMode::None,
            "ftpes" => TlsMode::Explicit,
            "ftps" => TlsMode::Implicit,
            other => {
                return Err(Error::invalid_input(format!(
                    "unsupported URL scheme {other:?} in {:?}: expected ftp, ftpes or ftps",
                    redact(url)
                )));
            }
        };
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => {
                return Err(Error::invalid_input(format!(
                    "FTP URL {:?} has no host",
                    redact(url)
                )));
            }
        };
        let mut config = Self::new(host);
        config.tls = tls;
        config.port = parsed.port().unwrap_or(tls.default_port());
        if !parsed.username().is_empty() {
            config.user = decode(parsed.username(), "user name")?;
            config.password = Password::new(decode(parsed.password().unwrap_or(""), "password")?);
        }
        let path = decode(parsed.path(), "path")?;
        if !path.is_empty() && path != "/" {
            config.initial_dir = Some(path);
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(Error::invalid_input(format!(
                "FTP URL {:?} must not have a query or fragment",
                redact(url)
            )));
        }
        Ok(config)
    }

    /// The `host:port` pair to connect to (IPv6 hosts in brackets).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Checks the settings that cannot be checked by their types.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] naming the bad setting.
    pub fn validate(&self) -> Result<()> {
        if self.host.is_empty() {
            return Err(Error::invalid_input("host must not be empty"));
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::invalid_input("timeouts must be greater than zero"));
        }
        if self.buffer_size == 0 {
            return Err(Error::invalid_input(
                "buffer_size must be greater than zero",
            ));
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err(Error::invalid_input(
                "client_cert and client_key go together: set both or neither",
            ));
        }
        let account = self.account.as_ref().map_or("", |a| a.expose());
        for (name, value) in [
            ("user name", self.user.as_str()),
            ("password", self.password.expose()),
            ("account", account),
        ] {
            if value.contains(['\r', '\n']) {
                return Err(Error::invalid_input(format!(
                    "{name} must not contain CR or LF"
                )));
            }
        }
        Ok(())
    }
}

impl FromStr for Config {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_url(s)
    }
}

fn decode(s: &str, what: &str) -> Result<String> {
    percent_decode(s)
        .map_err(|_| Error::invalid_input(format!("the {what} in the URL is not valid UTF-8")))
}

/// Percent-decodes `s` into UTF-8 (a `+` stays a `+`).
fn percent_decode(s: &str) -> std::result::Result<String, ()> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ())
}

/// The URL with its password replaced by `***`, for error messages.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let auth_end = rest.find('/').unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &rest[at..])
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn full_url() {
        let c = Config::from_url("ftp://us%40er:p%3Ass@example.com:2121/pub/dir").unwrap();
        assert_eq!(c.host, "example.com");
        assert_eq!(c.port, 2121);
        assert_eq!(c.user, "us@er");
        assert_eq!(c.password.expose(), "p:ss");
        assert_eq!(c.initial_dir.as_deref(), Some("/pub/dir"));
        assert_eq!(c.tls, TlsMode::None);
        assert!(!format!("{c:?}").contains("p:ss"));
    }

    #[test]
    fn defaults_and_schemes() {
        let c = Config::from_url("ftp://127.0.0.1").unwrap();
        assert_eq!((c.port, c.user.as_str()), (21, "anonymous"));
        assert_eq!(c.initial_dir, None);
        let c = Config::from_url("ftps://h").unwrap();
        assert_eq!((c.port, c.tls), (990, TlsMode::Implicit));
        let c = Config::from_url("ftpes://h").unwrap();
        assert_eq!((c.port, c.tls), (21, TlsMode::Explicit));
        let c = Config::from_url("ftp://[::1]:2121/").unwrap();
        assert_eq!(
            (c.host.as_str(), c.address()),
            ("::1", "[::1]:2121".to_string())
        );
    }

    #[test]
    fn bad_urls_name_the_problem() {
        for (url, needle) in [
            ("http://h/", "scheme"),
            ("ftp://", "host"),
            ("not a url", "invalid FTP URL"),
            ("ftp://h:99999/", "invalid FTP URL"),
            ("ftp://u:%ff@h/", "password"),
            ("ftp://h/?x=1", "query"),
        ] {
            let e = Config::from_url(url).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{url}");
            assert!(e.message().contains(needle), "{url}: {}", e.message());
        }
        let e = Config::from_url("gopher://u:secret@h/").unwrap_err();
        assert!(!e.message().contains("secret"), "{}", e.message());
    }

    #[test]
    fn mode_names_parse_back() {
        for mode in DataMode::ALL {
            assert_eq!(mode.as_str().parse::<DataMode>().unwrap(), mode);
        }
        for mode in TlsMode::ALL {
            assert_eq!(mode.as_str().parse::<TlsMode>().unwrap(), mode);
        }
    }

    #[test]
    fn modes_parse() {
        assert_eq!("PASV".parse::<DataMode>().unwrap(), DataMode::Pasv);
        assert_eq!("auto".parse::<DataMode>().unwrap(), DataMode::Auto);
        assert!("fast".parse::<DataMode>().is_err());
        assert_eq!("explicit".parse::<TlsMode>().unwrap(), TlsMode::Explicit);
    }
}
