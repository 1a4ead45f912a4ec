//! The keyword options of `connect` / `connect_async` → [`ferroftp::Config`].

use std::path::PathBuf;
use std::time::Duration;

use ferroftp::{Config, DataMode, TlsMode};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::ftp_err;

/// A positive, finite number of seconds.
fn seconds(name: &str, secs: f64) -> PyResult<Duration> {
    if !secs.is_finite() || secs <= 0.0 {
        return Err(PyValueError::new_err(format!(
            "{name} must be a positive number of seconds, not {secs}"
        )));
    }
    Duration::try_from_secs_f64(secs)
        .map_err(|_| PyValueError::new_err(format!("{name} is too large: {secs}")))
}

/// The options shared by `connect` and `connect_async` (and, later, the pools).
pub(crate) struct Options {
    pub timeout: f64,
    pub connect_timeout: f64,
    pub tls: Option<String>,
    pub verify: bool,
    pub ca_file: Option<PathBuf>,
    pub data_mode: String,
    pub retries: i64,
}

impl Options {
    /// The session's configuration: the URL, then each option.
    pub(crate) fn config(&self, url: &str) -> PyResult<Config> {
        let mut config = Config::from_url(url).map_err(ftp_err)?;
        config.timeout = seconds("timeout", self.timeout)?;
        config.connect_timeout = seconds("connect_timeout", self.connect_timeout)?;
        if let Some(tls) = &self.tls {
            config.tls = match tls.to_ascii_lowercase().as_str() {
                "explicit" => TlsMode::Explicit,
                "implicit" => TlsMode::Implicit,
                _ => {
                    return Err(PyValueError::new_err(format!(
                        "tls must be None, \"explicit\" or \"implicit\", not {tls:?}"
                    )));
                }
            };
        }
        config.verify = self.verify;
        config.ca_file = self.ca_file.clone();
        config.data_mode = match self.data_mode.to_ascii_lowercase().as_str() {
            "auto" => DataMode::Auto,
            "epsv" => DataMode::Epsv,
            "pasv" => DataMode::Pasv,
            "active" => DataMode::Active,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "data_mode must be \"auto\", \"epsv\", \"pasv\" or \"active\", not {:?}",
                    self.data_mode
                )));
            }
        };
        config.retries = u32::try_from(self.retries).map_err(|_| {
            PyValueError::new_err(format!(
                "retries must be between 0 and {}, not {}",
                u32::MAX,
                self.retries
            ))
        })?;
        Ok(config)
    }
}

/// The Python type name of `value`, for messages.
pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}
