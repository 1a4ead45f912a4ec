//! Trees walked while their files move (`Pool::download_tree`, `Pool::upload_tree`): a tree of
//! 31 directories, 4 levels deep with empty ones, and 312 files, both ways against pyftpdlib
//! and vsftpd (directly and through a latency proxy), with pipelining on and off. Every byte
//! checked; from the client's protocol log: each directory listed (and made) exactly once, a
//! directory's files stored only after its MKD, the work spread over several sessions, no
//! `RETR` sent ahead ever given up. Then failures amid a walk (an unreadable subdirectory, a
//! file that cannot be read, a directory that cannot be made, a file that cannot be stored),
//! with and without `stop_on_error`, and `skip_existing` both ways.
//!
//! A test binary of its own: it installs the process-wide `log` logger to read what the client
//! sent.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{Kind, Server, data, run};
use ferroftp::{BatchOptions, BatchProgress, ErrorKind, Pool, PoolOptions};

/// What the client logged, in order: commands sent (`OUT <line>`), `LOGIN`, `GIVEUP`, `AHEAD`.
static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let text = record.args().to_string();
        let event = if let Some(line) = text.strip_prefix("CC OUT: ") {
            let verb = line.split(' ').next().unwrap_or_default();
            if !matches!(verb, "MLSD" | "LIST" | "MKD" | "STOR" | "RETR") {
                return;
            }
            format!("OUT {line}")
        } else if text.starts_with("logged in to") {
            "LOGIN".to_string()
        } else if text.starts_with("giving up RETR") {
            "GIVEUP".to_string()
        } else if text.starts_with("EPSV command, ahead") {
            "AHEAD".to_string()
        } else {
            return;
        };
        EVENTS.lock().unwrap().push(event);
    }

    fn flush(&self) {}
}

/// Installs the recording logger (once) and runs the calling test alone: the log is
/// process-wide.
fn recording() -> std::sync::MutexGuard<'static, ()> {
    static ALONE: Mutex<()> = Mutex::new(());
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&Recorder).expect("the only logger");
        log::set_max_level(log::LevelFilter::Trace);
    });
    ALONE.lock().unwrap_or_else(|p| p.into_inner())
}

fn take_events() -> Vec<String> {
    std::mem::take(&mut *EVENTS.lock().unwrap())
}

/// How many times each path was the argument of `verbs` (e.g. `["MLSD", "LIST"]`).
fn per_path(events: &[String], verbs: &[&str]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for e in events {
        if let Some(line) = e.strip_prefix("OUT ")
            && let Some((verb, path)) = line.split_once(' ')
            && verbs.contains(&verb)
        {
            *out.entry(path.to_string()).or_insert(0) += 1;
        }
    }
    out
}

fn count(events: &[String], what: &str) -> usize {
    events.iter().filter(|e| *e == what).count()
}

/// The tree, relative to its top: (directories, files with their contents). `a0`…`a4`, each
/// with `b0`…`b2`, each `b0` with `c0`, `c1`; every `b2` empty; 12 files in each other
/// directory, the top included.
fn tree() -> (Vec<String>, Vec<(String, Vec<u8>)>) {
    let mut dirs = vec![String::new()];
    for a in 0..5 {
        dirs.push(format!("a{a}"));
        for b in 0..3 {
            dirs.push(format!("a{a}/b{b}"));
        }
        for c in 0..2 {
            dirs.push(format!("a{a}/b0/c{c}"));
        }
    }
    let mut files = Vec::new();
    for (d, dir) in dirs.iter().enumerate() {
        if dir.ends_with("b2") {
            continue;
        }
        for i in 0..12 {
            let seed = (d * 100 + i) as u64;
            let len = if i == 5 {
                150_000
            } else {
                (seed as usize * 977) % 9000
            };
            let rel = if dir.is_empty() {
                format!("f{i:02}.bin")
            } else {
                format!("{dir}/f{i:02}.bin")
            };
            files.push((rel, data(len, seed)));
        }
    }
    (dirs, files)
}

fn pool(server: &Server, max: usize, pipelining: bool) -> Pool {
    let mut options = PoolOptions::default();
    options.max_sessions = max;
    let mut config = server.config();
    config.pipelining = pipelining;
    Pool::with_options(config, options).unwrap()
}

fn remote_of(top: &str, rel: &str) -> String {
    if rel.is_empty() {
        top.to_string()
    } else {
        format!("{top}/{rel}")
    }
}

fn check_progress(seen: &[BatchProgress], files: usize, bytes: u64) {
    assert!(
        seen.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done
            && w[0].files_done <= w[1].files_done
            && w[0].files_total <= w[1].files_total),
        "progress went back"
    );
    assert!(seen.iter().all(|p| p.files_done <= p.files_total));
    let last = seen.last().expect("progress reported");
    assert_eq!((last.files_done, last.files_total), (files, files));
    assert_eq!((last.bytes_done, last.bytes_total), (bytes, Some(bytes)));
}

fn recorder() -> (Arc<Mutex<Vec<BatchProgress>>>, BatchOptions) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let opts = BatchOptions::default().progress(move |p| s2.lock().unwrap().push(p));
    (seen, opts)
}

/// The whole tree down and back up with 4 sessions, then both again with `skip_existing`.
fn both_ways(server: &Server, pipelining: bool) {
    let tag = format!("walk-{}", if pipelining { "pipe" } else { "nopipe" });
    let (dirs, files) = tree();
    let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    let (top, _) = server.dir(&tag);
    for (rel, bytes) in &files {
        server.put(&format!("{tag}/{rel}"), bytes);
    }
    for d in dirs.iter().filter(|d| d.ends_with("b2")) {
        server.dir(&format!("{tag}/{d}"));
    }
    let p = pool(server, 4, pipelining);
    let local = server.scratch(&tag);
    let what = format!("{:?}, pipelining {pipelining}", server.kind.name());

    // Down.
    take_events();
    let (seen, opts) = recorder();
    let result = run(p.download_tree(&top, local.path_buf(), opts)).unwrap();
    let events = take_events();
    assert!(result.is_ok(), "{what}: {:?}", result.failed.first());
    assert_eq!(result.ok.len(), files.len(), "{what}");
    for (rel, bytes) in &files {
        assert!(
            &std::fs::read(local.join(rel)).unwrap() == bytes,
            "{what}: {rel}"
        );
    }
    for d in &dirs {
        assert!(local.join(d).is_dir(), "{what}: {d}");
    }
    check_progress(&seen.lock().unwrap(), files.len(), total);
    let listed = per_path(&events, &["MLSD", "LIST"]);
    assert_eq!(listed.len(), dirs.len(), "{what}: {listed:?}");
    for d in &dirs {
        assert_eq!(
            listed.get(&remote_of(&top, d)),
            Some(&1),
            "{what}: {d} listed once"
        );
    }
    let logins = count(&events, "LOGIN");
    assert!((2..=4).contains(&logins), "{what}: {logins} sessions");
    assert_eq!(
        count(&events, "GIVEUP"),
        0,
        "{what}: a RETR sent ahead was given up"
    );
    if !pipelining {
        assert_eq!(count(&events, "AHEAD"), 0, "{what}");
    }

    // Up, under another name.
    let up_top = format!("{top}-up");
    let up_local = server.root.join(format!("{tag}-up"));
    let _ = std::fs::remove_dir_all(&up_local);
    let (seen, opts) = recorder();
    let result = run(p.upload_tree(local.path_buf(), &up_top, opts)).unwrap();
    let events = take_events();
    assert!(result.is_ok(), "{what}: {:?}", result.failed.first());
    assert_eq!(result.ok.len(), files.len(), "{what}");
    for (rel, bytes) in &files {
        assert!(
            &std::fs::read(up_local.join(rel)).unwrap() == bytes,
            "{what}: up {rel}"
        );
    }
    for d in &dirs {
        assert!(up_local.join(d).is_dir(), "{what}: up {d}");
    }
    check_progress(&seen.lock().unwrap(), files.len(), total);
    let made = per_path(&events, &["MKD"]);
    for d in &dirs {
        assert_eq!(
            made.get(&remote_of(&up_top, d)),
            Some(&1),
            "{what}: {d} made once"
        );
    }
    // Each file stored after its directory was made.
    let mut made_so_far = std::collections::HashSet::new();
    for e in &events {
        if let Some(path) = e.strip_prefix("OUT MKD ") {
            made_so_far.insert(path.to_string());
        } else if let Some(path) = e.strip_prefix("OUT STOR ") {
            let parent = Path::new(path).parent().unwrap().to_str().unwrap();
            assert!(
                made_so_far.contains(parent),
                "{what}: {path} before its MKD"
            );
        }
    }
    assert!(count(&events, "LOGIN") <= 4, "{what}");

    // Both again: everything matches, each directory listed once, none made again but the top.
    let again = run(p.download_tree(
        &top,
        local.path_buf(),
        BatchOptions::default().skip_existing(true),
    ))
    .unwrap();
    let events = take_events();
    assert_eq!(
        (again.ok.len(), again.skipped.len()),
        (0, files.len()),
        "{what}"
    );
    assert!(
        per_path(&events, &["MLSD", "LIST"])
            .values()
            .all(|n| *n == 1)
    );
    assert_eq!(
        per_path(&events, &["MLSD", "LIST"]).len(),
        dirs.len(),
        "{what}"
    );
    let again = run(p.upload_tree(
        local.path_buf(),
        &up_top,
        BatchOptions::default().skip_existing(true),
    ))
    .unwrap();
    let events = take_events();
    assert!(again.is_ok(), "{what}: {:?}", again.failed.first());
    assert_eq!(
        (again.ok.len(), again.skipped.len()),
        (0, files.len()),
        "{what}"
    );
    let listed = per_path(&events, &["MLSD", "LIST"]);
    assert_eq!(listed.len(), dirs.len(), "{what}: {listed:?}");
    assert!(listed.values().all(|n| *n == 1), "{what}: {listed:?}");
    let made = per_path(&events, &["MKD"]);
    assert!(
        made.keys().all(|k| up_top.starts_with(k.as_str())),
        "{what}: {made:?}"
    );
    run(p.close());
}

#[test]
fn trees_both_ways_pyftpdlib() {
    let _alone = recording();
    let server = Server::shared(Kind::Pyftpdlib);
    both_ways(server, true);
    both_ways(server, false);
}

#[test]
fn trees_both_ways_vsftpd() {
    let _alone = recording();
    let server = Server::shared(Kind::Vsftpd);
    both_ways(server, true);
    both_ways(server, false);
}

#[test]
fn trees_both_ways_at_4_ms_rtt() {
    let _alone = recording();
    let server = Server::start(Kind::Vsftpd, &["--rtt-ms", "4"]);
    assert_eq!(server.host, "127.0.0.2", "the latency proxy's address");
    both_ways(&server, true);
    both_ways(&server, false);
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// vsftpd runs as the FTP user (pyftpdlib here as root, which reads anything): a subdirectory
/// it cannot list and a file it cannot read fail alone, the rest of the tree arrives; with
/// `stop_on_error` nothing new starts after the first failure; a missing top is an error.
/// Up: a directory that cannot be made (a file has its name) and a file that cannot be
/// stored (a directory has its name) fail alone.
#[test]
fn failures_amid_a_walk() {
    let _alone = recording();
    let server = Server::shared(Kind::Vsftpd);
    let (dirs, files) = tree();
    let (top, on_server) = server.dir("walk-fail");
    for (rel, bytes) in &files {
        server.put(&format!("walk-fail/{rel}"), bytes);
    }
    for d in dirs.iter().filter(|d| d.ends_with("b2")) {
        server.dir(&format!("walk-fail/{d}"));
    }
    // a1/b0 (with c0, c1 under it) cannot be listed; a2/f03.bin cannot be read.
    std::os::unix::fs::chown(on_server.join("a1/b0"), Some(server.uid), Some(server.gid)).unwrap();
    chmod(&on_server.join("a1/b0"), 0o000);
    std::os::unix::fs::chown(
        on_server.join("a2/f03.bin"),
        Some(server.uid),
        Some(server.gid),
    )
    .unwrap();
    chmod(&on_server.join("a2/f03.bin"), 0o000);
    let p = pool(server, 4, true);
    let local = server.scratch("walk-fail");
    let result = run(p.download_tree(&top, local.path_buf(), BatchOptions::default())).unwrap();
    chmod(&on_server.join("a1/b0"), 0o755);
    let mut failed: Vec<_> = result.failed.iter().map(|(p, _)| p.clone()).collect();
    failed.sort();
    // vsftpd answers the LIST of a directory it cannot open with a line for the directory
    // itself (as `ls -ld` would), so the walk goes one level further, into a1/b0/b0, and
    // fails there: the failure is under a1/b0 either way.
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed[0].starts_with(&format!("{top}/a1/b0")), "{failed:?}");
    assert_eq!(failed[1], format!("{top}/a2/f03.bin"));
    let lost = |rel: &str| rel.starts_with("a1/b0/") || rel == "a2/f03.bin";
    assert_eq!(
        result.ok.len(),
        files.iter().filter(|(r, _)| !lost(r)).count()
    );
    for (rel, bytes) in files.iter().filter(|(r, _)| !lost(r)) {
        assert!(&std::fs::read(local.join(rel)).unwrap() == bytes, "{rel}");
    }
    assert!(!local.join("a2/f03.bin").exists());

    // stop_on_error: the first failure stops the walk (the one file is still unreadable).
    let stopped = run(p.download_tree(
        &top,
        server.scratch("walk-fail-stop").path_buf(),
        BatchOptions::default().stop_on_error(true),
    ))
    .unwrap();
    // (Two sessions may each meet one of the failures at the same moment.)
    assert!(
        (1..=2).contains(&stopped.failed.len()),
        "{:?}",
        stopped.failed
    );
    assert!(stopped.ok.len() < files.len() - 1, "{}", stopped.ok.len());

    // A missing top: an error, as before.
    let e = run(p.download_tree(
        &format!("{top}/absent"),
        server.scratch("walk-fail-absent").path_buf(),
        BatchOptions::default(),
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");

    // No session to be had (a wrong password): the whole call fails, as before.
    let mut config = server.config();
    config.password = ferroftp::Password::new("wrong");
    config.retries = 0;
    let refused = Pool::with_options(config, PoolOptions::default()).unwrap();
    let e = run(refused.download_tree(
        &top,
        server.scratch("walk-fail-auth").path_buf(),
        BatchOptions::default(),
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    let e = run(refused.upload_tree(local.path_buf(), &top, BatchOptions::default())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");

    // Up: the server has a file named a3 and a directory named a4/f07.bin.
    chmod(&on_server.join("a2/f03.bin"), 0o644);
    std::fs::write(local.join("a2/f03.bin"), b"now readable").unwrap();
    let (up_top, up_local) = server.dir("walk-fail-up");
    server.put("walk-fail-up/a3", b"in the way");
    server.dir("walk-fail-up/a4");
    server.dir("walk-fail-up/a4/f07.bin");
    let result = run(p.upload_tree(local.path_buf(), &up_top, BatchOptions::default())).unwrap();
    let mut failed: Vec<_> = result.failed.iter().map(|(p, _)| p.clone()).collect();
    failed.sort();
    assert_eq!(
        failed,
        [format!("{up_top}/a3"), format!("{up_top}/a4/f07.bin")]
    );
    for (rel, bytes) in files.iter().filter(|(r, _)| {
        !r.starts_with("a1/b0/") && !r.starts_with("a3/") && r != "a4/f07.bin" && r != "a2/f03.bin"
    }) {
        assert!(
            &std::fs::read(up_local.join(rel)).unwrap() == bytes,
            "up {rel}"
        );
    }
    run(p.close());
}

/// A pool of 10 against a server that allows 3 connections: the pool lowers its limit and the
/// walk still ends with every file (workers only take a directory step once they have a
/// session, so none waits for a session while holding a step the others wait for).
#[test]
fn tree_with_fewer_connections_than_workers() {
    let _alone = recording();
    for kind in [Kind::Vsftpd, Kind::Pyftpdlib] {
        let server = Server::start(kind, &["--max-cons", "3"]);
        let (dirs, files) = tree();
        let (top, _) = server.dir("walk-few");
        for (rel, bytes) in &files {
            server.put(&format!("walk-few/{rel}"), bytes);
        }
        for d in dirs.iter().filter(|d| d.ends_with("b2")) {
            server.dir(&format!("walk-few/{d}"));
        }
        let p = pool(&server, 10, true);
        let local = server.scratch("walk-few");
        let result = run(p.download_tree(&top, local.path_buf(), BatchOptions::default())).unwrap();
        assert!(result.is_ok(), "{:?}", result.failed.first());
        assert_eq!(result.ok.len(), files.len());
        for (rel, bytes) in &files {
            assert!(&std::fs::read(local.join(rel)).unwrap() == bytes, "{rel}");
        }
        let up = run(p.upload_tree(
            local.path_buf(),
            &format!("{top}-up"),
            BatchOptions::default(),
        ))
        .unwrap();
        assert!(up.is_ok(), "{:?}", up.failed.first());
        assert_eq!(up.ok.len(), files.len());
        assert!(p.limit() <= 3, "{}", p.limit());
        run(p.close());
    }
}
