//! CreateKeysAndCertificate, CreateCertificateFromCsr, RegisterCertificate,
//! RegisterCertificateWithoutCA, DescribeCertificate, ListCertificates, ListCertificatesByCA,
//! UpdateCertificate and DeleteCertificate; and the X.509 helpers the CA-certificate and
//! principal tests share.

use crate::principals::{attach, detach};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use serde_json::{Value, json};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::harness::{
    ALREADY_EXISTS, Answer, CERTIFICATE_STATE, CERTIFICATE_VALIDATION, INVALID_REQUEST, NOT_FOUND,
    TestApi,
};

// ---------------------------------------------------------------------------------------------
// X.509 helpers.

/// A CA of the test's own (not thingd's), as someone registering it would have.
pub(crate) struct TestCa {
    pub(crate) pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn named(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Acme");
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params
}

fn ca_params(cn: &str, serial: u8) -> CertificateParams {
    let mut params = named(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(SerialNumber::from_slice(&[serial]));
    params
}

impl TestCa {
    /// A new self-signed CA named `cn` with a new key.
    pub(crate) fn new(cn: &str) -> TestCa {
        TestCa::with_key(cn, KeyPair::generate().unwrap(), 1)
    }

    /// A self-signed CA named `cn` with `key` (two with the same key differ by `serial`).
    pub(crate) fn with_key(cn: &str, key: KeyPair, serial: u8) -> TestCa {
        let params = ca_params(cn, serial);
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A new device certificate named `cn`, signed by this CA.
    pub(crate) fn issue(&self, cn: &str) -> String {
        let key = KeyPair::generate().unwrap();
        named(cn).signed_by(&key, &self.issuer).unwrap().pem()
    }

    /// A private-key verification certificate for `code`, signed by this CA.
    pub(crate) fn verification(&self, code: &str) -> String {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, code);
        params.distinguished_name = dn;
        params.signed_by(&key, &self.issuer).unwrap().pem()
    }
}

/// A self-signed end-entity certificate named `cn`.
pub(crate) fn self_signed(cn: &str) -> String {
    named(cn)
        .self_signed(&KeyPair::generate().unwrap())
        .unwrap()
        .pem()
}

/// A CSR for `CN=<cn>, O=Acme` with `key`.
fn csr(key: &KeyPair, cn: &str) -> String {
    named(cn).serialize_request(key).unwrap().pem().unwrap()
}

/// The DER of the first PEM block.
pub(crate) fn der(pem: &str) -> Vec<u8> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .unwrap()
        .1
        .contents
}

/// The lowercase hex SHA-256 of a certificate's DER: its AWS IoT id.
pub(crate) fn id_of(pem: &str) -> String {
    thingd_pki::certificate_id(&der(pem))
}

/// The registration code, and `ca` registered with it (ACTIVE); returns the CA's id.
pub(crate) async fn register_active_ca(api: &TestApi, ca: &TestCa) -> String {
    let code = api.get("/registrationcode").await.ok()["registrationCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"caCertificate": ca.pem, "verificationCertificate": ca.verification(&code)});
    api.post("/cacertificate?setAsActive=true", body).await.ok()["certificateId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// CreateKeysAndCertificate; returns the response.
pub(crate) async fn create_certificate(api: &TestApi, active: bool) -> Value {
    api.post(
        &format!("/keys-and-certificate?setAsActive={active}"),
        json!({}),
    )
    .await
    .ok()
}

/// RegisterCertificate with `body`.
pub(crate) async fn register_certificate(api: &TestApi, body: Value) -> Answer {
    api.post("/certificate/register", body).await
}

/// DescribeCertificate's `certificateDescription` of the certificate `id`.
pub(crate) async fn describe(api: &TestApi, id: &str) -> Value {
    described(api, &format!("/certificates/{id}")).await
}

/// The `certificateDescription` that GET `path` answers (DescribeCertificate or
/// DescribeCACertificate).
pub(crate) async fn described(api: &TestApi, path: &str) -> Value {
    api.get(path).await.ok()["certificateDescription"].clone()
}

/// UpdateCertificate or UpdateCACertificate of the certificate at `path` to `status`.
pub(crate) async fn set_status(api: &TestApi, path: &str, status: &str) -> Answer {
    api.put_empty(&format!("{path}?newStatus={status}")).await
}

fn revoked(api: &TestApi) -> Vec<String> {
    api.events.revoked.lock().unwrap().clone()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_keys_and_certificate_issues_from_thingd_ca() {
    let api = TestApi::new().await;
    let created = create_certificate(&api, true).await;
    let id = created["certificateId"].as_str().unwrap();
    let pem = created["certificatePem"].as_str().unwrap();
    assert_eq!(id, id_of(pem), "the id is the SHA-256 of the DER");
    assert_eq!(id.len(), 64);
    assert_eq!(
        created["certificateArn"],
        format!("arn:aws:iot:us-east-1:123456789012:cert/{id}")
    );

    // Signed by thingd's CA, checked independently of thingd-pki.
    let cert_der = der(pem);
    let (_, cert) = X509Certificate::from_der(&cert_der).unwrap();
    let (_, ca) = X509Certificate::from_der(api.state.ca.ca_der()).unwrap();
    assert_eq!(cert.issuer().as_raw(), ca.subject().as_raw());
    cert.verify_signature(Some(ca.public_key())).unwrap();
    assert_eq!(
        cert.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "AWS IoT Certificate"
    );

    // The key pair is the certificate's: PascalCase members, PEM.
    let public = created["keyPair"]["PublicKey"].as_str().unwrap();
    let private = created["keyPair"]["PrivateKey"].as_str().unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(der(public), cert.public_key().raw);
    let key = KeyPair::from_pem(private).unwrap();
    assert_eq!(
        rcgen::PublicKeyData::der_bytes(&key),
        cert.public_key().subject_public_key.data.as_ref()
    );

    let description = describe(&api, id).await;
    assert_eq!(description["certificateId"], id);
    assert_eq!(description["certificateArn"], created["certificateArn"]);
    assert_eq!(description["status"], "ACTIVE");
    assert_eq!(description["certificatePem"], pem);
    assert_eq!(description["ownedBy"], "123456789012");
    assert_eq!(description["customerVersion"], 1);
    assert_eq!(description["certificateMode"], "DEFAULT");
    assert!(description["generationId"].is_string());
    assert!(description["creationDate"].is_f64() || description["creationDate"].is_u64());
    assert_eq!(description["creationDate"], description["lastModifiedDate"]);
    // DEVICE_CERT_NOT_AFTER: 2049-12-31T23:59:59Z.
    assert_eq!(
        description["validity"]["notAfter"].as_f64().unwrap(),
        2_524_607_999.0
    );
    assert!(
        description.get("caCertificateId").is_none(),
        "absent members are omitted"
    );
    assert!(description.get("transferData").is_none());

    let inactive = api.post("/keys-and-certificate", json!({})).await.ok();
    let description = describe(&api, inactive["certificateId"].as_str().unwrap()).await;
    assert_eq!(description["status"], "INACTIVE");
    api.post("/keys-and-certificate?setAsActive=yes", json!({}))
        .await
        .error(INVALID_REQUEST);
}

#[tokio::test]
async fn create_certificate_from_csr_signs_the_request() {
    let api = TestApi::new().await;
    let key = KeyPair::generate().unwrap();
    let request = json!({"certificateSigningRequest": csr(&key, "csr-device")});
    let created = api
        .post("/certificates?setAsActive=true", request.clone())
        .await
        .ok();
    let pem = created["certificatePem"].as_str().unwrap();
    assert_eq!(created["certificateId"], id_of(pem));
    assert!(created.get("keyPair").is_none());
    assert!(api.state.ca.is_issuer_of(&der(pem)));
    let cert_der = der(pem);
    let (_, cert) = X509Certificate::from_der(&cert_der).unwrap();
    assert_eq!(cert.subject().to_string(), "O=Acme, CN=csr-device");
    assert_eq!(
        cert.public_key().subject_public_key.data.as_ref(),
        rcgen::PublicKeyData::der_bytes(&key)
    );
    let id = created["certificateId"].as_str().unwrap();
    assert_eq!(describe(&api, id).await["status"], "ACTIVE");

    // The same CSR again: a distinct certificate, INACTIVE by default.
    let again = api.post("/certificates", request).await.ok();
    assert_ne!(again["certificateId"], created["certificateId"]);
    let again_id = again["certificateId"].as_str().unwrap();
    assert_eq!(describe(&api, again_id).await["status"], "INACTIVE");
}

#[tokio::test]
async fn bad_csrs_are_invalid_requests_naming_the_problem() {
    let api = TestApi::new().await;
    let message = api
        .post("/certificates", json!({}))
        .await
        .error_saying(INVALID_REQUEST, "'certificateSigningRequest'");
    assert!(message.contains("must not be null"), "{message}");
    let ed25519 = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let junk = "-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQA=\n-----END CERTIFICATE REQUEST-----\n";
    // (certificateSigningRequest, a part of the message)
    for (request, says) in [
        (json!("hello"), "CERTIFICATE REQUEST"),
        (
            json!(api.state.ca.ca_pem()),
            "found a \"CERTIFICATE\" block instead",
        ),
        (json!(csr(&ed25519, "edwards")), "is not supported"),
        (json!(junk), "not a valid PKCS#10 certification request"),
        (json!("A".repeat(4097)), "less than or equal to 4096"),
        (json!(5), ""),
    ] {
        api.post(
            "/certificates",
            json!({ "certificateSigningRequest": request }),
        )
        .await
        .error_saying(INVALID_REQUEST, says);
    }
    let listed = api.get("/certificates").await.ok();
    assert_eq!(listed["certificates"], json!([]), "nothing was registered");
}

#[tokio::test]
async fn register_certificate_requires_a_registered_active_ca() {
    let api = TestApi::new().await;
    let ca = TestCa::new("Acme Root");
    let device = ca.issue("device-1");

    register_certificate(&api, json!({"certificatePem": device}))
        .await
        .error_saying(
            CERTIFICATE_VALIDATION,
            "not signed by a registered CA certificate",
        );

    let ca_id = register_active_ca(&api, &ca).await;
    set_status(&api, &format!("/cacertificate/{ca_id}"), "INACTIVE")
        .await
        .ok();
    register_certificate(&api, json!({"certificatePem": device}))
        .await
        .error_saying(CERTIFICATE_STATE, "not ACTIVE");
    set_status(&api, &format!("/cacertificate/{ca_id}"), "ACTIVE")
        .await
        .ok();

    let registered =
        register_certificate(&api, json!({"certificatePem": device, "status": "ACTIVE"}))
            .await
            .ok();
    let id = id_of(&device);
    assert_eq!(
        registered,
        json!({"certificateArn": format!("arn:aws:iot:us-east-1:123456789012:cert/{id}"), "certificateId": id})
    );
    let description = describe(&api, &id).await;
    assert_eq!(description["caCertificateId"], ca_id);
    assert_eq!(description["status"], "ACTIVE");
    assert_eq!(description["certificatePem"], device);
    assert_eq!(description["certificateMode"], "DEFAULT");

    let message = register_certificate(&api, json!({"certificatePem": device}))
        .await
        .already_exists(id.as_str(), registered["certificateArn"].clone());
    assert_eq!(
        message,
        "The certificate is already provisioned or registered"
    );

    // Naming the CA: it must be registered, and the one that signed the certificate.
    let second = ca.issue("device-2");
    let other = TestCa::new("Other Root");
    register_certificate(
        &api,
        json!({"certificatePem": second, "caCertificatePem": other.pem}),
    )
    .await
    .error_saying(CERTIFICATE_VALIDATION, "is not registered");
    register_active_ca(&api, &other).await;
    register_certificate(
        &api,
        json!({"certificatePem": second, "caCertificatePem": other.pem}),
    )
    .await
    .error_saying(
        CERTIFICATE_VALIDATION,
        "not signed by the CA certificate in caCertificatePem",
    );
    api.post(
        "/certificate/register?setAsActive=true",
        json!({"certificatePem": second, "caCertificatePem": ca.pem}),
    )
    .await
    .ok();
    let description = describe(&api, &id_of(&second)).await;
    assert_eq!(
        description["status"], "ACTIVE",
        "the deprecated setAsActive"
    );
    assert_eq!(description["caCertificateId"], ca_id);
}

#[tokio::test]
async fn register_certificate_validates_pem_and_status() {
    let api = TestApi::new().await;
    let ca = TestCa::new("Acme Root");
    register_active_ca(&api, &ca).await;
    let device = ca.issue("device");

    let junk = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";
    let key = KeyPair::generate().unwrap();
    let register = "/certificate/register";
    // (path, request, error, a part of the message)
    for (path, body, error, says) in [
        (register, json!({}), INVALID_REQUEST, ""),
        (
            register,
            json!({"certificatePem": "not a pem"}),
            CERTIFICATE_VALIDATION,
            "certificatePem",
        ),
        (
            register,
            json!({"certificatePem": junk}),
            CERTIFICATE_VALIDATION,
            "cannot be parsed as X.509",
        ),
        (
            register,
            json!({"certificatePem": csr(&key, "x")}),
            CERTIFICATE_VALIDATION,
            "CERTIFICATE REQUEST",
        ),
        (
            register,
            json!({"certificatePem": device, "caCertificatePem": "junk"}),
            CERTIFICATE_VALIDATION,
            "",
        ),
        (
            register,
            json!({"certificatePem": device, "status": "PENDING_ACTIVATION"}),
            INVALID_REQUEST,
            "PENDING_ACTIVATION",
        ),
        (
            register,
            json!({"certificatePem": device, "status": "BOGUS"}),
            INVALID_REQUEST,
            "Member must satisfy enum value set",
        ),
        (
            "/certificate/register?setAsActive=true",
            json!({"certificatePem": device, "status": "INACTIVE"}),
            INVALID_REQUEST,
            "",
        ),
    ] {
        api.post(path, body).await.error_saying(error, says);
    }

    register_certificate(&api, json!({"certificatePem": device, "status": "REVOKED"}))
        .await
        .ok();
    let description = describe(&api, &id_of(&device)).await;
    assert_eq!(description["status"], "REVOKED");
    let other = ca.issue("other");
    register_certificate(&api, json!({"certificatePem": other}))
        .await
        .ok();
    let description = describe(&api, &id_of(&other)).await;
    assert_eq!(description["status"], "INACTIVE", "the default");
}

#[tokio::test]
async fn certificates_thingd_issued_can_be_registered_again_after_deletion() {
    let api = TestApi::new().await;
    let created = create_certificate(&api, false).await;
    let id = created["certificateId"].as_str().unwrap();
    let pem = created["certificatePem"].as_str().unwrap();
    register_certificate(&api, json!({"certificatePem": pem}))
        .await
        .error(ALREADY_EXISTS);
    api.delete(&format!("/certificates/{id}")).await.ok();
    let registered = register_certificate(&api, json!({"certificatePem": pem, "status": "ACTIVE"}))
        .await
        .ok();
    assert_eq!(registered["certificateId"], id);
    let description = describe(&api, id).await;
    assert!(description.get("caCertificateId").is_none());
    assert_eq!(description["certificateMode"], "DEFAULT");
}

#[tokio::test]
async fn register_certificate_without_ca_takes_any_certificate() {
    let api = TestApi::new().await;
    let pem = self_signed("lonely-device");
    let registered = api
        .post(
            "/certificate/register-no-ca",
            json!({"certificatePem": pem, "status": "ACTIVE"}),
        )
        .await
        .ok();
    let id = id_of(&pem);
    assert_eq!(registered["certificateId"], id);
    let description = describe(&api, &id).await;
    assert_eq!(description["status"], "ACTIVE");
    assert_eq!(description["certificateMode"], "SNI_ONLY");
    assert!(description.get("caCertificateId").is_none());
    let listed = api.get("/certificates").await.ok();
    assert_eq!(listed["certificates"][0]["certificateMode"], "SNI_ONLY");

    let other = self_signed("other");
    api.post(
        "/certificate/register-no-ca",
        json!({"certificatePem": other}),
    )
    .await
    .ok();
    let description = describe(&api, &id_of(&other)).await;
    assert_eq!(description["status"], "INACTIVE");
    for (body, error) in [
        (json!({"certificatePem": pem}), ALREADY_EXISTS),
        (json!({}), INVALID_REQUEST),
        (json!({"certificatePem": "garbage"}), CERTIFICATE_VALIDATION),
        (
            json!({"certificatePem": self_signed("x"), "status": "PENDING_TRANSFER"}),
            INVALID_REQUEST,
        ),
    ] {
        api.post("/certificate/register-no-ca", body)
            .await
            .error(error);
    }
}

#[tokio::test]
async fn describe_needs_a_valid_registered_id() {
    let api = TestApi::new().await;
    api.get(&format!("/certificates/{}", "ab".repeat(32)))
        .await
        .error_saying(NOT_FOUND, &"ab".repeat(32));
    api.get("/certificates/abc")
        .await
        .error_saying(INVALID_REQUEST, "'certificateId'");
    api.get(&format!("/certificates/{}", "zz".repeat(32)))
        .await
        .error(INVALID_REQUEST);
    // Ids are lowercase; an uppercase one names the same certificate.
    let created = create_certificate(&api, false).await;
    let upper = created["certificateId"]
        .as_str()
        .unwrap()
        .to_ascii_uppercase();
    let described = describe(&api, &upper).await;
    assert_eq!(described["certificateId"], created["certificateId"]);
}

/// Walks a marker-paged list; returns the ids in order and the number of pages.
pub(crate) async fn walk(
    api: &TestApi,
    path: &str,
    page_size: usize,
    ascending: Option<bool>,
) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = format!("pageSize={page_size}");
        if let Some(ascending) = ascending {
            query.push_str(&format!("&isAscendingOrder={ascending}"));
        }
        if let Some(marker) = &marker {
            query.push_str(&format!("&marker={marker}"));
        }
        let page = api.get(&format!("{path}?{query}")).await.ok();
        pages += 1;
        let certificates = page["certificates"].as_array().unwrap();
        assert!(certificates.len() <= page_size);
        ids.extend(
            certificates
                .iter()
                .map(|c| c["certificateId"].as_str().unwrap().to_owned()),
        );
        match page.get("nextMarker") {
            Some(next) => {
                let next = next.as_str().unwrap();
                assert!(
                    next.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c)),
                    "{next}"
                );
                marker = Some(next.to_owned());
            }
            None => return (ids, pages),
        }
        assert!(pages < 100, "the walk does not end");
    }
}

#[tokio::test]
async fn list_certificates_pages_with_markers_both_ways() {
    let api = TestApi::new().await;
    let mut expected: Vec<(f64, String)> = Vec::new();
    for i in 0..7 {
        let id = create_certificate(&api, i % 2 == 0).await["certificateId"]
            .as_str()
            .unwrap()
            .to_owned();
        let created = describe(&api, &id).await["creationDate"].as_f64().unwrap();
        expected.push((created, id));
    }
    expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let ascending: Vec<String> = expected.iter().map(|(_, id)| id.clone()).collect();
    let descending: Vec<String> = ascending.iter().rev().cloned().collect();

    assert_eq!(
        walk(&api, "/certificates", 3, Some(true)).await,
        (ascending.clone(), 3)
    );
    assert_eq!(
        walk(&api, "/certificates", 3, Some(false)).await,
        (descending.clone(), 3)
    );
    assert_eq!(
        walk(&api, "/certificates", 3, None).await.0,
        descending,
        "newest first by default"
    );
    assert_eq!(
        walk(&api, "/certificates", 250, Some(true)).await,
        (ascending.clone(), 1)
    );
    assert_eq!(
        walk(&api, "/certificates", 7, Some(true)).await,
        (ascending, 1)
    );

    let listed = api.get("/certificates?pageSize=1").await.ok();
    let entry = &listed["certificates"][0];
    let mut keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "certificateArn",
            "certificateId",
            "certificateMode",
            "creationDate",
            "status"
        ]
    );
    assert_eq!(entry["certificateMode"], "DEFAULT");

    for bad in [
        "pageSize=0",
        "pageSize=251",
        "pageSize=x",
        "isAscendingOrder=1",
        "marker=not%20a%20marker",
        "marker=zz",
    ] {
        api.get(&format!("/certificates?{bad}"))
            .await
            .error(INVALID_REQUEST);
    }
    let listed = api.get("/certificates").await.ok();
    assert_eq!(
        listed["certificates"].as_array().unwrap().len(),
        7,
        "the default page holds 25"
    );
    assert!(listed.get("nextMarker").is_none());
}

#[tokio::test]
async fn list_certificates_by_ca_lists_only_that_cas() {
    let api = TestApi::new().await;
    let ca = TestCa::new("Acme Root");
    let ca_id = register_active_ca(&api, &ca).await;
    let other = TestCa::new("Other Root");
    let other_id = register_active_ca(&api, &other).await;
    let mut under_ca = Vec::new();
    for i in 0..5 {
        let pem = ca.issue(&format!("device-{i}"));
        register_certificate(&api, json!({"certificatePem": pem}))
            .await
            .ok();
        under_ca.push(id_of(&pem));
    }
    register_certificate(&api, json!({"certificatePem": other.issue("x")}))
        .await
        .ok();
    create_certificate(&api, true).await;

    let (mut ids, pages) = walk(&api, &format!("/certificates-by-ca/{ca_id}"), 2, Some(true)).await;
    assert_eq!(pages, 3);
    let (descending, _) = walk(
        &api,
        &format!("/certificates-by-ca/{ca_id}"),
        2,
        Some(false),
    )
    .await;
    assert_eq!(descending, ids.iter().rev().cloned().collect::<Vec<_>>());
    ids.sort();
    under_ca.sort();
    assert_eq!(ids, under_ca);
    assert_eq!(
        walk(&api, &format!("/certificates-by-ca/{other_id}"), 10, None)
            .await
            .0
            .len(),
        1
    );
    let none = api
        .get(&format!("/certificates-by-ca/{}", "0".repeat(64)))
        .await
        .ok();
    assert_eq!(none, json!({"certificates": []}));
    api.get("/certificates-by-ca/nothex")
        .await
        .error(INVALID_REQUEST);
    api.get(&format!("/certificates-by-ca/{ca_id}?pageSize=300"))
        .await
        .error(INVALID_REQUEST);
}

#[tokio::test]
async fn update_certificate_moves_between_statuses_and_revocation_is_final() {
    let api = TestApi::new().await;
    let id = create_certificate(&api, true).await["certificateId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/certificates/{id}");
    let first = describe(&api, &id).await;

    set_status(&api, &path, "INACTIVE").await.ok();
    let inactive = describe(&api, &id).await;
    assert_eq!(inactive["status"], "INACTIVE");
    assert_eq!(inactive["customerVersion"], 2);
    assert_ne!(inactive["generationId"], first["generationId"]);
    assert!(inactive["lastModifiedDate"].as_f64() >= first["lastModifiedDate"].as_f64());
    assert_eq!(inactive["creationDate"], first["creationDate"]);
    assert_eq!(
        revoked(&api),
        [id.as_str()],
        "deactivation closes the certificate's connections"
    );

    // Idempotent: nothing changes.
    set_status(&api, &path, "INACTIVE").await.ok();
    assert_eq!(describe(&api, &id).await, inactive);

    set_status(&api, &path, "ACTIVE").await.ok();
    assert_eq!(describe(&api, &id).await["status"], "ACTIVE");
    assert_eq!(
        revoked(&api).len(),
        2,
        "only the two INACTIVE updates announced a revocation"
    );

    set_status(&api, &path, "REVOKED").await.ok();
    assert_eq!(describe(&api, &id).await["status"], "REVOKED");
    assert_eq!(revoked(&api), [id.clone(), id.clone(), id.clone()]);
    set_status(&api, &path, "ACTIVE")
        .await
        .error_saying(CERTIFICATE_STATE, "REVOKED");
    set_status(&api, &path, "INACTIVE")
        .await
        .error(CERTIFICATE_STATE);
    set_status(&api, &path, "REVOKED").await.ok();
    assert_eq!(describe(&api, &id).await["customerVersion"], 4);

    for status in ["PENDING_TRANSFER", "PENDING_ACTIVATION"] {
        set_status(&api, &path, status)
            .await
            .error_saying(INVALID_REQUEST, status);
    }
    set_status(&api, &path, "active")
        .await
        .error_saying(INVALID_REQUEST, "enum value set");
    api.put_empty(&path).await.error(INVALID_REQUEST);
    api.put_empty(&format!(
        "/certificates/{}?newStatus=ACTIVE",
        "0".repeat(64)
    ))
    .await
    .error(NOT_FOUND);
}

#[tokio::test]
async fn delete_certificate_requires_inactive_and_detached() {
    let api = TestApi::new().await;
    let created = create_certificate(&api, true).await;
    let id = created["certificateId"].as_str().unwrap();
    let arn = created["certificateArn"].as_str().unwrap();
    let path = format!("/certificates/{id}");

    let message = api.delete(&path).await.error(CERTIFICATE_STATE);
    assert_eq!(
        message,
        format!("Certificate must be deactivated (not ACTIVE) before deletion. Id: {id}")
    );
    set_status(&api, &path, "INACTIVE").await.ok();

    api.post("/things/sensor", json!({})).await.ok();
    attach(&api, "sensor", arn, None).await.ok();
    let message = api
        .delete(&path)
        .await
        .error(("DeleteConflictException", 409));
    assert_eq!(
        message,
        format!("Things must be detached before deletion (arn: {arn})")
    );
    detach(&api, "sensor", arn).await.ok();

    api.events.revoked.lock().unwrap().clear();
    api.delete(&format!("{path}?forceDelete=true")).await.ok();
    assert_eq!(
        revoked(&api),
        [id.to_owned()],
        "deletion closes the certificate's connections"
    );
    api.get(&path).await.error(NOT_FOUND);
    api.delete(&path).await.error(NOT_FOUND);
    api.delete(&format!(
        "/certificates/{}?forceDelete=maybe",
        "0".repeat(64)
    ))
    .await
    .error(INVALID_REQUEST);

    let revoked_cert = create_certificate(&api, true).await["certificateId"]
        .as_str()
        .unwrap()
        .to_owned();
    set_status(&api, &format!("/certificates/{revoked_cert}"), "REVOKED")
        .await
        .ok();
    api.delete(&format!("/certificates/{revoked_cert}"))
        .await
        .ok();
}
