//! The main job: start an FTP server on loopback, then let many tasks and threads share ONE
//! session, verifying every result, and print a summary.
//!
//! Run with `make demo` (which prepares the Python venv holding the pyftpdlib test server), or
//! `cargo run --example demo -- [ftp://user:pass@host:port/]` against a server of your own.
#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use ferroftp::{Session, blocking};

const TASKS: usize = 32;
const THREADS: usize = 8;
const FILES_PER_WORKER: usize = 8;

/// A loopback pyftpdlib server started through the project's launcher; stopped on drop.
struct LocalServer {
    child: Child,
    url: String,
}

impl LocalServer {
    fn start() -> Result<Self, String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = std::env::var_os("FERROFTP_PYTHON")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python"));
        let mut child = Command::new(&python)
            .arg(root.join("tests/servers/serve.py"))
            .arg("pyftpdlib")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {} (run `make setup`): {e}", python.display()))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let field = |k: &str| -> Option<String> {
            let start = line.find(&format!("\"{k}\": "))? + k.len() + 4;
            let rest = &line[start..];
            let rest = rest.trim_start_matches('"');
            let end = rest.find(['"', ',', '}'])?;
            Some(rest[..end].to_string())
        };
        let (Some(user), Some(pass), Some(port)) =
            (field("user"), field("password"), field("port"))
        else {
            return Err(format!("the test server did not start: {line:?}"));
        };
        Ok(Self {
            child,
            url: format!("ftp://{user}:{pass}@127.0.0.1:{port}/"),
        })
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // the launcher stops its server when stdin closes
        let _ = self.child.wait();
    }
}

/// Deterministic content for file `n` of worker `w`.
fn content(w: usize, n: usize) -> Vec<u8> {
    let len = 10_000 + (w * 7_919 + n * 104_729) % 200_000;
    (0..len)
        .map(|i| ((i * 31 + w * 17 + n) % 251) as u8)
        .collect()
}

async fn task_work(s: Session, w: usize) -> ferroftp::Result<(usize, u64)> {
    let dir = format!("/demo/task{w}");
    s.mkdir(&dir, true).await?;
    let (mut ops, mut bytes) = (1, 0u64);
    for n in 0..FILES_PER_WORKER {
        let path = format!("{dir}/f{n}.bin");
        let data = content(w, n);
        bytes += s.write_bytes(&path, &data).await?;
        assert_eq!(s.size(&path).await?, data.len() as u64);
        let back = s.read_bytes(&path).await?;
        assert!(back == data, "{path}: read back differs");
        bytes += back.len() as u64;
        ops += 3;
    }
    let listed = s.list(&dir).await?;
    assert_eq!(listed.len(), FILES_PER_WORKER, "{dir}");
    s.rmdir(&dir, true).await?;
    Ok((ops + 2, bytes))
}

fn thread_work(s: blocking::Session, w: usize) -> ferroftp::Result<(usize, u64)> {
    let dir = format!("/demo/thread{w}");
    s.mkdir(&dir, true)?;
    let (mut ops, mut bytes) = (1, 0u64);
    for n in 0..FILES_PER_WORKER {
        let path = format!("{dir}/f{n}.bin");
        let data = content(w + 1000, n);
        bytes += s.write_bytes(&path, &data)?;
        let back = s.read_bytes(&path)?;
        assert!(back == data, "{path}: read back differs");
        bytes += back.len() as u64;
        s.rename(&path, &format!("{path}.done"))?;
        ops += 3;
    }
    assert_eq!(s.names(&dir)?.len(), FILES_PER_WORKER);
    s.rmdir(&dir, true)?;
    Ok((ops + 2, bytes))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, _server) = match std::env::args().nth(1) {
        Some(url) => (url, None),
        None => {
            let server = LocalServer::start()?;
            (server.url.clone(), Some(server))
        }
    };
    println!("ferroftp demo: {TASKS} async tasks and {THREADS} threads share ONE session");
    let started = Instant::now();
    let rt = ferroftp::runtime::handle()?;
    let session = rt.block_on(Session::connect(&url))?;
    let tasks: Vec<_> = (0..TASKS)
        .map(|w| rt.spawn(task_work(session.clone(), w)))
        .collect();
    let threads: Vec<_> = (0..THREADS)
        .map(|w| {
            let s = blocking::Session::from(session.clone());
            std::thread::spawn(move || thread_work(s, w))
        })
        .collect();
    let (mut ops, mut bytes) = (0, 0);
    for t in tasks {
        let (o, b) = rt.block_on(t)??;
        ops += o;
        bytes += b;
    }
    for t in threads {
        let (o, b) = t.join().map_err(|_| "a thread panicked")??;
        ops += o;
        bytes += b;
    }
    let leftover = rt.block_on(session.list("/demo"))?;
    assert!(leftover.is_empty(), "the demo cleans up after itself");
    rt.block_on(session.close())?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "ok: {ops} operations, {:.1} MiB moved and verified, 0 errors, in {secs:.2} s ({:.0} ops/s)",
        bytes as f64 / 1048576.0,
        ops as f64 / secs
    );
    Ok(())
}
