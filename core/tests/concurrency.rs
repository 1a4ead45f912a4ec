//! One session shared by 64 tokio tasks and 16 OS threads (blocking API) at the same time,
//! each doing mixed operations on its own files; every byte is verified.

mod common;

use common::{Server, data, run, sha256};
use ferroftp::{DownloadOptions, Session};

const TASKS: usize = 64;
const THREADS: usize = 16;
const ROUNDS: usize = 5;

/// The checks of one round of worker `id`; returns how many operations it ran.
async fn round(
    s: &Session,
    dir: &str,
    id: usize,
    r: usize,
    big: &(String, String),
    scratch: &std::path::Path,
) -> Result<usize, String> {
    let name = format!("{dir}/w{id}-{r}.bin");
    let len = 1 + (id * 7919 + r * 104_729) % 70_000;
    let payload = data(len, (id * 1000 + r) as u64);
    let ctx = |what: &str| format!("worker {id} round {r}: {what}");
    let n = s
        .write_bytes(&name, &payload)
        .await
        .map_err(|e| ctx(&e.to_string()))?;
    if n != len as u64 {
        return Err(ctx("write count"));
    }
    if s.size(&name).await.map_err(|e| ctx(&e.to_string()))? != len as u64 {
        return Err(ctx("size"));
    }
    if s.read_bytes(&name).await.map_err(|e| ctx(&e.to_string()))? != payload {
        return Err(ctx("read back differs"));
    }
    let listed = s.list(dir).await.map_err(|e| ctx(&e.to_string()))?;
    match listed.iter().find(|e| e.path == name) {
        Some(e) if e.size == Some(len as u64) => {}
        other => return Err(ctx(&format!("listing shows {other:?}"))),
    }
    let moved = format!("{name}.moved");
    s.rename(&name, &moved)
        .await
        .map_err(|e| ctx(&e.to_string()))?;
    if !s.exists(&moved).await.map_err(|e| ctx(&e.to_string()))? {
        return Err(ctx("renamed file missing"));
    }
    s.remove(&moved).await.map_err(|e| ctx(&e.to_string()))?;
    if s.exists(&moved).await.map_err(|e| ctx(&e.to_string()))? {
        return Err(ctx("removed file still there"));
    }
    let mut ops = 9;
    if (id + r).is_multiple_of(16) {
        // now and then a large download, hashed
        let target = scratch.join(format!("w{id}-{r}"));
        s.download(&big.0, &target, DownloadOptions::default())
            .await
            .map_err(|e| ctx(&e.to_string()))?;
        let got = std::fs::read(&target).map_err(|e| ctx(&e.to_string()))?;
        let _ = std::fs::remove_file(&target);
        if sha256(&got) != big.1 {
            return Err(ctx("large download differs"));
        }
        ops += 1;
    }
    Ok(ops)
}

fn shared_session(server: &'static Server) {
    let (dir, _) = server.dir("shared");
    let big = data(6 << 20, 42);
    server.put("shared/big.bin", &big);
    let big = (format!("{dir}/big.bin"), sha256(&big));
    let session = run(Session::connect_with(server.config())).expect("connect");
    let scratch = server.scratch("shared");
    let handle = ferroftp::runtime::handle().unwrap();

    let tasks: Vec<_> = (0..TASKS)
        .map(|id| {
            let (s, dir, big, scratch) = (
                session.clone(),
                dir.clone(),
                big.clone(),
                scratch.path_buf(),
            );
            handle.spawn(async move {
                let mut ops = 0;
                for r in 0..ROUNDS {
                    ops += round(&s, &dir, id, r, &big, &scratch).await?;
                }
                Ok::<_, String>(ops)
            })
        })
        .collect();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let s = ferroftp::blocking::Session::from(session.clone());
            let (dir, big) = (dir.clone(), big.clone());
            std::thread::spawn(move || {
                let mut ops = 0;
                for r in 0..ROUNDS {
                    let id = TASKS + t;
                    // the same round, driven through the blocking face
                    let name = format!("{dir}/b{id}-{r}.bin");
                    let payload = data(1 + (id * 31 + r * 977) % 50_000, (id * 7 + r) as u64);
                    let e = |e: ferroftp::Error| format!("thread {t} round {r}: {e}");
                    s.write_bytes(&name, &payload).map_err(e)?;
                    if s.size(&name).map_err(e)? != payload.len() as u64 {
                        return Err(format!("thread {t} round {r}: size"));
                    }
                    if s.read_bytes(&name).map_err(e)? != payload {
                        return Err(format!("thread {t} round {r}: read back differs"));
                    }
                    if !s.list(&dir).map_err(e)?.iter().any(|x| x.path == name) {
                        return Err(format!("thread {t} round {r}: not listed"));
                    }
                    s.rename(&name, &format!("{name}.m")).map_err(e)?;
                    s.remove(&format!("{name}.m")).map_err(e)?;
                    if (t + r).is_multiple_of(8) {
                        let got = s.read_bytes(&big.0).map_err(e)?;
                        if sha256(&got) != big.1 {
                            return Err(format!("thread {t} round {r}: large read differs"));
                        }
                        ops += 1;
                    }
                    ops += 6;
                }
                Ok::<_, String>(ops)
            })
        })
        .collect();

    let mut errors = Vec::new();
    let mut ops = 0;
    for t in tasks {
        match handle.block_on(t).expect("task panicked") {
            Ok(n) => ops += n,
            Err(e) => errors.push(e),
        }
    }
    for t in threads {
        match t.join().expect("thread panicked") {
            Ok(n) => ops += n,
            Err(e) => errors.push(e),
        }
    }
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert!(ops >= (TASKS + THREADS) * ROUNDS * 6, "{ops}");
    eprintln!(
        "{}: {ops} operations by {TASKS} tasks + {THREADS} threads on one session, 0 errors",
        server.kind.name()
    );
    // the directory holds only the fixture again
    let names = run(session.names(&dir)).unwrap();
    assert_eq!(names, ["big.bin"]);
}
on_servers!(tasks_and_threads_share_one_session, shared_session);
on_servers!(tasks_and_threads_over_tls, shared_session, tls);
