//! Request extractors that answer malformed input in AWS's error shape rather than axum's plain
//! text: a JSON body, the query string, and path labels.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest request body the control plane accepts (a policy document is at most 2 KiB, a
/// CSR 4 KiB, a rule's SQL 256 KiB in AWS; 1 MiB leaves room and bounds memory).
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// A JSON request body. An empty body reads as `{}`, since restJson1 clients send none when
/// every member is absent.
#[derive(Debug)]
pub(crate) struct AwsJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AwsJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::too_large(MAX_BODY))?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text)
            .map(AwsJson)
            .map_err(|e| ApiError::invalid_request(format!("The request body is not valid: {e}")))
    }
}

/// The query string, deserialized.
#[derive(Debug)]
pub(crate) struct AwsQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for AwsQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(AwsQuery)
            .map_err(|e| ApiError::invalid_request(format!("The query string is not valid: {e}")))
    }
}

/// Path labels, percent-decoded.
#[derive(Debug)]
pub(crate) struct AwsPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for AwsPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| AwsPath(value))
            .map_err(|e| ApiError::invalid_request(format!("The request path is not valid: {e}")))
    }
}

/// The error of a required member that is absent, in AWS's validation wording.
pub(crate) fn missing(field: &str) -> ApiError {
    ApiError::invalid_request(format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: \
         Member must not be null"
    ))
}

/// The error of a value outside an enumeration, in AWS's validation wording.
pub(crate) fn not_in_enum(field: &str, value: &str, values: &str) -> ApiError {
    ApiError::invalid_request(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
         Member must satisfy enum value set: {values}"
    ))
}

/// The query of DeleteThing and DeleteThingGroup: `expectedVersion`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExpectedVersionQuery {
    expected_version: Option<String>,
}

impl ExpectedVersionQuery {
    /// `expectedVersion`, if given: a number.
    pub(crate) fn expected_version(&self) -> Result<Option<i64>, ApiError> {
        match self.expected_version.as_deref() {
            None => Ok(None),
            Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid_request(format!("expectedVersion must be a number, not {text:?}"))
            }),
        }
    }
}

/// A boolean query parameter as AWS sends them (`true`/`false`).
pub(crate) fn parse_bool(field: &str, value: Option<&str>) -> Result<Option<bool>, ApiError> {
    match value {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::invalid_request(format!(
            "{field} must be true or false, not {other:?}"
        ))),
    }
}

/// A page size parameter within AWS's bounds.
pub(crate) fn page_size(
    field: &str,
    value: Option<&str>,
    max: usize,
    default: usize,
) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_request(format!(
                "1 validation error detected: Value '{text}' at '{field}' failed to satisfy constraint: \
                 Member must have value between 1 and {max}"
            ))),
        },
    }
}
