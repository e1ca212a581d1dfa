//! TLS for the MQTT listener: rustls with the aws-lc-rs provider, a client certificate required
//! and verified against the trusted CAs, and the ALPN names AWS IoT's SDKs send.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// ALPN protocol names accepted on the MQTT TLS listener: AWS IoT's `x-amzn-mqtt-ca` (sent by
/// the AWS IoT Device SDKs on port 443 and 8883) and the IANA-registered `mqtt`.
pub const MQTT_ALPN: [&[u8]; 2] = [b"x-amzn-mqtt-ca", b"mqtt"];

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A trusted CA certificate was rejected.
    #[error("invalid CA certificate: {0}")]
    InvalidCa(#[source] rustls::Error),
    /// The client verifier could not be built.
    #[error("cannot build the client certificate verifier: {0}")]
    Verifier(#[source] rustls::server::VerifierBuilderError),
    /// The server certificate or key was rejected.
    #[error("invalid server certificate or key: {0}")]
    ServerCertificate(#[source] rustls::Error),
}

/// The aws-lc-rs crypto provider, used explicitly so no process-wide default is needed.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A server configuration for MQTT over TLS 1.2 and 1.3 that requires a client certificate
/// chained to one of `client_cas`.
pub fn mqtt_server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_cas: &[CertificateDer<'static>],
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    for ca in client_cas {
        roots.add(ca.clone()).map_err(TlsError::InvalidCa)?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(TlsError::Verifier)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::ServerCertificate)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(cert_chain, key)
        .map_err(TlsError::ServerCertificate)?;
    config.alpn_protocols = MQTT_ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}
