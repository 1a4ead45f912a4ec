//! The blocking form of every operation: refuse inside a callback (the C face's own check: a
//! blocking call there could deadlock), run the operation on the core's one runner
//! (`ferroftp::runtime::run`, which refuses a call from inside an async runtime), then write the
//! value to the caller's out-parameter or raise the error as the thread's last error.
//!
//! The operations are typed (`Result<T, CError>`), so a blocking call can only write the type
//! its operation produces.

use std::future::Future;

use crate::callback::{in_callback, in_callback_error};
use crate::error::{CError, ferroftp_status};
use crate::ffi::Out;

/// Runs an operation to completion on the library's runtime and returns its result; from
/// inside a callback, `FERROFTP_STATUS_IN_CALLBACK` without running it.
pub(crate) fn block<T: Send + 'static>(
    op: impl Future<Output = Result<T, CError>> + Send + 'static,
) -> Result<T, CError> {
    if in_callback() {
        return Err(in_callback_error());
    }
    ferroftp::runtime::run(async move { Ok(op.await) })?
}

/// Finishes a blocking call: on success writes `convert(value)` to `out` (unless `out` is an
/// optional out-parameter the caller left NULL: then `convert` is not called) and returns
/// `FERROFTP_STATUS_OK`; on failure raises the error and leaves `out` untouched.
pub(crate) fn finish<T, O>(
    result: Result<T, CError>,
    out: impl Into<Option<Out<O>>>,
    convert: impl FnOnce(T) -> O,
) -> ferroftp_status {
    match result {
        Ok(value) => {
            if let Some(out) = out.into() {
                out.write(convert(value));
            }
            ferroftp_status::FERROFTP_STATUS_OK
        }
        Err(e) => e.raise(),
    }
}

/// Finishes a blocking call without a value: its status is its result.
pub(crate) fn status(result: Result<(), CError>) -> ferroftp_status {
    finish(result, None::<Out<()>>, |()| ())
}
