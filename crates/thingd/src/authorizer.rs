//! The registry-backed authorizer: who may connect, and what each connection may do under the AWS
//! IoT policies it is held to.
//!
//! A TLS connection may connect only with a certificate that is registered and ACTIVE, within its
//! validity dates, and whose CA (if registered) is ACTIVE. The requester is then resolved against
//! the registry (`thingd_api::authorization::resolve`: the policies attached to the certificate
//! and to the groups of the thing it resolves to, the thing's attributes, the certificate's
//! fields) and its policies are compiled once into a [`ConnectionPolicy`] for the connection's
//! context; `iot:Connect` on `client/{clientId}` decides the CONNECT. Connections without
//! credentials (plain TCP, MQTT over WebSocket from loopback) are held to one named policy, the
//! operator's `--mqtt-tcp-policy`; without one they are refused, as a device with no policy is.
//!
//! Refusals are answered in CONNACK: 0x87 Not authorized (MQTT 3.1.1: return code 5), the TLS
//! handshake having only checked that the client holds the certificate's key
//! (`thingd_broker::tls::mqtt_server_config_deferred`). Later decisions (PUBLISH, SUBSCRIBE,
//! delivery) read the compiled policy without locks; [`crate::live`] swaps it when the registry
//! changes.

use std::sync::Arc;

use mqtt_codec::{QoS, ReasonCode};
use mqtt_topic::{SubscriptionFilter, TopicName};
use thingd_api::authorization::Requester;
use thingd_broker::Authorizer;
use thingd_broker::auth::{BoxFuture, ConnectRequest, ConnectionAuthorizer, ListenerKind};
use thingd_policy::{Action, ConnectionPolicy, Context, NamedPolicy};
use thingd_registry::{CaStatus, CertificateStatus, Partition, Store, StoreError, Timestamp};
use tracing::debug;

use crate::live::{Device, LiveConnections};

/// The connect attribute of a client asking for a persistent session (`iot:ConnectAttributes`).
const PERSISTENT_CONNECT: &str = "PersistentConnect";
/// The connect attribute of a client that set a will.
const LAST_WILL: &str = "LastWill";

/// Authorizes connections against the registry and its policies.
pub struct RegistryAuthorizer {
    store: Arc<dyn Store>,
    partition: Partition,
    anonymous_policy: Option<String>,
    live: LiveConnections,
}

impl std::fmt::Debug for RegistryAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuthorizer")
            .field("partition", &self.partition)
            .field("anonymous_policy", &self.anonymous_policy)
            .finish_non_exhaustive()
    }
}

impl RegistryAuthorizer {
    /// An authorizer over `store`. Connections without credentials (plain TCP, WebSocket from
    /// loopback) are held to the policy named `anonymous_policy`, and refused when it is `None`.
    ///
    /// Starts the task that re-evaluates live connections when the registry changes (see
    /// [`RegistryAuthorizer::live`]), so it must be called within a tokio runtime.
    pub fn new(
        store: Arc<dyn Store>,
        partition: Partition,
        anonymous_policy: Option<String>,
    ) -> Self {
        let live = LiveConnections::start(store.clone(), partition.clone());
        RegistryAuthorizer {
            store,
            partition,
            anonymous_policy,
            live,
        }
    }

    /// The connections this authorizer let in, still open: where registry changes that may change
    /// their rights are announced.
    pub fn live(&self) -> &LiveConnections {
        &self.live
    }

    /// Checks that a certificate may authenticate now: registered, ACTIVE, within its validity
    /// dates, and its CA, if registered, ACTIVE. The error is the CONNACK reason code.
    pub async fn check_certificate(&self, certificate_id: &str) -> Result<(), ReasonCode> {
        match certificate_check(self.store.as_ref(), certificate_id).await {
            Ok(CertificateCheck::Valid { .. }) => Ok(()),
            Ok(CertificateCheck::Refused(why)) => {
                debug!(
                    message = "Connection refused by the registry.",
                    certificate_id, why
                );
                Err(ReasonCode::NotAuthorized)
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    /// Who a CONNECT is, for policy resolution; `Err` when it may not connect whatever the
    /// policies say.
    async fn requester_of(
        &self,
        request: &ConnectRequest<'_>,
    ) -> Result<(Requester, Option<Arc<[u8]>>), ReasonCode> {
        let principal = request.principal;
        let mut requester = Requester {
            client_id: Some(request.client_id.to_owned()),
            source_ip: Some(principal.remote_addr.ip()),
            last_will_topic: request.will_topic.map(|topic| topic.as_str().to_owned()),
            ..Requester::default()
        };
        if request.persistent {
            requester
                .connect_attributes
                .push(PERSISTENT_CONNECT.to_owned());
        }
        if request.will_topic.is_some() {
            requester.connect_attributes.push(LAST_WILL.to_owned());
        }
        let anonymous = match (principal.listener, &principal.certificate) {
            (ListenerKind::Tls, Some(certificate)) => {
                self.check_certificate(&certificate.certificate_id).await?;
                requester.certificate_id = Some(certificate.certificate_id.clone());
                return Ok((requester, Some(certificate.der.clone())));
            }
            (ListenerKind::Tls, None) => return Err(ReasonCode::NotAuthorized),
            (ListenerKind::Tcp, _) => true,
            // MQTT over WebSocket has no credentials yet (SigV4 presigned URLs come next): only
            // from this machine, even when the HTTP listener is bound to every interface so that
            // the API is reachable, which must not open anonymous MQTT.
            (ListenerKind::WebSocket, _) => principal.remote_addr.ip().is_loopback(),
        };
        match (&self.anonymous_policy, anonymous) {
            (Some(policy), true) => {
                requester.extra_policies.push(policy.clone());
                Ok((requester, None))
            }
            (None, true) => {
                debug!(
                    message = "Connection without credentials refused: no --mqtt-tcp-policy.",
                    client_id = request.client_id
                );
                Err(ReasonCode::NotAuthorized)
            }
            (_, false) => Err(ReasonCode::NotAuthorized),
        }
    }
}

/// Whether a certificate may authenticate now (see [`certificate_check`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CertificateCheck {
    /// It may, until the end of its validity (`notAfter`).
    Valid {
        /// The end of its validity.
        until: Timestamp,
    },
    /// It may not, for this reason.
    Refused(&'static str),
}

/// Whether a certificate may authenticate now: it must be registered, ACTIVE, within its
/// validity dates, and its CA, if registered, ACTIVE. Shared by MQTT's CONNECT and the HTTPS
/// data plane (`crate::data_plane`).
pub(crate) async fn certificate_check(
    store: &dyn Store,
    certificate_id: &str,
) -> Result<CertificateCheck, StoreError> {
    let Some(certificate) = store.certificate(certificate_id).await? else {
        return Ok(CertificateCheck::Refused("not registered"));
    };
    if certificate.status != CertificateStatus::Active {
        return Ok(CertificateCheck::Refused(certificate.status.as_str()));
    }
    let now = Timestamp::now();
    if now < certificate.not_before || now > certificate.not_after {
        return Ok(CertificateCheck::Refused("outside its validity dates"));
    }
    if let Some(ca_id) = &certificate.ca_certificate_id {
        match store.ca_certificate(ca_id).await? {
            Some(ca) if ca.status == CaStatus::Active => {}
            _ => return Ok(CertificateCheck::Refused("its CA is not active")),
        }
    }
    Ok(CertificateCheck::Valid {
        until: certificate.not_after,
    })
}

/// A store failure while authorizing: the client is told the server is unavailable.
fn unavailable(error: StoreError) -> ReasonCode {
    tracing::error!(message = "The registry failed while authorizing a connection.", %error);
    ReasonCode::ServerUnavailable
}

/// What a connection is held to: its policies compiled for its context, and what it resolved to
/// in the registry (which decides the registry changes that concern it).
#[derive(Debug)]
pub(crate) struct Grant {
    /// The compiled policies: the hot path.
    pub(crate) policy: ConnectionPolicy,
    /// The names of the policies compiled in.
    pub(crate) policies: Vec<String>,
    /// The thing the connection resolved to.
    pub(crate) thing: Option<String>,
    /// That thing's groups with all their ancestors.
    pub(crate) groups: Vec<String>,
}

impl Grant {
    /// A grant that allows nothing (default deny), for a connection whose rights could not be
    /// determined.
    pub(crate) fn nothing() -> Grant {
        Grant {
            policy: ConnectionPolicy::compile(&[], &Context::default()),
            policies: Vec::new(),
            thing: None,
            groups: Vec::new(),
        }
    }

    /// Resolves `requester` in the registry and compiles what it is held to. `der` is the
    /// certificate the connection presented, whose fields policies may read.
    pub(crate) async fn resolve(
        store: &dyn Store,
        partition: &Partition,
        requester: &Requester,
        der: Option<&[u8]>,
    ) -> Result<Grant, StoreError> {
        let resolved = thingd_api::authorization::resolve(store, partition, requester).await?;
        let mut context = resolved.context;
        if context.certificate.is_none()
            && let (Some(id), Some(der)) = (&requester.certificate_id, der)
        {
            context.certificate = Some(thingd_api::authorization::certificate_context(id, der));
        }
        Ok(Grant::compile(
            &resolved.policies,
            &context,
            resolved.thing,
            resolved.groups,
        ))
    }

    fn compile(
        policies: &[NamedPolicy],
        context: &Context,
        thing: Option<String>,
        groups: Vec<String>,
    ) -> Grant {
        Grant {
            policy: ConnectionPolicy::compile(policies, context),
            policies: policies.iter().map(|p| p.name.clone()).collect(),
            thing,
            groups,
        }
    }
}

impl ConnectionAuthorizer for Device {
    fn publish(&self, topic: &TopicName, _qos: QoS, retain: bool) -> bool {
        let grant = self.grant();
        grant.policy.allows_topic(Action::Publish, topic.as_str())
            && (!retain
                || grant
                    .policy
                    .allows_topic(Action::RetainPublish, topic.as_str()))
    }

    /// `iot:Subscribe` on `topicfilter/{filter}`, the filter as the client sent it: a shared
    /// subscription is checked with its `$share/{ShareName}/` prefix, which is how AWS IoT's
    /// developer guide writes policies for shared subscriptions
    /// (`topicfilter/$share/{ShareName}/{filter}`), so a policy can allow joining one group
    /// and not another. Its messages are then checked like any other with `iot:Receive` on
    /// their topic.
    fn subscribe(&self, filter: &SubscriptionFilter) -> bool {
        let grant = self.grant();
        match filter {
            SubscriptionFilter::Plain(plain) => grant.policy.allows_topic_filter(plain.as_str()),
            shared @ SubscriptionFilter::Shared { .. } => {
                grant.policy.allows_topic_filter(&shared.to_string())
            }
        }
    }

    fn receive(&self, topic: &TopicName) -> bool {
        self.grant()
            .policy
            .allows_topic(Action::Receive, topic.as_str())
    }

    fn connect(&self) -> bool {
        self.grant().policy.allows_connect()
    }
}

impl Authorizer for RegistryAuthorizer {
    fn authorize_connect<'a>(
        &'a self,
        request: &'a ConnectRequest<'a>,
    ) -> BoxFuture<'a, Result<Arc<dyn ConnectionAuthorizer>, ReasonCode>> {
        Box::pin(async move {
            let (requester, der) = self.requester_of(request).await?;
            // A registry change announced while this connection is being resolved may not be
            // seen by the resolution; `admit` re-evaluates the connection if one was.
            let seen = self.live.changes();
            let grant = Grant::resolve(
                self.store.as_ref(),
                &self.partition,
                &requester,
                der.as_deref(),
            )
            .await
            .map_err(unavailable)?;
            if !grant.policy.allows_connect() {
                debug!(
                    message = "Connection refused by policy: iot:Connect is not allowed.",
                    client_id = request.client_id,
                    certificate_id = requester.certificate_id.as_deref(),
                    policies = ?grant.policies,
                );
                return Err(ReasonCode::NotAuthorized);
            }
            let device = self
                .live
                .admit(requester, der, grant, request.signal.clone(), seen);
            Ok(device as Arc<dyn ConnectionAuthorizer>)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use mqtt_codec::ProtocolVersion;
    use thingd_broker::Principal;
    use thingd_broker::auth::AuthorizationSignal;
    use thingd_registry::PolicyStore;
    use thingd_storage::SqliteStore;

    use super::*;

    async fn decide(
        anonymous_policy: Option<&str>,
        listener: ListenerKind,
        remote: &str,
    ) -> Result<(), ReasonCode> {
        let store = Arc::new(SqliteStore::memory().await.unwrap());
        let allow_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;
        let now = Timestamp::now();
        store
            .insert_policy(
                &thingd_registry::Policy {
                    name: "anonymous".into(),
                    default_version_id: 1,
                    created: now,
                    last_modified: now,
                    generation_id: "1".into(),
                },
                allow_all,
            )
            .await
            .unwrap();
        let authorizer = RegistryAuthorizer::new(
            store,
            Partition {
                region: "us-east-1".into(),
                account: "000000000000".into(),
            },
            anonymous_policy.map(str::to_owned),
        );
        let principal = Principal {
            listener,
            remote_addr: remote.parse::<SocketAddr>().unwrap(),
            certificate: None,
        };
        let request = ConnectRequest {
            principal: &principal,
            client_id: "c",
            protocol_version: ProtocolVersion::V5,
            persistent: false,
            username: None,
            will_topic: None,
            signal: AuthorizationSignal::detached(),
        };
        authorizer.authorize_connect(&request).await.map(|_| ())
    }

    #[tokio::test]
    async fn connections_without_credentials_are_held_to_the_anonymous_policy() {
        let policy = Some("anonymous");
        for remote in ["127.0.0.1:50000", "[::1]:50000"] {
            assert_eq!(
                decide(policy, ListenerKind::WebSocket, remote).await,
                Ok(())
            );
        }
        assert_eq!(
            decide(policy, ListenerKind::WebSocket, "192.0.2.7:50000").await,
            Err(ReasonCode::NotAuthorized),
            "WebSocket is anonymous only from this machine"
        );
        assert_eq!(
            decide(policy, ListenerKind::Tcp, "192.0.2.7:50000").await,
            Ok(())
        );
        // TLS without a certificate never connects.
        assert_eq!(
            decide(policy, ListenerKind::Tls, "127.0.0.1:50000").await,
            Err(ReasonCode::NotAuthorized)
        );
    }

    #[tokio::test]
    async fn without_an_anonymous_policy_or_with_a_missing_one_everything_is_refused() {
        for policy in [None, Some("no-such-policy")] {
            assert_eq!(
                decide(policy, ListenerKind::Tcp, "127.0.0.1:50000").await,
                Err(ReasonCode::NotAuthorized),
                "{policy:?}"
            );
            assert_eq!(
                decide(policy, ListenerKind::WebSocket, "127.0.0.1:50000").await,
                Err(ReasonCode::NotAuthorized),
                "{policy:?}"
            );
        }
    }
}
