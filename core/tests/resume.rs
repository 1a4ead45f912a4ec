//! Resume and atomic transfers: interrupted at random points, resumed, compared by hash.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Scratch, Server, data, run, sha256};
use ferroftp::{DownloadOptions, Session, UploadOptions};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::sync::Notify;

const SIZE: usize = 50 << 20;

fn resume_download(server: &'static Server) {
    let (dir, _) = server.dir("resume_down");
    let payload = data(SIZE, 77);
    server.put("resume_down/big.bin", &payload);
    let want = sha256(&payload);
    let tmp = Scratch::new(&format!("resume-{}", server.kind.name()));
    let target = tmp.join("big.bin");
    let part = tmp.join(".big.bin.ferroftp-part");
    let (target2, part2) = (target.clone(), part.clone());
    run(async move {
        let (target, part) = (target2, part2);
        // Small reads: the download yields (tokio's cooperative budget) often enough for the
        // cut to land near its byte position, however fast the data arrives.
        let mut config = server.config();
        config.buffer_size = 16 * 1024;
        let s = Session::connect_with(config).await.unwrap();
        let mut rng = StdRng::seed_from_u64(server.kind as u64 + 1);
        let remote = format!("{dir}/big.bin");
        let mut sizes = Vec::new();
        // Cut at random byte positions until a resumed run reaches the end. (A run can also
        // finish before its cut: the cut takes effect when the download next yields.)
        for round in 0.. {
            assert!(round < 50, "never finished");
            let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
            // six cuts at most, then one run to the end
            let stop_at = if sizes.len() < 6 {
                have + rng.random_range(1..(SIZE as u64 / 8))
            } else {
                u64::MAX
            };
            let cut = Arc::new(Notify::new());
            let c2 = cut.clone();
            let opts = DownloadOptions::default()
                .resume(true)
                .progress(move |done, _| {
                    if done >= stop_at {
                        c2.notify_one();
                    }
                });
            tokio::select! {
                biased; // the cut first, whenever the transfer yields
                _ = cut.notified() => {}
                r = s.download(&remote, &target, opts) => {
                    r.unwrap();
                    break;
                }
            }
            assert!(!target.exists(), "no complete-looking file after a cut");
            sizes.push(std::fs::metadata(&part).unwrap().len());
        }
        assert!(!sizes.is_empty(), "no cut happened");
        assert!(
            sizes.windows(2).all(|w| w[0] <= w[1]),
            "the part file only grows: {sizes:?}"
        );
    });
    assert_eq!(sha256(&std::fs::read(&target).unwrap()), want);
    assert!(!part.exists(), "the part file became the target");
    let _ = std::fs::remove_dir_all(&tmp);
}
on_servers!(download_interrupted_and_resumed, resume_download);

fn resume_upload(server: &'static Server) {
    let (dir, local) = server.dir("resume_up");
    let payload = data(SIZE, 78);
    let want = sha256(&payload);
    let scratch = Scratch::new(&format!("resume-up-{}", server.kind.name()));
    let src = scratch.join("source.bin");
    std::fs::write(&src, &payload).unwrap();
    let src2 = src.clone();
    run(async move {
        let s = Session::connect_with(server.config()).await.unwrap();
        let mut rng = StdRng::seed_from_u64(server.kind as u64 + 10);
        let remote = format!("{dir}/big.bin");
        let mut cuts = 0;
        for round in 0.. {
            assert!(round < 50, "never finished");
            // what the server holds now (SIZE, as the resume itself will ask)
            let have = s.size(&remote).await.unwrap_or(0);
            // six cuts at most, then one run to the end
            let stop_at = if cuts < 6 {
                have + rng.random_range(1..(SIZE as u64 / 8))
            } else {
                u64::MAX
            };
            let cut = Arc::new(Notify::new());
            let c2 = cut.clone();
            let first = Arc::new(std::sync::Mutex::new(None));
            let f2 = first.clone();
            let opts = UploadOptions::default()
                .resume(true)
                .progress(move |done, _| {
                    f2.lock().unwrap().get_or_insert(done);
                    if done >= stop_at {
                        c2.notify_one();
                    }
                });
            tokio::select! {
                biased; // the cut first, whenever the transfer yields
                _ = cut.notified() => cuts += 1,
                r = s.upload(&src2, &remote, opts) => {
                    r.unwrap();
                    break;
                }
            }
            // every run started where the server's copy ended
            let started_at = first.lock().unwrap().unwrap_or(0);
            assert!(
                started_at >= have,
                "started at {started_at}, the server had {have}"
            );
        }
        assert!(cuts >= 1, "no cut happened");
    });
    assert_eq!(sha256(&std::fs::read(local.join("big.bin")).unwrap()), want);
    let _ = std::fs::remove_file(&src);
}
on_servers!(upload_interrupted_and_resumed, resume_upload);

fn atomic_upload(server: &'static Server) {
    let (dir, local) = server.dir("atomic");
    server.put("atomic/file.bin", b"version 1");
    let payload = data(20 << 20, 79);
    let scratch = Scratch::new(&format!("atomic-{}", server.kind.name()));
    let src = scratch.join("source.bin");
    std::fs::write(&src, &payload).unwrap();
    let src2 = src.clone();
    let target = format!("{dir}/file.bin");
    let len = payload.len() as u64;
    let expected = payload.clone();
    run(async move {
        let payload = expected;
        let s = Session::connect_with(server.config()).await.unwrap();
        // interrupted: readers still see the old file, whole
        for ms in [2, 10, 30] {
            let opts = UploadOptions::default().atomic(true);
            let r = tokio::time::timeout(Duration::from_millis(ms), s.upload(&src2, &target, opts))
                .await;
            if r.is_err() {
                // the old file, or (when the cut came after RNTO was sent) the whole new one
                let seen = s.read_bytes(&target).await.unwrap();
                assert!(
                    seen == b"version 1" || seen == payload,
                    "a partial file was visible"
                );
            }
        }
        let n = s
            .upload(&src2, &target, UploadOptions::default().atomic(true))
            .await
            .unwrap();
        assert_eq!(n, len);
    });
    assert!(std::fs::read(local.join("file.bin")).unwrap() == payload);
    let _ = std::fs::remove_file(&src);
}
on_servers!(atomic_upload_replaces_whole, atomic_upload);
