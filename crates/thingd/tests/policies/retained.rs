//! Retained messages obey iot:Receive like any other delivery: a client subscribed to a filter
//! that matches retained messages it may not receive gets only the others; and publishing a
//! retained message needs iot:RetainPublish as well as iot:Publish.

use mqtt_codec::ProtocolVersion::V5;
use mqtt_codec::ReasonCode;
use serde_json::json;
use testkit::TestServer;

use crate::iot::{QOS1, allow, device, document, give, sdk};
use crate::support::{Client, Net};

#[tokio::test]
async fn a_retained_message_is_not_delivered_without_receive() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "publisher").await;
    for topic in ["config/a", "config/b", "marker"] {
        assert!(crate::iot::accepted(
            publisher.publish_retained(topic, topic.as_bytes()).await
        ));
    }
    let cert = server.issue_client_without_policy("reader").await.unwrap();
    give(
        &iot,
        &server,
        &cert,
        "reader",
        &document(json!([
            allow(&["iot:Connect"], &["client/reader"]),
            allow(&["iot:Subscribe"], &["topicfilter/*"]),
            allow(&["iot:Receive"], &["topic/config/b", "topic/marker"]),
            allow(&["iot:Publish"], &["topic/config/*"]),
        ])),
    )
    .await;
    let mut reader = device(&server, &cert, V5, "reader").await;
    reader.subscribe("config/#", QOS1).await;
    // The retained marker comes after whatever the first subscription's retained messages were.
    reader.subscribe("marker", QOS1).await;
    let before: Vec<String> = reader
        .publishes_until("marker")
        .await
        .iter()
        .map(|p| p.topic.as_str().to_owned())
        .collect();
    assert_eq!(before, ["config/b"]);

    // Publishing with RETAIN set needs iot:RetainPublish, which it lacks; without RETAIN the
    // same topic is fine.
    assert_eq!(
        reader.publish_retained("config/b", b"new").await,
        ReasonCode::NotAuthorized
    );
    assert!(crate::iot::accepted(
        reader.publish1("config/b", b"new").await
    ));
    server.shutdown().await;
}
