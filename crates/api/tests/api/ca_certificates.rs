//! GetRegistrationCode, DeleteRegistrationCode, RegisterCACertificate, DescribeCACertificate,
//! ListCACertificates, UpdateCACertificate and DeleteCACertificate.

use rcgen::KeyPair;
use serde_json::{Value, json};
use thingd_registry::{PageRequest, Tag};

use crate::certificates::{
    TestCa, create_certificate, describe, described, id_of, register_active_ca,
    register_certificate, set_status, walk,
};
use crate::harness::{
    Answer, CERTIFICATE_STATE, CERTIFICATE_VALIDATION, INVALID_REQUEST, LIMIT_EXCEEDED, NOT_FOUND,
    TestApi,
};

async fn code(api: &TestApi) -> String {
    api.get("/registrationcode").await.ok()["registrationCode"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn tags(api: &TestApi, arn: &str) -> Vec<Tag> {
    api.state
        .store
        .tags_of(
            arn,
            &PageRequest {
                after: None,
                limit: 100,
                ascending: true,
            },
        )
        .await
        .unwrap()
        .items
}

/// RegisterCACertificate with `body`.
async fn register(api: &TestApi, body: Value) -> Answer {
    api.post("/cacertificate", body).await
}

/// A RegisterCACertificate request for `pem` in SNI_ONLY mode, which needs no verification.
fn sni_only(pem: &str) -> Value {
    json!({"caCertificate": pem, "certificateMode": "SNI_ONLY"})
}

#[tokio::test]
async fn the_registration_code_is_stable_and_survives_deletion() {
    let api = TestApi::new().await;
    let first = code(&api).await;
    assert_eq!(first.len(), 64);
    assert!(
        first
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{first}"
    );
    assert_eq!(code(&api).await, first);
    assert_eq!(api.delete("/registrationcode").await.ok(), json!({}));
    assert_eq!(code(&api).await, first);
    // Another CA, another code.
    assert_ne!(code(&TestApi::new().await).await, first);
}

#[tokio::test]
async fn register_describe_and_list_a_ca_certificate() {
    let api = TestApi::new().await;
    let ca = TestCa::new("Acme Root");
    let body = json!({
        "caCertificate": ca.pem,
        "verificationCertificate": ca.verification(&code(&api).await),
        "tags": [{"Key": "team", "Value": "fleet"}, {"Key": "empty"}],
    });
    let registered = api.post("/cacertificate", body.clone()).await.ok();
    let id = id_of(&ca.pem);
    let arn = format!("arn:aws:iot:us-east-1:123456789012:cacert/{id}");
    assert_eq!(
        registered,
        json!({"certificateArn": arn, "certificateId": id})
    );
    assert_eq!(
        tags(&api, &arn).await,
        [
            Tag {
                key: "empty".into(),
                value: String::new()
            },
            Tag {
                key: "team".into(),
                value: "fleet".into()
            }
        ]
    );

    let description = api.get(&format!("/cacertificate/{id}")).await.ok();
    assert!(description.get("registrationConfig").is_none());
    let description = &description["certificateDescription"];
    assert_eq!(description["certificateArn"], arn);
    assert_eq!(description["certificateId"], id);
    assert_eq!(
        description["status"], "INACTIVE",
        "setAsActive defaults to false"
    );
    assert_eq!(description["autoRegistrationStatus"], "DISABLE");
    assert_eq!(description["certificatePem"], ca.pem);
    assert_eq!(description["ownedBy"], "123456789012");
    assert_eq!(description["customerVersion"], 1);
    assert_eq!(description["certificateMode"], "DEFAULT");
    assert!(description["generationId"].is_string());
    assert!(
        description["validity"]["notBefore"].as_f64().unwrap()
            < description["validity"]["notAfter"].as_f64().unwrap()
    );
    assert!(description.get("caCertificateId").is_none());

    api.post("/cacertificate", body)
        .await
        .already_exists(id.as_str(), arn.as_str());

    let active = TestCa::new("Active Root");
    let body = json!({"caCertificate": active.pem, "verificationCertificate": active.verification(&code(&api).await)});
    let registered = api
        .post(
            "/cacertificate?setAsActive=true&allowAutoRegistration=true",
            body,
        )
        .await
        .ok();
    let active_id = registered["certificateId"].as_str().unwrap();
    let description = described(&api, &format!("/cacertificate/{active_id}")).await;
    assert_eq!(description["status"], "ACTIVE");
    assert_eq!(description["autoRegistrationStatus"], "ENABLE");

    let listed = api.get("/cacertificates?isAscendingOrder=true").await.ok();
    assert_eq!(listed["certificates"].as_array().unwrap().len(), 2);
    let first = &listed["certificates"][0];
    assert_eq!(first["certificateArn"], arn);
    assert_eq!(first["status"], "INACTIVE");
    assert_eq!(first["creationDate"], description_creation(&api, &id).await);
    let mut keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["certificateArn", "certificateId", "creationDate", "status"]
    );
    assert_eq!(
        api.get("/cacertificates?templateName=fleet").await.ok(),
        json!({"certificates": []})
    );
    api.get("/cacertificates?templateName=bad%20name")
        .await
        .error(INVALID_REQUEST);
}

async fn description_creation(api: &TestApi, id: &str) -> serde_json::Value {
    described(api, &format!("/cacertificate/{id}")).await["creationDate"].clone()
}

#[tokio::test]
async fn the_verification_certificate_proves_the_key_and_the_code() {
    let api = TestApi::new().await;
    let ca = TestCa::new("Acme Root");
    let code = code(&api).await;
    let impostor = TestCa::new("Acme Root");
    // (request, error, a part of the message)
    for (body, error, says) in [
        (
            json!({"caCertificate": ca.pem}),
            INVALID_REQUEST,
            "verificationCertificate is required",
        ),
        (
            json!({"caCertificate": ca.pem, "verificationCertificate": ca.verification("0123abcd")}),
            ("RegistrationCodeValidationException", 400),
            code.as_str(),
        ),
        (
            json!({"caCertificate": ca.pem, "verificationCertificate": impostor.verification(&code)}),
            CERTIFICATE_VALIDATION,
            "not signed by the CA certificate",
        ),
        (
            json!({"caCertificate": ca.pem, "verificationCertificate": "garbage"}),
            CERTIFICATE_VALIDATION,
            "",
        ),
        (
            json!({"caCertificate": ca.pem, "verificationCertificate": ca.verification(&code), "certificateMode": "SNI_ONLY"}),
            INVALID_REQUEST,
            "SNI_ONLY",
        ),
        (
            json!({"caCertificate": ca.pem, "certificateMode": "OTHER"}),
            INVALID_REQUEST,
            "",
        ),
    ] {
        register(&api, body).await.error_saying(error, says);
    }
    assert_eq!(
        api.get("/cacertificates").await.ok(),
        json!({"certificates": []}),
        "nothing was registered"
    );

    // SNI_ONLY needs no verification.
    register(&api, sni_only(&ca.pem)).await.ok();
}

#[tokio::test]
async fn only_ca_certificates_can_be_registered() {
    let api = TestApi::new().await;
    let ca = TestCa::new("Acme Root");
    let code = code(&api).await;
    let leaf = ca.issue("not-a-ca");
    // (path, request, error, a part of the message)
    for (path, body, error, says) in [
        (
            "/cacertificate",
            json!({"caCertificate": leaf, "verificationCertificate": ca.verification(&code)}),
            CERTIFICATE_VALIDATION,
            "CA:TRUE",
        ),
        (
            "/cacertificate",
            sni_only("junk"),
            CERTIFICATE_VALIDATION,
            "caCertificate",
        ),
        ("/cacertificate", json!({}), INVALID_REQUEST, ""),
        (
            "/cacertificate",
            json!({"caCertificate": ca.pem, "certificateMode": "SNI_ONLY", "registrationConfig": {"templateBody": "{}"}}),
            INVALID_REQUEST,
            "just-in-time provisioning",
        ),
        (
            "/cacertificate",
            json!({"caCertificate": ca.pem, "certificateMode": "SNI_ONLY", "tags": [{"Key": "a b!"}]}),
            INVALID_REQUEST,
            "tags.member.Key",
        ),
        (
            // The same tag rules as every other Create*: `aws:` keys are AWS's.
            "/cacertificate",
            json!({"caCertificate": ca.pem, "certificateMode": "SNI_ONLY", "tags": [{"Key": "aws:owner", "Value": "x"}]}),
            INVALID_REQUEST,
            "reserved",
        ),
        (
            "/cacertificate?setAsActive=1",
            sni_only(&ca.pem),
            INVALID_REQUEST,
            "",
        ),
    ] {
        api.post(path, body).await.error_saying(error, says);
    }
    // An empty registrationConfig is no template.
    register(
        &api,
        json!({"caCertificate": ca.pem, "certificateMode": "SNI_ONLY", "registrationConfig": {}}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn at_most_ten_ca_certificates_share_a_subject() {
    let api = TestApi::new().await;
    for _ in 0..10 {
        let ca = TestCa::new("Popular Root");
        register(&api, sni_only(&ca.pem)).await.ok();
    }
    let ca = TestCa::new("Popular Root");
    register(&api, sni_only(&ca.pem))
        .await
        .error(LIMIT_EXCEEDED);
    let other = TestCa::new("Another Root");
    register(&api, sni_only(&other.pem)).await.ok();
}

#[tokio::test]
async fn cas_with_the_same_subject_and_key_must_be_named() {
    let api = TestApi::new().await;
    let key_pem = KeyPair::generate().unwrap().serialize_pem();
    let one = TestCa::with_key("Twin Root", KeyPair::from_pem(&key_pem).unwrap(), 1);
    let two = TestCa::with_key("Twin Root", KeyPair::from_pem(&key_pem).unwrap(), 2);
    assert_ne!(id_of(&one.pem), id_of(&two.pem));
    let one_id = register_active_ca(&api, &one).await;
    register_active_ca(&api, &two).await;
    let device = one.issue("device");
    register_certificate(&api, json!({"certificatePem": device}))
        .await
        .error_saying(("CertificateConflictException", 409), "caCertificatePem");
    register_certificate(
        &api,
        json!({"certificatePem": device, "caCertificatePem": one.pem}),
    )
    .await
    .ok();
    let description = describe(&api, &id_of(&device)).await;
    assert_eq!(description["caCertificateId"], one_id);
}

#[tokio::test]
async fn list_ca_certificates_pages_with_markers_both_ways() {
    let api = TestApi::new().await;
    let mut expected = Vec::new();
    for i in 0..5 {
        let ca = TestCa::new(&format!("Root {i}"));
        let id = register(&api, sni_only(&ca.pem)).await.ok()["certificateId"]
            .as_str()
            .unwrap()
            .to_owned();
        let created = description_creation(&api, &id).await.as_f64().unwrap();
        expected.push((created, id));
    }
    expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let ascending: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let descending: Vec<String> = ascending.iter().rev().cloned().collect();
    assert_eq!(
        walk(&api, "/cacertificates", 2, Some(true)).await,
        (ascending.clone(), 3)
    );
    assert_eq!(
        walk(&api, "/cacertificates", 2, Some(false)).await,
        (descending.clone(), 3)
    );
    assert_eq!(walk(&api, "/cacertificates", 2, None).await.0, descending);
    assert_eq!(
        walk(&api, "/cacertificates", 5, Some(true)).await,
        (ascending, 1)
    );
    api.get("/cacertificates?pageSize=0")
        .await
        .error(INVALID_REQUEST);
    api.get("/cacertificates?marker=%3F")
        .await
        .error(INVALID_REQUEST);
}

#[tokio::test]
async fn deactivating_a_ca_closes_the_connections_of_its_certificates() {
    let api = TestApi::new().await;
    let ca = TestCa::new("Acme Root");
    let ca_id = register_active_ca(&api, &ca).await;
    let mut signed = Vec::new();
    for i in 0..3 {
        let pem = ca.issue(&format!("device-{i}"));
        register_certificate(&api, json!({"certificatePem": pem, "status": "ACTIVE"}))
            .await
            .ok();
        signed.push(id_of(&pem));
    }
    create_certificate(&api, true).await;
    let path = format!("/cacertificate/{ca_id}");

    api.put_empty(&format!("{path}?newAutoRegistrationStatus=ENABLE"))
        .await
        .ok();
    let description = described(&api, &path).await;
    assert_eq!(description["autoRegistrationStatus"], "ENABLE");
    assert_eq!(description["status"], "ACTIVE");
    assert_eq!(description["customerVersion"], 2);
    assert!(api.events.revoked.lock().unwrap().is_empty());

    api.put_empty(&format!(
        "{path}?newStatus=INACTIVE&newAutoRegistrationStatus=DISABLE"
    ))
    .await
    .ok();
    let description = described(&api, &path).await;
    assert_eq!(description["status"], "INACTIVE");
    assert_eq!(description["autoRegistrationStatus"], "DISABLE");
    assert_eq!(description["customerVersion"], 3);
    let mut revoked = api.events.revoked.lock().unwrap().clone();
    revoked.sort();
    signed.sort();
    assert_eq!(revoked, signed, "exactly the CA's certificates");

    // Unchanged: idempotent, no new version.
    api.put_empty(&path).await.ok();
    assert_eq!(described(&api, &path).await["customerVersion"], 3);
    set_status(&api, &path, "ACTIVE").await.ok();
    assert_eq!(described(&api, &path).await["status"], "ACTIVE");

    set_status(&api, &path, "REVOKED")
        .await
        .error_saying(INVALID_REQUEST, "[ACTIVE, INACTIVE]");
    api.put_empty(&format!("{path}?newAutoRegistrationStatus=YES"))
        .await
        .error(INVALID_REQUEST);
    api.put(&path, json!({"registrationConfig": {"templateName": "t"}}))
        .await
        .error(INVALID_REQUEST);
    api.put(&path, json!({"removeAutoRegistration": true}))
        .await
        .ok();
    let unknown = format!("/cacertificate/{}", "0".repeat(64));
    set_status(&api, &unknown, "ACTIVE").await.error(NOT_FOUND);
    set_status(&api, "/cacertificate/xyz", "ACTIVE")
        .await
        .error(INVALID_REQUEST);
}

#[tokio::test]
async fn delete_ca_certificate_requires_inactive_and_keeps_its_certificates() {
    let api = TestApi::new().await;
    let ca = TestCa::new("Acme Root");
    let ca_id = register_active_ca(&api, &ca).await;
    let arn = format!("arn:aws:iot:us-east-1:123456789012:cacert/{ca_id}");
    api.state
        .store
        .tag_resource(
            &arn,
            &[Tag {
                key: "k".into(),
                value: "v".into(),
            }],
        )
        .await
        .unwrap();
    let device = ca.issue("device");
    register_certificate(&api, json!({"certificatePem": device}))
        .await
        .ok();
    let path = format!("/cacertificate/{ca_id}");

    let message = api
        .delete(&path)
        .await
        .error_saying(CERTIFICATE_STATE, "INACTIVE");
    assert!(message.contains(&ca_id), "{message}");
    set_status(&api, &path, "INACTIVE").await.ok();
    api.delete(&path).await.ok();
    api.get(&path).await.error(NOT_FOUND);
    api.delete(&path).await.error(NOT_FOUND);
    assert!(tags(&api, &arn).await.is_empty(), "its tags went with it");
    assert_eq!(
        api.get("/cacertificates").await.ok(),
        json!({"certificates": []})
    );

    // The certificate it signed stays registered, still naming it.
    let description = describe(&api, &id_of(&device)).await;
    assert_eq!(description["caCertificateId"], ca_id);
    // Registering the CA again brings its certificates back under it.
    register_active_ca(&api, &ca).await;
    assert_eq!(
        walk(&api, &format!("/certificates-by-ca/{ca_id}"), 10, None)
            .await
            .0,
        [id_of(&device)]
    );
}
