//! Values the session returns: directory entries and raw replies.

use std::time::SystemTime;

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Link,
    /// Anything else (device, pipe, socket, an unknown MLSD type).
    Other,
}

impl From<ferroftp::EntryKind> for EntryKind {
    fn from(kind: ferroftp::EntryKind) -> Self {
        // Exhaustive: a kind the core gains does not compile here until it is named.
        match kind {
            ferroftp::EntryKind::File => Self::File,
            ferroftp::EntryKind::Dir => Self::Dir,
            ferroftp::EntryKind::Link => Self::Link,
            ferroftp::EntryKind::Other => Self::Other,
        }
    }
}

/// One entry of a directory listing (see `ferroftp::Entry`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Entry {
    /// The file name, without its directory.
    pub name: String,
    /// The listed directory joined with the name.
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// The size in bytes, when the listing gives one.
    pub size: Option<u64>,
    /// The modification time, when the listing gives one.
    pub modified: Option<SystemTime>,
    /// Permissions as the server gave them (`"rwxr-xr-x"`, `"0755"`, ...).
    pub permissions: Option<String>,
    /// The target of a symbolic link.
    pub target: Option<String>,
    /// The listing line as the server sent it.
    pub raw: String,
}

impl From<ferroftp::Entry> for Entry {
    fn from(e: ferroftp::Entry) -> Self {
        Self {
            name: e.name,
            path: e.path,
            kind: e.kind.into(),
            size: e.size,
            modified: e.modified.map(SystemTime::from),
            permissions: e.permissions,
            target: e.target,
            raw: e.raw,
        }
    }
}

/// A server's reply to a raw command (`Session.quote`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Reply {
    /// The reply code (`200`, `550`, ...).
    pub code: u16,
    /// The reply's text.
    pub text: String,
}
