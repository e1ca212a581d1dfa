//! mosquitto_pub and mosquitto_sub (Debian's mosquitto-clients, over TLS with the testkit
//! certificate) as a device and an application: an update published by one is answered on the
//! topics the other watches, for MQTT 3.1.1 and 5.0.

use mqtt_codec::ProtocolVersion::{V5, V311};
use serde_json::{Value, json};
use testkit::TestServer;
use testkit::mosquitto::{Endpoint, Subscriber, mosquitto_pub};

/// Splits a line `MSG|topic|qos|retain|payload` into topic, QoS and JSON payload.
fn parse_line(line: &str) -> (String, u8, Value) {
    let mut parts = line.splitn(5, '|');
    assert_eq!(parts.next(), Some("MSG"), "{line}");
    let topic = parts.next().unwrap().to_owned();
    let qos = parts.next().unwrap().parse().unwrap();
    assert_eq!(parts.next(), Some("0"), "not retained: {line}");
    let payload = serde_json::from_str(parts.next().unwrap()).unwrap();
    (topic, qos, payload)
}

#[tokio::test]
async fn mosquitto_clients_update_and_watch_a_shadow() {
    let server = TestServer::start().await.unwrap();
    let endpoint = Endpoint::testkit_tls(&server);
    let prefix = "$aws/things/mosquitto-1/shadow";
    // An application watches everything of the shadow (AWS advises against `#` there because
    // AWS may add topics; it works).
    let mut watcher = Subscriber::start(&endpoint, V5, &format!("{prefix}/#"), 1, &[]).await;

    for (version, (protocol, desired)) in [(V311, "on"), (V5, "off")].into_iter().enumerate() {
        let update = json!({"state": {"desired": {"power": desired}}, "clientToken": desired});
        mosquitto_pub(
            &endpoint,
            protocol,
            &[
                "-t",
                &format!("{prefix}/update"),
                "-q",
                "1",
                "-m",
                &update.to_string(),
            ],
            None,
        )
        .await;
        // The request itself reaches subscribers too, then the answers.
        let (topic, _, request) = parse_line(&watcher.next_message().await);
        assert_eq!(
            (topic.as_str(), &request),
            (&*format!("{prefix}/update"), &update)
        );
        let (topic, qos, accepted) = parse_line(&watcher.next_message().await);
        assert_eq!(topic, format!("{prefix}/update/accepted"));
        assert_eq!(qos, 1);
        assert_eq!(accepted["version"], version as u64 + 1);
        assert_eq!(accepted["clientToken"], desired);
        let (topic, _, delta) = parse_line(&watcher.next_message().await);
        assert_eq!(topic, format!("{prefix}/update/delta"));
        assert_eq!(delta["state"], json!({"power": desired}));
        let (topic, _, documents) = parse_line(&watcher.next_message().await);
        assert_eq!(topic, format!("{prefix}/update/documents"));
        assert_eq!(documents["current"]["state"]["desired"]["power"], desired);
    }
    server.shutdown().await;
}
