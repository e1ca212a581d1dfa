//! Sessions (MQTT 5.0 §4.1): the state that outlives a network connection, and the registry that
//! maps Client Identifiers to them, handles takeover [MQTT-3.1.4-3], and ends them.
//!
//! A [`Session`] is shared: publishers reach its [`Mailbox`] through the subscription index,
//! and the connection that owns it (at most one at a time) works on its [`SessionState`] under a
//! lock that nobody else contends for on the hot path. Because the state never moves into a
//! connection task, a takeover does not wait for the old connection to hand anything back: the
//! new owner is recorded under the lock and the old connection stops when told, or as soon as
//! it notices it is no longer the owner.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mqtt_codec::{PacketId, QoS, ReasonCode, SubscriptionOptions};
use mqtt_topic::SubscriptionFilter;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::BrokerConfig;
use crate::lifecycle::DisconnectReason;
use crate::mailbox::Mailbox;
use crate::message::{Delivery, Message};
use crate::store::{PersistedSubscription, StoredSession, StoredWill};

/// Identifies one session for its whole life; a new session for the same Client Identifier
/// gets a new key, so stale references can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey(pub u64);

/// A subscription as the session remembers it.
#[derive(Clone, Debug)]
pub struct StoredSubscription {
    /// The parsed filter, shared or not.
    pub filter: SubscriptionFilter,
    /// The options granted.
    pub options: SubscriptionOptions,
    /// The Subscription Identifier, if the SUBSCRIBE carried one.
    pub identifier: Option<NonZeroU32>,
}

/// Where an outgoing QoS 1 or 2 delivery is in its flow (§4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InflightStage {
    /// QoS 1 PUBLISH sent, waiting for PUBACK.
    AwaitingPubAck,
    /// QoS 2 PUBLISH sent, waiting for PUBREC.
    AwaitingPubRec,
    /// QoS 2 PUBREL sent, waiting for PUBCOMP.
    AwaitingPubComp,
}

/// An outgoing delivery that the client has not yet acknowledged.
#[derive(Clone, Debug)]
pub struct Inflight {
    /// Send order, so unacknowledged messages are resent in the order they were first sent
    /// [MQTT-4.4.0-1], [MQTT-4.6.0-1].
    pub sequence: u64,
    /// The delivery.
    pub delivery: Delivery,
    /// Its stage.
    pub stage: InflightStage,
}

/// The state of a session that must survive its connection (§4.1).
#[derive(Debug, Default)]
pub struct SessionState {
    /// Subscriptions, by the filter string the client sent (including `$share/{group}/`).
    pub subscriptions: HashMap<Box<str>, StoredSubscription>,
    /// QoS 1 and 2 messages sent to the client and not completely acknowledged.
    pub inflight: HashMap<PacketId, Inflight>,
    /// Packet Identifiers of QoS 2 messages received from the client that await PUBREL.
    pub incoming_qos2: HashSet<PacketId>,
    next_packet_id: u16,
    next_sequence: u64,
}

impl SessionState {
    /// A free Packet Identifier for a new outgoing QoS 1 or 2 delivery, or `None` if all 65,535
    /// are in use (the inflight window keeps far below that).
    pub fn allocate_packet_id(&mut self) -> Option<PacketId> {
        for _ in 0..u16::MAX {
            // Identifiers run 1..=65535 and wrap to 1: 0 is not an identifier [MQTT-2.2.1-3].
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            let Some(id) = PacketId::new(self.next_packet_id) else {
                continue;
            };
            if !self.inflight.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }

    /// Records a delivery as sent and awaiting acknowledgement.
    pub fn track(&mut self, id: PacketId, delivery: Delivery) {
        let stage = match delivery.qos {
            QoS::ExactlyOnce => InflightStage::AwaitingPubRec,
            _ => InflightStage::AwaitingPubAck,
        };
        self.next_sequence += 1;
        self.inflight.insert(
            id,
            Inflight {
                sequence: self.next_sequence,
                delivery,
                stage,
            },
        );
    }

    /// Inflight entries in the order they were first sent.
    ///
    /// Cloning each entry is fine here: this runs once per session resumption.
    pub fn inflight_in_order(&self) -> Vec<(PacketId, Inflight)> {
        let mut entries: Vec<_> = self
            .inflight
            .iter()
            .map(|(id, e)| (*id, e.clone()))
            .collect();
        entries.sort_by_key(|(_, e)| e.sequence);
        entries
    }
}

/// Tells a connection to stop, and why, or to re-evaluate its authorization.
///
/// Both requests share one [`Notify`]: the connection task waits on it in its select loop and,
/// once woken, looks at what was asked. A recheck is a flag, so any number of requests made
/// before the connection gets to it cost one wake-up and one re-evaluation.
#[derive(Debug, Default)]
pub struct ConnectionControl {
    reason: Mutex<Option<(ReasonCode, DisconnectReason)>>,
    recheck: AtomicBool,
    finished: AtomicBool,
    notify: Notify,
}

impl ConnectionControl {
    /// Asks the connection to close with `reason` (sent in DISCONNECT to 5.0 clients).
    pub fn close(&self, reason: ReasonCode) {
        self.close_because(reason, DisconnectReason::for_server_close(reason));
    }

    /// Asks the connection to close with `reason`, reporting `cause` in its lifecycle event
    /// when the reason code alone does not tell (0x87 for a revoked certificate is AWS's
    /// `AUTH_ERROR`, not `FORBIDDEN_ACCESS`).
    pub fn close_because(&self, reason: ReasonCode, cause: DisconnectReason) {
        let mut slot = self.reason.lock();
        if slot.is_none() {
            *slot = Some((reason, cause));
        }
        drop(slot);
        self.notify.notify_one();
    }

    /// The reason the connection was asked to close, if it was.
    pub fn reason(&self) -> Option<ReasonCode> {
        self.reason.lock().map(|(reason, _)| reason)
    }

    /// Why the connection was asked to close, in AWS IoT's terms, if it was.
    pub fn cause(&self) -> Option<DisconnectReason> {
        self.reason.lock().map(|(_, cause)| cause)
    }

    /// Asks the connection to re-evaluate its authorization (see
    /// [`crate::auth::AuthorizationSignal::recheck`]).
    pub fn request_recheck(&self) {
        // Only the request that raises the flag wakes the task: later ones before it looks are
        // already covered by the re-evaluation it will do.
        if !self.recheck.swap(true, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }

    /// Takes a pending recheck request: `true` once per request (or burst of requests).
    pub fn take_recheck(&self) -> bool {
        // A plain load first keeps the common case (nothing asked) to a read of a shared line.
        self.recheck.load(Ordering::Acquire) && self.recheck.swap(false, Ordering::AcqRel)
    }

    /// Records that the connection has ended (or never got past CONNECT), so those holding its
    /// control can tell that signalling it is pointless.
    pub fn mark_finished(&self) {
        self.finished.store(true, Ordering::Release);
    }

    /// Whether the connection has ended.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Waits until the connection is asked to close or to recheck its authorization.
    pub async fn signalled(&self) {
        loop {
            if self.recheck.load(Ordering::Acquire) || self.reason().is_some() {
                return;
            }
            self.notify.notified().await;
        }
    }
}

/// A will waiting for its Will Delay Interval (§3.1.3.2.2).
#[derive(Debug)]
pub struct PendingWill {
    /// The will, as a message ready to route.
    pub message: Arc<Message>,
    /// Which disconnection scheduled it, so a later reconnection can cancel it.
    pub generation: u64,
    /// When it is due, in milliseconds since the Unix epoch (kept with a persistent session).
    pub due_at_ms: u64,
}

#[derive(Debug)]
struct Link {
    /// The connection that owns the session, if online.
    owner: Option<(u64, Arc<ConnectionControl>)>,
    /// Bumped at every attach and detach, so timers can tell whether they are stale.
    generation: u64,
    ended: bool,
    expiry_interval: u32,
    pending_will: Option<PendingWill>,
}

/// One session.
#[derive(Debug)]
pub struct Session {
    key: SessionKey,
    client_id: Arc<str>,
    /// The session's identity in the durable store, unique across restarts; renewed when the
    /// session leaves the store while it goes on (see [`Session::renew_uid`]).
    uid: AtomicU64,
    /// The next place in the session's stored queue.
    next_seq: AtomicU64,
    /// Whether the durable store holds the session (it is persistent and durability is on).
    stored: AtomicBool,
    /// Deliveries waiting for the client.
    pub mailbox: Mailbox,
    /// State that outlives the connection; locked by its owning connection.
    pub state: Mutex<SessionState>,
    link: Mutex<Link>,
}

impl Session {
    /// The session's key.
    pub fn key(&self) -> SessionKey {
        self.key
    }

    /// The Client Identifier.
    pub fn client_id(&self) -> &Arc<str> {
        &self.client_id
    }

    /// The session's identity in the durable store.
    pub fn uid(&self) -> u64 {
        self.uid.load(Ordering::Acquire)
    }

    /// Gives the session a new identity in the durable store, when it leaves the store but
    /// goes on (resumed with an expiry of 0): should it become persistent again, its rows are
    /// a new session's, not the ended one's.
    pub fn renew_uid(&self) {
        self.uid.store(new_uid(), Ordering::Release);
    }

    /// Whether the durable store holds the session: its QoS 1 and 2 deliveries are stored.
    pub fn is_stored(&self) -> bool {
        self.stored.load(Ordering::Acquire)
    }

    /// Records whether the durable store holds the session; returns what it was.
    pub fn set_stored(&self, stored: bool) -> bool {
        self.stored.swap(stored, Ordering::AcqRel)
    }

    /// The next place in the session's stored queue.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether `connection` still owns the session.
    pub fn is_owned_by(&self, connection: u64) -> bool {
        let link = self.link.lock();
        !link.ended && link.owner.as_ref().is_some_and(|(id, _)| *id == connection)
    }

    /// Whether the session has ended.
    pub fn has_ended(&self) -> bool {
        self.link.lock().ended
    }

    /// The Session Expiry Interval in force, in seconds.
    pub fn expiry_interval(&self) -> u32 {
        self.link.lock().expiry_interval
    }

    /// The session's durable row; `None` for a session that ends with its connection (expiry
    /// 0) or has ended. A pending will is kept with its due time, encoded by `encode`.
    pub fn persisted(&self, encode: impl Fn(&Message) -> bytes::Bytes) -> Option<StoredSession> {
        let (expiry_interval, online, will) = {
            let link = self.link.lock();
            if link.ended || link.expiry_interval == 0 {
                return None;
            }
            let will = link.pending_will.as_ref().map(|w| StoredWill {
                packet: encode(&w.message),
                due_at_ms: w.due_at_ms,
                expires_at_ms: crate::durable::expires_at_ms(&w.message),
            });
            (link.expiry_interval, link.owner.is_some(), will)
        };
        let state = self.state.lock();
        let mut subscriptions: Vec<_> = state
            .subscriptions
            .iter()
            .map(|(filter, stored)| PersistedSubscription {
                filter: filter.to_string(),
                options: stored.options,
                identifier: stored.identifier,
            })
            .collect();
        subscriptions.sort_by(|a, b| a.filter.cmp(&b.filter));
        let mut incoming_qos2: Vec<u16> = state.incoming_qos2.iter().map(|id| id.get()).collect();
        incoming_qos2.sort_unstable();
        Some(StoredSession {
            client_id: self.client_id.to_string(),
            uid: self.uid(),
            expiry_interval,
            online,
            saved_at_ms: crate::message::now_ms(),
            subscriptions,
            will,
            incoming_qos2,
        })
    }
}

/// A persistent session as the durable store kept it, ready to restore.
#[derive(Debug)]
pub struct RestoredSession {
    /// The Client Identifier.
    pub client_id: String,
    /// Its identity in the store.
    pub uid: u64,
    /// The Session Expiry Interval.
    pub expiry_interval: u32,
    /// Its subscriptions.
    pub subscriptions: HashMap<Box<str>, StoredSubscription>,
    /// Deliveries sent and not acknowledged, in the order they were sent.
    pub inflight: Vec<(PacketId, Delivery, InflightStage)>,
    /// Deliveries not sent yet, in order.
    pub queued: Vec<Delivery>,
    /// The next place in its stored queue.
    pub next_seq: u64,
    /// A will waiting for its delay, and when it is due (ms since the Unix epoch).
    pub will: Option<(Arc<Message>, u64)>,
    /// QoS 2 messages received from the client, acknowledged and awaiting PUBREL.
    pub incoming_qos2: HashSet<PacketId>,
}

/// A fresh session uid: random, so that uids from before a restart are never reused.
fn new_uid() -> u64 {
    let mut bytes = [0u8; 8];
    // The system random source is always available on the platforms thingd supports; the
    // clock stands in if it ever is not (uniqueness, not secrecy, matters here).
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
    }
    // Kept below 2^63: backends store it as a signed 64-bit integer.
    u64::from_le_bytes(bytes) >> 1
}

/// The outcome of attaching a connection to a Client Identifier's session.
#[derive(Debug)]
pub struct Attached {
    /// The session, new or resumed.
    pub session: Arc<Session>,
    /// Whether an existing session was resumed (CONNACK Session Present).
    pub session_present: bool,
    /// A session that ended because of this attach (clean start over an existing one): the
    /// caller removes its subscriptions and publishes its pending will.
    pub ended: Option<Arc<Session>>,
    /// A will that this attach cancelled by reconnecting within its delay [MQTT-3.1.3-9].
    pub cancelled_will: bool,
    /// The pending will of the session that ended, due now that its session ended.
    pub ended_will: Option<Arc<Message>>,
}

/// What a detach or an expiry left to do.
#[derive(Debug, Default)]
pub struct Detached {
    /// The session ended now: remove its subscriptions.
    pub ended: bool,
    /// A will to publish now.
    pub will_now: Option<Arc<Message>>,
    /// A will to publish after this delay unless the session is resumed first, with the
    /// generation to check.
    pub will_later: Option<(std::time::Duration, u64)>,
    /// The session will expire after this many seconds unless resumed, with the generation to check.
    pub expire_after: Option<(u32, u64)>,
}

/// All sessions, by Client Identifier.
#[derive(Debug)]
pub struct SessionRegistry {
    sessions: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    next_key: AtomicU64,
    next_connection: AtomicU64,
    max_messages: usize,
    max_bytes: usize,
    overflow: crate::config::QueueOverflow,
}

impl SessionRegistry {
    /// An empty registry whose sessions get the queue bounds of `config`.
    pub fn new(config: &BrokerConfig) -> Self {
        SessionRegistry {
            sessions: Mutex::new(HashMap::new()),
            next_key: AtomicU64::new(1),
            next_connection: AtomicU64::new(1),
            max_messages: config.max_session_queue,
            max_bytes: config.max_session_queue_bytes,
            overflow: config.queue_overflow,
        }
    }

    /// A fresh connection number.
    pub fn connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// The number of sessions, online and offline.
    pub fn len(&self) -> usize {
        self.sessions.lock().len()
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The session of `client_id`, if one exists.
    pub fn get(&self, client_id: &str) -> Option<Arc<Session>> {
        self.sessions.lock().get(client_id).cloned()
    }

    /// Makes `connection` the owner of `client_id`'s session, creating it or, unless
    /// `clean_start`, resuming it [MQTT-3.1.2-4], [MQTT-3.1.2-5]. A connection that owned the
    /// session before is told to close with 0x8E Session taken over [MQTT-3.1.4-3].
    pub fn attach(
        &self,
        client_id: &str,
        clean_start: bool,
        expiry_interval: u32,
        connection: u64,
        control: Arc<ConnectionControl>,
    ) -> Attached {
        let mut sessions = self.sessions.lock();
        let mut ended = None;
        let mut ended_will = None;
        let mut cancelled_will = false;
        if let Some(existing) = sessions.get(client_id).cloned() {
            let mut link = existing.link.lock();
            if let Some((_, previous)) = link.owner.take() {
                previous.close(ReasonCode::SessionTakenOver);
            }
            if !clean_start && !link.ended {
                // [MQTT-3.1.3-9]: reconnecting within the Will Delay Interval cancels the will.
                cancelled_will = link.pending_will.take().is_some();
                link.owner = Some((connection, control));
                link.generation += 1;
                link.expiry_interval = expiry_interval;
                drop(link);
                existing.mailbox.set_online(true);
                return Attached {
                    session: existing,
                    session_present: true,
                    ended: None,
                    cancelled_will,
                    ended_will: None,
                };
            }
            link.ended = true;
            link.generation += 1;
            ended_will = link.pending_will.take().map(|w| w.message);
            drop(link);
            existing.mailbox.close();
            ended = Some(existing);
        }
        let key = SessionKey(self.next_key.fetch_add(1, Ordering::Relaxed));
        let client_id: Arc<str> = Arc::from(client_id);
        let session = Arc::new(Session {
            key,
            client_id: client_id.clone(),
            uid: AtomicU64::new(new_uid()),
            next_seq: AtomicU64::new(1),
            stored: AtomicBool::new(false),
            mailbox: Mailbox::new(self.max_messages, self.max_bytes, self.overflow),
            state: Mutex::new(SessionState::default()),
            link: Mutex::new(Link {
                owner: Some((connection, control)),
                generation: 1,
                ended: false,
                expiry_interval,
                pending_will: None,
            }),
        });
        session.mailbox.set_online(true);
        sessions.insert(client_id, session.clone());
        Attached {
            session,
            session_present: false,
            ended,
            cancelled_will,
            ended_will,
        }
    }

    /// Records that `connection` lost the session: the session ends now if its expiry interval
    /// is 0, and otherwise waits, offline, for a reconnection or its expiry. `will` is the will
    /// to publish (none after a normal DISCONNECT [MQTT-3.1.2-10]) and `will_delay` its delay.
    pub fn detach(
        &self,
        session: &Arc<Session>,
        connection: u64,
        expiry_interval: Option<u32>,
        will: Option<(Arc<Message>, u32)>,
    ) -> Detached {
        let mut sessions = self.sessions.lock();
        let mut link = session.link.lock();
        let owned = link.owner.as_ref().is_some_and(|(id, _)| *id == connection);
        let mut out = Detached::default();
        if !owned || link.ended {
            // Taken over, or ended by a clean start: the will is still this connection's own.
            // [MQTT-3.1.2-8]: it is published when the network connection closes, unless it has
            // a Will Delay Interval and the connection that took over resumed the session: that
            // is a new connection to the session within the delay, so the will is not sent
            // [MQTT-3.1.3-9] (§3.1.2.5: "unless the new connection specifies Clean Start of 0
            // and the Will Delay is greater than zero").
            out.will_now = will
                .filter(|(_, delay)| link.ended || *delay == 0)
                .map(|(message, _)| message);
            return out;
        }
        link.owner = None;
        link.generation += 1;
        if let Some(interval) = expiry_interval {
            // [MQTT-3.14.2-...]: DISCONNECT may change the Session Expiry Interval.
            link.expiry_interval = interval;
        }
        if link.expiry_interval == 0 {
            link.ended = true;
            out.ended = true;
            out.will_now = will.map(|(message, _)| message);
            drop(link);
            if sessions
                .get(session.client_id())
                .is_some_and(|s| Arc::ptr_eq(s, session))
            {
                sessions.remove(session.client_id());
            }
            session.mailbox.close();
            return out;
        }
        session.mailbox.set_online(false);
        out.expire_after = Some((link.expiry_interval, link.generation));
        if let Some((message, delay)) = will {
            // The will waits for the earlier of its delay and the session's end (§3.1.3.2.2).
            if delay == 0 {
                out.will_now = Some(message);
            } else {
                let delay = delay.min(link.expiry_interval);
                link.pending_will = Some(PendingWill {
                    message,
                    generation: link.generation,
                    due_at_ms: crate::message::now_ms()
                        .saturating_add(u64::from(delay).saturating_mul(1000)),
                });
                out.will_later = Some((
                    std::time::Duration::from_secs(u64::from(delay)),
                    link.generation,
                ));
            }
        }
        out
    }

    /// Takes the pending will if the session has not been resumed since `generation`.
    pub fn take_due_will(&self, session: &Session, generation: u64) -> Option<Arc<Message>> {
        let mut link = session.link.lock();
        if link.generation != generation {
            return None;
        }
        link.pending_will.take().map(|w| w.message)
    }

    /// Ends the session if it has stayed offline since `generation`; returns it, with any will
    /// still pending, when it did.
    pub fn expire(&self, session: &Arc<Session>, generation: u64) -> Option<Option<Arc<Message>>> {
        let mut sessions = self.sessions.lock();
        let mut link = session.link.lock();
        if link.generation != generation || link.ended || link.owner.is_some() {
            return None;
        }
        link.ended = true;
        let will = link.pending_will.take().map(|w| w.message);
        drop(link);
        if sessions
            .get(session.client_id())
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            sessions.remove(session.client_id());
        }
        session.mailbox.close();
        Some(will)
    }

    /// Recreates a session the durable store kept, offline, with its subscriptions, its
    /// unacknowledged deliveries (`inflight`, resent first when it resumes), its queue (in
    /// order) and its pending will; the caller adds its subscriptions to the router and starts
    /// its timers with the returned generation. `None` if a session with this Client
    /// Identifier already exists.
    pub fn restore(&self, restored: RestoredSession) -> Option<(Arc<Session>, u64)> {
        let mut sessions = self.sessions.lock();
        if sessions.contains_key(restored.client_id.as_str()) {
            return None;
        }
        let key = SessionKey(self.next_key.fetch_add(1, Ordering::Relaxed));
        let client_id: Arc<str> = Arc::from(restored.client_id.as_str());
        let generation = 1;
        let mut state = SessionState {
            subscriptions: restored.subscriptions,
            incoming_qos2: restored.incoming_qos2,
            ..SessionState::default()
        };
        for (id, delivery, stage) in restored.inflight {
            state.track(id, delivery);
            if let Some(entry) = state.inflight.get_mut(&id) {
                entry.stage = stage;
            }
        }
        let mailbox = Mailbox::new(self.max_messages, self.max_bytes, self.overflow);
        // Restored as they were stored: the bound applied when they were queued.
        mailbox.push_front_all(restored.queued.into_iter());
        let session = Arc::new(Session {
            key,
            client_id: client_id.clone(),
            uid: AtomicU64::new(restored.uid),
            next_seq: AtomicU64::new(restored.next_seq),
            stored: AtomicBool::new(true),
            mailbox,
            state: Mutex::new(state),
            link: Mutex::new(Link {
                owner: None,
                generation,
                ended: false,
                expiry_interval: restored.expiry_interval,
                pending_will: restored.will.map(|(message, due_at_ms)| PendingWill {
                    message,
                    generation,
                    due_at_ms,
                }),
            }),
        });
        sessions.insert(client_id, session.clone());
        Some((session, generation))
    }

    /// Every session, online and offline.
    pub fn all(&self) -> Vec<Arc<Session>> {
        self.sessions.lock().values().cloned().collect()
    }

    /// Ends every session (at shutdown), returning them.
    pub fn drain(&self) -> Vec<Arc<Session>> {
        self.sessions.lock().drain().map(|(_, s)| s).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_ids_wrap_from_65535_to_1_and_skip_ids_in_use() {
        let mut state = SessionState::default();
        let mut seen = 0u32;
        for expected in 1..=u16::MAX {
            assert_eq!(
                state.allocate_packet_id().map(PacketId::get),
                Some(expected)
            );
            seen += 1;
        }
        assert_eq!(seen, 65_535);
        assert_eq!(
            state.allocate_packet_id().map(PacketId::get),
            Some(1),
            "wraps past 0"
        );
    }

    #[tokio::test]
    async fn rechecks_coalesce_and_wake_the_connection_once() {
        let control = ConnectionControl::default();
        assert!(!control.take_recheck());
        for _ in 0..3 {
            control.request_recheck();
        }
        // The waiter sees the request, and it is taken once however often it was made.
        control.signalled().await;
        assert!(control.take_recheck());
        assert!(!control.take_recheck());
        assert_eq!(control.reason(), None);
        // A request made after the last one was taken is a new one.
        control.request_recheck();
        assert!(control.take_recheck());
    }

    #[tokio::test]
    async fn a_recheck_requested_while_waiting_wakes_the_waiter() {
        let control = Arc::new(ConnectionControl::default());
        let waiter = tokio::spawn({
            let control = control.clone();
            async move { control.signalled().await }
        });
        control.request_recheck();
        waiter.await.unwrap();
        assert!(control.take_recheck());
    }

    #[tokio::test]
    async fn a_close_wakes_the_waiter_and_keeps_its_first_reason() {
        let control = ConnectionControl::default();
        control.close(ReasonCode::NotAuthorized);
        control.close(ReasonCode::SessionTakenOver);
        control.signalled().await;
        assert_eq!(control.reason(), Some(ReasonCode::NotAuthorized));
        assert!(!control.is_finished());
        control.mark_finished();
        assert!(control.is_finished());
    }
}
