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

use crate::mailbox::{Pushed, Rejected};
use crate::message::{Delivery, Message, SubscriptionIds};
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

    /// Queues `message` for every session with a matching subscription.
    ///
    /// A session with several matching subscriptions gets one copy with the highest of their
    /// QoS and all their Subscription Identifiers [MQTT-3.3.4-2], [MQTT-3.3.4-4]; each shared
    /// subscription group that matches gets one copy for one member [MQTT-4.8.2-...], preferring
    /// members that are online.
    pub fn route(&self, message: &Arc<Message>, scratch: &mut RouteScratch) -> RouteOutcome {
        let candidates = &mut scratch.candidates;
        candidates.clear();
        let congested = &mut scratch.congested;
        let mut outcome = RouteOutcome::default();
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
                    let picked = group
                        .pick(|_, member| member.session.mailbox.is_online())
                        .or_else(|| group.pick(|_, _| true));
                    if let Some((_, member)) = picked {
                        // Shared deliveries are not merged with the member's other subscriptions.
                        let ids = member.identifier.into_iter().collect();
                        record(
                            deliver(member, message, ids),
                            member,
                            &mut outcome,
                            congested,
                        );
                    }
                }
            });
        if candidates.len() > 1 {
            candidates.sort_unstable_by_key(|(key, _)| *key);
        }
        let mut i = 0;
        while i < candidates.len() {
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
            let subscriber = Subscriber {
                session: first.session.clone(),
                options,
                identifier: None,
            };
            let pushed = deliver(&subscriber, message, ids);
            record(pushed, &subscriber, &mut outcome, congested);
            i = j;
        }
        candidates.clear();
        outcome
    }
}

fn record(
    pushed: Result<Pushed, Rejected>,
    subscriber: &Subscriber,
    outcome: &mut RouteOutcome,
    congested: &mut Vec<Arc<Session>>,
) {
    match pushed {
        Ok(pushed) => {
            outcome.delivered += 1;
            let key = subscriber.session.key();
            if pushed.congested && !congested.iter().any(|s| s.key() == key) {
                congested.push(subscriber.session.clone());
            }
        }
        Err(_) => outcome.dropped += 1,
    }
}

fn deliver(
    subscriber: &Subscriber,
    message: &Arc<Message>,
    subscription_ids: SubscriptionIds,
) -> Result<Pushed, Rejected> {
    // [MQTT-3.8.4-8]: the QoS is the lower of the published QoS and the granted maximum.
    let qos: QoS = message.qos.min(subscriber.options.qos);
    // [MQTT-3.3.1-12], [MQTT-3.3.1-13]: forwarded messages keep RETAIN only with Retain As Published.
    let retain = subscriber.options.retain_as_published && message.retain;
    subscriber.session.mailbox.push(Delivery {
        message: message.clone(),
        qos,
        retain,
        subscription_ids,
    })
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
