//! Tests of thingd-rules: the JSON of every supported action shape (botocore's and AWS's
//! documented examples) round-trips, unsupported or malformed actions are refused naming the
//! type, and each validation rule accepts and refuses what it should.

mod payload;
mod round_trip;
mod validation;

use serde_json::{Value, json};
use thingd_rules::{RuleError, TopicRulePayload};

/// A payload with this one action and a valid statement.
fn with_action(action: Value) -> Value {
    json!({"sql": "SELECT * FROM 'a/b'", "actions": [action]})
}

/// Parses and validates a payload given as JSON.
fn check(payload: &Value) -> Result<TopicRulePayload, RuleError> {
    let parsed = TopicRulePayload::from_json(&payload.to_string())?;
    thingd_rules::validate("rule_1", &parsed)?;
    Ok(parsed)
}

/// Asserts that `payload` is refused as an invalid request whose message contains `needle`.
#[track_caller]
fn assert_invalid(payload: &Value, needle: &str) {
    match check(payload) {
        Err(RuleError::InvalidRequest { message }) => {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        other => {
            panic!("expected InvalidRequest containing {needle:?} for {payload}, got {other:?}")
        }
    }
}
