//! The engine: Basic Ingest, `$aws` topics, rules changed while running, rules made through the
//! API with the AWS SDK, rules loaded at start, rule-queue overflow and `/metrics`.

use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iot::types::{Action, RepublishAction, TopicRulePayload};
use serde_json::json;
use testkit::TestServer;
use thingd_broker::BrokerConfig;
use thingd_registry::RuleStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_ingest_reaches_only_the_named_rule_and_no_subscriber() {
    let server = start(|_| {}).await;
    for name in ["ingest_a", "ingest_b"] {
        put_rule(
            &server,
            name,
            json!({
                "sql": "SELECT *, topic() AS t, topic(1) AS first FROM 'buildings/#'",
                "awsIotSqlVersion": "2016-03-23",
                "actions": [republish(&format!("out/{name}"))]
            }),
        )
        .await;
    }
    // A rule without FROM serves Basic Ingest only.
    put_rule(
        &server,
        "ingest_only",
        json!({"sql": "SELECT topic() AS t", "actions": [republish("out/ingest_only")]}),
    )
    .await;
    let mut subscriber = Mqtt::connect(&server, "ingest-sub").await;
    subscriber.subscribe("out/#").await;
    subscriber.subscribe("$aws/rules/#").await;
    subscriber.subscribe("buildings/#").await;
    let mut device = Mqtt::connect(&server, "ingest-device").await;

    device
        .publish("$aws/rules/ingest_a/buildings/b5/floor2", r#"{"lux": 300}"#)
        .await;
    let (topic, body) = subscriber.next_json().await;
    assert_eq!(topic, "out/ingest_a");
    // topic() does not show the Basic Ingest prefix.
    assert_eq!(
        body,
        json!({"lux": 300, "t": "buildings/b5/floor2", "first": "buildings"})
    );

    // The FROM clause still filters Basic Ingest messages.
    device
        .publish("$aws/rules/ingest_a/elsewhere/x", "{}")
        .await;
    device
        .publish("$aws/rules/ingest_only/any/thing", "{}")
        .await;
    let (topic, body) = subscriber.next_json().await;
    assert_eq!(
        (topic.as_str(), body),
        ("out/ingest_only", json!({"t": "any/thing"}))
    );

    // An unknown rule: accepted, counted, nothing happens.
    device.publish("$aws/rules/nope/x", "{}").await;
    assert_eq!(
        metric(&server, "thingd_rules_rule_not_found_total").await,
        1.0
    );

    // The same topic without the prefix goes to the broker and to both rules.
    device.publish("buildings/b1", "{}").await;
    let mut topics = Vec::new();
    for _ in 0..3 {
        topics.push(String::from_utf8(subscriber.next().await.topic.to_vec()).unwrap());
    }
    topics.sort();
    assert_eq!(topics, ["buildings/b1", "out/ingest_a", "out/ingest_b"]);
    assert!(
        subscriber.drain().is_empty(),
        "no $aws/rules message reached a subscriber"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_see_aws_reserved_topics_such_as_lifecycle_events() {
    let server = start(|_| {}).await;
    put_rule(
        &server,
        "presence",
        json!({
            "sql": "SELECT clientId, eventType FROM '$aws/events/presence/connected/+'",
            "actions": [republish("presence/${clientId}")]
        }),
    )
    .await;
    let mut subscriber = Mqtt::connect(&server, "presence-sub").await;
    subscriber.subscribe("presence/#").await;
    // The subscriber's own connection event may or may not have reached the rule before it
    // subscribed: skip it.
    let _device = Mqtt::connect(&server, "presence-device").await;
    loop {
        let (topic, body) = subscriber.next_json().await;
        if topic == "presence/presence-device" {
            assert_eq!(
                body,
                json!({"clientId": "presence-device", "eventType": "connected"})
            );
            break;
        }
        assert_eq!(topic, "presence/presence-sub");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_replacing_and_deleting_a_rule_take_effect_at_once() {
    let server = start(|_| {}).await;
    let rule = |out: &str| json!({"sql": "SELECT * FROM 'live/in'", "actions": [republish(out)]});
    put_rule(&server, "live", rule("live/one")).await;
    // A second rule on another filter: its deliveries show that a message has been processed.
    put_rule(
        &server,
        "marker",
        json!({"sql": "SELECT * FROM 'live/marker'", "actions": [republish("live/marked")]}),
    )
    .await;
    let mut subscriber = Mqtt::connect(&server, "live-sub").await;
    subscriber.subscribe("live/#").await;
    let mut device = Mqtt::connect(&server, "live-device").await;
    // The subscriber gets every original publish too: collect the republished ones.
    async fn republished(subscriber: &mut Mqtt) -> String {
        loop {
            let topic = String::from_utf8(subscriber.next().await.topic.to_vec()).unwrap();
            if topic != "live/in" && topic != "live/marker" {
                return topic;
            }
        }
    }

    device.publish("live/in", "{}").await;
    assert_eq!(republished(&mut subscriber).await, "live/one");

    // Disabled: nothing; the marker's delivery shows the message was processed by then.
    assert!(
        server
            .store()
            .set_topic_rule_disabled("live", true)
            .await
            .unwrap()
    );
    announce(&server, "live").await;
    device.publish("live/in", "{}").await;
    device.publish("live/marker", "{}").await;
    assert_eq!(republished(&mut subscriber).await, "live/marked");

    // Enabled again, then replaced: the new action runs, not the old.
    assert!(
        server
            .store()
            .set_topic_rule_disabled("live", false)
            .await
            .unwrap()
    );
    announce(&server, "live").await;
    put_rule(&server, "live", rule("live/two")).await;
    device.publish("live/in", "{}").await;
    assert_eq!(republished(&mut subscriber).await, "live/two");
    assert_eq!(server.rules().rule_names().await, ["live", "marker"]);

    // Deleted: nothing again, and the filter's hook is gone.
    assert!(server.store().delete_topic_rule("live").await.unwrap());
    announce(&server, "live").await;
    device.publish("live/in", "{}").await;
    device.publish("live/marker", "{}").await;
    assert_eq!(republished(&mut subscriber).await, "live/marked");
    assert_eq!(server.rules().rule_names().await, ["marker"]);
    assert_eq!(metric(&server, "thingd_rules_loaded").await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_created_with_the_aws_sdk_runs_and_stops_when_deleted() {
    let server = start(|_| {}).await;
    let key = server.admin_key();
    let iot = aws_sdk_iot::Client::from_conf(
        aws_sdk_iot::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(format!("http://{}", server.api))
            .credentials_provider(Credentials::new(
                &key.access_key_id,
                &key.secret_access_key,
                None,
                None,
                "thingd-tests",
            ))
            .build(),
    );
    let payload = TopicRulePayload::builder()
        .sql("SELECT concat('Button ', serialNumber, ': ', clickType) AS text FROM 'iotbutton/+' WHERE batteryVoltage <> ''")
        .aws_iot_sql_version("2016-03-23")
        .actions(
            Action::builder()
                .republish(
                    RepublishAction::builder()
                        .role_arn("arn:aws:iam::000000000000:role/iot")
                        .topic("notify/${topic(2)}")
                        .qos(1)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap();
    iot.create_topic_rule()
        .rule_name("button")
        .topic_rule_payload(payload)
        .send()
        .await
        .expect("CreateTopicRule");
    within(server.rules().settled()).await;
    let mut subscriber = Mqtt::connect(&server, "button-sub").await;
    subscriber.subscribe("notify/#").await;
    let mut button = Mqtt::connect(&server, "button").await;
    button
        .publish(
            "iotbutton/G030JF055364XVRB",
            r#"{"serialNumber":"G030JF055364XVRB","clickType":"SINGLE","batteryVoltage":"2000mV"}"#,
        )
        .await;
    let (topic, body) = subscriber.next_json().await;
    assert_eq!(topic, "notify/G030JF055364XVRB");
    assert_eq!(body, json!({"text": "Button G030JF055364XVRB: SINGLE"}));

    iot.delete_topic_rule()
        .rule_name("button")
        .send()
        .await
        .expect("DeleteTopicRule");
    within(server.rules().settled()).await;
    assert!(server.rules().rule_names().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_rules_are_loaded_at_start() {
    let server = start(|_| {}).await;
    put_rule(
        &server,
        "kept",
        json!({"sql": "SELECT * FROM 'kept/in'", "actions": [republish("kept/out")]}),
    )
    .await;
    // A disabled rule and a rule whose stored payload no longer parses are not loaded.
    server
        .store()
        .insert_topic_rule(&thingd_registry::TopicRuleRecord {
            name: "off".into(),
            payload: json!({"sql": "SELECT * FROM 'kept/in'", "actions": [republish("kept/off")]})
                .to_string(),
            disabled: true,
            created: thingd_registry::Timestamp::now(),
        })
        .await
        .unwrap();
    server
        .store()
        .insert_topic_rule(&thingd_registry::TopicRuleRecord {
            name: "garbled".into(),
            payload: "{not json".into(),
            disabled: false,
            created: thingd_registry::Timestamp::now(),
        })
        .await
        .unwrap();
    let data = server.stop_keeping_data().await;
    let server = TestServer::start_in(data, BrokerConfig::default())
        .await
        .unwrap();
    assert_eq!(server.rules().rule_names().await, ["kept"]);
    assert_eq!(metric(&server, "thingd_rules_load_errors_total").await, 1.0);
    let mut subscriber = Mqtt::connect(&server, "kept-sub").await;
    subscriber.subscribe("kept/out").await;
    let mut device = Mqtt::connect(&server, "kept-device").await;
    device.publish("kept/in", "{}").await;
    assert_eq!(&subscriber.next().await.topic[..], b"kept/out");
}

// One thread: the connection task handles a whole read of publishes before the rule's worker
// can run, so a queue of one must drop (the publisher never waits for the rule).
#[tokio::test(flavor = "current_thread")]
async fn a_full_rule_queue_drops_messages_without_holding_the_publisher() {
    let server = start(|rules| rules.rule_queue = 1).await;
    put_rule(
        &server,
        "burst",
        json!({"sql": "SELECT * FROM 'burst/in' WHERE n >= 0", "actions": []}),
    )
    .await;
    let mut device = testkit::raw::RawClient::connect(
        server.mqtt_tcp,
        mqtt_codec::ProtocolVersion::V311,
        "burst-device",
    )
    .await
    .unwrap();
    let mut burst = bytes::BytesMut::new();
    let properties = mqtt_codec::PublishProperties::default();
    for n in 0..2000 {
        let payload = format!("{{\"n\":{n}}}");
        mqtt_codec::OutgoingPublish {
            dup: false,
            qos: mqtt_codec::QoS::AtMostOnce,
            retain: false,
            packet_id: None,
            topic: b"burst/in",
            topic_alias: None,
            subscription_identifiers: &[],
            properties: &properties,
            payload: payload.as_bytes(),
        }
        .encode(mqtt_codec::ProtocolVersion::V311, &mut burst)
        .unwrap();
    }
    device.send_bytes(&burst).await.unwrap();
    eventually("2000 messages accounted for", || async {
        let seen = metric(&server, "thingd_rules_matched_total").await
            + metric(&server, "thingd_rules_dropped_total").await;
        (seen == 2000.0).then_some(())
    })
    .await;
    assert!(metric(&server, "thingd_rules_dropped_total").await > 0.0);
    assert!(metric(&server, "thingd_rules_matched_total").await > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_over_http() {
    let server = start(|_| {}).await;
    let mut stream = tokio::net::TcpStream::connect(server.api).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    within(stream.read_to_string(&mut response)).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    for series in [
        "thingd_publish_received_total ",
        "thingd_rules_matched_total ",
        "thingd_rules_loaded ",
        "thingd_rules_action_failed_total{action=\"http\"} ",
        "thingd_rules_action_dropped_total{action=\"cloudwatchMetric\"} ",
    ] {
        assert!(response.contains(series), "{series} missing");
    }
}
