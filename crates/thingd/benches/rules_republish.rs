//! End-to-end rate of one rule with a republish action: a thingd in-process (testkit), the rule
//! `SELECT * FROM 'bench/in/+'` republishing to `bench/out/${topic(3)}`, one publisher and one
//! subscriber on the plain listener (MQTT 3.1.1, QoS 0, thingd's codec). The publisher keeps at
//! most `WINDOW` messages between its publish and the subscriber's receipt (below the rule's
//! queue, so nothing may be dropped) and the run fails if any message is lost: the rate printed
//! is the rate at which every publish went through the rule and was delivered.
//!
//! `cargo bench -p thingd --bench rules_republish` (MESSAGES=n to change the count).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_codec::{
    Connect, Decoder, MqttString, OutgoingPublish, Packet, PacketId, ProtocolVersion,
    PublishProperties, QoS, Subscribe, SubscriptionOptions,
};
use testkit::TestServer;
use thingd_registry::{RuleStore, Timestamp, TopicRuleRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

const VERSION: ProtocolVersion = ProtocolVersion::V311;
/// Messages in flight end to end; the rule's queue holds 1024.
const WINDOW: u64 = 512;

async fn connect(addr: SocketAddr, id: &str) -> (TcpStream, Decoder, BytesMut) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut out = BytesMut::new();
    Packet::Connect(Box::new(Connect::new(
        VERSION,
        MqttString::new(id).unwrap(),
    )))
    .encode(VERSION, &mut out)
    .unwrap();
    stream.write_all(&out).await.unwrap();
    let mut decoder = Decoder::new(VERSION, 1 << 20);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        if let Some(packet) = decoder.decode(&mut buf).unwrap() {
            assert!(matches!(packet, Packet::ConnAck(_)), "{packet:?}");
            return (stream, decoder, buf);
        }
        assert!(stream.read_buf(&mut buf).await.unwrap() > 0, "closed");
    }
}

fn main() {
    let messages: u64 = std::env::var("MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let server = TestServer::start().await.unwrap();
        server
            .store()
            .insert_topic_rule(&TopicRuleRecord {
                name: "bench".into(),
                payload: serde_json::json!({
                    "sql": "SELECT * FROM 'bench/in/+'",
                    "awsIotSqlVersion": "2016-03-23",
                    "actions": [{"republish": {"roleArn": "r", "topic": "bench/out/${topic(3)}"}}]
                })
                .to_string(),
                disabled: false,
                created: Timestamp::now(),
            })
            .await
            .unwrap();
        server.rules().reload_rule("bench").await.unwrap();

        let received = Arc::new(AtomicU64::new(0));
        let progress = Arc::new(Notify::new());
        let (mut sub, mut decoder, mut buf) = connect(server.mqtt_tcp, "bench-sub").await;
        let mut out = BytesMut::new();
        Packet::Subscribe(Subscribe {
            packet_id: PacketId::new(1).unwrap(),
            properties: Default::default(),
            filters: vec![(
                MqttString::new("bench/out/#").unwrap(),
                SubscriptionOptions::qos(QoS::AtMostOnce),
            )],
        })
        .encode(VERSION, &mut out)
        .unwrap();
        sub.write_all(&out).await.unwrap();
        'suback: loop {
            while let Some(packet) = decoder.decode(&mut buf).unwrap() {
                if let Packet::SubAck(_) = packet {
                    break 'suback;
                }
            }
            assert!(sub.read_buf(&mut buf).await.unwrap() > 0, "closed");
        }
        let reader = {
            let received = received.clone();
            let progress = progress.clone();
            tokio::spawn(async move {
                loop {
                    while let Some(packet) = decoder.decode(&mut buf).unwrap() {
                        if let Packet::Publish(_) = packet {
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    progress.notify_one();
                    if received.load(Ordering::Relaxed) >= messages {
                        return;
                    }
                    assert!(sub.read_buf(&mut buf).await.unwrap() > 0, "closed");
                }
            })
        };
        let (mut publisher, _, _) = connect(server.mqtt_tcp, "bench-pub").await;
        let properties = PublishProperties::default();
        let payload = br#"{"serialNumber":"G030JF055364XVRB","clickType":"SINGLE","batteryVoltage":"2000mV"}"#;
        let start = Instant::now();
        let mut sent = 0u64;
        let mut out = BytesMut::with_capacity(64 * 1024);
        while sent < messages {
            let in_flight = sent - received.load(Ordering::Relaxed);
            if in_flight >= WINDOW {
                let _ = tokio::time::timeout(Duration::from_millis(5), progress.notified()).await;
                continue;
            }
            let batch = (WINDOW - in_flight).min(messages - sent).min(64);
            for i in 0..batch {
                let topic = format!("bench/in/{}", (sent + i) % 16);
                OutgoingPublish {
                    dup: false,
                    qos: QoS::AtMostOnce,
                    retain: false,
                    packet_id: None,
                    topic: topic.as_bytes(),
                    topic_alias: None,
                    subscription_identifiers: &[],
                    properties: &properties,
                    payload,
                }
                .encode(VERSION, &mut out)
                .unwrap();
            }
            publisher.write_all(&out).await.unwrap();
            out.clear();
            sent += batch;
        }
        tokio::time::timeout(Duration::from_secs(120), reader)
            .await
            .expect("every message delivered")
            .unwrap();
        let elapsed = start.elapsed();
        let mut metrics = String::new();
        server.rules().render_metrics(&mut metrics);
        let dropped: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("thingd_rules_dropped_total "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0);
        assert_eq!(dropped, 0.0, "the rule dropped messages");
        println!(
            "rules_republish: {messages} messages through one rule with a republish action, all delivered, in {:.2} s: {:.0} messages/s",
            elapsed.as_secs_f64(),
            messages as f64 / elapsed.as_secs_f64()
        );
        server.shutdown().await;
    });
}
