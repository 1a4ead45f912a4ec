//! One control connection and what it knows about its server (private).
//!
//! A [`Connection`] is only ever touched by the operation that holds the session lock. Every
//! await on the network is bounded by the configured timeout; a timeout or an I/O error leaves
//! the connection in an unknown state, and the caller (the session) then throws it away.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use suppaftp::tokio::{AsyncRustlsFtpStream, AsyncRustlsStream, TransferStream};
use suppaftp::types::FileType;
use suppaftp::{FtpResult, Mode, Status};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::checksum::{self, HashFeatures, Method};
use crate::config::{Config, DataMode, TlsMode};
use crate::error::{Error, ErrorKind, Result, reply_code};
use crate::listing::{self, Entry, ListingFormat};
use crate::{tls, wire};

type Ftp = AsyncRustlsFtpStream;
/// An open data connection of a transfer.
pub(crate) type Transfer = TransferStream<AsyncRustlsStream>;

/// Progress callback: `(bytes done, total bytes if known)`.
pub type Progress = std::sync::Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

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

/// One logged-in control connection in binary mode.
pub(crate) struct Connection {
    ftp: Ftp,
    timeout: Duration,
    buffer_size: usize,
    /// `true` while EPSV is in use and may still fall back to PASV (data mode `auto`).
    auto_epsv: bool,
    /// Send the next `EPSV` as soon as a download's data is in ([`Config::pipelining`]).
    pipelining: bool,
    /// Whether the control connection is protected by TLS.
    tls: bool,
    /// Data connections of this control connection that resumed its TLS session, and those
    /// that needed a full handshake (logged at debug level with each data connection).
    data_handshakes: (u64, u64),
    features: Features,
    /// The absolute working directory, as PWD reported it.
    cwd: String,
    /// Where a `PASS` command's password waits for the encoding (see [`wire`]).
    secret: wire::Secret,
}

impl Connection {
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
            wire::login(&mut ftp, &secret, &config.user, config.password.expose()),
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
        let auto_epsv = match config.data_mode {
            DataMode::Auto => {
                ftp.set_mode(Mode::ExtendedPassive);
                true
            }
            DataMode::Epsv => {
                ftp.set_mode(Mode::ExtendedPassive);
                false
            }
            DataMode::Pasv => {
                ftp.set_mode(Mode::Passive);
                false
            }
            DataMode::Active => {
                ftp = ftp.active_mode(t);
                false
            }
        };
        let mut conn = Self {
            ftp,
            timeout: t,
            buffer_size: config.buffer_size,
            auto_epsv,
            pipelining: config.pipelining,
            tls: config.tls != TlsMode::None,
            data_handshakes: (0, 0),
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

    /// Whether the control connection is out of step before a command: bytes nobody asked for
    /// are waiting (a late reply, a 421 before closing), or the server closed it. Then the
    /// connection is reopened rather than letting the next command read someone else's reply.
    ///
    /// Plain connections only: on TLS, waiting bytes may be TLS housekeeping (session tickets).
    pub(crate) async fn out_of_step(&self) -> bool {
        if self.tls {
            return false;
        }
        // The answer to an EPSV sent ahead is expected, not stale: read it first.
        if self.ftp.epsv_ahead_pending().await
            && bounded(self.timeout, "EPSV", false, self.ftp.settle_epsv_ahead())
                .await
                .is_err()
        {
            return true;
        }
        // So are the replies of a RETR sent ahead (a server may say 150 before the data
        // connection opens); whoever takes or gives it up reads them.
        if self.ftp.transfer_ahead_pending().await {
            return false;
        }
        let control = self.ftp.get_ref().await;
        let mut byte = [0u8; 1];
        let mut buf = tokio::io::ReadBuf::new(&mut byte);
        std::future::poll_fn(|cx| match control.poll_peek(cx, &mut buf) {
            std::task::Poll::Ready(Ok(_)) => std::task::Poll::Ready(true), // data, or EOF
            std::task::Poll::Ready(Err(_)) => std::task::Poll::Ready(true),
            std::task::Poll::Pending => std::task::Poll::Ready(false),
        })
        .await
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
    async fn raw(&mut self, line: &str) -> Result<(u16, String)> {
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
        match reply {
            Ok(resp) => {
                let code = reply_code(&resp.body).unwrap_or(resp.status.code() as u16);
                let text = wire::reply_text(&resp.body).trim_end().to_string();
                Ok((code, text))
            }
            Err(e) => Err(e),
        }
    }

    /// Sends `line` and returns the reply when its code is in `ok`, else the reply as an error.
    async fn command(&mut self, line: &str, ok: &[u16], lookup: bool) -> Result<(u16, String)> {
        let (code, text) = self.raw(line).await?;
        if ok.contains(&code) {
            Ok((code, text))
        } else {
            Err(Error::from_reply(code, &text, line_context(line), lookup))
        }
    }

    /// NOOP.
    pub(crate) async fn noop(&mut self) -> Result<()> {
        self.command("NOOP", &[200], false).await.map(drop)
    }

    /// PWD: the working directory.
    pub(crate) async fn pwd(&mut self) -> Result<String> {
        let (_, text) = self.command("PWD", &[257], false).await?;
        parse_pwd(&text).ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                format!("PWD: cannot read a directory from the reply {text:?}"),
            )
        })
    }

    /// CWD, then PWD to learn the absolute directory (restored after a reconnect).
    pub(crate) async fn cwd(&mut self, path: &str) -> Result<()> {
        check_path(path)?;
        self.command(&format!("CWD {path}"), &[250, 200], true)
            .await?;
        self.cwd = self.pwd().await?;
        Ok(())
    }

    /// SIZE in bytes.
    pub(crate) async fn size(&mut self, path: &str) -> Result<u64> {
        check_path(path)?;
        let (_, text) = self.command(&format!("SIZE {path}"), &[213], true).await?;
        text.get(4..)
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| bad_reply("SIZE", &text))
    }

    /// MDTM as UTC.
    pub(crate) async fn modified(&mut self, path: &str) -> Result<DateTime<Utc>> {
        check_path(path)?;
        let (_, text) = self.command(&format!("MDTM {path}"), &[213], true).await?;
        text.get(4..)
            .and_then(|t| parse_mdtm(t.trim()))
            .ok_or_else(|| bad_reply("MDTM", &text))
    }

    /// Whether `path` names a file or a directory.
    pub(crate) async fn exists(&mut self, path: &str) -> Result<bool> {
        check_path(path)?;
        if self.features.mlst {
            let (code, _) = self.raw(&format!("MLST {path}")).await?;
            return Ok(code == 250);
        }
        let (code, _) = self.raw(&format!("SIZE {path}")).await?;
        if code == 213 {
            return Ok(true);
        }
        let (code, _) = self.raw(&format!("CWD {path}")).await?;
        if code == 250 || code == 200 {
            let back = self.cwd.clone();
            self.command(&format!("CWD {back}"), &[250, 200], false)
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// MKD; with `parents`, creates missing parents and accepts an existing directory.
    pub(crate) async fn mkdir(&mut self, path: &str, parents: bool) -> Result<()> {
        check_path(path)?;
        let first = self
            .command(&format!("MKD {path}"), &[257, 250, 200], false)
            .await;
        match first {
            Ok(_) => Ok(()),
            Err(e) if !parents || e.code().is_none() => Err(e),
            Err(e) => {
                let full = self.absolute(path);
                let mut prefix = String::new();
                for part in full.split('/').filter(|p| !p.is_empty()) {
                    prefix.push('/');
                    prefix.push_str(part);
                    let (code, _) = self.raw(&format!("MKD {prefix}")).await?;
                    if !matches!(code, 257 | 250 | 200 | 521 | 550 | 553) {
                        break;
                    }
                }
                if self.is_dir(&full).await? {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Whether `path` is a directory (CWD there and back).
    async fn is_dir(&mut self, path: &str) -> Result<bool> {
        let (code, _) = self.raw(&format!("CWD {path}")).await?;
        if code == 250 || code == 200 {
            let back = self.cwd.clone();
            self.command(&format!("CWD {back}"), &[250, 200], false)
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// RMD; with `recursive`, removes the directory's contents first.
    pub(crate) async fn rmdir(&mut self, path: &str, recursive: bool) -> Result<()> {
        check_path(path)?;
        if recursive {
            let full = self.absolute(path);
            // Depth-first, iteratively: (directory, its contents were already removed).
            let mut stack = vec![(full, false)];
            while let Some((dir, emptied)) = stack.pop() {
                if emptied {
                    self.command(&format!("RMD {dir}"), &[250, 200], true)
                        .await?;
                    continue;
                }
                stack.push((dir.clone(), true));
                for entry in self.list(&dir).await? {
                    match entry.kind {
                        listing::EntryKind::Dir => stack.push((entry.path, false)),
                        _ => self.remove(&entry.path).await?,
                    }
                }
            }
            return Ok(());
        }
        self.command(&format!("RMD {path}"), &[250, 200], true)
            .await
            .map(drop)
    }

    /// DELE.
    pub(crate) async fn remove(&mut self, path: &str) -> Result<()> {
        check_path(path)?;
        self.command(&format!("DELE {path}"), &[250, 200], true)
            .await
            .map(drop)
    }

    /// RNFR + RNTO.
    pub(crate) async fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        check_path(from)?;
        check_path(to)?;
        self.command(&format!("RNFR {from}"), &[350], true).await?;
        self.command(&format!("RNTO {to}"), &[250, 200], false)
            .await
            .map(drop)
    }

    /// Sends a raw command and returns its reply, whatever the code.
    ///
    /// Commands that change the state the session restores (CWD, TYPE, REST, ...) are tracked:
    /// the working directory is re-read, and other state changes mark the connection for a
    /// reconnect (returned as `true`), so the next operation starts from a known state.
    pub(crate) async fn quote(&mut self, line: &str) -> Result<((u16, String), bool)> {
        if line.is_empty() || line.contains(['\r', '\n']) {
            return Err(Error::invalid_input(
                "a quoted command must be one non-empty line without CR or LF",
            ));
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply = self.raw(line).await?;
        let code = reply.0;
        let mut reset = (100..200).contains(&code);
        match verb.as_str() {
            "CWD" | "CDUP" | "XCWD" | "XCUP" if code < 400 => self.cwd = self.pwd().await?,
            "TYPE" | "MODE" | "STRU" | "REIN" | "USER" | "PASS" | "ACCT" | "AUTH" | "PBSZ"
            | "PROT" | "CCC" | "REST" | "PORT" | "EPRT" | "PASV" | "EPSV" | "QUIT" | "OPTS"
            | "LANG" => reset = true,
            _ => {}
        }
        Ok((reply, reset))
    }

    /// Lists `path` (MLSD when the server has MLST, else LIST), parsed.
    pub(crate) async fn list(&mut self, path: &str) -> Result<Vec<Entry>> {
        check_path(path)?;
        let (verb, format) = if self.features.mlst {
            ("MLSD", ListingFormat::Mlsd)
        } else {
            ("LIST", ListingFormat::List)
        };
        let data = self.read_listing(verb, path).await?;
        let dir = self.absolute(path);
        let entries = listing::parse_listing(&data, &dir, format, Utc::now());
        // Some servers (vsftpd) list a missing directory as empty: tell the two apart.
        if entries.is_empty() && !path.is_empty() && !self.is_dir(path).await? {
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

    /// Runs a listing command and returns the raw bytes of its data connection.
    async fn read_listing(&mut self, verb: &str, path: &str) -> Result<Vec<u8>> {
        let line = if path.is_empty() {
            verb.to_string()
        } else {
            format!("{verb} {path}")
        };
        let (_, mut stream) = self.open_data(&line, true).await?;
        let mut data = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = bounded_io(self.timeout, &line, stream.read(&mut buf)).await?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        self.finish_with(stream, &line, data.is_empty()).await?;
        Ok(data)
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
    async fn data_ended(&mut self, next: Option<&str>) -> Result<()> {
        if !self.pipelining {
            return Ok(());
        }
        let then = next
            .filter(|n| !self.tls && check_path(n).is_ok())
            .map(|n| format!("RETR {n}"));
        bounded(
            self.timeout,
            "EPSV",
            false,
            self.ftp.send_epsv_ahead(then.as_deref()),
        )
        .await?;
        Ok(())
    }

    /// Opens a data connection for a command that reads from the server (RETR, LIST, ...),
    /// returning the size announced in the preliminary reply, if any.
    ///
    /// In `auto` mode a refused EPSV switches this connection to PASV once, and the command is
    /// sent again.
    pub(crate) async fn open_data(
        &mut self,
        line: &str,
        lookup: bool,
    ) -> Result<(Option<u64>, Transfer)> {
        self.open_data_with(line, lookup, true).await
    }

    /// [`Connection::open_data`]; `fallback` allows the EPSV→PASV switch (not with a REST
    /// pending: a refused REST would look like a refused EPSV, and the retry would lose the
    /// offset).
    async fn open_data_with(
        &mut self,
        line: &str,
        lookup: bool,
        fallback: bool,
    ) -> Result<(Option<u64>, Transfer)> {
        loop {
            let r = bounded(
                self.timeout,
                line_context(line),
                lookup,
                self.ftp
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
        self.open_upload_with(path, append, true).await
    }

    async fn open_upload_with(
        &mut self,
        path: &str,
        append: bool,
        fallback: bool,
    ) -> Result<Transfer> {
        check_path(path)?;
        let ctx = format!("{} {path}", if append { "APPE" } else { "STOR" });
        loop {
            let r = if append {
                bounded(self.timeout, &ctx, false, self.ftp.append_with_stream(path)).await
            } else {
                bounded(self.timeout, &ctx, false, self.ftp.put_with_stream(path)).await
            };
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
        let sent = self.ftp.get_ref().await.last_command() == Some(verb);
        if sent { e } else { e.mark_unsent() }
    }

    /// In `auto` mode, turns a refused EPSV into a switch to PASV (returns whether to retry).
    /// Not vsftpd's "500 OOPS": its session died, and the connection with it.
    fn epsv_refused(&mut self, e: &Error) -> bool {
        if self.auto_epsv
            && !e.breaks_connection()
            && matches!(e.code(), Some(500 | 501 | 502 | 504 | 522))
        {
            log::debug!("EPSV refused ({e}); falling back to PASV");
            self.auto_epsv = false;
            self.ftp.set_mode(Mode::Passive);
            return true;
        }
        false
    }

    /// Counts (and logs) whether a data connection resumed the TLS session.
    fn count_handshake(&mut self, stream: &mut Transfer, context: &str) {
        let Some(kind) = tls::handshake(stream.get_mut()) else {
            return;
        };
        let resumed = kind == rustls::HandshakeKind::Resumed;
        if resumed {
            self.data_handshakes.0 += 1;
        } else {
            self.data_handshakes.1 += 1;
        }
        let (r, f) = self.data_handshakes;
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
        tls::end_upload(stream.get_mut(), self.timeout).await;
    }

    /// After an upload's data connection failed with `e` (the server closed it), the server's
    /// reply says why when it refused the transfer (522: the data connection's TLS session,
    /// 452/552: no room, ...): that refusal is returned, with the control connection still in
    /// step. Otherwise `e`.
    async fn refusal_or(&mut self, stream: Transfer, context: &str, e: Error) -> Error {
        if e.kind() == ErrorKind::Timeout {
            return e;
        }
        // Not the whole timeout: a server that is gone would keep the caller waiting for
        // nothing (and `e` breaks the connection anyway).
        let limit = self.timeout.min(Duration::from_secs(5));
        match tokio::time::timeout(limit, self.finish(stream, context)).await {
            Ok(Err(refusal)) if refusal.code().is_some() => refusal,
            _ => e,
        }
    }

    /// Closes the data connection and reads the transfer's final reply.
    pub(crate) async fn finish(&mut self, stream: Transfer, context: &str) -> Result<()> {
        self.finish_with(stream, context, true).await
    }

    /// [`Connection::finish`]; `repeatable` says that nothing the caller sees moved yet, so
    /// that a refused TLS data session ([`Error::mark_data_refused`]) may be tried again.
    async fn finish_with(
        &mut self,
        stream: Transfer,
        context: &str,
        repeatable: bool,
    ) -> Result<()> {
        let tls = self.tls;
        bounded(self.timeout, context, true, stream.finish())
            .await
            .map_err(|e| match e.code() {
                Some(522) if tls && repeatable => e.mark_data_refused(),
                _ => e,
            })
    }

    /// Whether the server offers SIZE (FEAT).
    pub(crate) fn has_size(&self) -> bool {
        self.features.size
    }

    /// What the server offers for checksums (FEAT).
    pub(crate) fn hash_features(&self) -> &HashFeatures {
        &self.features.hash
    }

    /// The server's digest of the file `path` of `len` bytes, by `method`: `HASH` (after
    /// `OPTS HASH` when the server has another algorithm selected) or an `X…` command.
    ///
    /// The server reads the whole file before it answers: the wait for the reply is the
    /// session's timeout plus one second per 16 MiB.
    pub(crate) async fn remote_digest(
        &mut self,
        path: &str,
        len: u64,
        method: &Method,
    ) -> Result<Vec<u8>> {
        check_path(path)?;
        let alg = method.algorithm();
        let line = match method {
            Method::Hash(_) => {
                if self.features.hash.selected != Some(alg) {
                    self.command(&format!("OPTS HASH {}", alg.name()), &[200], false)
                        .await?;
                    self.features.hash.selected = Some(alg);
                }
                format!("HASH {path}")
            }
            // X commands take optional offsets after the path: quote a path with spaces.
            Method::X(_, verb) if path.contains(char::is_whitespace) && !path.contains('"') => {
                format!("{verb} \"{path}\"")
            }
            Method::X(_, verb) => format!("{verb} {path}"),
        };
        let limit = self.timeout + Duration::from_secs(len >> 24);
        let (code, text) = self.raw_within(&line, limit).await?;
        if !(200..300).contains(&code) {
            return Err(Error::from_reply(code, &text, &line, true));
        }
        let parsed = match method {
            Method::Hash(_) => checksum::parse_hash_reply(&text, alg),
            Method::X(..) => checksum::parse_x_reply(&text, alg),
        };
        // An unreadable digest keeps its reply code: the connection is still in step.
        parsed.map_err(|why| {
            Error::from_reply(code, &text, &line, false)
                .with_kind(ErrorKind::Protocol)
                .with_note(&why)
        })
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
            let _ = self.ftp.resume_transfer(offset as usize).await;
        }
        let (announced, mut stream) = self.open_data_with(&line, true, offset == 0).await?;
        // After REST, servers differ on what the 150 reply announces: only trust it from 0.
        let total = announced.filter(|_| offset == 0);
        let mut buf = vec![0u8; buffer_for(self.buffer_size, total)];
        let mut done = 0u64;
        if let Some(p) = progress {
            p(offset, total);
        }
        loop {
            let n = bounded_io(self.timeout, &line, stream.read(&mut buf)).await?;
            if n == 0 {
                if total == Some(done) {
                    self.data_ended(next).await?;
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
        self.finish_with(stream, &line, done == 0).await?;
        if let Some(expected) = total.filter(|&t| t != done) {
            return Err(Error::new(
                ErrorKind::Io,
                format!("RETR {path}: received {done} bytes, the server announced {expected}"),
            ));
        }
        Ok((done, total.is_some()))
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
            let _ = self.ftp.resume_transfer(offset as usize).await;
        }
        let stream = self.open_upload_with(path, append, !rest).await?;
        // Once the server has said 150, a failure may leave part of the file behind.
        self.send_data(path, stream, source, total, progress, offset)
            .await
            .map_err(Error::mark_partial)
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
            if let Err(e) = bounded_io(self.timeout, &ctx, stream.write_all(&buf[..n])).await {
                return Err(self.refusal_or(stream, &ctx, e).await);
            }
            done += n as u64;
            if let Some(p) = progress {
                p(offset + done, total);
            }
        }
        if let Err(e) = bounded_io(self.timeout, &ctx, stream.flush()).await {
            return Err(self.refusal_or(stream, &ctx, e).await);
        }
        self.end_upload(&mut stream).await;
        self.finish(stream, &ctx).await?;
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

/// The command part of `line` for messages (never a password).
fn line_context(line: &str) -> &str {
    if line
        .get(..5)
        .is_some_and(|v| v.eq_ignore_ascii_case("PASS "))
    {
        "PASS"
    } else {
        line
    }
}

/// Refuses paths that would smuggle a second command onto the control connection.
fn check_path(path: &str) -> Result<()> {
    if path.contains(['\r', '\n', '\0']) {
        return Err(Error::invalid_input(format!(
            "path {path:?} contains CR, LF or NUL"
        )));
    }
    Ok(())
}

fn bad_reply(what: &str, text: &str) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("{what}: cannot read the reply {text:?}"),
    )
}

/// The quoted directory of a 257 reply (`""` inside quotes stands for one `"`).
fn parse_pwd(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let mut out = String::new();
    let mut chars = text[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// `YYYYMMDDHHMMSS[.fff]` as UTC.
pub(crate) fn parse_mdtm(s: &str) -> Option<DateTime<Utc>> {
    let digits = s.get(..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| digits[a..b].parse::<u32>().ok();
    let year = digits[..4].parse::<i32>().ok()?;
    let base = Utc
        .with_ymd_and_hms(year, n(4, 6)?, n(6, 8)?, n(8, 10)?, n(10, 12)?, n(12, 14)?)
        .single()?;
    let frac = s.get(15..).filter(|_| s.as_bytes().get(14) == Some(&b'.'));
    match frac.and_then(|f| format!("0.{f}").parse::<f64>().ok()) {
        Some(f) => Some(base + chrono::Duration::microseconds((f * 1e6) as i64)),
        None => Some(base),
    }
}

/// The size announced in a 150 reply such as `150 Opening BINARY mode data connection for f (4096 bytes).`
fn announced_size(text: &str) -> Option<u64> {
    let open = text.rfind('(')?;
    let rest = &text[open + 1..];
    let mut words = rest.split_whitespace();
    let n = words.next()?.parse().ok()?;
    words
        .next()
        .filter(|w| w.to_ascii_lowercase().starts_with("bytes"))
        .map(|_| n)
}

/// Every reply parser of this module on the same bytes (for the fuzz target).
pub(crate) fn fuzz_replies(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = reply_code(data);
    let _ = parse_pwd(&text);
    let _ = parse_mdtm(&text);
    let _ = announced_size(&text);
    let _ = Features::parse(&text);
    let _ = line_context(&text);
    checksum::fuzz(&text);
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
    fn pwd_replies() {
        assert_eq!(
            parse_pwd("257 \"/a b\" is the current directory").as_deref(),
            Some("/a b")
        );
        assert_eq!(
            parse_pwd("257 \"/say \"\"hi\"\"\"").as_deref(),
            Some("/say \"hi\"")
        );
        assert_eq!(parse_pwd("257 no quotes"), None);
    }

    #[test]
    fn mdtm_values() {
        let t = parse_mdtm("20261127212345").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-27T21:23:45+00:00");
        let t = parse_mdtm("20261127212345.250").unwrap();
        assert_eq!(t.timestamp_subsec_millis(), 250);
        assert!(parse_mdtm("2026112721234").is_none());
        assert!(parse_mdtm("20261327212345").is_none());
    }

    #[test]
    fn announced_sizes() {
        let t = "150 Opening BINARY mode data connection for big.bin (1073741824 bytes).";
        assert_eq!(announced_size(t), Some(1 << 30));
        assert_eq!(announced_size("150 File status okay."), None);
        assert_eq!(announced_size("125 Data connection already open (x)"), None);
    }

    #[test]
    fn command_context_never_shows_a_password() {
        assert_eq!(line_context("PASS secret"), "PASS");
        assert_eq!(line_context("pass secret"), "PASS");
        assert_eq!(line_context("SIZE /a"), "SIZE /a");
        // found by the `reply` fuzz target: slicing inside a multi-byte character
        assert_eq!(
            line_context("\u{b4}\u{b4}\u{b4}15201"),
            "\u{b4}\u{b4}\u{b4}15201"
        );
        fuzz_replies(b"\xb4\xb4\xb4\xb4\xb4\xb415201");
    }

    #[test]
    fn paths_with_line_breaks_are_refused() {
        assert!(check_path("a\r\nDELE b").is_err());
        assert!(check_path("/ok/path with spaces").is_ok());
    }
}
