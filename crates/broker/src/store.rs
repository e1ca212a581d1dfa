//! The durability seam: the rows the broker keeps so that a restart, graceful or not, loses
//! nothing it acknowledged, and the trait a backend implements to keep them.
//!
//! The broker's live state is in memory ([`crate::session::Session`], the retained store). What
//! must outlive the process is written through [`crate::durable`]'s single writer, which turns
//! the broker's changes into one [`Batch`] per transaction and hands it to a
//! [`DurableBackend`]. When a broker starts, it restores what [`DurableBackend::load`] returns.
//!
//! The rows:
//! - a persistent session ([`StoredSession`]): Client Identifier, a `uid` that changes whenever a
//!   new session replaces the old one under the same Client Identifier, its expiry, its
//!   subscriptions, and a will waiting for its Will Delay;
//! - a message held for at least one persistent session ([`StoredMessage`]), written once
//!   however many sessions hold it;
//! - one [`StoredDelivery`] per session and message: queued, or sent and not yet acknowledged;
//! - retained messages ([`StoredRetained`]).
//!
//! Messages are kept as encoded MQTT 5 PUBLISH packets: topic, payload, QoS, RETAIN and every
//! property, in the codec's own tested format.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use bytes::Bytes;
use mqtt_codec::SubscriptionOptions;
use parking_lot::Mutex;

/// The error a backend reports; the writer logs it and retries the batch.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One subscription of a persistent session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistedSubscription {
    /// The filter as the client sent it (including `$share/{group}/`).
    pub filter: String,
    /// The granted options.
    pub options: SubscriptionOptions,
    /// The Subscription Identifier.
    pub identifier: Option<NonZeroU32>,
}

/// A will waiting for its Will Delay Interval when its connection closed (§3.1.3.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredWill {
    /// The will, as an encoded MQTT 5 PUBLISH.
    pub packet: Bytes,
    /// When it is due, in milliseconds since the Unix epoch.
    pub due_at_ms: u64,
    /// When it expires (Message Expiry Interval), in milliseconds since the Unix epoch.
    pub expires_at_ms: Option<u64>,
}

/// The durable part of a persistent session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    /// The Client Identifier.
    pub client_id: String,
    /// This session's identity: a new session under the same Client Identifier gets a new one,
    /// so deliveries of the one it replaced cannot be taken for its own.
    pub uid: u64,
    /// The Session Expiry Interval in seconds.
    pub expiry_interval: u32,
    /// Whether a connection owned the session when the row was written. An online session's
    /// expiry starts when its connection closes; after a crash, that is when thingd restarts.
    pub online: bool,
    /// When the row was written, in milliseconds since the Unix epoch: for an offline session,
    /// when its connection closed, from which its expiry counts.
    pub saved_at_ms: u64,
    /// The subscriptions.
    pub subscriptions: Vec<PersistedSubscription>,
    /// A will waiting for its delay.
    pub will: Option<StoredWill>,
    /// Packet Identifiers of QoS 2 messages received from the client and acknowledged with
    /// PUBREC, awaiting PUBREL: a resent PUBLISH with one of them is not delivered again
    /// [MQTT-4.3.3-...], across a restart too.
    pub incoming_qos2: Vec<u16>,
}

/// A message held for one or more persistent sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its id, unique in the store (allocated by the broker, never reused).
    pub id: u64,
    /// The message as an encoded MQTT 5 PUBLISH.
    pub packet: Bytes,
    /// When the server received it, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// When it expires, in milliseconds since the Unix epoch.
    pub expires_at_ms: Option<u64>,
}

/// Where a stored delivery is in its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeliveryStage {
    /// Queued: not sent yet.
    Queued,
    /// Sent with a Packet Identifier, not yet acknowledged (PUBACK, or PUBREC for QoS 2).
    Sent,
    /// QoS 2: PUBREC received and PUBREL sent, waiting for PUBCOMP.
    Released,
}

impl DeliveryStage {
    /// The stage as a small integer, for a column.
    pub fn as_i64(self) -> i64 {
        match self {
            DeliveryStage::Queued => 0,
            DeliveryStage::Sent => 1,
            DeliveryStage::Released => 2,
        }
    }

    /// The stage a column holds; `None` for a value no version wrote.
    pub fn from_i64(value: i64) -> Option<DeliveryStage> {
        match value {
            0 => Some(DeliveryStage::Queued),
            1 => Some(DeliveryStage::Sent),
            2 => Some(DeliveryStage::Released),
            _ => None,
        }
    }
}

/// One message on its way to one persistent session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDelivery {
    /// The session's `uid`.
    pub uid: u64,
    /// The delivery's place in the session's queue (increasing in the order of arrival).
    pub seq: u64,
    /// The message.
    pub message_id: u64,
    /// The QoS to deliver with (1 or 2).
    pub qos: u8,
    /// The RETAIN flag to send.
    pub retain: bool,
    /// The Subscription Identifiers to send.
    pub subscription_ids: Vec<u32>,
    /// The Packet Identifier it was sent with, once sent.
    pub packet_id: Option<u16>,
    /// Its stage.
    pub stage: DeliveryStage,
}

/// A retained message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRetained {
    /// The topic.
    pub topic: String,
    /// The message as an encoded MQTT 5 PUBLISH.
    pub packet: Bytes,
    /// When the server received it, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// When it expires, in milliseconds since the Unix epoch.
    pub expires_at_ms: Option<u64>,
}

/// Everything a backend holds, as a broker restores it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Persistent sessions.
    pub sessions: Vec<StoredSession>,
    /// Messages held for them.
    pub messages: Vec<StoredMessage>,
    /// Their deliveries, in any order (the broker sorts them by session and `seq`).
    pub deliveries: Vec<StoredDelivery>,
    /// Retained messages.
    pub retained: Vec<StoredRetained>,
}

/// The changes of one transaction. A backend applies them in the order of the fields:
/// sessions, then messages, then deliveries, then retained messages; deletions of a kind
/// before its inserts, so a row deleted and rewritten in one batch ends rewritten.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Sessions that ended: the row of this Client Identifier if it still has this `uid`, and
    /// every delivery of the `uid`.
    pub sessions_deleted: Vec<(String, u64)>,
    /// Sessions written (replacing the row of the same Client Identifier).
    pub sessions_written: Vec<StoredSession>,
    /// Messages no delivery holds any more.
    pub messages_deleted: Vec<u64>,
    /// New messages.
    pub messages_inserted: Vec<StoredMessage>,
    /// Deliveries acknowledged, dropped or expired: `(uid, seq)`.
    pub deliveries_deleted: Vec<(u64, u64)>,
    /// New deliveries.
    pub deliveries_inserted: Vec<StoredDelivery>,
    /// Deliveries that were sent or released: `(uid, seq, packet_id, stage)`.
    pub deliveries_updated: Vec<(u64, u64, u16, DeliveryStage)>,
    /// Retained messages cleared.
    pub retained_deleted: Vec<String>,
    /// Retained messages set (replacing any on the same topic).
    pub retained_written: Vec<StoredRetained>,
}

impl Batch {
    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.sessions_deleted.is_empty()
            && self.sessions_written.is_empty()
            && self.messages_deleted.is_empty()
            && self.messages_inserted.is_empty()
            && self.deliveries_deleted.is_empty()
            && self.deliveries_inserted.is_empty()
            && self.deliveries_updated.is_empty()
            && self.retained_deleted.is_empty()
            && self.retained_written.is_empty()
    }

    /// How many rows it writes or deletes.
    pub fn rows(&self) -> usize {
        self.sessions_deleted.len()
            + self.sessions_written.len()
            + self.messages_deleted.len()
            + self.messages_inserted.len()
            + self.deliveries_deleted.len()
            + self.deliveries_inserted.len()
            + self.deliveries_updated.len()
            + self.retained_deleted.len()
            + self.retained_written.len()
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.sessions_deleted.clear();
        self.sessions_written.clear();
        self.messages_deleted.clear();
        self.messages_inserted.clear();
        self.deliveries_deleted.clear();
        self.deliveries_inserted.clear();
        self.deliveries_updated.clear();
        self.retained_deleted.clear();
        self.retained_written.clear();
    }
}

/// Keeps the broker's durable rows.
///
/// One writer task owns the backend: calls never overlap. `commit` returns once the batch is
/// durable (for SQLite: committed with `synchronous = FULL`), and applies all of it or none.
#[async_trait::async_trait]
pub trait DurableBackend: Send + 'static {
    /// Everything stored, to restore when a broker starts.
    async fn load(&mut self) -> Result<Snapshot, BackendError>;
    /// Applies `batch` in one transaction.
    async fn commit(&mut self, batch: &Batch) -> Result<(), BackendError>;
}

/// The tables of [`MemoryBackend`].
#[derive(Debug, Default)]
struct MemoryTables {
    sessions: BTreeMap<String, StoredSession>,
    messages: BTreeMap<u64, StoredMessage>,
    deliveries: BTreeMap<(u64, u64), StoredDelivery>,
    retained: BTreeMap<String, StoredRetained>,
}

/// A [`DurableBackend`] in memory: what it holds survives a broker restarted in the same
/// process on a clone of it, not a restart of the process. Clones share the tables.
#[derive(Clone, Debug, Default)]
pub struct MemoryBackend {
    tables: Arc<Mutex<MemoryTables>>,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// What it holds now.
    pub fn snapshot(&self) -> Snapshot {
        let tables = self.tables.lock();
        Snapshot {
            sessions: tables.sessions.values().cloned().collect(),
            messages: tables.messages.values().cloned().collect(),
            deliveries: tables.deliveries.values().cloned().collect(),
            retained: tables.retained.values().cloned().collect(),
        }
    }
}

#[async_trait::async_trait]
impl DurableBackend for MemoryBackend {
    async fn load(&mut self) -> Result<Snapshot, BackendError> {
        Ok(self.snapshot())
    }

    async fn commit(&mut self, batch: &Batch) -> Result<(), BackendError> {
        let mut tables = self.tables.lock();
        apply(&mut tables, batch);
        Ok(())
    }
}

/// Applies a batch to in-memory tables, in the order [`Batch`] documents.
fn apply(tables: &mut MemoryTables, batch: &Batch) {
    for (client_id, uid) in &batch.sessions_deleted {
        if tables
            .sessions
            .get(client_id)
            .is_some_and(|s| s.uid == *uid)
        {
            tables.sessions.remove(client_id);
        }
        tables.deliveries.retain(|(owner, _), _| owner != uid);
    }
    for session in &batch.sessions_written {
        tables
            .sessions
            .insert(session.client_id.clone(), session.clone());
    }
    for id in &batch.messages_deleted {
        tables.messages.remove(id);
    }
    for message in &batch.messages_inserted {
        tables.messages.insert(message.id, message.clone());
    }
    for key in &batch.deliveries_deleted {
        tables.deliveries.remove(key);
    }
    for delivery in &batch.deliveries_inserted {
        tables
            .deliveries
            .insert((delivery.uid, delivery.seq), delivery.clone());
    }
    for (uid, seq, packet_id, stage) in &batch.deliveries_updated {
        if let Some(delivery) = tables.deliveries.get_mut(&(*uid, *seq)) {
            delivery.packet_id = Some(*packet_id);
            delivery.stage = *stage;
        }
    }
    for topic in &batch.retained_deleted {
        tables.retained.remove(topic);
    }
    for retained in &batch.retained_written {
        tables
            .retained
            .insert(retained.topic.clone(), retained.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(uid: u64) -> StoredSession {
        StoredSession {
            client_id: "c".into(),
            uid,
            expiry_interval: 60,
            online: false,
            saved_at_ms: 1,
            subscriptions: Vec::new(),
            will: None,
            incoming_qos2: Vec::new(),
        }
    }

    fn delivery(uid: u64, seq: u64) -> StoredDelivery {
        StoredDelivery {
            uid,
            seq,
            message_id: 7,
            qos: 1,
            retain: false,
            subscription_ids: Vec::new(),
            packet_id: None,
            stage: DeliveryStage::Queued,
        }
    }

    #[tokio::test]
    async fn a_replaced_session_loses_its_deliveries_and_keeps_the_new_row() {
        let mut backend = MemoryBackend::new();
        let first = Batch {
            sessions_written: vec![session(1)],
            deliveries_inserted: vec![delivery(1, 1), delivery(1, 2)],
            ..Batch::default()
        };
        backend.commit(&first).await.unwrap();
        let second = Batch {
            sessions_deleted: vec![("c".into(), 1)],
            sessions_written: vec![session(2)],
            deliveries_updated: vec![(1, 1, 5, DeliveryStage::Sent)],
            ..Batch::default()
        };
        backend.commit(&second).await.unwrap();
        let loaded = backend.load().await.unwrap();
        assert_eq!(loaded.sessions, [session(2)]);
        assert!(loaded.deliveries.is_empty());
        // Deleting the old uid again does not touch the new row.
        let third = Batch {
            sessions_deleted: vec![("c".into(), 1)],
            ..Batch::default()
        };
        backend.commit(&third).await.unwrap();
        assert_eq!(backend.snapshot().sessions, [session(2)]);
    }
}
