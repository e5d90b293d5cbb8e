//! TLS termination with rustls (ring provider), optionally requiring client certificates
//! (mutual TLS) signed by a configured CA.
//!
//! The accept loop (`server::conn`) runs each handshake in the connection's own task, bounded by
//! [`HANDSHAKE_TIMEOUT`] and counted against the connection cap, so a slow or hostile client can
//! neither stall the accept loop nor hold a socket for long.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use crate::config::TlsConfig;

/// How long a client may take to finish the handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("TLS {what} {path}: {message}")]
    Pem { what: &'static str, path: String, message: String },
    /// rustls refused the certificates or key.
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

/// The rustls configuration new connections use; `server::rotate` swaps it when the
/// certificate, key or client CA files change, while open connections keep theirs.
pub type SharedTlsConfig = Arc<arc_swap::ArcSwap<rustls::ServerConfig>>;

/// Build the rustls server configuration from PEM files.
pub fn server_config(tls: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config_with(tls, false)
}

/// Like [`server_config`]; with `client_cert_optional`, a client CA verifies the certificates
/// clients send but clients without one are let through (to authenticate by bearer credential).
/// A key that does not match the certificate is refused (rustls checks), so a rotation caught
/// half-written fails here and is retried instead of serving a broken pair.
pub fn server_config_with(tls: &TlsConfig, client_cert_optional: bool) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = load_certs("certificate", &tls.cert)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| pem_error("private key", &tls.key, e))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match &tls.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certs("client CA", ca)? {
                roots.add(cert).map_err(|e| TlsError::Rustls(format!("client CA {}: {e}", ca.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if client_cert_optional { verifier.allow_unauthenticated() } else { verifier };
            let verifier = verifier.build().map_err(|e| TlsError::Rustls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| TlsError::Rustls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn load_certs(what: &'static str, path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, path, e))?;
    if certs.is_empty() {
        return Err(TlsError::Pem { what, path: path.display().to_string(), message: "no certificate found".into() });
    }
    Ok(certs)
}

fn pem_error(what: &'static str, path: &std::path::Path, e: rustls::pki_types::pem::Error) -> TlsError {
    TlsError::Pem { what, path: path.display().to_string(), message: e.to_string() }
}
