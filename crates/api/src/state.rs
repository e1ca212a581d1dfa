//! What every handler shares.

use std::sync::Arc;

use thingd_registry::{Partition, Store};

/// A registry change that may change what connected devices are allowed to do: the broker
/// recomputes the policies of the connections it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationChange {
    /// A policy's default version changed, or the policy was deleted.
    Policy(String),
    /// The policies attached to a target (a certificate ARN or thing-group ARN) changed.
    Target(String),
    /// A thing's attributes, type, group memberships or principals changed, or it was created
    /// or deleted.
    Thing(String),
    /// A thing group was deleted (its attachments are gone) or its membership changed.
    ThingGroup(String),
}

/// What the rest of thingd must hear about when the registry changes.
pub trait RegistryEvents: Send + Sync + 'static {
    /// A certificate may no longer authenticate (deactivated, revoked, deleted): its open
    /// connections must close.
    fn certificate_revoked(&self, certificate_id: &str);

    /// Something that decides what devices may do changed. Announced after the change is
    /// durable; the default does nothing.
    fn authorization_changed(&self, _change: &AuthorizationChange) {}

    /// A topic rule was created, replaced, enabled, disabled or deleted: the rules engine
    /// reloads it from the store. Announced after the change is durable; the default does
    /// nothing.
    fn topic_rule_changed(&self, _rule_name: &str) {}

    /// A topic rule destination was created, changed status or was deleted: the rules engine
    /// reloads it from the store. Announced after the change is durable; the default does
    /// nothing.
    fn topic_rule_destination_changed(&self, _arn: &str) {}
}

/// How the Rules API treats HTTP topic rule destinations (reference §5.7).
#[derive(Clone, Debug, Default)]
pub struct RulesApiConfig {
    /// URL prefixes thingd's configuration trusts (`--rules-trusted-destination`): a
    /// destination whose confirmation URL starts with one is ENABLED at once, without the
    /// confirmation POST.
    pub trusted_destination_prefixes: Vec<String>,
    /// The base URL of this API as a destination's owner reaches it
    /// (`http://thingd.example:8080`): the confirmation message's `enableUrl` is
    /// `{api_url}/confirmdestination/{token}`. Empty: `http://localhost`.
    pub api_url: String,
    /// The TLS client configuration of confirmation POSTs to `https://` URLs; `None` trusts
    /// the webpki roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// How long a confirmation POST may take.
    pub confirmation_timeout: Option<std::time::Duration>,
}

impl RulesApiConfig {
    /// Whether `url` starts with a trusted prefix.
    pub fn is_trusted(&self, url: &str) -> bool {
        self.trusted_destination_prefixes
            .iter()
            .any(|prefix| !prefix.is_empty() && url.starts_with(prefix.as_str()))
    }
}

/// The API's shared state.
#[derive(Clone)]
pub struct ApiState {
    /// Where everything is kept.
    pub store: Arc<dyn Store>,
    /// The region and account id of the ARNs thingd hands out.
    pub partition: Partition,
    /// Thingd's certificate authority, which issues certificates for CreateKeysAndCertificate
    /// and CreateCertificateFromCsr.
    pub ca: Arc<thingd_pki::CertificateAuthority>,
    /// The host name devices connect to (DescribeEndpoint).
    pub endpoint_host: String,
    /// Where registry changes are announced.
    pub events: Arc<dyn RegistryEvents>,
    /// How topic rule destinations are confirmed.
    pub rules: RulesApiConfig,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}
