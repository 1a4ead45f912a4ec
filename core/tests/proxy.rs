//! Faults on one connection while the server stays alive: a TCP proxy of the harness
//! (`common::proxy`) sits in front of a real server and cuts only the data connection, or only
//! the control connection, of a session. Every case ends in a typed error or a transparent
//! recovery with the exact bytes, never in a truncated file presented as complete, and the
//! session works afterwards.

mod common;

use std::io::Read;
use std::path::Path;

use common::proxy::{Cut, Dir, Proxy};
use common::{Server, data, sha256};
use ferroftp::blocking::Session;
use ferroftp::{DataMode, DownloadOptions, Error, ErrorKind, UploadOptions};

/// The test file: big enough that the server cannot have sent (or received) all of it when
/// the cut comes, with the proxy's small buffers.
const BIG: usize = 8 << 20;
/// Where the cuts happen.
const CUT_AT: u64 = 1 << 20;
const HOWS: [Cut; 2] = [Cut::Fin, Cut::Rst];

/// A session through `proxy` with `retries` (`None`: the default) and a data mode.
fn session(proxy: &Proxy, server: &Server, retries: Option<u32>, mode: DataMode) -> Session {
    let mut config = proxy.config(server);
    if let Some(r) = retries {
        config.retries = r;
    }
    config.data_mode = mode;
    Session::connect_with(config).expect("connect through the proxy")
}

/// The names in a local directory, sorted.
fn local_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn file_sha(path: &Path) -> String {
    sha256(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// A transfer cut by the network: an I/O error (a reset, or the end of the control connection
/// where a reply was due), or the server's own report of the broken transfer (426) — never a
/// timeout (nothing stalled), a protocol error, a permanent refusal or a success. Either kind
/// says that trying again can help.
fn assert_cut_error(e: &Error) {
    match e.kind() {
        ErrorKind::Io => assert_eq!(e.code(), None, "{e}"),
        ErrorKind::Transient => assert_eq!(e.code(), Some(426), "{e}"),
        other => panic!("a cut transfer gave a {other} error: {e}"),
    }
    assert!(e.is_retryable(), "{e}");
}

/// A download/upload round trip through the proxy, in EPSV and in PASV mode, goes through the
/// proxy's data listeners with the exact bytes (the harness itself is transparent).
fn proxy_is_transparent(server: &'static Server) {
    let (dir, root) = server.dir("px_transparent");
    let body = data(3 << 20, 1);
    server.put("px_transparent/f.bin", &body);
    let local = server.scratch("px_transparent");
    let mut names = vec!["f.bin".to_string()];
    for mode in [DataMode::Epsv, DataMode::Pasv] {
        let proxy = Proxy::start(server);
        let s = session(&proxy, server, None, mode);
        let mut listed = s.names(&dir).unwrap();
        listed.sort();
        assert_eq!(listed, names);
        let target = local.join(format!("f-{mode:?}.bin"));
        let n = s
            .download(&format!("{dir}/f.bin"), &target, DownloadOptions::default())
            .unwrap();
        assert_eq!(n, body.len() as u64);
        assert_eq!(file_sha(&target), sha256(&body));
        let up = format!("up-{mode:?}.bin");
        s.upload(&target, &format!("{dir}/{up}"), UploadOptions::default())
            .unwrap();
        assert_eq!(file_sha(&root.join(&up)), sha256(&body));
        names.push(up);
        assert_eq!(proxy.control_connections(), 1);
        assert_eq!(
            proxy.data_connections(),
            3,
            "NLST, RETR and STOR went through the proxy ({mode:?})"
        );
        assert_eq!(proxy.fired(), 0);
    }
}
on_servers!(transparent, proxy_is_transparent);

/// The data connection is cut after 1 MiB of a download.
fn data_cut_mid_download(server: &'static Server) {
    let (dir, _) = server.dir("px_data_get");
    let body = data(BIG, 2);
    server.put("px_data_get/big.bin", &body);
    let remote = format!("{dir}/big.bin");
    let want = sha256(&body);
    for how in HOWS {
        let proxy = Proxy::start(server);
        let local = server.scratch(&format!("px_data_get_{how:?}"));
        let target = local.join("big.bin");

        // Without retries: a typed error, and no file at all (neither the target nor a part).
        let s = session(&proxy, server, Some(0), DataMode::Auto);
        proxy.cut_data_after(Dir::Download, CUT_AT, how);
        let e = s
            .download(&remote, &target, DownloadOptions::default())
            .expect_err("a download cut short must fail");
        assert_eq!(proxy.fired(), 1, "the cut happened");
        assert_cut_error(&e);
        assert_eq!(local_names(&local), Vec::<String>::new(), "{how:?}");
        // The same session then downloads the whole file.
        s.download(&remote, &target, DownloadOptions::default())
            .unwrap();
        assert_eq!(file_sha(&target), want);
        std::fs::remove_file(&target).unwrap();

        // With resume: the part file is kept under its temporary name only, holding a true
        // prefix of the file; the next attempt completes it.
        proxy.cut_data_after(Dir::Download, CUT_AT, how);
        let resume = DownloadOptions::default().resume(true);
        let e = s
            .download(&remote, &target, resume.clone())
            .expect_err("a download cut short must fail");
        assert_eq!(proxy.fired(), 2);
        assert_cut_error(&e);
        assert_eq!(local_names(&local), vec![".big.bin.ferroftp-part"]);
        let kept = std::fs::read(local.join(".big.bin.ferroftp-part")).unwrap();
        assert!(kept.len() as u64 <= CUT_AT, "{} bytes kept", kept.len());
        assert!(kept[..] == body[..kept.len()], "the part file is a prefix");
        s.download(&remote, &target, resume.clone()).unwrap();
        assert_eq!(file_sha(&target), want);
        assert_eq!(local_names(&local), vec!["big.bin"]);
        std::fs::remove_file(&target).unwrap();

        // With the default retries the download recovers transparently, resumed or not.
        let s = session(&proxy, server, None, DataMode::Auto);
        for (i, options) in [DownloadOptions::default(), resume].into_iter().enumerate() {
            proxy.cut_data_after(Dir::Download, CUT_AT, how);
            s.download(&remote, &target, options).unwrap();
            assert_eq!(proxy.fired(), 3 + i as u64);
            assert_eq!(file_sha(&target), want);
            assert_eq!(local_names(&local), vec!["big.bin"]);
            std::fs::remove_file(&target).unwrap();
        }
    }
}
on_servers!(data_cut_download, data_cut_mid_download);

/// The data connection is cut after 1 MiB of an upload (PASV mode here, EPSV for downloads).
fn data_cut_mid_upload(server: &'static Server) {
    let (dir, root) = server.dir("px_data_put");
    let body = data(BIG, 3);
    let want = sha256(&body);
    let scratch = server.scratch("px_data_put");
    let src = scratch.join("big.bin");
    std::fs::write(&src, &body).unwrap();
    for how in HOWS {
        let proxy = Proxy::start(server);
        let s = session(&proxy, server, None, DataMode::Pasv);
        let name = |kind: &str| format!("{kind}-{how:?}.bin");
        let remote = |kind: &str| format!("{dir}/{}", name(kind));

        // A plain upload: never `Ok` with a short file; the error says that the STOR may have
        // taken effect (the server may hold part of the file), and it is not repeated.
        proxy.cut_data_after(Dir::Upload, CUT_AT, how);
        let e = s
            .upload(&src, &remote("plain"), UploadOptions::default())
            .expect_err("an upload cut short must not be reported done");
        assert_eq!(proxy.fired(), 1);
        assert_cut_error(&e);
        assert!(e.may_have_taken_effect(), "{e}");

        // Atomic: the final name never holds a partial file.
        proxy.cut_data_after(Dir::Upload, CUT_AT, how);
        let e = s
            .upload(
                &src,
                &remote("atomic"),
                UploadOptions::default().atomic(true),
            )
            .expect_err("an upload cut short must not be reported done");
        assert_eq!(proxy.fired(), 2);
        assert_cut_error(&e);
        assert!(e.may_have_taken_effect(), "{e}");
        assert!(!root.join(name("atomic")).exists(), "no partial final file");

        // write_bytes likewise.
        proxy.cut_data_after(Dir::Upload, CUT_AT, how);
        let e = s
            .write_bytes(&remote("bytes"), &body)
            .expect_err("an upload cut short must not be reported done");
        assert_eq!(proxy.fired(), 3);
        assert_cut_error(&e);
        assert!(e.may_have_taken_effect(), "{e}");

        // A resumable (atomic) upload is repeated: it recovers with the exact bytes.
        proxy.cut_data_after(Dir::Upload, CUT_AT, how);
        let opts = UploadOptions::default().atomic(true).resume(true);
        s.upload(&src, &remote("resumed"), opts).unwrap();
        assert_eq!(proxy.fired(), 4);
        assert_eq!(file_sha(&root.join(name("resumed"))), want);

        // The same session: the uploads that failed now succeed, exactly.
        for kind in ["plain", "atomic"] {
            let opts = UploadOptions::default().atomic(kind == "atomic");
            s.upload(&src, &remote(kind), opts).unwrap();
            assert_eq!(file_sha(&root.join(name(kind))), want, "{kind}");
        }
        s.write_bytes(&remote("bytes"), &body).unwrap();
        assert_eq!(sha256(&s.read_bytes(&remote("bytes")).unwrap()), want);
        assert!(!proxy.armed());
    }
}
on_servers!(data_cut_upload, data_cut_mid_upload);

/// The control connection is cut while idle: operations that are safe to repeat reconnect
/// transparently (working directory restored) and return the right result; rename and remove
/// either work or say whether they may have taken effect.
fn control_cut_between_commands(server: &'static Server) {
    for how in HOWS {
        let name = format!("px_ctl_idle_{how:?}");
        let (dir, root) = server.dir(&name);
        let body = data(300_000, 4);
        server.put(&format!("{name}/a.bin"), &body);
        server.put(&format!("{name}/b.txt"), b"b");
        let local = server.scratch(&name);
        let proxy = Proxy::start(server);
        let s = session(&proxy, server, None, DataMode::Auto);
        s.cwd(&dir).unwrap();
        assert_eq!(proxy.control_connections(), 1);

        assert!(proxy.cut_control(how) >= 1);
        assert_eq!(s.size("a.bin").unwrap(), body.len() as u64);
        assert_eq!(proxy.control_connections(), 2, "the session reconnected");
        assert_eq!(s.pwd().unwrap(), dir, "in the same directory");

        assert!(proxy.cut_control(how) >= 1);
        let mut names: Vec<String> = s.list("").unwrap().into_iter().map(|e| e.name).collect();
        names.sort();
        assert_eq!(names, ["a.bin", "b.txt"]);

        assert!(proxy.cut_control(how) >= 1);
        assert_eq!(sha256(&s.read_bytes("a.bin").unwrap()), sha256(&body));

        assert!(proxy.cut_control(how) >= 1);
        let target = local.join("a.bin");
        s.download("a.bin", &target, DownloadOptions::default())
            .unwrap();
        assert_eq!(file_sha(&target), sha256(&body));

        assert!(proxy.cut_control(how) >= 1);
        match s.rename("b.txt", "c.txt") {
            Ok(()) => {
                assert!(!root.join("b.txt").exists() && root.join("c.txt").exists());
            }
            Err(e) => {
                let untouched = root.join("b.txt").exists() && !root.join("c.txt").exists();
                assert!(e.may_have_taken_effect() || untouched, "{e}");
                s.rename("b.txt", "c.txt").unwrap();
            }
        }

        assert!(proxy.cut_control(how) >= 1);
        match s.remove("c.txt") {
            Ok(()) => assert!(!root.join("c.txt").exists()),
            Err(e) => {
                assert!(
                    e.may_have_taken_effect() || root.join("c.txt").exists(),
                    "{e}"
                );
                s.remove("c.txt").unwrap();
            }
        }
        assert!(!s.exists("c.txt").unwrap());
        assert_eq!(s.pwd().unwrap(), dir);
        assert_eq!(proxy.fired(), 0);
    }
}
on_servers!(control_cut_idle, control_cut_between_commands);

/// The control connection is cut after 1 MiB of a download; the data connection goes on.
fn control_cut_mid_download(server: &'static Server) {
    let (dir, _) = server.dir("px_ctl_get");
    let body = data(BIG, 5);
    server.put("px_ctl_get/big.bin", &body);
    let remote = format!("{dir}/big.bin");
    let want = sha256(&body);
    for how in HOWS {
        let proxy = Proxy::start(server);
        let local = server.scratch(&format!("px_ctl_get_{how:?}"));
        let target = local.join("big.bin");

        // Without retries: a typed error and no file, even where every byte arrived (the final
        // reply never did).
        let s = session(&proxy, server, Some(0), DataMode::Auto);
        proxy.cut_control_after(Dir::Download, CUT_AT, how);
        let e = s
            .download(&remote, &target, DownloadOptions::default())
            .expect_err("a download without its final reply must fail");
        assert_eq!(proxy.fired(), 1);
        assert_cut_error(&e);
        assert_eq!(local_names(&local), Vec::<String>::new());
        s.download(&remote, &target, DownloadOptions::default())
            .unwrap();
        assert_eq!(file_sha(&target), want);
        assert_eq!(proxy.control_connections(), 2, "the session reconnected");
        std::fs::remove_file(&target).unwrap();

        // With the default retries: a transparent recovery.
        let s = session(&proxy, server, None, DataMode::Auto);
        proxy.cut_control_after(Dir::Download, CUT_AT, how);
        s.download(&remote, &target, DownloadOptions::default())
            .unwrap();
        assert_eq!(proxy.fired(), 2);
        assert_eq!(file_sha(&target), want);
        assert_eq!(local_names(&local), vec!["big.bin"]);
    }
}
on_servers!(control_cut_download, control_cut_mid_download);

/// The control connection is cut after 1 MiB of an upload; the data connection goes on.
fn control_cut_mid_upload(server: &'static Server) {
    let (dir, root) = server.dir("px_ctl_put");
    let body = data(BIG, 6);
    let want = sha256(&body);
    let scratch = server.scratch("px_ctl_put");
    let src = scratch.join("big.bin");
    std::fs::write(&src, &body).unwrap();
    for how in HOWS {
        let proxy = Proxy::start(server);
        let s = session(&proxy, server, None, DataMode::Auto);
        let name = |kind: &str| format!("{kind}-{how:?}.bin");
        let remote = |kind: &str| format!("{dir}/{}", name(kind));

        // Plain and atomic uploads fail, saying that they may have taken effect; the atomic
        // one never shows under its final name.
        proxy.cut_control_after(Dir::Upload, CUT_AT, how);
        let e = s
            .upload(&src, &remote("plain"), UploadOptions::default())
            .expect_err("an upload without its final reply must fail");
        assert_eq!(proxy.fired(), 1);
        assert_cut_error(&e);
        assert!(e.may_have_taken_effect(), "{e}");

        proxy.cut_control_after(Dir::Upload, CUT_AT, how);
        let e = s
            .upload(
                &src,
                &remote("atomic"),
                UploadOptions::default().atomic(true),
            )
            .expect_err("an upload without its final reply must fail");
        assert_eq!(proxy.fired(), 2);
        assert_cut_error(&e);
        assert!(e.may_have_taken_effect(), "{e}");
        assert!(!root.join(name("atomic")).exists(), "no final file");

        // A resumable upload recovers with the exact bytes.
        proxy.cut_control_after(Dir::Upload, CUT_AT, how);
        let opts = UploadOptions::default().atomic(true).resume(true);
        s.upload(&src, &remote("resumed"), opts).unwrap();
        assert_eq!(proxy.fired(), 3);
        assert_eq!(file_sha(&root.join(name("resumed"))), want);

        // The session works: the failed uploads now succeed.
        for kind in ["plain", "atomic"] {
            let opts = UploadOptions::default().atomic(kind == "atomic");
            s.upload(&src, &remote(kind), opts).unwrap();
            assert_eq!(file_sha(&root.join(name(kind))), want, "{kind}");
        }
    }
}
on_servers!(control_cut_upload, control_cut_mid_upload);

/// Streaming reads (`open_read`) and `read_bytes` cut mid-transfer, on either connection.
fn cut_mid_stream(server: &'static Server) {
    let (dir, _) = server.dir("px_stream");
    let body = data(BIG, 7);
    server.put("px_stream/big.bin", &body);
    let remote = format!("{dir}/big.bin");
    let want = sha256(&body);
    for how in HOWS {
        for control in [false, true] {
            let proxy = Proxy::start(server);
            let arm = || {
                if control {
                    proxy.cut_control_after(Dir::Download, CUT_AT, how);
                } else {
                    proxy.cut_data_after(Dir::Download, CUT_AT, how);
                }
            };
            let case = format!("{how:?}, control: {control}");

            // A reader cut short never finishes cleanly; what it delivered is a true prefix.
            let s = session(&proxy, server, Some(0), DataMode::Auto);
            arm();
            let mut r = s.open_read(&remote).unwrap();
            let mut got = Vec::new();
            let read = r.read_to_end(&mut got);
            let finished = r.finish();
            assert_eq!(proxy.fired(), 1, "{case}");
            assert!(
                read.is_err() || finished.is_err(),
                "{case}: a stream cut short finished cleanly after {} bytes",
                got.len()
            );
            assert!(got[..] == body[..got.len()], "{case}: a true prefix");
            if let Err(e) = finished {
                assert_cut_error(&e);
            }

            // read_bytes: an error without retries...
            arm();
            let e = s
                .read_bytes(&remote)
                .map(|d| d.len())
                .expect_err("a read cut short must fail");
            assert_eq!(proxy.fired(), 2, "{case}");
            assert_cut_error(&e);
            // ... and the exact bytes with them.
            let s = session(&proxy, server, None, DataMode::Auto);
            arm();
            assert_eq!(sha256(&s.read_bytes(&remote).unwrap()), want, "{case}");
            assert_eq!(proxy.fired(), 3, "{case}");
        }
    }
}
on_servers!(stream_cut, cut_mid_stream);

/// A transfer truncated in the middle (the receiver gets a clean end of stream after 1 MiB,
/// the sender's bytes are drained, so the server replies 226): no operation may present the
/// short data as the file. The size the server announced, or SIZE, tells.
fn truncated_transfer(server: &'static Server) {
    let (dir, root) = server.dir("px_truncated");
    let body = data(BIG, 8);
    let want = sha256(&body);
    server.put("px_truncated/big.bin", &body);
    let remote = format!("{dir}/big.bin");
    let local = server.scratch("px_truncated");
    let target = local.join("big.bin");
    let src = local.join("src.bin");
    std::fs::write(&src, &body).unwrap();
    let proxy = Proxy::start(server);
    let once = session(&proxy, server, Some(0), DataMode::Auto);
    let retrying = session(&proxy, server, None, DataMode::Auto);
    let mut fired = 0;
    let mut expect_fired = || {
        fired += 1;
        assert_eq!(proxy.fired(), fired, "the truncation happened");
    };

    // Downloads.
    proxy.truncate_after(Dir::Download, CUT_AT);
    let e = once
        .download(&remote, &target, DownloadOptions::default())
        .expect_err("a truncated download must fail");
    expect_fired();
    assert_cut_error(&e);
    assert_eq!(local_names(&local), vec!["src.bin"], "no file left");

    proxy.truncate_after(Dir::Download, CUT_AT);
    let e = once
        .read_bytes(&remote)
        .map(|d| d.len())
        .expect_err("a truncated read must fail");
    expect_fired();
    assert_cut_error(&e);

    proxy.truncate_after(Dir::Download, CUT_AT);
    let mut r = once.open_read(&remote).unwrap();
    let mut got = Vec::new();
    let read = r.read_to_end(&mut got);
    let finished = r.finish();
    expect_fired();
    assert!(
        read.is_err() || finished.is_err(),
        "a truncated stream finished cleanly after {} bytes",
        got.len()
    );

    proxy.truncate_after(Dir::Download, CUT_AT);
    let mut sink = Vec::new();
    let e = common::run(once.as_async().download_to(&remote, &mut sink))
        .expect_err("a truncated download must fail");
    expect_fired();
    assert_cut_error(&e);
    assert!(
        !e.may_have_taken_effect(),
        "a read changes nothing on the server: {e}"
    );

    for _ in 0..2 {
        proxy.truncate_after(Dir::Download, CUT_AT);
        s_download_exact(&retrying, &remote, &target, &want);
        expect_fired();
    }
    proxy.truncate_after(Dir::Download, CUT_AT);
    assert_eq!(sha256(&retrying.read_bytes(&remote).unwrap()), want);
    expect_fired();

    // Uploads: the server holds a short file and said 226.
    let up = |name: &str| format!("{dir}/{name}");
    proxy.truncate_after(Dir::Upload, CUT_AT);
    let e = once
        .upload(&src, &up("plain.bin"), UploadOptions::default())
        .expect_err("a truncated upload must fail");
    expect_fired();
    assert_cut_error(&e);
    assert!(e.may_have_taken_effect(), "{e}");

    proxy.truncate_after(Dir::Upload, CUT_AT);
    let e = once
        .upload(
            &src,
            &up("atomic.bin"),
            UploadOptions::default().atomic(true),
        )
        .expect_err("a truncated upload must fail");
    expect_fired();
    assert_cut_error(&e);
    assert!(!root.join("atomic.bin").exists(), "no partial final file");

    proxy.truncate_after(Dir::Upload, CUT_AT);
    let e = once
        .write_bytes(&up("bytes.bin"), &body)
        .expect_err("a truncated upload must fail");
    expect_fired();
    assert_cut_error(&e);
    assert!(e.may_have_taken_effect(), "{e}");

    proxy.truncate_after(Dir::Upload, CUT_AT);
    let e = common::run(once.as_async().upload_from(&mut &body[..], &up("from.bin")))
        .expect_err("a truncated upload must fail");
    expect_fired();
    assert_cut_error(&e);
    assert!(e.may_have_taken_effect(), "{e}");

    proxy.truncate_after(Dir::Upload, CUT_AT);
    let mut w = once.open_write(&up("stream.bin")).unwrap();
    let written = std::io::Write::write_all(&mut w, &body);
    let finished = w.finish();
    expect_fired();
    let e = finished.expect_err("a truncated upload stream must not finish cleanly");
    assert!(
        written.is_ok(),
        "the truncation drains the client's bytes: {written:?}"
    );
    assert_cut_error(&e);
    assert!(e.may_have_taken_effect(), "{e}");

    proxy.truncate_after(Dir::Upload, CUT_AT);
    let opts = UploadOptions::default().atomic(true).resume(true);
    retrying.upload(&src, &up("resumed.bin"), opts).unwrap();
    expect_fired();
    assert_eq!(file_sha(&root.join("resumed.bin")), want);

    // Both sessions work.
    for s in [&once, &retrying] {
        s.upload(&src, &up("plain.bin"), UploadOptions::default())
            .unwrap();
        assert_eq!(file_sha(&root.join("plain.bin")), want);
        s_download_exact(s, &remote, &target, &want);
    }
    assert!(!proxy.armed());
}
on_servers!(truncated, truncated_transfer);

/// Downloads `remote` to `target` and checks the bytes; removes the file again.
fn s_download_exact(s: &Session, remote: &str, target: &Path, want: &str) {
    s.download(remote, target, DownloadOptions::default())
        .unwrap();
    assert_eq!(file_sha(target), want);
    std::fs::remove_file(target).unwrap();
}
