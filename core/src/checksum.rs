//! Checksums of transferred files: which one to ask the server for, the local digest computed
//! while the data streams, and the parsers of the servers' replies.
//!
//! Servers offer file digests in two ways, both found in their FEAT reply:
//! - `HASH` (draft-bryan-ftpext-hash): FEAT lists `HASH SHA-256*;SHA-1;MD5;CRC32` (`*` marks the
//!   algorithm in use), `OPTS HASH <alg>` selects another, and `HASH <path>` answers
//!   `213 <alg> <start>-<end> <hex> <path>`;
//! - one command per algorithm: `XSHA256`, `XSHA512`, `XSHA1` (or `XSHA`), `XMD5`, `XCRC`,
//!   answering `250 <hex>` or `213 <hex>` (servers differ; the parser is lenient).

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Whether and how a transfer is checked with a checksum computed by the server.
///
/// Set with [`crate::DownloadOptions::checksum`] and [`crate::UploadOptions::checksum`]. The
/// local digest is computed while the data streams (no second pass over the file, except over
/// the part a resumed transfer does not send again), then compared with the server's digest of
/// the remote file: one `HASH` (or `XSHA256`, ...) command after the transfer, plus an
/// `OPTS HASH` when the server's HASH is set to another algorithm. The server reads the whole
/// file to answer, so the wait for its reply grows with the file size.
///
/// A mismatch fails the transfer with [`crate::ErrorKind::Integrity`]: a download is then
/// discarded (nothing is renamed into place; a resumable part file is removed too, since its
/// data is bad), an atomic upload's temporary remote file is removed (the target is left as it
/// was), and a plain upload's error says that the remote file is left as the server stored it.
///
/// When a checksum was compared, the size check of `verify` is not needed and is skipped.
///
/// ```no_run
/// # async fn demo(s: ferroftp::Session) -> ferroftp::Result<()> {
/// use ferroftp::{Checksum, DownloadOptions, ErrorKind, HashAlgorithm, UploadOptions};
///
/// let opts = DownloadOptions::default().checksum(Checksum::IfAvailable);
/// match s.download("/pub/big.iso", "big.iso", opts).await {
///     Err(e) if e.kind() == ErrorKind::Integrity => eprintln!("corrupt, discarded: {e}"),
///     other => drop(other?),
/// }
/// let opts = UploadOptions::default()
///     .atomic(true)
///     .checksum(Checksum::Only(HashAlgorithm::Sha256));
/// s.upload("report.csv", "/inbox/report.csv", opts).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Checksum {
    /// No checksum (the default): only the size check of `verify`.
    #[default]
    Off,
    /// Compare a checksum when the server offers one (in its FEAT reply), the strongest of
    /// SHA-256, SHA-512, SHA-1, MD5, CRC32, by `HASH` where offered, else by the `X…` command;
    /// without one, or when the server then refuses the command, the transfer is not checked
    /// beyond `verify`.
    IfAvailable,
    /// As [`Checksum::IfAvailable`], but a server that offers no checksum fails the transfer
    /// before it starts ([`crate::ErrorKind::Permanent`], no reply code), and a refused checksum
    /// command fails it after.
    Required,
    /// This algorithm only (by `HASH` where offered, else its `X…` command); a server that
    /// offers neither fails the transfer before it starts, as with [`Checksum::Required`].
    Only(HashAlgorithm),
}

/// A digest algorithm servers compute for [`Checksum`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-256 (`HASH` name `SHA-256`, command `XSHA256`).
    Sha256,
    /// SHA-512 (`SHA-512`, `XSHA512`).
    Sha512,
    /// SHA-1 (`SHA-1`, `XSHA1`).
    Sha1,
    /// MD5 (`MD5`, `XMD5`).
    Md5,
    /// CRC-32 as in zip and Ethernet (`CRC32`, `XCRC`).
    Crc32,
}

impl HashAlgorithm {
    /// Every algorithm, in the order [`Checksum::IfAvailable`] prefers them.
    pub const ALL: [Self; 5] = [
        Self::Sha256,
        Self::Sha512,
        Self::Sha1,
        Self::Md5,
        Self::Crc32,
    ];

    /// The name used by the `HASH` command (`"SHA-256"`, `"MD5"`, `"CRC32"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha512 => "SHA-512",
            Self::Sha1 => "SHA-1",
            Self::Md5 => "MD5",
            Self::Crc32 => "CRC32",
        }
    }

    /// The algorithm of a `HASH` name, ignoring case and dashes (`SHA-256`, `sha256`).
    fn from_name(name: &str) -> Option<Self> {
        let plain: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_uppercase();
        match plain.as_str() {
            "SHA256" => Some(Self::Sha256),
            "SHA512" => Some(Self::Sha512),
            "SHA1" => Some(Self::Sha1),
            "MD5" => Some(Self::Md5),
            "CRC32" => Some(Self::Crc32),
            _ => None,
        }
    }

    /// The algorithm of an `X…` command of FEAT (`XSHA` is SHA-1 on ProFTPD).
    fn from_x_command(verb: &str) -> Option<Self> {
        match verb.to_ascii_uppercase().as_str() {
            "XSHA256" => Some(Self::Sha256),
            "XSHA512" => Some(Self::Sha512),
            "XSHA1" | "XSHA" => Some(Self::Sha1),
            "XMD5" => Some(Self::Md5),
            "XCRC" => Some(Self::Crc32),
            _ => None,
        }
    }

    /// The digest's length in bytes.
    fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
            Self::Sha1 => 20,
            Self::Md5 => 16,
            Self::Crc32 => 4,
        }
    }
}

impl std::fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Checksum {
    /// Every setting: the faces offer each of these by its [name](Checksum::as_str).
    pub const ALL: [Self; 8] = [
        Self::Off,
        Self::IfAvailable,
        Self::Required,
        Self::Only(HashAlgorithm::Sha256),
        Self::Only(HashAlgorithm::Sha512),
        Self::Only(HashAlgorithm::Sha1),
        Self::Only(HashAlgorithm::Md5),
        Self::Only(HashAlgorithm::Crc32),
    ];

    /// The setting's name: `"off"`, `"if-available"`, `"required"`, or the algorithm's in
    /// lowercase without dashes (`"sha256"`, `"md5"`, `"crc32"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::IfAvailable => "if-available",
            Self::Required => "required",
            Self::Only(HashAlgorithm::Sha256) => "sha256",
            Self::Only(HashAlgorithm::Sha512) => "sha512",
            Self::Only(HashAlgorithm::Sha1) => "sha1",
            Self::Only(HashAlgorithm::Md5) => "md5",
            Self::Only(HashAlgorithm::Crc32) => "crc32",
        }
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Checksum {
    type Err = crate::Error;

    /// A [name](Checksum::as_str), ignoring case (an algorithm also by its `HASH` name, such
    /// as `SHA-256`).
    fn from_str(s: &str) -> crate::Result<Self> {
        let lower = s.to_ascii_lowercase();
        if let Some(c) = Self::ALL.into_iter().find(|c| c.as_str() == lower) {
            return Ok(c);
        }
        HashAlgorithm::from_name(s).map(Self::Only).ok_or_else(|| {
            let names: Vec<_> = Self::ALL
                .iter()
                .map(|c| format!("{:?}", c.as_str()))
                .collect();
            crate::Error::invalid_input(format!(
                "unknown checksum {s:?}: expected one of {}",
                names.join(", ")
            ))
        })
    }
}

/// How a digest is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// `HASH <path>` (after `OPTS HASH <alg>` if another one is selected).
    Hash(HashAlgorithm),
    /// `<verb> <path>`, e.g. `XSHA256 /a.bin`.
    X(HashAlgorithm, String),
}

impl Method {
    pub(crate) fn algorithm(&self) -> HashAlgorithm {
        match self {
            Self::Hash(a) | Self::X(a, _) => *a,
        }
    }

    /// The command's verb, for messages.
    pub(crate) fn verb(&self) -> &str {
        match self {
            Self::Hash(_) => "HASH",
            Self::X(_, verb) => verb,
        }
    }
}

/// What the server's FEAT reply says about checksums.
#[derive(Debug, Default, Clone)]
pub(crate) struct HashFeatures {
    /// The algorithms of `HASH`, in the server's order (empty: no HASH).
    pub hash: Vec<HashAlgorithm>,
    /// The algorithm `HASH` uses now: `*` in FEAT, then what `OPTS HASH` selected.
    pub selected: Option<HashAlgorithm>,
    /// The `X…` commands offered, with the verb to send.
    pub x: Vec<(HashAlgorithm, String)>,
}

impl HashFeatures {
    /// Reads one feature line of FEAT (leading space removed), if it is about checksums.
    pub(crate) fn feature(&mut self, line: &str) {
        let line = line.trim();
        let (name, args) = line.split_once(' ').unwrap_or((line, ""));
        if name.eq_ignore_ascii_case("HASH") {
            for item in args.split(';') {
                let item = item.trim();
                let selected = item.ends_with('*');
                let Some(alg) = HashAlgorithm::from_name(item.trim_end_matches('*').trim()) else {
                    continue;
                };
                if !self.hash.contains(&alg) {
                    self.hash.push(alg);
                }
                if selected {
                    self.selected = Some(alg);
                }
            }
        } else if args.is_empty()
            && let Some(alg) = HashAlgorithm::from_x_command(name)
        {
            // XSHA1 wins over its older alias XSHA.
            match self.x.iter_mut().find(|(a, _)| *a == alg) {
                Some(entry) if name.eq_ignore_ascii_case("XSHA1") => entry.1 = "XSHA1".into(),
                Some(_) => {}
                None => self.x.push((alg, name.to_ascii_uppercase())),
            }
        }
    }

    /// How to ask for `alg`: HASH where it offers it, else its X command.
    fn method_for(&self, alg: HashAlgorithm) -> Option<Method> {
        if self.hash.contains(&alg) {
            return Some(Method::Hash(alg));
        }
        self.x
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(a, verb)| Method::X(*a, verb.clone()))
    }

    /// The check to make for `wanted`: `Ok(None)` to skip, `Err(what is missing)` when a
    /// required checksum is not offered.
    pub(crate) fn plan(&self, wanted: Checksum) -> Result<Option<Method>, String> {
        match wanted {
            Checksum::Off => Ok(None),
            Checksum::Only(alg) => self.method_for(alg).map(Some).ok_or_else(|| {
                format!(
                    "the server offers no {alg} checksum (neither HASH {alg} nor X{} in FEAT)",
                    x_suffix(alg)
                )
            }),
            Checksum::IfAvailable | Checksum::Required => {
                let best = HashAlgorithm::ALL
                    .iter()
                    .find_map(|&alg| self.method_for(alg));
                match best {
                    Some(m) => Ok(Some(m)),
                    None if wanted == Checksum::Required => Err("the server offers no \
                        checksum (FEAT lists no HASH, XSHA256, XSHA512, XSHA1, XMD5 or XCRC)"
                        .into()),
                    None => Ok(None),
                }
            }
        }
    }
}

fn x_suffix(alg: HashAlgorithm) -> &'static str {
    match alg {
        HashAlgorithm::Sha256 => "SHA256",
        HashAlgorithm::Sha512 => "SHA512",
        HashAlgorithm::Sha1 => "SHA1",
        HashAlgorithm::Md5 => "MD5",
        HashAlgorithm::Crc32 => "CRC",
    }
}

/// A digest under way.
#[derive(Clone)]
pub(crate) enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
    Sha1(sha1::Sha1),
    Md5(md5::Md5),
    Crc32(crc32fast::Hasher),
}

impl Hasher {
    pub(crate) fn new(alg: HashAlgorithm) -> Self {
        use sha2::Digest;
        match alg {
            HashAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Sha512 => Self::Sha512(sha2::Sha512::new()),
            HashAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            HashAlgorithm::Md5 => Self::Md5(md5::Md5::new()),
            HashAlgorithm::Crc32 => Self::Crc32(crc32fast::Hasher::new()),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        use sha2::Digest;
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Md5(h) => h.update(data),
            Self::Crc32(h) => h.update(data),
        }
    }

    /// The digest's bytes (CRC-32: big-endian, as servers print it).
    pub(crate) fn finish(self) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Md5(h) => h.finalize().to_vec(),
            Self::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
        }
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A reader or writer that feeds what passes through it to a [`Hasher`] (if there is one).
pub(crate) struct Hashing<T> {
    pub(crate) inner: T,
    hasher: Option<Hasher>,
}

impl<T> Hashing<T> {
    pub(crate) fn new(inner: T, hasher: Option<Hasher>) -> Self {
        Self { inner, hasher }
    }

    /// Starts the digest over (the data is being sent again from the start).
    pub(crate) fn restart(&mut self, alg: Option<HashAlgorithm>) {
        self.hasher = alg.map(Hasher::new);
    }

    /// The digest of everything that went through.
    pub(crate) fn finish(self) -> Option<Vec<u8>> {
        self.hasher.map(Hasher::finish)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Hashing<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let (Poll::Ready(Ok(n)), Some(h)) = (&poll, this.hasher.as_mut()) {
            h.update(&buf[..*n]);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Hashing<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(h)) = (&poll, this.hasher.as_mut()) {
            h.update(&buf.filled()[before..]);
        }
        poll
    }
}

/// The digest of the first `len` bytes of the file at `path` (the part of a resumed transfer
/// that is not sent again), read on the blocking pool.
pub(crate) async fn hash_prefix(
    path: &std::path::Path,
    len: u64,
    alg: HashAlgorithm,
) -> std::io::Result<Hasher> {
    let path = path.to_path_buf();
    let task = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = std::fs::File::open(&path)?.take(len);
        let mut hasher = Hasher::new(alg);
        let mut buf = vec![0u8; 256 * 1024];
        let mut done = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            done += n as u64;
        }
        if done != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} has {done} bytes, expected {len}", path.display()),
            ));
        }
        Ok(hasher)
    });
    task.await.map_err(std::io::Error::other)?
}

/// The final line of a reply (`213 ...`) without its code, if it has a code.
fn final_line(text: &str) -> Option<&str> {
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.len() >= 3 && l.as_bytes()[..3].iter().all(u8::is_ascii_digit))?;
    Some(line.get(3..)?.trim_start_matches(['-', ' ']))
}

/// `token` as a digest of `alg`: hex of the right length (an optional `0x` and surrounding
/// punctuation tolerated); a CRC-32 may lack its leading zeros.
fn parse_digest(token: &str, alg: HashAlgorithm) -> Option<Vec<u8>> {
    let t = token.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if alg == HashAlgorithm::Crc32 {
        if t.len() > 8 {
            return None;
        }
        return u32::from_str_radix(t, 16)
            .ok()
            .map(|v| v.to_be_bytes().to_vec());
    }
    if t.len() != 2 * alg.len() {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok())
        .collect()
}

/// The digest in a `HASH` reply, `213 SHA-256 0-49 <hex> <path>`: the algorithm (if named) must
/// be `alg`; the range is optional.
pub(crate) fn parse_hash_reply(text: &str, alg: HashAlgorithm) -> Result<Vec<u8>, String> {
    let rest = final_line(text).ok_or("no reply code")?;
    let mut tokens = rest.split_whitespace().peekable();
    if let Some(named) = tokens.peek().and_then(|t| HashAlgorithm::from_name(t)) {
        if named != alg {
            return Err(format!("the server computed {named}, not {alg}"));
        }
        tokens.next();
    }
    if tokens.peek().is_some_and(|t| {
        t.split_once('-')
            .is_some_and(|(a, b)| is_number(a) && is_number(b))
    }) {
        tokens.next();
    }
    tokens
        .next()
        .and_then(|t| parse_digest(t, alg))
        .ok_or_else(|| format!("no {alg} digest where the reply should have one"))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The digest in the reply to an `X…` command: `250 <hex>`, `213 <hex>`, or a digest among
/// words (the first token that is one; for CRC-32 a full 8-digit one is preferred).
pub(crate) fn parse_x_reply(text: &str, alg: HashAlgorithm) -> Result<Vec<u8>, String> {
    let rest = final_line(text).ok_or("no reply code")?;
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    let full = |t: &&&str| {
        let t = t.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let t = t.strip_prefix("0x").unwrap_or(t);
        t.len() == 2 * alg.len()
    };
    tokens
        .iter()
        .filter(full)
        .find_map(|t| parse_digest(t, alg))
        .or_else(|| tokens.first().and_then(|t| parse_digest(t, alg)))
        .ok_or_else(|| format!("no {alg} digest in the reply"))
}

/// Every parser of this module on the same text (for the fuzz target).
pub(crate) fn fuzz(text: &str) {
    let mut f = HashFeatures::default();
    for line in text.lines() {
        f.feature(line);
    }
    for wanted in [Checksum::IfAvailable, Checksum::Required] {
        let _ = f.plan(wanted);
    }
    for alg in HashAlgorithm::ALL {
        let _ = f.plan(Checksum::Only(alg));
        let _ = parse_hash_reply(text, alg);
        let _ = parse_x_reply(text, alg);
        let _ = parse_digest(text, alg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(alg: HashAlgorithm, data: &[u8]) -> String {
        let mut h = Hasher::new(alg);
        h.update(data);
        hex(&h.finish())
    }

    #[test]
    fn local_digests_match_known_vectors() {
        use HashAlgorithm::*;
        assert_eq!(
            digest(Sha256, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            digest(Sha512, b"abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(
            digest(Sha1, b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(digest(Md5, b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(digest(Crc32, b"123456789"), "cbf43926");
        // split updates give the same digest
        let mut h = Hasher::new(Sha256);
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(hex(&h.finish()), digest(Sha256, b"abc"));
    }

    #[test]
    fn feat_hash_lines() {
        let mut f = HashFeatures::default();
        for line in [
            "MDTM",
            "HASH SHA-256*;SHA-1;MD5;CRC32;WHIRLPOOL;",
            "XCRC",
            "XSHA",
            "XSHA1",
            "XMD5 ",
        ] {
            f.feature(line);
        }
        use HashAlgorithm::*;
        assert_eq!(f.hash, [Sha256, Sha1, Md5, Crc32]);
        assert_eq!(f.selected, Some(Sha256));
        assert_eq!(
            f.x,
            [
                (Crc32, "XCRC".into()),
                (Sha1, "XSHA1".into()),
                (Md5, "XMD5".into())
            ]
        );
        let mut g = HashFeatures::default();
        g.feature("hash sha-1;sha512*");
        assert_eq!(g.hash, [Sha1, Sha512]);
        assert_eq!(g.selected, Some(Sha512));
        // a verb with arguments is no X command; an unknown one is ignored
        let mut h = HashFeatures::default();
        h.feature("XCRC something");
        h.feature("XSHA384");
        assert!(h.x.is_empty() && h.hash.is_empty());
    }

    #[test]
    fn plans_prefer_strong_algorithms_and_hash() {
        use HashAlgorithm::*;
        let mut f = HashFeatures::default();
        f.feature("HASH SHA-1*;MD5;CRC32");
        f.feature("XSHA256");
        f.feature("XMD5");
        // the strongest algorithm, by any command
        assert_eq!(
            f.plan(Checksum::IfAvailable),
            Ok(Some(Method::X(Sha256, "XSHA256".into())))
        );
        // HASH where both offer the algorithm
        assert_eq!(f.plan(Checksum::Only(Md5)), Ok(Some(Method::Hash(Md5))));
        assert_eq!(f.plan(Checksum::Only(Crc32)), Ok(Some(Method::Hash(Crc32))));
        assert!(
            f.plan(Checksum::Only(Sha512))
                .unwrap_err()
                .contains("SHA-512")
        );
        assert_eq!(f.plan(Checksum::Off), Ok(None));
        let none = HashFeatures::default();
        assert_eq!(none.plan(Checksum::IfAvailable), Ok(None));
        assert!(
            none.plan(Checksum::Required)
                .unwrap_err()
                .contains("no checksum")
        );
        assert!(
            none.plan(Checksum::Only(Crc32))
                .unwrap_err()
                .contains("XCRC")
        );
    }

    #[test]
    fn hash_replies() {
        use HashAlgorithm::*;
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let want = parse_digest(sha, Sha256).unwrap();
        assert_eq!(want.len(), 32);
        let ok = |t: &str| parse_hash_reply(t, Sha256);
        assert_eq!(
            ok(&format!("213 SHA-256 0-3 {sha} /a b.txt")),
            Ok(want.clone())
        );
        assert_eq!(ok(&format!("213 sha256 {sha} x")), Ok(want.clone()));
        assert_eq!(ok(&format!("213 {}", sha.to_uppercase())), Ok(want.clone()));
        assert!(
            ok(&format!("213 MD5 0-3 {sha} f"))
                .unwrap_err()
                .contains("MD5")
        );
        assert!(ok("213 SHA-256 0-3 abcd f").is_err()); // too short
        assert!(ok("213 SHA-256 0-3").is_err());
        assert!(ok("no code").is_err());
        assert_eq!(
            parse_hash_reply("213 CRC32 0-8 CBF43926 f", Crc32),
            Ok(vec![0xcb, 0xf4, 0x39, 0x26])
        );
    }

    #[test]
    fn x_replies() {
        use HashAlgorithm::*;
        let md5 = "900150983cd24fb0d6963f7d28e17f72";
        let want = parse_digest(md5, Md5).unwrap();
        assert_eq!(parse_x_reply(&format!("250 {md5}"), Md5), Ok(want.clone()));
        assert_eq!(
            parse_x_reply(&format!("213 {}\r\n", md5.to_uppercase()), Md5),
            Ok(want.clone())
        );
        assert_eq!(
            parse_x_reply(&format!("250 MD5 digest of a.txt: \"{md5}\""), Md5),
            Ok(want)
        );
        let crc = vec![0xcb, 0xf4, 0x39, 0x26];
        assert_eq!(parse_x_reply("250 CBF43926", Crc32), Ok(crc.clone()));
        assert_eq!(parse_x_reply("250 0xCBF43926", Crc32), Ok(crc));
        // leading zeros dropped by the server
        assert_eq!(parse_x_reply("250 1234", Crc32), Ok(vec![0, 0, 0x12, 0x34]));
        assert_eq!(
            parse_x_reply("250 a.txt dead0000", Crc32),
            Ok(vec![0xde, 0xad, 0, 0])
        );
        assert!(parse_x_reply("250 OK", Md5).is_err());
        assert!(parse_x_reply("250 123456789", Crc32).is_err());
        assert!(parse_x_reply("", Crc32).is_err());
    }

    #[test]
    fn fuzz_entry_never_panics_on_odd_text() {
        for text in [
            "",
            "2",
            "213",
            "213 ",
            "213 \u{b4}\u{b4}",
            "HASH ;*;**",
            "213 0x",
            "213 -",
        ] {
            fuzz(text);
        }
    }
}
