//! Tests of CSR signing: accepted key types, rejected keys and algorithms, malformed input.

use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair, PublicKeyData,
    RsaKeySize, SignatureAlgorithm,
};
use thingd_pki::{CertificateAuthority, DEVICE_CERT_NOT_AFTER, PkiError};

use crate::{parse_cert, verify_client};

const RSA_1024_CSR: &str = include_str!("../data/rsa1024.csr.pem");
const RSA_2048_SHA1_CSR: &str = include_str!("../data/rsa2048-sha1.csr.pem");
const OPENSSL_P256_EXTENSIONS_CSR: &str = include_str!("../data/openssl-p256-extensions.csr.pem");

/// A CSR for `CN=<cn>, O=Acme` signed by `key`.
fn csr_for(key: &KeyPair, cn: &str) -> String {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Acme");
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.serialize_request(key).unwrap().pem().unwrap()
}

/// Signs a CSR for a new key of type `alg` and checks the result end to end.
fn sign_and_check(alg: &'static SignatureAlgorithm, key: KeyPair) {
    assert_eq!(key.algorithm(), alg);
    let ca = CertificateAuthority::generate().unwrap();
    let csr_pem = csr_for(&key, "csr-device");
    let signed = ca.sign_csr(&csr_pem).unwrap();

    verify_client(&ca, &signed.certificate_der).unwrap();
    assert_eq!(
        signed.certificate_id,
        thingd_pki::certificate_id(&signed.certificate_der)
    );

    let cert = parse_cert(&signed.certificate_der);
    let csr_der = rustls_pki_types::pem::PemObject::from_pem_slice(csr_pem.as_bytes());
    let csr_der: rustls_pki_types::CertificateSigningRequestDer<'_> = csr_der.unwrap();
    let (_, csr) = <x509_parser::certification_request::X509CertificationRequest<'_> as
        x509_parser::prelude::FromDer<'_, _>>::from_der(csr_der.as_ref())
    .unwrap();
    assert_eq!(
        cert.subject().as_raw(),
        csr.certification_request_info.subject.as_raw(),
        "subject must be copied unchanged"
    );
    assert_eq!(cert.public_key().raw, key.subject_public_key_info());
    assert_eq!(
        cert.validity().not_after.to_datetime(),
        DEVICE_CERT_NOT_AFTER
    );
    assert!(
        cert.extended_key_usage()
            .unwrap()
            .unwrap()
            .value
            .client_auth
    );
}

#[test]
fn p256_csr_is_signed() {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    sign_and_check(&rcgen::PKCS_ECDSA_P256_SHA256, key);
}

#[test]
fn p384_csr_is_signed() {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    sign_and_check(&rcgen::PKCS_ECDSA_P384_SHA384, key);
}

#[test]
fn rsa_2048_csr_is_signed() {
    let key = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap();
    sign_and_check(&rcgen::PKCS_RSA_SHA256, key);
}

#[test]
fn rsa_1024_csr_is_rejected_with_a_clear_message() {
    let ca = CertificateAuthority::generate().unwrap();
    let err = ca.sign_csr(RSA_1024_CSR).unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::CsrRsaKeyTooSmall {
                bits: 1024,
                min: 2048
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the CSR's RSA key has 1024 bits; at least 2048 bits are required"
    );
}

#[test]
fn sha1_signed_csr_is_rejected() {
    let ca = CertificateAuthority::generate().unwrap();
    let err = ca.sign_csr(RSA_2048_SHA1_CSR).unwrap_err();
    assert!(
        matches!(err, PkiError::CsrUnsupportedSignature { .. }),
        "{err:?}"
    );
    assert!(err.to_string().to_lowercase().contains("sha1"), "{err}");
}

#[test]
fn ed25519_csr_is_rejected() {
    let ca = CertificateAuthority::generate().unwrap();
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let err = ca.sign_csr(&csr_for(&key, "ed")).unwrap_err();
    assert!(matches!(err, PkiError::CsrUnsupportedKey { .. }), "{err:?}");
    assert!(err.to_string().contains("ECDSA P-256"), "{err}");
}

#[test]
fn requested_extensions_are_ignored_and_subject_kept() {
    let ca = CertificateAuthority::generate().unwrap();
    let signed = ca.sign_csr(OPENSSL_P256_EXTENSIONS_CSR).unwrap();
    verify_client(&ca, &signed.certificate_der).unwrap();

    let cert = parse_cert(&signed.certificate_der);
    assert_eq!(
        cert.subject().to_string(),
        "C=DE, ST=Berlin, O=Acme Devices, OU=Sensors, CN=sensor-0042"
    );
    // The CSR asked for CA:TRUE, serverAuth and SANs; the CA's profile wins.
    assert!(!cert.basic_constraints().unwrap().unwrap().value.ca);
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    assert!(cert.subject_alternative_name().unwrap().is_none());
    assert!(
        cert.iter_extensions()
            .all(|ext| ext.oid.to_id_string() != "1.3.6.1.4.1.55555.1")
    );
}

#[test]
fn rcgen_csr_with_unknown_extension_is_accepted() {
    let ca = CertificateAuthority::generate().unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["device.example".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "ext-device");
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 55555, 2],
            vec![0x05, 0x00],
        ));
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let signed = ca.sign_csr(&csr).unwrap();
    verify_client(&ca, &signed.certificate_der).unwrap();
}

#[test]
fn garbage_is_rejected() {
    let ca = CertificateAuthority::generate().unwrap();

    let err = ca.sign_csr("hello world").unwrap_err();
    assert!(matches!(err, PkiError::CsrPem { .. }), "{err:?}");

    let err = ca.sign_csr("").unwrap_err();
    assert!(matches!(err, PkiError::CsrPem { .. }), "{err:?}");

    // A certificate is not a request.
    let err = ca.sign_csr(ca.ca_pem()).unwrap_err();
    assert!(matches!(err, PkiError::CsrPem { .. }), "{err:?}");
    assert!(err.to_string().contains("CERTIFICATE"), "{err}");

    // Correct label, garbage inside.
    let junk = pem::encode(&pem::Pem::new(
        "CERTIFICATE REQUEST",
        b"\x30\x03\x02\x01\x00".to_vec(),
    ));
    let err = ca.sign_csr(&junk).unwrap_err();
    assert!(matches!(err, PkiError::CsrDer { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
}

/// Re-encodes `csr_pem` after letting `tamper` modify its DER.
fn tampered(csr_pem: &str, tamper: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut der = pem::parse(csr_pem).unwrap().into_contents();
    tamper(&mut der);
    pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der))
}

#[test]
fn tampered_csr_is_rejected() {
    let ca = CertificateAuthority::generate().unwrap();
    let key = KeyPair::generate().unwrap();
    let csr = csr_for(&key, "honest-device");

    // Change the requested subject after signing: "honest" becomes "hOnest".
    let forged_subject = tampered(&csr, |der| {
        let at = der.windows(6).position(|w| w == b"honest").unwrap();
        der[at + 1] = b'O';
    });
    let err = ca.sign_csr(&forged_subject).unwrap_err();
    assert!(
        matches!(err, PkiError::CsrSignatureInvalid { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("does not verify"), "{err}");

    // Damage the signature itself (the last byte of the DER is inside it).
    let broken_signature = tampered(&csr, |der| {
        let last = der.len() - 1;
        der[last] ^= 0x01;
    });
    let err = ca.sign_csr(&broken_signature).unwrap_err();
    assert!(
        matches!(err, PkiError::CsrSignatureInvalid { .. }),
        "{err:?}"
    );

    // The untouched CSR is fine.
    ca.sign_csr(&csr).unwrap();
}

#[test]
fn csr_with_empty_subject_is_rejected() {
    let ca = CertificateAuthority::generate().unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["device.example".to_owned()]).unwrap();
    params.distinguished_name = DistinguishedName::new();
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let err = ca.sign_csr(&csr).unwrap_err();
    assert!(matches!(err, PkiError::CsrSubject { .. }), "{err:?}");
}

#[test]
fn csr_impersonating_the_ca_is_rejected() {
    let ca = CertificateAuthority::generate().unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, thingd_pki::CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, thingd_pki::CA_ORGANIZATION);
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let err = ca.sign_csr(&csr).unwrap_err();
    assert!(matches!(err, PkiError::CsrSubject { .. }), "{err:?}");
    assert!(err.to_string().contains("CA's own subject"), "{err}");
}
