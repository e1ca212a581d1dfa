//! Every supported action shape, with every documented field, survives parse → serialize
//! unchanged: GetTopicRule returns what CreateTopicRule was given.

use serde_json::{Value, json};
use thingd_rules::{Action, TopicRulePayload};

use super::check;

/// One action of each supported type with all its fields, after botocore's shapes and the
/// examples of AWS's action pages.
fn every_action() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "republish",
            "RepublishAction",
            json!({"republish": {
                "roleArn": "arn:aws:iam::123456789012:role/aws_iot_republish",
                "topic": "${topic()}/republish",
                "qos": 1,
                "headers": {
                    "payloadFormatIndicator": "UTF-8_DATA",
                    "contentType": "${contenttype}",
                    "responseTopic": "${responsetopic}",
                    "correlationData": "ZGF0YQ==",
                    "messageExpiry": "3600",
                    "userProperties": [
                        {"key": "ruleName", "value": "${ruleName}"},
                        {"key": "region", "value": "us-east-1"}
                    ]
                }
            }}),
        ),
        (
            "http",
            "HttpAction",
            json!({"http": {
                "url": "https://www.example.com/subpath/${topic()}",
                "confirmationUrl": "https://www.example.com",
                "headers": [
                    {"key": "static_header_key", "value": "static_header_value"},
                    {"key": "substitutable_header_key", "value": "${value_from_payload}"}
                ],
                "auth": {"sigv4": {
                    "signingRegion": "us-east-1",
                    "serviceName": "execute-api",
                    "roleArn": "arn:aws:iam::123456789012:role/http"
                }},
                "enableBatching": true,
                "batchConfig": {
                    "maxBatchOpenMs": 100,
                    "maxBatchSize": 5,
                    "maxBatchSizeBytes": 4096,
                    "batchAcrossTopics": false
                }
            }}),
        ),
        (
            "dynamoDBv2",
            "DynamoDBv2Action",
            json!({"dynamoDBv2": {
                "roleArn": "arn:aws:iam::123456789012:role/aws_iot_dynamoDBv2",
                "putItem": {"tableName": "my_ddb_table"}
            }}),
        ),
        (
            "kinesis",
            "KinesisAction",
            json!({"kinesis": {
                "roleArn": "arn:aws:iam::123456789012:role/aws_iot_kinesis",
                "streamName": "my_kinesis_stream",
                "partitionKey": "${topic()}"
            }}),
        ),
        (
            "firehose",
            "FirehoseAction",
            json!({"firehose": {
                "roleArn": "arn:aws:iam::123456789012:role/aws_iot_firehose",
                "deliveryStreamName": "my_firehose_stream",
                "separator": "\n",
                "batchMode": false
            }}),
        ),
        (
            "kafka",
            "KafkaAction",
            json!({"kafka": {
                "destinationArn": "arn:aws:iot:us-east-1:123456789012:ruledestination/vpc/VPCDestinationARN",
                "topic": "TopicName",
                "key": "${clientId()}",
                "partition": "0",
                "clientProperties": {
                    "bootstrap.servers": "kafka.com:9092",
                    "acks": "1",
                    "compression.type": "gzip",
                    "security.protocol": "SSL",
                    "key.serializer": "org.apache.kafka.common.serialization.StringSerializer",
                    "value.serializer": "org.apache.kafka.common.serialization.ByteBufferSerializer",
                    "ssl.truststore": "/etc/thingd/kafka/truststore.jks",
                    "ssl.truststore.password": "kafka password"
                },
                "headers": [
                    {"key": "static_header_key", "value": "static_header_value"},
                    {"key": "substitutable_header_key", "value": "${value_from_payload}"}
                ]
            }}),
        ),
        (
            "cloudwatchMetric",
            "CloudwatchMetricAction",
            json!({"cloudwatchMetric": {
                "roleArn": "arn:aws:iam::123456789012:role/aws_iot_cw",
                "metricNamespace": "IotNamespace",
                "metricName": "${topic()}",
                "metricValue": "${temperature}",
                "metricUnit": "Count",
                "metricTimestamp": "${timestamp() / 1000}"
            }}),
        ),
    ]
}

#[test]
fn every_action_shape_round_trips() {
    for (type_name, aws_name, action) in every_action() {
        let payload = json!({
            "sql": "SELECT * FROM 'iot/test'",
            "description": "all fields",
            "actions": [action.clone()],
            "ruleDisabled": false,
            "awsIotSqlVersion": "2016-03-23",
            "errorAction": action.clone()
        });
        let parsed = check(&payload).unwrap_or_else(|e| panic!("{type_name}: {e}"));
        assert_eq!(parsed.actions[0].type_name(), type_name);
        assert_eq!(parsed.actions[0].aws_name(), aws_name);
        let back: Value = serde_json::from_str(&parsed.to_json()).expect("JSON");
        assert_eq!(back, payload, "{type_name}");
        assert_eq!(parsed.to_json_value(), payload, "{type_name}");
        // And the serialized form parses to the same value.
        assert_eq!(
            TopicRulePayload::from_json(&parsed.to_json()).expect("re-parse"),
            parsed
        );
    }
}

#[test]
fn minimal_actions_round_trip_without_adding_fields() {
    let minimal = [
        json!({"republish": {"roleArn": "arn:aws:iam::1:role/r", "topic": "out"}}),
        json!({"http": {"url": "https://example.com/hook"}}),
        json!({"kinesis": {"roleArn": "arn:aws:iam::1:role/r", "streamName": "s"}}),
        json!({"firehose": {"roleArn": "arn:aws:iam::1:role/r", "deliveryStreamName": "d"}}),
        json!({"kafka": {"destinationArn": "arn:d", "topic": "t", "clientProperties": {}}}),
    ];
    for action in minimal {
        let payload = json!({"sql": "SELECT * FROM 'a'", "actions": [action]});
        let parsed = check(&payload).expect("valid");
        assert_eq!(parsed.to_json_value(), payload);
    }
}

#[test]
fn action_helpers_name_the_target() {
    let parsed = check(&json!({
        "sql": "SELECT * FROM 'a'",
        "actions": [
            {"republish": {"roleArn": "arn:r", "topic": "out/x", "qos": 1}},
            {"http": {"url": "https://h.example/a/b", "confirmationUrl": "https://h.example/"}},
            {"http": {"url": "https://h.example/c"}}
        ]
    }))
    .expect("valid");
    match &parsed.actions[0] {
        Action::Republish(republish) => assert_eq!(republish.qos_level(), 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(parsed.actions[0].resource(), "out/x");
    match (&parsed.actions[1], &parsed.actions[2]) {
        (Action::Http(a), Action::Http(b)) => {
            assert_eq!(a.destination_url(), "https://h.example/");
            assert_eq!(b.destination_url(), "https://h.example/c");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(parsed.sql_version_name(), "2015-10-08");
    assert_eq!(
        parsed.statement().expect("parses").topic_filter(),
        Some("a")
    );
}

#[test]
fn null_members_are_absent() {
    // Some SDKs send absent union members and optional fields as null.
    let payload = json!({
        "sql": "SELECT * FROM 'a'",
        "description": null,
        "actions": [{"republish": {"roleArn": "arn:r", "topic": "t", "qos": null}, "s3": null}],
        "errorAction": null
    });
    let parsed = check(&payload).expect("valid");
    assert_eq!(
        parsed.to_json_value(),
        json!({"sql": "SELECT * FROM 'a'", "actions": [{"republish": {"roleArn": "arn:r", "topic": "t"}}]})
    );
}
