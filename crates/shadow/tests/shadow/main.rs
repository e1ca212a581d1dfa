//! Integration tests of the shadow crate: AWS's error table, update semantics, the payloads of
//! every response topic (with the examples of AWS's guide), topics and names, and properties.

mod errors;
mod payloads;
mod properties;
mod topics;
mod update;

use serde_json::Value;
use thingd_shadow::{StoredShadow, UpdateOutcome, apply_update, parse_update};

/// The clock of every test, in seconds.
const NOW: u64 = 1_700_000_000;

/// Parses a payload the tests know to be JSON.
fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("payload is JSON")
}

/// Applies one update given as JSON text at `now`, panicking on a rejection.
fn update_at(current: &StoredShadow, payload: &str, now: u64) -> UpdateOutcome {
    let request = parse_update(payload.as_bytes()).expect("valid update");
    apply_update(current, &request, now).expect("accepted update")
}

/// Applies a sequence of updates to a new shadow, all at `NOW`.
fn shadow_after(payloads: &[&str]) -> StoredShadow {
    payloads
        .iter()
        .fold(StoredShadow::default(), |current, payload| {
            update_at(&current, payload, NOW).stored
        })
}
