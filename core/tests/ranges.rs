//! What a filesystem layer needs: ranged reads that stop the transfer part-way without the
//! session going out of step, `stat` of one path, setting a file's time and permissions.
//! Against pyftpdlib and vsftpd, plain and explicit TLS, and through a latency proxy.
//!
//! A test binary of its own: it installs the process-wide `log` logger to count logins (a
//! ranged read that left the connection out of step would make the next operation log in
//! again).

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{TimeZone, Utc};
use common::{Kind, Server, data, run};
use ferroftp::{EntryKind, ErrorKind, Session};

static LOGINS: AtomicUsize = AtomicUsize::new(0);

struct Counter;

impl log::Log for Counter {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Debug
    }

    fn log(&self, record: &log::Record<'_>) {
        if record.args().to_string().starts_with("logged in to") {
            LOGINS.fetch_add(1, Ordering::SeqCst);
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
    LOGINS.store(0, Ordering::SeqCst);
    guard
}

const BIG: usize = 4 << 20;

/// Ranged reads of a 4 MiB file: from the start, in the middle, across and past the end,
/// empty; each one compared with the file, then a listing and a whole read on the same
/// connection, and one login for all of it.
fn ranges(server: &Server) {
    let _alone = counting();
    let what = format!(
        "{:?} tls={} rtt={:?}",
        server.kind, server.tls, server.rtt_ms
    );
    let (dir, _) = server.dir("ranges");
    let body = data(BIG, 77);
    server.put("ranges/big.bin", &body);
    server.put("ranges/small.txt", b"0123456789");
    let big = format!("{dir}/big.bin");
    run(async {
        let s = Session::connect_with(server.config()).await.unwrap();
        let mut cases: Vec<(u64, u64)> = vec![
            (0, 1),
            (0, 65_536),
            (1 << 20, 65_536),
            (BIG as u64 - 10, 100), // across the end: 10 bytes
            (BIG as u64, 5),        // at the end: nothing
            (BIG as u64 + 7, 5),    // past the end: nothing
            (123, 0),               // empty
            (0, BIG as u64),        // the whole file
        ];
        // and 24 random ones
        let mut x = 0x9E37_79B9_u64;
        for _ in 0..24 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push((x % BIG as u64, (x >> 32) % 300_000));
        }
        for (offset, length) in cases {
            let got = s
                .read_range(&big, offset, length)
                .await
                .unwrap_or_else(|e| panic!("{what}: {offset}+{length}: {e}"));
            let start = (offset as usize).min(BIG);
            let end = (offset.saturating_add(length) as usize).min(BIG);
            assert!(got == body[start..end], "{what}: {offset}+{length}");
        }
        let small = format!("{dir}/small.txt");
        assert_eq!(s.read_range(&small, 3, 4).await.unwrap(), b"3456");
        assert_eq!(s.list(&dir).await.unwrap().len(), 2, "{what}");
        assert_eq!(s.read_bytes(&small).await.unwrap(), b"0123456789");
        let e = s
            .read_range(&format!("{dir}/missing"), 0, 10)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{what}: {e}");
        s.close().await.unwrap();
    });
    assert_eq!(
        LOGINS.load(Ordering::SeqCst),
        1,
        "{what}: a ranged read cost a reconnect"
    );
}

#[test]
fn ranged_reads_plain() {
    for kind in [Kind::Pyftpdlib, Kind::Vsftpd] {
        ranges(Server::shared(kind));
    }
}

#[test]
fn ranged_reads_tls() {
    for kind in [Kind::Pyftpdlib, Kind::Vsftpd] {
        ranges(Server::shared_tls(kind));
    }
}

#[test]
fn ranged_reads_through_a_latency_proxy() {
    for tls in ["none", "explicit"] {
        let server = Server::start(Kind::Vsftpd, &["--tls", tls, "--rtt-ms", "10"]);
        ranges(&server);
    }
}

/// `stat`, `set_modified` and `chmod`.
fn metadata(server: &Server) {
    let _alone = counting(); // its logins would count for a ranges test running meanwhile
    let what = format!("{:?} tls={}", server.kind, server.tls);
    let (dir, local) = server.dir("stat");
    server.put("stat/f.txt", b"hello");
    std::fs::create_dir_all(local.join("sub")).unwrap();
    std::os::unix::fs::chown(local.join("sub"), Some(server.uid), Some(server.gid)).unwrap();
    run(async {
        let s = Session::connect_with(server.config()).await.unwrap();
        let f = s.stat(&format!("{dir}/f.txt")).await.unwrap();
        assert_eq!(
            (f.name.as_str(), f.path.as_str(), f.kind, f.size),
            ("f.txt", "/stat/f.txt", EntryKind::File, Some(5)),
            "{what}"
        );
        assert!(f.modified.is_some(), "{what}");
        let d = s.stat(&format!("{dir}/sub")).await.unwrap();
        assert_eq!(
            (d.name.as_str(), d.path.as_str(), d.kind),
            ("sub", "/stat/sub", EntryKind::Dir),
            "{what}"
        );
        s.cwd(&dir).await.unwrap();
        let rel = s.stat("f.txt").await.unwrap();
        assert_eq!(rel.path, "/stat/f.txt", "{what}");
        let e = s.stat("nope").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{what}: {e}");

        let when = Utc.with_ymd_and_hms(2021, 3, 4, 5, 6, 7).unwrap();
        s.set_modified("f.txt", when).await.unwrap();
        assert_eq!(s.modified("f.txt").await.unwrap(), when, "{what}");
        let mtime = std::fs::metadata(local.join("f.txt"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(chrono::DateTime::<Utc>::from(mtime), when, "{what}");

        s.chmod("f.txt", 0o600).await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(local.join("f.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{what}");
        let e = s.chmod("nope", 0o644).await.unwrap_err();
        assert!(e.code().is_some(), "{what}: {e}");
        s.close().await.unwrap();
    });
}

#[test]
fn stat_time_and_permissions() {
    for kind in [Kind::Pyftpdlib, Kind::Vsftpd] {
        metadata(Server::shared(kind));
    }
}
