//! SUBSCRIBE (§3.8) and UNSUBSCRIBE (§3.10).

use bytes::{BufMut, BytesMut};

use super::{read_packet_id, write_fixed_header};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{PropertySet, SubscribeProperties, UnsubscribeProperties};
use crate::string::MqttString;
use crate::wire::{self, Reader};
use crate::{PacketId, ProtocolVersion, QoS};

/// When retained messages are sent for a new subscription (§3.8.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe,
    /// 1: send them only if the subscription did not already exist.
    SendAtSubscribeIfNew,
    /// 2: do not send them.
    DoNotSend,
}

/// The Subscription Options byte of one topic filter (§3.8.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the subscriber wants.
    pub qos: QoS,
    /// No Local: do not send the subscriber its own publications (5.0).
    pub no_local: bool,
    /// Retain As Published: keep the RETAIN flag of forwarded messages (5.0).
    pub retain_as_published: bool,
    /// Retain Handling (5.0).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with this maximum QoS and the defaults of 3.1.1 for the rest.
    pub fn qos(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            ..SubscriptionOptions::default()
        }
    }

    fn decode(byte: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let qos = QoS::from_u8(byte & 0b11)?;
        match version {
            // 3.1.1 [MQTT-3.8.3-4]: the upper six bits are reserved and the packet is malformed
            // if any is set.
            ProtocolVersion::V311 => {
                if byte & 0b1111_1100 != 0 {
                    return Err(DecodeError::ReservedSubscriptionOptions);
                }
                Ok(SubscriptionOptions::qos(qos))
            }
            ProtocolVersion::V5 => {
                // [MQTT-3.8.3-5]: bits 6 and 7 are reserved.
                if byte & 0b1100_0000 != 0 {
                    return Err(DecodeError::ReservedSubscriptionOptions);
                }
                let retain_handling = match (byte >> 4) & 0b11 {
                    0 => RetainHandling::SendAtSubscribe,
                    1 => RetainHandling::SendAtSubscribeIfNew,
                    2 => RetainHandling::DoNotSend,
                    // "It is a Protocol Error to send a Retain Handling value of 3."
                    _ => return Err(DecodeError::InvalidRetainHandling),
                };
                Ok(SubscriptionOptions {
                    qos,
                    no_local: byte & 0b0000_0100 != 0,
                    retain_as_published: byte & 0b0000_1000 != 0,
                    retain_handling,
                })
            }
        }
    }

    fn encode(&self, version: ProtocolVersion) -> u8 {
        let mut byte = self.qos as u8;
        if version == ProtocolVersion::V5 {
            if self.no_local {
                byte |= 0b0000_0100;
            }
            if self.retain_as_published {
                byte |= 0b0000_1000;
            }
            byte |= match self.retain_handling {
                RetainHandling::SendAtSubscribe => 0,
                RetainHandling::SendAtSubscribeIfNew => 1,
                RetainHandling::DoNotSend => 2,
            } << 4;
        }
        byte
    }
}

/// A SUBSCRIBE packet (§3.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    /// The Packet Identifier.
    pub packet_id: PacketId,
    /// Properties (5.0 only).
    pub properties: SubscribeProperties,
    /// The topic filters with their options, at least one [MQTT-3.8.3-2]. Filters are only
    /// checked to be UTF-8 here; the broker parses them and answers 0x8F per filter.
    pub filters: Vec<(MqttString, SubscriptionOptions)>,
}

impl Subscribe {
    pub(crate) fn decode(
        mut reader: Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(&mut reader)?;
        let properties = match version {
            ProtocolVersion::V5 => SubscribeProperties::decode(&mut reader)?,
            ProtocolVersion::V311 => SubscribeProperties::default(),
        };
        let mut filters = Vec::new();
        while !reader.is_empty() {
            let filter = reader.string()?;
            let options = SubscriptionOptions::decode(reader.u8()?, version)?;
            filters.push((filter, options));
        }
        // [MQTT-3.8.3-2]: "The Payload MUST contain at least one Topic Filter and Subscription
        // Options pair." A SUBSCRIBE with none is a Protocol Error.
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters("SUBSCRIBE"));
        }
        Ok(Subscribe {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::Empty("SUBSCRIBE"));
        }
        let props_len = match version {
            ProtocolVersion::V5 => Some(self.properties.content_len()?),
            ProtocolVersion::V311 => None,
        };
        let remaining = 2
            + props_len.map_or(0, |l| wire::varint_len(l) + l)
            + self
                .filters
                .iter()
                .map(|(f, _)| wire::binary_len(f.as_bytes()) + 1)
                .sum::<usize>();
        // SUBSCRIBE's fixed header flags are 0b0010 [MQTT-3.8.1-1].
        write_fixed_header(buf, 0x82, remaining)?;
        buf.put_u16(self.packet_id.get());
        if let Some(len) = props_len {
            self.properties.write(len, buf);
        }
        for (filter, options) in &self.filters {
            wire::put_binary(buf, filter.as_bytes());
            buf.put_u8(options.encode(version));
        }
        Ok(())
    }
}

/// An UNSUBSCRIBE packet (§3.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The Packet Identifier.
    pub packet_id: PacketId,
    /// Properties (5.0 only).
    pub properties: UnsubscribeProperties,
    /// The topic filters, at least one [MQTT-3.10.3-2].
    pub filters: Vec<MqttString>,
}

impl Unsubscribe {
    pub(crate) fn decode(
        mut reader: Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(&mut reader)?;
        let properties = match version {
            ProtocolVersion::V5 => UnsubscribeProperties::decode(&mut reader)?,
            ProtocolVersion::V311 => UnsubscribeProperties::default(),
        };
        let mut filters = Vec::new();
        while !reader.is_empty() {
            filters.push(reader.string()?);
        }
        // [MQTT-3.10.3-2]: "The Payload of an UNSUBSCRIBE packet MUST contain at least one Topic Filter."
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters("UNSUBSCRIBE"));
        }
        Ok(Unsubscribe {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::Empty("UNSUBSCRIBE"));
        }
        let props_len = match version {
            ProtocolVersion::V5 => Some(self.properties.content_len()?),
            ProtocolVersion::V311 => None,
        };
        let remaining = 2
            + props_len.map_or(0, |l| wire::varint_len(l) + l)
            + self
                .filters
                .iter()
                .map(|f| wire::binary_len(f.as_bytes()))
                .sum::<usize>();
        // UNSUBSCRIBE's fixed header flags are 0b0010 [MQTT-3.10.1-1].
        write_fixed_header(buf, 0xA2, remaining)?;
        buf.put_u16(self.packet_id.get());
        if let Some(len) = props_len {
            self.properties.write(len, buf);
        }
        for filter in &self.filters {
            wire::put_binary(buf, filter.as_bytes());
        }
        Ok(())
    }
}
