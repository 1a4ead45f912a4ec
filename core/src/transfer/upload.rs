//! Uploads from a local path: atomic uploads, resume, streams (pipes, FIFOs).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::checksum::{Hasher, Hashing, Method};
use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};

use super::UploadOptions;
use super::check::{checksum_plan, compare_checksum, rest_refused, starting_digest, verify_size};
use super::local::{LocalFile, local_error};

/// The temporary remote name of an atomic upload to `remote`.
pub(super) fn upload_temp_name(remote: &str, fixed: bool) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (dir, name) = match remote.rsplit_once('/') {
        Some((d, n)) => (format!("{d}/"), n),
        None => (String::new(), remote),
    };
    if fixed {
        format!("{dir}.{name}.ferroftp-upload")
    } else {
        format!(
            "{dir}.{name}.{}-{}.ferroftp-upload",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// After an upload to `dest` of a local file of `len` bytes: the checksum (if asked for), else
/// the size check (if asked for).
pub(super) async fn check_upload(
    c: &mut Connection,
    dest: &str,
    len: u64,
    method: Option<&Method>,
    digest: Option<Vec<u8>>,
    options: &UploadOptions,
) -> Result<()> {
    let context = format!("STOR {dest}");
    let compared = match (method, digest) {
        (Some(m), Some(d)) => {
            compare_checksum(c, dest, len, m, &d, options.checksum, &context).await?
        }
        _ => false,
    };
    if options.verify && !compared {
        verify_size(c, dest, len, "STOR").await?;
    }
    Ok(())
}

/// Cleans up after a failed upload to `dest` (the temporary name of an atomic upload to
/// `remote`, or `remote` itself) and says in the error what was left behind.
pub(super) async fn upload_failed(
    c: &mut Connection,
    e: Error,
    dest: &str,
    remote: &str,
    options: &UploadOptions,
) -> Error {
    let integrity = e.kind() == ErrorKind::Integrity;
    if options.atomic && (!options.resume || integrity) && !e.breaks_connection() {
        // A resumable temporary file is kept for the next attempt, unless its data is bad.
        let removed = c.control.remove(dest).await.is_ok();
        if integrity {
            return e.with_note(&if removed {
                format!("the temporary file {dest} was removed and {remote} left as it was")
            } else {
                format!("{remote} was left as it was, but the temporary file {dest} could not be removed")
            });
        }
    } else if integrity {
        return e.with_note(&if options.resume {
            format!(
                "{remote} is left as the server stored it (remove it: resuming would keep its bad data)"
            )
        } else {
            format!("{remote} is left as the server stored it")
        });
    }
    e
}

/// Uploads from a pipe, FIFO or device: read on tokio's blocking pool, so a writer that stalls
/// blocks no runtime thread (and the upload stays cancellable). It cannot be resumed.
pub(super) async fn upload_from_stream(
    c: &mut Connection,
    local: &Path,
    remote: &str,
    options: &UploadOptions,
    method: Option<Method>,
) -> Result<u64> {
    if options.resume {
        return Err(Error::invalid_input(format!(
            "{} is not a regular file: an upload from it cannot be resumed",
            local.display()
        )));
    }
    let source = tokio::fs::File::open(local)
        .await
        .map_err(|e| local_error(e, local, "cannot open"))?;
    let mut source = Hashing::new(source, method.as_ref().map(|m| Hasher::new(m.algorithm())));
    let dest = if options.atomic {
        upload_temp_name(remote, false)
    } else {
        remote.to_string()
    };
    let checked = async {
        let sent = c
            .store(&dest, &mut source, None, false, options.progress.as_ref())
            .await?;
        check_upload(c, &dest, sent, method.as_ref(), source.finish(), options).await?;
        Ok(sent)
    }
    .await;
    let sent = match checked {
        Ok(n) => n,
        Err(e) => return Err(upload_failed(c, e, &dest, remote, options).await),
    };
    if options.atomic {
        c.control.rename(&dest, remote).await?;
    }
    Ok(sent)
}

/// STOR the local file `local` to `remote` (see [`crate::Session::upload`]); returns the
/// bytes sent.
pub(crate) async fn upload_from_path(
    c: &mut Connection,
    local: &Path,
    remote: &str,
    options: &UploadOptions,
) -> Result<u64> {
    let progress = options.progress.as_ref();
    let meta = std::fs::metadata(local).map_err(|e| local_error(e, local, "cannot open"))?;
    if meta.is_dir() {
        return Err(Error::invalid_input(format!(
            "{} is a directory",
            local.display()
        )));
    }
    let method = checksum_plan(c, options.checksum, &format!("STOR {remote}"))?;
    if !meta.is_file() {
        return upload_from_stream(c, local, remote, options, method).await;
    }
    let mut file =
        LocalFile(std::fs::File::open(local).map_err(|e| local_error(e, local, "cannot open"))?);
    let len = meta.len();
    let dest = if options.atomic {
        upload_temp_name(remote, options.resume)
    } else {
        remote.to_string()
    };
    let sent = async {
        let mut offset = 0;
        if options.resume {
            offset = match c.control.size(&dest).await {
                Ok(n) if n <= len => n,
                Ok(_) => 0, // longer than ours: not a prefix of this file, start over
                Err(e) if e.code().is_some() => 0,
                Err(e) => return Err(e),
            };
        }
        let start = starting_digest(method.as_ref(), local, offset).await?;
        let (sent, digest) = if offset == len && offset > 0 {
            (0, start.map(Hasher::finish))
        } else if offset > 0 {
            use std::io::Seek;
            file.0
                .seek(std::io::SeekFrom::Start(offset))
                .map_err(|e| local_error(e, local, "cannot seek in"))?;
            let mut source = Hashing::new(&mut file, start);
            let sent = match c
                .store_at(&dest, &mut source, Some(len), false, progress, offset)
                .await
            {
                // Refused before any data was read: the digest still covers the prefix only.
                Err(e) if rest_refused(&e) => {
                    log::debug!("{dest}: REST refused ({e}); appending instead");
                    c.append_from(&dest, &mut source, Some(len), progress, offset)
                        .await?
                }
                other => other?,
            };
            (sent, source.finish())
        } else {
            let mut source = Hashing::new(&mut file, start);
            let sent = c
                .store(&dest, &mut source, Some(len), false, progress)
                .await?;
            (sent, source.finish())
        };
        check_upload(c, &dest, len, method.as_ref(), digest, options).await?;
        Ok(sent)
    }
    .await;
    let sent = match sent {
        Ok(n) => n,
        Err(e) => return Err(upload_failed(c, e, &dest, remote, options).await),
    };
    if options.atomic
        && let Err(e) = c.control.rename(&dest, remote).await
    {
        // Some servers refuse to rename over an existing file: replace it explicitly.
        if e.code().is_none() || c.control.remove(remote).await.is_err() {
            return Err(e);
        }
        c.control.rename(&dest, remote).await?;
    }
    Ok(sent)
}
