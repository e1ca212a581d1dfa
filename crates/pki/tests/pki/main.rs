//! Integration tests for thingd-pki, in one binary to keep link time down.
//!
//! The CSR fixtures in `tests/data` were made once with OpenSSL 3.0 (their private keys were
//! discarded), because neither rcgen nor aws-lc-rs will create a 1024-bit RSA key or sign with
//! SHA-1:
//!
//! - `rsa1024.csr.pem`: `openssl req -new -newkey rsa:1024 -nodes -subj "/CN=legacy-device/O=Acme"`
//! - `rsa2048-sha1.csr.pem`: `openssl req -new -newkey rsa:2048 -nodes -subj "/CN=sha1-device" -sha1`
//! - `openssl-p256-extensions.csr.pem`: a P-256 CSR with a challengePassword attribute and
//!   requested SAN, keyUsage, extendedKeyUsage, basicConstraints CA:TRUE and a private-OID
//!   extension, all of which the CA must ignore.

// Clippy's test exemption covers `#[test]` functions only, not the helpers they share; a panic
// in a helper is just as much a failed test.
#![allow(clippy::unwrap_used)]

mod bundle;
mod ca;
mod csr;
mod server;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig, ServerConnection,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use thingd_pki::CertificateAuthority;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn roots(ca: &CertificateAuthority) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.ca_der().clone()).unwrap();
    Arc::new(roots)
}

/// Verifies `cert` as a TLS client certificate against `ca`, as the broker will.
fn verify_client(
    ca: &CertificateAuthority,
    cert: &CertificateDer<'_>,
) -> Result<(), rustls::Error> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca), provider())
        .build()
        .unwrap();
    verifier
        .verify_client_cert(cert, &[], UnixTime::now())
        .map(|_| ())
}

/// Verifies `chain` as a TLS server certificate for `name` against `ca`, as a client will.
fn verify_server(
    ca: &CertificateAuthority,
    chain: &[CertificateDer<'static>],
    name: &str,
) -> Result<(), rustls::Error> {
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(ca), provider())
        .build()
        .unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    verifier
        .verify_server_cert(&chain[0], &chain[1..], &name, &[], UnixTime::now())
        .map(|_| ())
}

/// Runs a complete in-memory mutual-TLS handshake between a client and a server.
fn handshake(
    ca: &CertificateAuthority,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    client_chain: Vec<CertificateDer<'static>>,
    client_key: PrivateKeyDer<'static>,
    server_name: &str,
) -> Result<(), rustls::Error> {
    let client_verifier = WebPkiClientVerifier::builder_with_provider(roots(ca), provider())
        .build()
        .unwrap();
    let server_config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(server_chain, server_key)
        .unwrap();
    let client_config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(ca))
        .with_client_auth_cert(client_chain, client_key)
        .unwrap();
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let mut client = Connection::Client(ClientConnection::new(Arc::new(client_config), name)?);
    let mut server = Connection::Server(ServerConnection::new(Arc::new(server_config))?);

    for _ in 0..16 {
        pump(&mut client, &mut server)?;
        pump(&mut server, &mut client)?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    panic!("handshake did not finish");
}

/// Moves every pending TLS record from `from` to `to` and lets `to` process them.
fn pump(from: &mut Connection, to: &mut Connection) -> Result<(), rustls::Error> {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).unwrap();
    }
    let mut rd = &buf[..];
    while !rd.is_empty() {
        to.read_tls(&mut rd).unwrap();
        to.process_new_packets()?;
    }
    Ok(())
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn parse_cert(der: &[u8]) -> x509_parser::certificate::X509Certificate<'_> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    assert!(rest.is_empty());
    cert
}
