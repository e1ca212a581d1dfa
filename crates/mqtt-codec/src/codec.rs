//! Framing: the fixed header (§2.1), the maximum packet size check, and the stateful [`Decoder`].

use bytes::{Buf, BytesMut};

use crate::ProtocolVersion;
use crate::error::DecodeError;
use crate::packet::{Packet, connect};
use crate::wire::{self, Reader};

/// The MQTT Control Packet type (§2.1.2, Table 2-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)] // The names are the specification's.
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

impl PacketType {
    fn from_u8(value: u8) -> Option<Self> {
        use PacketType::*;
        Some(match value {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The flags Table 2-2 prescribes, or `None` for PUBLISH whose flags carry DUP, QoS and RETAIN.
    const fn required_flags(self) -> Option<u8> {
        match self {
            PacketType::Publish => None,
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

/// A parsed fixed header (§2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedHeader {
    /// The packet type.
    pub packet_type: PacketType,
    /// The four flag bits of the first byte.
    pub flags: u8,
    /// The Remaining Length: the size of the variable header and payload.
    pub remaining_length: usize,
    /// The size of the fixed header itself (2 to 5 bytes).
    pub header_length: usize,
}

impl FixedHeader {
    /// Reads a fixed header at the start of `buf`; `Ok(None)` means more bytes are needed.
    ///
    /// The packet type and its flags are checked here, so that a garbage stream is refused after
    /// its first byte rather than after a body of up to 256 MB.
    pub fn parse(
        buf: &[u8],
        version: Option<ProtocolVersion>,
    ) -> Result<Option<Self>, DecodeError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let type_bits = first >> 4;
        let flags = first & 0x0F;
        let packet_type = match PacketType::from_u8(type_bits) {
            // AUTH is reserved in MQTT 3.1.1 (Table 2.1 of 3.1.1).
            Some(PacketType::Auth) if version == Some(ProtocolVersion::V311) => None,
            other => other,
        }
        .ok_or(DecodeError::ReservedPacketType(type_bits))?;
        if let Some(required) = packet_type.required_flags() {
            // [MQTT-2.1.3-1]: "Where a flag bit is marked as Reserved ... If invalid flags are
            // received it is a Malformed Packet."
            if flags != required {
                return Err(DecodeError::InvalidFixedHeaderFlags {
                    packet_type: type_bits,
                    flags,
                });
            }
        }
        let Some((remaining_length, len_bytes)) = wire::decode_varint(&buf[1..])? else {
            return Ok(None);
        };
        Ok(Some(FixedHeader {
            packet_type,
            flags,
            remaining_length: remaining_length as usize,
            header_length: 1 + len_bytes,
        }))
    }

    /// The size of the whole packet.
    pub fn packet_length(&self) -> usize {
        self.header_length + self.remaining_length
    }
}

/// Splits a byte stream into packets.
///
/// A server-side decoder ([`Decoder::server`]) starts without a protocol version, requires the
/// first packet to be CONNECT [MQTT-3.1.0-1] and takes the version from it; a client-side decoder
/// ([`Decoder::new`]) is given the version it asked for.
#[derive(Clone, Debug)]
pub struct Decoder {
    version: Option<ProtocolVersion>,
    max_packet_size: usize,
}

impl Decoder {
    /// A decoder for a connection that speaks `version`, accepting packets of up to
    /// `max_packet_size` bytes (fixed header included, as §3.1.2.11.4 counts them).
    pub fn new(version: ProtocolVersion, max_packet_size: usize) -> Self {
        Decoder {
            version: Some(version),
            max_packet_size,
        }
    }

    /// A decoder for the server side of a new connection, which learns its version from CONNECT.
    pub fn server(max_packet_size: usize) -> Self {
        Decoder {
            version: None,
            max_packet_size,
        }
    }

    /// The protocol version, once known.
    ///
    /// On a server decoder it is set as soon as a CONNECT's protocol level has been read, even
    /// if the rest of that CONNECT is malformed, so the CONNACK refusing it can be sent in the
    /// client's version.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    /// The maximum packet size in force.
    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    /// Changes the maximum packet size (e.g. after the server's limits are known).
    pub fn set_max_packet_size(&mut self, max_packet_size: usize) {
        self.max_packet_size = max_packet_size;
    }

    /// Decodes the next packet from `buf`, removing its bytes.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold a whole packet; the caller reads more and
    /// calls again. After an error the stream cannot be resynchronised: the connection must be
    /// closed (after a CONNACK or DISCONNECT carrying [`DecodeError::reason_code`] where the
    /// protocol allows one).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let Some(header) = FixedHeader::parse(buf, self.version)? else {
            return Ok(None);
        };
        let size = header.packet_length();
        if size > self.max_packet_size {
            return Err(DecodeError::PacketTooLarge {
                size,
                max: self.max_packet_size,
            });
        }
        if buf.len() < size {
            // The rest arrives with the caller's next reads. Nothing is reserved for it here:
            // a client that announces a large packet and sends it slowly must not make the
            // server allocate the whole announced size up front.
            return Ok(None);
        }
        buf.advance(header.header_length);
        let body = buf.split_to(header.remaining_length).freeze();
        let mut reader = Reader::new(body);

        let version = match (self.version, header.packet_type) {
            (_, crate::PacketType::Connect) => {
                let version = connect::decode_protocol(&mut reader)?;
                self.version = Some(version);
                return Packet::decode_connect_rest(header.flags, reader, version).map(Some);
            }
            (Some(version), _) => version,
            // [MQTT-3.1.0-1]: "After a Network Connection is established by a Client to a Server,
            // the first packet sent from the Client to the Server MUST be a CONNECT packet."
            (None, _) => return Err(DecodeError::FirstPacketNotConnect),
        };
        Packet::decode(header, reader, version).map(Some)
    }
}
