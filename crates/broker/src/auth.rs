//! The authorization seam: who a connection is ([`Principal`]) and what it may do ([`Authorizer`]).
//!
//! Every CONNECT, every PUBLISH (wills and retained messages included), every SUBSCRIBE and every
//! delivery to a client (live, retained and queued alike) goes through these two traits, so the
//! policy engine plugs in here without touching protocol code.
//!
//! Rights can change while a client is connected (a policy is detached, a new version becomes
//! the default). An authorizer that keeps the connection's [`AuthorizationSignal`] calls
//! [`AuthorizationSignal::recheck`] when that happens, and the connection re-evaluates at once
//! what it holds: whether it may stay connected ([`ConnectionAuthorizer::connect`]) and which of
//! its subscriptions it may keep ([`ConnectionAuthorizer::subscribe`]).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use mqtt_codec::{ProtocolVersion, QoS, ReasonCode};
use mqtt_topic::{SubscriptionFilter, TopicName};

use crate::session::ConnectionControl;

/// A boxed future, for the one asynchronous authorization step (CONNECT may consult a store).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The listener a connection arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerKind {
    /// MQTT over TLS with a client certificate.
    Tls,
    /// Plain MQTT over TCP (development and conformance suites).
    Tcp,
    /// MQTT over WebSocket on the HTTP listener.
    WebSocket,
}

/// Who is on the other end of a connection, established before CONNECT is read.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The listener.
    pub listener: ListenerKind,
    /// The peer's address.
    pub remote_addr: SocketAddr,
    /// The client certificate presented in the TLS handshake, if any.
    pub certificate: Option<ClientCertificate>,
}

/// A verified client certificate.
#[derive(Clone, Debug)]
pub struct ClientCertificate {
    /// AWS IoT's certificate id: the lowercase hex SHA-256 of the DER.
    pub certificate_id: String,
    /// The certificate, DER-encoded.
    pub der: Arc<[u8]>,
}

impl ClientCertificate {
    /// Wraps a DER certificate and computes its id.
    pub fn from_der(der: &[u8]) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        ClientCertificate {
            certificate_id: hex::encode(digest.as_ref()),
            der: Arc::from(der),
        }
    }
}

/// What a client asked for in CONNECT, as the authorizer sees it.
#[derive(Debug)]
pub struct ConnectRequest<'a> {
    /// The connection's principal.
    pub principal: &'a Principal,
    /// The Client Identifier (after the server assigned one, if it did).
    pub client_id: &'a str,
    /// The protocol version.
    pub protocol_version: ProtocolVersion,
    /// Whether the client asked for a persistent session.
    pub persistent: bool,
    /// The User Name, if any. (The password is deliberately not passed around.)
    pub username: Option<&'a str>,
    /// The Will topic, if the client set a will.
    pub will_topic: Option<&'a TopicName>,
    /// How to make this connection re-evaluate its rights later; keep it (it is cheap to clone)
    /// to call [`AuthorizationSignal::recheck`] when they change.
    pub signal: AuthorizationSignal,
}

/// Tells one connection that its rights may have changed.
///
/// On [`AuthorizationSignal::recheck`] the connection task, at its next turn, closes the
/// connection with 0x87 Not authorized if [`ConnectionAuthorizer::connect`] now refuses (a
/// DISCONNECT for 5.0 clients, a close for 3.1.1), and otherwise removes every subscription of
/// its session that [`ConnectionAuthorizer::subscribe`] now refuses. Deliveries need no
/// recheck: each one is authorized with [`ConnectionAuthorizer::receive`] as it is sent.
/// Signals sent before the connection gets to them are coalesced into one re-evaluation, so
/// signalling often is cheap; signalling a connection that has ended does nothing.
#[derive(Clone, Debug)]
pub struct AuthorizationSignal {
    control: Arc<ConnectionControl>,
}

impl AuthorizationSignal {
    /// The signal of the connection that `control` controls.
    pub(crate) fn new(control: Arc<ConnectionControl>) -> Self {
        AuthorizationSignal { control }
    }

    /// A signal connected to no connection (for authorizers exercised outside a broker); it
    /// reports itself closed.
    pub fn detached() -> Self {
        let control = Arc::new(ConnectionControl::default());
        control.mark_finished();
        AuthorizationSignal { control }
    }

    /// Asks the connection to re-evaluate its rights now; returns at once.
    pub fn recheck(&self) {
        self.control.request_recheck();
    }

    /// Whether the connection has ended (or was refused), so that an authorizer can forget the
    /// signal.
    pub fn is_closed(&self) -> bool {
        self.control.is_finished()
    }
}

/// Decides whether a connection may be established, and returns what decides the rest.
pub trait Authorizer: Send + Sync + 'static {
    /// Authorizes a CONNECT; the error is the CONNACK reason code that refuses it
    /// (0x87 Not authorized, 0x86 Bad User Name or Password, 0x8A Banned, ...).
    fn authorize_connect<'a>(
        &'a self,
        request: &'a ConnectRequest<'a>,
    ) -> BoxFuture<'a, Result<Arc<dyn ConnectionAuthorizer>, ReasonCode>>;
}

/// The per-connection decisions, made synchronously on the hot path: implementations compile
/// whatever they need (policies, variables) when the connection is authorized.
pub trait ConnectionAuthorizer: Send + Sync + 'static {
    /// May the client publish to `topic` (with RETAIN set when `retain`)?
    fn publish(&self, topic: &TopicName, qos: QoS, retain: bool) -> bool;
    /// May the client subscribe to `filter`?
    fn subscribe(&self, filter: &SubscriptionFilter) -> bool;
    /// May a message on `topic` be delivered to the client?
    fn receive(&self, topic: &TopicName) -> bool;
    /// May the client stay connected (is `iot:Connect` still allowed)? Asked when the connection
    /// is told to recheck (see [`AuthorizationSignal`]); a refusal closes it with 0x87.
    fn connect(&self) -> bool {
        true
    }
}

/// An authorizer that lets any TLS connection with a client certificate, and any plain TCP or
/// WebSocket connection, do anything. Safe only behind [`crate::tls::mqtt_server_config`], whose
/// handshake accepts only certificates chained to given CAs; `thingd serve` uses the registry
/// instead, with the deferred verifier.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowConnected;

/// A connection that may do anything: what development listeners (plain TCP, WebSocket on
/// loopback) get until policies decide.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl ConnectionAuthorizer for AllowAll {
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

impl Authorizer for AllowConnected {
    fn authorize_connect<'a>(
        &'a self,
        request: &'a ConnectRequest<'a>,
    ) -> BoxFuture<'a, Result<Arc<dyn ConnectionAuthorizer>, ReasonCode>> {
        Box::pin(async move {
            match (request.principal.listener, &request.principal.certificate) {
                (ListenerKind::Tls, None) => Err(ReasonCode::NotAuthorized),
                _ => Ok(Arc::new(AllowAll) as Arc<dyn ConnectionAuthorizer>),
            }
        })
    }
}
