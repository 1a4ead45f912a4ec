//! Downloads to a local path: part files, resume, special files (FIFOs, devices).

use std::path::Path;

use tokio::io::AsyncWriteExt;

use crate::checksum::{Hasher, Hashing, Method};
use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};

use super::DownloadOptions;
use super::check::{check_download, checksum_plan, next_download, rest_refused, starting_digest};
use super::local::{LocalFile, PartFile, local_error};

/// RETR `remote` into a local file that is not a regular file: a FIFO is written through the
/// runtime's I/O driver (its reader may be slow: no thread blocks on it), other special files
/// (`/dev/null`, a character device) with plain writes. Nothing to rename: a failed checksum
/// can only say that the data was written.
pub(super) async fn download_to_special(
    c: &mut Connection,
    remote: &str,
    local: &Path,
    meta: &std::fs::Metadata,
    method: Option<&Method>,
    options: &DownloadOptions,
) -> Result<u64> {
    use std::os::unix::fs::FileTypeExt;
    let progress = options.progress.as_ref();
    let hasher = || method.map(|m| Hasher::new(m.algorithm()));
    let (n, checked, digest) = if meta.file_type().is_fifo() {
        // Read-write, so that opening does not fail while no reader has opened it yet (the
        // data waits in the pipe for one, as a blocking open would have).
        let pipe = tokio::net::unix::pipe::OpenOptions::new()
            .read_write(true)
            .open_sender(local)
            .map_err(|e| local_error(e, local, "cannot open"))?;
        let mut sink = Hashing::new(pipe, hasher());
        let next = next_download(options, method);
        let (n, checked) = c
            .retrieve_from(remote, &mut sink, progress, 0, next)
            .await?;
        sink.flush()
            .await
            .map_err(|e| local_error(e, local, "cannot write"))?;
        (n, checked, sink.finish())
    } else {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(local)
            .map_err(|e| local_error(e, local, "cannot open"))?;
        let mut sink = Hashing::new(LocalFile(file), hasher());
        let next = next_download(options, method);
        let (n, checked) = c
            .retrieve_from(remote, &mut sink, progress, 0, next)
            .await?;
        (n, checked, sink.finish())
    };
    check_download(c, remote, n, method, digest, options, checked)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Integrity => e.with_note(&format!(
                "the data was written to {} directly",
                local.display()
            )),
            _ => e,
        })?;
    Ok(n)
}

/// RETR `remote` into the local path `local` (see [`crate::Session::download`]).
pub(crate) async fn download_to_path(
    c: &mut Connection,
    remote: &str,
    local: &Path,
    options: &DownloadOptions,
) -> Result<u64> {
    let progress = options.progress.as_ref();
    let method = checksum_plan(c, options.checksum, &format!("RETR {remote}"))?;
    let alg = method.as_ref().map(Method::algorithm);
    // A quick syscall, done in place (a blocking-pool round trip costs more than the stat).
    match std::fs::metadata(local) {
        Ok(m) if m.is_dir() => {
            return Err(Error::invalid_input(format!(
                "{} is a directory",
                local.display()
            )));
        }
        Ok(m) if !m.is_file() => {
            // A device or FIFO: written directly, there is nothing to rename.
            let n = download_to_special(c, remote, local, &m, method.as_ref(), options).await?;
            return Ok(n);
        }
        _ => {}
    }
    if options.resume {
        let (mut part, offset) = PartFile::resumable(local)?;
        let start = starting_digest(method.as_ref(), &part.part, offset).await?;
        let mut sink = Hashing::new(&mut part.file, start);
        let (received, checked) = match c
            .retrieve_from(remote, &mut sink, progress, offset, None)
            .await
        {
            Err(e) if offset > 0 && rest_refused(&e) => {
                log::debug!("{remote}: the server cannot resume ({e}); starting over");
                sink.inner
                    .0
                    .set_len(0)
                    .map_err(|e| local_error(e, &part.part, "cannot truncate"))?;
                sink.restart(alg);
                c.retrieve_from(remote, &mut sink, progress, 0, None)
                    .await?
            }
            other => other?,
        };
        let digest = sink.finish();
        let len = part
            .file
            .0
            .metadata()
            .map_err(|e| local_error(e, &part.part, "cannot read"))?
            .len();
        if let Err(e) =
            check_download(c, remote, len, method.as_ref(), digest, options, checked).await
        {
            if e.kind() != ErrorKind::Integrity {
                return Err(e);
            }
            // Resuming from bad data cannot help: start the next attempt afresh.
            part.keep = false;
            return Err(e.with_note(&format!(
                "the download was discarded (part file removed, {} left as it was)",
                local.display()
            )));
        }
        part.commit()?;
        return Ok(received);
    }
    let mut part = PartFile::create(local)?;
    let mut sink = Hashing::new(&mut part.file, alg.map(Hasher::new));
    let next = next_download(options, method.as_ref());
    let (n, checked) = c
        .retrieve_from(remote, &mut sink, progress, 0, next)
        .await?;
    let digest = sink.finish();
    check_download(c, remote, n, method.as_ref(), digest, options, checked)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Integrity => e.with_note(&format!(
                "the download was discarded ({} left as it was)",
                local.display()
            )),
            _ => e,
        })?;
    part.commit()?;
    Ok(n)
}
