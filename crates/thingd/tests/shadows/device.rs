//! A device of the shadow tests: thingd's raw MQTT client subscribed (QoS 1) to every response
//! topic of one shadow, publishing requests and reading the answers as JSON.

use mqtt_codec::{ProtocolVersion, QoS};
use serde_json::Value;
use testkit::TestServer;

use crate::support::{Client, Net};

/// The response topics of each operation (AWS IoT Developer Guide, "Device Shadow MQTT topics").
pub(crate) const RESPONSES: [(&str, &[&str]); 3] = [
    ("get", &["accepted", "rejected"]),
    ("update", &["accepted", "rejected", "delta", "documents"]),
    ("delete", &["accepted", "rejected"]),
];

/// The topic prefix of a shadow.
pub(crate) fn prefix(thing: &str, shadow: Option<&str>) -> String {
    match shadow {
        None => format!("$aws/things/{thing}/shadow"),
        Some(shadow) => format!("$aws/things/{thing}/shadow/name/{shadow}"),
    }
}

/// A client that talks to one shadow.
pub(crate) struct Device {
    /// The MQTT connection.
    pub(crate) mqtt: Client,
    /// The shadow's topic prefix.
    pub(crate) prefix: String,
    marker: String,
}

impl Device {
    /// Connects over TLS with the testkit client certificate (allowed everything) as an MQTT 5
    /// client and subscribes to the shadow's response topics.
    pub(crate) async fn connect(
        server: &TestServer,
        client_id: &str,
        thing: &str,
        shadow: Option<&str>,
    ) -> Device {
        let mqtt = Client::connect(server, Net::Tls, ProtocolVersion::V5, client_id).await;
        Device::subscribed(mqtt, client_id, thing, shadow, QoS::AtLeastOnce).await
    }

    /// Subscribes `mqtt` to the shadow's response topics at `qos`, and to a marker topic of its
    /// own (see [`Device::assert_nothing_more`]).
    pub(crate) async fn subscribed(
        mut mqtt: Client,
        client_id: &str,
        thing: &str,
        shadow: Option<&str>,
        qos: QoS,
    ) -> Device {
        let prefix = prefix(thing, shadow);
        let mut filters = Vec::new();
        for (operation, outcomes) in RESPONSES {
            for outcome in outcomes {
                filters.push(format!("{prefix}/{operation}/{outcome}"));
            }
        }
        for filter in &filters {
            mqtt.subscribe(filter, qos).await;
        }
        let marker = format!("markers/{client_id}");
        mqtt.subscribe(&marker, QoS::AtLeastOnce).await;
        Device {
            mqtt,
            prefix,
            marker,
        }
    }

    /// Publishes a request (`get`, `update`, `delete`) at QoS 1 and checks the PUBACK.
    pub(crate) async fn send(&mut self, operation: &str, payload: &[u8]) {
        let topic = format!("{}/{operation}", self.prefix);
        self.mqtt.publish1_ok(&topic, payload).await;
    }

    /// The next response: its topic after the prefix (`update/accepted`) and its JSON payload.
    pub(crate) async fn next(&mut self) -> (String, Value) {
        let publish = self.mqtt.expect_publish().await;
        let topic = publish.topic.as_str();
        let suffix = topic
            .strip_prefix(&format!("{}/", self.prefix))
            .unwrap_or_else(|| panic!("a response of another shadow: {topic}"))
            .to_owned();
        let payload: Value = serde_json::from_slice(&publish.payload).unwrap_or_else(|error| {
            panic!(
                "{topic}: not JSON ({error}): {:?}",
                String::from_utf8_lossy(&publish.payload)
            )
        });
        (suffix, payload)
    }

    /// The next response, which must be on `suffix` (`get/accepted`).
    pub(crate) async fn expect(&mut self, suffix: &str) -> Value {
        let (topic, payload) = self.next().await;
        assert_eq!(topic, suffix, "unexpected response {payload}");
        payload
    }

    /// Publishes a request and returns the first response.
    pub(crate) async fn request(&mut self, operation: &str, payload: &Value) -> (String, Value) {
        self.send(operation, payload.to_string().as_bytes()).await;
        self.next().await
    }

    /// Checks that nothing else was delivered: a message on the marker topic is the next thing
    /// to arrive. Only meaningful once every response that could come has been published.
    pub(crate) async fn assert_nothing_more(&mut self) {
        let marker = self.marker.clone();
        self.mqtt.publish1_ok(&marker, b"end").await;
        let before = self.mqtt.publishes_until(&marker).await;
        assert!(before.is_empty(), "unexpected messages: {before:?}");
    }
}

/// A version field as a number.
pub(crate) fn version_of(document: &Value) -> u64 {
    document["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no version in {document}"))
}

/// The `timestamp` of a document, which must be a plausible epoch-seconds value (not ms).
pub(crate) fn assert_timestamp_in_seconds(document: &Value) {
    let timestamp = document["timestamp"]
        .as_u64()
        .unwrap_or_else(|| panic!("no timestamp in {document}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        timestamp <= now && timestamp + 600 >= now,
        "timestamp {timestamp} is not seconds near {now}"
    );
}
