//! TLS for FTPS: rustls with the ring provider, certificates verified by default.
//!
//! Every control connection gets a `ClientConfig` of its own, and with it a session cache of
//! its own: its data connections resume the control connection's TLS session (vsftpd's
//! `require_ssl_reuse`), and never another connection's (FileZilla Server rejects that).
//!
//! Trust: the system's roots plus `ca_file`. A certificate listed in `ca_file` that the server
//! presents as its own is *pinned*: trusted as it is, CA flag or not (most private servers run
//! on a self-signed certificate from `openssl req -x509`, which is a CA certificate), as long
//! as it is within its validity dates and names the host. Everything else follows the webpki
//! rules. The verifier remembers why it refused a certificate, so the error can say what to do.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, HandshakeKind, RootCertStore,
    SignatureScheme,
};
use suppaftp::tokio::{AsyncDataStream, AsyncRustlsConnector, AsyncRustlsStream, TokioTlsStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// What the handshakes of one control connection found out, for [`Tls::explain`].
#[derive(Debug, Default)]
struct Findings {
    /// Why the server's certificate was refused, in words that say what to do.
    certificate: Mutex<Option<String>>,
    /// The server asked for a client certificate.
    client_cert_asked: AtomicBool,
}

/// The TLS side of one control connection: its client configuration (and so its session
/// cache), the name its certificates are checked against, and what its handshakes found.
pub(crate) struct Tls {
    client: Arc<ClientConfig>,
    name: String,
    has_client_cert: bool,
    findings: Arc<Findings>,
}

impl Tls {
    /// The TLS settings of `config`, its files (`ca_file`, `client_cert`, `client_key`) read.
    pub(crate) fn new(config: &Config) -> Result<Self> {
        let findings = Arc::new(Findings::default());
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS setup: {e}")))?;
        let verifier = Verifier::new(config, Arc::clone(&findings))?;
        let client_cert = ClientCert {
            key: client_key(config)?,
            findings: Arc::clone(&findings),
        };
        let has_client_cert = client_cert.key.is_some();
        let client = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(Arc::new(client_cert));
        Ok(Self {
            client: Arc::new(client),
            name: server_name(config)?,
            has_client_cert,
            findings,
        })
    }

    /// A connector for the control connection and its data connections (all share the
    /// session cache).
    pub(crate) fn connector(&self) -> AsyncRustlsConnector {
        AsyncRustlsConnector::from(tokio_rustls::TlsConnector::from(Arc::clone(&self.client)))
    }

    /// The name the server's certificate is checked against (and sent as SNI for DNS names).
    pub(crate) fn server_name(&self) -> &str {
        &self.name
    }

    /// Turns an error of the TLS handshake or of the login after it into a TLS error that
    /// says what failed and what to do, from what the handshake found out.
    pub(crate) fn explain(&self, e: Error) -> Error {
        if e.kind() == ErrorKind::Timeout {
            return e;
        }
        if let Some(why) = self
            .findings
            .certificate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return e.with_kind(ErrorKind::Tls).with_note(&why);
        }
        let alert = e.message().contains("alert");
        if self.findings.client_cert_asked.load(Ordering::Relaxed)
            && (alert || e.kind() == ErrorKind::Tls)
        {
            let why = if self.has_client_cert {
                "the server asked for a client certificate and refused ours (client_cert): \
                 check that the server trusts its issuer"
            } else {
                "the server requires a client certificate: pass client_cert and client_key \
                 (PEM files)"
            };
            return e.with_kind(ErrorKind::Tls).with_note(why);
        }
        e
    }
}

/// The name certificates are checked against: `tls_server_name`, else the host.
fn server_name(config: &Config) -> Result<String> {
    let name = config.tls_server_name.as_deref().unwrap_or(&config.host);
    ServerName::try_from(name)
        .map(|_| name.to_string())
        .map_err(|e| Error::invalid_input(format!("{name:?} is not a valid TLS server name: {e}")))
}

/// Reads every PEM certificate of `path` (`what` names the setting in errors).
fn read_certificates(path: &std::path::Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| {
            Error::invalid_input(format!(
                "cannot read the {what} certificates from {}: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::invalid_input(format!(
            "{} ({what}) holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// The client certificate and key of `config`, when both are set.
fn client_key(config: &Config) -> Result<Option<Arc<CertifiedKey>>> {
    let (Some(cert), Some(key)) = (&config.client_cert, &config.client_key) else {
        return Ok(None);
    };
    let chain = read_certificates(cert, "client_cert")?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        Error::invalid_input(format!(
            "cannot read a private key (client_key) from {}: {e}",
            key.display()
        ))
    })?;
    let signing = provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| {
            Error::invalid_input(format!(
                "the private key in {} (client_key) is not usable: {e}",
                key.display()
            ))
        })?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        Error::invalid_input(format!(
            "client_cert {} and client_key {} do not belong together: {e}",
            cert.display(),
            key.display()
        ))
    })?;
    Ok(Some(Arc::new(certified)))
}

/// Offers the client certificate (if any) and notes that the server asked for one.
#[derive(Debug)]
struct ClientCert {
    key: Option<Arc<CertifiedKey>>,
    findings: Arc<Findings>,
}

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.findings
            .client_cert_asked
            .store(true, Ordering::Relaxed);
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

/// The server certificate check: nothing with `verify = false`; a pinned certificate (one
/// listed in `ca_file`) by its dates and names; anything else by webpki against the roots.
/// Handshake signatures are always checked, so the server proves it holds the key.
#[derive(Debug)]
struct Verifier {
    /// `None` when verification is off.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pinned: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
    findings: Arc<Findings>,
}

impl Verifier {
    fn new(config: &Config, findings: Arc<Findings>) -> Result<Self> {
        let algorithms = provider().signature_verification_algorithms;
        if !config.verify {
            return Ok(Self {
                webpki: None,
                pinned: Vec::new(),
                algorithms,
                findings,
            });
        }
        let mut roots = (*system_roots()).clone();
        let pinned = match &config.ca_file {
            Some(path) => {
                let certs = read_certificates(path, "ca_file")?;
                let (added, _) = roots.add_parsable_certificates(certs.iter().cloned());
                if added == 0 {
                    return Err(Error::invalid_input(format!(
                        "no usable certificate in {} (ca_file)",
                        path.display()
                    )));
                }
                certs
            }
            None => Vec::new(),
        };
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS setup: {e}")))?;
        Ok(Self {
            webpki: Some(webpki),
            pinned,
            algorithms,
            findings,
        })
    }

    fn refuse(&self, end_entity: &CertificateDer<'_>, e: rustls::Error) -> rustls::Error {
        let why = match &e {
            rustls::Error::InvalidCertificate(c) => why_refused(c, end_entity),
            other => format!("the server's certificate was refused: {other}"),
        };
        *self
            .findings
            .certificate
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(why);
        e
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        let result = if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            check_pinned(end_entity, server_name, now)
        } else {
            webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        };
        result.map_err(|e| self.refuse(end_entity, e))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A pinned certificate is trusted as it is, but only within its validity dates and for the
/// names it lists (webpki's name check; x509-parser reads the dates).
fn check_pinned(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> std::result::Result<ServerCertVerified, rustls::Error> {
    let bad = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|_| bad())?;
    let validity = parsed.validity();
    let time = |t: &x509_parser::time::ASN1Time| {
        UnixTime::since_unix_epoch(Duration::from_secs(t.timestamp().max(0).unsigned_abs()))
    };
    let (not_before, not_after) = (time(&validity.not_before), time(&validity.not_after));
    if now.as_secs() < not_before.as_secs() {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYetContext {
                time: now,
                not_before,
            },
        ));
    }
    if now.as_secs() > not_after.as_secs() {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: now,
                not_after,
            },
        ));
    }
    let end_entity = webpki::EndEntityCert::try_from(cert).map_err(|_| bad())?;
    if end_entity
        .verify_is_valid_for_subject_name(server_name)
        .is_err()
    {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForNameContext {
                expected: server_name.to_owned(),
                presented: subject_names(&parsed),
            },
        ));
    }
    Ok(ServerCertVerified::assertion())
}

/// The DNS names and IP addresses of a certificate's subjectAltName.
fn subject_names(cert: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some((*d).to_string()),
            GeneralName::IPAddress(b) => match b.len() {
                4 => <[u8; 4]>::try_from(*b)
                    .ok()
                    .map(|a| std::net::IpAddr::from(a).to_string()),
                16 => <[u8; 16]>::try_from(*b)
                    .ok()
                    .map(|a| std::net::IpAddr::from(a).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// What a refused certificate means for the user, and what to do about it.
fn why_refused(e: &CertificateError, end_entity: &CertificateDer<'_>) -> String {
    let date = |t: &UnixTime| {
        chrono::DateTime::from_timestamp(i64::try_from(t.as_secs()).unwrap_or(i64::MAX), 0)
            .map_or_else(
                || "?".to_string(),
                |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
    };
    let is_ca = x509_parser::parse_x509_certificate(end_entity.as_ref())
        .ok()
        .and_then(|(_, c)| c.basic_constraints().ok().flatten().map(|b| b.value.ca))
        .unwrap_or(false);
    match e {
        CertificateError::UnknownIssuer => "the server's certificate is not issued by a \
            trusted CA: pass ca_file with the CA that issued it, or with the server's own \
            certificate to pin it (verify=false turns all checks off: test servers only)"
            .to_string(),
        CertificateError::ExpiredContext { not_after, .. } => format!(
            "the server's certificate expired on {}; a pinned certificate must be valid too",
            date(not_after)
        ),
        CertificateError::Expired => "the server's certificate has expired".to_string(),
        CertificateError::NotValidYetContext { not_before, .. } => format!(
            "the server's certificate is not valid before {} (check this machine's clock)",
            date(not_before)
        ),
        CertificateError::NotValidYet => {
            "the server's certificate is not valid yet (check this machine's clock)".to_string()
        }
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "the server's certificate is issued for {}, not {:?}: connect with a name it \
             lists, or set tls_server_name to the name it was issued for",
            if presented.is_empty() {
                "no name".to_string()
            } else {
                presented.join(", ")
            },
            expected.to_str()
        ),
        CertificateError::NotValidForName => "the server's certificate does not name this \
            host: connect with the name it was issued for, or set tls_server_name"
            .to_string(),
        _ if is_ca => "the server presents a CA certificate as its own (a self-signed one, \
            as `openssl req -x509` makes it): to trust this server, pass that certificate \
            itself as ca_file, which pins it"
            .to_string(),
        other => format!("the server's certificate is not valid: {other}"),
    }
}

/// How the TLS handshake of a data connection went (`None` for a plain one).
pub(crate) fn handshake(data: &mut AsyncDataStream<AsyncRustlsStream>) -> Option<HandshakeKind> {
    match data {
        AsyncDataStream::Ssl(tls) => tls.mut_ref().get_ref().1.handshake_kind(),
        AsyncDataStream::Tcp(_) => None,
    }
}

/// Ends the data of a TLS upload with `close_notify` but keeps the TCP connection open until
/// the server closes it (at most `limit`), reading what it sent meanwhile.
///
/// With TLS 1.3 every resumed data connection uses up one session ticket, and the server's
/// replacement arrives on that connection after the handshake. An upload only writes, so the
/// ticket is read here, at its end. Half-closing the TCP connection first (as a plain
/// shutdown does) loses it wherever the path does not carry data after a FIN (proxies,
/// some NATs): the next data connection then finds no ticket, makes a full handshake, and a
/// server that requires session reuse (vsftpd's default) refuses it with 522. The server
/// takes `close_notify` as the end of the data, like a FIN.
pub(crate) async fn end_upload(data: &mut AsyncDataStream<AsyncRustlsStream>, limit: Duration) {
    let AsyncDataStream::Ssl(tls) = data else {
        return;
    };
    let stream = tls.mut_ref();
    stream.get_mut().1.send_close_notify();
    if stream.flush().await.is_err() {
        return;
    }
    let mut buf = [0u8; 1024];
    let drained = tokio::time::timeout(limit, async {
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    if drained.is_err() {
        log::debug!("the server did not close an upload's data connection within {limit:?}");
    }
}
