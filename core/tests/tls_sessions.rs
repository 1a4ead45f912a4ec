//! TLS data-session reuse on a slow link: every data connection resumes a TLS session the
//! server accepts, at any round-trip time, and a data connection refused with 522 is tried
//! once more on a new one.
//!
//! vsftpd refuses a data connection that does not resume the control connection's TLS
//! session (`require_ssl_reuse=YES`, its default and our test config). With TLS 1.3 each
//! resumption uses up a session ticket and the server sends the replacement on the data
//! connection; these tests reach vsftpd through a latency proxy (toxiproxy, 127.0.0.2 ->
//! 127.0.0.1, `serve.py --rtt-ms`), where tickets arrive late and a half-closed connection
//! carries nothing back, and count from the client's debug log how each data connection's
//! handshake went.
//!
//! A test binary of its own: it installs the process-wide `log` logger, so its tests run one
//! at a time.

mod common;

use std::path::PathBuf;
use std::sync::Mutex;

use common::{Kind, Server, data, run};
use ferroftp::{BatchOptions, ErrorKind, Pool, PoolOptions, Session};

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    /// Data connections that resumed the TLS session.
    resumed: usize,
    /// Data connections that needed a full handshake.
    full: usize,
    /// Transfers tried again after the server refused their data connection's session.
    retried: usize,
}

static COUNTS: Mutex<Counts> = Mutex::new(Counts {
    resumed: 0,
    full: 0,
    retried: 0,
});

struct Counter;

impl log::Log for Counter {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Debug
    }

    fn log(&self, record: &log::Record<'_>) {
        let text = record.args().to_string();
        let mut c = COUNTS.lock().unwrap();
        if text.starts_with("data connection of") {
            if text.contains(": TLS session resumed") {
                c.resumed += 1;
            } else if text.contains(": full TLS handshake") {
                c.full += 1;
            }
        } else if text.starts_with("the server refused a data connection's TLS session") {
            c.retried += 1;
        }
    }

    fn flush(&self) {}
}

/// Installs the counting logger (once) and runs the calling test alone.
fn counting() -> std::sync::MutexGuard<'static, ()> {
    static ALONE: Mutex<()> = Mutex::new(());
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&Counter).expect("the only logger");
        log::set_max_level(log::LevelFilter::Debug);
    });
    let guard = ALONE.lock().unwrap_or_else(|p| p.into_inner());
    take_counts();
    guard
}

fn take_counts() -> Counts {
    std::mem::take(&mut *COUNTS.lock().unwrap())
}

const FILES: usize = 300;
const SIZE: usize = 4096;

/// 300 uploads and 300 downloads of 4 KiB through `server` with `sessions` sessions: none
/// fails, every byte is right, and no data connection needed a full handshake.
fn batches(server: &Server, sessions: usize, pipelining: bool) {
    let what = format!(
        "{} ms RTT, {sessions} session(s), pipelining {}",
        server.rtt_ms.unwrap_or(0),
        if pipelining { "on" } else { "off" }
    );
    let name = format!("s{sessions}_{}", u8::from(pipelining));
    let (dir, remote_local) = server.dir(&name);
    let scratch = server.scratch(&name);
    let seed = |i: usize| (i * 7919 + sessions) as u64 + u64::from(pipelining);
    let mut uploads = Vec::new();
    for i in 0..FILES {
        let p = scratch.join(format!("up{i}"));
        std::fs::write(&p, data(SIZE, seed(i))).unwrap();
        uploads.push((p, format!("{dir}/f{i}")));
    }
    let mut config = server.config();
    config.pipelining = pipelining;
    let mut options = PoolOptions::default();
    options.max_sessions = sessions;
    let pool = Pool::with_options(config, options).unwrap();

    let up = run(pool.upload_many(uploads, BatchOptions::default()));
    let failed: Vec<_> = up.failed.iter().map(|(p, e)| format!("{p}: {e}")).collect();
    assert!(
        failed.is_empty(),
        "{what}: {} uploads failed: {failed:?}",
        failed.len()
    );
    assert_eq!(up.ok.len(), FILES, "{what}");
    for i in 0..FILES {
        let got = std::fs::read(remote_local.join(format!("f{i}"))).unwrap();
        assert!(got == data(SIZE, seed(i)), "{what}: upload f{i} differs");
    }

    let downloads: Vec<(String, PathBuf)> = (0..FILES)
        .map(|i| (format!("{dir}/f{i}"), scratch.join(format!("down{i}"))))
        .collect();
    let down = run(pool.download_many(downloads, BatchOptions::default()));
    let failed: Vec<_> = down
        .failed
        .iter()
        .map(|(p, e)| format!("{p}: {e}"))
        .collect();
    assert!(
        failed.is_empty(),
        "{what}: {} downloads failed: {failed:?}",
        failed.len()
    );
    for i in 0..FILES {
        let got = std::fs::read(scratch.join(format!("down{i}"))).unwrap();
        assert!(got == data(SIZE, seed(i)), "{what}: download f{i} differs");
    }
    run(pool.close());

    let counts = take_counts();
    eprintln!("{what}: {counts:?}");
    assert_eq!(
        counts.full, 0,
        "{what}: full handshakes on data connections"
    );
    assert_eq!(counts.retried, 0, "{what}: refused data connections");
    assert!(
        counts.resumed >= 2 * FILES,
        "{what}: only {} data connections resumed",
        counts.resumed
    );
}

fn wan(rtt_ms: &str) {
    let _alone = counting();
    let server = Server::start(Kind::Vsftpd, &["--tls", "explicit", "--rtt-ms", rtt_ms]);
    assert_eq!(server.host, "127.0.0.2", "the latency proxy's address");
    for sessions in [1, 8] {
        for pipelining in [true, false] {
            batches(&server, sessions, pipelining);
        }
    }
}

#[test]
fn every_data_connection_resumes_at_2_ms_rtt() {
    wan("2");
}

#[test]
fn every_data_connection_resumes_at_20_ms_rtt() {
    wan("20");
}

/// A server that refuses a data connection's TLS session (522) gets the transfer once more
/// on a new data connection; an upload from the caller's stream, which cannot be read again,
/// is not repeated.
#[test]
fn a_refused_data_session_is_tried_once_more() {
    let _alone = counting();
    // Every second TLS data connection is refused.
    let server = Server::start(
        Kind::Pyftpdlib,
        &["--tls", "explicit", "--refuse-data-tls", "2"],
    );
    let (dir, local) = server.dir("refused");
    run(async {
        let s = Session::connect_with(server.config()).await.unwrap();
        for i in 0..6u64 {
            let payload = data(50_000, i);
            let f = format!("{dir}/w{i}");
            s.write_bytes(&f, &payload).await.unwrap();
            assert_eq!(s.read_bytes(&f).await.unwrap(), payload);
            assert!(!s.list(&dir).await.unwrap().is_empty());
        }
        // The 1st data connection is accepted; from then on each operation's first one is an
        // even one, refused, and its second try accepted.
        let c = take_counts();
        assert_eq!((c.retried, c.resumed + c.full), (17, 35), "{c:?}");

        // Every one refused: each operation is tried twice, then fails with the 522.
        s.close().await.unwrap();
    });
    let server = Server::start(
        Kind::Pyftpdlib,
        &["--tls", "explicit", "--refuse-data-tls", "1"],
    );
    let (dir, _) = server.dir("refused");
    server.put("refused/there", b"x");
    run(async {
        let s = Session::connect_with(server.config()).await.unwrap();
        let e = s
            .write_bytes(&format!("{dir}/a"), b"abc")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(522), "{e}");
        let e = s.read_bytes(&format!("{dir}/there")).await.unwrap_err();
        assert_eq!(e.code(), Some(522), "{e}");
        assert_eq!(take_counts().retried, 2);
        let mut source: &[u8] = b"from a stream";
        let e = s
            .upload_from(&mut source, &format!("{dir}/b"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(522), "{e}");
        assert_ne!(e.kind(), ErrorKind::Timeout);
        assert_eq!(take_counts().retried, 0, "a stream upload is not repeated");
        s.close().await.unwrap();
    });
    let _ = local;
}
