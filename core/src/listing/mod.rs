//! Parsing of FTP directory listings.
//!
//! Two reply formats are understood:
//!
//! * `MLSD` (RFC 3659): machine-readable facts followed by one space and the name.
//! * `LIST`: the free-form output most servers produce, either Unix `ls -l` style
//!   (vsftpd, ProFTPD, pure-ftpd, pyftpdlib, FileZilla Server, ...) or DOS/IIS style.
//!
//! All parsers are plain string splitting: they never panic, whatever the input, and
//! return `None` for lines they do not understand.
//!
//! Times without a zone (all of them, in practice) are taken as UTC. A Unix `LIST`
//! date printed without a year (`Nov 27 21:23`) gets its year from the `now` passed in.

use chrono::{DateTime, Utc};

mod list;
mod mlsd;

pub use list::parse_list_line;
pub use mlsd::parse_mlsd_line;

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (or a Windows junction).
    Link,
    /// Anything else: device, pipe, socket, or an unknown MLSD type.
    Other,
}

impl EntryKind {
    /// The kind as a lowercase word: `"file"`, `"dir"`, `"link"` or `"other"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Link => "link",
            EntryKind::Other => "other",
        }
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name only, without any directory part.
    pub name: String,
    /// The listed directory joined with [`Entry::name`] (see [`join_path`]).
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// The size in bytes, when the listing gives one (never for device files).
    pub size: Option<u64>,
    /// The modification time, always UTC; `None` when absent or not a valid date.
    pub modified: Option<DateTime<Utc>>,
    /// Permissions as the server gave them: `"rwxr-xr-x"` from a Unix `LIST` line (the nine
    /// characters after the type character), the MLSD `UNIX.mode` fact (e.g. `"0755"`) when
    /// present, else the MLSD `perm` fact (e.g. `"adfrw"`).
    pub permissions: Option<String>,
    /// The target of a symbolic link, from `name -> target` in `LIST` or from an MLSD
    /// `type=OS.unix=slink:target` fact.
    pub target: Option<String>,
    /// The original line, unchanged except for its trailing CR/LF.
    pub raw: String,
}

impl Entry {
    /// The name as the server's raw bytes (differs from `name.as_bytes()` only for names
    /// that are not valid UTF-8; see [`crate::names`]).
    pub fn name_bytes(&self) -> Vec<u8> {
        crate::names::encode(&self.name)
    }
}

/// Which listing format a server's reply is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingFormat {
    /// RFC 3659 `MLSD` output.
    Mlsd,
    /// `LIST` output (Unix `ls -l` style or DOS/IIS style).
    List,
}

/// Parses a whole listing (raw bytes of the data connection, lines separated by CRLF or LF), decoding
/// each line with [`crate::names::decode`] (UTF-8, other bytes kept as private-use characters), skipping lines that do not parse. Never panics.
pub fn parse_listing(
    data: &[u8],
    dir: &str,
    format: ListingFormat,
    now: DateTime<Utc>,
) -> Vec<Entry> {
    data.split(|&b| b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .filter_map(|line| {
            let text = crate::names::decode(line);
            match format {
                ListingFormat::Mlsd => parse_mlsd_line(&text, dir),
                ListingFormat::List => parse_list_line(&text, dir, now),
            }
        })
        .collect()
}

/// Joins a directory and a name the way [`Entry::path`] is built (public: the session uses it too).
///
/// `"/a/b"` + `"c"` = `"/a/b/c"`, `"/"` + `"c"` = `"/c"`, `""` or `"."` + `"c"` = `"c"`. Slashes at the
/// junction are collapsed, so the result never has `//` there; an empty name gives the directory.
pub fn join_path(dir: &str, name: &str) -> String {
    let name = name.trim_start_matches('/');
    let base = dir.trim_end_matches('/');
    if base.is_empty() {
        return if dir.is_empty() {
            name.to_owned()
        } else {
            // The directory was made of slashes only: the root.
            format!("/{name}")
        };
    }
    if base == "." {
        return if name.is_empty() {
            ".".to_owned()
        } else {
            name.to_owned()
        };
    }
    if name.is_empty() {
        return base.to_owned();
    }
    format!("{base}/{name}")
}

/// The parts of a line, before they are turned into an [`Entry`].
pub(super) struct Parsed<'a> {
    pub(super) name: &'a str,
    pub(super) kind: EntryKind,
    pub(super) size: Option<u64>,
    pub(super) modified: Option<DateTime<Utc>>,
    pub(super) permissions: Option<String>,
    pub(super) target: Option<&'a str>,
}

impl Parsed<'_> {
    pub(super) fn into_entry(self, raw: &str, dir: &str) -> Option<Entry> {
        let name = base_name(self.name)?;
        if name == "." || name == ".." {
            return None;
        }
        Some(Entry {
            name: name.to_owned(),
            path: join_path(dir, name),
            kind: self.kind,
            size: self.size,
            modified: self.modified,
            permissions: self.permissions,
            target: self.target.filter(|t| !t.is_empty()).map(str::to_owned),
            raw: raw.to_owned(),
        })
    }
}

/// The line without its trailing CR/LF characters.
pub(super) fn strip_eol(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// The last component of a name: servers sometimes send a path (or a `dir/` marker); a real
/// file name never contains `/`. `None` when nothing is left or the name is blank.
fn base_name(name: &str) -> Option<&str> {
    let trimmed = name.trim_end_matches('/');
    let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
    if base.trim_matches([' ', '\t']).is_empty() {
        None
    } else {
        Some(base)
    }
}

pub(super) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use chrono::TimeZone;

    /// The reference "now" of the tests: 2026-11-27 21:30:00 UTC.
    fn now() -> DateTime<Utc> {
        at(2026, 11, 27, 21, 30, 0)
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid test date")
    }

    fn list(line: &str) -> Entry {
        parse_list_line(line, "/pub", now()).unwrap_or_else(|| panic!("no entry for {line:?}"))
    }

    fn mlsd(line: &str) -> Entry {
        parse_mlsd_line(line, "/pub").unwrap_or_else(|| panic!("no entry for {line:?}"))
    }

    // ----- join_path and EntryKind ------------------------------------------------------------

    #[test]
    fn join_path_cases() {
        assert_eq!(join_path("/a/b", "c"), "/a/b/c");
        assert_eq!(join_path("/a/b/", "c"), "/a/b/c");
        assert_eq!(join_path("/", "c"), "/c");
        assert_eq!(join_path("//", "c"), "/c");
        assert_eq!(join_path("", "c"), "c");
        assert_eq!(join_path(".", "c"), "c");
        assert_eq!(join_path("./", "c"), "c");
        assert_eq!(join_path("a", "c"), "a/c");
        assert_eq!(join_path("/a", "/c"), "/a/c");
        assert_eq!(join_path("/a", "name with  spaces"), "/a/name with  spaces");
        assert_eq!(join_path("/a/", ""), "/a");
        assert_eq!(join_path("/", ""), "/");
        assert_eq!(join_path("", ""), "");
    }

    #[test]
    fn entry_kind_as_str() {
        assert_eq!(EntryKind::File.as_str(), "file");
        assert_eq!(EntryKind::Dir.as_str(), "dir");
        assert_eq!(EntryKind::Link.as_str(), "link");
        assert_eq!(EntryKind::Other.as_str(), "other");
    }

    // ----- MLSD -------------------------------------------------------------------------------

    #[test]
    fn mlsd_pyftpdlib_file() {
        let line = "type=file;size=1024;modify=20261127212300;perm=radfw;unix.mode=0644;\
                    unix.uid=0;unix.gid=0;unique=801g1234; hello.txt";
        let e = mlsd(line);
        assert_eq!(e.name, "hello.txt");
        assert_eq!(e.path, "/pub/hello.txt");
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.size, Some(1024));
        assert_eq!(e.modified, Some(at(2026, 11, 27, 21, 23, 0)));
        assert_eq!(e.permissions.as_deref(), Some("0644"));
        assert_eq!(e.target, None);
        assert_eq!(e.raw, line);
    }

    #[test]
    fn mlsd_pyftpdlib_dir_and_dot_entries() {
        let e = mlsd(
            "type=dir;size=4096;modify=20261127212300;perm=elradfmw;unix.mode=0755;\
             unix.uid=0;unix.gid=0;unique=801g5678; sub dir",
        );
        assert_eq!(e.kind, EntryKind::Dir);
        assert_eq!(e.name, "sub dir");
        assert_eq!(e.size, Some(4096));
        assert_eq!(e.permissions.as_deref(), Some("0755"));
        assert!(parse_mlsd_line("type=cdir;modify=20261127212300;perm=elradfmw; .", "/").is_none());
        assert!(
            parse_mlsd_line("type=pdir;modify=20261127212300;perm=elradfmw; ..", "/").is_none()
        );
        assert!(parse_mlsd_line("type=cdir;perm=el; /home/user", "/").is_none());
        assert!(parse_mlsd_line("Type=CDir; /home/user", "/").is_none());
        // Some servers list the dot entries as plain directories.
        assert!(parse_mlsd_line("type=dir;modify=20261127212300; .", "/").is_none());
        assert!(parse_mlsd_line("type=dir;modify=20261127212300; ..", "/").is_none());
    }

    #[test]
    fn mlsd_proftpd() {
        let e = mlsd(
            "modify=20230105120000;perm=adfr;size=1234;type=file;unique=FD00U1234;\
             UNIX.group=1000;UNIX.groupname=g;UNIX.mode=0644;UNIX.owner=1000;\
             UNIX.ownername=u; report.pdf",
        );
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.size, Some(1234));
        assert_eq!(e.modified, Some(at(2023, 1, 5, 12, 0, 0)));
        assert_eq!(e.permissions.as_deref(), Some("0644"));
        assert_eq!(e.name, "report.pdf");

        let link = mlsd(
            "modify=20230105120000;perm=adfr;size=7;type=OS.unix=symlink;unique=FD00U99;\
             UNIX.mode=0777;UNIX.owner=0; latest",
        );
        assert_eq!(link.kind, EntryKind::Link);
        assert_eq!(link.target, None);
        assert_eq!(link.name, "latest");
    }

    #[test]
    fn mlsd_slink_with_target() {
        let e = mlsd("type=OS.unix=slink:/etc/passwd;size=11;modify=20240101000000; passwd");
        assert_eq!(e.kind, EntryKind::Link);
        assert_eq!(e.target.as_deref(), Some("/etc/passwd"));
        let e = mlsd("type=OS.UNIX=slink:;size=11; dangling");
        assert_eq!(e.kind, EntryKind::Link);
        assert_eq!(e.target, None);
    }

    #[test]
    fn mlsd_pure_ftpd_name_with_separators() {
        let e = mlsd(
            "type=file;size=12;modify=20240101123456;UNIX.mode=0644;UNIX.uid=1000;\
             UNIX.gid=1000;unique=803g2c0b; a;b=c d.txt",
        );
        assert_eq!(e.name, "a;b=c d.txt");
        assert_eq!(e.modified, Some(at(2024, 1, 1, 12, 34, 56)));
        let e = mlsd("type=file;size=1;   two  spaces  ");
        assert_eq!(e.name, "  two  spaces  ");
    }

    #[test]
    fn mlsd_filezilla_and_iis() {
        let e = mlsd("type=file;modify=20230105120000.123;size=1234;perm=adfrw; Report 2023.xlsx");
        assert_eq!(e.name, "Report 2023.xlsx");
        assert_eq!(e.permissions.as_deref(), Some("adfrw"));
        assert_eq!(
            e.modified,
            Some(at(2023, 1, 5, 12, 0, 0) + TimeDelta::milliseconds(123))
        );
        let e = mlsd("Type=File;Size=42;Modify=20230105120000.5; x.txt");
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.size, Some(42));
        assert_eq!(
            e.modified,
            Some(at(2023, 1, 5, 12, 0, 0) + TimeDelta::milliseconds(500))
        );
        let e = mlsd("TYPE=DIR;MODIFY=20230105120000; Windows");
        assert_eq!(e.kind, EntryKind::Dir);
        assert_eq!(e.size, None);
    }

    #[test]
    fn mlsd_fraction_precision() {
        let e = mlsd("type=file;modify=20230105120000.123456789123; f");
        assert_eq!(
            e.modified,
            Some(at(2023, 1, 5, 12, 0, 0) + TimeDelta::nanoseconds(123_456_789))
        );
    }

    #[test]
    fn mlsd_sizes_and_kinds() {
        let e = mlsd("type=dir;sizd=8192; d");
        assert_eq!(e.size, Some(8192));
        let e = mlsd("type=file;sizd=8192; f");
        assert_eq!(e.size, None);
        let e = mlsd("type=file;size=99999999999; big");
        assert_eq!(e.size, Some(99_999_999_999));
        let e = mlsd("type=file;size=123456789012345678901234567890; huge");
        assert_eq!(e.size, None);
        let e = mlsd("type=OS.unix=chr-13/29;modify=20230105120000; tty");
        assert_eq!(e.kind, EntryKind::Other);
        let e = mlsd("size=5;modify=20230105120000; no-type");
        assert_eq!(e.kind, EntryKind::Other);
        assert_eq!(e.size, Some(5));
        let e = mlsd("type=file;x.custom=1;UNIX.owner=u; f");
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.permissions, None);
    }

    #[test]
    fn mlsd_invalid_times() {
        for modify in [
            "20230230120000",
            "20231305120000",
            "20230105256100",
            "2023010512000",
            "202301051200001",
            "20230105120000.",
            "20230105120000.12a",
            "2023-01-05",
            "",
        ] {
            let e = mlsd(&format!("type=file;modify={modify}; f"));
            assert_eq!(e.modified, None, "modify={modify}");
        }
    }

    #[test]
    fn mlsd_not_mlsd() {
        for line in [
            "",
            " ",
            "   ",
            "hello",
            "hello world",
            "type=file;size=1;",
            "type=file;size=1; ",
            "type=file;size=1;   ",
            "noequals; name",
            "=x; name",
            "-rw-r--r--   1 root     root         1024 Nov 27 21:23 hello.txt",
            "11-27-26  09:23PM       <DIR>          Some Dir",
            "total 12",
        ] {
            assert!(parse_mlsd_line(line, "/").is_none(), "{line:?}");
        }
    }

    #[test]
    fn mlsd_mlst_shape_and_eol() {
        let e = mlsd(" type=file;size=3;modify=20230105120000; /pub/a.txt\r\n");
        assert_eq!(e.name, "a.txt");
        assert_eq!(e.path, "/pub/a.txt");
        assert_eq!(e.raw, " type=file;size=3;modify=20230105120000; /pub/a.txt");
    }

    // ----- Unix LIST --------------------------------------------------------------------------

    #[test]
    fn unix_vsftpd_numeric_owner() {
        let line = "-rw-r--r--    1 1000     1000         4096 Nov 27 21:23 file.txt";
        let e = list(line);
        assert_eq!(e.name, "file.txt");
        assert_eq!(e.path, "/pub/file.txt");
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.size, Some(4096));
        assert_eq!(e.modified, Some(at(2026, 11, 27, 21, 23, 0)));
        assert_eq!(e.permissions.as_deref(), Some("rw-r--r--"));
        assert_eq!(e.target, None);
        assert_eq!(e.raw, line);
    }

    #[test]
    fn unix_pyftpdlib() {
        let e = list("-rw-r--r--   1 root     root         1024 Nov 27 21:23 hello.txt\r\n");
        assert_eq!(e.name, "hello.txt");
        assert_eq!(e.size, Some(1024));
        assert_eq!(e.modified, Some(at(2026, 11, 27, 21, 23, 0)));
        assert_eq!(
            e.raw,
            "-rw-r--r--   1 root     root         1024 Nov 27 21:23 hello.txt"
        );
        let d = list("drwxr-xr-x   2 root     root         4096 Nov 27 21:23 sub");
        assert_eq!(d.kind, EntryKind::Dir);
        assert_eq!(d.permissions.as_deref(), Some("rwxr-xr-x"));
    }

    #[test]
    fn unix_year_and_spaces_in_name() {
        let e = list("drwxr-xr-x   2 owner group  4096 Jan  5  2023 dir name with  two spaces");
        assert_eq!(e.kind, EntryKind::Dir);
        assert_eq!(e.name, "dir name with  two spaces");
        assert_eq!(e.modified, Some(at(2023, 1, 5, 0, 0, 0)));
        let e = list("-rw-r--r--   1 owner group  1 Jan  5  2023  leading and trailing  ");
        assert_eq!(e.name, " leading and trailing  ");
        let e = list("-rw-r--r--   1 owner group  1 Jan  5 10:00 tab\there");
        assert_eq!(e.name, "tab\there");
    }

    #[test]
    fn unix_symlink() {
        let e = list("lrwxrwxrwx   1 root root 7 Mar 3 10:00 link -> target");
        assert_eq!(e.kind, EntryKind::Link);
        assert_eq!(e.name, "link");
        assert_eq!(e.target.as_deref(), Some("target"));
        assert_eq!(e.size, Some(7));
        assert_eq!(e.modified, Some(at(2026, 3, 3, 10, 0, 0)));
        let e = list("lrwxrwxrwx   1 root root 20 Mar 3 10:00 my link -> ../a -> b");
        assert_eq!(e.name, "my link");
        assert_eq!(e.target.as_deref(), Some("../a -> b"));
        // Without an arrow the whole rest is the name.
        let e = list("lrwxrwxrwx   1 root root 7 Mar 3 10:00 lonely");
        assert_eq!(e.name, "lonely");
        assert_eq!(e.target, None);
        // A regular file may contain an arrow in its name.
        let e = list("-rw-r--r--   1 root root 7 Mar 3 10:00 a -> b");
        assert_eq!(e.name, "a -> b");
        assert_eq!(e.target, None);
    }

    #[test]
    fn unix_no_group_and_markers() {
        let e = list("-rw-r--r-- 1 owner 1234 Nov 27 21:23 f");
        assert_eq!(e.size, Some(1234));
        assert_eq!(e.name, "f");
        for (line, perms) in [
            ("-rw-r--r--+ 1 o g 1 Nov 27 21:23 acl", "rw-r--r--"),
            ("drwxr-xr-x. 3 o g 1 Nov 27 21:23 selinux", "rwxr-xr-x"),
            ("-rw-r--r--@ 1 o g 1 Nov 27 21:23 xattr", "rw-r--r--"),
            ("-rwsr-sr-t 1 o g 1 Nov 27 21:23 sticky", "rwsr-sr-t"),
            ("----------   1 ftp ftp 0 Nov 27 21:23 none", "---------"),
        ] {
            assert_eq!(list(line).permissions.as_deref(), Some(perms), "{line}");
        }
    }

    #[test]
    fn unix_devices_and_special_types() {
        let e = list("crw-rw-rw- 1 root root 1, 3 Nov 27 21:23 null");
        assert_eq!(e.kind, EntryKind::Other);
        assert_eq!(e.size, None);
        assert_eq!(e.name, "null");
        let e = list("brw-rw---- 1 root disk 8,   0 Nov 27 21:23 sda");
        assert_eq!(e.kind, EntryKind::Other);
        assert_eq!(e.size, None);
        assert_eq!(e.name, "sda");
        let e = list("brw-rw---- 1 root disk 259,1 Nov 27 21:23 nvme");
        assert_eq!(e.size, None);
        for line in [
            "prw-r--r-- 1 root root 0 Nov 27 21:23 fifo",
            "srwxrwxrwx 1 root root 0 Nov 27 21:23 sock",
        ] {
            let e = list(line);
            assert_eq!(e.kind, EntryKind::Other);
            assert_eq!(e.size, Some(0));
        }
    }

    #[test]
    fn unix_big_sizes_months_days() {
        let e = list("-rw-r--r-- 1 o g 5368709120 Nov 27 21:23 big.iso");
        assert_eq!(e.size, Some(5_368_709_120));
        let e = list("-rw-r--r-- 1 o g 18446744073709551615 Nov 27 21:23 max");
        assert_eq!(e.size, Some(u64::MAX));
        let e = list("-rw-r--r-- 1 o g 18446744073709551616 Nov 27 21:23 over");
        assert_eq!(e.size, None);
        let e = list("-rw-r--r-- 1 o g 1 NOV 7 09:05 upper");
        assert_eq!(e.modified, Some(at(2026, 11, 7, 9, 5, 0)));
        let e = list("-rw-r--r-- 1 o g 1 sep 09 2019 lower");
        assert_eq!(e.modified, Some(at(2019, 9, 9, 0, 0, 0)));
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        for (i, m) in (1..).zip(months) {
            let e = list(&format!("-rw-r--r-- 1 o g 1 {m} 1 2020 f"));
            assert_eq!(e.modified, Some(at(2020, i, 1, 0, 0, 0)), "{m}");
        }
    }

    #[test]
    fn unix_other_date_styles() {
        let e = list("-rw-r--r-- 1 o g 12 2023-01-05 12:34 iso name");
        assert_eq!(e.modified, Some(at(2023, 1, 5, 12, 34, 0)));
        assert_eq!(e.name, "iso name");
        let e = list("-rw-r--r-- 1 o g 12 27 Nov 21:23 dayfirst");
        assert_eq!(e.modified, Some(at(2026, 11, 27, 21, 23, 0)));
        assert_eq!(e.size, Some(12));
        let e = list("-rw-r--r-- 1 o g 12 Nov 27 21:23:45 seconds");
        assert_eq!(e.modified, Some(at(2026, 11, 27, 21, 23, 45)));
        // An owner named like a month does not confuse the date search.
        let e = list("-rw-r--r-- 1 may jun 12 Nov 27 21:23 months");
        assert_eq!(e.size, Some(12));
        assert_eq!(e.name, "months");
    }

    #[test]
    fn unix_year_inference() {
        let n = at(2026, 3, 1, 12, 0, 0);
        let date = |line: &str| parse_list_line(line, "", n).and_then(|e| e.modified);
        // Earlier this year.
        assert_eq!(
            date("-rw-r--r-- 1 o g 1 Feb 15 10:00 f"),
            Some(at(2026, 2, 15, 10, 0, 0))
        );
        // Later this year but within 180 days: kept in this year (clock skew, future files).
        assert_eq!(
            date("-rw-r--r-- 1 o g 1 Jun 1 10:00 f"),
            Some(at(2026, 6, 1, 10, 0, 0))
        );
        // More than 180 days ahead: last year.
        assert_eq!(
            date("-rw-r--r-- 1 o g 1 Dec 24 10:00 f"),
            Some(at(2025, 12, 24, 10, 0, 0))
        );
        // Around new year.
        let jan = at(2027, 1, 2, 0, 0, 0);
        assert_eq!(
            parse_list_line("-rw-r--r-- 1 o g 1 Dec 31 23:00 f", "", jan).and_then(|e| e.modified),
            Some(at(2026, 12, 31, 23, 0, 0))
        );
        // Feb 29: the nearest leap year that fits.
        let leap = |n| parse_list_line("-rw-r--r-- 1 o g 1 Feb 29 10:00 f", "", n);
        assert_eq!(
            leap(at(2028, 3, 10, 0, 0, 0)).and_then(|e| e.modified),
            Some(at(2028, 2, 29, 10, 0, 0))
        );
        assert_eq!(
            leap(at(2025, 1, 10, 0, 0, 0)).and_then(|e| e.modified),
            Some(at(2024, 2, 29, 10, 0, 0))
        );
        assert_eq!(
            leap(at(2027, 10, 1, 0, 0, 0)).and_then(|e| e.modified),
            Some(at(2028, 2, 29, 10, 0, 0))
        );
        let e = leap(at(2026, 1, 10, 0, 0, 0)).expect("entry kept");
        assert_eq!(e.modified, None);
    }

    #[test]
    fn unix_extreme_now() {
        for n in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
            let e = parse_list_line("-rw-r--r-- 1 o g 1 Dec 31 23:59 f", "", n);
            assert!(e.is_some());
        }
    }

    #[test]
    fn unix_invalid_dates_keep_entry() {
        for line in [
            "-rw-r--r-- 1 o g 1 Feb 30 10:00 f",
            "-rw-r--r-- 1 o g 1 Nov 27 25:61 f",
            "-rw-r--r-- 1 o g 1 Nov 0 2020 f",
            "-rw-r--r-- 1 o g 1 Nov 99 2020 f",
            "-rw-r--r-- 1 o g 1 2023-13-45 10:00 f",
        ] {
            let e = list(line);
            assert_eq!(e.modified, None, "{line}");
            assert_eq!(e.name, "f");
        }
    }

    #[test]
    fn unix_skipped_lines() {
        for line in [
            "total 12",
            "total 0",
            "drwxr-xr-x   2 root root 4096 Nov 27 21:23 .",
            "drwxr-xr-x   2 root root 4096 Nov 27 21:23 ..",
            "",
            "      ",
            "\t",
            "\r\n",
            "-rw-r--r-- 1 o g 1 Nov 27 21:23",
            "-rw-r--r-- 1 o g 1 Nov 27 21:23 ",
            "-rw-r--r-- 1 o g 1 Nov 27 21:23    ",
            "-rw-r--r-- 1 o g 1 Nov 27",
            "-rw-r--r--",
            "-rw-r--r-- 1 o g big Nov 27 21:23 f",
            "-rw-r--r-- 1 o g 1 Foo 27 21:23 f",
            "-rw-r--r-- 1 o g 1 Nov 123 21:23 f",
            "-rw-r--r-- 1 o g 1 Nov 27 2:3 f",
            "xrw-r--r-- 1 o g 1 Nov 27 21:23 f",
            "-rw-r--r-Z 1 o g 1 Nov 27 21:23 f",
            "-rw-r--r 1 o g 1 Nov 27 21:23 f",
            "ls: cannot open directory .: Permission denied",
        ] {
            assert!(parse_list_line(line, "/", now()).is_none(), "{line:?}");
        }
    }

    #[test]
    fn unix_unicode_names() {
        let e = list("-rw-r--r-- 1 o g 1 Nov 27 21:23 naïve 日本語 😀.txt");
        assert_eq!(e.name, "naïve 日本語 😀.txt");
        let e = list("-rw-r--r-- 1 jürgen grüppe 1 Nov 27 21:23 x");
        assert_eq!(e.name, "x");
    }

    // ----- DOS / IIS LIST ---------------------------------------------------------------------

    #[test]
    fn dos_iis() {
        let line = "11-27-26  09:23PM       <DIR>          Some Dir";
        let e = list(line);
        assert_eq!(e.kind, EntryKind::Dir);
        assert_eq!(e.name, "Some Dir");
        assert_eq!(e.path, "/pub/Some Dir");
        assert_eq!(e.size, None);
        assert_eq!(e.modified, Some(at(2026, 11, 27, 21, 23, 0)));
        assert_eq!(e.permissions, None);
        assert_eq!(e.raw, line);

        let e = list("11-27-2026  09:23PM              1234 file name.txt");
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.size, Some(1234));
        assert_eq!(e.name, "file name.txt");
        assert_eq!(e.modified, Some(at(2026, 11, 27, 21, 23, 0)));
    }

    #[test]
    fn dos_am_pm_and_years() {
        let date = |line: &str| list(line).modified;
        assert_eq!(
            date("01-05-23  12:00AM  1 f"),
            Some(at(2023, 1, 5, 0, 0, 0))
        );
        assert_eq!(
            date("01-05-23  12:30PM  1 f"),
            Some(at(2023, 1, 5, 12, 30, 0))
        );
        assert_eq!(
            date("01-05-23  01:15pm  1 f"),
            Some(at(2023, 1, 5, 13, 15, 0))
        );
        assert_eq!(
            date("01-05-23  11:59AM  1 f"),
            Some(at(2023, 1, 5, 11, 59, 0))
        );
        assert_eq!(
            date("01-05-70  11:59AM  1 f"),
            Some(at(1970, 1, 5, 11, 59, 0))
        );
        assert_eq!(
            date("01-05-99  11:59AM  1 f"),
            Some(at(1999, 1, 5, 11, 59, 0))
        );
        assert_eq!(
            date("01-05-00  11:59AM  1 f"),
            Some(at(2000, 1, 5, 11, 59, 0))
        );
        assert_eq!(
            date("01-05-69  11:59AM  1 f"),
            Some(at(2069, 1, 5, 11, 59, 0))
        );
        assert_eq!(
            date("01-05-23  09:23 PM  1 f"),
            Some(at(2023, 1, 5, 21, 23, 0))
        );
        assert_eq!(
            date("1/5/2023  9:23PM  1 f"),
            Some(at(2023, 1, 5, 21, 23, 0))
        );
    }

    #[test]
    fn dos_24_hour_and_iso() {
        let e = list("2026-11-27  21:23  <DIR>  x");
        assert_eq!(e.kind, EntryKind::Dir);
        assert_eq!(e.name, "x");
        assert_eq!(e.modified, Some(at(2026, 11, 27, 21, 23, 0)));
        let e = list("11-27-2026  21:23       5368709120 big.bin");
        assert_eq!(e.size, Some(5_368_709_120));
        assert_eq!(e.modified, Some(at(2026, 11, 27, 21, 23, 0)));
        let e = list("11-27-2026  21:23  1,234,567 commas.bin");
        assert_eq!(e.size, Some(1_234_567));
    }

    #[test]
    fn dos_links_and_invalid() {
        let e = list("11-27-2026  09:23PM    <JUNCTION>     Docs [C:\\Users\\me\\Documents]");
        assert_eq!(e.kind, EntryKind::Link);
        assert_eq!(e.name, "Docs");
        assert_eq!(e.target.as_deref(), Some("C:\\Users\\me\\Documents"));
        for line in [
            "02-30-26  09:23PM  1 f",
            "11-27-26  25:61  1 f",
            "11-27-26  13:00PM  1 f",
            "11-27-26  00:10AM  1 f",
            "13-01-26  09:23PM  1 f",
        ] {
            let e = list(line);
            assert_eq!(e.modified, None, "{line}");
            assert_eq!(e.name, "f");
        }
        for line in [
            "11-27-26  09:23PM       <DIR>",
            "11-27-26  09:23PM       <DIR>          ",
            "11-27-26  09:23PM",
            "11-27-26  09:23PM  <FOO>  x",
            "11-27-26  09:23PM  12ab  x",
            "11-27-26  9PM  1  x",
            "11-27  09:23PM  1  x",
            "11-27-2  09:23PM  1  x",
            "11-27-26-1  09:23PM  1  x",
            "11-27-26  09:23PM  <DIR>  .",
            "11-27-26  09:23PM  <DIR>  ..",
        ] {
            assert!(parse_list_line(line, "/", now()).is_none(), "{line:?}");
        }
    }

    // ----- whole listings ---------------------------------------------------------------------

    #[test]
    fn listing_unix_crlf() {
        let data = b"total 12\r\n\
            drwxr-xr-x   2 root     root         4096 Nov 27 21:23 .\r\n\
            drwxr-xr-x   3 root     root         4096 Nov 27 21:23 ..\r\n\
            -rw-r--r--   1 root     root         1024 Nov 27 21:23 hello.txt\r\n\
            drwxr-xr-x   2 root     root         4096 Jan  5  2023 sub dir\r\n\
            lrwxrwxrwx   1 root     root            9 Nov 27 21:23 link -> hello.txt\r\n\
            \r\n";
        let entries = parse_listing(data, "/", ListingFormat::List, now());
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["hello.txt", "sub dir", "link"]);
        let paths: Vec<_> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/hello.txt", "/sub dir", "/link"]);
        assert!(entries.iter().all(|e| !e.raw.ends_with('\r')));
    }

    #[test]
    fn listing_mlsd_lf_and_raw_bytes() {
        let mut data = b"type=cdir;modify=20261127212300; .\n\
            type=pdir;modify=20261127212300; ..\n\
            type=file;size=3;modify=20261127212300; a.txt\n\
            garbage line\n\
            type=file;size=4;modify=20261127212300; caf"
            .to_vec();
        data.extend_from_slice(&[0xE9, b'\r', b'\n']);
        data.extend_from_slice(b"type=dir;modify=20261127212300; last");
        let entries = parse_listing(&data, "", ListingFormat::Mlsd, now());
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "caf\u{F7E9}", "last"]);
        assert_eq!(entries[1].name_bytes(), b"caf\xe9");
        assert_eq!(entries.first().map(|e| e.path.as_str()), Some("a.txt"));
    }

    #[test]
    fn listing_dos_and_mixed() {
        let data = b"11-27-26  09:23PM       <DIR>          Some Dir\r\n\
            11-27-2026  09:23PM              1234 file name.txt\r\n";
        let entries = parse_listing(data, "/win", ListingFormat::List, now());
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries.get(1).map(|e| e.path.as_str()),
            Some("/win/file name.txt")
        );
        assert!(parse_listing(b"", "/", ListingFormat::List, now()).is_empty());
        assert!(parse_listing(b"\n\n\r\n", "/", ListingFormat::Mlsd, now()).is_empty());
    }

    #[test]
    fn long_lines() {
        let long = "a".repeat(1_000_000);
        assert!(parse_list_line(&long, "/", now()).is_none());
        assert!(parse_mlsd_line(&long, "/").is_none());
        let spaces = " ".repeat(1_000_000);
        assert!(parse_list_line(&spaces, "/", now()).is_none());
        assert!(parse_mlsd_line(&spaces, "/").is_none());
        let many = "1 ".repeat(500_000);
        assert!(parse_list_line(&many, "/", now()).is_none());
        let name = "n ".repeat(100_000);
        let e = list(&format!("-rw-r--r-- 1 o g 1 Nov 27 21:23 {name}"));
        assert_eq!(e.name, name);
        let e = mlsd(&format!("type=file; {name}"));
        assert_eq!(e.name, name);
    }

    // ----- robustness -------------------------------------------------------------------------

    /// A tiny xorshift64 generator, so the test needs no extra crate.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
    }

    const TOKENS: &[&str] = &[
        "-rw-r--r--",
        "drwxr-xr-x",
        "lrwxrwxrwx",
        "crw-rw-rw-",
        "-rw-r--r--+",
        "total",
        "1",
        "12",
        "1,",
        "4096",
        "18446744073709551616",
        "root",
        "Nov",
        "feb",
        "27",
        "29",
        "30",
        "0",
        "21:23",
        "25:61",
        "2023",
        "2023-01-05",
        "->",
        "<DIR>",
        "<JUNCTION>",
        "11-27-26",
        "02-30-2026",
        "09:23PM",
        "12:00AM",
        "PM",
        "type=file;",
        "type=dir;",
        "type=cdir;",
        "type=OS.unix=slink:",
        "size=",
        "sizd=",
        "modify=20240101123456.789;",
        "modify=2024;",
        "unix.mode=0644;",
        "perm=r;",
        ";",
        "=",
        ":",
        "-",
        "/",
        ".",
        "..",
        "[",
        "]",
        "é",
        "日本",
        "😀",
        "\u{0}",
        "\r",
        "\n",
    ];

    const SEPARATORS: &[&str] = &["", " ", "  ", "\t", " \t "];

    #[test]
    fn random_token_soup_never_panics() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let times = [
            now(),
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MIN_UTC,
            at(2028, 2, 29, 0, 0, 0),
        ];
        let mut parsed = 0usize;
        for round in 0..5000 {
            let mut line = String::new();
            for _ in 0..rng.below(14) {
                line.push_str(TOKENS.get(rng.below(TOKENS.len())).copied().unwrap_or(""));
                line.push_str(
                    SEPARATORS
                        .get(rng.below(SEPARATORS.len()))
                        .copied()
                        .unwrap_or(""),
                );
            }
            let n = times.get(round % times.len()).copied().unwrap_or_else(now);
            let dir = ["", "/", ".", "/a/b/"]
                .get(round % 4)
                .copied()
                .unwrap_or("");
            for entry in parse_list_line(&line, dir, n)
                .into_iter()
                .chain(parse_mlsd_line(&line, dir))
            {
                parsed += 1;
                assert!(!entry.name.is_empty());
                assert!(!entry.name.contains('/'));
                assert!(!entry.path.contains("//"), "{:?}", entry.path);
                assert_eq!(entry.raw, line.trim_end_matches(['\r', '\n']));
            }
            let _ = parse_listing(line.as_bytes(), dir, ListingFormat::List, n);
            let _ = parse_listing(line.as_bytes(), dir, ListingFormat::Mlsd, n);
        }
        // The soup is listing-like enough that some lines do parse.
        assert!(parsed > 0);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
        for _ in 0..2000 {
            let len = rng.below(300);
            let data: Vec<u8> = (0..len).map(|_| rng.next().to_le_bytes()[0]).collect();
            let _ = parse_listing(&data, "/", ListingFormat::List, now());
            let _ = parse_listing(&data, "/", ListingFormat::Mlsd, now());
        }
    }
}
