//! How a data plane request is authenticated and what it is held to: the device of an HTTPS
//! connection (its certificate checked in the registry, its policies compiled, both kept for
//! the connection until the API announces a change: a revocation, a change of policies), or an
//! application
//! signed with SigV4 for the data plane's signing names. Both leave an [`Authorized`] in the
//! request's extensions for the operations.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use thingd_api::authorization::Requester;
use thingd_broker::PublishOrigin;
use thingd_broker::auth::ClientCertificate;
use thingd_policy::Action;
use thingd_registry::{StoreError, Timestamp};
use tracing::debug;

use super::error::DataPlaneError;
use super::{Authorized, DataPlane, SIGNING_NAMES, increment, remote_addr_of};
use crate::authorizer::{CertificateCheck, Grant, certificate_check};
use crate::live::LiveConnections;

/// One HTTPS connection's device: the certificate its handshake presented, and the policies it
/// was last resolved to.
#[derive(Debug)]
pub(crate) struct DeviceConnection {
    certificate: ClientCertificate,
    origin: PublishOrigin,
    /// The end of the certificate's validity, and the count of revocations it was found valid
    /// after.
    admitted: Mutex<Option<(u64, Timestamp)>>,
    /// The grant, and the count of announced registry changes it was resolved after.
    cached: Mutex<Option<(u64, Arc<Grant>)>>,
}

impl DeviceConnection {
    /// The device of a connection from `remote_addr` that presented `certificate`.
    pub(crate) fn new(certificate: ClientCertificate, remote_addr: SocketAddr) -> Self {
        let origin = PublishOrigin {
            client_id: None,
            certificate_id: Some(Arc::from(certificate.certificate_id.as_str())),
            remote_addr: Some(remote_addr),
            protocol_version: None,
        };
        DeviceConnection {
            certificate,
            origin,
            admitted: Mutex::new(None),
            cached: Mutex::new(None),
        }
    }

    /// Why the certificate may not authenticate now, or `None` if it may: the registry's answer
    /// is kept while no certificate has been revoked since and the certificate is within its
    /// validity; a refusal is never kept, so a reactivated certificate is let in at once.
    async fn refusal(&self, plane: &DataPlane) -> Result<Option<&'static str>, StoreError> {
        let seen = plane.revocations.load(Ordering::SeqCst);
        if let Some((checked_at, until)) = *self.admitted.lock()
            && checked_at == seen
            && Timestamp::now() <= until
        {
            return Ok(None);
        }
        let certificate_id = &self.certificate.certificate_id;
        match certificate_check(plane.store.as_ref(), certificate_id).await? {
            CertificateCheck::Valid { until } => {
                *self.admitted.lock() = Some((seen, until));
                Ok(None)
            }
            CertificateCheck::Refused(why) => {
                *self.admitted.lock() = None;
                Ok(Some(why))
            }
        }
    }

    /// What the device is held to now: the cached grant while no registry change has been
    /// announced since it was resolved, else a fresh resolution (cached in turn). The count is
    /// read before resolving, so a change announced during the resolution is not missed.
    async fn grant(&self, plane: &DataPlane) -> Result<Arc<Grant>, StoreError> {
        let seen = plane.live.as_ref().map(LiveConnections::changes);
        if let Some(seen) = seen
            && let Some((resolved_at, grant)) = self.cached.lock().as_ref()
            && *resolved_at == seen
        {
            return Ok(grant.clone());
        }
        let requester = Requester {
            certificate_id: Some(self.certificate.certificate_id.clone()),
            source_ip: self.origin.remote_addr.map(|addr| addr.ip()),
            ..Requester::default()
        };
        let grant = Arc::new(
            Grant::resolve(
                plane.store.as_ref(),
                &plane.partition,
                &requester,
                Some(&self.certificate.der),
            )
            .await?,
        );
        if let Some(seen) = seen {
            *self.cached.lock() = Some((seen, grant.clone()));
        }
        Ok(grant)
    }
}

/// Authenticates a request of the HTTPS listener as the device of its connection.
pub(crate) async fn require_device(
    State(plane): State<Arc<DataPlane>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(device) = request.extensions().get::<Arc<DeviceConnection>>().cloned() else {
        return DataPlaneError::internal(&"a device request without its connection")
            .into_response();
    };
    match device.refusal(&plane).await {
        Ok(None) => {}
        Ok(Some(why)) => {
            debug!(
                message = "Data plane request refused: the certificate may not authenticate.",
                certificate_id = %device.certificate.certificate_id,
                why
            );
            return DataPlaneError::unauthorized().into_response();
        }
        Err(error) => return DataPlaneError::internal(&error).into_response(),
    }
    let grant = match device.grant(&plane).await {
        Ok(grant) => grant,
        Err(error) => return DataPlaneError::internal(&error).into_response(),
    };
    request.extensions_mut().insert(Authorized {
        policy: Some(grant),
        origin: device.origin.clone(),
    });
    next.run(request).await
}

/// Authenticates a request of the API listener by its SigV4 signature for the data plane's
/// signing names. The body is read first (bounded, as every data plane body), since the
/// signature covers it.
pub(crate) async fn require_sigv4(
    State(api): State<thingd_api::ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let remote_addr = remote_addr_of(&request);
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = thingd_api::verify_signature(&api, &SIGNING_NAMES, &parts, &bytes).await {
        return error.into_response();
    }
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(Authorized {
        policy: None,
        origin: PublishOrigin {
            remote_addr,
            ..PublishOrigin::default()
        },
    });
    next.run(request).await
}

/// Counts every answer of the data plane by outcome.
pub(crate) async fn count(
    State(plane): State<Arc<DataPlane>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let metrics = &plane.metrics;
    increment(&metrics.requests_total);
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        increment(&metrics.requests_failed_total);
    }
    if status.as_u16() == 401 || status.as_u16() == 403 {
        increment(&metrics.requests_denied_total);
    }
    response
}

/// How much of an oversize body is read and discarded before answering 413, so that a client
/// still sending it reads the answer rather than a reset connection. A body announced larger
/// than this is refused without reading it.
const OVERSIZE_DRAIN_BYTES: u64 = 1024 * 1024;

/// Reads a request body of at most [`super::MAX_PAYLOAD_BYTES`] within [`super::BODY_TIMEOUT`];
/// a larger one is answered 413 `RequestEntityTooLargeException`.
pub(crate) async fn read_body(body: Body) -> Result<bytes::Bytes, DataPlaneError> {
    tokio::time::timeout(super::BODY_TIMEOUT, read_bounded(body))
        .await
        .unwrap_or_else(|_| {
            Err(DataPlaneError::invalid_request(
                "The request body did not arrive in time",
            ))
        })
}

async fn read_bounded(mut body: Body) -> Result<bytes::Bytes, DataPlaneError> {
    use http_body_util::BodyExt;
    let limit = super::MAX_PAYLOAD_BYTES;
    let too_large = || DataPlaneError::too_large(limit);
    if axum::body::HttpBody::size_hint(&body).lower() > OVERSIZE_DRAIN_BYTES {
        return Err(too_large());
    }
    // Usually one chunk (a body already read, or a small one), kept without copying.
    let mut chunks: Vec<bytes::Bytes> = Vec::new();
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|_| DataPlaneError::invalid_request("The request body could not be read"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if total > OVERSIZE_DRAIN_BYTES {
            return Err(too_large());
        }
        if total <= limit as u64 {
            chunks.push(data);
        }
    }
    if total > limit as u64 {
        return Err(too_large());
    }
    Ok(match chunks.len() {
        0 => bytes::Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => bytes::Bytes::from(chunks.concat()),
    })
}

impl Authorized {
    /// Whether the requester may do `action` on the resource `resource` (after
    /// `arn:aws:iot:{region}:{account}:`); a refusal is 403 `ForbiddenException`.
    pub(crate) fn check(&self, action: Action, resource: &str) -> Result<(), DataPlaneError> {
        match &self.policy {
            None => Ok(()),
            Some(grant) if grant.policy.allows(action, resource) => Ok(()),
            Some(_) => Err(self.denied(action, resource)),
        }
    }

    /// Whether the requester may do `action` on `topic/{topic}`.
    pub(crate) fn check_topic(&self, action: Action, topic: &str) -> Result<(), DataPlaneError> {
        match &self.policy {
            None => Ok(()),
            Some(grant) if grant.policy.allows_topic(action, topic) => Ok(()),
            Some(_) => Err(self.denied(action, &format!("topic/{topic}"))),
        }
    }

    /// The requester as published messages and shadow updates report it.
    pub(crate) fn origin(&self) -> &PublishOrigin {
        &self.origin
    }

    #[cold]
    fn denied(&self, action: Action, resource: &str) -> DataPlaneError {
        debug!(
            message = "Data plane request refused by policy.",
            action = action.as_str(),
            resource,
            certificate_id = self.origin.certificate_id.as_deref(),
        );
        DataPlaneError::forbidden()
    }
}
