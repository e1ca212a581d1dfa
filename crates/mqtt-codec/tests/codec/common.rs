//! Helpers shared by the test modules: building values, framing bytes, decoding and encoding.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::BytesMut;
use mqtt_codec::{
    DecodeError, Decoder, MqttString, Packet, PacketId, ProtocolVersion, ReasonCode, UserProperty,
};

/// The maximum packet size the tests decode with unless they test that limit.
pub(crate) const MAX: usize = 1 << 20;

/// A valid MQTT string.
pub(crate) fn s(text: &str) -> MqttString {
    MqttString::new(text).unwrap()
}

/// A non-zero Packet Identifier.
pub(crate) fn pid(value: u16) -> PacketId {
    PacketId::new(value).unwrap()
}

/// A User Property.
pub(crate) fn user(name: &str, value: &str) -> UserProperty {
    UserProperty::new(s(name), s(value))
}

/// A non-zero two byte value.
pub(crate) fn nz16(value: u16) -> NonZeroU16 {
    NonZeroU16::new(value).unwrap()
}

/// A non-zero four byte value.
pub(crate) fn nz32(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).unwrap()
}

/// Concatenates byte groups, so fixtures can comment each group.
pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A decoder for `version`, or a server decoder that learns it from CONNECT when `None`.
pub(crate) fn decoder(version: Option<ProtocolVersion>) -> Decoder {
    match version {
        Some(v) => Decoder::new(v, MAX),
        None => Decoder::server(MAX),
    }
}

/// Encodes a Variable Byte Integer (§1.5.5) independently of the codec.
pub(crate) fn varint(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            return out;
        }
    }
}

/// A packet with this first byte and body, the Remaining Length computed (§2.1.4).
pub(crate) fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    cat(&[&[first], &varint(body.len()), body])
}

/// A CONNECT with this protocol level and flags, a keep alive of 60 s and then `rest` (the
/// properties, if 5.0, and the payload).
pub(crate) fn connect_bytes(level: u8, flags: u8, rest: &[u8]) -> Vec<u8> {
    frame(
        0x10,
        &cat(&[&[0x00, 0x04], b"MQTT", &[level, flags, 0x00, 0x3C], rest]),
    )
}

/// Decodes every packet in `bytes`, which must end on a packet boundary.
pub(crate) fn decode_all(decoder: &mut Decoder, bytes: &[u8]) -> Result<Vec<Packet>, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let mut packets = Vec::new();
    while let Some(packet) = decoder.decode(&mut buf)? {
        packets.push(packet);
    }
    assert!(
        buf.is_empty(),
        "{} bytes left that are not a whole packet",
        buf.len()
    );
    Ok(packets)
}

/// Decodes exactly one packet from `bytes`.
pub(crate) fn decode_one(
    version: Option<ProtocolVersion>,
    bytes: &[u8],
) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let packet = decoder(version).decode(&mut buf)?;
    let packet = packet.unwrap_or_else(|| panic!("{bytes:02X?} is not a whole packet"));
    assert!(buf.is_empty(), "{} bytes left after one packet", buf.len());
    Ok(packet)
}

/// The error decoding `bytes` gives; panics if it decodes or waits for more bytes.
pub(crate) fn decode_err(version: Option<ProtocolVersion>, bytes: &[u8]) -> DecodeError {
    let mut buf = BytesMut::from(bytes);
    match decoder(version).decode(&mut buf) {
        Err(e) => e,
        Ok(p) => panic!("{bytes:02X?} decoded as {p:?}, expected an error"),
    }
}

/// Asserts that decoding `bytes` fails with `expected`, answered with reason code `code`.
#[track_caller]
pub(crate) fn assert_malformed(
    version: Option<ProtocolVersion>,
    bytes: &[u8],
    expected: DecodeError,
    code: ReasonCode,
) {
    let error = decode_err(version, bytes);
    assert_eq!(error, expected, "decoding {bytes:02X?}");
    assert_eq!(error.reason_code(), code, "reason code for {error}");
}

/// Encodes `packet` for `version`.
pub(crate) fn encode(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    packet.encode(version, &mut buf).unwrap();
    buf.to_vec()
}
