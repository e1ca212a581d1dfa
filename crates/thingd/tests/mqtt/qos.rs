//! QoS 0, 1 and 2 in both directions: packet identifiers, acknowledgement flows, duplicates,
//! downgrade to the subscription's QoS, Maximum QoS, and both inflight windows (the client's
//! Receive Maximum and the server's).

use std::num::NonZeroU16;

use mqtt_codec::{Ack, Packet, PacketType, Publish, QoS, ReasonCode, SubscriptionOptions};
use thingd_broker::BrokerConfig;

use crate::support::*;

const QOS: [QoS; 3] = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos_0_1_2_flows_in_both_directions() {
    let server = start().await;
    for (version, net) in ALL {
        let mut subscriber = Client::connect(&server, net, version, "flows-sub").await;
        subscriber.auto_ack = false;
        subscriber.subscribe("flows/#", QoS::ExactlyOnce).await;
        let mut publisher = Client::connect(&server, net, version, "flows-pub").await;

        // QoS 0: no identifier, no acknowledgement.
        publisher.publish0("flows/0", b"zero").await;
        let p = subscriber.expect_publish().await;
        assert_eq!(
            (p.qos, p.packet_id, &p.payload[..]),
            (QoS::AtMostOnce, None, &b"zero"[..])
        );

        // QoS 1: PUBACK with the PUBLISH's identifier [MQTT-4.3.2-4] ...
        publisher
            .send_publish("flows/1", b"one", QoS::AtLeastOnce, 11)
            .await;
        assert_eq!(
            publisher.expect_ack(PacketType::PubAck, pid(11)).await,
            ReasonCode::Success
        );
        // ... and to the subscriber, a server-chosen identifier that the PUBACK releases.
        let p = subscriber.expect_publish().await;
        assert_eq!((p.qos, &p.payload[..]), (QoS::AtLeastOnce, &b"one"[..]));
        let id1 = p
            .packet_id
            .expect("a QoS 1 PUBLISH has a packet identifier");
        subscriber.send(&Packet::PubAck(Ack::new(id1))).await;

        // QoS 2: PUBREC, PUBREL, PUBCOMP with the same identifier [MQTT-4.3.3].
        publisher
            .send_publish("flows/2", b"two", QoS::ExactlyOnce, 12)
            .await;
        assert_eq!(
            publisher.expect_ack(PacketType::PubRec, pid(12)).await,
            ReasonCode::Success
        );
        publisher.send(&Packet::PubRel(Ack::new(pid(12)))).await;
        assert_eq!(
            publisher.expect_ack(PacketType::PubComp, pid(12)).await,
            ReasonCode::Success
        );
        let p = subscriber.expect_publish().await;
        assert_eq!((p.qos, &p.payload[..]), (QoS::ExactlyOnce, &b"two"[..]));
        let id2 = p
            .packet_id
            .expect("a QoS 2 PUBLISH has a packet identifier");
        assert_ne!(
            id1, id2,
            "[MQTT-2.2.1-...]: a new message gets an unused identifier"
        );
        subscriber.send(&Packet::PubRec(Ack::new(id2))).await;
        subscriber.expect_ack(PacketType::PubRel, id2).await;
        subscriber.send(&Packet::PubComp(Ack::new(id2))).await;
        assert!(
            subscriber.settle().await.is_empty(),
            "{version} {net:?}: completed flows are not resent"
        );
        assert!(publisher.settle().await.is_empty());
        subscriber.disconnect().await;
        publisher.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_qos2_publish_is_delivered_once() {
    let server = start().await;
    for (version, net) in [(V5, Net::Tls), (V3, Net::Tcp)] {
        let mut subscriber = Client::connect(&server, Net::Tcp, V5, "dup2-sub").await;
        subscriber.subscribe("dup2/#", QoS::ExactlyOnce).await;
        let mut publisher = Client::connect(&server, net, version, "dup2-pub").await;
        let first = publish_packet("dup2/t", b"once", QoS::ExactlyOnce, 5);
        publisher.send(&Packet::Publish(first.clone())).await;
        publisher.expect_ack(PacketType::PubRec, pid(5)).await;
        // The PUBREC was lost, say: the client sends the PUBLISH again with DUP.
        let again = Publish {
            dup: true,
            ..first.clone()
        };
        publisher.send(&Packet::Publish(again)).await;
        publisher.expect_ack(PacketType::PubRec, pid(5)).await;
        publisher.send(&Packet::PubRel(Ack::new(pid(5)))).await;
        publisher.expect_ack(PacketType::PubComp, pid(5)).await;
        // After PUBCOMP the identifier is free: the same identifier is a new message.
        assert_eq!(
            publisher
                .publish_acked(publish_packet("dup2/t", b"new", QoS::ExactlyOnce, 5))
                .await,
            ReasonCode::Success
        );
        publisher.publish0("dup2/marker", b"").await;
        let got: Vec<_> = subscriber
            .publishes_until("dup2/marker")
            .await
            .into_iter()
            .map(|p| p.payload)
            .collect();
        // [MQTT-4.3.3-...]: method A, deliver on the first PUBLISH, never again for its identifier.
        assert_eq!(got, [&b"once"[..], &b"new"[..]], "{version} {net:?}");
        publisher.disconnect().await;
        subscriber.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_qos_is_the_lower_of_published_and_granted() {
    let server = start().await;
    for version in [V3, V5] {
        let mut subscriber = Client::connect(&server, Net::Tls, version, "downgrade-sub").await;
        for qos in QOS {
            subscriber
                .subscribe(&format!("downgrade/{}", qos as u8), qos)
                .await;
        }
        let mut publisher = Client::connect(&server, Net::Tcp, V5, "downgrade-pub").await;
        for granted in QOS {
            for published in QOS {
                let topic = format!("downgrade/{}", granted as u8);
                let payload = [published as u8];
                match published {
                    QoS::AtMostOnce => publisher.publish0(&topic, &payload).await,
                    _ => {
                        let id = publisher.next_pid().get();
                        assert_eq!(
                            publisher
                                .publish_acked(publish_packet(&topic, &payload, published, id))
                                .await,
                            ReasonCode::Success
                        );
                    }
                }
                let p = subscriber.expect_publish().await;
                assert_eq!(p.payload[..], payload);
                // [MQTT-3.8.4-8]
                assert_eq!(
                    p.qos,
                    published.min(granted),
                    "{version}: published {published:?}, granted {granted:?}"
                );
            }
        }
        subscriber.disconnect().await;
        publisher.disconnect().await;
    }
}

/// Checks that `subscriber`, which acknowledges nothing by itself, has a window of two QoS 1
/// deliveries: of three messages `publisher` sends to `topic`, two arrive at once and the third
/// only after the first is acknowledged.
async fn assert_window_of_two(subscriber: &mut Client, publisher: &mut Client, topic: &str) {
    for n in 1..=3u8 {
        // Each PUBACK means the message was routed into the subscriber's queue.
        publisher.publish1_ok(topic, &[n]).await;
    }
    let first = subscriber.expect_publish().await;
    let second = subscriber.expect_publish().await;
    assert_eq!((first.payload[0], second.payload[0]), (1, 2));
    assert!(
        subscriber.settle().await.is_empty(),
        "a third PUBLISH was sent before any PUBACK"
    );
    subscriber.ack(&first).await;
    let third = subscriber.expect_publish().await;
    assert_eq!(
        third.payload[0], 3,
        "the PUBACK opened the window for the third"
    );
    assert_ne!(third.packet_id, second.packet_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_receive_maximum_limits_unacknowledged_qos1_deliveries() {
    let server = start().await;
    let mut connect = connect_packet(V5, "recv-max");
    connect.properties.receive_maximum = NonZeroU16::new(2);
    let (mut subscriber, _) = Client::connect_ok(&server, Net::Tls, connect).await;
    subscriber.auto_ack = false;
    subscriber.subscribe("window/#", QoS::AtLeastOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "window-pub").await;
    // [MQTT-3.3.4-7]: no more than Receive Maximum unacknowledged QoS 1 PUBLISH.
    assert_window_of_two(&mut subscriber, &mut publisher, "window/t").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_receive_maximum_counts_qos2_until_pubcomp() {
    let server = start().await;
    let mut connect = connect_packet(V5, "recv-max-2");
    connect.properties.receive_maximum = NonZeroU16::new(1);
    let (mut subscriber, _) = Client::connect_ok(&server, Net::Tcp, connect).await;
    subscriber.auto_ack = false;
    subscriber.subscribe("window2/#", QoS::ExactlyOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "window2-pub").await;
    for n in 1..=2u8 {
        let id = publisher.next_pid().get();
        let publish = publish_packet("window2/t", &[n], QoS::ExactlyOnce, id);
        assert_eq!(publisher.publish_acked(publish).await, ReasonCode::Success);
    }
    let first = subscriber.expect_publish().await;
    let id = first.packet_id.unwrap();
    subscriber.send(&Packet::PubRec(Ack::new(id))).await;
    subscriber.expect_ack(PacketType::PubRel, id).await;
    // §3.3.4: the QoS 2 message counts against Receive Maximum until its PUBCOMP.
    assert!(
        subscriber.settle().await.is_empty(),
        "the second PUBLISH was sent before PUBCOMP"
    );
    subscriber.send(&Packet::PubComp(Ack::new(id))).await;
    assert_eq!(subscriber.expect_publish().await.payload[0], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_inflight_caps_the_window_of_v311_clients() {
    let server = start_with(BrokerConfig {
        max_inflight: 2,
        ..BrokerConfig::default()
    })
    .await;
    let mut subscriber = Client::connect(&server, Net::Tls, V3, "inflight-v3").await;
    subscriber.auto_ack = false;
    subscriber.subscribe("inflight/#", QoS::AtLeastOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V3, "inflight-pub").await;
    assert_window_of_two(&mut subscriber, &mut publisher, "inflight/t").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceeding_the_servers_receive_maximum_disconnects_with_0x93() {
    let server = start_with(BrokerConfig {
        receive_maximum: 2,
        ..BrokerConfig::default()
    })
    .await;
    for (version, net) in [(V5, Net::Tcp), (V5, Net::Tls), (V3, Net::Tcp)] {
        let (mut client, connack) =
            Client::connect_ok(&server, net, connect_packet(version, "greedy")).await;
        if version == V5 {
            assert_eq!(connack.properties.receive_maximum, NonZeroU16::new(2));
        }
        for id in 1..=3 {
            client
                .send_publish("greedy/t", b"x", QoS::ExactlyOnce, id)
                .await;
        }
        // Two PUBRECs, no PUBREL from the client: the third is one too many [MQTT-3.3.4-9].
        let before = client
            .expect_disconnect(ReasonCode::ReceiveMaximumExceeded)
            .await;
        let recs: Vec<_> = before
            .iter()
            .filter_map(|p| match p {
                Packet::PubRec(rec) => Some(rec.packet_id.get()),
                _ => None,
            })
            .collect();
        assert_eq!(recs, [1, 2], "{version} {net:?}");
        assert_serving(&server).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_qos2_flows_free_the_servers_receive_window() {
    let server = start_with(BrokerConfig {
        receive_maximum: 2,
        ..BrokerConfig::default()
    })
    .await;
    let mut client = Client::connect(&server, Net::Tls, V5, "steady").await;
    for id in 1..=10 {
        let publish = publish_packet("steady/t", b"x", QoS::ExactlyOnce, id);
        assert_eq!(
            client.publish_acked(publish).await,
            ReasonCode::NoMatchingSubscribers
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubrel_for_an_unknown_identifier_gets_pubcomp_0x92() {
    let server = start().await;
    let mut client = Client::connect(&server, Net::Tcp, V5, "stray-pubrel").await;
    client.send(&Packet::PubRel(Ack::new(pid(42)))).await;
    assert_eq!(
        client.expect_ack(PacketType::PubComp, pid(42)).await,
        ReasonCode::PacketIdentifierNotFound
    );
    // A stray PUBACK is ignored.
    client.send(&Packet::PubAck(Ack::new(pid(43)))).await;
    assert!(client.settle().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maximum_qos_lowers_grants_and_refuses_higher_publishes() {
    let server = start_with(BrokerConfig {
        maximum_qos: QoS::AtLeastOnce,
        ..BrokerConfig::default()
    })
    .await;
    for (version, net) in [(V5, Net::Tls), (V3, Net::Tcp)] {
        let (mut client, connack) =
            Client::connect_ok(&server, net, connect_packet(version, "max-qos")).await;
        if version == V5 {
            assert_eq!(connack.properties.maximum_qos, Some(QoS::AtLeastOnce));
        }
        let suback = client
            .subscribe_with(
                &[("max-qos/t", SubscriptionOptions::qos(QoS::ExactlyOnce))],
                None,
            )
            .await;
        assert_eq!(
            suback.reason_codes,
            [ReasonCode::GrantedQoS1],
            "the server grants what it supports"
        );
        client
            .send_publish("max-qos/t", b"2", QoS::ExactlyOnce, 1)
            .await;
        // [MQTT-3.2.2-11]: a QoS above Maximum QoS gets DISCONNECT 0x9B.
        client.expect_disconnect(ReasonCode::QoSNotSupported).await;
        assert_serving(&server).await;
    }
}
