//! GetRegistrationCode, DeleteRegistrationCode, RegisterCACertificate, DescribeCACertificate,
//! ListCACertificates, UpdateCACertificate and DeleteCACertificate.

use rcgen::KeyPair;
use serde_json::json;
use thingd_registry::{PageRequest, Tag};

use crate::certificates::{TestCa, create_certificate, id_of, register_active_ca, walk};
use crate::harness::TestApi;

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

    let answer = api.post("/cacertificate", body).await;
    assert_eq!(answer.body["resourceId"], id);
    assert_eq!(answer.body["resourceArn"], arn);
    answer.error("ResourceAlreadyExistsException", 409);

    let active = TestCa::new("Active Root");
    let body = json!({"caCertificate": active.pem, "verificationCertificate": active.verification(&code(&api).await)});
    let registered = api
        .post(
            "/cacertificate?setAsActive=true&allowAutoRegistration=true",
            body,
        )
        .await
        .ok();
    let description = api
        .get(&format!(
            "/cacertificate/{}",
            registered["certificateId"].as_str().unwrap()
        ))
        .await
        .ok();
    assert_eq!(description["certificateDescription"]["status"], "ACTIVE");
    assert_eq!(
        description["certificateDescription"]["autoRegistrationStatus"],
        "ENABLE"
    );

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
        .error("InvalidRequestException", 400);
}

async fn description_creation(api: &TestApi, id: &str) -> serde_json::Value {
    api.get(&format!("/cacertificate/{id}")).await.ok()["certificateDescription"]["creationDate"]
        .clone()
}

#[tokio::test]
async fn the_verification_certificate_proves_the_key_and_the_code() {
    let api = TestApi::new().await;
    let ca = TestCa::new("Acme Root");
    let code = code(&api).await;

    let message = api
        .post("/cacertificate", json!({"caCertificate": ca.pem}))
        .await
        .error("InvalidRequestException", 400);
    assert!(
        message.contains("verificationCertificate is required"),
        "{message}"
    );
    let message = api
        .post("/cacertificate", json!({"caCertificate": ca.pem, "verificationCertificate": ca.verification("0123abcd")}))
        .await
        .error("RegistrationCodeValidationException", 400);
    assert!(message.contains(&code), "{message}");
    let impostor = TestCa::new("Acme Root");
    let message = api
        .post("/cacertificate", json!({"caCertificate": ca.pem, "verificationCertificate": impostor.verification(&code)}))
        .await
        .error("CertificateValidationException", 400);
    assert!(
        message.contains("not signed by the CA certificate"),
        "{message}"
    );
    api.post(
        "/cacertificate",
        json!({"caCertificate": ca.pem, "verificationCertificate": "garbage"}),
    )
    .await
    .error("CertificateValidationException", 400);
    let message = api
        .post("/cacertificate", json!({"caCertificate": ca.pem, "verificationCertificate": ca.verification(&code), "certificateMode": "SNI_ONLY"}))
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("SNI_ONLY"), "{message}");
    api.post(
        "/cacertificate",
        json!({"caCertificate": ca.pem, "certificateMode": "OTHER"}),
    )
    .await
    .error("InvalidRequestException", 400);
    assert_eq!(
        api.get("/cacertificates").await.ok(),
        json!({"certificates": []}),
        "nothing was registered"
    );

    // SNI_ONLY needs no verification.
    api.post(
        "/cacertificate",
        json!({"caCertificate": ca.pem, "certificateMode": "SNI_ONLY"}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn only_ca_certificates_can_be_registered() {
    let api = TestApi::new().await;
    let ca = TestCa::new("Acme Root");
    let code = code(&api).await;
    let leaf = ca.issue("not-a-ca");
    let message = api
        .post(
            "/cacertificate",
            json!({"caCertificate": leaf, "verificationCertificate": ca.verification(&code)}),
        )
        .await
        .error("CertificateValidationException", 400);
    assert!(message.contains("CA:TRUE"), "{message}");
    let message = api
        .post(
            "/cacertificate",
            json!({"caCertificate": "junk", "certificateMode": "SNI_ONLY"}),
        )
        .await
        .error("CertificateValidationException", 400);
    assert!(message.contains("caCertificate"), "{message}");
    api.post("/cacertificate", json!({}))
        .await
        .error("InvalidRequestException", 400);
    let message = api
        .post("/cacertificate", json!({"caCertificate": ca.pem, "certificateMode": "SNI_ONLY", "registrationConfig": {"templateBody": "{}"}}))
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("just-in-time provisioning"), "{message}");
    let message = api
        .post("/cacertificate", json!({"caCertificate": ca.pem, "certificateMode": "SNI_ONLY", "tags": [{"Key": "a b!"}]}))
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("tags.member.key"), "{message}");
    api.post(
        "/cacertificate?setAsActive=1",
        json!({"caCertificate": ca.pem, "certificateMode": "SNI_ONLY"}),
    )
    .await
    .error("InvalidRequestException", 400);
    // An empty registrationConfig is no template.
    api.post(
        "/cacertificate",
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
        api.post(
            "/cacertificate",
            json!({"caCertificate": ca.pem, "certificateMode": "SNI_ONLY"}),
        )
        .await
        .ok();
    }
    let ca = TestCa::new("Popular Root");
    api.post(
        "/cacertificate",
        json!({"caCertificate": ca.pem, "certificateMode": "SNI_ONLY"}),
    )
    .await
    .error("LimitExceededException", 410);
    let other = TestCa::new("Another Root");
    api.post(
        "/cacertificate",
        json!({"caCertificate": other.pem, "certificateMode": "SNI_ONLY"}),
    )
    .await
    .ok();
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
    let message = api
        .post("/certificate/register", json!({"certificatePem": device}))
        .await
        .error("CertificateConflictException", 409);
    assert!(message.contains("caCertificatePem"), "{message}");
    api.post(
        "/certificate/register",
        json!({"certificatePem": device, "caCertificatePem": one.pem}),
    )
    .await
    .ok();
    let description = api
        .get(&format!("/certificates/{}", id_of(&device)))
        .await
        .ok();
    assert_eq!(
        description["certificateDescription"]["caCertificateId"],
        one_id
    );
}

#[tokio::test]
async fn list_ca_certificates_pages_with_markers_both_ways() {
    let api = TestApi::new().await;
    let mut expected = Vec::new();
    for i in 0..5 {
        let ca = TestCa::new(&format!("Root {i}"));
        let id = api
            .post(
                "/cacertificate",
                json!({"caCertificate": ca.pem, "certificateMode": "SNI_ONLY"}),
            )
            .await
            .ok()["certificateId"]
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
        .error("InvalidRequestException", 400);
    api.get("/cacertificates?marker=%3F")
        .await
        .error("InvalidRequestException", 400);
}

#[tokio::test]
async fn deactivating_a_ca_closes_the_connections_of_its_certificates() {
    let api = TestApi::new().await;
    let ca = TestCa::new("Acme Root");
    let ca_id = register_active_ca(&api, &ca).await;
    let mut signed = Vec::new();
    for i in 0..3 {
        let pem = ca.issue(&format!("device-{i}"));
        api.post(
            "/certificate/register",
            json!({"certificatePem": pem, "status": "ACTIVE"}),
        )
        .await
        .ok();
        signed.push(id_of(&pem));
    }
    create_certificate(&api, true).await;
    let path = format!("/cacertificate/{ca_id}");

    api.put(
        &format!("{path}?newAutoRegistrationStatus=ENABLE"),
        json!({}),
    )
    .await
    .ok();
    let description = api.get(&path).await.ok()["certificateDescription"].clone();
    assert_eq!(description["autoRegistrationStatus"], "ENABLE");
    assert_eq!(description["status"], "ACTIVE");
    assert_eq!(description["customerVersion"], 2);
    assert!(api.events.revoked.lock().unwrap().is_empty());

    api.put(
        &format!("{path}?newStatus=INACTIVE&newAutoRegistrationStatus=DISABLE"),
        json!({}),
    )
    .await
    .ok();
    let description = api.get(&path).await.ok()["certificateDescription"].clone();
    assert_eq!(description["status"], "INACTIVE");
    assert_eq!(description["autoRegistrationStatus"], "DISABLE");
    assert_eq!(description["customerVersion"], 3);
    let mut revoked = api.events.revoked.lock().unwrap().clone();
    revoked.sort();
    signed.sort();
    assert_eq!(revoked, signed, "exactly the CA's certificates");

    // Unchanged: idempotent, no new version.
    api.put(&path, json!({})).await.ok();
    assert_eq!(
        api.get(&path).await.ok()["certificateDescription"]["customerVersion"],
        3
    );
    api.put(&format!("{path}?newStatus=ACTIVE"), json!({}))
        .await
        .ok();
    assert_eq!(
        api.get(&path).await.ok()["certificateDescription"]["status"],
        "ACTIVE"
    );

    let message = api
        .put(&format!("{path}?newStatus=REVOKED"), json!({}))
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("[ACTIVE, INACTIVE]"), "{message}");
    api.put(&format!("{path}?newAutoRegistrationStatus=YES"), json!({}))
        .await
        .error("InvalidRequestException", 400);
    api.put(&path, json!({"registrationConfig": {"templateName": "t"}}))
        .await
        .error("InvalidRequestException", 400);
    api.put(&path, json!({"removeAutoRegistration": true}))
        .await
        .ok();
    api.put(
        &format!("/cacertificate/{}?newStatus=ACTIVE", "0".repeat(64)),
        json!({}),
    )
    .await
    .error("ResourceNotFoundException", 404);
    api.put("/cacertificate/xyz?newStatus=ACTIVE", json!({}))
        .await
        .error("InvalidRequestException", 400);
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
    api.post("/certificate/register", json!({"certificatePem": device}))
        .await
        .ok();
    let path = format!("/cacertificate/{ca_id}");

    let message = api
        .delete(&path)
        .await
        .error("CertificateStateException", 406);
    assert!(
        message.contains("INACTIVE") && message.contains(&ca_id),
        "{message}"
    );
    api.put(&format!("{path}?newStatus=INACTIVE"), json!({}))
        .await
        .ok();
    api.delete(&path).await.ok();
    api.get(&path).await.error("ResourceNotFoundException", 404);
    api.delete(&path)
        .await
        .error("ResourceNotFoundException", 404);
    assert!(tags(&api, &arn).await.is_empty(), "its tags went with it");
    assert_eq!(
        api.get("/cacertificates").await.ok(),
        json!({"certificates": []})
    );

    // The certificate it signed stays registered, still naming it.
    let description = api
        .get(&format!("/certificates/{}", id_of(&device)))
        .await
        .ok();
    assert_eq!(
        description["certificateDescription"]["caCertificateId"],
        ca_id
    );
    // Registering the CA again brings its certificates back under it.
    register_active_ca(&api, &ca).await;
    assert_eq!(
        walk(&api, &format!("/certificates-by-ca/{ca_id}"), 10, None)
            .await
            .0,
        [id_of(&device)]
    );
}
