//! The shadow document as stored: desired and reported state with their metadata, the merge
//! that applies an update to it, and the delta between desired and reported.

use serde_json::{Map, Value};

use crate::error::ShadowError;

/// A shadow as stored: its document (None once deleted) and its version counter, which delete keeps.
///
/// A shadow that was never written is `StoredShadow::default()`: no document, version 0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredShadow {
    /// The document, `None` if the shadow was never written or has been deleted.
    pub document: Option<ShadowDocument>,
    /// The version of the last accepted update (0 before the first); the next update makes it
    /// one more, even after a delete.
    pub version: u64,
}

/// A shadow's state and metadata.
///
/// Invariants, kept by every constructor and by the merge: `desired` and `reported` are
/// non-empty objects when present; no value in them is `null` or an empty object; each section's
/// metadata mirrors its state (a `{"timestamp": s}` per leaf, an array of per-element metadata
/// per array, an object per object).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShadowDocument {
    desired: Option<Map<String, Value>>,
    reported: Option<Map<String, Value>>,
    desired_metadata: Map<String, Value>,
    reported_metadata: Map<String, Value>,
}

impl ShadowDocument {
    /// A document with no desired and no reported state (what `"state": null` leaves).
    pub fn empty() -> ShadowDocument {
        ShadowDocument::default()
    }

    /// The desired state, if any.
    pub fn desired(&self) -> Option<&Map<String, Value>> {
        self.desired.as_ref()
    }

    /// The reported state, if any.
    pub fn reported(&self) -> Option<&Map<String, Value>> {
        self.reported.as_ref()
    }

    /// The metadata of the desired state (empty without one).
    pub fn desired_metadata(&self) -> &Map<String, Value> {
        &self.desired_metadata
    }

    /// The metadata of the reported state (empty without one).
    pub fn reported_metadata(&self) -> &Map<String, Value> {
        &self.reported_metadata
    }

    /// True when the document has neither desired nor reported state.
    pub fn is_empty(&self) -> bool {
        self.desired.is_none() && self.reported.is_none()
    }

    /// The size AWS IoT counts against [`crate::MAX_STATE_BYTES`]: the compact JSON of
    /// `desired` plus that of `reported`, metadata not counted.
    pub fn state_size(&self) -> usize {
        let size = |section: &Option<Map<String, Value>>| {
            section
                .as_ref()
                .map_or(0, |map| compact_len(&Value::Object(map.clone())))
        };
        size(&self.desired) + size(&self.reported)
    }

    /// The delta: the desired fields that reported does not match, `None` when there are none.
    pub fn delta(&self) -> Option<Map<String, Value>> {
        let desired = self.desired.as_ref()?;
        let reported = self.reported.clone().unwrap_or_default();
        match delta(&Value::Object(desired.clone()), &Value::Object(reported)) {
            Some(Value::Object(delta)) => Some(delta),
            _ => None,
        }
    }

    /// The metadata of a delta: the desired metadata of the fields it holds.
    pub fn delta_metadata(&self, delta: &Map<String, Value>) -> Map<String, Value> {
        metadata_of(delta, &self.desired_metadata)
    }

    /// `{"desired"?, "reported"?}`: the state as documents show it (no delta).
    pub fn state_json(&self) -> Map<String, Value> {
        let mut state = Map::new();
        if let Some(desired) = &self.desired {
            state.insert("desired".to_owned(), Value::Object(desired.clone()));
        }
        if let Some(reported) = &self.reported {
            state.insert("reported".to_owned(), Value::Object(reported.clone()));
        }
        state
    }

    /// `{"desired"?, "reported"?}`: the metadata, one section per state section present.
    pub fn metadata_json(&self) -> Map<String, Value> {
        let mut metadata = Map::new();
        if self.desired.is_some() {
            metadata.insert(
                "desired".to_owned(),
                Value::Object(self.desired_metadata.clone()),
            );
        }
        if self.reported.is_some() {
            metadata.insert(
                "reported".to_owned(),
                Value::Object(self.reported_metadata.clone()),
            );
        }
        metadata
    }

    /// The stored form: `{"state": {...}, "metadata": {...}}` (the version is kept apart, in
    /// [`StoredShadow`]).
    pub fn to_json(&self) -> String {
        let mut document = Map::new();
        document.insert("state".to_owned(), Value::Object(self.state_json()));
        document.insert("metadata".to_owned(), Value::Object(self.metadata_json()));
        Value::Object(document).to_string()
    }

    /// Reads the stored form written by [`ShadowDocument::to_json`].
    ///
    /// A document that does not have that shape (a corrupted store) is a 500
    /// `Internal service failure`: the requester did nothing wrong.
    pub fn from_json(text: &str) -> Result<ShadowDocument, ShadowError> {
        let value: Value = serde_json::from_str(text).map_err(|_| ShadowError::internal())?;
        let Value::Object(mut document) = value else {
            return Err(ShadowError::internal());
        };
        let mut state = take_object(&mut document, "state")?.unwrap_or_default();
        let mut metadata = take_object(&mut document, "metadata")?.unwrap_or_default();
        let desired = take_object(&mut state, "desired")?;
        let reported = take_object(&mut state, "reported")?;
        let desired_metadata = take_object(&mut metadata, "desired")?.unwrap_or_default();
        let reported_metadata = take_object(&mut metadata, "reported")?.unwrap_or_default();
        if !document.is_empty() || !state.is_empty() || !metadata.is_empty() {
            return Err(ShadowError::internal());
        }
        let clean = |section: Option<Map<String, Value>>| section.filter(|map| !map.is_empty());
        Ok(ShadowDocument {
            desired_metadata: if desired.is_some() {
                desired_metadata
            } else {
                Map::new()
            },
            reported_metadata: if reported.is_some() {
                reported_metadata
            } else {
                Map::new()
            },
            desired: clean(desired),
            reported: clean(reported),
        })
    }

    /// Empties the document (`"state": null`).
    pub(crate) fn clear(&mut self) {
        *self = ShadowDocument::empty();
    }

    /// Removes the desired section (`"desired": null`).
    pub(crate) fn remove_desired(&mut self) {
        self.desired = None;
        self.desired_metadata.clear();
    }

    /// Removes the reported section (`"reported": null`).
    pub(crate) fn remove_reported(&mut self) {
        self.reported = None;
        self.reported_metadata.clear();
    }

    /// Merges an update into the desired section, stamping what it sets with `now`.
    pub(crate) fn merge_desired(&mut self, patch: &Map<String, Value>, now: u64) {
        merge_section(&mut self.desired, &mut self.desired_metadata, patch, now);
    }

    /// Merges an update into the reported section, stamping what it sets with `now`.
    pub(crate) fn merge_reported(&mut self, patch: &Map<String, Value>, now: u64) {
        merge_section(&mut self.reported, &mut self.reported_metadata, patch, now);
    }
}

fn take_object(
    map: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<Map<String, Value>>, ShadowError> {
    match map.remove(key) {
        None => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(_) => Err(ShadowError::internal()),
    }
}

pub(crate) fn compact_len(value: &Value) -> usize {
    // Serializing a `Value` to a `Vec` cannot fail: its keys are strings and it holds no
    // non-finite numbers.
    serde_json::to_vec(value).map_or(0, |bytes| bytes.len())
}

/// True for what an update uses to delete a field: `null`, or an empty object.
pub(crate) fn deletes(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// The metadata of a value set at `now`: a timestamp per leaf, the same shape for objects and
/// arrays. A `null` (a deletion, in `/update/accepted`) is a leaf.
pub(crate) fn metadata_for(value: &Value, now: u64) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), metadata_for(value, now)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| metadata_for(item, now)).collect())
        }
        _ => timestamp(now),
    }
}

pub(crate) fn timestamp(now: u64) -> Value {
    let mut leaf = Map::new();
    leaf.insert("timestamp".to_owned(), Value::from(now));
    Value::Object(leaf)
}

/// Applies a patch to one section and its metadata. The section disappears when the patch
/// leaves it empty.
fn merge_section(
    section: &mut Option<Map<String, Value>>,
    metadata: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    now: u64,
) {
    let mut state = section.take().unwrap_or_default();
    if state.is_empty() {
        // A section that did not exist has no metadata to keep.
        metadata.clear();
    }
    merge_object(&mut state, metadata, patch, now);
    if state.is_empty() {
        metadata.clear();
    } else {
        *section = Some(state);
    }
}

fn merge_object(
    state: &mut Map<String, Value>,
    metadata: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    now: u64,
) {
    for (key, value) in patch {
        if deletes(value) {
            state.remove(key);
            metadata.remove(key);
            continue;
        }
        match value {
            Value::Object(child_patch) => {
                // A field that held something other than an object becomes one: its old
                // metadata (a leaf or an array's) no longer describes it.
                if !matches!(state.get(key), Some(Value::Object(_))) {
                    state.insert(key.clone(), Value::Object(Map::new()));
                    metadata.insert(key.clone(), Value::Object(Map::new()));
                }
                if !matches!(metadata.get(key), Some(Value::Object(_))) {
                    metadata.insert(key.clone(), Value::Object(Map::new()));
                }
                let emptied = match (state.get_mut(key), metadata.get_mut(key)) {
                    (Some(Value::Object(child)), Some(Value::Object(child_metadata))) => {
                        merge_object(child, child_metadata, child_patch, now);
                        child.is_empty()
                    }
                    _ => false,
                };
                if emptied {
                    state.remove(key);
                    metadata.remove(key);
                }
            }
            _ => {
                state.insert(key.clone(), value.clone());
                metadata.insert(key.clone(), metadata_for(value, now));
            }
        }
    }
}

/// The metadata of the fields of `delta`, taken from the desired metadata they mirror.
fn metadata_of(delta: &Map<String, Value>, metadata: &Map<String, Value>) -> Map<String, Value> {
    let mut result = Map::new();
    for (key, value) in delta {
        let Some(field_metadata) = metadata.get(key) else {
            continue;
        };
        match (value, field_metadata) {
            // An object in the delta is an object of desired, so its metadata is an object of
            // the same keys: recurse to keep only the fields the delta holds.
            (Value::Object(child), Value::Object(child_metadata)) => {
                result.insert(
                    key.clone(),
                    Value::Object(metadata_of(child, child_metadata)),
                );
            }
            _ => {
                result.insert(key.clone(), field_metadata.clone());
            }
        }
    }
    result
}

/// The delta of a document (desired not matched by reported), for tests and GET.
///
/// Objects are compared field by field: a desired field missing from reported, or whose value
/// differs, is in the delta (objects recursively, with their path kept); fields only in reported
/// never are. Anything else (arrays included) is compared as a whole value, numbers by value
/// (`1` matches `1.0`). `None` exactly when [`json_contains`]`(desired, reported)`.
pub fn delta(desired: &Value, reported: &Value) -> Option<Value> {
    match (desired, reported) {
        (Value::Object(desired), Value::Object(reported)) => {
            let mut result = Map::new();
            for (key, wanted) in desired {
                match reported.get(key) {
                    None => {
                        result.insert(key.clone(), wanted.clone());
                    }
                    Some(actual) => {
                        if let Some(difference) = delta(wanted, actual) {
                            result.insert(key.clone(), difference);
                        }
                    }
                }
            }
            if result.is_empty() {
                None
            } else {
                Some(Value::Object(result))
            }
        }
        _ if json_equal(desired, reported) => None,
        _ => Some(desired.clone()),
    }
}

/// True when every field of `desired` is in `reported` with an equal value (objects compared
/// field by field, recursively; everything else by [`json_equal`]).
pub fn json_contains(desired: &Value, reported: &Value) -> bool {
    match (desired, reported) {
        (Value::Object(desired), Value::Object(reported)) => desired.iter().all(|(key, wanted)| {
            reported
                .get(key)
                .is_some_and(|actual| json_contains(wanted, actual))
        }),
        _ => json_equal(desired, reported),
    }
}

/// JSON equality with numbers compared by value: `1`, `1.0` and `1e0` are equal, as in AWS IoT
/// (JSON does not distinguish integers from floats).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => {
            let integer = |n: &serde_json::Number| {
                n.as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
            };
            match (integer(a), integer(b)) {
                (Some(a), Some(b)) => a == b,
                _ => match (a.as_f64(), b.as_f64()) {
                    (Some(a), Some(b)) => a == b,
                    _ => false,
                },
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, value)| b.get(key).is_some_and(|other| json_equal(value, other)))
        }
        _ => a == b,
    }
}
