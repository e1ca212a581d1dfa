//! Shadows are durable: a thingd stopped and started again on the same data directory serves
//! the same documents and versions, and goes on counting from them.

use mqtt_codec::QoS;
use serde_json::json;
use testkit::TestServer;
use thingd_broker::BrokerConfig;

use crate::device::{Device, version_of};

#[tokio::test]
async fn shadows_survive_a_restart() {
    let server = TestServer::start().await.unwrap();
    let mut device = Device::connect(&server, "durable", "durable", None).await;
    for value in 1..=3 {
        let (topic, _) = device
            .request("update", &json!({"state": {"reported": {"n": value}}}))
            .await;
        assert_eq!(topic, "update/accepted");
        device.expect("update/documents").await;
    }
    let mut named = Device::connect(&server, "durable-named", "durable", Some("cfg")).await;
    let (topic, _) = named
        .request("update", &json!({"state": {"desired": {"mode": "eco"}}}))
        .await;
    assert_eq!(topic, "update/accepted");
    let mut gone = Device::connect(&server, "durable-gone", "durable", Some("gone")).await;
    let (topic, _) = gone
        .request("update", &json!({"state": {"desired": {"x": 1}}}))
        .await;
    assert_eq!(topic, "update/accepted");
    gone.expect("update/delta").await;
    gone.expect("update/documents").await;
    let (topic, _) = gone.request("delete", &json!({})).await;
    assert_eq!(topic, "delete/accepted");
    let before: serde_json::Value =
        serde_json::from_slice(&server.shadows().get("durable", None).await.unwrap()).unwrap();
    drop((device, named, gone));

    let data = server.stop_keeping_data().await;
    let server = TestServer::start_in(data, BrokerConfig::default())
        .await
        .unwrap();
    let mut device = Device::connect(&server, "durable", "durable", None).await;
    let (topic, after) = device.request("get", &json!({})).await;
    assert_eq!(topic, "get/accepted");
    assert_eq!(after["state"], before["state"]);
    assert_eq!(after["metadata"], before["metadata"]);
    assert_eq!(version_of(&after), 3);
    let (topic, accepted) = device
        .request("update", &json!({"state": {"reported": {"n": 4}}}))
        .await;
    assert_eq!(topic, "update/accepted");
    assert_eq!(version_of(&accepted), 4);

    let mut named = Device::connect(&server, "durable-named", "durable", Some("cfg")).await;
    let (topic, shadow) = named.request("get", &json!({})).await;
    assert_eq!(topic, "get/accepted");
    assert_eq!(shadow["state"]["desired"], json!({"mode": "eco"}));
    // The deleted one stays deleted, with its version counter.
    let mut gone = Device::subscribed(
        gone_client(&server).await,
        "durable-gone",
        "durable",
        Some("gone"),
        QoS::AtLeastOnce,
    )
    .await;
    let (topic, _) = gone.request("get", &json!({})).await;
    assert_eq!(topic, "get/rejected");
    let (topic, accepted) = gone
        .request("update", &json!({"state": {"reported": {"x": 2}}}))
        .await;
    assert_eq!(topic, "update/accepted");
    assert_eq!(
        version_of(&accepted),
        2,
        "the counter survived the delete and the restart"
    );
    let (names, _) = server
        .shadows()
        .list_named("durable", 10, None)
        .await
        .unwrap();
    assert_eq!(names, ["cfg", "gone"]);
    server.shutdown().await;
}

async fn gone_client(server: &TestServer) -> crate::support::Client {
    crate::support::Client::connect(
        server,
        crate::support::Net::Tls,
        mqtt_codec::ProtocolVersion::V5,
        "durable-gone",
    )
    .await
}
