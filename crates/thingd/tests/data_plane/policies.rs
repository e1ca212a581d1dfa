//! Devices over HTTPS are held to their certificate and its policies, made through the API (the
//! AWS SDK for Rust) as a user makes them: a certificate that is not registered and ACTIVE gets
//! 401 `UnauthorizedException`, an action no policy allows 403 `ForbiddenException`, each
//! operation is checked for its own action and resource, and a change (detach, deactivation)
//! applies from the next request of an already open connection.

use aws_sdk_iot::types::CertificateStatus;
use serde_json::json;
use testkit::{ClientCert, TestServer};

use crate::client::{Https, curl};
use crate::iot::{allow, attach_policy, deny, detach_policy, document, give, sdk};

const FORBIDDEN: (u16, &str) = (403, "ForbiddenException");
const UNAUTHORIZED: (u16, &str) = (401, "UnauthorizedException");

/// A device with `statements` as its only policy, named after it.
async fn device_with(server: &TestServer, name: &str, statements: serde_json::Value) -> ClientCert {
    let cert = server.issue_client_without_policy(name).await.unwrap();
    give(&sdk(server), server, &cert, name, &document(statements)).await;
    cert
}

#[tokio::test]
async fn curl_without_a_policy_allowing_it_gets_403_and_with_one_200() {
    let server = TestServer::start().await.unwrap();
    let bare = server.issue_client_without_policy("bare").await.unwrap();
    let answer = curl(
        &server,
        &bare,
        "POST",
        "/topics/sensors%2Fa?qos=1",
        Some("x"),
    )
    .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.json()["message"], "Forbidden");

    let device = device_with(
        &server,
        "sensor",
        json!([allow(&["iot:Publish"], &["topic/sensors/*"])]),
    )
    .await;
    let allowed = curl(
        &server,
        &device,
        "POST",
        "/topics/sensors%2Fa?qos=1",
        Some("x"),
    )
    .await;
    assert_eq!(allowed.status, 200, "{allowed:?}");
    let other = curl(
        &server,
        &device,
        "POST",
        "/topics/actuators%2Fa?qos=1",
        Some("x"),
    )
    .await;
    assert_eq!(other.status, 403, "{other:?}");
    // Retaining needs iot:RetainPublish too.
    let retained = curl(
        &server,
        &device,
        "POST",
        "/topics/sensors%2Fa?retain=true",
        Some("x"),
    )
    .await;
    assert_eq!(retained.status, 403, "{retained:?}");
    // iot:Connect plays no part over HTTPS (there is no client id), as in AWS.
    let denied = server.data_plane().metrics();
    assert!(
        denied
            .requests_denied_total
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 3
    );
    server.shutdown().await;
}

#[tokio::test]
async fn certificates_that_are_not_registered_and_active_get_401() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
    let device = server.issue_client("to-deactivate").await.unwrap();
    assert_eq!(
        curl(&server, &device, "POST", "/topics/t", Some("x"))
            .await
            .status,
        200
    );
    iot.update_certificate()
        .certificate_id(&device.certificate_id)
        .new_status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    let refused = curl(&server, &device, "POST", "/topics/t", Some("x")).await;
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_eq!(refused.json()["__type"], "UnauthorizedException");

    // A certificate the registry never heard of, though the handshake itself succeeds (the
    // registry decides, as for MQTT).
    let stranger = unregistered_certificate(&server);
    let mut https = Https::connect(&server, &stranger).await;
    let reply = https.post("/topics/t", b"x").await;
    reply.assert_error(UNAUTHORIZED.0, UNAUTHORIZED.1);
    // A refused certificate stays refused: the server closes the connection rather than answer
    // (and look it up) again and again.
    assert_eq!(reply.header("connection"), Some("close"), "{reply:?}");
    assert!(https.closed().await, "the connection is closed after a 401");
    server.shutdown().await;
}

/// A certificate and key issued by thingd's CA but never registered.
fn unregistered_certificate(server: &TestServer) -> ClientCert {
    let ca = thingd_pki::CertificateAuthority::load(server.data_dir()).unwrap();
    let issued = ca.issue_client_certificate("stranger").unwrap();
    ClientCert {
        cert_pem: issued.certificate_pem.clone(),
        key_pem: issued.private_key_pem.clone(),
        certificate_id: issued.certificate_id.clone(),
        dir: server.data_dir().join("nowhere"),
    }
}

#[tokio::test]
async fn changes_apply_from_the_next_request_of_an_open_connection() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
    let device = device_with(
        &server,
        "keeper",
        json!([allow(&["iot:Publish"], &["topic/keep/*"])]),
    )
    .await;
    let arn = server.certificate_arn(&device);
    let mut https = Https::connect(&server, &device).await;
    assert_eq!(https.post("/topics/keep%2Fa", b"1").await.status, 200);
    assert_eq!(https.post("/topics/keep%2Fa", b"2").await.status, 200);

    detach_policy(&iot, "keeper", &arn).await;
    https
        .post("/topics/keep%2Fa", b"3")
        .await
        .assert_error(FORBIDDEN.0, FORBIDDEN.1);
    attach_policy(&iot, "keeper", &arn).await;
    assert_eq!(https.post("/topics/keep%2Fa", b"4").await.status, 200);

    // A new default version that denies it.
    crate::iot::new_default_version(
        &iot,
        "keeper",
        &document(json!([
            allow(&["iot:Publish"], &["topic/keep/*"]),
            deny(&["iot:Publish"], &["topic/keep/a"]),
        ])),
    )
    .await;
    https
        .post("/topics/keep%2Fa", b"5")
        .await
        .assert_error(FORBIDDEN.0, FORBIDDEN.1);
    assert_eq!(https.post("/topics/keep%2Fb", b"6").await.status, 200);

    // Deactivated while the connection is open: its next request is refused.
    iot.update_certificate()
        .certificate_id(&device.certificate_id)
        .new_status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    https
        .post("/topics/keep%2Fb", b"7")
        .await
        .assert_error(UNAUTHORIZED.0, UNAUTHORIZED.1);
    server.shutdown().await;
}

#[tokio::test]
async fn each_operation_is_held_to_its_own_action_and_resource() {
    let server = TestServer::start().await.unwrap();
    // Something retained to read.
    let mut admin = Https::connect(&server, &server.client).await;
    for topic in ["r%2Fa", "s%2Fa"] {
        let reply = admin
            .post(&format!("/topics/{topic}?retain=true"), b"kept")
            .await;
        assert_eq!(reply.status, 200);
    }
    let device = device_with(
        &server,
        "reader",
        json!([
            allow(&["iot:GetRetainedMessage"], &["topic/r/*"]),
            allow(&["iot:GetThingShadow"], &["thing/lamp", "thing/lamp/cfg"]),
            allow(&["iot:UpdateThingShadow"], &["thing/lamp/cfg"]),
            allow(&["iot:ListNamedShadowsForThing"], &["thing/lamp"]),
        ]),
    )
    .await;
    let mut https = Https::connect(&server, &device).await;

    assert_eq!(https.get("/retainedMessage/r%2Fa").await.status, 200);
    https
        .get("/retainedMessage/s%2Fa")
        .await
        .assert_error(FORBIDDEN.0, FORBIDDEN.1);
    // ListRetainedMessages needs its own action on `*`.
    https
        .get("/retainedMessage")
        .await
        .assert_error(FORBIDDEN.0, FORBIDDEN.1);
    // Publish is not GetRetainedMessage.
    https
        .post("/topics/r%2Fa", b"x")
        .await
        .assert_error(FORBIDDEN.0, FORBIDDEN.1);

    // Shadows: classic on thing/lamp, named on thing/lamp/{shadow}. Allowed requests reach the
    // shadow service (which has no such shadow yet: 404), refused ones do not.
    let missing = https.get("/things/lamp/shadow").await;
    missing.assert_error(404, "ResourceNotFoundException");
    let missing = https.get("/things/lamp/shadow?name=cfg").await;
    missing.assert_error(404, "ResourceNotFoundException");
    for (method, target) in [
        ("GET", "/things/other/shadow"),
        ("GET", "/things/lamp/shadow?name=secret"),
        ("POST", "/things/lamp/shadow"),
        ("DELETE", "/things/lamp/shadow?name=cfg"),
        ("GET", "/api/things/shadow/ListNamedShadowsForThing/other"),
    ] {
        let body: &[u8] = if method == "POST" {
            br#"{"state":{"desired":{"on":true}}}"#
        } else {
            b""
        };
        https
            .request(method, target, &[], body)
            .await
            .assert_error(FORBIDDEN.0, FORBIDDEN.1);
    }
    let updated = https
        .post(
            "/things/lamp/shadow?name=cfg",
            br#"{"state":{"desired":{"on":true}}}"#,
        )
        .await
        .ok_json();
    assert_eq!(updated["state"]["desired"]["on"], true, "{updated}");
    let listed = https
        .get("/api/things/shadow/ListNamedShadowsForThing/lamp")
        .await
        .ok_json();
    assert_eq!(listed["results"], json!(["cfg"]), "{listed}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_custom_authorizer_leaves_the_https_data_plane_off() {
    // The HTTPS data plane decides from the registry's certificates and policies; with a custom
    // authorizer deciding for MQTT, serving it would let devices bypass that authorizer.
    let server = TestServer::start_with_authorizer(
        thingd_broker::BrokerConfig::default(),
        std::sync::Arc::new(thingd_broker::AllowConnected),
    )
    .await
    .unwrap();
    // testkit reports the listener thingd did not bind as port 0.
    assert_eq!(server.https.port(), 0, "no HTTPS listener is bound");
    server.shutdown().await;
}

#[tokio::test]
async fn a_connection_keeps_its_policies_until_a_change_is_announced() {
    let server = TestServer::start().await.unwrap();
    let device = server.issue_client_without_policy("cached").await.unwrap();
    let mut https = Https::connect(&server, &device).await;
    https
        .post("/topics/t", b"x")
        .await
        .assert_error(FORBIDDEN.0, FORBIDDEN.1);
    // Changed in the store behind the API's back: the connection's compiled policies stand.
    server
        .attach_policy(testkit::ALLOW_ALL_POLICY, &device)
        .await
        .unwrap();
    https
        .post("/topics/t", b"x")
        .await
        .assert_error(FORBIDDEN.0, FORBIDDEN.1);
    // Announced, as the API announces its own changes: the next request is decided afresh.
    server.announce(&thingd_api::AuthorizationChange::Target(
        server.certificate_arn(&device),
    ));
    assert_eq!(https.post("/topics/t", b"x").await.status, 200);
    // A new connection resolves afresh anyway.
    let mut other = Https::connect(&server, &device).await;
    assert_eq!(other.post("/topics/t", b"x").await.status, 200);
    server.shutdown().await;
}
