//! Parsing and checking PKCS#10 certificate signing requests before the CA signs them.
//!
//! The request is parsed with x509-parser rather than rcgen's `CertificateSigningRequestParams`
//! because rcgen rejects any requested extension it does not know, and real-world CSRs (from
//! OpenSSL configs, device SDKs, HSMs) often carry some. thingd ignores requested extensions
//! anyway: the certificate profile is the CA's decision, not the requester's.

use rcgen::DistinguishedName;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::error::X509Error;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_PKCS1_RSASSAPSS, OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA,
    OID_SIG_ECDSA_WITH_SHA256, OID_SIG_ECDSA_WITH_SHA384,
};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::PkiError;
use crate::util::{self, oid_name};

/// Smallest RSA modulus accepted, as for AWS IoT and current NIST guidance.
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted: the largest aws-lc-rs verifies.
pub(crate) const MAX_RSA_BITS: usize = 8192;

/// What the CA needs from a CSR once it has been checked.
pub(crate) struct CheckedCsr {
    /// The requested subject, unchanged.
    pub(crate) subject: DistinguishedName,
    /// The requested subject's DER encoding, for comparisons.
    pub(crate) subject_der: Vec<u8>,
    /// The requester's public key.
    pub(crate) public_key: rcgen::SubjectPublicKeyInfo,
}

/// Parses a PEM CSR, checks its key type and size, verifies its self-signature and extracts
/// the subject and public key.
///
/// The key is checked before the signature so that an undersized RSA key is reported as such,
/// rather than as a signature failure from a verifier that refuses small keys.
pub(crate) fn parse_and_verify(csr_pem: &str) -> Result<CheckedCsr, PkiError> {
    let der = decode_pem(csr_pem)?;
    let csr = match X509CertificationRequest::from_der(&der) {
        Ok(([], csr)) => csr,
        Ok(_) => {
            return Err(PkiError::CsrDer {
                source: X509Error::InvalidCertificate,
            });
        }
        Err(err) => {
            return Err(PkiError::CsrDer {
                source: util::nom_to_x509(err),
            });
        }
    };
    let info = &csr.certification_request_info;

    check_public_key(&info.subject_pki)?;
    check_signature_algorithm(&csr)?;
    csr.verify_signature().map_err(|err| match err {
        X509Error::SignatureUnsupportedAlgorithm => PkiError::CsrUnsupportedSignature {
            algorithm: oid_name(&csr.signature_algorithm.algorithm),
        },
        source => PkiError::CsrSignatureInvalid { source },
    })?;

    if info.subject.iter().next().is_none() {
        return Err(PkiError::CsrSubject {
            problem: "it is empty".into(),
        });
    }
    let subject = util::distinguished_name(&info.subject)
        .map_err(|problem| PkiError::CsrSubject { problem })?;
    let public_key = rcgen::SubjectPublicKeyInfo::from_der(info.subject_pki.raw).map_err(|_| {
        PkiError::CsrUnsupportedKey {
            algorithm: oid_name(&info.subject_pki.algorithm.algorithm),
        }
    })?;
    Ok(CheckedCsr {
        subject,
        subject_der: info.subject.as_raw().to_vec(),
        public_key,
    })
}

/// Extracts the DER of the first PEM block, which must be a certificate request.
fn decode_pem(csr_pem: &str) -> Result<Vec<u8>, PkiError> {
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(csr_pem.as_bytes()).map_err(|err| PkiError::CsrPem {
            problem: match err {
                x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => {
                    e.to_string()
                }
                x509_parser::nom::Err::Incomplete(_) => "truncated input".into(),
            },
        })?;
    // "NEW CERTIFICATE REQUEST" is the label older Microsoft and Netscape tools still emit.
    if pem.label != "CERTIFICATE REQUEST" && pem.label != "NEW CERTIFICATE REQUEST" {
        return Err(PkiError::CsrPem {
            problem: format!("found a {:?} block instead", pem.label),
        });
    }
    Ok(pem.contents)
}

fn check_public_key(spki: &SubjectPublicKeyInfo<'_>) -> Result<(), PkiError> {
    let algorithm = &spki.algorithm.algorithm;
    if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        return match curve {
            Some(curve) if curve == OID_EC_P256 || curve == OID_NIST_EC_P384 => Ok(()),
            Some(curve) => Err(PkiError::CsrUnsupportedKey {
                algorithm: format!("EC key on curve {}", oid_name(&curve)),
            }),
            None => Err(PkiError::CsrUnsupportedKey {
                algorithm: "EC key without a named curve".into(),
            }),
        };
    }
    if *algorithm == OID_PKCS1_RSAENCRYPTION {
        let bits = match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => modulus_bits(rsa.modulus),
            _ => {
                return Err(PkiError::CsrUnsupportedKey {
                    algorithm: "RSA key with a malformed modulus".into(),
                });
            }
        };
        if bits < MIN_RSA_BITS {
            return Err(PkiError::CsrRsaKeyTooSmall {
                bits,
                min: MIN_RSA_BITS,
            });
        }
        if bits > MAX_RSA_BITS {
            return Err(PkiError::CsrRsaKeyTooLarge {
                bits,
                max: MAX_RSA_BITS,
            });
        }
        return Ok(());
    }
    Err(PkiError::CsrUnsupportedKey {
        algorithm: oid_name(algorithm),
    })
}

/// Rejects SHA-1 and anything else outside a short allow-list before verifying, because the
/// verifier would happily accept SHA-1 RSA signatures, which are forgeable in practice.
fn check_signature_algorithm(csr: &X509CertificationRequest<'_>) -> Result<(), PkiError> {
    let algorithm = &csr.signature_algorithm.algorithm;
    let allowed = [
        &OID_PKCS1_SHA256WITHRSA,
        &OID_PKCS1_SHA384WITHRSA,
        &OID_PKCS1_SHA512WITHRSA,
        // RSA-PSS hash parameters are checked by the verifier, which refuses SHA-1 for PSS.
        &OID_PKCS1_RSASSAPSS,
        &OID_SIG_ECDSA_WITH_SHA256,
        &OID_SIG_ECDSA_WITH_SHA384,
    ];
    if allowed.contains(&algorithm) {
        Ok(())
    } else {
        Err(PkiError::CsrUnsupportedSignature {
            algorithm: oid_name(algorithm),
        })
    }
}

/// The bit length of a big-endian unsigned modulus, ignoring DER's leading zero bytes.
///
/// x509-parser's own `key_size` assumes a leading zero byte and under-reports moduli whose
/// top byte is below 0x80, so the length is computed here.
fn modulus_bits(modulus: &[u8]) -> usize {
    let significant = match modulus.iter().position(|&b| b != 0) {
        Some(first) => &modulus[first..],
        None => return 0,
    };
    significant.len() * 8 - significant[0].leading_zeros() as usize
}

#[cfg(test)]
mod tests {
    use super::modulus_bits;

    #[test]
    fn modulus_bits_ignores_leading_zeros() {
        assert_eq!(modulus_bits(&[]), 0);
        assert_eq!(modulus_bits(&[0, 0]), 0);
        assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(modulus_bits(&[0x7f, 0xff]), 15);
        let mut n = vec![0u8; 257];
        n[1] = 0xc1;
        assert_eq!(modulus_bits(&n), 2048);
    }
}
