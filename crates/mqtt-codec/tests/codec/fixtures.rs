//! Byte-exact fixtures written by hand from the layouts of the MQTT 3.1.1 and 5.0 specifications.
//!
//! Each fixture is decoded and must equal the expected packet, and the expected packet is encoded
//! and must equal the bytes. Properties are written in the order the encoder emits them (the
//! order of the fields of each property struct); the specification lets properties appear in any
//! order, which [`tests::properties_may_appear_in_any_order`] checks separately. Together the
//! fixtures carry every one of the 27 properties of MQTT 5.0 (§2.2.2.2, Table 2-4).

use std::collections::BTreeSet;

use bytes::Bytes;
use mqtt_codec::{
    Ack, AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, Disconnect, DisconnectProperties, Packet, PayloadFormat, ProtocolVersion,
    Publish, PublishProperties, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscribeProperties, SubscriptionOptions, UnsubAck, Unsubscribe, UnsubscribeProperties, Will,
    WillProperties,
};

use crate::common::{cat, nz16, nz32, pid, s, user};

use ProtocolVersion::{V5, V311};

/// One packet, its bytes on the wire, and the version it is read and written in.
pub(crate) struct Fixture {
    pub(crate) name: &'static str,
    pub(crate) version: ProtocolVersion,
    pub(crate) bytes: Vec<u8>,
    pub(crate) packet: Packet,
}

fn fixture(
    name: &'static str,
    version: ProtocolVersion,
    bytes: Vec<u8>,
    packet: Packet,
) -> Fixture {
    Fixture {
        name,
        version,
        bytes,
        packet,
    }
}

// ---------------------------------------------------------------------------------------------
// CONNECT (§3.1)
// ---------------------------------------------------------------------------------------------

/// MQTT 3.1.1 §3.1.2.10, the variable header non normative example, with a payload
/// holding the fields its flags announce, in the order of §3.1.3.
fn connect_v311() -> Fixture {
    let bytes = cat(&[
        &[0x10, 41],    // CONNECT, Remaining Length 41.
        &[0x00, 0x04],  // Protocol Name length 4.
        b"MQTT",        // Protocol Name.
        &[0x04],        // Protocol Level 4.
        &[0b1100_1110], // User Name, Password, Will QoS 1, Will Flag, Clean Session.
        &[0x00, 0x0A],  // Keep Alive 10 s.
        &[0x00, 0x08],  // Client Identifier length 8.
        b"thingd-1",    // Client Identifier.
        &[0x00, 0x04],  // Will Topic length 4.
        b"will",        // Will Topic.
        &[0x00, 0x03],  // Will Message length 3.
        b"bye",         // Will Message.
        &[0x00, 0x04],  // User Name length 4.
        b"user",        // User Name.
        &[0x00, 0x02],  // Password length 2.
        b"pw",          // Password.
    ]);
    let mut connect = Connect::new(V311, s("thingd-1"));
    connect.keep_alive = 10;
    connect.will = Some(Will {
        topic: s("will"),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: WillProperties::default(),
    });
    connect.username = Some(s("user"));
    connect.password = Some(Bytes::from_static(b"pw"));
    fixture(
        "connect_v311",
        V311,
        bytes,
        Packet::Connect(Box::new(connect)),
    )
}

/// The smallest CONNECT of 3.1.1: clean session, an empty Client Identifier (§3.1.3.1).
fn connect_v311_minimal() -> Fixture {
    let bytes = cat(&[
        &[0x10, 12],    // CONNECT, Remaining Length 12.
        &[0x00, 0x04],  // Protocol Name length 4.
        b"MQTT",        // Protocol Name.
        &[0x04],        // Protocol Level 4.
        &[0b0000_0010], // Clean Session.
        &[0x00, 0x3C],  // Keep Alive 60 s.
        &[0x00, 0x00],  // Client Identifier: empty.
    ]);
    let connect = Connect::new(V311, s(""));
    fixture(
        "connect_v311_minimal",
        V311,
        bytes,
        Packet::Connect(Box::new(connect)),
    )
}

/// MQTT 5.0 §3.1.2.12, the variable header non-normative example (Session Expiry Interval 10),
/// with a payload carrying a will with every Will Property (§3.1.3.2), a user name and a binary
/// password.
fn connect_v5_will() -> Fixture {
    let bytes = cat(&[
        &[0x10, 90],                     // CONNECT, Remaining Length 90.
        &[0x00, 0x04],                   // Protocol Name length 4.
        b"MQTT",                         // Protocol Name.
        &[0x05],                         // Protocol Version 5.
        &[0b1100_1110],                  // User Name, Password, Will QoS 1, Will Flag, Clean Start.
        &[0x00, 0x0A],                   // Keep Alive 10 s.
        &[0x05],                         // Property Length 5.
        &[0x11, 0x00, 0x00, 0x00, 0x0A], // Session Expiry Interval 10 s.
        &[0x00, 0x08],                   // Client Identifier length 8.
        b"thingd-1",                     // Client Identifier.
        &[41],                           // Will Property Length 41.
        &[0x18, 0x00, 0x00, 0x00, 0x3C], // Will Delay Interval 60 s.
        &[0x01, 0x01],                   // Payload Format Indicator: UTF-8.
        &[0x02, 0x00, 0x00, 0x0E, 0x10], // Message Expiry Interval 3600 s.
        &[0x03, 0x00, 0x0A],             // Content Type, length 10.
        b"text/plain",
        &[0x08, 0x00, 0x01], // Response Topic, length 1.
        b"r",
        &[0x09, 0x00, 0x02, 0xCA, 0xFE], // Correlation Data, 2 bytes.
        &[0x26, 0x00, 0x01],             // User Property: name length 1,
        b"k",
        &[0x00, 0x01], // value length 1.
        b"v",
        &[0x00, 0x04],                   // Will Topic length 4.
        b"will",                         // Will Topic.
        &[0x00, 0x03],                   // Will Payload length 3.
        b"bye",                          // Will Payload.
        &[0x00, 0x04],                   // User Name length 4.
        b"user",                         // User Name.
        &[0x00, 0x03, 0x01, 0xFF, 0x00], // Password: 3 bytes of binary data (§3.1.3.6).
    ]);
    let mut properties = ConnectProperties::default();
    properties.session_expiry_interval = Some(10);
    let mut will_properties = WillProperties::default();
    will_properties.will_delay_interval = Some(60);
    will_properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    will_properties.message_expiry_interval = Some(3600);
    will_properties.content_type = Some(s("text/plain"));
    will_properties.response_topic = Some(s("r"));
    will_properties.correlation_data = Some(Bytes::from_static(&[0xCA, 0xFE]));
    will_properties.user_properties = vec![user("k", "v")];
    let mut connect = Connect::new(V5, s("thingd-1"));
    connect.keep_alive = 10;
    connect.properties = properties;
    connect.will = Some(Will {
        topic: s("will"),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: will_properties,
    });
    connect.username = Some(s("user"));
    connect.password = Some(Bytes::from_static(&[0x01, 0xFF, 0x00]));
    fixture(
        "connect_v5_will",
        V5,
        bytes,
        Packet::Connect(Box::new(connect)),
    )
}

/// MQTT 5.0 CONNECT with every CONNECT property (§3.1.2.11) and an empty Client Identifier.
fn connect_v5_properties() -> Fixture {
    let bytes = cat(&[
        &[0x10, 59],                     // CONNECT, Remaining Length 59.
        &[0x00, 0x04],                   // Protocol Name length 4.
        b"MQTT",                         // Protocol Name.
        &[0x05],                         // Protocol Version 5.
        &[0b0000_0010],                  // Clean Start.
        &[0x00, 0x3C],                   // Keep Alive 60 s.
        &[46],                           // Property Length 46.
        &[0x11, 0x00, 0x00, 0x00, 0x0A], // Session Expiry Interval 10 s.
        &[0x21, 0x00, 0x14],             // Receive Maximum 20.
        &[0x27, 0x00, 0x00, 0x10, 0x00], // Maximum Packet Size 4096.
        &[0x22, 0x00, 0x0A],             // Topic Alias Maximum 10.
        &[0x19, 0x01],                   // Request Response Information 1.
        &[0x17, 0x00],                   // Request Problem Information 0.
        &[0x26, 0x00, 0x01],             // User Property: name length 1,
        b"k",
        &[0x00, 0x01], // value length 1.
        b"v",
        &[0x15, 0x00, 0x0B], // Authentication Method, length 11.
        b"SCRAM-SHA-1",
        &[0x16, 0x00, 0x02, 0x01, 0x02], // Authentication Data, 2 bytes.
        &[0x00, 0x00],                   // Client Identifier: empty.
    ]);
    let mut properties = ConnectProperties::default();
    properties.session_expiry_interval = Some(10);
    properties.receive_maximum = Some(nz16(20));
    properties.maximum_packet_size = Some(nz32(4096));
    properties.topic_alias_maximum = Some(10);
    properties.request_response_information = Some(true);
    properties.request_problem_information = Some(false);
    properties.user_properties = vec![user("k", "v")];
    properties.authentication_method = Some(s("SCRAM-SHA-1"));
    properties.authentication_data = Some(Bytes::from_static(&[0x01, 0x02]));
    let mut connect = Connect::new(V5, s(""));
    connect.properties = properties;
    fixture(
        "connect_v5_properties",
        V5,
        bytes,
        Packet::Connect(Box::new(connect)),
    )
}

/// MQTT 5.0 allows a Password without a User Name (§3.1.2.9), unlike 3.1.1.
fn connect_v5_password_only() -> Fixture {
    let bytes = cat(&[
        &[0x10, 18],    // CONNECT, Remaining Length 18.
        &[0x00, 0x04],  // Protocol Name length 4.
        b"MQTT",        // Protocol Name.
        &[0x05],        // Protocol Version 5.
        &[0b0100_0010], // Password, Clean Start.
        &[0x00, 0x00],  // Keep Alive 0: off.
        &[0x00],        // Property Length 0.
        &[0x00, 0x01],  // Client Identifier length 1.
        b"c",           // Client Identifier.
        &[0x00, 0x02],  // Password length 2.
        b"pw",          // Password.
    ]);
    let mut connect = Connect::new(V5, s("c"));
    connect.keep_alive = 0;
    connect.password = Some(Bytes::from_static(b"pw"));
    fixture(
        "connect_v5_password_only",
        V5,
        bytes,
        Packet::Connect(Box::new(connect)),
    )
}

// ---------------------------------------------------------------------------------------------
// CONNACK (§3.2)
// ---------------------------------------------------------------------------------------------

/// MQTT 3.1.1 CONNACK: Session Present, return code 0 Connection Accepted (§3.2.2).
fn connack_v311() -> Fixture {
    let bytes = vec![
        0x20, 0x02, // CONNACK, Remaining Length 2.
        0x01, // Session Present.
        0x00, // Connection Accepted.
    ];
    fixture(
        "connack_v311",
        V311,
        bytes,
        Packet::ConnAck(ConnAck::new(true, ReasonCode::Success)),
    )
}

/// MQTT 3.1.1 CONNACK refusing the connection: return code 5, not authorized (§3.2.2.3).
fn connack_v311_refused() -> Fixture {
    let bytes = vec![
        0x20, 0x02, // CONNACK, Remaining Length 2.
        0x00, // No session.
        0x05, // Connection Refused, not authorized.
    ];
    let packet = Packet::ConnAck(ConnAck::new(false, ReasonCode::NotAuthorized));
    fixture("connack_v311_refused", V311, bytes, packet)
}

/// MQTT 5.0 CONNACK with every CONNACK property (§3.2.2.3).
fn connack_v5_properties() -> Fixture {
    let bytes = cat(&[
        &[0x20, 77],                     // CONNACK, Remaining Length 77.
        &[0x00],                         // Connect Acknowledge Flags: no session.
        &[0x00],                         // Reason Code: Success.
        &[74],                           // Property Length 74.
        &[0x11, 0xFF, 0xFF, 0xFF, 0xFF], // Session Expiry Interval: never expires.
        &[0x21, 0x00, 0x64],             // Receive Maximum 100.
        &[0x24, 0x01],                   // Maximum QoS 1.
        &[0x25, 0x00],                   // Retain Available 0.
        &[0x27, 0x00, 0x02, 0x00, 0x00], // Maximum Packet Size 131072.
        &[0x12, 0x00, 0x06],             // Assigned Client Identifier, length 6.
        b"auto-1",
        &[0x22, 0x00, 0x10], // Topic Alias Maximum 16.
        &[0x1F, 0x00, 0x02], // Reason String, length 2.
        b"ok",
        &[0x26, 0x00, 0x01], // User Property: name length 1,
        b"k",
        &[0x00, 0x01], // value length 1.
        b"v",
        &[0x28, 0x01],       // Wildcard Subscription Available 1.
        &[0x29, 0x00],       // Subscription Identifiers Available 0.
        &[0x2A, 0x01],       // Shared Subscription Available 1.
        &[0x13, 0x00, 0x1E], // Server Keep Alive 30 s.
        &[0x1A, 0x00, 0x05], // Response Information, length 5.
        b"resp/",
        &[0x1C, 0x00, 0x05], // Server Reference, length 5.
        b"other",
        &[0x15, 0x00, 0x01], // Authentication Method, length 1.
        b"m",
        &[0x16, 0x00, 0x01, 0x2A], // Authentication Data, 1 byte.
    ]);
    let mut p = ConnAckProperties::default();
    p.session_expiry_interval = Some(u32::MAX);
    p.receive_maximum = Some(nz16(100));
    p.maximum_qos = Some(QoS::AtLeastOnce);
    p.retain_available = Some(false);
    p.maximum_packet_size = Some(nz32(131_072));
    p.assigned_client_identifier = Some(s("auto-1"));
    p.topic_alias_maximum = Some(16);
    p.reason_string = Some(s("ok"));
    p.user_properties = vec![user("k", "v")];
    p.wildcard_subscription_available = Some(true);
    p.subscription_identifiers_available = Some(false);
    p.shared_subscription_available = Some(true);
    p.server_keep_alive = Some(30);
    p.response_information = Some(s("resp/"));
    p.server_reference = Some(s("other"));
    p.authentication_method = Some(s("m"));
    p.authentication_data = Some(Bytes::from_static(&[0x2A]));
    let mut connack = ConnAck::new(false, ReasonCode::Success);
    connack.properties = p;
    fixture("connack_v5_properties", V5, bytes, Packet::ConnAck(connack))
}

/// MQTT 5.0 CONNACK refusing the connection with 0x8C Bad authentication method and a reason.
fn connack_v5_refused() -> Fixture {
    let bytes = cat(&[
        &[0x20, 0x08],       // CONNACK, Remaining Length 8.
        &[0x00],             // No session.
        &[0x8C],             // Bad authentication method.
        &[0x05],             // Property Length 5.
        &[0x1F, 0x00, 0x02], // Reason String, length 2.
        b"no",
    ]);
    let mut connack = ConnAck::new(false, ReasonCode::BadAuthenticationMethod);
    connack.properties.reason_string = Some(s("no"));
    fixture("connack_v5_refused", V5, bytes, Packet::ConnAck(connack))
}

/// MQTT 5.0 CONNACK with Session Present and no properties: Property Length 0 is still sent.
fn connack_v5_session_present() -> Fixture {
    let bytes = vec![
        0x20, 0x03, // CONNACK, Remaining Length 3.
        0x01, // Session Present.
        0x00, // Success.
        0x00, // Property Length 0.
    ];
    let packet = Packet::ConnAck(ConnAck::new(true, ReasonCode::Success));
    fixture("connack_v5_session_present", V5, bytes, packet)
}

// ---------------------------------------------------------------------------------------------
// PUBLISH (§3.3)
// ---------------------------------------------------------------------------------------------

fn publish(topic: &str, payload: &'static [u8], qos: QoS, packet_id: Option<u16>) -> Publish {
    let mut publish = Publish::new(s(topic), Bytes::from_static(payload));
    publish.qos = qos;
    publish.packet_id = packet_id.map(pid);
    publish
}

/// MQTT 3.1.1 PUBLISH at QoS 0: no Packet Identifier (§3.3.2.2).
fn publish_v311_qos0() -> Fixture {
    let bytes = cat(&[
        &[0x30, 0x07], // PUBLISH, QoS 0, Remaining Length 7.
        &[0x00, 0x03], // Topic Name length 3.
        b"a/b",        // Topic Name (the example of §3.3.2.3).
        b"hi",         // Payload.
    ]);
    let packet = Packet::Publish(publish("a/b", b"hi", QoS::AtMostOnce, None));
    fixture("publish_v311_qos0", V311, bytes, packet)
}

/// MQTT 3.1.1 §3.3.2.3, the variable header non normative example: Topic Name "a/b", Packet
/// Identifier 10, at QoS 1.
fn publish_v311_qos1() -> Fixture {
    let bytes = cat(&[
        &[0x32, 0x09], // PUBLISH, QoS 1, Remaining Length 9.
        &[0x00, 0x03], // Topic Name length 3.
        b"a/b",        // Topic Name.
        &[0x00, 0x0A], // Packet Identifier 10.
        b"hi",         // Payload.
    ]);
    let packet = Packet::Publish(publish("a/b", b"hi", QoS::AtLeastOnce, Some(10)));
    fixture("publish_v311_qos1", V311, bytes, packet)
}

/// MQTT 3.1.1 PUBLISH at QoS 2 with DUP and RETAIN set (§3.3.1).
fn publish_v311_qos2() -> Fixture {
    let bytes = cat(&[
        &[0b0011_1101, 0x09], // PUBLISH, DUP, QoS 2, RETAIN, Remaining Length 9.
        &[0x00, 0x03],        // Topic Name length 3.
        b"a/b",               // Topic Name.
        &[0x00, 0x0B],        // Packet Identifier 11.
        b"hi",                // Payload.
    ]);
    let mut p = publish("a/b", b"hi", QoS::ExactlyOnce, Some(11));
    p.dup = true;
    p.retain = true;
    fixture("publish_v311_qos2", V311, bytes, Packet::Publish(p))
}

/// A Remaining Length of two bytes: 205 is 0xCD 0x01 (§1.5.5, Table 1-1).
fn publish_v311_long() -> Fixture {
    const PAYLOAD: &[u8] = &[0xAB; 200];
    let bytes = cat(&[
        &[0x30, 0xCD, 0x01], // PUBLISH, QoS 0, Remaining Length 205.
        &[0x00, 0x03],       // Topic Name length 3.
        b"a/b",              // Topic Name.
        PAYLOAD,             // 200 bytes of payload.
    ]);
    let packet = Packet::Publish(publish("a/b", PAYLOAD, QoS::AtMostOnce, None));
    fixture("publish_v311_long", V311, bytes, packet)
}

/// MQTT 5.0 PUBLISH at QoS 0 without properties: Property Length 0 (§3.3.2.3.1).
fn publish_v5_qos0() -> Fixture {
    let bytes = cat(&[
        &[0x30, 0x08], // PUBLISH, QoS 0, Remaining Length 8.
        &[0x00, 0x03], // Topic Name length 3.
        b"a/b",        // Topic Name.
        &[0x00],       // Property Length 0.
        b"hi",         // Payload.
    ]);
    let packet = Packet::Publish(publish("a/b", b"hi", QoS::AtMostOnce, None));
    fixture("publish_v5_qos0", V5, bytes, packet)
}

/// MQTT 5.0: the same example (Topic Name "a/b", Packet Identifier 10) with Property Length 0.
fn publish_v5_qos1() -> Fixture {
    let bytes = cat(&[
        &[0x32, 0x0A], // PUBLISH, QoS 1, Remaining Length 10.
        &[0x00, 0x03], // Topic Name length 3.
        b"a/b",        // Topic Name.
        &[0x00, 0x0A], // Packet Identifier 10.
        &[0x00],       // Property Length 0.
        b"hi",         // Payload.
    ]);
    let packet = Packet::Publish(publish("a/b", b"hi", QoS::AtLeastOnce, Some(10)));
    fixture("publish_v5_qos1", V5, bytes, packet)
}

fn publish_v5_all_properties() -> PublishProperties {
    let mut p = PublishProperties::default();
    p.payload_format_indicator = Some(PayloadFormat::Utf8);
    p.message_expiry_interval = Some(60);
    p.topic_alias = Some(nz16(5));
    p.response_topic = Some(s("resp"));
    p.correlation_data = Some(Bytes::from_static(&[0xCA, 0xFE]));
    p.user_properties = vec![user("k", "v"), user("k", "w")];
    p.subscription_identifiers = vec![nz32(1), nz32(128)];
    p.content_type = Some(s("application/json"));
    p
}

/// MQTT 5.0 PUBLISH at QoS 2 with every PUBLISH property (§3.3.2.3); User Property and
/// Subscription Identifier repeat, as they may (§3.3.2.3.7, §3.3.2.3.8).
fn publish_v5_qos2() -> Fixture {
    let bytes = cat(&[
        &[0x34, 75],                     // PUBLISH, QoS 2, Remaining Length 75.
        &[0x00, 0x03],                   // Topic Name length 3.
        b"a/b",                          // Topic Name.
        &[0x00, 0x0B],                   // Packet Identifier 11.
        &[60],                           // Property Length 60.
        &[0x01, 0x01],                   // Payload Format Indicator: UTF-8.
        &[0x02, 0x00, 0x00, 0x00, 0x3C], // Message Expiry Interval 60 s.
        &[0x08, 0x00, 0x04],             // Response Topic, length 4.
        b"resp",
        &[0x09, 0x00, 0x02, 0xCA, 0xFE], // Correlation Data, 2 bytes.
        &[0x26, 0x00, 0x01],             // User Property: name length 1,
        b"k",
        &[0x00, 0x01], // value length 1.
        b"v",
        &[0x26, 0x00, 0x01], // User Property again, the same name: name length 1,
        b"k",
        &[0x00, 0x01], // value length 1.
        b"w",
        &[0x03, 0x00, 0x10], // Content Type, length 16.
        b"application/json",
        &[0x23, 0x00, 0x05], // Topic Alias 5.
        &[0x0B, 0x01],       // Subscription Identifier 1.
        &[0x0B, 0x80, 0x01], // Subscription Identifier 128: a two byte Variable Byte Integer.
        b"{\"x\":1}",        // Payload.
    ]);
    let mut p = publish("a/b", b"{\"x\":1}", QoS::ExactlyOnce, Some(11));
    p.properties = publish_v5_all_properties();
    fixture("publish_v5_qos2", V5, bytes, Packet::Publish(p))
}

/// MQTT 5.0 PUBLISH with an empty Topic Name and a Topic Alias standing for it (§3.3.2.3.4).
fn publish_v5_alias_only() -> Fixture {
    let bytes = cat(&[
        &[0x30, 0x07],       // PUBLISH, QoS 0, Remaining Length 7.
        &[0x00, 0x00],       // Topic Name: empty.
        &[0x03],             // Property Length 3.
        &[0x23, 0x00, 0x01], // Topic Alias 1.
        b"p",                // Payload.
    ]);
    let mut p = publish("", b"p", QoS::AtMostOnce, None);
    p.properties.topic_alias = Some(nz16(1));
    fixture("publish_v5_alias_only", V5, bytes, Packet::Publish(p))
}

// ---------------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4-§3.7)
// ---------------------------------------------------------------------------------------------

/// MQTT 3.1.1: the four acknowledgements are two bytes of Packet Identifier (§3.4-§3.7);
/// PUBREL's fixed header flags are 0010 [MQTT-3.6.1-1].
fn acks_v311() -> Vec<Fixture> {
    vec![
        fixture(
            "puback_v311",
            V311,
            vec![0x40, 0x02, 0x00, 0x0A],
            Packet::PubAck(Ack::new(pid(10))),
        ),
        fixture(
            "pubrec_v311",
            V311,
            vec![0x50, 0x02, 0x00, 0x0A],
            Packet::PubRec(Ack::new(pid(10))),
        ),
        fixture(
            "pubrel_v311",
            V311,
            vec![0x62, 0x02, 0x00, 0x0A],
            Packet::PubRel(Ack::new(pid(10))),
        ),
        fixture(
            "pubcomp_v311",
            V311,
            vec![0x70, 0x02, 0x00, 0x0A],
            Packet::PubComp(Ack::new(pid(10))),
        ),
    ]
}

/// MQTT 5.0 short form: Reason Code and Property Length are omitted for Success without
/// properties, a Remaining Length of 2 (§3.4.2.1).
fn acks_v5_short() -> Vec<Fixture> {
    vec![
        fixture(
            "puback_v5_short",
            V5,
            vec![0x40, 0x02, 0x00, 0x0A],
            Packet::PubAck(Ack::new(pid(10))),
        ),
        fixture(
            "pubrec_v5_short",
            V5,
            vec![0x50, 0x02, 0x00, 0x0A],
            Packet::PubRec(Ack::new(pid(10))),
        ),
        fixture(
            "pubrel_v5_short",
            V5,
            vec![0x62, 0x02, 0x00, 0x0A],
            Packet::PubRel(Ack::new(pid(10))),
        ),
        fixture(
            "pubcomp_v5_short",
            V5,
            vec![0x70, 0x02, 0x00, 0x0A],
            Packet::PubComp(Ack::new(pid(10))),
        ),
    ]
}

/// MQTT 5.0 with a Reason Code and no properties: Remaining Length 3, no Property Length
/// (§3.4.2.2.1: "If the Remaining Length is less than 4 there is no Property Length").
fn acks_v5_reason() -> Vec<Fixture> {
    let ack = |code| Ack::with_reason(pid(10), code);
    vec![
        fixture(
            "puback_v5_reason",
            V5,
            vec![0x40, 0x03, 0x00, 0x0A, 0x10], // No matching subscribers.
            Packet::PubAck(ack(ReasonCode::NoMatchingSubscribers)),
        ),
        fixture(
            "pubrec_v5_reason",
            V5,
            vec![0x50, 0x03, 0x00, 0x0A, 0x91], // Packet Identifier in use.
            Packet::PubRec(ack(ReasonCode::PacketIdentifierInUse)),
        ),
        fixture(
            "pubrel_v5_reason",
            V5,
            vec![0x62, 0x03, 0x00, 0x0A, 0x92], // Packet Identifier not found.
            Packet::PubRel(ack(ReasonCode::PacketIdentifierNotFound)),
        ),
        fixture(
            "pubcomp_v5_reason",
            V5,
            vec![0x70, 0x03, 0x00, 0x0A, 0x92], // Packet Identifier not found.
            Packet::PubComp(ack(ReasonCode::PacketIdentifierNotFound)),
        ),
    ]
}

/// MQTT 5.0 with a Reason Code and properties (§3.4.2.2).
fn acks_v5_properties() -> Vec<Fixture> {
    let ack = |code, reason: Option<&str>, users: Vec<_>| {
        let mut properties = AckProperties::default();
        properties.reason_string = reason.map(s);
        properties.user_properties = users;
        Ack {
            packet_id: pid(10),
            reason_code: code,
            properties,
        }
    };
    vec![
        fixture(
            "puback_v5_properties",
            V5,
            cat(&[
                &[0x40, 0x14],       // PUBACK, Remaining Length 20.
                &[0x00, 0x0A],       // Packet Identifier 10.
                &[0x87],             // Not authorized.
                &[0x10],             // Property Length 16.
                &[0x1F, 0x00, 0x06], // Reason String, length 6.
                b"denied",
                &[0x26, 0x00, 0x01], // User Property: name length 1,
                b"k",
                &[0x00, 0x01], // value length 1.
                b"v",
            ]),
            Packet::PubAck(ack(
                ReasonCode::NotAuthorized,
                Some("denied"),
                vec![user("k", "v")],
            )),
        ),
        fixture(
            "pubrec_v5_properties",
            V5,
            cat(&[
                &[0x50, 0x0C],       // PUBREC, Remaining Length 12.
                &[0x00, 0x0A],       // Packet Identifier 10.
                &[0x97],             // Quota exceeded.
                &[0x08],             // Property Length 8.
                &[0x1F, 0x00, 0x05], // Reason String, length 5.
                b"quota",
            ]),
            Packet::PubRec(ack(ReasonCode::QuotaExceeded, Some("quota"), vec![])),
        ),
        fixture(
            "pubrel_v5_properties",
            V5,
            cat(&[
                &[0x62, 0x0B],       // PUBREL, Remaining Length 11.
                &[0x00, 0x0A],       // Packet Identifier 10.
                &[0x00],             // Success: present because properties follow.
                &[0x07],             // Property Length 7.
                &[0x26, 0x00, 0x01], // User Property: name length 1,
                b"k",
                &[0x00, 0x01], // value length 1.
                b"v",
            ]),
            Packet::PubRel(ack(ReasonCode::Success, None, vec![user("k", "v")])),
        ),
        fixture(
            "pubcomp_v5_properties",
            V5,
            cat(&[
                &[0x70, 0x0B],       // PUBCOMP, Remaining Length 11.
                &[0x00, 0x0A],       // Packet Identifier 10.
                &[0x92],             // Packet Identifier not found.
                &[0x07],             // Property Length 7.
                &[0x1F, 0x00, 0x04], // Reason String, length 4.
                b"gone",
            ]),
            Packet::PubComp(ack(
                ReasonCode::PacketIdentifierNotFound,
                Some("gone"),
                vec![],
            )),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (§3.8-§3.11)
// ---------------------------------------------------------------------------------------------

/// MQTT 3.1.1 §3.8.2 and §3.8.3, the non normative examples: Packet Identifier 10, "a/b" at
/// QoS 1 and "c/d" at QoS 2.
fn subscribe_v311() -> Fixture {
    let bytes = cat(&[
        &[0x82, 0x0E], // SUBSCRIBE (flags 0010), Remaining Length 14.
        &[0x00, 0x0A], // Packet Identifier 10.
        &[0x00, 0x03], // Topic Filter length 3.
        b"a/b",
        &[0x01],       // Requested QoS 1.
        &[0x00, 0x03], // Topic Filter length 3.
        b"c/d",
        &[0x02], // Requested QoS 2.
    ]);
    let packet = Packet::Subscribe(Subscribe {
        packet_id: pid(10),
        properties: SubscribeProperties::default(),
        filters: vec![
            (s("a/b"), SubscriptionOptions::qos(QoS::AtLeastOnce)),
            (s("c/d"), SubscriptionOptions::qos(QoS::ExactlyOnce)),
        ],
    });
    fixture("subscribe_v311", V311, bytes, packet)
}

/// MQTT 5.0 SUBSCRIBE: the example's filters with options using No Local, Retain As Published
/// and each Retain Handling (§3.8.3.1), plus a Subscription Identifier and a User Property.
fn subscribe_v5() -> Fixture {
    let bytes = cat(&[
        &[0x82, 30],         // SUBSCRIBE (flags 0010), Remaining Length 30.
        &[0x00, 0x0A],       // Packet Identifier 10.
        &[0x09],             // Property Length 9.
        &[0x0B, 0x0A],       // Subscription Identifier 10.
        &[0x26, 0x00, 0x01], // User Property: name length 1,
        b"k",
        &[0x00, 0x01], // value length 1.
        b"v",
        &[0x00, 0x03], // Topic Filter length 3.
        b"a/b",
        &[0b0000_0101], // QoS 1, No Local.
        &[0x00, 0x03],  // Topic Filter length 3.
        b"c/d",
        &[0b0001_1010], // QoS 2, Retain As Published, Retain Handling 1.
        &[0x00, 0x03],  // Topic Filter length 3.
        b"e/#",
        &[0b0010_0000], // QoS 0, Retain Handling 2.
    ]);
    let mut properties = SubscribeProperties::default();
    properties.subscription_identifier = Some(nz32(10));
    properties.user_properties = vec![user("k", "v")];
    let packet = Packet::Subscribe(Subscribe {
        packet_id: pid(10),
        properties,
        filters: vec![
            (
                s("a/b"),
                SubscriptionOptions {
                    no_local: true,
                    ..SubscriptionOptions::qos(QoS::AtLeastOnce)
                },
            ),
            (
                s("c/d"),
                SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    no_local: false,
                    retain_as_published: true,
                    retain_handling: RetainHandling::SendAtSubscribeIfNew,
                },
            ),
            (
                s("e/#"),
                SubscriptionOptions {
                    retain_handling: RetainHandling::DoNotSend,
                    ..SubscriptionOptions::qos(QoS::AtMostOnce)
                },
            ),
        ],
    });
    fixture("subscribe_v5", V5, bytes, packet)
}

/// MQTT 3.1.1 §3.9.3, the payload non normative example: Success QoS 0, Success QoS 2, Failure.
fn suback_v311() -> Fixture {
    let bytes = vec![
        0x90, 0x05, // SUBACK, Remaining Length 5.
        0x00, 0x0A, // Packet Identifier 10.
        0x00, // Success, Maximum QoS 0.
        0x02, // Success, Maximum QoS 2.
        0x80, // Failure.
    ];
    let packet = Packet::SubAck(SubAck {
        packet_id: pid(10),
        properties: AckProperties::default(),
        reason_codes: vec![
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
        ],
    });
    fixture("suback_v311", V311, bytes, packet)
}

/// MQTT 5.0 SUBACK with a Reason String and every SUBACK reason code (§3.9.3, Table 3-8).
fn suback_v5() -> Fixture {
    const CODES: [u8; 12] = [
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ];
    let bytes = cat(&[
        &[0x90, 0x14],       // SUBACK, Remaining Length 20.
        &[0x00, 0x0A],       // Packet Identifier 10.
        &[0x05],             // Property Length 5.
        &[0x1F, 0x00, 0x02], // Reason String, length 2.
        b"ok",
        &CODES, // One Reason Code per filter.
    ]);
    let mut properties = AckProperties::default();
    properties.reason_string = Some(s("ok"));
    let packet = Packet::SubAck(SubAck {
        packet_id: pid(10),
        properties,
        reason_codes: CODES
            .iter()
            .map(|&c| ReasonCode::from_u8(c).unwrap())
            .collect(),
    });
    fixture("suback_v5", V5, bytes, packet)
}

/// MQTT 3.1.1 §3.10.3, the payload non normative example: unsubscribe from "a/b" and "c/d".
fn unsubscribe_v311() -> Fixture {
    let bytes = cat(&[
        &[0xA2, 0x0C], // UNSUBSCRIBE (flags 0010), Remaining Length 12.
        &[0x00, 0x0A], // Packet Identifier 10.
        &[0x00, 0x03], // Topic Filter length 3.
        b"a/b",
        &[0x00, 0x03], // Topic Filter length 3.
        b"c/d",
    ]);
    let packet = Packet::Unsubscribe(Unsubscribe {
        packet_id: pid(10),
        properties: UnsubscribeProperties::default(),
        filters: vec![s("a/b"), s("c/d")],
    });
    fixture("unsubscribe_v311", V311, bytes, packet)
}

/// MQTT 5.0 UNSUBSCRIBE with a User Property (§3.10.2.1).
fn unsubscribe_v5() -> Fixture {
    let bytes = cat(&[
        &[0xA2, 0x14],       // UNSUBSCRIBE (flags 0010), Remaining Length 20.
        &[0x00, 0x0A],       // Packet Identifier 10.
        &[0x07],             // Property Length 7.
        &[0x26, 0x00, 0x01], // User Property: name length 1,
        b"k",
        &[0x00, 0x01], // value length 1.
        b"v",
        &[0x00, 0x03], // Topic Filter length 3.
        b"a/b",
        &[0x00, 0x03], // Topic Filter length 3.
        b"c/d",
    ]);
    let mut properties = UnsubscribeProperties::default();
    properties.user_properties = vec![user("k", "v")];
    let packet = Packet::Unsubscribe(Unsubscribe {
        packet_id: pid(10),
        properties,
        filters: vec![s("a/b"), s("c/d")],
    });
    fixture("unsubscribe_v5", V5, bytes, packet)
}

/// MQTT 3.1.1 UNSUBACK: only the Packet Identifier (§3.11).
fn unsuback_v311() -> Fixture {
    let bytes = vec![
        0xB0, 0x02, // UNSUBACK, Remaining Length 2.
        0x00, 0x0A, // Packet Identifier 10.
    ];
    let packet = Packet::UnsubAck(UnsubAck {
        packet_id: pid(10),
        properties: AckProperties::default(),
        reason_codes: vec![],
    });
    fixture("unsuback_v311", V311, bytes, packet)
}

/// MQTT 5.0 UNSUBACK with a Reason String and every UNSUBACK reason code (§3.11.3, Table 3-9).
fn unsuback_v5() -> Fixture {
    const CODES: [u8; 7] = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
    let bytes = cat(&[
        &[0xB0, 0x0F],       // UNSUBACK, Remaining Length 15.
        &[0x00, 0x0A],       // Packet Identifier 10.
        &[0x05],             // Property Length 5.
        &[0x1F, 0x00, 0x02], // Reason String, length 2.
        b"ok",
        &CODES, // One Reason Code per filter.
    ]);
    let mut properties = AckProperties::default();
    properties.reason_string = Some(s("ok"));
    let packet = Packet::UnsubAck(UnsubAck {
        packet_id: pid(10),
        properties,
        reason_codes: CODES
            .iter()
            .map(|&c| ReasonCode::from_u8(c).unwrap())
            .collect(),
    });
    fixture("unsuback_v5", V5, bytes, packet)
}

// ---------------------------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT, AUTH (§3.12-§3.15)
// ---------------------------------------------------------------------------------------------

/// PINGREQ and PINGRESP are a fixed header alone in both versions (§3.12, §3.13).
fn pings() -> Vec<Fixture> {
    vec![
        fixture("pingreq_v311", V311, vec![0xC0, 0x00], Packet::PingReq),
        fixture("pingresp_v311", V311, vec![0xD0, 0x00], Packet::PingResp),
        fixture("pingreq_v5", V5, vec![0xC0, 0x00], Packet::PingReq),
        fixture("pingresp_v5", V5, vec![0xD0, 0x00], Packet::PingResp),
    ]
}

/// DISCONNECT: a fixed header alone in 3.1.1 (§3.14 of 3.1.1), and in 5.0 for Normal
/// disconnection without properties (§3.14.2.1: "the DISCONNECT has a Remaining Length of 0").
fn disconnects() -> Vec<Fixture> {
    let with_will = Disconnect::new(ReasonCode::DisconnectWithWillMessage);
    vec![
        fixture(
            "disconnect_v311",
            V311,
            vec![0xE0, 0x00],
            Packet::Disconnect(Disconnect::default()),
        ),
        fixture(
            "disconnect_v5_normal",
            V5,
            vec![0xE0, 0x00],
            Packet::Disconnect(Disconnect::default()),
        ),
        // A Reason Code alone: "If the Remaining Length is less than 2, a value of 0 is used"
        // for the Property Length (§3.14.2.2.1).
        fixture(
            "disconnect_v5_reason",
            V5,
            vec![0xE0, 0x01, 0x04],
            Packet::Disconnect(with_will),
        ),
    ]
}

/// MQTT 5.0 DISCONNECT with 0x9C Use another server and every DISCONNECT property (§3.14.2.2).
fn disconnect_v5_properties() -> Fixture {
    let bytes = cat(&[
        &[0xE0, 0x21],                   // DISCONNECT, Remaining Length 33.
        &[0x9C],                         // Use another server.
        &[0x1F],                         // Property Length 31.
        &[0x11, 0x00, 0x00, 0x00, 0x00], // Session Expiry Interval 0.
        &[0x1F, 0x00, 0x03],             // Reason String, length 3.
        b"bye",
        &[0x26, 0x00, 0x01], // User Property: name length 1,
        b"k",
        &[0x00, 0x01], // value length 1.
        b"v",
        &[0x1C, 0x00, 0x0A], // Server Reference, length 10.
        b"other:1883",
    ]);
    let mut properties = DisconnectProperties::default();
    properties.session_expiry_interval = Some(0);
    properties.reason_string = Some(s("bye"));
    properties.user_properties = vec![user("k", "v")];
    properties.server_reference = Some(s("other:1883"));
    let packet = Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::UseAnotherServer,
        properties,
    });
    fixture("disconnect_v5_properties", V5, bytes, packet)
}

/// AUTH: Success without properties has a Remaining Length of 0 (§3.15.2.1); Re-authenticate
/// alone is one byte; Continue authentication carries every AUTH property (§3.15.2.2).
fn auths() -> Vec<Fixture> {
    let mut properties = AuthProperties::default();
    properties.authentication_method = Some(s("SCRAM-SHA-1"));
    properties.authentication_data = Some(Bytes::from_static(&[0xDE, 0xAD, 0xBE, 0xEF]));
    properties.reason_string = Some(s("go"));
    properties.user_properties = vec![user("k", "v")];
    let bytes = cat(&[
        &[0xF0, 0x23],       // AUTH, Remaining Length 35.
        &[0x18],             // Continue authentication.
        &[0x21],             // Property Length 33.
        &[0x15, 0x00, 0x0B], // Authentication Method, length 11.
        b"SCRAM-SHA-1",
        &[0x16, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF], // Authentication Data, 4 bytes.
        &[0x1F, 0x00, 0x02],                         // Reason String, length 2.
        b"go",
        &[0x26, 0x00, 0x01], // User Property: name length 1,
        b"k",
        &[0x00, 0x01], // value length 1.
        b"v",
    ]);
    let auth = |reason_code, properties| {
        Packet::Auth(Auth {
            reason_code,
            properties,
        })
    };
    vec![
        fixture(
            "auth_v5_success",
            V5,
            vec![0xF0, 0x00],
            auth(ReasonCode::Success, AuthProperties::default()),
        ),
        fixture(
            "auth_v5_reauthenticate",
            V5,
            vec![0xF0, 0x01, 0x19],
            auth(ReasonCode::ReAuthenticate, AuthProperties::default()),
        ),
        fixture(
            "auth_v5_continue",
            V5,
            bytes,
            auth(ReasonCode::ContinueAuthentication, properties),
        ),
    ]
}

/// Every fixture.
pub(crate) fn all() -> Vec<Fixture> {
    let mut all = vec![
        connect_v311(),
        connect_v311_minimal(),
        connect_v5_will(),
        connect_v5_properties(),
        connect_v5_password_only(),
        connack_v311(),
        connack_v311_refused(),
        connack_v5_properties(),
        connack_v5_refused(),
        connack_v5_session_present(),
        publish_v311_qos0(),
        publish_v311_qos1(),
        publish_v311_qos2(),
        publish_v311_long(),
        publish_v5_qos0(),
        publish_v5_qos1(),
        publish_v5_qos2(),
        publish_v5_alias_only(),
        subscribe_v311(),
        subscribe_v5(),
        suback_v311(),
        suback_v5(),
        unsubscribe_v311(),
        unsubscribe_v5(),
        unsuback_v311(),
        unsuback_v5(),
        disconnect_v5_properties(),
    ];
    all.extend(acks_v311());
    all.extend(acks_v5_short());
    all.extend(acks_v5_reason());
    all.extend(acks_v5_properties());
    all.extend(pings());
    all.extend(disconnects());
    all.extend(auths());
    all
}

/// Whether a property field is present: `Some` or a non-empty list.
trait Present {
    fn present(&self) -> bool;
}

impl<T> Present for Option<T> {
    fn present(&self) -> bool {
        self.is_some()
    }
}

impl<T> Present for Vec<T> {
    fn present(&self) -> bool {
        !self.is_empty()
    }
}

/// Inserts the identifier of each present field.
macro_rules! mark {
    ($out:ident, $($field:expr => $id:literal),* $(,)?) => {
        $( if $field.present() { $out.insert($id); } )*
    };
}

/// The identifiers (Table 2-4) of the properties `packet` carries.
fn property_ids(packet: &Packet, out: &mut BTreeSet<u8>) {
    let ack = |p: &AckProperties, out: &mut BTreeSet<u8>| {
        mark!(out, p.reason_string => 0x1F, p.user_properties => 0x26);
    };
    match packet {
        Packet::Connect(c) => {
            let p = &c.properties;
            mark!(out,
                p.session_expiry_interval => 0x11, p.receive_maximum => 0x21,
                p.maximum_packet_size => 0x27, p.topic_alias_maximum => 0x22,
                p.request_response_information => 0x19, p.request_problem_information => 0x17,
                p.user_properties => 0x26, p.authentication_method => 0x15,
                p.authentication_data => 0x16,
            );
            if let Some(will) = &c.will {
                let p = &will.properties;
                mark!(out,
                    p.will_delay_interval => 0x18, p.payload_format_indicator => 0x01,
                    p.message_expiry_interval => 0x02, p.content_type => 0x03,
                    p.response_topic => 0x08, p.correlation_data => 0x09,
                    p.user_properties => 0x26,
                );
            }
        }
        Packet::ConnAck(c) => {
            let p = &c.properties;
            mark!(out,
                p.session_expiry_interval => 0x11, p.receive_maximum => 0x21,
                p.maximum_qos => 0x24, p.retain_available => 0x25,
                p.maximum_packet_size => 0x27, p.assigned_client_identifier => 0x12,
                p.topic_alias_maximum => 0x22, p.reason_string => 0x1F,
                p.user_properties => 0x26, p.wildcard_subscription_available => 0x28,
                p.subscription_identifiers_available => 0x29,
                p.shared_subscription_available => 0x2A, p.server_keep_alive => 0x13,
                p.response_information => 0x1A, p.server_reference => 0x1C,
                p.authentication_method => 0x15, p.authentication_data => 0x16,
            );
        }
        Packet::Publish(publish) => {
            let p = &publish.properties;
            mark!(out,
                p.payload_format_indicator => 0x01, p.message_expiry_interval => 0x02,
                p.topic_alias => 0x23, p.response_topic => 0x08, p.correlation_data => 0x09,
                p.user_properties => 0x26, p.subscription_identifiers => 0x0B,
                p.content_type => 0x03,
            );
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            ack(&a.properties, out);
        }
        Packet::SubAck(a) => ack(&a.properties, out),
        Packet::UnsubAck(a) => ack(&a.properties, out),
        Packet::Subscribe(sub) => {
            let p = &sub.properties;
            mark!(out, p.subscription_identifier => 0x0B, p.user_properties => 0x26);
        }
        Packet::Unsubscribe(u) => mark!(out, u.properties.user_properties => 0x26),
        Packet::Disconnect(d) => {
            let p = &d.properties;
            mark!(out,
                p.session_expiry_interval => 0x11, p.reason_string => 0x1F,
                p.user_properties => 0x26, p.server_reference => 0x1C,
            );
        }
        Packet::Auth(a) => {
            let p = &a.properties;
            mark!(out,
                p.authentication_method => 0x15, p.authentication_data => 0x16,
                p.reason_string => 0x1F, p.user_properties => 0x26,
            );
        }
        Packet::PingReq | Packet::PingResp => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use bytes::BytesMut;
    use mqtt_codec::{Decoder, Packet, ProtocolVersion};

    use super::*;
    use crate::common::{MAX, decode_one};

    /// Decodes the fixture (CONNECT with a server decoder, which must learn the version from
    /// it), compares with the expected packet, and encodes the packet back to the same bytes.
    fn check(f: &Fixture) {
        let mut decoder = match f.packet {
            Packet::Connect(_) => Decoder::server(MAX),
            _ => Decoder::new(f.version, MAX),
        };
        let mut buf = BytesMut::from(&f.bytes[..]);
        let decoded = decoder
            .decode(&mut buf)
            .unwrap_or_else(|e| panic!("{}: {e}", f.name))
            .unwrap_or_else(|| panic!("{}: not a whole packet", f.name));
        assert_eq!(decoded, f.packet, "{}: decoded packet", f.name);
        assert!(buf.is_empty(), "{}: bytes left over", f.name);
        assert_eq!(
            decoder.version(),
            Some(f.version),
            "{}: decoder version",
            f.name
        );

        let mut out = BytesMut::new();
        f.packet.encode(f.version, &mut out).unwrap();
        assert_eq!(&out[..], &f.bytes[..], "{}: encoded bytes", f.name);
        assert_eq!(
            f.packet.encoded_len(f.version).unwrap(),
            f.bytes.len(),
            "{}: encoded_len",
            f.name
        );
        assert_eq!(decoded.packet_type(), f.packet.packet_type());
    }

    macro_rules! fixture_tests {
        ($($name:ident),* $(,)?) => {
            $( #[test] fn $name() { check(&super::$name()); } )*
        };
    }

    fixture_tests!(
        connect_v311,
        connect_v311_minimal,
        connect_v5_will,
        connect_v5_properties,
        connect_v5_password_only,
        connack_v311,
        connack_v311_refused,
        connack_v5_properties,
        connack_v5_refused,
        connack_v5_session_present,
        publish_v311_qos0,
        publish_v311_qos1,
        publish_v311_qos2,
        publish_v311_long,
        publish_v5_qos0,
        publish_v5_qos1,
        publish_v5_qos2,
        publish_v5_alias_only,
        subscribe_v311,
        subscribe_v5,
        suback_v311,
        suback_v5,
        unsubscribe_v311,
        unsubscribe_v5,
        unsuback_v311,
        unsuback_v5,
        disconnect_v5_properties,
    );

    macro_rules! fixture_group_tests {
        ($($name:ident),* $(,)?) => {
            $( #[test] fn $name() {
                let group = super::$name();
                assert!(!group.is_empty());
                group.iter().for_each(check);
            } )*
        };
    }

    fixture_group_tests!(
        acks_v311,
        acks_v5_short,
        acks_v5_reason,
        acks_v5_properties,
        pings,
        disconnects,
        auths
    );

    #[test]
    fn fixtures_carry_all_27_properties_of_table_2_4() {
        let mut seen = BTreeSet::new();
        for f in all() {
            property_ids(&f.packet, &mut seen);
        }
        let table_2_4: BTreeSet<u8> = [
            0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19,
            0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A,
        ]
        .into();
        assert_eq!(table_2_4.len(), 27);
        assert_eq!(seen, table_2_4);
    }

    #[test]
    fn fixture_names_are_unique_and_fixtures_decode_in_one_stream() {
        let all = all();
        let names: BTreeSet<_> = all.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), all.len());
        // All the non-CONNECT fixtures of a version, back to back, decode in order.
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let these: Vec<_> = all
                .iter()
                .filter(|f| f.version == version && !matches!(f.packet, Packet::Connect(_)))
                .collect();
            let stream: Vec<u8> = these.iter().flat_map(|f| f.bytes.iter().copied()).collect();
            let mut decoder = Decoder::new(version, MAX);
            let decoded = crate::common::decode_all(&mut decoder, &stream).unwrap();
            let expected: Vec<_> = these.iter().map(|f| f.packet.clone()).collect();
            assert_eq!(decoded, expected);
        }
    }

    #[test]
    fn properties_may_appear_in_any_order() {
        // The PUBLISH properties of `publish_v5_qos2` in the order of §3.3.2.3's subsections
        // (Topic Alias before Response Topic, Subscription Identifiers before Content Type),
        // which is not the order the encoder writes: the packet is the same (§2.2.2.2).
        let bytes = cat(&[
            &[0x34, 75],
            &[0x00, 0x03],
            b"a/b",
            &[0x00, 0x0B],
            &[60],
            &[0x01, 0x01],
            &[0x02, 0x00, 0x00, 0x00, 0x3C],
            &[0x23, 0x00, 0x05],
            &[0x08, 0x00, 0x04],
            b"resp",
            &[0x09, 0x00, 0x02, 0xCA, 0xFE],
            &[0x26, 0x00, 0x01],
            b"k",
            &[0x00, 0x01],
            b"v",
            &[0x26, 0x00, 0x01],
            b"k",
            &[0x00, 0x01],
            b"w",
            &[0x0B, 0x01],
            &[0x0B, 0x80, 0x01],
            &[0x03, 0x00, 0x10],
            b"application/json",
            b"{\"x\":1}",
        ]);
        let expected = super::publish_v5_qos2();
        assert_ne!(bytes, expected.bytes);
        assert_eq!(
            decode_one(Some(ProtocolVersion::V5), &bytes).unwrap(),
            expected.packet
        );
    }

    #[test]
    fn the_order_of_user_properties_is_kept() {
        // "The Server MUST maintain the order of User Properties when forwarding the
        // Application Message" [MQTT-3.3.2-18]: swap the two and the decoded list swaps too.
        let mut f = super::publish_v5_qos2();
        let v = f.bytes.iter().position(|&b| b == b'v').unwrap();
        let w = f.bytes.iter().position(|&b| b == b'w').unwrap();
        f.bytes.swap(v, w);
        let Packet::Publish(p) = decode_one(Some(ProtocolVersion::V5), &f.bytes).unwrap() else {
            panic!("not a PUBLISH");
        };
        assert_eq!(
            p.properties.user_properties,
            vec![user("k", "w"), user("k", "v")]
        );
    }

    #[test]
    fn longer_forms_of_acknowledgements_decode_to_the_short_ones() {
        // §3.4.2.1: the Reason Code and Property Length "can be omitted" for Success without
        // properties, so a sender may also include them; both decode to the same packet.
        let v5 = Some(ProtocolVersion::V5);
        let short = Packet::PubAck(mqtt_codec::Ack::new(pid(10)));
        for bytes in [
            &[0x40, 0x03, 0x00, 0x0A, 0x00][..],
            &[0x40, 0x04, 0x00, 0x0A, 0x00, 0x00],
        ] {
            assert_eq!(decode_one(v5, bytes).unwrap(), short);
        }
        // §3.14.2.1 and §3.15.2.1 say the same of DISCONNECT and AUTH.
        for bytes in [&[0xE0, 0x01, 0x00][..], &[0xE0, 0x02, 0x00, 0x00]] {
            assert_eq!(
                decode_one(v5, bytes).unwrap(),
                Packet::Disconnect(Disconnect::default())
            );
        }
        let success = Packet::Auth(Auth {
            reason_code: ReasonCode::Success,
            properties: AuthProperties::default(),
        });
        assert_eq!(decode_one(v5, &[0xF0, 0x02, 0x00, 0x00]).unwrap(), success);
    }

    #[test]
    fn byte_order_mark_in_a_topic_is_kept() {
        // "A UTF-8 encoded sequence 0xEF 0xBB 0xBF is always interpreted as U+FEFF ... and MUST
        // NOT be skipped over or stripped off by a packet receiver" [MQTT-1.5.4-3].
        let bytes = cat(&[&[0x30, 0x06, 0x00, 0x04], &[0xEF, 0xBB, 0xBF], b"a"]);
        let Packet::Publish(p) = decode_one(Some(ProtocolVersion::V311), &bytes).unwrap() else {
            panic!("not a PUBLISH");
        };
        assert_eq!(p.topic, "\u{FEFF}a");
    }

    #[test]
    fn four_byte_remaining_length_boundaries() {
        // §1.5.5, Table 1-1: the largest values of one, two and three bytes and the smallest of
        // two, three and four, as a PUBLISH Remaining Length.
        for len in [127usize, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
            let payload = vec![0x5A; len - 5];
            let publish = Packet::Publish(Publish::new(s("a/b"), Bytes::from(payload)));
            let bytes = crate::common::encode(&publish, ProtocolVersion::V311);
            let header = crate::common::varint(len);
            assert_eq!(
                &bytes[1..1 + header.len()],
                &header[..],
                "remaining length {len}"
            );
            assert_eq!(bytes.len(), 1 + header.len() + len);
            let mut decoder = Decoder::new(ProtocolVersion::V311, 4 << 20);
            let decoded = crate::common::decode_all(&mut decoder, &bytes).unwrap();
            assert_eq!(decoded, vec![publish]);
        }
    }
}
