//! botocore `TopicRulePayload`: the body of CreateTopicRule and ReplaceTopicRule (reference §5.1).

use serde::{Deserialize, Serialize};
use thingd_sql::{SqlVersion, Statement};

use crate::action::Action;
use crate::error::RuleError;

/// The most bytes a rule's payload JSON may have (AWS's rule size quota, 256 KB).
pub const MAX_RULE_PAYLOAD_BYTES: usize = 256 * 1024;

/// A rule as a client defines it. Field names are botocore's (camelCase on the wire).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRulePayload {
    /// The AWS IoT SQL statement.
    pub sql: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// 0–10 actions, all run for each message the statement selects.
    pub actions: Vec<Action>,
    /// Whether the rule starts disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_disabled: Option<bool>,
    /// `2015-10-08` (the default), `2016-03-23` or `beta`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_iot_sql_version: Option<String>,
    /// Run once per message when any action fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_action: Option<Action>,
}

impl TopicRulePayload {
    /// Reads a payload from a request body. Bad JSON, a wrong shape or an unsupported action
    /// type is an [`RuleError::InvalidRequest`] that says which; it does not check the SQL or
    /// the fields' values (see [`crate::validate`]).
    pub fn from_json(text: &str) -> Result<TopicRulePayload, RuleError> {
        if text.len() > MAX_RULE_PAYLOAD_BYTES {
            return Err(RuleError::invalid(format!(
                "The topic rule payload is {} bytes; the limit is {MAX_RULE_PAYLOAD_BYTES}",
                text.len()
            )));
        }
        // Two steps so that syntax errors carry a position and shape errors read cleanly.
        let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
            RuleError::invalid(format!("The topic rule payload is not valid JSON: {error}"))
        })?;
        if !value.is_object() {
            return Err(RuleError::invalid(
                "The topic rule payload must be a JSON object",
            ));
        }
        serde_json::from_value(value)
            .map_err(|error| RuleError::invalid(format!("Invalid topic rule payload: {error}")))
    }

    /// The payload as AWS's JSON (absent optional fields omitted).
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every map key is a string.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The payload as a JSON value.
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The requested SQL version: `2015-10-08` when absent, as the API does (reference §5.1).
    pub fn sql_version(&self) -> Result<SqlVersion, RuleError> {
        match self.aws_iot_sql_version.as_deref() {
            None => Ok(SqlVersion::V2015_10_08),
            Some(name) => SqlVersion::parse(name).ok_or_else(|| {
                RuleError::invalid(format!(
                    "awsIotSqlVersion '{}' is not valid; expected 2015-10-08, 2016-03-23 or beta",
                    crate::action::truncate_for_message(name)
                ))
            }),
        }
    }

    /// The version name as `GetTopicRule` reports it (the default made explicit).
    pub fn sql_version_name(&self) -> &str {
        self.aws_iot_sql_version
            .as_deref()
            .unwrap_or(SqlVersion::V2015_10_08.as_str())
    }

    /// Parses the SQL in the requested version.
    pub fn statement(&self) -> Result<Statement, RuleError> {
        Ok(Statement::parse(&self.sql, self.sql_version()?)?)
    }

    /// Whether the payload asks for the rule to be disabled.
    pub fn is_disabled(&self) -> bool {
        self.rule_disabled.unwrap_or(false)
    }
}
