//! The Device Shadow service's errors: AWS's status codes and messages, and the error document.

use serde_json::{Map, Value};

const NO_SHADOW_PREFIX: &str = "No shadow exists with name: ";

/// The name the 404 of [`crate::get_response`] and [`crate::apply_delete`] reports for the
/// classic shadow, whose thing they are not told (AWS's own Greengrass shadow service says the
/// same). A caller that knows the thing answers [`ShadowError::no_shadow`] instead, AWS IoT's
/// exact message.
pub const UNNAMED_SHADOW: &str = "Unnamed Shadow";

/// An error of the Device Shadow service, as AWS IoT reports it: an HTTP status code and a fixed
/// message (the table of the AWS IoT Developer Guide, "Device Shadow error messages").
///
/// Over MQTT it is published on the operation's `/rejected` topic as [`ShadowError::to_payload`];
/// the HTTP API answers with the same status and body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct ShadowError {
    /// The HTTP status code (400, 401, 403, 404, 409, 413, 415, 429 or 500).
    pub code: u16,
    /// AWS's message for the error, exactly as AWS words it.
    pub message: String,
}

impl ShadowError {
    /// An error with any code and message (the named constructors below cover AWS's catalogue).
    pub fn new(code: u16, message: impl Into<String>) -> ShadowError {
        ShadowError {
            code,
            message: message.into(),
        }
    }

    /// 400: the payload is not JSON, or not a JSON object where one is required.
    pub fn invalid_json() -> ShadowError {
        ShadowError::new(400, "Invalid JSON")
    }

    /// 400: an update without a `state` node.
    pub fn missing_state() -> ShadowError {
        ShadowError::new(400, "Missing required node: state")
    }

    /// 400: `state` is neither an object nor `null`.
    pub fn state_not_object() -> ShadowError {
        ShadowError::new(400, "State node must be an object")
    }

    /// 400: `state.desired` is neither an object nor `null`.
    pub fn desired_not_object() -> ShadowError {
        ShadowError::new(400, "Desired node must be an object")
    }

    /// 400: `state.reported` is neither an object nor `null`.
    pub fn reported_not_object() -> ShadowError {
        ShadowError::new(400, "Reported node must be an object")
    }

    /// 400: `version` is not a non-negative integer.
    pub fn invalid_version() -> ShadowError {
        ShadowError::new(400, "Invalid version")
    }

    /// 400: `clientToken` is not a string or is longer than 64 bytes.
    pub fn invalid_client_token() -> ShadowError {
        ShadowError::new(400, "Invalid clientToken")
    }

    /// 400: `desired` or `reported` nests deeper than [`crate::MAX_DEPTH`] levels.
    pub fn too_deep() -> ShadowError {
        ShadowError::new(
            400,
            "JSON contains too many levels of nesting; maximum is 6",
        )
    }

    /// 400: `state` holds something other than `desired` and `reported`, or an array holds `null`.
    pub fn invalid_node() -> ShadowError {
        ShadowError::new(400, "State contains an invalid node")
    }

    /// 400: a thing or shadow name AWS IoT would not accept, with the rule it breaks.
    pub fn invalid_name(message: impl Into<String>) -> ShadowError {
        ShadowError::new(400, message)
    }

    /// 401: the request carries no credentials the service accepts.
    pub fn unauthorized() -> ShadowError {
        ShadowError::new(401, "Unauthorized")
    }

    /// 403: the requester's policies do not allow the operation.
    pub fn forbidden() -> ShadowError {
        ShadowError::new(403, "Forbidden")
    }

    /// 404: the thing does not exist (for services that require one).
    pub fn thing_not_found() -> ShadowError {
        ShadowError::new(404, "Thing not found")
    }

    /// 404: the shadow does not exist (never written, or deleted), as AWS IoT words it: the
    /// classic shadow is named by its thing, a named shadow by its own name, in single quotes
    /// (`No shadow exists with name: 'simShadow1'` in AWS's guide).
    pub fn no_shadow(thing: &str, shadow: Option<&str>) -> ShadowError {
        ShadowError::no_shadow_named(shadow.unwrap_or(thing))
    }

    /// 404 for a shadow known only by the name the message reports.
    pub fn no_shadow_named(name: &str) -> ShadowError {
        ShadowError::new(404, format!("{NO_SHADOW_PREFIX}'{name}'"))
    }

    /// True for the 404 of a missing shadow (whichever name it reports), so that a caller can
    /// replace it with [`ShadowError::no_shadow`] when it knows the thing.
    pub fn is_no_shadow(&self) -> bool {
        self.code == 404 && self.message.starts_with(NO_SHADOW_PREFIX)
    }

    /// 409: the update's `version` is not the shadow's current version.
    pub fn version_conflict() -> ShadowError {
        ShadowError::new(409, "Version conflict")
    }

    /// 413: the state document (or the shadow it would produce) is larger than
    /// [`crate::MAX_STATE_BYTES`].
    pub fn payload_too_large() -> ShadowError {
        ShadowError::new(413, "The payload exceeds the maximum size allowed")
    }

    /// 415: the payload is not UTF-8 (AWS's message, typo included).
    pub fn unsupported_encoding() -> ShadowError {
        ShadowError::new(
            415,
            "Unsupported documented encoding; supported encoding is UTF-8",
        )
    }

    /// 429: too many requests in flight for one connection or shadow.
    pub fn too_many_requests() -> ShadowError {
        ShadowError::new(429, "Too Many Requests")
    }

    /// 500: the service failed (for example, its store did).
    pub fn internal() -> ShadowError {
        ShadowError::new(500, "Internal service failure")
    }

    /// The error document: `{"code", "message", "timestamp", "clientToken"?}`, the token echoed
    /// so that the requester can match the answer to its request.
    pub fn to_payload(&self, client_token: Option<&str>, now_seconds: u64) -> Vec<u8> {
        let mut body = Map::new();
        body.insert("code".to_owned(), Value::from(self.code));
        body.insert("message".to_owned(), Value::from(self.message.as_str()));
        body.insert("timestamp".to_owned(), Value::from(now_seconds));
        if let Some(token) = client_token {
            body.insert("clientToken".to_owned(), Value::from(token));
        }
        Value::Object(body).to_string().into_bytes()
    }
}
