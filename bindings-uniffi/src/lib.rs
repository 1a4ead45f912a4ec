//! # ferroftp-uniffi — ferroftp for Kotlin, Swift and Ruby
//!
//! The core's shared, serialized, cancel-safe session through uniffi (proc-macros, library
//! mode): `make bindings` builds `libferroftp_uniffi` and generates the foreign sources from
//! it. This crate only translates types, errors and threads; it holds no FTP logic.
//!
//! - [`session`] — `Session` (blocking and async twin of every operation, background transfers)
//! - [`pool`] — `Pool` (batches and trees, blocking, async and in the background)
//! - [`task`] — the cancel handles `TransferTask` and `BatchTask`
//! - [`transfer`] — transfer options and the progress callback interface
//! - [`entry`] — listing entries and replies
//! - [`settings`] — connection settings by name, read through the core's table
//! - [`error`] — `FtpError`, one variant per core error kind
//! - `runner` (private) — how calls wait for the core's runtime
//!
//! Objects are `Send + Sync` and take `&self`; the core's session holds the one lock.

uniffi::setup_scaffolding!("ferroftp");

pub mod entry;
pub mod error;
pub mod pool;
mod runner;
pub mod session;
pub mod settings;
pub mod task;
pub mod transfer;

pub use entry::{Entry, EntryKind, Reply};
pub use error::FtpError;
pub use pool::{BatchOptions, BatchProgress, BatchResult, Pool, TransferItem};
pub use session::Session;
pub use task::{BatchTask, TransferTask};
pub use transfer::{DownloadOptions, ProgressListener, UploadOptions};

/// Every error kind's name, in the core's order (`"connect"`, ..., `"not-found"`, ...): the
/// `kind` field of `FtpError`.
#[uniffi::export]
pub fn error_kinds() -> Vec<String> {
    ferroftp::ErrorKind::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect()
}

/// The library's version (`"0.1.0"`).
#[uniffi::export]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
