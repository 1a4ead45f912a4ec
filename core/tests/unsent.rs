//! A transfer that fails before its command is sent (its data connection could not be
//! negotiated) changed nothing on the server: its error never says "may have taken effect",
//! and even an upload is repeated on a fresh connection.
//!
//! The failure is a real server's: vsftpd binds each passive port in its privileged process,
//! tries 9 ports of its window at random, and when none is free that process dies and the
//! session answers EPSV with "500 OOPS: vsf_sysutil_bind" and closes (a full window, or ports
//! held by TIME_WAIT sockets, do this in production). Here every port of a small window is held
//! by a listener of the test.
//!
//! A test binary of its own: it installs the process-wide `log` logger, through which it learns
//! that the first attempt failed and frees the ports before the retry (no timing guesses).

mod common;

use std::net::TcpListener;
use std::sync::Mutex;

use common::{Kind, Server, data, run, sha256};
use ferroftp::blocking::Session;
use ferroftp::{ErrorKind, UploadOptions};

/// Passive ports in use by the test's listeners; emptied when the session retries.
static HELD: Mutex<Vec<TcpListener>> = Mutex::new(Vec::new());
/// The retries the session announced.
static RETRIES: Mutex<Vec<String>> = Mutex::new(Vec::new());

const WINDOW: u16 = 4;

struct FreeOnRetry;

impl log::Log for FreeOnRetry {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target().starts_with("ferroftp")
    }

    fn log(&self, record: &log::Record<'_>) {
        let text = record.args().to_string();
        if text.starts_with("retrying after") {
            HELD.lock().unwrap().clear();
            RETRIES.lock().unwrap().push(text);
        }
    }

    fn flush(&self) {}
}

/// Binds `WINDOW` consecutive loopback ports below the kernel's ephemeral range.
fn hold_window() -> (u16, Vec<TcpListener>) {
    'next: for first in (20000..32000)
        .step_by(usize::from(WINDOW))
        .skip(start_offset())
    {
        let mut held = Vec::new();
        for port in first..first + WINDOW {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => held.push(l),
                Err(_) => continue 'next,
            }
        }
        return (first, held);
    }
    panic!("no {WINDOW} free consecutive ports in 20000-32000");
}

/// A start that differs between runs (several test runs may share the machine).
fn start_offset() -> usize {
    (std::process::id() as usize * 7919) % 2500
}

fn hold(first: u16) {
    let mut held = HELD.lock().unwrap();
    held.clear();
    for port in first..first + WINDOW {
        held.push(TcpListener::bind(("127.0.0.1", port)).expect("hold a passive port again"));
    }
}

#[test]
fn transfers_failing_before_their_command() {
    log::set_logger(&FreeOnRetry).expect("the only logger");
    log::set_max_level(log::LevelFilter::Debug);
    let (first, held) = hold_window();
    let window = format!("{first}-{}", first + WINDOW - 1);
    let server = Server::start(Kind::Vsftpd, &["--passive-ports", &window]);
    let (remote, local) = server.dir("unsent");
    let payload = data(300_000, 7);

    // Without retries: the error is the server's, and honest about what happened.
    *HELD.lock().unwrap() = held;
    let mut config = server.config();
    config.retries = 0;
    let s = Session::connect_with(config).expect("connect");
    let e = s
        .write_bytes(&format!("{remote}/a.bin"), &payload)
        .expect_err("no passive port can be bound");
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert_eq!(e.code(), Some(500), "{e}");
    // The reply to EPSV itself: no fall back to PASV on a dead session.
    assert!(e.message().contains("OOPS: vsf_sysutil_bind"), "{e}");
    assert!(!e.may_have_taken_effect(), "STOR was never sent: {e}");
    assert!(!local.join("a.bin").exists());
    // The session reconnects for the next operation.
    HELD.lock().unwrap().clear();
    assert_eq!(
        s.write_bytes(&format!("{remote}/a.bin"), &payload).unwrap(),
        payload.len() as u64
    );
    assert_eq!(
        sha256(&std::fs::read(local.join("a.bin")).unwrap()),
        sha256(&payload)
    );
    s.close().unwrap();

    // With retries, every kind of upload (none of which is repeated once STOR was sent) and a
    // download into a caller's writer are repeated on a fresh connection, and succeed.
    // Without pipelining: with it, an upload's size check has the server open the next
    // passive port ahead (its EPSV goes with the SIZE), and the next upload would use that
    // port instead of meeting the full window.
    let mut config = server.config();
    config.pipelining = false;
    let s = Session::connect_with(config).expect("connect");
    let scratch = server.scratch("unsent");
    let source = scratch.join("source.bin");
    std::fs::write(&source, &payload).unwrap();
    let cases: [(&str, &dyn Fn() -> ferroftp::Result<u64>); 4] = [
        ("write_bytes", &|| {
            s.write_bytes(&format!("{remote}/b.bin"), &payload)
        }),
        ("upload", &|| {
            s.upload(
                &source,
                &format!("{remote}/c.bin"),
                UploadOptions::default(),
            )
        }),
        ("upload_from", &|| {
            let mut reader: &[u8] = &payload;
            run(s
                .as_async()
                .upload_from(&mut reader, &format!("{remote}/d.bin")))
        }),
        ("download_to", &|| {
            let mut sink = Vec::new();
            let n = run(s
                .as_async()
                .download_to(&format!("{remote}/a.bin"), &mut sink))?;
            assert_eq!(sha256(&sink), sha256(&payload));
            Ok(n)
        }),
    ];
    for (name, op) in cases {
        RETRIES.lock().unwrap().clear();
        hold(first);
        let n = op().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(n, payload.len() as u64, "{name}");
        let retries = RETRIES.lock().unwrap().clone();
        assert_eq!(retries.len(), 1, "{name}: {retries:?}");
        assert!(retries[0].contains("OOPS"), "{name}: {retries:?}");
    }
    for name in ["b.bin", "c.bin", "d.bin"] {
        let got = std::fs::read(local.join(name)).unwrap();
        assert_eq!(sha256(&got), sha256(&payload), "{name}");
    }
    s.close().unwrap();
}
