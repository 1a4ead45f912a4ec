//! Cancellation at random points never desynchronizes a session: after each cancelled
//! operation, a checked operation on the same session must return the right answer.

mod common;

use std::time::Duration;

use common::{Scratch, Server, data, run};
use ferroftp::{DownloadOptions, Session};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::io::AsyncReadExt;

/// Cancellations to observe per plain server (two servers: 600 in all), and per TLS server.
const CANCELLATIONS: usize = 300;
const TLS_CANCELLATIONS: usize = 100;

fn random_cancellations(server: &'static Server) {
    let (dir, _) = server.dir("cancel");
    let big = data(16 << 20, 5);
    let small = b"the quick brown fox\n".repeat(50);
    server.put("cancel/big.bin", &big);
    server.put("cancel/small.txt", &small);
    for i in 0..50 {
        server.put(&format!("cancel/many/f{i:03}.txt"), b"x");
    }
    let scratch = Scratch::new(&format!("cancel-{}-{}", server.kind.name(), server.tls));
    let tmp = scratch.path_buf();

    let tmp2 = tmp.clone();
    let (cancelled, completed, checks) = run(async move {
        let s = Session::connect_with(server.config()).await.unwrap();
        let mut rng = StdRng::seed_from_u64(0xC0FFEE + server.kind as u64);
        let (mut cancelled, mut completed, mut checks) = (0usize, 0usize, 0usize);
        let mut iteration = 0;
        let wanted = if server.tls == "none" {
            CANCELLATIONS
        } else {
            TLS_CANCELLATIONS
        };
        while cancelled < wanted {
            iteration += 1;
            assert!(iteration < 20 * wanted, "too few cancellations happened");
            let limit = Duration::from_micros(rng.random_range(0..20_000));
            let which = rng.random_range(0..6);
            let outcome = match which {
                0 => tokio::time::timeout(limit, async {
                    let target = tmp2.join("big.bin");
                    s.download(
                        &format!("{dir}/big.bin"),
                        &target,
                        DownloadOptions::default(),
                    )
                    .await
                    .map(|n| assert_eq!(n, big.len() as u64))
                })
                .await
                .ok(),
                1 => tokio::time::timeout(limit, async {
                    s.write_bytes(&format!("{dir}/up.bin"), &big)
                        .await
                        .map(drop)
                })
                .await
                .ok(),
                2 => tokio::time::timeout(limit, async {
                    s.list(&format!("{dir}/many"))
                        .await
                        .map(|l| assert_eq!(l.len(), 50))
                })
                .await
                .ok(),
                3 => tokio::time::timeout(limit, async {
                    s.read_bytes(&format!("{dir}/big.bin"))
                        .await
                        .map(|b| assert!(b == big, "read_bytes returned other bytes"))
                })
                .await
                .ok(),
                4 => tokio::time::timeout(limit, async {
                    // a streaming reader dropped half-way
                    let mut r = s.open_read(&format!("{dir}/big.bin")).await?;
                    let mut buf = vec![0u8; 100_000];
                    r.read_exact(&mut buf).await.unwrap();
                    assert_eq!(buf[..], big[..100_000]);
                    Ok(())
                })
                .await
                .ok(),
                _ => {
                    // a spawned operation aborted from outside
                    let s2 = s.clone();
                    let path = format!("{dir}/big.bin");
                    let task = tokio::spawn(async move { s2.read_bytes(&path).await.map(drop) });
                    tokio::time::sleep(limit).await;
                    task.abort();
                    match task.await {
                        Ok(r) => Some(r),
                        Err(e) if e.is_cancelled() => None,
                        Err(e) => panic!("{e}"),
                    }
                }
            };
            match outcome {
                None => cancelled += 1,
                Some(r) => {
                    r.unwrap_or_else(|e| panic!("operation {which} failed: {e}"));
                    completed += 1;
                }
            }
            // the checked operation
            checks += 1;
            match iteration % 4 {
                0 => assert_eq!(
                    s.size(&format!("{dir}/big.bin")).await.unwrap(),
                    big.len() as u64
                ),
                1 => assert_eq!(
                    s.read_bytes(&format!("{dir}/small.txt")).await.unwrap(),
                    small
                ),
                2 => {
                    let names = s.names(&format!("{dir}/many")).await.unwrap();
                    assert_eq!(names.len(), 50);
                }
                _ => assert_eq!(s.pwd().await.unwrap(), "/"),
            }
        }
        (cancelled, completed, checks)
    });
    // no download left a part file behind
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("ferroftp-part"))
        .collect();
    assert!(
        left.is_empty(),
        "part files left: {left:?} (cancelled {cancelled}, completed {completed})"
    );
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!(
        "{}: {cancelled} cancellations, {completed} completed operations, {checks} checked operations",
        server.kind.name()
    );
}
on_servers!(cancel_at_random_points, random_cancellations);
on_servers!(cancel_over_tls, random_cancellations, tls);
