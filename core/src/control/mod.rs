//! The control connection (private): connecting (TCP, TLS, greeting), logging in, what the
//! server offers (FEAT), and every command that is one line and one reply.
//!
//! A [`Control`] is only ever touched by the operation that holds the session lock. Every
//! await on the network is bounded by the configured timeout; a timeout or an I/O error leaves
//! the connection in an unknown state, and the caller (the session) then throws it away. Data
//! connections are [`crate::data`]'s.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use suppaftp::tokio::AsyncRustlsFtpStream;
use suppaftp::types::FileType;
use suppaftp::{FtpResult, Mode, Status};
use tokio::net::TcpStream;

use crate::checksum::HashFeatures;
use crate::config::{Config, DataMode, Password, TlsMode};
use crate::error::{Error, ErrorKind, Result};
use crate::listing;
use crate::reply::{line_context, reply_code};
use crate::{tls, wire};

mod commands;

pub(crate) use commands::size_reply;

/// suppaftp's client, the control connection and the maker of data connections.
pub(crate) type Ftp = AsyncRustlsFtpStream;

/// What the server said it supports in its FEAT reply.
#[derive(Debug, Default, Clone)]
pub(crate) struct Features {
    /// MLST/MLSD (RFC 3659 machine listings).
    pub mlst: bool,
    /// SIZE (used to verify transfers).
    pub size: bool,
    /// Checksums: HASH and its algorithms, XSHA256, XMD5, XCRC, ...
    pub hash: HashFeatures,
}

impl Features {
    /// Reads the feature lines (those starting with a space) of a 211 FEAT reply.
    fn parse(reply: &str) -> Self {
        let mut f = Self::default();
        for line in reply.lines().filter(|l| l.starts_with(' ')) {
            let name = line.split_whitespace().next().unwrap_or("");
            f.mlst |= name.eq_ignore_ascii_case("MLST");
            f.size |= name.eq_ignore_ascii_case("SIZE");
            f.hash.feature(line);
        }
        f
    }
}

/// Awaits `fut` for at most `limit`, translating suppaftp's errors for `context`.
pub(crate) async fn bounded<T>(
    limit: Duration,
    context: &str,
    lookup: bool,
    fut: impl Future<Output = FtpResult<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::from_ftp(e, context, lookup)),
        Err(_) => Err(Error::timeout(context, limit.as_secs_f64())),
    }
}

/// Awaits an I/O future for at most `limit`.
pub(crate) async fn bounded_io<T>(
    limit: Duration,
    context: &str,
    fut: impl Future<Output = std::io::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::from_io(e, context)),
        Err(_) => Err(Error::timeout(context, limit.as_secs_f64())),
    }
}
/// One logged-in control connection in binary mode.
pub(crate) struct Control {
    ftp: Ftp,
    timeout: Duration,
    /// Whether the control connection is protected by TLS.
    tls: bool,
    features: Features,
    /// The absolute working directory, as PWD reported it.
    cwd: String,
    /// Where a `PASS` command's password waits for the encoding (see [`wire`]).
    secret: wire::Secret,
}

impl Control {
    /// Connects, logs in, selects binary type, reads FEAT and changes to `cwd` (or the
    /// config's initial directory).
    pub(crate) async fn open(config: &Config, cwd: Option<&str>) -> Result<Self> {
        config.validate()?;
        let tls = match config.tls {
            TlsMode::None => None,
            _ => Some(tls::Tls::new(config)?),
        };
        let opened = Self::open_with(config, cwd, tls.as_ref()).await;
        match (opened, &tls) {
            (Err(e), Some(tls)) => Err(tls.explain(e)),
            (opened, _) => opened,
        }
    }

    async fn open_with(config: &Config, cwd: Option<&str>, tls: Option<&tls::Tls>) -> Result<Self> {
        let address = config.address();
        let ctx = format!("connect to {address}");
        let limit = config.connect_timeout;
        let addrs: Vec<SocketAddr> = bounded_io(limit, &ctx, async {
            Ok(tokio::net::lookup_host(&address).await?.collect())
        })
        .await
        .map_err(connect_kind)?;
        let greeting = format!("greeting of {address}");
        let mut ftp = match tls {
            Some(tls) if config.tls == TlsMode::Implicit => {
                let addr = *addrs.first().ok_or_else(|| no_address(&ctx))?;
                bounded(
                    limit,
                    &greeting,
                    false,
                    Ftp::connect_secure_implicit(addr, tls.connector(), tls.server_name()),
                )
                .await
                .map_err(connect_kind)?
            }
            tls => {
                let tcp = bounded_io(limit, &ctx, async {
                    let mut last = None;
                    for addr in &addrs {
                        match TcpStream::connect(addr).await {
                            Ok(s) => return Ok(s),
                            Err(e) => last = Some(e),
                        }
                    }
                    Err(last.unwrap_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "host name has no address",
                        )
                    }))
                })
                .await
                .map_err(connect_kind)?;
                let ftp = bounded(limit, &greeting, false, Ftp::connect_with_stream(tcp))
                    .await
                    .map_err(connect_kind)?;
                match tls {
                    Some(tls) => bounded(
                        config.timeout,
                        "AUTH TLS",
                        false,
                        ftp.into_secure(tls.connector(), tls.server_name()),
                    )
                    .await
                    .map_err(|e| match e.kind() {
                        ErrorKind::Timeout => e,
                        _ => e.with_kind(ErrorKind::Tls),
                    })?,
                    None => ftp,
                }
            }
        };
        {
            let control = ftp.get_ref().await;
            let _ = control.set_nodelay(true);
            // Keepalive, so an idle NAT or firewall does not drop the control connection
            // during a long transfer.
            let keepalive = socket2::TcpKeepalive::new()
                .with_time(Duration::from_secs(60))
                .with_interval(Duration::from_secs(15));
            let _ = socket2::SockRef::from(&*control).set_tcp_keepalive(&keepalive);
        }
        ftp.set_passive_nat_workaround(true);
        let double_iac = !wire::reads_commands_literally(ftp.get_welcome_msg());
        let secret = wire::Secret::default();
        ftp.set_encoding(wire::ControlEncoding::new(double_iac, secret.clone()))
            .await;
        let t = config.timeout;
        bounded(
            t,
            &format!("login as {:?}", config.user),
            false,
            wire::login(
                &mut ftp,
                &secret,
                &config.user,
                config.password.expose(),
                config.account.as_ref().map(Password::expose),
            ),
        )
        .await
        .map_err(|e| match e.code() {
            Some(c) if (500..600).contains(&c) => e.with_kind(ErrorKind::Auth),
            _ => e,
        })?;
        if config.tls == TlsMode::Implicit {
            // suppaftp's implicit connect leaves data protection to us (explicit TLS sets it).
            for line in ["PBSZ 0", "PROT P"] {
                bounded(
                    t,
                    line,
                    false,
                    ftp.custom_command(line, &[Status::CommandOk]),
                )
                .await
                .map_err(|e| e.with_kind(ErrorKind::Tls))?;
            }
        }
        bounded(t, "TYPE I", false, ftp.transfer_type(FileType::Binary)).await?;
        // FEAT read as one whole reply: suppaftp's `feat()` waits for more lines after a
        // single-line "211 no features" and would hang until the timeout.
        let feat = bounded(t, "FEAT", false, async {
            match ftp.custom_command("FEAT", &[]).await {
                Err(suppaftp::FtpError::UnexpectedResponse(r)) => Ok(r),
                other => other,
            }
        })
        .await?;
        let features = if reply_code(&feat.body) == Some(211) {
            Features::parse(&String::from_utf8_lossy(&feat.body))
        } else {
            Features::default()
        };
        // The data connections' mode (data.rs switches EPSV to PASV where the server wants).
        match config.data_mode {
            DataMode::Auto | DataMode::Epsv => ftp.set_mode(Mode::ExtendedPassive),
            DataMode::Pasv => ftp.set_mode(Mode::Passive),
            DataMode::Active => ftp = ftp.active_mode(t),
        }
        let mut conn = Self {
            ftp,
            timeout: t,
            tls: config.tls != TlsMode::None,
            features,
            cwd: String::new(),
            secret,
        };
        match cwd.or(config.initial_dir.as_deref()) {
            Some(dir) => conn.cwd(dir).await?,
            None => conn.cwd = conn.pwd().await?,
        }
        log::debug!(
            "logged in to {}:{} as {:?} (TLS: {:?}, data: {:?}), in {}",
            config.host,
            config.port,
            config.user,
            config.tls,
            config.data_mode,
            conn.cwd
        );
        Ok(conn)
    }

    /// suppaftp's client, for the data connections ([`crate::data`]).
    pub(crate) fn ftp(&mut self) -> &mut Ftp {
        &mut self.ftp
    }

    /// suppaftp's client, read-only.
    pub(crate) fn ftp_ref(&self) -> &Ftp {
        &self.ftp
    }

    /// The server's greeting (its 220 reply) on this connection.
    pub(crate) fn welcome(&self) -> Option<String> {
        self.ftp.get_welcome_msg().map(str::to_string)
    }

    /// The limit for each reply and each data read or write.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the control connection (and so every data connection) uses TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }

    /// The working directory as last reported by the server.
    pub(crate) fn current_dir(&self) -> &str {
        &self.cwd
    }

    /// The absolute form of `path` (relative paths are taken from the working directory).
    pub(crate) fn absolute(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else if path.is_empty() || path == "." {
            self.cwd.clone()
        } else {
            listing::join_path(&self.cwd, path)
        }
    }

    /// Sends one command line and reads one reply, whatever its code.
    pub(crate) async fn raw(&mut self, line: &str) -> Result<(u16, String)> {
        self.raw_within(line, self.timeout).await
    }

    /// [`Connection::raw`], waiting at most `limit` for the reply.
    async fn raw_within(&mut self, line: &str, limit: Duration) -> Result<(u16, String)> {
        // No status is "expected": every reply comes back as `UnexpectedResponse` and is taken
        // as it is. (Expecting 211 would make suppaftp stop at the first line of a multi-line
        // 211 reply, as it does for FEAT.)
        let sent = self.secret.outgoing(line);
        let reply = bounded(limit, line_context(line), false, async {
            match self.ftp.custom_command(sent, &[]).await {
                Ok(r) => Ok(r),
                Err(suppaftp::FtpError::UnexpectedResponse(r)) => Ok(r),
                Err(e) => Err(e),
            }
        })
        .await;
        self.secret.clear();
        reply.map(|resp| reply_parts(&resp))
    }

    /// Sends `line` and returns the reply when its code is in `ok`, else the reply as an error.
    pub(crate) async fn command(
        &mut self,
        line: &str,
        ok: &[u16],
        lookup: bool,
    ) -> Result<(u16, String)> {
        let (code, text) = self.raw(line).await?;
        if ok.contains(&code) {
            Ok((code, text))
        } else {
            Err(Error::from_reply(code, &text, line_context(line), lookup))
        }
    }

    /// Whether the server offers machine listings (MLST/MLSD in FEAT).
    pub(crate) fn has_mlst(&self) -> bool {
        self.features.mlst
    }

    /// Whether the server offers SIZE (FEAT).
    pub(crate) fn has_size(&self) -> bool {
        self.features.size
    }

    /// What the server offers for checksums (FEAT).
    pub(crate) fn hash_features(&self) -> &HashFeatures {
        &self.features.hash
    }

    /// QUIT (best effort, bounded).
    pub(crate) async fn quit(&mut self) {
        let _ = bounded(self.timeout, "QUIT", false, self.ftp.quit()).await;
    }
}

/// Errors while connecting are connect errors, unless they are timeouts or TLS failures.
fn connect_kind(e: Error) -> Error {
    match e.kind() {
        ErrorKind::Io | ErrorKind::Protocol => e.with_kind(ErrorKind::Connect),
        _ => e,
    }
}

fn no_address(ctx: &str) -> Error {
    Error::new(
        ErrorKind::Connect,
        format!("{ctx}: the host name has no address"),
    )
}

/// Refuses paths that would smuggle a second command onto the control connection.
pub(crate) fn check_path(path: &str) -> Result<()> {
    if path.contains(['\r', '\n', '\0']) {
        return Err(Error::invalid_input(format!(
            "path {path:?} contains CR, LF or NUL"
        )));
    }
    Ok(())
}

/// The code and text of a reply (the text trimmed at its end).
pub(crate) fn reply_parts(resp: &suppaftp::types::Response) -> (u16, String) {
    let code = reply_code(&resp.body).unwrap_or(resp.status.code() as u16);
    let text = wire::reply_text(&resp.body).trim_end().to_string();
    (code, text)
}

fn bad_reply(what: &str, text: &str) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("{what}: cannot read the reply {text:?}"),
    )
}

/// The FEAT parser on any text (for the fuzz target).
pub(crate) fn fuzz(text: &str) {
    let _ = Features::parse(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feat_replies() {
        let f = Features::parse("211-Features:\r\n MLST type*;size*;\r\n SIZE\r\n UTF8\r\n211 End");
        assert!(f.mlst && f.size);
        let f = Features::parse("211 no features");
        assert!(!f.mlst && !f.size);
        let f = Features::parse("211-Features:\r\n MDTM\r\n211 End");
        assert!(!f.mlst && !f.size);
        assert!(f.hash.hash.is_empty() && f.hash.x.is_empty());
        // checksums are read in the same pass (no extra round trip)
        let f = Features::parse(
            "211-Features:\r\n HASH SHA-1;SHA-256*;CRC32\r\n SIZE\r\n XCRC\r\n211 End",
        );
        use crate::checksum::HashAlgorithm::*;
        assert_eq!(f.hash.hash, [Sha1, Sha256, Crc32]);
        assert_eq!(f.hash.selected, Some(Sha256));
        assert_eq!(f.hash.x, [(Crc32, "XCRC".to_string())]);
        assert!(f.size && !f.mlst);
    }

    #[test]
    fn paths_with_line_breaks_are_refused() {
        assert!(check_path("a\r\nDELE b").is_err());
        assert!(check_path("/ok/path with spaces").is_ok());
    }
}
