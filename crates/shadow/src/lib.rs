//! AWS IoT Device Shadow semantics, without IO: the document model, update, get and delete, the
//! delta, the payloads published on the response topics, AWS's errors and limits.
//!
//! The crate is the pure core of thingd's shadow service: the service reads a [`StoredShadow`]
//! from its store, calls [`apply_update`], [`get_response`] or [`apply_delete`] with the clock's
//! reading, writes the stored shadow back (conditionally on its version) and publishes the
//! payloads on the topics [`response_topic`] names. Everything here is deterministic: the time is
//! an argument, and JSON objects keep their keys in sorted order.
//!
//! Choices where AWS's documentation is silent, taken from AWS's own Greengrass shadow manager,
//! which mirrors the cloud service:
//! - `/update/delta` is published after every accepted update that leaves a non-empty delta,
//!   whichever section the update touched (so a device reporting a value that still differs
//!   from the desired one gets the delta again).
//! - `/update/documents` has `"previous": null` when the update created the shadow (never
//!   written, or deleted).
//! - `/update/accepted` echoes the request's `state` as sent, nulls included, with metadata for
//!   every field sent.
//! - Metadata of an array is an array of per-element metadata.
//! - An empty object in an update deletes the field, as `null` does, and an object left empty by
//!   deletions is removed, so a stored state never holds `null` or `{}`.

mod document;
mod error;
mod operations;
mod request;
mod topic;

pub use document::{ShadowDocument, StoredShadow, delta, json_contains, json_equal};
pub use error::{ShadowError, UNNAMED_SHADOW};
pub use operations::{UpdateOutcome, apply_delete, apply_update, get_response};
pub use request::{SectionUpdate, StateUpdate, UpdateRequest, parse_client_token, parse_update};
pub use topic::{
    MAX_SHADOW_NAME_LEN, MAX_THING_NAME_LEN, Operation, Outcome, ShadowRequestTopic,
    parse_request_topic, request_topic, response_topic, topic_prefix, validate_shadow_name,
    validate_thing_name,
};

/// The largest state document AWS IoT accepts, in bytes of compact JSON: `desired` plus
/// `reported`, metadata not counted (8 KB).
pub const MAX_STATE_BYTES: usize = 8 * 1024;

/// The deepest nesting AWS IoT accepts, counted from `state` (1), through `desired` or
/// `reported` (2), to the innermost object or array (AWS's message: "maximum is 6").
pub const MAX_DEPTH: usize = 6;

/// The longest `clientToken` AWS IoT accepts, in bytes.
pub const MAX_CLIENT_TOKEN_BYTES: usize = 64;

/// The largest request payload read at all, in bytes (AWS IoT's MQTT message limit). A larger
/// payload is answered 413 without being parsed, so that no request costs more than this to
/// reject; the 8 KB state limit is checked on what a smaller payload holds.
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024;
