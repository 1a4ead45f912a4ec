//! File names as the server's raw bytes, carried losslessly in Rust strings.
//!
//! FTP names are bytes; servers that are not UTF-8 (Latin-1, Shift-JIS, ...) send names that
//! are not valid UTF-8. ferroftp decodes valid UTF-8 as itself and maps each byte of an invalid
//! sequence to a private-use character (U+F780 + byte - 0x80, i.e. U+F780..=U+F7FF); commands
//! map those characters back to the original bytes. So every listed name can be passed back to
//! download, rename or remove that very file. ([`Entry::name_bytes`](crate::Entry::name_bytes)
//! gives the raw bytes.) A real name containing U+F780..=U+F7FF would be sent as raw bytes:
//! such names do not occur in practice.

use std::io;

const BASE: u32 = 0xF700;

/// Decodes the server's bytes: UTF-8 as itself, other bytes as private-use characters.
pub fn decode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for &b in chunk.invalid() {
            out.push(char::from_u32(BASE + u32::from(b)).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
    }
    out
}

/// Encodes `text` back into the server's bytes (the inverse of [`decode`]).
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let v = u32::from(c);
        if (BASE + 0x80..=BASE + 0xFF).contains(&v) {
            out.push((v - BASE) as u8);
        } else {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

/// The suppaftp encoding of the control connection: [`encode`] and [`decode`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lossless;

impl suppaftp::Encoding for Lossless {
    fn decode(&self, bytes: &[u8]) -> String {
        decode(bytes)
    }

    fn encode(&self, text: &str) -> io::Result<Vec<u8>> {
        Ok(encode(text))
    }
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
}
