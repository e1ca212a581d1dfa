//! Request payloads: the `clientToken` of any request and the validated update document.

use serde_json::{Map, Value};

use crate::document::compact_len;
use crate::error::ShadowError;
use crate::{MAX_CLIENT_TOKEN_BYTES, MAX_DEPTH, MAX_PAYLOAD_BYTES, MAX_STATE_BYTES};

/// What an update does to one section of the state.
#[derive(Clone, Debug, PartialEq)]
pub enum SectionUpdate {
    /// The section was not in the request: it is left as it is.
    Keep,
    /// `null`: the section is removed.
    Remove,
    /// An object: merged into the section (`null` or `{}` fields delete, objects merge, anything
    /// else replaces).
    Merge(Map<String, Value>),
}

/// What an update does to the state.
#[derive(Clone, Debug, PartialEq)]
pub enum StateUpdate {
    /// `"state": null`: desired and reported are both removed; the shadow and its version stay.
    Clear,
    /// `"state": {...}`: each section as the request says.
    Sections {
        /// What happens to `desired`.
        desired: SectionUpdate,
        /// What happens to `reported`.
        reported: SectionUpdate,
    },
}

/// A parsed and validated update: `state.desired`/`state.reported` (objects or null),
/// `version`?, `clientToken`?.
///
/// Fields of the request other than `state`, `version` and `clientToken` are ignored, as AWS IoT
/// ignores them.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateRequest {
    state: StateUpdate,
    /// The request's `state` as sent, echoed by `/update/accepted`.
    echo: Value,
    version: Option<u64>,
    client_token: Option<String>,
}

impl UpdateRequest {
    /// The request's `clientToken`, echoed in every response to it.
    pub fn client_token(&self) -> Option<&str> {
        self.client_token.as_deref()
    }

    /// The version the update expects the shadow to have (optimistic locking), if any.
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// What the update does to the state.
    pub fn state(&self) -> &StateUpdate {
        &self.state
    }

    /// The request's `state` node exactly as sent (`null` or an object).
    pub fn state_as_sent(&self) -> &Value {
        &self.echo
    }
}

/// Reads a payload as UTF-8 JSON, after the checks every request shares: 415 for non-UTF-8,
/// 413 past [`MAX_PAYLOAD_BYTES`]. `None` for an empty (or all-whitespace) payload.
fn read_json(payload: &[u8]) -> Result<Option<Map<String, Value>>, ShadowError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(ShadowError::payload_too_large());
    }
    let text = std::str::from_utf8(payload).map_err(|_| ShadowError::unsupported_encoding())?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(Some(object)),
        _ => Err(ShadowError::invalid_json()),
    }
}

fn client_token_of(object: &Map<String, Value>) -> Result<Option<String>, ShadowError> {
    match object.get("clientToken") {
        None => Ok(None),
        Some(Value::String(token)) if token.len() <= MAX_CLIENT_TOKEN_BYTES => {
            Ok(Some(token.clone()))
        }
        Some(_) => Err(ShadowError::invalid_client_token()),
    }
}

/// The clientToken of a get/delete request payload (empty payload allowed), or the error (bad JSON, token > 64 bytes).
///
/// It also reads the token of an update payload, which is how a service finds the token to echo
/// on `/update/rejected` when [`parse_update`] fails; a payload whose token itself is invalid
/// gets its rejection without one.
pub fn parse_client_token(payload: &[u8]) -> Result<Option<String>, ShadowError> {
    match read_json(payload)? {
        None => Ok(None),
        Some(object) => client_token_of(&object),
    }
}

/// Parses and validates an update payload: every 400 of AWS's table, 413 for a state over
/// [`MAX_STATE_BYTES`] (or a payload over [`MAX_PAYLOAD_BYTES`]), 415 for non-UTF-8.
///
/// Checks run in this order, the first failure answering: encoding, size, JSON (an object),
/// `clientToken`, `state` (present, object or null, only `desired`/`reported`, each an object
/// or null), `version`, nesting depth, nulls in arrays, state size.
pub fn parse_update(payload: &[u8]) -> Result<UpdateRequest, ShadowError> {
    let Some(mut object) = read_json(payload)? else {
        return Err(ShadowError::invalid_json());
    };
    let client_token = client_token_of(&object)?;
    let Some(echo) = object.remove("state") else {
        return Err(ShadowError::missing_state());
    };
    let state = match &echo {
        Value::Null => StateUpdate::Clear,
        Value::Object(sections) => {
            if sections
                .keys()
                .any(|key| key != "desired" && key != "reported")
            {
                return Err(ShadowError::invalid_node());
            }
            StateUpdate::Sections {
                desired: section(sections.get("desired"), ShadowError::desired_not_object)?,
                reported: section(sections.get("reported"), ShadowError::reported_not_object)?,
            }
        }
        _ => return Err(ShadowError::state_not_object()),
    };
    let version = match object.get("version") {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) => {
            Some(number.as_u64().ok_or_else(ShadowError::invalid_version)?)
        }
        Some(_) => return Err(ShadowError::invalid_version()),
    };
    if depth(&echo) > MAX_DEPTH {
        return Err(ShadowError::too_deep());
    }
    if has_null_in_array(&echo, false) {
        return Err(ShadowError::invalid_node());
    }
    if compact_len(&echo) > MAX_STATE_BYTES {
        return Err(ShadowError::payload_too_large());
    }
    Ok(UpdateRequest {
        state,
        echo,
        version,
        client_token,
    })
}

fn section(
    value: Option<&Value>,
    not_object: fn() -> ShadowError,
) -> Result<SectionUpdate, ShadowError> {
    match value {
        None => Ok(SectionUpdate::Keep),
        Some(Value::Null) => Ok(SectionUpdate::Remove),
        Some(Value::Object(map)) => Ok(SectionUpdate::Merge(map.clone())),
        Some(_) => Err(not_object()),
    }
}

/// The nesting depth of a value: each object or array is one level, a scalar none.
///
/// Iterative, so that no payload can exhaust the stack (serde_json already refuses more than
/// 128 levels, this keeps the bound ours).
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, above)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Object(map) => Box::new(map.values()),
            Value::Array(items) => Box::new(items.iter()),
            _ => continue,
        };
        let level = above + 1;
        deepest = deepest.max(level);
        stack.extend(children.map(|child| (child, level)));
    }
    deepest
}

/// True when a `null` sits anywhere inside an array (AWS: "Arrays can't have null values").
/// Outside arrays a null is a deletion, and an empty object inside an array is kept as a value.
fn has_null_in_array(value: &Value, in_array: bool) -> bool {
    match value {
        Value::Null => in_array,
        Value::Array(items) => items.iter().any(|item| has_null_in_array(item, true)),
        Value::Object(map) => map.values().any(|child| has_null_in_array(child, in_array)),
        _ => false,
    }
}
