//! The blocking face: [`Session`] with the same methods as [`crate::Session`], without `async`.
//!
//! Each call runs the async operation on the one process-wide runtime ([`crate::runtime`]) and
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

    /// See [`crate::Session::list`].
    pub fn list(&self, path: &str) -> Result<Vec<Entry>> {
        let (s, path) = (self.inner.clone(), path.to_string());
        run(async move { s.list(&path).await })
    }

    /// See [`crate::Session::names`].
    pub fn names(&self, path: &str) -> Result<Vec<String>> {
        let (s, path) = (self.inner.clone(), path.to_string());
        run(async move { s.names(&path).await })
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

    /// See [`crate::Session::read_bytes`].
    pub fn read_bytes(&self, remote: &str) -> Result<Vec<u8>> {
        let (s, remote) = (self.inner.clone(), remote.to_string());
        run(async move { s.read_bytes(&remote).await })
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

    /// See [`crate::Session::size`].
    pub fn size(&self, path: &str) -> Result<u64> {
        let (s, path) = (self.inner.clone(), path.to_string());
        run(async move { s.size(&path).await })
    }

    /// See [`crate::Session::modified`].
    pub fn modified(&self, path: &str) -> Result<DateTime<Utc>> {
        let (s, path) = (self.inner.clone(), path.to_string());
        run(async move { s.modified(&path).await })
    }

    /// See [`crate::Session::exists`].
    pub fn exists(&self, path: &str) -> Result<bool> {
        let (s, path) = (self.inner.clone(), path.to_string());
        run(async move { s.exists(&path).await })
    }

    /// See [`crate::Session::mkdir`].
    pub fn mkdir(&self, path: &str, parents: bool) -> Result<()> {
        let (s, path) = (self.inner.clone(), path.to_string());
        run(async move { s.mkdir(&path, parents).await })
    }

    /// See [`crate::Session::rmdir`].
    pub fn rmdir(&self, path: &str, recursive: bool) -> Result<()> {
        let (s, path) = (self.inner.clone(), path.to_string());
        run(async move { s.rmdir(&path, recursive).await })
    }

    /// See [`crate::Session::remove`].
    pub fn remove(&self, path: &str) -> Result<()> {
        let (s, path) = (self.inner.clone(), path.to_string());
        run(async move { s.remove(&path).await })
    }

    /// See [`crate::Session::rename`].
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (s, from, to) = (self.inner.clone(), from.to_string(), to.to_string());
        run(async move { s.rename(&from, &to).await })
    }

    /// See [`crate::Session::cwd`].
    pub fn cwd(&self, path: &str) -> Result<()> {
        let (s, path) = (self.inner.clone(), path.to_string());
        run(async move { s.cwd(&path).await })
    }

    /// See [`crate::Session::pwd`].
    pub fn pwd(&self) -> Result<String> {
        let s = self.inner.clone();
        run(async move { s.pwd().await })
    }

    /// See [`crate::Session::noop`].
    pub fn noop(&self) -> Result<()> {
        let s = self.inner.clone();
        run(async move { s.noop().await })
    }

    /// See [`crate::Session::quote`].
    pub fn quote(&self, line: &str) -> Result<(u16, String)> {
        let (s, line) = (self.inner.clone(), line.to_string());
        run(async move { s.quote(&line).await })
    }

    /// See [`crate::Session::close`].
    pub fn close(&self) -> Result<()> {
        let s = self.inner.clone();
        run(async move { s.close().await })
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
