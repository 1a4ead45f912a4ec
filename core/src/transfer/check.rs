//! The checks after a transfer: the size the server reports, and checksums.

use std::path::Path;

use crate::checksum::{self, Checksum, Hasher, Method};
use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};

use super::DownloadOptions;
use super::local::local_error;

/// A refused REST (the server cannot resume): 500-504.
pub(super) fn rest_refused(e: &Error) -> bool {
    matches!(e.code(), Some(500..=504))
}

/// Compares `expected` with the server's SIZE of `remote`; servers without SIZE are trusted.
pub(crate) async fn verify_size(
    c: &mut Connection,
    remote: &str,
    expected: u64,
    what: &str,
) -> Result<()> {
    if !c.control.has_size() {
        return Ok(());
    }
    // After an upload, the next data command's EPSV goes with the SIZE (a batch of uploads).
    let size = if what == "STOR" {
        c.data().size_then_epsv(remote).await
    } else {
        c.control.size(remote).await
    };
    match size {
        Ok(size) if size == expected => Ok(()),
        Ok(size) => Err(Error::new(
            ErrorKind::Io,
            format!("{what} {remote}: {expected} bytes here, the server has {size}"),
        )),
        Err(e) if e.code().is_some() => Ok(()), // SIZE refused for this file: nothing to compare
        Err(e) => Err(e),
    }
}

/// The checksum check a transfer will make, decided from FEAT before any data moves: a
/// required checksum the server cannot give fails here.
pub(super) fn checksum_plan(
    c: &Connection,
    wanted: Checksum,
    context: &str,
) -> Result<Option<Method>> {
    c.control.hash_features().plan(wanted).map_err(|why| {
        Error::new(
            ErrorKind::Permanent,
            format!("{context}: a checksum is required, but {why}"),
        )
    })
}

/// Compares `ours`, the digest of the data transferred, with the server's digest of `remote`
/// (`len` bytes). Returns whether they were compared: a server that refuses the command (or
/// answers something unreadable) is only logged with [`Checksum::IfAvailable`].
pub(super) async fn compare_checksum(
    c: &mut Connection,
    remote: &str,
    len: u64,
    method: &Method,
    ours: &[u8],
    wanted: Checksum,
    context: &str,
) -> Result<bool> {
    let theirs = match c.control.remote_digest(remote, len, method).await {
        Ok(d) => d,
        Err(e) if wanted == Checksum::IfAvailable && e.code().is_some() => {
            log::warn!("{context}: not checked with a checksum: {e}");
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    if theirs == ours {
        return Ok(true);
    }
    Err(Error::new(
        ErrorKind::Integrity,
        format!(
            "{context}: checksum mismatch: the {} of the data here is {}, the server's ({} {remote}) is {}",
            method.algorithm(),
            checksum::hex(ours),
            method.verb(),
            checksum::hex(&theirs),
        ),
    ))
}

/// The digest a transfer of `len` bytes from `offset` starts from: the local file's first
/// `offset` bytes (sent or received by an earlier attempt), or nothing.
pub(super) async fn starting_digest(
    method: Option<&Method>,
    path: &Path,
    offset: u64,
) -> Result<Option<Hasher>> {
    match method.map(Method::algorithm) {
        Some(alg) if offset > 0 => checksum::hash_prefix(path, offset, alg)
            .await
            .map(Some)
            .map_err(|e| local_error(e, path, "cannot read")),
        alg => Ok(alg.map(Hasher::new)),
    }
}

/// After a download of `len` bytes: the checksum (if asked for), else the size check (if asked
/// for and not done yet). `digest` is the local one.
pub(super) async fn check_download(
    c: &mut Connection,
    remote: &str,
    len: u64,
    method: Option<&Method>,
    digest: Option<Vec<u8>>,
    options: &DownloadOptions,
    size_checked: bool,
) -> Result<()> {
    let context = format!("RETR {remote}");
    let compared = match (method, digest) {
        (Some(m), Some(d)) => {
            compare_checksum(c, remote, len, m, &d, options.checksum, &context).await?
        }
        _ => false,
    };
    if options.verify && !size_checked && !compared {
        verify_size(c, remote, len, "RETR").await?;
    }
    Ok(())
}

/// The download that follows on the same session, whose RETR may go ahead: not when this
/// one ends with a checksum command, which would only give that RETR up.
pub(super) fn next_download<'a>(
    options: &'a DownloadOptions,
    method: Option<&Method>,
) -> Option<&'a str> {
    options.next.as_deref().filter(|_| method.is_none())
}
