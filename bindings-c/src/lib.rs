//! # libferroftp — the C API of ferroftp
//!
//! `include/ferroftp.h` (generated from this crate by `bindings-c/gen_header.sh` with cbindgen)
//! declares everything here. The library exposes every operation of the core session twice: as a
//! blocking call (`ferroftp_session_list`) and as a `_start` call returning a `ferroftp_future`
//! (`ferroftp_session_list_start`) that runs on the library's one runtime
//! (`ferroftp::runtime::handle()`) and can be waited on, polled, watched through a file
//! descriptor, given a completion callback, or cancelled.
//!
//! The conventions (ownership, statuses, threads) are in `bindings-c/README.md`. The modules,
//! each importing only modules above it in this list (no import cycles:
//! `scripts/check-modules.py bindings-c/src`):
//!
//! - [`error`]: the statuses (the core's error kinds translated), `CError`, the per-thread last
//!   error (exports no function);
//! - `ffi`: pointer glue (`Castable`, the `try_*!` macros, `Out`);
//! - `panic`: the panic boundary around every exported body;
//! - [`last_error`]: the last error read from C (`ferroftp_last_error_*`, `ferroftp_status_name`);
//! - `callback`: the in-callback flag and the gate of progress callbacks;
//! - `blocking`: the blocking form of every operation (through `ferroftp::runtime::run`);
//! - [`future`]: `ferroftp_future` and the `FutureResult` trait; it names no result type;
//! - [`logging`]: `ferroftp_set_log_callback`, the library's `log` records handed to C;
//! - [`values`]: numbers, flags, times, strings, string lists, byte buffers, replies, each with
//!   its `ferroftp_future_take_*`;
//! - [`entries`]: listings (and `ferroftp_future_take_entries`);
//! - [`names`]: remote names as raw bytes;
//! - [`options`]: `ferroftp_options`, translated to the core's settings;
//! - [`server`]: `ferroftp_server`, a login given piece by piece instead of as a URL;
//! - [`session`]: `ferroftp_session` (its own, or lent by a pool) and every session operation,
//!   blocking and `_start` (and `ferroftp_future_take_session`);
//! - [`transfer`]: download/upload options, checksums and progress (`_ex` calls);
//! - [`stream`]: transfers through write and read callbacks (`_download_cb`, `_upload_cb`);
//! - [`remote`]: `ferroftp_reader` and `ferroftp_writer`, remote files to pull from or push to;
//! - [`pool`]: pools, batches and their results (and `ferroftp_future_take_batch`), sessions
//!   borrowed from a pool (`ferroftp_pool_session`).
#![deny(unsafe_op_in_unsafe_fn)]
// The exported functions take raw pointers from C and check them (NULL) through the `try_*!`
// macros; as in rustls-ffi they are `extern "C" fn`, and the header documents what the pointers
// must be.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
// C names (`ferroftp_session`, `FERROFTP_STATUS_OK`) are the point of this crate.
#![allow(non_camel_case_types)]

pub(crate) mod blocking;
pub(crate) mod callback;
pub mod entries;
pub mod error;
pub(crate) mod ffi;
pub mod future;
pub mod last_error;
pub mod logging;
pub mod names;
pub mod options;
pub(crate) mod panic;
pub mod pool;
pub mod remote;
pub mod server;
pub mod session;
pub mod stream;
pub mod transfer;
pub mod values;

use std::ffi::c_char;

use crate::panic::ffi_panic_boundary;

/// The library's version as a static string (`"0.1.0"`): do not free it. Compare it with the
/// header's `FERROFTP_VERSION` to check that the library matches the header you compiled with.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_version() -> *const c_char {
    ffi_panic_boundary! {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    }
}
