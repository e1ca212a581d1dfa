//! Eclipse Mosquitto's command-line clients (mosquitto_sub, mosquitto_pub, libmosquitto with
//! OpenSSL) against thingd, over TLS with the testkit client certificate and over plain TCP.

use mqtt_codec::ProtocolVersion;
use testkit::TestServer;

use crate::support::{Endpoint, Subscriber, message_line, mosquitto_pub};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

/// Payloads that are not plain ASCII, with spaces and separators, so the content check means
/// something.
fn payloads(version: ProtocolVersion, qos: u8) -> [String; 3] {
    [
        format!("first {version} qos={qos}"),
        format!("zwéite · ✓ {{\"qos\":{qos}}}"),
        format!("third|with|pipes {version}"),
    ]
}

/// One subscriber at `qos` with `-C 3`, one publisher sending three lines at `qos`: the
/// subscriber prints exactly the three payloads, in order, with the QoS it was granted, and
/// exits 0 by itself.
async fn round_trip(endpoint: &Endpoint, version: ProtocolVersion, qos: u8) {
    let topic = format!(
        "interop/{}/qos{qos}",
        crate::support::mosquitto_version(version)
    );
    let filter = format!("interop/{}/+", crate::support::mosquitto_version(version));
    let mut sub = Subscriber::start(endpoint, version, &filter, qos, &["-C", "3"]).await;
    let payloads = payloads(version, qos);
    let lines: Vec<&str> = payloads.iter().map(String::as_str).collect();
    mosquitto_pub(
        endpoint,
        version,
        &["-t", &topic, "-q", &qos.to_string()],
        Some(&lines),
    )
    .await;
    for payload in &payloads {
        assert_eq!(
            sub.next_message().await,
            message_line(&topic, qos, false, payload),
            "{version} QoS {qos}"
        );
    }
    let finished = sub.proc.finish().await;
    finished.assert_success("mosquitto_sub -C 3");
    let extra: Vec<_> = finished
        .stdout
        .iter()
        .filter(|l| l.starts_with("MSG|"))
        .collect();
    assert_eq!(
        extra.len(),
        3,
        "exactly three messages: {:?}",
        finished.stdout
    );
}

/// On a new server, a [`round_trip`] at QoS 0, 1 and 2 for each of `versions`, through the
/// endpoint `endpoint` picks.
async fn round_trips(endpoint: fn(&TestServer) -> Endpoint, versions: &[ProtocolVersion]) {
    let server = TestServer::start().await.expect("server starts");
    let endpoint = endpoint(&server);
    for &version in versions {
        for qos in 0..=2 {
            round_trip(&endpoint, version, qos).await;
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn mosquitto_tls_mqtt311_qos_0_1_2() {
    round_trips(Endpoint::testkit_tls, &[ProtocolVersion::V311]).await;
}

#[tokio::test]
async fn mosquitto_tls_mqtt5_qos_0_1_2() {
    round_trips(Endpoint::testkit_tls, &[ProtocolVersion::V5]).await;
}

#[tokio::test]
async fn mosquitto_plain_tcp_both_versions_qos_0_1_2() {
    round_trips(|server| Endpoint::tcp(server.mqtt_tcp), &VERSIONS).await;
}

/// A 3.1.1 publisher and a 5.0 subscriber (and the other way round) share one broker.
#[tokio::test]
async fn mosquitto_mixed_versions_over_tls() {
    let server = TestServer::start().await.expect("server starts");
    let endpoint = Endpoint::testkit_tls(&server);
    for (sub_version, pub_version) in [
        (ProtocolVersion::V5, ProtocolVersion::V311),
        (ProtocolVersion::V311, ProtocolVersion::V5),
    ] {
        let topic = format!("mixed/{sub_version}");
        let mut sub = Subscriber::start(&endpoint, sub_version, &topic, 1, &["-C", "1"]).await;
        let payload = format!("from {pub_version} to {sub_version}");
        sub.expect_published(&endpoint, pub_version, &topic, 1, &payload, &[])
            .await;
        sub.finish_ok().await;
    }
    server.shutdown().await;
}

/// A retained message published by mosquitto_pub -r reaches a subscriber that arrives later,
/// with the retain flag set, at min(publish QoS, subscription QoS); a live message after it does
/// not carry the flag.
#[tokio::test]
async fn mosquitto_retained_message_reaches_later_subscriber() {
    let server = TestServer::start().await.expect("server starts");
    let endpoint = Endpoint::testkit_tls(&server);
    for version in VERSIONS {
        let topic = format!("retained/{}", crate::support::mosquitto_version(version));
        let payload = format!("last known state ({version}) ✓");
        mosquitto_pub(
            &endpoint,
            version,
            &["-t", &topic, "-q", "1", "-r", "-m", &payload],
            None,
        )
        .await;

        let mut sub = Subscriber::start(&endpoint, version, &topic, 2, &["-C", "2"]).await;
        assert_eq!(
            sub.next_message().await,
            message_line(&topic, 1, true, &payload),
            "{version}"
        );
        sub.expect_published(&endpoint, version, &topic, 2, "live", &[])
            .await;
        sub.finish_ok().await;

        // Still retained for the next subscriber: a plain (non-retained) publish does not
        // replace it.
        let mut again = Subscriber::start(&endpoint, version, &topic, 0, &["-C", "1"]).await;
        assert_eq!(
            again.next_message().await,
            message_line(&topic, 0, true, &payload),
            "{version}"
        );
        again.finish_ok().await;
    }
    server.shutdown().await;
}

/// An empty retained message clears the retained message: a later subscriber gets nothing
/// retained, only the live message that follows.
#[tokio::test]
async fn mosquitto_empty_retained_message_clears() {
    let server = TestServer::start().await.expect("server starts");
    let endpoint = Endpoint::testkit_tls(&server);
    let version = ProtocolVersion::V5;
    mosquitto_pub(
        &endpoint,
        version,
        &["-t", "clear/me", "-q", "1", "-r", "-m", "stale"],
        None,
    )
    .await;
    mosquitto_pub(
        &endpoint,
        version,
        &["-t", "clear/me", "-q", "1", "-r", "-n"],
        None,
    )
    .await;
    let mut sub = Subscriber::start(&endpoint, version, "clear/me", 1, &["-C", "1"]).await;
    sub.expect_published(&endpoint, version, "clear/me", 1, "fresh", &[])
        .await;
    sub.finish_ok().await;
    server.shutdown().await;
}

/// libmosquitto offering AWS IoT's ALPN name (`--tls-alpn x-amzn-mqtt-ca`) connects and
/// publishes.
#[tokio::test]
async fn mosquitto_with_aws_alpn() {
    let server = TestServer::start().await.expect("server starts");
    let endpoint = Endpoint::testkit_tls(&server);
    let mut sub = Subscriber::start(
        &endpoint,
        ProtocolVersion::V311,
        "alpn",
        1,
        &["-C", "1", "--tls-alpn", "x-amzn-mqtt-ca"],
    )
    .await;
    sub.expect_published(
        &endpoint,
        ProtocolVersion::V5,
        "alpn",
        1,
        "via alpn",
        &["--tls-alpn", "mqtt"],
    )
    .await;
    sub.finish_ok().await;
    server.shutdown().await;
}
