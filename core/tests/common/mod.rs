//! Test harness: real FTP servers on loopback, started through `tests/servers/serve.py`.
//!
//! Each test binary starts one server of each kind on first use and shares it; every test works
//! in a directory of its own. A server that cannot start fails the test loudly (no skipping).
#![allow(dead_code)]

pub mod proxy;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// Which server to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Pyftpdlib,
    Vsftpd,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pyftpdlib => "pyftpdlib",
            Kind::Vsftpd => "vsftpd",
        }
    }
}

/// A local scratch directory, `$TMPDIR/ferroftp-test-<pid>-<name>`, removed with everything in
/// it when dropped (also when the test panics), so test runs leave nothing behind.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Creates the directory afresh (a leftover of the same name is removed first).
    pub fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("ferroftp-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        Scratch(d)
    }

    /// The directory's path, for a closure that must own it.
    pub fn path_buf(&self) -> PathBuf {
        self.0.clone()
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server; stopped when dropped (its launcher also exits when this process dies).
pub struct Server {
    pub kind: Kind,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub root: PathBuf,
    pub uid: u32,
    pub gid: u32,
    /// The FTP server's own pid (for pyftpdlib, the launcher's).
    pub pid: u32,
    /// `"none"`, `"explicit"` or `"implicit"`.
    pub tls: String,
    /// The certificate to trust (the CA, or a self-signed server certificate), for TLS
    /// servers.
    pub cafile: Option<PathBuf>,
    /// A client certificate and key the server accepts (`--client-ca`).
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// The round-trip time a latency proxy adds (`--rtt-ms`); `host` is then the proxy's.
    pub rtt_ms: Option<u64>,
    child: Mutex<Option<(Child, ChildStdin)>>,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The Python that has pyftpdlib: `$FERROFTP_PYTHON`, else the workspace's `.venv`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("FERROFTP_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = workspace().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no {} — run `make setup` first (or set FERROFTP_PYTHON)",
        venv.display()
    );
    venv
}

impl Server {
    /// Starts a server of `kind` with extra launcher arguments (e.g. `["--max-cons", "3"]`).
    pub fn start(kind: Kind, args: &[&str]) -> Server {
        let script = workspace().join("tests/servers/serve.py");
        let mut child = Command::new(python())
            .arg(&script)
            .arg(kind.name())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the launcher's line");
        assert!(
            !line.trim().is_empty(),
            "the {} server did not start (see its message above); is it installed? run `make setup`",
            kind.name()
        );
        let v: Value = serde_json::from_str(&line).expect("launcher JSON");
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let n = |k: &str| v[k].as_u64().unwrap_or_default();
        Server {
            kind,
            host: s("host"),
            port: n("port") as u16,
            user: s("user"),
            password: s("password"),
            root: PathBuf::from(s("root")),
            uid: n("uid") as u32,
            gid: n("gid") as u32,
            pid: n("pid") as u32,
            tls: v["tls"].as_str().unwrap_or("none").to_string(),
            cafile: v["cafile"].as_str().map(PathBuf::from),
            client_cert: v["client_cert"].as_str().map(PathBuf::from),
            client_key: v["client_key"].as_str().map(PathBuf::from),
            rtt_ms: v["rtt_ms"].as_u64(),
            child: Mutex::new(Some((child, stdin))),
        }
    }

    /// The server shared by all tests of this binary.
    pub fn shared(kind: Kind) -> &'static Server {
        static PY: OnceLock<Server> = OnceLock::new();
        static VS: OnceLock<Server> = OnceLock::new();
        let cell = match kind {
            Kind::Pyftpdlib => &PY,
            Kind::Vsftpd => &VS,
        };
        cell.get_or_init(|| Server::start(kind, &[]))
    }

    /// The explicit-TLS server shared by all tests of this binary.
    pub fn shared_tls(kind: Kind) -> &'static Server {
        static PY: OnceLock<Server> = OnceLock::new();
        static VS: OnceLock<Server> = OnceLock::new();
        let cell = match kind {
            Kind::Pyftpdlib => &PY,
            Kind::Vsftpd => &VS,
        };
        cell.get_or_init(|| Server::start(kind, &["--tls", "explicit"]))
    }

    /// `ftp://user:pass@host:port` (plus `/dir` when given).
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = match self.tls.as_str() {
            "explicit" => "ftpes",
            "implicit" => "ftps",
            _ => "ftp",
        };
        format!(
            "{scheme}://{}:{}@{}:{}",
            self.user, self.password, host, self.port
        )
    }

    /// A config for this server with test-friendly timeouts.
    pub fn config(&self) -> ferroftp::Config {
        let mut c = ferroftp::Config::from_url(&self.url()).expect("url");
        c.timeout = std::time::Duration::from_secs(20);
        c.connect_timeout = std::time::Duration::from_secs(10);
        c.ca_file = self.cafile.clone();
        c
    }

    /// A fresh local scratch directory for a test against this server (unique per server, so
    /// the same test body run against several servers in parallel never shares one); removed
    /// when the returned guard is dropped.
    pub fn scratch(&self, name: &str) -> Scratch {
        Scratch::new(&format!("{}-{}-{name}", self.kind.name(), self.port))
    }

    /// Creates an empty directory `/<name>` owned by the FTP user; returns (remote, local).
    pub fn dir(&self, name: &str) -> (String, PathBuf) {
        let local = self.root.join(name);
        let _ = std::fs::remove_dir_all(&local);
        std::fs::create_dir_all(&local).expect("create test dir");
        self.own(&local);
        (format!("/{name}"), local)
    }

    /// Writes a file under the root (relative path), owned by the FTP user.
    pub fn put(&self, rel: &str, data: &[u8]) -> PathBuf {
        let p = self.root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, data).expect("write fixture");
        self.own(&p);
        p
    }

    fn own(&self, p: &Path) {
        std::os::unix::fs::chown(p, Some(self.uid), Some(self.gid)).expect("chown fixture");
    }

    /// Stops the server abruptly: SIGKILL to the server, every process it started, and its
    /// launcher.
    pub fn kill(&self) {
        // vsftpd's session processes start sessions of their own (setsid): find them by parent.
        let mut victims = vec![self.pid];
        let mut i = 0;
        while i < victims.len() {
            victims.extend(children(victims[i]));
            i += 1;
        }
        let pids: Vec<String> = victims.iter().map(u32::to_string).collect();
        let _ = Command::new("kill").arg("-9").args(&pids).status();
        if let Some((mut child, _)) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    /// vsftpd only: kills one client session (its processes), as a dropped connection would.
    /// Returns whether there was one to kill.
    pub fn kill_one_session(&self) -> bool {
        assert_eq!(
            self.kind,
            Kind::Vsftpd,
            "only vsftpd runs a process per session"
        );
        let Some(&session) = children(self.pid).first() else {
            return false;
        };
        let mut victims = vec![session];
        victims.extend(children(session));
        let pids: Vec<String> = victims.iter().map(u32::to_string).collect();
        Command::new("kill")
            .arg("-9")
            .args(&pids)
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// The pids whose parent is `pid` (from /proc).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid)
            && let Ok(child) = entry.file_name().to_string_lossy().parse()
        {
            out.push(child);
        }
    }
    out
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some((mut child, mut stdin)) = self.child.lock().unwrap().take() {
            let _ = stdin.flush();
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift) so failures can be reproduced.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// SHA-256 of `bytes` as hex.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Generates one `#[test]` per server kind running `$body(&'static Server)`.
#[macro_export]
macro_rules! on_servers {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[test]
            fn pyftpdlib() {
                $body(common::Server::shared(common::Kind::Pyftpdlib));
            }
            #[test]
            fn vsftpd() {
                $body(common::Server::shared(common::Kind::Vsftpd));
            }
        }
    };
    ($name:ident, $body:path, tls) => {
        mod $name {
            use super::*;
            #[test]
            fn pyftpdlib_tls() {
                $body(common::Server::shared_tls(common::Kind::Pyftpdlib));
            }
            #[test]
            fn vsftpd_tls() {
                $body(common::Server::shared_tls(common::Kind::Vsftpd));
            }
        }
    };
}

/// Runs `fut` on the shared ferroftp runtime (the one the blocking API uses too).
pub fn run<T>(fut: impl std::future::Future<Output = T>) -> T {
    ferroftp::runtime::handle().expect("runtime").block_on(fut)
}
