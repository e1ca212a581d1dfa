//! The state every connection shares ([`Core`]), and the session-lifecycle steps that involve
//! more than one part of it: ending sessions, publishing wills, and their timers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Authorizer;
use crate::config::BrokerConfig;
use crate::hooks::{HookId, HookScratch, Hooks, PublishOrigin};
use crate::lifecycle::DisconnectReason;
use crate::message::Message;
use crate::metrics::Metrics;
use crate::retained::{RetainOutcome, RetainedStore};
use crate::router::{RouteOutcome, RouteScratch, Router};
use mqtt_codec::ReasonCode;
use mqtt_topic::SubscriptionFilter;
use parking_lot::Mutex;
use tracing::warn;

use crate::router::Subscriber;
use crate::session::{ConnectionControl, Detached, Session, SessionRegistry, StoredSubscription};
use crate::store::SessionStore;

/// Everything the connection tasks share.
pub(crate) struct Core {
    /// Limits and behaviour.
    pub(crate) config: BrokerConfig,
    /// The subscription index.
    pub(crate) router: Router,
    /// Sessions by Client Identifier.
    pub(crate) sessions: SessionRegistry,
    /// Retained messages.
    pub(crate) retained: RetainedStore,
    /// The services that see published messages.
    pub(crate) hooks: Hooks,
    /// Counters.
    pub(crate) metrics: Metrics,
    /// The authorization seam.
    pub(crate) authorizer: Arc<dyn Authorizer>,
    /// Cancelled when the broker shuts down.
    pub(crate) shutdown: CancellationToken,
    /// Every connection and timer task, so shutdown can wait for them.
    pub(crate) tasks: TaskTracker,
    /// Where persistent sessions' durable state is kept.
    pub(crate) store: Arc<dyn SessionStore>,
    /// Open connections by the id of the client certificate they authenticated with, so that a
    /// certificate that is deactivated or deleted closes its connections at once.
    pub(crate) by_certificate: Mutex<HashMap<String, Vec<TrackedConnection>>>,
}

/// A connection, as the certificate index holds it.
#[derive(Clone, Debug)]
pub(crate) struct TrackedConnection {
    id: u64,
    control: Arc<ConnectionControl>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// A core with no sessions, subscriptions or retained messages.
    pub(crate) fn new(
        config: BrokerConfig,
        authorizer: Arc<dyn Authorizer>,
        store: Arc<dyn SessionStore>,
    ) -> Arc<Core> {
        Arc::new(Core {
            store,
            by_certificate: Mutex::new(HashMap::new()),
            sessions: SessionRegistry::new(&config),
            retained: RetainedStore::new(config.max_retained_messages),
            hooks: Hooks::default(),
            router: Router::new(),
            metrics: Metrics::default(),
            authorizer,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            config,
        })
    }

    /// Publishes a message on the server's account (a will, a lifecycle event, a service's
    /// message): stored first if it is retained and routed, exactly as a client's publish would
    /// be, unless a hook keeps it to hooks; then shown to the matching hooks but `from_hook`.
    /// Subscribers congested by it do not hold anyone back: the server does not wait.
    pub(crate) fn publish(
        &self,
        message: Arc<Message>,
        origin: &PublishOrigin,
        from_hook: Option<HookId>,
    ) -> RouteOutcome {
        self.publish_retaining(message, origin, from_hook).0
    }

    /// [`Core::publish`], also telling what storing a retained message did (`None`: not
    /// retained, or kept to hooks).
    pub(crate) fn publish_retaining(
        &self,
        message: Arc<Message>,
        origin: &PublishOrigin,
        from_hook: Option<HookId>,
    ) -> (RouteOutcome, Option<RetainOutcome>) {
        let mut hooks = HookScratch::default();
        let found = self.hooks.matching(&message.topic, from_hook, &mut hooks);
        let mut retained = None;
        let outcome = if found.hook_only {
            RouteOutcome::default()
        } else {
            if message.retain {
                retained = Some(self.retained.retain(&message));
            }
            let mut scratch = RouteScratch::default();
            self.router.route(&message, &mut scratch)
        };
        hooks.call(&message, origin);
        (outcome, retained)
    }

    /// Publishes a will message on behalf of `origin`, unless it expired while it waited.
    pub(crate) fn publish_will(&self, will: Arc<Message>, origin: &PublishOrigin) {
        if will.is_expired(Instant::now()) {
            return;
        }
        Metrics::inc(&self.metrics.wills_published_total);
        self.publish(will, origin, None);
    }

    /// Publishes a lifecycle event, if they are enabled and the client id allows one.
    pub(crate) fn publish_lifecycle(&self, event: impl FnOnce() -> Option<Message>) {
        if !self.config.lifecycle_events {
            return;
        }
        if let Some(message) = event() {
            Metrics::inc(&self.metrics.lifecycle_events_total);
            self.publish(Arc::new(message), &PublishOrigin::server(), None);
        }
    }

    /// Records that connection `id` authenticated with certificate `certificate_id`.
    pub(crate) fn track_certificate(
        &self,
        certificate_id: &str,
        id: u64,
        control: Arc<ConnectionControl>,
    ) {
        self.by_certificate
            .lock()
            .entry(certificate_id.to_owned())
            .or_default()
            .push(TrackedConnection { id, control });
    }

    /// Forgets connection `id` of certificate `certificate_id`.
    pub(crate) fn untrack_certificate(&self, certificate_id: &str, id: u64) {
        let mut by_certificate = self.by_certificate.lock();
        if let Some(connections) = by_certificate.get_mut(certificate_id) {
            connections.retain(|connection| connection.id != id);
            if connections.is_empty() {
                by_certificate.remove(certificate_id);
            }
        }
    }

    /// Asks every connection authenticated with `certificate_id` to close with `reason`;
    /// returns how many there were.
    pub(crate) fn close_certificate(&self, certificate_id: &str, reason: ReasonCode) -> usize {
        let connections = self
            .by_certificate
            .lock()
            .get(certificate_id)
            .cloned()
            .unwrap_or_default();
        for connection in &connections {
            connection
                .control
                .close_because(reason, DisconnectReason::AuthError);
        }
        connections.len()
    }

    /// Removes an ended session's subscriptions from the index, and its record from the store.
    pub(crate) fn forget_session(&self, session: &Session) {
        let subscriptions = std::mem::take(&mut session.state.lock().subscriptions);
        for stored in subscriptions.values() {
            self.router.unsubscribe(&stored.filter, session.key());
        }
        self.store.remove(session.client_id());
    }

    /// Records a persistent session's durable state in the store (nothing for a session that
    /// ends with its connection).
    pub(crate) fn save_session(&self, session: &Session) {
        if let Some(persisted) = session.persisted() {
            self.store.save(persisted);
        }
    }

    /// Restores the sessions the store kept, offline, with their subscriptions; each expires
    /// its interval after it was saved, and one whose time ran out is forgotten.
    pub(crate) fn restore_sessions(self: &Arc<Self>) {
        let now = SystemTime::now();
        for persisted in self.store.load() {
            let elapsed = now
                .duration_since(persisted.saved_at)
                .unwrap_or_default()
                .as_secs();
            let Some(left) = u64::from(persisted.expiry_interval)
                .checked_sub(elapsed)
                .filter(|l| *l > 0)
            else {
                self.store.remove(&persisted.client_id);
                continue;
            };
            let mut subscriptions = HashMap::new();
            for saved in &persisted.subscriptions {
                // A filter the current limits refuse is dropped rather than restored unchecked.
                match SubscriptionFilter::parse(&saved.filter, &self.config.topic_limits) {
                    Ok(filter) => {
                        subscriptions.insert(
                            Box::from(saved.filter.as_str()),
                            StoredSubscription {
                                filter,
                                options: saved.options,
                                identifier: saved.identifier,
                            },
                        );
                    }
                    Err(error) => {
                        warn!(message = "Dropping a stored subscription.", client_id = %persisted.client_id, filter = %saved.filter, %error)
                    }
                }
            }
            let Some((session, generation)) = self.sessions.restore(
                &persisted.client_id,
                persisted.expiry_interval,
                subscriptions.clone(),
            ) else {
                continue;
            };
            for stored in subscriptions.values() {
                self.router.subscribe(
                    &stored.filter,
                    Subscriber {
                        session: session.clone(),
                        options: stored.options,
                        identifier: stored.identifier,
                    },
                );
            }
            self.schedule_expiry(
                &session,
                u32::try_from(left).unwrap_or(u32::MAX),
                generation,
            );
        }
    }

    /// Ends `session` after `seconds` unless it is resumed first (its generation changes).
    fn schedule_expiry(self: &Arc<Self>, session: &Arc<Session>, seconds: u32, generation: u64) {
        let core = self.clone();
        let session = session.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(u64::from(seconds))) => {
                    if let Some(will) = core.sessions.expire(&session, generation) {
                        Metrics::inc(&core.metrics.sessions_expired_total);
                        core.forget_session(&session);
                        // [MQTT-3.1.2-8]: a will still waiting is published when the session ends.
                        if let Some(will) = will {
                            core.publish_will(will, &session_origin(&session));
                        }
                    }
                }
                _ = core.shutdown.cancelled() => {}
            }
        });
    }

    /// Carries out what a detach left to do: forget an ended session, publish a will now, and
    /// start the timers for a delayed will and for the session's expiry.
    /// `origin` is the connection that detached, on whose behalf its will is published.
    pub(crate) fn finish_detach(
        self: &Arc<Self>,
        session: &Arc<Session>,
        detached: Detached,
        origin: &PublishOrigin,
    ) {
        if detached.ended {
            self.forget_session(session);
        }
        if let Some(will) = detached.will_now {
            self.publish_will(will, origin);
        }
        if let Some((delay, generation)) = detached.will_later {
            let core = self.clone();
            let session = session.clone();
            let origin = origin.clone();
            self.tasks.spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {
                        if let Some(will) = core.sessions.take_due_will(&session, generation) {
                            core.publish_will(will, &origin);
                        }
                    }
                    _ = core.shutdown.cancelled() => {}
                }
            });
        }
        if let Some((seconds, generation)) = detached.expire_after {
            // The interval may have changed on DISCONNECT, and the clock starts now.
            self.save_session(session);
            self.schedule_expiry(session, seconds, generation);
        }
    }
}

/// The origin of a will published when its session ends, with no connection left to describe:
/// the session's client id.
pub(crate) fn session_origin(session: &Session) -> PublishOrigin {
    PublishOrigin {
        client_id: Some(session.client_id().clone()),
        ..PublishOrigin::default()
    }
}
