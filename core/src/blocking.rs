//! The blocking face: [`Session`] with the same methods as [`crate::Session`], without `async`.
//!
//! Each call runs the async operation on the one process-wide runtime through the one blocking
//! runner ([`crate::runtime::BlockingCall`], which the C and Python bindings use too) and
//! waits for it. Calling from inside an async runtime returns an
//! [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error instead of blocking it.

use std::io;
use std::path::Path;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::Config;
use crate::error::Result;
use crate::listing::Entry;
use crate::runtime::{block_on, run};
use crate::transfer::{DownloadOptions, UploadOptions};

/// Methods that run the async method of the same name with the same arguments: each clones
/// the session and its arguments into the operation ([`Carry`]), runs it on the shared
/// runtime ([`run`]) and returns its result.
macro_rules! blocking {
    ($(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        #[doc = concat!("See [`crate::Session::", stringify!($name), "`].")]
        pub fn $name(&self $(, $arg: $ty)*) -> Result<$ret> {
            let s = self.inner.clone();
            $(let $arg = Carry::carry($arg);)*
            run(async move { s.$name($(Lend::lend(&$arg)),*).await })
        }
    )*};
}

/// An argument carried into an operation that runs on another thread: its owned form.
trait Carry {
    type Owned: Send + 'static;
    fn carry(self) -> Self::Owned;
}

/// The argument an operation takes, lent from its owned form.
trait Lend<'a> {
    type Out;
    fn lend(&'a self) -> Self::Out;
}

impl Carry for &str {
    type Owned = String;
    fn carry(self) -> String {
        self.to_string()
    }
}

impl<'a> Lend<'a> for String {
    type Out = &'a str;
    fn lend(&'a self) -> &'a str {
        self
    }
}

/// Arguments that are plain values: carried and lent as they are.
macro_rules! by_value {
    ($($t:ty),*) => {$(
        impl Carry for $t {
            type Owned = $t;
            fn carry(self) -> $t {
                self
            }
        }

        impl Lend<'_> for $t {
            type Out = $t;
            fn lend(&self) -> $t {
                *self
            }
        }
    )*};
}

by_value!(bool, u32, u64, DateTime<Utc>);

/// A blocking FTP session: cheap to clone, safe to share between threads.
///
/// Clones share one connection; calls from many threads run one at a time in arrival order.
#[derive(Clone, Debug)]
pub struct Session {
    inner: crate::Session,
}

impl Session {
    /// Connects and logs in to the server of `url`; see [`crate::Session::connect`].
    ///
    /// # Errors
    /// See [`crate::Session::connect`].
    pub fn connect(url: &str) -> Result<Self> {
        let url = url.to_string();
        run(async move { crate::Session::connect(&url).await }).map(Self::from)
    }

    /// Connects with `config`; see [`crate::Session::connect_with`].
    ///
    /// # Errors
    /// See [`crate::Session::connect_with`].
    pub fn connect_with(config: Config) -> Result<Self> {
        run(crate::Session::connect_with(config)).map(Self::from)
    }

    /// The async session behind this one (sharing its connection).
    pub fn as_async(&self) -> &crate::Session {
        &self.inner
    }

    /// See [`crate::Session::download`].
    pub fn download(
        &self,
        remote: &str,
        local: impl AsRef<Path>,
        options: DownloadOptions,
    ) -> Result<u64> {
        let (s, remote, local) = (
            self.inner.clone(),
            remote.to_string(),
            local.as_ref().to_path_buf(),
        );
        run(async move { s.download(&remote, &local, options).await })
    }

    /// See [`crate::Session::upload`].
    pub fn upload(
        &self,
        local: impl AsRef<Path>,
        remote: &str,
        options: UploadOptions,
    ) -> Result<u64> {
        let (s, remote, local) = (
            self.inner.clone(),
            remote.to_string(),
            local.as_ref().to_path_buf(),
        );
        run(async move { s.upload(&local, &remote, options).await })
    }

    /// See [`crate::Session::write_bytes`].
    pub fn write_bytes(&self, remote: &str, data: &[u8]) -> Result<u64> {
        block_on(self.inner.write_bytes(remote, data))
    }

    /// See [`crate::Session::open_read`]; the reader implements [`std::io::Read`].
    pub fn open_read(&self, remote: &str) -> Result<RemoteReader> {
        let (s, remote) = (self.inner.clone(), remote.to_string());
        run(async move { s.open_read(&remote).await }).map(|inner| RemoteReader { inner })
    }

    /// See [`crate::Session::open_write`]; the writer implements [`std::io::Write`].
    pub fn open_write(&self, remote: &str) -> Result<RemoteWriter> {
        let (s, remote) = (self.inner.clone(), remote.to_string());
        run(async move { s.open_write(&remote).await }).map(|inner| RemoteWriter { inner })
    }

    blocking! {
        fn list(path: &str) -> Vec<Entry>;
        fn names(path: &str) -> Vec<String>;
        fn list_raw(command: &str) -> Vec<u8>;
        fn read_bytes(remote: &str) -> Vec<u8>;
        fn read_range(remote: &str, offset: u64, length: u64) -> Vec<u8>;
        fn stat(path: &str) -> Entry;
        fn set_modified(path: &str, time: DateTime<Utc>) -> ();
        fn chmod(path: &str, mode: u32) -> ();
        fn size(path: &str) -> u64;
        fn modified(path: &str) -> DateTime<Utc>;
        fn exists(path: &str) -> bool;
        fn mkdir(path: &str, parents: bool) -> ();
        fn rmdir(path: &str, recursive: bool) -> ();
        fn remove(path: &str) -> ();
        fn rename(from: &str, to: &str) -> ();
        fn cwd(path: &str) -> ();
        fn pwd() -> String;
        fn welcome() -> String;
        fn noop() -> ();
        fn quote(line: &str) -> (u16, String);
        fn close() -> ();
    }
}

impl From<crate::Session> for Session {
    fn from(inner: crate::Session) -> Self {
        Self { inner }
    }
}

/// A remote file open for reading; see [`crate::transfer::RemoteReader`].
pub struct RemoteReader {
    inner: crate::transfer::RemoteReader,
}

impl RemoteReader {
    /// Reads the server's final reply and releases the session.
    ///
    /// # Errors
    /// See [`crate::transfer::RemoteReader::finish`].
    pub fn finish(self) -> Result<()> {
        block_on(self.inner.finish())
    }
}

impl io::Read for RemoteReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        block_on(async { Ok(self.inner.read(buf).await) }).map_err(io::Error::other)?
    }
}

/// A remote file open for writing; see [`crate::transfer::RemoteWriter`].
pub struct RemoteWriter {
    inner: crate::transfer::RemoteWriter,
}

impl RemoteWriter {
    /// Waits for the server's confirmation and releases the session.
    ///
    /// # Errors
    /// See [`crate::transfer::RemoteWriter::finish`].
    pub fn finish(self) -> Result<()> {
        block_on(self.inner.finish())
    }
}

impl io::Write for RemoteWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        block_on(async { Ok(self.inner.write(buf).await) }).map_err(io::Error::other)?
    }

    fn flush(&mut self) -> io::Result<()> {
        block_on(async { Ok(self.inner.flush().await) }).map_err(io::Error::other)?
    }
}
