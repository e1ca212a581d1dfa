//! The [`Broker`]: shared state plus listeners, and the handle that stops it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mqtt_topic::{TopicFilter, TopicName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::auth::{Authorizer, ClientCertificate, ListenerKind, Principal};
use crate::config::BrokerConfig;
use crate::connection;
use crate::core::Core;
use crate::hooks::{HookId, HookOptions, PublishHook, PublishOrigin};
use crate::message::Message;
use crate::metrics::{Metrics, render_gauge};
use crate::store::{BackendError, DurableBackend};

/// The durable store is full and refuses messages that would need storing (see
/// [`crate::StoreFull::Refuse`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the durable store is full")]
pub struct StoreFullError;

/// An MQTT broker. Cheap to clone: clones share the same state.
#[derive(Clone, Debug)]
pub struct Broker {
    core: Arc<Core>,
}

impl Broker {
    /// A broker with no listeners yet, whose state lives in memory only: a restart loses
    /// persistent sessions and retained messages.
    pub fn new(config: BrokerConfig, authorizer: Arc<dyn Authorizer>) -> Broker {
        Broker {
            core: Core::new(config, authorizer, None),
        }
    }

    /// A broker that keeps retained messages and persistent sessions (with their queued and
    /// unacknowledged QoS 1 and 2 messages, and pending wills) in `backend`, restoring what it
    /// holds; QoS 1 and 2 PUBLISH packets that need a write are acknowledged once it is
    /// durable. Must be called inside a tokio runtime.
    pub async fn durable(
        config: BrokerConfig,
        authorizer: Arc<dyn Authorizer>,
        backend: Box<dyn DurableBackend>,
    ) -> Result<Broker, BackendError> {
        let (opened, snapshot) =
            crate::durable::open(backend, config.max_stored_bytes, config.store_full).await?;
        let core = Core::new(config, authorizer, Some(opened.durable.clone()));
        core.restore(&snapshot);
        drop(snapshot);
        *core.writer.lock() = Some(opened.start_writer());
        Ok(Broker { core })
    }

    /// The configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.core.config
    }

    /// Binds plain MQTT over TCP on `addr` and serves it; returns the bound address.
    pub async fn listen_tcp(&self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let core = self.core.clone();
        self.core.tasks.spawn(accept_loop(core, listener, None));
        info!(message = "MQTT over TCP listening.", address = %local);
        Ok(local)
    }

    /// Binds MQTT over TLS on `addr` with `tls` and serves it; returns the bound address.
    pub async fn listen_tls(
        &self,
        addr: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
    ) -> io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let core = self.core.clone();
        self.core
            .tasks
            .spawn(accept_loop(core, listener, Some(TlsAcceptor::from(tls))));
        info!(message = "MQTT over TLS listening.", address = %local);
        Ok(local)
    }

    /// Serves one MQTT-over-WebSocket connection whose handshake the HTTP layer completed.
    pub async fn serve_websocket<S>(&self, stream: S, remote_addr: SocketAddr)
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        if self.core.shutdown.is_cancelled() {
            return;
        }
        let principal = Principal {
            listener: ListenerKind::WebSocket,
            remote_addr,
            certificate: None,
        };
        let core = self.core.clone();
        let _ = self
            .core
            .tasks
            .spawn(connection::serve(core, stream, principal))
            .await;
    }

    /// The broker's metrics in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.core.metrics.render(&mut out);
        render_gauge(
            &mut out,
            "sessions",
            "Sessions, online and offline.",
            self.core.sessions.len() as u64,
        );
        render_gauge(
            &mut out,
            "subscriptions",
            "Subscriptions in the index.",
            self.core.router.subscription_count() as u64,
        );
        render_gauge(
            &mut out,
            "retained_messages",
            "Retained messages stored.",
            self.core.retained.len() as u64,
        );
        if let Some(durable) = &self.core.durable {
            durable.render(&mut out);
        }
        out
    }

    /// Closes every connection authenticated with the certificate `certificate_id` (5.0 clients
    /// get DISCONNECT 0x87 Not authorized); returns how many. Called when the certificate is
    /// deactivated, revoked or deleted.
    pub fn disconnect_certificate(&self, certificate_id: &str) -> usize {
        self.core
            .close_certificate(certificate_id, mqtt_codec::ReasonCode::NotAuthorized)
    }

    /// Registers `hook` to see the messages published on topics matching `filter` (see
    /// [`PublishHook`]); `options` says whether clients may publish to the `$` topics it serves
    /// and whether its messages reach subscribers at all. A filter starting with a wildcard does
    /// not match `$` topics [MQTT-4.7.2-1]: a hook for `$aws/...` topics names them.
    pub fn add_publish_hook(
        &self,
        filter: TopicFilter,
        options: HookOptions,
        hook: Arc<dyn PublishHook>,
    ) -> HookId {
        self.core.hooks.add(filter, options, hook)
    }

    /// Unregisters a hook; unknown ids are ignored. A publish already under way may still show
    /// it one more message.
    pub fn remove_publish_hook(&self, id: HookId) {
        self.core.hooks.remove(id);
    }

    /// Publishes a message as the server: stored if retained (an empty retained payload clears
    /// the topic's retained message), routed to subscribers (each delivery still passes the
    /// subscriber's `receive` authorization), and shown to hooks, except `from_hook`'s own.
    /// Never refused by publish authorization; `$` topics are allowed. A hook marked
    /// [`HookOptions::hook_only`] for the topic keeps it from subscribers and retained storage.
    /// Returns how many sessions it was queued for.
    pub fn publish(
        &self,
        message: Message,
        origin: &PublishOrigin,
        from_hook: Option<HookId>,
    ) -> usize {
        let mut message = message;
        // The session key is the broker's business (No Local): a message from outside was
        // published by no session, whatever it says.
        message.origin = None;
        self.core
            .publish(Arc::new(message), origin, from_hook)
            .delivered
    }

    /// [`Broker::publish`], also telling what storing a retained message did: `None` when the
    /// message is not retained (or a hook keeps it to hooks), [`RetainOutcome::Refused`] when
    /// the retained store is full (the message was still routed). For publishers that answer
    /// that refusal (the HTTPS data plane).
    pub fn publish_retaining(
        &self,
        message: Message,
        origin: &PublishOrigin,
        from_hook: Option<HookId>,
    ) -> (usize, Option<crate::retained::RetainOutcome>) {
        let mut message = message;
        // As in `publish`: a message from outside was published by no session.
        message.origin = None;
        let (routed, retained) = self
            .core
            .publish_retaining(Arc::new(message), origin, from_hook);
        (routed.delivered, retained)
    }

    /// [`Broker::publish_retaining`] for a publisher that acknowledges it (the HTTPS data
    /// plane's Publish): returns once what the message needed stored is durable, as a QoS 1
    /// PUBACK waits. `Err` when the durable store was full and refused it (nothing was
    /// delivered; see [`crate::StoreFull::Refuse`]).
    pub async fn publish_durably(
        &self,
        message: Message,
        origin: &PublishOrigin,
        from_hook: Option<HookId>,
    ) -> Result<(usize, Option<crate::retained::RetainOutcome>), StoreFullError> {
        let mut message = message;
        // As in `publish`: a message from outside was published by no session.
        message.origin = None;
        let (routed, retained) = self
            .core
            .publish_retaining(Arc::new(message), origin, from_hook);
        if routed.refused {
            return Err(StoreFullError);
        }
        self.core.committed(routed.ticket).await;
        Ok((routed.delivered, retained))
    }

    /// Whether a client may publish to `topic` as far as the protocol goes, before any policy:
    /// topics starting with `$` are the server's [MQTT-4.7.2-1], open to clients only where a
    /// publish hook accepts them (device shadows, Basic Ingest), exactly as a client's PUBLISH
    /// is judged. For publishers outside MQTT (the HTTPS data plane), which then publish with
    /// [`Broker::publish`].
    pub fn accepts_client_publish(&self, topic: &TopicName) -> bool {
        if !topic.is_system() {
            return true;
        }
        let mut matched = crate::hooks::HookScratch::default();
        self.core
            .hooks
            .matching(topic, None, &mut matched)
            .accepts_system_topics
    }

    /// The retained message of `topic`, unless it expired.
    pub fn retained_message(&self, topic: &TopicName) -> Option<Arc<Message>> {
        self.core
            .retained
            .get(topic.as_str(), std::time::Instant::now())
    }

    /// Up to `limit` retained messages, unexpired, whose topics come after `after` in topic
    /// (byte) order, in that order: pass the last topic of a page to get the next one. Each call
    /// scans every retained topic (see [`crate::retained::RetainedStore::page`]).
    pub fn retained_messages(&self, after: Option<&str>, limit: usize) -> Vec<Arc<Message>> {
        self.core
            .retained
            .page(after, limit, std::time::Instant::now())
    }

    /// The broker's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.core.metrics
    }

    /// Stops accepting connections, disconnects every client (0x8B Server shutting down for
    /// 5.0 clients), and waits up to the configured grace for connections to flush and close.
    pub async fn shutdown(&self) {
        self.core.shutdown.cancel();
        self.core.tasks.close();
        if tokio::time::timeout(self.core.config.shutdown_grace, self.core.tasks.wait())
            .await
            .is_err()
        {
            warn!(message = "Connections still open after the shutdown grace period.");
        }
        for session in self.core.sessions.drain() {
            // Persistent sessions are recorded as they stand, so a broker started on the same
            // store resumes them.
            self.core.save_session(&session);
            session.mailbox.close();
        }
        if let Some(durable) = &self.core.durable {
            // Everything submitted is committed before the broker reports that it stopped.
            durable.close();
            let writer = self.core.writer.lock().take();
            if let Some(writer) = writer {
                let _ = writer.await;
            }
        }
    }
}

async fn accept_loop(core: Arc<Core>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = core.shutdown.cancelled() => return,
        };
        let (stream, remote_addr) = match accepted {
            Ok(pair) => {
                backoff = Duration::from_millis(5);
                pair
            }
            Err(error) => {
                // Running out of file descriptors must not spin the accept loop: back off and
                // let connections close.
                warn!(message = "Accept failed.", %error);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        // Small packets (acknowledgements, pings) must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let core_for_task = core.clone();
        match &tls {
            None => {
                let principal = Principal {
                    listener: ListenerKind::Tcp,
                    remote_addr,
                    certificate: None,
                };
                core.tasks.spawn(async move {
                    let (reader, writer) = stream.into_split();
                    connection::serve_split(core_for_task, reader, writer, principal).await;
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                core.tasks.spawn(async move {
                    let timeout = core_for_task.config.connect_timeout;
                    let handshake = tokio::time::timeout(timeout, acceptor.accept(stream)).await;
                    let tls_stream = match handshake {
                        Ok(Ok(tls_stream)) => tls_stream,
                        Ok(Err(error)) => {
                            debug!(message = "TLS handshake failed.", remote = %remote_addr, %error);
                            Metrics::inc(&core_for_task.metrics.connections_refused_total);
                            return;
                        }
                        Err(_) => {
                            debug!(message = "TLS handshake timed out.", remote = %remote_addr);
                            Metrics::inc(&core_for_task.metrics.connections_refused_total);
                            return;
                        }
                    };
                    let certificate = tls_stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .map(|leaf| ClientCertificate::from_der(leaf));
                    let principal = Principal { listener: ListenerKind::Tls, remote_addr, certificate };
                    connection::serve(core_for_task, tls_stream, principal).await;
                });
            }
        }
    }
}
