//! Errors in AWS's wire shape (restJson1): status code, `x-amzn-ErrorType` header, and a JSON
//! body with `__type` and `message` (and the extra members some errors model), from one catalog.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use thingd_registry::{InvalidValue, StoreError};

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    code: &'static str,
    status: StatusCode,
    message: String,
    extra: Map<String, Value>,
}

impl ApiError {
    fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            status,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// 400 `InvalidRequestException`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new("InvalidRequestException", StatusCode::BAD_REQUEST, message)
    }

    /// 404 `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", StatusCode::NOT_FOUND, message)
    }

    /// 409 `ResourceAlreadyExistsException`, with the resource's id and ARN as AWS models them.
    pub fn already_exists(
        message: impl Into<String>,
        resource_id: &str,
        resource_arn: &str,
    ) -> Self {
        let mut error = Self::new(
            "ResourceAlreadyExistsException",
            StatusCode::CONFLICT,
            message,
        );
        error
            .extra
            .insert("resourceId".into(), Value::from(resource_id));
        error
            .extra
            .insert("resourceArn".into(), Value::from(resource_arn));
        error
    }

    /// 409 `VersionConflictException`.
    pub fn version_conflict(message: impl Into<String>) -> Self {
        Self::new("VersionConflictException", StatusCode::CONFLICT, message)
    }

    /// 409 `DeleteConflictException`.
    pub fn delete_conflict(message: impl Into<String>) -> Self {
        Self::new("DeleteConflictException", StatusCode::CONFLICT, message)
    }

    /// 400 `MalformedPolicyException`: a policy document that does not parse or validate.
    pub fn malformed_policy(message: impl Into<String>) -> Self {
        Self::new("MalformedPolicyException", StatusCode::BAD_REQUEST, message)
    }

    /// 409 `VersionsLimitExceededException`: a policy has as many versions as it may.
    pub fn versions_limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(
            "VersionsLimitExceededException",
            StatusCode::CONFLICT,
            message,
        )
    }

    /// 406 `CertificateStateException`.
    pub fn certificate_state(message: impl Into<String>) -> Self {
        Self::new(
            "CertificateStateException",
            StatusCode::NOT_ACCEPTABLE,
            message,
        )
    }

    /// 400 `CertificateValidationException`.
    pub fn certificate_validation(message: impl Into<String>) -> Self {
        Self::new(
            "CertificateValidationException",
            StatusCode::BAD_REQUEST,
            message,
        )
    }

    /// 409 `CertificateConflictException`.
    pub fn certificate_conflict(message: impl Into<String>) -> Self {
        Self::new(
            "CertificateConflictException",
            StatusCode::CONFLICT,
            message,
        )
    }

    /// 400 `RegistrationCodeValidationException`.
    pub fn registration_code_validation(message: impl Into<String>) -> Self {
        Self::new(
            "RegistrationCodeValidationException",
            StatusCode::BAD_REQUEST,
            message,
        )
    }

    /// 410 `LimitExceededException`.
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new("LimitExceededException", StatusCode::GONE, message)
    }

    /// 409 `InvalidStateTransitionException`.
    pub fn invalid_state_transition(message: impl Into<String>) -> Self {
        Self::new(
            "InvalidStateTransitionException",
            StatusCode::CONFLICT,
            message,
        )
    }

    /// 400 `SqlParseException`: a topic rule's SQL does not parse.
    pub fn sql_parse(message: impl Into<String>) -> Self {
        Self::new("SqlParseException", StatusCode::BAD_REQUEST, message)
    }

    /// 409 `ConflictingResourceUpdateException`: another update of the resource won a race.
    pub fn conflicting_update(message: impl Into<String>) -> Self {
        Self::new(
            "ConflictingResourceUpdateException",
            StatusCode::CONFLICT,
            message,
        )
    }

    /// 401 `UnauthorizedException`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new("UnauthorizedException", StatusCode::UNAUTHORIZED, message)
    }

    /// An authentication failure with AWS's code and status (`InvalidSignatureException` 403,
    /// `IncompleteSignatureException` 400, ...), as the SigV4 verifier names them.
    pub fn authentication(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self::new(
            code,
            StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
            message,
        )
    }

    /// 501 `NotImplementedException`: an AWS IoT operation thingd does not offer yet.
    pub fn not_implemented(operation: &str, method: &str, path: &str) -> Self {
        Self::new(
            "NotImplementedException",
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "thingd does not implement the AWS IoT operation {operation} ({method} {path}) yet"
            ),
        )
    }

    /// 404 `UnknownOperationException`: no operation has this method and path.
    pub fn unknown_operation(method: &str, path: &str) -> Self {
        Self::new(
            "UnknownOperationException",
            StatusCode::NOT_FOUND,
            format!("no AWS IoT operation matches {method} {path}"),
        )
    }

    /// 413 `RequestEntityTooLargeException`.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            "RequestEntityTooLargeException",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body exceeds {limit} bytes"),
        )
    }

    /// 500 `InternalFailureException`; the cause is logged, not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(message = "Internal error answering an API request.", error = %cause);
        Self::new(
            "InternalFailureException",
            StatusCode::INTERNAL_SERVER_ERROR,
            "An internal error occurred.",
        )
    }

    /// The error code (`__type`).
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

impl From<InvalidValue> for ApiError {
    fn from(error: InvalidValue) -> Self {
        ApiError::invalid_request(error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::internal(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.extra;
        body.insert("__type".into(), Value::from(self.code));
        body.insert("message".into(), Value::from(self.message));
        let mut response = (self.status, axum::Json(Value::Object(body))).into_response();
        // Botocore reads the code from this header first (restJson1), the SDKs likewise.
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(self.code));
        response
    }
}
