//! File names as the server's raw bytes, carried losslessly in Rust strings.
//!
//! FTP names are bytes; servers that are not UTF-8 (Latin-1, Shift-JIS, ...) send names that
//! are not valid UTF-8. ferroftp decodes valid UTF-8 as itself and maps each byte of an invalid
//! sequence to a private-use character (U+F780 + byte - 0x80, i.e. U+F780..=U+F7FF); commands
//! map those characters back to the original bytes. So every listed name can be passed back to
//! download, rename or remove that very file. ([`Entry::name_bytes`](crate::Entry::name_bytes)
//! gives the raw bytes.)
//!
//! Any byte string survives the round trip: `encode(&decode(b)) == b` for every `b`. (The UTF-8
//! form of a character in U+F780..=U+F7FF is itself decoded byte by byte, as if it were
//! invalid, so that it cannot be mistaken for a mapped byte.) So a caller holding raw bytes can
//! always turn them into a path that reaches exactly those bytes.
//!
//! How the bytes then travel on the control connection (a `0xFF` byte, Telnet's IAC, is sent
//! doubled or not depending on the server) is the connection's business, not this module's.

const BASE: u32 = 0xF700;

/// The private-use characters that stand for the bytes 0x80..=0xFF.
const MAPPED: std::ops::RangeInclusive<u32> = BASE + 0x80..=BASE + 0xFF;

/// Decodes the server's bytes: UTF-8 as itself, other bytes as private-use characters.
pub fn decode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        if valid.chars().any(|c| MAPPED.contains(&u32::from(c))) {
            for c in valid.chars() {
                if MAPPED.contains(&u32::from(c)) {
                    push_bytes(&mut out, c.encode_utf8(&mut [0; 4]).as_bytes());
                } else {
                    out.push(c);
                }
            }
        } else {
            out.push_str(valid);
        }
        push_bytes(&mut out, chunk.invalid());
    }
    out
}

/// Appends each byte (all of them 0x80 or above) as its private-use character.
fn push_bytes(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from_u32(BASE + u32::from(b)).unwrap_or(char::REPLACEMENT_CHARACTER));
    }
}

/// Encodes `text` back into the server's bytes (the inverse of [`decode`]).
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let v = u32::from(c);
        if MAPPED.contains(&v) {
            out.push((v - BASE) as u8);
        } else {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for bytes in [
            &b"plain.txt"[..],
            "caf\u{e9}.txt".as_bytes(),
            b"caf\xe9.txt",
            b"\xff\xfe\x80 mixed \xc3\xa9 \xc3",
            b"",
        ] {
            assert_eq!(encode(&decode(bytes)), bytes, "{bytes:?}");
        }
        assert_eq!(decode("café".as_bytes()), "café");
        assert_eq!(decode(b"caf\xe9"), "caf\u{f7e9}");
    }

    #[test]
    fn every_byte_string_round_trips() {
        // Every string of one or two bytes, and of three bytes from the ranges where UTF-8
        // sequences of U+F780..=U+F7FF (EF 9E/9F xx) and their neighbours live.
        let mut samples: Vec<Vec<u8>> = (0..=255u8).map(|a| vec![a]).collect();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                samples.push(vec![a, b]);
            }
        }
        for a in [0xE0, 0xEE, 0xEF, 0xF0] {
            for b in 0x80..=0xBFu8 {
                for c in 0x7F..=0xC0u8 {
                    samples.push(vec![a, b, c]);
                }
            }
        }
        for bytes in samples {
            assert_eq!(encode(&decode(&bytes)), bytes, "{bytes:x?}");
        }
    }

    #[test]
    fn mapped_characters_in_real_utf8_names_survive() {
        // A name that really holds U+F7E9 (UTF-8 EF 9F A9) is kept apart from the byte E9.
        let name = "x\u{f7e9}y".as_bytes();
        assert_ne!(decode(name), decode(b"x\xe9y"));
        assert_eq!(encode(&decode(name)), name);
        // Other private-use characters are plain UTF-8.
        assert_eq!(decode("\u{f700}\u{e000}".as_bytes()), "\u{f700}\u{e000}");
    }
}
