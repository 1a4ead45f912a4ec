//! Arguments: the connection options of `connect`, `connect_async`, `Pool` and `AsyncPool`,
//! read through the core's settings table, and the types of the other arguments (checksums,
//! remote paths, URLs, ...), each raising an error that names the argument and says what it
//! accepts (pyo3 adds the parameter name only as an exception note, which Python < 3.11 does
//! not show).
//!
//! The connection options are defined once, in the core ([`ferroftp::SETTINGS`]): [`config`]
//! looks each keyword up there, converts its Python value by the setting's [`SettingKind`] and
//! hands it to [`Config::set`], which checks it (a bad value raises `ValueError` with the
//! core's message) —
//! names, parsers and defaults are the core's alone. [`settings_table`] shows the table to
//! Python as `ferroftp._native.SETTINGS` (the stubs are tested against it).

use std::path::PathBuf;
use std::time::Duration;

use ferroftp::{Checksum, Config, SETTINGS, Setting, SettingKind, SettingValue};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString, PyTuple};

use crate::errors::ftp_err;

/// The Python type name of `value`, for messages.
pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A positive, finite number of seconds (an `int` or a `float`, not a `bool`).
fn seconds(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let number = !obj.is_instance_of::<PyBool>()
        && (obj.is_instance_of::<PyFloat>() || obj.is_instance_of::<PyInt>());
    if !number {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a number of seconds (int or float), not {}",
            type_name(obj)
        )));
    }
    let secs: f64 = obj.extract()?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(PyValueError::new_err(format!(
            "{name} must be a positive number of seconds, not {secs}"
        )));
    }
    Duration::try_from_secs_f64(secs)
        .map_err(|_| PyValueError::new_err(format!("{name} is too large: {secs}")))
}

macro_rules! option_type {
    ($(#[$doc:meta])* $name:ident($inner:ty), |$obj:ident| $body:expr) => {
        $(#[$doc])*
        pub(crate) struct $name(pub(crate) $inner);

        impl<'a, 'py> FromPyObject<'a, 'py> for $name {
            type Error = PyErr;

            fn extract($obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
                let $obj: &Bound<'py, PyAny> = &$obj;
                $body.map($name)
            }
        }
    };
}

/// The names `checksum=` takes: the core's ([`Checksum::ALL`]) but `"off"`, which is `None`.
pub(crate) fn checksum_names() -> impl Iterator<Item = &'static str> {
    Checksum::ALL
        .into_iter()
        .filter(|&c| c != Checksum::Off)
        .map(Checksum::as_str)
}

option_type!(
    /// `checksum=` of `download`/`upload` and the batches: one of [`checksum_names`] (None,
    /// the default, is the parameter's absence: [`Checksum::Off`]).
    ChecksumArg(Checksum),
    |obj| {
        let expected = || format!("None or one of {}", quoted(checksum_names()));
        match obj.cast::<PyString>() {
            Ok(s) => {
                let name = s.to_cow()?.to_ascii_lowercase();
                Checksum::ALL
                    .into_iter()
                    .find(|&c| c != Checksum::Off && c.as_str() == name)
                    .ok_or_else(|| {
                        PyValueError::new_err(format!(
                            "checksum must be {}, not {name:?}",
                            expected()
                        ))
                    })
            }
            Err(_) => Err(PyTypeError::new_err(format!(
                "checksum must be {}, not {}",
                expected(),
                type_name(obj)
            ))),
        }
    }
);

/// A flag: exactly `True` or `False` (no truthy stand-ins).
fn flag(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    match obj.cast::<PyBool>() {
        Ok(b) => Ok(b.is_true()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{name} must be True or False, not {}",
            type_name(obj)
        ))),
    }
}

option_type!(
    /// `verify=` of transfers (the size check): a `bool`.
    Verify(bool),
    |obj| flag("verify", obj)
);

/// A remote path given as `str` or `bytes`, as the core's strings carry it: `bytes` are the
/// server's raw bytes, mapped with [`ferroftp::names::decode`] (lossless: every byte string
/// reaches exactly those bytes).
fn remote_path(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(ferroftp::names::decode(b.as_bytes()));
    }
    Err(PyTypeError::new_err(format!(
        "a remote path must be str or bytes, not {}",
        type_name(obj)
    )))
}

option_type!(
    /// A remote path: a `str`, or `bytes` (the server's raw bytes; see [`remote_path`]).
    Remote(String),
    |obj| remote_path(obj)
);

impl std::ops::Deref for Remote {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

option_type!(
    /// A URL: a `str`.
    UrlArg(String),
    |obj| match obj.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "url must be a str (ftp://user:password@host:port/dir), not {}",
            type_name(obj)
        ))),
    }
);

option_type!(
    /// A raw command line for `quote`: a `str`.
    CommandLine(String),
    |obj| match obj.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "the command line must be a str, not {}",
            type_name(obj)
        ))),
    }
);

option_type!(
    /// `max_sessions=`: a positive `int`.
    MaxSessions(usize),
    |obj| {
        if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
            Err(PyTypeError::new_err(format!(
                "max_sessions must be an int, not {}",
                type_name(obj)
            )))
        } else {
            obj.extract::<i128>()
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| (1..=1024).contains(&n))
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "max_sessions must be between 1 and 1024, not {obj}"
                    ))
                })
        }
    }
);

option_type!(
    /// `wait_timeout=`: seconds a caller waits for a pooled session.
    WaitTimeout(Duration),
    |obj| seconds("wait_timeout", obj)
);

/// `'a', 'b', 'c'`: names as Python writes them.
fn quoted<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name of a setting's kind, as `ferroftp._native.SETTINGS` gives it (`None` for a kind
/// this face does not know yet: its test fails then).
fn kind_name(kind: SettingKind) -> Option<&'static str> {
    Some(match kind {
        SettingKind::Seconds => "seconds",
        SettingKind::Flag => "flag",
        SettingKind::Count => "count",
        SettingKind::Bytes => "bytes",
        SettingKind::Choice(_) => "choice",
        SettingKind::Path => "path",
        SettingKind::Text => "text",
        _ => return None,
    })
}

/// What a setting accepts, for a `TypeError`.
fn accepts(setting: &Setting) -> String {
    let what = match setting.kind {
        SettingKind::Seconds => "a number of seconds (int or float)".to_string(),
        SettingKind::Flag => "True or False".to_string(),
        SettingKind::Count => "an int".to_string(),
        SettingKind::Bytes => "an int (bytes)".to_string(),
        SettingKind::Choice(names) => format!("a str: one of {}", quoted(names.iter().copied())),
        SettingKind::Path => "a path (str or os.PathLike)".to_string(),
        SettingKind::Text => "a str".to_string(),
        _ => "a value this version of the Python package cannot pass".to_string(),
    };
    if setting.optional {
        format!("{what}, or None")
    } else {
        what
    }
}

/// `value` as the value of `setting`: converted by the setting's kind (a `TypeError` for a
/// Python type the kind does not take); the core checks the value itself.
fn setting_value(setting: &Setting, value: &Bound<'_, PyAny>) -> PyResult<SettingValue> {
    let name = setting.name;
    let wrong_type = || {
        PyTypeError::new_err(format!(
            "{name} must be {}, not {}",
            accepts(setting),
            type_name(value)
        ))
    };
    let invalid = |message: String| PyValueError::new_err(message);
    if value.is_none() {
        return match setting.optional {
            true => Ok(SettingValue::Unset),
            false => Err(wrong_type()),
        };
    }
    let is_bool = value.is_instance_of::<PyBool>();
    let is_int = value.is_instance_of::<PyInt>() && !is_bool;
    Ok(match setting.kind {
        SettingKind::Seconds if is_int || value.is_instance_of::<PyFloat>() => {
            // An int too large for a float (OverflowError) is too large a timeout.
            let secs = value
                .extract::<f64>()
                .map_err(|_| invalid(format!("{name} is too large: {value}")))?;
            SettingValue::Seconds(secs)
        }
        SettingKind::Flag if is_bool => SettingValue::Flag(value.is_truthy()?),
        SettingKind::Count | SettingKind::Bytes if is_int => {
            SettingValue::Number(value.extract::<u64>().map_err(|_| {
                invalid(match value.lt(0) {
                    Ok(true) => format!("{name} must not be negative, not {value}"),
                    _ => format!("{name} is too large: {value}"),
                })
            })?)
        }
        SettingKind::Choice(_) | SettingKind::Text => match value.cast::<PyString>() {
            Ok(s) => SettingValue::Text(s.to_cow()?.into_owned()),
            Err(_) => return Err(wrong_type()),
        },
        SettingKind::Path => match value.extract::<PathBuf>() {
            Ok(p) => SettingValue::Path(p),
            Err(_) => return Err(wrong_type()),
        },
        _ => return Err(wrong_type()),
    })
}

/// The configuration of a session to `url` with the keyword `options` of `function` (named in
/// messages: `"connect"`, `"Pool"`): each option is a setting of the core's table, converted
/// by its kind and set by the core; the others keep the core's defaults.
///
/// # Errors
/// `TypeError` for a keyword that is no setting (as Python words it) or a value of the wrong
/// type; `ValueError` for a bad value (with the core's message); `ferroftp.InvalidInputError`
/// (also a `ValueError`) for a bad URL.
pub(crate) fn config(
    function: &str,
    url: Option<&str>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Config> {
    let mut values = Vec::new();
    let mut server = Server::default();
    for (key, value) in options.into_iter().flat_map(|o| o.iter()) {
        let key = key.str()?;
        let key = key.to_cow()?;
        if server.take(&key, &value)? {
            continue;
        }
        let Some(setting) = Setting::named(&key) else {
            return Err(PyTypeError::new_err(format!(
                "{function}() got an unexpected keyword argument '{key}'"
            )));
        };
        values.push((setting.name, setting_value(setting, &value)?));
    }
    let mut config = match (url, &server.host) {
        (Some(url), None) if server.port.is_none() => Config::from_url(url).map_err(ftp_err)?,
        (Some(_), _) => {
            return Err(PyTypeError::new_err(format!(
                "{function}() takes a URL or host=/port=, not both"
            )));
        }
        (None, Some(host)) => Config::new(host.clone()),
        (None, None) => {
            return Err(PyTypeError::new_err(format!(
                "{function}() needs a URL (ftp://user:password@host:port/dir) or host="
            )));
        }
    };
    for (name, value) in values {
        config.set(name, value).map_err(|e| {
            // A bad argument, as Python reports one. The core's parsers of named values (data
            // modes, TLS modes) do not name the setting: the message does.
            match e.message().contains(name) {
                true => PyValueError::new_err(e.message().to_string()),
                false => PyValueError::new_err(format!("{name}: {}", e.message())),
            }
        })?;
    }
    server.apply(&mut config, url.is_none());
    Ok(config)
}

/// The server and credentials given as keywords (`host`, `port`, `user`, `password`,
/// `account`) instead of, or besides, a URL: no percent-encoding needed.
#[derive(Default)]
struct Server {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    password: Option<String>,
    account: Option<String>,
}

impl Server {
    /// Takes `key` if it is one of the server keywords; `None` values leave it unset.
    fn take(&mut self, key: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let text = |name: &str| -> PyResult<Option<String>> {
            if value.is_none() {
                return Ok(None);
            }
            value
                .cast::<PyString>()
                .map(|s| Some(s.to_string()))
                .map_err(|_| {
                    PyTypeError::new_err(format!("{name} must be a str, not {}", type_name(value)))
                })
        };
        match key {
            "host" => self.host = text("host")?,
            "user" => self.user = text("user")?,
            "password" => self.password = text("password")?,
            "account" => self.account = text("account")?,
            "port" => {
                if !value.is_none() {
                    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
                        return Err(PyTypeError::new_err(format!(
                            "port must be an int, not {}",
                            type_name(value)
                        )));
                    }
                    let port = value
                        .extract::<i64>()
                        .ok()
                        .and_then(|p| u16::try_from(p).ok());
                    self.port = Some(port.filter(|&p| p > 0).ok_or_else(|| {
                        PyValueError::new_err(format!("port must be 1 to 65535, not {value}"))
                    })?);
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Puts the keywords into `config` (after the settings, so that a port left out follows
    /// the TLS mode: 990 for implicit TLS).
    fn apply(self, config: &mut Config, from_parts: bool) {
        if from_parts {
            config.port = self.port.unwrap_or(config.tls.default_port());
            if self.user.is_some() {
                config.password = ferroftp::Password::new("");
            }
        }
        if let Some(user) = self.user {
            config.user = user;
        }
        if let Some(password) = self.password {
            config.password = ferroftp::Password::new(password);
        }
        if let Some(account) = self.account {
            config.account = Some(ferroftp::Password::new(account));
        }
    }
}

/// A setting's value as a Python object (a path as `str`).
fn to_python<'py>(py: Python<'py>, value: SettingValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        SettingValue::Seconds(s) => s.into_pyobject(py)?.into_any(),
        SettingValue::Flag(b) => PyBool::new(py, b).to_owned().into_any(),
        SettingValue::Number(n) => n.into_pyobject(py)?.into_any(),
        SettingValue::Text(t) => t.into_pyobject(py)?.into_any(),
        SettingValue::Path(p) => p.to_string_lossy().into_pyobject(py)?.into_any(),
        _ => py.None().into_bound(py),
    })
}

/// `ferroftp._native.SETTINGS`: the core's settings table, one dict per setting, in the
/// core's order: `name`, `kind` (`"seconds"`, `"flag"`, `"count"`, `"bytes"`, `"choice"`,
/// `"path"`, `"text"`; `None` for a kind this face does not know), `choices` (a tuple of names
/// for a choice, else `None`), `optional`, `default` (the core's; `None` for an optional
/// setting, which is then unset) and `doc`.
pub(crate) fn settings_table(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
    let defaults = Config::new("localhost");
    let rows = SETTINGS.iter().map(|setting| {
        let row = PyDict::new(py);
        row.set_item("name", setting.name)?;
        row.set_item("kind", kind_name(setting.kind))?;
        let choices = match setting.kind {
            SettingKind::Choice(names) => Some(PyTuple::new(py, names)?),
            _ => None,
        };
        row.set_item("choices", choices)?;
        row.set_item("optional", setting.optional)?;
        let default = match (setting.optional, defaults.setting(setting.name)) {
            (false, Some(value)) => to_python(py, value)?,
            _ => py.None().into_bound(py),
        };
        row.set_item("default", default)?;
        row.set_item("doc", setting.doc)?;
        Ok(row)
    });
    PyTuple::new(py, rows.collect::<PyResult<Vec<_>>>()?)
}
