//! The MQTT Control Packets (§3), one module per family, and the [`Packet`] enum that unites them.

pub(crate) mod ack;
pub(crate) mod connect;
pub(crate) mod disconnect;
pub(crate) mod publish;
pub(crate) mod subscribe;

use bytes::{BufMut, BytesMut};

use crate::codec::{FixedHeader, PacketType};
use crate::error::{DecodeError, EncodeError};
use crate::wire::{self, MAX_VARIABLE_BYTE_INTEGER, Reader};
use crate::{PacketId, ProtocolVersion};

pub use ack::{Ack, SubAck, UnsubAck};
pub use connect::{ConnAck, Connect, Will};
pub use disconnect::{Auth, Disconnect};
pub use publish::{OutgoingPublish, Publish};
pub use subscribe::{RetainHandling, Subscribe, SubscriptionOptions, Unsubscribe};

/// One MQTT Control Packet of either protocol version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT (§3.1), boxed: it is large and rare.
    Connect(Box<Connect>),
    /// CONNACK (§3.2).
    ConnAck(ConnAck),
    /// PUBLISH (§3.3).
    Publish(Publish),
    /// PUBACK (§3.4).
    PubAck(Ack),
    /// PUBREC (§3.5).
    PubRec(Ack),
    /// PUBREL (§3.6).
    PubRel(Ack),
    /// PUBCOMP (§3.7).
    PubComp(Ack),
    /// SUBSCRIBE (§3.8).
    Subscribe(Subscribe),
    /// SUBACK (§3.9).
    SubAck(SubAck),
    /// UNSUBSCRIBE (§3.10).
    Unsubscribe(Unsubscribe),
    /// UNSUBACK (§3.11).
    UnsubAck(UnsubAck),
    /// PINGREQ (§3.12).
    PingReq,
    /// PINGRESP (§3.13).
    PingResp,
    /// DISCONNECT (§3.14).
    Disconnect(Disconnect),
    /// AUTH (§3.15), MQTT 5.0 only.
    Auth(Auth),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    pub(crate) fn decode_connect_rest(
        flags: u8,
        reader: Reader,
        version: ProtocolVersion,
    ) -> Result<Packet, DecodeError> {
        debug_assert_eq!(flags, 0);
        connect::Connect::decode_after_protocol(reader, version)
            .map(|c| Packet::Connect(Box::new(c)))
    }

    /// Decodes the body of a packet other than CONNECT.
    pub(crate) fn decode(
        header: FixedHeader,
        mut reader: Reader,
        version: ProtocolVersion,
    ) -> Result<Packet, DecodeError> {
        use crate::reason::ReasonCodeContext as Ctx;
        let packet = match header.packet_type {
            PacketType::Connect => {
                let version = connect::decode_protocol(&mut reader)?;
                return Self::decode_connect_rest(header.flags, reader, version);
            }
            PacketType::ConnAck => Packet::ConnAck(ConnAck::decode(reader, version)?),
            PacketType::Publish => Packet::Publish(Publish::decode(header.flags, reader, version)?),
            PacketType::PubAck => Packet::PubAck(Ack::decode(reader, version, Ctx::PubAck)?),
            PacketType::PubRec => Packet::PubRec(Ack::decode(reader, version, Ctx::PubRec)?),
            PacketType::PubRel => Packet::PubRel(Ack::decode(reader, version, Ctx::PubRel)?),
            PacketType::PubComp => Packet::PubComp(Ack::decode(reader, version, Ctx::PubComp)?),
            PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(reader, version)?),
            PacketType::SubAck => Packet::SubAck(SubAck::decode(reader, version)?),
            PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::decode(reader, version)?),
            PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::decode(reader, version)?),
            PacketType::PingReq => {
                reader.finish()?;
                Packet::PingReq
            }
            PacketType::PingResp => {
                reader.finish()?;
                Packet::PingResp
            }
            PacketType::Disconnect => Packet::Disconnect(Disconnect::decode(reader, version)?),
            PacketType::Auth => {
                if version == ProtocolVersion::V311 {
                    return Err(DecodeError::ReservedPacketType(PacketType::Auth as u8));
                }
                Packet::Auth(Auth::decode(reader)?)
            }
        };
        Ok(packet)
    }

    /// Appends the packet, encoded for `version`, to `buf`.
    ///
    /// Fields that `version` does not have (properties and reason codes in 3.1.1) are left out;
    /// a packet `version` does not have at all (AUTH in 3.1.1) is an error.
    pub fn encode(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Packet::Connect(p) => p.encode(buf),
            Packet::ConnAck(p) => p.encode(version, buf),
            Packet::Publish(p) => p.as_outgoing().encode(version, buf),
            Packet::PubAck(p) => p.encode(PacketType::PubAck, version, buf),
            Packet::PubRec(p) => p.encode(PacketType::PubRec, version, buf),
            Packet::PubRel(p) => p.encode(PacketType::PubRel, version, buf),
            Packet::PubComp(p) => p.encode(PacketType::PubComp, version, buf),
            Packet::Subscribe(p) => p.encode(version, buf),
            Packet::SubAck(p) => p.encode(version, buf),
            Packet::Unsubscribe(p) => p.encode(version, buf),
            Packet::UnsubAck(p) => p.encode(version, buf),
            Packet::PingReq => {
                buf.put_slice(&[0xC0, 0x00]);
                Ok(())
            }
            Packet::PingResp => {
                buf.put_slice(&[0xD0, 0x00]);
                Ok(())
            }
            Packet::Disconnect(p) => p.encode(version, buf),
            Packet::Auth(p) => p.encode(version, buf),
        }
    }

    /// The number of bytes [`Packet::encode`] would append, to compare with a peer's Maximum
    /// Packet Size before sending [MQTT-3.1.2-24].
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        // Encoding into a scratch buffer keeps this exact without a second copy of the layout
        // logic; PUBLISH, the packet where it matters, has its own arithmetic version.
        if let Packet::Publish(p) = self {
            return p.as_outgoing().encoded_len(version);
        }
        let mut scratch = BytesMut::new();
        self.encode(version, &mut scratch)?;
        Ok(scratch.len())
    }
}

/// Writes a fixed header after checking that the remaining length can be encoded (§2.1.4).
pub(crate) fn write_fixed_header(
    buf: &mut BytesMut,
    first_byte: u8,
    remaining_length: usize,
) -> Result<(), EncodeError> {
    if remaining_length > MAX_VARIABLE_BYTE_INTEGER as usize {
        return Err(EncodeError::PacketTooLarge(remaining_length));
    }
    buf.reserve(1 + wire::varint_len(remaining_length) + remaining_length);
    buf.put_u8(first_byte);
    wire::put_varint(buf, remaining_length);
    Ok(())
}

/// The size of a packet whose remaining length is `remaining_length`.
pub(crate) fn packet_len(remaining_length: usize) -> Result<usize, EncodeError> {
    if remaining_length > MAX_VARIABLE_BYTE_INTEGER as usize {
        return Err(EncodeError::PacketTooLarge(remaining_length));
    }
    Ok(1 + wire::varint_len(remaining_length) + remaining_length)
}

/// Reads a Packet Identifier, which must not be zero [MQTT-2.2.1-3].
pub(crate) fn read_packet_id(reader: &mut Reader) -> Result<PacketId, DecodeError> {
    PacketId::new(reader.u16()?).ok_or(DecodeError::ZeroPacketId)
}

/// Checks a binary field's length before encoding it.
pub(crate) fn check_binary(bytes: &[u8]) -> Result<usize, EncodeError> {
    if bytes.len() > usize::from(u16::MAX) {
        return Err(EncodeError::FieldTooLong(bytes.len()));
    }
    Ok(wire::binary_len(bytes))
}
