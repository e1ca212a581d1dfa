//! thingd's public key infrastructure: the root CA, the broker's server certificate, device
//! certificates and CSR signing.
//!
//! On first start `thingd serve` calls [`CertificateAuthority::load_or_create`] and
//! [`ServerIdentity::load_or_issue`] on its data directory, which then holds:
//!
//! | file             | mode | content                                           |
//! |------------------|------|---------------------------------------------------|
//! | `ca.pem`         | 0644 | root CA certificate; clients put it in their trust store |
//! | `ca-key.pem`     | 0600 | root CA private key (PKCS#8)                      |
//! | `server.pem`     | 0644 | the broker's TLS certificate, signed by the CA   |
//! | `server-key.pem` | 0600 | the broker's private key (PKCS#8)                 |
//!
//! The directory itself is created 0700. Every file is written atomically (temporary file,
//! then rename), and key files are created 0600 from the start.
//!
//! Device certificates come from [`CertificateAuthority::issue_client_certificate`] (new key
//! pair, like AWS IoT's `CreateKeysAndCertificate`) or [`CertificateAuthority::sign_csr`]
//! (like `CreateCertificateFromCsr`); [`write_client_bundle`] stores one for a device.
//!
//! All cryptography is aws-lc-rs (through rcgen and x509-parser); this crate is synchronous
//! and does no networking.
//!
//! ```
//! use thingd_pki::{CertificateAuthority, ServerIdentity, write_client_bundle};
//!
//! # fn main() -> Result<(), thingd_pki::PkiError> {
//! # let tmp = tempfile::tempdir().unwrap();
//! # let data_dir = tmp.path().join("thingd-data");
//! let ca = CertificateAuthority::load_or_create(&data_dir)?;
//! let server = ServerIdentity::load_or_issue(&data_dir, &ca, &["mqtt.example.com".into()])?;
//! // server.cert_chain_der() and server.private_key_der() go into rustls::ServerConfig.
//!
//! let device = ca.issue_client_certificate("kitchen-sensor")?;
//! write_client_bundle(&data_dir.join("kitchen-sensor"), &device, ca.ca_pem(), false)?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod bundle;
mod ca;
mod csr;
mod error;
mod fs;
mod server;
mod util;

pub use bundle::{BUNDLE_CA_FILE, BUNDLE_CERT_FILE, BUNDLE_KEY_FILE, write_client_bundle};
pub use ca::{
    CA_COMMON_NAME, CA_ORGANIZATION, CA_VALIDITY, CertificateAuthority, CertificateFromCsr,
    DEVICE_CERT_NOT_AFTER, IssuedCertificate, MAX_COMMON_NAME_CHARS,
};
pub use error::PkiError;
pub use fs::ensure_private_dir;
pub use server::{
    IssueReason, SERVER_CERT_RENEW_BEFORE, SERVER_CERT_VALIDITY, SERVER_COMMON_NAME, ServerIdentity,
};

/// File name of the CA certificate in the data directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key in the data directory.
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// File name of the server certificate in the data directory.
pub const SERVER_CERT_FILE: &str = "server.pem";
/// File name of the server private key in the data directory.
pub const SERVER_KEY_FILE: &str = "server-key.pem";

/// The AWS IoT certificate ID of a certificate: the lowercase hex SHA-256 of its DER encoding.
pub fn certificate_id(der: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The broker shares one CA and one server identity between all its connection tasks.
    #[test]
    fn shared_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CertificateAuthority>();
        assert_send_sync::<ServerIdentity>();
        assert_send_sync::<IssuedCertificate>();
        assert_send_sync::<CertificateFromCsr>();
        assert_send_sync::<PkiError>();
    }

    #[test]
    fn certificate_id_is_lowercase_hex_sha256() {
        // SHA-256("abc") from FIPS 180-2, appendix B.1.
        assert_eq!(
            certificate_id(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            certificate_id(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
