//! The calling thread's last error, read from C: `ferroftp_last_error_message`, `_length`,
//! `_code`, `_status`, `_may_have_taken_effect`, and `ferroftp_status_name`. The statuses and
//! the storage are in [`crate::error`].

use std::ffi::{c_char, c_int};

use crate::error::{ferroftp_status, with_last};
use crate::panic::ffi_panic_boundary;

use ferroftp_status as S;

/// Copies the calling thread's last error message into `buf` (UTF-8, NUL-terminated).
///
/// `buf` is owned by the caller and holds `len` bytes. A message longer than `len - 1` bytes is
/// cut at a UTF-8 character boundary so that it fits; `ferroftp_last_error_length` gives the
/// full length. When no call on this thread has failed yet, the message is empty. The number of
/// bytes written, without the NUL, goes to `*written` unless `written` is NULL.
///
/// Returns `FERROFTP_STATUS_OK`, or `FERROFTP_STATUS_NULL_ARGUMENT` when `buf` is NULL or `len` is 0
/// (this function never changes the last error itself).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_last_error_message(
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> ferroftp_status {
    ffi_panic_boundary! {
        if buf.is_null() || len == 0 {
            return S::FERROFTP_STATUS_NULL_ARGUMENT;
        }
        with_last(|last| {
            let message = last.map_or("", |e| e.message.as_str());
            let mut n = message.len().min(len - 1);
            while !message.is_char_boundary(n) {
                n -= 1;
            }
            // SAFETY: the caller promises `buf` points to `len` writable bytes, and n < len.
            unsafe {
                std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
                *buf.add(n) = 0;
            }
            if !written.is_null() {
                // SAFETY: non-NULL out-pointer provided by the caller.
                unsafe { *written = n };
            }
        });
        S::FERROFTP_STATUS_OK
    }
}

/// The length in bytes (without the terminating NUL) of the calling thread's last error
/// message; 0 when there is none.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_last_error_length() -> usize {
    ffi_panic_boundary! {
        with_last(|last| last.map_or(0, |e| e.message.len()))
    }
}

/// The FTP reply code of the calling thread's last error (e.g. 550), or 0 when that error was
/// not a server reply (or no call on this thread has failed yet).
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_last_error_code() -> c_int {
    ffi_panic_boundary! {
        with_last(|last| last.and_then(|e| e.code).map_or(0, c_int::from))
    }
}

/// Whether the operation that failed with the calling thread's last error may have changed
/// something on the server although it failed: an upload or write that stopped after the server
/// accepted it (the server may hold part of the file), or a remove, rename, mkdir or rmdir whose
/// connection broke before the server's reply came. The library never repeats such an operation
/// by itself; look at the server before you do (e.g. `ferroftp_session_size` of the file).
///
/// false for every other error — a refusal by the server (the command did nothing), a failure
/// before the command was sent, a read or download, a misuse of the API — and when no call on
/// this thread has failed yet. Like the rest of the last error, it is set for a future's error
/// on the thread that asks for its status or result (and on the callback's thread before its
/// callback runs). Never changes the last error itself.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_last_error_may_have_taken_effect() -> bool {
    ffi_panic_boundary! {
        with_last(|last| last.is_some_and(|e| e.may_have_taken_effect))
    }
}

/// The status of the calling thread's last error, or `FERROFTP_STATUS_OK` when no call on this
/// thread has failed yet.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_last_error_status() -> ferroftp_status {
    ffi_panic_boundary! {
        with_last(|last| last.map_or(S::FERROFTP_STATUS_OK, |e| e.status))
    }
}

/// The name of a status number (`"FERROFTP_STATUS_NOT_FOUND"`), or `"FERROFTP_STATUS_UNKNOWN"`
/// for a number that is not a status. The string is static: do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_status_name(status: u32) -> *const c_char {
    ffi_panic_boundary! {
        ferroftp_status::ALL
            .iter()
            .find(|s| **s as u32 == status)
            .map_or(c"FERROFTP_STATUS_UNKNOWN", |s| s.name())
            .as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;
    use crate::error::{CError, set_error};

    #[test]
    fn every_status_has_its_name() {
        for s in ferroftp_status::ALL {
            let name = unsafe { CStr::from_ptr(ferroftp_status_name(s as u32)) };
            assert_eq!(name, s.name());
            assert!(name.to_str().unwrap().starts_with("FERROFTP_STATUS_"));
        }
        let unknown = unsafe { CStr::from_ptr(ferroftp_status_name(4242)) };
        assert_eq!(unknown, c"FERROFTP_STATUS_UNKNOWN");
    }

    #[test]
    fn message_is_cut_at_a_char_boundary() {
        set_error(S::FERROFTP_STATUS_IO, Some(451), "héllo");
        let mut buf = [0x55 as c_char; 3];
        let mut n = 99;
        assert_eq!(
            ferroftp_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n),
            S::FERROFTP_STATUS_OK
        );
        // "h" + the 2-byte "é" does not fit into 2 bytes: only "h" is copied.
        assert_eq!(n, 1);
        assert_eq!(buf[..2], [b'h' as c_char, 0]);
        assert_eq!(ferroftp_last_error_length(), "héllo".len());
        assert_eq!(ferroftp_last_error_code(), 451);
        assert_eq!(ferroftp_last_error_status(), S::FERROFTP_STATUS_IO);
        assert!(!ferroftp_last_error_may_have_taken_effect());
    }

    #[test]
    fn may_have_taken_effect_follows_the_last_error() {
        assert!(!ferroftp_last_error_may_have_taken_effect(), "no error yet");
        CError {
            may_have_taken_effect: true,
            ..CError::new(S::FERROFTP_STATUS_IO, "STOR /x: connection reset")
        }
        .raise();
        assert!(ferroftp_last_error_may_have_taken_effect());
        assert_eq!(ferroftp_last_error_status(), S::FERROFTP_STATUS_IO);
        set_error(
            S::FERROFTP_STATUS_NULL_ARGUMENT,
            None,
            "argument `x` is NULL",
        );
        assert!(!ferroftp_last_error_may_have_taken_effect());
    }
}
