//! PUBLISH (§3.3), and [`OutgoingPublish`], the borrowed form the broker encodes deliveries from.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{BufMut, Bytes, BytesMut};

use super::{packet_len, read_packet_id, write_fixed_header};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{
    PropertyId, PropertySet, PublishProperties, ValueRef, measure, write_property,
};
use crate::string::MqttString;
use crate::wire::{self, Reader};
use crate::{PacketId, ProtocolVersion, QoS};

/// A PUBLISH packet (§3.3).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Publish {
    /// DUP: this may be a re-delivery (§3.3.1.1).
    pub dup: bool,
    /// The QoS level (§3.3.1.2).
    pub qos: QoS,
    /// RETAIN (§3.3.1.3).
    pub retain: bool,
    /// The Topic Name; empty when a 5.0 Topic Alias stands for it (§3.3.2.1). Wildcards are not
    /// checked here: the broker parses the name into its topic type and answers 0x90.
    pub topic: MqttString,
    /// The Packet Identifier, present exactly when QoS > 0 (§3.3.2.2).
    pub packet_id: Option<PacketId>,
    /// PUBLISH properties (5.0 only).
    pub properties: PublishProperties,
    /// The Application Message, shared with the frame it was read from.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 PUBLISH of `payload` to `topic`.
    pub fn new(topic: MqttString, payload: Bytes) -> Self {
        Publish {
            topic,
            payload,
            ..Publish::default()
        }
    }

    /// A QoS 1 or 2 PUBLISH (or QoS 0 when `qos` says so, in which case `packet_id` is dropped).
    pub fn with_qos(topic: MqttString, payload: Bytes, qos: QoS, packet_id: PacketId) -> Self {
        let packet_id = (qos != QoS::AtMostOnce).then_some(packet_id);
        Publish {
            topic,
            payload,
            qos,
            packet_id,
            ..Publish::default()
        }
    }

    pub(crate) fn decode(
        flags: u8,
        mut reader: Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let dup = flags & 0b1000 != 0;
        // [MQTT-3.3.1-4]: "A PUBLISH Packet MUST NOT have both QoS bits set to 1."
        let qos = QoS::from_u8((flags >> 1) & 0b11)?;
        let retain = flags & 0b0001 != 0;
        // [MQTT-3.3.1-2]: "The DUP flag MUST be set to 0 for all QoS 0 messages."
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupOnQoS0);
        }
        let topic = reader.string()?;
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce | QoS::ExactlyOnce => Some(read_packet_id(&mut reader)?),
        };
        let properties = match version {
            ProtocolVersion::V5 => PublishProperties::decode(&mut reader)?,
            ProtocolVersion::V311 => PublishProperties::default(),
        };
        let payload = reader.rest();
        Ok(Publish {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            properties,
            payload,
        })
    }

    /// This packet as an [`OutgoingPublish`], with its own alias and subscription identifiers.
    pub fn as_outgoing(&self) -> OutgoingPublish<'_> {
        OutgoingPublish {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            packet_id: self.packet_id,
            topic: self.topic.as_bytes(),
            topic_alias: self.properties.topic_alias,
            subscription_identifiers: &self.properties.subscription_identifiers,
            properties: &self.properties,
            payload: &self.payload,
        }
    }
}

/// A PUBLISH to encode, borrowing its parts.
///
/// The broker keeps one message (topic, properties, payload) for all its subscribers and encodes
/// each delivery with that subscriber's packet identifier, QoS, RETAIN, Topic Alias and
/// Subscription Identifiers; the Topic Alias and Subscription Identifiers inside `properties`
/// are ignored in favour of the fields here, because they belong to one connection
/// [MQTT-3.3.2-7] and one subscriber [MQTT-3.3.4-3].
#[derive(Clone, Copy, Debug)]
pub struct OutgoingPublish<'a> {
    /// DUP.
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// Packet Identifier, present exactly when QoS > 0.
    pub packet_id: Option<PacketId>,
    /// Topic Name bytes (UTF-8); empty to rely on an alias the receiver already knows.
    pub topic: &'a [u8],
    /// Topic Alias to send (5.0 only).
    pub topic_alias: Option<NonZeroU16>,
    /// Subscription Identifiers to send (5.0 only).
    pub subscription_identifiers: &'a [NonZeroU32],
    /// Message properties; its alias and subscription identifiers are ignored.
    pub properties: &'a PublishProperties,
    /// Payload.
    pub payload: &'a [u8],
}

impl OutgoingPublish<'_> {
    fn check(&self) -> Result<(), EncodeError> {
        if (self.qos == QoS::AtMostOnce) != self.packet_id.is_none() {
            return Err(EncodeError::PacketIdMismatch);
        }
        if self.topic.len() > usize::from(u16::MAX) {
            return Err(EncodeError::FieldTooLong(self.topic.len()));
        }
        Ok(())
    }

    /// The size of the properties without their length prefix.
    fn properties_len(&self) -> Result<usize, EncodeError> {
        measure(|sink| self.visit_properties(sink))
    }

    fn visit_properties(&self, sink: &mut dyn FnMut(PropertyId, ValueRef<'_>)) {
        let overridden = |id: PropertyId| {
            matches!(
                id,
                PropertyId::TopicAlias | PropertyId::SubscriptionIdentifier
            )
        };
        self.properties.visit(&mut |id, value| {
            if !overridden(id) {
                sink(id, value);
            }
        });
        if let Some(alias) = self.topic_alias {
            sink(PropertyId::TopicAlias, ValueRef::TwoByte(alias.get()));
        }
        for id in self.subscription_identifiers {
            sink(
                PropertyId::SubscriptionIdentifier,
                ValueRef::VariableByte(id.get()),
            );
        }
    }

    fn remaining_len(&self, version: ProtocolVersion) -> Result<(usize, usize), EncodeError> {
        self.check()?;
        let mut remaining = wire::binary_len(self.topic) + self.payload.len();
        if self.packet_id.is_some() {
            remaining += 2;
        }
        let props_len = match version {
            ProtocolVersion::V5 => self.properties_len()?,
            ProtocolVersion::V311 => 0,
        };
        if version == ProtocolVersion::V5 {
            remaining += wire::varint_len(props_len) + props_len;
        }
        Ok((remaining, props_len))
    }

    /// The encoded size, to compare with the receiver's Maximum Packet Size [MQTT-3.1.2-24].
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        packet_len(self.remaining_len(version)?.0)
    }

    /// Appends the PUBLISH to `buf`.
    pub fn encode(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let (remaining, props_len) = self.remaining_len(version)?;
        let mut first = 0x30 | (self.qos as u8) << 1;
        if self.dup {
            first |= 0b1000;
        }
        if self.retain {
            first |= 0b0001;
        }
        write_fixed_header(buf, first, remaining)?;
        wire::put_binary(buf, self.topic);
        if let Some(id) = self.packet_id {
            buf.put_u16(id.get());
        }
        if version == ProtocolVersion::V5 {
            wire::put_varint(buf, props_len);
            self.visit_properties(&mut |id, value| write_property(buf, id, value));
        }
        buf.put_slice(self.payload);
        Ok(())
    }
}
