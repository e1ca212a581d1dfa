//! The state every connection shares ([`Core`]), and the session-lifecycle steps that involve
//! more than one part of it: ending sessions, publishing wills, and their timers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

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
use parking_lot::Mutex;

use crate::durable::{Durable, Op};
use crate::session::{ConnectionControl, Detached, Session, SessionRegistry};

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
    /// The durable store's writer, when the broker keeps state across restarts.
    pub(crate) durable: Option<Arc<Durable>>,
    /// The writer task, awaited at shutdown so that everything submitted is committed.
    pub(crate) writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
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
        durable: Option<Arc<Durable>>,
    ) -> Arc<Core> {
        Arc::new(Core {
            durable,
            writer: Mutex::new(None),
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
            if self.refuses(&message) {
                return (
                    RouteOutcome {
                        refused: true,
                        ..RouteOutcome::default()
                    },
                    None,
                );
            }
            // [MQTT-3.3.1-5]: retained before it is routed, so that a SUBSCRIBE racing with
            // this publish finds it live or retained.
            let mut ticket = None;
            if message.retain {
                let (stored, retain_ticket) = self.retain(&message);
                retained = Some(stored);
                ticket = retain_ticket;
            }
            let mut scratch = RouteScratch::default();
            let mut outcome = self
                .router
                .route(&message, &mut scratch, self.durable.as_deref());
            outcome.ticket = outcome.ticket.max(ticket);
            outcome
        };
        hooks.call(&message, origin);
        (outcome, retained)
    }

    /// Stores (or, empty, clears [MQTT-3.3.1-6]) a retained message, in memory and in the
    /// durable store; the ticket is the store's, to wait for before acknowledging it.
    pub(crate) fn retain(&self, message: &Arc<Message>) -> (RetainOutcome, Option<u64>) {
        let Some(durable) = &self.durable else {
            return (self.retained.retain(message), None);
        };
        // Submitted under the retained store's lock: two publishers retaining on one topic
        // leave the store with the value memory has.
        self.retained.retain_then(message, |outcome| {
            let kept = match outcome {
                RetainOutcome::Stored => Some(message.clone()),
                RetainOutcome::Cleared => None,
                RetainOutcome::Refused => return None,
            };
            Some(durable.submit(Op::Retain {
                topic: message.topic.as_str().to_owned(),
                message: kept,
            }))
        })
    }

    /// Whether the durable store is full, refuses, and `message` would need storing: checked
    /// before a publish changes anything (retained store included). Routing checks again, so a
    /// store that fills in between still refuses (after the retained store took the message).
    pub(crate) fn refuses(&self, message: &Message) -> bool {
        self.durable.as_ref().is_some_and(|durable| {
            let refused = durable.store_full == crate::durable::StoreFull::Refuse
                && durable.is_full()
                && self.router.would_store(message);
            if refused {
                Metrics::inc(&durable.metrics.refused);
            }
            refused
        })
    }

    /// Waits until the durable store has committed `ticket`.
    pub(crate) async fn committed(&self, ticket: Option<u64>) {
        let (Some(durable), Some(ticket)) = (&self.durable, ticket) else {
            return;
        };
        let mut committed = durable.committed();
        // An error means the writer is gone (shutdown): nothing more will be committed.
        let _ = committed.wait_for(|done| *done >= ticket).await;
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

    /// Removes an ended session's subscriptions from the index, and its rows from the durable
    /// store.
    pub(crate) fn forget_session(&self, session: &Session) {
        let subscriptions = std::mem::take(&mut session.state.lock().subscriptions);
        for stored in subscriptions.values() {
            self.router.unsubscribe(&stored.filter, session.key());
        }
        self.unstore_session(session);
    }

    /// Records a persistent session's durable row (subscriptions, expiry, whether it is
    /// online, its pending will); a session that is no longer persistent (expiry 0) leaves
    /// the store.
    ///
    /// Returns the store's ticket to wait for before telling the client (SUBACK, UNSUBACK).
    pub(crate) fn save_session(&self, session: &Session) -> Option<u64> {
        let durable = self.durable.as_ref()?;
        match session.persisted(crate::durable::encode_message) {
            Some(row) => {
                let ticket = durable.submit(Op::SaveSession(row));
                // Marked after the row is submitted: a publisher that sees the session stored
                // submits its deliveries behind the row.
                session.set_stored(true);
                Some(ticket)
            }
            None => {
                self.unstore_session(session);
                None
            }
        }
    }

    /// Removes a session's row and deliveries from the durable store, if it holds them.
    fn unstore_session(&self, session: &Session) {
        if let Some(durable) = &self.durable
            && session.set_stored(false)
        {
            durable.submit(Op::EndSession {
                client_id: session.client_id().to_string(),
                uid: session.uid(),
            });
            // A session that goes on (resumed with an expiry of 0) and becomes persistent
            // again is stored under a new identity: the writer refuses the ended one's.
            session.renew_uid();
        }
    }

    /// Ends `session` after `seconds` unless it is resumed first (its generation changes).
    pub(crate) fn schedule_expiry(
        self: &Arc<Self>,
        session: &Arc<Session>,
        seconds: u32,
        generation: u64,
    ) {
        let core = self.clone();
        let session = session.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(u64::from(seconds))) => {
                    if let Some(will) = core.sessions.expire(&session, generation) {
                        Metrics::inc(&core.metrics.sessions_expired_total);
                        // [MQTT-3.1.2-8]: a will still waiting is published when the session
                        // ends; before its row goes, so the store never holds neither.
                        if let Some(will) = will {
                            core.publish_will(will, &session_origin(&session));
                        }
                        core.forget_session(&session);
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
            self.schedule_will(session, delay, generation, origin);
        }
        if let Some((seconds, generation)) = detached.expire_after {
            // The interval may have changed on DISCONNECT, and the clock starts now.
            self.save_session(session);
            self.schedule_expiry(session, seconds, generation);
        }
    }
}

impl Core {
    /// Publishes `session`'s pending will after `delay` unless the session is resumed first
    /// (its generation changes) [MQTT-3.1.3-9].
    pub(crate) fn schedule_will(
        self: &Arc<Self>,
        session: &Arc<Session>,
        delay: std::time::Duration,
        generation: u64,
        origin: &PublishOrigin,
    ) {
        let core = self.clone();
        let session = session.clone();
        let origin = origin.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {
                    if let Some(will) = core.sessions.take_due_will(&session, generation) {
                        core.publish_will(will, &origin);
                        // The stored row no longer holds it.
                        core.save_session(&session);
                    }
                }
                _ = core.shutdown.cancelled() => {}
            }
        });
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
