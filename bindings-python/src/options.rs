//! Arguments: the keyword options of `connect` / `connect_async` → [`ferroftp::Config`], and
//! remote paths (`str` or `bytes`).
//!
//! Each option has its own argument type whose error names the option and says what it
//! accepts (pyo3 adds the parameter name only as an exception note, which Python < 3.11 does
//! not show).

use std::path::PathBuf;
use std::time::Duration;

use ferroftp::{Checksum, Config, DataMode, HashAlgorithm, TlsMode};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString};

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

/// A `str` option with a fixed set of values.
fn choice(name: &str, obj: &Bound<'_, PyAny>, allowed: &str) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.to_ascii_lowercase()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{name} must be {allowed}, not {}",
            type_name(obj)
        ))),
    }
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

option_type!(
    /// `timeout=`: seconds for each reply and each data read or write.
    Timeout(Duration),
    |obj| seconds("timeout", obj)
);

option_type!(
    /// `connect_timeout=`: seconds for the TCP connection and the greeting.
    ConnectTimeout(Duration),
    |obj| seconds("connect_timeout", obj)
);

const TLS_VALUES: &str = "None, \"explicit\" or \"implicit\"";

option_type!(
    /// `tls=`: `"explicit"` or `"implicit"` (None is the parameter's absence).
    Tls(TlsMode),
    |obj| match choice("tls", obj, TLS_VALUES)?.as_str() {
        "explicit" => Ok(TlsMode::Explicit),
        "implicit" => Ok(TlsMode::Implicit),
        other => Err(PyValueError::new_err(format!(
            "tls must be {TLS_VALUES}, not {other:?}"
        ))),
    }
);

const DATA_MODES: &str = "\"auto\", \"epsv\", \"pasv\" or \"active\"";

option_type!(
    /// `data_mode=`.
    DataModeArg(DataMode),
    |obj| match choice("data_mode", obj, DATA_MODES)?.as_str() {
        "auto" => Ok(DataMode::Auto),
        "epsv" => Ok(DataMode::Epsv),
        "pasv" => Ok(DataMode::Pasv),
        "active" => Ok(DataMode::Active),
        other => Err(PyValueError::new_err(format!(
            "data_mode must be {DATA_MODES}, not {other:?}"
        ))),
    }
);

const CHECKSUM_VALUES: &str = "None, \"if-available\", \"required\", \"sha256\", \"sha512\", \
                               \"sha1\", \"md5\" or \"crc32\"";

option_type!(
    /// `checksum=` of `download`/`upload` (None, the default, is the parameter's absence:
    /// [`Checksum::Off`]): `"if-available"`, `"required"`, or one algorithm ([`Checksum::Only`]).
    ChecksumArg(Checksum),
    |obj| match choice("checksum", obj, CHECKSUM_VALUES)?.as_str() {
        "if-available" => Ok(Checksum::IfAvailable),
        "required" => Ok(Checksum::Required),
        "sha256" => Ok(Checksum::Only(HashAlgorithm::Sha256)),
        "sha512" => Ok(Checksum::Only(HashAlgorithm::Sha512)),
        "sha1" => Ok(Checksum::Only(HashAlgorithm::Sha1)),
        "md5" => Ok(Checksum::Only(HashAlgorithm::Md5)),
        "crc32" => Ok(Checksum::Only(HashAlgorithm::Crc32)),
        other => Err(PyValueError::new_err(format!(
            "checksum must be {CHECKSUM_VALUES}, not {other:?}"
        ))),
    }
);

option_type!(
    /// `retries=`: a non-negative `int`.
    Retries(u32),
    |obj| {
        if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
            Err(PyTypeError::new_err(format!(
                "retries must be an int, not {}",
                type_name(obj)
            )))
        } else {
            obj.extract::<i128>().ok().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "retries must be between 0 and {}, not {obj}",
                    u32::MAX
                ))
            })
        }
    }
);

/// A flag option: exactly `True` or `False` (no truthy stand-ins).
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
    /// `verify=`: a `bool` (TLS certificates for `connect`, the size check for transfers).
    Verify(bool),
    |obj| flag("verify", obj)
);

option_type!(
    /// `pipelining=`: a `bool` (see the core's `Config::pipelining`).
    Pipelining(bool),
    |obj| flag("pipelining", obj)
);

option_type!(
    /// `ca_file=`: a path (`str` or `os.PathLike`) to a PEM file.
    CaFile(PathBuf),
    |obj| local_path("ca_file", obj)
);

/// A local path option (`str` or `os.PathLike`).
fn local_path(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    obj.extract::<PathBuf>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name} must be a path (str or os.PathLike), not {}",
            type_name(obj)
        ))
    })
}

option_type!(
    /// `client_cert=`: a path to a PEM client certificate (with its chain).
    ClientCert(PathBuf),
    |obj| local_path("client_cert", obj)
);

option_type!(
    /// `client_key=`: a path to the PEM private key of `client_cert`.
    ClientKey(PathBuf),
    |obj| local_path("client_key", obj)
);

option_type!(
    /// `tls_server_name=`: the name the server's certificate must carry (a `str`).
    TlsServerName(String),
    |obj| match obj.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "tls_server_name must be a str, not {}",
            type_name(obj)
        ))),
    }
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

/// The options shared by `connect` and `connect_async` (and, later, the pools).
pub(crate) struct Options {
    pub timeout: Timeout,
    pub connect_timeout: ConnectTimeout,
    pub tls: Option<Tls>,
    pub verify: Verify,
    pub ca_file: Option<CaFile>,
    pub tls_server_name: Option<TlsServerName>,
    pub client_cert: Option<ClientCert>,
    pub client_key: Option<ClientKey>,
    pub data_mode: DataModeArg,
    pub retries: Retries,
    pub pipelining: Pipelining,
}

impl Options {
    /// The session's configuration: the URL, then each option.
    pub(crate) fn config(self, url: &str) -> PyResult<Config> {
        let mut config = Config::from_url(url).map_err(ftp_err)?;
        config.timeout = self.timeout.0;
        config.connect_timeout = self.connect_timeout.0;
        if let Some(tls) = self.tls {
            config.tls = tls.0;
        }
        config.verify = self.verify.0;
        config.ca_file = self.ca_file.map(|c| c.0);
        config.tls_server_name = self.tls_server_name.map(|n| n.0);
        config.client_cert = self.client_cert.map(|c| c.0);
        config.client_key = self.client_key.map(|k| k.0);
        config.data_mode = self.data_mode.0;
        config.retries = self.retries.0;
        config.pipelining = self.pipelining.0;
        Ok(config)
    }
}

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
