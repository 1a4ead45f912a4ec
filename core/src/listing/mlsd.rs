//! MLSD lines (RFC 3659): facts, then one space and the name.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Entry, EntryKind, Parsed, all_digits, strip_eol};

/// Parses one MLSD line (RFC 3659 facts: `"type=file;size=12;modify=20240101123456.789; name with spaces"`).
///
/// Fact names and the values of `type` are case-insensitive; unknown facts are ignored. The facts end
/// at the first space and the name is everything after it, byte for byte. A single leading space (the
/// `MLST` reply shape) is accepted. `size` gives [`Entry::size`], with `sizd` as a fallback for
/// directories; `modify` (`YYYYMMDDHHMMSS[.fraction]`, UTC) gives [`Entry::modified`].
///
/// Returns `None` for entries of type `cdir`/`pdir` (and names `.`/`..`) and for lines that are not
/// valid MLSD (no fact list, a fact without `=`, or an empty name).
pub fn parse_mlsd_line(line: &str, dir: &str) -> Option<Entry> {
    let raw = strip_eol(line);
    let (facts, name) = split_mlsd(raw)?;

    let mut kind_fact = None;
    let mut size_fact = None;
    let mut sizd_fact = None;
    let mut modify_fact = None;
    let mut mode_fact = None;
    let mut perm_fact = None;
    for fact in facts.split(';') {
        let Some((key, value)) = fact.split_once('=') else {
            continue;
        };
        let slot = if key.eq_ignore_ascii_case("type") {
            &mut kind_fact
        } else if key.eq_ignore_ascii_case("size") {
            &mut size_fact
        } else if key.eq_ignore_ascii_case("sizd") {
            &mut sizd_fact
        } else if key.eq_ignore_ascii_case("modify") {
            &mut modify_fact
        } else if key.eq_ignore_ascii_case("unix.mode") {
            &mut mode_fact
        } else if key.eq_ignore_ascii_case("perm") {
            &mut perm_fact
        } else {
            continue;
        };
        // The first occurrence of a fact wins.
        slot.get_or_insert(value);
    }

    let (kind, target) = match kind_fact {
        Some(value) => mlsd_kind(value)?,
        None => (EntryKind::Other, None),
    };
    let size = size_fact
        .and_then(|s| s.parse::<u64>().ok())
        .or_else(|| match kind {
            EntryKind::Dir => sizd_fact.and_then(|s| s.parse::<u64>().ok()),
            _ => None,
        });
    let parsed = Parsed {
        name,
        kind,
        size,
        modified: modify_fact.and_then(parse_mlsd_time),
        permissions: mode_fact.or(perm_fact).map(str::to_owned),
        target,
    };
    parsed.into_entry(raw, dir)
}

/// Splits an MLSD line into its facts and its name.
fn split_mlsd(line: &str) -> Option<(&str, &str)> {
    // An MLST reply line starts with one space; MLSD lines do not.
    let body = line.strip_prefix(' ').unwrap_or(line);
    let (facts, name) = body.split_once(' ')?;
    valid_facts(facts).then_some((facts, name))
}

/// Whether `facts` is a non-empty list of `name=value` facts separated by `;`.
fn valid_facts(facts: &str) -> bool {
    let mut any = false;
    for fact in facts.split(';').filter(|f| !f.is_empty()) {
        match fact.split_once('=') {
            Some((key, _)) if !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic()) => {
                any = true;
            }
            _ => return false,
        }
    }
    any
}

/// The kind (and link target) from an MLSD `type` value; `None` for `cdir` and `pdir`.
fn mlsd_kind(value: &str) -> Option<(EntryKind, Option<&str>)> {
    let lower = value.to_ascii_lowercase();
    let kind = match lower.as_str() {
        "file" => EntryKind::File,
        "dir" => EntryKind::Dir,
        "cdir" | "pdir" => return None,
        _ if lower.starts_with("os.unix=slink") => {
            let target = value.split_once(':').map(|(_, t)| t);
            return Some((EntryKind::Link, target));
        }
        _ if lower.starts_with("os.unix=symlink") => EntryKind::Link,
        _ => EntryKind::Other,
    };
    Some((kind, None))
}

/// Parses an MLSD time value, `YYYYMMDDHHMMSS` with an optional `.fraction`, in UTC.
fn parse_mlsd_time(value: &str) -> Option<DateTime<Utc>> {
    let (main, fraction) = match value.split_once('.') {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (value, None),
    };
    if main.len() != 14 || !all_digits(main) {
        return None;
    }
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && all_digits(f) => {
            // Keep nanosecond precision: the first nine digits, right-padded with zeros.
            let mut nanos = 0u32;
            for i in 0..9 {
                let digit = f.as_bytes().get(i).map_or(0, |b| u32::from(b - b'0'));
                nanos = nanos * 10 + digit;
            }
            nanos
        }
        Some(_) => return None,
    };
    let field = |range: std::ops::Range<usize>| main.get(range)?.parse::<u32>().ok();
    let year = i32::try_from(field(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, field(4..6)?, field(6..8)?)?
        .and_hms_nano_opt(field(8..10)?, field(10..12)?, field(12..14)?, nanos)
        .map(|t| t.and_utc())
}
