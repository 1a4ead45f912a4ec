//! Servers that misbehave on purpose (scripted on loopback by the test), and a full local disk:
//! every case ends in a typed error within the timeout, never a hang, a panic or a file that
//! looks complete.

mod common;

use std::time::Duration;

use common::{Kind, Scratch, Server, data};
use ferroftp::{Config, DownloadOptions, ErrorKind, blocking::Session};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the scripted server does after the greeting, per command.
#[derive(Clone, Copy)]
enum Script {
    /// Greets, then never answers.
    StallAfterGreeting,
    /// Answers USER with a line that is not FTP.
    Garbage,
    /// Sends half a reply and closes.
    Truncated,
    /// Refuses at the greeting: too many connections.
    TooMany,
    /// Logs in, then starts a download and stops sending half-way without closing.
    StallMidTransfer,
}

/// Starts the scripted server on a free loopback port; returns its URL.
fn scripted(script: Script) -> String {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let port = std_listener.local_addr().unwrap().port();
    let handle = ferroftp::runtime::handle().unwrap();
    handle.spawn(async move {
        let listener = TcpListener::from_std(std_listener).unwrap();
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(serve(sock, script));
        }
    });
    format!("ftp://u:p@127.0.0.1:{port}/")
}

async fn serve(sock: tokio::net::TcpStream, script: Script) {
    let (r, mut w) = sock.into_split();
    let mut lines = BufReader::new(r).lines();
    let greeting: &[u8] = match script {
        Script::TooMany => b"421 Too many connections (8) from this IP\r\n",
        _ => b"220 scripted server\r\n",
    };
    if w.write_all(greeting).await.is_err() || matches!(script, Script::TooMany) {
        return;
    }
    let mut data_listener: Option<TcpListener> = None;
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let reply: Vec<u8> = match (script, verb.as_str()) {
            (Script::StallAfterGreeting, _) => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            (Script::Garbage, _) => b"this is not ftp\r\n".to_vec(),
            (Script::Truncated, _) => {
                let _ = w.write_all(b"33").await;
                return;
            }
            (_, "USER") => b"331 password please\r\n".to_vec(),
            (_, "PASS") => b"230 welcome\r\n".to_vec(),
            (_, "TYPE") => b"200 ok\r\n".to_vec(),
            (_, "FEAT") => b"211 no features\r\n".to_vec(),
            (_, "PWD") => b"257 \"/\"\r\n".to_vec(),
            (_, "CWD") => b"250 ok\r\n".to_vec(),
            (_, "NOOP") => b"200 ok\r\n".to_vec(),
            (_, "EPSV") => {
                let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let p = l.local_addr().unwrap().port();
                data_listener = Some(l);
                format!("229 Entering Extended Passive Mode (|||{p}|)\r\n").into_bytes()
            }
            (_, "RETR") => {
                let Some(l) = data_listener.take() else {
                    return;
                };
                let _ = w
                    .write_all(b"150 Opening BINARY mode data connection (1048576 bytes)\r\n")
                    .await;
                let Ok((mut data, _)) = l.accept().await else {
                    return;
                };
                let _ = data.write_all(&[7u8; 65536]).await;
                // ... and then nothing more, for an hour, with the connection open
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            _ => b"502 not here\r\n".to_vec(),
        };
        if w.write_all(&reply).await.is_err() {
            return;
        }
    }
}

fn config(url: &str) -> Config {
    let mut c = Config::from_url(url).unwrap();
    c.timeout = Duration::from_secs(1);
    c.connect_timeout = Duration::from_secs(1);
    c.retries = 1;
    c
}

#[test]
fn stalled_server_times_out() {
    let e = Session::connect_with(config(&scripted(Script::StallAfterGreeting))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
}

#[test]
fn garbage_reply_is_a_protocol_error() {
    let e = Session::connect_with(config(&scripted(Script::Garbage))).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Protocol | ErrorKind::Connect),
        "{e:?}"
    );
}

#[test]
fn truncated_reply_is_an_error() {
    let e = Session::connect_with(config(&scripted(Script::Truncated))).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Protocol | ErrorKind::Connect | ErrorKind::Io
        ),
        "{e:?}"
    );
}

#[test]
fn too_many_connections_at_login() {
    let e = Session::connect_with(config(&scripted(Script::TooMany))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert_eq!(e.code(), Some(421));
    assert!(e.is_retryable());
}

#[test]
fn stall_mid_transfer_times_out_and_leaves_no_file() {
    let s = Session::connect_with(config(&scripted(Script::StallMidTransfer))).unwrap();
    let dir = Scratch::new("stall");
    let e = s
        .download("/x.bin", dir.join("x.bin"), DownloadOptions::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(
        std::fs::read_dir(&*dir).unwrap().count(),
        0,
        "nothing left behind"
    );
}

/// A local disk that fills up mid-download: an I/O error naming the disk problem, the server
/// session still usable, and no file (complete-looking or partial) left.
#[test]
fn full_local_disk() {
    let server = Server::shared(Kind::Vsftpd);
    let (dir, _) = server.dir("diskfull");
    server.put("diskfull/big.bin", &data(4 << 20, 1));
    let mount = Scratch::new("full");
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&*mount)
        .status()
        .expect("run mount");
    assert!(
        ok.success(),
        "mounting a 1 MiB tmpfs needs root (as CI has)"
    );
    let s = Session::connect_with(server.config()).unwrap();
    let e = s
        .download(
            &format!("{dir}/big.bin"),
            mount.join("big.bin"),
            DownloadOptions::default(),
        )
        .unwrap_err();
    let leftovers = std::fs::read_dir(&mount).unwrap().count();
    let _ = std::process::Command::new("umount").arg(&*mount).status();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.message().contains("space"), "{e}");
    assert_eq!(leftovers, 0, "no file left on the full disk");
    s.noop().unwrap();
    assert_eq!(s.size(&format!("{dir}/big.bin")).unwrap(), 4 << 20);
}

/// A streaming reader on a stalled transfer fails after the data-idle timeout; the session
/// then works again (here: it reconnects to the scripted server).
#[test]
fn stall_mid_stream_times_out() {
    use std::io::Read;
    let s = Session::connect_with(config(&scripted(Script::StallMidTransfer))).unwrap();
    let mut r = s.open_read("/x.bin").unwrap();
    let mut buf = Vec::new();
    let e = r.read_to_end(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    assert!(e.to_string().contains("no data"), "{e}");
    assert_eq!(buf.len(), 65536, "the bytes that did arrive were delivered");
    drop(r);
    s.noop().unwrap();
}
