//! Every session operation, async and blocking, against pyftpdlib and vsftpd.

mod common;

use std::time::Duration;

use common::{Server, data, run};
use ferroftp::{DownloadOptions, EntryKind, ErrorKind, Session, UploadOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn local_mtime(p: &std::path::Path) -> i64 {
    let m = std::fs::metadata(p).unwrap().modified().unwrap();
    m.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn every_operation_async(server: &'static Server) {
    let (dir, local) = server.dir("ops_async");
    run(async move {
        let s = Session::connect_with(server.config()).await.unwrap();
        let payload = data(100_000, 1);
        let file = format!("{dir}/a.bin");

        // write, size, modified, exists, read back
        assert_eq!(s.write_bytes(&file, &payload).await.unwrap(), 100_000);
        assert_eq!(std::fs::read(local.join("a.bin")).unwrap(), payload);
        assert_eq!(s.size(&file).await.unwrap(), 100_000);
        let mtime = s.modified(&file).await.unwrap();
        assert_eq!(mtime.timestamp(), local_mtime(&local.join("a.bin")));
        assert!(s.exists(&file).await.unwrap());
        assert!(s.exists(&dir).await.unwrap());
        assert!(!s.exists(&format!("{dir}/missing")).await.unwrap());
        assert_eq!(s.read_bytes(&file).await.unwrap(), payload);

        // directories
        s.mkdir(&format!("{dir}/sub"), false).await.unwrap();
        s.mkdir(&format!("{dir}/x/y/z"), true).await.unwrap();
        assert!(local.join("x/y/z").is_dir());
        s.mkdir(&format!("{dir}/x/y"), true).await.unwrap();
        let e = s.mkdir(&format!("{dir}/sub"), false).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Permanent, "{e}");
        assert_eq!(e.code(), Some(550));

        // listings
        let entries = s.list(&dir).await.unwrap();
        let mut seen: Vec<_> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.kind, e.path.as_str()))
            .collect();
        seen.sort_by(|a, b| a.0.cmp(b.0));
        assert_eq!(
            seen,
            vec![
                ("a.bin", EntryKind::File, "/ops_async/a.bin"),
                ("sub", EntryKind::Dir, "/ops_async/sub"),
                ("x", EntryKind::Dir, "/ops_async/x"),
            ]
        );
        let a = entries.iter().find(|e| e.name == "a.bin").unwrap();
        assert_eq!(a.size, Some(100_000));
        let listed = a.modified.expect("listing has a time").timestamp();
        assert!(
            (listed - mtime.timestamp()).abs() < 60,
            "{listed} vs {mtime}"
        );
        assert!(!a.raw.is_empty());
        let mut names = s.names(&dir).await.unwrap();
        names.sort();
        assert_eq!(names, ["a.bin", "sub", "x"]);

        // files on disk
        let tmp = server.scratch("ops_async");
        let target = tmp.join("down.bin");
        let done = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let d2 = done.clone();
        let opts = DownloadOptions::default().progress(move |n, _| d2.lock().unwrap().push(n));
        assert_eq!(s.download(&file, &target, opts).await.unwrap(), 100_000);
        assert_eq!(std::fs::read(&target).unwrap(), payload);
        let progress = done.lock().unwrap().clone();
        assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
        assert_eq!(progress.last(), Some(&100_000));
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            1,
            "no part file left"
        );
        let up = format!("{dir}/up.bin");
        let n = s
            .upload(&target, &up, UploadOptions::default())
            .await
            .unwrap();
        assert_eq!(n, 100_000);
        assert_eq!(std::fs::read(local.join("up.bin")).unwrap(), payload);
        s.download(&up, "/dev/null", DownloadOptions::default())
            .await
            .unwrap();

        // rename, cwd, relative paths
        s.rename(&file, &format!("{dir}/sub/b.bin")).await.unwrap();
        assert!(local.join("sub/b.bin").is_file() && !local.join("a.bin").exists());
        s.cwd(&format!("{dir}/sub")).await.unwrap();
        assert_eq!(s.pwd().await.unwrap(), "/ops_async/sub");
        assert_eq!(s.size("b.bin").await.unwrap(), 100_000);
        let rel = s.list("").await.unwrap();
        assert_eq!(rel.len(), 1);
        assert_eq!(rel[0].path, "/ops_async/sub/b.bin");
        s.cwd("..").await.unwrap();
        assert_eq!(s.pwd().await.unwrap(), "/ops_async");

        // streaming
        let mut r = s.open_read(&up).await.unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        r.finish().await.unwrap();
        assert_eq!(got, payload);
        let mut w = s.open_write(&format!("{dir}/streamed.bin")).await.unwrap();
        for chunk in payload.chunks(7_000) {
            w.write_all(chunk).await.unwrap();
        }
        w.finish().await.unwrap();
        assert_eq!(std::fs::read(local.join("streamed.bin")).unwrap(), payload);

        // removal
        s.remove(&format!("{dir}/sub/b.bin")).await.unwrap();
        s.rmdir(&format!("{dir}/sub"), false).await.unwrap();
        s.write_bytes(&format!("{dir}/x/y/f"), b"f").await.unwrap();
        s.rmdir(&format!("{dir}/x"), true).await.unwrap();
        assert!(!local.join("x").exists() && !local.join("sub").exists());

        // raw commands
        s.noop().await.unwrap();
        let (code, text) = s.quote("NOOP").await.unwrap();
        assert_eq!(code, 200, "{text}");
        let (code, _) = s.quote("SYST").await.unwrap();
        assert_eq!(code, 215);
        let (code, _) = s.quote("NOSUCHCOMMAND").await.unwrap();
        assert!((500..=502).contains(&code), "{code}");
        // a state-changing raw command makes the session start over from a known state
        let (code, _) = s.quote("TYPE A").await.unwrap();
        assert_eq!(code, 200);
        assert_eq!(
            s.read_bytes(&up).await.unwrap(),
            payload,
            "binary type restored"
        );
        assert_eq!(s.pwd().await.unwrap(), "/ops_async", "cwd restored");

        s.close().await.unwrap();
        assert_eq!(s.noop().await.unwrap_err().kind(), ErrorKind::Closed);
    });
}
on_servers!(every_operation, every_operation_async);

fn every_operation_blocking_body(server: &'static Server) {
    use std::io::{Read, Write};
    let (dir, local) = server.dir("ops_blocking");
    let s = ferroftp::blocking::Session::connect_with(server.config()).unwrap();
    let payload = data(300_000, 2);
    let file = format!("{dir}/a.bin");
    assert_eq!(s.write_bytes(&file, &payload).unwrap(), 300_000);
    assert_eq!(s.size(&file).unwrap(), 300_000);
    assert_eq!(
        s.modified(&file).unwrap().timestamp(),
        local_mtime(&local.join("a.bin"))
    );
    assert!(s.exists(&file).unwrap());
    assert_eq!(s.read_bytes(&file).unwrap(), payload);
    s.mkdir(&format!("{dir}/d/e"), true).unwrap();
    assert_eq!(s.list(&dir).unwrap().len(), 2);
    let mut names = s.names(&dir).unwrap();
    names.sort();
    assert_eq!(names, ["a.bin", "d"]);
    let tmp = server.scratch("ops_blocking");
    s.download(&file, tmp.join("x"), DownloadOptions::default())
        .unwrap();
    assert_eq!(std::fs::read(tmp.join("x")).unwrap(), payload);
    s.upload(
        tmp.join("x"),
        &format!("{dir}/d/y"),
        UploadOptions::default(),
    )
    .unwrap();
    assert_eq!(std::fs::read(local.join("d/y")).unwrap(), payload);
    s.rename(&format!("{dir}/d/y"), &format!("{dir}/z"))
        .unwrap();
    s.cwd(&format!("{dir}/d")).unwrap();
    assert_eq!(s.pwd().unwrap(), "/ops_blocking/d");
    let mut r = s.open_read("../z").unwrap();
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    r.finish().unwrap();
    assert_eq!(got, payload);
    let mut w = s.open_write("w.bin").unwrap();
    w.write_all(&payload).unwrap();
    w.finish().unwrap();
    assert_eq!(std::fs::read(local.join("d/w.bin")).unwrap(), payload);
    s.remove("w.bin").unwrap();
    s.rmdir("e", false).unwrap();
    s.cwd("/").unwrap();
    s.rmdir(&dir, true).unwrap();
    assert!(!local.exists());
    s.noop().unwrap();
    assert_eq!(s.quote("NOOP").unwrap().0, 200);
    s.close().unwrap();
}
on_servers!(every_operation_blocking, every_operation_blocking_body);

fn errors_body(server: &'static Server) {
    let (dir, _) = server.dir("errors");
    let s = ferroftp::blocking::Session::connect_with(server.config()).unwrap();
    let missing = format!("{dir}/missing.txt");
    for e in [
        s.size(&missing).unwrap_err(),
        s.read_bytes(&missing).unwrap_err(),
        s.modified(&missing).unwrap_err(),
        s.remove(&missing).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        assert_eq!(e.code(), Some(550), "{e}");
        assert!(e.message().contains("missing.txt"), "{e}");
    }
    let tmp = server.scratch("errors");
    let target = tmp.join("never.bin");
    let e = s
        .download(&missing, &target, DownloadOptions::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "nothing written"
    );
    let e = s.cwd(&missing).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    // a missing directory is not an empty one (vsftpd lists both the same way)
    let e = s.list(&format!("{dir}/no-such-dir")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(s.list(&dir).is_ok());
    // the session is still in step after every refusal
    s.write_bytes(&format!("{dir}/ok"), b"ok").unwrap();
    assert_eq!(s.read_bytes(&format!("{dir}/ok")).unwrap(), b"ok");

    // local file missing for upload
    let e = s
        .upload(
            tmp.join("nope"),
            &format!("{dir}/x"),
            UploadOptions::default(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    // a path that would smuggle a second command
    let e = s.size("a\r\nDELE ok").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(s.exists(&format!("{dir}/ok")).unwrap());

    // wrong password
    let mut c = server.config();
    c.password = ferroftp::Password::new("wrong");
    c.retries = 0;
    let e = ferroftp::blocking::Session::connect_with(c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert_eq!(e.code(), Some(530), "{e}");
    assert!(!e.to_string().contains("wrong"), "no password in {e}");
}
on_servers!(errors, errors_body);

#[test]
fn closed_port_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut c = ferroftp::Config::from_url(&format!("ftp://127.0.0.1:{port}")).unwrap();
    c.retries = 1;
    let e = ferroftp::blocking::Session::connect_with(c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.message().contains(&port.to_string()), "{e}");
}

#[test]
fn bad_urls_are_invalid_input() {
    for url in ["http://x/", "ftp://", "ftp://h:70000/"] {
        let e = ferroftp::blocking::Session::connect(url).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{url}: {e}");
    }
}

#[test]
fn blocking_call_inside_a_runtime_is_refused() {
    let server = Server::shared(common::Kind::Pyftpdlib);
    let s = ferroftp::blocking::Session::connect_with(server.config()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt.block_on(async { s.noop() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("async"), "{e}");
    s.noop().unwrap();
}

#[test]
fn data_modes_pasv_and_active() {
    for kind in [common::Kind::Pyftpdlib, common::Kind::Vsftpd] {
        let server = Server::shared(kind);
        let (dir, _) = server.dir("modes");
        for mode in [
            ferroftp::DataMode::Pasv,
            ferroftp::DataMode::Active,
            ferroftp::DataMode::Epsv,
        ] {
            let mut c = server.config();
            c.data_mode = mode;
            c.timeout = Duration::from_secs(10);
            let s = ferroftp::blocking::Session::connect_with(c).unwrap();
            let payload = data(50_000, 7);
            let f = format!("{dir}/{mode:?}.bin");
            s.write_bytes(&f, &payload).unwrap();
            assert_eq!(s.read_bytes(&f).unwrap(), payload, "{kind:?} {mode:?}");
            assert!(s.list(&dir).unwrap().iter().any(|e| f.ends_with(&e.name)));
        }
    }
}
on_servers!(every_operation_over_tls, every_operation_async, tls);
on_servers!(
    every_operation_blocking_over_tls,
    every_operation_blocking_body,
    tls
);
on_servers!(errors_over_tls, errors_body, tls);

/// Uploads from a FIFO go through the blocking pool: they work, and a stalled writer can be
/// cancelled without stalling the runtime.
#[test]
fn upload_from_a_fifo() {
    let server = Server::shared(common::Kind::Vsftpd);
    let (dir, local) = server.dir("fifo");
    let scratch = server.scratch("fifo");
    let fifo = scratch.join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let payload = data(300_000, 21);
    let (f2, p2) = (fifo.clone(), payload.clone());
    let writer = std::thread::spawn(move || std::fs::write(&f2, &p2).unwrap());
    let s = ferroftp::blocking::Session::connect_with(server.config()).unwrap();
    let n = s
        .upload(&fifo, &format!("{dir}/from-fifo"), UploadOptions::default())
        .unwrap();
    writer.join().unwrap();
    assert_eq!(n, payload.len() as u64);
    assert!(std::fs::read(local.join("from-fifo")).unwrap() == payload);

    // a writer that opens the FIFO and then stalls
    let f3 = fifo.clone();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let staller = std::thread::spawn(move || {
        let _w = std::fs::OpenOptions::new().write(true).open(&f3).unwrap();
        let _ = rx.recv();
    });
    let a = s.as_async().clone();
    let remote = format!("{dir}/stalled");
    let cut = run(async move {
        tokio::time::timeout(
            Duration::from_millis(300),
            a.upload(&fifo, &remote, UploadOptions::default()),
        )
        .await
        .is_err()
    });
    assert!(cut, "the stalled upload was cancelled");
    s.noop().unwrap();
    assert_eq!(s.size(&format!("{dir}/from-fifo")).unwrap(), 300_000);
    drop(tx);
    staller.join().unwrap();
}

/// Downloads into a FIFO are written through the I/O driver: the reader may open it late and
/// read slowly, and the bytes arrive whole; `/dev/null` takes a download too.
#[test]
fn download_to_a_fifo_and_dev_null() {
    let server = Server::shared(common::Kind::Pyftpdlib);
    let (dir, _) = server.dir("fifo-down");
    let payload = data(3_000_000, 22);
    server.put("fifo-down/big", &payload);
    let scratch = server.scratch("fifo-down");
    let fifo = scratch.join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let f2 = fifo.clone();
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200)); // opens after the download started
        let mut r = std::fs::File::open(&f2).unwrap();
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = std::io::Read::read(&mut r, &mut chunk).unwrap();
            if n == 0 {
                return got;
            }
            got.extend_from_slice(&chunk[..n]);
            if got.len() < 100_000 {
                std::thread::sleep(Duration::from_millis(5)); // a slow start
            }
        }
    });
    let s = ferroftp::blocking::Session::connect_with(server.config()).unwrap();
    let n = s
        .download(&format!("{dir}/big"), &fifo, DownloadOptions::default())
        .unwrap();
    assert_eq!(n, payload.len() as u64);
    assert!(reader.join().unwrap() == payload);
    let n = s
        .download(
            &format!("{dir}/big"),
            "/dev/null",
            DownloadOptions::default(),
        )
        .unwrap();
    assert_eq!(n, payload.len() as u64);
    s.noop().unwrap();
}

/// A name that is not UTF-8 (Latin-1 "café.txt") is listed, and the listed name downloads,
/// renames and removes that very file.
fn non_utf8_names(server: &'static Server) {
    use std::os::unix::ffi::OsStrExt;
    let (dir, local) = server.dir("bytes");
    let raw = b"caf\xe9.txt";
    let path = local.join(std::ffi::OsStr::from_bytes(raw));
    std::fs::write(&path, b"latin-1 name").unwrap();
    std::os::unix::fs::chown(&path, Some(server.uid), Some(server.gid)).unwrap();
    let s = ferroftp::blocking::Session::connect_with(server.config()).unwrap();
    let entries = s.list(&dir).unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e.name_bytes(), raw);
    assert_eq!(s.read_bytes(&e.path).unwrap(), b"latin-1 name");
    assert_eq!(s.names(&dir).unwrap(), std::slice::from_ref(&e.name));
    let renamed = format!("{}.old", e.path);
    s.rename(&e.path, &renamed).unwrap();
    assert!(
        local
            .join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt.old"))
            .exists()
    );
    s.remove(&renamed).unwrap();
    assert_eq!(std::fs::read_dir(&local).unwrap().count(), 0);
}
// vsftpd only: pyftpdlib itself replaces undecodable bytes with '?' in its listings, so such
// a name cannot be addressed through it by any client.
#[test]
fn names_that_are_not_utf8_vsftpd() {
    non_utf8_names(Server::shared(common::Kind::Vsftpd));
}

/// A server that asks for an account after the password (332): `Config::account` answers it
/// (ACCT); without one the login fails with the server's 332.
#[test]
fn account_after_password() {
    let server = Server::start(common::Kind::Pyftpdlib, &["--account", "dept 42"]);
    let mut c = server.config();
    c.retries = 0;
    let e = ferroftp::blocking::Session::connect_with(c.clone()).unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Auth, Some(332)), "{e}");
    c.account = Some(ferroftp::Password::new("wrong"));
    let e = ferroftp::blocking::Session::connect_with(c.clone()).unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Auth, Some(530)), "{e}");
    assert!(
        !format!("{e} {c:?}").contains("wrong"),
        "the account is never shown"
    );
    c.account = Some(ferroftp::Password::new("dept 42"));
    let s = ferroftp::blocking::Session::connect_with(c).unwrap();
    assert_eq!(s.pwd().unwrap(), "/");
}

/// The raw lines of listing commands with arguments, the greeting, and `TYPE I` quoted without
/// a reconnect.
fn raw_listings_body(server: &'static Server) {
    let (dir, _) = server.dir("raw_listing");
    server.put("raw_listing/a.txt", b"abc");
    let s = ferroftp::blocking::Session::connect_with(server.config()).unwrap();
    let list = String::from_utf8(s.list_raw(&format!("LIST {dir}")).unwrap()).unwrap();
    assert!(list.lines().any(|l| l.ends_with(" a.txt")), "{list:?}");
    let names = String::from_utf8(s.list_raw(&format!("nlst {dir}")).unwrap()).unwrap();
    assert!(
        names.lines().any(|l| l.trim_end().ends_with("a.txt")),
        "{names:?}"
    );
    let e = s.list_raw("RETR x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = s.list_raw("LIST a\r\nDELE b").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(s.welcome().unwrap().starts_with("220"));
    assert_eq!(s.quote("TYPE I").unwrap().0, 200);
    assert_eq!(s.read_bytes(&format!("{dir}/a.txt")).unwrap(), b"abc");
}
on_servers!(raw_listings, raw_listings_body);
