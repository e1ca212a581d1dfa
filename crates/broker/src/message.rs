//! Application messages as the broker routes them: one [`Message`] shared by every subscriber,
//! and one small [`Delivery`] per subscriber saying how it is sent.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mqtt_codec::{PublishProperties, QoS};
use mqtt_topic::{TopicLimits, TopicName};

use crate::session::SessionKey;

/// An application message, immutable once published and shared by every delivery of it.
#[derive(Debug)]
pub struct Message {
    /// The topic it was published to.
    pub topic: TopicName,
    /// The payload.
    pub payload: Bytes,
    /// The QoS it was published with.
    pub qos: QoS,
    /// Whether it was published with RETAIN.
    pub retain: bool,
    /// Its 5.0 properties, passed through unchanged [MQTT-3.3.2-17..20], without the Topic
    /// Alias and Subscription Identifiers, which belong to one hop.
    pub properties: PublishProperties,
    /// When it expires (from Message Expiry Interval, §3.3.2.3.3).
    pub expires_at: Option<Instant>,
    /// The session that published it, for No Local [MQTT-3.8.3-3]; `None` for messages the
    /// server itself publishes.
    pub origin: Option<SessionKey>,
    /// When the server received it, in milliseconds since the Unix epoch: the last-modified
    /// time of a retained message. A client's publishes share the time their read completed
    /// (one clock reading per read, not per message). Eight bytes rather than a `SystemTime`'s
    /// sixteen, since every message carries it.
    pub received_at_ms: u64,
}

impl Message {
    /// A message the server publishes (see [`crate::Broker::publish`]), received now, expiring
    /// after its Message Expiry Interval if it has one, published by no session.
    pub fn new(
        topic: TopicName,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        properties: PublishProperties,
    ) -> Message {
        let expires_at = properties
            .message_expiry_interval
            .map(|s| Instant::now() + Duration::from_secs(u64::from(s)));
        Message {
            topic,
            payload,
            qos,
            retain,
            properties,
            expires_at,
            origin: None,
            received_at_ms: now_ms(),
        }
    }

    /// When the server received it.
    pub fn received_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.received_at_ms)
    }

    /// Whether the message has expired at `now`.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The Message Expiry Interval left at `now`, in whole seconds, to forward in its place
    /// [MQTT-3.3.2-6]; `None` when the message does not expire.
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|at| {
            let left = at.saturating_duration_since(now).as_secs();
            u32::try_from(left).unwrap_or(u32::MAX)
        })
    }

    /// A copy whose payload and topic own their memory.
    ///
    /// Decoded payloads are slices of the connection's read buffer; a message kept for long
    /// (retained, or queued for an offline session) is copied so that it does not pin that
    /// whole buffer (the failure mode of rumqttd issue #1001).
    pub fn detached(&self) -> Message {
        Message {
            // Re-parsing a valid name cannot fail; the fallback keeps the shared name.
            topic: TopicName::parse(self.topic.as_str(), &TopicLimits::MQTT)
                .unwrap_or_else(|_| self.topic.clone()),
            payload: Bytes::copy_from_slice(&self.payload),
            qos: self.qos,
            retain: self.retain,
            properties: self.properties.clone(),
            expires_at: self.expires_at,
            origin: self.origin,
            received_at_ms: self.received_at_ms,
        }
    }
}

/// The current time in milliseconds since the Unix epoch (0 if the clock is set before it).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The Subscription Identifiers one delivery carries (§3.3.4): usually none or one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SubscriptionIds {
    /// No matching subscription had an identifier.
    #[default]
    None,
    /// One identifier.
    One(NonZeroU32),
    /// Several overlapping subscriptions had identifiers [MQTT-3.3.4-4].
    Many(Arc<[NonZeroU32]>),
}

impl SubscriptionIds {
    /// The identifiers as a slice.
    pub fn as_slice(&self) -> &[NonZeroU32] {
        match self {
            SubscriptionIds::None => &[],
            SubscriptionIds::One(id) => std::slice::from_ref(id),
            SubscriptionIds::Many(ids) => ids,
        }
    }

    /// Adds an identifier (used when merging overlapping subscriptions).
    pub fn push(&mut self, id: NonZeroU32) {
        *self = match std::mem::take(self) {
            SubscriptionIds::None => SubscriptionIds::One(id),
            SubscriptionIds::One(first) => SubscriptionIds::Many(Arc::from([first, id])),
            SubscriptionIds::Many(ids) => {
                let mut all = ids.to_vec();
                all.push(id);
                SubscriptionIds::Many(Arc::from(all))
            }
        };
    }
}

/// One message on its way to one session.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The shared message.
    pub message: Arc<Message>,
    /// The QoS to deliver with: the lower of the published QoS and the subscription's [MQTT-3.8.4-8].
    pub qos: QoS,
    /// The RETAIN flag to send [MQTT-3.3.1-8], [MQTT-3.3.1-12], [MQTT-3.3.1-13].
    pub retain: bool,
    /// The Subscription Identifiers to send.
    pub subscription_ids: SubscriptionIds,
    /// Its place in a persistent session's stored queue, when the durable store holds it: the
    /// connection reports its progress (sent, acknowledged) under this number.
    pub durable: Option<u64>,
}
