//! `thingd serve`: the data directory, the certificate authority and server certificate, the
//! broker and its listeners, and the HTTP listener, started together and stopped together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use thingd_broker::{
    AllowConnected, Authorizer, Broker, BrokerConfig, MemorySessionStore, SessionStore,
};
use thingd_pki::{CertificateAuthority, ServerIdentity};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Where and how to run thingd.
#[derive(Clone)]
pub struct ServeOptions {
    /// The data directory (created, owner-only, on first start).
    pub data_dir: PathBuf,
    /// MQTT over TLS with client certificates; `None` disables it.
    pub mqtt: Option<SocketAddr>,
    /// Plain MQTT over TCP; `None` (the default) disables it.
    pub mqtt_tcp: Option<SocketAddr>,
    /// The HTTP listener (MQTT over WebSocket at `/mqtt`, `/metrics`, `/health`); `None` disables it.
    pub api: Option<SocketAddr>,
    /// Extra names for the server certificate, besides localhost and the host name.
    pub hostnames: Vec<String>,
    /// Broker limits.
    pub broker: BrokerConfig,
    /// Who may connect, publish, subscribe and receive; `None` uses [`AllowConnected`].
    pub authorizer: Option<Arc<dyn Authorizer>>,
    /// Where persistent sessions are kept; `None` keeps them in memory for this process.
    pub session_store: Option<Arc<dyn SessionStore>>,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("data_dir", &self.data_dir)
            .field("mqtt", &self.mqtt)
            .field("mqtt_tcp", &self.mqtt_tcp)
            .field("api", &self.api)
            .field("hostnames", &self.hostnames)
            .field("broker", &self.broker)
            .finish_non_exhaustive()
    }
}

impl ServeOptions {
    /// The defaults of `thingd serve`: `./thingd-data`, MQTT/TLS on 0.0.0.0:8883, HTTP on
    /// 127.0.0.1:8080, no plain MQTT.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServeOptions {
            data_dir: data_dir.into(),
            mqtt: Some(SocketAddr::from(([0, 0, 0, 0], 8883))),
            mqtt_tcp: None,
            api: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            hostnames: Vec::new(),
            broker: BrokerConfig::default(),
            authorizer: None,
            session_store: None,
        }
    }
}

/// A running thingd.
#[derive(Debug)]
pub struct Running {
    /// The bound MQTT over TLS address.
    pub mqtt: Option<SocketAddr>,
    /// The bound plain MQTT address.
    pub mqtt_tcp: Option<SocketAddr>,
    /// The bound HTTP address.
    pub api: Option<SocketAddr>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The broker.
    pub broker: Broker,
    http_stop: CancellationToken,
    http_task: Option<JoinHandle<()>>,
}

/// Starts thingd: prepares the data directory and its certificates, then binds every listener.
pub async fn start(options: ServeOptions) -> anyhow::Result<Running> {
    let ca = CertificateAuthority::load_or_create(&options.data_dir).with_context(|| {
        format!(
            "preparing the certificate authority in {}",
            options.data_dir.display()
        )
    })?;
    if ca.was_created() {
        info!(message = "Created a certificate authority.", path = %options.data_dir.join("ca.pem").display());
    }
    let server = ServerIdentity::load_or_issue(&options.data_dir, &ca, &options.hostnames)
        .context("preparing the server certificate")?;

    let authorizer = options
        .authorizer
        .clone()
        .unwrap_or_else(|| Arc::new(AllowConnected));
    let store = options
        .session_store
        .clone()
        .unwrap_or_else(|| Arc::new(MemorySessionStore::new()));
    let broker = Broker::with_store(options.broker.clone(), authorizer, store);
    let mut running = Running {
        mqtt: None,
        mqtt_tcp: None,
        api: None,
        data_dir: options.data_dir.clone(),
        broker: broker.clone(),
        http_stop: CancellationToken::new(),
        http_task: None,
    };
    if let Some(addr) = options.mqtt {
        let tls = thingd_broker::tls::mqtt_server_config(
            server.cert_chain_der(),
            server.private_key_der(),
            std::slice::from_ref(ca.ca_der()),
        )
        .context("configuring TLS")?;
        running.mqtt = Some(
            broker
                .listen_tls(addr, tls)
                .await
                .with_context(|| format!("binding MQTT/TLS on {addr}"))?,
        );
    }
    if let Some(addr) = options.mqtt_tcp {
        running.mqtt_tcp = Some(
            broker
                .listen_tcp(addr)
                .await
                .with_context(|| format!("binding MQTT/TCP on {addr}"))?,
        );
    }
    if let Some(addr) = options.api {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding HTTP on {addr}"))?;
        running.api = Some(listener.local_addr()?);
        info!(message = "HTTP listening (MQTT over WebSocket at /mqtt, /metrics).", address = %listener.local_addr()?);
        let stop = running.http_stop.clone();
        let app = crate::http::router(broker.clone());
        running.http_task = Some(tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, service)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        }));
    }
    Ok(running)
}

impl Running {
    /// Stops accepting, disconnects every client, and waits for the listeners to finish.
    pub async fn shutdown(mut self) {
        self.broker.shutdown().await;
        self.http_stop.cancel();
        if let Some(task) = self.http_task.take() {
            let _ = tokio::time::timeout(self.broker.config().shutdown_grace, task).await;
        }
    }
}
