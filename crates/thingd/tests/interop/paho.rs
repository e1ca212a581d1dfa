//! Eclipse Paho's Python client (paho-mqtt 2.x) against thingd over TLS with a client
//! certificate: MQTT 5.0 publish properties (user properties, response topic, correlation data,
//! content type, payload format, message expiry) arrive unchanged at another paho client.

use serde_json::{Value, json};
use testkit::TestServer;

use crate::support::{Proc, WAIT};

/// The driver script, written to a temporary directory for python3.
const SCRIPT: &str = include_str!("paho_client.py");

/// Runs the paho driver with `config` (see the script's docstring) and returns the `RECV`
/// records, after checking it printed `DONE` and exited 0.
pub(crate) async fn run_paho(mut config: Value) -> Vec<Value> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = dir.path().join("paho_client.py");
    std::fs::write(&script, SCRIPT).expect("writing the paho script");
    // Each wait inside the script gets half of ours, and the script as a whole (a handful of
    // waits) three times ours, so the script's own message ("ERROR ...") is what a failure shows.
    config["timeout"] = json!(WAIT.as_secs() / 2);
    let check = crate::support::run("python3", ["-c", "import paho.mqtt.client"], None).await;
    assert!(
        check.status.success(),
        "paho-mqtt is not installed for python3 (pip install paho-mqtt); these interop tests need it:\n{}",
        check.stderr
    );
    // The configuration goes through stdin: large payloads exceed the argument size limit.
    let proc = Proc::spawn(
        "python3",
        [script.into_os_string()],
        Some(config.to_string().into_bytes()),
    );
    let finished = proc.finish_within(WAIT * 3).await;
    finished.assert_success("the paho-mqtt driver");
    assert_eq!(
        finished.stdout.last().map(String::as_str),
        Some("DONE"),
        "{:?}",
        finished.stdout
    );
    finished
        .stdout
        .iter()
        .filter_map(|l| l.strip_prefix("RECV "))
        .map(|json| serde_json::from_str(json).expect("a JSON record"))
        .collect()
}

/// Hex of a byte string, as the script expects payloads and binary properties.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn paho_mqtt5_publish_properties_round_trip_over_tls() {
    let server = TestServer::start().await.expect("server starts");
    let correlation: Vec<u8> = vec![0x00, 0x01, 0xfe, 0xff, b'r', b'e', b'q', 0x00];
    let user_properties = json!([
        ["trace-id", "4bf92f3577b34da6"],
        ["dup", "first"],
        ["dup", "second"],
        ["ünïcode ключ", "värde ✓"],
        ["empty", ""]
    ]);
    let with_properties = json!({
        "topic": "devices/thermo-1/telemetry",
        "payload_hex": hex("{\"temp\":21.5,\"unit\":\"°C\"}".as_bytes()),
        "qos": 2,
        "properties": {
            "UserProperty": user_properties,
            "ResponseTopic": "devices/thermo-1/replies/ü",
            "CorrelationData": {"hex": hex(&correlation)},
            "ContentType": "application/json; charset=utf-8",
            "PayloadFormatIndicator": 1,
            "MessageExpiryInterval": 3600
        }
    });
    let without_properties = json!({
        "topic": "devices/thermo-1/raw",
        "payload_hex": hex(&[0x00, 0xff, 0x10, 0x80]),
        "qos": 1,
    });
    let config = json!({
        "host": "127.0.0.1",
        "port": server.mqtt_tls.port(),
        "transport": "tcp",
        "tls": {
            "ca": server.ca_path,
            "cert": server.client.cert_path(),
            "key": server.client.key_path(),
        },
        "version": "5",
        "filter": "devices/+/#",
        "sub_qos": 2,
        "messages": [with_properties, without_properties],
    });
    let received = run_paho(config).await;
    assert_eq!(received.len(), 2, "{received:?}");
    // MQTT orders messages per topic only (§4.6): paho hands a QoS 2 message to the
    // application at PUBREL, so the QoS 1 message on the other topic may overtake it.
    let by_topic = |topic: &str| {
        received
            .iter()
            .find(|m| m["topic"] == topic)
            .unwrap_or_else(|| panic!("no message on {topic}: {received:?}"))
    };

    let first = by_topic("devices/thermo-1/telemetry");
    assert_eq!(first["topic"], "devices/thermo-1/telemetry");
    assert_eq!(first["payload_hex"], with_properties["payload_hex"]);
    assert_eq!(first["qos"], 2);
    assert_eq!(first["retain"], false);
    let props = &first["properties"];
    assert_eq!(
        props["UserProperty"], user_properties,
        "user properties keep their order and duplicates"
    );
    assert_eq!(props["ResponseTopic"], "devices/thermo-1/replies/ü");
    assert_eq!(props["CorrelationData"], json!({"hex": hex(&correlation)}));
    assert_eq!(props["ContentType"], "application/json; charset=utf-8");
    assert_eq!(props["PayloadFormatIndicator"], 1);
    // The server forwards the remaining lifetime [MQTT-3.3.2-6]: at most what was sent, and
    // not zero after a local round trip.
    let expiry = props["MessageExpiryInterval"]
        .as_u64()
        .expect("Message Expiry Interval forwarded");
    assert!(
        (3600 - WAIT.as_secs()..=3600).contains(&expiry),
        "expiry {expiry}"
    );
    let names: Vec<&str> = props
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "ContentType",
            "CorrelationData",
            "MessageExpiryInterval",
            "PayloadFormatIndicator",
            "ResponseTopic",
            "UserProperty"
        ],
        "no property added or lost"
    );

    let second = by_topic("devices/thermo-1/raw");
    assert_eq!(second["topic"], "devices/thermo-1/raw");
    assert_eq!(second["payload_hex"], "00ff1080");
    assert_eq!(second["qos"], 1);
    assert_eq!(
        second["properties"],
        json!({}),
        "no properties leak from the previous message"
    );
    server.shutdown().await;
}
