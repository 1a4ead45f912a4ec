//! `ferroftp_options`: connection settings beyond the URL.

use std::ffi::c_char;
use std::path::PathBuf;
use std::time::Duration;

use ferroftp::{Config, DataMode, TlsMode};

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

/// Whether the connection uses TLS (the `tls` field of `ferroftp_options`).
///
/// TLS failures are `FERROFTP_STATUS_TLS`. A core library built without TLS makes a connect
/// that asks for it (here or with an `ftps://` or `ftpes://` URL) fail with
/// `FERROFTP_STATUS_INVALID_INPUT` and a message saying so.
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
    /// The transfer buffer size in bytes (default 1048576; > 0).
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

/// Builds the core's config from a URL and optional options (copied; nothing borrowed remains).
///
/// # Safety
/// `options` must be NULL or point to a valid `ferroftp_options` whose string fields
/// (`ca_file`, `tls_server_name`, `client_cert`, `client_key`) are each NULL or a
/// NUL-terminated string.
pub(crate) unsafe fn config(url: &str, options: *const ferroftp_options) -> Result<Config, CError> {
    let mut config = Config::from_url(url)?;
    // SAFETY: see the function's contract.
    let Some(o) = (unsafe { options.as_ref() }) else {
        return Ok(config);
    };
    config.timeout = Duration::from_millis(o.timeout_ms.into());
    config.connect_timeout = Duration::from_millis(o.connect_timeout_ms.into());
    config.retries = o.retries;
    config.data_mode = match o.data_mode {
        0 => DataMode::Auto,
        1 => DataMode::Epsv,
        2 => DataMode::Pasv,
        3 => DataMode::Active,
        other => {
            return Err(invalid(format!(
                "unknown data_mode {other} in ferroftp_options"
            )));
        }
    };
    match o.tls {
        0 => {}
        1 => config.tls = TlsMode::None,
        2 => config.tls = TlsMode::Explicit,
        3 => config.tls = TlsMode::Implicit,
        other => return Err(invalid(format!("unknown tls {other} in ferroftp_options"))),
    }
    config.verify = o.verify;
    // SAFETY: see the function's contract.
    config.ca_file = unsafe { optional_str(o.ca_file, "ca_file") }?.map(PathBuf::from);
    config.buffer_size = o.buffer_size;
    config.pipelining = o.pipelining;
    // SAFETY: see the function's contract.
    config.tls_server_name =
        unsafe { optional_str(o.tls_server_name, "tls_server_name") }?.map(str::to_string);
    // SAFETY: see the function's contract.
    config.client_cert = unsafe { optional_str(o.client_cert, "client_cert") }?.map(PathBuf::from);
    // SAFETY: see the function's contract.
    config.client_key = unsafe { optional_str(o.client_key, "client_key") }?.map(PathBuf::from);
    Ok(config)
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
