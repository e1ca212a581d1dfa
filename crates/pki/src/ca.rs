//! The root certificate authority and the device certificates it issues.

use std::fmt;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime, macros::datetime};
use x509_parser::certificate::X509Certificate;

use crate::fs::{
    PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, Replace, ensure_private_dir, read_optional, write_atomic,
};
use crate::util::{
    self, CLOCK_SKEW_ALLOWANCE, key_matches_cert, now, parse_cert_pem, parse_key_pem, parse_x509,
    random_serial,
};
use crate::{CA_CERT_FILE, CA_KEY_FILE, PkiError, certificate_id, csr};

/// Subject common name of a CA that thingd generates.
pub const CA_COMMON_NAME: &str = "thingd root CA";
/// Subject organization of a CA that thingd generates.
pub const CA_ORGANIZATION: &str = "thingd";
/// Validity of a CA that thingd generates: ten years (plus the back-dated clock-skew hour).
pub const CA_VALIDITY: Duration = Duration::days(3650);
/// Expiry of every device certificate, matching the certificates AWS IoT Core issues through
/// `CreateKeysAndCertificate` and `CreateCertificateFromCsr`.
pub const DEVICE_CERT_NOT_AFTER: OffsetDateTime = datetime!(2049-12-31 23:59:59 UTC);
/// Longest accepted device common name: the X.520 upper bound for `commonName`.
pub const MAX_COMMON_NAME_CHARS: usize = 64;

/// thingd's certificate authority: a CA certificate and the key that signs with it.
///
/// A CA that thingd generates is ECDSA P-256, valid for ten years, with the key usages
/// `keyCertSign` and `cRLSign` and `pathLenConstraint = 0`: it signs device and server
/// certificates directly and can never delegate to an intermediate CA, which keeps the
/// blast radius of the single on-disk key as small as possible.
///
/// An existing CA may use any key rcgen can sign with (ECDSA P-256/P-384, RSA, Ed25519).
pub struct CertificateAuthority {
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
    not_after: OffsetDateTime,
    created: bool,
}

impl CertificateAuthority {
    /// Loads the CA from `dir/ca.pem` and `dir/ca-key.pem`, or creates a new one there if
    /// neither file exists.
    ///
    /// `dir` is created with mode 0700 if missing. A new key is written with mode 0600 and
    /// neither file is ever visible half-written.
    ///
    /// # Errors
    ///
    /// [`PkiError::IncompleteCa`] if only one of the two files exists; otherwise as for
    /// [`load`](Self::load) when loading, or an I/O or crypto error when creating.
    pub fn load_or_create(dir: &Path) -> Result<Self, PkiError> {
        ensure_private_dir(dir)?;
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        match (read_optional(&cert_path)?, read_optional(&key_path)?) {
            (Some(cert), Some(key)) => Self::from_pem_files(&cert_path, &cert, &key_path, &key),
            (None, None) => {
                let mut ca = Self::generate()?;
                ca.save(&cert_path, &key_path)?;
                ca.created = true;
                Ok(ca)
            }
            (Some(_), None) => Err(PkiError::IncompleteCa {
                present: cert_path,
                missing: key_path,
            }),
            (None, Some(_)) => Err(PkiError::IncompleteCa {
                present: key_path,
                missing: cert_path,
            }),
        }
    }

    /// Loads an existing CA from `dir/ca.pem` and `dir/ca-key.pem`, never creating one.
    ///
    /// This suits commands such as `thingd cert issue`, where silently creating a second CA in
    /// a mistyped directory would hand out certificates nobody trusts.
    ///
    /// # Errors
    ///
    /// [`PkiError::Io`] if a file is missing or unreadable; [`PkiError::Pem`],
    /// [`PkiError::Certificate`] or [`PkiError::PrivateKey`] naming the file that cannot be
    /// parsed; [`PkiError::KeyMismatch`] if the key is not the certificate's;
    /// [`PkiError::CaCertificateUnusable`] if the certificate cannot sign certificates;
    /// [`PkiError::CaExpired`] if it has expired.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| crate::fs::io_error("read", path, source))
        };
        Self::from_pem_files(&cert_path, &read(&cert_path)?, &key_path, &read(&key_path)?)
    }

    /// Generates a new CA in memory, without touching the disk.
    ///
    /// Useful for tests and for callers that store the CA elsewhere; persist it with
    /// [`ca_pem`](Self::ca_pem) and [`private_key_pem`](Self::private_key_pem).
    ///
    /// # Errors
    ///
    /// [`PkiError::Crypto`] or [`PkiError::Random`] if key generation or signing fails.
    pub fn generate() -> Result<Self, PkiError> {
        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| PkiError::Crypto {
                action: "generate the CA key",
                source,
            })?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, CA_COMMON_NAME);
        dn.push(DnType::OrganizationName, CA_ORGANIZATION);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(random_serial()?);
        let now = now();
        params.not_before = now - CLOCK_SKEW_ALLOWANCE;
        params.not_after = now + CA_VALIDITY;
        let cert = params
            .self_signed(&key)
            .map_err(|source| PkiError::Crypto {
                action: "self-sign the CA certificate",
                source,
            })?;
        Self::from_parts(cert.der().clone(), key).map_err(|source| PkiError::Crypto {
            action: "load the freshly generated CA certificate",
            source,
        })
    }

    /// Builds the CA from files already read into memory, checking everything that could make
    /// it unusable and naming the file at fault.
    fn from_pem_files(
        cert_path: &Path,
        cert_bytes: &[u8],
        key_path: &Path,
        key_bytes: &[u8],
    ) -> Result<Self, PkiError> {
        // Only the first certificate matters; anything after it (a bundle someone appended)
        // plays no part in signing. `parse_cert_pem` never returns an empty list.
        let cert_der = parse_cert_pem(cert_path, cert_bytes)?.swap_remove(0);
        let (key, _) = parse_key_pem(key_path, key_bytes)?;
        {
            let cert = parse_x509(&cert_der).map_err(|source| PkiError::Certificate {
                path: cert_path.to_path_buf(),
                source,
            })?;
            check_usable_ca(cert_path, &cert)?;
            if !key_matches_cert(&key, &cert) {
                return Err(PkiError::KeyMismatch {
                    key_path: key_path.to_path_buf(),
                    cert_path: cert_path.to_path_buf(),
                });
            }
        }
        Self::from_parts(cert_der, key).map_err(|source| PkiError::CaCertificateUnusable {
            path: cert_path.to_path_buf(),
            problem: "rcgen cannot use it as an issuer".into(),
            source: Some(source),
        })
    }

    fn from_parts(cert_der: CertificateDer<'static>, key: KeyPair) -> Result<Self, rcgen::Error> {
        // Reading the issuer back from the certificate (rather than from the parameters it was
        // made with) means a generated and a loaded CA take the same path, and issued
        // certificates carry exactly the CA's subject bytes and subject key identifier.
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)?;
        let not_after = parse_x509(&cert_der)
            .map_err(|_| rcgen::Error::CouldNotParseCertificate)?
            .validity()
            .not_after
            .to_datetime();
        let cert_pem = pem_encode("CERTIFICATE", &cert_der);
        Ok(Self {
            cert_der,
            cert_pem,
            issuer,
            not_after,
            created: false,
        })
    }

    fn save(&self, cert_path: &Path, key_path: &Path) -> Result<(), PkiError> {
        // Neither file may replace an existing one: if another process created a CA in the
        // meantime, losing the race with an error beats clobbering its key.
        write_atomic(
            key_path,
            self.private_key_pem().as_bytes(),
            PRIVATE_FILE_MODE,
            Replace::No,
        )?;
        if let Err(err) = write_atomic(
            cert_path,
            self.cert_pem.as_bytes(),
            PUBLIC_FILE_MODE,
            Replace::No,
        ) {
            // A key without its certificate would block the next start with `IncompleteCa`;
            // since nothing can depend on this brand-new key yet, removing it is safe.
            let _ = std::fs::remove_file(key_path);
            return Err(err);
        }
        Ok(())
    }

    /// The CA certificate, PEM-encoded: what clients put in their trust store (`ca.pem`).
    pub fn ca_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER-encoded, e.g. for a `rustls::RootCertStore`.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The CA's private key as PKCS#8 PEM, for callers that persist the CA themselves.
    ///
    /// Handle with care: this is the key that makes every device certificate trustworthy.
    pub fn private_key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// The CA certificate's AWS-style certificate ID (see [`certificate_id`]).
    pub fn certificate_id(&self) -> String {
        certificate_id(&self.cert_der)
    }

    /// When the CA certificate expires; every certificate it issued stops verifying then,
    /// so this is worth a warning well in advance.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Whether [`load_or_create`](Self::load_or_create) generated this CA just now (as opposed
    /// to loading it), so a caller can tell the operator to distribute the new `ca.pem`.
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// Whether `cert_der` is a certificate issued by this CA: its issuer name is this CA's
    /// subject and its signature verifies with this CA's key. Validity dates are not checked.
    pub fn is_issuer_of(&self, cert_der: &[u8]) -> bool {
        match (parse_x509(cert_der), parse_x509(&self.cert_der)) {
            (Ok(cert), Ok(ca)) => util::is_signed_by(&cert, &ca),
            _ => false,
        }
    }

    /// Issues a device (TLS client) certificate with a freshly generated ECDSA P-256 key, like
    /// AWS IoT's `CreateKeysAndCertificate`.
    ///
    /// The subject is `CN=<common_name>`, the extended key usage `clientAuth`, the serial
    /// number random, and the certificate is valid from now (less an hour for clock skew)
    /// until [`DEVICE_CERT_NOT_AFTER`].
    ///
    /// # Errors
    ///
    /// [`PkiError::InvalidCommonName`] if `common_name` is empty, longer than
    /// [`MAX_COMMON_NAME_CHARS`] characters or contains control characters;
    /// [`PkiError::Crypto`] or [`PkiError::Random`] if key generation or signing fails.
    pub fn issue_client_certificate(
        &self,
        common_name: &str,
    ) -> Result<IssuedCertificate, PkiError> {
        validate_common_name(common_name)?;
        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| PkiError::Crypto {
                action: "generate a device key",
                source,
            })?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        let params = leaf_params(
            dn,
            ExtendedKeyUsagePurpose::ClientAuth,
            DEVICE_CERT_NOT_AFTER,
        )?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|source| PkiError::Crypto {
                action: "sign the device certificate",
                source,
            })?;
        let certificate_der = cert.der().clone();
        Ok(IssuedCertificate {
            certificate_pem: cert.pem(),
            certificate_id: certificate_id(&certificate_der),
            certificate_der,
            private_key_pem: key.serialize_pem(),
            public_key_pem: key.public_key_pem(),
        })
    }

    /// Signs a PEM certificate signing request, like AWS IoT's `CreateCertificateFromCsr`.
    ///
    /// Accepted keys are ECDSA P-256, ECDSA P-384 and RSA of 2048 to 8192 bits; the CSR's
    /// self-signature must verify with SHA-256 or stronger. The CSR's subject is copied as is;
    /// requested extensions are ignored, and the certificate gets the same profile as
    /// [`issue_client_certificate`](Self::issue_client_certificate): `clientAuth`, random
    /// serial, valid until [`DEVICE_CERT_NOT_AFTER`].
    ///
    /// # Errors
    ///
    /// One of the `PkiError::Csr*` variants naming what is wrong with the request, or
    /// [`PkiError::Crypto`] / [`PkiError::Random`] if signing fails.
    pub fn sign_csr(&self, csr_pem: &str) -> Result<CertificateFromCsr, PkiError> {
        let csr = csr::parse_and_verify(csr_pem)?;
        // A leaf named exactly like its issuer looks self-issued, which confuses chain building
        // in some TLS stacks (OpenSSL among them), and could be mistaken for the CA by people.
        if parse_x509(&self.cert_der).is_ok_and(|ca| csr.subject_der == ca.subject().as_raw()) {
            return Err(PkiError::CsrSubject {
                problem: "it is the CA's own subject".into(),
            });
        }
        let params = leaf_params(
            csr.subject,
            ExtendedKeyUsagePurpose::ClientAuth,
            DEVICE_CERT_NOT_AFTER,
        )?;
        let cert = params
            .signed_by(&csr.public_key, &self.issuer)
            .map_err(|source| PkiError::Crypto {
                action: "sign the certificate for the CSR",
                source,
            })?;
        let certificate_der = cert.der().clone();
        Ok(CertificateFromCsr {
            certificate_pem: cert.pem(),
            certificate_id: certificate_id(&certificate_der),
            certificate_der,
        })
    }

    /// Signs end-entity parameters with the CA key; the server module builds on this.
    pub(crate) fn sign(
        &self,
        params: &CertificateParams,
        public_key: &impl PublicKeyData,
    ) -> Result<rcgen::Certificate, rcgen::Error> {
        params.signed_by(public_key, &self.issuer)
    }
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("certificate_id", &self.certificate_id())
            .field("not_after", &self.not_after)
            .field("created", &self.created)
            .field("private_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Checks that a loaded certificate can act as the CA: CA:TRUE, allowed to sign certificates,
/// representable by rcgen without changing its subject, and not expired.
fn check_usable_ca(path: &Path, cert: &X509Certificate<'_>) -> Result<(), PkiError> {
    let unusable = |problem: String| PkiError::CaCertificateUnusable {
        path: path.to_path_buf(),
        problem,
        source: None,
    };
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {}
        Ok(_) => return Err(unusable("basicConstraints does not say CA:TRUE".into())),
        Err(err) => return Err(unusable(format!("invalid basicConstraints: {err}"))),
    }
    match cert.key_usage() {
        Ok(Some(ku)) if !ku.value.key_cert_sign() => {
            return Err(unusable("keyUsage does not include keyCertSign".into()));
        }
        Ok(_) => {}
        Err(err) => return Err(unusable(format!("invalid keyUsage: {err}"))),
    }
    // rcgen re-encodes the CA's subject as the issuer of every certificate it signs, so the
    // subject must survive that round trip unchanged or chains would no longer build.
    util::distinguished_name(cert.subject())
        .map_err(|problem| unusable(format!("its subject cannot be reproduced: {problem}")))?;
    let not_after = cert.validity().not_after;
    if not_after.to_datetime() <= OffsetDateTime::now_utc() {
        return Err(PkiError::CaExpired {
            path: path.to_path_buf(),
            not_after: not_after.to_string(),
        });
    }
    Ok(())
}

/// The profile shared by every end-entity certificate this CA issues.
pub(crate) fn leaf_params(
    subject: DistinguishedName,
    purpose: ExtendedKeyUsagePurpose,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    params.serial_number = Some(random_serial()?);
    params.not_before = now() - CLOCK_SKEW_ALLOWANCE;
    params.not_after = not_after;
    // `ExplicitNoCa` writes basicConstraints CA:FALSE, so no verifier can mistake a device
    // certificate for a CA, and makes rcgen add a subject key identifier.
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![purpose];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn validate_common_name(name: &str) -> Result<(), PkiError> {
    let problem = if name.is_empty() {
        Some("it is empty")
    } else if name.chars().count() > MAX_COMMON_NAME_CHARS {
        Some("it is longer than 64 characters")
    } else if name.chars().any(char::is_control) {
        Some("it contains control characters")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(PkiError::InvalidCommonName {
            name: name.to_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

/// PEM-encodes DER with the given label, 64 columns, LF line endings.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der.to_vec()), config)
}

/// A device certificate together with the key pair generated for it.
///
/// This mirrors the response of AWS IoT's `CreateKeysAndCertificate`. The private key exists
/// only here: thingd does not keep it, so it must be handed to the device (or written with
/// [`write_client_bundle`](crate::write_client_bundle)) before this value is dropped.
#[non_exhaustive]
pub struct IssuedCertificate {
    /// The certificate, PEM-encoded.
    pub certificate_pem: String,
    /// The certificate, DER-encoded.
    pub certificate_der: CertificateDer<'static>,
    /// The device's private key, PKCS#8 PEM.
    pub private_key_pem: String,
    /// The device's public key, SubjectPublicKeyInfo PEM.
    pub public_key_pem: String,
    /// The certificate's AWS-style ID (see [`certificate_id`]).
    pub certificate_id: String,
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("certificate_id", &self.certificate_id)
            .field("certificate_pem", &self.certificate_pem)
            .field("public_key_pem", &self.public_key_pem)
            .field("private_key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A certificate issued for a CSR; the private key stays with whoever made the request.
///
/// This mirrors the response of AWS IoT's `CreateCertificateFromCsr`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CertificateFromCsr {
    /// The certificate, PEM-encoded.
    pub certificate_pem: String,
    /// The certificate, DER-encoded.
    pub certificate_der: CertificateDer<'static>,
    /// The certificate's AWS-style ID (see [`certificate_id`]).
    pub certificate_id: String,
}
