//! `ferroftp_transfer_options`: resume, atomic uploads, verification (size, checksum) and a
//! progress callback for `ferroftp_session_download_ex` / `ferroftp_session_upload_ex` (and their
//! `_start` forms). The plain `ferroftp_session_download` / `_upload` stay as they are (the
//! core's defaults).

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use ferroftp::{Checksum, DownloadOptions, HashAlgorithm, UploadOptions};

use crate::blocking::{block, finish};
use crate::callback::{Gate, flagged};
use crate::error::{CError, ferroftp_status};
use crate::ffi::{Out, try_out, try_ref, try_str};
use crate::future::{ferroftp_future, spawn_gated};
use crate::panic::ffi_panic_boundary;
use crate::session::{CSession, ferroftp_session};

use ferroftp_status as S;

/// A transfer progress callback: `userdata` first, then the bytes done so far and the total
/// (`total_known` false when the size is not known; `total` is then 0).
///
/// It runs on a library thread, many times during a transfer (after each chunk), with `done`
/// never decreasing. It must be quick and must not block: a blocking ferroftp call made inside
/// it returns `FERROFTP_STATUS_IN_CALLBACK`, and it must not wait for other futures. It must not
/// unwind (no C++ exception may leave it).
#[allow(non_camel_case_types)]
pub type ferroftp_progress_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, done: u64, total: u64, total_known: bool)>;

/// Whether and how a transfer is checked with a checksum the server computes (the `checksum`
/// field of `ferroftp_transfer_options`).
///
/// The digest of the data is computed while it streams and compared, after the transfer, with
/// the server's digest of the remote file: `HASH` where the server's FEAT reply offers it, else
/// the command of the algorithm (`XSHA256`, `XSHA512`, `XSHA1`, `XMD5`, `XCRC`). The server reads
/// the whole file to answer. A mismatch fails the transfer with `FERROFTP_STATUS_INTEGRITY`. A
/// compared checksum replaces the size check of `verify`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferroftp_checksum {
    /// No checksum (the default): only the size check of `verify`.
    FERROFTP_CHECKSUM_OFF = 0,
    /// The strongest checksum the server offers (SHA-256, SHA-512, SHA-1, MD5, CRC-32 in that
    /// order); none offered, or the command refused: not checked beyond `verify`.
    FERROFTP_CHECKSUM_IF_AVAILABLE = 1,
    /// As `FERROFTP_CHECKSUM_IF_AVAILABLE`, but a server that offers none fails the transfer
    /// before any data moves (`FERROFTP_STATUS_PERMANENT`, reply code 0), and a refused
    /// checksum command fails it after.
    FERROFTP_CHECKSUM_REQUIRED = 2,
    /// SHA-256 only; a server that offers no SHA-256 fails as with `REQUIRED`.
    FERROFTP_CHECKSUM_SHA256 = 3,
    /// SHA-512 only (as `FERROFTP_CHECKSUM_SHA256`).
    FERROFTP_CHECKSUM_SHA512 = 4,
    /// SHA-1 only (as `FERROFTP_CHECKSUM_SHA256`).
    FERROFTP_CHECKSUM_SHA1 = 5,
    /// MD5 only (as `FERROFTP_CHECKSUM_SHA256`).
    FERROFTP_CHECKSUM_MD5 = 6,
    /// CRC-32, as in zip and Ethernet, only (as `FERROFTP_CHECKSUM_SHA256`).
    FERROFTP_CHECKSUM_CRC32 = 7,
}

/// The core's checksum for a `checksum` field value.
pub(crate) fn checksum_of(value: u32) -> Result<Checksum, CError> {
    use ferroftp_checksum as C;
    const VALUES: [ferroftp_checksum; 8] = [
        C::FERROFTP_CHECKSUM_OFF,
        C::FERROFTP_CHECKSUM_IF_AVAILABLE,
        C::FERROFTP_CHECKSUM_REQUIRED,
        C::FERROFTP_CHECKSUM_SHA256,
        C::FERROFTP_CHECKSUM_SHA512,
        C::FERROFTP_CHECKSUM_SHA1,
        C::FERROFTP_CHECKSUM_MD5,
        C::FERROFTP_CHECKSUM_CRC32,
    ];
    let Some(c) = VALUES.into_iter().find(|c| *c as u32 == value) else {
        return Err(CError::new(
            S::FERROFTP_STATUS_INVALID_INPUT,
            format!("unknown checksum {value} (a ferroftp_checksum value)"),
        ));
    };
    Ok(match c {
        C::FERROFTP_CHECKSUM_OFF => Checksum::Off,
        C::FERROFTP_CHECKSUM_IF_AVAILABLE => Checksum::IfAvailable,
        C::FERROFTP_CHECKSUM_REQUIRED => Checksum::Required,
        C::FERROFTP_CHECKSUM_SHA256 => Checksum::Only(HashAlgorithm::Sha256),
        C::FERROFTP_CHECKSUM_SHA512 => Checksum::Only(HashAlgorithm::Sha512),
        C::FERROFTP_CHECKSUM_SHA1 => Checksum::Only(HashAlgorithm::Sha1),
        C::FERROFTP_CHECKSUM_MD5 => Checksum::Only(HashAlgorithm::Md5),
        C::FERROFTP_CHECKSUM_CRC32 => Checksum::Only(HashAlgorithm::Crc32),
    })
}

/// Options of `ferroftp_session_download_ex` and `ferroftp_session_upload_ex`. A plain struct
/// owned by the caller: fill it with `ferroftp_transfer_options_init` (which writes every
/// default), change the fields you need, and pass a pointer; the call copies it (the struct may
/// be released as soon as the call returns, `userdata` may not: see `progress`). Always
/// initialise it with `ferroftp_transfer_options_init`: fields may be added in later versions,
/// always at the end (the offsets of the existing ones never change), but the struct then grows
/// and it has no size field, so a program must be compiled against the header of the library
/// it runs with.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferroftp_transfer_options {
    /// Continue a partial transfer (default false). Download: from the part file an earlier
    /// failed attempt with `resume` kept beside the target (REST); on failure the part file is
    /// kept for the next attempt. Upload: from the size the remote file (or, with `atomic`, its
    /// temporary file) already has (REST + STOR, or APPE where the server refuses REST).
    pub resume: bool,
    /// Upload only: send to a temporary name beside the target and rename it into place after
    /// the server's final reply, so readers never see a partial file (default false). Ignored by
    /// downloads (they always land in a temporary file first).
    pub atomic: bool,
    /// Check the transferred size against the server's (default true).
    pub verify: bool,
    /// Called with the progress, or NULL (default) for none. See `ferroftp_progress_callback`.
    pub progress: ferroftp_progress_callback,
    /// Passed to `progress` untouched (default NULL). It must stay valid until the blocking call
    /// returns, or until the future has finished or been freed (`ferroftp_future_free` stops
    /// the progress calls before it returns).
    pub userdata: *mut c_void,
    /// A `ferroftp_checksum` value (default `FERROFTP_CHECKSUM_OFF`); another number fails the
    /// call with `FERROFTP_STATUS_INVALID_INPUT` (a `_start` call: its future). A download is
    /// compared before it is renamed into place, an atomic upload before its rename; a
    /// mismatch is `FERROFTP_STATUS_INTEGRITY`.
    pub checksum: u32,
}

impl Default for ferroftp_transfer_options {
    fn default() -> Self {
        let d = DownloadOptions::default();
        Self {
            resume: d.resume,
            atomic: UploadOptions::default().atomic,
            verify: d.verify,
            progress: None,
            userdata: std::ptr::null_mut(),
            checksum: ferroftp_checksum::FERROFTP_CHECKSUM_OFF as u32,
        }
    }
}

/// The caller's progress function and its userdata, callable from library threads.
#[derive(Clone)]
struct ProgressFn {
    func: unsafe extern "C" fn(*mut c_void, u64, u64, bool),
    userdata: *mut c_void,
    /// Closed when the future is freed (never for a blocking call).
    gate: Arc<Gate>,
}

// SAFETY: the C caller promises (documented on `ferroftp_progress_callback` and the `userdata`
// field) that the function and its userdata may be used from library threads.
unsafe impl Send for ProgressFn {}
// SAFETY: as above; the library never touches `userdata` itself.
unsafe impl Sync for ProgressFn {}

impl ProgressFn {
    fn call(&self, done: u64, total: Option<u64>) {
        self.gate.run(|| {
            // SAFETY: a function pointer and userdata the C caller supplied for this transfer,
            // whose future (if any) has not been freed (the gate is open).
            flagged(|| unsafe {
                (self.func)(self.userdata, done, total.unwrap_or(0), total.is_some())
            });
        });
    }
}

/// Reads the caller's options (NULL: the defaults).
///
/// # Safety
/// `options` must be NULL or point to a valid `ferroftp_transfer_options`.
unsafe fn read(options: *const ferroftp_transfer_options) -> ferroftp_transfer_options {
    // SAFETY: see the function's contract.
    unsafe { options.as_ref() }.copied().unwrap_or_default()
}

fn progress_of(o: &ferroftp_transfer_options, gate: Arc<Gate>) -> Option<ProgressFn> {
    o.progress.map(|func| ProgressFn {
        func,
        userdata: o.userdata,
        gate,
    })
}

/// The core's download options from the C struct (an unknown `checksum` is an error, reported
/// by the operation, as `ferroftp_options` errors are by the connect).
fn download_options(
    o: &ferroftp_transfer_options,
    gate: Arc<Gate>,
) -> Result<DownloadOptions, CError> {
    let mut d = DownloadOptions::default()
        .resume(o.resume)
        .verify(o.verify)
        .checksum(checksum_of(o.checksum)?);
    if let Some(p) = progress_of(o, gate) {
        d = d.progress(move |done, total| p.call(done, total));
    }
    Ok(d)
}

/// The core's upload options from the C struct (see [`download_options`]).
fn upload_options(o: &ferroftp_transfer_options, gate: Arc<Gate>) -> Result<UploadOptions, CError> {
    let mut u = UploadOptions::default()
        .resume(o.resume)
        .atomic(o.atomic)
        .verify(o.verify)
        .checksum(checksum_of(o.checksum)?);
    if let Some(p) = progress_of(o, gate) {
        u = u.progress(move |done, total| p.call(done, total));
    }
    Ok(u)
}

async fn op_download_ex(
    s: CSession,
    remote: String,
    local: String,
    options: Result<DownloadOptions, CError>,
) -> Result<u64, CError> {
    Ok(s.download(&remote, local, options?).await?)
}

async fn op_upload_ex(
    s: CSession,
    local: String,
    remote: String,
    options: Result<UploadOptions, CError>,
) -> Result<u64, CError> {
    Ok(s.upload(local, &remote, options?).await?)
}

/// Fills `*options_out` with the defaults (see each field of `ferroftp_transfer_options`):
/// no resume, not atomic, verify, no progress callback, no checksum.
///
/// `options_out` points to caller-owned memory; nothing is allocated.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_transfer_options_init(
    options_out: *mut ferroftp_transfer_options,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(options_out);
        out.write(ferroftp_transfer_options::default());
        S::FERROFTP_STATUS_OK
    }
}

/// `ferroftp_session_download` with options (`options` NULL: the defaults, the same as
/// `ferroftp_session_download`): downloads `remote` to the local file `local`, blocking, and
/// writes the byte count to `*bytes_out` (unless `bytes_out` is NULL).
///
/// The progress callback (if any) runs on a library thread while this call blocks. `options`
/// is only borrowed for the call.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_download_ex(
    session: *const ferroftp_session,
    remote: *const c_char,
    local: *const c_char,
    options: *const ferroftp_transfer_options,
    bytes_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let local = try_str!(local);
        let out = Out::optional(bytes_out);
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = download_options(&unsafe { read(options) }, Arc::default());
        finish(block(op_download_ex(s.clone(), remote.into(), local.into(), o)), out, |n| n)
    }
}

/// Starts `ferroftp_session_download_ex`; writes its future to `*future_out`, owned by the
/// caller (free it with `ferroftp_future_free`; take the byte count with
/// `ferroftp_future_take_u64`). `options` is copied before this call returns; its `userdata`
/// must stay valid until the future has finished or been freed.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_download_ex_start(
    session: *const ferroftp_session,
    remote: *const c_char,
    local: *const c_char,
    options: *const ferroftp_transfer_options,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let remote = try_str!(remote);
        let local = try_str!(local);
        let out = try_out!(future_out);
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = unsafe { read(options) };
        let s = s.clone();
        spawn_gated(
            |gate| op_download_ex(s, remote.into(), local.into(), download_options(&o, gate)),
            out,
        )
    }
}

/// `ferroftp_session_upload` with options (`options` NULL: the defaults, the same as
/// `ferroftp_session_upload`): uploads the local file `local` to `remote`, blocking until the
/// server confirmed it (and, with `atomic`, the rename into place), and writes the byte count to
/// `*bytes_out` (unless `bytes_out` is NULL).
///
/// The progress callback (if any) runs on a library thread while this call blocks. `options`
/// is only borrowed for the call.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_upload_ex(
    session: *const ferroftp_session,
    local: *const c_char,
    remote: *const c_char,
    options: *const ferroftp_transfer_options,
    bytes_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let local = try_str!(local);
        let remote = try_str!(remote);
        let out = Out::optional(bytes_out);
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = upload_options(&unsafe { read(options) }, Arc::default());
        finish(block(op_upload_ex(s.clone(), local.into(), remote.into(), o)), out, |n| n)
    }
}

/// Starts `ferroftp_session_upload_ex`; writes its future to `*future_out`, owned by the caller
/// (free it with `ferroftp_future_free`; take the byte count with `ferroftp_future_take_u64`).
/// `options` is copied before this call returns; its `userdata` must stay valid until the
/// future has finished or been freed.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_session_upload_ex_start(
    session: *const ferroftp_session,
    local: *const c_char,
    remote: *const c_char,
    options: *const ferroftp_transfer_options,
    future_out: *mut *mut ferroftp_future,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let s = try_ref!(session);
        let local = try_str!(local);
        let remote = try_str!(remote);
        let out = try_out!(future_out);
        // SAFETY: the caller promises `options` is NULL or a valid, initialised struct.
        let o = unsafe { read(options) };
        let s = s.clone();
        spawn_gated(
            |gate| op_upload_ex(s, local.into(), remote.into(), upload_options(&o, gate)),
            out,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_core() {
        let o = ferroftp_transfer_options::default();
        assert!(!o.resume && !o.atomic && o.verify && o.progress.is_none());
        assert_eq!(o.checksum, 0);
        let d = download_options(&o, Arc::default()).unwrap();
        assert_eq!((d.resume, d.verify), (false, true));
        assert_eq!(d.checksum, DownloadOptions::default().checksum);
        let u = upload_options(
            &ferroftp_transfer_options {
                atomic: true,
                verify: false,
                ..o
            },
            Arc::default(),
        )
        .unwrap();
        assert_eq!((u.resume, u.atomic, u.verify), (false, true, false));
        assert_eq!(u.checksum, UploadOptions::default().checksum);
    }

    /// A checksum setting added to the core fails here until `ferroftp_checksum` has a value
    /// for it.
    #[test]
    fn every_core_checksum_has_a_value() {
        for c in Checksum::ALL {
            let values: Vec<u32> = (0..=255)
                .filter(|n| checksum_of(*n).ok() == Some(c))
                .collect();
            assert_eq!(
                values.len(),
                1,
                "the core's checksum `{c}` needs exactly one ferroftp_checksum value (append one \
                 with a new number and map it in checksum_of): {values:?}"
            );
        }
    }

    #[test]
    fn checksum_values() {
        use HashAlgorithm::*;
        let want = [
            Checksum::Off,
            Checksum::IfAvailable,
            Checksum::Required,
            Checksum::Only(Sha256),
            Checksum::Only(Sha512),
            Checksum::Only(Sha1),
            Checksum::Only(Md5),
            Checksum::Only(Crc32),
        ];
        for (n, c) in want.into_iter().enumerate() {
            assert_eq!(checksum_of(n as u32).unwrap(), c, "{n}");
        }
        for bad in [8, 99, u32::MAX] {
            let e = checksum_of(bad).unwrap_err();
            assert_eq!(e.status, S::FERROFTP_STATUS_INVALID_INPUT);
            assert!(e.message.contains(&format!("unknown checksum {bad}")));
        }
        let o = ferroftp_transfer_options {
            checksum: 8,
            ..Default::default()
        };
        assert!(download_options(&o, Arc::default()).is_err());
        assert!(upload_options(&o, Arc::default()).is_err());
    }
}
