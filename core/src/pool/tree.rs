//! Trees: mirroring a remote directory down, or a local one up, as a walk whose directory
//! steps run in parallel with the files they find (see [`super::walk`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::listing::{Entry, EntryKind, join_path};
use crate::session::Session;

use super::Pool;
use super::batch::{BatchOptions, BatchResult, Job};
use super::walk::Work;

impl Pool {
    /// Mirrors the remote directory `remote` into the local directory `local` (created as
    /// needed), listing each remote directory once.
    ///
    /// The tree is walked while its files already move: directories are listed in parallel
    /// over up to `max_sessions` sessions, and a directory's files start as soon as it is
    /// listed (each local directory is created before its listing, so before its files, and
    /// also when empty). The progress totals therefore grow as the walk finds files (see
    /// [`BatchProgress`](crate::BatchProgress)).
    ///
    /// A subdirectory that cannot be listed (or whose local directory cannot be created) is
    /// a failure in the result under its remote path, like a file that fails: its subtree is
    /// left out, the rest of the tree goes on (with `stop_on_error`, nothing new starts).
    /// Failing the whole call instead, as the walk did when it listed everything before any
    /// file moved, would throw away what other sessions had already transferred and hide it
    /// from the caller.
    ///
    /// # Errors
    /// When the top directory cannot be listed or `local` cannot be created (then nothing
    /// was transferred); failures of single files and subdirectories are in the result instead.
    pub async fn download_tree(
        &self,
        remote: &str,
        local: impl AsRef<Path>,
        options: BatchOptions,
    ) -> Result<BatchResult> {
        let top = Dir::Down {
            remote: normalized(remote),
            local: local.as_ref().to_path_buf(),
            top: true,
        };
        self.walk(top, options).await
    }

    /// Mirrors the local directory `local` into the remote directory `remote` (created as
    /// needed, with its subdirectories).
    ///
    /// Remote directories are made (MKD) in parallel over up to `max_sessions` sessions, each
    /// before its files and subdirectories are queued, while the files already found move;
    /// with `skip_existing` each remote directory is listed too (once, in the same step), and
    /// a subdirectory the listing shows is not made again. The progress totals grow as the
    /// walk finds files (see [`BatchProgress`](crate::BatchProgress)).
    ///
    /// A local subdirectory that cannot be read, or a remote one that cannot be made or
    /// listed, is a failure in the result under its remote path: its subtree is left out, the
    /// rest goes on (with `stop_on_error`, nothing new starts).
    ///
    /// # Errors
    /// When the top directory cannot be read, made or listed (then nothing was transferred);
    /// failures of single files and subdirectories are in the result instead.
    pub async fn upload_tree(
        &self,
        local: impl AsRef<Path>,
        remote: &str,
        options: BatchOptions,
    ) -> Result<BatchResult> {
        let top = Dir::Up {
            local: local.as_ref().to_path_buf(),
            remote: normalized(remote),
            there: There::Unknown,
            top: true,
        };
        self.walk(top, options).await
    }

    async fn walk(&self, top: Dir, options: BatchOptions) -> Result<BatchResult> {
        let work = Arc::new(Work::tree(top, &options));
        let workers = self.inner.options.max_sessions;
        match self.run_work(work, workers, &options).await {
            (_, Some(e)) => Err(e),
            (result, None) => Ok(result),
        }
    }
}

/// A remote path without a trailing slash (the root stays `/`).
fn normalized(remote: &str) -> String {
    match remote.trim_end_matches('/') {
        "" => "/".to_string(),
        r => r.to_string(),
    }
}

/// Whether a remote directory to upload into exists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum There {
    /// Not known (no listing of its parent): made with MKD, which tolerates it existing.
    Unknown,
    /// Its parent's listing shows it: no MKD.
    Exists,
    /// Its parent's listing does not show it: made with MKD, and known to be empty then.
    Absent,
}

/// A directory step of a tree's walk.
pub(super) enum Dir {
    /// Create the local directory `local`, list the remote `remote`, queue what is in it.
    Down {
        remote: String,
        local: PathBuf,
        top: bool,
    },
    /// Read the local directory `local`, make the remote `remote`, queue what is in it.
    Up {
        local: PathBuf,
        remote: String,
        there: There,
        top: bool,
    },
}

/// What a directory step found: files to transfer, subdirectories to walk, files skipped.
#[derive(Default)]
pub(super) struct Found {
    pub(super) files: Vec<Job>,
    pub(super) dirs: Vec<Dir>,
    pub(super) skipped: Vec<String>,
}

impl Dir {
    /// The remote directory (the name of the step in a result's failures).
    pub(super) fn remote(&self) -> &str {
        match self {
            Dir::Down { remote, .. } | Dir::Up { remote, .. } => remote,
        }
    }

    /// Whether this is the top directory of the tree.
    pub(super) fn is_top(&self) -> bool {
        match self {
            Dir::Down { top, .. } | Dir::Up { top, .. } => *top,
        }
    }

    /// Runs the step on `s`.
    pub(super) async fn expand(&self, s: &Session, skip_existing: bool) -> Result<Found> {
        match self {
            Dir::Down { remote, local, .. } => {
                std::fs::create_dir_all(local)
                    .map_err(|e| Error::from_io(e, &format!("creating {}", local.display())))?;
                let listing = s.list(remote).await?;
                Ok(down(remote, local, listing, skip_existing))
            }
            Dir::Up {
                local,
                remote,
                there,
                ..
            } => {
                let items = read_local(local)?;
                if *there != There::Exists {
                    s.mkdir(remote, true).await?;
                }
                let existing = if skip_existing && *there != There::Absent {
                    s.list(remote).await?
                } else {
                    Vec::new()
                };
                Ok(up(remote, items, &existing, skip_existing))
            }
        }
    }
}

/// The subdirectories and files of a remote directory's listing, to download.
fn down(remote: &str, local: &Path, listing: Vec<Entry>, skip_existing: bool) -> Found {
    let mut found = Found::default();
    for entry in listing {
        let lpath = local.join(&entry.name);
        let rpath = join_path(remote, &entry.name);
        match entry.kind {
            EntryKind::Dir => found.dirs.push(Dir::Down {
                remote: rpath,
                local: lpath,
                top: false,
            }),
            EntryKind::File | EntryKind::Link => {
                if skip_existing && same_file(&lpath, entry.size, entry.modified) {
                    found.skipped.push(rpath);
                } else {
                    found.files.push(Job::Download {
                        remote: rpath,
                        local: lpath,
                        size: entry.size,
                        mtime: entry.modified,
                    });
                }
            }
            EntryKind::Other => {}
        }
    }
    found
}

/// An item of a local directory: its name, path and metadata (not following links).
type LocalItem = (String, PathBuf, std::fs::Metadata);

fn read_local(dir: &Path) -> Result<Vec<LocalItem>> {
    let context = || format!("reading {}", dir.display());
    let mut items = Vec::new();
    for item in std::fs::read_dir(dir).map_err(|e| Error::from_io(e, &context()))? {
        let item = item.map_err(|e| Error::from_io(e, &context()))?;
        let meta = item
            .metadata()
            .map_err(|e| Error::from_io(e, &format!("reading {}", item.path().display())))?;
        items.push((
            item.file_name().to_string_lossy().into_owned(),
            item.path(),
            meta,
        ));
    }
    Ok(items)
}

/// The subdirectories and files of a local directory, to upload into `remote` whose listing
/// is `existing` (empty unless `skip_existing`).
fn up(remote: &str, items: Vec<LocalItem>, existing: &[Entry], skip_existing: bool) -> Found {
    let mut found = Found::default();
    for (name, path, meta) in items {
        let rpath = join_path(remote, &name);
        let remote_copy = existing.iter().find(|e| e.name == name);
        if meta.is_dir() {
            let there = match remote_copy {
                _ if !skip_existing => There::Unknown,
                Some(e) if e.kind == EntryKind::Dir => There::Exists,
                Some(_) => There::Unknown,
                None => There::Absent,
            };
            found.dirs.push(Dir::Up {
                local: path,
                remote: rpath,
                there,
                top: false,
            });
        } else if meta.is_file() {
            let up_to_date = remote_copy.is_some_and(|e| {
                e.size == Some(meta.len())
                    && match (e.modified, meta.modified().ok()) {
                        (Some(r), Some(l)) => {
                            DateTime::<Utc>::from(l) <= r + chrono::Duration::seconds(60)
                        }
                        _ => true,
                    }
            });
            if up_to_date {
                found.skipped.push(rpath);
            } else {
                found.files.push(Job::Upload {
                    local: path,
                    remote: rpath,
                    size: Some(meta.len()),
                });
            }
        }
    }
    found
}

/// Whether the local file at `path` already matches a remote file of `size` and `mtime`.
fn same_file(path: &Path, size: Option<u64>, mtime: Option<DateTime<Utc>>) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if size != Some(meta.len()) {
        return false;
    }
    match (mtime, meta.modified().ok()) {
        (Some(remote), Some(local)) => {
            let local = DateTime::<Utc>::from(local);
            (local - remote).num_seconds().abs() < 60
        }
        _ => true,
    }
}
