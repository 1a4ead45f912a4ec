//! `ferroftp_entries`: the result of a directory listing (`ferroftp_session_list`,
//! `ferroftp_future_take_entries`).

use std::ffi::{CString, c_char};

use ferroftp::{Entry, EntryKind};

use crate::error::{CError, ferroftp_status, set_error};
use crate::ffi::{Castable, free_box, to_boxed_mut_ptr, try_out, try_ref};
use crate::future::{FutureResult, ferroftp_future, take};
use crate::panic::ffi_panic_boundary;
use crate::values::c_string;

/// A directory listing: a read-only, immutable list of entries.
///
/// Behind the pointer: a Rust `Vec` of entries whose strings are already NUL-terminated. Made by
/// `ferroftp_session_list` or `ferroftp_future_take_entries`; to avoid a memory leak it must
/// eventually be freed with `ferroftp_entries_free`. The strings its accessors return are owned
/// by the list and stay valid until it is freed. Being immutable, one list may be read from any
/// number of threads at once.
pub struct ferroftp_entries {
    _private: [u8; 0],
}

impl Castable for ferroftp_entries {
    type RustType = Vec<CEntry>;
}

/// What a directory entry is.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferroftp_entry_kind {
    /// A regular file.
    FERROFTP_ENTRY_KIND_FILE = 0,
    /// A directory.
    FERROFTP_ENTRY_KIND_DIR = 1,
    /// A symbolic link (or a Windows junction).
    FERROFTP_ENTRY_KIND_LINK = 2,
    /// Anything else: a device, pipe, socket or unknown type.
    FERROFTP_ENTRY_KIND_OTHER = 3,
}

/// One entry with its strings converted for C.
pub(crate) struct CEntry {
    name: CString,
    /// The name as the server's bytes (differs from `name` only for names that are not UTF-8).
    name_bytes: Vec<u8>,
    path: CString,
    kind: ferroftp_entry_kind,
    size: Option<u64>,
    modified: Option<i64>,
    permissions: Option<CString>,
    target: Option<CString>,
    raw: CString,
}

impl CEntry {
    fn new(e: Entry) -> Result<Self, CError> {
        Ok(Self {
            name_bytes: e.name_bytes(),
            name: c_string(e.name, "name")?,
            path: c_string(e.path, "path")?,
            kind: match e.kind {
                EntryKind::File => ferroftp_entry_kind::FERROFTP_ENTRY_KIND_FILE,
                EntryKind::Dir => ferroftp_entry_kind::FERROFTP_ENTRY_KIND_DIR,
                EntryKind::Link => ferroftp_entry_kind::FERROFTP_ENTRY_KIND_LINK,
                EntryKind::Other => ferroftp_entry_kind::FERROFTP_ENTRY_KIND_OTHER,
            },
            size: e.size,
            modified: e.modified.map(|t| t.timestamp()),
            permissions: e
                .permissions
                .map(|p| c_string(p, "permission string"))
                .transpose()?,
            target: e.target.map(|t| c_string(t, "link target")).transpose()?,
            raw: c_string(e.raw, "listing line")?,
        })
    }
}

/// Converts a listing for C.
pub(crate) fn convert(entries: Vec<Entry>) -> Result<Vec<CEntry>, CError> {
    entries.into_iter().map(CEntry::new).collect()
}

impl FutureResult for Vec<CEntry> {
    fn what(&self) -> &'static str {
        "entries (ferroftp_future_take_entries)"
    }
}

/// Writes the listing (`list`) to `*entries_out`: a new list the caller owns and must free with
/// `ferroftp_entries_free`. See `ferroftp_future_take_u64` for the statuses.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_future_take_entries(
    future: *const ferroftp_future,
    entries_out: *mut *mut ferroftp_entries,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let f = try_ref!(future);
        let out = try_out!(entries_out);
        take(f, out, |e: Vec<CEntry>| to_boxed_mut_ptr::<ferroftp_entries>(e))
    }
}

/// Looks entry `index` up, or returns `FERROFTP_STATUS_OUT_OF_RANGE`.
macro_rules! try_entry {
    ($entries:ident, $index:ident) => {
        match try_ref!($entries).get($index) {
            Some(e) => e,
            None => {
                return set_error(
                    ferroftp_status::FERROFTP_STATUS_OUT_OF_RANGE,
                    None,
                    format!(
                        "entry index {} is out of range (the list has {} entries)",
                        $index,
                        try_ref!($entries).len()
                    ),
                );
            }
        }
    };
}

/// Writes the number of entries to `*count_out`.
///
/// Returns `FERROFTP_STATUS_NULL_ARGUMENT` for a NULL argument.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_entries_count(
    entries: *const ferroftp_entries,
    count_out: *mut usize,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let list = try_ref!(entries);
        let out = try_out!(count_out);
        out.write(list.len());
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

/// Writes entry `index`'s file name (without any directory part) to `*name_out`.
///
/// A name that is not UTF-8 comes as UTF-8 in which each stray byte is a private-use character
/// (see `ferroftp_entries_name_bytes` for the original bytes); passed back (as part of a path),
/// it reaches that very file. The string is owned by `entries` and valid until
/// `ferroftp_entries_free`: do not free it.
/// Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index` is not below the count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_entries_name(
    entries: *const ferroftp_entries,
    index: usize,
    name_out: *mut *const c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(name_out);
        let e = try_entry!(entries, index);
        out.write(e.name.as_ptr());
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

/// Writes entry `index`'s file name as the server's raw bytes: the first byte to `*data_out` and
/// the byte count to `*len_out` (no terminating 0; a name never holds a 0 byte).
///
/// For a UTF-8 name these are the bytes of `ferroftp_entries_name`; for a name that is not UTF-8
/// (a Latin-1 or Shift-JIS server), `ferroftp_entries_name` carries each stray byte as a
/// private-use character and these are the original bytes. The bytes are owned by `entries` and
/// valid until `ferroftp_entries_free`: do not free them. `*data_out` is never NULL. Turn raw
/// bytes into a path the session functions take with `ferroftp_path_from_bytes`
/// (`ferroftp_entries_path` is already one). Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index`
/// is not below the count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_entries_name_bytes(
    entries: *const ferroftp_entries,
    index: usize,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let data = try_out!(data_out);
        let len = try_out!(len_out);
        let e = try_entry!(entries, index);
        data.write(e.name_bytes.as_ptr());
        len.write(e.name_bytes.len());
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

/// Writes entry `index`'s path (the listed directory joined with the name) to `*path_out`.
///
/// The string is owned by `entries` and valid until `ferroftp_entries_free`: do not free it.
/// Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index` is not below the count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_entries_path(
    entries: *const ferroftp_entries,
    index: usize,
    path_out: *mut *const c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(path_out);
        let e = try_entry!(entries, index);
        out.write(e.path.as_ptr());
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

/// Writes entry `index`'s kind (file, dir, link, other) to `*kind_out`.
///
/// Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index` is not below the count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_entries_kind(
    entries: *const ferroftp_entries,
    index: usize,
    kind_out: *mut ferroftp_entry_kind,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(kind_out);
        let e = try_entry!(entries, index);
        out.write(e.kind);
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

/// Writes whether the listing gave entry `index` a size to `*has_size_out`, and the size in
/// bytes (0 when it has none) to `*size_out`.
///
/// Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index` is not below the count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_entries_size(
    entries: *const ferroftp_entries,
    index: usize,
    has_size_out: *mut bool,
    size_out: *mut u64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let has = try_out!(has_size_out);
        let out = try_out!(size_out);
        let e = try_entry!(entries, index);
        has.write(e.size.is_some());
        out.write(e.size.unwrap_or(0));
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

/// Writes whether the listing gave entry `index` a modification time to `*has_modified_out`,
/// and that time in seconds since the Unix epoch, UTC (0 when it has none), to
/// `*unix_seconds_out`.
///
/// Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index` is not below the count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_entries_modified(
    entries: *const ferroftp_entries,
    index: usize,
    has_modified_out: *mut bool,
    unix_seconds_out: *mut i64,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let has = try_out!(has_modified_out);
        let out = try_out!(unix_seconds_out);
        let e = try_entry!(entries, index);
        has.write(e.modified.is_some());
        out.write(e.modified.unwrap_or(0));
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

/// Writes entry `index`'s permissions as the server gave them (`"rwxr-xr-x"`, an MLSD
/// `UNIX.mode` such as `"0755"`, or an MLSD `perm` fact), or NULL when there are none, to
/// `*permissions_out`.
///
/// The string is owned by `entries` and valid until `ferroftp_entries_free`: do not free it.
/// Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index` is not below the count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_entries_permissions(
    entries: *const ferroftp_entries,
    index: usize,
    permissions_out: *mut *const c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(permissions_out);
        let e = try_entry!(entries, index);
        out.write(e.permissions.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()));
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

/// Writes the target of entry `index` when it is a symbolic link the listing resolved, or NULL,
/// to `*target_out`.
///
/// The string is owned by `entries` and valid until `ferroftp_entries_free`: do not free it.
/// Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index` is not below the count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_entries_target(
    entries: *const ferroftp_entries,
    index: usize,
    target_out: *mut *const c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(target_out);
        let e = try_entry!(entries, index);
        out.write(e.target.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()));
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

/// Writes entry `index`'s original listing line (without its CR/LF) to `*raw_out`.
///
/// The string is owned by `entries` and valid until `ferroftp_entries_free`: do not free it.
/// Returns `FERROFTP_STATUS_OUT_OF_RANGE` when `index` is not below the count.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_entries_raw(
    entries: *const ferroftp_entries,
    index: usize,
    raw_out: *mut *const c_char,
) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(raw_out);
        let e = try_entry!(entries, index);
        out.write(e.raw.as_ptr());
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

/// Frees a listing and every string it handed out. NULL is a no-op.
///
/// `entries` must come from this library and must not be used (or freed) again afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_entries_free(entries: *mut ferroftp_entries) {
    ffi_panic_boundary! {
        // SAFETY: the caller hands back a pointer this library made, once.
        unsafe { free_box(entries) }
    }
}
