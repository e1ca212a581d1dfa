//! `/metrics` on the HTTP listener: the Prometheus text exposition format (version 0.0.4), every
//! sample preceded by its HELP and TYPE, and counters that follow what a real client did.

use std::collections::BTreeMap;

use mqtt_codec::ProtocolVersion;
use testkit::TestServer;

use crate::support::{Endpoint, header, http_get, mosquitto_pub};

/// Parses the exposition text: sample name to value, checking the format on the way.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut help = None;
    let mut kind = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, doc) = rest.split_once(' ').expect("HELP has a name and a text");
            assert!(!doc.is_empty(), "{line}");
            help = Some(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, t) = rest.split_once(' ').expect("TYPE has a name and a type");
            assert!(["counter", "gauge"].contains(&t), "{line}");
            assert_eq!(help.as_deref(), Some(name), "TYPE follows its HELP");
            kind = Some(name.to_string());
        } else if line.is_empty() {
            continue;
        } else {
            let (series, value) = line.rsplit_once(' ').expect("a sample is `name value`");
            // A sample may carry labels, `name{label="value",...}` (the rules engine's per
            // action type counters).
            let name = match series.split_once('{') {
                Some((name, labels)) => {
                    assert!(labels.ends_with('}') && labels.contains("=\""), "{line}");
                    name
                }
                None => series,
            };
            assert!(name.starts_with("thingd_"), "{line}");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            assert_eq!(kind.as_deref(), Some(name), "a sample follows its TYPE");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("a numeric value: {line}"));
            assert!(
                samples.insert(series.to_string(), value).is_none(),
                "duplicate sample {series}"
            );
        }
    }
    samples
}

#[tokio::test]
async fn metrics_endpoint_serves_prometheus_text() {
    let server = TestServer::start().await.expect("server starts");
    let (status, headers, body) = http_get(server.api, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; version=0.0.4")
    );
    let before = parse(&body);
    for name in [
        "thingd_connections_total",
        "thingd_connections_current",
        "thingd_connections_refused_total",
        "thingd_publish_received_total",
        "thingd_publish_sent_total",
        "thingd_bytes_received_total",
        "thingd_bytes_sent_total",
        "thingd_sessions",
        "thingd_subscriptions",
        "thingd_retained_messages",
    ] {
        assert_eq!(
            before.get(name),
            Some(&0.0),
            "{name} starts at 0 in:\n{body}"
        );
    }

    // One real client over TLS: a retained QoS 1 message (PUBACK comes after it was handled).
    let endpoint = Endpoint::testkit_tls(&server);
    mosquitto_pub(
        &endpoint,
        ProtocolVersion::V5,
        &["-t", "metrics/r", "-q", "1", "-r", "-m", "42"],
        None,
    )
    .await;
    let (_, _, body) = http_get(server.api, "/metrics").await;
    let after = parse(&body);
    assert_eq!(after["thingd_connections_total"], 1.0, "{body}");
    assert_eq!(after["thingd_publish_received_total"], 1.0, "{body}");
    assert_eq!(after["thingd_retained_messages"], 1.0, "{body}");
    assert_eq!(
        after["thingd_publish_unrouted_total"], 1.0,
        "no subscriber: {body}"
    );
    assert!(after["thingd_bytes_received_total"] > 0.0, "{body}");
    assert!(after["thingd_bytes_sent_total"] > 0.0, "{body}");
    assert!(
        body.contains("# TYPE thingd_connections_total counter\n"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE thingd_connections_current gauge\n"),
        "{body}"
    );
    server.shutdown().await;
}
