//! Malformed and forbidden input: each case asserts the exact [`DecodeError`] and the reason code
//! a receiver answers it with ([`DecodeError::reason_code`], §4.13).

use bytes::BytesMut;
use mqtt_codec::{DecodeError, Decoder, Packet, ProtocolVersion, ReasonCode};

use crate::common::{MAX, assert_malformed, cat, connect_bytes, decode_one, frame};

use ProtocolVersion::{V5, V311};

const SERVER: Option<ProtocolVersion> = None;
const V3: Option<ProtocolVersion> = Some(V311);
const V5C: Option<ProtocolVersion> = Some(V5);

const MALFORMED: ReasonCode = ReasonCode::MalformedPacket;
const PROTOCOL_ERROR: ReasonCode = ReasonCode::ProtocolError;

/// A 5.0 PUBLISH to "a/b" at QoS 0 with this property block (without its length) and payload "x".
fn publish_v5_with(properties: &[u8]) -> Vec<u8> {
    frame(
        0x30,
        &cat(&[
            &[0x00, 0x03],
            b"a/b",
            &crate::common::varint(properties.len()),
            properties,
            b"x",
        ]),
    )
}

/// A 5.0 CONNECT with this property block (without its length) and client id "c".
fn connect_v5_with(properties: &[u8]) -> Vec<u8> {
    let rest = cat(&[
        &crate::common::varint(properties.len()),
        properties,
        &[0x00, 0x01],
        b"c",
    ]);
    connect_bytes(5, 0x02, &rest)
}

/// A 5.0 CONNACK (Success) with this property block (without its length).
fn connack_v5_with(properties: &[u8]) -> Vec<u8> {
    frame(
        0x20,
        &cat(&[
            &[0x00, 0x00],
            &crate::common::varint(properties.len()),
            properties,
        ]),
    )
}

/// What follows the Keep Alive of a CONNECT at `level` carrying nothing else: an empty property
/// block (5.0) and an empty Client Identifier.
fn empty_connect_rest(level: u8) -> &'static [u8] {
    if level == 5 {
        &[0x00, 0x00, 0x00]
    } else {
        &[0x00, 0x00]
    }
}

// Remaining Length and Maximum Packet Size (§2.1.4, §1.5.5, §3.1.2.11.4).

#[test]
fn remaining_length_of_five_bytes_is_malformed() {
    // §1.5.5: a Variable Byte Integer is at most four bytes; the fourth's continuation bit
    // already makes it malformed, before a fifth byte arrives.
    for (version, bytes) in [
        (V3, &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F][..]),
        (V3, &[0x30, 0xFF, 0xFF, 0xFF, 0x80]),
        (SERVER, &[0x10, 0x80, 0x80, 0x80, 0x80]),
    ] {
        let error = DecodeError::MalformedVariableByteInteger;
        assert_malformed(version, bytes, error, MALFORMED);
    }
}

#[test]
fn non_minimal_remaining_length_is_malformed() {
    // [MQTT-1.5.5-1]: "The encoded value MUST use the minimum number of bytes necessary".
    let error = DecodeError::NonMinimalVariableByteInteger;
    assert_malformed(V3, &[0xC0, 0x80, 0x00], error.clone(), MALFORMED);
    assert_malformed(V3, &[0x30, 0x85, 0x80, 0x00], error.clone(), MALFORMED);
    assert_malformed(V5C, &[0x30, 0xFF, 0xFF, 0x80, 0x00], error, MALFORMED);
}

#[test]
fn non_minimal_variable_byte_integers_inside_a_packet_are_malformed() {
    // The same rule for a Property Length and a Subscription Identifier (§1.5.5).
    for bytes in [
        frame(0x30, &cat(&[&[0x00, 0x03], b"a/b", &[0x80, 0x00], b"x"])),
        publish_v5_with(&[0x0B, 0x81, 0x00]),
    ] {
        let error = DecodeError::NonMinimalVariableByteInteger;
        assert_malformed(V5C, &bytes, error, MALFORMED);
    }
}

#[test]
fn oversized_packet_is_refused_from_its_fixed_header_alone() {
    // §3.1.2.11.4 counts the whole packet: fixed header, variable header and payload. A
    // Remaining Length of 99 makes a packet of 101 bytes, one more than allowed, and the decoder
    // says so after two bytes without waiting for the other 99.
    let mut decoder = Decoder::new(V5, 100);
    let mut buf = BytesMut::from(&[0x30, 99][..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(DecodeError::PacketTooLarge {
            size: 101,
            max: 100
        })
    );
    let error = decoder
        .decode(&mut BytesMut::from(&[0x30, 99][..]))
        .unwrap_err();
    assert_eq!(error.reason_code(), ReasonCode::PacketTooLarge);

    // Exactly at the limit: the decoder waits for the body.
    let mut buf = BytesMut::from(&[0x30, 98][..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));

    // Three, four and five byte fixed headers, on a server decoder before CONNECT; the first
    // announces 998 bytes, a packet of 1001.
    for header in [
        &[0x10, 0xE6, 0x07][..],
        &[0x10, 0x80, 0x80, 0x01],
        &[0x10, 0xFF, 0xFF, 0xFF, 0x7F],
    ] {
        let mut decoder = Decoder::server(1000);
        let mut buf = BytesMut::from(header);
        let size = match decoder.decode(&mut buf) {
            Err(DecodeError::PacketTooLarge { size, max: 1000 }) => size,
            other => panic!("{header:02X?}: {other:?}"),
        };
        let remaining: usize = header[1..]
            .iter()
            .enumerate()
            .map(|(i, b)| usize::from(b & 0x7F) << (7 * i))
            .sum();
        assert_eq!(size, header.len() + remaining);
    }
}

#[test]
fn lowered_maximum_packet_size_applies_to_the_next_packet() {
    let mut decoder = Decoder::new(V5, MAX);
    decoder.set_max_packet_size(4);
    assert_eq!(decoder.max_packet_size(), 4);
    let mut buf = BytesMut::from(&[0x40, 0x03, 0x00, 0x01, 0x10][..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(DecodeError::PacketTooLarge { size: 5, max: 4 })
    );
}

// Properties (§2.2.2).

#[test]
fn property_length_beyond_the_remaining_length_is_malformed() {
    // The Property Length claims 10 bytes; only 3 follow in the packet.
    let bytes = frame(
        0x30,
        &cat(&[&[0x00, 0x03], b"a/b", &[10, 0x23, 0x00, 0x01]]),
    );
    assert_malformed(V5C, &bytes, DecodeError::Truncated, MALFORMED);
    let bytes = frame(0x20, &[0x00, 0x00, 0x05, 0x11, 0x00]);
    assert_malformed(V5C, &bytes, DecodeError::Truncated, MALFORMED);
}

#[test]
fn property_value_beyond_the_property_length_is_malformed() {
    // The Property Length covers the identifier of Session Expiry Interval and two of its four
    // bytes; the other two are outside the block even though the packet has them.
    let bytes = frame(0x20, &[0x00, 0x00, 0x03, 0x11, 0x00, 0x00, 0x00, 0x0A]);
    assert_malformed(V5C, &bytes, DecodeError::Truncated, MALFORMED);
}

#[test]
fn duplicate_properties_are_a_protocol_error() {
    let sei = [0x11, 0x00, 0x00, 0x00, 0x0A];
    let aci = [0x12, 0x00, 0x01, b'a'];
    for (version, bytes, property) in [
        // §3.1.2.11.2: "It is a Protocol Error to include the Session Expiry Interval more than
        // once."
        (SERVER, connect_v5_with(&cat(&[&sei, &sei])), 0x11),
        // §3.3.2.3.4: and the Topic Alias in PUBLISH.
        (
            V5C,
            publish_v5_with(&[0x23, 0x00, 0x01, 0x23, 0x00, 0x02]),
            0x23,
        ),
        // §3.8.2.1.2: "It is a Protocol Error to include the Subscription Identifier more than
        // once" in SUBSCRIBE.
        (
            V5C,
            frame(
                0x82,
                &cat(&[
                    &[0x00, 0x01, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x01],
                    b"a",
                    &[0x00],
                ]),
            ),
            0x0B,
        ),
        // §3.2.2.3.7: the Assigned Client Identifier in CONNACK.
        (V5C, connack_v5_with(&cat(&[&aci, &aci])), 0x12),
    ] {
        let error = DecodeError::DuplicateProperty(property);
        assert_malformed(version, &bytes, error, PROTOCOL_ERROR);
    }
}

#[test]
fn repeatable_properties_may_repeat() {
    // User Property "is allowed to appear multiple times" (§3.1.2.11.8), and a PUBLISH carries
    // one Subscription Identifier per matching subscription (§3.3.2.3.8).
    let up = [0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'];
    let bytes = connect_v5_with(&cat(&[&up, &up, &up]));
    let Packet::Connect(c) = decode_one(SERVER, &bytes).unwrap() else {
        panic!("not CONNECT")
    };
    assert_eq!(c.properties.user_properties.len(), 3);

    let bytes = publish_v5_with(&[0x0B, 0x01, 0x0B, 0x02, 0x0B, 0x01]);
    let Packet::Publish(p) = decode_one(V5C, &bytes).unwrap() else {
        panic!("not PUBLISH")
    };
    let ids: Vec<u32> = p
        .properties
        .subscription_identifiers
        .iter()
        .map(|i| i.get())
        .collect();
    assert_eq!(ids, [1, 2, 1]);
}

#[test]
fn property_not_allowed_in_the_packet_is_malformed() {
    // §2.2.2.2: "A Control Packet which contains an Identifier which is not valid for its
    // packet type ... is a Malformed Packet."
    let will_props = [0x05, 0x11, 0x00, 0x00, 0x00, 0x01];
    let will = cat(&[
        &[0x00, 0x00, 0x01],
        b"c",
        &will_props,
        &[0x00, 0x01],
        b"t",
        &[0x00, 0x00],
    ]);
    let unsubscribe = cat(&[
        &[0x00, 0x01, 0x04, 0x1F, 0x00, 0x01, b'r', 0x00, 0x01],
        b"a",
    ]);
    for (version, bytes, property, packet) in [
        // Session Expiry Interval in PUBLISH.
        (
            V5C,
            publish_v5_with(&[0x11, 0x00, 0x00, 0x00, 0x0A]),
            0x11,
            "PUBLISH",
        ),
        // Topic Alias in CONNECT.
        (
            SERVER,
            connect_v5_with(&[0x23, 0x00, 0x01]),
            0x23,
            "CONNECT",
        ),
        // Session Expiry Interval among the Will Properties.
        (
            SERVER,
            connect_bytes(5, 0b0000_0110, &will),
            0x11,
            "CONNECT will properties",
        ),
        // Maximum QoS in PUBACK.
        (
            V5C,
            frame(0x40, &[0x00, 0x01, 0x00, 0x02, 0x24, 0x01]),
            0x24,
            "acknowledgement",
        ),
        // Reason String in UNSUBSCRIBE.
        (V5C, frame(0xA2, &unsubscribe), 0x1F, "UNSUBSCRIBE"),
        // Authentication Method in DISCONNECT.
        (
            V5C,
            frame(0xE0, &[0x00, 0x04, 0x15, 0x00, 0x01, b'm']),
            0x15,
            "DISCONNECT",
        ),
    ] {
        let error = DecodeError::PropertyNotAllowed { property, packet };
        assert_malformed(version, &bytes, error, MALFORMED);
    }
}

#[test]
fn unknown_property_identifiers_are_malformed() {
    for id in [0x00u8, 0x04, 0x0A, 0x14, 0x2B, 0x7F] {
        let bytes = publish_v5_with(&[id, 0x00]);
        assert_malformed(
            V5C,
            &bytes,
            DecodeError::UnknownProperty(u32::from(id)),
            MALFORMED,
        );
    }
    // An identifier is a Variable Byte Integer (§2.2.2.2): 0x80 0x01 is 128, which is unknown.
    let bytes = publish_v5_with(&[0x80, 0x01, 0x00]);
    assert_malformed(V5C, &bytes, DecodeError::UnknownProperty(128), MALFORMED);
}

#[test]
fn forbidden_property_values() {
    // Topic Alias 0: "A Topic Alias of 0 is not permitted" [MQTT-3.3.2-8], answered with 0x94.
    let bytes = publish_v5_with(&[0x23, 0x00, 0x00]);
    assert_malformed(
        V5C,
        &bytes,
        DecodeError::TopicAliasZero,
        ReasonCode::TopicAliasInvalid,
    );
    let subscribe = cat(&[&[0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01], b"a", &[0x00]]);
    for (version, bytes, property) in [
        // "It is a Protocol Error to include the Receive Maximum value more than once or for it
        // to have the value 0" (§3.1.2.11.3).
        (SERVER, connect_v5_with(&[0x21, 0x00, 0x00]), 0x21),
        // "It is a Protocol Error to include ... the Maximum Packet Size ... or for it to have
        // the value 0" (§3.1.2.11.4); the same in CONNACK (§3.2.2.3.6).
        (
            SERVER,
            connect_v5_with(&[0x27, 0x00, 0x00, 0x00, 0x00]),
            0x27,
        ),
        (V5C, connack_v5_with(&[0x27, 0x00, 0x00, 0x00, 0x00]), 0x27),
        // Maximum QoS is 0 or 1 (§3.2.2.3.4).
        (V5C, connack_v5_with(&[0x24, 2]), 0x24),
        (V5C, connack_v5_with(&[0x24, 3]), 0x24),
        // Byte properties holding 0 or 1: Request Problem Information (§3.1.2.11.7), Request
        // Response Information (§3.1.2.11.6), Retain Available (§3.2.2.3.5), Payload Format
        // Indicator (§3.3.2.3.2).
        (SERVER, connect_v5_with(&[0x17, 0x02]), 0x17),
        (SERVER, connect_v5_with(&[0x19, 0xFF]), 0x19),
        (V5C, connack_v5_with(&[0x25, 0x02]), 0x25),
        (V5C, publish_v5_with(&[0x01, 0x02]), 0x01),
        // "It is a Protocol Error if the Subscription Identifier has a value of 0" (§3.8.2.1.2).
        (V5C, frame(0x82, &subscribe), 0x0B),
        (V5C, publish_v5_with(&[0x0B, 0x00]), 0x0B),
    ] {
        let error = DecodeError::InvalidPropertyValue(property);
        assert_malformed(version, &bytes, error, PROTOCOL_ERROR);
    }
}

// UTF-8 Encoded Strings (§1.5.4).

#[test]
fn invalid_utf8_is_malformed() {
    // [MQTT-1.5.4-1]: ill-formed UTF-8, here a lone continuation byte, an overlong encoding of
    // '/', and an encoded surrogate U+D800.
    for bad in [
        &[0x80][..],
        &[0xC0, 0xAF],
        &[0xED, 0xA0, 0x80],
        &[b'a', 0xFF],
    ] {
        let topic = cat(&[&[0x00, bad.len() as u8], bad]);
        let bytes = frame(0x30, &topic);
        assert_malformed(V3, &bytes, DecodeError::InvalidUtf8, MALFORMED);
    }
    // A Client Identifier.
    let bytes = connect_bytes(4, 0x02, &[0x00, 0x02, 0xC3, 0x28]);
    assert_malformed(SERVER, &bytes, DecodeError::InvalidUtf8, MALFORMED);
    // The name and then the value of a User Property.
    let bytes = publish_v5_with(&[0x26, 0x00, 0x01, 0xFE, 0x00, 0x01, b'v']);
    assert_malformed(V5C, &bytes, DecodeError::InvalidUtf8, MALFORMED);
    let bytes = publish_v5_with(&[0x26, 0x00, 0x01, b'k', 0x00, 0x01, 0xFE]);
    assert_malformed(V5C, &bytes, DecodeError::InvalidUtf8, MALFORMED);
    // A topic filter, a will topic and a user name.
    let bytes = frame(0x82, &[0x00, 0x01, 0x00, 0x01, 0xFF, 0x00]);
    assert_malformed(V3, &bytes, DecodeError::InvalidUtf8, MALFORMED);
    let bytes = connect_bytes(4, 0x06, &[0x00, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x00]);
    assert_malformed(SERVER, &bytes, DecodeError::InvalidUtf8, MALFORMED);
    let bytes = connect_bytes(4, 0x82, &[0x00, 0x00, 0x00, 0x01, 0xFF]);
    assert_malformed(SERVER, &bytes, DecodeError::InvalidUtf8, MALFORMED);
}

#[test]
fn null_character_is_malformed() {
    // [MQTT-1.5.4-2]: "A UTF-8 Encoded String MUST NOT include an encoding of the null
    // character U+0000."
    let bytes = frame(0x30, &cat(&[&[0x00, 0x03], b"a\0b"]));
    assert_malformed(V3, &bytes, DecodeError::NullCharacter, MALFORMED);
    let bytes = connect_bytes(4, 0x02, &[0x00, 0x01, 0x00]);
    assert_malformed(SERVER, &bytes, DecodeError::NullCharacter, MALFORMED);
    let bytes = publish_v5_with(&[0x03, 0x00, 0x02, b'a', 0x00]);
    assert_malformed(V5C, &bytes, DecodeError::NullCharacter, MALFORMED);
}

#[test]
fn string_length_beyond_the_packet_is_malformed() {
    let bytes = frame(0x30, &cat(&[&[0x00, 0x09], b"a/b"]));
    assert_malformed(V3, &bytes, DecodeError::Truncated, MALFORMED);
    let bytes = frame(0x30, &[0x00]);
    assert_malformed(V3, &bytes, DecodeError::Truncated, MALFORMED);
}

// QoS and flags (§2.1.3, §3.1.2, §3.3.1, §3.8.3.1).

#[test]
fn qos_3_is_malformed() {
    // PUBLISH: [MQTT-3.3.1-4] "A PUBLISH Packet MUST NOT have both QoS bits set to 1."
    let bytes = frame(0b0011_0110, &cat(&[&[0x00, 0x03], b"a/b", &[0x00, 0x01]]));
    assert_malformed(V3, &bytes, DecodeError::InvalidQoS, MALFORMED);
    assert_malformed(V5C, &bytes, DecodeError::InvalidQoS, MALFORMED);
    // Will QoS: [MQTT-3.1.2-12] "the value of Will QoS ... MUST NOT be 3".
    let will = cat(&[&[0x00, 0x01], b"c", &[0x00, 0x01], b"t", &[0x00, 0x00]]);
    let bytes = connect_bytes(4, 0b0001_1110, &will);
    assert_malformed(SERVER, &bytes, DecodeError::InvalidQoS, MALFORMED);
    // Subscription options: [MQTT-3.8.3-4] of 3.1.1 and §3.8.3.1 of 5.0.
    let bytes = frame(0x82, &cat(&[&[0x00, 0x01, 0x00, 0x01], b"a", &[0x03]]));
    assert_malformed(V3, &bytes, DecodeError::InvalidQoS, MALFORMED);
    let bytes = frame(
        0x82,
        &cat(&[&[0x00, 0x01, 0x00, 0x00, 0x01], b"a", &[0x03]]),
    );
    assert_malformed(V5C, &bytes, DecodeError::InvalidQoS, MALFORMED);
}

#[test]
fn reserved_connect_flag_is_malformed() {
    // [MQTT-3.1.2-3]: "The Server MUST validate that the reserved flag in the CONNECT packet is
    // set to 0."
    for level in [4, 5] {
        let bytes = connect_bytes(level, 0b0000_0011, empty_connect_rest(level));
        assert_malformed(SERVER, &bytes, DecodeError::ReservedConnectFlag, MALFORMED);
    }
}

#[test]
fn fixed_header_flags_of_every_packet_but_publish_are_checked() {
    // [MQTT-2.1.3-1] and Table 2-2: PUBREL, SUBSCRIBE and UNSUBSCRIBE take 0010, the others
    // 0000; "If invalid flags are received, the receiver MUST close the Network Connection".
    // The flags are checked from the first byte, so the body can be anything.
    for packet_type in (1u8..=15).filter(|&t| t != 3) {
        let required = if matches!(packet_type, 6 | 8 | 10) {
            0b0010
        } else {
            0
        };
        for flags in (0u8..=15).filter(|&f| f != required) {
            let first = packet_type << 4 | flags;
            let error = DecodeError::InvalidFixedHeaderFlags { packet_type, flags };
            assert_malformed(V5C, &[first, 0x00], error.clone(), MALFORMED);
            assert_malformed(SERVER, &[first], error.clone(), MALFORMED);
            if packet_type != 15 {
                assert_malformed(V3, &[first, 0x00], error, MALFORMED);
            }
        }
    }
}

#[test]
fn subscribe_and_pubrel_with_flags_0_are_malformed() {
    // SUBSCRIBE [MQTT-3.8.1-1] and PUBREL [MQTT-3.6.1-1] with the reserved bits 0000.
    let subscribe = frame(0x80, &cat(&[&[0x00, 0x01, 0x00, 0x01], b"a", &[0x00]]));
    let error = DecodeError::InvalidFixedHeaderFlags {
        packet_type: 8,
        flags: 0,
    };
    assert_malformed(V3, &subscribe, error, MALFORMED);
    let error = DecodeError::InvalidFixedHeaderFlags {
        packet_type: 6,
        flags: 0,
    };
    assert_malformed(V5C, &[0x60, 0x02, 0x00, 0x01], error, MALFORMED);
}

#[test]
fn reserved_subscription_option_bits_are_malformed() {
    for (version, header, reserved) in [
        // 3.1.1 [MQTT-3.8.3-4]: the upper six bits of the Requested QoS byte are reserved; No
        // Local (bit 2) does not exist there.
        (
            V3,
            &[0x00, 0x01, 0x00, 0x01][..],
            &[0b0000_0100u8, 0b1000_0000, 0b0001_0001][..],
        ),
        // 5.0 [MQTT-3.8.3-5]: bits 6 and 7 are reserved.
        (
            V5C,
            &[0x00, 0x01, 0x00, 0x00, 0x01],
            &[0b0100_0000, 0b1000_0001],
        ),
    ] {
        for &options in reserved {
            let bytes = frame(0x82, &cat(&[header, b"a", &[options]]));
            let error = DecodeError::ReservedSubscriptionOptions;
            assert_malformed(version, &bytes, error, MALFORMED);
        }
    }
}

#[test]
fn retain_handling_3_is_a_protocol_error() {
    // §3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3."
    let bytes = frame(
        0x82,
        &cat(&[&[0x00, 0x01, 0x00, 0x00, 0x01], b"a", &[0b0011_0001]]),
    );
    assert_malformed(
        V5C,
        &bytes,
        DecodeError::InvalidRetainHandling,
        PROTOCOL_ERROR,
    );
}

#[test]
fn dup_on_qos_0_is_malformed() {
    // [MQTT-3.3.1-2]: "The DUP flag MUST be set to 0 for all QoS 0 messages."
    let bytes = frame(0b0011_1000, &cat(&[&[0x00, 0x03], b"a/b"]));
    assert_malformed(V3, &bytes, DecodeError::DupOnQoS0, MALFORMED);
    assert_malformed(
        V5C,
        &frame(0b0011_1001, &[0x00, 0x00, 0x00]),
        DecodeError::DupOnQoS0,
        MALFORMED,
    );
}

#[test]
fn packet_identifier_0_is_malformed() {
    // [MQTT-2.2.1-3]: a Packet Identifier is non-zero; in PUBLISH QoS 1 and 2, the
    // acknowledgements, SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK.
    let error = DecodeError::ZeroPacketId;
    let publish = frame(0x32, &cat(&[&[0x00, 0x03], b"a/b", &[0x00, 0x00]]));
    assert_malformed(V3, &publish, error.clone(), MALFORMED);
    let publish = frame(0x34, &cat(&[&[0x00, 0x03], b"a/b", &[0x00, 0x00, 0x00]]));
    assert_malformed(V5C, &publish, error.clone(), MALFORMED);
    for first in [0x40, 0x50, 0x62, 0x70, 0xB0] {
        assert_malformed(V3, &[first, 0x02, 0x00, 0x00], error.clone(), MALFORMED);
    }
    let subscribe = frame(0x82, &cat(&[&[0x00, 0x00, 0x00, 0x01], b"a", &[0x00]]));
    assert_malformed(V3, &subscribe, error.clone(), MALFORMED);
    let unsubscribe = frame(0xA2, &cat(&[&[0x00, 0x00, 0x00, 0x01], b"a"]));
    assert_malformed(V3, &unsubscribe, error.clone(), MALFORMED);
    assert_malformed(V3, &[0x90, 0x03, 0x00, 0x00, 0x00], error, MALFORMED);
}

#[test]
fn subscribe_and_unsubscribe_without_filters_are_a_protocol_error() {
    // [MQTT-3.8.3-2] (5.0; [MQTT-3.8.3-3] of 3.1.1) and [MQTT-3.10.3-2].
    let error = DecodeError::NoTopicFilters("SUBSCRIBE");
    assert_malformed(V3, &[0x82, 0x02, 0x00, 0x01], error.clone(), PROTOCOL_ERROR);
    assert_malformed(V5C, &[0x82, 0x03, 0x00, 0x01, 0x00], error, PROTOCOL_ERROR);
    let error = DecodeError::NoTopicFilters("UNSUBSCRIBE");
    assert_malformed(V3, &[0xA2, 0x02, 0x00, 0x01], error.clone(), PROTOCOL_ERROR);
    assert_malformed(V5C, &[0xA2, 0x03, 0x00, 0x01, 0x00], error, PROTOCOL_ERROR);
}

#[test]
fn acknowledgements_without_reason_codes_are_malformed() {
    // A SUBACK "contains a list of return codes" (§3.9.3), an UNSUBACK 5.0 one Reason Code per
    // Topic Filter (§3.11.3); a list of none cannot answer a SUBSCRIBE.
    for (version, bytes) in [
        (V3, &[0x90, 0x02, 0x00, 0x01][..]),
        (V5C, &[0x90, 0x03, 0x00, 0x01, 0x00]),
        (V5C, &[0xB0, 0x03, 0x00, 0x01, 0x00]),
    ] {
        assert_malformed(version, bytes, DecodeError::Truncated, MALFORMED);
    }
}

// CONNECT (§3.1).

#[test]
fn will_qos_or_retain_without_will_flag_are_malformed() {
    // [MQTT-3.1.2-11]: without the Will Flag, Will QoS MUST be 0; [MQTT-3.1.2-13]: and Will
    // Retain MUST be 0.
    for flags in [0b0000_1010u8, 0b0001_0010, 0b0010_0010] {
        for level in [4u8, 5] {
            let bytes = connect_bytes(level, flags, empty_connect_rest(level));
            assert_malformed(SERVER, &bytes, DecodeError::WillFlagsWithoutWill, MALFORMED);
        }
    }
}

#[test]
fn password_without_user_name_is_a_protocol_error_in_3_1_1_only() {
    // 3.1.1 [MQTT-3.1.2-22]: "If the User Name Flag is set to 0, the Password Flag MUST be set
    // to 0." 5.0 lifted that rule (§3.1.2.9); the fixture `connect_v5_password_only` has one.
    let bytes = connect_bytes(4, 0b0100_0010, &[0x00, 0x00, 0x00, 0x02, b'p', b'w']);
    assert_malformed(
        SERVER,
        &bytes,
        DecodeError::PasswordWithoutUserName,
        PROTOCOL_ERROR,
    );
    let bytes = connect_bytes(5, 0b0100_0010, &[0x00, 0x00, 0x00, 0x00, 0x02, b'p', b'w']);
    let Packet::Connect(c) = decode_one(SERVER, &bytes).unwrap() else {
        panic!("not CONNECT")
    };
    assert_eq!(
        (c.username, c.password.as_deref()),
        (None, Some(&b"pw"[..]))
    );
}

#[test]
fn unsupported_protocol_versions_and_names() {
    let unsupported = ReasonCode::UnsupportedProtocolVersion;
    // MQTT 3.1's "MQIsdp" at level 3 is refused as an unsupported version (§3.1.2.2), so that
    // the server can answer with a CONNACK the client understands.
    let mqisdp = frame(
        0x10,
        &cat(&[
            &[0x00, 0x06],
            b"MQIsdp",
            &[0x03, 0x02, 0x00, 0x3C, 0x00, 0x00],
        ]),
    );
    assert_malformed(
        SERVER,
        &mqisdp,
        DecodeError::UnsupportedProtocolLevel(3),
        unsupported,
    );
    // Levels other than 4 and 5 [MQTT-3.1.2-2].
    for level in [0u8, 3, 6, 0xFF] {
        let bytes = connect_bytes(level, 0x02, &[0x00, 0x00, 0x00]);
        assert_malformed(
            SERVER,
            &bytes,
            DecodeError::UnsupportedProtocolLevel(level),
            unsupported,
        );
    }
    // Any name but "MQTT" [MQTT-3.1.2-1].
    for name in [&b"MQTX"[..], b"mqtt", b"MQTT\0", b""] {
        let body = cat(&[
            &[0x00, name.len() as u8],
            name,
            &[0x04, 0x02, 0x00, 0x3C, 0x00, 0x00],
        ]);
        let bytes = frame(0x10, &body);
        assert_malformed(
            SERVER,
            &bytes,
            DecodeError::UnsupportedProtocolName,
            unsupported,
        );
    }
}

#[test]
fn server_decoder_learns_no_version_from_an_unsupported_connect() {
    let mut decoder = Decoder::server(MAX);
    let mut buf = BytesMut::from(&connect_bytes(6, 0x02, &[0x00, 0x00, 0x00])[..]);
    assert!(decoder.decode(&mut buf).is_err());
    assert_eq!(decoder.version(), None);
    // A supported level with a malformed rest still sets the version, so the CONNACK refusing
    // it can be encoded in the client's version.
    let mut decoder = Decoder::server(MAX);
    let mut buf = BytesMut::from(&connect_bytes(5, 0x03, &[0x00, 0x00, 0x00])[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(DecodeError::ReservedConnectFlag)
    );
    assert_eq!(decoder.version(), Some(V5));
}

#[test]
fn first_packet_must_be_connect() {
    // [MQTT-3.1.0-1]: "the first packet sent from the Client to the Server MUST be a CONNECT".
    let error = DecodeError::FirstPacketNotConnect;
    assert_malformed(SERVER, &[0xC0, 0x00], error.clone(), PROTOCOL_ERROR);
    let publish = frame(0x30, &cat(&[&[0x00, 0x03], b"a/b"]));
    assert_malformed(SERVER, &publish, error.clone(), PROTOCOL_ERROR);
    assert_malformed(SERVER, &[0xE0, 0x00], error, PROTOCOL_ERROR);
}

#[test]
fn trailing_bytes_are_malformed() {
    // A length prefix and the content disagree: the Remaining Length covers more than the
    // packet's fields.
    let connect = connect_bytes(4, 0x02, &[0x00, 0x00, 0xAA]);
    for (version, bytes, trailing) in [
        (V3, &[0xC0, 0x01, 0x00][..], 1),
        (V5C, &[0xD0, 0x02, 0x00, 0x00], 2),
        (V3, &[0x40, 0x03, 0x00, 0x0A, 0x00], 1),
        (V3, &[0x20, 0x03, 0x00, 0x00, 0x00], 1),
        (V3, &[0xE0, 0x01, 0x00], 1),
        (V3, &[0xB0, 0x03, 0x00, 0x0A, 0x00], 1),
        (SERVER, &connect, 1),
        // 5.0: after the properties of an acknowledgement, of DISCONNECT and of AUTH.
        (V5C, &[0x40, 0x05, 0x00, 0x0A, 0x00, 0x00, 0xAA], 1),
        (V5C, &[0xE0, 0x03, 0x00, 0x00, 0xAA], 1),
        (V5C, &[0xF0, 0x03, 0x00, 0x00, 0xAA], 1),
    ] {
        let error = DecodeError::TrailingBytes(trailing);
        assert_malformed(version, bytes, error, MALFORMED);
    }
}

#[test]
fn truncated_fixed_length_fields_are_malformed() {
    let connect = frame(0x10, &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04]);
    for (version, bytes) in [
        (V3, &[0x40, 0x01, 0x00][..]),
        (V3, &[0x20, 0x01, 0x00]),
        (V5C, &[0x20, 0x02, 0x00, 0x00]),
        (SERVER, &connect),
    ] {
        assert_malformed(version, bytes, DecodeError::Truncated, MALFORMED);
    }
}

#[test]
fn auth_does_not_exist_in_3_1_1() {
    // Packet type 15 is "Reserved" in MQTT 3.1.1 (§2.2.1 of 3.1.1, Table 2.1).
    let error = DecodeError::ReservedPacketType(15);
    assert_malformed(V3, &[0xF0, 0x00], error.clone(), MALFORMED);
    // The same after a 3.1.1 CONNECT on a server decoder.
    let mut decoder = Decoder::server(MAX);
    let mut buf =
        BytesMut::from(&cat(&[&connect_bytes(4, 0x02, &[0x00, 0x00]), &[0xF0, 0x00]])[..]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Ok(Some(Packet::Connect(_)))
    ));
    assert_eq!(decoder.decode(&mut buf), Err(error));
}

#[test]
fn packet_type_0_is_reserved() {
    // §2.1.2, Table 2-1: 0 is Reserved.
    for version in [SERVER, V3, V5C] {
        assert_malformed(
            version,
            &[0x00, 0x00],
            DecodeError::ReservedPacketType(0),
            MALFORMED,
        );
    }
}

#[test]
fn reserved_connack_flags_are_malformed() {
    // [MQTT-3.2.2-1]: bits 7-1 of the Connect Acknowledge Flags are reserved and set to 0.
    for (version, bytes) in [
        (V3, &[0x20, 0x02, 0x02, 0x00][..]),
        (V5C, &[0x20, 0x03, 0x80, 0x00, 0x00]),
    ] {
        let error = DecodeError::ReservedConnAckFlags;
        assert_malformed(version, bytes, error, MALFORMED);
    }
}

#[test]
fn partial_packets_wait_for_more_bytes() {
    // Nothing, a first byte alone, a Remaining Length still continuing, and a body not yet
    // complete all ask for more bytes and leave the buffer as it was.
    for partial in [
        &[][..],
        &[0x30],
        &[0x30, 0x80],
        &[0x30, 0x05, 0x00, 0x03, b'a'],
    ] {
        let mut decoder = Decoder::new(V311, MAX);
        let mut buf = BytesMut::from(partial);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(&buf[..], partial);
    }
}
