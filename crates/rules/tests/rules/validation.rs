//! One table per validation rule: what each accepts and what it refuses, with the field named.

use serde_json::{Value, json};
use thingd_rules::{RuleError, TopicRulePayload, validate, validate_destination_url};

use super::{assert_invalid, check, with_action};

fn republish(fields: Value) -> Value {
    let mut body = json!({"roleArn": "arn:aws:iam::1:role/r", "topic": "out"});
    merge(&mut body, fields);
    with_action(json!({ "republish": body }))
}

fn http(fields: Value) -> Value {
    let mut body = json!({"url": "https://example.com/hook"});
    merge(&mut body, fields);
    with_action(json!({ "http": body }))
}

fn merge(body: &mut Value, fields: Value) {
    if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
        for (key, value) in fields {
            body.insert(key, value);
        }
    }
}

#[test]
fn rule_names() {
    let payload = TopicRulePayload::from_json(r#"{"sql": "SELECT * FROM 'a'", "actions": []}"#)
        .expect("valid");
    for good in ["a", "A_1", "rule_2024", &"x".repeat(128)] {
        assert_eq!(validate(good, &payload), Ok(()), "{good}");
    }
    for bad in [
        "",
        "with-dash",
        "with space",
        "ünïcode",
        "a/b",
        &"x".repeat(129),
    ] {
        match validate(bad, &payload) {
            Err(RuleError::InvalidRequest { message }) => {
                assert!(message.contains("ruleName"), "{message}");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn sql_is_parsed_in_its_version_with_the_position_of_an_error() {
    let cases = [
        ("SELECT * FROM 'a/#'", None, true),
        (
            "SELECT temp FROM 'a' WHERE temp > 30",
            Some("2015-10-08"),
            true,
        ),
        ("SELECT [1, 2] AS list FROM 'a'", Some("2016-03-23"), true),
        ("SELECT [1, 2] AS list FROM 'a'", Some("beta"), true),
        // Array literals need 2016-03-23; 2015-10-08 is the default.
        ("SELECT [1, 2] AS list FROM 'a'", None, false),
        ("SELECT * FRM 'a'", None, false),
        ("SELECT FROM 'a'", None, false),
        ("", None, false),
    ];
    for (sql, version, valid) in cases {
        let mut payload = json!({"sql": sql, "actions": []});
        if let Some(version) = version {
            payload["awsIotSqlVersion"] = json!(version);
        }
        match (check(&payload), valid) {
            (Ok(_), true) => {}
            (Err(RuleError::SqlParse { message }), false) => {
                assert!(message.starts_with("line 1:"), "{sql}: {message}");
            }
            (other, _) => panic!("{sql} ({version:?}): {other:?}"),
        }
    }
    // A multi-line statement reports the right line.
    match check(&json!({"sql": "SELECT *\nFROM 'a'\nWHERE (", "actions": []})) {
        Err(RuleError::SqlParse { message }) => {
            assert!(message.starts_with("line 3:"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sql_versions_are_the_three_aws_names() {
    for bad in ["2017-01-01", "", "BETA"] {
        assert_invalid(
            &json!({"sql": "SELECT * FROM 'a'", "actions": [], "awsIotSqlVersion": bad}),
            "awsIotSqlVersion",
        );
    }
}

#[test]
fn at_most_ten_actions() {
    let action = json!({"republish": {"roleArn": "arn:r", "topic": "t"}});
    let ten = json!({"sql": "SELECT * FROM 'a'", "actions": vec![action.clone(); 10]});
    assert!(check(&ten).is_ok());
    let eleven = json!({"sql": "SELECT * FROM 'a'", "actions": vec![action; 11]});
    assert_invalid(&eleven, "at most 10 actions");
    let none = json!({"sql": "SELECT * FROM 'a'", "actions": []});
    assert!(check(&none).is_ok());
}

#[test]
fn republish_fields() {
    let valid = [
        json!({"topic": "$$aws/things/t/shadow/update"}),
        json!({"topic": "out/${topic(2)}"}),
        json!({"qos": 0}),
        json!({"qos": 1}),
        json!({"headers": {"payloadFormatIndicator": "UNSPECIFIED_BYTES"}}),
        json!({"headers": {"messageExpiry": "${ttl}"}}),
        json!({"headers": {"userProperties": [{"key": "k", "value": ""}]}}),
    ];
    for fields in valid {
        assert!(check(&republish(fields.clone())).is_ok(), "{fields}");
    }
    let invalid = [
        (
            json!({"topic": ""}),
            "actions[0].republish.topic: is required",
        ),
        (json!({"topic": "a/+/b"}), "wildcards"),
        (json!({"topic": "a/#"}), "wildcards"),
        (json!({"topic": "x".repeat(257)}), "exceeds 256 bytes"),
        (
            json!({"topic": "a/${topic(}"}),
            "actions[0].republish.topic: invalid substitution template: line 1:",
        ),
        (json!({"topic": "a/${"}), "Expected '}'"),
        (json!({"qos": 2}), "qos: must be 0 or 1, not 2"),
        (json!({"qos": -1}), "qos: must be 0 or 1"),
        (json!({"roleArn": ""}), "roleArn: is required"),
        (
            json!({"roleArn": "arn:${topic()}"}),
            "roleArn: does not accept substitution templates",
        ),
        (
            json!({"headers": {"payloadFormatIndicator": "TEXT"}}),
            "UNSPECIFIED_BYTES or UTF-8_DATA",
        ),
        (
            json!({"headers": {"messageExpiry": "soon"}}),
            "whole number of seconds",
        ),
        (
            json!({"headers": {"contentType": "x".repeat(1025)}}),
            "contentType: exceeds 1024",
        ),
        (
            json!({"headers": {"userProperties": []}}),
            "userProperties: must have 1 to 100",
        ),
        (
            json!({"headers": {"userProperties": vec![json!({"key": "k", "value": "v"}); 101]}}),
            "userProperties: must have 1 to 100 entries, not 101",
        ),
        (
            json!({"headers": {"userProperties": [{"key": "", "value": "v"}]}}),
            "userProperties[0].key: is required",
        ),
    ];
    for (fields, needle) in invalid {
        assert_invalid(&republish(fields), needle);
    }
}

#[test]
fn http_fields() {
    let valid = [
        json!({"url": "http://receiver.internal:8080/hook"}),
        json!({"url": "HTTPS://Example.com/a"}),
        json!({"url": "https://example.com/${topic()}", "confirmationUrl": "https://example.com/"}),
        json!({"url": "https://example.com/a/b", "confirmationUrl": "https://example.com/a"}),
        json!({"headers": [{"key": "X-Token", "value": "${token}"}]}),
        json!({"headers": vec![json!({"key": "k", "value": "v"}); 100]}),
        json!({"batchConfig": {"maxBatchOpenMs": 5, "maxBatchSize": 10, "maxBatchSizeBytes": 131072}}),
    ];
    for fields in valid {
        assert!(check(&http(fields.clone())).is_ok(), "{fields}");
    }
    let invalid = [
        (json!({"url": ""}), "url: is required"),
        (
            json!({"url": "ftp://example.com"}),
            "http:// or https:// URL",
        ),
        (
            json!({"url": "example.com/hook"}),
            "http:// or https:// URL",
        ),
        (json!({"url": "https:///path"}), "must name a host"),
        (
            json!({"url": "https://${topic()}/x", "confirmationUrl": "https://a/"}),
            "literal host",
        ),
        // thingd wants the host written out, in the confirmation URL too (AWS would accept a
        // template there and want a destination per value).
        (
            json!({"url": "https://a.example.com/${topic()}", "confirmationUrl": "https://${topic(1)}.example.com"}),
            "confirmationUrl: must have a literal host",
        ),
        (
            json!({"url": format!("https://example.com/{}", "x".repeat(2000))}),
            "url: exceeds 2000",
        ),
        (
            json!({"url": "https://example.com/a\r\nX: y"}),
            "control characters",
        ),
        (
            json!({"url": "https://example.com/${topic()}"}),
            "must also specify a confirmationUrl",
        ),
        (
            json!({"url": "https://example.com/a", "confirmationUrl": "https://other.com"}),
            "confirmationUrl: must be a prefix of url",
        ),
        (
            json!({"headers": vec![json!({"key": "k", "value": "v"}); 101]}),
            "at most 100 entries",
        ),
        (
            json!({"headers": [{"key": "", "value": "v"}]}),
            "headers[0].key: is required",
        ),
        (
            json!({"headers": [{"key": "x".repeat(257), "value": "v"}]}),
            "headers[0].key: exceeds 256",
        ),
        (
            json!({"headers": [{"key": "${k}", "value": "v"}]}),
            "does not accept substitution templates",
        ),
        (
            json!({"headers": [{"key": "Bad Header", "value": "v"}]}),
            "not a valid HTTP header name",
        ),
        (
            json!({"headers": [{"key": "Content-Length", "value": "1"}]}),
            "set by thingd's HTTP client",
        ),
        (
            json!({"headers": [{"key": "host", "value": "evil"}]}),
            "set by thingd's HTTP client",
        ),
        (
            json!({"headers": [{"key": "k", "value": "a\nb"}]}),
            "control characters",
        ),
        (
            json!({"auth": {"sigv4": {"signingRegion": "", "serviceName": "s", "roleArn": "r"}}}),
            "signingRegion: is required",
        ),
        (
            json!({"batchConfig": {"maxBatchOpenMs": 4}}),
            "maxBatchOpenMs: must be between 5 and 200, not 4",
        ),
        (
            json!({"batchConfig": {"maxBatchSize": 11}}),
            "maxBatchSize: must be between 2 and 10",
        ),
        (
            json!({"batchConfig": {"maxBatchSizeBytes": 99}}),
            "maxBatchSizeBytes: must be between 100 and 131072",
        ),
    ];
    for (fields, needle) in invalid {
        assert_invalid(&http(fields), needle);
    }
}

#[test]
fn other_action_fields() {
    let invalid = [
        (
            json!({"dynamoDBv2": {"roleArn": "r", "putItem": {"tableName": ""}}}),
            "putItem.tableName: is required",
        ),
        (
            json!({"dynamoDBv2": {"roleArn": "r", "putItem": {"tableName": "t_${(}"}}}),
            "invalid substitution template",
        ),
        (
            json!({"kinesis": {"roleArn": "r", "streamName": ""}}),
            "streamName: is required",
        ),
        (
            json!({"kinesis": {"roleArn": "r", "streamName": "s", "partitionKey": "${"}}),
            "partitionKey: invalid substitution template",
        ),
        (
            json!({"firehose": {"roleArn": "r", "deliveryStreamName": "d", "separator": ";"}}),
            "separator: must be one of",
        ),
        (
            json!({"kafka": {"destinationArn": "${d}", "topic": "t", "clientProperties": {}}}),
            "destinationArn: does not accept",
        ),
        (
            json!({"kafka": {"destinationArn": "d", "topic": "", "clientProperties": {}}}),
            "kafka.topic: is required",
        ),
        (
            json!({"kafka": {"destinationArn": "d", "topic": "t", "clientProperties": {"": "x"}}}),
            "is required",
        ),
        (
            json!({"kafka": {"destinationArn": "d", "topic": "t", "clientProperties": {}, "headers": []}}),
            "headers: must have 1 to 100",
        ),
        (
            json!({"cloudwatchMetric": {"roleArn": "r", "metricNamespace": "n", "metricName": "m", "metricValue": "1", "metricUnit": "Parsecs"}}),
            "not a CloudWatch unit",
        ),
        (
            json!({"cloudwatchMetric": {"roleArn": "r", "metricNamespace": "n", "metricName": "m", "metricValue": "lots", "metricUnit": "Count"}}),
            "metricValue: must be a number",
        ),
        (
            json!({"cloudwatchMetric": {"roleArn": "r", "metricNamespace": "", "metricName": "m", "metricValue": "1", "metricUnit": "Count"}}),
            "metricNamespace: is required",
        ),
    ];
    for (action, needle) in invalid {
        assert_invalid(&with_action(action), needle);
    }
    let valid = [
        json!({"firehose": {"roleArn": "r", "deliveryStreamName": "d", "separator": "\r\n"}}),
        json!({"firehose": {"roleArn": "r", "deliveryStreamName": "d", "separator": ","}}),
        json!({"cloudwatchMetric": {"roleArn": "r", "metricNamespace": "n", "metricName": "m", "metricValue": "${v}", "metricUnit": "${unit}"}}),
        json!({"cloudwatchMetric": {"roleArn": "r", "metricNamespace": "n", "metricName": "m", "metricValue": "-1.5e3", "metricUnit": "Bytes/Second"}}),
    ];
    for action in valid {
        assert!(check(&with_action(action.clone())).is_ok(), "{action}");
    }
}

#[test]
fn templates_may_not_call_other_aws_services() {
    let action = json!({"kafka": {"destinationArn": "d", "topic": "t", "clientProperties": {
        "ssl.truststore": "${get_secret('truststore', 'SecretBinary', 'arn:aws:iam::1:role/r')}"
    }}});
    assert_invalid(
        &with_action(action),
        "clientProperties.ssl.truststore: invalid substitution template: line 1:3: Function get_secret()",
    );
}

#[test]
fn templates_follow_the_rule_sql_version() {
    // An array literal in a template needs 2016-03-23, like in the statement.
    let action = json!({"republish": {"roleArn": "r", "topic": "out/${get([1, 2], 0)}"}});
    let mut payload = with_action(action);
    assert_invalid(&payload, "invalid substitution template");
    payload["awsIotSqlVersion"] = json!("2016-03-23");
    assert!(check(&payload).is_ok());
}

#[test]
fn the_error_action_is_validated_like_the_others() {
    let payload = json!({"sql": "SELECT * FROM 'a'", "actions": [],
        "errorAction": {"republish": {"roleArn": "r", "topic": "err", "qos": 5}}});
    assert_invalid(&payload, "errorAction.republish.qos: must be 0 or 1");
}

#[test]
fn destination_urls() {
    for good in ["https://example.com", "http://10.0.0.1:8080/hooks/"] {
        assert_eq!(validate_destination_url(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "example.com",
        "https://",
        "https://${x}.com",
        "https://a.com/${topic()}",
    ] {
        assert!(validate_destination_url(bad).is_err(), "{bad}");
    }
    let long = format!("https://example.com/{}", "x".repeat(2000));
    assert!(validate_destination_url(&long).is_err());
}
