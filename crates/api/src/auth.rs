//! SigV4 authentication of every control-plane request: the body is read (bounded), the
//! signature verified against the access keys in the store, and the request passed on with its
//! body; a refusal is answered with AWS's error (`InvalidSignatureException`,
//! `UnrecognizedClientException`, `IncompleteSignatureException`, ...).

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
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
    let verifier = Verifier::new(state.partition.region.clone(), [SERVICE]);
    let refuse = |error: thingd_sigv4::Error| {
        let aws = error.aws_error();
        // The mismatch message carries the canonical request, as AWS's does, to help the
        // client; it is the client's business, so it is not logged above debug.
        tracing::debug!(message = "Refused an unauthenticated API request.", code = aws.code, detail = %aws.message);
        ApiError::authentication(aws.code, aws.status, aws.message).into_response()
    };
    // Everything but the secret is checked here, synchronously; the borrowed request parts do
    // not live across the store lookup below.
    let prepared = verifier.prepare(
        &RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            payload: Payload::Bytes(&bytes),
        },
        SystemTime::now(),
    );
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return refuse(error),
    };
    let secret = match state.store.access_key(prepared.access_key_id()).await {
        Ok(key) => key.map(|key| Secret::new(key.secret_access_key)),
        Err(error) => return ApiError::from(error).into_response(),
    };
    if let Err(error) = prepared.verify(secret.as_ref()) {
        return refuse(error);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
