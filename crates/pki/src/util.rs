//! Helpers shared by the CA, server and CSR code: randomness, PEM and X.509 parsing, names.

use std::path::Path;

use rcgen::string::{BmpString, Ia5String, PrintableString, TeletexString, UniversalString};
use rcgen::{DistinguishedName, DnType, DnValue, KeyPair, SerialNumber};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::der_parser::oid::Oid;
use x509_parser::error::X509Error;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use crate::PkiError;

/// How far back `notBefore` is set, so that peers whose clocks run a little behind ours
/// do not reject a certificate that was issued a moment ago.
pub(crate) const CLOCK_SKEW_ALLOWANCE: Duration = Duration::hours(1);

/// Fills an array with bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], PkiError> {
    let mut buf = [0u8; N];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| PkiError::Random)?;
    Ok(buf)
}

/// A fresh random serial number: 16 bytes, positive, never zero.
///
/// The top bit is cleared so the DER INTEGER is positive without a padding byte, leaving 127
/// random bits, far above the 64 bits that RFC 5280 practice and the CA/Browser Forum ask for
/// to make serials unpredictable.
pub(crate) fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = random_bytes::<16>()?;
    bytes[0] &= 0x7f;
    // A zero first byte would make the encoder strip it; forcing it non-zero keeps every serial
    // exactly 16 bytes long (and rules out the invalid serial 0) at a negligible entropy cost.
    if bytes[0] == 0 {
        bytes[0] = 1;
    }
    Ok(SerialNumber::from_slice(&bytes))
}

/// The current time, truncated to whole seconds because X.509 times carry no fractions.
pub(crate) fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// Reads every `CERTIFICATE` block of a PEM file.
pub(crate) fn parse_cert_pem(
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| PkiError::Pem {
            path: path.to_path_buf(),
            expected: "CERTIFICATE",
            source: Some(source),
        })?;
    if certs.is_empty() {
        return Err(PkiError::Pem {
            path: path.to_path_buf(),
            expected: "CERTIFICATE",
            source: None,
        });
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, SEC1 or PKCS#1) of a PEM file.
///
/// The PEM parser's own error is deliberately dropped: some of its variants quote the offending
/// line or byte, which for a key file could be a fragment of the key.
pub(crate) fn parse_key_pem(
    path: &Path,
    bytes: &[u8],
) -> Result<(KeyPair, PrivateKeyDer<'static>), PkiError> {
    let der = PrivateKeyDer::from_pem_slice(bytes).map_err(|_| PkiError::Pem {
        path: path.to_path_buf(),
        expected: "PRIVATE KEY",
        source: None,
    })?;
    let key = KeyPair::try_from(&der).map_err(|source| PkiError::PrivateKey {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((key, der))
}

/// Parses one DER certificate, rejecting trailing bytes.
pub(crate) fn parse_x509(der: &[u8]) -> Result<X509Certificate<'_>, X509Error> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(X509Error::InvalidCertificate),
        Err(err) => Err(nom_to_x509(err)),
    }
}

/// Flattens a nom error into the X.509 error it wraps.
pub(crate) fn nom_to_x509(err: x509_parser::nom::Err<X509Error>) -> X509Error {
    match err {
        x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e,
        x509_parser::nom::Err::Incomplete(_) => X509Error::InvalidCertificate,
    }
}

/// Whether `key` is the private half of the public key in `cert`.
pub(crate) fn key_matches_cert(key: &KeyPair, cert: &X509Certificate<'_>) -> bool {
    use rcgen::PublicKeyData;
    // Comparing the raw public key bits rather than the whole SubjectPublicKeyInfo avoids false
    // mismatches when a certificate encodes the algorithm parameters slightly differently.
    key.der_bytes() == cert.public_key().subject_public_key.data.as_ref()
}

/// Whether `cert` was signed by `ca` (issuer name and signature both match).
pub(crate) fn is_signed_by(cert: &X509Certificate<'_>, ca: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == ca.subject().as_raw()
        && cert.verify_signature(Some(ca.public_key())).is_ok()
}

/// A readable name for an OID: its short name if x509-parser knows one, else the dotted form.
pub(crate) fn oid_name(oid: &Oid<'_>) -> String {
    x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map(str::to_owned)
        .unwrap_or_else(|_| oid.to_id_string())
}

/// Converts a parsed X.509 name into rcgen's representation, attribute by attribute.
///
/// rcgen keeps one value per attribute type and one attribute per RDN, so names with repeated
/// types (two `OU`s, `DC=example, DC=com`) or multi-valued RDNs are rejected instead of being
/// silently rewritten: a changed subject is a different identity, and a changed issuer name
/// would break chain building.
pub(crate) fn distinguished_name(name: &X509Name<'_>) -> Result<DistinguishedName, String> {
    let mut dn = DistinguishedName::new();
    for rdn in name.iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err(
                "multi-valued or empty relative distinguished names are not supported".into(),
            );
        };
        let attr_name = oid_name(attr.attr_type());
        let arcs: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or_else(|| format!("attribute type {attr_name} has an OID arc too large"))?
            .collect();
        let ty = DnType::from_oid(&arcs);
        if dn.get(&ty).is_some() {
            return Err(format!(
                "attribute {attr_name} appears more than once, which is not supported"
            ));
        }
        let value = attr.attr_value();
        let data: &[u8] = value.data;
        let text = || {
            std::str::from_utf8(data)
                .map_err(|_| format!("attribute {attr_name} is not valid text"))
        };
        let invalid = |kind: &str| format!("attribute {attr_name} is not a valid {kind}");
        let dn_value = match value.header.tag() {
            Tag::Utf8String => DnValue::Utf8String(text()?.to_owned()),
            Tag::PrintableString => DnValue::PrintableString(
                PrintableString::try_from(text()?).map_err(|_| invalid("PrintableString"))?,
            ),
            Tag::Ia5String => {
                DnValue::Ia5String(Ia5String::try_from(text()?).map_err(|_| invalid("IA5String"))?)
            }
            Tag::T61String => DnValue::TeletexString(
                TeletexString::try_from(text()?).map_err(|_| invalid("TeletexString"))?,
            ),
            Tag::BmpString => DnValue::BmpString(
                BmpString::from_utf16be(data.to_vec()).map_err(|_| invalid("BMPString"))?,
            ),
            Tag::UniversalString => DnValue::UniversalString(
                UniversalString::from_utf32be(data.to_vec())
                    .map_err(|_| invalid("UniversalString"))?,
            ),
            other => {
                return Err(format!(
                    "attribute {attr_name} has unsupported value type {other}"
                ));
            }
        };
        dn.push(ty, dn_value);
    }
    Ok(dn)
}
