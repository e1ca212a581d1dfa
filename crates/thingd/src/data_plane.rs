//! The device data plane over HTTP: AWS IoT's `iot-data` operations (Publish, GetThingShadow,
//! UpdateThingShadow, DeleteThingShadow, ListNamedShadowsForThing, GetRetainedMessage,
//! ListRetainedMessages) in restJson1, on two listeners that differ only in who is asking.
//!
//! - The HTTPS listener (`--https`, [`https`]) is AWS's device data endpoint on port 8443:
//!   mutual TLS, every request made by the device whose certificate the handshake presented. The
//!   certificate must pass the registry's check of MQTT's CONNECT (registered, ACTIVE, within its
//!   dates, its CA ACTIVE; otherwise 401 `UnauthorizedException`), and the device is held to the
//!   AWS IoT policies attached to it (403 `ForbiddenException`): `iot:Publish`
//!   (and `iot:RetainPublish`) on `topic/{topic}`, `iot:GetThingShadow`,
//!   `iot:UpdateThingShadow`, `iot:DeleteThingShadow` on `thing/{thing}` or
//!   `thing/{thing}/{shadow}`, `iot:ListNamedShadowsForThing` on `thing/{thing}`,
//!   `iot:GetRetainedMessage` on `topic/{topic}` and `iot:ListRetainedMessages` on `*`
//!   (reference §4.2). HTTPS has no client id, so thing policy variables are absent, as in AWS.
//!   Both the check and the compiled policies are kept per connection and redone at the first
//!   request after a change the API announces (a revoked certificate, a detached policy, ...),
//!   so a change applies from the next request of an open connection.
//! - The API listener serves the same routes to applications (boto3's `iot-data` client, the
//!   AWS SDKs) signed with SigV4 for the signing name `iotdata` (botocore; `iotdevicegateway` in
//!   older AWS guides is accepted too), with one of thingd's access keys, which may do anything.
//!   A signature scoped to the control plane's `iot` is refused, as AWS refuses it.
//!
//! Both run the one [`axum::Router`] of `operations`; how the caller was authenticated arrives
//! as an [`Authorized`] request extension. Input is bounded (a body of at most
//! [`MAX_PAYLOAD_BYTES`], AWS's 128 KB; the request head by the HTTPS listener's buffer) and read
//! strictly (`input`); errors take iot-data's shapes and statuses (`error`).

mod auth;
mod error;
pub mod https;
mod input;
mod operations;

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use thingd_broker::Broker;
use thingd_registry::{Partition, Store};

use crate::live::LiveConnections;
use crate::shadows::ShadowService;

pub use error::DataPlaneError;

/// The largest request body accepted: AWS IoT's message payload limit (128 KB). A larger one is
/// answered 413 `RequestEntityTooLargeException` after reading at most this much.
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024;

/// How long a request body may take to arrive once the request head has: a client trickling
/// its body may not hold a connection open indefinitely.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The signing names of the data plane: `iotdata` (botocore and the AWS SDKs) and
/// `iotdevicegateway` (the name in AWS IoT's older guides).
pub const SIGNING_NAMES: [&str; 2] = ["iotdata", "iotdevicegateway"];

/// What the data plane's operations reach: the broker (Publish, retained messages), the shadow
/// service, and the registry (certificates and policies of devices).
pub struct DataPlane {
    broker: Broker,
    shadows: Arc<ShadowService>,
    store: Arc<dyn Store>,
    partition: Partition,
    live: Option<LiveConnections>,
    /// Bumped whenever a certificate may no longer authenticate: a device connection's
    /// certificate, once found valid, is looked up again only after this moved.
    revocations: AtomicU64,
    metrics: DataPlaneMetrics,
}

impl std::fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPlane")
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

impl DataPlane {
    /// The data plane over these services. `live` is the registry authorizer's record of
    /// announced registry changes: with it, a device connection keeps its compiled policies
    /// between requests until a change is announced; without it (a custom authorizer), they are
    /// resolved for every request.
    pub fn new(
        broker: Broker,
        shadows: Arc<ShadowService>,
        store: Arc<dyn Store>,
        partition: Partition,
        live: Option<LiveConnections>,
    ) -> Arc<DataPlane> {
        Arc::new(DataPlane {
            broker,
            shadows,
            store,
            partition,
            live,
            revocations: AtomicU64::new(0),
            metrics: DataPlaneMetrics::default(),
        })
    }

    /// A certificate was deactivated, revoked or deleted, or its CA deactivated (the API's
    /// `RegistryEvents::certificate_revoked`, after the change is durable): every device
    /// connection checks its certificate in the registry again at its next request.
    pub fn certificate_revoked(&self) {
        self.revocations.fetch_add(1, Ordering::SeqCst);
    }

    /// The data plane's counters.
    pub fn metrics(&self) -> &DataPlaneMetrics {
        &self.metrics
    }
}

/// The routes served on the API listener: the iot-data operations, each request verified with
/// SigV4 for [`SIGNING_NAMES`] against the access keys of `api`'s store. Unknown paths are left
/// to the router it is merged with (the control plane answers them).
pub fn api_router(plane: Arc<DataPlane>, api: thingd_api::ApiState) -> Router {
    operations::routes()
        .route_layer(axum::middleware::from_fn_with_state(
            api,
            auth::require_sigv4,
        ))
        .layer(axum::middleware::from_fn_with_state(
            plane.clone(),
            auth::count,
        ))
        .with_state(plane)
}

/// The routes served on the HTTPS listener to devices: each request made by the device whose
/// certificate its connection presented; unknown paths answered 404.
pub(crate) fn device_router(plane: Arc<DataPlane>) -> Router {
    operations::routes()
        .route_layer(axum::middleware::from_fn_with_state(
            plane.clone(),
            auth::require_device,
        ))
        .fallback(operations::unknown_operation)
        .layer(axum::middleware::from_fn_with_state(
            plane.clone(),
            auth::count,
        ))
        .with_state(plane)
}

/// Who is making a request, once authenticated, and what they may do.
#[derive(Clone, Debug)]
pub(crate) struct Authorized {
    /// The device's compiled policies; `None` for an application signed with one of thingd's
    /// access keys, which may do anything.
    policy: Option<Arc<crate::authorizer::Grant>>,
    /// The requester as messages and shadow updates report it.
    origin: thingd_broker::PublishOrigin,
}

/// The data plane's counters, rendered with the broker's on `/metrics`.
#[derive(Debug, Default)]
pub struct DataPlaneMetrics {
    /// HTTPS connections whose TLS handshake completed.
    pub https_connections_total: AtomicU64,
    /// HTTPS connections open now.
    pub https_connections_current: AtomicU64,
    /// HTTPS connections closed at once because the listener was at its connection limit.
    pub https_connections_refused_total: AtomicU64,
    /// HTTPS connections whose TLS handshake failed or timed out.
    pub https_handshakes_failed_total: AtomicU64,
    /// Data plane requests answered, on either listener.
    pub requests_total: AtomicU64,
    /// Requests answered with an error status.
    pub requests_failed_total: AtomicU64,
    /// Requests refused for their credentials (401) or by policy (403).
    pub requests_denied_total: AtomicU64,
    /// Messages published with Publish.
    pub publishes_total: AtomicU64,
}

impl DataPlaneMetrics {
    /// Renders every counter, `thingd_data_plane_`-prefixed, in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let metrics: [(&str, &str, &str, &AtomicU64); 8] = [
            (
                "https_connections_total",
                "counter",
                "HTTPS connections whose TLS handshake completed.",
                &self.https_connections_total,
            ),
            (
                "https_connections_current",
                "gauge",
                "HTTPS connections open now.",
                &self.https_connections_current,
            ),
            (
                "https_connections_refused_total",
                "counter",
                "HTTPS connections refused at the connection limit.",
                &self.https_connections_refused_total,
            ),
            (
                "https_handshakes_failed_total",
                "counter",
                "HTTPS connections whose TLS handshake failed or timed out.",
                &self.https_handshakes_failed_total,
            ),
            (
                "requests_total",
                "counter",
                "Data plane requests answered.",
                &self.requests_total,
            ),
            (
                "requests_failed_total",
                "counter",
                "Data plane requests answered with an error.",
                &self.requests_failed_total,
            ),
            (
                "requests_denied_total",
                "counter",
                "Data plane requests refused for their credentials or by policy.",
                &self.requests_denied_total,
            ),
            (
                "publishes_total",
                "counter",
                "Messages published through the data plane.",
                &self.publishes_total,
            ),
        ];
        for (name, kind, help, value) in metrics {
            let _ = writeln!(out, "# HELP thingd_data_plane_{name} {help}");
            let _ = writeln!(out, "# TYPE thingd_data_plane_{name} {kind}");
            let _ = writeln!(
                out,
                "thingd_data_plane_{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
    }
}

/// Adds one to a counter.
fn increment(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The address a request came from, when the listener recorded it.
fn remote_addr_of(request: &axum::extract::Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}
