//! Bounded everything: a stalled subscriber does not stop its publisher, persistent session
//! queues are capped (dropping or disconnecting with 0x97), packets over the Maximum Packet Size
//! (the server's and the client's), subscriptions per session, retained messages and connections.

use std::num::NonZeroU32;

use mqtt_codec::{Packet, QoS, ReasonCode, SubscriptionOptions};
use thingd_broker::metrics::Metrics;
use thingd_broker::{BrokerConfig, QueueOverflow};

use crate::support::*;

fn dropped(server: &testkit::TestServer) -> u64 {
    Metrics::get(&server.broker().metrics().deliveries_dropped_total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_does_not_stop_its_publisher() {
    let server = start_with(BrokerConfig {
        max_session_queue: 16,
        max_write_buffer: 4096,
        ..BrokerConfig::default()
    })
    .await;
    // A subscriber that never reads again, with a receive buffer as small as the system allows.
    let mut stalled = Client::open_tcp_small_buffer(server.mqtt_tcp, V5).await;
    assert_eq!(
        stalled
            .handshake(connect_packet(V5, "stalled"))
            .await
            .reason_code,
        ReasonCode::Success
    );
    stalled.subscribe("flood/#", QoS::AtMostOnce).await;
    let mut healthy = Client::connect(&server, Net::Tls, V5, "healthy").await;
    healthy.subscribe("flood/check", QoS::AtLeastOnce).await;

    let mut publisher = Client::connect(&server, Net::Tcp, V5, "flooder").await;
    let payload = vec![b'x'; 16 * 1024];
    let mut sent = 0;
    // Each PUBACK means the message was routed; once the stalled connection's socket, write
    // buffer and queue are full, routing to it drops and counts.
    while dropped(&server) == 0 {
        assert!(
            sent < 8000,
            "nothing dropped after {sent} messages of 16 KiB"
        );
        publisher.publish1_ok("flood/data", &payload).await;
        sent += 1;
    }
    // The publisher keeps going, and other subscribers are served.
    for n in 0..50u8 {
        publisher.publish1_ok("flood/data", &payload).await;
        publisher.publish1_ok("flood/check", &[n]).await;
        assert_eq!(healthy.expect_publish().await.payload[..], [n]);
    }
    assert!(
        dropped(&server) > 1,
        "the stalled subscriber's deliveries keep being dropped"
    );
    assert_serving(&server).await;
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_sessions_queue_is_capped() {
    let server = start_with(BrokerConfig {
        max_session_queue: 3,
        ..BrokerConfig::default()
    })
    .await;
    for (version, net) in [(V5, Net::Tls), (V3, Net::Tcp)] {
        let id = format!("capped-{version}");
        let topic = format!("capped/{}", version.level());
        let marker = format!("{topic}/marker");
        let filter = format!("{topic}/#");
        offline_subscriber(&server, version, net, &id, &filter, QoS::AtLeastOnce).await;
        let before = dropped(&server);
        let mut publisher = Client::connect(&server, Net::Tcp, V5, "capped-pub").await;
        for n in 1..=5u8 {
            publisher.publish1_ok(&format!("{topic}/t"), &[n]).await;
        }
        assert_eq!(
            dropped(&server) - before,
            2,
            "two of five did not fit in a queue of three"
        );
        let mut client = Client::resume(&server, net, persistent_connect(version, &id, 300)).await;
        publisher.publish1(&marker, b"").await;
        let got: Vec<u8> = client
            .publishes_until(&marker)
            .await
            .iter()
            .map(|p| p.payload[0])
            .collect();
        // DropNew (AWS IoT's behaviour): the oldest are kept, the overflow is dropped.
        assert_eq!(got, [1, 2, 3], "{version} {net:?}");
        client.disconnect().await;
        publisher.disconnect().await;
    }
}

fn disconnect_on_overflow() -> BrokerConfig {
    BrokerConfig {
        max_session_queue: 2,
        queue_overflow: QueueOverflow::Disconnect,
        ..BrokerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_overflow_can_disconnect_the_subscriber_with_0x97() {
    let server = start_with(disconnect_on_overflow()).await;
    let mut connect = connect_packet(V5, "slow-reader");
    connect.properties.receive_maximum = std::num::NonZeroU16::new(1);
    let (mut subscriber, _) = Client::connect_ok(&server, Net::Tls, connect).await;
    subscriber.auto_ack = false;
    subscriber.subscribe("overflow/#", QoS::AtLeastOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "overflow-pub").await;
    // One in flight, two queued, the fourth overflows.
    for n in 1..=4u8 {
        publisher.publish1_ok("overflow/t", &[n]).await;
    }
    let before = subscriber
        .expect_disconnect(ReasonCode::QuotaExceeded)
        .await;
    assert!(
        before
            .iter()
            .all(|p| matches!(p, Packet::Publish(p) if p.payload[..] == [1])),
        "only the first message was sent: {before:?}"
    );
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflow_while_offline_does_not_disconnect_the_next_connection() {
    let server = start_with(disconnect_on_overflow()).await;
    offline_subscriber(&server, V5, Net::Tcp, "away", "away/#", QoS::AtLeastOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "away-pub").await;
    for n in 1..=4u8 {
        publisher.publish1_ok("away/t", &[n]).await;
    }
    // The queue overflowed while nobody was connected: the two that fit are delivered, and
    // the returning client is not disconnected for an overflow it could not have prevented.
    let mut client = Client::resume(&server, Net::Tcp, persistent_connect(V5, "away", 300)).await;
    assert_eq!(client.expect_publish().await.payload[..], [1]);
    assert_eq!(client.expect_publish().await.payload[..], [2]);
    assert!(client.settle().await.is_empty());
    publisher.publish1("away/t", b"live").await;
    assert_eq!(&client.expect_publish().await.payload[..], b"live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_over_the_maximum_packet_size_is_refused() {
    let server = start_with(BrokerConfig {
        max_packet_size: 1024,
        ..BrokerConfig::default()
    })
    .await;
    for (version, net) in ALL {
        let mut client = Client::connect(&server, net, version, "big").await;
        // Just under the limit is fine.
        client.publish1("big/t", &[0; 900]).await;
        client
            .send_publish("big/t", &[0; 2000], QoS::AtMostOnce, 1)
            .await;
        // [MQTT-3.2.2-15]: DISCONNECT 0x95 (5.0); 3.1.1 closes.
        client.expect_disconnect(ReasonCode::PacketTooLarge).await;
        assert_serving(&server).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_over_the_clients_maximum_packet_size_are_not_sent() {
    let server = start().await;
    let mut connect = connect_packet(V5, "small-packets");
    connect.properties.maximum_packet_size = NonZeroU32::new(256);
    let (mut client, _) = Client::connect_ok(&server, Net::Tls, connect).await;
    client.subscribe("small/#", QoS::AtLeastOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "small-pub").await;
    publisher.publish1("small/t", &[1; 1000]).await;
    publisher.publish1("small/t", &[2; 10]).await;
    // [MQTT-3.1.2-24]: never sent; [MQTT-3.1.2-25]: discarded as if it had been.
    let p = client.expect_publish().await;
    assert_eq!(p.payload[..], [2; 10]);
    assert!(Metrics::get(&server.broker().metrics().deliveries_too_large_total) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_per_session_are_capped() {
    let server = start_with(BrokerConfig {
        max_subscriptions_per_session: 2,
        ..BrokerConfig::default()
    })
    .await;
    for (version, net) in [(V5, Net::Tls), (V3, Net::Tcp)] {
        let mut client = Client::connect(&server, net, version, "many-subs").await;
        let o = SubscriptionOptions::qos(QoS::AtLeastOnce);
        let suback = client
            .subscribe_with(&[("a", o), ("b", o), ("c", o)], None)
            .await;
        let quota = by_version(
            version,
            ReasonCode::QuotaExceeded,
            ReasonCode::UnspecifiedError,
        );
        assert_eq!(
            suback.reason_codes,
            [ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS1, quota],
            "{version}"
        );
        // Replacing an existing subscription does not count as another.
        let suback = client
            .subscribe_with(&[("a", SubscriptionOptions::qos(QoS::AtMostOnce))], None)
            .await;
        assert_eq!(suback.reason_codes, [ReasonCode::GRANTED_QOS_0]);
        client.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_messages_are_capped() {
    let server = start_with(BrokerConfig {
        max_retained_messages: 2,
        ..BrokerConfig::default()
    })
    .await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "retainer").await;
    for topic in ["kept/1", "kept/2", "kept/3"] {
        publisher.publish_retained(topic, topic.as_bytes()).await;
    }
    let mut client = Client::connect(&server, Net::Tls, V5, "reader").await;
    client.subscribe("marker", QoS::AtLeastOnce).await;
    client.subscribe("kept/#", QoS::AtLeastOnce).await;
    publisher.publish1("marker", b"").await;
    let topics: Vec<_> = client
        .publishes_until("marker")
        .await
        .into_iter()
        .map(|p| p.topic.to_string())
        .collect();
    assert_eq!(topics, ["kept/1", "kept/2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped() {
    let server = start_with(BrokerConfig {
        max_connections: 2,
        ..BrokerConfig::default()
    })
    .await;
    let first = Client::connect(&server, Net::Tcp, V5, "first").await;
    let _second = Client::connect(&server, Net::Tls, V3, "second").await;
    for (version, net) in [(V5, Net::Tls), (V3, Net::Tcp)] {
        // 5.0: 0x89 Server busy; 3.1.1: return code 3, Server unavailable.
        let expected = by_version(
            version,
            ReasonCode::ServerBusy,
            ReasonCode::ServerUnavailable,
        );
        Client::connect_refused(&server, net, connect_packet(version, "third"), expected).await;
    }
    first.disconnect().await;
    // The freed slot is available once the server has finished closing `first`: each attempt
    // is answered, so this loop is bounded by events, not time.
    for attempt in 0.. {
        let (_third, connack) =
            Client::connect_with(&server, Net::Tcp, connect_packet(V5, "third")).await;
        if connack.reason_code == ReasonCode::Success {
            break;
        }
        assert_eq!(connack.reason_code, ReasonCode::ServerBusy);
        assert!(
            attempt < 1000,
            "the slot of a closed connection was never freed"
        );
    }
}
