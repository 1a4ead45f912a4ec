//! How a transfer reports its progress.

/// Progress callback of a transfer: `(bytes done, total bytes if known)`, called as data moves.
///
/// It runs on the transfer's task: keep it quick.
pub type Progress = std::sync::Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;
