//! Times one tree transfer (`Pool::download_tree` or `Pool::upload_tree`), for measuring by
//! hand through the latency proxy (`tests/servers/serve.py vsftpd --rtt-ms 20` prints the URL).
//!
//! ```text
//! tree_timing make LOCAL                         a tree of 111 dirs (1 + 10 + 100), 1890 × 4 KiB
//! tree_timing up   URL LOCAL REMOTE SESSIONS     Pool::upload_tree
//! tree_timing down URL REMOTE LOCAL SESSIONS     Pool::download_tree
//! ```
//! Prints one line: the workload, files, seconds, files/s.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::Instant;

use ferroftp::{BatchOptions, Pool};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn make(top: &Path) -> std::io::Result<()> {
    let file =
        |dir: &Path, i: usize| std::fs::write(dir.join(format!("f{i:02}.bin")), [b'x'; 4096]);
    std::fs::create_dir_all(top)?;
    for i in 0..3 {
        file(top, i)?;
    }
    for a in 0..10 {
        for b in 0..11 {
            // b == 10: the level-1 directory itself; else one of its 10 subdirectories.
            let dir = if b == 10 {
                top.join(format!("d{a}"))
            } else {
                top.join(format!("d{a}/e{b}"))
            };
            std::fs::create_dir_all(&dir)?;
            for i in 0..17 {
                file(&dir, i)?;
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["make", local] => Ok(make(Path::new(local))?),
        [way @ ("up" | "down"), url, from, to, sessions] => {
            let pool = Pool::new(url, sessions.parse()?)?;
            let started = Instant::now();
            let result = if way == "up" {
                pool.upload_tree(from, to, BatchOptions::default()).await?
            } else {
                pool.download_tree(from, to, BatchOptions::default())
                    .await?
            };
            let secs = started.elapsed().as_secs_f64();
            pool.close().await;
            if !result.is_ok() {
                return Err(
                    format!("{} failed: {:?}", result.failed.len(), result.failed[0]).into(),
                );
            }
            let n = result.ok.len();
            println!(
                "{way} {n} files in {secs:.2} s: {:.1} files/s",
                n as f64 / secs
            );
            Ok(())
        }
        _ => Err(
            "usage: tree_timing make LOCAL | up URL LOCAL REMOTE N | down URL REMOTE LOCAL N"
                .into(),
        ),
    }
}
