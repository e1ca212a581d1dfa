//! Routing: the subscription index, and the step that turns one published message into one
//! delivery per matching session.
//!
//! Matching takes the index's read lock once per message; deliveries go straight into each
//! session's bounded [`crate::mailbox::Mailbox`]. No task sits in the middle, so every
//! connection task routes its own publishes on whatever core it runs on.

use std::num::NonZeroU32;
use std::sync::Arc;

use mqtt_codec::{QoS, SubscriptionOptions};
use mqtt_topic::{Match, SubscriptionFilter, SubscriptionIndex};

use crate::durable::{DeliveryChange, Durable, NewDelivery, Op, StoreFull};
use crate::message::{Delivery, Message, SubscriptionIds};
use crate::metrics::Metrics;
use crate::session::{Session, SessionKey};

/// A subscription as the index holds it.
#[derive(Clone, Debug)]
pub struct Subscriber {
    /// The subscribing session.
    pub session: Arc<Session>,
    /// Its options.
    pub options: SubscriptionOptions,
    /// Its Subscription Identifier.
    pub identifier: Option<NonZeroU32>,
}

/// What routing one message did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouteOutcome {
    /// Sessions the message was queued for.
    pub delivered: usize,
    /// Sessions whose queue refused it (full, or QoS 0 while offline).
    pub dropped: usize,
    /// The durable store's ticket to wait for before acknowledging the publisher.
    pub ticket: Option<u64>,
    /// The durable store was full and refused the message: it was queued for no one.
    pub refused: bool,
}

impl RouteOutcome {
    /// Whether any subscription matched.
    pub fn matched(&self) -> bool {
        self.delivered + self.dropped > 0
    }
}

/// Reusable per-connection buffer for routing, so routing does not allocate per message.
#[derive(Debug, Default)]
pub struct RouteScratch {
    candidates: Vec<(SessionKey, Subscriber)>,
    /// Sessions whose queue reported congestion while routing; the publishing connection waits
    /// for them to drain before it reads more (see [`crate::mailbox`]).
    pub congested: Vec<Arc<Session>>,
    /// The deliveries of the message being routed.
    targets: Vec<(Arc<Session>, Delivery)>,
    /// Deliveries dropped to make room, by session uid.
    evicted: Vec<(u64, Delivery)>,
    /// Stored deliveries that did not make it into their queue.
    done: Vec<DeliveryChange>,
}

/// The subscription index and the routing step.
#[derive(Debug, Default)]
pub struct Router {
    index: SubscriptionIndex<SessionKey, Subscriber>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Router::default()
    }

    /// Adds or replaces a subscription; returns whether one existed for this filter [MQTT-3.8.4-3].
    pub fn subscribe(&self, filter: &SubscriptionFilter, subscriber: Subscriber) -> bool {
        let key = subscriber.session.key();
        self.index.insert(filter, key, subscriber).is_some()
    }

    /// Removes a subscription; returns whether it existed.
    pub fn unsubscribe(&self, filter: &SubscriptionFilter, session: SessionKey) -> bool {
        self.index.remove(filter, &session).is_some()
    }

    /// The number of subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.index.len()
    }

    /// Whether routing `message` would store a delivery: a QoS 1 or 2 subscription of a
    /// stored (persistent) session matches it (any member of a shared group counts).
    pub(crate) fn would_store(&self, message: &Message) -> bool {
        if message.qos == QoS::AtMostOnce {
            return false;
        }
        let mut found = false;
        self.index
            .for_each_match(&message.topic, |matched| match matched {
                Match::Plain { key, value, .. } => {
                    found |= value.options.qos != QoS::AtMostOnce
                        && value.session.is_stored()
                        && !(value.options.no_local && message.origin == Some(*key));
                }
                Match::Shared(group) => {
                    found |= group
                        .pick(|_, member| {
                            member.options.qos != QoS::AtMostOnce && member.session.is_stored()
                        })
                        .is_some();
                }
            });
        found
    }

    /// Routes one message: one delivery per matching session (overlapping subscriptions of a
    /// session merged, one member per shared group). With a durable store, QoS 1 and 2
    /// deliveries to persistent sessions are submitted to it before any is queued (so the
    /// session's connection cannot report progress on one the writer has not seen); the
    /// outcome carries the ticket to wait for before acknowledging the publisher. When the
    /// store is full and refuses, nothing is queued and the outcome says so.
    pub(crate) fn route(
        &self,
        message: &Arc<Message>,
        scratch: &mut RouteScratch,
        durable: Option<&Durable>,
    ) -> RouteOutcome {
        let candidates = &mut scratch.candidates;
        candidates.clear();
        let targets = &mut scratch.targets;
        targets.clear();
        self.index
            .for_each_match(&message.topic, |found| match found {
                Match::Plain { key, value, .. } => {
                    // [MQTT-3.8.3-3]: with No Local, a client does not get its own messages.
                    if value.options.no_local && message.origin == Some(*key) {
                        return;
                    }
                    candidates.push((*key, value.clone()));
                }
                Match::Shared(group) => {
                    // An online member if there is one; otherwise any member, whose session
                    // keeps the message until it reconnects.
                    let picked = group
                        .pick(|_, member| member.session.mailbox.is_online())
                        .or_else(|| group.pick(|_, _| true));
                    if let Some((_, member)) = picked {
                        // Shared deliveries are not merged with the member's other subscriptions.
                        let ids = member.identifier.into_iter().collect();
                        targets.push(target(member.session.clone(), member.options, message, ids));
                    }
                }
            });
        if candidates.len() > 1 {
            candidates.sort_unstable_by_key(|(key, _)| *key);
        }
        let mut i = 0;
        while i < candidates.len() {
            // [MQTT-3.3.4-2..5]: one delivery per session, with the highest QoS of its matching
            // subscriptions, and all of their identifiers.
            let (key, first) = &candidates[i];
            let mut options = first.options;
            let mut ids: SubscriptionIds = first.identifier.into_iter().collect();
            let mut j = i + 1;
            while j < candidates.len() && candidates[j].0 == *key {
                let other = &candidates[j].1;
                options.qos = options.qos.max(other.options.qos);
                options.retain_as_published |= other.options.retain_as_published;
                if let Some(id) = other.identifier {
                    ids.push(id);
                }
                j += 1;
            }
            targets.push(target(first.session.clone(), options, message, ids));
            i = j;
        }
        candidates.clear();
        let mut outcome = RouteOutcome::default();
        if let Some(durable) = durable
            && message.qos != QoS::AtMostOnce
        {
            let mut stored = Vec::new();
            for (session, delivery) in targets.iter_mut() {
                if delivery.qos != QoS::AtMostOnce && session.is_stored() {
                    let seq = session.next_seq();
                    delivery.durable = Some(seq);
                    stored.push(NewDelivery {
                        uid: session.uid(),
                        seq,
                        qos: delivery.qos,
                        retain: delivery.retain,
                        subscription_ids: delivery.subscription_ids.clone(),
                    });
                }
            }
            if !stored.is_empty() {
                if durable.is_full() {
                    match durable.store_full {
                        StoreFull::Refuse => {
                            Metrics::inc(&durable.metrics.refused);
                            outcome.refused = true;
                            targets.clear();
                            return outcome;
                        }
                        StoreFull::DropOldest => {
                            for (session, delivery) in targets.iter() {
                                if delivery.durable.is_some()
                                    && let Some(old) = session.mailbox.evict_oldest()
                                {
                                    Metrics::inc(&durable.metrics.dropped_oldest);
                                    scratch.evicted.push((session.uid(), old));
                                }
                            }
                        }
                    }
                }
                outcome.ticket = Some(durable.submit(Op::Enqueue {
                    id: durable.message_id(),
                    message: message.clone(),
                    deliveries: stored,
                }));
            }
        }
        for (session, delivery) in targets.drain(..) {
            let stored = delivery.durable.map(|seq| (session.uid(), seq));
            match session.mailbox.push(delivery) {
                Ok(pushed) => {
                    outcome.delivered += 1;
                    if pushed.congested
                        && !scratch.congested.iter().any(|s| s.key() == session.key())
                    {
                        scratch.congested.push(session.clone());
                    }
                    if let Some(old) = pushed.evicted {
                        scratch.evicted.push((session.uid(), old));
                    }
                }
                Err(_) => {
                    outcome.dropped += 1;
                    if let Some((uid, seq)) = stored {
                        scratch.done.push(DeliveryChange::Done { uid, seq });
                    }
                }
            }
        }
        if let Some(durable) = durable {
            for (uid, old) in scratch.evicted.drain(..) {
                if let Some(seq) = old.durable {
                    scratch.done.push(DeliveryChange::Done { uid, seq });
                }
            }
            if !scratch.done.is_empty() {
                let done = std::mem::take(&mut scratch.done);
                outcome.ticket = Some(durable.submit(Op::Deliveries(done)));
            }
        } else {
            scratch.evicted.clear();
        }
        outcome
    }
}

/// The delivery of `message` to `session`, subscribed with `options`.
fn target(
    session: Arc<Session>,
    options: SubscriptionOptions,
    message: &Arc<Message>,
    subscription_ids: SubscriptionIds,
) -> (Arc<Session>, Delivery) {
    // [MQTT-3.8.4-8]: the QoS is the lower of the published QoS and the granted maximum.
    let qos: QoS = message.qos.min(options.qos);
    // [MQTT-3.3.1-12], [MQTT-3.3.1-13]: forwarded messages keep RETAIN only with Retain As Published.
    let retain = options.retain_as_published && message.retain;
    (
        session,
        Delivery {
            message: message.clone(),
            qos,
            retain,
            subscription_ids,
            durable: None,
        },
    )
}

impl FromIterator<NonZeroU32> for SubscriptionIds {
    fn from_iter<I: IntoIterator<Item = NonZeroU32>>(iter: I) -> Self {
        let mut ids = SubscriptionIds::None;
        for id in iter {
            ids.push(id);
        }
        ids
    }
}
