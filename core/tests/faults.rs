//! Faults: the server dies in the middle of a transfer.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Kind, Scratch, Server, data};
use ferroftp::{DownloadOptions, ErrorKind};

fn killed_mid_transfer(kind: Kind) {
    let server = Arc::new(Server::start(kind, &[]));
    let (dir, _) = server.dir("kill");
    server.put("kill/big.bin", &data(64 << 20, 3));
    let mut config = server.config();
    config.timeout = Duration::from_secs(5);
    config.retries = 1;
    let s = ferroftp::blocking::Session::connect_with(config).unwrap();

    // A whole download: the server is killed as soon as the first bytes arrive.
    let tmp = Scratch::new(&format!("kill-{}", kind.name()));
    let target = tmp.join("big.bin");
    let killed = Arc::new(AtomicBool::new(false));
    let (srv, k) = (server.clone(), killed.clone());
    let opts = DownloadOptions::default().progress(move |done, _| {
        if done > 0 && !k.swap(true, Ordering::SeqCst) {
            srv.kill();
        }
    });
    let e = s
        .download(&format!("{dir}/big.bin"), &target, opts)
        .unwrap_err();
    assert!(killed.load(Ordering::SeqCst), "the download never started");
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Io | ErrorKind::Connect | ErrorKind::Protocol | ErrorKind::Timeout
        ),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "no file, complete or partial, is left"
    );

    // The session reports the dead server on the next call too (no panic, no hang).
    let e = s.noop().unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Connect | ErrorKind::Timeout),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

fn killed_mid_stream(kind: Kind) {
    let server = Server::start(kind, &[]);
    let (dir, _) = server.dir("kill");
    server.put("kill/big.bin", &data(64 << 20, 4));
    let mut config = server.config();
    config.timeout = Duration::from_secs(5);
    let s = ferroftp::blocking::Session::connect_with(config).unwrap();
    let mut r = s.open_read(&format!("{dir}/big.bin")).unwrap();
    let mut head = vec![0u8; 1 << 20];
    r.read_exact(&mut head).unwrap();
    server.kill();
    let mut rest = Vec::new();
    let read = r.read_to_end(&mut rest);
    let finished = r.finish();
    assert!(
        read.is_err() || finished.is_err(),
        "a transfer cut short must not finish cleanly ({} of {} bytes read)",
        head.len() + rest.len(),
        64 << 20
    );
}

#[test]
fn pyftpdlib_killed_mid_download() {
    killed_mid_transfer(Kind::Pyftpdlib);
}

#[test]
fn vsftpd_killed_mid_download() {
    killed_mid_transfer(Kind::Vsftpd);
}

#[test]
fn pyftpdlib_killed_mid_stream() {
    killed_mid_stream(Kind::Pyftpdlib);
}

#[test]
fn vsftpd_killed_mid_stream() {
    killed_mid_stream(Kind::Vsftpd);
}

/// The server ends an idle session (here: its process is killed, as an idle timeout or a
/// restart would): the next operation notices before sending anything and reconnects, so even
/// an operation that is never repeated blindly (DELE) succeeds.
#[test]
fn idle_connection_closed_by_the_server() {
    let server = Server::start(Kind::Vsftpd, &[]);
    let (dir, local) = server.dir("idle");
    server.put("idle/a", b"a");
    let s = ferroftp::blocking::Session::connect_with(server.config()).unwrap();
    s.noop().unwrap();
    assert!(server.kill_one_session());
    std::thread::sleep(Duration::from_millis(200)); // let the FIN arrive
    s.remove(&format!("{dir}/a")).unwrap();
    assert!(!local.join("a").exists());
}

/// An upload cut by the server's death says that it may have taken effect (it is not
/// repeated blindly) and leaves no local trace.
#[test]
fn upload_cut_is_reported_as_uncertain() {
    let server = Arc::new(Server::start(Kind::Vsftpd, &[]));
    let (dir, _) = server.dir("cut_upload");
    let scratch = server.scratch("cut_upload");
    let src = scratch.join("big.bin");
    std::fs::write(&src, data(64 << 20, 5)).unwrap();
    let mut config = server.config();
    config.timeout = Duration::from_secs(5);
    let s = ferroftp::blocking::Session::connect_with(config).unwrap();
    let killed = Arc::new(AtomicBool::new(false));
    let (srv, k) = (server.clone(), killed.clone());
    let opts = ferroftp::UploadOptions::default().progress(move |done, _| {
        if done > (1 << 20) && !k.swap(true, Ordering::SeqCst) {
            srv.kill();
        }
    });
    let e = s.upload(&src, &format!("{dir}/big.bin"), opts).unwrap_err();
    assert!(killed.load(Ordering::SeqCst));
    assert!(e.may_have_taken_effect(), "{e}");
    assert!(e.message().contains("may have taken effect"), "{e}");
}
