//! AWS IoT lifecycle events: the messages the broker publishes when a client connects,
//! disconnects, subscribes and unsubscribes (AWS IoT developer guide, "Lifecycle events").
//!
//! - `$aws/events/presence/connected/{clientId}`, once the CONNACK is on its way:
//!   `{"clientId","timestamp","eventType":"connected","sessionIdentifier","principalIdentifier",
//!   "ipAddress","versionNumber"}`;
//! - `$aws/events/presence/disconnected/{clientId}`, when that connection ends: the same
//!   without `ipAddress`, with `"clientInitiatedDisconnect"` and `"disconnectReason"`
//!   ([`DisconnectReason`]) and the `versionNumber` of its connected event;
//! - `$aws/events/subscriptions/subscribed/{clientId}` and `.../unsubscribed/{clientId}`, one per
//!   SUBSCRIBE or UNSUBSCRIBE packet, with `"topics"`: the filters granted, or removed.
//!
//! They are published as the server publishes anything ([`crate::Broker::publish`]): at QoS 1
//! (AWS does not document the QoS; 1 lets a subscriber that asks for it receive them reliably,
//! and one that subscribed at QoS 0 gets them at 0), not retained, delivered to each subscriber
//! its `iot:Receive` allows, and shown to hooks. `$` topics are not matched by leading wildcards
//! [MQTT-4.7.2-1], so subscribers to `#` never see them.
//!
//! - `sessionIdentifier` is a random (version 4) UUID per connection.
//! - `principalIdentifier` is the certificate id for connections with a client certificate;
//!   connections without credentials (plain TCP, WebSocket) are [`ANONYMOUS_PRINCIPAL`].
//! - `versionNumber` is the connection's start time in microseconds since the Unix epoch, made
//!   strictly increasing across the process by an atomic: it increases for a client id across
//!   reconnections (and across restarts, as far as the wall clock does) without any per-client
//!   memory. As AWS allows, it skips values; it stays below 2^53, so JSON readers keep it exact.
//! - Client ids containing `+` or `#` get no events, as in AWS IoT (they cannot be topic names).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use mqtt_codec::{PayloadFormat, PublishProperties, QoS, ReasonCode};
use mqtt_topic::{TopicLimits, TopicName};

use crate::message::{Message, now_ms};

/// The `principalIdentifier` of connections without credentials.
pub const ANONYMOUS_PRINCIPAL: &str = "anonymous";

/// Why a connection ended, in AWS IoT's terms (`disconnectReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client's certificate was deactivated, revoked or deleted.
    AuthError,
    /// The client sent DISCONNECT.
    ClientInitiatedDisconnect,
    /// The client broke the protocol (malformed packet, second CONNECT, ...).
    ClientError,
    /// The network connection was lost or closed without DISCONNECT.
    ConnectionLost,
    /// Another connection took over the client id.
    DuplicateClientId,
    /// The client's rights no longer allow what it did (a publish a 3.1.1 client may not make,
    /// `iot:Connect` revoked).
    ForbiddenAccess,
    /// No packet within 1.5 times the Keep Alive.
    MqttKeepAliveTimeout,
    /// An unexpected server-side failure.
    ServerError,
    /// The server closed the connection on purpose (shutdown).
    ServerInitiatedDisconnect,
    /// The client exceeded a quota (its queue overflowed).
    Throttled,
}

impl DisconnectReason {
    /// AWS IoT's name for the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::AuthError => "AUTH_ERROR",
            DisconnectReason::ClientInitiatedDisconnect => "CLIENT_INITIATED_DISCONNECT",
            DisconnectReason::ClientError => "CLIENT_ERROR",
            DisconnectReason::ConnectionLost => "CONNECTION_LOST",
            DisconnectReason::DuplicateClientId => "DUPLICATE_CLIENTID",
            DisconnectReason::ForbiddenAccess => "FORBIDDEN_ACCESS",
            DisconnectReason::MqttKeepAliveTimeout => "MQTT_KEEP_ALIVE_TIMEOUT",
            DisconnectReason::ServerError => "SERVER_ERROR",
            DisconnectReason::ServerInitiatedDisconnect => "SERVER_INITIATED_DISCONNECT",
            DisconnectReason::Throttled => "THROTTLED",
        }
    }

    /// The reason for a close the server decided with MQTT reason code `code`.
    pub fn for_server_close(code: ReasonCode) -> DisconnectReason {
        match code {
            ReasonCode::KeepAliveTimeout => DisconnectReason::MqttKeepAliveTimeout,
            ReasonCode::SessionTakenOver => DisconnectReason::DuplicateClientId,
            ReasonCode::ServerShuttingDown => DisconnectReason::ServerInitiatedDisconnect,
            ReasonCode::NotAuthorized => DisconnectReason::ForbiddenAccess,
            ReasonCode::QuotaExceeded | ReasonCode::MessageRateTooHigh => {
                DisconnectReason::Throttled
            }
            ReasonCode::ProtocolError
            | ReasonCode::MalformedPacket
            | ReasonCode::PacketTooLarge
            | ReasonCode::TopicNameInvalid
            | ReasonCode::TopicAliasInvalid
            | ReasonCode::ReceiveMaximumExceeded
            | ReasonCode::QoSNotSupported
            | ReasonCode::PayloadFormatInvalid
            | ReasonCode::UnsupportedProtocolVersion => DisconnectReason::ClientError,
            _ => DisconnectReason::ServerError,
        }
    }
}

/// One connection's identity in its lifecycle events.
#[derive(Clone, Debug)]
pub(crate) struct LifecycleSession {
    /// `sessionIdentifier`.
    pub(crate) session_identifier: Box<str>,
    /// `versionNumber`.
    pub(crate) version_number: u64,
}

/// The last version number handed out.
static LAST_VERSION: AtomicU64 = AtomicU64::new(0);

impl LifecycleSession {
    /// A new connection's identifiers.
    pub(crate) fn new() -> LifecycleSession {
        LifecycleSession {
            session_identifier: uuid_v4().into_boxed_str(),
            version_number: next_version(now_ms().saturating_mul(1000)),
        }
    }
}

/// The next version number: `now_us`, or one past the last one if the clock has not moved on.
fn next_version(now_us: u64) -> u64 {
    let mut last = LAST_VERSION.load(Ordering::Relaxed);
    loop {
        let next = now_us.max(last + 1);
        match LAST_VERSION.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// A random version 4 UUID, hyphenated lowercase.
fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    // The system random source is always available on the platforms thingd supports; should it
    // fail, the clock and the version counter still make the identifier unique in this process,
    // which is what a session identifier needs (it is not a secret).
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        let seed = next_version(now_ms().saturating_mul(1000));
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Who a lifecycle event is about.
#[derive(Debug)]
pub(crate) struct Subject<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) certificate_id: Option<&'a str>,
    pub(crate) session: &'a LifecycleSession,
}

impl Subject<'_> {
    fn principal(&self) -> &str {
        self.certificate_id.unwrap_or(ANONYMOUS_PRINCIPAL)
    }

    /// The common head of every event's JSON, without the closing brace.
    fn head(&self, event_type: &str, timestamp: u64) -> String {
        let mut json = String::with_capacity(256);
        json.push_str("{\"clientId\":");
        push_json_string(&mut json, self.client_id);
        let _ = write!(
            json,
            ",\"timestamp\":{timestamp},\"eventType\":\"{event_type}\""
        );
        json.push_str(",\"sessionIdentifier\":");
        push_json_string(&mut json, &self.session.session_identifier);
        json.push_str(",\"principalIdentifier\":");
        push_json_string(&mut json, self.principal());
        json
    }
}

/// `$aws/events/presence/connected/{clientId}`.
pub(crate) fn connected(subject: &Subject<'_>, remote_addr: SocketAddr) -> Option<Message> {
    let mut json = subject.head("connected", now_ms());
    json.push_str(",\"ipAddress\":");
    push_json_string(&mut json, &remote_addr.ip().to_string());
    let _ = write!(
        json,
        ",\"versionNumber\":{}}}",
        subject.session.version_number
    );
    event("$aws/events/presence/connected/", subject.client_id, json)
}

/// `$aws/events/presence/disconnected/{clientId}`.
pub(crate) fn disconnected(subject: &Subject<'_>, reason: DisconnectReason) -> Option<Message> {
    let mut json = subject.head("disconnected", now_ms());
    let _ = write!(
        json,
        ",\"clientInitiatedDisconnect\":{},\"disconnectReason\":\"{}\",\"versionNumber\":{}}}",
        reason == DisconnectReason::ClientInitiatedDisconnect,
        reason.as_str(),
        subject.session.version_number
    );
    event(
        "$aws/events/presence/disconnected/",
        subject.client_id,
        json,
    )
}

/// `$aws/events/subscriptions/subscribed/{clientId}` (or `unsubscribed`) listing `topics`.
pub(crate) fn subscriptions<'t>(
    subject: &Subject<'_>,
    subscribed: bool,
    topics: impl IntoIterator<Item = &'t str>,
) -> Option<Message> {
    let (event_type, prefix) = if subscribed {
        ("subscribed", "$aws/events/subscriptions/subscribed/")
    } else {
        ("unsubscribed", "$aws/events/subscriptions/unsubscribed/")
    };
    let mut json = subject.head(event_type, now_ms());
    json.push_str(",\"topics\":[");
    for (i, topic) in topics.into_iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        push_json_string(&mut json, topic);
    }
    json.push_str("]}");
    event(prefix, subject.client_id, json)
}

/// The event message on `{prefix}{client_id}`, or `None` for a client id that cannot end a
/// topic name (it holds a wildcard, or the name would be too long).
fn event(prefix: &str, client_id: &str, json: String) -> Option<Message> {
    if client_id.contains(['+', '#']) {
        return None;
    }
    // MQTT's limits, not AWS IoT's 8 levels: the client id is one name however many `/` it has.
    let topic = TopicName::parse(&format!("{prefix}{client_id}"), &TopicLimits::MQTT).ok()?;
    let properties = PublishProperties {
        payload_format_indicator: Some(PayloadFormat::Utf8),
        content_type: None,
        ..PublishProperties::default()
    };
    Some(Message::new(
        topic,
        Bytes::from(json),
        QoS::AtLeastOnce,
        false,
        properties,
    ))
}

/// Appends `s` to `out` as a JSON string.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(client_id: &'a str, session: &'a LifecycleSession) -> Subject<'a> {
        Subject {
            client_id,
            certificate_id: None,
            session,
        }
    }

    #[test]
    fn version_numbers_strictly_increase_even_when_the_clock_does_not() {
        let a = next_version(5);
        let b = next_version(5);
        assert!(b > a);
        let session = LifecycleSession::new();
        let later = LifecycleSession::new();
        assert!(later.version_number > session.version_number);
        assert!(later.version_number < 1 << 53);
    }

    #[test]
    fn session_identifiers_are_v4_uuids() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(id, uuid_v4());
    }

    #[test]
    fn payloads_escape_client_ids_and_topics() {
        let session = LifecycleSession::new();
        let message = subscriptions(
            &subject("a\"b\\c\u{1}", &session),
            true,
            ["x/\"y\"", "$share/g/z"],
        )
        .expect("an event");
        let json = std::str::from_utf8(&message.payload).expect("UTF-8");
        assert!(json.starts_with("{\"clientId\":\"a\\\"b\\\\c\\u0001\","));
        assert!(json.ends_with(",\"topics\":[\"x/\\\"y\\\"\",\"$share/g/z\"]}"));
        assert!(json.contains("\"principalIdentifier\":\"anonymous\""));
        assert_eq!(
            message.topic.as_str(),
            "$aws/events/subscriptions/subscribed/a\"b\\c\u{1}"
        );
        assert_eq!(message.qos, QoS::AtLeastOnce);
        assert!(!message.retain);
    }

    #[test]
    fn client_ids_with_wildcards_get_no_events() {
        let session = LifecycleSession::new();
        let addr: SocketAddr = "127.0.0.1:1".parse().expect("address");
        assert!(connected(&subject("a/+", &session), addr).is_none());
        assert!(disconnected(&subject("#", &session), DisconnectReason::ConnectionLost).is_none());
        assert!(connected(&subject("a/b", &session), addr).is_some());
    }

    #[test]
    fn server_closes_map_to_aws_reasons() {
        use DisconnectReason::*;
        for (code, reason) in [
            (ReasonCode::KeepAliveTimeout, MqttKeepAliveTimeout),
            (ReasonCode::SessionTakenOver, DuplicateClientId),
            (ReasonCode::ServerShuttingDown, ServerInitiatedDisconnect),
            (ReasonCode::NotAuthorized, ForbiddenAccess),
            (ReasonCode::QuotaExceeded, Throttled),
            (ReasonCode::MalformedPacket, ClientError),
            (ReasonCode::ProtocolError, ClientError),
            (ReasonCode::UnspecifiedError, ServerError),
        ] {
            assert_eq!(DisconnectReason::for_server_close(code), reason, "{code:?}");
        }
    }
}
