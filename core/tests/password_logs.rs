//! No log record, at any level and from any target (suppaftp logs every command line it sends
//! at trace level), ever holds a password: logins with the right and a wrong password on both
//! servers and over TLS, reconnects, and a quoted PASS command.
//!
//! A test binary of its own: it installs the process-wide `log` logger.

mod common;

use std::sync::{Mutex, OnceLock};

use common::{Kind, Server};
use ferroftp::ErrorKind;
use ferroftp::blocking::Session;

/// Every record, formatted as `LEVEL target: message`.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        self.0.lock().unwrap().push(line);
    }

    fn flush(&self) {}
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

/// A password nobody would log by chance.
const WRONG: &str = "Wr0ng-pa55word-\u{e9}-7Qx";

fn logins(server: &'static Server) {
    let capture = capture();
    let s = Session::connect_with(server.config()).unwrap();
    s.noop().unwrap();
    s.list("/").unwrap();
    // A quoted PASS goes through the same path as the login's (the servers refuse or ignore
    // it after the login); it makes the session log in again for the next operation.
    s.quote(&format!("PASS {WRONG}")).unwrap();
    s.list("/").unwrap();
    s.close().unwrap();

    let mut c = server.config();
    c.password = ferroftp::Password::new(WRONG);
    c.retries = 0;
    let e = Session::connect_with(c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(!e.to_string().contains(WRONG), "{e}");

    let records = capture.0.lock().unwrap().clone();
    // The capture sees suppaftp's trace records of the command lines, PASS among them...
    assert!(
        records
            .iter()
            .any(|r| r.starts_with("TRACE suppaftp") && r.contains("CC OUT: USER")),
        "{records:#?}"
    );
    assert!(
        records.iter().any(|r| r.contains("CC OUT: PASS")),
        "{records:#?}"
    );
    // ... and no record holds either password.
    for password in [server.password.as_str(), WRONG] {
        let leaks: Vec<_> = records.iter().filter(|r| r.contains(password)).collect();
        assert!(leaks.is_empty(), "{password:?} logged: {leaks:#?}");
    }
}

#[test]
fn pyftpdlib() {
    logins(Server::shared(Kind::Pyftpdlib));
}

#[test]
fn vsftpd() {
    logins(Server::shared(Kind::Vsftpd));
}

#[test]
fn vsftpd_tls() {
    logins(Server::shared_tls(Kind::Vsftpd));
}

#[test]
fn pyftpdlib_tls() {
    logins(Server::shared_tls(Kind::Pyftpdlib));
}
