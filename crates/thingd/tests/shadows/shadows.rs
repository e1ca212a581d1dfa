//! Classic and named shadows over MQTT as the AWS IoT Developer Guide describes them ("Device
//! Shadow MQTT topics", "Interacting with shadows"): get of a missing shadow, update of desired
//! (accepted, delta, documents), a report that settles the delta, delete, the version kept
//! through a delete, named shadows beside the classic one, and the QoS of the responses.

use mqtt_codec::{ProtocolVersion, QoS};
use serde_json::{Value, json};
use testkit::TestServer;

use crate::device::{Device, assert_timestamp_in_seconds, prefix, version_of};
use crate::support::{Client, Net};

#[tokio::test]
async fn a_classic_shadow_goes_through_its_whole_life_over_mqtt() {
    let server = TestServer::start().await.unwrap();
    let mut lamp = Device::connect(&server, "lamp-1", "lamp-1", None).await;

    // Get of a shadow never written: 404 naming the thing, the token echoed.
    let (topic, rejected) = lamp.request("get", &json!({"clientToken": "t1"})).await;
    assert_eq!(topic, "get/rejected");
    assert_eq!(rejected["code"], 404);
    assert_eq!(rejected["message"], "No shadow exists with name: 'lamp-1'");
    assert_eq!(rejected["clientToken"], "t1");
    assert_timestamp_in_seconds(&rejected);

    // An application sets desired: accepted echoes the request, then delta and documents.
    let desired = json!({"color": "red", "brightness": 5});
    let (topic, accepted) = lamp
        .request(
            "update",
            &json!({"state": {"desired": desired}, "clientToken": "t2"}),
        )
        .await;
    assert_eq!(topic, "update/accepted");
    assert_eq!(accepted["state"], json!({"desired": desired}));
    assert_eq!(version_of(&accepted), 1);
    assert_eq!(accepted["clientToken"], "t2");
    assert!(accepted["metadata"]["desired"]["color"]["timestamp"].is_u64());
    assert_timestamp_in_seconds(&accepted);
    let delta = lamp.expect("update/delta").await;
    assert_eq!(delta["state"], desired);
    assert_eq!(version_of(&delta), 1);
    assert!(delta["metadata"]["brightness"]["timestamp"].is_u64());
    let documents = lamp.expect("update/documents").await;
    assert_eq!(documents["previous"], Value::Null, "the update created it");
    assert_eq!(documents["current"]["state"], json!({"desired": desired}));
    assert_eq!(documents["current"]["version"], 1);
    assert_eq!(documents["clientToken"], "t2");

    // The device reports what it was told: no delta is left, so none is published.
    let (topic, accepted) = lamp
        .request("update", &json!({"state": {"reported": desired}}))
        .await;
    assert_eq!(topic, "update/accepted");
    assert_eq!(version_of(&accepted), 2);
    assert!(accepted.get("clientToken").is_none());
    let documents = lamp.expect("update/documents").await;
    assert_eq!(documents["previous"]["version"], 1);
    assert_eq!(documents["previous"]["state"], json!({"desired": desired}));
    assert_eq!(
        documents["current"]["state"],
        json!({"desired": desired, "reported": desired})
    );

    let (topic, shadow) = lamp.request("get", &json!({})).await;
    assert_eq!(topic, "get/accepted");
    assert_eq!(
        shadow["state"],
        json!({"desired": desired, "reported": desired}),
        "no delta once reported matches desired"
    );
    assert_eq!(version_of(&shadow), 2);
    assert!(shadow["metadata"]["reported"]["brightness"]["timestamp"].is_u64());

    // A report that differs from desired: the delta comes back, with every differing field.
    let (topic, accepted) = lamp
        .request("update", &json!({"state": {"reported": {"brightness": 3}}}))
        .await;
    assert_eq!(topic, "update/accepted");
    assert_eq!(version_of(&accepted), 3);
    let delta = lamp.expect("update/delta").await;
    assert_eq!(delta["state"], json!({"brightness": 5}));
    assert_eq!(version_of(&delta), 3);
    lamp.expect("update/documents").await;
    // An empty get payload is allowed; the delta is part of the document.
    lamp.send("get", b"").await;
    let shadow = lamp.expect("get/accepted").await;
    assert_eq!(shadow["state"]["delta"], json!({"brightness": 5}));
    assert!(shadow["metadata"]["delta"]["brightness"]["timestamp"].is_u64());

    // Delete: accepted with the version; then the shadow is gone.
    let (topic, deleted) = lamp.request("delete", &json!({"clientToken": "bye"})).await;
    assert_eq!(topic, "delete/accepted");
    assert_eq!(version_of(&deleted), 3);
    assert_eq!(deleted["clientToken"], "bye");
    assert_timestamp_in_seconds(&deleted);
    let (topic, rejected) = lamp.request("get", &json!({})).await;
    assert_eq!(
        (topic.as_str(), &rejected["code"]),
        ("get/rejected", &json!(404))
    );
    let (topic, rejected) = lamp.request("delete", &json!({})).await;
    assert_eq!(topic, "delete/rejected");
    assert_eq!(rejected["code"], 404);
    assert_eq!(rejected["message"], "No shadow exists with name: 'lamp-1'");

    // The version counter survives the delete; documents show the shadow as new.
    let (topic, accepted) = lamp
        .request("update", &json!({"state": {"reported": {"on": true}}}))
        .await;
    assert_eq!(topic, "update/accepted");
    assert_eq!(version_of(&accepted), 4);
    let documents = lamp.expect("update/documents").await;
    assert_eq!(documents["previous"], Value::Null);
    assert_eq!(documents["current"]["version"], 4);
    lamp.assert_nothing_more().await;
    server.shutdown().await;
}

#[tokio::test]
async fn named_shadows_live_beside_the_classic_shadow() {
    let server = TestServer::start().await.unwrap();
    let mut config = Device::connect(&server, "pump-config", "pump-1", Some("config")).await;
    let mut classic = Device::connect(&server, "pump-classic", "pump-1", None).await;
    let mut other = Device::connect(&server, "pump-other", "pump-1", Some("$other:1")).await;

    let (topic, accepted) = config
        .request(
            "update",
            &json!({"state": {"desired": {"rpm": 900}}, "clientToken": "n1"}),
        )
        .await;
    assert_eq!(topic, "update/accepted");
    assert_eq!(version_of(&accepted), 1);
    config.expect("update/delta").await;
    config.expect("update/documents").await;

    // The classic shadow and another named one of the same thing do not exist.
    let (topic, rejected) = classic.request("get", &json!({})).await;
    assert_eq!(topic, "get/rejected");
    assert_eq!(rejected["message"], "No shadow exists with name: 'pump-1'");
    let (topic, rejected) = other.request("get", &json!({})).await;
    assert_eq!(topic, "get/rejected");
    assert_eq!(
        rejected["message"],
        "No shadow exists with name: '$other:1'"
    );

    let (topic, shadow) = config.request("get", &json!({"clientToken": "n2"})).await;
    assert_eq!(topic, "get/accepted");
    assert_eq!(shadow["state"]["desired"], json!({"rpm": 900}));
    assert_eq!(shadow["state"]["delta"], json!({"rpm": 900}));
    assert_eq!(shadow["clientToken"], "n2");

    // A second named shadow, and the thing's list of them (the classic one is not in it).
    let (topic, _) = other
        .request("update", &json!({"state": {"reported": {"ok": 1}}}))
        .await;
    assert_eq!(topic, "update/accepted");
    other.expect("update/documents").await;
    let (names, next) = server
        .shadows()
        .list_named("pump-1", 10, None)
        .await
        .unwrap();
    assert_eq!(names, ["$other:1", "config"]);
    assert_eq!(next, None);

    let (topic, deleted) = config.request("delete", &json!({})).await;
    assert_eq!(topic, "delete/accepted");
    assert_eq!(version_of(&deleted), 1);
    let (names, _) = server
        .shadows()
        .list_named("pump-1", 10, None)
        .await
        .unwrap();
    assert_eq!(names, ["$other:1"]);
    for device in [&mut config, &mut classic, &mut other] {
        device.assert_nothing_more().await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn responses_are_published_at_qos_1_and_delivered_at_the_subscription_qos() {
    let server = TestServer::start().await.unwrap();
    // Subscribed at QoS 1, asking at QoS 0: the answer comes at QoS 1.
    let mut qos1 = Device::connect(&server, "qos-1", "qos-thing", None).await;
    qos1.mqtt
        .publish0(&format!("{}/get", qos1.prefix), b"")
        .await;
    let publish = qos1.mqtt.expect_publish().await;
    assert_eq!(
        publish.topic.as_str(),
        format!("{}/get/rejected", qos1.prefix)
    );
    assert_eq!(publish.qos, QoS::AtLeastOnce);

    // An MQTT 3.1.1 client subscribed at QoS 0 gets them at QoS 0.
    let v3 = Client::connect(&server, Net::Tls, ProtocolVersion::V311, "qos-0").await;
    let mut qos0 = Device::subscribed(v3, "qos-0", "qos-thing", None, QoS::AtMostOnce).await;
    qos0.send("update", br#"{"state":{"reported":{"x":1}}}"#)
        .await;
    let publish = qos0.mqtt.expect_publish().await;
    assert_eq!(
        publish.topic.as_str(),
        format!("{}/update/accepted", prefix("qos-thing", None))
    );
    assert_eq!(publish.qos, QoS::AtMostOnce);
    // The QoS 1 device hears the answer to the other's request as well.
    assert_eq!(qos1.expect("update/accepted").await["version"], 1);
    server.shutdown().await;
}
