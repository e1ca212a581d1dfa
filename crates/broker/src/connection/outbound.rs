//! Outgoing deliveries: Packet Identifiers, Topic Aliases towards the client, Message Expiry,
//! the client's Maximum Packet Size, and encoding into the connection's write buffer.

use std::collections::HashMap;
use std::num::NonZeroU16;
use std::time::Instant;

use bytes::BytesMut;
use mqtt_codec::{Ack, OutgoingPublish, Packet, PacketId, ProtocolVersion, PublishProperties, QoS};

use crate::durable::DeliveryChange;
use crate::message::Delivery;
use crate::metrics::Metrics;
use crate::session::{InflightStage, SessionState};

/// Topic Aliases the server has told this client about (§3.3.2.3.4). They live as long as the
/// network connection [MQTT-3.3.2-7].
#[derive(Debug, Default)]
pub(crate) struct OutgoingAliases {
    maximum: u16,
    by_topic: HashMap<Box<str>, NonZeroU16>,
    by_alias: Vec<Box<str>>,
    next_victim: usize,
}

/// How a delivery names its topic.
enum AliasUse {
    /// No alias: send the topic name.
    None,
    /// The client knows this alias: send an empty topic and the alias.
    Known(NonZeroU16),
    /// Tell the client a new mapping: send the topic and the alias; `slot` is where to record it.
    Assign(NonZeroU16, usize),
}

impl OutgoingAliases {
    pub(crate) fn new(maximum: u16) -> Self {
        OutgoingAliases {
            maximum,
            ..OutgoingAliases::default()
        }
    }

    fn lookup(&self, topic: &str) -> AliasUse {
        if self.maximum == 0 {
            return AliasUse::None;
        }
        if let Some(alias) = self.by_topic.get(topic) {
            return AliasUse::Known(*alias);
        }
        // Fill free aliases first, then reuse them round-robin: a simple policy that pays off
        // for the repeated topics telemetry devices subscribe to.
        let slot = if self.by_alias.len() < usize::from(self.maximum) {
            self.by_alias.len()
        } else {
            self.next_victim
        };
        match u16::try_from(slot + 1).ok().and_then(NonZeroU16::new) {
            Some(alias) => AliasUse::Assign(alias, slot),
            None => AliasUse::None,
        }
    }

    fn commit(&mut self, topic: &str, slot: usize, alias: NonZeroU16) {
        let topic: Box<str> = Box::from(topic);
        if slot < self.by_alias.len() {
            let old = std::mem::replace(&mut self.by_alias[slot], topic.clone());
            self.by_topic.remove(&old);
            self.next_victim = (slot + 1) % usize::from(self.maximum);
        } else {
            self.by_alias.push(topic.clone());
        }
        self.by_topic.insert(topic, alias);
    }
}

/// What happened to one delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Encoded into the write buffer, with this Packet Identifier for QoS 1 and 2.
    Written(Option<u16>),
    /// Dropped: expired, too large for the client, or not authorized.
    Dropped,
}

/// The parts of a connection that encoding a delivery needs.
pub(crate) struct Encoder<'a> {
    pub(crate) version: ProtocolVersion,
    pub(crate) max_packet_size: usize,
    pub(crate) aliases: &'a mut OutgoingAliases,
    pub(crate) wbuf: &'a mut BytesMut,
    pub(crate) metrics: &'a Metrics,
    /// PUBLISH packets encoded, added to the shared counter once per batch.
    pub(crate) sent: &'a mut u64,
    /// The session's uid in the durable store.
    pub(crate) uid: u64,
    /// Progress of stored deliveries (sent, dropped), submitted to the store once per batch.
    pub(crate) progress: &'a mut Vec<DeliveryChange>,
    /// Where stored QoS 2 deliveries are encoded, with a durable store: they are written only
    /// once their Packet Identifier is stored (the connection holds them until then), so that
    /// after a restart the server neither sends them again as new nor gives their identifier,
    /// which the client may hold awaiting PUBREL, to another message [MQTT-4.3.3-...].
    pub(crate) held: Option<&'a mut BytesMut>,
}

impl Encoder<'_> {
    /// Encodes a delivery; QoS 1 and 2 deliveries get a Packet Identifier and are tracked in
    /// `state` until acknowledged. `dup_id` resends an inflight delivery with its identifier.
    pub(crate) fn publish(
        &mut self,
        delivery: Delivery,
        state: Option<&mut SessionState>,
        now: Instant,
    ) -> Sent {
        let stored = delivery.durable;
        let sent = self.encode(delivery, state, now);
        if let Some(seq) = stored {
            match sent {
                Sent::Written(Some(packet_id)) => self.progress.push(DeliveryChange::Sent {
                    uid: self.uid,
                    seq,
                    packet_id,
                }),
                // Written without an identifier cannot happen to a stored (QoS 1 or 2)
                // delivery; dropped ones are done with.
                Sent::Written(None) | Sent::Dropped => self
                    .progress
                    .push(DeliveryChange::Done { uid: self.uid, seq }),
            }
        }
        sent
    }

    fn encode(
        &mut self,
        delivery: Delivery,
        state: Option<&mut SessionState>,
        now: Instant,
    ) -> Sent {
        let message = &delivery.message;
        if message.is_expired(now) {
            // [MQTT-3.3.2-5]: an expired message is not delivered.
            Metrics::inc(&self.metrics.deliveries_expired_total);
            return Sent::Dropped;
        }
        // [MQTT-3.3.2-6]: forward the expiry interval that is left.
        let adjusted;
        let properties = match (self.version, message.remaining_expiry(now)) {
            (ProtocolVersion::V5, Some(left)) => {
                adjusted = with_expiry(&message.properties, left);
                &adjusted
            }
            _ => &message.properties,
        };
        let hold =
            delivery.qos == QoS::ExactlyOnce && delivery.durable.is_some() && self.held.is_some();
        let alias = match self.version {
            // A held packet goes out after packets written meanwhile: it may neither set an
            // alias they would use nor rely on one.
            ProtocolVersion::V5 if !hold => self.aliases.lookup(message.topic.as_str()),
            _ => AliasUse::None,
        };
        let mut outgoing = OutgoingPublish {
            dup: false,
            qos: delivery.qos,
            retain: delivery.retain,
            // A placeholder identifier sizes the packet exactly; the real one is allocated
            // only for a delivery that will be sent.
            packet_id: (delivery.qos != QoS::AtMostOnce)
                .then_some(PacketId::new(1))
                .flatten(),
            topic: message.topic.as_bytes(),
            topic_alias: None,
            subscription_identifiers: delivery.subscription_ids.as_slice(),
            properties,
            payload: &message.payload,
        };
        match alias {
            AliasUse::None => {}
            AliasUse::Known(alias) => {
                outgoing.topic = b"";
                outgoing.topic_alias = Some(alias);
            }
            AliasUse::Assign(alias, _) => outgoing.topic_alias = Some(alias),
        }
        let fits = outgoing
            .encoded_len(self.version)
            .is_ok_and(|len| len <= self.max_packet_size);
        if !fits {
            // [MQTT-3.1.2-25]: a packet larger than the client's Maximum Packet Size is discarded
            // as if it had been sent.
            Metrics::inc(&self.metrics.deliveries_too_large_total);
            return Sent::Dropped;
        }
        if let AliasUse::Assign(alias, slot) = alias {
            self.aliases.commit(message.topic.as_str(), slot, alias);
        }
        if delivery.qos != QoS::AtMostOnce {
            let Some(state) = state else {
                return Sent::Dropped;
            };
            let Some(id) = state.allocate_packet_id() else {
                return Sent::Dropped;
            };
            outgoing.packet_id = Some(id);
            let buffer = match (hold, self.held.as_deref_mut()) {
                (true, Some(held)) => held,
                _ => &mut *self.wbuf,
            };
            if outgoing.encode(self.version, buffer).is_err() {
                return Sent::Dropped;
            }
            state.track(id, delivery);
            *self.sent += 1;
            return Sent::Written(Some(id.get()));
        } else if outgoing.encode(self.version, self.wbuf).is_err() {
            return Sent::Dropped;
        }
        *self.sent += 1;
        Sent::Written(None)
    }

    /// Re-sends what a resumed session left unacknowledged, in the order it was first sent:
    /// PUBLISH with DUP set [MQTT-3.3.1-1] for messages without acknowledgement, PUBREL for
    /// QoS 2 messages that were received [MQTT-4.4.0-1].
    pub(crate) fn resend_inflight(&mut self, state: &mut SessionState, now: Instant) {
        for (id, entry) in state.inflight_in_order() {
            match entry.stage {
                InflightStage::AwaitingPubComp => {
                    let _ = Packet::PubRel(Ack::new(id)).encode(self.version, self.wbuf);
                }
                InflightStage::AwaitingPubAck | InflightStage::AwaitingPubRec => {
                    let message = &entry.delivery.message;
                    // The message is re-sent even if it expired: it was already delivered once
                    // under this identifier and the client must be able to complete the flow.
                    let properties = match (self.version, message.remaining_expiry(now)) {
                        (ProtocolVersion::V5, Some(left)) => with_expiry(&message.properties, left),
                        _ => message.properties.clone(),
                    };
                    let outgoing = OutgoingPublish {
                        dup: true,
                        qos: entry.delivery.qos,
                        retain: entry.delivery.retain,
                        packet_id: Some(id),
                        // Aliases do not survive the connection, so the topic is sent in full.
                        topic: message.topic.as_bytes(),
                        topic_alias: None,
                        subscription_identifiers: entry.delivery.subscription_ids.as_slice(),
                        properties: &properties,
                        payload: &message.payload,
                    };
                    if outgoing.encode(self.version, self.wbuf).is_ok() {
                        *self.sent += 1;
                    }
                }
            }
        }
    }
}

fn with_expiry(properties: &PublishProperties, seconds_left: u32) -> PublishProperties {
    let mut adjusted = properties.clone();
    adjusted.message_expiry_interval = Some(seconds_left);
    adjusted
}
