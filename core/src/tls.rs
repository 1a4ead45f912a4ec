//! TLS settings for FTPS: rustls with the ring provider, certificates verified by default.
//!
//! Every control connection gets a `ClientConfig` of its own, and with it a session cache of
//! its own: its data connections resume the control connection's TLS session (vsftpd's
//! `require_ssl_reuse`), and never another connection's (FileZilla Server rejects that).

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use suppaftp::tokio::AsyncRustlsConnector;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trusted roots, loaded once.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let loaded = rustls_native_certs::load_native_certs();
            for e in &loaded.errors {
                log::debug!("skipping a system certificate: {e}");
            }
            let (added, ignored) = store.add_parsable_certificates(loaded.certs);
            log::debug!("{added} system root certificates loaded ({ignored} unparsable)");
            Arc::new(store)
        })
        .clone()
}

/// A connector for one control connection (and its data connections) under `config`.
pub(crate) fn connector(config: &Config) -> Result<AsyncRustlsConnector> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS setup: {e}")))?;
    let client = if config.verify {
        let mut roots = (*system_roots()).clone();
        if let Some(path) = &config.ca_file {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        format!("cannot read CA certificates from {}: {e}", path.display()),
                    )
                })?;
            if certs.is_empty() {
                return Err(Error::invalid_input(format!(
                    "{} holds no PEM certificate",
                    path.display()
                )));
            }
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::invalid_input(format!(
                    "no usable CA certificate in {}",
                    path.display()
                )));
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(
                provider().signature_verification_algorithms,
            )))
            .with_no_client_auth()
    };
    Ok(AsyncRustlsConnector::from(
        tokio_rustls::TlsConnector::from(Arc::new(client)),
    ))
}

/// The name the server's certificate is checked against (and sent as SNI for DNS names).
pub(crate) fn server_name(config: &Config) -> Result<String> {
    ServerName::try_from(config.host.as_str())
        .map(|_| config.host.clone())
        .map_err(|e| {
            Error::invalid_input(format!(
                "{:?} is not a valid TLS server name: {e}",
                config.host
            ))
        })
}

/// Adds a hint to a TLS failure so the user knows what to do about it.
pub(crate) fn explain(e: Error) -> Error {
    if e.kind() != ErrorKind::Tls {
        return e;
    }
    let lower = e.message().to_ascii_lowercase();
    let hint = if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        " (the server's certificate is not signed by a trusted CA: pass ca_file with the CA \
         that signed it, or verify=false for a test server)"
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        " (the certificate does not name this host: connect with the name it was issued for)"
    } else if lower.contains("expired") {
        " (the server's certificate has expired)"
    } else {
        ""
    };
    Error::new(ErrorKind::Tls, format!("{}{hint}", e.message()))
}

/// Accepts any certificate: `verify = false`, for self-signed test servers only. Signatures
/// are still checked, so the handshake itself stays sound.
#[derive(Debug)]
struct NoVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
