//! Reason codes: for every packet that carries them, each of the 256 byte values is accepted
//! exactly when the specification's table for that packet lists it.
//!
//! The tables are copied here from the MQTT 5.0 specification rather than taken from the codec,
//! so that a mistake in the codec's tables shows up as a failure.

use std::collections::BTreeSet;

use mqtt_codec::{DecodeError, Packet, ProtocolVersion, ReasonCode};

use crate::common::{decode_err, decode_one};

/// §3.2.2.2, Table 3-1: Connect Reason Code values.
const CONNACK: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
/// §3.4.2.1, Table 3-4: PUBACK Reason Codes; §3.5.2.1, Table 3-5 lists the same for PUBREC.
const PUBACK: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
/// §3.6.2.1, Table 3-6 (PUBREL) and §3.7.2.1, Table 3-7 (PUBCOMP).
const PUBREL: &[u8] = &[0x00, 0x92];
/// §3.9.3, Table 3-8: Subscribe Reason Codes.
const SUBACK: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
/// §3.11.3, Table 3-9: Unsubscribe Reason Codes.
const UNSUBACK: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
/// §3.14.2.1, Table 3-10: Disconnect Reason Code values.
const DISCONNECT: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
/// §3.15.2.1, Table 3-11: Authenticate Reason Codes.
const AUTH: &[u8] = &[0x00, 0x18, 0x19];

/// A packet of 5.0 carrying `code`, the name its errors use, and the allowed codes.
struct Case {
    packet: &'static str,
    allowed: &'static [u8],
    bytes: Box<dyn Fn(u8) -> Vec<u8>>,
    reason: fn(&Packet) -> Vec<ReasonCode>,
}

/// The case of an acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) whose first byte is `first`:
/// Packet Identifier 1 and the reason code.
fn ack_case(packet: &'static str, allowed: &'static [u8], first: u8) -> Case {
    Case {
        packet,
        allowed,
        bytes: Box::new(move |c| vec![first, 0x03, 0x00, 0x01, c]),
        reason: ack_reason,
    }
}

/// Checks that decoding `bytes` fails because `code` is not one `packet` may carry, a Malformed
/// Packet.
#[track_caller]
fn assert_invalid_reason_code(
    version: Option<ProtocolVersion>,
    bytes: &[u8],
    code: u8,
    packet: &'static str,
) {
    let error = decode_err(version, bytes);
    assert_eq!(error, DecodeError::InvalidReasonCode { code, packet });
    assert_eq!(error.reason_code(), ReasonCode::MalformedPacket);
}

fn ack_reason(packet: &Packet) -> Vec<ReasonCode> {
    match packet {
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            vec![a.reason_code]
        }
        other => panic!("not an acknowledgement: {other:?}"),
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            packet: "CONNACK",
            allowed: CONNACK,
            bytes: Box::new(|c| vec![0x20, 0x03, 0x00, c, 0x00]),
            reason: |p| match p {
                Packet::ConnAck(c) => vec![c.reason_code],
                other => panic!("{other:?}"),
            },
        },
        ack_case("PUBACK", PUBACK, 0x40),
        ack_case("PUBREC", PUBACK, 0x50),
        ack_case("PUBREL", PUBREL, 0x62),
        ack_case("PUBCOMP", PUBREL, 0x70),
        Case {
            packet: "SUBACK",
            allowed: SUBACK,
            bytes: Box::new(|c| vec![0x90, 0x04, 0x00, 0x01, 0x00, c]),
            reason: |p| match p {
                Packet::SubAck(s) => s.reason_codes.clone(),
                other => panic!("{other:?}"),
            },
        },
        Case {
            packet: "UNSUBACK",
            allowed: UNSUBACK,
            bytes: Box::new(|c| vec![0xB0, 0x04, 0x00, 0x01, 0x00, c]),
            reason: |p| match p {
                Packet::UnsubAck(u) => u.reason_codes.clone(),
                other => panic!("{other:?}"),
            },
        },
        Case {
            packet: "DISCONNECT",
            allowed: DISCONNECT,
            bytes: Box::new(|c| vec![0xE0, 0x01, c]),
            reason: |p| match p {
                Packet::Disconnect(d) => vec![d.reason_code],
                other => panic!("{other:?}"),
            },
        },
        Case {
            packet: "AUTH",
            allowed: AUTH,
            bytes: Box::new(|c| vec![0xF0, 0x01, c]),
            reason: |p| match p {
                Packet::Auth(a) => vec![a.reason_code],
                other => panic!("{other:?}"),
            },
        },
    ]
}

#[test]
fn each_packet_accepts_exactly_the_reason_codes_of_its_table() {
    let v5 = Some(ProtocolVersion::V5);
    for case in cases() {
        for code in 0..=u8::MAX {
            let bytes = (case.bytes)(code);
            if case.allowed.contains(&code) {
                let packet = decode_one(v5, &bytes)
                    .unwrap_or_else(|e| panic!("{} refused {code:#04x}: {e}", case.packet));
                let expected = ReasonCode::from_u8(code).unwrap();
                assert_eq!((case.reason)(&packet), vec![expected], "{}", case.packet);
                assert_eq!(expected.as_u8(), code);
            } else {
                assert_invalid_reason_code(v5, &bytes, code, case.packet);
            }
        }
    }
}

#[test]
fn every_reason_code_of_table_2_6_is_accepted_by_some_packet() {
    // §2.4, Table 2-6 lists 43 distinct values; each must be accepted by at least one packet.
    let accepted: BTreeSet<u8> = cases()
        .iter()
        .flat_map(|c| c.allowed.iter().copied())
        .collect();
    assert_eq!(accepted.len(), 43);
    let defined: BTreeSet<u8> = (0..=u8::MAX)
        .filter(|&v| ReasonCode::from_u8(v).is_some())
        .collect();
    assert_eq!(accepted, defined);
}

#[test]
fn v311_connack_return_codes() {
    // MQTT 3.1.1 §3.2.2.3, Table 3.1: return codes 0 to 5; 6-255 are reserved.
    let v3 = Some(ProtocolVersion::V311);
    let expected = [
        ReasonCode::Success,
        ReasonCode::UnsupportedProtocolVersion,
        ReasonCode::ClientIdentifierNotValid,
        ReasonCode::ServerUnavailable,
        ReasonCode::BadUserNameOrPassword,
        ReasonCode::NotAuthorized,
    ];
    for code in 0..=u8::MAX {
        let bytes = [0x20, 0x02, 0x00, code];
        match expected.get(usize::from(code)) {
            Some(&reason) => {
                let Packet::ConnAck(c) = decode_one(v3, &bytes).unwrap() else {
                    panic!()
                };
                assert_eq!(c.reason_code, reason);
                // And the 5.0 code encodes back to the 3.1.1 return code.
                assert_eq!(reason.to_v3_connack_code(), code);
            }
            None => assert_invalid_reason_code(v3, &bytes, code, "CONNACK"),
        }
    }
}

#[test]
fn v311_suback_return_codes() {
    // MQTT 3.1.1 §3.9.3: 0x00, 0x01, 0x02 (Success with that maximum QoS) and 0x80 (Failure);
    // "SUBACK return codes other than 0x00, 0x01, 0x02 and 0x80 are reserved" [MQTT-3.9.3-2].
    let v3 = Some(ProtocolVersion::V311);
    for code in 0..=u8::MAX {
        let bytes = [0x90, 0x03, 0x00, 0x01, code];
        if matches!(code, 0x00 | 0x01 | 0x02 | 0x80) {
            let Packet::SubAck(s) = decode_one(v3, &bytes).unwrap() else {
                panic!()
            };
            assert_eq!(s.reason_codes[0].as_u8(), code);
        } else {
            assert_invalid_reason_code(v3, &bytes, code, "SUBACK");
        }
    }
}

#[test]
fn v5_errors_are_sent_to_v311_clients_as_their_nearest_code() {
    // A 5.0 CONNACK reason has no 3.1.1 return code of its own; the encoder picks the closest
    // one (§3.2.2.3 of 3.1.1), and SUBACK failures all become 0x80 (§3.9.3 of 3.1.1).
    let v3 = ProtocolVersion::V311;
    let connack = Packet::ConnAck(mqtt_codec::ConnAck::new(false, ReasonCode::Banned));
    assert_eq!(
        crate::common::encode(&connack, v3),
        [0x20, 0x02, 0x00, 0x05]
    );
    let connack = Packet::ConnAck(mqtt_codec::ConnAck::new(false, ReasonCode::ServerBusy));
    assert_eq!(
        crate::common::encode(&connack, v3),
        [0x20, 0x02, 0x00, 0x03]
    );
    let suback = Packet::SubAck(mqtt_codec::SubAck {
        packet_id: crate::common::pid(1),
        properties: Default::default(),
        reason_codes: vec![
            ReasonCode::GrantedQoS1,
            ReasonCode::NotAuthorized,
            ReasonCode::QuotaExceeded,
        ],
    });
    assert_eq!(
        crate::common::encode(&suback, v3),
        [0x90, 0x05, 0x00, 0x01, 0x01, 0x80, 0x80]
    );
}
