//! Acknowledgements: PUBACK, PUBREC, PUBREL and PUBCOMP (§3.4-3.7), SUBACK (§3.9) and UNSUBACK (§3.11).

use bytes::{BufMut, BytesMut};

use super::{read_packet_id, write_fixed_header};
use crate::codec::PacketType;
use crate::error::{DecodeError, EncodeError};
use crate::properties::{AckProperties, PropertySet};
use crate::reason::{ReasonCode, ReasonCodeContext};
use crate::wire::{self, Reader};
use crate::{PacketId, ProtocolVersion};

/// The body shared by PUBACK, PUBREC, PUBREL and PUBCOMP; [`crate::Packet`]'s variant says which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The Packet Identifier of the PUBLISH (or PUBREC, PUBREL) being acknowledged.
    pub packet_id: PacketId,
    /// The reason code (5.0; 3.1.1 has none and means Success).
    pub reason_code: ReasonCode,
    /// Properties (5.0 only).
    pub properties: AckProperties,
}

impl Ack {
    /// A successful acknowledgement of `packet_id`.
    pub fn new(packet_id: PacketId) -> Self {
        Ack {
            packet_id,
            reason_code: ReasonCode::Success,
            properties: AckProperties::default(),
        }
    }

    /// An acknowledgement of `packet_id` with `reason_code`.
    pub fn with_reason(packet_id: PacketId, reason_code: ReasonCode) -> Self {
        Ack {
            packet_id,
            reason_code,
            properties: AckProperties::default(),
        }
    }

    pub(crate) fn decode(
        mut reader: Reader,
        version: ProtocolVersion,
        context: ReasonCodeContext,
    ) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(&mut reader)?;
        let mut ack = Ack::new(packet_id);
        if version == ProtocolVersion::V5 {
            // §3.4.2.1: "The Reason Code and Property Length can be omitted if the Reason Code is
            // 0x00 (Success) and there are no Properties", and §3.4.2.2.1: "If the Remaining
            // Length is less than 4 there is no Property Length".
            if !reader.is_empty() {
                ack.reason_code = read_reason(&mut reader, context, ack_name(context))?;
            }
            if !reader.is_empty() {
                ack.properties = AckProperties::decode(&mut reader)?;
            }
        }
        reader.finish()?;
        Ok(ack)
    }

    pub(crate) fn encode(
        &self,
        packet_type: PacketType,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        // PUBREL's fixed header flags are 0b0010 [MQTT-3.6.1-1].
        let first = (packet_type as u8) << 4
            | if packet_type == PacketType::PubRel {
                0b0010
            } else {
                0
            };
        if version == ProtocolVersion::V311 {
            write_fixed_header(buf, first, 2)?;
            buf.put_u16(self.packet_id.get());
            return Ok(());
        }
        let props_len = self.properties.content_len()?;
        let has_props = props_len > 0;
        // The shortest form the specification allows: omit the reason code and property length
        // when they carry nothing.
        let remaining = match (self.reason_code == ReasonCode::Success, has_props) {
            (true, false) => 2,
            (false, false) => 3,
            (_, true) => 3 + wire::varint_len(props_len) + props_len,
        };
        write_fixed_header(buf, first, remaining)?;
        buf.put_u16(self.packet_id.get());
        if remaining > 2 {
            buf.put_u8(self.reason_code.as_u8());
        }
        if has_props {
            self.properties.write(props_len, buf);
        }
        Ok(())
    }
}

fn ack_name(context: ReasonCodeContext) -> &'static str {
    match context {
        ReasonCodeContext::PubAck => "PUBACK",
        ReasonCodeContext::PubRec => "PUBREC",
        ReasonCodeContext::PubRel => "PUBREL",
        ReasonCodeContext::PubComp => "PUBCOMP",
        ReasonCodeContext::SubAck => "SUBACK",
        ReasonCodeContext::UnsubAck => "UNSUBACK",
        ReasonCodeContext::ConnAck => "CONNACK",
        ReasonCodeContext::Disconnect => "DISCONNECT",
        ReasonCodeContext::Auth => "AUTH",
    }
}

/// Reads a reason code and checks it belongs to the packet's table (§2.4).
pub(crate) fn read_reason(
    reader: &mut Reader,
    context: ReasonCodeContext,
    packet: &'static str,
) -> Result<ReasonCode, DecodeError> {
    let code = reader.u8()?;
    ReasonCode::from_u8(code)
        .filter(|r| r.allowed_in(context))
        .ok_or(DecodeError::InvalidReasonCode { code, packet })
}

/// A SUBACK packet (§3.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck {
    /// The Packet Identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// Properties (5.0 only).
    pub properties: AckProperties,
    /// One reason code per topic filter, in order [MQTT-3.9.3-1]. In 3.1.1, Granted QoS 0-2
    /// are sent as such and every error as the Failure return code 0x80.
    pub reason_codes: Vec<ReasonCode>,
}

impl SubAck {
    pub(crate) fn decode(
        mut reader: Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(&mut reader)?;
        let properties = match version {
            ProtocolVersion::V5 => AckProperties::decode(&mut reader)?,
            ProtocolVersion::V311 => AckProperties::default(),
        };
        let mut reason_codes = Vec::with_capacity(reader.remaining());
        while !reader.is_empty() {
            reason_codes.push(match version {
                ProtocolVersion::V5 => {
                    read_reason(&mut reader, ReasonCodeContext::SubAck, "SUBACK")?
                }
                ProtocolVersion::V311 => match reader.u8()? {
                    0x00 => ReasonCode::GRANTED_QOS_0,
                    0x01 => ReasonCode::GrantedQoS1,
                    0x02 => ReasonCode::GrantedQoS2,
                    0x80 => ReasonCode::UnspecifiedError,
                    code => {
                        return Err(DecodeError::InvalidReasonCode {
                            code,
                            packet: "SUBACK",
                        });
                    }
                },
            });
        }
        if reason_codes.is_empty() {
            return Err(DecodeError::Truncated);
        }
        Ok(SubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if self.reason_codes.is_empty() {
            return Err(EncodeError::Empty("SUBACK"));
        }
        encode_ack_list(
            0x90,
            self.packet_id,
            &self.properties,
            &self.reason_codes,
            version,
            buf,
            |r| {
                if r.is_error() { 0x80 } else { r.as_u8() }
            },
        )
    }
}

/// An UNSUBACK packet (§3.11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubAck {
    /// The Packet Identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// Properties (5.0 only).
    pub properties: AckProperties,
    /// One reason code per topic filter (5.0; empty in 3.1.1, which has none) [MQTT-3.11.3-1].
    pub reason_codes: Vec<ReasonCode>,
}

impl UnsubAck {
    pub(crate) fn decode(
        mut reader: Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(&mut reader)?;
        let mut unsuback = UnsubAck {
            packet_id,
            properties: AckProperties::default(),
            reason_codes: Vec::new(),
        };
        if version == ProtocolVersion::V5 {
            unsuback.properties = AckProperties::decode(&mut reader)?;
            while !reader.is_empty() {
                unsuback.reason_codes.push(read_reason(
                    &mut reader,
                    ReasonCodeContext::UnsubAck,
                    "UNSUBACK",
                )?);
            }
            if unsuback.reason_codes.is_empty() {
                return Err(DecodeError::Truncated);
            }
        }
        reader.finish()?;
        Ok(unsuback)
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if version == ProtocolVersion::V311 {
            write_fixed_header(buf, 0xB0, 2)?;
            buf.put_u16(self.packet_id.get());
            return Ok(());
        }
        if self.reason_codes.is_empty() {
            return Err(EncodeError::Empty("UNSUBACK"));
        }
        encode_ack_list(
            0xB0,
            self.packet_id,
            &self.properties,
            &self.reason_codes,
            version,
            buf,
            ReasonCode::as_u8,
        )
    }
}

fn encode_ack_list(
    first: u8,
    packet_id: PacketId,
    properties: &AckProperties,
    codes: &[ReasonCode],
    version: ProtocolVersion,
    buf: &mut BytesMut,
    v3_code: impl Fn(ReasonCode) -> u8,
) -> Result<(), EncodeError> {
    let props_len = match version {
        ProtocolVersion::V5 => Some(properties.content_len()?),
        ProtocolVersion::V311 => None,
    };
    let remaining = 2 + props_len.map_or(0, |l| wire::varint_len(l) + l) + codes.len();
    write_fixed_header(buf, first, remaining)?;
    buf.put_u16(packet_id.get());
    if let Some(len) = props_len {
        properties.write(len, buf);
    }
    for &code in codes {
        buf.put_u8(match version {
            ProtocolVersion::V5 => code.as_u8(),
            ProtocolVersion::V311 => v3_code(code),
        });
    }
    Ok(())
}
