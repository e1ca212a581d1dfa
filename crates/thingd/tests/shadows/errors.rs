//! Requests the service refuses, answered on `/rejected` with AWS's code and message (AWS IoT
//! Developer Guide, "Device Shadow error messages"), the `clientToken` echoed when it could be
//! read: version conflicts, malformed documents, oversize states, nesting too deep, bad
//! encodings and names. Publishes the service does not serve (its response topics, unknown
//! operations) are refused by the broker, so no client can forge an answer.

use std::sync::atomic::Ordering;

use mqtt_codec::{ProtocolVersion, QoS, ReasonCode};
use serde_json::{Value, json};
use testkit::TestServer;

use crate::device::{Device, version_of};
use crate::support::{Client, Net};

/// Publishes an update and checks it is rejected with `code` and `message`; returns the error
/// document.
async fn rejected(device: &mut Device, payload: &[u8], code: u16, message: &str) -> Value {
    device.send("update", payload).await;
    let rejected = device.expect("update/rejected").await;
    assert_eq!(
        (rejected["code"].as_u64(), rejected["message"].as_str()),
        (Some(u64::from(code)), Some(message)),
        "for {}",
        String::from_utf8_lossy(payload)
    );
    rejected
}

#[tokio::test]
async fn an_update_expecting_another_version_is_rejected_409() {
    let server = TestServer::start().await.unwrap();
    let mut device = Device::connect(&server, "vc", "vc-thing", None).await;
    let (topic, accepted) = device
        .request(
            "update",
            &json!({"state": {"desired": {"a": 1}}, "version": 0}),
        )
        .await;
    assert_eq!(
        topic, "update/accepted",
        "version 0 is a shadow never written"
    );
    assert_eq!(version_of(&accepted), 1);
    device.expect("update/delta").await;
    device.expect("update/documents").await;

    let stale = json!({"state": {"desired": {"a": 2}}, "version": 0, "clientToken": "old"});
    let error = rejected(
        &mut device,
        stale.to_string().as_bytes(),
        409,
        "Version conflict",
    )
    .await;
    assert_eq!(error["clientToken"], "old");
    // The shadow did not change; the right version goes through.
    let (topic, accepted) = device
        .request(
            "update",
            &json!({"state": {"desired": {"a": 3}}, "version": 1}),
        )
        .await;
    assert_eq!(topic, "update/accepted");
    assert_eq!(version_of(&accepted), 2);
    device.expect("update/delta").await;
    let documents = device.expect("update/documents").await;
    assert_eq!(documents["previous"]["state"]["desired"], json!({"a": 1}));
    device.assert_nothing_more().await;
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_documents_are_rejected_400_with_awss_messages() {
    let server = TestServer::start().await.unwrap();
    let mut device = Device::connect(&server, "bad-json", "bad-json", None).await;
    let token_65 = "t".repeat(65);
    let invalid_token = json!({"state": {"desired": {"a": 1}}, "clientToken": token_65});
    let cases: [(&[u8], &str); 9] = [
        (br#"{"state":"#, "Invalid JSON"),
        (b"[1, 2]", "Invalid JSON"),
        (b"", "Invalid JSON"),
        (br#"{"clientToken":"x"}"#, "Missing required node: state"),
        (br#"{"state": 7}"#, "State node must be an object"),
        (
            br#"{"state": {"desired": [1]}}"#,
            "Desired node must be an object",
        ),
        (
            br#"{"state": {"delta": {"a": 1}}}"#,
            "State contains an invalid node",
        ),
        (
            br#"{"state": {"desired": {"a": 1}}, "version": "1"}"#,
            "Invalid version",
        ),
        (
            br#"{"state": {"desired": {"list": [1, null]}}}"#,
            "State contains an invalid node",
        ),
    ];
    for (payload, message) in cases {
        rejected(&mut device, payload, 400, message).await;
    }
    let error = rejected(
        &mut device,
        invalid_token.to_string().as_bytes(),
        400,
        "Invalid clientToken",
    )
    .await;
    assert!(
        error.get("clientToken").is_none(),
        "an invalid token is not echoed"
    );
    // The token of a request otherwise malformed is echoed.
    let error = rejected(
        &mut device,
        br#"{"state": 1, "clientToken": "mine"}"#,
        400,
        "State node must be an object",
    )
    .await;
    assert_eq!(error["clientToken"], "mine");
    // Get and delete read their payload too.
    device.send("get", b"not json").await;
    let error = device.expect("get/rejected").await;
    assert_eq!(
        (error["code"].as_u64(), error["message"].as_str()),
        (Some(400), Some("Invalid JSON"))
    );
    device.send("delete", b"{").await;
    let error = device.expect("delete/rejected").await;
    assert_eq!(error["code"], 400);
    // Not UTF-8: 415, AWS's message (typo included).
    rejected(
        &mut device,
        b"{\"state\":{\"desired\":{\"a\":\"\xff\"}}}",
        415,
        "Unsupported documented encoding; supported encoding is UTF-8",
    )
    .await;
    // None of it created the shadow.
    let (topic, _) = device.request("get", &json!({})).await;
    assert_eq!(topic, "get/rejected");
    device.assert_nothing_more().await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversize_state_is_rejected_413_and_a_deep_one_400() {
    let server = TestServer::start().await.unwrap();
    let mut device = Device::connect(&server, "big", "big-thing", None).await;
    // 8 KB of state is the limit, metadata not counted.
    let big = json!({"state": {"desired": {"blob": "x".repeat(8 * 1024)}}, "clientToken": "b"});
    let error = rejected(
        &mut device,
        big.to_string().as_bytes(),
        413,
        "The payload exceeds the maximum size allowed",
    )
    .await;
    assert_eq!(error["clientToken"], "b");
    // Under the limit alone, but over it with what is stored already.
    let half = |key: &str| json!({"state": {"desired": {key: "y".repeat(5 * 1024)}}});
    let (topic, _) = device.request("update", &half("first")).await;
    assert_eq!(topic, "update/accepted");
    device.expect("update/delta").await;
    device.expect("update/documents").await;
    rejected(
        &mut device,
        half("second").to_string().as_bytes(),
        413,
        "The payload exceeds the maximum size allowed",
    )
    .await;

    // Six levels counted from `state` are allowed, seven are not.
    let six = json!({"state": {"reported": {"a": {"b": {"c": {"d": {"e": 1}}}}}}});
    let (topic, accepted) = device.request("update", &six).await;
    assert_eq!(topic, "update/accepted");
    assert_eq!(version_of(&accepted), 2);
    device.expect("update/delta").await;
    device.expect("update/documents").await;
    let seven = json!({"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}});
    rejected(
        &mut device,
        seven.to_string().as_bytes(),
        400,
        "JSON contains too many levels of nesting; maximum is 6",
    )
    .await;
    device.assert_nothing_more().await;
    server.shutdown().await;
}

#[tokio::test]
async fn names_aws_iot_does_not_accept_are_rejected_400() {
    let server = TestServer::start().await.unwrap();
    let long = "n".repeat(129);
    let cases = [
        (
            "bad.thing".to_owned(),
            None,
            "ThingName must match pattern [a-zA-Z0-9:_-]+",
        ),
        (long.clone(), None, "ThingName has a maximum length of 128"),
        (
            "good".to_owned(),
            Some("bad.shadow"),
            "ShadowName must match pattern [$a-zA-Z0-9:_-]+",
        ),
        (
            "good".to_owned(),
            Some(&long[..65]),
            "ShadowName has a maximum length of 64",
        ),
    ];
    for (index, (thing, shadow, message)) in cases.iter().enumerate() {
        let mut device = Device::connect(&server, &format!("names-{index}"), thing, *shadow).await;
        let (topic, error) = device
            .request(
                "update",
                &json!({"state": {"desired": {"a": 1}}, "clientToken": "n"}),
            )
            .await;
        assert_eq!(topic, "update/rejected", "{thing} {shadow:?}");
        assert_eq!(error["code"], 400);
        assert_eq!(error["message"], *message);
        assert_eq!(error["clientToken"], "n");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn publishes_to_topics_the_service_does_not_serve_are_refused() {
    let server = TestServer::start().await.unwrap();
    let mut listener = Device::connect(&server, "listener", "spoofed", None).await;
    let mut forger = Client::connect(&server, Net::Tls, ProtocolVersion::V5, "forger").await;
    // The response topics are the service's: a client may not publish on them, nor on an
    // operation that does not exist (MQTT 5: PUBACK 0x87; the connection stays).
    for topic in [
        "$aws/things/spoofed/shadow/update/accepted",
        "$aws/things/spoofed/shadow/update/delta",
        "$aws/things/spoofed/shadow/get/rejected",
        "$aws/things/spoofed/shadow/frobnicate",
        "$aws/things/spoofed/shadow/name/x/update/documents",
        "$aws/things/spoofed/shadow",
    ] {
        assert_eq!(
            forger.publish1(topic, br#"{"state":{}}"#).await,
            ReasonCode::NotAuthorized,
            "{topic}"
        );
    }
    listener.assert_nothing_more().await;

    // A request with an empty thing level has no topic to be answered on: dropped, counted.
    let metrics = server.shadows().metrics();
    let dropped = metrics.dropped_total.load(Ordering::Relaxed);
    forger.publish1_ok("$aws/things//shadow/get", b"").await;
    forger
        .publish1_ok("$aws/things/t/shadow/name//update", b"{}")
        .await;
    // The hook runs before the PUBACK, so the count is already there.
    assert_eq!(metrics.dropped_total.load(Ordering::Relaxed), dropped + 2);
    // The connection still works and the service still answers.
    let mut after = Device::subscribed(forger, "forger", "spoofed", None, QoS::AtLeastOnce).await;
    let (topic, _) = after.request("get", &json!({})).await;
    assert_eq!(topic, "get/rejected");
    server.shutdown().await;
}
