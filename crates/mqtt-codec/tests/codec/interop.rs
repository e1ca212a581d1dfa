//! Interoperability with an independent implementation, rumqttc's `mqttbytes` (0.25): packets
//! a client sends are written by rumqttc and read by this codec, and packets a server sends are
//! written by this codec and read by rumqttc.
//!
//! Where rumqttc disagrees with the specification the test says so, cites the rule, and asserts
//! this codec's behaviour instead. AUTH is not covered: rumqttc 0.25 neither exports the types
//! needed to build one (`AuthReasonCode`, `AuthProperties` live in a private module) nor reads
//! packet type 15 in `Packet::read`.

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Ack, AckProperties, ConnAck, Connect, Decoder, Disconnect, Packet, PayloadFormat,
    ProtocolVersion, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};

use crate::common::{MAX, decode_all, encode, nz16, nz32, pid, s, user};

/// Reads everything rumqttc wrote with a decoder of `version` (a server decoder for CONNECT).
fn ours(version: Option<ProtocolVersion>, bytes: &BytesMut) -> Packet {
    let mut decoder = crate::common::decoder(version);
    let mut packets = decode_all(&mut decoder, bytes).unwrap();
    assert_eq!(packets.len(), 1, "{packets:?}");
    packets.remove(0)
}

mod v311 {
    use rumqttc::mqttbytes::QoS as RQoS;
    use rumqttc::mqttbytes::v4;

    use super::*;

    const V3: Option<ProtocolVersion> = Some(ProtocolVersion::V311);

    fn read(bytes: &[u8]) -> v4::Packet {
        let mut buf = BytesMut::from(bytes);
        let packet = v4::Packet::read(&mut buf, MAX).unwrap();
        assert!(buf.is_empty());
        packet
    }

    #[test]
    fn connect_with_will_and_login() {
        let mut connect = v4::Connect::new("client-1");
        connect.keep_alive = 30;
        connect.clean_session = false;
        connect.last_will = Some(v4::LastWill::new(
            "status/client-1",
            "offline",
            RQoS::AtLeastOnce,
            true,
        ));
        connect.set_login("user", "secret");
        let mut buf = BytesMut::new();
        connect.write(&mut buf).unwrap();

        let mut expected = Connect::new(ProtocolVersion::V311, s("client-1"));
        expected.keep_alive = 30;
        expected.clean_start = false;
        expected.will = Some(Will {
            topic: s("status/client-1"),
            payload: Bytes::from_static(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Default::default(),
        });
        expected.username = Some(s("user"));
        expected.password = Some(Bytes::from_static(b"secret"));
        assert_eq!(ours(None, &buf), Packet::Connect(Box::new(expected)));
    }

    #[test]
    fn publish_at_each_qos() {
        for (qos, rqos, pkid) in [
            (QoS::AtMostOnce, RQoS::AtMostOnce, 0),
            (QoS::AtLeastOnce, RQoS::AtLeastOnce, 7),
            (QoS::ExactlyOnce, RQoS::ExactlyOnce, 65535),
        ] {
            let mut publish = v4::Publish::new("sensors/℃/1", rqos, vec![0u8, 1, 2, 255]);
            publish.pkid = pkid;
            publish.retain = true;
            publish.dup = qos != QoS::AtMostOnce;
            let mut buf = BytesMut::new();
            publish.write(&mut buf).unwrap();

            let mut expected = Publish::new(s("sensors/℃/1"), Bytes::from_static(&[0, 1, 2, 255]));
            expected.qos = qos;
            expected.packet_id = (pkid != 0).then(|| pid(pkid));
            expected.retain = true;
            expected.dup = qos != QoS::AtMostOnce;
            assert_eq!(ours(V3, &buf), Packet::Publish(expected));
        }
    }

    #[test]
    fn subscribe_and_unsubscribe() {
        let mut subscribe = v4::Subscribe::new("a/+", RQoS::AtMostOnce);
        subscribe.pkid = 3;
        subscribe.add("b/#".into(), RQoS::ExactlyOnce);
        let mut buf = BytesMut::new();
        subscribe.write(&mut buf).unwrap();
        let expected = Subscribe {
            packet_id: pid(3),
            properties: Default::default(),
            filters: vec![
                (s("a/+"), SubscriptionOptions::qos(QoS::AtMostOnce)),
                (s("b/#"), SubscriptionOptions::qos(QoS::ExactlyOnce)),
            ],
        };
        assert_eq!(ours(V3, &buf), Packet::Subscribe(expected));

        let mut unsubscribe = v4::Unsubscribe::new("a/+");
        unsubscribe.pkid = 4;
        unsubscribe.topics.push("b/#".into());
        let mut buf = BytesMut::new();
        unsubscribe.write(&mut buf).unwrap();
        let expected = Unsubscribe {
            packet_id: pid(4),
            properties: Default::default(),
            filters: vec![s("a/+"), s("b/#")],
        };
        assert_eq!(ours(V3, &buf), Packet::Unsubscribe(expected));
    }

    #[test]
    fn acknowledgements_ping_and_disconnect_from_the_client() {
        let mut buf = BytesMut::new();
        v4::PubAck::new(1).write(&mut buf).unwrap();
        v4::PubRec::new(2).write(&mut buf).unwrap();
        v4::PubRel::new(3).write(&mut buf).unwrap();
        v4::PubComp::new(4).write(&mut buf).unwrap();
        v4::PingReq.write(&mut buf).unwrap();
        v4::Disconnect.write(&mut buf).unwrap();
        let mut decoder = Decoder::new(ProtocolVersion::V311, MAX);
        let packets = decode_all(&mut decoder, &buf).unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::PubAck(Ack::new(pid(1))),
                Packet::PubRec(Ack::new(pid(2))),
                Packet::PubRel(Ack::new(pid(3))),
                Packet::PubComp(Ack::new(pid(4))),
                Packet::PingReq,
                Packet::Disconnect(Disconnect::default()),
            ]
        );
    }

    #[test]
    fn connack_read_by_rumqttc() {
        let cases = [
            (ReasonCode::Success, v4::ConnectReturnCode::Success),
            (
                ReasonCode::UnsupportedProtocolVersion,
                v4::ConnectReturnCode::RefusedProtocolVersion,
            ),
            (
                ReasonCode::ClientIdentifierNotValid,
                v4::ConnectReturnCode::BadClientId,
            ),
            (
                ReasonCode::ServerUnavailable,
                v4::ConnectReturnCode::ServiceUnavailable,
            ),
            (
                ReasonCode::BadUserNameOrPassword,
                v4::ConnectReturnCode::BadUserNamePassword,
            ),
            (
                ReasonCode::NotAuthorized,
                v4::ConnectReturnCode::NotAuthorized,
            ),
        ];
        for (ours, theirs) in cases {
            let session_present = ours == ReasonCode::Success;
            let bytes = encode(
                &Packet::ConnAck(ConnAck::new(session_present, ours)),
                ProtocolVersion::V311,
            );
            assert_eq!(
                read(&bytes),
                v4::Packet::ConnAck(v4::ConnAck::new(theirs, session_present))
            );
        }
    }

    #[test]
    fn server_packets_read_by_rumqttc() {
        let v = ProtocolVersion::V311;
        let mut publish = Publish::new(s("a/b"), Bytes::from_static(b"payload"));
        publish.qos = QoS::ExactlyOnce;
        publish.packet_id = Some(pid(9));
        publish.retain = true;
        let theirs = read(&encode(&Packet::Publish(publish), v));
        let mut expected = v4::Publish::new("a/b", RQoS::ExactlyOnce, b"payload".to_vec());
        expected.pkid = 9;
        expected.retain = true;
        assert_eq!(theirs, v4::Packet::Publish(expected));

        let suback = Packet::SubAck(SubAck {
            packet_id: pid(3),
            properties: Default::default(),
            reason_codes: vec![
                ReasonCode::GRANTED_QOS_0,
                ReasonCode::GrantedQoS2,
                ReasonCode::NotAuthorized,
            ],
        });
        let expected = v4::SubAck::new(
            3,
            vec![
                v4::SubscribeReasonCode::Success(RQoS::AtMostOnce),
                v4::SubscribeReasonCode::Success(RQoS::ExactlyOnce),
                v4::SubscribeReasonCode::Failure,
            ],
        );
        assert_eq!(read(&encode(&suback, v)), v4::Packet::SubAck(expected));

        let unsuback = Packet::UnsubAck(UnsubAck {
            packet_id: pid(4),
            properties: Default::default(),
            reason_codes: vec![],
        });
        assert_eq!(
            read(&encode(&unsuback, v)),
            v4::Packet::UnsubAck(v4::UnsubAck::new(4))
        );
        assert_eq!(
            read(&encode(&Packet::PubAck(Ack::new(pid(5))), v)),
            v4::Packet::PubAck(v4::PubAck::new(5))
        );
        assert_eq!(
            read(&encode(&Packet::PubRec(Ack::new(pid(6))), v)),
            v4::Packet::PubRec(v4::PubRec::new(6))
        );
        assert_eq!(
            read(&encode(&Packet::PubRel(Ack::new(pid(7))), v)),
            v4::Packet::PubRel(v4::PubRel::new(7))
        );
        assert_eq!(
            read(&encode(&Packet::PubComp(Ack::new(pid(8))), v)),
            v4::Packet::PubComp(v4::PubComp::new(8))
        );
        assert_eq!(read(&encode(&Packet::PingResp, v)), v4::Packet::PingResp);
    }
}

mod v5 {
    use rumqttc::v5::mqttbytes::QoS as RQoS;
    use rumqttc::v5::mqttbytes::v5 as r5;

    use super::*;

    const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);

    fn write(packet: r5::Packet) -> BytesMut {
        let mut buf = BytesMut::new();
        packet.write(&mut buf, None).unwrap();
        buf
    }

    fn read(bytes: &[u8]) -> Result<r5::Packet, rumqttc::v5::mqttbytes::Error> {
        let mut buf = BytesMut::from(bytes);
        let packet = r5::Packet::read(&mut buf, None);
        if packet.is_ok() {
            assert!(buf.is_empty());
        }
        packet
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn connect_with_properties_will_and_login() {
        let mut properties = r5::ConnectProperties::new();
        properties.session_expiry_interval = Some(3600);
        properties.receive_maximum = Some(32);
        properties.max_packet_size = Some(65536);
        properties.topic_alias_max = Some(8);
        properties.request_response_info = Some(1);
        properties.request_problem_info = Some(0);
        properties.user_properties = pairs(&[("region", "eu"), ("region", "us")]);
        properties.authentication_method = Some("token".into());
        properties.authentication_data = Some(Bytes::from_static(b"\x01\x02"));
        let connect = r5::Connect {
            keep_alive: 45,
            client_id: "device-7".into(),
            clean_start: true,
            properties: Some(properties),
        };
        let will = r5::LastWill::new(
            "status/device-7",
            b"gone".to_vec(),
            RQoS::ExactlyOnce,
            false,
            Some(r5::LastWillProperties {
                delay_interval: Some(5),
                payload_format_indicator: Some(1),
                message_expiry_interval: Some(600),
                content_type: Some("text/plain".into()),
                response_topic: Some("replies".into()),
                correlation_data: Some(Bytes::from_static(b"id-1")),
                user_properties: pairs(&[("k", "v")]),
            }),
        );
        let login = r5::Login::new("alice", "s3cret");
        let buf = write(r5::Packet::Connect(connect, Some(will), Some(login)));

        let mut expected = Connect::new(ProtocolVersion::V5, s("device-7"));
        expected.keep_alive = 45;
        let p = &mut expected.properties;
        p.session_expiry_interval = Some(3600);
        p.receive_maximum = Some(nz16(32));
        p.maximum_packet_size = Some(nz32(65536));
        p.topic_alias_maximum = Some(8);
        p.request_response_information = Some(true);
        p.request_problem_information = Some(false);
        p.user_properties = vec![user("region", "eu"), user("region", "us")];
        p.authentication_method = Some(s("token"));
        p.authentication_data = Some(Bytes::from_static(b"\x01\x02"));
        let mut will = Will {
            topic: s("status/device-7"),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::ExactlyOnce,
            retain: false,
            properties: Default::default(),
        };
        let wp = &mut will.properties;
        wp.will_delay_interval = Some(5);
        wp.payload_format_indicator = Some(PayloadFormat::Utf8);
        wp.message_expiry_interval = Some(600);
        wp.content_type = Some(s("text/plain"));
        wp.response_topic = Some(s("replies"));
        wp.correlation_data = Some(Bytes::from_static(b"id-1"));
        wp.user_properties = vec![user("k", "v")];
        expected.will = Some(will);
        expected.username = Some(s("alice"));
        expected.password = Some(Bytes::from_static(b"s3cret"));

        let mut decoder = Decoder::server(MAX);
        let decoded = decode_all(&mut decoder, &buf).unwrap();
        assert_eq!(decoded, vec![Packet::Connect(Box::new(expected))]);
        assert_eq!(decoder.version(), Some(ProtocolVersion::V5));
    }

    fn publish_properties() -> r5::PublishProperties {
        r5::PublishProperties {
            payload_format_indicator: Some(0),
            message_expiry_interval: Some(120),
            topic_alias: Some(3),
            response_topic: Some("reply/to".into()),
            correlation_data: Some(Bytes::from_static(b"corr")),
            user_properties: pairs(&[("a", "1"), ("b", "2"), ("a", "3")]),
            subscription_identifiers: vec![1, 16_384, 268_435_455],
            content_type: Some("application/cbor".into()),
        }
    }

    fn expected_publish_properties() -> mqtt_codec::PublishProperties {
        let mut p = mqtt_codec::PublishProperties::default();
        p.payload_format_indicator = Some(PayloadFormat::Unspecified);
        p.message_expiry_interval = Some(120);
        p.topic_alias = Some(nz16(3));
        p.response_topic = Some(s("reply/to"));
        p.correlation_data = Some(Bytes::from_static(b"corr"));
        p.user_properties = vec![user("a", "1"), user("b", "2"), user("a", "3")];
        p.subscription_identifiers = vec![nz32(1), nz32(16_384), nz32(268_435_455)];
        p.content_type = Some(s("application/cbor"));
        p
    }

    #[test]
    fn publish_with_properties_user_properties_and_topic_alias() {
        let mut publish = r5::Publish::new(
            "t/1",
            RQoS::AtLeastOnce,
            Bytes::from_static(b"data"),
            Some(publish_properties()),
        );
        publish.pkid = 42;
        let buf = write(r5::Packet::Publish(publish));
        let mut expected = Publish::new(s("t/1"), Bytes::from_static(b"data"));
        expected.qos = QoS::AtLeastOnce;
        expected.packet_id = Some(pid(42));
        expected.properties = expected_publish_properties();
        assert_eq!(ours(V5, &buf), Packet::Publish(expected));

        // A later PUBLISH using only the alias: an empty Topic Name (§3.3.2.3.4).
        let properties = r5::PublishProperties {
            topic_alias: Some(3),
            ..Default::default()
        };
        let publish = r5::Publish::new(
            "",
            RQoS::AtMostOnce,
            Bytes::from_static(b"more"),
            Some(properties),
        );
        let buf = write(r5::Packet::Publish(publish));
        let mut expected = Publish::new(s(""), Bytes::from_static(b"more"));
        expected.properties.topic_alias = Some(nz16(3));
        assert_eq!(ours(V5, &buf), Packet::Publish(expected));
    }

    #[test]
    fn subscribe_with_options_and_unsubscribe() {
        let filters = vec![
            r5::Filter {
                path: "a/+".into(),
                qos: RQoS::AtLeastOnce,
                nolocal: true,
                preserve_retain: true,
                retain_forward_rule: r5::RetainForwardRule::OnNewSubscribe,
            },
            r5::Filter {
                path: "$share/g/b/#".into(),
                qos: RQoS::ExactlyOnce,
                nolocal: false,
                preserve_retain: false,
                retain_forward_rule: r5::RetainForwardRule::Never,
            },
            r5::Filter::new("c", RQoS::AtMostOnce),
        ];
        let properties = r5::SubscribeProperties {
            id: Some(77),
            user_properties: pairs(&[("k", "v")]),
        };
        let mut subscribe = r5::Subscribe::new_many(filters, Some(properties));
        subscribe.pkid = 12;
        let buf = write(r5::Packet::Subscribe(subscribe));

        let mut expected = Subscribe {
            packet_id: pid(12),
            properties: Default::default(),
            filters: vec![],
        };
        expected.properties.subscription_identifier = Some(nz32(77));
        expected.properties.user_properties = vec![user("k", "v")];
        expected.filters = vec![
            (
                s("a/+"),
                SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::SendAtSubscribeIfNew,
                },
            ),
            (
                s("$share/g/b/#"),
                SubscriptionOptions {
                    retain_handling: RetainHandling::DoNotSend,
                    ..SubscriptionOptions::qos(QoS::ExactlyOnce)
                },
            ),
            (s("c"), SubscriptionOptions::qos(QoS::AtMostOnce)),
        ];
        assert_eq!(ours(V5, &buf), Packet::Subscribe(expected));

        let unsubscribe = r5::Unsubscribe {
            pkid: 13,
            filters: vec!["a/+".into(), "c".into()],
            properties: Some(r5::UnsubscribeProperties {
                user_properties: pairs(&[("why", "done")]),
            }),
        };
        let buf = write(r5::Packet::Unsubscribe(unsubscribe));
        let mut expected = Unsubscribe {
            packet_id: pid(13),
            properties: Default::default(),
            filters: vec![s("a/+"), s("c")],
        };
        expected.properties.user_properties = vec![user("why", "done")];
        assert_eq!(ours(V5, &buf), Packet::Unsubscribe(expected));
    }

    #[test]
    fn acknowledgements_with_reasons_and_properties() {
        let props = || r5::PubAckProperties {
            reason_string: Some("nobody".into()),
            user_properties: pairs(&[("k", "v")]),
        };
        let puback = r5::PubAck {
            pkid: 5,
            reason: r5::PubAckReason::NoMatchingSubscribers,
            properties: Some(props()),
        };
        let mut expected = Ack::with_reason(pid(5), ReasonCode::NoMatchingSubscribers);
        expected.properties.reason_string = Some(s("nobody"));
        expected.properties.user_properties = vec![user("k", "v")];
        assert_eq!(
            ours(V5, &write(r5::Packet::PubAck(puback))),
            Packet::PubAck(expected)
        );

        // Success without properties: rumqttc writes the two byte short form (§3.4.2.1).
        let buf = write(r5::Packet::PubAck(r5::PubAck::new(6, None)));
        assert_eq!(&buf[..], [0x40, 0x02, 0x00, 0x06]);
        assert_eq!(ours(V5, &buf), Packet::PubAck(Ack::new(pid(6))));

        // A reason without properties: rumqttc also writes Property Length 0.
        let pubrec = r5::PubRec {
            pkid: 7,
            reason: r5::PubRecReason::QuotaExceeded,
            properties: None,
        };
        let buf = write(r5::Packet::PubRec(pubrec));
        assert_eq!(
            ours(V5, &buf),
            Packet::PubRec(Ack::with_reason(pid(7), ReasonCode::QuotaExceeded))
        );

        let pubrel = r5::PubRel {
            pkid: 8,
            reason: r5::PubRelReason::PacketIdentifierNotFound,
            properties: None,
        };
        let buf = write(r5::Packet::PubRel(pubrel));
        assert_eq!(
            ours(V5, &buf),
            Packet::PubRel(Ack::with_reason(
                pid(8),
                ReasonCode::PacketIdentifierNotFound
            ))
        );

        let pubcomp = r5::PubComp {
            pkid: 9,
            reason: r5::PubCompReason::Success,
            properties: None,
        };
        let buf = write(r5::Packet::PubComp(pubcomp));
        assert_eq!(ours(V5, &buf), Packet::PubComp(Ack::new(pid(9))));
    }

    #[test]
    fn ping_and_disconnect_from_the_client() {
        assert_eq!(
            ours(V5, &write(r5::Packet::PingReq(r5::PingReq))),
            Packet::PingReq
        );

        let buf = write(r5::Packet::Disconnect(r5::Disconnect::new(
            r5::DisconnectReasonCode::NormalDisconnection,
        )));
        assert_eq!(&buf[..], [0xE0, 0x00]);
        assert_eq!(ours(V5, &buf), Packet::Disconnect(Disconnect::default()));

        let disconnect = r5::Disconnect {
            reason_code: r5::DisconnectReasonCode::DisconnectWithWillMessage,
            properties: Some(r5::DisconnectProperties {
                session_expiry_interval: Some(0),
                reason_string: Some("battery low".into()),
                user_properties: pairs(&[("k", "v")]),
                server_reference: None,
            }),
        };
        let mut expected = Disconnect::new(ReasonCode::DisconnectWithWillMessage);
        expected.properties.session_expiry_interval = Some(0);
        expected.properties.reason_string = Some(s("battery low"));
        expected.properties.user_properties = vec![user("k", "v")];
        assert_eq!(
            ours(V5, &write(r5::Packet::Disconnect(disconnect))),
            Packet::Disconnect(expected)
        );
    }

    #[test]
    fn connack_with_properties_read_by_rumqttc() {
        let mut connack = ConnAck::new(true, ReasonCode::Success);
        let p = &mut connack.properties;
        p.session_expiry_interval = Some(7200);
        p.receive_maximum = Some(nz16(50));
        p.maximum_qos = Some(QoS::AtLeastOnce);
        p.retain_available = Some(true);
        p.maximum_packet_size = Some(nz32(262_144));
        p.assigned_client_identifier = Some(s("auto-42"));
        p.topic_alias_maximum = Some(10);
        p.reason_string = Some(s("welcome"));
        p.user_properties = vec![user("k", "v"), user("k", "w")];
        p.wildcard_subscription_available = Some(true);
        p.subscription_identifiers_available = Some(true);
        p.shared_subscription_available = Some(false);
        p.server_keep_alive = Some(120);
        p.response_information = Some(s("resp/42"));
        p.server_reference = Some(s("backup:8883"));
        p.authentication_method = Some(s("token"));
        p.authentication_data = Some(Bytes::from_static(b"\xAA"));
        let bytes = encode(&Packet::ConnAck(connack), ProtocolVersion::V5);
        let r5::Packet::ConnAck(theirs) = read(&bytes).unwrap() else {
            panic!("not CONNACK")
        };
        assert!(theirs.session_present);
        assert_eq!(theirs.code, r5::ConnectReturnCode::Success);
        let tp = theirs.properties.unwrap();
        assert_eq!(tp.session_expiry_interval, Some(7200));
        assert_eq!(tp.receive_max, Some(50));
        assert_eq!(tp.max_qos, Some(1));
        assert_eq!(tp.retain_available, Some(1));
        assert_eq!(tp.max_packet_size, Some(262_144));
        assert_eq!(tp.assigned_client_identifier.as_deref(), Some("auto-42"));
        assert_eq!(tp.topic_alias_max, Some(10));
        assert_eq!(tp.reason_string.as_deref(), Some("welcome"));
        assert_eq!(tp.user_properties, pairs(&[("k", "v"), ("k", "w")]));
        assert_eq!(tp.wildcard_subscription_available, Some(1));
        assert_eq!(tp.subscription_identifiers_available, Some(1));
        assert_eq!(tp.shared_subscription_available, Some(0));
        assert_eq!(tp.server_keep_alive, Some(120));
        assert_eq!(tp.response_information.as_deref(), Some("resp/42"));
        assert_eq!(tp.server_reference.as_deref(), Some("backup:8883"));
        assert_eq!(tp.authentication_method.as_deref(), Some("token"));
        assert_eq!(tp.authentication_data.as_deref(), Some(&b"\xAA"[..]));

        // A refusal: 0x87 Not authorized, no properties.
        let bytes = encode(
            &Packet::ConnAck(ConnAck::new(false, ReasonCode::NotAuthorized)),
            ProtocolVersion::V5,
        );
        let expected = r5::ConnAck {
            session_present: false,
            code: r5::ConnectReturnCode::NotAuthorized,
            properties: None,
        };
        assert_eq!(read(&bytes).unwrap(), r5::Packet::ConnAck(expected));
    }

    #[test]
    fn publish_read_by_rumqttc() {
        let mut publish = Publish::new(s("t/1"), Bytes::from_static(b"data"));
        publish.qos = QoS::ExactlyOnce;
        publish.packet_id = Some(pid(300));
        publish.dup = true;
        publish.properties = expected_publish_properties();
        let bytes = encode(&Packet::Publish(publish), ProtocolVersion::V5);
        let mut expected = r5::Publish::new(
            "t/1",
            RQoS::ExactlyOnce,
            Bytes::from_static(b"data"),
            Some(publish_properties()),
        );
        expected.pkid = 300;
        expected.dup = true;
        assert_eq!(read(&bytes).unwrap(), r5::Packet::Publish(expected));

        // QoS 0 without properties.
        let bytes = encode(
            &Packet::Publish(Publish::new(s("x"), Bytes::new())),
            ProtocolVersion::V5,
        );
        let expected = r5::Publish::new("x", RQoS::AtMostOnce, Bytes::new(), None);
        assert_eq!(read(&bytes).unwrap(), r5::Packet::Publish(expected));
    }

    #[test]
    fn suback_and_unsuback_read_by_rumqttc() {
        let mut properties = AckProperties::default();
        properties.reason_string = Some(s("partly"));
        let suback = SubAck {
            packet_id: pid(12),
            properties: properties.clone(),
            reason_codes: vec![
                ReasonCode::GrantedQoS1,
                ReasonCode::TopicFilterInvalid,
                ReasonCode::SharedSubscriptionsNotSupported,
            ],
        };
        let bytes = encode(&Packet::SubAck(suback), ProtocolVersion::V5);
        let expected = r5::SubAck {
            pkid: 12,
            return_codes: vec![
                r5::SubscribeReasonCode::Success(RQoS::AtLeastOnce),
                r5::SubscribeReasonCode::TopicFilterInvalid,
                r5::SubscribeReasonCode::SharedSubscriptionsNotSupported,
            ],
            properties: Some(r5::SubAckProperties {
                reason_string: Some("partly".into()),
                user_properties: vec![],
            }),
        };
        assert_eq!(read(&bytes).unwrap(), r5::Packet::SubAck(expected));

        let unsuback = UnsubAck {
            packet_id: pid(13),
            properties: AckProperties::default(),
            reason_codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        };
        let bytes = encode(&Packet::UnsubAck(unsuback), ProtocolVersion::V5);
        let expected = r5::UnsubAck {
            pkid: 13,
            reasons: vec![
                r5::UnsubAckReason::Success,
                r5::UnsubAckReason::NoSubscriptionExisted,
            ],
            properties: None,
        };
        assert_eq!(read(&bytes).unwrap(), r5::Packet::UnsubAck(expected));
    }

    #[test]
    fn acknowledgements_and_pingresp_read_by_rumqttc() {
        let v = ProtocolVersion::V5;
        // The short form.
        let bytes = encode(&Packet::PubAck(Ack::new(pid(1))), v);
        assert_eq!(
            read(&bytes).unwrap(),
            r5::Packet::PubAck(r5::PubAck::new(1, None))
        );
        // A reason without properties: Remaining Length 3 (§3.4.2.2.1).
        let bytes = encode(
            &Packet::PubAck(Ack::with_reason(pid(2), ReasonCode::PayloadFormatInvalid)),
            v,
        );
        assert_eq!(bytes.len(), 5);
        let expected = r5::PubAck {
            pkid: 2,
            reason: r5::PubAckReason::PayloadFormatInvalid,
            properties: None,
        };
        assert_eq!(read(&bytes).unwrap(), r5::Packet::PubAck(expected));
        // A reason and properties.
        let mut ack = Ack::with_reason(pid(3), ReasonCode::NotAuthorized);
        ack.properties.reason_string = Some(s("acl"));
        ack.properties.user_properties = vec![user("k", "v")];
        let expected = r5::PubRec {
            pkid: 3,
            reason: r5::PubRecReason::NotAuthorized,
            properties: Some(r5::PubRecProperties {
                reason_string: Some("acl".into()),
                user_properties: pairs(&[("k", "v")]),
            }),
        };
        assert_eq!(
            read(&encode(&Packet::PubRec(ack), v)).unwrap(),
            r5::Packet::PubRec(expected)
        );
        let bytes = encode(
            &Packet::PubRel(Ack::with_reason(
                pid(4),
                ReasonCode::PacketIdentifierNotFound,
            )),
            v,
        );
        let expected = r5::PubRel {
            pkid: 4,
            reason: r5::PubRelReason::PacketIdentifierNotFound,
            properties: None,
        };
        assert_eq!(read(&bytes).unwrap(), r5::Packet::PubRel(expected));
        let bytes = encode(&Packet::PubComp(Ack::new(pid(5))), v);
        assert_eq!(
            read(&bytes).unwrap(),
            r5::Packet::PubComp(r5::PubComp::new(5, None))
        );
        assert_eq!(
            read(&encode(&Packet::PingResp, v)).unwrap(),
            r5::Packet::PingResp(r5::PingResp)
        );
    }

    #[test]
    fn disconnect_read_by_rumqttc() {
        let v = ProtocolVersion::V5;
        // With a reason and properties.
        let mut disconnect = Disconnect::new(ReasonCode::ServerShuttingDown);
        disconnect.properties.reason_string = Some(s("maintenance"));
        disconnect.properties.server_reference = Some(s("other:1883"));
        let bytes = encode(&Packet::Disconnect(disconnect), v);
        let expected = r5::Disconnect {
            reason_code: r5::DisconnectReasonCode::ServerShuttingDown,
            properties: Some(r5::DisconnectProperties {
                session_expiry_interval: None,
                reason_string: Some("maintenance".into()),
                user_properties: vec![],
                server_reference: Some("other:1883".into()),
            }),
        };
        assert_eq!(read(&bytes).unwrap(), r5::Packet::Disconnect(expected));

        // rumqttc 0.25 bug: its `Packet::read` refuses a DISCONNECT with Remaining Length 0
        // ("payload required"), yet §3.14.2.1 says: "The Reason Code and Property Length can be
        // omitted if the Reason Code is 0x00 (Normal disconnecton) and there are no Properties.
        // In this case the DISCONNECT has a Remaining Length of 0." (rumqttc itself writes
        // exactly these bytes, see `ping_and_disconnect_from_the_client`.) We send the short
        // form the specification describes.
        let bytes = encode(&Packet::Disconnect(Disconnect::default()), v);
        assert_eq!(bytes, [0xE0, 0x00]);
        assert!(read(&bytes).is_err());

        // rumqttc 0.25 bug: with a Reason Code and no properties it expects a Property Length,
        // but "If the Remaining Length is less than 2, a value of 0 is used" (§3.14.2.2.1). We
        // send the one byte form, as the specification allows.
        let bytes = encode(
            &Packet::Disconnect(Disconnect::new(ReasonCode::KeepAliveTimeout)),
            v,
        );
        assert_eq!(bytes, [0xE0, 0x01, 0x8D]);
        assert!(read(&bytes).is_err());
        // With the optional Property Length 0 added, rumqttc reads the same packet, and so do we.
        let long_form = [0xE0, 0x02, 0x8D, 0x00];
        let expected = r5::Disconnect {
            reason_code: r5::DisconnectReasonCode::KeepAliveTimeout,
            properties: None,
        };
        assert_eq!(read(&long_form).unwrap(), r5::Packet::Disconnect(expected));
        let ours = crate::common::decode_one(V5, &long_form).unwrap();
        assert_eq!(
            ours,
            Packet::Disconnect(Disconnect::new(ReasonCode::KeepAliveTimeout))
        );
    }
}
