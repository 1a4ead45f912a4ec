//! The connection settings by name: the one table every face reads (Python's keyword
//! arguments, the command line's options, the C option struct's fields), with each setting's
//! kind of value and its default (that of [`Config::new`]).
//!
//! A face converts its own values to a [`SettingValue`] by the setting's [`SettingKind`] and
//! hands it to [`Config::set`], which checks it: the names, the parsers of named values
//! (data modes, TLS modes) and the defaults exist only here and in [`Config`]. A new setting
//! is a field of [`Config`], a row of [`SETTINGS`] and an arm in [`Config::set`] and
//! [`Config::setting`]; then one line in each face.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Config, DataMode, TlsMode};
use crate::error::{Error, Result};

/// The kind of value a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingKind {
    /// A positive duration, given in seconds.
    Seconds,
    /// On or off.
    Flag,
    /// A number (0 or more).
    Count,
    /// A number of bytes (1 or more).
    Bytes,
    /// One of these names.
    Choice(&'static [&'static str]),
    /// A local file.
    Path,
    /// Text.
    Text,
}

/// One setting of [`SETTINGS`].
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The setting's name (`snake_case`, as Python's keyword and C's field).
    pub name: &'static str,
    /// Its kind of value.
    pub kind: SettingKind,
    /// Whether it may be left unset ([`SettingValue::Unset`]; its default is then "none").
    pub optional: bool,
    /// What it does, in one sentence.
    pub doc: &'static str,
}

/// A setting's value, as a face hands it over.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SettingValue {
    /// No value: the setting is off (optional settings only).
    Unset,
    /// Seconds ([`SettingKind::Seconds`]).
    Seconds(f64),
    /// On or off ([`SettingKind::Flag`]).
    Flag(bool),
    /// A number ([`SettingKind::Count`], [`SettingKind::Bytes`]).
    Number(u64),
    /// A name ([`SettingKind::Choice`]) or text ([`SettingKind::Text`]).
    Text(String),
    /// A local file ([`SettingKind::Path`]).
    Path(PathBuf),
}

const TLS_MODES: &[&str] = &["none", "explicit", "implicit"];
const DATA_MODES: &[&str] = &["auto", "epsv", "pasv", "active"];

macro_rules! setting {
    ($name:literal, $kind:expr, $optional:literal, $doc:literal) => {
        Setting {
            name: $name,
            kind: $kind,
            optional: $optional,
            doc: $doc,
        }
    };
}

/// Every setting a face exposes by name, in the order faces list them.
pub const SETTINGS: &[Setting] = &[
    setting!(
        "timeout",
        SettingKind::Seconds,
        false,
        "Limit for each reply and each data read or write."
    ),
    setting!(
        "connect_timeout",
        SettingKind::Seconds,
        false,
        "Limit for the TCP connection and the server's greeting."
    ),
    setting!(
        "tls",
        SettingKind::Choice(TLS_MODES),
        true,
        "TLS mode, overriding the URL's scheme: explicit (AUTH TLS), implicit, or none."
    ),
    setting!(
        "verify",
        SettingKind::Flag,
        false,
        "Check the server's TLS certificate (turn off for test servers only)."
    ),
    setting!(
        "ca_file",
        SettingKind::Path,
        true,
        "Certificates to trust (PEM): a private CA, or the server's own certificate (pinned)."
    ),
    setting!(
        "tls_server_name",
        SettingKind::Text,
        true,
        "The name the server's certificate must carry (and the SNI), when not the host."
    ),
    setting!(
        "client_cert",
        SettingKind::Path,
        true,
        "A client certificate (PEM, with its chain) for servers that require one."
    ),
    setting!(
        "client_key",
        SettingKind::Path,
        true,
        "The private key (PEM) of client_cert."
    ),
    setting!(
        "data_mode",
        SettingKind::Choice(DATA_MODES),
        false,
        "How data connections open: auto (EPSV, falling back to PASV), epsv, pasv or active."
    ),
    setting!(
        "retries",
        SettingKind::Count,
        false,
        "Retries of an operation that is safe to repeat, on a fresh connection."
    ),
    setting!(
        "buffer_size",
        SettingKind::Bytes,
        false,
        "The transfer buffer in bytes (the most a transfer allocates)."
    ),
    setting!(
        "pipelining",
        SettingKind::Flag,
        false,
        "Send the next data command's EPSV before a download's final reply (off for servers \
         that drop commands sent during a transfer)."
    ),
];

impl Setting {
    /// The setting called `name`.
    pub fn named(name: &str) -> Option<&'static Setting> {
        SETTINGS.iter().find(|s| s.name == name)
    }
}

/// A parser's error, naming the setting it was for.
fn named(name: &str, e: Error) -> Error {
    Error::invalid_input(format!("{name}: {}", e.message()))
}

fn wrong(name: &str, expected: &str, got: &SettingValue) -> Error {
    Error::invalid_input(format!("{name} must be {expected}, not {got:?}"))
}

fn seconds(name: &str, value: &SettingValue) -> Result<Duration> {
    match *value {
        SettingValue::Seconds(s) if s.is_finite() && s > 0.0 => Duration::try_from_secs_f64(s)
            .map_err(|_| Error::invalid_input(format!("{name} is too large: {s}"))),
        SettingValue::Seconds(s) => Err(Error::invalid_input(format!(
            "{name} must be a positive number of seconds, not {s}"
        ))),
        ref other => Err(wrong(name, "a number of seconds", other)),
    }
}

fn flag(name: &str, value: &SettingValue) -> Result<bool> {
    match *value {
        SettingValue::Flag(b) => Ok(b),
        ref other => Err(wrong(name, "on or off", other)),
    }
}

fn number(name: &str, value: &SettingValue, min: u64, max: u64) -> Result<u64> {
    match *value {
        SettingValue::Number(n) if (min..=max).contains(&n) => Ok(n),
        SettingValue::Number(n) => Err(Error::invalid_input(format!(
            "{name} must be between {min} and {max}, not {n}"
        ))),
        ref other => Err(wrong(name, "a number", other)),
    }
}

fn text(name: &str, value: SettingValue) -> Result<Option<String>> {
    match value {
        SettingValue::Unset => Ok(None),
        SettingValue::Text(t) => Ok(Some(t)),
        other => Err(wrong(name, "text", &other)),
    }
}

fn path(name: &str, value: SettingValue) -> Result<Option<PathBuf>> {
    match value {
        SettingValue::Unset => Ok(None),
        SettingValue::Path(p) => Ok(Some(p)),
        SettingValue::Text(t) => Ok(Some(PathBuf::from(t))),
        other => Err(wrong(name, "a file", &other)),
    }
}

impl Config {
    /// Sets the setting `name` (one of [`SETTINGS`]) to `value`.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] for an unknown name, a value of the wrong kind, or a
    /// value out of range (a zero timeout, an unknown data mode, ...), naming the setting.
    pub fn set(&mut self, name: &str, value: SettingValue) -> Result<()> {
        match name {
            "timeout" => self.timeout = seconds(name, &value)?,
            "connect_timeout" => self.connect_timeout = seconds(name, &value)?,
            "tls" => {
                if let Some(mode) = text(name, value)? {
                    self.tls = mode.parse::<TlsMode>().map_err(|e| named(name, e))?;
                }
            }
            "verify" => self.verify = flag(name, &value)?,
            "ca_file" => self.ca_file = path(name, value)?,
            "tls_server_name" => self.tls_server_name = text(name, value)?,
            "client_cert" => self.client_cert = path(name, value)?,
            "client_key" => self.client_key = path(name, value)?,
            "data_mode" => {
                let mode = text(name, value)?.ok_or_else(|| {
                    Error::invalid_input("data_mode must be one of auto, epsv, pasv, active")
                })?;
                self.data_mode = mode.parse::<DataMode>().map_err(|e| named(name, e))?;
            }
            "retries" => {
                self.retries = number(name, &value, 0, u32::MAX.into())? as u32;
            }
            "buffer_size" => {
                self.buffer_size = number(name, &value, 1, 1 << 30)? as usize;
            }
            "pipelining" => self.pipelining = flag(name, &value)?,
            other => {
                return Err(Error::invalid_input(format!(
                    "unknown setting {other:?}: expected one of {}",
                    SETTINGS
                        .iter()
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The current value of the setting `name` (for a fresh [`Config::new`], its default);
    /// `None` for an unknown name.
    pub fn setting(&self, name: &str) -> Option<SettingValue> {
        let opt_path =
            |p: &Option<PathBuf>| p.clone().map_or(SettingValue::Unset, SettingValue::Path);
        Some(match name {
            "timeout" => SettingValue::Seconds(self.timeout.as_secs_f64()),
            "connect_timeout" => SettingValue::Seconds(self.connect_timeout.as_secs_f64()),
            "tls" => SettingValue::Text(self.tls.as_str().to_string()),
            "verify" => SettingValue::Flag(self.verify),
            "ca_file" => opt_path(&self.ca_file),
            "tls_server_name" => self
                .tls_server_name
                .clone()
                .map_or(SettingValue::Unset, SettingValue::Text),
            "client_cert" => opt_path(&self.client_cert),
            "client_key" => opt_path(&self.client_key),
            "data_mode" => SettingValue::Text(self.data_mode.as_str().to_string()),
            "retries" => SettingValue::Number(self.retries.into()),
            "buffer_size" => SettingValue::Number(self.buffer_size as u64),
            "pipelining" => SettingValue::Flag(self.pipelining),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_reads_and_writes_back() {
        let defaults = Config::new("h");
        for s in SETTINGS {
            let value = defaults
                .setting(s.name)
                .unwrap_or_else(|| panic!("{} has no getter", s.name));
            let mut c = Config::new("h");
            c.set(s.name, value.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
            assert_eq!(c.setting(s.name), Some(value), "{}", s.name);
        }
    }

    #[test]
    fn choices_are_the_modes() {
        let names = |modes: &[&'static str]| modes.to_vec();
        assert_eq!(
            names(DATA_MODES),
            DataMode::ALL.iter().map(|m| m.as_str()).collect::<Vec<_>>()
        );
        assert_eq!(
            names(TLS_MODES),
            TlsMode::ALL.iter().map(|m| m.as_str()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        let mut c = Config::new("h");
        for (name, value) in [
            ("timeout", SettingValue::Seconds(0.0)),
            ("timeout", SettingValue::Flag(true)),
            ("data_mode", SettingValue::Text("fast".into())),
            ("retries", SettingValue::Text("3".into())),
            ("buffer_size", SettingValue::Number(0)),
        ] {
            let e = c.set(name, value).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
            assert!(
                e.message().contains(name) || e.message().contains("fast"),
                "{e}"
            );
        }
        assert!(
            c.set("nope", SettingValue::Unset)
                .unwrap_err()
                .message()
                .contains("nope")
        );
        c.set("data_mode", SettingValue::Text("PASV".into()))
            .unwrap();
        assert_eq!(c.data_mode, DataMode::Pasv);
    }
}
