//! # ferroftp
//!
//! An FTP client whose sessions are safe to share. Every operation on a [`Session`] takes the
//! session's fair (FIFO) lock for its whole exchange, data connection included, so any number
//! of tasks (or threads, through [`blocking::Session`]) may use one session and get correct,
//! serialized results. An operation that is cancelled or times out at any point never leaves
//! the session out of step: the next operation reconnects if it has to, and works.
//!
//! ```no_run
//! # async fn demo() -> ferroftp::Result<()> {
//! let session = ferroftp::Session::connect("ftp://user:secret@127.0.0.1:2121/").await?;
//! let (a, b) = tokio::join!(session.list("/"), session.size("/data.bin"));
//! println!("{} entries, {} bytes", a?.len(), b?);
//! # Ok(()) }
//! ```
#![deny(unsafe_code)]

pub mod blocking;
mod checksum;
mod config;
mod connection;
mod control;
mod data;
mod error;
pub mod listing;
pub mod names;
mod op;
pub mod pool;
mod progress;
mod reply;
pub mod runtime;
mod session;
pub mod settings;
mod tls;
pub mod transfer;
mod wire;

/// Entry points for the fuzz targets in `fuzz/` (not a stable API).
#[doc(hidden)]
pub mod fuzzing {
    /// Runs every reply parser of the session on `data`.
    pub fn replies(data: &[u8]) {
        crate::reply::fuzz(data);
        let text = String::from_utf8_lossy(data);
        crate::control::fuzz(&text);
        crate::checksum::fuzz(&text);
    }
}

pub use checksum::{Checksum, HashAlgorithm};
pub use config::{Config, DataMode, Password, TlsMode};
pub use error::{Error, ErrorKind, Result};
pub use listing::{Entry, EntryKind};
pub use pool::{BatchOptions, BatchProgress, BatchResult, Pool, PoolOptions, PooledSession};
pub use progress::Progress;
pub use session::Session;
pub use settings::{SETTINGS, Setting, SettingKind, SettingValue};
pub use transfer::{DownloadOptions, RemoteReader, RemoteWriter, UploadOptions};
