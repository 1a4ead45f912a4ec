//! LIST lines: Unix `ls -l` variants and the DOS/IIS format.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};

use super::{Entry, EntryKind, Parsed, all_digits, strip_eol};

/// Parses one LIST line: Unix `ls -l` variants and DOS/IIS format.
///
/// Unix dates given as `Mon DD HH:MM` get the year of `now`, or the previous year when the date in
/// `now`'s year would be more than 180 days after `now`. Times are taken as UTC. The name is the rest
/// of the line after the date, byte for byte, minus the single separator before it (for DOS lines,
/// minus all the padding before it); for symbolic links `name -> target` is split at the first ` -> `.
///
/// Returns `None` for `total N` lines, `.` and `..`, blank lines and lines it cannot parse. A line
/// whose shape is right but whose date is impossible (`Feb 30`, `25:61`) gives an entry with
/// [`Entry::modified`] `None`.
pub fn parse_list_line(line: &str, dir: &str, now: DateTime<Utc>) -> Option<Entry> {
    let raw = strip_eol(line);
    let parsed = parse_unix(raw, now).or_else(|| parse_dos(raw))?;
    parsed.into_entry(raw, dir)
}

// ---------------------------------------------------------------------------------------------
// LIST: common helpers
// ---------------------------------------------------------------------------------------------

/// A whitespace-separated token of a line, with its byte range.
#[derive(Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    end: usize,
}

/// Separators between the columns of a LIST line.
fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The first `max` tokens of `line`. The columns before a name are few, so a bounded number of
/// tokens is enough, whatever the length of the line.
fn tokens(line: &str, max: usize) -> Vec<Token<'_>> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < max {
        while bytes.get(i).is_some_and(|&b| is_sep(b)) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        while bytes.get(i).is_some_and(|&b| !is_sep(b)) {
            i += 1;
        }
        // Separators are ASCII, so both ends are on character boundaries.
        if let Some(text) = line.get(start..i) {
            out.push(Token { text, end: i });
        }
    }
    out
}

/// Parses `s` as a number when it is 1 to `max_len` ASCII digits.
fn small_number(s: &str, max_len: usize) -> Option<u32> {
    if s.len() > max_len || !all_digits(s) {
        return None;
    }
    s.parse().ok()
}

/// Hours, minutes and seconds of a time of day, not yet validated.
type Hms = (u32, u32, u32);

/// A time of day: `H:MM`, `HH:MM` or `HH:MM:SS` (values not yet validated).
fn clock(s: &str) -> Option<Hms> {
    let mut parts = s.split(':');
    let hour = small_number(parts.next()?, 2)?;
    let minute = parts.next().filter(|m| m.len() == 2)?;
    let minute = small_number(minute, 2)?;
    let second = match parts.next() {
        Some(sec) if sec.len() == 2 => small_number(sec, 2)?,
        Some(_) => return None,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((hour, minute, second))
}

/// A UTC date-time from its parts, `None` when they do not make a real date.
fn utc(year: i32, month: u32, day: u32, (h, m, s): Hms) -> Option<DateTime<Utc>> {
    NaiveDate::from_ymd_opt(year, month, day)?
        .and_hms_opt(h, m, s)
        .map(|t| t.and_utc())
}

// ---------------------------------------------------------------------------------------------
// LIST: Unix `ls -l`
// ---------------------------------------------------------------------------------------------

/// How far into a line the date columns may start (perms, links, owner, group, size, and a few
/// more for owner/group names that contain spaces).
const MAX_UNIX_TOKENS: usize = 24;

/// The year or the time of day of a Unix date.
enum YearOrTime {
    Year(i32),
    Time(Hms),
}

fn year_or_time(s: &str) -> Option<YearOrTime> {
    if s.len() == 4 && all_digits(s) {
        return s.parse().ok().map(YearOrTime::Year);
    }
    clock(s).map(YearOrTime::Time)
}

fn month(s: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let index = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(s))?;
    u32::try_from(index + 1).ok()
}

/// A day of month: one or two digits (the value is checked when the date is built).
fn day(s: &str) -> Option<u32> {
    small_number(s, 2)
}

/// The kind, permissions and device flag from an `ls -l` mode column such as `drwxr-xr-x`,
/// `-rw-r--r--+` or `crw-rw-rw-`; `None` if `s` is not one.
fn unix_mode(s: &str) -> Option<(EntryKind, String, bool)> {
    let bytes = s.as_bytes();
    let (&type_char, rest) = bytes.split_first()?;
    let perms = rest.get(..9)?;
    let marker = rest.get(9..)?;
    if !perms.iter().all(|b| b"-rwxsStTlL".contains(b))
        || !marker.iter().all(|b| b"+.@*".contains(b))
    {
        return None;
    }
    let (kind, device) = match type_char {
        b'-' => (EntryKind::File, false),
        b'd' => (EntryKind::Dir, false),
        b'l' => (EntryKind::Link, false),
        b'c' | b'b' => (EntryKind::Other, true),
        b'p' | b's' | b'D' | b'n' | b'w' | b'?' => (EntryKind::Other, false),
        _ => return None,
    };
    // `perms` is ASCII (checked above), so this is valid UTF-8 and 1..10 is on a boundary.
    let perms = s.get(1..10)?.to_owned();
    Some((kind, perms, device))
}

/// The date columns starting at `toks[i]`: the index of their last token and the date (`None`
/// when the columns have the right shape but do not make a real date).
fn unix_date(
    toks: &[Token<'_>],
    i: usize,
    now: DateTime<Utc>,
) -> Option<(usize, Option<DateTime<Utc>>)> {
    let a = toks.get(i)?.text;
    let b = toks.get(i + 1)?.text;

    // `2023-01-05 12:00` (ls --time-style=long-iso).
    if let Some(date) = iso_date(a)
        && let Some(time) = clock(b)
    {
        let modified = date.and_then(|(y, m, d)| utc(y, m, d, time));
        return Some((i + 1, modified));
    }

    // `Nov 27 21:23`, `Jan  5  2023`, or day first: `27 Nov 21:23`.
    let (mon, dom) = match (month(a), day(b)) {
        (Some(mon), Some(dom)) => (mon, dom),
        _ => (month(b)?, day(a)?),
    };
    let modified = match year_or_time(toks.get(i + 2)?.text)? {
        YearOrTime::Year(year) => utc(year, mon, dom, (0, 0, 0)),
        YearOrTime::Time(time) => infer_year(now, mon, dom, time),
    };
    Some((i + 2, modified))
}

/// `YYYY-MM-DD`: `Some(None)` when the shape is right but the values are not.
fn iso_date(s: &str) -> Option<Option<(i32, u32, u32)>> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let year = small_number(y, 4)?;
    let (month, day) = (small_number(m, 2)?, small_number(d, 2)?);
    Some(i32::try_from(year).ok().map(|y| (y, month, day)))
}

/// The date of a `Mon DD HH:MM` column: the year of `now`, or the previous year if that would put
/// the date more than 180 days after `now`. A `Feb 29` that exists in neither year is tried in the
/// next year too (still no more than 180 days ahead).
fn infer_year(now: DateTime<Utc>, month: u32, day: u32, time: Hms) -> Option<DateTime<Utc>> {
    let limit = now
        .checked_add_signed(TimeDelta::days(180))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let year = now.year();
    if let Some(t) = utc(year, month, day, time)
        && t <= limit
    {
        return Some(t);
    }
    utc(year - 1, month, day, time)
        .or_else(|| utc(year + 1, month, day, time).filter(|t| *t <= limit))
}

/// Parses an `ls -l` style line.
fn parse_unix(raw: &str, now: DateTime<Utc>) -> Option<Parsed<'_>> {
    let toks = tokens(raw, MAX_UNIX_TOKENS);
    let (kind, permissions, device) = unix_mode(toks.first()?.text)?;

    // Find the date columns: the first place where they follow a size column (digits; for device
    // files the minor number, after `major,`) and are followed by a name.
    let (size_tok, last, modified) = (2..toks.len()).find_map(|i| {
        let size_tok = toks.get(i - 1)?;
        if !size_tok
            .text
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b',')
        {
            return None;
        }
        let (last, modified) = unix_date(&toks, i, now)?;
        // A name must follow.
        toks.get(last + 1)?;
        Some((size_tok, last, modified))
    })?;

    // The name is the rest of the line after the single separator that follows the date.
    let name_start = toks.get(last)?.end + 1;
    let rest = raw.get(name_start..)?;
    let (name, target) = match kind {
        EntryKind::Link => match rest.split_once(" -> ") {
            Some((name, target)) => (name, Some(target)),
            None => (rest, None),
        },
        _ => (rest, None),
    };
    let size = if device {
        None
    } else {
        size_tok.text.parse::<u64>().ok()
    };
    Some(Parsed {
        name,
        kind,
        size,
        modified,
        permissions: Some(permissions),
        target,
    })
}

// ---------------------------------------------------------------------------------------------
// LIST: DOS / IIS
// ---------------------------------------------------------------------------------------------

/// A DOS date `MM-DD-YY`, `MM-DD-YYYY` or `YYYY-MM-DD` (also with `/`): `Some(None)` when the shape
/// is right but the values are not. Two-digit years 70–99 are 19xx, 00–69 are 20xx.
fn dos_date(s: &str) -> Option<Option<NaiveDate>> {
    let mut parts = s.split(['-', '/']);
    let (p1, p2, p3) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (year, month, day) = if p1.len() == 4 {
        (
            small_number(p1, 4)?,
            small_number(p2, 2)?,
            small_number(p3, 2)?,
        )
    } else {
        let year = match p3.len() {
            2 => match small_number(p3, 2)? {
                y @ 70.. => 1900 + y,
                y => 2000 + y,
            },
            4 => small_number(p3, 4)?,
            _ => return None,
        };
        (year, small_number(p1, 2)?, small_number(p2, 2)?)
    };
    let year = i32::try_from(year).ok();
    Some(year.and_then(|y| NaiveDate::from_ymd_opt(y, month, day)))
}

/// A DOS time `09:23PM`, `09:23 PM` or `21:23`, with the number of tokens it used, and the time
/// (`None` when the shape is right but the values are not).
fn dos_time(toks: &[Token<'_>]) -> Option<(usize, Option<Hms>)> {
    let first = toks.first()?.text;
    let split = first.len().saturating_sub(2);
    let (clock_part, suffix, used) = match (first.get(..split), first.get(split..)) {
        (Some(c), Some(s)) if is_am_pm(s) => (c, Some(s), 1),
        _ => match toks.get(1).map(|t| t.text).filter(|s| is_am_pm(s)) {
            Some(s) => (first, Some(s), 2),
            None => (first, None, 1),
        },
    };
    let (hour, minute, second) = clock(clock_part)?;
    let hour = match suffix {
        None => Some(hour),
        Some(_) if !(1..=12).contains(&hour) => None,
        Some(s) if s.eq_ignore_ascii_case("am") => Some(hour % 12),
        Some(_) => Some(hour % 12 + 12),
    };
    Some((used, hour.map(|h| (h, minute, second))))
}

fn is_am_pm(s: &str) -> bool {
    s.eq_ignore_ascii_case("am") || s.eq_ignore_ascii_case("pm")
}

/// Parses a DOS/IIS style line: `11-27-26  09:23PM       <DIR>          Some Dir`.
fn parse_dos(raw: &str) -> Option<Parsed<'_>> {
    let toks = tokens(raw, 5);
    let date = dos_date(toks.first()?.text)?;
    let (used, time) = dos_time(toks.get(1..)?)?;
    let size_tok = toks.get(1 + used)?;
    // A name must follow.
    toks.get(2 + used)?;

    let (kind, size) = match size_tok.text.to_ascii_uppercase().as_str() {
        "<DIR>" => (EntryKind::Dir, None),
        "<JUNCTION>" | "<SYMLINK>" | "<SYMLINKD>" => (EntryKind::Link, None),
        text if text.bytes().all(|b| b.is_ascii_digit() || b == b',')
            && text.bytes().any(|b| b.is_ascii_digit()) =>
        {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            (EntryKind::File, digits.parse::<u64>().ok())
        }
        _ => return None,
    };

    let name = raw.get(size_tok.end..)?.trim_start_matches([' ', '\t']);
    // `dir` style junctions and links: `name [target]`.
    let (name, target) = match kind {
        EntryKind::Link => match name.strip_suffix(']').and_then(|n| n.rsplit_once(" [")) {
            Some((name, target)) => (name, Some(target)),
            None => (name, None),
        },
        _ => (name, None),
    };
    let modified = match (date, time) {
        (Some(date), Some((h, m, s))) => date.and_hms_opt(h, m, s).map(|t| t.and_utc()),
        _ => None,
    };
    Some(Parsed {
        name,
        kind,
        size,
        modified,
        permissions: None,
        target,
    })
}
