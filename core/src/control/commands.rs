//! The commands that are one line and one reply: directories, sizes and times, metadata,
//! renaming and removing, raw commands, and a checksum of a remote file.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Control, bad_reply, check_path};
use crate::checksum::{self, Method};
use crate::error::{Error, ErrorKind, Result};
use crate::listing;
use crate::reply::{line_context, parse_mdtm, parse_pwd};

impl Control {
    /// NOOP.
    pub(crate) async fn noop(&mut self) -> Result<()> {
        self.command("NOOP", &[200], false).await.map(drop)
    }

    /// PWD: the working directory.
    pub(crate) async fn pwd(&mut self) -> Result<String> {
        let (_, text) = self.command("PWD", &[257], false).await?;
        parse_pwd(&text).ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                format!("PWD: cannot read a directory from the reply {text:?}"),
            )
        })
    }

    /// CWD, then PWD to learn the absolute directory (restored after a reconnect).
    pub(crate) async fn cwd(&mut self, path: &str) -> Result<()> {
        check_path(path)?;
        self.command(&format!("CWD {path}"), &[250, 200], true)
            .await?;
        self.cwd = self.pwd().await?;
        Ok(())
    }

    /// SIZE in bytes.
    pub(crate) async fn size(&mut self, path: &str) -> Result<u64> {
        check_path(path)?;
        let line = format!("SIZE {path}");
        let (code, text) = self.raw(&line).await?;
        size_reply(&line, code, &text)
    }

    /// MDTM as UTC.
    pub(crate) async fn modified(&mut self, path: &str) -> Result<DateTime<Utc>> {
        check_path(path)?;
        let (_, text) = self.command(&format!("MDTM {path}"), &[213], true).await?;
        text.get(4..)
            .and_then(|t| parse_mdtm(t.trim()))
            .ok_or_else(|| bad_reply("MDTM", &text))
    }

    /// Whether `path` names a file or a directory.
    pub(crate) async fn exists(&mut self, path: &str) -> Result<bool> {
        check_path(path)?;
        if self.features.mlst {
            let (code, _) = self.raw(&format!("MLST {path}")).await?;
            return Ok(code == 250);
        }
        let (code, _) = self.raw(&format!("SIZE {path}")).await?;
        if code == 213 {
            return Ok(true);
        }
        let (code, _) = self.raw(&format!("CWD {path}")).await?;
        if code == 250 || code == 200 {
            let back = self.cwd.clone();
            self.command(&format!("CWD {back}"), &[250, 200], false)
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// MKD; with `parents`, creates missing parents and accepts an existing directory.
    pub(crate) async fn mkdir(&mut self, path: &str, parents: bool) -> Result<()> {
        check_path(path)?;
        let first = self
            .command(&format!("MKD {path}"), &[257, 250, 200], false)
            .await;
        match first {
            Ok(_) => Ok(()),
            Err(e) if !parents || e.code().is_none() => Err(e),
            Err(e) => {
                let full = self.absolute(path);
                let mut prefix = String::new();
                for part in full.split('/').filter(|p| !p.is_empty()) {
                    prefix.push('/');
                    prefix.push_str(part);
                    let (code, _) = self.raw(&format!("MKD {prefix}")).await?;
                    if !matches!(code, 257 | 250 | 200 | 521 | 550 | 553) {
                        break;
                    }
                }
                if self.is_dir(&full).await? {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Whether `path` is a directory (CWD there and back).
    pub(crate) async fn is_dir(&mut self, path: &str) -> Result<bool> {
        let (code, _) = self.raw(&format!("CWD {path}")).await?;
        if code == 250 || code == 200 {
            let back = self.cwd.clone();
            self.command(&format!("CWD {back}"), &[250, 200], false)
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// One entry for `path`, file or directory: the MLST facts where the server offers them,
    /// else SIZE and MDTM for a file, or CWD for a directory.
    pub(crate) async fn stat(&mut self, path: &str) -> Result<listing::Entry> {
        check_path(path)?;
        let full = self.absolute(path);
        let (parent, name) = match full.trim_end_matches('/').rsplit_once('/') {
            Some((p, n)) if !n.is_empty() => (if p.is_empty() { "/" } else { p }, n.to_string()),
            _ => ("/", "/".to_string()),
        };
        let entry = |kind, size, modified, raw: String| listing::Entry {
            name: name.clone(),
            path: full.clone(),
            kind,
            size,
            modified,
            permissions: None,
            target: None,
            raw,
        };
        if self.features.mlst {
            let (code, text) = self.raw(&format!("MLST {path}")).await?;
            if code == 250 {
                let facts = text
                    .lines()
                    .find(|l| l.starts_with(' '))
                    .unwrap_or_default();
                if let Some(mut e) = listing::parse_mlsd_line(facts, parent) {
                    e.name.clone_from(&name);
                    e.path.clone_from(&full);
                    return Ok(e);
                }
                // `type=cdir` (the directory itself), which a listing leaves out.
                if facts.to_ascii_lowercase().contains("type=cdir") {
                    return Ok(entry(
                        listing::EntryKind::Dir,
                        None,
                        None,
                        facts.trim().into(),
                    ));
                }
            } else if (500..600).contains(&code) {
                return Err(
                    Error::from_reply(code, &text, &format!("MLST {path}"), true)
                        .with_kind(ErrorKind::NotFound),
                );
            }
        }
        let (code, text) = self.raw(&format!("SIZE {path}")).await?;
        if code == 213 {
            let size = text.get(4..).and_then(|t| t.trim().parse().ok());
            let modified = self.modified(path).await.ok();
            return Ok(entry(listing::EntryKind::File, size, modified, text));
        }
        if self.is_dir(path).await? {
            return Ok(entry(listing::EntryKind::Dir, None, None, String::new()));
        }
        Err(Error::new(
            ErrorKind::NotFound,
            format!("{path}: no such file or directory (SIZE: {text})"),
        ))
    }

    /// Sets the modification time of `path`: MFMT, or where the server does not know it,
    /// MDTM with a time (vsftpd).
    pub(crate) async fn set_modified(&mut self, path: &str, time: DateTime<Utc>) -> Result<()> {
        check_path(path)?;
        let stamp = time.format("%Y%m%d%H%M%S");
        let line = format!("MFMT {stamp} {path}");
        let (code, text) = self.raw(&line).await?;
        match code {
            200..=299 => Ok(()),
            500 | 502 | 504 => self
                .command(&format!("MDTM {stamp} {path}"), &[213, 250, 253, 200], true)
                .await
                .map(drop),
            _ => Err(Error::from_reply(code, &text, &line, true)),
        }
    }

    /// Sets the permissions of `path` (`SITE CHMOD`, `mode` in octal).
    pub(crate) async fn chmod(&mut self, path: &str, mode: u32) -> Result<()> {
        check_path(path)?;
        self.command(&format!("SITE CHMOD {mode:o} {path}"), &[200, 250], true)
            .await
            .map(drop)
    }

    /// DELE.
    pub(crate) async fn remove(&mut self, path: &str) -> Result<()> {
        check_path(path)?;
        self.command(&format!("DELE {path}"), &[250, 200], true)
            .await
            .map(drop)
    }

    /// RNFR + RNTO.
    pub(crate) async fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        check_path(from)?;
        check_path(to)?;
        self.command(&format!("RNFR {from}"), &[350], true).await?;
        self.command(&format!("RNTO {to}"), &[250, 200], false)
            .await
            .map(drop)
    }

    /// Sends a raw command and returns its reply, whatever the code.
    ///
    /// Commands that change the state the session restores (CWD, TYPE, REST, ...) are tracked:
    /// the working directory is re-read, and other state changes mark the connection for a
    /// reconnect (returned as `true`), so the next operation starts from a known state.
    pub(crate) async fn quote(&mut self, line: &str) -> Result<((u16, String), bool)> {
        if line.is_empty() || line.contains(['\r', '\n']) {
            return Err(Error::invalid_input(
                "a quoted command must be one non-empty line without CR or LF",
            ));
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply = self.raw(line).await?;
        let code = reply.0;
        let mut reset = (100..200).contains(&code);
        let own_type = verb == "TYPE"
            && line
                .split_whitespace()
                .nth(1)
                .is_some_and(|t| t.eq_ignore_ascii_case("I"));
        match verb.as_str() {
            "CWD" | "CDUP" | "XCWD" | "XCUP" if code < 400 => self.cwd = self.pwd().await?,
            // Binary is the session's own type: setting it again changes nothing.
            "TYPE" if own_type => {}
            "TYPE" | "MODE" | "STRU" | "REIN" | "USER" | "PASS" | "ACCT" | "AUTH" | "PBSZ"
            | "PROT" | "CCC" | "REST" | "PORT" | "EPRT" | "PASV" | "EPSV" | "QUIT" | "OPTS"
            | "LANG" => reset = true,
            _ => {}
        }
        Ok((reply, reset))
    }

    /// The server's digest of the file `path` of `len` bytes, by `method`: `HASH` (after
    /// `OPTS HASH` when the server has another algorithm selected) or an `X…` command.
    ///
    /// The server reads the whole file before it answers: the wait for the reply is the
    /// session's timeout plus one second per 16 MiB.
    pub(crate) async fn remote_digest(
        &mut self,
        path: &str,
        len: u64,
        method: &Method,
    ) -> Result<Vec<u8>> {
        check_path(path)?;
        let alg = method.algorithm();
        let line = match method {
            Method::Hash(_) => {
                if self.features.hash.selected != Some(alg) {
                    self.command(&format!("OPTS HASH {}", alg.name()), &[200], false)
                        .await?;
                    self.features.hash.selected = Some(alg);
                }
                format!("HASH {path}")
            }
            // X commands take optional offsets after the path: quote a path with spaces.
            Method::X(_, verb) if path.contains(char::is_whitespace) && !path.contains('"') => {
                format!("{verb} \"{path}\"")
            }
            Method::X(_, verb) => format!("{verb} {path}"),
        };
        let limit = self.timeout + Duration::from_secs(len >> 24);
        let (code, text) = self.raw_within(&line, limit).await?;
        if !(200..300).contains(&code) {
            return Err(Error::from_reply(code, &text, &line, true));
        }
        let parsed = match method {
            Method::Hash(_) => checksum::parse_hash_reply(&text, alg),
            Method::X(..) => checksum::parse_x_reply(&text, alg),
        };
        // An unreadable digest keeps its reply code: the connection is still in step.
        parsed.map_err(|why| {
            Error::from_reply(code, &text, &line, false)
                .with_kind(ErrorKind::Protocol)
                .with_note(&why)
        })
    }
}

/// The size in the reply (`code`, `text`) to `line` (a SIZE command), or the refusal.
pub(crate) fn size_reply(line: &str, code: u16, text: &str) -> Result<u64> {
    if code != 213 {
        return Err(Error::from_reply(code, text, line_context(line), true));
    }
    text.get(4..)
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| bad_reply("SIZE", text))
}
