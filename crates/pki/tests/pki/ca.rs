//! Tests of the root CA: creation, reloading, validation of the files, and device certificates.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};
use thingd_pki::{
    CA_CERT_FILE, CA_KEY_FILE, CertificateAuthority, DEVICE_CERT_NOT_AFTER, PkiError,
};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER, OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
};

use crate::{mode_of, parse_cert, verify_client};

#[test]
fn create_then_load_gives_the_same_ca_with_private_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("thingd-data");

    let created = CertificateAuthority::load_or_create(&dir).unwrap();
    assert!(created.was_created());
    assert_eq!(mode_of(&dir), 0o700);
    assert_eq!(mode_of(&dir.join(CA_KEY_FILE)), 0o600);
    assert_eq!(mode_of(&dir.join(CA_CERT_FILE)), 0o644);

    let loaded = CertificateAuthority::load_or_create(&dir).unwrap();
    assert!(!loaded.was_created());
    assert_eq!(loaded.ca_der(), created.ca_der());
    assert_eq!(loaded.ca_pem(), created.ca_pem());
    assert_eq!(loaded.certificate_id(), created.certificate_id());

    let loaded_again = CertificateAuthority::load(&dir).unwrap();
    assert_eq!(loaded_again.ca_der(), created.ca_der());

    // No temporary files are left behind.
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [CA_KEY_FILE, CA_CERT_FILE]);

    // A device certificate issued by the reloaded CA chains to the original one.
    let issued = loaded.issue_client_certificate("device-1").unwrap();
    verify_client(&created, &issued.certificate_der).unwrap();
}

#[test]
fn generated_ca_has_the_documented_profile() {
    let ca = CertificateAuthority::generate().unwrap();
    let cert = parse_cert(ca.ca_der());

    let cn: Vec<_> = cert
        .subject()
        .iter_common_name()
        .map(|a| a.as_str().unwrap())
        .collect();
    let o: Vec<_> = cert
        .subject()
        .iter_organization()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(cn, ["thingd root CA"]);
    assert_eq!(o, ["thingd"]);
    assert_eq!(cert.subject().as_raw(), cert.issuer().as_raw());

    let bc = cert.basic_constraints().unwrap().unwrap();
    assert!(bc.critical);
    assert!(bc.value.ca);
    assert_eq!(bc.value.path_len_constraint, Some(0));

    let ku = cert.key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert!(ku.value.key_cert_sign() && ku.value.crl_sign());
    assert!(!ku.value.digital_signature());
    assert!(
        cert.get_extension_unique(&OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
            .unwrap()
            .is_some()
    );

    let now = OffsetDateTime::now_utc();
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    assert!(
        not_before < now - Duration::minutes(30),
        "not backdated: {not_before}"
    );
    assert!(
        not_after > now + Duration::days(3640),
        "too short: {not_after}"
    );
    assert!(
        not_after < now + Duration::days(3660),
        "too long: {not_after}"
    );

    assert_eq!(cert.raw_serial().len(), 16);
    assert!(cert.raw_serial()[0] & 0x80 == 0, "serial must be positive");
    cert.verify_signature(None).unwrap();
}

#[test]
fn serials_are_random() {
    let ca = CertificateAuthority::generate().unwrap();
    let a = ca.issue_client_certificate("same").unwrap();
    let b = ca.issue_client_certificate("same").unwrap();
    let (a, b) = (
        parse_cert(&a.certificate_der),
        parse_cert(&b.certificate_der),
    );
    assert_ne!(a.raw_serial(), b.raw_serial());
}

#[test]
fn corrupt_key_file_is_reported_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    CertificateAuthority::load_or_create(tmp.path()).unwrap();

    // Not PEM at all.
    std::fs::write(tmp.path().join(CA_KEY_FILE), "this is not a key").unwrap();
    let err = CertificateAuthority::load_or_create(tmp.path()).unwrap_err();
    assert!(matches!(err, PkiError::Pem { .. }), "{err:?}");
    assert!(err.to_string().contains("ca-key.pem"), "{err}");

    // Well-formed PEM whose contents are not a key.
    std::fs::write(
        tmp.path().join(CA_KEY_FILE),
        "-----BEGIN PRIVATE KEY-----\nTUlJQ2VnSUJBREFOQmdrcWhraUc5dzBCQVFF\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = CertificateAuthority::load_or_create(tmp.path()).unwrap_err();
    assert!(matches!(err, PkiError::PrivateKey { .. }), "{err:?}");
    assert!(err.to_string().contains("ca-key.pem"), "{err}");
    // Neither the message nor the debug output quotes the file's contents.
    assert!(!format!("{err} {err:?}").contains("TUlJ"), "{err:?}");
}

#[test]
fn corrupt_certificate_file_is_reported_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    CertificateAuthority::load_or_create(tmp.path()).unwrap();
    std::fs::write(
        tmp.path().join(CA_CERT_FILE),
        "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = CertificateAuthority::load_or_create(tmp.path()).unwrap_err();
    assert!(matches!(err, PkiError::Certificate { .. }), "{err:?}");
    assert!(err.to_string().contains("ca.pem"), "{err}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "cause must be kept"
    );
}

#[test]
fn mismatched_key_and_certificate_are_detected() {
    let tmp_a = tempfile::tempdir().unwrap();
    let tmp_b = tempfile::tempdir().unwrap();
    CertificateAuthority::load_or_create(tmp_a.path()).unwrap();
    CertificateAuthority::load_or_create(tmp_b.path()).unwrap();
    std::fs::copy(
        tmp_b.path().join(CA_KEY_FILE),
        tmp_a.path().join(CA_KEY_FILE),
    )
    .unwrap();

    let err = CertificateAuthority::load_or_create(tmp_a.path()).unwrap_err();
    assert!(matches!(err, PkiError::KeyMismatch { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("ca-key.pem") && msg.contains("ca.pem"),
        "{msg}"
    );
}

#[test]
fn half_a_ca_is_an_error_not_a_reason_to_start_over() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::load_or_create(tmp.path()).unwrap();
    std::fs::remove_file(tmp.path().join(CA_KEY_FILE)).unwrap();

    let err = CertificateAuthority::load_or_create(tmp.path()).unwrap_err();
    assert!(matches!(err, PkiError::IncompleteCa { .. }), "{err:?}");
    assert!(err.to_string().contains("ca-key.pem is missing"), "{err}");
    // The certificate that clients may already trust was left untouched.
    let on_disk = std::fs::read_to_string(tmp.path().join(CA_CERT_FILE)).unwrap();
    assert_eq!(on_disk, ca.ca_pem());
}

#[test]
fn load_does_not_create() {
    let tmp = tempfile::tempdir().unwrap();
    let err = CertificateAuthority::load(tmp.path()).unwrap_err();
    assert!(matches!(err, PkiError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("ca.pem"), "{err}");
    assert!(!tmp.path().join(CA_KEY_FILE).exists());
}

/// Writes a self-signed certificate made from `params` plus its key as the CA files.
fn write_ca_files(dir: &std::path::Path, params: &CertificateParams) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join(CA_CERT_FILE), cert.pem()).unwrap();
    std::fs::write(dir.join(CA_KEY_FILE), key.serialize_pem()).unwrap();
}

#[test]
fn expired_ca_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    params.not_before = OffsetDateTime::now_utc() - Duration::days(20);
    params.not_after = OffsetDateTime::now_utc() - Duration::days(10);
    write_ca_files(tmp.path(), &params);

    let err = CertificateAuthority::load_or_create(tmp.path()).unwrap_err();
    assert!(matches!(err, PkiError::CaExpired { .. }), "{err:?}");
    assert!(err.to_string().contains("ca.pem"), "{err}");
}

#[test]
fn non_ca_certificate_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let mut params = CertificateParams::new(vec!["example.com".to_owned()]).unwrap();
    params.is_ca = IsCa::ExplicitNoCa;
    write_ca_files(tmp.path(), &params);

    let err = CertificateAuthority::load_or_create(tmp.path()).unwrap_err();
    assert!(
        matches!(err, PkiError::CaCertificateUnusable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("CA:TRUE"), "{err}");
}

#[test]
fn an_existing_ca_made_elsewhere_is_usable() {
    // An operator may bring their own CA; a P-384 one with a longer subject must work too.
    let tmp = tempfile::tempdir().unwrap();
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CountryName, "DE");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Acme");
    params
        .distinguished_name
        .push(DnType::CommonName, "Acme IoT CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(tmp.path().join(CA_CERT_FILE), cert.pem()).unwrap();
    std::fs::write(tmp.path().join(CA_KEY_FILE), key.serialize_pem()).unwrap();

    let ca = CertificateAuthority::load_or_create(tmp.path()).unwrap();
    assert!(!ca.was_created());
    let issued = ca.issue_client_certificate("d").unwrap();
    verify_client(&ca, &issued.certificate_der).unwrap();
    let leaf = parse_cert(&issued.certificate_der);
    assert_eq!(
        leaf.issuer().as_raw(),
        parse_cert(ca.ca_der()).subject().as_raw()
    );
}

#[test]
fn issued_client_certificate_chains_to_the_ca() {
    let ca = CertificateAuthority::generate().unwrap();
    let issued = ca.issue_client_certificate("thing-42").unwrap();

    verify_client(&ca, &issued.certificate_der).unwrap();
    assert!(ca.is_issuer_of(&issued.certificate_der));

    let cert = parse_cert(&issued.certificate_der);
    let cn: Vec<_> = cert
        .subject()
        .iter_common_name()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(cn, ["thing-42"]);
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    let bc = cert.basic_constraints().unwrap().unwrap().value;
    assert!(!bc.ca);
    assert_eq!(
        cert.validity().not_after.to_datetime(),
        DEVICE_CERT_NOT_AFTER
    );
    assert!(cert.validity().not_before.to_datetime() < OffsetDateTime::now_utc());
    assert_eq!(cert.raw_serial().len(), 16);

    // The authority key identifier names the CA's subject key identifier.
    let ca_cert = parse_cert(ca.ca_der());
    let ski = match ca_cert
        .get_extension_unique(&OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
        .unwrap()
        .unwrap()
        .parsed_extension()
    {
        ParsedExtension::SubjectKeyIdentifier(ski) => ski.0.to_vec(),
        other => panic!("{other:?}"),
    };
    let aki = match cert
        .get_extension_unique(&OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER)
        .unwrap()
        .unwrap()
        .parsed_extension()
    {
        ParsedExtension::AuthorityKeyIdentifier(aki) => {
            aki.key_identifier.as_ref().unwrap().0.to_vec()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(aki, ski);

    assert_eq!(
        issued.certificate_id,
        thingd_pki::certificate_id(&issued.certificate_der)
    );
    assert_eq!(issued.certificate_id.len(), 64);
    let from_pem =
        rustls_pki_types::pem::PemObject::from_pem_slice(issued.certificate_pem.as_bytes());
    let from_pem: rustls_pki_types::CertificateDer<'_> = from_pem.unwrap();
    assert_eq!(from_pem, issued.certificate_der);

    // The key pair belongs to the certificate.
    let key = KeyPair::from_pem(&issued.private_key_pem).unwrap();
    assert_eq!(key.public_key_pem(), issued.public_key_pem);
    assert_eq!(
        rcgen::PublicKeyData::subject_public_key_info(&key),
        cert.public_key().raw
    );
}

#[test]
fn client_certificate_from_another_ca_is_rejected() {
    let ca = CertificateAuthority::generate().unwrap();
    let other = CertificateAuthority::generate().unwrap();
    let issued = other.issue_client_certificate("intruder").unwrap();
    assert!(verify_client(&ca, &issued.certificate_der).is_err());
    assert!(!ca.is_issuer_of(&issued.certificate_der));
}

#[test]
fn bad_common_names_are_rejected() {
    let ca = CertificateAuthority::generate().unwrap();
    for bad in [String::new(), "x".repeat(65), "nul\0byte".to_owned()] {
        let err = ca.issue_client_certificate(&bad).unwrap_err();
        assert!(matches!(err, PkiError::InvalidCommonName { .. }), "{err:?}");
    }
    ca.issue_client_certificate(&"x".repeat(64)).unwrap();
    ca.issue_client_certificate("Küche-Thermostat").unwrap();
}

#[test]
fn debug_output_never_contains_private_keys() {
    let ca = CertificateAuthority::generate().unwrap();
    let ca_key_line = ca.private_key_pem().lines().nth(2).unwrap().to_owned();
    assert!(!format!("{ca:?}").contains(&ca_key_line));
    assert!(format!("{ca:?}").contains("redacted"));

    let issued = ca.issue_client_certificate("d").unwrap();
    let key_line = issued.private_key_pem.lines().nth(2).unwrap().to_owned();
    let debug = format!("{issued:?}");
    assert!(!debug.contains(&key_line), "{debug}");
    assert!(debug.contains(&issued.certificate_id));
}
