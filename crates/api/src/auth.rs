//! SigV4 authentication of every control-plane request: the body is read (bounded), the
//! signature verified against the access keys in the store, and the request passed on with its
//! body; a refusal is answered with AWS's error (`InvalidSignatureException`,
//! `UnrecognizedClientException`, `IncompleteSignatureException`, ...).
//!
//! [`verify_signature`] is the same check for any service's signing name, so that the data plane
//! (signing name `iotdata`) served on the same listener verifies requests the same way while
//! refusing signatures scoped to the control plane, and vice versa.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use thingd_sigv4::{Payload, RequestParts, Secret, Verifier};

use crate::error::ApiError;
use crate::extract::MAX_BODY;
use crate::state::ApiState;

/// The signing name of the AWS IoT control plane.
const SERVICE: &str = "iot";

/// Verifies the request's signature, then runs the rest of the stack.
pub(crate) async fn require_sigv4(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::too_large(MAX_BODY).into_response(),
    };
    if let Err(error) = verify_signature(&state, &[SERVICE], &parts, &bytes).await {
        return error.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Verifies the SigV4 signature of a request whose body has been read: signed by one of the
/// access keys in `state`'s store, for `state`'s region and one of `services` (signing names),
/// within the allowed clock skew. Returns the access key id; a refusal is AWS's error
/// (`InvalidSignatureException` naming the expected service for a credential scoped to another
/// one, `UnrecognizedClientException`, ...).
pub async fn verify_signature(
    state: &ApiState,
    services: &[&str],
    parts: &Parts,
    body: &[u8],
) -> Result<String, ApiError> {
    let verifier = Verifier::new(state.partition.region.clone(), services.iter().copied());
    let refuse = |error: thingd_sigv4::Error| {
        let aws = error.aws_error();
        // The mismatch message carries the canonical request, as AWS's does, to help the
        // client; it is the client's business, so it is not logged above debug.
        tracing::debug!(message = "Refused an unauthenticated API request.", code = aws.code, detail = %aws.message);
        ApiError::authentication(aws.code, aws.status, aws.message)
    };
    // Everything but the secret is checked here, synchronously; the borrowed request parts do
    // not live across the store lookup below.
    let prepared = verifier
        .prepare(
            &RequestParts {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query(),
                headers: &parts.headers,
                payload: Payload::Bytes(body),
            },
            SystemTime::now(),
        )
        .map_err(refuse)?;
    let secret = state
        .store
        .access_key(prepared.access_key_id())
        .await?
        .map(|key| Secret::new(key.secret_access_key));
    let verified = prepared.verify(secret.as_ref()).map_err(refuse)?;
    Ok(verified.access_key_id)
}
