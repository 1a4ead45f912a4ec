//! Library-owned results other than listings: strings, string lists and byte buffers.

use std::ffi::{CString, c_char};

use crate::error::{CError, ferroftp_status, set_error};
use crate::ffi::{Castable, free_box, try_out, try_ref};
use crate::panic::ffi_panic_boundary;

/// A read-only list of UTF-8, NUL-terminated strings (the names of `ferroftp_session_names`).
///
/// Behind the pointer: a Rust `Vec<CString>`. Made by `ferroftp_session_names` or
/// `ferroftp_future_take_names`; to avoid a memory leak it must eventually be freed with
/// `ferroftp_strings_free`. The strings `ferroftp_strings_get` returns are owned by the list and
/// stay valid until it is freed. Immutable: may be read from any number of threads at once.
pub struct ferroftp_strings {
    _private: [u8; 0],
}

impl Castable for ferroftp_strings {
    type RustType = Vec<CString>;
}

/// Converts server strings for C.
pub(crate) fn convert_strings(names: Vec<String>) -> Result<Vec<CString>, CError> {
    names
        .into_iter()
        .map(|n| crate::entries::c_string(n, "name"))
        .collect()
}

/// Writes the number of strings in `strings` to `*count_out`.
///
/// Returns `FERROFTP_STATUS_NULL_ARGUMENT` for a NULL argument.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_strings_count(
    strings: *const ferroftp_strings,
    count_out: *mut usize,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let list = try_ref!(strings);
        let out = try_out!(count_out);
        out.write(list.len());
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

/// Writes string `index` of `strings` to `*string_out`.
///
/// The string is owned by `strings` and valid until `ferroftp_strings_free`: do not free it.
/// Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index` is not below the count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_strings_get(
    strings: *const ferroftp_strings,
    index: usize,
    string_out: *mut *const c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let list = try_ref!(strings);
        let out = try_out!(string_out);
        match list.get(index) {
            Some(s) => {
                out.write(s.as_ptr());
                ferroftp_status::FERROFTP_STATUS_OK
            }
            None => set_error(
                ferroftp_status::FERROFTP_STATUS_OUT_OF_RANGE,
                None,
                format!("string index {index} is out of range (the list has {} strings)", list.len()),
            ),
        }
    }
}

/// Frees a string list and every string it handed out. NULL is a no-op.
///
/// `strings` must come from this library and must not be used (or freed) again afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_strings_free(strings: *mut ferroftp_strings) {
    ffi_panic_boundary! {
        // SAFETY: the caller hands back a pointer this library made, once.
        unsafe { free_box(strings) }
    }
}

/// A library-owned byte buffer (the contents of a remote file read into memory).
///
/// Read `data[0 .. len)`; do not change either field (the library frees the buffer by them).
/// `data` is never NULL, but must not be read when `len` is 0. Made by `ferroftp_session_read`
/// or `ferroftp_future_take_bytes`; to avoid a memory leak it must eventually be freed with
/// `ferroftp_bytes_free`. Immutable: may be read from any number of threads at once.
#[repr(C)]
pub struct ferroftp_bytes {
    /// The first byte (never NULL; dangling when `len` is 0).
    pub data: *const u8,
    /// The number of bytes.
    pub len: usize,
}

impl ferroftp_bytes {
    /// Hands `data` to C (the allocation is exactly `len` bytes, so it can be rebuilt).
    pub(crate) fn into_raw(data: Vec<u8>) -> *mut ferroftp_bytes {
        let boxed: Box<[u8]> = data.into_boxed_slice();
        let len = boxed.len();
        let data = Box::into_raw(boxed).cast::<u8>().cast_const();
        Box::into_raw(Box::new(ferroftp_bytes { data, len }))
    }
}

/// Frees a byte buffer made by this library. NULL is a no-op.
///
/// `bytes` must come from this library, with its fields unchanged, and must not be used (or
/// freed) again afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_bytes_free(bytes: *mut ferroftp_bytes) {
    ffi_panic_boundary! {
        if bytes.is_null() {
            return;
        }
        // SAFETY: made by `into_raw`: a boxed header pointing to a boxed slice of `len` bytes.
        unsafe {
            let header = Box::from_raw(bytes);
            let slice = std::ptr::slice_from_raw_parts_mut(header.data.cast_mut(), header.len);
            drop(Box::from_raw(slice));
        }
    }
}

/// Frees a string this library handed out through a `char **` out-parameter
/// (`ferroftp_session_pwd`, `ferroftp_session_quote`, `ferroftp_future_take_string`, ...). NULL
/// is a no-op.
///
/// Never pass a string borrowed from a list (`ferroftp_entries_*`, `ferroftp_strings_get`) or a
/// static one (`ferroftp_version`, `ferroftp_status_name`). `string` must not be used again.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_string_free(string: *mut c_char) {
    ffi_panic_boundary! {
        if !string.is_null() {
            // SAFETY: made by `CString::into_raw` in this library, handed back once.
            drop(unsafe { CString::from_raw(string) });
        }
    }
}
