//! Tests of the broker's server certificate: SANs, reuse, re-issue and a real TLS handshake.

use std::net::IpAddr;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, SanType};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use thingd_pki::{
    CertificateAuthority, IssueReason, PkiError, SERVER_CERT_FILE, SERVER_KEY_FILE, ServerIdentity,
};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;

use crate::{handshake, mode_of, parse_cert, verify_server};

/// The DNS and IP SANs of a certificate.
fn sans(der: &[u8]) -> (Vec<String>, Vec<IpAddr>) {
    let cert = parse_cert(der);
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in &cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
    {
        match name {
            GeneralName::DNSName(name) => dns.push((*name).to_owned()),
            GeneralName::IPAddress(octets) => ips.push(match octets.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(*octets).unwrap()),
                _ => IpAddr::from(<[u8; 16]>::try_from(*octets).unwrap()),
            }),
            other => panic!("unexpected SAN {other:?}"),
        }
    }
    (dns, ips)
}

#[test]
fn server_certificate_covers_loopback_and_extra_names() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::load_or_create(tmp.path()).unwrap();
    let extra = vec!["mqtt.example.com".to_owned(), "192.0.2.10".to_owned()];
    let server = ServerIdentity::load_or_issue(tmp.path(), &ca, &extra).unwrap();
    assert_eq!(server.issue_reason(), Some(&IssueReason::Missing));

    let chain = server.cert_chain_der();
    assert_eq!(chain.len(), 1);
    let (dns, ips) = sans(&chain[0]);
    assert!(dns.contains(&"localhost".to_owned()), "{dns:?}");
    assert!(dns.contains(&"mqtt.example.com".to_owned()), "{dns:?}");
    for ip in ["127.0.0.1", "::1", "192.0.2.10"] {
        assert!(ips.contains(&ip.parse().unwrap()), "{ip} not in {ips:?}");
    }

    let cert = parse_cert(&chain[0]);
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && !eku.client_auth);
    let lifetime = cert.validity().not_after.to_datetime() - OffsetDateTime::now_utc();
    assert!(
        lifetime > Duration::days(820) && lifetime <= Duration::days(825),
        "{lifetime}"
    );

    assert_eq!(mode_of(&tmp.path().join(SERVER_KEY_FILE)), 0o600);
    assert_eq!(mode_of(&tmp.path().join(SERVER_CERT_FILE)), 0o644);

    for name in [
        "localhost",
        "127.0.0.1",
        "::1",
        "mqtt.example.com",
        "192.0.2.10",
    ] {
        verify_server(&ca, &chain, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(verify_server(&ca, &chain, "other.example.com").is_err());
    assert!(verify_server(&ca, &chain, "10.9.8.7").is_err());
}

#[test]
fn server_key_on_disk_is_the_one_returned() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::load_or_create(tmp.path()).unwrap();
    let server = ServerIdentity::load_or_issue(tmp.path(), &ca, &[]).unwrap();
    let on_disk = PrivateKeyDer::from_pem_file(tmp.path().join(SERVER_KEY_FILE)).unwrap();
    assert_eq!(on_disk.secret_der(), server.private_key_der().secret_der());
    let debug = format!("{server:?}");
    assert!(debug.contains("redacted"), "{debug}");
}

#[test]
fn existing_certificate_is_reused_when_still_good() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::load_or_create(tmp.path()).unwrap();
    let names = vec!["broker.lan".to_owned(), "10.0.0.5".to_owned()];
    let first = ServerIdentity::load_or_issue(tmp.path(), &ca, &names).unwrap();

    let again = ServerIdentity::load_or_issue(tmp.path(), &ca, &names).unwrap();
    assert_eq!(again.issue_reason(), None);
    assert_eq!(again.cert_chain_der(), first.cert_chain_der());
    assert_eq!(
        again.private_key_der().secret_der(),
        first.private_key_der().secret_der()
    );

    // Asking for fewer names, in another spelling, is no reason to re-issue either.
    let fewer =
        ServerIdentity::load_or_issue(tmp.path(), &ca, &["BROKER.lan.".to_owned()]).unwrap();
    assert_eq!(fewer.issue_reason(), None);
    assert_eq!(fewer.cert_chain_der(), first.cert_chain_der());

    // Nor is reloading the CA from disk.
    let ca_reloaded = CertificateAuthority::load_or_create(tmp.path()).unwrap();
    let reloaded = ServerIdentity::load_or_issue(tmp.path(), &ca_reloaded, &names).unwrap();
    assert_eq!(reloaded.cert_chain_der(), first.cert_chain_der());
}

#[test]
fn certificate_is_reissued_for_a_new_hostname() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::load_or_create(tmp.path()).unwrap();
    let first = ServerIdentity::load_or_issue(tmp.path(), &ca, &["a.example".to_owned()]).unwrap();

    let names = vec!["a.example".to_owned(), "b.example".to_owned()];
    let second = ServerIdentity::load_or_issue(tmp.path(), &ca, &names).unwrap();
    assert_eq!(
        second.issue_reason(),
        Some(&IssueReason::MissingName {
            name: "b.example".into()
        })
    );
    assert_ne!(second.cert_chain_der(), first.cert_chain_der());
    verify_server(&ca, &second.cert_chain_der(), "b.example").unwrap();
    verify_server(&ca, &second.cert_chain_der(), "a.example").unwrap();

    // The new certificate is what is on disk now, and is reused from then on.
    let third = ServerIdentity::load_or_issue(tmp.path(), &ca, &names).unwrap();
    assert_eq!(third.issue_reason(), None);
    assert_eq!(third.cert_chain_der(), second.cert_chain_der());

    // A new IP address counts as a new name too.
    let fourth =
        ServerIdentity::load_or_issue(tmp.path(), &ca, &["198.51.100.7".to_owned()]).unwrap();
    assert!(matches!(
        fourth.issue_reason(),
        Some(IssueReason::MissingName { .. })
    ));
}

#[test]
fn certificate_is_reissued_for_a_new_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let old_ca = CertificateAuthority::generate().unwrap();
    let first = ServerIdentity::load_or_issue(tmp.path(), &old_ca, &[]).unwrap();

    let new_ca = CertificateAuthority::generate().unwrap();
    let second = ServerIdentity::load_or_issue(tmp.path(), &new_ca, &[]).unwrap();
    assert_eq!(second.issue_reason(), Some(&IssueReason::NotIssuedByCa));
    assert_ne!(second.cert_chain_der(), first.cert_chain_der());
    verify_server(&new_ca, &second.cert_chain_der(), "localhost").unwrap();
}

#[test]
fn certificate_is_reissued_when_key_does_not_match() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate().unwrap();
    ServerIdentity::load_or_issue(tmp.path(), &ca, &[]).unwrap();
    let stray = KeyPair::generate().unwrap();
    std::fs::write(tmp.path().join(SERVER_KEY_FILE), stray.serialize_pem()).unwrap();

    let server = ServerIdentity::load_or_issue(tmp.path(), &ca, &[]).unwrap();
    assert_eq!(server.issue_reason(), Some(&IssueReason::KeyMismatch));
    assert_eq!(mode_of(&tmp.path().join(SERVER_KEY_FILE)), 0o600);
}

#[test]
fn certificate_is_reissued_when_about_to_expire() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate().unwrap();

    // Forge a server certificate from the same CA that expires in ten days, as one issued long
    // ago would. Expiry is checked before the names, so the SANs need not be complete.
    let ca_key = KeyPair::from_pem(&ca.private_key_pem()).unwrap();
    let issuer = Issuer::from_ca_cert_pem(ca.ca_pem(), ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "old");
    params.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into().unwrap()),
        SanType::IpAddress("127.0.0.1".parse().unwrap()),
        SanType::IpAddress("::1".parse().unwrap()),
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.is_ca = IsCa::ExplicitNoCa;
    params.not_before = OffsetDateTime::now_utc() - Duration::days(800);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(10);
    let old = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(tmp.path().join(SERVER_CERT_FILE), old.pem()).unwrap();
    std::fs::write(tmp.path().join(SERVER_KEY_FILE), key.serialize_pem()).unwrap();

    let server = ServerIdentity::load_or_issue(tmp.path(), &ca, &[]).unwrap();
    assert!(
        matches!(server.issue_reason(), Some(IssueReason::Expiring { .. })),
        "{:?}",
        server.issue_reason()
    );
    assert_ne!(server.cert_chain_der()[0], *old.der());
}

#[test]
fn invalid_hostnames_are_rejected_before_touching_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let ca = CertificateAuthority::generate().unwrap();
    let err = ServerIdentity::load_or_issue(&dir, &ca, &["not a host".to_owned()]).unwrap_err();
    assert!(matches!(err, PkiError::InvalidHostname { .. }), "{err:?}");
    assert!(err.to_string().contains("\"not a host\""), "{err}");
    assert!(!dir.exists());
}

#[test]
fn unparsable_server_certificate_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate().unwrap();
    ServerIdentity::load_or_issue(tmp.path(), &ca, &[]).unwrap();
    std::fs::write(tmp.path().join(SERVER_CERT_FILE), "garbage").unwrap();
    let err = ServerIdentity::load_or_issue(tmp.path(), &ca, &[]).unwrap_err();
    assert!(err.to_string().contains("server.pem"), "{err}");
    // The file someone may be editing is left as it was.
    assert_eq!(
        std::fs::read_to_string(tmp.path().join(SERVER_CERT_FILE)).unwrap(),
        "garbage"
    );
}

#[test]
fn mutual_tls_handshake_succeeds_with_issued_certificates() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::load_or_create(tmp.path()).unwrap();
    let server = ServerIdentity::load_or_issue(tmp.path(), &ca, &[]).unwrap();
    let device = ca.issue_client_certificate("device-7").unwrap();
    let device_key = PrivateKeyDer::from_pem_slice(device.private_key_pem.as_bytes()).unwrap();

    for name in ["localhost", "127.0.0.1", "::1"] {
        handshake(
            &ca,
            server.cert_chain_der(),
            server.private_key_der(),
            vec![device.certificate_der.clone()],
            device_key.clone_key(),
            name,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }

    // A device certificate from a foreign CA is refused by the server.
    let foreign = CertificateAuthority::generate()
        .unwrap()
        .issue_client_certificate("intruder")
        .unwrap();
    let foreign_key = PrivateKeyDer::from_pem_slice(foreign.private_key_pem.as_bytes()).unwrap();
    assert!(
        handshake(
            &ca,
            server.cert_chain_der(),
            server.private_key_der(),
            vec![foreign.certificate_der.clone()],
            foreign_key,
            "localhost",
        )
        .is_err()
    );

    // The server certificate cannot double as a client certificate (EKU serverAuth only).
    assert!(crate::verify_client(&ca, &server.cert_chain_der()[0]).is_err());
}

#[test]
fn server_certificate_never_outlives_the_ca() {
    let tmp = tempfile::tempdir().unwrap();
    // A CA with 100 days left, brought by the operator.
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "short-lived CA");
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(100);
    let ca_cert = params.self_signed(&ca_key).unwrap();
    std::fs::write(tmp.path().join(thingd_pki::CA_CERT_FILE), ca_cert.pem()).unwrap();
    std::fs::write(
        tmp.path().join(thingd_pki::CA_KEY_FILE),
        ca_key.serialize_pem(),
    )
    .unwrap();

    let ca = CertificateAuthority::load_or_create(tmp.path()).unwrap();
    let server = ServerIdentity::load_or_issue(tmp.path(), &ca, &[]).unwrap();
    let chain = server.cert_chain_der();
    let leaf = parse_cert(&chain[0]);
    assert_eq!(leaf.validity().not_after.to_datetime(), ca.not_after());
    verify_server(&ca, &server.cert_chain_der(), "localhost").unwrap();

    // With more than 30 days left it is still reused.
    let again = ServerIdentity::load_or_issue(tmp.path(), &ca, &[]).unwrap();
    assert_eq!(again.issue_reason(), None);
}
