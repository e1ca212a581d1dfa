//! The [`Broker`]: shared state plus listeners, and the handle that stops it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::auth::{Authorizer, ClientCertificate, ListenerKind, Principal};
use crate::config::BrokerConfig;
use crate::connection;
use crate::core::Core;
use crate::metrics::{Metrics, render_gauge};
use crate::store::{MemorySessionStore, SessionStore};

/// An MQTT broker. Cheap to clone: clones share the same state.
#[derive(Clone, Debug)]
pub struct Broker {
    core: Arc<Core>,
}

impl Broker {
    /// A broker with no listeners yet, whose sessions live in memory.
    pub fn new(config: BrokerConfig, authorizer: Arc<dyn Authorizer>) -> Broker {
        Self::with_store(config, authorizer, Arc::new(MemorySessionStore::new()))
    }

    /// A broker that keeps persistent sessions in `store`, restoring those it holds. Must be
    /// called inside a tokio runtime (restored sessions get their expiry timers).
    pub fn with_store(
        config: BrokerConfig,
        authorizer: Arc<dyn Authorizer>,
        store: Arc<dyn SessionStore>,
    ) -> Broker {
        let core = Core::new(config, authorizer, store);
        core.restore_sessions();
        Broker { core }
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
        out
    }

    /// Closes every connection authenticated with the certificate `certificate_id` (5.0 clients
    /// get DISCONNECT 0x87 Not authorized); returns how many. Called when the certificate is
    /// deactivated, revoked or deleted.
    pub fn disconnect_certificate(&self, certificate_id: &str) -> usize {
        self.core
            .close_certificate(certificate_id, mqtt_codec::ReasonCode::NotAuthorized)
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
