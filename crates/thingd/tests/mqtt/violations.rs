//! Protocol violations: each gets the reason code the specification names (in DISCONNECT for
//! 5.0) or a close (3.1.1, and before CONNECT), never a panic, and the broker goes on serving
//! other clients.

use mqtt_codec::{
    Ack, ConnAck, Disconnect, Packet, PacketType, ProtocolVersion, QoS, ReasonCode, SubAck,
};

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

/// For each version and listener of `combinations`, commits every violation `cases` lists for
/// that version (the bytes sent after CONNECT and the reason the server ends the connection
/// with), each on a connection of its own; then checks the broker still serves.
async fn assert_violations_end_the_connection(
    server: &testkit::TestServer,
    combinations: &[(ProtocolVersion, Net)],
    cases: impl Fn(ProtocolVersion) -> Vec<(Vec<u8>, ReasonCode)>,
) {
    for &(version, net) in combinations {
        for (bytes, reason) in cases(version) {
            violate(server, version, net, &bytes, reason).await;
        }
        assert_serving(server).await;
    }
}

/// 5.0 with both listeners, for violations 3.1.1 cannot commit.
const V5_BOTH: [(ProtocolVersion, Net); 2] = [(V5, Net::Tcp), (V5, Net::Tls)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connect_is_a_protocol_error() {
    let server = start().await;
    assert_violations_end_the_connection(&server, &ALL, |version| {
        let connect = Packet::Connect(Box::new(connect_packet(version, "violator")));
        // [MQTT-3.1.0-2]
        vec![(encoded(version, &connect), ReasonCode::ProtocolError)]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qos_3_publish_is_malformed() {
    let server = start().await;
    assert_violations_end_the_connection(&server, &ALL, |version| {
        // [MQTT-3.3.1-4]: both QoS bits set.
        let bytes = raw_publish(version, 0x36, b"a/b", Some(1), &[], b"x");
        vec![(bytes, ReasonCode::MalformedPacket)]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_alias_0_is_0x94() {
    let server = start().await;
    assert_violations_end_the_connection(&server, &V5_BOTH, |_| {
        // [MQTT-3.3.2-8]: Topic Alias (0x23) of 0.
        let bytes = raw_publish(V5, 0x30, b"a/b", None, &[0x23, 0x00, 0x00], b"x");
        vec![(bytes, ReasonCode::TopicAliasInvalid)]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_announcing_more_than_the_maximum_size_is_refused_before_its_body() {
    let server = start().await;
    assert_violations_end_the_connection(&server, &ALL, |_| {
        // A PUBLISH announcing 268,435,455 bytes; only its fixed header is sent. The server
        // refuses it from the header [MQTT-3.2.2-15] instead of waiting for (or buffering) it.
        vec![(
            vec![0x30, 0xFF, 0xFF, 0xFF, 0x7F],
            ReasonCode::PacketTooLarge,
        )]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_before_connect_is_closed_without_connack() {
    let server = start().await;
    for (version, net) in ALL {
        let mut client = Client::open(&server, net, version).await;
        client.send_publish("a/b", b"x", QoS::AtMostOnce, 1).await;
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
    assert_violations_end_the_connection(&server, &ALL, |version| {
        // [MQTT-1.5.4-1]: ill-formed UTF-8 (a lone continuation byte, an overlong NUL, a
        // surrogate) and [MQTT-1.5.4-2]: U+0000.
        [&b"a/\x80"[..], b"a/\xc0\x80", b"a/\xed\xa0\x80", b"a/\x00"]
            .into_iter()
            .map(|topic| {
                let bytes = raw_publish(version, 0x30, topic, None, &[], b"x");
                (bytes, ReasonCode::MalformedPacket)
            })
            .collect()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_in_a_publish_topic_is_0x90() {
    let server = start().await;
    assert_violations_end_the_connection(&server, &ALL, |version| {
        ["a/+/b", "a/#", "+"]
            .into_iter()
            .map(|topic| {
                let publish = publish_packet(topic, b"x", QoS::AtLeastOnce, 1);
                // [MQTT-3.3.2-2]
                (
                    encoded(version, &Packet::Publish(publish)),
                    ReasonCode::TopicNameInvalid,
                )
            })
            .collect()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_fixed_header_flags_are_malformed() {
    let server = start().await;
    assert_violations_end_the_connection(&server, &ALL, |_| {
        // [MQTT-2.1.3-1]: SUBSCRIBE, UNSUBSCRIBE and PUBREL need flags 0010, the others 0000.
        let subscribe_flags_0 = vec![0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00];
        let pubrel_flags_0 = vec![0x60, 0x02, 0x00, 0x01];
        let pingreq_flags_1 = vec![0xC1, 0x00];
        let puback_flags_2 = vec![0x42, 0x02, 0x00, 0x01];
        [
            subscribe_flags_0,
            pubrel_flags_0,
            pingreq_flags_1,
            puback_flags_2,
        ]
        .map(|bytes| (bytes, ReasonCode::MalformedPacket))
        .into()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_packets_are_malformed() {
    let server = start().await;
    assert_violations_end_the_connection(&server, &ALL, |_| {
        [
            // A topic length running past the Remaining Length.
            vec![0x30, 0x05, 0x00, 0x50, b'a', b'b', b'c'],
            // A QoS 1 PUBLISH too short for its Packet Identifier.
            vec![0x32, 0x04, 0x00, 0x01, b'a', 0x00],
            // A SUBSCRIBE whose filter has no options byte.
            vec![0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
        ]
        .map(|bytes| (bytes, ReasonCode::MalformedPacket))
        .into()
    })
    .await;
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
    assert_violations_end_the_connection(&server, &V5_BOTH, |_| {
        // [MQTT-3.3.4-6]: Subscription Identifier (0x0B) = 1.
        let bytes = raw_publish(V5, 0x30, b"a/b", None, &[0x0B, 0x01], b"x");
        vec![(bytes, ReasonCode::ProtocolError)]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_with_a_session_expiry_after_connect_had_zero_is_a_protocol_error() {
    let server = start().await;
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "expiry-watcher").await;
    watcher.subscribe("expiry/will", QoS::AtMostOnce).await;
    for (_, net) in V5_BOTH {
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
    }
    assert_violations_end_the_connection(&server, &ALL, |_| {
        // After CONNECT: packet type 0 is reserved, and a Remaining Length of five bytes is not
        // a Variable Byte Integer.
        [
            b"\x00\x00\x00\x00".to_vec(),
            b"\x30\xff\xff\xff\xff\x01".to_vec(),
        ]
        .map(|bytes| (bytes, ReasonCode::MalformedPacket))
        .into()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_only_a_server_sends_are_protocol_errors() {
    let server = start().await;
    assert_violations_end_the_connection(&server, &ALL, |version| {
        let packets = [
            Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)),
            Packet::SubAck(SubAck {
                packet_id: pid(1),
                properties: Default::default(),
                reason_codes: vec![ReasonCode::Success],
            }),
            Packet::PingResp,
        ];
        packets
            .map(|packet| (encoded(version, &packet), ReasonCode::ProtocolError))
            .into()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_publish_and_subscribe_fields() {
    let server = start().await;
    assert_violations_end_the_connection(&server, &ALL, |version| {
        // [MQTT-3.8.3-5]: reserved subscription option bits.
        let props: &[u8] = if version == V5 { &[0x00] } else { &[] };
        let mut reserved_options = vec![0x82, 0, 0x00, 0x01];
        reserved_options.extend(props);
        reserved_options.extend([0x00, 0x01, b'a', 0xC1]);
        reserved_options[1] = (reserved_options.len() - 2) as u8;
        vec![
            // [MQTT-3.3.1-2]: DUP on QoS 0.
            (
                raw_publish(version, 0x38, b"a", None, &[], b"x"),
                ReasonCode::MalformedPacket,
            ),
            // [MQTT-2.2.1-3]: Packet Identifier 0.
            (
                raw_publish(version, 0x32, b"a", Some(0), &[], b"x"),
                ReasonCode::MalformedPacket,
            ),
            // [MQTT-3.8.3-2]: a SUBSCRIBE without a filter is a Protocol Error.
            (
                if version == V5 {
                    vec![0x82, 0x03, 0x00, 0x01, 0x00]
                } else {
                    vec![0x82, 0x02, 0x00, 0x01]
                },
                ReasonCode::ProtocolError,
            ),
            (reserved_options, ReasonCode::MalformedPacket),
        ]
    })
    .await;
    // §3.8.3.1: Retain Handling 3 is a Protocol Error.
    let retain_handling_3 = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x31];
    // An unknown property is malformed (§2.2.2.2).
    let unknown_property = raw_publish(V5, 0x30, b"a", None, &[0x7F, 0x00], b"x");
    // AUTH does not exist in 3.1.1.
    let auth = [0xF0, 0x00];
    for (version, net, bytes, reason) in [
        (
            V5,
            Net::Tcp,
            &retain_handling_3[..],
            ReasonCode::ProtocolError,
        ),
        (V5, Net::Tls, &unknown_property, ReasonCode::MalformedPacket),
        (V3, Net::Tcp, &auth, ReasonCode::MalformedPacket),
    ] {
        violate(&server, version, net, bytes, reason).await;
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_violation_does_not_disturb_other_sessions() {
    let server = start().await;
    let mut subscriber = Client::connect(&server, Net::Tls, V5, "bystander").await;
    subscriber.subscribe("bystander/#", QoS::ExactlyOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V3, "bystander-pub").await;
    for (version, net) in ALL {
        let too_long = [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        violate(
            &server,
            version,
            net,
            &too_long,
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
    publisher.expect_ack(PacketType::PubComp, pid(500)).await;
    assert_serving(&server).await;
}
