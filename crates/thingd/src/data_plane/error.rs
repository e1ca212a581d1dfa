//! Errors of the data plane in AWS's wire shape for the `iot-data` service (restJson1): the
//! status its model gives each exception, the code in `x-amzn-ErrorType` (where botocore and
//! the AWS SDKs read it first), and a JSON body `{"__type", "message", "traceId"}`. AWS's own
//! answers carry `message` and `traceId`, and the trace id again as `x-amzn-RequestId`.
//!
//! The shadow operations answer instead with the Device Shadow service's error document
//! `{"code", "message", "timestamp", "clientToken"?}` (reference §6.5: "the HTTP API returns
//! the status code with the same error body"); the code stays in `x-amzn-ErrorType`, which
//! botocore reads before the body.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use thingd_shadow::ShadowError;

/// An error answer of the data plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPlaneError {
    code: &'static str,
    status: StatusCode,
    message: String,
    /// `Some` for a shadow operation: answer with the shadow error document, echoing the
    /// request's clientToken when it had one.
    shadow_document: Option<ShadowDocumentBody>,
}

/// The extra of an error answered with the shadow error document.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ShadowDocumentBody {
    client_token: Option<String>,
}

impl DataPlaneError {
    fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        DataPlaneError {
            code,
            status,
            message: message.into(),
            shadow_document: None,
        }
    }

    /// This error as a shadow operation answers it: the body is the shadow error document
    /// (reference §6.5), with `client_token` echoed when the request carried one.
    #[must_use]
    pub fn in_shadow_document(mut self, client_token: Option<String>) -> Self {
        self.shadow_document = Some(ShadowDocumentBody { client_token });
        self
    }

    /// 400 `InvalidRequestException`: the request breaks the service's rules.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new("InvalidRequestException", StatusCode::BAD_REQUEST, message)
    }

    /// 401 `UnauthorizedException`: the credentials presented may not be used (a device
    /// certificate that is not registered, not ACTIVE, expired, or whose CA is not ACTIVE).
    pub fn unauthorized() -> Self {
        Self::new(
            "UnauthorizedException",
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
        )
    }

    /// 403 `ForbiddenException`: the requester's policies do not allow the operation.
    pub fn forbidden() -> Self {
        Self::new("ForbiddenException", StatusCode::FORBIDDEN, "Forbidden")
    }

    /// 403 `ForbiddenException` with a reason, for refusals that are not a policy's decision.
    pub fn forbidden_because(message: impl Into<String>) -> Self {
        Self::new("ForbiddenException", StatusCode::FORBIDDEN, message)
    }

    /// 404 `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", StatusCode::NOT_FOUND, message)
    }

    /// 404 for a path that names no operation.
    pub fn unknown_operation(method: &str, path: &str) -> Self {
        Self::not_found(format!(
            "No AWS IoT data plane operation matches {method} {path}"
        ))
    }

    /// 405 `MethodNotAllowedException`: a known path with a method it does not serve.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            "MethodNotAllowedException",
            StatusCode::METHOD_NOT_ALLOWED,
            format!("The method {method} is not allowed on {path}"),
        )
    }

    /// 413 `RequestEntityTooLargeException`: the body is larger than `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            "RequestEntityTooLargeException",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The payload exceeds the maximum size allowed ({limit} bytes)"),
        )
    }

    /// 429 `ThrottlingException`: a limit of the service is reached; retry later.
    pub fn throttling(message: impl Into<String>) -> Self {
        Self::new(
            "ThrottlingException",
            StatusCode::TOO_MANY_REQUESTS,
            message,
        )
    }

    /// 500 `InternalFailureException`; the cause is logged, not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(message = "Internal error answering a data plane request.", error = %cause);
        Self::new(
            "InternalFailureException",
            StatusCode::INTERNAL_SERVER_ERROR,
            "An internal error occurred.",
        )
    }

    /// The error code, e.g. `ForbiddenException`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<ShadowError> for DataPlaneError {
    /// The Device Shadow service's errors keep AWS's messages; the status picks the iot-data
    /// exception that models it (AWS IoT Developer Guide, "Device Shadow error messages", and
    /// botocore's `iot-data` model).
    fn from(error: ShadowError) -> Self {
        let (code, status) = match error.code {
            400 => ("InvalidRequestException", StatusCode::BAD_REQUEST),
            401 => ("UnauthorizedException", StatusCode::UNAUTHORIZED),
            403 => ("ForbiddenException", StatusCode::FORBIDDEN),
            404 => ("ResourceNotFoundException", StatusCode::NOT_FOUND),
            405 => ("MethodNotAllowedException", StatusCode::METHOD_NOT_ALLOWED),
            409 => ("ConflictException", StatusCode::CONFLICT),
            413 => (
                "RequestEntityTooLargeException",
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            415 => (
                "UnsupportedDocumentEncodingException",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            429 => ("ThrottlingException", StatusCode::TOO_MANY_REQUESTS),
            503 => (
                "ServiceUnavailableException",
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            _ => (
                "InternalFailureException",
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        };
        DataPlaneError::new(code, status, error.message)
    }
}

impl IntoResponse for DataPlaneError {
    fn into_response(self) -> Response {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let mut response = match &self.shadow_document {
            Some(shadow) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |elapsed| elapsed.as_secs());
                let document = ShadowError::new(self.status.as_u16(), self.message.as_str())
                    .to_payload(shadow.client_token.as_deref(), now);
                (
                    self.status,
                    [(
                        axum::http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    document,
                )
                    .into_response()
            }
            None => {
                let body = json!({
                    "__type": self.code,
                    "message": self.message,
                    "traceId": trace_id,
                });
                (self.status, axum::Json(body)).into_response()
            }
        };
        let headers = response.headers_mut();
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static(self.code));
        if let Ok(value) = HeaderValue::from_str(&trace_id) {
            headers.insert("x-amzn-RequestId", value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadow_errors_map_to_the_iot_data_exceptions() {
        let cases = [
            (ShadowError::invalid_json(), "InvalidRequestException", 400),
            (
                ShadowError::no_shadow("t", None),
                "ResourceNotFoundException",
                404,
            ),
            (ShadowError::version_conflict(), "ConflictException", 409),
            (
                ShadowError::payload_too_large(),
                "RequestEntityTooLargeException",
                413,
            ),
            (
                ShadowError::unsupported_encoding(),
                "UnsupportedDocumentEncodingException",
                415,
            ),
            (ShadowError::too_many_requests(), "ThrottlingException", 429),
            (ShadowError::internal(), "InternalFailureException", 500),
        ];
        for (shadow, code, status) in cases {
            let message = shadow.message.clone();
            let error = DataPlaneError::from(shadow);
            assert_eq!((error.code(), error.status().as_u16()), (code, status));
            assert_eq!(error.message(), message, "AWS's message is kept");
        }
    }

    #[tokio::test]
    async fn shadow_errors_answer_with_the_shadow_error_document() {
        let error = DataPlaneError::from(ShadowError::version_conflict())
            .in_shadow_document(Some("token-1".to_owned()));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            response.headers().get("x-amzn-ErrorType"),
            Some(&HeaderValue::from_static("ConflictException"))
        );
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("the body");
        let document: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(document["code"], 409);
        assert_eq!(document["message"], "Version conflict");
        assert_eq!(document["clientToken"], "token-1");
        assert!(document["timestamp"].as_u64().is_some_and(|t| t > 0));
        assert!(document.get("__type").is_none(), "{document}");
    }
}
