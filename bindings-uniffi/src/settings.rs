//! Connection settings by name: a `Map<String, String>` read through the core's table
//! ([`ferroftp::SETTINGS`]), so a setting the core gains needs no change here.
//!
//! Each text is converted by the setting's kind ([`SettingKind`]) into a [`SettingValue`] and
//! handed to [`Config::set`], which checks it; names, choices and defaults are the core's.

use std::collections::HashMap;
use std::path::PathBuf;

use ferroftp::{Config, ErrorKind, SETTINGS, Setting, SettingKind, SettingValue};

use crate::error::{FtpError, Result};

/// One connection setting, as [`settings`] describes it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SettingInfo {
    /// The name, as a key of the settings map (`"timeout"`, `"data_mode"`, ...).
    pub name: String,
    /// The kind of value: `"seconds"`, `"flag"` (`true`/`false`), `"count"`, `"bytes"`,
    /// `"choice"` (one of `choices`), `"path"` or `"text"`.
    pub kind: String,
    /// The names a `"choice"` setting accepts (empty for the other kinds).
    pub choices: Vec<String>,
    /// Whether the setting may be left unset (an empty text unsets it).
    pub optional: bool,
    /// The default, as text (`None`: unset).
    pub default_value: Option<String>,
    /// What it does, in one sentence.
    pub doc: String,
}

/// Every connection setting the settings maps accept, with its kind and default (the core's
/// table, in its order).
#[uniffi::export]
pub fn settings() -> Vec<SettingInfo> {
    let defaults = Config::new("localhost");
    SETTINGS
        .iter()
        .map(|s| {
            let (kind, choices) = kind_name(s.kind);
            SettingInfo {
                name: s.name.to_string(),
                kind: kind.to_string(),
                choices: choices.iter().map(|c| c.to_string()).collect(),
                optional: s.optional,
                default_value: defaults.setting(s.name).and_then(|v| text_of(&v)),
                doc: s.doc.to_string(),
            }
        })
        .collect()
}

/// The name of a kind, and its choices.
fn kind_name(kind: SettingKind) -> (&'static str, &'static [&'static str]) {
    match kind {
        SettingKind::Seconds => ("seconds", &[]),
        SettingKind::Flag => ("flag", &[]),
        SettingKind::Count => ("count", &[]),
        SettingKind::Bytes => ("bytes", &[]),
        SettingKind::Choice(choices) => ("choice", choices),
        SettingKind::Path => ("path", &[]),
        SettingKind::Text => ("text", &[]),
        // A kind the core gained: `every_default_reads_back` fails until it is named here.
        _ => ("unknown", &[]),
    }
}

/// A value as the text a settings map holds (`None` for unset).
fn text_of(value: &SettingValue) -> Option<String> {
    match value {
        SettingValue::Seconds(s) => Some(s.to_string()),
        SettingValue::Flag(b) => Some(b.to_string()),
        SettingValue::Number(n) => Some(n.to_string()),
        SettingValue::Text(t) => Some(t.clone()),
        SettingValue::Path(p) => Some(p.display().to_string()),
        _ => None,
    }
}

fn invalid(message: String) -> FtpError {
    FtpError::new(ErrorKind::InvalidInput, message)
}

/// The value of `text` for `setting`, by its kind.
fn value_of(setting: &Setting, text: &str) -> Result<SettingValue> {
    let name = setting.name;
    if setting.optional && text.is_empty() {
        return Ok(SettingValue::Unset);
    }
    let trimmed = text.trim();
    Ok(match setting.kind {
        SettingKind::Seconds => {
            SettingValue::Seconds(trimmed.parse().map_err(|_| {
                invalid(format!("{name} must be a number of seconds, not {text:?}"))
            })?)
        }
        SettingKind::Flag => SettingValue::Flag(match trimmed.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => true,
            "false" | "no" | "off" | "0" => false,
            _ => {
                return Err(invalid(format!(
                    "{name} must be true or false, not {text:?}"
                )));
            }
        }),
        SettingKind::Count | SettingKind::Bytes => SettingValue::Number(
            trimmed
                .parse()
                .map_err(|_| invalid(format!("{name} must be a whole number, not {text:?}")))?,
        ),
        SettingKind::Choice(_) | SettingKind::Text => SettingValue::Text(text.to_string()),
        SettingKind::Path => SettingValue::Path(PathBuf::from(text)),
        _ => {
            return Err(invalid(format!(
                "the setting {name} has a kind of value this version of the bindings cannot read"
            )));
        }
    })
}

/// The configuration of `url` with `settings` applied (in the core's order, so that the
/// outcome does not depend on the map's).
pub(crate) fn config(url: &str, settings: &HashMap<String, String>) -> Result<Config> {
    let mut config = Config::from_url(url)?;
    for name in settings.keys() {
        if Setting::named(name).is_none() {
            // The core's error names every setting it knows.
            config.set(name, SettingValue::Unset)?;
        }
    }
    for setting in SETTINGS {
        if let Some(text) = settings.get(setting.name) {
            config.set(setting.name, value_of(setting, text)?)?;
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_reads_back() {
        let defaults = Config::new("localhost");
        let infos = settings();
        assert_eq!(infos.len(), SETTINGS.len());
        for (info, setting) in infos.iter().zip(SETTINGS) {
            assert_ne!(
                info.kind, "unknown",
                "{}: a setting kind this face lacks",
                info.name
            );
            let value = match &info.default_value {
                Some(text) => value_of(setting, text).unwrap(),
                None => SettingValue::Unset,
            };
            let mut c = Config::new("localhost");
            c.set(setting.name, value)
                .unwrap_or_else(|e| panic!("{}: {e}", setting.name));
            assert_eq!(
                c.setting(setting.name),
                defaults.setting(setting.name),
                "{}",
                setting.name
            );
        }
    }

    #[test]
    fn texts_become_values() {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        let c = config(
            "ftp://u:p@h:2121/",
            &map(&[
                ("timeout", "2.5"),
                ("data_mode", "PASV"),
                ("pipelining", "false"),
                ("retries", "0"),
                ("ca_file", ""),
            ]),
        )
        .unwrap();
        assert_eq!(c.timeout.as_secs_f64(), 2.5);
        assert_eq!(c.data_mode, ferroftp::DataMode::Pasv);
        assert!(!c.pipelining);
        assert_eq!((c.retries, c.ca_file.clone()), (0, None));
        for (name, value, needle) in [
            ("timeout", "soon", "timeout"),
            ("timeout", "0", "timeout"),
            ("verify", "maybe", "verify"),
            ("data_mode", "fast", "fast"),
            ("nope", "1", "nope"),
        ] {
            let e = config("ftp://h/", &map(&[(name, value)])).unwrap_err();
            assert_eq!(e.kind(), "invalid-input", "{name}={value}");
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}
