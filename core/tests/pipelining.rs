//! Pipelining (`Config::pipelining`): once all of a download's announced bytes are in, the next
//! data command's `EPSV` goes out before the download's final reply is read. Against vsftpd
//! (which announces sizes, so pipelining happens), plain and explicit TLS: every byte right,
//! one login for the whole run (the answer waiting on the connection is never taken for a
//! stale reply), a port answered ahead serves the next download, and any other command in
//! between discards it without harm. With pipelining off, no EPSV is ever sent ahead.
//!
//! A test binary of its own: it installs the process-wide `log` logger to count what the
//! client did.

mod common;

use std::sync::Mutex;

use common::{Kind, Server, data, run};
use ferroftp::{
    BatchOptions, Config, DownloadOptions, Pool, PoolOptions, UploadOptions, blocking::Session,
};

/// Counts of the log lines that show what the client did.
#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    logins: usize,
    answered_ahead: usize,
    sent_ahead: usize,
    /// RETRs sent ahead that the next download took.
    retr_taken: usize,
    /// RETRs sent ahead that were given up.
    retr_given_up: usize,
    /// STORs whose data went before the server's 150.
    stor_unconfirmed: usize,
    /// SIZE commands with the next EPSV in the same write.
    size_then_epsv: usize,
}

static COUNTS: Mutex<Counts> = Mutex::new(Counts {
    logins: 0,
    answered_ahead: 0,
    sent_ahead: 0,
    retr_taken: 0,
    retr_given_up: 0,
    stor_unconfirmed: 0,
    size_then_epsv: 0,
});

struct Counter;

impl log::Log for Counter {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Debug
    }

    fn log(&self, record: &log::Record<'_>) {
        let text = record.args().to_string();
        let mut c = COUNTS.lock().unwrap();
        if text.starts_with("logged in to") {
            c.logins += 1;
        } else if text.starts_with("EPSV answered ahead") {
            c.answered_ahead += 1;
        } else if text.starts_with("EPSV command, ahead") {
            c.sent_ahead += 1;
        } else if text.starts_with("RETR ") && text.ends_with("was sent ahead") {
            c.retr_taken += 1;
        } else if text.starts_with("giving up RETR") {
            c.retr_given_up += 1;
        } else if text.starts_with("Put file") && text.ends_with("before the server's answer") {
            c.stor_unconfirmed += 1;
        } else if text.starts_with("Sending custom command: SIZE")
            && text.ends_with("EPSV ahead of the next data command")
        {
            c.size_then_epsv += 1;
        }
    }

    fn flush(&self) {}
}

/// Installs the counting logger (once) and runs the calling test alone: the counts are
/// process-wide.
fn counting() -> std::sync::MutexGuard<'static, ()> {
    static ALONE: Mutex<()> = Mutex::new(());
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&Counter).expect("the only logger");
        log::set_max_level(log::LevelFilter::Debug);
    });
    ALONE.lock().unwrap_or_else(|p| p.into_inner())
}

fn take_counts() -> Counts {
    std::mem::take(&mut *COUNTS.lock().unwrap())
}

const FILES: usize = 24;

fn body(i: usize) -> Vec<u8> {
    // Sizes from empty to a few buffers' worth.
    data([0, 1, 4096, 70_000, 300_000][i % 5] + i, i as u64)
}

/// Downloads every file one after another (to a file, or into memory), with a SIZE and a
/// MKD between some of them; checks every byte. Returns the counts of the run.
fn downloads_in_a_row(server: &Server, config: Config, tag: &str) -> Counts {
    let (dir, _) = server.dir(&format!("pipe-{tag}"));
    for i in 0..FILES {
        server.put(&format!("pipe-{tag}/f{i:02}.bin"), &body(i));
    }
    let scratch = server.scratch(&format!("pipe-{tag}"));
    take_counts();
    let s = Session::connect_with(config).expect("connect");
    for i in 0..FILES {
        let remote = format!("{dir}/f{i:02}.bin");
        let got = if i % 2 == 0 {
            let local = scratch.join(format!("f{i:02}.bin"));
            let n = s
                .download(&remote, &local, DownloadOptions::default())
                .expect("download");
            assert_eq!(n as usize, body(i).len());
            std::fs::read(&local).unwrap()
        } else {
            s.read_bytes(&remote).expect("read_bytes")
        };
        assert!(got == body(i), "{remote}: wrong bytes");
        if i % 7 == 3 {
            // Commands without data in between: the port answered ahead is given up.
            assert_eq!(s.size(&remote).unwrap() as usize, body(i).len());
            s.mkdir(&format!("{dir}/d{i}"), false).unwrap();
        }
    }
    assert!(!s.list(&dir).unwrap().is_empty());
    s.noop().unwrap();
    s.close().unwrap();
    take_counts()
}

#[test]
fn epsv_goes_ahead_and_the_session_stays_in_step() {
    let _alone = counting();
    let interleaved = (0..FILES).filter(|i| i % 7 == 3).count();
    for (server, tag) in [
        (Server::shared(Kind::Vsftpd), "plain"),
        (Server::shared_tls(Kind::Vsftpd), "tls"),
    ] {
        let c = downloads_in_a_row(server, server.config(), tag);
        assert_eq!(c.logins, 1, "{tag}: one login for the whole run: {c:?}");
        // Every download sends one ahead; the next download (or the LIST at the end) takes
        // its answer, except where a SIZE comes first and discards it.
        assert_eq!(c.sent_ahead, FILES, "{tag}: {c:?}");
        assert_eq!(c.answered_ahead, FILES - interleaved, "{tag}: {c:?}");

        let mut off = server.config();
        off.pipelining = false;
        let c = downloads_in_a_row(server, off, &format!("{tag}-off"));
        assert_eq!(c.logins, 1, "{tag}, pipelining off: {c:?}");
        assert_eq!((c.sent_ahead, c.answered_ahead), (0, 0), "{tag} off: {c:?}");
    }

    // A pool's sessions pipeline too: 200 files on 4 sessions, 4 logins in all.
    let server = Server::shared(Kind::Vsftpd);
    let (dir, _) = server.dir("pipe-pool");
    for i in 0..200 {
        server.put(&format!("pipe-pool/p{i:03}.bin"), &body(i));
    }
    let scratch = server.scratch("pipe-pool");
    take_counts();
    let items: Vec<_> = (0..200)
        .map(|i| {
            (
                format!("{dir}/p{i:03}.bin"),
                scratch.join(format!("p{i:03}.bin")),
            )
        })
        .collect();
    let mut options = PoolOptions::default();
    options.max_sessions = 4;
    let pool = Pool::with_options(server.config(), options).unwrap();
    let result = run(async {
        let r = pool.download_many(items, BatchOptions::default()).await;
        pool.close().await;
        r
    });
    assert!(result.failed.is_empty(), "{:?}", result.failed);
    for i in 0..200 {
        let got = std::fs::read(scratch.join(format!("p{i:03}.bin"))).unwrap();
        assert!(got == body(i), "p{i:03}.bin: wrong bytes");
    }
    let c = take_counts();
    assert_eq!(c.logins, 4, "{c:?}");
    assert!(c.answered_ahead >= 200 - 4, "{c:?}");
    assert!(c.retr_taken >= 150, "most RETRs went ahead: {c:?}");
}

/// A one-session batch whose RETRs go ahead, with files that fail in its midst: missing on
/// the server (the RETR sent ahead is refused), a local target that cannot be created (the
/// RETR sent ahead for it is given up), and stop-on-error leaving one sent ahead on the
/// pooled session for its next user. Every other file arrives whole, the failures are the
/// right ones, and the session is never reopened.
#[test]
fn failures_amid_retrs_sent_ahead() {
    let _alone = counting();
    let server = Server::shared(Kind::Vsftpd);
    let (dir, _) = server.dir("pipe-fail");
    const N: usize = 120;
    let missing = [10, 11, 57];
    let unwritable = [30, 31, 90];
    for i in (0..N).filter(|i| !missing.contains(i)) {
        server.put(&format!("pipe-fail/q{i:03}.bin"), &body(i));
    }
    let scratch = server.scratch("pipe-fail");
    let items: Vec<_> = (0..N)
        .map(|i| {
            let local = if unwritable.contains(&i) {
                scratch.join("no-such-dir").join(format!("q{i:03}.bin"))
            } else {
                scratch.join(format!("q{i:03}.bin"))
            };
            (format!("{dir}/q{i:03}.bin"), local)
        })
        .collect();
    let mut options = PoolOptions::default();
    options.max_sessions = 1;
    let pool = Pool::with_options(server.config(), options).unwrap();
    take_counts();
    let (result, stopped, after) = run(async {
        let r = pool
            .download_many(items.clone(), BatchOptions::default())
            .await;
        // From q020 on, stopping at the first failure: q030, whose target cannot be created.
        // q029 sent its RETR ahead, and it is left on the session for the next user.
        let stopped = pool
            .download_many(
                items[20..].to_vec(),
                BatchOptions::default().stop_on_error(true),
            )
            .await;
        let s = pool.session().await.unwrap();
        let after = s.read_bytes(&format!("{dir}/q005.bin")).await.unwrap();
        drop(s);
        pool.close().await;
        (r, stopped, after)
    });
    let mut failed: Vec<_> = result.failed.iter().map(|(p, _)| p.clone()).collect();
    failed.sort();
    let want: Vec<_> = (0..N)
        .filter(|i| missing.contains(i) || unwritable.contains(i))
        .map(|i| format!("{dir}/q{i:03}.bin"))
        .collect();
    assert_eq!(failed, want, "{:?}", result.failed);
    for (path, e) in &result.failed {
        let i: usize = path[path.len() - 7..path.len() - 4].parse().unwrap();
        if missing.contains(&i) {
            assert_eq!(e.code(), Some(550), "{path}: {e}");
        } else {
            assert!(e.message().contains("cannot create"), "{path}: {e}");
        }
    }
    for i in (0..N).filter(|i| !missing.contains(i) && !unwritable.contains(i)) {
        let got = std::fs::read(scratch.join(format!("q{i:03}.bin"))).unwrap();
        assert!(got == body(i), "q{i:03}.bin: wrong bytes");
    }
    assert_eq!(stopped.failed.len(), 1, "{:?}", stopped.failed);
    assert_eq!(stopped.ok.len(), 10);
    assert!(after == body(5));
    let c = take_counts();
    assert_eq!(c.logins, 1, "never reopened: {c:?}");
    assert!(c.retr_taken >= N, "{c:?}");
    // Given up: q030's (at q032, as q031 fails locally too), q090's (at q091) and the one
    // the stopped batch left (by read_bytes).
    assert_eq!(c.retr_given_up, 3, "{c:?}");
}

/// Uploads `count` files (sizes from empty to past the unconfirmed limit) through a
/// one-session pool, then one STOR the server refuses and two more uploads on the same
/// session; checks every byte on the server. Returns the counts and the refused upload's
/// error.
fn uploads_in_a_row(server: &Server, config: Config, tag: &str, count: usize) -> (Counts, String) {
    let (dir, local_dir) = server.dir(&format!("up-{tag}"));
    let scratch = server.scratch(&format!("up-{tag}"));
    let items: Vec<_> = (0..count)
        .map(|i| {
            let local = scratch.join(format!("u{i:03}.bin"));
            std::fs::write(&local, body(i)).unwrap();
            (local, format!("{dir}/u{i:03}.bin"))
        })
        .collect();
    let mut options = PoolOptions::default();
    options.max_sessions = 1;
    let pool = Pool::with_options(config, options).unwrap();
    take_counts();
    let (result, refused) = run(async {
        let r = pool
            .upload_many(items.clone(), BatchOptions::default())
            .await;
        let s = pool.session().await.unwrap();
        let refused = s
            .upload(
                &items[1].0,
                &format!("{dir}/no-such-dir/x.bin"),
                UploadOptions::default(),
            )
            .await
            .expect_err("a STOR into a missing directory");
        for (local, remote) in &items[..2] {
            s.upload(local, &format!("{remote}.again"), UploadOptions::default())
                .await
                .expect("the session is in step after a refusal");
        }
        drop(s);
        pool.close().await;
        (r, refused)
    });
    assert!(result.failed.is_empty(), "{tag}: {:?}", result.failed);
    for i in 0..count {
        let got = std::fs::read(local_dir.join(format!("u{i:03}.bin"))).unwrap();
        assert!(
            got == body(i),
            "{tag}: u{i:03}.bin: wrong bytes on the server"
        );
    }
    for i in 0..2 {
        let got = std::fs::read(local_dir.join(format!("u{i:03}.bin.again"))).unwrap();
        assert!(
            got == body(i),
            "{tag}: u{i:03}.bin.again: wrong bytes on the server"
        );
    }
    assert!(!local_dir.join("no-such-dir").exists());
    assert!(
        !refused.may_have_taken_effect(),
        "{tag}: a refused STOR did nothing: {refused}"
    );
    (
        take_counts(),
        format!(
            "{refused} (code {:?}, kind {:?})",
            refused.code(),
            refused.kind()
        ),
    )
}

/// Uploads pipeline as far as is safe: a small STOR's data goes with the command (plain data
/// connections), and the size check after each upload carries the next EPSV. vsftpd and
/// pyftpdlib (which reads commands during transfers), plain, TLS and through a latency
/// proxy; a refused STOR in between is reported with the server's code and leaves the session
/// in step (one login); with pipelining off nothing is sent ahead.
#[test]
fn uploads_pipeline_and_stay_in_step() {
    let _alone = counting();
    const N: usize = 30;
    // Files of at most 64 KiB: sizes 0, 1 and 4096 (+i) of body(i), and the refused and the
    // two repeated uploads (files 0 and 1); 70_000 and 300_000 are sent after the 150.
    let small = (0..N).filter(|i| body(*i).len() <= 64 * 1024).count() + 3;
    let proxied = Server::start(Kind::Vsftpd, &["--rtt-ms", "4"]);
    for (server, tag, tls) in [
        (Server::shared(Kind::Vsftpd), "vs", false),
        (Server::shared(Kind::Pyftpdlib), "py", false),
        (Server::shared_tls(Kind::Vsftpd), "vs-tls", true),
        (Server::shared_tls(Kind::Pyftpdlib), "py-tls", true),
        (&proxied, "vs-rtt", false),
    ] {
        let (c, refused) = uploads_in_a_row(server, server.config(), tag, N);
        // The same refusal as without pipelining: 550/553, a permanent error (not "not found").
        assert!(refused.contains("code Some(55"), "{tag}: {refused}");
        assert!(refused.ends_with("kind Permanent)"), "{tag}: {refused}");
        assert_eq!(c.logins, 1, "{tag}: one login for the whole run: {c:?}");
        let unconfirmed = if tls { 0 } else { small };
        assert_eq!(c.stor_unconfirmed, unconfirmed, "{tag}: {c:?}");
        // Each upload's size check carries an EPSV (the refused one has no size check).
        assert_eq!(c.size_then_epsv, N + 2, "{tag}: {c:?}");

        let mut off = server.config();
        off.pipelining = false;
        let (c, refused) = uploads_in_a_row(server, off, &format!("{tag}-off"), N);
        assert!(refused.contains("code Some(55"), "{tag} off: {refused}");
        assert!(refused.ends_with("kind Permanent)"), "{tag} off: {refused}");
        assert_eq!(c.logins, 1, "{tag}, pipelining off: {c:?}");
        assert_eq!(
            (c.stor_unconfirmed, c.size_then_epsv, c.sent_ahead),
            (0, 0, 0),
            "{tag} off: {c:?}"
        );
    }
}
