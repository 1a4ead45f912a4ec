//! The blocking form of every operation: refuse inside a callback (the C face's own check),
//! run the operation on the core's one runner (`ferroftp::runtime::run`, which refuses a call
//! from inside an async runtime), and write the result to the caller's out-parameter or raise
//! its error as the thread's last error.

use std::future::Future;

use crate::callback::{in_callback, in_callback_error};
use crate::error::{CError, ferroftp_status};
use crate::ffi::Out;
use crate::future::{Outcome, Value};

use ferroftp_status as S;

/// Runs an operation to completion on the library's runtime, from a plain (non-callback) thread.
pub(crate) fn block(op: impl Future<Output = Outcome> + Send + 'static) -> Outcome {
    if in_callback() {
        return Err(in_callback_error());
    }
    ferroftp::runtime::run(async move { Ok(op.await) })?
}

/// Finishes a blocking call: writes the value picked out of the outcome (when the caller wants
/// it), or raises the outcome's error.
pub(crate) fn finish<T>(
    outcome: Outcome,
    out: Option<Out<T>>,
    pick: impl FnOnce(Value) -> Option<T>,
) -> ferroftp_status {
    match outcome {
        Ok(value) => match (out, pick(value)) {
            (Some(out), Some(v)) => {
                out.write(v);
                S::FERROFTP_STATUS_OK
            }
            (None, _) => S::FERROFTP_STATUS_OK,
            (Some(_), None) => mismatch(),
        },
        Err(e) => e.raise(),
    }
}

/// An operation produced another value than its C function expects (a bug in this crate).
pub(crate) fn mismatch() -> ferroftp_status {
    crate::error::set_error(
        S::FERROFTP_STATUS_PANIC,
        None,
        "internal error: the operation produced an unexpected type of result",
    )
}

pub(crate) fn unit(r: ferroftp::Result<()>) -> Outcome {
    r.map(|()| Value::Unit).map_err(CError::from)
}

pub(crate) fn u64_(r: ferroftp::Result<u64>) -> Outcome {
    r.map(Value::U64).map_err(CError::from)
}
