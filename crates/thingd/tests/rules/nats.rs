//! The `kinesis` and `firehose` actions onto NATS JetStream at 127.0.0.1:4222 (a stream per
//! test, created by the action), a server that is not there, and one that stalls.

use async_nats::jetstream;
use serde_json::{Value, json};

use crate::support::*;

const NATS: &str = "nats://127.0.0.1:4222";

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn kinesis(stream: &str) -> Value {
    json!({"kinesis": {"roleArn": "arn:aws:iam::000000000000:role/r", "streamName": stream, "partitionKey": "${topic(2)}"}})
}

async fn jetstream() -> jetstream::Context {
    jetstream::new(
        async_nats::connect(NATS)
            .await
            .expect("NATS at 127.0.0.1:4222"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_records_are_stored_in_a_jetstream_stream() {
    let stream = unique("kinesis");
    let server = start(|rules| rules.nats_url = Some(NATS.to_owned())).await;
    put_rule(
        &server,
        "to_kinesis",
        json!({"sql": "SELECT temp FROM 'kin/+'", "actions": [kinesis(&stream)]}),
    )
    .await;
    let mut device = Mqtt::connect(&server, "kin-device").await;
    device.publish("kin/d1", r#"{"temp": 5, "x": 1}"#).await;
    device.publish("kin/d2", r#"{"temp": 6}"#).await;
    actions_succeeded(&server, "kinesis", 2.0).await;

    let js = jetstream().await;
    let nats_stream = js
        .get_stream(&stream)
        .await
        .expect("the action created the stream");
    // One worker takes the action's batches: records keep the order of the messages.
    let first = nats_stream.get_raw_message(1).await.unwrap();
    assert_eq!(first.subject.as_str(), format!("thingd.rules.{stream}"));
    assert_eq!(&first.payload[..], br#"{"temp":5}"#);
    assert_eq!(
        first
            .headers
            .get("Kinesis-Partition-Key")
            .map(|v| v.as_str()),
        Some("d1")
    );
    let second = nats_stream.get_raw_message(2).await.unwrap();
    assert_eq!(&second.payload[..], br#"{"temp":6}"#);
    assert_eq!(
        second
            .headers
            .get("Kinesis-Partition-Key")
            .map(|v| v.as_str()),
        Some("d2")
    );
    js.delete_stream(&stream).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firehose_records_carry_the_separator_and_batch_mode_splits_arrays() {
    let stream = unique("firehose");
    let server = start(|rules| rules.nats_url = Some(NATS.to_owned())).await;
    put_rule(
        &server,
        "to_firehose",
        json!({
            "sql": "SELECT VALUE readings FROM 'fh/batch'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"firehose": {"roleArn": "arn:aws:iam::000000000000:role/r", "deliveryStreamName": stream, "separator": "\n", "batchMode": true}}]
        }),
    )
    .await;
    put_rule(
        &server,
        "to_firehose_single",
        json!({
            "sql": "SELECT * FROM 'fh/single'",
            "actions": [{"firehose": {"roleArn": "arn:aws:iam::000000000000:role/r", "deliveryStreamName": stream, "separator": ","}}]
        }),
    )
    .await;
    let mut device = Mqtt::connect(&server, "fh-device").await;
    device
        .publish(
            "fh/batch",
            r#"{"readings": [{"t": 1}, {"t": 2}, {"t": 3}]}"#,
        )
        .await;
    actions_succeeded(&server, "firehose", 1.0).await;
    device.publish("fh/single", r#"{"t": 4}"#).await;
    actions_succeeded(&server, "firehose", 2.0).await;

    let js = jetstream().await;
    let nats_stream = js.get_stream(&stream).await.unwrap();
    let mut records = Vec::new();
    for sequence in 1..=4 {
        let message = nats_stream.get_raw_message(sequence).await.unwrap();
        records.push(String::from_utf8(message.payload.to_vec()).unwrap());
    }
    assert_eq!(
        records,
        ["{\"t\":1}\n", "{\"t\":2}\n", "{\"t\":3}\n", "{\"t\":4},"]
    );
    js.delete_stream(&stream).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_nats_server_fails_into_the_error_action() {
    let closed = closed_port().await;
    let server = start(|rules| rules.nats_url = Some(format!("nats://{closed}"))).await;
    put_rule(
        &server,
        "nats_down",
        json!({
            "sql": "SELECT * FROM 'down/in'",
            "actions": [kinesis("down"), {"firehose": {"roleArn": "r", "deliveryStreamName": "down"}}],
            "errorAction": error_to("errors/nats")
        }),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "nats-errors").await;
    let mut device = Mqtt::connect(&server, "nats-device").await;
    device.publish("down/in", "{}").await;
    let (_, body) = subscriber.next_json().await;
    let failures = check_error_payload(&body, "nats_down", "down/in", "nats-device", b"{}");
    let mut actions: Vec<&str> = failures
        .iter()
        .map(|f| f["failedAction"].as_str().unwrap())
        .collect();
    actions.sort();
    assert_eq!(actions, ["FirehoseAction", "KinesisAction"]);
    for failure in &failures {
        assert_eq!(failure["failedResource"], "down");
        assert!(
            failure["errorMessage"]
                .as_str()
                .unwrap()
                .contains("Cannot connect to NATS"),
            "{failure}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_nats_server_overflows_the_queue() {
    let silent = silent_server().await;
    let server = start(|rules| {
        rules.nats_url = Some(format!("nats://{silent}"));
        rules.action_queue = 1;
        rules.action_concurrency = 1;
        rules.batch_size = 1;
    })
    .await;
    put_rule(
        &server,
        "nats_stalled",
        json!({"sql": "SELECT * FROM 'stalled/in'", "actions": [kinesis("stalled")], "errorAction": error_to("errors/nats")}),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "stalled-errors").await;
    let mut device = Mqtt::connect(&server, "stalled-device").await;
    for n in 0..5 {
        device
            .publish("stalled/in", format!("{{\"n\": {n}}}"))
            .await;
    }
    let (_, body) = subscriber.next_json().await;
    let failures = check_error_payload(&body, "nats_stalled", "stalled/in", "stalled-device", &{
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(body["base64OriginalPayload"].as_str().unwrap())
            .unwrap()
    });
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
            "thingd_rules_action_dropped_total{action=\"kinesis\"}"
        )
        .await
            >= 1.0
    );
}
