//! Checksum verification of transfers (`Checksum`): against pyftpdlib extended with real HASH and
//! X-command implementations (`serve.py --hash`, `--hash-x-only`), against the same servers
//! lying about every digest (`--hash-lie`), and against vsftpd, which offers no checksum.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::{Kind, Server, data, run};
use ferroftp::{Checksum, DownloadOptions, ErrorKind, HashAlgorithm, Session, UploadOptions};

/// HASH (and the X commands), honest.
fn hash_server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| Server::start(Kind::Pyftpdlib, &["--hash"]))
}

/// Only the X commands, honest.
fn x_server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| Server::start(Kind::Pyftpdlib, &["--hash-x-only"]))
}

/// HASH (and the X commands), every digest wrong.
fn lying_hash_server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| Server::start(Kind::Pyftpdlib, &["--hash", "--hash-lie"]))
}

/// Only the X commands, every digest wrong.
fn lying_x_server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| Server::start(Kind::Pyftpdlib, &["--hash-x-only", "--hash-lie"]))
}

/// The command a server offering only X commands answers for `alg`.
fn x_verb(alg: HashAlgorithm) -> &'static str {
    match alg {
        HashAlgorithm::Sha256 => "XSHA256",
        HashAlgorithm::Sha512 => "XSHA512",
        HashAlgorithm::Sha1 => "XSHA1",
        HashAlgorithm::Md5 => "XMD5",
        _ => "XCRC",
    }
}

/// The names in a local directory, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn down(c: Checksum) -> DownloadOptions {
    DownloadOptions::default().checksum(c)
}

fn up(c: Checksum) -> UploadOptions {
    UploadOptions::default().checksum(c)
}

/// Every algorithm, up and down, on one session (so HASH's selected algorithm changes with
/// OPTS HASH between transfers: a client that lost track would get another algorithm's digest
/// and fail), then the automatic choices.
fn every_algorithm_round_trips(server: &'static Server, name: &str) {
    let (dir, remote_dir) = server.dir(name);
    let tmp = server.scratch(name);
    run(async move {
        let s = Session::connect_with(server.config()).await.unwrap();
        let wanted = HashAlgorithm::ALL.map(Checksum::Only).into_iter().chain([
            Checksum::IfAvailable,
            Checksum::Required,
            Checksum::Only(HashAlgorithm::Sha256),
        ]);
        for (i, checksum) in wanted.enumerate() {
            let payload = data(300_000 + i, i as u64 + 10);
            let source = tmp.join(format!("src{i}.bin"));
            std::fs::write(&source, &payload).unwrap();
            let remote = format!("{dir}/file {i}.bin");
            let sent = s.upload(&source, &remote, up(checksum)).await;
            assert_eq!(sent.unwrap(), payload.len() as u64, "{checksum:?}");
            assert_eq!(
                std::fs::read(remote_dir.join(format!("file {i}.bin"))).unwrap(),
                payload
            );
            let target = tmp.join(format!("down{i}.bin"));
            let got = s.download(&remote, &target, down(checksum)).await;
            assert_eq!(got.unwrap(), payload.len() as u64, "{checksum:?}");
            assert_eq!(std::fs::read(&target).unwrap(), payload, "{checksum:?}");
        }
        // an atomic upload is verified under its temporary name, then renamed
        let source = tmp.join("src0.bin");
        let opts = up(Checksum::Required).atomic(true);
        s.upload(&source, &format!("{dir}/atomic.bin"), opts)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(remote_dir.join("atomic.bin")).unwrap(),
            std::fs::read(&source).unwrap()
        );
        // an empty file has a digest too
        std::fs::write(tmp.join("empty"), b"").unwrap();
        s.upload(
            tmp.join("empty"),
            &format!("{dir}/empty"),
            up(Checksum::Required),
        )
        .await
        .unwrap();
        s.download(
            &format!("{dir}/empty"),
            tmp.join("empty.down"),
            down(Checksum::Required),
        )
        .await
        .unwrap();
        assert_eq!(std::fs::read(tmp.join("empty.down")).unwrap(), b"");
    });
}

#[test]
fn every_algorithm_by_hash() {
    every_algorithm_round_trips(hash_server(), "round_trip_hash");
}

#[test]
fn every_algorithm_by_x_commands() {
    every_algorithm_round_trips(x_server(), "round_trip_x");
}

/// A wrong digest fails every download with `Integrity`, naming the algorithm and command, and
/// leaves no file that looks complete: the target keeps its old content, no part file stays.
fn lying_downloads(server: &'static Server, name: &str, verb: fn(HashAlgorithm) -> &'static str) {
    let (dir, _) = server.dir(name);
    let payload = data(200_000, 3);
    server.put(&format!("{name}/f.bin"), &payload);
    let tmp = server.scratch(name);
    run(async move {
        let s = Session::connect_with(server.config()).await.unwrap();
        let remote = format!("{dir}/f.bin");
        let target = tmp.join("f.bin");
        std::fs::write(&target, b"old").unwrap();
        for alg in HashAlgorithm::ALL {
            for resume in [false, true] {
                let opts = down(Checksum::Only(alg)).resume(resume);
                let e = s.download(&remote, &target, opts).await.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Integrity, "{alg} resume={resume}: {e}");
                let m = e.message();
                assert!(m.contains("checksum mismatch"), "{m}");
                assert!(m.contains(alg.name()) && m.contains(verb(alg)), "{m}");
                assert!(m.contains("discarded"), "{m}");
                assert_eq!(
                    std::fs::read(&target).unwrap(),
                    b"old",
                    "{alg} resume={resume}"
                );
                assert_eq!(names_in(&tmp), ["f.bin"], "{alg} resume={resume}");
            }
        }
        // the automatic choice compares too; a new target is not created at all
        let fresh = tmp.join("new.bin");
        for c in [Checksum::IfAvailable, Checksum::Required] {
            let e = s.download(&remote, &fresh, down(c)).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
            assert!(e.message().contains(verb(HashAlgorithm::Sha256)), "{e}");
        }
        assert_eq!(names_in(&tmp), ["f.bin"]);
        // written directly to a device: the error says so
        let e = s
            .download(&remote, "/dev/null", down(Checksum::Required))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
        assert!(e.message().contains("/dev/null directly"), "{e}");
        // the session goes on; without a checksum the same download succeeds
        let n = s
            .download(&remote, &fresh, DownloadOptions::default())
            .await;
        assert_eq!(n.unwrap(), 200_000);
        assert_eq!(std::fs::read(&fresh).unwrap(), payload);
    });
}

#[test]
fn lying_hash_server_fails_downloads() {
    lying_downloads(lying_hash_server(), "lie_down_hash", |_| "HASH");
}

#[test]
fn lying_x_server_fails_downloads() {
    lying_downloads(lying_x_server(), "lie_down_x", x_verb);
}

/// A wrong digest fails uploads with `Integrity`: a plain upload says the remote file is left as
/// stored; an atomic one removes its temporary file and leaves the target as it was.
fn lying_uploads(server: &'static Server, name: &str) {
    let (dir, remote_dir) = server.dir(name);
    server.put(&format!("{name}/kept.bin"), b"old");
    let tmp = server.scratch(name);
    let payload = data(150_000, 4);
    let source = tmp.join("src.bin");
    std::fs::write(&source, &payload).unwrap();
    run(async move {
        let s = Session::connect_with(server.config()).await.unwrap();
        let plain = format!("{dir}/plain.bin");
        let e = s
            .upload(&source, &plain, up(Checksum::Required))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
        assert!(e.message().contains("checksum mismatch"), "{e}");
        assert!(
            e.message()
                .contains(&format!("{plain} is left as the server stored it")),
            "{e}"
        );
        assert!(!e.may_have_taken_effect(), "{e}");
        assert_eq!(
            std::fs::read(remote_dir.join("plain.bin")).unwrap(),
            payload
        );

        let kept = format!("{dir}/kept.bin");
        for resume in [false, true] {
            let opts = up(Checksum::IfAvailable).atomic(true).resume(resume);
            let e = s.upload(&source, &kept, opts).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Integrity, "resume={resume}: {e}");
            assert!(e.message().contains("was removed"), "{e}");
            assert_eq!(std::fs::read(remote_dir.join("kept.bin")).unwrap(), b"old");
            assert_eq!(
                names_in(&remote_dir),
                ["kept.bin", "plain.bin"],
                "resume={resume}"
            );
        }
        // the session goes on
        assert_eq!(s.size(&kept).await.unwrap(), 3);
    });
}

#[test]
fn lying_hash_server_fails_uploads() {
    lying_uploads(lying_hash_server(), "lie_up_hash");
}

#[test]
fn lying_x_server_fails_uploads() {
    lying_uploads(lying_x_server(), "lie_up_x");
}

/// A resumed transfer's digest covers the part an earlier attempt moved: a good prefix passes,
/// a corrupt one is caught (and its part file is not kept for another resume).
#[test]
fn resumed_transfers_cover_the_earlier_part() {
    let server = hash_server();
    let name = "resume_hash";
    let (dir, remote_dir) = server.dir(name);
    let payload = data(1_000_000, 5);
    server.put(&format!("{name}/big.bin"), &payload);
    let tmp = server.scratch(name);
    run(async move {
        let s = Session::connect_with(server.config()).await.unwrap();
        let remote = format!("{dir}/big.bin");
        let target = tmp.join("big.bin");
        let part = tmp.join(".big.bin.ferroftp-part");
        let opts = || down(Checksum::Required).resume(true);

        std::fs::write(&part, &payload[..400_000]).unwrap();
        assert_eq!(s.download(&remote, &target, opts()).await.unwrap(), 600_000);
        assert_eq!(std::fs::read(&target).unwrap(), payload);
        std::fs::remove_file(&target).unwrap();

        let mut bad = payload[..400_000].to_vec();
        bad[123_456] ^= 1;
        std::fs::write(&part, &bad).unwrap();
        let e = s.download(&remote, &target, opts()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
        assert!(names_in(&tmp).is_empty(), "{:?}", names_in(&tmp));

        // uploads: the server already has a prefix
        let source = tmp.join("src.bin");
        std::fs::write(&source, &payload).unwrap();
        let up_opts = || up(Checksum::Required).resume(true);
        let dest = format!("{dir}/up.bin");
        server.put(&format!("{name}/up.bin"), &payload[..400_000]);
        assert_eq!(s.upload(&source, &dest, up_opts()).await.unwrap(), 600_000);
        assert_eq!(std::fs::read(remote_dir.join("up.bin")).unwrap(), payload);

        server.put(&format!("{name}/up.bin"), &bad);
        let e = s.upload(&source, &dest, up_opts()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
        assert!(
            e.message().contains("resuming would keep its bad data"),
            "{e}"
        );
        // everything was there already: only the digest is compared
        std::fs::write(remote_dir.join("up.bin"), &payload).unwrap();
        assert_eq!(s.upload(&source, &dest, up_opts()).await.unwrap(), 0);
        std::fs::write(remote_dir.join("up.bin"), &bad[..]).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(remote_dir.join("up.bin"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, &payload[400_000..]))
            .unwrap();
        let e = s.upload(&source, &dest, up_opts()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
    });
}

/// vsftpd offers no checksum: "if available" transfers as usual, "required" (or one algorithm)
/// fails before any data moves, leaving nothing behind, and the session stays usable.
#[test]
fn vsftpd_offers_no_checksum() {
    let server = Server::shared(Kind::Vsftpd);
    let name = "no_checksum";
    let (dir, remote_dir) = server.dir(name);
    let payload = data(100_000, 6);
    server.put(&format!("{name}/f.bin"), &payload);
    let tmp = server.scratch(name);
    run(async move {
        let s = Session::connect_with(server.config()).await.unwrap();
        let remote = format!("{dir}/f.bin");
        let target = tmp.join("f.bin");
        let n = s
            .download(&remote, &target, down(Checksum::IfAvailable))
            .await;
        assert_eq!(n.unwrap(), 100_000);
        assert_eq!(std::fs::read(&target).unwrap(), payload);
        let copy = format!("{dir}/copy.bin");
        let n = s.upload(&target, &copy, up(Checksum::IfAvailable)).await;
        assert_eq!(n.unwrap(), 100_000);
        assert_eq!(std::fs::read(remote_dir.join("copy.bin")).unwrap(), payload);

        let missing = tmp.join("missing.bin");
        for c in [Checksum::Required, Checksum::Only(HashAlgorithm::Crc32)] {
            let e = s.download(&remote, &missing, down(c)).await.unwrap_err();
            assert_eq!((e.kind(), e.code()), (ErrorKind::Permanent, None), "{e}");
            assert!(e.message().contains("a checksum is required"), "{e}");
            assert_eq!(names_in(&tmp), ["f.bin"]);
            let e = s
                .upload(&target, &format!("{dir}/never.bin"), up(c).atomic(true))
                .await
                .unwrap_err();
            assert_eq!((e.kind(), e.code()), (ErrorKind::Permanent, None), "{e}");
            assert!(!e.may_have_taken_effect(), "{e}");
            assert_eq!(names_in(&remote_dir), ["copy.bin", "f.bin"]);
        }
        let e = s
            .download(&remote, &missing, down(Checksum::Required))
            .await
            .unwrap_err();
        assert!(e.message().contains("FEAT lists no HASH"), "{e}");
        let e = s
            .download(&remote, &missing, down(Checksum::Only(HashAlgorithm::Md5)))
            .await
            .unwrap_err();
        assert!(e.message().contains("no MD5 checksum"), "{e}");
        assert_eq!(s.size(&remote).await.unwrap(), 100_000);
    });
}
