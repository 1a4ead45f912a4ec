//! Glue between C pointers and Rust values (after rustls-ffi's `Castable`).
//!
//! Each exported C type is a zero-sized opaque struct (`pub struct ferroftp_x { _private: [u8; 0] }`)
//! whose [`Castable`] impl names the Rust type behind the pointer. All such types here are owned
//! through a `Box`: a `_new`/`_start`/`connect`/`take` call hands out `Box::into_raw`, and the
//! matching `ferroftp_*_free` takes it back. The macros below turn NULL pointers, invalid UTF-8
//! and NULL out-pointers into a status (with a message naming the argument) before anything
//! else happens, so a call that fails on its arguments has no effect at all.

use std::ffi::{CStr, c_char};

/// Links an opaque C type to the Rust type behind its pointer (always `Box`-owned here).
pub(crate) trait Castable {
    /// The Rust type a pointer to `Self` really points to.
    type RustType;
}

/// Moves `value` to the heap and returns it as an owned C pointer (free it with the type's
/// `_free`, which calls [`free_box`]).
pub(crate) fn to_boxed_mut_ptr<C: Castable>(value: C::RustType) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Borrows the Rust value behind `ptr`; `None` when `ptr` is NULL.
///
/// # Safety
/// `ptr` must be NULL or come from [`to_boxed_mut_ptr`] for the same `C` and not be freed yet;
/// the returned borrow must not outlive it.
pub(crate) unsafe fn try_from<'a, C: Castable>(ptr: *const C) -> Option<&'a C::RustType> {
    // SAFETY: see the function's contract.
    unsafe { ptr.cast::<C::RustType>().as_ref() }
}

/// Drops the value behind `ptr`; NULL is a no-op.
///
/// # Safety
/// `ptr` must be NULL or come from [`to_boxed_mut_ptr`] for the same `C`, and not be used again.
pub(crate) unsafe fn free_box<C: Castable>(ptr: *mut C) {
    if !ptr.is_null() {
        // SAFETY: see the function's contract.
        drop(unsafe { Box::from_raw(ptr.cast::<C::RustType>()) });
    }
}

/// Borrows a NUL-terminated UTF-8 C string.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that outlives the borrow.
pub(crate) unsafe fn str_from<'a>(ptr: *const c_char) -> Option<Result<&'a str, ()>> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: see the function's contract.
    let c = unsafe { CStr::from_ptr(ptr) };
    Some(c.to_str().map_err(|_| ()))
}

/// `try_ref!(ptr)`: the Rust value behind an opaque pointer, or return
/// `FERROFTP_STATUS_NULL_ARGUMENT` naming the argument.
macro_rules! try_ref {
    ($ptr:ident) => {
        // SAFETY: the C caller promises a pointer obtained from this library and not yet freed.
        match unsafe { $crate::ffi::try_from($ptr) } {
            Some(value) => value,
            None => {
                return $crate::error::set_error(
                    $crate::error::ferroftp_status::FERROFTP_STATUS_NULL_ARGUMENT,
                    None,
                    concat!("argument `", stringify!($ptr), "` is NULL"),
                );
            }
        }
    };
}
pub(crate) use try_ref;

/// `try_str!(ptr)`: a borrowed `&str` from a C string argument, or return
/// `FERROFTP_STATUS_NULL_ARGUMENT` / `FERROFTP_STATUS_INVALID_UTF8` naming the argument.
macro_rules! try_str {
    ($ptr:ident) => {
        // SAFETY: the C caller promises a NUL-terminated string valid for the call.
        match unsafe { $crate::ffi::str_from($ptr) } {
            Some(Ok(s)) => s,
            Some(Err(())) => {
                return $crate::error::set_error(
                    $crate::error::ferroftp_status::FERROFTP_STATUS_INVALID_UTF8,
                    None,
                    concat!("argument `", stringify!($ptr), "` is not valid UTF-8"),
                );
            }
            None => {
                return $crate::error::set_error(
                    $crate::error::ferroftp_status::FERROFTP_STATUS_NULL_ARGUMENT,
                    None,
                    concat!("argument `", stringify!($ptr), "` is NULL"),
                );
            }
        }
    };
}
pub(crate) use try_str;

/// `try_out!(ptr)`: checks that an out-pointer is not NULL (returning
/// `FERROFTP_STATUS_NULL_ARGUMENT` naming it otherwise) and gives it back as an [`Out`].
macro_rules! try_out {
    ($ptr:ident) => {
        match $crate::ffi::Out::new($ptr) {
            Some(out) => out,
            None => {
                return $crate::error::set_error(
                    $crate::error::ferroftp_status::FERROFTP_STATUS_NULL_ARGUMENT,
                    None,
                    concat!("argument `", stringify!($ptr), "` is NULL"),
                );
            }
        }
    };
}
pub(crate) use try_out;

/// `try_slice!(ptr, len)`: a borrowed byte slice from a caller buffer; NULL is allowed only
/// with `len == 0` (an empty slice), else `FERROFTP_STATUS_NULL_ARGUMENT`.
macro_rules! try_slice {
    ($ptr:ident, $len:ident) => {
        if $ptr.is_null() {
            if $len != 0 {
                return $crate::error::set_error(
                    $crate::error::ferroftp_status::FERROFTP_STATUS_NULL_ARGUMENT,
                    None,
                    concat!(
                        "argument `",
                        stringify!($ptr),
                        "` is NULL but `",
                        stringify!($len),
                        "` is not 0"
                    ),
                );
            }
            &[][..]
        } else {
            // SAFETY: the C caller promises `len` readable bytes at `ptr` for the call.
            unsafe { ::std::slice::from_raw_parts($ptr, $len) }
        }
    };
}
pub(crate) use try_slice;

/// A checked, non-NULL out-pointer; written once, on success only.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// `None` for a NULL pointer.
    pub(crate) fn new(ptr: *mut T) -> Option<Self> {
        (!ptr.is_null()).then_some(Self(ptr))
    }

    /// An optional out-pointer: `None` for NULL means "the caller does not want this value".
    pub(crate) fn optional(ptr: *mut T) -> Option<Self> {
        Self::new(ptr)
    }

    /// Writes the value (without dropping whatever the caller's memory held).
    pub(crate) fn write(self, value: T) {
        // SAFETY: non-NULL (checked in `new`); the C caller promises it points to writable
        // memory for a `T`.
        unsafe { self.0.write(value) }
    }
}
