//! Trees: mirroring a remote directory down, or a local one up, through a batch.

use std::collections::VecDeque;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::listing::{EntryKind, join_path};

use super::Pool;
use super::batch::{BatchOptions, BatchResult, Job};

impl Pool {
    /// Mirrors the remote directory `remote` into the local directory `local` (created as
    /// needed), listing each remote directory once.
    ///
    /// # Errors
    /// When the tree cannot be listed or a local directory cannot be created; failures of
    /// single files are in the result instead.
    pub async fn download_tree(
        &self,
        remote: &str,
        local: impl AsRef<Path>,
        options: BatchOptions,
    ) -> Result<BatchResult> {
        let local = local.as_ref();
        let mut jobs = Vec::new();
        let mut skipped = Vec::new();
        {
            let s = self.session().await?;
            let mut dirs = VecDeque::from([(
                remote.trim_end_matches('/').to_string(),
                local.to_path_buf(),
            )]);
            while let Some((rdir, ldir)) = dirs.pop_front() {
                std::fs::create_dir_all(&ldir)
                    .map_err(|e| Error::from_io(e, &format!("creating {}", ldir.display())))?;
                let listed = if rdir.is_empty() { "/" } else { rdir.as_str() };
                for entry in s.list(listed).await? {
                    let lpath = ldir.join(&entry.name);
                    let rpath = join_path(listed, &entry.name);
                    match entry.kind {
                        EntryKind::Dir => dirs.push_back((rpath, lpath)),
                        EntryKind::File | EntryKind::Link => {
                            if options.skip_existing
                                && same_file(&lpath, entry.size, entry.modified)
                            {
                                skipped.push(rpath);
                                continue;
                            }
                            jobs.push(Job::Download {
                                remote: rpath,
                                local: lpath,
                                size: entry.size,
                                mtime: entry.modified,
                            });
                        }
                        EntryKind::Other => {}
                    }
                }
            }
        }
        let mut result = self.run_batch(jobs, options).await;
        result.skipped = skipped;
        Ok(result)
    }

    /// Mirrors the local directory `local` into the remote directory `remote` (created as
    /// needed, with its subdirectories).
    ///
    /// # Errors
    /// When the local tree cannot be read or a remote directory cannot be created; failures of
    /// single files are in the result instead.
    pub async fn upload_tree(
        &self,
        local: impl AsRef<Path>,
        remote: &str,
        options: BatchOptions,
    ) -> Result<BatchResult> {
        let local = local.as_ref();
        let mut jobs = Vec::new();
        let mut skipped = Vec::new();
        {
            let s = self.session().await?;
            let mut dirs = VecDeque::from([(
                local.to_path_buf(),
                remote.trim_end_matches('/').to_string(),
            )]);
            while let Some((ldir, rdir)) = dirs.pop_front() {
                let rdir_name = if rdir.is_empty() {
                    "/".to_string()
                } else {
                    rdir.clone()
                };
                s.mkdir(&rdir_name, true).await?;
                let existing = if options.skip_existing {
                    s.list(&rdir_name).await?
                } else {
                    Vec::new()
                };
                let read = std::fs::read_dir(&ldir)
                    .map_err(|e| Error::from_io(e, &format!("reading {}", ldir.display())))?;
                for item in read {
                    let item = item
                        .map_err(|e| Error::from_io(e, &format!("reading {}", ldir.display())))?;
                    let name = item.file_name().to_string_lossy().into_owned();
                    let meta = item.metadata().map_err(|e| {
                        Error::from_io(e, &format!("reading {}", item.path().display()))
                    })?;
                    let rpath = join_path(&rdir_name, &name);
                    if meta.is_dir() {
                        dirs.push_back((item.path(), rpath));
                    } else if meta.is_file() {
                        let remote_copy = existing.iter().find(|e| e.name == name);
                        let up_to_date = remote_copy.is_some_and(|e| {
                            e.size == Some(meta.len())
                                && match (e.modified, meta.modified().ok()) {
                                    (Some(r), Some(l)) => {
                                        DateTime::<Utc>::from(l)
                                            <= r + chrono::Duration::seconds(60)
                                    }
                                    _ => true,
                                }
                        });
                        if up_to_date {
                            skipped.push(rpath);
                        } else {
                            jobs.push(Job::Upload {
                                local: item.path(),
                                remote: rpath,
                                size: Some(meta.len()),
                            });
                        }
                    }
                }
            }
        }
        let mut result = self.run_batch(jobs, options).await;
        result.skipped = skipped;
        Ok(result)
    }
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
