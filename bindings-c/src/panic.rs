//! The panic boundary: every exported body runs inside [`ffi_panic_boundary!`], so no Rust panic
//! ever unwinds into C. A caught panic becomes the per-return-type value of [`PanicOrDefault`]
//! (a status of [`ferroftp_status::FERROFTP_STATUS_PANIC`], NULL, 0 or nothing) and, where the
//! function reports errors, a message readable through `ferroftp_last_error_message`.

use std::any::Any;

use crate::error::{ferroftp_status, set_error};

/// The value an exported function returns when its body panicked.
pub(crate) trait PanicOrDefault {
    /// The value to return after a caught panic.
    fn value() -> Self;
}

impl PanicOrDefault for ferroftp_status {
    fn value() -> Self {
        ferroftp_status::FERROFTP_STATUS_PANIC
    }
}

impl PanicOrDefault for () {
    fn value() -> Self {}
}

impl<T> PanicOrDefault for *const T {
    fn value() -> Self {
        std::ptr::null()
    }
}

impl PanicOrDefault for bool {
    fn value() -> Self {
        false
    }
}

impl PanicOrDefault for usize {
    fn value() -> Self {
        0
    }
}

impl PanicOrDefault for i32 {
    fn value() -> Self {
        0
    }
}

/// Records a caught panic as the calling thread's last error.
pub(crate) fn record_panic(payload: &(dyn Any + Send)) {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    set_error(
        ferroftp_status::FERROFTP_STATUS_PANIC,
        None,
        format!("internal error: a Rust panic was caught at the C boundary: {text}"),
    );
}

/// Runs the body of an exported function, turning a panic into [`PanicOrDefault::value`].
///
/// The body is a closure body: `return` inside it (as the `try_*!` macros do) returns from the
/// exported function with that value.
macro_rules! ffi_panic_boundary {
    ( $($body:tt)* ) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(move || { $($body)* })) {
            Ok(value) => value,
            Err(payload) => {
                $crate::panic::record_panic(&*payload);
                $crate::panic::PanicOrDefault::value()
            }
        }
    };
}
pub(crate) use ffi_panic_boundary;

#[cfg(test)]
mod tests {
    use super::*;

    fn exported_that_panics(fail: bool) -> ferroftp_status {
        ffi_panic_boundary! {
            if fail {
                panic!("boom");
            }
            ferroftp_status::FERROFTP_STATUS_OK
        }
    }

    fn exported_pointer_that_panics() -> *const u8 {
        ffi_panic_boundary! {
            panic!("boom");
        }
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        assert_eq!(
            exported_that_panics(false),
            ferroftp_status::FERROFTP_STATUS_OK
        );
        assert_eq!(
            exported_that_panics(true),
            ferroftp_status::FERROFTP_STATUS_PANIC
        );
        let (status, message) = crate::error::with_last(|e| {
            let e = e.expect("a last error");
            (e.status, e.message.clone())
        });
        assert_eq!(status, ferroftp_status::FERROFTP_STATUS_PANIC);
        assert!(message.contains("boom"), "{message}");
        assert!(exported_pointer_that_panics().is_null());
    }
}
