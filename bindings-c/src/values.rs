//! The plain results of operations, each with the `ferroftp_future_take_*` that takes it out of
//! a finished future: numbers (`u64`), flags, times, strings, string lists, byte buffers and
//! the replies of raw commands. (Listings are in `entries`, sessions in `session`, batch results
//! in `pool`.)

use std::ffi::{CString, c_char};

use crate::error::{CError, ferroftp_status, set_error};
use crate::ffi::{Castable, free_box, to_boxed_mut_ptr, try_out, try_ref};
use crate::future::{FutureResult, ferroftp_future, take};
use crate::panic::ffi_panic_boundary;

// ---------------------------------------------------------------------------------------------
// Numbers, flags, times

impl FutureResult for u64 {
    fn what(&self) -> &'static str {
        "a u64 (ferroftp_future_take_u64)"
    }
}

impl FutureResult for bool {
    fn what(&self) -> &'static str {
        "a bool (ferroftp_future_take_bool)"
    }
}

/// A modification time in seconds since the Unix epoch (UTC).
pub(crate) struct UnixTime(pub(crate) i64);

impl FutureResult for UnixTime {
    fn what(&self) -> &'static str {
        "a time (ferroftp_future_take_time)"
    }
}

/// Writes the u64 result (`size`, and the byte counts of `download`, `upload`, `write`) to
/// `*value_out`.
///
/// Like every `ferroftp_future_take_*`: takes the value out of a finished future, once (the future
/// must still be freed); returns `FERROFTP_STATUS_PENDING` before it finished, the operation's
/// error status (last error set) if it failed, `FERROFTP_STATUS_WRONG_RESULT_TYPE` for an operation
/// with another type of result and `FERROFTP_STATUS_ALREADY_TAKEN` on a second take; the
/// out-parameter is written only on `FERROFTP_STATUS_OK`.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_u64(
    future: *const ferroftp_future,
    value_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(value_out);
        take(f, out, |n: u64| n)
    }
}

/// Writes the bool result (`exists`) to `*value_out`. See `ferroftp_future_take_u64` for the
/// statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_bool(
    future: *const ferroftp_future,
    value_out: *mut bool,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(value_out);
        take(f, out, |b: bool| b)
    }
}

/// Writes the time result (`modified`: seconds since the Unix epoch, UTC) to
/// `*unix_seconds_out`. See `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_time(
    future: *const ferroftp_future,
    unix_seconds_out: *mut i64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(unix_seconds_out);
        take(f, out, |t: UnixTime| t.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Strings

/// A C string from a server string; a NUL byte inside cannot be represented.
pub(crate) fn c_string(s: String, what: &str) -> Result<CString, CError> {
    CString::new(s).map_err(|_| {
        CError::new(
            ferroftp_status::FERROFTP_STATUS_NUL_IN_STRING,
            format!("the server sent a {what} holding a NUL byte, which a C string cannot carry"),
        )
    })
}

impl FutureResult for CString {
    fn what(&self) -> &'static str {
        "a string (ferroftp_future_take_string)"
    }
}

/// Writes the string result (`pwd`) to `*string_out`: a new UTF-8, NUL-terminated string that
/// the caller owns and must free with `ferroftp_string_free`. See `ferroftp_future_take_u64` for
/// the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_string(
    future: *const ferroftp_future,
    string_out: *mut *mut c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(string_out);
        take(f, out, |s: CString| s.into_raw())
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

// ---------------------------------------------------------------------------------------------
// String lists

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
    names.into_iter().map(|n| c_string(n, "name")).collect()
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

impl FutureResult for Vec<CString> {
    fn what(&self) -> &'static str {
        "names (ferroftp_future_take_names)"
    }
}

/// Writes the names (`names`) to `*names_out`: a new list the caller owns and must free with
/// `ferroftp_strings_free`. See `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_names(
    future: *const ferroftp_future,
    names_out: *mut *mut ferroftp_strings,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(names_out);
        take(f, out, |n: Vec<CString>| to_boxed_mut_ptr::<ferroftp_strings>(n))
    }
}

// ---------------------------------------------------------------------------------------------
// Byte buffers

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

impl FutureResult for Vec<u8> {
    fn what(&self) -> &'static str {
        "bytes (ferroftp_future_take_bytes)"
    }
}

/// Writes the file contents (`read`) to `*bytes_out`: a new buffer the caller owns and must free
/// with `ferroftp_bytes_free`. See `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_bytes(
    future: *const ferroftp_future,
    bytes_out: *mut *mut ferroftp_bytes,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(bytes_out);
        take(f, out, |b: Vec<u8>| ferroftp_bytes::into_raw(b))
    }
}

// ---------------------------------------------------------------------------------------------
// Replies to raw commands

/// The reply to a raw command (`ferroftp_session_quote`): its code and text.
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) text: CString,
}

impl FutureResult for Reply {
    fn what(&self) -> &'static str {
        "a reply (ferroftp_future_take_quote)"
    }
}

/// Writes the reply of `quote` to `*code_out` (the FTP reply code) and `*text_out` (the reply
/// text: a new string the caller owns and must free with `ferroftp_string_free`). See
/// `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_quote(
    future: *const ferroftp_future,
    code_out: *mut u16,
    text_out: *mut *mut c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let code = try_out!(code_out);
        let out = try_out!(text_out);
        take(f, out, |reply: Reply| {
            code.write(reply.code);
            reply.text.into_raw()
        })
    }
}
