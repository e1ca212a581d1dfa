//! AWS IoT policies govern the shadow topics as any other: a device whose policy does not allow
//! `iot:Publish` on a request topic cannot ask (MQTT 5: PUBACK 0x87; MQTT 3.1.1: disconnected),
//! and one denied `iot:Receive` on `/update/accepted` does not hear that answer while it still
//! hears the others (the answers go through the broker like any message).

use mqtt_codec::{ProtocolVersion, QoS, ReasonCode};
use serde_json::json;
use testkit::{ClientCert, TestServer};

use crate::device::Device;
use crate::support::{Client, connect_packet, tls_config};

const ARN_PREFIX: &str = "arn:aws:iot:us-east-1:000000000000";

/// Connects with `cert` under `client_id`, which its policy must allow.
async fn connect_as(
    server: &TestServer,
    cert: &ClientCert,
    version: ProtocolVersion,
    client_id: &str,
) -> Client {
    let mut client = Client::open_tls(server, tls_config(server, cert), version).await;
    let connack = client.handshake(connect_packet(version, client_id)).await;
    assert_eq!(connack.reason_code, ReasonCode::Success, "{connack:?}");
    client
}

#[tokio::test]
async fn a_device_not_allowed_to_publish_on_a_shadow_topic_cannot_change_it() {
    let server = TestServer::start().await.unwrap();
    let cert = server
        .issue_client_without_policy("no-shadow")
        .await
        .unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect", "iot:Subscribe", "iot:Receive"], "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": format!("{ARN_PREFIX}:topic/markers/*")},
    ]});
    server
        .create_policy("no-shadow", &policy.to_string())
        .await
        .unwrap();
    server.attach_policy("no-shadow", &cert).await.unwrap();

    let client = connect_as(&server, &cert, ProtocolVersion::V5, "no-shadow").await;
    let mut device =
        Device::subscribed(client, "no-shadow", "locked", None, QoS::AtLeastOnce).await;
    let update = format!("{}/update", device.prefix);
    assert_eq!(
        device
            .mqtt
            .publish1(&update, br#"{"state":{"desired":{"open":true}}}"#)
            .await,
        ReasonCode::NotAuthorized
    );
    // No answer, and no shadow.
    device.assert_nothing_more().await;
    assert_eq!(
        server.shadows().get("locked", None).await.unwrap_err().code,
        404
    );
    // MQTT 3.1.1 has no negative PUBACK: the connection is closed.
    let mut v311 = connect_as(&server, &cert, ProtocolVersion::V311, "no-shadow-311").await;
    v311.send_publish(
        &update,
        br#"{"state":{"desired":{"open":true}}}"#,
        QoS::AtLeastOnce,
        1,
    )
    .await;
    assert!(v311.expect_close().await.is_empty());
    assert_eq!(
        server.shadows().get("locked", None).await.unwrap_err().code,
        404
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_device_denied_receive_on_accepted_hears_the_other_answers_only() {
    let server = TestServer::start().await.unwrap();
    let cert = server.issue_client_without_policy("deaf").await.unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iot:Receive",
         "Resource": format!("{ARN_PREFIX}:topic/$aws/things/deaf/shadow/update/accepted")},
    ]});
    server
        .create_policy("deaf", &policy.to_string())
        .await
        .unwrap();
    server.attach_policy("deaf", &cert).await.unwrap();
    let client = connect_as(&server, &cert, ProtocolVersion::V5, "deaf").await;
    // Subscribing is allowed; receiving on one of the topics is not.
    let mut deaf = Device::subscribed(client, "deaf", "deaf", None, QoS::AtLeastOnce).await;
    let mut observer = Device::connect(&server, "deaf-observer", "deaf", None).await;

    deaf.send("update", br#"{"state":{"desired":{"volume":11}}}"#)
        .await;
    assert_eq!(observer.expect("update/accepted").await["version"], 1);
    observer.expect("update/delta").await;
    observer.expect("update/documents").await;
    // The deaf device gets delta and documents, never accepted.
    assert_eq!(deaf.expect("update/delta").await["version"], 1);
    assert_eq!(
        deaf.expect("update/documents").await["current"]["version"],
        1
    );
    deaf.assert_nothing_more().await;
    // Its get is answered as usual.
    let (topic, shadow) = deaf.request("get", &json!({})).await;
    assert_eq!(topic, "get/accepted");
    assert_eq!(shadow["state"]["desired"], json!({"volume": 11}));
    server.shutdown().await;
}
