//! Remote names as the server's raw bytes: `ferroftp_path_from_bytes`, `ferroftp_path_to_bytes`
//! (and `ferroftp_entries_name_bytes` in [`crate::entries`]).
//!
//! Every string argument of the API must be UTF-8 (else `FERROFTP_STATUS_INVALID_UTF8`), and every
//! string the library returns is UTF-8. Names that are not UTF-8 travel inside those strings in
//! the core's lossless form ([`ferroftp::names`]): each byte that is not part of valid UTF-8 is a
//! private-use character. So instead of a `_bytes` twin of each of the ~40 functions that take a
//! path (blocking, `_start`, `_ex`, the pool's arrays), the API has one conversion each way; the
//! converted string is accepted by all of them, and the paths of a listing are already in that
//! form.

use std::ffi::{CString, c_char};

use crate::error::{ferroftp_status, set_error};
use crate::ffi::{try_out, try_slice, try_str};
use crate::panic::ffi_panic_boundary;
use crate::values::ferroftp_bytes;

/// Converts the raw bytes of a remote path or name (`len` bytes at `bytes`, any values but 0,
/// e.g. from `ferroftp_entries_name_bytes` or from a Latin-1 or Shift-JIS file name) into the
/// library's string form, and writes that new UTF-8 string to `*path_out`. Pass it to any
/// function taking a remote path (`ferroftp_session_download`, `_rename`, `_remove`, their
/// `_start` forms, the pool's path arrays, ...): it addresses exactly these bytes. The caller owns
/// the string and must free it with `ferroftp_string_free`.
///
/// Bytes that are valid UTF-8 stay as they are; each other byte becomes a private-use character
/// (U+F780 + byte - 0x80), which is what the library itself returns for such names (entry paths,
/// names, PWD). `ferroftp_path_to_bytes` gives the bytes back, unchanged, for every input.
/// `bytes` is borrowed for the call only; it may be NULL when `len` is 0 (the empty string).
/// Returns `FERROFTP_STATUS_INVALID_INPUT` when the bytes hold a 0 byte (a C string cannot carry
/// it, and no FTP path holds one).
///
/// Why a conversion and not `_bytes` variants: string arguments stay UTF-8 everywhere (a string
/// that is not is still refused with `FERROFTP_STATUS_INVALID_UTF8`, so a Latin-1 `char *` passed
/// by mistake fails loudly instead of addressing some other name), while this one function makes
/// any raw name usable with all ~40 functions that take a remote path — blocking, `_start`,
/// `_ex` and the pool's arrays — without a byte-string twin of each.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_path_from_bytes(
    bytes: *const u8,
    len: usize,
    path_out: *mut *mut c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let raw = try_slice!(bytes, len);
        let out = try_out!(path_out);
        match CString::new(ferroftp::names::decode(raw)) {
            Ok(path) => {
                out.write(path.into_raw());
                ferroftp_status::FERROFTP_STATUS_OK
            }
            Err(_) => set_error(
                ferroftp_status::FERROFTP_STATUS_INVALID_INPUT,
                None,
                "argument `bytes` holds a 0 byte, which no path can hold",
            ),
        }
    }
}

/// Writes the server's raw bytes for the remote path or name `path` (a UTF-8 string, as the
/// library returns them: entry names and paths, NLST names, PWD, or a `ferroftp_path_from_bytes`
/// result) to `*bytes_out`: a new buffer the caller owns and must free with `ferroftp_bytes_free`.
/// The bytes are `path`'s UTF-8, except that each private-use character U+F780..U+F7FF becomes
/// the byte it stands for; they are what the library sends for `path`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_path_to_bytes(
    path: *const c_char,
    bytes_out: *mut *mut ferroftp_bytes,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let path = try_str!(path);
        let out = try_out!(bytes_out);
        out.write(ferroftp_bytes::into_raw(ferroftp::names::encode(path)));
        ferroftp_status::FERROFTP_STATUS_OK
    }
}
