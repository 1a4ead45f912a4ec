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
use ferroftp::{BatchOptions, Config, DownloadOptions, Pool, PoolOptions, blocking::Session};

/// Counts of the log lines that show what the client did.
#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    logins: usize,
    answered_ahead: usize,
    sent_ahead: usize,
}

static COUNTS: Mutex<Counts> = Mutex::new(Counts {
    logins: 0,
    answered_ahead: 0,
    sent_ahead: 0,
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
        }
    }

    fn flush(&self) {}
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
    log::set_logger(&Counter).expect("the only logger");
    log::set_max_level(log::LevelFilter::Debug);
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
}
