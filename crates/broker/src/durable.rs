//! The durable writer: one task that turns the broker's changes (sessions saved and ended,
//! messages queued for persistent sessions, deliveries sent and acknowledged, retained
//! messages set and cleared) into batches, commits each through the [`DurableBackend`] in one
//! transaction, and tells waiting connections how far it got.
//!
//! Connections never wait on the disk inline: they submit an [`Op`] (a mutex and a vector
//! push) and get a ticket; a QoS 1 or 2 PUBLISH that needed a write is acknowledged once the
//! writer's committed ticket reaches its own ([`Durable::committed`]), in the order the
//! PUBLISH packets arrived [MQTT-4.6.0-2]. While one commit is under way the next batch
//! gathers, so the cost of a commit (an fsync) is shared by every message that arrived
//! meanwhile: group commit.
//!
//! The writer keeps a model of what is on disk, so that a delivery queued and acknowledged
//! within one batch (an online subscriber that keeps up) never reaches the disk at all, and a
//! message is written once however many sessions hold it and deleted when the last one
//! acknowledges it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{Decoder, OutgoingPublish, Packet, PacketId, ProtocolVersion, QoS};
use mqtt_topic::{TopicLimits, TopicName};
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tracing::{error, warn};

use crate::message::{Message, SubscriptionIds, now_ms};
use crate::metrics::render_gauge;
use crate::store::{
    Batch, DeliveryStage, DurableBackend, Snapshot, StoredDelivery, StoredMessage, StoredRetained,
    StoredSession,
};

/// What happens when the store holds `max_stored_bytes` and another message would be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StoreFull {
    /// The publisher is refused: PUBACK or PUBREC 0x97 Quota exceeded (5.0); a 3.1.1 client,
    /// which has no negative acknowledgement, is disconnected so it does not take the message
    /// as accepted.
    #[default]
    Refuse,
    /// The message is stored and each session it is queued for drops its oldest queued message.
    DropOldest,
}

/// A new delivery of a message to a persistent session.
#[derive(Debug)]
pub(crate) struct NewDelivery {
    pub(crate) uid: u64,
    pub(crate) seq: u64,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    pub(crate) subscription_ids: SubscriptionIds,
}

/// A change to a stored delivery, made by the connection that sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeliveryChange {
    /// Sent with this Packet Identifier.
    Sent { uid: u64, seq: u64, packet_id: u16 },
    /// QoS 2: PUBREL sent for it.
    Released { uid: u64, seq: u64, packet_id: u16 },
    /// Acknowledged, or dropped (expired, refused, too large, evicted).
    Done { uid: u64, seq: u64 },
}

/// One change for the writer.
#[derive(Debug)]
pub(crate) enum Op {
    /// A persistent session's row (created or replaced).
    SaveSession(StoredSession),
    /// A session ended, or stopped being persistent: its row and deliveries go.
    EndSession { client_id: String, uid: u64 },
    /// A message queued for persistent sessions.
    Enqueue {
        id: u64,
        message: Arc<Message>,
        deliveries: Vec<NewDelivery>,
    },
    /// Deliveries sent, released or done.
    Deliveries(Vec<DeliveryChange>),
    /// A retained message set (`Some`) or cleared (`None`).
    Retain {
        topic: String,
        message: Option<Arc<Message>>,
    },
}

/// Counters of the writer, rendered as `thingd_store_*`.
#[derive(Debug, Default)]
pub(crate) struct StoreMetrics {
    commits: AtomicU64,
    rows: AtomicU64,
    errors: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) dropped_oldest: AtomicU64,
    messages: AtomicU64,
    deliveries: AtomicU64,
    last_commit_micros: AtomicU64,
}

#[derive(Debug, Default)]
struct Pending {
    ops: Vec<Op>,
    last_ticket: u64,
}

/// The handle connections use to reach the writer.
#[derive(Debug)]
pub(crate) struct Durable {
    pending: Mutex<Pending>,
    wake: Notify,
    committed: watch::Sender<u64>,
    next_message_id: AtomicU64,
    stored_bytes: AtomicU64,
    max_stored_bytes: u64,
    pub(crate) store_full: StoreFull,
    closing: AtomicBool,
    /// Changes submitted and not yet taken by the writer, to hold publishers back while the
    /// disk stalls (see [`Durable::is_backlogged`]).
    backlog: std::sync::atomic::AtomicUsize,
    pub(crate) metrics: StoreMetrics,
}

impl Durable {
    /// A handle whose message ids continue after `last_message_id`.
    fn new(last_message_id: u64, max_stored_bytes: u64, store_full: StoreFull) -> Durable {
        Durable {
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
            committed: watch::channel(0).0,
            next_message_id: AtomicU64::new(last_message_id.saturating_add(1)),
            stored_bytes: AtomicU64::new(0),
            max_stored_bytes,
            store_full,
            closing: AtomicBool::new(false),
            backlog: std::sync::atomic::AtomicUsize::new(0),
            metrics: StoreMetrics::default(),
        }
    }

    /// Queues a change; returns its ticket.
    pub(crate) fn submit(&self, op: Op) -> u64 {
        let mut pending = self.pending.lock();
        let first = pending.ops.is_empty();
        pending.ops.push(op);
        pending.last_ticket += 1;
        self.backlog.store(pending.ops.len(), Ordering::Relaxed);
        let ticket = pending.last_ticket;
        drop(pending);
        if first {
            self.wake.notify_one();
        }
        ticket
    }

    /// The ticket of the last change submitted: once committed, everything submitted before
    /// now is.
    pub(crate) fn last_ticket(&self) -> u64 {
        self.pending.lock().last_ticket
    }

    /// A receiver of the last committed ticket.
    pub(crate) fn committed(&self) -> watch::Receiver<u64> {
        self.committed.subscribe()
    }

    /// A fresh message id.
    pub(crate) fn message_id(&self) -> u64 {
        self.next_message_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether more changes wait for the writer than a healthy store ever lets gather (it takes
    /// them all at every commit): the disk stalls, and connections stop reading until it
    /// catches up, so that the changes waiting stay bounded.
    pub(crate) fn is_backlogged(&self) -> bool {
        self.backlog.load(Ordering::Relaxed) >= MAX_BACKLOG
    }

    /// Whether the store holds its configured maximum.
    pub(crate) fn is_full(&self) -> bool {
        self.stored_bytes.load(Ordering::Relaxed) >= self.max_stored_bytes
    }

    /// Renders the `thingd_store_*` metrics.
    pub(crate) fn render(&self, out: &mut String) {
        let m = &self.metrics;
        for (name, help, kind, value) in [
            (
                "store_commits_total",
                "Transactions the durable store committed.",
                "counter",
                &m.commits,
            ),
            (
                "store_rows_written_total",
                "Rows the durable store wrote or deleted.",
                "counter",
                &m.rows,
            ),
            (
                "store_commit_errors_total",
                "Commits that failed and were retried.",
                "counter",
                &m.errors,
            ),
            (
                "store_refused_total",
                "QoS 1 and 2 PUBLISH packets refused because the store was full.",
                "counter",
                &m.refused,
            ),
            (
                "store_dropped_oldest_total",
                "Queued messages dropped to make room (drop-oldest).",
                "counter",
                &m.dropped_oldest,
            ),
        ] {
            out.push_str(&format!(
                "# HELP thingd_{name} {help}\n# TYPE thingd_{name} {kind}\nthingd_{name} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        render_gauge(
            out,
            "store_bytes",
            "Bytes of messages held in the durable store.",
            self.stored_bytes.load(Ordering::Relaxed),
        );
        render_gauge(
            out,
            "store_messages",
            "Messages held in the durable store for persistent sessions.",
            m.messages.load(Ordering::Relaxed),
        );
        render_gauge(
            out,
            "store_deliveries",
            "Queued or unacknowledged deliveries to persistent sessions in the durable store.",
            m.deliveries.load(Ordering::Relaxed),
        );
        render_gauge(
            out,
            "store_last_commit_microseconds",
            "How long the last commit took.",
            m.last_commit_micros.load(Ordering::Relaxed),
        );
    }

    /// Asks the writer to commit what is pending and stop.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.wake.notify_one();
    }
}

/// A delivery as the writer models it.
#[derive(Debug)]
struct ModelDelivery {
    row: StoredDelivery,
    on_disk: bool,
    dirty: bool,
}

/// A message as the writer models it.
#[derive(Debug)]
struct ModelMessage {
    holders: u32,
    on_disk: bool,
    bytes: u64,
    pending: Option<Arc<Message>>,
}

/// What the writer knows is (or is about to be) on disk.
#[derive(Debug, Default)]
pub(crate) struct Model {
    /// Deliveries by session uid, then seq. A uid absent here is not (or no longer) stored.
    sessions: HashMap<u64, HashMap<u64, ModelDelivery>>,
    messages: HashMap<u64, ModelMessage>,
    /// Stored messages nothing holds, deleted by the first commit.
    orphans: Vec<u64>,
    /// Stored deliveries whose message is missing, deleted by the first commit.
    orphan_deliveries: Vec<(u64, u64)>,
    /// Sessions ended lately (this generation and the one before), whose late `SaveSession`
    /// (computed by a connection just before another ended the session, submitted just after)
    /// must not bring their row back over the row of the session that replaced them.
    ended: [std::collections::HashSet<u64>; 2],
    /// When `ended` last moved on a generation.
    ended_since: Option<Instant>,
}

/// The most changes that wait for the writer before connections stop reading.
const MAX_BACKLOG: usize = 100_000;

/// How long an ended session's uid is remembered: far longer than the few instructions
/// between a connection reading a session's row and submitting it.
const ENDED_MEMORY: Duration = Duration::from_secs(5);

/// What one batch changes before it is flattened into a [`Batch`].
#[derive(Debug, Default)]
struct Dirty {
    sessions: HashMap<String, StoredSession>,
    deliveries: Vec<(u64, u64)>,
    messages: Vec<u64>,
    retained: HashMap<String, Option<Arc<Message>>>,
}

impl Model {
    /// The model of what `snapshot` holds (the rows a restore kept).
    pub(crate) fn from_snapshot(snapshot: &Snapshot) -> (Model, u64) {
        let mut model = Model::default();
        for session in &snapshot.sessions {
            model.sessions.entry(session.uid).or_default();
        }
        for message in &snapshot.messages {
            model.messages.insert(
                message.id,
                ModelMessage {
                    holders: 0,
                    on_disk: true,
                    bytes: message.packet.len() as u64,
                    pending: None,
                },
            );
        }
        for delivery in &snapshot.deliveries {
            let Some(deliveries) = model.sessions.get_mut(&delivery.uid) else {
                // The restore ends the uid, which deletes its rows.
                continue;
            };
            let Some(message) = model.messages.get_mut(&delivery.message_id) else {
                // Its message is gone (a hand-edited file): the row can never be delivered.
                model.orphan_deliveries.push((delivery.uid, delivery.seq));
                continue;
            };
            message.holders += 1;
            deliveries.insert(
                delivery.seq,
                ModelDelivery {
                    row: delivery.clone(),
                    on_disk: true,
                    dirty: false,
                },
            );
        }
        // Messages no delivery holds (left by a version that crashed between its writes, or
        // by a hand-edited file) go with the first commit.
        model.orphans = model
            .messages
            .iter()
            .filter(|(_, m)| m.holders == 0)
            .map(|(id, _)| *id)
            .collect();
        for id in &model.orphans {
            model.messages.remove(id);
        }
        let bytes = model.messages.values().map(|m| m.bytes).sum();
        (model, bytes)
    }

    fn apply(&mut self, op: Op, batch: &mut Batch, dirty: &mut Dirty, durable: &Durable) {
        match op {
            Op::SaveSession(session) => {
                if self.ended.iter().any(|ended| ended.contains(&session.uid)) {
                    return;
                }
                self.sessions.entry(session.uid).or_default();
                dirty.sessions.insert(session.client_id.clone(), session);
            }
            Op::EndSession { client_id, uid } => {
                if dirty
                    .sessions
                    .get(&client_id)
                    .is_some_and(|pending| pending.uid == uid)
                {
                    dirty.sessions.remove(&client_id);
                }
                batch.sessions_deleted.push((client_id, uid));
                self.ended[0].insert(uid);
                // The backend deletes the uid's deliveries with the row; the messages only
                // they held go too.
                if let Some(deliveries) = self.sessions.remove(&uid) {
                    for (_, delivery) in deliveries {
                        self.release(delivery.row.message_id, batch, durable);
                    }
                }
            }
            Op::Enqueue {
                id,
                message,
                deliveries,
            } => {
                let mut holders = 0;
                for new in deliveries {
                    let Some(session) = self.sessions.get_mut(&new.uid) else {
                        // Not a stored session (any more): nothing to keep.
                        continue;
                    };
                    holders += 1;
                    session.insert(
                        new.seq,
                        ModelDelivery {
                            row: StoredDelivery {
                                uid: new.uid,
                                seq: new.seq,
                                message_id: id,
                                qos: new.qos as u8,
                                retain: new.retain,
                                subscription_ids: new
                                    .subscription_ids
                                    .as_slice()
                                    .iter()
                                    .map(|id| id.get())
                                    .collect(),
                                packet_id: None,
                                stage: DeliveryStage::Queued,
                            },
                            on_disk: false,
                            dirty: true,
                        },
                    );
                    dirty.deliveries.push((new.uid, new.seq));
                }
                if holders > 0 {
                    self.messages.insert(
                        id,
                        ModelMessage {
                            holders,
                            on_disk: false,
                            bytes: 0,
                            pending: Some(message),
                        },
                    );
                    dirty.messages.push(id);
                }
            }
            Op::Deliveries(changes) => {
                for change in changes {
                    self.change(change, batch, dirty, durable);
                }
            }
            Op::Retain { topic, message } => {
                dirty.retained.insert(topic, message);
            }
        }
    }

    fn change(
        &mut self,
        change: DeliveryChange,
        batch: &mut Batch,
        dirty: &mut Dirty,
        durable: &Durable,
    ) {
        let (uid, seq, update) = match change {
            DeliveryChange::Sent {
                uid,
                seq,
                packet_id,
            } => (uid, seq, Some((packet_id, DeliveryStage::Sent))),
            DeliveryChange::Released {
                uid,
                seq,
                packet_id,
            } => (uid, seq, Some((packet_id, DeliveryStage::Released))),
            DeliveryChange::Done { uid, seq } => (uid, seq, None),
        };
        let Some(session) = self.sessions.get_mut(&uid) else {
            return;
        };
        match update {
            Some((packet_id, stage)) => {
                if let Some(delivery) = session.get_mut(&seq) {
                    delivery.row.packet_id = Some(packet_id);
                    delivery.row.stage = stage;
                    if !delivery.dirty {
                        delivery.dirty = true;
                        dirty.deliveries.push((uid, seq));
                    }
                }
            }
            None => {
                if let Some(delivery) = session.remove(&seq) {
                    if delivery.on_disk {
                        batch.deliveries_deleted.push((uid, seq));
                    }
                    self.release(delivery.row.message_id, batch, durable);
                }
            }
        }
    }

    /// One holder of message `id` let go; the last one deletes it.
    fn release(&mut self, id: u64, batch: &mut Batch, durable: &Durable) {
        let Some(message) = self.messages.get_mut(&id) else {
            return;
        };
        message.holders = message.holders.saturating_sub(1);
        if message.holders > 0 {
            return;
        }
        if let Some(message) = self.messages.remove(&id)
            && message.on_disk
        {
            batch.messages_deleted.push(id);
            durable
                .stored_bytes
                .fetch_sub(message.bytes, Ordering::Relaxed);
        }
    }

    /// Turns what `dirty` gathered into rows of `batch`.
    fn flush(&mut self, dirty: &mut Dirty, batch: &mut Batch, durable: &Durable) {
        let now = Instant::now();
        let since = *self.ended_since.get_or_insert(now);
        if now.duration_since(since) >= ENDED_MEMORY {
            // The older generation is forgotten; this one becomes the older.
            self.ended.swap(0, 1);
            self.ended[0].clear();
            self.ended_since = Some(now);
        }
        batch
            .sessions_written
            .extend(dirty.sessions.drain().map(|(_, s)| s));
        for id in dirty.messages.drain(..) {
            let Some(message) = self.messages.get_mut(&id) else {
                continue;
            };
            let Some(pending) = message.pending.take() else {
                continue;
            };
            let packet = encode_message(&pending);
            message.on_disk = true;
            message.bytes = packet.len() as u64;
            durable
                .stored_bytes
                .fetch_add(message.bytes, Ordering::Relaxed);
            batch.messages_inserted.push(StoredMessage {
                id,
                packet,
                received_at_ms: pending.received_at_ms,
                expires_at_ms: expires_at_ms(&pending),
            });
        }
        for (uid, seq) in dirty.deliveries.drain(..) {
            let Some(delivery) = self.sessions.get_mut(&uid).and_then(|s| s.get_mut(&seq)) else {
                continue;
            };
            if !delivery.dirty {
                continue;
            }
            delivery.dirty = false;
            if delivery.on_disk {
                if let Some(packet_id) = delivery.row.packet_id {
                    batch
                        .deliveries_updated
                        .push((uid, seq, packet_id, delivery.row.stage));
                }
            } else {
                delivery.on_disk = true;
                batch.deliveries_inserted.push(delivery.row.clone());
            }
        }
        for (topic, message) in dirty.retained.drain() {
            match message {
                Some(message) => batch.retained_written.push(StoredRetained {
                    topic,
                    packet: encode_message(&message),
                    received_at_ms: message.received_at_ms,
                    expires_at_ms: expires_at_ms(&message),
                }),
                None => batch.retained_deleted.push(topic),
            }
        }
    }

    fn counts(&self) -> (u64, u64) {
        let deliveries = self.sessions.values().map(|s| s.len() as u64).sum();
        (self.messages.len() as u64, deliveries)
    }
}

/// The durable state of a broker that is starting: the handle, and what its writer needs.
pub(crate) struct Opened {
    pub(crate) durable: Arc<Durable>,
    model: Model,
    backend: Box<dyn DurableBackend>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").finish_non_exhaustive()
    }
}

/// Loads what `backend` holds: the snapshot to restore, and the handle to write through
/// (whose writer starts with [`Opened::start_writer`], after the restore submitted its own
/// clean-up).
pub(crate) async fn open(
    mut backend: Box<dyn DurableBackend>,
    max_stored_bytes: u64,
    store_full: StoreFull,
) -> Result<(Opened, Snapshot), crate::store::BackendError> {
    let snapshot = backend.load().await?;
    let (model, stored_bytes) = Model::from_snapshot(&snapshot);
    let last_message_id = snapshot.messages.iter().map(|m| m.id).max().unwrap_or(0);
    let durable = Arc::new(Durable::new(last_message_id, max_stored_bytes, store_full));
    durable.stored_bytes.store(stored_bytes, Ordering::Relaxed);
    Ok((
        Opened {
            durable,
            model,
            backend,
        },
        snapshot,
    ))
}

impl Opened {
    /// Starts the writer task.
    pub(crate) fn start_writer(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(write_loop(self.durable, self.backend, self.model))
    }
}

/// The writer: gathers what was submitted, commits it, publishes the committed ticket.
async fn write_loop(durable: Arc<Durable>, mut backend: Box<dyn DurableBackend>, mut model: Model) {
    let mut batch = Batch::default();
    let mut dirty = Dirty::default();
    let mut ops = Vec::new();
    batch.messages_deleted.append(&mut model.orphans);
    batch
        .deliveries_deleted
        .append(&mut model.orphan_deliveries);
    loop {
        let notified = durable.wake.notified();
        let ticket = {
            let mut pending = durable.pending.lock();
            std::mem::swap(&mut pending.ops, &mut ops);
            durable.backlog.store(0, Ordering::Relaxed);
            pending.last_ticket
        };
        if ops.is_empty() && batch.is_empty() {
            if durable.closing.load(Ordering::Acquire) {
                return;
            }
            notified.await;
            continue;
        }
        for op in ops.drain(..) {
            model.apply(op, &mut batch, &mut dirty, &durable);
        }
        model.flush(&mut dirty, &mut batch, &durable);
        if !batch.is_empty() && !commit(&mut backend, &batch, &durable).await {
            // Given up at shutdown: nothing waiting on these changes is acknowledged.
            return;
        }
        let (messages, deliveries) = model.counts();
        durable.metrics.messages.store(messages, Ordering::Relaxed);
        durable
            .metrics
            .deliveries
            .store(deliveries, Ordering::Relaxed);
        batch.clear();
        durable.committed.send_replace(ticket);
    }
}

/// Commits `batch`, retrying until it is durable: nothing waiting on it may be acknowledged
/// before then, so a failing disk stalls acknowledgements rather than losing messages.
/// `false` when it gave up, at shutdown.
async fn commit(backend: &mut Box<dyn DurableBackend>, batch: &Batch, durable: &Durable) -> bool {
    let mut backoff = Duration::from_millis(50);
    loop {
        let started = Instant::now();
        match backend.commit(batch).await {
            Ok(()) => {
                let m = &durable.metrics;
                m.commits.fetch_add(1, Ordering::Relaxed);
                m.rows.fetch_add(batch.rows() as u64, Ordering::Relaxed);
                m.last_commit_micros.store(
                    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
                return true;
            }
            Err(err) => {
                durable.metrics.errors.fetch_add(1, Ordering::Relaxed);
                if durable.closing.load(Ordering::Acquire) && backoff >= Duration::from_secs(2) {
                    error!(message = "Giving up on the durable store at shutdown: the last changes are not stored.", error = %err, rows = batch.rows());
                    return false;
                }
                warn!(message = "The durable store could not commit; retrying.", error = %err, rows = batch.rows());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// A message as an encoded MQTT 5 PUBLISH: topic, payload, QoS, RETAIN and properties.
pub(crate) fn encode_message(message: &Message) -> Bytes {
    let outgoing = OutgoingPublish {
        dup: false,
        qos: message.qos,
        retain: message.retain,
        packet_id: (message.qos != QoS::AtMostOnce)
            .then_some(PacketId::new(1))
            .flatten(),
        topic: message.topic.as_bytes(),
        topic_alias: None,
        subscription_identifiers: &[],
        properties: &message.properties,
        payload: &message.payload,
    };
    let mut buf = BytesMut::new();
    // A message the broker accepted always encodes; an empty packet would fail to decode and
    // be skipped at restore, with a warning.
    let _ = outgoing.encode(ProtocolVersion::V5, &mut buf);
    buf.freeze()
}

/// A stored message back, received at `received_at_ms` and expiring at `expires_at_ms`;
/// `None` if the packet does not decode.
pub(crate) fn decode_message(
    packet: &Bytes,
    received_at_ms: u64,
    expires_at_ms: Option<u64>,
) -> Option<Message> {
    let mut buf = BytesMut::from(&packet[..]);
    let mut decoder = Decoder::new(ProtocolVersion::V5, usize::MAX);
    let Ok(Some(Packet::Publish(publish))) = decoder.decode(&mut buf) else {
        return None;
    };
    let topic =
        TopicName::from_byte_string(publish.topic.as_byte_string().clone(), &TopicLimits::MQTT)
            .ok()?;
    let now = now_ms();
    let expires_at =
        expires_at_ms.map(|at| Instant::now() + Duration::from_millis(at.saturating_sub(now)));
    Some(Message {
        topic,
        payload: publish.payload,
        qos: publish.qos,
        retain: publish.retain,
        properties: publish.properties,
        expires_at,
        origin: None,
        received_at_ms,
    })
}

/// When `message` expires, in milliseconds since the Unix epoch.
pub(crate) fn expires_at_ms(message: &Message) -> Option<u64> {
    let now = Instant::now();
    message.expires_at.map(|at| {
        now_ms().saturating_add(
            u64::try_from(at.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX),
        )
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use mqtt_codec::PublishProperties;

    use super::*;

    fn durable() -> Durable {
        Durable::new(0, u64::MAX, StoreFull::Refuse)
    }

    fn message(payload: &'static [u8]) -> Arc<Message> {
        Arc::new(Message::new(
            TopicName::parse("t/1", &TopicLimits::MQTT).unwrap(),
            Bytes::from_static(payload),
            QoS::AtLeastOnce,
            false,
            PublishProperties::default(),
        ))
    }

    fn session(uid: u64) -> StoredSession {
        StoredSession {
            client_id: format!("c{uid}"),
            uid,
            expiry_interval: 60,
            online: true,
            saved_at_ms: 0,
            subscriptions: Vec::new(),
            will: None,
            incoming_qos2: Vec::new(),
        }
    }

    fn enqueue(id: u64, uids: &[u64], seq: u64) -> Op {
        Op::Enqueue {
            id,
            message: message(b"m"),
            deliveries: uids
                .iter()
                .map(|uid| NewDelivery {
                    uid: *uid,
                    seq,
                    qos: QoS::AtLeastOnce,
                    retain: false,
                    subscription_ids: SubscriptionIds::None,
                })
                .collect(),
        }
    }

    /// Applies `ops` as one batch.
    fn batch(model: &mut Model, durable: &Durable, ops: Vec<Op>) -> Batch {
        let mut batch = Batch::default();
        let mut dirty = Dirty::default();
        for op in ops {
            model.apply(op, &mut batch, &mut dirty, durable);
        }
        model.flush(&mut dirty, &mut batch, durable);
        batch
    }

    #[test]
    fn a_delivery_acknowledged_within_its_batch_writes_nothing() {
        let durable = durable();
        let mut model = Model::default();
        let first = batch(&mut model, &durable, vec![Op::SaveSession(session(1))]);
        assert_eq!(first.sessions_written.len(), 1);
        let done = Op::Deliveries(vec![
            DeliveryChange::Sent {
                uid: 1,
                seq: 1,
                packet_id: 4,
            },
            DeliveryChange::Done { uid: 1, seq: 1 },
        ]);
        let second = batch(&mut model, &durable, vec![enqueue(10, &[1], 1), done]);
        assert!(second.is_empty(), "{second:?}");
        assert_eq!(model.counts(), (0, 0));
        assert_eq!(durable.stored_bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_message_is_written_once_and_deleted_with_its_last_holder() {
        let durable = durable();
        let mut model = Model::default();
        batch(
            &mut model,
            &durable,
            vec![Op::SaveSession(session(1)), Op::SaveSession(session(2))],
        );
        let stored = batch(&mut model, &durable, vec![enqueue(10, &[1, 2, 3], 5)]);
        // Session 3 is not stored: no row for it.
        assert_eq!(stored.messages_inserted.len(), 1);
        assert_eq!(stored.deliveries_inserted.len(), 2);
        assert!(durable.stored_bytes.load(Ordering::Relaxed) > 0);
        let sent = batch(
            &mut model,
            &durable,
            vec![Op::Deliveries(vec![
                DeliveryChange::Sent {
                    uid: 1,
                    seq: 5,
                    packet_id: 9,
                },
                DeliveryChange::Done { uid: 2, seq: 5 },
            ])],
        );
        assert_eq!(sent.deliveries_updated, [(1, 5, 9, DeliveryStage::Sent)]);
        assert_eq!(sent.deliveries_deleted, [(2, 5)]);
        assert!(sent.messages_deleted.is_empty(), "session 1 still holds it");
        let done = batch(
            &mut model,
            &durable,
            vec![Op::Deliveries(vec![DeliveryChange::Done {
                uid: 1,
                seq: 5,
            }])],
        );
        assert_eq!(done.deliveries_deleted, [(1, 5)]);
        assert_eq!(done.messages_deleted, [10]);
        assert_eq!(durable.stored_bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_session_saved_and_ended_in_one_batch_leaves_no_row() {
        let durable = durable();
        let mut model = Model::default();
        let ops = vec![
            Op::SaveSession(session(1)),
            enqueue(10, &[1], 1),
            Op::EndSession {
                client_id: "c1".into(),
                uid: 1,
            },
            // Late progress of the ended session is ignored.
            Op::Deliveries(vec![DeliveryChange::Done { uid: 1, seq: 1 }]),
            enqueue(11, &[1], 2),
        ];
        let ended = batch(&mut model, &durable, ops);
        assert!(ended.sessions_written.is_empty());
        assert_eq!(ended.sessions_deleted, [("c1".to_owned(), 1)]);
        assert!(ended.messages_inserted.is_empty());
        assert!(ended.deliveries_inserted.is_empty());
    }

    #[test]
    fn a_late_save_of_an_ended_session_does_not_replace_its_successor() {
        let durable = durable();
        let mut model = Model::default();
        let mut successor = session(2);
        successor.client_id = "c1".into();
        let ops = vec![
            Op::SaveSession(session(1)),
            Op::EndSession {
                client_id: "c1".into(),
                uid: 1,
            },
            Op::SaveSession(successor.clone()),
        ];
        batch(&mut model, &durable, ops);
        // The replaced session's connection saves it once more, late.
        let late = batch(&mut model, &durable, vec![Op::SaveSession(session(1))]);
        assert!(late.is_empty(), "{late:?}");
        let refused = batch(&mut model, &durable, vec![enqueue(10, &[1], 1)]);
        assert!(refused.is_empty(), "{refused:?}");
    }

    #[test]
    fn a_writer_that_falls_behind_reports_a_backlog() {
        let durable = durable();
        for _ in 1..MAX_BACKLOG {
            durable.submit(Op::Deliveries(Vec::new()));
        }
        assert!(!durable.is_backlogged());
        let ticket = durable.submit(Op::Deliveries(Vec::new()));
        assert!(durable.is_backlogged());
        assert_eq!(durable.last_ticket(), ticket);
    }

    #[test]
    fn retained_changes_to_one_topic_keep_the_last() {
        let durable = durable();
        let mut model = Model::default();
        let retained = batch(
            &mut model,
            &durable,
            vec![
                Op::Retain {
                    topic: "t/1".into(),
                    message: Some(message(b"first")),
                },
                Op::Retain {
                    topic: "t/1".into(),
                    message: None,
                },
                Op::Retain {
                    topic: "t/2".into(),
                    message: Some(message(b"kept")),
                },
            ],
        );
        assert_eq!(retained.retained_deleted, ["t/1"]);
        assert_eq!(retained.retained_written.len(), 1);
        assert_eq!(retained.retained_written[0].topic, "t/2");
    }

    #[test]
    fn messages_round_trip_through_their_encoding() {
        let properties = PublishProperties {
            content_type: Some(mqtt_codec::MqttString::new("text/plain").unwrap()),
            message_expiry_interval: Some(60),
            ..PublishProperties::default()
        };
        let original = Message::new(
            TopicName::parse("a/b", &TopicLimits::MQTT).unwrap(),
            Bytes::from_static(b"payload"),
            QoS::ExactlyOnce,
            true,
            properties,
        );
        let packet = encode_message(&original);
        let expires = expires_at_ms(&original);
        let back = decode_message(&packet, 42, expires).unwrap();
        assert_eq!(back.topic.as_str(), "a/b");
        assert_eq!(&back.payload[..], b"payload");
        assert_eq!(
            (back.qos, back.retain, back.received_at_ms),
            (QoS::ExactlyOnce, true, 42)
        );
        assert_eq!(back.properties, original.properties);
        assert!(
            back.remaining_expiry(Instant::now())
                .is_some_and(|left| left <= 60)
        );
        assert!(decode_message(&Bytes::from_static(b"\x30"), 0, None).is_none());
    }
}
