//! The registry-backed authorizer: a TLS connection may connect only with a certificate that is
//! registered and ACTIVE, within its validity dates, and whose CA (if registered) is ACTIVE; the
//! connection's identity (certificate id, subject and issuer fields, the things attached to the
//! certificate) is resolved once, at CONNECT, for the decisions that follow.
//!
//! Refusals are answered in CONNACK: 0x87 Not authorized (MQTT 3.1.1: return code 5), the
//! TLS handshake having only checked that the client holds the certificate's key
//! (`thingd_broker::tls::mqtt_server_config_deferred`).

use std::sync::Arc;

use mqtt_codec::{QoS, ReasonCode};
use mqtt_topic::{SubscriptionFilter, TopicName};
use thingd_broker::Authorizer;
use thingd_broker::auth::{
    AllowAll, BoxFuture, ConnectRequest, ConnectionAuthorizer, ListenerKind,
};
use thingd_registry::{
    ArnKind, CaStatus, CertificateStatus, PageRequest, Partition, Store, Timestamp,
};
use tracing::debug;

/// Who a device connection is, as the registry knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The certificate id (SHA-256 of the DER, hex).
    pub certificate_id: String,
    /// The certificate's subject, as (attribute short name, value) pairs (`CN`, `O`, ...).
    pub subject: Vec<(String, String)>,
    /// The certificate's issuer, likewise.
    pub issuer: Vec<(String, String)>,
    /// The certificate's serial number, hex.
    pub serial_number: String,
    /// The things the certificate is attached to.
    pub things: Vec<String>,
}

/// Authorizes connections against the registry.
pub struct RegistryAuthorizer {
    store: Arc<dyn Store>,
    partition: Partition,
}

impl std::fmt::Debug for RegistryAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuthorizer")
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

impl RegistryAuthorizer {
    /// An authorizer over `store`.
    pub fn new(store: Arc<dyn Store>, partition: Partition) -> Self {
        RegistryAuthorizer { store, partition }
    }

    /// The identity of a certificate the registry lets connect now, or the refusal.
    pub async fn identify(
        &self,
        certificate_id: &str,
        der: &[u8],
    ) -> Result<DeviceIdentity, ReasonCode> {
        let unavailable = |error: thingd_registry::StoreError| {
            tracing::error!(message = "The registry failed while authorizing a connection.", %error);
            ReasonCode::ServerUnavailable
        };
        let refuse = |why: &str| {
            debug!(
                message = "Connection refused by the registry.",
                certificate_id, why
            );
            ReasonCode::NotAuthorized
        };
        let certificate = self
            .store
            .certificate(certificate_id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| refuse("not registered"))?;
        if certificate.status != CertificateStatus::Active {
            return Err(refuse(certificate.status.as_str()));
        }
        let now = Timestamp::now();
        if now < certificate.not_before || now > certificate.not_after {
            return Err(refuse("outside its validity dates"));
        }
        if let Some(ca_id) = &certificate.ca_certificate_id {
            match self
                .store
                .ca_certificate(ca_id)
                .await
                .map_err(unavailable)?
            {
                Some(ca) if ca.status == CaStatus::Active => {}
                _ => return Err(refuse("its CA is not active")),
            }
        }
        let principal = self.partition.arn(ArnKind::Certificate, certificate_id);
        let things = self
            .store
            .things_of_principal(
                &principal,
                &PageRequest {
                    after: None,
                    limit: 1000,
                    ascending: true,
                },
            )
            .await
            .map_err(unavailable)?
            .items
            .into_iter()
            .map(|(thing, _)| thing)
            .collect();
        let CertificateNames {
            subject,
            issuer,
            serial_number,
        } = names_of(der);
        Ok(DeviceIdentity {
            certificate_id: certificate_id.to_owned(),
            subject,
            issuer,
            serial_number,
            things,
        })
    }
}

/// What a certificate says about itself.
#[derive(Debug, Default)]
struct CertificateNames {
    subject: Vec<(String, String)>,
    issuer: Vec<(String, String)>,
    serial_number: String,
}

/// The subject and issuer attributes and the serial number of a DER certificate (empty when it
/// does not parse, which the TLS layer already ruled out).
fn names_of(der: &[u8]) -> CertificateNames {
    use x509_parser::prelude::*;
    let Ok((_, certificate)) = X509Certificate::from_der(der) else {
        return CertificateNames::default();
    };
    let attributes = |name: &X509Name<'_>| -> Vec<(String, String)> {
        let registry = x509_parser::oid_registry::OidRegistry::default().with_x509();
        name.iter_attributes()
            .map(|attribute| {
                let key = x509_parser::objects::oid2abbrev(attribute.attr_type(), &registry)
                    .map_or_else(|_| attribute.attr_type().to_id_string(), str::to_owned);
                (key, attribute.as_str().unwrap_or_default().to_owned())
            })
            .collect()
    };
    CertificateNames {
        subject: attributes(certificate.subject()),
        issuer: attributes(certificate.issuer()),
        serial_number: certificate.raw_serial_as_string().replace(':', ""),
    }
}

/// What a connection authorized by the registry may do. Until policies are enforced, a
/// registered, active device may do anything; the identity is what policies will decide on.
#[derive(Debug)]
struct Device {
    #[allow(dead_code)] // Read by the policy engine, next.
    identity: DeviceIdentity,
}

impl ConnectionAuthorizer for Device {
    fn publish(&self, _topic: &TopicName, _qos: QoS, _retain: bool) -> bool {
        true
    }
    fn subscribe(&self, _filter: &SubscriptionFilter) -> bool {
        true
    }
    fn receive(&self, _topic: &TopicName) -> bool {
        true
    }
}

impl Authorizer for RegistryAuthorizer {
    fn authorize_connect<'a>(
        &'a self,
        request: &'a ConnectRequest<'a>,
    ) -> BoxFuture<'a, Result<Arc<dyn ConnectionAuthorizer>, ReasonCode>> {
        Box::pin(async move {
            match (request.principal.listener, &request.principal.certificate) {
                (ListenerKind::Tls, Some(certificate)) => {
                    let identity = self
                        .identify(&certificate.certificate_id, &certificate.der)
                        .await?;
                    Ok(Arc::new(Device { identity }) as Arc<dyn ConnectionAuthorizer>)
                }
                (ListenerKind::Tls, None) => Err(ReasonCode::NotAuthorized),
                // The plain listener exists only when an operator enabled it: allowed, as in
                // development.
                (ListenerKind::Tcp, _) => Ok(Arc::new(AllowAll) as Arc<dyn ConnectionAuthorizer>),
                // MQTT over WebSocket has no credentials yet (SigV4 presigned URLs come next):
                // allowed from this machine only, even when the HTTP listener is bound to every
                // interface so that the API is reachable, which must not open anonymous MQTT.
                (ListenerKind::WebSocket, _)
                    if request.principal.remote_addr.ip().is_loopback() =>
                {
                    Ok(Arc::new(AllowAll) as Arc<dyn ConnectionAuthorizer>)
                }
                (ListenerKind::WebSocket, _) => Err(ReasonCode::NotAuthorized),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use mqtt_codec::ProtocolVersion;
    use thingd_broker::Principal;
    use thingd_storage::SqliteStore;

    use super::*;

    async fn decide(listener: ListenerKind, remote: &str) -> Result<(), ReasonCode> {
        let store = Arc::new(SqliteStore::memory().await.unwrap());
        let authorizer = RegistryAuthorizer::new(
            store,
            Partition {
                region: "us-east-1".into(),
                account: "000000000000".into(),
            },
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
        };
        authorizer.authorize_connect(&request).await.map(|_| ())
    }

    #[tokio::test]
    async fn websocket_is_anonymous_only_from_this_machine() {
        assert_eq!(
            decide(ListenerKind::WebSocket, "127.0.0.1:50000").await,
            Ok(())
        );
        assert_eq!(decide(ListenerKind::WebSocket, "[::1]:50000").await, Ok(()));
        assert_eq!(
            decide(ListenerKind::WebSocket, "192.0.2.7:50000").await,
            Err(ReasonCode::NotAuthorized)
        );
        // The plain listener is opt-in; TLS without a certificate never connects.
        assert_eq!(decide(ListenerKind::Tcp, "192.0.2.7:50000").await, Ok(()));
        assert_eq!(
            decide(ListenerKind::Tls, "127.0.0.1:50000").await,
            Err(ReasonCode::NotAuthorized)
        );
    }
}
