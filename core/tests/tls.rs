//! FTPS specifics: certificate checks, implicit TLS, IPv6 and active mode on loopback.

mod common;

use common::{Kind, Server, data};
use ferroftp::{DataMode, ErrorKind, TlsMode, blocking::Session};

#[test]
fn self_signed_certificate_is_refused_with_a_reason() {
    for kind in [Kind::Pyftpdlib, Kind::Vsftpd] {
        let server = Server::shared_tls(kind);
        let mut c = server.config();
        c.ca_file = None;
        c.retries = 0;
        let e = Session::connect_with(c).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{kind:?}: {e}");
        assert!(e.message().contains("ca_file"), "{kind:?}: {e}");
    }
}

#[test]
fn verify_false_and_ca_file_both_work() {
    for kind in [Kind::Pyftpdlib, Kind::Vsftpd] {
        let server = Server::shared_tls(kind);
        let (dir, _) = server.dir("trust");
        let mut c = server.config();
        c.ca_file = None;
        c.verify = false;
        let s = Session::connect_with(c).unwrap();
        s.write_bytes(&format!("{dir}/a"), b"insecure but encrypted")
            .unwrap();
        let s = Session::connect_with(server.config()).unwrap();
        assert_eq!(
            s.read_bytes(&format!("{dir}/a")).unwrap(),
            b"insecure but encrypted"
        );
    }
}

#[test]
fn bad_ca_file_is_invalid_input() {
    let server = Server::shared_tls(Kind::Pyftpdlib);
    let mut c = server.config();
    c.ca_file = Some("/nonexistent/ca.pem".into());
    let e = Session::connect_with(c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.message().contains("/nonexistent/ca.pem"), "{e}");
}

#[test]
fn implicit_tls_vsftpd() {
    let server = Server::start(Kind::Vsftpd, &["--tls", "implicit"]);
    let (dir, local) = server.dir("implicit");
    let c = server.config();
    assert_eq!(c.tls, TlsMode::Implicit);
    let s = Session::connect_with(c).unwrap();
    let payload = data(1 << 20, 9);
    s.write_bytes(&format!("{dir}/x.bin"), &payload).unwrap();
    assert_eq!(std::fs::read(local.join("x.bin")).unwrap(), payload);
    assert_eq!(s.read_bytes(&format!("{dir}/x.bin")).unwrap(), payload);
    assert_eq!(s.list(&dir).unwrap().len(), 1);
}

#[test]
fn ipv6_with_every_data_mode() {
    for kind in [Kind::Pyftpdlib, Kind::Vsftpd] {
        let server = Server::start(kind, &["--host", "::1"]);
        let (dir, _) = server.dir("v6");
        for mode in [DataMode::Auto, DataMode::Epsv, DataMode::Active] {
            let mut c = server.config();
            assert_eq!(c.host, "::1");
            c.data_mode = mode;
            let s = Session::connect_with(c).unwrap();
            let payload = data(200_000, 11);
            let f = format!("{dir}/{mode:?}.bin");
            s.write_bytes(&f, &payload).unwrap();
            assert_eq!(s.read_bytes(&f).unwrap(), payload, "{kind:?} {mode:?}");
            assert!(s.names(&dir).unwrap().contains(&format!("{mode:?}.bin")));
        }
    }
}

#[test]
fn active_mode_over_tls() {
    for kind in [Kind::Pyftpdlib, Kind::Vsftpd] {
        let server = Server::shared_tls(kind);
        let (dir, _) = server.dir("active_tls");
        let mut c = server.config();
        c.data_mode = DataMode::Active;
        let s = Session::connect_with(c).unwrap();
        let payload = data(300_000, 12);
        s.write_bytes(&format!("{dir}/a.bin"), &payload).unwrap();
        assert_eq!(
            s.read_bytes(&format!("{dir}/a.bin")).unwrap(),
            payload,
            "{kind:?}"
        );
    }
}

/// Every command reaches the server whatever is left of the task's tokio budget. When the
/// budget runs out, tokio makes the socket look busy; a TLS stream then keeps the command's
/// record back, and without a flush the server never sees it (a real hang, seen about once in
/// a dozen runs of 80 workers on one TLS session). Here a task uses up 0 to 140 units of its
/// budget before each NOOP, so that one of them meets the end of it at the write.
#[test]
fn commands_are_sent_at_any_budget() {
    for kind in [Kind::Pyftpdlib, Kind::Vsftpd] {
        let server = Server::shared_tls(kind);
        let mut c = server.config();
        c.timeout = std::time::Duration::from_secs(2);
        c.retries = 0;
        common::run(async {
            let s = ferroftp::Session::connect_with(c).await.unwrap();
            for used in 0..=140 {
                for _ in 0..used {
                    tokio::task::consume_budget().await;
                }
                s.noop()
                    .await
                    .unwrap_or_else(|e| panic!("{kind:?}, {used} units used: {e}"));
            }
            s.close().await.unwrap();
        });
    }
}
