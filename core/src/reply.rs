//! What replies and command lines say: the reply code, the directory of a 257, the time of a
//! 213 MDTM, the size a 150 announces, and a command line's context for messages (never a
//! password). Pure functions, fuzzed together (`fuzz/`).

use chrono::{DateTime, TimeZone, Utc};

/// The three-digit code at the start of a reply body, if there is one.
pub(crate) fn reply_code(body: &[u8]) -> Option<u16> {
    let digits = body.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The command part of `line` for messages (never a password).
pub(crate) fn line_context(line: &str) -> &str {
    if line
        .get(..5)
        .is_some_and(|v| v.eq_ignore_ascii_case("PASS "))
    {
        "PASS"
    } else {
        line
    }
}

/// The quoted directory of a 257 reply (`""` inside quotes stands for one `"`).
pub(crate) fn parse_pwd(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let mut out = String::new();
    let mut chars = text[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// `YYYYMMDDHHMMSS[.fff]` as UTC.
pub(crate) fn parse_mdtm(s: &str) -> Option<DateTime<Utc>> {
    let digits = s.get(..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| digits[a..b].parse::<u32>().ok();
    let year = digits[..4].parse::<i32>().ok()?;
    let base = Utc
        .with_ymd_and_hms(year, n(4, 6)?, n(6, 8)?, n(8, 10)?, n(10, 12)?, n(12, 14)?)
        .single()?;
    let frac = s.get(15..).filter(|_| s.as_bytes().get(14) == Some(&b'.'));
    match frac.and_then(|f| format!("0.{f}").parse::<f64>().ok()) {
        Some(f) => Some(base + chrono::Duration::microseconds((f * 1e6) as i64)),
        None => Some(base),
    }
}

/// The size announced in a 150 reply such as `150 Opening BINARY mode data connection for f (4096 bytes).`
pub(crate) fn announced_size(text: &str) -> Option<u64> {
    let open = text.rfind('(')?;
    let rest = &text[open + 1..];
    let mut words = rest.split_whitespace();
    let n = words.next()?.parse().ok()?;
    words
        .next()
        .filter(|w| w.to_ascii_lowercase().starts_with("bytes"))
        .map(|_| n)
}

/// Every parser of this module on the same bytes (for the fuzz target).
pub(crate) fn fuzz(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = reply_code(data);
    let _ = parse_pwd(&text);
    let _ = parse_mdtm(&text);
    let _ = announced_size(&text);
    let _ = line_context(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pwd_replies() {
        assert_eq!(
            parse_pwd("257 \"/a b\" is the current directory").as_deref(),
            Some("/a b")
        );
        assert_eq!(
            parse_pwd("257 \"/say \"\"hi\"\"\"").as_deref(),
            Some("/say \"hi\"")
        );
        assert_eq!(parse_pwd("257 no quotes"), None);
    }

    #[test]
    fn mdtm_values() {
        let t = parse_mdtm("20261127212345").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-27T21:23:45+00:00");
        let t = parse_mdtm("20261127212345.250").unwrap();
        assert_eq!(t.timestamp_subsec_millis(), 250);
        assert!(parse_mdtm("2026112721234").is_none());
        assert!(parse_mdtm("20261327212345").is_none());
    }

    #[test]
    fn announced_sizes() {
        let t = "150 Opening BINARY mode data connection for big.bin (1073741824 bytes).";
        assert_eq!(announced_size(t), Some(1 << 30));
        assert_eq!(announced_size("150 File status okay."), None);
        assert_eq!(announced_size("125 Data connection already open (x)"), None);
    }

    #[test]
    fn command_context_never_shows_a_password() {
        assert_eq!(line_context("PASS secret"), "PASS");
        assert_eq!(line_context("pass secret"), "PASS");
        assert_eq!(line_context("SIZE /a"), "SIZE /a");
        // found by the `reply` fuzz target: slicing inside a multi-byte character
        assert_eq!(
            line_context("\u{b4}\u{b4}\u{b4}15201"),
            "\u{b4}\u{b4}\u{b4}15201"
        );
        fuzz(b"\xb4\xb4\xb4\xb4\xb4\xb415201");
    }

    #[test]
    fn reply_code_parsing() {
        assert_eq!(reply_code(b"226 ok"), Some(226));
        assert_eq!(reply_code(b"22"), None);
        assert_eq!(reply_code(b"abc def"), None);
    }
}
