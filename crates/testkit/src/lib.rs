//! A whole thingd, started in-process on port 0 with a temporary data directory, for tests.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let server = testkit::TestServer::start().await?;
//! // Registered, ACTIVE, with the allow-all policy attached: it may do anything.
//! let device = server.issue_client("sensor-1").await?;
//! // connect to server.mqtt_tls with device.cert_pem / device.key_pem, trusting server.ca_pem
//! // Registered and ACTIVE but held to no policy: it may do nothing until one is attached.
//! let bare = server.issue_client_without_policy("sensor-2").await?;
//! server.create_policy("sensor", r#"{"Version":"2012-10-17","Statement":[
//!     {"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#).await?;
//! server.attach_policy("sensor", &bare).await?;
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod mosquitto;
pub mod process;
pub mod raw;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use std::sync::Arc;
use tempfile::TempDir;
use thingd::{Running, ServeOptions};

use thingd_broker::{Authorizer, Broker, BrokerConfig};
use thingd_pki::CertificateAuthority;
use thingd_registry::{
    AccessKey, ArnKind, AttachedPolicy, CertificateStatus, CertificateStore, Inserted, Policy,
    PolicyStore, Timestamp,
};
use thingd_storage::SqliteStore;

/// A running thingd with every listener on a loopback port chosen by the system.
#[derive(Debug)]
pub struct TestServer {
    /// MQTT over TLS (client certificate required).
    pub mqtt_tls: SocketAddr,
    /// Plain MQTT.
    pub mqtt_tcp: SocketAddr,
    /// The HTTP listener (MQTT over WebSocket at `/mqtt`, `/metrics`).
    pub api: SocketAddr,
    /// The HTTPS device data plane (client certificate required); port 0 (nothing listens)
    /// when a custom authorizer is set, which turns the HTTPS data plane off.
    pub https: SocketAddr,
    /// The CA certificate clients trust, PEM.
    pub ca_pem: String,
    /// Path of `ca.pem` in the data directory.
    pub ca_path: PathBuf,
    /// A client certificate issued for the client id `testkit-client`, with the
    /// [`ALLOW_ALL_POLICY`] attached.
    pub client: ClientCert,
    running: Running,
    data_dir: TempDir,
}

/// The policy every test server has, which lets anyone held to it do anything:
/// [`TestServer::issue_client`] attaches it to the certificates it issues, and the plain
/// listener (and MQTT over WebSocket from loopback) is held to it, so tests that are not about
/// policies can ignore them.
pub const ALLOW_ALL_POLICY: &str = "testkit-allow-all";

/// The document of [`ALLOW_ALL_POLICY`].
pub const ALLOW_ALL_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

/// How many policies AWS IoT lets one target have attached.
const MAX_POLICIES_PER_TARGET: usize = 10;

/// A client certificate and its key, written to a folder as `cert.pem`, `key.pem`, `ca.pem`.
#[derive(Debug, Clone)]
pub struct ClientCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM.
    pub key_pem: String,
    /// The certificate id (SHA-256 of the DER, hex).
    pub certificate_id: String,
    /// The folder holding `cert.pem`, `key.pem` and `ca.pem`.
    pub dir: PathBuf,
}

impl ClientCert {
    /// Path of `cert.pem`.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }
    /// Path of `key.pem`.
    pub fn key_path(&self) -> PathBuf {
        self.dir.join("key.pem")
    }
    /// Path of `ca.pem`.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl TestServer {
    /// Starts thingd with the default broker configuration.
    pub async fn start() -> anyhow::Result<TestServer> {
        Self::start_with(BrokerConfig::default()).await
    }

    /// Starts thingd with `config`.
    pub async fn start_with(config: BrokerConfig) -> anyhow::Result<TestServer> {
        let data_dir = tempfile::tempdir().context("creating a temporary data directory")?;
        Self::start_in(data_dir, config).await
    }

    /// Starts thingd with `config`, the plain listener (and MQTT over WebSocket from loopback)
    /// held to the policy named `mqtt_tcp_policy` (`None`: every CONNECT there is refused). The
    /// policy need not exist yet: it is looked up at each CONNECT.
    pub async fn start_with_tcp_policy(
        config: BrokerConfig,
        mqtt_tcp_policy: Option<&str>,
    ) -> anyhow::Result<TestServer> {
        let data_dir = tempfile::tempdir().context("creating a temporary data directory")?;
        Self::start_options(data_dir, config, None, mqtt_tcp_policy.map(str::to_owned)).await
    }

    /// Starts thingd with `config` and a custom authorizer.
    pub async fn start_with_authorizer(
        config: BrokerConfig,
        authorizer: Arc<dyn Authorizer>,
    ) -> anyhow::Result<TestServer> {
        let data_dir = tempfile::tempdir().context("creating a temporary data directory")?;
        Self::start_full(data_dir, config, Some(authorizer)).await
    }

    /// Starts thingd on an existing data directory (e.g. to test a restart).
    pub async fn start_in(data_dir: TempDir, config: BrokerConfig) -> anyhow::Result<TestServer> {
        Self::start_full(data_dir, config, None).await
    }

    /// Starts thingd with the default broker configuration and `configure` applied to its
    /// options (the rules engine's, for instance) before it starts. The listeners stay on
    /// loopback port 0 and the plain listener held to [`ALLOW_ALL_POLICY`].
    pub async fn start_configured(
        configure: impl FnOnce(&mut ServeOptions),
    ) -> anyhow::Result<TestServer> {
        let data_dir = tempfile::tempdir().context("creating a temporary data directory")?;
        Self::start_inner(
            data_dir,
            BrokerConfig::default(),
            None,
            Some(ALLOW_ALL_POLICY.to_owned()),
            configure,
        )
        .await
    }

    async fn start_full(
        data_dir: TempDir,
        config: BrokerConfig,
        authorizer: Option<Arc<dyn Authorizer>>,
    ) -> anyhow::Result<TestServer> {
        let tcp_policy = Some(ALLOW_ALL_POLICY.to_owned());
        Self::start_options(data_dir, config, authorizer, tcp_policy).await
    }

    async fn start_options(
        data_dir: TempDir,
        config: BrokerConfig,
        authorizer: Option<Arc<dyn Authorizer>>,
        mqtt_tcp_policy: Option<String>,
    ) -> anyhow::Result<TestServer> {
        Self::start_inner(data_dir, config, authorizer, mqtt_tcp_policy, |_| {}).await
    }

    async fn start_inner(
        data_dir: TempDir,
        config: BrokerConfig,
        authorizer: Option<Arc<dyn Authorizer>>,
        mqtt_tcp_policy: Option<String>,
        configure: impl FnOnce(&mut ServeOptions),
    ) -> anyhow::Result<TestServer> {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut options = ServeOptions::new(data_dir.path().join("data"));
        options.mqtt = Some(loopback);
        options.mqtt_tcp = Some(loopback);
        options.api = Some(loopback);
        options.https = Some(loopback);
        options.broker = config;
        let authorizer_is_custom = authorizer.is_some();
        options.authorizer = authorizer;
        options.mqtt_tcp_policy = mqtt_tcp_policy;
        configure(&mut options);
        let running = thingd::serve::start(options).await?;
        // Before any client can have connected (the tests have not seen the ports yet). On a
        // restarted data directory the policy is already there.
        create_policy(&running, ALLOW_ALL_POLICY, ALLOW_ALL_DOCUMENT).await?;
        let ca_path = running.data_dir.join("ca.pem");
        let ca_pem = std::fs::read_to_string(&ca_path).context("reading ca.pem")?;
        let (Some(mqtt_tls), Some(mqtt_tcp), Some(api)) =
            (running.mqtt, running.mqtt_tcp, running.api)
        else {
            anyhow::bail!("a listener did not start");
        };
        let https = match running.https {
            Some(https) => https,
            None if authorizer_is_custom => SocketAddr::from(([127, 0, 0, 1], 0)),
            None => anyhow::bail!("the HTTPS listener did not start"),
        };
        let client = issue_into(&running, data_dir.path(), "testkit-client").await?;
        attach(&running, ALLOW_ALL_POLICY, &client).await?;
        Ok(TestServer {
            mqtt_tls,
            mqtt_tcp,
            api,
            https,
            ca_pem,
            ca_path,
            client,
            running,
            data_dir,
        })
    }

    /// Issues another client certificate with common name `name`, registered ACTIVE, with the
    /// [`ALLOW_ALL_POLICY`] attached.
    pub async fn issue_client(&self, name: &str) -> anyhow::Result<ClientCert> {
        let client = issue_into(&self.running, self.data_dir.path(), name).await?;
        attach(&self.running, ALLOW_ALL_POLICY, &client).await?;
        Ok(client)
    }

    /// Issues a client certificate with common name `name`, registered ACTIVE, with no policy
    /// attached: it may do nothing (not even connect) until one is.
    pub async fn issue_client_without_policy(&self, name: &str) -> anyhow::Result<ClientCert> {
        issue_into(&self.running, self.data_dir.path(), name).await
    }

    /// Creates a policy with `document` as its first, default version, in the store directly
    /// (the API's CreatePolicy validates the document; the store does not). Fails if it exists.
    pub async fn create_policy(&self, name: &str, document: &str) -> anyhow::Result<()> {
        if !create_policy(&self.running, name, document).await? {
            anyhow::bail!("a policy named {name} exists");
        }
        Ok(())
    }

    /// Attaches a policy to a certificate, in the store directly. Open connections are not
    /// re-evaluated: a test of live changes goes through the API (AttachPolicy), as a user does.
    pub async fn attach_policy(&self, policy: &str, client: &ClientCert) -> anyhow::Result<()> {
        attach(&self.running, policy, client).await
    }

    /// The ARN of a client certificate, as AttachPolicy and the policy variables name it.
    pub fn certificate_arn(&self, client: &ClientCert) -> String {
        self.running
            .partition
            .arn(ArnKind::Certificate, &client.certificate_id)
    }

    /// Announces a registry change made directly in the store, as the API announces its own:
    /// the open connections it concerns are re-evaluated.
    pub fn announce(&self, change: &thingd_api::AuthorizationChange) {
        if let Some(live) = &self.running.live {
            live.authorization_changed(change);
        }
    }

    /// The open connections held to policies (`None` with a custom authorizer).
    pub fn live_connections(&self) -> Option<&thingd::live::LiveConnections> {
        self.running.live.as_ref()
    }

    /// The ARN of `kind`/`name` in this server's partition.
    pub fn arn(&self, kind: ArnKind, name: &str) -> String {
        self.running.partition.arn(kind, name)
    }

    /// The registry's store, to register, change or remove things and certificates directly.
    pub fn store(&self) -> &SqliteStore {
        &self.running.store
    }

    /// The API's admin access key.
    pub fn admin_key(&self) -> &AccessKey {
        &self.running.admin_key
    }

    /// The broker, for its metrics and configuration.
    pub fn broker(&self) -> &Broker {
        &self.running.broker
    }

    /// The Device Shadow service, to call as the HTTPS data plane does.
    pub fn shadows(&self) -> &Arc<thingd::shadows::ShadowService> {
        &self.running.shadows
    }

    /// The data plane both HTTP listeners serve, for its metrics.
    pub fn data_plane(&self) -> &thingd::data_plane::DataPlane {
        &self.running.data_plane
    }

    /// The rules engine.
    pub fn rules(&self) -> &thingd::rules::RulesEngine {
        &self.running.rules
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.running.data_dir
    }

    /// Stops thingd gracefully and removes its data directory.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }

    /// Stops thingd gracefully and keeps the data directory for a restart.
    pub async fn stop_keeping_data(self) -> TempDir {
        self.running.shutdown().await;
        self.data_dir
    }
}

/// Creates a policy unless one with its name exists; `true` if it was created.
async fn create_policy(running: &Running, name: &str, document: &str) -> anyhow::Result<bool> {
    let now = Timestamp::now();
    let policy = Policy {
        name: name.to_owned(),
        default_version_id: 1,
        created: now,
        last_modified: now,
        generation_id: format!("testkit-{}", now.0),
    };
    let inserted = running
        .store
        .insert_policy(&policy, document)
        .await
        .with_context(|| format!("creating the policy {name}"))?;
    Ok(matches!(inserted, Inserted::Created))
}

/// Attaches a policy to a client's certificate.
async fn attach(running: &Running, policy: &str, client: &ClientCert) -> anyhow::Result<()> {
    let target = running
        .partition
        .arn(ArnKind::Certificate, &client.certificate_id);
    match running
        .store
        .attach_policy(policy, &target, MAX_POLICIES_PER_TARGET)
        .await
        .with_context(|| format!("attaching the policy {policy} to {target}"))?
    {
        AttachedPolicy::Attached | AttachedPolicy::AlreadyAttached => Ok(()),
        other => anyhow::bail!("attaching the policy {policy} to {target}: {other:?}"),
    }
}

/// Issues a certificate from thingd's CA into a folder and registers it ACTIVE, as
/// `thingd cert issue` does.
async fn issue_into(running: &Running, scratch: &Path, name: &str) -> anyhow::Result<ClientCert> {
    let ca = CertificateAuthority::load(&running.data_dir).context("loading the CA")?;
    let issued = ca
        .issue_client_certificate(name)
        .context("issuing a client certificate")?;
    let dir = scratch.join(format!("client-{name}"));
    thingd_pki::write_client_bundle(&dir, &issued, ca.ca_pem(), true)
        .context("writing the client certificate")?;
    let record = thingd_api::records::certificate_record(
        &issued.certificate_pem,
        &issued.certificate_der,
        CertificateStatus::Active,
        None,
    )
    .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    running
        .store
        .insert_certificate(&record)
        .await
        .context("registering the client certificate")?;
    Ok(ClientCert {
        cert_pem: issued.certificate_pem.clone(),
        key_pem: issued.private_key_pem.clone(),
        certificate_id: issued.certificate_id.clone(),
        dir,
    })
}
