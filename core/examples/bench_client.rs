//! The Rust client of the benchmark harness (`bench/run.py`, `make bench`).
//!
//! Runs ONE workload once against a running server and prints one line of JSON:
//! `{"elapsed_s": ..., "op_s": ..., "bytes": ..., "files": ..., "ops": ...}`. `elapsed_s` is
//! taken in the process from before the connect to after the session is closed; `op_s` covers
//! the workload's operations alone (without connect and close). The harness times the whole
//! process as well. Only the public API is used.
//!
//! ```text
//! bench_client download  --url URL --remote PATH --local PATH      (Session::download)
//! bench_client upload    --url URL --local PATH --remote PATH      (Session::upload)
//! bench_client stream    --url URL --remote PATH                   (Session::open_read)
//! bench_client files     --url URL --names FILE --local-dir DIR --sessions N
//!                        (Pool::download_many with N sessions, 1 included: a
//!                         batch lets a session send the next file's RETR ahead)
//! bench_client upload-files --url URL --local-dir DIR --remote-dir PATH --sessions N
//!                        (Pool::upload_many: every file of DIR into PATH)
//! bench_client tree-get  --url URL --remote PATH --local-dir DIR --sessions N
//!                        (Pool::download_tree)
//! bench_client tree-put  --url URL --local DIR --remote PATH --sessions N
//!                        (Pool::upload_tree)
//! bench_client list      --url URL --remote PATH --count N [--expect N]   (Session::list)
//! bench_client read-many --url URL --names FILE --threads N
//!                        (blocking::Session::read_bytes from N threads sharing one session)
//! bench_client noop      --url URL --count N                      (blocking::Session::noop)
//! common: [--ca-file PEM]  extra CA certificates for ftpes:// URLs
//!         [--buffer-size BYTES]  the transfer buffer (Config::buffer_size), for experiments
//! ```
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ferroftp::{
    BatchOptions, BatchResult, Config, DownloadOptions, Pool, PoolOptions, Session, UploadOptions,
};
use tokio::io::AsyncReadExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What one run did, printed as JSON.
#[derive(Default)]
struct Outcome {
    /// Bytes transferred.
    bytes: u64,
    /// Files transferred.
    files: u64,
    /// Operations done (listings, NOOPs, reads).
    ops: u64,
    /// Seconds spent in the workload's operations alone, without connect and close.
    op_s: f64,
}

/// `--key value` options after the workload name.
#[derive(Clone)]
struct Args {
    values: HashMap<String, String>,
}

impl Args {
    fn parse(args: &[String]) -> Result<Self, BoxError> {
        let mut values = HashMap::new();
        let mut it = args.iter();
        while let Some(key) = it.next() {
            let Some(name) = key.strip_prefix("--") else {
                return Err(format!("unexpected argument {key:?}").into());
            };
            let value = it.next().ok_or_else(|| format!("{key} needs a value"))?;
            values.insert(name.to_string(), value.clone());
        }
        Ok(Self { values })
    }

    fn get(&self, name: &str) -> Result<&str, BoxError> {
        self.values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("missing --{name}").into())
    }

    fn number(&self, name: &str) -> Result<u64, BoxError> {
        let v = self.get(name)?;
        v.parse()
            .map_err(|_| format!("--{name} {v:?} is not a number").into())
    }

    /// The connection settings: the URL, plus the extra CA file if given.
    fn config(&self) -> Result<Config, BoxError> {
        let mut config = Config::from_url(self.get("url")?)?;
        if let Some(ca) = self.values.get("ca-file") {
            config.ca_file = Some(PathBuf::from(ca));
        }
        if let Some(size) = self.values.get("buffer-size") {
            config.buffer_size = size.parse()?;
        }
        Ok(config)
    }

    /// The remote paths listed (one per line) in the file named by `--names`.
    fn names(&self) -> Result<Vec<String>, BoxError> {
        let text = std::fs::read_to_string(self.get("names")?)?;
        Ok(text
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }
}

async fn download(args: &Args) -> Result<Outcome, BoxError> {
    let s = Session::connect_with(args.config()?).await?;
    let started = Instant::now();
    let bytes = s
        .download(
            args.get("remote")?,
            args.get("local")?,
            DownloadOptions::default(),
        )
        .await?;
    let op_s = started.elapsed().as_secs_f64();
    s.close().await?;
    Ok(Outcome {
        bytes,
        files: 1,
        ops: 1,
        op_s,
    })
}

async fn upload(args: &Args) -> Result<Outcome, BoxError> {
    let s = Session::connect_with(args.config()?).await?;
    let started = Instant::now();
    let bytes = s
        .upload(
            args.get("local")?,
            args.get("remote")?,
            UploadOptions::default(),
        )
        .await?;
    let op_s = started.elapsed().as_secs_f64();
    s.close().await?;
    Ok(Outcome {
        bytes,
        files: 1,
        ops: 1,
        op_s,
    })
}

async fn stream(args: &Args) -> Result<Outcome, BoxError> {
    let s = Session::connect_with(args.config()?).await?;
    let started = Instant::now();
    let mut reader = s.open_read(args.get("remote")?).await?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
    }
    reader.finish().await?;
    let op_s = started.elapsed().as_secs_f64();
    s.close().await?;
    Ok(Outcome {
        bytes,
        files: 1,
        ops: 1,
        op_s,
    })
}

/// The local file a remote path lands in.
fn local_for(dir: &Path, remote: &str) -> PathBuf {
    dir.join(remote.rsplit('/').next().unwrap_or(remote))
}

async fn files(args: &Args) -> Result<Outcome, BoxError> {
    let names = args.names()?;
    let dir = PathBuf::from(args.get("local-dir")?);
    let sessions = usize::try_from(args.number("sessions")?)?;
    let mut out = Outcome::default();
    // The pool opens its sessions lazily: their connects are part of op_s here.
    let started = Instant::now();
    let mut options = PoolOptions::default();
    options.max_sessions = sessions.max(1);
    let pool = Pool::with_options(args.config()?, options)?;
    let items = names
        .iter()
        .map(|r| (r.clone(), local_for(&dir, r)))
        .collect();
    let result = pool.download_many(items, BatchOptions::default()).await;
    if let Some((path, e)) = result.failed.first() {
        return Err(format!("{} files failed, first {path}: {e}", result.failed.len()).into());
    }
    out.bytes = result.ok.iter().map(|(_, b)| b).sum();
    out.files = result.ok.len() as u64;
    out.op_s = started.elapsed().as_secs_f64();
    pool.close().await;
    out.ops = out.files;
    Ok(out)
}

/// A batch on a pool of `--sessions` sessions (their connects timed, as in `files`); a failed
/// file fails the run, and so does a count of files other than `expect` (when not 0).
async fn batch<F, Fut>(args: &Args, expect: usize, run: F) -> Result<Outcome, BoxError>
where
    F: FnOnce(Pool) -> Fut,
    Fut: Future<Output = Result<BatchResult, BoxError>>,
{
    let started = Instant::now();
    let mut options = PoolOptions::default();
    options.max_sessions = usize::try_from(args.number("sessions")?)?.max(1);
    let pool = Pool::with_options(args.config()?, options)?;
    let result = run(pool.clone()).await?;
    let op_s = started.elapsed().as_secs_f64();
    pool.close().await;
    if let Some((path, e)) = result.failed.first() {
        return Err(format!("{} files failed, first {path}: {e}", result.failed.len()).into());
    }
    let files = result.ok.len();
    if expect != 0 && files != expect {
        return Err(format!("{files} files transferred, expected {expect}").into());
    }
    Ok(Outcome {
        bytes: result.ok.iter().map(|(_, b)| b).sum(),
        files: files as u64,
        ops: files as u64,
        op_s,
    })
}

/// Every file of `--local-dir` into `--remote-dir` (Pool::upload_many).
async fn upload_files(args: &Args) -> Result<Outcome, BoxError> {
    let dir = PathBuf::from(args.get("local-dir")?);
    let remote = args.get("remote-dir")?.trim_end_matches('/').to_string();
    let mut names: Vec<_> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    let items: Vec<_> = names
        .iter()
        .map(|n| (dir.join(n), format!("{remote}/{n}")))
        .collect();
    let count = items.len();
    batch(args, count, |pool| async move {
        Ok(pool.upload_many(items, BatchOptions::default()).await)
    })
    .await
}

/// A tree over the pool: with `down`, the remote tree `--remote` into `--local-dir`
/// (Pool::download_tree), else the local tree `--local` to `--remote` (Pool::upload_tree).
async fn tree(args: &Args, down: bool) -> Result<Outcome, BoxError> {
    let remote = args.get("remote")?.to_string();
    let local = PathBuf::from(args.get(if down { "local-dir" } else { "local" })?);
    batch(args, 0, |pool| async move {
        let options = BatchOptions::default();
        Ok(if down {
            pool.download_tree(&remote, &local, options).await?
        } else {
            pool.upload_tree(&local, &remote, options).await?
        })
    })
    .await
}

async fn list(args: &Args) -> Result<Outcome, BoxError> {
    let path = args.get("remote")?;
    let count = args.number("count")?;
    let expect = args.values.get("expect").map(|v| v.parse::<usize>());
    let s = Session::connect_with(args.config()?).await?;
    let mut out = Outcome::default();
    let started = Instant::now();
    for _ in 0..count {
        let entries = s.list(path).await?;
        if let Some(want) = &expect {
            let want = want.clone()?;
            if entries.len() != want {
                return Err(format!("{path}: {} entries, expected {want}", entries.len()).into());
            }
        }
        out.files += entries.len() as u64;
        out.ops += 1;
    }
    out.op_s = started.elapsed().as_secs_f64();
    s.close().await?;
    Ok(out)
}

/// Runs in the calling thread (blocking API): `--threads` threads share one session.
fn read_many(args: &Args) -> Result<Outcome, BoxError> {
    let names = Arc::new(args.names()?);
    let threads = usize::try_from(args.number("threads")?)?.max(1);
    let s = ferroftp::blocking::Session::connect_with(args.config()?)?;
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let s = s.clone();
            let names = Arc::clone(&names);
            std::thread::spawn(move || -> ferroftp::Result<(u64, u64)> {
                let (mut bytes, mut files) = (0, 0);
                for remote in names.iter().skip(t).step_by(threads) {
                    bytes += s.read_bytes(remote)?.len() as u64;
                    files += 1;
                }
                Ok((bytes, files))
            })
        })
        .collect();
    let mut out = Outcome::default();
    for w in workers {
        let (bytes, files) = w.join().map_err(|_| "a worker thread panicked")??;
        out.bytes += bytes;
        out.files += files;
    }
    out.ops = out.files;
    out.op_s = started.elapsed().as_secs_f64();
    s.close()?;
    Ok(out)
}

/// Runs in the calling thread (blocking API), like the Python and C faces' calls.
fn noop(args: &Args) -> Result<Outcome, BoxError> {
    let count = args.number("count")?;
    let s = ferroftp::blocking::Session::connect_with(args.config()?)?;
    let started = Instant::now();
    for _ in 0..count {
        s.noop()?;
    }
    let op_s = started.elapsed().as_secs_f64();
    s.close()?;
    Ok(Outcome {
        ops: count,
        op_s,
        ..Outcome::default()
    })
}

fn run(workload: &str, args: &Args) -> Result<Outcome, BoxError> {
    // The async workloads run as tasks on the library's own shared runtime, as the bindings'
    // calls do.
    let rt = ferroftp::runtime::handle()?;
    let a = args.clone();
    type Workload = std::pin::Pin<Box<dyn Future<Output = Result<Outcome, BoxError>> + Send>>;
    let task = |fut: Workload| rt.block_on(rt.spawn(fut)).map_err(BoxError::from)?;
    match workload {
        "download" => task(Box::pin(async move { download(&a).await })),
        "upload" => task(Box::pin(async move { upload(&a).await })),
        "stream" => task(Box::pin(async move { stream(&a).await })),
        "files" => task(Box::pin(async move { files(&a).await })),
        "list" => task(Box::pin(async move { list(&a).await })),
        "upload-files" => task(Box::pin(async move { upload_files(&a).await })),
        "tree-get" => task(Box::pin(async move { tree(&a, true).await })),
        "tree-put" => task(Box::pin(async move { tree(&a, false).await })),
        "read-many" => read_many(args),
        "noop" => noop(args),
        other => Err(format!("unknown workload {other:?}").into()),
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((workload, rest)) = argv.split_first() else {
        eprintln!("usage: bench_client WORKLOAD --url URL [--key value ...] (see the source)");
        std::process::exit(2);
    };
    let outcome = Args::parse(rest).and_then(|args| {
        let started = Instant::now();
        let out = run(workload, &args)?;
        Ok((started.elapsed().as_secs_f64(), out))
    });
    match outcome {
        Ok((elapsed, out)) => println!(
            "{}",
            serde_json::json!({
                "elapsed_s": elapsed,
                "bytes": out.bytes,
                "files": out.files,
                "ops": out.ops,
                "op_s": out.op_s,
            })
        ),
        Err(e) => {
            eprintln!("bench_client {workload}: {e}");
            std::process::exit(1);
        }
    }
}
