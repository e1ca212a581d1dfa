//! Table-driven tests of AWS IoT SQL: parsing, each operator and conversion per version,
//! Undefined, every function, CASE, nested queries, SET, literals, SELECT forms, binary
//! payloads and substitution templates. Expected values come from the AWS IoT Developer Guide's
//! examples and tables (reference §5.2–5.5).

// Helpers outside #[test] functions unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod case_and_nested;
mod functions;
mod operators;
mod parse_errors;
mod properties;
mod select;
mod templates;
mod undefined;

use serde_json::Value as Json;
use thingd_sql::{Environment, Input, Output, SqlVersion, Statement};

pub(crate) const V1: SqlVersion = SqlVersion::V2015_10_08;
pub(crate) const V2: SqlVersion = SqlVersion::V2016_03_23;

/// An account with one shadow, for `accountid()` and `get_thing_shadow()`.
pub(crate) struct TestEnv;

impl Environment for TestEnv {
    fn account_id(&self) -> &str {
        "123456789012"
    }

    fn thing_shadow(&self, thing: &str, shadow: Option<&str>) -> Option<Json> {
        match (thing, shadow) {
            ("MyThing", None) => Some(serde_json::json!({"state": {"reported": {"alarm": "ON"}}})),
            ("MyThing", Some("named")) => {
                Some(serde_json::json!({"state": {"reported": {"alarm": "OFF"}}}))
            }
            _ => None,
        }
    }
}

/// Evaluates `sql` on `payload` published to `topic`.
pub(crate) fn run_on(sql: &str, version: SqlVersion, topic: &str, payload: &str) -> Option<Output> {
    let statement = Statement::parse(sql, version).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let input = Input::new(topic, payload.as_bytes(), 1_481_825_251_155);
    statement.evaluate(&input, &TestEnv).unwrap()
}

/// Evaluates `sql` on `payload` and returns the output payload as text (None when WHERE fails).
pub(crate) fn run(sql: &str, version: SqlVersion, payload: &str) -> Option<String> {
    run_on(sql, version, "topic/subtopic", payload)
        .map(|output| String::from_utf8(output.to_payload()).unwrap())
}

/// `SELECT VALUE <expr>` on `payload`, as text: JSON, or "" for Undefined.
pub(crate) fn value(version: SqlVersion, expr: &str, payload: &str) -> String {
    run(
        &format!("SELECT VALUE {expr} FROM 'topic/subtopic'"),
        version,
        payload,
    )
    .expect("no WHERE, so there is always output")
}

/// Asserts each `(expression, expected JSON text)` row under `version` with an empty payload.
pub(crate) fn table(version: SqlVersion, rows: &[(&str, &str)]) {
    table_on(version, "{}", rows);
}

pub(crate) fn table_on(version: SqlVersion, payload: &str, rows: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (expr, expected) in rows {
        let actual = value(version, expr, payload);
        if actual != *expected {
            failures.push(format!("{expr}: expected {expected:?}, got {actual:?}"));
        }
    }
    assert!(failures.is_empty(), "{version}:\n{}", failures.join("\n"));
}
