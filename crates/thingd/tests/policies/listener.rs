//! The plain listener (and MQTT over WebSocket from loopback) has no credentials: its clients
//! are held to the one policy `--mqtt-tcp-policy` names, and without one every CONNECT there is
//! refused.

use mqtt_codec::ProtocolVersion::{V5, V311};
use mqtt_codec::ReasonCode;
use serde_json::json;
use testkit::TestServer;

use crate::iot::{QOS1, allow, create_policy, document, new_default_version, sdk};
use crate::support::{Client, Net, by_version, connect_packet, opts};

#[tokio::test]
async fn without_mqtt_tcp_policy_the_plain_listener_refuses_everyone() {
    let server = TestServer::start_with_tcp_policy(Default::default(), None)
        .await
        .unwrap();
    for version in [V5, V311] {
        Client::connect_refused(
            &server,
            Net::Tcp,
            connect_packet(version, "anyone"),
            ReasonCode::NotAuthorized,
        )
        .await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_mqtt_tcp_policy_governs_the_plain_listener() {
    let server = TestServer::start_with_tcp_policy(Default::default(), Some("bench"))
        .await
        .unwrap();
    let iot = sdk(&server);
    // Named but not created yet: refused, until it exists.
    Client::connect_refused(
        &server,
        Net::Tcp,
        connect_packet(V5, "early"),
        ReasonCode::NotAuthorized,
    )
    .await;
    create_policy(
        &iot,
        "bench",
        &document(json!([
            allow(&["iot:Connect"], &["client/bench-*"]),
            allow(&["iot:Publish", "iot:Receive"], &["topic/bench/*"]),
            allow(&["iot:Subscribe"], &["topicfilter/bench/*"]),
        ])),
    )
    .await;
    Client::connect_refused(
        &server,
        Net::Tcp,
        connect_packet(V311, "intruder"),
        ReasonCode::NotAuthorized,
    )
    .await;
    for version in [V5, V311] {
        let mut client = Client::connect(&server, Net::Tcp, version, "bench-1").await;
        client.subscribe("bench/#", QOS1).await;
        let refused = client
            .subscribe_with(&[("elsewhere/#", opts(QOS1))], None)
            .await;
        assert_eq!(
            refused.reason_codes,
            [by_version(
                version,
                ReasonCode::NotAuthorized,
                ReasonCode::UnspecifiedError
            )]
        );
        assert!(crate::iot::accepted(client.publish1("bench/x", b"1").await));
        assert_eq!(client.expect_publish().await.topic.as_str(), "bench/x");
        client.disconnect().await;
    }

    // A new version of it applies to the connections open on the plain listener.
    let mut open = Client::connect(&server, Net::Tcp, V5, "bench-2").await;
    new_default_version(
        &iot,
        "bench",
        &document(json!([allow(&["iot:Publish"], &["topic/bench/*"])])),
    )
    .await;
    open.expect_disconnect(ReasonCode::NotAuthorized).await;
    server.shutdown().await;
}
