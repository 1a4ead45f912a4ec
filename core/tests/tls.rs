//! FTPS specifics: certificate checks (pinned and CA-issued, expired, misnamed,
//! `tls_server_name`, client certificates), implicit TLS, IPv6 and active mode on loopback.
//! The certificates are made by the server launcher (`serve.py --cert ...`).

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
        assert!(
            e.message().contains("not issued by a trusted CA"),
            "{kind:?}: {e}"
        );
    }
}

/// Writes, reads back and lists through `s` (with vsftpd, every data connection must resume
/// the control connection's TLS session).
fn round_trip(s: &Session, dir: &str, what: &str) {
    let payload = data(300_000, 21);
    let f = format!("{dir}/{}.bin", what.replace(' ', "_"));
    s.write_bytes(&f, &payload)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(s.read_bytes(&f).unwrap(), payload, "{what}");
    assert!(!s.list(dir).unwrap().is_empty(), "{what}");
}

/// A self-signed certificate with CA:TRUE (what `openssl req -x509` makes) is trusted when it
/// is itself given as `ca_file`, explicit and implicit, with data connections; without it the
/// error says to pin it.
#[test]
fn pinned_self_signed_ca_certificate() {
    let servers = [
        Server::start(
            Kind::Vsftpd,
            &["--tls", "explicit", "--cert", "self-signed"],
        ),
        Server::start(
            Kind::Vsftpd,
            &["--tls", "implicit", "--cert", "self-signed"],
        ),
        Server::start(
            Kind::Pyftpdlib,
            &["--tls", "explicit", "--cert", "self-signed"],
        ),
    ];
    for server in &servers {
        let what = format!("{:?} {}", server.kind, server.tls);
        let (dir, _) = server.dir("pinned");
        let s = Session::connect_with(server.config()).unwrap_or_else(|e| panic!("{what}: {e}"));
        round_trip(&s, &dir, &what);

        let mut c = server.config();
        c.ca_file = None;
        c.retries = 0;
        let e = Session::connect_with(c).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{what}: {e}");
        assert!(
            e.message().contains("CA certificate as its own") && e.message().contains("ca_file"),
            "{what}: {e}"
        );
    }
}

/// Pinning does not lift the dates or the name check.
#[test]
fn pinned_certificates_still_need_dates_and_names() {
    let expired = Server::start(Kind::Vsftpd, &["--tls", "explicit", "--cert", "expired"]);
    let mut c = expired.config();
    c.retries = 0;
    let e = Session::connect_with(c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("expired on"), "{e}");

    let args = [
        "--tls",
        "explicit",
        "--cert",
        "self-signed",
        "--cert-name",
        "ftp.example.test",
    ];
    let misnamed = Server::start(Kind::Pyftpdlib, &args);
    let mut c = misnamed.config();
    c.retries = 0;
    let e = Session::connect_with(c.clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(
        e.message()
            .contains("issued for ftp.example.test, not \"127.0.0.1\"")
            && e.message().contains("tls_server_name"),
        "{e}"
    );
    // ... and `tls_server_name` is the way to reach it by address.
    c.tls_server_name = Some("ftp.example.test".into());
    let s = Session::connect_with(c).unwrap();
    let (dir, _) = misnamed.dir("named");
    round_trip(&s, &dir, "pinned, tls_server_name");
}

/// `tls_server_name` verifies a CA-issued certificate for another name than the one
/// connected to (and the session-reusing data connections use it too).
#[test]
fn tls_server_name_for_a_ca_issued_certificate() {
    let server = Server::start(
        Kind::Vsftpd,
        &["--tls", "explicit", "--cert-name", "ftp.example.test"],
    );
    let mut c = server.config();
    c.retries = 0;
    let e = Session::connect_with(c.clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("tls_server_name"), "{e}");
    c.tls_server_name = Some("ftp.example.test".into());
    let s = Session::connect_with(c).unwrap();
    let (dir, _) = server.dir("sni");
    round_trip(&s, &dir, "CA-issued, tls_server_name");
}

/// A server that requires a client certificate (vsftpd `require_cert`) accepts ours and
/// refuses a connection without one, saying what is missing.
#[test]
fn client_certificates() {
    for mode in ["explicit", "implicit"] {
        let server = Server::start(Kind::Vsftpd, &["--tls", mode, "--client-ca"]);
        let mut c = server.config();
        c.client_cert = server.client_cert.clone();
        c.client_key = server.client_key.clone();
        let s = Session::connect_with(c).unwrap_or_else(|e| panic!("{mode}: {e}"));
        let (dir, _) = server.dir("client_cert");
        round_trip(&s, &dir, mode);

        let mut c = server.config();
        c.retries = 0;
        let e = Session::connect_with(c).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{mode}: {e}");
        assert!(
            e.message().contains("requires a client certificate"),
            "{mode}: {e}"
        );
    }
}

#[test]
fn client_certificate_settings_are_checked() {
    let server = Server::shared_tls(Kind::Pyftpdlib);
    let mut c = server.config();
    c.client_cert = server.cafile.clone();
    let e = Session::connect_with(c.clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.message().contains("client_key"), "{e}");
    c.client_key = Some("/nonexistent/key.pem".into());
    let e = Session::connect_with(c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.message().contains("/nonexistent/key.pem"), "{e}");
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
