//! Protocol violations: each gets the reason code the specification names (in DISCONNECT for
//! 5.0) or a close (3.1.1, and before CONNECT), never a panic, and the broker goes on serving
//! other clients.

use mqtt_codec::{Ack, ConnAck, Disconnect, Packet, ProtocolVersion, QoS, ReasonCode, SubAck};

use crate::support::*;

/// A PUBLISH built by hand; `first` is the whole first byte (type and flags).
fn raw_publish(
    version: ProtocolVersion,
    first: u8,
    topic: &[u8],
    packet_id: Option<u16>,
    properties: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend((topic.len() as u16).to_be_bytes());
    body.extend(topic);
    if let Some(id) = packet_id {
        body.extend(id.to_be_bytes());
    }
    if version == V5 {
        body.push(properties.len() as u8);
        body.extend(properties);
    }
    body.extend(payload);
    assert!(body.len() < 128);
    let mut out = vec![first, body.len() as u8];
    out.extend(body);
    out
}

/// Connects a client, sends `bytes`, and expects the server to end the connection with
/// `reason` (5.0) or a close (3.1.1).
async fn violate(
    server: &testkit::TestServer,
    version: ProtocolVersion,
    net: Net,
    bytes: &[u8],
    reason: ReasonCode,
) {
    let mut client = Client::connect(server, net, version, "violator").await;
    client.send_bytes(bytes).await;
    client.expect_disconnect(reason).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connect_is_a_protocol_error() {
    let server = start().await;
    for (version, net) in ALL {
        let mut client = Client::connect(&server, net, version, "twice").await;
        client
            .send(&Packet::Connect(Box::new(connect_packet(version, "twice"))))
            .await;
        // [MQTT-3.1.0-2]
        client.expect_disconnect(ReasonCode::ProtocolError).await;
        assert_serving(&server).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qos_3_publish_is_malformed() {
    let server = start().await;
    for (version, net) in ALL {
        // [MQTT-3.3.1-4]: both QoS bits set.
        let bytes = raw_publish(version, 0x36, b"a/b", Some(1), &[], b"x");
        violate(&server, version, net, &bytes, ReasonCode::MalformedPacket).await;
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_alias_0_is_0x94() {
    let server = start().await;
    for net in [Net::Tcp, Net::Tls] {
        // [MQTT-3.3.2-8]: Topic Alias (0x23) of 0.
        let bytes = raw_publish(V5, 0x30, b"a/b", None, &[0x23, 0x00, 0x00], b"x");
        violate(&server, V5, net, &bytes, ReasonCode::TopicAliasInvalid).await;
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_announcing_more_than_the_maximum_size_is_refused_before_its_body() {
    let server = start().await;
    for (version, net) in ALL {
        // A PUBLISH announcing 268,435,455 bytes; only its fixed header is sent. The server
        // refuses it from the header [MQTT-3.2.2-15] instead of waiting for (or buffering) it.
        violate(
            &server,
            version,
            net,
            &[0x30, 0xFF, 0xFF, 0xFF, 0x7F],
            ReasonCode::PacketTooLarge,
        )
        .await;
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_before_connect_is_closed_without_connack() {
    let server = start().await;
    for (version, net) in ALL {
        let mut client = Client::open(&server, net, version).await;
        client
            .send(&Packet::Publish(publish_packet(
                "a/b",
                b"x",
                QoS::AtMostOnce,
                1,
            )))
            .await;
        // [MQTT-3.1.0-1]: the first packet must be CONNECT; the server closes, and since the
        // client never connected it gets no CONNACK.
        let packets = client.expect_close().await;
        assert!(packets.is_empty(), "{version} {net:?}: {packets:?}");
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_utf8_topic_is_malformed() {
    let server = start().await;
    for (version, net) in ALL {
        // [MQTT-1.5.4-1]: ill-formed UTF-8 (a lone continuation byte, an overlong NUL, a
        // surrogate) and [MQTT-1.5.4-2]: U+0000.
        for topic in [&b"a/\x80"[..], b"a/\xc0\x80", b"a/\xed\xa0\x80", b"a/\x00"] {
            let bytes = raw_publish(version, 0x30, topic, None, &[], b"x");
            violate(&server, version, net, &bytes, ReasonCode::MalformedPacket).await;
        }
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_in_a_publish_topic_is_0x90() {
    let server = start().await;
    for (version, net) in ALL {
        for topic in ["a/+/b", "a/#", "+"] {
            let mut client = Client::connect(&server, net, version, "wildcard").await;
            client
                .send(&Packet::Publish(publish_packet(
                    topic,
                    b"x",
                    QoS::AtLeastOnce,
                    1,
                )))
                .await;
            // [MQTT-3.3.2-2]
            client.expect_disconnect(ReasonCode::TopicNameInvalid).await;
        }
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_fixed_header_flags_are_malformed() {
    let server = start().await;
    for (version, net) in ALL {
        // [MQTT-2.1.3-1]: SUBSCRIBE, UNSUBSCRIBE and PUBREL need flags 0010, the others 0000.
        let subscribe_flags_0 = [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00];
        let pubrel_flags_0 = [0x60, 0x02, 0x00, 0x01];
        let pingreq_flags_1 = [0xC1, 0x00];
        let puback_flags_2 = [0x42, 0x02, 0x00, 0x01];
        for bytes in [
            &subscribe_flags_0[..],
            &pubrel_flags_0,
            &pingreq_flags_1,
            &puback_flags_2,
        ] {
            violate(&server, version, net, bytes, ReasonCode::MalformedPacket).await;
        }
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_packets_are_malformed() {
    let server = start().await;
    for (version, net) in ALL {
        // A topic length running past the Remaining Length.
        violate(
            &server,
            version,
            net,
            &[0x30, 0x05, 0x00, 0x50, b'a', b'b', b'c'],
            ReasonCode::MalformedPacket,
        )
        .await;
        // A QoS 1 PUBLISH too short for its Packet Identifier.
        violate(
            &server,
            version,
            net,
            &[0x32, 0x04, 0x00, 0x01, b'a', 0x00],
            ReasonCode::MalformedPacket,
        )
        .await;
        // A SUBSCRIBE whose filter has no options byte.
        violate(
            &server,
            version,
            net,
            &[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
            ReasonCode::MalformedPacket,
        )
        .await;
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_in_the_middle_of_a_packet_is_closed() {
    let server = start().await;
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "cut-watcher").await;
    watcher.subscribe("cut/will", QoS::AtMostOnce).await;
    for (version, net) in ALL {
        let mut connect = connect_packet(version, "cut");
        connect.will = Some(will("cut/will", b"cut", QoS::AtMostOnce, false));
        let (mut client, _) = Client::connect_ok(&server, net, connect).await;
        // Half a PUBLISH, then the client goes away.
        client.send_bytes(&[0x30, 0x20, 0x00, 0x03, b'a']).await;
        drop(client);
        assert_eq!(
            &watcher.expect_publish().await.payload[..],
            b"cut",
            "{version} {net:?}"
        );
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_identifier_in_a_client_publish_is_a_protocol_error() {
    let server = start().await;
    for net in [Net::Tcp, Net::Tls] {
        // [MQTT-3.3.4-6]: Subscription Identifier (0x0B) = 1.
        let bytes = raw_publish(V5, 0x30, b"a/b", None, &[0x0B, 0x01], b"x");
        violate(&server, V5, net, &bytes, ReasonCode::ProtocolError).await;
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_with_a_session_expiry_after_connect_had_zero_is_a_protocol_error() {
    let server = start().await;
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "expiry-watcher").await;
    watcher.subscribe("expiry/will", QoS::AtMostOnce).await;
    for net in [Net::Tcp, Net::Tls] {
        let mut connect = connect_packet(V5, "sneaky-expiry");
        connect.will = Some(will("expiry/will", b"gone", QoS::AtMostOnce, false));
        let (mut client, _) = Client::connect_ok(&server, net, connect).await;
        let mut disconnect = Disconnect::default();
        disconnect.properties.session_expiry_interval = Some(60);
        client.send(&Packet::Disconnect(disconnect)).await;
        // [MQTT-3.14.2-2]
        client.expect_disconnect(ReasonCode::ProtocolError).await;
        // Closed for a protocol error, not by a normal DISCONNECT: the will is published.
        assert_eq!(&watcher.expect_publish().await.payload[..], b"gone");
        let (_client, connack) =
            Client::connect_ok(&server, net, persistent_connect(V5, "sneaky-expiry", 60)).await;
        assert!(
            !connack.session_present,
            "the session still ended with its connection"
        );
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes_are_refused() {
    let server = start().await;
    for (version, net) in ALL {
        // Before CONNECT: a close, no CONNACK.
        for garbage in [
            &b"\x00\x00"[..],
            b"GET / HTTP/1.1\r\n\r\n",
            b"\xff\xff\xff\xff\xff\xff",
        ] {
            let mut client = Client::open(&server, net, version).await;
            client.send_bytes(garbage).await;
            assert!(
                client.expect_close().await.is_empty(),
                "{version} {net:?} {garbage:?}"
            );
        }
        // After CONNECT: packet type 0 is reserved, and a Remaining Length of five bytes is not
        // a Variable Byte Integer.
        violate(
            &server,
            version,
            net,
            b"\x00\x00\x00\x00",
            ReasonCode::MalformedPacket,
        )
        .await;
        violate(
            &server,
            version,
            net,
            b"\x30\xff\xff\xff\xff\x01",
            ReasonCode::MalformedPacket,
        )
        .await;
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_only_a_server_sends_are_protocol_errors() {
    let server = start().await;
    for (version, net) in ALL {
        let packets = [
            Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)),
            Packet::SubAck(SubAck {
                packet_id: pid(1),
                properties: Default::default(),
                reason_codes: vec![ReasonCode::Success],
            }),
            Packet::PingResp,
        ];
        for packet in packets {
            let mut client = Client::connect(&server, net, version, "confused").await;
            client.send(&packet).await;
            client.expect_disconnect(ReasonCode::ProtocolError).await;
        }
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_publish_and_subscribe_fields() {
    let server = start().await;
    for (version, net) in ALL {
        // [MQTT-3.3.1-2]: DUP on QoS 0.
        violate(
            &server,
            version,
            net,
            &raw_publish(version, 0x38, b"a", None, &[], b"x"),
            ReasonCode::MalformedPacket,
        )
        .await;
        // [MQTT-2.2.1-3]: Packet Identifier 0.
        violate(
            &server,
            version,
            net,
            &raw_publish(version, 0x32, b"a", Some(0), &[], b"x"),
            ReasonCode::MalformedPacket,
        )
        .await;
        // [MQTT-3.8.3-2]: a SUBSCRIBE without a filter is a Protocol Error.
        let empty: &[u8] = if version == V5 {
            &[0x82, 0x03, 0x00, 0x01, 0x00]
        } else {
            &[0x82, 0x02, 0x00, 0x01]
        };
        violate(&server, version, net, empty, ReasonCode::ProtocolError).await;
        // [MQTT-3.8.3-5]: reserved subscription option bits.
        let props: &[u8] = if version == V5 { &[0x00] } else { &[] };
        let mut subscribe = vec![0x82, 0, 0x00, 0x01];
        subscribe.extend(props);
        subscribe.extend([0x00, 0x01, b'a', 0xC1]);
        subscribe[1] = (subscribe.len() - 2) as u8;
        violate(
            &server,
            version,
            net,
            &subscribe,
            ReasonCode::MalformedPacket,
        )
        .await;
    }
    // §3.8.3.1: Retain Handling 3 is a Protocol Error.
    violate(
        &server,
        V5,
        Net::Tcp,
        &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x31],
        ReasonCode::ProtocolError,
    )
    .await;
    // An unknown property is malformed (§2.2.2.2).
    violate(
        &server,
        V5,
        Net::Tls,
        &raw_publish(V5, 0x30, b"a", None, &[0x7F, 0x00], b"x"),
        ReasonCode::MalformedPacket,
    )
    .await;
    // AUTH does not exist in 3.1.1.
    violate(
        &server,
        V3,
        Net::Tcp,
        &[0xF0, 0x00],
        ReasonCode::MalformedPacket,
    )
    .await;
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_violation_does_not_disturb_other_sessions() {
    let server = start().await;
    let mut subscriber = Client::connect(&server, Net::Tls, V5, "bystander").await;
    subscriber.subscribe("bystander/#", QoS::ExactlyOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V3, "bystander-pub").await;
    for (version, net) in ALL {
        violate(
            &server,
            version,
            net,
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ReasonCode::MalformedPacket,
        )
        .await;
        let publish = publish_packet("bystander/t", b"unaffected", QoS::ExactlyOnce, 3);
        assert_eq!(publisher.publish_acked(publish).await, ReasonCode::Success);
        assert_eq!(
            &subscriber.expect_publish().await.payload[..],
            b"unaffected"
        );
    }
    // The existing connections are still live in both directions.
    publisher.send(&Packet::PubRel(Ack::new(pid(500)))).await;
    assert!(matches!(publisher.next_packet().await, Packet::PubComp(_)));
    assert_serving(&server).await;
}
