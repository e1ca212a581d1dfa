//! The rule actions thingd supports, in botocore's shapes (`Action` and each `*Action` structure
//! of the `iot` 2015-05-28 model; reference §5.6).
//!
//! Every documented field is kept, including the ones thingd ignores (`roleArn`: thingd runs the
//! action itself and assumes no IAM role), so that what a client creates is what `GetTopicRule`
//! gives back. On the wire an [`Action`] is AWS's union object with exactly one key
//! (`{"republish": {...}}`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::RuleError;

/// The union keys of botocore's `Action` that thingd runs, in the order error messages list them.
pub const SUPPORTED_ACTION_TYPES: [&str; 7] = [
    "republish",
    "http",
    "dynamoDBv2",
    "kinesis",
    "firehose",
    "kafka",
    "cloudwatchMetric",
];

/// The union keys of botocore's `Action` that thingd refuses (they need an AWS service with no
/// self-hosted counterpart in thingd's configuration).
pub const UNSUPPORTED_ACTION_TYPES: [&str; 16] = [
    "dynamoDB",
    "lambda",
    "sns",
    "sqs",
    "s3",
    "cloudwatchAlarm",
    "cloudwatchLogs",
    "elasticsearch",
    "salesforce",
    "iotAnalytics",
    "iotEvents",
    "iotSiteWise",
    "stepFunctions",
    "timestream",
    "openSearch",
    "location",
];

/// One rule action (botocore `Action`): exactly one of the supported types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `republish`: publish the SQL output to an MQTT topic of this broker.
    Republish(RepublishAction),
    /// `http`: POST the SQL output to an HTTP(S) endpoint behind a confirmed destination.
    Http(HttpAction),
    /// `dynamoDBv2`: write each top-level key of the output as a column of a table.
    DynamoDBv2(DynamoDBv2Action),
    /// `kinesis`: put a record on a stream.
    Kinesis(KinesisAction),
    /// `firehose`: put a record on a delivery stream.
    Firehose(FirehoseAction),
    /// `kafka`: produce a record to a Kafka topic.
    Kafka(KafkaAction),
    /// `cloudwatchMetric`: record one metric value.
    CloudwatchMetric(CloudwatchMetricAction),
}

impl Action {
    /// The union key, as in the JSON (`"republish"`, `"dynamoDBv2"`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Action::Republish(_) => "republish",
            Action::Http(_) => "http",
            Action::DynamoDBv2(_) => "dynamoDBv2",
            Action::Kinesis(_) => "kinesis",
            Action::Firehose(_) => "firehose",
            Action::Kafka(_) => "kafka",
            Action::CloudwatchMetric(_) => "cloudwatchMetric",
        }
    }

    /// The shape name, as the error action payload's `failedAction` spells it
    /// (`"RepublishAction"`; reference §5.7).
    pub fn aws_name(&self) -> &'static str {
        match self {
            Action::Republish(_) => "RepublishAction",
            Action::Http(_) => "HttpAction",
            Action::DynamoDBv2(_) => "DynamoDBv2Action",
            Action::Kinesis(_) => "KinesisAction",
            Action::Firehose(_) => "FirehoseAction",
            Action::Kafka(_) => "KafkaAction",
            Action::CloudwatchMetric(_) => "CloudwatchMetricAction",
        }
    }

    /// The field that names the action's target, as written (possibly a template): what the
    /// error action payload reports as `failedResource`.
    pub fn resource(&self) -> &str {
        match self {
            Action::Republish(action) => &action.topic,
            Action::Http(action) => &action.url,
            Action::DynamoDBv2(action) => &action.put_item.table_name,
            Action::Kinesis(action) => &action.stream_name,
            Action::Firehose(action) => &action.delivery_stream_name,
            Action::Kafka(action) => &action.topic,
            Action::CloudwatchMetric(action) => &action.metric_namespace,
        }
    }

    /// Reads one action from its JSON union object, with a message naming the type on any
    /// problem: zero or several keys, an AWS type thingd does not run, an unknown type, or a
    /// body that does not fit the type's shape.
    pub fn from_json_value(value: serde_json::Value) -> Result<Action, RuleError> {
        let serde_json::Value::Object(map) = value else {
            return Err(RuleError::invalid(format!(
                "An action must be a JSON object with exactly one action type; got {}",
                json_kind(&value)
            )));
        };
        // A key with a null value is an absent union member (some SDKs send them).
        let mut members = map.into_iter().filter(|(_, body)| !body.is_null());
        let Some((type_name, body)) = members.next() else {
            return Err(RuleError::invalid(format!(
                "An action must name exactly one action type; none given (supported: {})",
                SUPPORTED_ACTION_TYPES.join(", ")
            )));
        };
        let extra: Vec<String> = members.map(|(key, _)| key).collect();
        if !extra.is_empty() {
            return Err(RuleError::invalid(format!(
                "An action must name exactly one action type; found {type_name}, {}",
                extra.join(", ")
            )));
        }
        let action = match type_name.as_str() {
            "republish" => body_of(&type_name, body).map(Action::Republish),
            "http" => body_of(&type_name, body).map(Action::Http),
            "dynamoDBv2" => body_of(&type_name, body).map(Action::DynamoDBv2),
            "kinesis" => body_of(&type_name, body).map(Action::Kinesis),
            "firehose" => body_of(&type_name, body).map(Action::Firehose),
            "kafka" => body_of(&type_name, body).map(Action::Kafka),
            "cloudwatchMetric" => body_of(&type_name, body).map(Action::CloudwatchMetric),
            other if UNSUPPORTED_ACTION_TYPES.contains(&other) => Err(RuleError::invalid(format!(
                "Action type '{other}' is not supported by thingd; supported: {}",
                SUPPORTED_ACTION_TYPES.join(", ")
            ))),
            other => Err(RuleError::invalid(format!(
                "Unknown action type '{}'; supported: {}",
                truncate_for_message(other),
                SUPPORTED_ACTION_TYPES.join(", ")
            ))),
        }?;
        Ok(action)
    }
}

fn body_of<T: serde::de::DeserializeOwned>(
    type_name: &str,
    body: serde_json::Value,
) -> Result<T, RuleError> {
    serde_json::from_value(body)
        .map_err(|error| RuleError::invalid(format!("Invalid {type_name} action: {error}")))
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Caller-supplied text echoed in an error message, cut to a readable length.
pub(crate) fn truncate_for_message(text: &str) -> String {
    const MAX_ECHO_CHARS: usize = 64;
    if text.chars().count() <= MAX_ECHO_CHARS {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX_ECHO_CHARS).collect();
        cut.push_str("...");
        cut
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Action::Republish(body) => map.serialize_entry(self.type_name(), body)?,
            Action::Http(body) => map.serialize_entry(self.type_name(), body)?,
            Action::DynamoDBv2(body) => map.serialize_entry(self.type_name(), body)?,
            Action::Kinesis(body) => map.serialize_entry(self.type_name(), body)?,
            Action::Firehose(body) => map.serialize_entry(self.type_name(), body)?,
            Action::Kafka(body) => map.serialize_entry(self.type_name(), body)?,
            Action::CloudwatchMetric(body) => map.serialize_entry(self.type_name(), body)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Action, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Action::from_json_value(value).map_err(D::Error::custom)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

/// botocore `RepublishAction`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepublishAction {
    /// The IAM role AWS would assume; kept, ignored by thingd.
    pub role_arn: String,
    /// The topic to publish to (template allowed; `$$` writes a literal `$`, so `$$aws/...`
    /// targets a reserved topic).
    pub topic: String,
    /// 0 (the default) or 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<i32>,
    /// MQTT 5 properties of the republished message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<MqttHeaders>,
}

impl RepublishAction {
    /// The QoS to publish with: 0 unless 1 was asked for.
    pub fn qos_level(&self) -> u8 {
        if self.qos == Some(1) { 1 } else { 0 }
    }
}

/// botocore `MqttHeaders`: every value may be a template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MqttHeaders {
    /// `UNSPECIFIED_BYTES` or `UTF-8_DATA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_format_indicator: Option<String>,
    /// The MQTT 5 content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The MQTT 5 response topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_topic: Option<String>,
    /// Base64 of the MQTT 5 correlation data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_data: Option<String>,
    /// The message expiry interval in seconds, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_expiry: Option<String>,
    /// MQTT 5 user properties (1–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_properties: Option<Vec<UserProperty>>,
}

/// botocore `UserProperty`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserProperty {
    /// The property's key (template allowed).
    pub key: String,
    /// The property's value (template allowed).
    pub value: String,
}

/// botocore `HttpAction`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpAction {
    /// The endpoint (≤ 2000 characters, template allowed; with a template, `confirmationUrl` is
    /// required).
    pub url: String,
    /// The destination's URL, a prefix of `url`; `url` itself when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_url: Option<String>,
    /// Extra request headers (≤ 100; literal keys, template values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<HttpActionHeader>>,
    /// SigV4 signing of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuthorization>,
    /// Whether messages are batched into one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_batching: Option<bool>,
    /// How batches are formed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_config: Option<BatchConfig>,
}

impl HttpAction {
    /// The URL the action's destination must have: `confirmationUrl`, or `url` without one.
    pub fn destination_url(&self) -> &str {
        self.confirmation_url.as_deref().unwrap_or(&self.url)
    }
}

/// botocore `HttpActionHeader`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpActionHeader {
    /// The header name (1–256 characters, literal).
    pub key: String,
    /// The header value (template allowed).
    pub value: String,
}

/// botocore `HttpAuthorization`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpAuthorization {
    /// Sign the request with SigV4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigv4: Option<SigV4Authorization>,
}

/// botocore `SigV4Authorization`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigV4Authorization {
    /// The region to sign for.
    pub signing_region: String,
    /// The service name to sign for.
    pub service_name: String,
    /// The IAM role AWS would assume; kept, ignored by thingd.
    pub role_arn: String,
}

/// botocore `BatchConfig`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchConfig {
    /// How long a batch stays open, 5–200 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_open_ms: Option<i32>,
    /// Messages per batch, 2–10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_size: Option<i32>,
    /// Bytes per batch, 100–131072.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_size_bytes: Option<i32>,
    /// Whether messages of different topics share a batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_across_topics: Option<bool>,
}

/// botocore `DynamoDBv2Action`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamoDBv2Action {
    /// The IAM role AWS would assume; kept, ignored by thingd.
    pub role_arn: String,
    /// The table written to.
    pub put_item: PutItemInput,
}

/// botocore `PutItemInput`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutItemInput {
    /// The table's name (template allowed).
    pub table_name: String,
}

/// botocore `KinesisAction`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisAction {
    /// The IAM role AWS would assume; kept, ignored by thingd.
    pub role_arn: String,
    /// The stream (template allowed).
    pub stream_name: String,
    /// The record's partition key (template allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
}

/// botocore `FirehoseAction`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseAction {
    /// The IAM role AWS would assume; kept, ignored by thingd.
    pub role_arn: String,
    /// The delivery stream (template allowed).
    pub delivery_stream_name: String,
    /// Appended to each record: `\n`, `\t`, `\r\n` or `,`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// Whether an array output is sent as a batch of records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_mode: Option<bool>,
}

/// botocore `KafkaAction`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaAction {
    /// The VPC destination AWS would use; thingd maps it onto a configured cluster.
    pub destination_arn: String,
    /// The Kafka topic (template allowed).
    pub topic: String,
    /// The record key (template allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The partition (template allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Producer properties (`bootstrap.servers`, `acks`, ...; values may be templates).
    pub client_properties: BTreeMap<String, String>,
    /// Record headers (1–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<KafkaActionHeader>>,
}

/// botocore `KafkaActionHeader`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaActionHeader {
    /// The header key (template allowed).
    pub key: String,
    /// The header value (template allowed).
    pub value: String,
}

/// botocore `CloudwatchMetricAction`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudwatchMetricAction {
    /// The IAM role AWS would assume; kept, ignored by thingd.
    pub role_arn: String,
    /// The metric namespace (template allowed).
    pub metric_namespace: String,
    /// The metric name (template allowed).
    pub metric_name: String,
    /// The value, a number as a string (template allowed).
    pub metric_value: String,
    /// The CloudWatch unit (template allowed).
    pub metric_unit: String,
    /// The epoch-seconds timestamp (template allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_timestamp: Option<String>,
}
