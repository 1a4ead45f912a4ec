//! `ferroftp_options`: connection settings beyond the URL.
//!
//! Each field is one of the core's settings (`ferroftp::SETTINGS`), handed to `Config::set` by
//! name, so the checks, parsers and limits are the core's; the defaults come from
//! `Config::new`. The numbers of `ferroftp_data_mode` and `ferroftp_tls` are C's own and stable;
//! tests fail when the core gains a setting or a mode this module does not offer.

use std::ffi::c_char;
use std::time::Duration;

use ferroftp::{Config, DataMode, SettingValue, TlsMode};

use crate::error::{CError, ferroftp_status};
use crate::ffi::{str_from, try_out};
use crate::panic::ffi_panic_boundary;

/// How data connections are opened (the `data_mode` field of `ferroftp_options`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferroftp_data_mode {
    /// EPSV, falling back to PASV when the server refuses EPSV (the default).
    FERROFTP_DATA_MODE_AUTO = 0,
    /// Extended passive mode only.
    FERROFTP_DATA_MODE_EPSV = 1,
    /// Classic passive mode only (IPv4).
    FERROFTP_DATA_MODE_PASV = 2,
    /// Active mode: the server connects back (EPRT/PORT).
    FERROFTP_DATA_MODE_ACTIVE = 3,
}

impl ferroftp_data_mode {
    /// Every value.
    const ALL: [Self; 4] = [
        Self::FERROFTP_DATA_MODE_AUTO,
        Self::FERROFTP_DATA_MODE_EPSV,
        Self::FERROFTP_DATA_MODE_PASV,
        Self::FERROFTP_DATA_MODE_ACTIVE,
    ];

    /// The value of a `data_mode` field.
    fn from_number(n: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|m| *m as u32 == n)
    }

    /// The core's mode.
    fn mode(self) -> DataMode {
        match self {
            Self::FERROFTP_DATA_MODE_AUTO => DataMode::Auto,
            Self::FERROFTP_DATA_MODE_EPSV => DataMode::Epsv,
            Self::FERROFTP_DATA_MODE_PASV => DataMode::Pasv,
            Self::FERROFTP_DATA_MODE_ACTIVE => DataMode::Active,
        }
    }
}

/// Whether the connection uses TLS (the `tls` field of `ferroftp_options`).
///
/// TLS is always built in (rustls). TLS failures are `FERROFTP_STATUS_TLS`, with a message that
/// says what failed and what to set (`ca_file`, `tls_server_name`, a client certificate).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferroftp_tls {
    /// As the URL's scheme says: `ftp://` plain, `ftpes://` explicit, `ftps://` implicit (the default).
    FERROFTP_TLS_FROM_URL = 0,
    /// Plain FTP, whatever the scheme.
    FERROFTP_TLS_NONE = 1,
    /// `AUTH TLS` after connecting.
    FERROFTP_TLS_EXPLICIT = 2,
    /// TLS from the first byte.
    FERROFTP_TLS_IMPLICIT = 3,
}

impl ferroftp_tls {
    /// Every value.
    const ALL: [Self; 4] = [
        Self::FERROFTP_TLS_FROM_URL,
        Self::FERROFTP_TLS_NONE,
        Self::FERROFTP_TLS_EXPLICIT,
        Self::FERROFTP_TLS_IMPLICIT,
    ];

    /// The value of a `tls` field.
    fn from_number(n: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|m| *m as u32 == n)
    }

    /// The core's mode; `None` for `FERROFTP_TLS_FROM_URL` (the URL's scheme decides).
    fn mode(self) -> Option<TlsMode> {
        match self {
            Self::FERROFTP_TLS_FROM_URL => None,
            Self::FERROFTP_TLS_NONE => Some(TlsMode::None),
            Self::FERROFTP_TLS_EXPLICIT => Some(TlsMode::Explicit),
            Self::FERROFTP_TLS_IMPLICIT => Some(TlsMode::Implicit),
        }
    }
}

/// Connection settings. A plain struct owned by the caller: fill it with `ferroftp_options_init`
/// (which writes every default), change the fields you need, and pass a pointer to the connect
/// call, which copies what it needs (the struct and its strings may be released as soon as the
/// call returns). Always initialise it with `ferroftp_options_init`: fields may be added in later
/// versions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferroftp_options {
    /// Limit in milliseconds for each reply and each data read or write (default 30000; > 0).
    pub timeout_ms: u32,
    /// Limit in milliseconds for the TCP connection and the greeting (default 10000; > 0).
    pub connect_timeout_ms: u32,
    /// How often an operation that is safe to repeat is retried on a fresh connection (default 3).
    pub retries: u32,
    /// A `ferroftp_data_mode` value (default `FERROFTP_DATA_MODE_AUTO`).
    pub data_mode: u32,
    /// A `ferroftp_tls` value (default `FERROFTP_TLS_FROM_URL`).
    pub tls: u32,
    /// Whether TLS server certificates are verified (default true).
    pub verify: bool,
    /// A PEM file of extra certificates to trust for TLS, or NULL (default): CAs, and server
    /// certificates themselves. A server certificate listed here is pinned: trusted as it is
    /// (also a self-signed CA one, as `openssl req -x509` makes it) while it is within its
    /// validity dates and names the host (or `tls_server_name`). UTF-8, NUL-terminated;
    /// borrowed for the duration of the connect call only.
    pub ca_file: *const c_char,
    /// The transfer buffer size in bytes (default 1048576; 1 to 1073741824).
    pub buffer_size: usize,
    /// Whether, once all of a download's announced bytes are in, the next data command's EPSV
    /// is sent before the download's final reply is read (one round trip fewer per file;
    /// default true). Turn it off for a server that drops commands sent during a transfer.
    pub pipelining: bool,
    /// The name the server's TLS certificate must carry, and the SNI sent, when it differs from
    /// the URL's host (a server reached by IP address or through a tunnel), or NULL (default:
    /// the host). UTF-8, NUL-terminated; borrowed for the duration of the connect call only.
    pub tls_server_name: *const c_char,
    /// A PEM file with a TLS client certificate (and its chain) for servers that require one,
    /// or NULL (default). Needs `client_key`: one without the other is
    /// `FERROFTP_STATUS_INVALID_INPUT`. UTF-8, NUL-terminated; borrowed for the duration of the
    /// connect call only.
    pub client_cert: *const c_char,
    /// The PEM file of the private key of `client_cert`, or NULL (default). UTF-8,
    /// NUL-terminated; borrowed for the duration of the connect call only.
    pub client_key: *const c_char,
}

impl Default for ferroftp_options {
    fn default() -> Self {
        let c = Config::new("localhost");
        Self {
            timeout_ms: millis(c.timeout),
            connect_timeout_ms: millis(c.connect_timeout),
            retries: c.retries,
            data_mode: ferroftp_data_mode::FERROFTP_DATA_MODE_AUTO as u32,
            tls: ferroftp_tls::FERROFTP_TLS_FROM_URL as u32,
            verify: c.verify,
            ca_file: std::ptr::null(),
            buffer_size: c.buffer_size,
            pipelining: c.pipelining,
            tls_server_name: std::ptr::null(),
            client_cert: std::ptr::null(),
            client_key: std::ptr::null(),
        }
    }
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

fn invalid(message: String) -> CError {
    CError::new(ferroftp_status::FERROFTP_STATUS_INVALID_INPUT, message)
}

/// One field of `ferroftp_options` as the core's setting: the C field's name (for messages),
/// the setting's name in `ferroftp::SETTINGS`, and its value.
type Field = (&'static str, &'static str, SettingValue);

/// Every field of `ferroftp_options` as the core's setting (a new core setting without a line
/// here fails the tests).
///
/// # Safety
/// As [`config`].
unsafe fn settings(o: &ferroftp_options) -> Result<Vec<Field>, CError> {
    let data_mode = ferroftp_data_mode::from_number(o.data_mode).ok_or_else(|| {
        invalid(format!(
            "unknown data_mode {} in ferroftp_options",
            o.data_mode
        ))
    })?;
    let tls = ferroftp_tls::from_number(o.tls)
        .ok_or_else(|| invalid(format!("unknown tls {} in ferroftp_options", o.tls)))?;
    let seconds = |ms: u32| SettingValue::Seconds(f64::from(ms) / 1000.0);
    // SAFETY (the four string fields): see the function's contract.
    let (ca_file, client_cert, client_key, tls_server_name) = unsafe {
        (
            optional_str(o.ca_file, "ca_file")?,
            optional_str(o.client_cert, "client_cert")?,
            optional_str(o.client_key, "client_key")?,
            optional_str(o.tls_server_name, "tls_server_name")?,
        )
    };
    let path = |p: Option<&str>| p.map_or(SettingValue::Unset, |p| SettingValue::Path(p.into()));
    Ok(vec![
        ("timeout_ms", "timeout", seconds(o.timeout_ms)),
        (
            "connect_timeout_ms",
            "connect_timeout",
            seconds(o.connect_timeout_ms),
        ),
        (
            "tls",
            "tls",
            tls.mode().map_or(SettingValue::Unset, |m| {
                SettingValue::Text(m.as_str().into())
            }),
        ),
        ("verify", "verify", SettingValue::Flag(o.verify)),
        ("ca_file", "ca_file", path(ca_file)),
        (
            "tls_server_name",
            "tls_server_name",
            tls_server_name.map_or(SettingValue::Unset, |n| SettingValue::Text(n.into())),
        ),
        ("client_cert", "client_cert", path(client_cert)),
        ("client_key", "client_key", path(client_key)),
        (
            "data_mode",
            "data_mode",
            SettingValue::Text(data_mode.mode().as_str().into()),
        ),
        ("retries", "retries", SettingValue::Number(o.retries.into())),
        (
            "buffer_size",
            "buffer_size",
            SettingValue::Number(u64::try_from(o.buffer_size).unwrap_or(u64::MAX)),
        ),
        ("pipelining", "pipelining", SettingValue::Flag(o.pipelining)),
    ])
}

/// Builds the core's config from a URL and optional options (copied; nothing borrowed remains).
///
/// # Safety
/// As [`apply`].
pub(crate) unsafe fn config(url: &str, options: *const ferroftp_options) -> Result<Config, CError> {
    let mut config = Config::from_url(url)?;
    // SAFETY: see the function's contract.
    unsafe { apply(&mut config, options) }?;
    Ok(config)
}

/// Applies optional options to a config, each field through the core's settings table (NULL:
/// the config stays as it is).
///
/// # Safety
/// `options` must be NULL or point to a valid `ferroftp_options` whose string fields
/// (`ca_file`, `tls_server_name`, `client_cert`, `client_key`) are each NULL or a
/// NUL-terminated string.
pub(crate) unsafe fn apply(
    config: &mut Config,
    options: *const ferroftp_options,
) -> Result<(), CError> {
    // SAFETY: see the function's contract.
    let Some(o) = (unsafe { options.as_ref() }) else {
        return Ok(());
    };
    // SAFETY: see the function's contract.
    for (field, name, value) in unsafe { settings(o) }? {
        config.set(name, value).map_err(|e| {
            let mut e = CError::from(e);
            e.message = format!("ferroftp_options.{field}: {}", e.message);
            e
        })?;
    }
    Ok(())
}

/// An optional string field of `ferroftp_options` (`field` names it in the error).
///
/// # Safety
/// `ptr` must be NULL or a NUL-terminated string that outlives the returned borrow.
unsafe fn optional_str<'a>(ptr: *const c_char, field: &str) -> Result<Option<&'a str>, CError> {
    // SAFETY: see the function's contract.
    match unsafe { str_from(ptr) } {
        None => Ok(None),
        Some(Ok(s)) => Ok(Some(s)),
        Some(Err(())) => Err(CError::new(
            ferroftp_status::FERROFTP_STATUS_INVALID_UTF8,
            format!("ferroftp_options.{field} is not valid UTF-8"),
        )),
    }
}

/// Fills `*options_out` with the defaults (see each field of `ferroftp_options`).
///
/// `options_out` points to caller-owned memory; nothing is allocated.
#[unsafe(no_mangle)]
pub extern "C" fn ferroftp_options_init(options_out: *mut ferroftp_options) -> ferroftp_status {
    ffi_panic_boundary! {
        let out = try_out!(options_out);
        out.write(ferroftp_options::default());
        ferroftp_status::FERROFTP_STATUS_OK
    }
}

#[cfg(test)]
mod tests {
    use ferroftp::SETTINGS;

    use super::*;

    fn names(o: &ferroftp_options) -> Vec<&'static str> {
        // SAFETY: no string fields are set.
        let fields = unsafe { settings(o) }.expect("valid options");
        fields.into_iter().map(|(_, name, _)| name).collect()
    }

    /// A setting added to the core fails here until `ferroftp_options` has a field for it (one
    /// line in `settings`).
    #[test]
    fn every_core_setting_has_a_field() {
        let ours = names(&ferroftp_options::default());
        for s in SETTINGS {
            assert!(
                ours.contains(&s.name),
                "the core's setting `{}` ({}) has no field in ferroftp_options: append one and \
                 map it in options::settings",
                s.name,
                s.doc
            );
        }
        for name in &ours {
            assert!(
                SETTINGS.iter().any(|s| s.name == *name),
                "{name} is not a core setting"
            );
        }
        let mut unique = ours.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ours.len(), "a setting is mapped twice");
    }

    /// The defaults of `ferroftp_options_init`, applied, leave every setting at the core's.
    #[test]
    fn defaults_are_the_core_defaults() {
        let core = Config::new("localhost");
        let mut c = Config::new("localhost");
        // SAFETY: no string fields are set.
        for (_, name, value) in unsafe { settings(&ferroftp_options::default()) }.unwrap() {
            c.set(name, value).unwrap();
        }
        for s in SETTINGS {
            assert_eq!(c.setting(s.name), core.setting(s.name), "{}", s.name);
        }
    }

    /// A data mode added to the core fails here until `ferroftp_data_mode` has a value for it.
    #[test]
    fn every_core_data_mode_has_a_value() {
        for mode in DataMode::ALL {
            let values: Vec<_> = ferroftp_data_mode::ALL
                .into_iter()
                .filter(|m| m.mode() == mode)
                .collect();
            assert_eq!(
                values.len(),
                1,
                "the core's data mode `{mode}` needs exactly one ferroftp_data_mode value \
                 (append one with a new number): {values:?}"
            );
        }
        // C's own numbers, never changed.
        let numbers: Vec<u32> = ferroftp_data_mode::ALL.iter().map(|m| *m as u32).collect();
        assert_eq!(numbers, [0, 1, 2, 3]);
        assert_eq!(ferroftp_data_mode::from_number(4), None);
    }

    /// A TLS mode added to the core fails here until `ferroftp_tls` has a value for it.
    #[test]
    fn every_core_tls_mode_has_a_value() {
        for mode in TlsMode::ALL {
            let values: Vec<_> = ferroftp_tls::ALL
                .into_iter()
                .filter(|m| m.mode() == Some(mode))
                .collect();
            assert_eq!(
                values.len(),
                1,
                "the core's TLS mode `{mode}` needs exactly one ferroftp_tls value: {values:?}"
            );
        }
        let numbers: Vec<u32> = ferroftp_tls::ALL.iter().map(|m| *m as u32).collect();
        assert_eq!(numbers, [0, 1, 2, 3]);
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        let url = "ftp://u:p@localhost/";
        let mut o = ferroftp_options {
            data_mode: 9,
            ..Default::default()
        };
        // SAFETY: `o` is a valid struct without strings.
        let e = unsafe { config(url, &o) }.unwrap_err();
        assert_eq!(e.status, ferroftp_status::FERROFTP_STATUS_INVALID_INPUT);
        assert!(e.message.contains("unknown data_mode 9"), "{}", e.message);
        o.data_mode = ferroftp_data_mode::FERROFTP_DATA_MODE_PASV as u32;
        o.timeout_ms = 0;
        // SAFETY: as above.
        let e = unsafe { config(url, &o) }.unwrap_err();
        assert_eq!(e.status, ferroftp_status::FERROFTP_STATUS_INVALID_INPUT);
        assert!(
            e.message.starts_with("ferroftp_options.timeout_ms: "),
            "{}",
            e.message
        );
        o.timeout_ms = 1500;
        o.tls = ferroftp_tls::FERROFTP_TLS_EXPLICIT as u32;
        // SAFETY: as above.
        let c = unsafe { config(url, &o) }.unwrap();
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!((c.data_mode, c.tls), (DataMode::Pasv, TlsMode::Explicit));
        // SAFETY: as above.
        let c = unsafe { config("ftps://u:p@localhost/", &ferroftp_options::default()) }.unwrap();
        assert_eq!(c.tls, TlsMode::Implicit, "FROM_URL keeps the scheme's");
    }
}
