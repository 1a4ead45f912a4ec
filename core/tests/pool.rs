//! The pool and its batch transfers, against real servers.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{Kind, Scratch, Server, data, run};
use ferroftp::{BatchOptions, BatchProgress, ErrorKind, Pool, PoolOptions};

fn tmpdir(name: &str) -> Scratch {
    Scratch::new(&format!("pool-{name}"))
}

fn pool(server: &Server, max: usize) -> Pool {
    let mut options = PoolOptions::default();
    options.max_sessions = max;
    Pool::with_options(server.config(), options).unwrap()
}

fn content(i: usize) -> Vec<u8> {
    data(1 + (i * 389) % 8192, i as u64)
}

/// 1000 files up, then down, with 8 sessions; every byte checked on both sides.
fn thousand_files(server: &'static Server) {
    let (dir, remote_local) = server.dir("thousand");
    let src = tmpdir(&format!("src-{}", server.kind.name()));
    let items: Vec<_> = (0..1000)
        .map(|i| {
            let p = src.join(format!("f{i:04}"));
            std::fs::write(&p, content(i)).unwrap();
            (p, format!("{dir}/f{i:04}"))
        })
        .collect();
    let p = pool(server, 8);
    let up = run(p.upload_many(items, BatchOptions::default()));
    assert!(up.is_ok(), "{:?}", up.failed.first());
    assert_eq!(up.ok.len(), 1000);
    for i in 0..1000 {
        assert_eq!(
            std::fs::read(remote_local.join(format!("f{i:04}"))).unwrap(),
            content(i),
            "up {i}"
        );
    }
    assert!(p.open_sessions() <= 8);
    let dst = tmpdir(&format!("dst-{}", server.kind.name()));
    let items: Vec<_> = (0..1000)
        .map(|i| (format!("{dir}/f{i:04}"), dst.join(format!("f{i:04}"))))
        .collect();
    let down = run(p.download_many(items, BatchOptions::default()));
    assert!(down.is_ok(), "{:?}", down.failed.first());
    for i in 0..1000 {
        assert_eq!(
            std::fs::read(dst.join(format!("f{i:04}"))).unwrap(),
            content(i),
            "down {i}"
        );
    }
    run(p.close());
}
on_servers!(thousand_files_both_ways, thousand_files);

/// A server allowing 3 connections and a pool of 10: every file arrives, no error surfaces.
fn limited_server(kind: Kind) {
    let server = Server::start(kind, &["--max-cons", "3"]);
    let (dir, _) = server.dir("limited");
    for i in 0..200 {
        server.put(&format!("limited/f{i:03}"), &content(i));
    }
    let p = pool(&server, 10);
    let dst = tmpdir(&format!("limited-{}", kind.name()));
    let items: Vec<_> = (0..200)
        .map(|i| (format!("{dir}/f{i:03}"), dst.join(format!("f{i:03}"))))
        .collect();
    let result = run(p.download_many(items, BatchOptions::default()));
    assert!(result.is_ok(), "{:?}", result.failed.first());
    assert_eq!(result.ok.len(), 200);
    for i in 0..200 {
        assert_eq!(
            std::fs::read(dst.join(format!("f{i:03}"))).unwrap(),
            content(i)
        );
    }
    assert!(p.limit() <= 3, "limit {}", p.limit());
    assert!(p.open_sessions() <= 3);
}

#[test]
fn pool_of_10_against_3_connections_pyftpdlib() {
    limited_server(Kind::Pyftpdlib);
}

#[test]
fn pool_of_10_against_3_connections_vsftpd() {
    limited_server(Kind::Vsftpd);
}

/// A session's connection is killed in the middle of a batch: the batch still completes.
#[test]
fn connection_killed_mid_batch() {
    let server = Arc::new(Server::start(Kind::Vsftpd, &[]));
    let (dir, _) = server.dir("killed");
    for i in 0..300 {
        server.put(&format!("killed/f{i:03}"), &data(50_000, i as u64));
    }
    let p = pool(&server, 4);
    let dst = tmpdir("killed");
    let killed = Arc::new(AtomicBool::new(false));
    let (srv, k) = (server.clone(), killed.clone());
    let opts = BatchOptions::default().progress(move |pr: BatchProgress| {
        if pr.files_done >= 100 && !k.swap(true, Ordering::SeqCst) {
            assert!(srv.kill_one_session());
        }
    });
    let items: Vec<_> = (0..300)
        .map(|i| (format!("{dir}/f{i:03}"), dst.join(format!("f{i:03}"))))
        .collect();
    let result = run(p.download_many(items, opts));
    assert!(killed.load(Ordering::SeqCst));
    assert!(result.is_ok(), "{:?}", result.failed.first());
    for i in 0..300 {
        assert_eq!(
            std::fs::read(dst.join(format!("f{i:03}"))).unwrap(),
            data(50_000, i as u64)
        );
    }
}

/// Trees both ways; progress never goes back and ends at the exact totals; a second mirror
/// skips everything.
fn trees(server: &'static Server) {
    let (dir, remote_local) = server.dir("tree");
    let mut expected = Vec::new();
    for (i, rel) in [
        "a/x.bin",
        "a/b/y.bin",
        "a/b/c/z.bin",
        "top.bin",
        "d/e/f/g/deep.bin",
    ]
    .iter()
    .enumerate()
    {
        let bytes = data(10_000 * (i + 1), 100 + i as u64);
        server.put(&format!("tree/{rel}"), &bytes);
        expected.push((rel.to_string(), bytes));
    }
    server.dir("tree/empty");
    let total: u64 = expected.iter().map(|(_, b)| b.len() as u64).sum();
    let p = pool(server, 3);
    let dst = tmpdir(&format!("tree-{}", server.kind.name()));
    let seen = Arc::new(Mutex::new(Vec::<BatchProgress>::new()));
    let s2 = seen.clone();
    let opts = BatchOptions::default().progress(move |pr| s2.lock().unwrap().push(pr));
    let result = run(p.download_tree(&dir, &dst, opts)).unwrap();
    assert!(result.is_ok(), "{:?}", result.failed.first());
    assert_eq!(result.ok.len(), expected.len());
    for (rel, bytes) in &expected {
        assert_eq!(&std::fs::read(dst.join(rel)).unwrap(), bytes, "{rel}");
    }
    assert!(dst.join("empty").is_dir());
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.windows(2)
            .all(|w| w[0].bytes_done <= w[1].bytes_done && w[0].files_done <= w[1].files_done)
    );
    let last = seen.last().unwrap();
    assert_eq!((last.files_done, last.files_total), (5, 5));
    assert_eq!((last.bytes_done, last.bytes_total), (total, Some(total)));

    // mirror again: everything matches already
    let again =
        run(p.download_tree(&dir, &dst, BatchOptions::default().skip_existing(true))).unwrap();
    assert_eq!((again.ok.len(), again.skipped.len()), (0, 5));

    // and back up under another name
    let back = format!("{dir}-copy");
    let up = run(p.upload_tree(&dst, &back, BatchOptions::default())).unwrap();
    assert!(up.is_ok(), "{:?}", up.failed.first());
    let copy_local = remote_local.with_file_name("tree-copy");
    for (rel, bytes) in &expected {
        assert_eq!(
            &std::fs::read(copy_local.join(rel)).unwrap(),
            bytes,
            "{rel}"
        );
    }
    assert!(copy_local.join("empty").is_dir());
    let again =
        run(p.upload_tree(&dst, &back, BatchOptions::default().skip_existing(true))).unwrap();
    assert_eq!((again.ok.len(), again.skipped.len()), (0, 5));

    // a local tree that does not exist: NotFound, as for a single upload
    let e = run(p.upload_tree(dst.join("absent"), &back, BatchOptions::default())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}
on_servers!(trees_both_ways, trees);

/// One missing file fails alone; the others succeed.
fn missing_file(server: &'static Server) {
    let (dir, _) = server.dir("missing");
    for i in 0..20 {
        server.put(&format!("missing/f{i:02}"), &content(i));
    }
    let p = pool(server, 4);
    let dst = tmpdir(&format!("missing-{}", server.kind.name()));
    let mut items: Vec<_> = (0..20)
        .map(|i| (format!("{dir}/f{i:02}"), dst.join(format!("f{i:02}"))))
        .collect();
    items.insert(7, (format!("{dir}/nope"), dst.join("nope")));
    let result = run(p.download_many(items, BatchOptions::default()));
    assert_eq!(result.ok.len(), 20);
    assert_eq!(result.failed.len(), 1);
    let (path, e) = &result.failed[0];
    assert_eq!(path, &format!("{dir}/nope"));
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(!dst.join("nope").exists());
}
on_servers!(missing_file_fails_alone, missing_file);

/// Reads over the pool: a ranged read and a whole file on a borrowed session, and 60 reads
/// fanned out over 3 sessions (whole files, ranges, a range past the end, an empty one, a
/// missing file), each result in its place and right to the byte; the pool stays usable.
fn pool_reads(server: &'static Server) {
    let (dir, _) = server.dir("reads");
    for i in 0..20 {
        server.put(&format!("reads/f{i:02}"), &content(i));
    }
    let p = pool(server, 3);
    let f = |i: usize| format!("{dir}/f{i:02}");
    let (range, whole) = run(async {
        (
            p.read_range(&f(5), 100, 1000).await.unwrap(),
            p.read_bytes(&f(6)).await.unwrap(),
        )
    });
    assert!(range == content(5)[100..1100], "read_range");
    assert!(whole == content(6), "read_bytes");

    let mut reads = Vec::new();
    let mut want: Vec<Option<Vec<u8>>> = Vec::new();
    for i in 0..60 {
        let n = i % 20;
        let c = content(n);
        match i % 5 {
            0 => {
                reads.push((f(n), 0, None));
                want.push(Some(c));
            }
            1 => {
                let off = (i * 37 % c.len()) as u64;
                reads.push((f(n), off, Some(500)));
                let end = (off as usize + 500).min(c.len());
                want.push(Some(c[off as usize..end].to_vec()));
            }
            2 => {
                reads.push((f(n), c.len() as u64 + 10, Some(100)));
                want.push(Some(Vec::new()));
            }
            3 => {
                reads.push((f(n), 3, Some(0)));
                want.push(Some(Vec::new()));
            }
            _ => {
                reads.push((format!("{dir}/missing-{i}"), 0, None));
                want.push(None);
            }
        }
    }
    let got = run(p.read_many(reads.clone()));
    assert_eq!(got.len(), want.len());
    for ((read, got), want) in reads.iter().zip(&got).zip(&want) {
        match (got, want) {
            (Ok(bytes), Some(w)) => assert!(bytes == w, "{read:?}: wrong bytes"),
            (Err(e), None) => assert_eq!(e.kind(), ErrorKind::NotFound, "{read:?}: {e}"),
            (got, want) => panic!("{read:?}: got {got:?}, want {}", want.is_some()),
        }
    }
    assert!(p.open_sessions() <= 3, "{}", p.open_sessions());
    assert!(run(p.read_bytes(&f(0))).unwrap() == content(0));
    run(p.close());
}
on_servers!(reads_over_the_pool, pool_reads);

/// Batches check every file with a checksum when asked: an honest server passes them all; a
/// server whose digests are wrong fails every file with `Integrity`, and no download is left.
#[test]
fn batches_with_checksums() {
    use ferroftp::{Checksum, HashAlgorithm};
    for (args, lying) in [
        (&["--hash"][..], false),
        (&["--hash", "--hash-lie"][..], true),
    ] {
        let server = Server::start(Kind::Pyftpdlib, args);
        let (dir, remote_local) = server.dir("sums");
        let src = tmpdir(&format!("sums-src-{lying}"));
        let dst = tmpdir(&format!("sums-dst-{lying}"));
        let names: Vec<String> = (0..20).map(|i| format!("s{i:02}")).collect();
        for (i, n) in names.iter().enumerate() {
            std::fs::write(src.join(n), content(i)).unwrap();
        }
        let p = pool(&server, 4);
        let up = run(p.upload_many(
            names
                .iter()
                .map(|n| (src.join(n), format!("{dir}/{n}")))
                .collect(),
            BatchOptions::default().checksum(Checksum::Only(HashAlgorithm::Sha256)),
        ));
        let down = run(p.download_many(
            names
                .iter()
                .map(|n| (format!("{dir}/{n}"), dst.join(n)))
                .collect(),
            BatchOptions::default().checksum(Checksum::Required),
        ));
        if lying {
            assert_eq!((up.ok.len(), up.failed.len()), (0, 20));
            assert_eq!((down.ok.len(), down.failed.len()), (0, 20));
            for (path, e) in up.failed.iter().chain(&down.failed) {
                assert_eq!(e.kind(), ErrorKind::Integrity, "{path}: {e}");
            }
            for n in &names {
                assert!(
                    !dst.join(n).exists(),
                    "{n}: a download failing its checksum is gone"
                );
            }
        } else {
            assert!(up.is_ok() && down.is_ok(), "{:?}", up.failed.first());
            for (i, n) in names.iter().enumerate() {
                assert_eq!(std::fs::read(remote_local.join(n)).unwrap(), content(i));
                assert_eq!(std::fs::read(dst.join(n)).unwrap(), content(i));
            }
        }
        run(p.close());
    }
}
