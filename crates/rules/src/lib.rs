//! AWS IoT topic rules for thingd, without IO: the `TopicRulePayload` and action shapes of
//! botocore's `iot` model, their JSON form, and the checks CreateTopicRule and ReplaceTopicRule
//! run before a rule is stored (reference §5.1, §5.5, §5.6).
//!
//! thingd keeps AWS's action shapes so that the AWS CLI and SDKs create rules unchanged, and
//! runs each supported action type against a self-hosted engine named in its configuration:
//! `republish`, `http`, `dynamoDBv2`, `kinesis`, `firehose`, `kafka` and `cloudwatchMetric`.
//! Any other AWS action type is refused at create time with an `InvalidRequestException` that
//! names the type.

mod action;
mod error;
mod payload;
mod validate;

pub use crate::action::{
    Action, BatchConfig, CloudwatchMetricAction, DynamoDBv2Action, FirehoseAction, HttpAction,
    HttpActionHeader, HttpAuthorization, KafkaAction, KafkaActionHeader, KinesisAction,
    MqttHeaders, PutItemInput, RepublishAction, SUPPORTED_ACTION_TYPES, SigV4Authorization,
    UNSUPPORTED_ACTION_TYPES, UserProperty,
};
pub use crate::error::RuleError;
pub use crate::payload::{MAX_RULE_PAYLOAD_BYTES, TopicRulePayload};
pub use crate::validate::{
    MAX_ACTIONS, MAX_FIELD_CHARS, MAX_HTTP_HEADER_KEY_CHARS, MAX_HTTP_HEADERS,
    MAX_KAFKA_CLIENT_PROPERTIES, MAX_KAFKA_HEADER_CHARS, MAX_KAFKA_HEADERS, MAX_MQTT_HEADER_CHARS,
    MAX_RULE_NAME_CHARS, MAX_TOPIC_BYTES, MAX_URL_CHARS, MAX_USER_PROPERTIES, validate,
    validate_action, validate_destination_url, validate_rule_name,
};

/// A rule's ARN: `arn:{partition}:iot:{region}:{account}:rule/{name}` (reference §5.1).
pub fn rule_arn(partition: &str, region: &str, account: &str, rule_name: &str) -> String {
    format!("arn:{partition}:iot:{region}:{account}:rule/{rule_name}")
}

/// An HTTP topic rule destination's ARN:
/// `arn:{partition}:iot:{region}:{account}:ruledestination/http/{id}` (reference §5.7).
pub fn destination_arn(partition: &str, region: &str, account: &str, id: &str) -> String {
    format!("arn:{partition}:iot:{region}:{account}:ruledestination/http/{id}")
}
