//! The three operations (update, get, delete) on a stored shadow, and the payloads they publish.

use serde_json::{Map, Value};

use crate::MAX_STATE_BYTES;
use crate::document::{ShadowDocument, StoredShadow, metadata_for};
use crate::error::{ShadowError, UNNAMED_SHADOW};
use crate::request::{SectionUpdate, StateUpdate, UpdateRequest};

/// The result of an accepted update: the new stored shadow and the payloads to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateOutcome {
    /// The shadow to store (conditionally on the version it was computed from).
    pub stored: StoredShadow,
    /// The `/update/accepted` payload (also the HTTP API's answer).
    pub accepted: Vec<u8>,
    /// The `/update/delta` payload, when desired and reported differ after the update.
    pub delta: Option<Vec<u8>>,
    /// The `/update/documents` payload.
    pub documents: Vec<u8>,
}

fn finish(mut body: Map<String, Value>, client_token: Option<&str>, now: u64) -> Vec<u8> {
    body.insert("timestamp".to_owned(), Value::from(now));
    if let Some(token) = client_token {
        body.insert("clientToken".to_owned(), Value::from(token));
    }
    Value::Object(body).to_string().into_bytes()
}

/// Applies an update to a shadow: 409 `Version conflict` when the request's `version` is not
/// the shadow's, 413 when the resulting state is larger than [`MAX_STATE_BYTES`].
///
/// The first accepted update creates version 1 and each one adds 1, also after a delete, which
/// keeps the counter. An update with a `version` is compared with that counter (0 for a shadow
/// never written).
pub fn apply_update(
    current: &StoredShadow,
    request: &UpdateRequest,
    now_seconds: u64,
) -> Result<UpdateOutcome, ShadowError> {
    if let Some(expected) = request.version()
        && expected != current.version
    {
        return Err(ShadowError::version_conflict());
    }
    let version = current
        .version
        .checked_add(1)
        .ok_or_else(ShadowError::internal)?;
    let mut document = current.document.clone().unwrap_or_default();
    match request.state() {
        StateUpdate::Clear => document.clear(),
        StateUpdate::Sections { desired, reported } => {
            match desired {
                SectionUpdate::Keep => {}
                SectionUpdate::Remove => document.remove_desired(),
                SectionUpdate::Merge(patch) => document.merge_desired(patch, now_seconds),
            }
            match reported {
                SectionUpdate::Keep => {}
                SectionUpdate::Remove => document.remove_reported(),
                SectionUpdate::Merge(patch) => document.merge_reported(patch, now_seconds),
            }
        }
    }
    if document.state_size() > MAX_STATE_BYTES {
        return Err(ShadowError::payload_too_large());
    }
    let token = request.client_token();

    let mut accepted = Map::new();
    accepted.insert("state".to_owned(), request.state_as_sent().clone());
    accepted.insert(
        "metadata".to_owned(),
        metadata_for(request.state_as_sent(), now_seconds),
    );
    accepted.insert("version".to_owned(), Value::from(version));
    let accepted = finish(accepted, token, now_seconds);

    let delta = document.delta().map(|delta| {
        let mut body = Map::new();
        body.insert(
            "metadata".to_owned(),
            Value::Object(document.delta_metadata(&delta)),
        );
        body.insert("state".to_owned(), Value::Object(delta));
        body.insert("version".to_owned(), Value::from(version));
        finish(body, token, now_seconds)
    });

    let mut documents = Map::new();
    let previous = match &current.document {
        Some(previous) => snapshot(previous, current.version),
        None => Value::Null,
    };
    documents.insert("previous".to_owned(), previous);
    documents.insert("current".to_owned(), snapshot(&document, version));
    let documents = finish(documents, token, now_seconds);

    Ok(UpdateOutcome {
        stored: StoredShadow {
            document: Some(document),
            version,
        },
        accepted,
        delta,
        documents,
    })
}

/// `{"state", "metadata", "version"}` of one side of `/update/documents` (no delta).
fn snapshot(document: &ShadowDocument, version: u64) -> Value {
    let mut side = Map::new();
    side.insert("state".to_owned(), Value::Object(document.state_json()));
    side.insert(
        "metadata".to_owned(),
        Value::Object(document.metadata_json()),
    );
    side.insert("version".to_owned(), Value::from(version));
    Value::Object(side)
}

fn not_found(shadow: Option<&str>) -> ShadowError {
    ShadowError::no_shadow_named(shadow.unwrap_or(UNNAMED_SHADOW))
}

/// GET: the full document with delta and metadata.delta, or 404 "No shadow exists with name: {name}" (classic: the AWS message for the unnamed shadow).
///
/// The document: `{"state": {desired?, reported?, delta?}, "metadata": {desired?, reported?,
/// delta?}, "version", "timestamp", "clientToken"?}`, the delta only when non-empty. For the
/// classic shadow the 404 names [`UNNAMED_SHADOW`]; AWS IoT names the thing, which a caller
/// knowing it gets from [`ShadowError::no_shadow`] (see [`ShadowError::is_no_shadow`]).
pub fn get_response(
    current: &StoredShadow,
    shadow: Option<&str>,
    client_token: Option<&str>,
    now_seconds: u64,
) -> Result<Vec<u8>, ShadowError> {
    let document = current.document.as_ref().ok_or_else(|| not_found(shadow))?;
    let mut state = document.state_json();
    let mut metadata = document.metadata_json();
    if let Some(delta) = document.delta() {
        metadata.insert(
            "delta".to_owned(),
            Value::Object(document.delta_metadata(&delta)),
        );
        state.insert("delta".to_owned(), Value::Object(delta));
    }
    let mut body = Map::new();
    body.insert("state".to_owned(), Value::Object(state));
    body.insert("metadata".to_owned(), Value::Object(metadata));
    body.insert("version".to_owned(), Value::from(current.version));
    Ok(finish(body, client_token, now_seconds))
}

/// DELETE: {"version","timestamp"} and the stored shadow after deletion (document None, version kept), or 404.
///
/// The payload echoes the `clientToken` when the request had one. The 404 is worded as
/// [`get_response`]'s.
pub fn apply_delete(
    current: &StoredShadow,
    shadow: Option<&str>,
    client_token: Option<&str>,
    now_seconds: u64,
) -> Result<(StoredShadow, Vec<u8>), ShadowError> {
    if current.document.is_none() {
        return Err(not_found(shadow));
    }
    let mut body = Map::new();
    body.insert("version".to_owned(), Value::from(current.version));
    let payload = finish(body, client_token, now_seconds);
    Ok((
        StoredShadow {
            document: None,
            version: current.version,
        },
        payload,
    ))
}
