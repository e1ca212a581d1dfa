//! `thingd serve`: the data directory, the certificate authority and server certificate, the
//! broker and its listeners, and the HTTP listener, started together and stopped together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::authorizer::RegistryAuthorizer;
use crate::data_plane::DataPlane;
use crate::data_plane::https::{HttpsConfig, HttpsServer};
use crate::live::LiveConnections;
use crate::rules::{RulesEngine, RulesOptions};
use crate::shadows::{ShadowConfig, ShadowService};
use anyhow::Context;
use thingd_api::AuthorizationChange;
use thingd_broker::{Authorizer, Broker, BrokerConfig};
use thingd_pki::{CertificateAuthority, ServerIdentity};
use thingd_registry::{AccessKey, Partition, PolicyStore};
use thingd_storage::{DurableSync, SqliteDurable, SqliteStore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

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
    /// The HTTPS device data plane (AWS IoT's port 8443: Publish, shadows and retained messages
    /// over HTTPS with client certificates; see [`crate::data_plane`]); `None` disables it.
    pub https: Option<SocketAddr>,
    /// Extra names for the server certificate, besides localhost and the host name.
    pub hostnames: Vec<String>,
    /// Broker limits.
    pub broker: BrokerConfig,
    /// Who may connect, publish, subscribe and receive; `None` uses [`RegistryAuthorizer`]:
    /// registered certificates, held to the AWS IoT policies attached to them.
    pub authorizer: Option<Arc<dyn Authorizer>>,
    /// The one policy connections without credentials (plain TCP, MQTT over WebSocket from
    /// loopback) are held to; `None` refuses them all (default deny). Only used with the
    /// default authorizer.
    pub mqtt_tcp_policy: Option<String>,
    /// The region and account id of the ARNs the API hands out.
    pub partition: Partition,
    /// The Device Shadow service's queues and batching.
    pub shadows: ShadowConfig,
    /// URL prefixes of HTTP topic rule destinations thingd trusts
    /// (`--rules-trusted-destination`): such a destination is ENABLED at once, without the
    /// confirmation POST.
    pub rules_trusted_destinations: Vec<String>,
    /// The rules engine: queues, timeouts, and the engines its actions deliver to.
    pub rules: RulesOptions,
    /// When a commit of the broker's store (`mqtt.db`) counts as durable, and so when QoS 1/2
    /// messages are acknowledged: on disk (the default) or handed to the operating system.
    pub store_sync: DurableSync,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("data_dir", &self.data_dir)
            .field("mqtt", &self.mqtt)
            .field("mqtt_tcp", &self.mqtt_tcp)
            .field("api", &self.api)
            .field("https", &self.https)
            .field("hostnames", &self.hostnames)
            .field("broker", &self.broker)
            .field("mqtt_tcp_policy", &self.mqtt_tcp_policy)
            .field("rules", &self.rules)
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
            https: Some(SocketAddr::from(([0, 0, 0, 0], 8443))),
            hostnames: Vec::new(),
            broker: BrokerConfig::default(),
            authorizer: None,
            mqtt_tcp_policy: None,
            partition: Partition {
                region: "us-east-1".to_owned(),
                account: "000000000000".to_owned(),
            },
            shadows: ShadowConfig::default(),
            rules_trusted_destinations: Vec::new(),
            rules: RulesOptions::default(),
            store_sync: DurableSync::Full,
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
    /// The bound HTTPS data plane address.
    pub https: Option<SocketAddr>,
    /// The data plane (Publish, shadows and retained messages over HTTP) both HTTP listeners
    /// serve.
    pub data_plane: Arc<DataPlane>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The broker.
    pub broker: Broker,
    /// The registry's store.
    pub store: Arc<SqliteStore>,
    /// The region and account id of the ARNs.
    pub partition: Partition,
    /// The open connections held to policies, when the registry authorizer is in use.
    pub live: Option<LiveConnections>,
    /// The API's admin access key (also in `credentials` in the data directory).
    pub admin_key: AccessKey,
    /// The Device Shadow service (MQTT shadow topics; the HTTPS data plane calls it too).
    pub shadows: Arc<ShadowService>,
    /// The rules engine.
    pub rules: RulesEngine,
    http_stop: CancellationToken,
    http_task: Option<JoinHandle<()>>,
    https_server: Option<HttpsServer>,
}

/// Registry changes that concern the broker: a certificate that may no longer authenticate
/// loses its connections (and HTTPS requests check it again); a change of policies,
/// attachments, things or groups has the connections it concerns re-evaluated (see
/// [`crate::live`]).
struct BrokerEvents {
    broker: Broker,
    live: Option<LiveConnections>,
    data_plane: Arc<DataPlane>,
    rules: RulesEngine,
}

impl thingd_api::RegistryEvents for BrokerEvents {
    fn certificate_revoked(&self, certificate_id: &str) {
        // HTTPS requests carry no connection to close: the next one checks the certificate.
        self.data_plane.certificate_revoked();
        let closed = self.broker.disconnect_certificate(certificate_id);
        if closed > 0 {
            info!(
                message = "Closed the connections of a certificate that may no longer connect.",
                certificate_id, closed
            );
        }
    }

    fn authorization_changed(&self, change: &AuthorizationChange) {
        if let Some(live) = &self.live {
            live.authorization_changed(change);
        }
    }

    fn topic_rule_changed(&self, rule_name: &str) {
        self.rules.topic_rule_changed(rule_name);
    }

    fn topic_rule_destination_changed(&self, arn: &str) {
        self.rules.topic_rule_destination_changed(arn);
    }
}

/// The SQLite database in the data directory.
pub const DATABASE_FILE: &str = "thingd.db";

/// The broker's durable state (retained messages, persistent sessions and the messages queued
/// for them) in the data directory.
pub const MQTT_DATABASE_FILE: &str = "mqtt.db";

/// The URL clients reach the HTTP listener at: its address, with a wildcard bind replaced by
/// loopback.
fn endpoint_url(bound: SocketAddr) -> String {
    let host = match bound.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    format!("http://{host}:{}", bound.port())
}

/// The base URL a topic rule destination's owner reaches the API at, for the confirmation
/// message's `enableUrl`: the first `--hostname` when the listener binds every address (the
/// loopback address [`endpoint_url`] gives would mean nothing to a remote receiver), else the
/// bound address.
fn api_url(bound: SocketAddr, hostnames: &[String]) -> String {
    match hostnames.first() {
        Some(host) if bound.ip().is_unspecified() => format!("http://{host}:{}", bound.port()),
        _ => endpoint_url(bound),
    }
}

/// Tells the operator how to point the AWS CLI at thingd. These lines are instructions for a
/// person at the terminal, not log events, so they go to stderr as plain text.
#[allow(clippy::print_stderr)]
fn print_cli_usage(credentials: &std::path::Path, config: &std::path::Path) {
    eprintln!(
        "\nUse the AWS CLI, boto3 or an AWS SDK with thingd:\n\n    export AWS_SHARED_CREDENTIALS_FILE={} AWS_CONFIG_FILE={}\n    aws iot list-things\n",
        credentials.display(),
        config.display()
    );
}

/// Tells the operator when the plain listener will refuse every client: no policy given, or
/// one that does not exist (yet: it may be created through the API while thingd runs).
async fn warn_about_anonymous_policy(store: &SqliteStore, options: &ServeOptions) {
    if options.authorizer.is_some() {
        return;
    }
    match &options.mqtt_tcp_policy {
        None => warn!(
            message = "Plain MQTT (and MQTT over WebSocket from loopback) is enabled without --mqtt-tcp-policy: every CONNECT there is refused."
        ),
        Some(name) => match store.policy(name).await {
            Ok(Some(_)) => {}
            Ok(None) => warn!(
                message = "The --mqtt-tcp-policy does not exist: plain MQTT clients are refused until it is created.",
                policy = %name
            ),
            Err(error) => warn!(message = "Could not look up the --mqtt-tcp-policy.", %error),
        },
    }
}

/// Starts thingd: prepares the data directory and its certificates, then binds every listener.
pub async fn start(options: ServeOptions) -> anyhow::Result<Running> {
    let ca = Arc::new(
        CertificateAuthority::load_or_create(&options.data_dir).with_context(|| {
            format!(
                "preparing the certificate authority in {}",
                options.data_dir.display()
            )
        })?,
    );
    if ca.was_created() {
        info!(message = "Created a certificate authority.", path = %options.data_dir.join("ca.pem").display());
    }
    let server = ServerIdentity::load_or_issue(&options.data_dir, &ca, &options.hostnames)
        .context("preparing the server certificate")?;
    let database = options.data_dir.join(DATABASE_FILE);
    let registry = Arc::new(
        SqliteStore::open(&database)
            .await
            .with_context(|| format!("opening the database {}", database.display()))?,
    );
    let (admin_key, created_key) = crate::credentials::admin_key(registry.as_ref()).await?;

    let (authorizer, live) = match options.authorizer.clone() {
        Some(authorizer) => (authorizer, None),
        None => {
            let authorizer = RegistryAuthorizer::new(
                registry.clone(),
                options.partition.clone(),
                options.mqtt_tcp_policy.clone(),
            );
            let live = authorizer.live().clone();
            (Arc::new(authorizer) as Arc<dyn Authorizer>, Some(live))
        }
    };
    // Retained messages, persistent sessions and their queued messages: a file of their own,
    // so the broker's group commits never wait on the registry's writes.
    let mqtt_database = options.data_dir.join(MQTT_DATABASE_FILE);
    let backend = SqliteDurable::open_with(&mqtt_database, options.store_sync)
        .await
        .with_context(|| format!("opening the database {}", mqtt_database.display()))?;
    let broker = Broker::durable(options.broker.clone(), authorizer, Box::new(backend))
        .await
        .map_err(|error| anyhow::anyhow!(error))
        .with_context(|| {
            format!(
                "restoring the broker's state from {}",
                mqtt_database.display()
            )
        })?;
    let shadows = ShadowService::start(registry.clone(), broker.clone(), options.shadows.clone());
    let data_plane = DataPlane::new(
        broker.clone(),
        shadows.clone(),
        registry.clone(),
        options.partition.clone(),
        live.clone(),
    );
    // Before any listener: every stored rule sees the first message.
    let mut rules_options = options.rules.clone();
    rules_options
        .trusted_destinations
        .extend(options.rules_trusted_destinations.iter().cloned());
    let rules = RulesEngine::start(
        broker.clone(),
        registry.clone(),
        &options.partition,
        rules_options,
        &options.data_dir,
    )
    .await
    .context("starting the rules engine")?;
    let mut running = Running {
        mqtt: None,
        mqtt_tcp: None,
        api: None,
        https: None,
        data_plane: data_plane.clone(),
        data_dir: options.data_dir.clone(),
        broker: broker.clone(),
        store: registry.clone(),
        partition: options.partition.clone(),
        live: live.clone(),
        admin_key: admin_key.clone(),
        shadows,
        rules: rules.clone(),
        http_stop: CancellationToken::new(),
        http_task: None,
        https_server: None,
    };
    if let Some(addr) = options.mqtt {
        // The handshake requires a certificate and proof of its key; the registry decides at
        // CONNECT whether it may connect (see crate::authorizer).
        let tls = thingd_broker::tls::mqtt_server_config_deferred(
            server.cert_chain_der(),
            server.private_key_der(),
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
        warn_about_anonymous_policy(registry.as_ref(), &options).await;
        running.mqtt_tcp = Some(
            broker
                .listen_tcp(addr)
                .await
                .with_context(|| format!("binding MQTT/TCP on {addr}"))?,
        );
    }
    if options.https.is_some() && options.authorizer.is_some() {
        // The HTTPS data plane decides from the registry (certificates and their policies);
        // serving it would let devices bypass the custom authorizer.
        warn!(
            message = "The HTTPS data plane is not started: a custom authorizer is configured, and HTTPS requests would bypass it."
        );
    } else if let Some(addr) = options.https {
        // As for MQTT: the handshake requires a certificate and proof of its key; the registry
        // decides at each request (see crate::data_plane).
        let tls = crate::data_plane::https::server_config(
            server.cert_chain_der(),
            server.private_key_der(),
        )
        .context("configuring TLS for HTTPS")?;
        let https = HttpsServer::bind(addr, tls, data_plane.clone(), HttpsConfig::default())
            .await
            .with_context(|| format!("binding HTTPS on {addr}"))?;
        running.https = Some(https.local_addr());
        running.https_server = Some(https);
    }
    if let Some(addr) = options.api {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding HTTP on {addr}"))?;
        let bound = listener.local_addr()?;
        running.api = Some(bound);
        let endpoint = endpoint_url(bound);
        let (credentials, config) = crate::credentials::write_cli_files(
            &options.data_dir,
            &admin_key,
            &options.partition.region,
            &endpoint,
        )?;
        info!(message = "HTTP listening: AWS IoT API, MQTT over WebSocket at /mqtt, /metrics.", address = %bound);
        if created_key {
            info!(message = "Created the API's admin access key.", access_key_id = %admin_key.access_key_id);
        }
        print_cli_usage(&credentials, &config);
        let stop = running.http_stop.clone();
        let api = thingd_api::ApiState {
            store: registry.clone(),
            partition: options.partition.clone(),
            ca: ca.clone(),
            endpoint_host: options
                .hostnames
                .first()
                .cloned()
                .unwrap_or_else(|| "localhost".to_owned()),
            events: Arc::new(BrokerEvents {
                broker: broker.clone(),
                live,
                data_plane: data_plane.clone(),
                rules: rules.clone(),
            }),
            rules: thingd_api::RulesApiConfig {
                trusted_destination_prefixes: options.rules_trusted_destinations.clone(),
                api_url: api_url(bound, &options.hostnames),
                ..thingd_api::RulesApiConfig::default()
            },
        };
        let app = crate::http::router(
            broker.clone(),
            api,
            data_plane.clone(),
            vec![
                running.shadows.clone() as Arc<dyn crate::http::MetricsSource>,
                data_plane.clone(),
                Arc::new(rules.clone()),
            ],
        );
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
    ///
    /// The order matters: the HTTP and HTTPS listeners first (no new request arrives), then the
    /// shadow service (its queued requests are answered and their accepted/delta messages
    /// published), then the broker, so that nothing is published into a stopped broker, and the rules engine
    /// after it, finishing the actions of what the broker routed.
    pub async fn shutdown(mut self) {
        self.http_stop.cancel();
        if let Some(https) = self.https_server.take() {
            https.shutdown().await;
        }
        if let Some(task) = self.http_task.take() {
            let _ = tokio::time::timeout(self.broker.config().shutdown_grace, task).await;
        }
        self.shadows.shutdown().await;
        self.broker.shutdown().await;
        // The rules engine last: it finishes the actions of what the broker routed.
        self.rules
            .shutdown(self.broker.config().shutdown_grace)
            .await;
    }
}
