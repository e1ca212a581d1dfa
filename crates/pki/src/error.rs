//! The single error type of this crate, [`PkiError`].

use std::io;
use std::path::PathBuf;

use x509_parser::error::X509Error;

/// Everything that can go wrong while loading, creating or using thingd's certificates.
///
/// Messages name the file, field or input at fault; the underlying cause, when there is one,
/// is kept as the error's [`source`](std::error::Error::source) rather than repeated in the
/// message, so print the whole chain (for example with `anyhow`'s `{:#}`) to see it.
///
/// No variant ever carries private key material: a key that fails to parse is reported by the
/// path of its file only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A file or directory operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being attempted, such as "read" or "create directory".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A path that must be a directory is something else.
    #[error("{} exists but is not a directory", path.display())]
    NotADirectory {
        /// The offending path.
        path: PathBuf,
    },

    /// A PEM file holds no block of the expected kind, or a malformed one.
    #[error("{} does not contain a valid PEM {expected} block", path.display())]
    Pem {
        /// The file concerned.
        path: PathBuf,
        /// The kind of block that was looked for, such as "CERTIFICATE" or "PRIVATE KEY".
        expected: &'static str,
        /// The PEM parser's complaint, if the file had a malformed block rather than none.
        #[source]
        source: Option<rustls_pki_types::pem::Error>,
    },

    /// A certificate could not be parsed as X.509.
    #[error("{} holds a certificate that cannot be parsed as X.509", path.display())]
    Certificate {
        /// The file concerned.
        path: PathBuf,
        /// The X.509 parser's complaint.
        #[source]
        source: X509Error,
    },

    /// A private key could not be parsed or is of an unsupported type.
    #[error("{} holds a private key that cannot be used (unparsable or unsupported type)", path.display())]
    PrivateKey {
        /// The file concerned.
        path: PathBuf,
        /// rcgen's complaint, which never includes key material.
        #[source]
        source: rcgen::Error,
    },

    /// A private key does not belong to the certificate it is stored next to.
    #[error("the private key in {} does not match the certificate in {}", key_path.display(), cert_path.display())]
    KeyMismatch {
        /// The key file.
        key_path: PathBuf,
        /// The certificate file.
        cert_path: PathBuf,
    },

    /// Only one of the CA's two files exists.
    ///
    /// thingd refuses to generate a fresh CA over the surviving half, because that would
    /// silently invalidate every certificate and trust store that relies on the old one.
    #[error(
        "{} exists but {} is missing; restore the missing file, or remove both to create a new CA",
        present.display(),
        missing.display()
    )]
    IncompleteCa {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },

    /// The certificate in the CA file cannot act as thingd's certificate authority.
    #[error("{} cannot be used as the CA certificate: {problem}", path.display())]
    CaCertificateUnusable {
        /// The CA certificate file.
        path: PathBuf,
        /// What disqualifies it.
        problem: String,
        /// rcgen's complaint, when rcgen was the one to refuse it.
        #[source]
        source: Option<rcgen::Error>,
    },

    /// The CA certificate has expired, so nothing it signs would verify.
    #[error(
        "the CA certificate in {} expired on {not_after}; remove the CA files to create a new \
         CA (every certificate it issued must then be re-issued)",
        path.display()
    )]
    CaExpired {
        /// The CA certificate file.
        path: PathBuf,
        /// When it expired.
        not_after: String,
    },

    /// A host name given for the server certificate is neither an IP address nor a valid DNS name.
    #[error("invalid server host name {name:?}: {problem}")]
    InvalidHostname {
        /// The name as given.
        name: String,
        /// Why it was rejected.
        problem: &'static str,
    },

    /// A common name for a device certificate is unusable.
    #[error("invalid certificate common name {name:?}: {problem}")]
    InvalidCommonName {
        /// The name as given.
        name: String,
        /// Why it was rejected.
        problem: &'static str,
    },

    /// A file already exists and overwriting it was not allowed.
    #[error("{} already exists; refusing to overwrite it", path.display())]
    FileExists {
        /// The existing file.
        path: PathBuf,
    },

    /// The CSR is not PEM-encoded or has no `CERTIFICATE REQUEST` block.
    #[error("the CSR is not a PEM \"CERTIFICATE REQUEST\" block ({problem})")]
    CsrPem {
        /// What is wrong with the PEM text.
        problem: String,
    },

    /// The CSR's DER is not a valid PKCS#10 certification request.
    #[error("the CSR is not a valid PKCS#10 certification request")]
    CsrDer {
        /// The parser's complaint.
        #[source]
        source: X509Error,
    },

    /// The CSR's RSA key is shorter than the accepted minimum.
    #[error("the CSR's RSA key has {bits} bits; at least {min} bits are required")]
    CsrRsaKeyTooSmall {
        /// The key's modulus length.
        bits: usize,
        /// The smallest accepted modulus length.
        min: usize,
    },

    /// The CSR's RSA key is longer than can be verified.
    #[error("the CSR's RSA key has {bits} bits; at most {max} bits are supported")]
    CsrRsaKeyTooLarge {
        /// The key's modulus length.
        bits: usize,
        /// The largest accepted modulus length.
        max: usize,
    },

    /// The CSR's public key type or curve is not one thingd issues certificates for.
    #[error(
        "the CSR's public key ({algorithm}) is not supported; use ECDSA P-256, ECDSA P-384 or RSA with at least 2048 bits"
    )]
    CsrUnsupportedKey {
        /// The key algorithm (and curve, for EC keys), by name or dotted OID.
        algorithm: String,
    },

    /// The CSR was signed with an algorithm that is weak or unsupported.
    #[error("the CSR's signature algorithm {algorithm} is not accepted")]
    CsrUnsupportedSignature {
        /// The signature algorithm, by name or dotted OID.
        algorithm: String,
    },

    /// The CSR's self-signature does not verify with the public key it contains.
    #[error(
        "the CSR's signature does not verify with its own public key (corrupted or tampered with)"
    )]
    CsrSignatureInvalid {
        /// The verifier's complaint.
        #[source]
        source: X509Error,
    },

    /// The CSR's subject cannot be carried over into a certificate.
    #[error("the CSR's subject cannot be used: {problem}")]
    CsrSubject {
        /// What is wrong with the subject.
        problem: String,
    },

    /// Key generation or certificate signing failed inside rcgen or aws-lc-rs.
    #[error("failed to {action}")]
    Crypto {
        /// What was being done, such as "sign the server certificate".
        action: &'static str,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },

    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}
