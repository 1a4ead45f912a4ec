//! [`Session`]: the core's shared, serialized session. Every operation exists twice, side by
//! side: blocking (`list`) and async (`list_async`); long transfers also as a background task
//! with a cancel handle (`start_download`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::entry::{Entry, Reply};
use crate::error::Result;
use crate::runner::{block, block_reporting, spawned};
use crate::settings::config;
use crate::task::TransferTask;
use crate::transfer::{self, DownloadOptions, ProgressListener, UploadOptions};

/// An FTP session: one control connection, safe to share between threads and coroutines.
///
/// Calls from any number of threads (or tasks) run one at a time, in arrival order, each
/// holding the connection for its whole exchange, data connection included. An operation that
/// is cancelled or times out leaves the session usable: the next one reconnects if it must.
#[derive(uniffi::Object)]
pub struct Session {
    inner: ferroftp::Session,
}

/// Declares the blocking and async twin of each operation that is a plain call of the core.
/// `|s| body` is the operation on the session `s` (a clone of the core's handle), an async
/// block returning `ferroftp::Result<T>`.
macro_rules! twins {
    ($(
        $(#[$doc:meta])*
        fn $name:ident / $async_name:ident ($($arg:ident: $ty:ty),*) -> $ret:ty
            => |$s:ident| $body:expr;
    )*) => {
        #[uniffi::export]
        impl Session {
            $(
                $(#[$doc])*
                pub fn $name(&self $(, $arg: $ty)*) -> Result<$ret> {
                    let $s = self.inner.clone();
                    block($body)
                }

                $(#[$doc])*
                ///
                /// Async: a suspend function in Kotlin, `async` in Swift. Cancelling it (a
                /// cancelled coroutine) aborts the operation.
                pub async fn $async_name(&self $(, $arg: $ty)*) -> Result<$ret> {
                    let $s = self.inner.clone();
                    spawned($body).await
                }
            )*
        }
    };
}

twins! {
    /// Lists a directory: MLSD when the server offers it, else LIST parsed. Paths are absolute;
    /// an empty `path` lists the working directory.
    fn list / list_async(path: String) -> Vec<Entry> => |s| async move {
        Ok(s.list(&path).await?.into_iter().map(Entry::from).collect())
    };
    /// The names in a directory (NLST), without their directory part.
    fn names / names_async(path: String) -> Vec<String> => |s| async move {
        s.names(&path).await
    };
    /// Downloads `remote` into memory (the size is checked).
    fn read_bytes / read_bytes_async(remote: String) -> Vec<u8> => |s| async move {
        s.read_bytes(&remote).await
    };
    /// Uploads `data` to `remote` (STOR); returns when the server confirmed it.
    fn write_bytes / write_bytes_async(remote: String, data: Vec<u8>) -> u64 => |s| async move {
        s.write_bytes(&remote, &data).await
    };
    /// Reads `length` bytes of `remote` from byte `offset` (fewer at the end of the file).
    fn read_range / read_range_async(remote: String, offset: u64, length: u64) -> Vec<u8>
        => |s| async move { s.read_range(&remote, offset, length).await };
    /// One entry for `path`, a file or a directory; a `NotFound` error when there is none.
    fn stat / stat_async(path: String) -> Entry => |s| async move {
        Ok(s.stat(&path).await?.into())
    };
    /// Sets the modification time of a remote file (MFMT, or vsftpd's MDTM with a time).
    fn set_modified / set_modified_async(path: String, time: SystemTime) -> () => |s| async move {
        s.set_modified(&path, DateTime::<Utc>::from(time)).await
    };
    /// Sets the permissions of a remote file or directory (`SITE CHMOD`; `mode` as `0o644`).
    fn chmod / chmod_async(path: String, mode: u32) -> () => |s| async move {
        s.chmod(&path, mode).await
    };
    /// The size of a remote file in bytes (SIZE).
    fn size / size_async(path: String) -> u64 => |s| async move { s.size(&path).await };
    /// The modification time of a remote file (MDTM).
    fn modified / modified_async(path: String) -> SystemTime => |s| async move {
        Ok(s.modified(&path).await?.into())
    };
    /// Whether a remote file or directory exists.
    fn exists / exists_async(path: String) -> bool => |s| async move { s.exists(&path).await };
    /// Creates a directory; with `parents`, also its missing parents.
    fn mkdir / mkdir_async(path: String, parents: bool) -> () => |s| async move {
        s.mkdir(&path, parents).await
    };
    /// Removes a directory; with `recursive`, everything in it first.
    fn rmdir / rmdir_async(path: String, recursive: bool) -> () => |s| async move {
        s.rmdir(&path, recursive).await
    };
    /// Removes a file (DELE).
    fn remove / remove_async(path: String) -> () => |s| async move { s.remove(&path).await };
    /// Renames (moves) a remote file or directory.
    fn rename / rename_async(from: String, to: String) -> () => |s| async move {
        s.rename(&from, &to).await
    };
    /// Changes the working directory (restored after any reconnect).
    fn cwd / cwd_async(path: String) -> () => |s| async move { s.cwd(&path).await };
    /// The working directory.
    fn pwd / pwd_async() -> String => |s| async move { s.pwd().await };
    /// NOOP: checks that the connection is alive (reopening it if needed).
    fn noop / noop_async() -> () => |s| async move { s.noop().await };
    /// Sends a raw command line and returns the reply, whatever its code.
    fn quote / quote_async(line: String) -> Reply => |s| async move {
        let (code, text) = s.quote(&line).await?;
        Ok(Reply { code, text })
    };
    /// Says goodbye (QUIT) and closes the connection; later calls fail with a `Closed` error.
    /// (Named `quit`: `close()` frees the object itself in Kotlin and Swift.)
    fn quit / quit_async() -> () => |s| async move { s.close().await };
}

#[uniffi::export]
impl Session {
    /// Connects and logs in to the server of `url` (`ftp://user:pass@host:port/dir`,
    /// `ftpes://` explicit TLS, `ftps://` implicit TLS), with `settings` by name (see
    /// `settings()`: `{"timeout": "20", "data_mode": "pasv"}`).
    #[uniffi::constructor(default(settings))]
    pub fn connect(url: String, settings: HashMap<String, String>) -> Result<Arc<Self>> {
        let config = config(&url, &settings)?;
        let inner = block(ferroftp::Session::connect_with(config))?;
        Ok(Arc::new(Self { inner }))
    }

    /// As `connect`, without blocking.
    #[uniffi::constructor(default(settings))]
    pub async fn connect_async(
        url: String,
        settings: HashMap<String, String>,
    ) -> Result<Arc<Self>> {
        let config = config(&url, &settings)?;
        let inner = spawned(ferroftp::Session::connect_with(config)).await?;
        Ok(Arc::new(Self { inner }))
    }

    /// Downloads `remote` to the local file `local`, returning the byte count. The data goes
    /// to a temporary file renamed into place after the server's final reply and the checks
    /// (a non-regular `local` such as `/dev/null` is written directly). `progress` is called
    /// on this thread while the call waits.
    #[uniffi::method(default(options = None, progress = None))]
    pub fn download(
        &self,
        remote: String,
        local: String,
        options: Option<DownloadOptions>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<u64> {
        let s = self.inner.clone();
        let options = options.unwrap_or_default();
        let Some(listener) = progress else {
            let o = options.core(None)?;
            return block(async move { s.download(&remote, &local, o).await });
        };
        let (p, events) = transfer::to_channel();
        let o = options.core(Some(p))?;
        block_reporting(
            async move { s.download(&remote, &local, o).await },
            events,
            |(done, total)| listener.on_progress(done, total),
        )
    }

    /// As `download`, without blocking; `progress` is called on a thread of the library.
    #[uniffi::method(default(options = None, progress = None))]
    pub async fn download_async(
        &self,
        remote: String,
        local: String,
        options: Option<DownloadOptions>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<u64> {
        let s = self.inner.clone();
        let o = options
            .unwrap_or_default()
            .core(transfer::direct(progress))?;
        spawned(async move { s.download(&remote, &local, o).await }).await
    }

    /// Starts `download` in the background and returns its handle (cancel, wait); `progress`
    /// is called on a thread of the library.
    #[uniffi::method(default(options = None, progress = None))]
    pub fn start_download(
        &self,
        remote: String,
        local: String,
        options: Option<DownloadOptions>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Arc<TransferTask>> {
        let s = self.inner.clone();
        let o = options
            .unwrap_or_default()
            .core(transfer::direct(progress))?;
        TransferTask::start(async move { s.download(&remote, &local, o).await })
    }

    /// Uploads the local file `local` to `remote`, returning the bytes sent once the server
    /// confirmed them. `progress` is called on this thread while the call waits.
    #[uniffi::method(default(options = None, progress = None))]
    pub fn upload(
        &self,
        local: String,
        remote: String,
        options: Option<UploadOptions>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<u64> {
        let s = self.inner.clone();
        let options = options.unwrap_or_default();
        let Some(listener) = progress else {
            let o = options.core(None)?;
            return block(async move { s.upload(&local, &remote, o).await });
        };
        let (p, events) = transfer::to_channel();
        let o = options.core(Some(p))?;
        block_reporting(
            async move { s.upload(&local, &remote, o).await },
            events,
            |(done, total)| listener.on_progress(done, total),
        )
    }

    /// As `upload`, without blocking; `progress` is called on a thread of the library.
    #[uniffi::method(default(options = None, progress = None))]
    pub async fn upload_async(
        &self,
        local: String,
        remote: String,
        options: Option<UploadOptions>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<u64> {
        let s = self.inner.clone();
        let o = options
            .unwrap_or_default()
            .core(transfer::direct(progress))?;
        spawned(async move { s.upload(&local, &remote, o).await }).await
    }

    /// Starts `upload` in the background and returns its handle (cancel, wait).
    #[uniffi::method(default(options = None, progress = None))]
    pub fn start_upload(
        &self,
        local: String,
        remote: String,
        options: Option<UploadOptions>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Arc<TransferTask>> {
        let s = self.inner.clone();
        let o = options
            .unwrap_or_default()
            .core(transfer::direct(progress))?;
        TransferTask::start(async move { s.upload(&local, &remote, o).await })
    }
}
