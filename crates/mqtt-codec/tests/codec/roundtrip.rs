//! Property-based tests: arbitrary valid packets of both versions survive encode then decode,
//! `encoded_len` is exact, arbitrary and mutated bytes never make the decoder panic, and a stream
//! fed in pieces decodes to the same packets as the whole stream.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Ack, AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, Decoder, Disconnect, DisconnectProperties, MqttString, OutgoingPublish,
    Packet, PacketId, PayloadFormat, ProtocolVersion, Publish, PublishProperties, QoS, ReasonCode,
    ReasonCodeContext, RetainHandling, SubAck, Subscribe, SubscribeProperties, SubscriptionOptions,
    UnsubAck, Unsubscribe, UnsubscribeProperties, UserProperty, Will, WillProperties,
};
use proptest::prelude::*;
use proptest::strategy::Union;

use crate::common::MAX;

use ProtocolVersion::{V5, V311};

// Leaf strategies.

fn mqtt_string() -> impl Strategy<Value = MqttString> {
    // Mostly topic-like ASCII, sometimes any Unicode scalar value but U+0000 [MQTT-1.5.4-2].
    let any_char = any::<char>().prop_filter("U+0000 is not allowed", |c| *c != '\0');
    prop_oneof![
        3 => "[a-z0-9/+#$-]{0,12}",
        1 => prop::collection::vec(any_char, 0..8).prop_map(String::from_iter),
    ]
    .prop_map(|text| MqttString::new(&text).unwrap())
}

fn binary() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..=u16::MAX).prop_map(|v| PacketId::new(v).unwrap())
}

fn nz16() -> impl Strategy<Value = NonZeroU16> {
    (1..=u16::MAX).prop_map(|v| NonZeroU16::new(v).unwrap())
}

fn nz32() -> impl Strategy<Value = NonZeroU32> {
    (1..=u32::MAX).prop_map(|v| NonZeroU32::new(v).unwrap())
}

/// A Subscription Identifier: 1 to 268,435,455 (§3.8.2.1.2).
fn subscription_id() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![1u32..200, 1u32..=268_435_455].prop_map(|v| NonZeroU32::new(v).unwrap())
}

fn user_properties() -> impl Strategy<Value = Vec<UserProperty>> {
    prop::collection::vec(
        (mqtt_string(), mqtt_string()).prop_map(|(k, v)| UserProperty::new(k, v)),
        0..3,
    )
}

fn payload_format() -> impl Strategy<Value = PayloadFormat> {
    prop_oneof![Just(PayloadFormat::Unspecified), Just(PayloadFormat::Utf8)]
}

/// The reason codes `context` allows, according to the codec's table (which
/// `reason_codes::each_packet_accepts_exactly_the_reason_codes_of_its_table` checks against the
/// specification).
fn reason(context: ReasonCodeContext) -> impl Strategy<Value = ReasonCode> {
    let codes: Vec<ReasonCode> = (0..=u8::MAX)
        .filter_map(ReasonCode::from_u8)
        .filter(|r| r.allowed_in(context))
        .collect();
    prop::sample::select(codes)
}

fn opt<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    prop::option::of(s)
}

// Property sets (5.0 only; 3.1.1 packets carry the defaults).

fn connect_properties() -> impl Strategy<Value = ConnectProperties> {
    (
        (
            opt(any::<u32>()),
            opt(nz16()),
            opt(nz32()),
            opt(any::<u16>()),
        ),
        (opt(any::<bool>()), opt(any::<bool>()), user_properties()),
        (opt(mqtt_string()), opt(binary())),
    )
        .prop_map(|((sei, rm, mps, tam), (rri, rpi, up), (am, ad))| {
            let mut p = ConnectProperties::default();
            p.session_expiry_interval = sei;
            p.receive_maximum = rm;
            p.maximum_packet_size = mps;
            p.topic_alias_maximum = tam;
            p.request_response_information = rri;
            p.request_problem_information = rpi;
            p.user_properties = up;
            p.authentication_method = am;
            p.authentication_data = ad;
            p
        })
}

fn will_properties() -> impl Strategy<Value = WillProperties> {
    (
        (opt(any::<u32>()), opt(payload_format()), opt(any::<u32>())),
        (
            opt(mqtt_string()),
            opt(mqtt_string()),
            opt(binary()),
            user_properties(),
        ),
    )
        .prop_map(|((wdi, pfi, mei), (ct, rt, cd, up))| {
            let mut p = WillProperties::default();
            p.will_delay_interval = wdi;
            p.payload_format_indicator = pfi;
            p.message_expiry_interval = mei;
            p.content_type = ct;
            p.response_topic = rt;
            p.correlation_data = cd;
            p.user_properties = up;
            p
        })
}

fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    let max_qos = prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)];
    (
        (
            opt(any::<u32>()),
            opt(nz16()),
            opt(max_qos),
            opt(any::<bool>()),
            opt(nz32()),
        ),
        (
            opt(mqtt_string()),
            opt(any::<u16>()),
            opt(mqtt_string()),
            user_properties(),
        ),
        (
            opt(any::<bool>()),
            opt(any::<bool>()),
            opt(any::<bool>()),
            opt(any::<u16>()),
        ),
        (
            opt(mqtt_string()),
            opt(mqtt_string()),
            opt(mqtt_string()),
            opt(binary()),
        ),
    )
        .prop_map(
            |(
                (sei, rm, mq, ra, mps),
                (aci, tam, rs, up),
                (wsa, sia, ssa, ska),
                (ri, sr, am, ad),
            )| {
                let mut p = ConnAckProperties::default();
                p.session_expiry_interval = sei;
                p.receive_maximum = rm;
                p.maximum_qos = mq;
                p.retain_available = ra;
                p.maximum_packet_size = mps;
                p.assigned_client_identifier = aci;
                p.topic_alias_maximum = tam;
                p.reason_string = rs;
                p.user_properties = up;
                p.wildcard_subscription_available = wsa;
                p.subscription_identifiers_available = sia;
                p.shared_subscription_available = ssa;
                p.server_keep_alive = ska;
                p.response_information = ri;
                p.server_reference = sr;
                p.authentication_method = am;
                p.authentication_data = ad;
                p
            },
        )
}

fn publish_properties() -> impl Strategy<Value = PublishProperties> {
    (
        (
            opt(payload_format()),
            opt(any::<u32>()),
            opt(nz16()),
            opt(mqtt_string()),
        ),
        (
            opt(binary()),
            user_properties(),
            prop::collection::vec(subscription_id(), 0..3),
        ),
        opt(mqtt_string()),
    )
        .prop_map(|((pfi, mei, ta, rt), (cd, up, sids), ct)| {
            let mut p = PublishProperties::default();
            p.payload_format_indicator = pfi;
            p.message_expiry_interval = mei;
            p.topic_alias = ta;
            p.response_topic = rt;
            p.correlation_data = cd;
            p.user_properties = up;
            p.subscription_identifiers = sids;
            p.content_type = ct;
            p
        })
}

fn ack_properties() -> impl Strategy<Value = AckProperties> {
    (opt(mqtt_string()), user_properties()).prop_map(|(rs, up)| {
        let mut p = AckProperties::default();
        p.reason_string = rs;
        p.user_properties = up;
        p
    })
}

// Packets.

fn will(version: ProtocolVersion) -> impl Strategy<Value = Will> {
    let properties = match version {
        V5 => will_properties().boxed(),
        V311 => Just(WillProperties::default()).boxed(),
    };
    (mqtt_string(), binary(), qos(), any::<bool>(), properties).prop_map(
        |(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        },
    )
}

fn connect(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let properties = match version {
        V5 => connect_properties().boxed(),
        V311 => Just(ConnectProperties::default()).boxed(),
    };
    (
        any::<bool>(),
        any::<u16>(),
        properties,
        mqtt_string(),
        opt(will(version)),
    )
        .prop_flat_map(move |fields| {
            // [MQTT-3.1.2-22] of 3.1.1: a password needs a user name; 5.0 allows it alone.
            let credentials = match version {
                V5 => (opt(mqtt_string()), opt(binary())).boxed(),
                V311 => opt((mqtt_string(), opt(binary())))
                    .prop_map(|c| match c {
                        Some((u, p)) => (Some(u), p),
                        None => (None, None),
                    })
                    .boxed(),
            };
            (Just(fields), credentials)
        })
        .prop_map(
            move |(
                (clean_start, keep_alive, properties, client_id, will),
                (username, password),
            )| {
                Packet::Connect(Box::new(Connect {
                    protocol_version: version,
                    clean_start,
                    keep_alive,
                    properties,
                    client_id,
                    will,
                    username,
                    password,
                }))
            },
        )
        .boxed()
}

fn connack(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    match version {
        V311 => {
            // The six return codes of 3.1.1 (§3.2.2.3 of 3.1.1), as the reason codes they
            // decode to.
            let code = (0u8..=5).prop_map(|c| ReasonCode::from_v3_connack_code(c).unwrap());
            (any::<bool>(), code)
                .prop_map(|(sp, rc)| Packet::ConnAck(ConnAck::new(sp, rc)))
                .boxed()
        }
        V5 => (
            any::<bool>(),
            reason(ReasonCodeContext::ConnAck),
            connack_properties(),
        )
            .prop_map(|(session_present, reason_code, properties)| {
                Packet::ConnAck(ConnAck {
                    session_present,
                    reason_code,
                    properties,
                })
            })
            .boxed(),
    }
}

fn publish_parts(version: ProtocolVersion) -> impl Strategy<Value = Publish> {
    let properties = match version {
        V5 => publish_properties().boxed(),
        V311 => Just(PublishProperties::default()).boxed(),
    };
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        mqtt_string(),
        packet_id(),
        properties,
        binary(),
    )
        .prop_map(
            |(qos, dup, retain, topic, id, properties, payload)| Publish {
                // [MQTT-3.3.1-2]: DUP is 0 at QoS 0; the Packet Identifier is present from QoS 1.
                dup: dup && qos != QoS::AtMostOnce,
                qos,
                retain,
                topic,
                packet_id: (qos != QoS::AtMostOnce).then_some(id),
                properties,
                payload,
            },
        )
}

fn publish(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    publish_parts(version).prop_map(Packet::Publish).boxed()
}

fn ack(version: ProtocolVersion, context: ReasonCodeContext) -> BoxedStrategy<Ack> {
    match version {
        V311 => packet_id().prop_map(Ack::new).boxed(),
        V5 => (packet_id(), reason(context), ack_properties())
            .prop_map(|(packet_id, reason_code, properties)| Ack {
                packet_id,
                reason_code,
                properties,
            })
            .boxed(),
    }
}

fn subscription_options(version: ProtocolVersion) -> BoxedStrategy<SubscriptionOptions> {
    match version {
        V311 => qos().prop_map(SubscriptionOptions::qos).boxed(),
        V5 => {
            let rh = prop_oneof![
                Just(RetainHandling::SendAtSubscribe),
                Just(RetainHandling::SendAtSubscribeIfNew),
                Just(RetainHandling::DoNotSend),
            ];
            (qos(), any::<bool>(), any::<bool>(), rh)
                .prop_map(|(qos, no_local, retain_as_published, retain_handling)| {
                    SubscriptionOptions {
                        qos,
                        no_local,
                        retain_as_published,
                        retain_handling,
                    }
                })
                .boxed()
        }
    }
}

fn subscribe(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let properties = match version {
        V5 => (opt(subscription_id()), user_properties())
            .prop_map(|(id, up)| {
                let mut p = SubscribeProperties::default();
                p.subscription_identifier = id;
                p.user_properties = up;
                p
            })
            .boxed(),
        V311 => Just(SubscribeProperties::default()).boxed(),
    };
    let filters = prop::collection::vec((mqtt_string(), subscription_options(version)), 1..5);
    (packet_id(), properties, filters)
        .prop_map(|(packet_id, properties, filters)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                properties,
                filters,
            })
        })
        .boxed()
}

fn suback(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let (properties, code) = match version {
        V5 => (
            ack_properties().boxed(),
            reason(ReasonCodeContext::SubAck).boxed(),
        ),
        // 3.1.1 has Success with QoS 0-2 and Failure 0x80 (§3.9.3 of 3.1.1).
        V311 => (
            Just(AckProperties::default()).boxed(),
            prop::sample::select(vec![
                ReasonCode::GRANTED_QOS_0,
                ReasonCode::GrantedQoS1,
                ReasonCode::GrantedQoS2,
                ReasonCode::UnspecifiedError,
            ])
            .boxed(),
        ),
    };
    (packet_id(), properties, prop::collection::vec(code, 1..6))
        .prop_map(|(packet_id, properties, reason_codes)| {
            Packet::SubAck(SubAck {
                packet_id,
                properties,
                reason_codes,
            })
        })
        .boxed()
}

fn unsubscribe(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let properties = match version {
        V5 => user_properties()
            .prop_map(|up| {
                let mut p = UnsubscribeProperties::default();
                p.user_properties = up;
                p
            })
            .boxed(),
        V311 => Just(UnsubscribeProperties::default()).boxed(),
    };
    (
        packet_id(),
        properties,
        prop::collection::vec(mqtt_string(), 1..5),
    )
        .prop_map(|(packet_id, properties, filters)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties,
                filters,
            })
        })
        .boxed()
}

fn unsuback(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    match version {
        // 3.1.1's UNSUBACK has no payload (§3.11.3 of 3.1.1).
        V311 => packet_id()
            .prop_map(|packet_id| {
                Packet::UnsubAck(UnsubAck {
                    packet_id,
                    properties: AckProperties::default(),
                    reason_codes: vec![],
                })
            })
            .boxed(),
        V5 => (
            packet_id(),
            ack_properties(),
            prop::collection::vec(reason(ReasonCodeContext::UnsubAck), 1..6),
        )
            .prop_map(|(packet_id, properties, reason_codes)| {
                Packet::UnsubAck(UnsubAck {
                    packet_id,
                    properties,
                    reason_codes,
                })
            })
            .boxed(),
    }
}

fn disconnect(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    match version {
        // 3.1.1's DISCONNECT has no variable header (§3.14 of 3.1.1).
        V311 => Just(Packet::Disconnect(Disconnect::default())).boxed(),
        V5 => {
            let properties = (
                opt(any::<u32>()),
                opt(mqtt_string()),
                user_properties(),
                opt(mqtt_string()),
            )
                .prop_map(|(sei, rs, up, sr)| {
                    let mut p = DisconnectProperties::default();
                    p.session_expiry_interval = sei;
                    p.reason_string = rs;
                    p.user_properties = up;
                    p.server_reference = sr;
                    p
                });
            (reason(ReasonCodeContext::Disconnect), properties)
                .prop_map(|(reason_code, properties)| {
                    Packet::Disconnect(Disconnect {
                        reason_code,
                        properties,
                    })
                })
                .boxed()
        }
    }
}

fn auth() -> BoxedStrategy<Packet> {
    let properties = (
        opt(mqtt_string()),
        opt(binary()),
        opt(mqtt_string()),
        user_properties(),
    )
        .prop_map(|(am, ad, rs, up)| {
            let mut p = AuthProperties::default();
            p.authentication_method = am;
            p.authentication_data = ad;
            p.reason_string = rs;
            p.user_properties = up;
            p
        });
    (reason(ReasonCodeContext::Auth), properties)
        .prop_map(|(reason_code, properties)| {
            Packet::Auth(Auth {
                reason_code,
                properties,
            })
        })
        .boxed()
}

/// Any packet but CONNECT that `version` has.
fn non_connect_packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let mut choices = vec![
        connack(version),
        publish(version),
        ack(version, ReasonCodeContext::PubAck)
            .prop_map(Packet::PubAck)
            .boxed(),
        ack(version, ReasonCodeContext::PubRec)
            .prop_map(Packet::PubRec)
            .boxed(),
        ack(version, ReasonCodeContext::PubRel)
            .prop_map(Packet::PubRel)
            .boxed(),
        ack(version, ReasonCodeContext::PubComp)
            .prop_map(Packet::PubComp)
            .boxed(),
        subscribe(version),
        suback(version),
        unsubscribe(version),
        unsuback(version),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        disconnect(version),
    ];
    if version == V5 {
        choices.push(auth());
    }
    Union::new(choices).boxed()
}

/// Any packet that `version` has.
fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    prop_oneof![1 => connect(version), 12 => non_connect_packet(version)].boxed()
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(V311), Just(V5)]
}

fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    version().prop_flat_map(|v| (Just(v), packet(v)))
}

/// A client's stream as a server reads it: a CONNECT of the version, then other packets.
fn session() -> impl Strategy<Value = (ProtocolVersion, Vec<Packet>)> {
    version().prop_flat_map(|v| {
        (
            connect(v),
            prop::collection::vec(non_connect_packet(v), 0..8),
        )
            .prop_map(move |(c, rest)| {
                let mut packets = vec![c];
                packets.extend(rest);
                (v, packets)
            })
    })
}

/// A CONNECT of `version` with an empty client id and nothing else.
fn empty_connect(version: ProtocolVersion) -> Packet {
    Packet::Connect(Box::new(Connect::new(version, MqttString::default())))
}

fn encode_all(version: ProtocolVersion, packets: &[Packet]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for p in packets {
        p.encode(version, &mut buf).unwrap();
    }
    buf.to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_the_identity((version, packet) in versioned_packet()) {
        let mut buf = BytesMut::new();
        packet.encode(version, &mut buf).unwrap();
        prop_assert_eq!(packet.encoded_len(version).unwrap(), buf.len());
        let mut decoder = match packet {
            Packet::Connect(_) => Decoder::server(MAX),
            _ => Decoder::new(version, MAX),
        };
        let decoded = decoder.decode(&mut buf).unwrap();
        prop_assert_eq!(decoded, Some(packet));
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoder.version(), Some(version));
    }

    #[test]
    fn outgoing_publish_overrides_alias_and_subscription_ids(
        version in version(),
        publish in publish_parts(ProtocolVersion::V5),
        alias in opt(nz16()),
        ids in prop::collection::vec(subscription_id(), 0..3),
    ) {
        // The broker encodes one stored message with each subscriber's own Topic Alias and
        // Subscription Identifiers, ignoring those inside the message's properties.
        let outgoing = OutgoingPublish {
            dup: publish.dup,
            qos: publish.qos,
            retain: publish.retain,
            packet_id: publish.packet_id,
            topic: publish.topic.as_bytes(),
            topic_alias: alias,
            subscription_identifiers: &ids,
            properties: &publish.properties,
            payload: &publish.payload,
        };
        let mut buf = BytesMut::new();
        outgoing.encode(version, &mut buf).unwrap();
        prop_assert_eq!(outgoing.encoded_len(version).unwrap(), buf.len());
        let decoded = Decoder::new(version, MAX).decode(&mut buf).unwrap();
        let Some(Packet::Publish(decoded)) = decoded else { panic!("not a PUBLISH") };
        let mut expected = publish.clone();
        match version {
            V5 => {
                expected.properties.topic_alias = alias;
                expected.properties.subscription_identifiers = ids.clone();
            }
            // 3.1.1 has no properties at all.
            V311 => expected.properties = PublishProperties::default(),
        }
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn a_stream_fed_one_byte_at_a_time_decodes_the_same((version, packets) in session()) {
        // Every byte boundary is a possible end of a read.
        let bytes = encode_all(version, &packets);
        let mut decoder = Decoder::server(MAX);
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        for &b in &bytes {
            buf.extend_from_slice(&[b]);
            while let Some(p) = decoder.decode(&mut buf).unwrap() {
                decoded.push(p);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoded, packets);
    }

    #[test]
    fn a_stream_fed_in_random_chunks_decodes_the_same(
        (version, packets) in session(),
        chunks in prop::collection::vec(1usize..40, 1..16),
    ) {
        let bytes = encode_all(version, &packets);
        let mut decoder = Decoder::server(MAX);
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        let mut rest = &bytes[..];
        for &n in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            buf.extend_from_slice(chunk);
            while let Some(p) = decoder.decode(&mut buf).unwrap() {
                decoded.push(p);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoded, packets);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        // The fuzz target's harness: decodes as server and as both clients, and checks that
        // whatever decodes re-encodes to itself.
        mqtt_codec::fuzzing::decode_stream(&data);
        // And with a small maximum packet size, which the harness does not use.
        for mut decoder in [Decoder::server(64), Decoder::new(V311, 64), Decoder::new(V5, 64)] {
            let mut buf = BytesMut::from(&data[..]);
            while let Ok(Some(_)) = decoder.decode(&mut buf) {}
        }
    }

    #[test]
    fn arbitrary_bytes_after_a_connect_never_panic(
        version in version(),
        data in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        // The server decoder only reaches the other packet types after a CONNECT.
        let mut stream = encode_all(version, &[empty_connect(version)]);
        stream.extend_from_slice(&data);
        mqtt_codec::fuzzing::decode_stream(&stream);
    }

    #[test]
    fn mutated_packets_never_panic(
        (version, packet) in versioned_packet(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        // Valid packets with a few bytes overwritten, removed or inserted reach deeper into the
        // decoder than random bytes do.
        let mut bytes = encode_all(version, std::slice::from_ref(&packet));
        for (index, value, kind) in edits {
            let i = index.index(bytes.len());
            match kind {
                0 => bytes[i] = value,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, value),
            }
            if bytes.is_empty() {
                break;
            }
        }
        let mut stream = match packet {
            Packet::Connect(_) => Vec::new(),
            _ => encode_all(version, &[empty_connect(version)]),
        };
        stream.extend_from_slice(&bytes);
        mqtt_codec::fuzzing::decode_stream(&stream);
        mqtt_codec::fuzzing::decode_stream(&bytes);
    }
}
