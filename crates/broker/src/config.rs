//! Broker limits and behaviour, with defaults that follow AWS IoT Core where it sets one and the
//! MQTT specification otherwise.

use std::time::Duration;

use mqtt_codec::QoS;
use mqtt_topic::TopicLimits;

pub use crate::durable::StoreFull;

/// What happens when a persistent session's queue is full and another QoS 1 or 2 message arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum QueueOverflow {
    /// Drop the new message and count it (AWS IoT Core: "overflow is dropped").
    #[default]
    DropNew,
    /// Disconnect the subscriber with 0x97 Quota exceeded (MQTT 5.0) and drop the message.
    Disconnect,
    /// Drop the oldest queued message (not one already sent and awaiting its acknowledgement)
    /// to make room for the new one, and count it.
    DropOldest,
}

/// The broker's configuration.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// Largest packet accepted from clients, advertised as Maximum Packet Size in CONNACK.
    pub max_packet_size: u32,
    /// How many QoS 1 and 2 PUBLISH a client may have unacknowledged towards the server
    /// (Receive Maximum in CONNACK, §3.2.2.3.3).
    pub receive_maximum: u16,
    /// The most QoS 1 and 2 deliveries the server keeps in flight to one client, whatever
    /// larger Receive Maximum the client allows.
    pub max_inflight: u16,
    /// The highest Topic Alias a client may use towards the server (0 disables aliases).
    pub topic_alias_maximum: u16,
    /// The highest Topic Alias the server uses towards a client that allows them.
    pub outgoing_topic_alias_maximum: u16,
    /// The highest QoS the server supports; below 2 it is advertised as Maximum QoS.
    pub maximum_qos: QoS,
    /// Keep Alive the server imposes when a client asks for none or for more (seconds);
    /// sent as Server Keep Alive to 5.0 clients. `None` accepts the client's value.
    pub max_keep_alive: Option<u16>,
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout: Duration,
    /// The most concurrent client connections.
    pub max_connections: usize,
    /// The longest Client Identifier accepted (AWS IoT: 128 bytes).
    pub max_client_id_len: usize,
    /// The longest Session Expiry Interval granted, in seconds; 3.1.1 persistent sessions get
    /// this value (AWS IoT's default is one hour).
    pub max_session_expiry: u32,
    /// The most messages queued for one session (offline, or waiting for its inflight window).
    pub max_session_queue: usize,
    /// The most payload bytes queued for one session.
    pub max_session_queue_bytes: usize,
    /// What happens past `max_session_queue` for QoS 1 and 2.
    pub queue_overflow: QueueOverflow,
    /// The most bytes of encoded packets buffered for one connection before deliveries wait in
    /// its queue.
    pub max_write_buffer: usize,
    /// The most subscriptions one session may hold (AWS IoT: 50 by default).
    pub max_subscriptions_per_session: usize,
    /// The most retained messages kept.
    pub max_retained_messages: usize,
    /// The most bytes of messages the durable store holds for persistent sessions (encoded
    /// packets; retained messages are bounded by `max_retained_messages` instead).
    pub max_stored_bytes: u64,
    /// What happens past `max_stored_bytes`.
    pub store_full: StoreFull,
    /// Topic length and depth limits; `TopicLimits::AWS_IOT` applies AWS IoT Core's.
    pub topic_limits: TopicLimits,
    /// How long a publisher waits for a congested subscriber's queue to drain before it reads
    /// on and the subscriber is treated as slow (its excess QoS 0 messages dropped).
    pub backpressure_timeout: Duration,
    /// How long a shutdown waits for connections to flush before giving up.
    pub shutdown_grace: Duration,
    /// Whether AWS IoT lifecycle events (`$aws/events/presence/...` and
    /// `$aws/events/subscriptions/...`) are published; AWS IoT always publishes them.
    pub lifecycle_events: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            max_packet_size: 256 * 1024,
            receive_maximum: 1024,
            max_inflight: 1024,
            topic_alias_maximum: 64,
            outgoing_topic_alias_maximum: 64,
            maximum_qos: QoS::ExactlyOnce,
            max_keep_alive: Some(1200),
            connect_timeout: Duration::from_secs(10),
            max_connections: 100_000,
            max_client_id_len: 128,
            max_session_expiry: 3600,
            max_session_queue: 1000,
            max_session_queue_bytes: 64 * 1024 * 1024,
            queue_overflow: QueueOverflow::DropNew,
            max_write_buffer: 256 * 1024,
            max_subscriptions_per_session: 1000,
            max_retained_messages: 100_000,
            max_stored_bytes: 1 << 30,
            store_full: StoreFull::Refuse,
            topic_limits: TopicLimits::MQTT,
            backpressure_timeout: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(5),
            lifecycle_events: true,
        }
    }
}
