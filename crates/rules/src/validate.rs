//! Create-time checks of a rule: its name, its SQL, and every action field's presence, bounds
//! and substitution templates (reference §5.1, §5.5, §5.6; bounds from botocore's `iot` model).
//!
//! Which fields take `${...}` templates follows the AWS IoT Developer Guide's action pages:
//! data fields and resource names do, `roleArn`, `qos`, HTTP header keys, the Firehose separator
//! and `destinationArn` do not. A template must parse in the rule's SQL version.

use thingd_sql::{SqlVersion, Statement, Template};

use crate::action::{
    Action, CloudwatchMetricAction, DynamoDBv2Action, FirehoseAction, HttpAction, KafkaAction,
    KinesisAction, MqttHeaders, RepublishAction, truncate_for_message,
};
use crate::error::RuleError;
use crate::payload::{MAX_RULE_PAYLOAD_BYTES, TopicRulePayload};

/// The longest rule name (botocore `RuleName`: `^[a-zA-Z0-9_]+$`, 1–128).
pub const MAX_RULE_NAME_CHARS: usize = 128;
/// The most actions a rule may have (botocore `ActionList`).
pub const MAX_ACTIONS: usize = 10;
/// The longest `url` / `confirmationUrl` (botocore `Url`).
pub const MAX_URL_CHARS: usize = 2000;
/// The most headers of an HTTP action (botocore `HeaderList`).
pub const MAX_HTTP_HEADERS: usize = 100;
/// The longest HTTP header key (botocore `HeaderKey`).
pub const MAX_HTTP_HEADER_KEY_CHARS: usize = 256;
/// The longest value of a republish MQTT 5 header or user property (botocore `MqttHeaders`).
pub const MAX_MQTT_HEADER_CHARS: usize = 1024;
/// The most user properties of a republish action (botocore `UserProperties`).
pub const MAX_USER_PROPERTIES: usize = 100;
/// The most headers of a Kafka action (botocore `KafkaHeaders`).
pub const MAX_KAFKA_HEADERS: usize = 100;
/// The longest Kafka header key or value (botocore `KafkaHeaderKey` / `KafkaHeaderValue`).
pub const MAX_KAFKA_HEADER_CHARS: usize = 16384;
/// The most Kafka client properties (botocore sets no bound; thingd does).
pub const MAX_KAFKA_CLIENT_PROPERTIES: usize = 100;
/// The longest of the other string fields, which botocore leaves unbounded (ARNs, names,
/// metric fields): AWS's ARN limit.
pub const MAX_FIELD_CHARS: usize = 2048;
/// The longest republish topic once literal (MQTT topic limit, reference §1.5).
pub const MAX_TOPIC_BYTES: usize = 256;

/// The headers thingd's HTTP client sets itself, which an action may not override: they frame
/// the request, and a wrong value would corrupt it.
const RESERVED_HTTP_HEADERS: [&str; 6] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
];

/// CloudWatch's metric units (the `StandardUnit` enumeration).
const CLOUDWATCH_UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks everything CreateTopicRule and ReplaceTopicRule check before storing a rule.
///
/// Bad SQL is a [`RuleError::SqlParse`]; everything else a [`RuleError::InvalidRequest`]
/// naming the field (`actions[1].http.url: ...`).
pub fn validate(rule_name: &str, payload: &TopicRulePayload) -> Result<(), RuleError> {
    validate_rule_name(rule_name)?;
    let size = payload.to_json().len();
    if size > MAX_RULE_PAYLOAD_BYTES {
        return Err(RuleError::invalid(format!(
            "The topic rule is {size} bytes; the limit is {MAX_RULE_PAYLOAD_BYTES}"
        )));
    }
    let version = payload.sql_version()?;
    Statement::parse(&payload.sql, version)?;
    if payload.actions.len() > MAX_ACTIONS {
        return Err(RuleError::invalid(format!(
            "A rule may have at most {MAX_ACTIONS} actions; this one has {}",
            payload.actions.len()
        )));
    }
    for (index, action) in payload.actions.iter().enumerate() {
        validate_action(&format!("actions[{index}]"), action, version)?;
    }
    if let Some(action) = &payload.error_action {
        validate_action("errorAction", action, version)?;
    }
    Ok(())
}

/// Checks a rule name against botocore's `RuleName` (`^[a-zA-Z0-9_]+$`, 1–128 characters).
pub fn validate_rule_name(rule_name: &str) -> Result<(), RuleError> {
    let valid = !rule_name.is_empty()
        && rule_name.len() <= MAX_RULE_NAME_CHARS
        && rule_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(RuleError::invalid(format!(
            "1 validation error detected: Value '{}' at 'ruleName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$ and have length \
             between 1 and {MAX_RULE_NAME_CHARS}",
            truncate_for_message(rule_name)
        )))
    }
}

/// Checks a topic rule destination's `confirmationUrl`: an absolute `http` or `https` URL with
/// a host, at most 2000 characters, without templates or control characters.
pub fn validate_destination_url(url: &str) -> Result<(), RuleError> {
    let field = Field::root("confirmationUrl");
    field.required(url, MAX_URL_CHARS)?;
    field.literal(url)?;
    field.url(url)
}

/// Checks one action; `path` names it in messages (`actions[0]`, `errorAction`).
pub fn validate_action(path: &str, action: &Action, version: SqlVersion) -> Result<(), RuleError> {
    let at = Checker {
        path: format!("{path}.{}", action.type_name()),
        version,
    };
    match action {
        Action::Republish(body) => at.republish(body),
        Action::Http(body) => at.http(body),
        Action::DynamoDBv2(body) => at.dynamodb_v2(body),
        Action::Kinesis(body) => at.kinesis(body),
        Action::Firehose(body) => at.firehose(body),
        Action::Kafka(body) => at.kafka(body),
        Action::CloudwatchMetric(body) => at.cloudwatch_metric(body),
    }
}

/// The checks of one action, with its path for messages and the rule's SQL version.
struct Checker {
    path: String,
    version: SqlVersion,
}

impl Checker {
    fn field(&self, name: &str) -> Field {
        Field {
            path: format!("{}.{name}", self.path),
        }
    }

    /// A required field that may hold templates.
    fn required_template(
        &self,
        name: &str,
        value: &str,
        max_chars: usize,
    ) -> Result<(), RuleError> {
        let field = self.field(name);
        field.required(value, max_chars)?;
        field.template(value, self.version)
    }

    /// An optional field that may hold templates.
    fn optional_template(
        &self,
        name: &str,
        value: Option<&str>,
        max_chars: usize,
    ) -> Result<(), RuleError> {
        let Some(value) = value else {
            return Ok(());
        };
        let field = self.field(name);
        field.bounded(value, max_chars)?;
        field.template(value, self.version)
    }

    /// A required field that must be written out (no templates): `roleArn` and the like.
    fn required_literal(&self, name: &str, value: &str) -> Result<(), RuleError> {
        let field = self.field(name);
        field.required(value, MAX_FIELD_CHARS)?;
        field.literal(value)
    }

    fn republish(&self, action: &RepublishAction) -> Result<(), RuleError> {
        self.required_literal("roleArn", &action.role_arn)?;
        self.required_template("topic", &action.topic, MAX_FIELD_CHARS)?;
        let topic = self.field("topic");
        if !action.topic.contains("${") {
            // `$$` is the action's escape for a literal `$` (reference §5.6).
            let published = action.topic.replace("$$", "$");
            if published.contains(['+', '#']) {
                return Err(topic.error("may not contain the wildcards + or #"));
            }
            if published.len() > MAX_TOPIC_BYTES {
                return Err(topic.error(format!("exceeds {MAX_TOPIC_BYTES} bytes")));
            }
        }
        if let Some(qos) = action.qos
            && !(0..=1).contains(&qos)
        {
            return Err(self
                .field("qos")
                .error(format!("must be 0 or 1, not {qos}")));
        }
        if let Some(headers) = &action.headers {
            self.mqtt_headers(headers)?;
        }
        Ok(())
    }

    fn mqtt_headers(&self, headers: &MqttHeaders) -> Result<(), RuleError> {
        let max = MAX_MQTT_HEADER_CHARS;
        let format_indicator = headers.payload_format_indicator.as_deref();
        self.optional_template("headers.payloadFormatIndicator", format_indicator, max)?;
        if let Some(value) = format_indicator
            && !value.contains("${")
            && value != "UNSPECIFIED_BYTES"
            && value != "UTF-8_DATA"
        {
            return Err(self
                .field("headers.payloadFormatIndicator")
                .error("must be UNSPECIFIED_BYTES or UTF-8_DATA"));
        }
        self.optional_template("headers.contentType", headers.content_type.as_deref(), max)?;
        let response_topic = headers.response_topic.as_deref();
        self.optional_template("headers.responseTopic", response_topic, max)?;
        let correlation = headers.correlation_data.as_deref();
        self.optional_template("headers.correlationData", correlation, max)?;
        let expiry = headers.message_expiry.as_deref();
        self.optional_template("headers.messageExpiry", expiry, max)?;
        if let Some(value) = expiry
            && !value.contains("${")
            && value.parse::<u32>().is_err()
        {
            return Err(self
                .field("headers.messageExpiry")
                .error("must be a whole number of seconds (0 to 4294967295)"));
        }
        if let Some(properties) = &headers.user_properties {
            if properties.is_empty() || properties.len() > MAX_USER_PROPERTIES {
                return Err(self.field("headers.userProperties").error(format!(
                    "must have 1 to {MAX_USER_PROPERTIES} entries, not {}",
                    properties.len()
                )));
            }
            for (index, property) in properties.iter().enumerate() {
                let path = format!("headers.userProperties[{index}]");
                self.required_template(&format!("{path}.key"), &property.key, max)?;
                self.optional_template(&format!("{path}.value"), Some(&property.value), max)?;
            }
        }
        Ok(())
    }

    fn http(&self, action: &HttpAction) -> Result<(), RuleError> {
        let url = self.field("url");
        url.required(&action.url, MAX_URL_CHARS)?;
        url.url(&action.url)?;
        url.template(&action.url, self.version)?;
        match &action.confirmation_url {
            None if action.url.contains("${") => {
                return Err(url.error(
                    "uses a substitution template, so the action must also specify a \
                     confirmationUrl (a prefix of url without templates)",
                ));
            }
            None => {}
            Some(confirmation_url) => {
                let field = self.field("confirmationUrl");
                field.required(confirmation_url, MAX_URL_CHARS)?;
                field.url(confirmation_url)?;
                field.template(confirmation_url, self.version)?;
                // With a template the prefix can only be checked per message (AWS needs a
                // confirmed destination for each value it takes).
                if !confirmation_url.contains("${") && !action.url.starts_with(confirmation_url) {
                    return Err(field.error("must be a prefix of url"));
                }
            }
        }
        if let Some(headers) = &action.headers {
            if headers.len() > MAX_HTTP_HEADERS {
                return Err(self.field("headers").error(format!(
                    "may have at most {MAX_HTTP_HEADERS} entries, not {}",
                    headers.len()
                )));
            }
            for (index, header) in headers.iter().enumerate() {
                let key = self.field(&format!("headers[{index}].key"));
                key.required(&header.key, MAX_HTTP_HEADER_KEY_CHARS)?;
                key.literal(&header.key)?;
                if !header.key.bytes().all(is_http_token_byte) {
                    return Err(key.error("is not a valid HTTP header name"));
                }
                if RESERVED_HTTP_HEADERS
                    .iter()
                    .any(|reserved| header.key.eq_ignore_ascii_case(reserved))
                {
                    return Err(key.error(format!(
                        "'{}' is set by thingd's HTTP client and may not be given",
                        header.key
                    )));
                }
                let value = self.field(&format!("headers[{index}].value"));
                value.bounded(&header.value, MAX_FIELD_CHARS)?;
                value.no_control_chars(&header.value)?;
                value.template(&header.value, self.version)?;
            }
        }
        if let Some(sigv4) = action.auth.as_ref().and_then(|auth| auth.sigv4.as_ref()) {
            self.required_template(
                "auth.sigv4.signingRegion",
                &sigv4.signing_region,
                MAX_FIELD_CHARS,
            )?;
            self.required_template(
                "auth.sigv4.serviceName",
                &sigv4.service_name,
                MAX_FIELD_CHARS,
            )?;
            self.required_literal("auth.sigv4.roleArn", &sigv4.role_arn)?;
        }
        if let Some(batch) = &action.batch_config {
            let ranges = [
                (
                    "batchConfig.maxBatchOpenMs",
                    batch.max_batch_open_ms,
                    5,
                    200,
                ),
                ("batchConfig.maxBatchSize", batch.max_batch_size, 2, 10),
                (
                    "batchConfig.maxBatchSizeBytes",
                    batch.max_batch_size_bytes,
                    100,
                    131_072,
                ),
            ];
            for (name, value, min, max) in ranges {
                if let Some(value) = value
                    && !(min..=max).contains(&value)
                {
                    return Err(self
                        .field(name)
                        .error(format!("must be between {min} and {max}, not {value}")));
                }
            }
        }
        Ok(())
    }

    fn dynamodb_v2(&self, action: &DynamoDBv2Action) -> Result<(), RuleError> {
        self.required_literal("roleArn", &action.role_arn)?;
        self.required_template(
            "putItem.tableName",
            &action.put_item.table_name,
            MAX_FIELD_CHARS,
        )
    }

    fn kinesis(&self, action: &KinesisAction) -> Result<(), RuleError> {
        self.required_literal("roleArn", &action.role_arn)?;
        self.required_template("streamName", &action.stream_name, MAX_FIELD_CHARS)?;
        self.optional_template(
            "partitionKey",
            action.partition_key.as_deref(),
            MAX_FIELD_CHARS,
        )
    }

    fn firehose(&self, action: &FirehoseAction) -> Result<(), RuleError> {
        self.required_literal("roleArn", &action.role_arn)?;
        self.required_template(
            "deliveryStreamName",
            &action.delivery_stream_name,
            MAX_FIELD_CHARS,
        )?;
        if let Some(separator) = &action.separator
            && !matches!(separator.as_str(), "\n" | "\t" | "\r\n" | ",")
        {
            return Err(self
                .field("separator")
                .error("must be one of \"\\n\", \"\\t\", \"\\r\\n\" or \",\""));
        }
        Ok(())
    }

    fn kafka(&self, action: &KafkaAction) -> Result<(), RuleError> {
        self.required_literal("destinationArn", &action.destination_arn)?;
        self.required_template("topic", &action.topic, MAX_FIELD_CHARS)?;
        self.optional_template("key", action.key.as_deref(), MAX_FIELD_CHARS)?;
        self.optional_template("partition", action.partition.as_deref(), MAX_FIELD_CHARS)?;
        if action.client_properties.len() > MAX_KAFKA_CLIENT_PROPERTIES {
            return Err(self.field("clientProperties").error(format!(
                "may have at most {MAX_KAFKA_CLIENT_PROPERTIES} entries, not {}",
                action.client_properties.len()
            )));
        }
        for (key, value) in &action.client_properties {
            let field = self.field(&format!("clientProperties.{}", truncate_for_message(key)));
            field.required(key, MAX_FIELD_CHARS)?;
            field.literal(key)?;
            // Values may be templates: AWS's own examples use `${get_secret(...)}` for keystores.
            field.bounded(value, MAX_FIELD_CHARS)?;
            field.template(value, self.version)?;
        }
        if let Some(headers) = &action.headers {
            if headers.is_empty() || headers.len() > MAX_KAFKA_HEADERS {
                return Err(self.field("headers").error(format!(
                    "must have 1 to {MAX_KAFKA_HEADERS} entries, not {}",
                    headers.len()
                )));
            }
            for (index, header) in headers.iter().enumerate() {
                let path = format!("headers[{index}]");
                let (key, value) = (Some(header.key.as_str()), Some(header.value.as_str()));
                self.optional_template(&format!("{path}.key"), key, MAX_KAFKA_HEADER_CHARS)?;
                self.optional_template(&format!("{path}.value"), value, MAX_KAFKA_HEADER_CHARS)?;
            }
        }
        Ok(())
    }

    fn cloudwatch_metric(&self, action: &CloudwatchMetricAction) -> Result<(), RuleError> {
        self.required_literal("roleArn", &action.role_arn)?;
        self.required_template("metricNamespace", &action.metric_namespace, MAX_FIELD_CHARS)?;
        self.required_template("metricName", &action.metric_name, MAX_FIELD_CHARS)?;
        self.required_template("metricValue", &action.metric_value, MAX_FIELD_CHARS)?;
        self.required_template("metricUnit", &action.metric_unit, MAX_FIELD_CHARS)?;
        self.optional_template(
            "metricTimestamp",
            action.metric_timestamp.as_deref(),
            MAX_FIELD_CHARS,
        )?;
        if !action.metric_unit.contains("${")
            && !CLOUDWATCH_UNITS.contains(&action.metric_unit.as_str())
        {
            return Err(self.field("metricUnit").error(format!(
                "'{}' is not a CloudWatch unit (Seconds, Bytes, Percent, Count, None, ...)",
                truncate_for_message(&action.metric_unit)
            )));
        }
        if !action.metric_value.contains("${") && action.metric_value.parse::<f64>().is_err() {
            return Err(self
                .field("metricValue")
                .error("must be a number or a substitution template"));
        }
        Ok(())
    }
}

/// One named field, for checks and messages.
struct Field {
    path: String,
}

impl Field {
    fn root(name: &str) -> Field {
        Field {
            path: name.to_owned(),
        }
    }

    fn error(&self, what: impl std::fmt::Display) -> RuleError {
        RuleError::invalid(format!("{}: {what}", self.path))
    }

    fn required(&self, value: &str, max_chars: usize) -> Result<(), RuleError> {
        if value.is_empty() {
            return Err(self.error("is required and may not be empty"));
        }
        self.bounded(value, max_chars)
    }

    fn bounded(&self, value: &str, max_chars: usize) -> Result<(), RuleError> {
        // Bytes bound characters from above, so the count is needed only for long values.
        if value.len() > max_chars && value.chars().count() > max_chars {
            return Err(self.error(format!("exceeds {max_chars} characters")));
        }
        Ok(())
    }

    fn literal(&self, value: &str) -> Result<(), RuleError> {
        if value.contains("${") {
            return Err(self.error("does not accept substitution templates"));
        }
        Ok(())
    }

    fn template(&self, value: &str, version: SqlVersion) -> Result<(), RuleError> {
        if !value.contains("${") {
            return Ok(());
        }
        Template::parse(value, version)
            .map(drop)
            .map_err(|error| self.error(format!("invalid substitution template: {error}")))
    }

    fn no_control_chars(&self, value: &str) -> Result<(), RuleError> {
        if value.chars().any(char::is_control) {
            return Err(self.error("may not contain control characters"));
        }
        Ok(())
    }

    /// An absolute `http`/`https` URL with a literal, non-empty host. AWS accepts only
    /// `https` on ports 443 and 8443; a self-hosted thingd also reaches plain-HTTP services on
    /// its own network, and the destination confirmation is what guards the URL.
    fn url(&self, url: &str) -> Result<(), RuleError> {
        self.no_control_chars(url)?;
        let scheme_is = |scheme: &str| {
            url.get(..scheme.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
        };
        let rest = if scheme_is("https://") {
            &url["https://".len()..]
        } else if scheme_is("http://") {
            &url["http://".len()..]
        } else {
            return Err(self.error("must be an http:// or https:// URL"));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit('@').next().unwrap_or_default();
        if host.is_empty() || host.starts_with(':') {
            return Err(self.error("must name a host"));
        }
        if authority.contains("${") || authority.contains(char::is_whitespace) {
            return Err(self.error("must have a literal host (templates may follow it)"));
        }
        Ok(())
    }
}

/// RFC 9110 §5.6.2 `tchar`: the bytes a header name may have.
fn is_http_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}
