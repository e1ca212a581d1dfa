//! Reading a payload: bad JSON, wrong shapes and action types other than the supported ones are
//! invalid requests that say what is wrong.

use serde_json::json;
use thingd_rules::{MAX_RULE_PAYLOAD_BYTES, RuleError, TopicRulePayload, UNSUPPORTED_ACTION_TYPES};

use super::{assert_invalid, with_action};

#[test]
fn unsupported_aws_action_types_are_named() {
    for type_name in UNSUPPORTED_ACTION_TYPES {
        let payload = with_action(json!({ type_name: {"roleArn": "arn:r"} }));
        let message = match TopicRulePayload::from_json(&payload.to_string()) {
            Err(RuleError::InvalidRequest { message }) => message,
            other => panic!("{type_name}: {other:?}"),
        };
        assert!(
            message.contains(&format!(
                "Action type '{type_name}' is not supported by thingd; supported: republish, \
                 http, dynamoDBv2, kinesis, firehose, kafka, cloudwatchMetric"
            )),
            "{message}"
        );
    }
    // In errorAction too.
    let payload = json!({"sql": "SELECT * FROM 'a'", "actions": [],
        "errorAction": {"lambda": {"functionArn": "arn:f"}}});
    assert_invalid(&payload, "Action type 'lambda' is not supported by thingd");
}

#[test]
fn malformed_unions_are_refused() {
    let cases = [
        (json!({}), "none given"),
        (
            json!({"republish": {"roleArn": "r", "topic": "t"}, "s3": {}}),
            "exactly one action type; found republish, s3",
        ),
        (
            json!({"notAnAction": {}}),
            "Unknown action type 'notAnAction'",
        ),
        (json!("republish"), "got a string"),
        (json!([]), "got an array"),
        (json!({"republish": "x"}), "Invalid republish action"),
        (
            json!({"republish": {"topic": "t"}}),
            "missing field `roleArn`",
        ),
        (
            json!({"republish": {"roleArn": "r", "topic": "t", "qos": "1"}}),
            "Invalid republish action: invalid type: string \"1\"",
        ),
        (
            json!({"http": {}}),
            "Invalid http action: missing field `url`",
        ),
        (
            json!({"dynamoDBv2": {"roleArn": "r"}}),
            "missing field `putItem`",
        ),
        (
            json!({"kafka": {"destinationArn": "d", "topic": "t"}}),
            "missing field `clientProperties`",
        ),
        (
            json!({"cloudwatchMetric": {"roleArn": "r", "metricNamespace": "n", "metricName": "m", "metricValue": "1"}}),
            "missing field `metricUnit`",
        ),
    ];
    for (action, needle) in cases {
        assert_invalid(&with_action(action), needle);
    }
}

#[test]
fn malformed_payloads_are_refused() {
    let cases = [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ("\"x\"", "must be a JSON object"),
        (r#"{"actions": []}"#, "missing field `sql`"),
        (r#"{"sql": "SELECT * FROM 'a'"}"#, "missing field `actions`"),
        (r#"{"sql": 1, "actions": []}"#, "invalid type"),
        (
            r#"{"sql": "SELECT * FROM 'a'", "actions": {}}"#,
            "invalid type",
        ),
        (
            r#"{"sql": "SELECT * FROM 'a'", "actions": [], "ruleDisabled": "yes"}"#,
            "invalid type",
        ),
    ];
    for (text, needle) in cases {
        match TopicRulePayload::from_json(text) {
            Err(RuleError::InvalidRequest { message }) => {
                assert!(message.contains(needle), "{text}: {message}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn oversized_payloads_are_refused_before_parsing() {
    let description = "x".repeat(MAX_RULE_PAYLOAD_BYTES);
    let text =
        json!({"sql": "SELECT * FROM 'a'", "actions": [], "description": description}).to_string();
    match TopicRulePayload::from_json(&text) {
        Err(RuleError::InvalidRequest { message }) => {
            assert!(message.contains("limit"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_fields_are_ignored_and_dropped() {
    let text = r#"{"sql": "SELECT * FROM 'a'", "actions": [], "future": 1}"#;
    let parsed = TopicRulePayload::from_json(text).expect("valid");
    assert_eq!(
        parsed.to_json(),
        r#"{"sql":"SELECT * FROM 'a'","actions":[]}"#
    );
}

#[test]
fn errors_carry_the_aws_codes() {
    let sql = RuleError::from(thingd_sql::SqlError {
        line: 1,
        column: 8,
        message: "Expected FROM".into(),
    });
    assert_eq!(sql.aws_code(), "SqlParseException");
    assert_eq!(sql.message(), "line 1:8: Expected FROM");
    assert_eq!(
        RuleError::invalid("x").aws_code(),
        "InvalidRequestException"
    );
}
