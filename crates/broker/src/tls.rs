//! TLS for the MQTT listener: rustls with the aws-lc-rs provider, a client certificate required,
//! and the ALPN names AWS IoT's SDKs send.
//!
//! Two client verifiers: [`mqtt_server_config`] trusts certificates chained to given CAs (used
//! where no registry decides), and [`mqtt_server_config_deferred`] requires a well-formed
//! certificate and proof of its private key at the handshake and leaves trust to the
//! [`crate::Authorizer`], which looks the certificate up in the registry at CONNECT: AWS IoT
//! accepts certificates registered without their CA, so no fixed set of roots can decide.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

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

/// A server configuration for MQTT over TLS 1.2 and 1.3 that requires a client certificate and
/// proof of its key, and defers the trust decision to the authorizer (see the module docs).
pub fn mqtt_server_config_deferred(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let verifier = Arc::new(DeferredClientVerifier {
        provider: provider.clone(),
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::ServerCertificate)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(cert_chain, key)
        .map_err(TlsError::ServerCertificate)?;
    config.alpn_protocols = MQTT_ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Requires a client certificate that parses as an X.509 end-entity certificate, and a valid
/// handshake signature by its key; whether the certificate is trusted (registered, active,
/// within its dates, its CA active) is decided after the handshake, from the registry.
///
/// Safe only together with an [`crate::Authorizer`] that makes that decision: on its own it
/// would let any self-signed certificate connect.
#[derive(Debug)]
struct DeferredClientVerifier {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ClientCertVerifier for DeferredClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: any CA may be registered, and clients send their certificate regardless.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Parsing rejects garbage early, with the alert rustls recommends.
        webpki::EndEntityCert::try_from(end_entity)
            .map(|_| ClientCertVerified::assertion())
            .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
