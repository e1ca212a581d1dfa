//! AWS IoT SQL for thingd's rules engine: lexer, parser and evaluator, pure and without IO.
//!
//! A rule's SQL is parsed once into a [`Statement`] (checked against its [`SqlVersion`]) and
//! evaluated for every matching message ([`Statement::evaluate`]): SET variables first, then
//! WHERE, then SELECT, giving an [`Output`] (JSON, or the raw bytes of a non-JSON payload for
//! `SELECT *`) plus the [`Variables`] that action templates ([`Template`]) may use.
//!
//! Semantics follow the AWS IoT Developer Guide (`iot-sql-*` pages; thingd's reference §5.2–5.5):
//! the eight types including `Undefined`, the standard conversions, each operator's table, and
//! each function that needs no other AWS service. Functions that do (`aws_lambda`,
//! `get_dynamodb`, ...) are rejected at parse time; `get_thing_shadow` asks the caller's
//! [`Environment`]. Numeric precision is documented in [`Value`].
//!
//! Known differences from AWS:
//! - `Decimal` is a double rather than 34 digits, and `Int` an `i64` (see [`Value`]);
//! - objects in output are ordered by key (serde_json's map), not by insertion;
//! - region time zones (`America/Belize`) are not available to `parse_time` and
//!   `time_to_epoch`: that needs the IANA database, which this crate does not carry (fixed
//!   offsets and UTC are supported);
//! - regular expressions use the `regex` crate's syntax, which lacks Java's backreferences and
//!   lookaround (such a pattern is invalid, so the function is `Undefined`);
//! - unaliased SELECT items other than attributes, variables and function calls are named `_1`,
//!   `_2`, ... by position.
//!
//! Leniencies, accepted because AWS's own examples use them: an unquoted FROM topic filter
//! (`FROM topic/#`), and double-quoted strings.

mod ast;
mod error;
mod eval;
mod functions;
mod lexer;
mod parser;
mod template;
mod time_format;
mod value;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use bytes::Bytes;

pub use crate::error::{EvalError, SqlError};
pub use crate::template::Template;
pub use crate::value::{Object, Value};

use crate::ast::{Expr, Query, SelectItem};
use crate::eval::Ctx;

/// The `awsIotSqlVersion` of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SqlVersion {
    /// `2015-10-08`, the API's default: no literals, nested queries or 2016 functions; whole
    /// decimals stay decimals.
    #[default]
    V2015_10_08,
    /// `2016-03-23`, the console's default.
    V2016_03_23,
    /// `beta`: the latest behaviour, which thingd treats as 2016-03-23.
    Beta,
}

impl SqlVersion {
    /// The version's name as AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SqlVersion::V2015_10_08 => "2015-10-08",
            SqlVersion::V2016_03_23 => "2016-03-23",
            SqlVersion::Beta => "beta",
        }
    }

    /// Parses a version name; `None` for anything AWS does not accept.
    pub fn parse(name: &str) -> Option<SqlVersion> {
        match name {
            "2015-10-08" => Some(SqlVersion::V2015_10_08),
            "2016-03-23" => Some(SqlVersion::V2016_03_23),
            "beta" => Some(SqlVersion::Beta),
            _ => None,
        }
    }
}

impl fmt::Display for SqlVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a version name AWS does not accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown SQL version '{0}': expected 2015-10-08, 2016-03-23 or beta")]
pub struct UnknownSqlVersion(pub String);

impl FromStr for SqlVersion {
    type Err = UnknownSqlVersion;

    fn from_str(s: &str) -> Result<SqlVersion, UnknownSqlVersion> {
        SqlVersion::parse(s).ok_or_else(|| UnknownSqlVersion(s.to_owned()))
    }
}

/// The MQTT 5 properties of a message that `get_mqtt_property` and `get_user_properties` read.
#[derive(Clone, Copy, Debug, Default)]
pub struct MqttProperties<'a> {
    /// Payload format indicator: 0 unspecified bytes, 1 UTF-8.
    pub format_indicator: Option<u8>,
    /// Content type.
    pub content_type: Option<&'a str>,
    /// Response topic.
    pub response_topic: Option<&'a str>,
    /// Correlation data (returned base64-encoded, as AWS does).
    pub correlation_data: Option<&'a [u8]>,
    /// User properties in the order they were sent.
    pub user_properties: &'a [(String, String)],
}

/// One message as the rules engine sees it.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The topic it was published to (for Basic Ingest, the full `$aws/rules/...` topic).
    pub topic: &'a str,
    /// The payload bytes.
    pub payload: &'a [u8],
    /// The publisher's client id; `clientid()` is `n/a` without one.
    pub client_id: Option<&'a str>,
    /// The publisher's principal (certificate id for mutual TLS).
    pub principal: Option<&'a str>,
    /// The publisher's address.
    pub source_ip: Option<IpAddr>,
    /// The rules engine's time for this message, epoch milliseconds (`timestamp()`).
    pub timestamp_ms: i64,
    /// The message's trace id (MQTT only).
    pub trace_id: Option<&'a str>,
    /// MQTT 5 properties.
    pub mqtt: MqttProperties<'a>,
    /// The rule name when the message arrived through Basic Ingest (`$aws/rules/{name}/...`):
    /// `topic()` then hides that prefix.
    pub basic_ingest_rule: Option<&'a str>,
}

impl<'a> Input<'a> {
    /// A message with only a topic, a payload and a time; every other field empty.
    pub fn new(topic: &'a str, payload: &'a [u8], timestamp_ms: i64) -> Input<'a> {
        Input {
            topic,
            payload,
            client_id: None,
            principal: None,
            source_ip: None,
            timestamp_ms,
            trace_id: None,
            mqtt: MqttProperties::default(),
            basic_ingest_rule: None,
        }
    }

    /// The topic as `topic()` reports it: without the Basic Ingest prefix.
    pub(crate) fn rule_topic(&self) -> &'a str {
        let Some(rule) = self.basic_ingest_rule else {
            return self.topic;
        };
        self.topic
            .strip_prefix("$aws/rules/")
            .and_then(|rest| rest.strip_prefix(rule))
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(self.topic)
    }
}

/// What the caller provides beyond the message.
pub trait Environment {
    /// The account that owns the rule (`accountid()`).
    fn account_id(&self) -> &str;

    /// A thing's classic (`shadow` `None`) or named shadow document, for `get_thing_shadow`;
    /// `None` when it does not exist. The default has no shadows.
    fn thing_shadow(&self, thing: &str, shadow: Option<&str>) -> Option<serde_json::Value> {
        let _ = (thing, shadow);
        None
    }
}

/// The values of a statement's SET variables for one message, in assignment order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Variables {
    entries: Vec<(String, Value)>,
}

impl Variables {
    /// No variables (for templates of rules without SET).
    pub fn new() -> Variables {
        Variables::default()
    }

    /// A variable's value by name (without the `@`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Sets a variable, replacing an earlier value of the same name.
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// The variables in assignment order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// How many variables there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What a rule produces for one message.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// JSON: an object, or with `SELECT VALUE` any value.
    Json(serde_json::Value),
    /// Raw bytes: `SELECT *` of a non-JSON payload, or the empty payload of an `Undefined`
    /// `SELECT VALUE`.
    Bytes(Bytes),
}

/// The result of a rule for one message: its payload and the SET variables' values.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// The SELECT result.
    pub payload: Payload,
    /// The SET variables, for the actions' substitution templates.
    pub variables: Variables,
}

impl Output {
    /// The bytes the actions send.
    pub fn to_payload(&self) -> Vec<u8> {
        match &self.payload {
            Payload::Json(json) => json.to_string().into_bytes(),
            Payload::Bytes(bytes) => bytes.to_vec(),
        }
    }

    /// The JSON result, if the result is JSON.
    pub fn json(&self) -> Option<&serde_json::Value> {
        match &self.payload {
            Payload::Json(json) => Some(json),
            Payload::Bytes(_) => None,
        }
    }

    /// The SET variables' values.
    pub fn variables(&self) -> &Variables {
        &self.variables
    }
}

/// A parsed rule statement: cheap to evaluate many times, and shareable across threads.
#[derive(Debug)]
pub struct Statement {
    version: SqlVersion,
    sets: Vec<(String, Expr)>,
    query: Query,
    topic: Option<String>,
}

impl Statement {
    /// Parses a rule's SQL as `version` accepts it.
    pub fn parse(sql: &str, version: SqlVersion) -> Result<Statement, SqlError> {
        let tokens = lexer::tokenize(sql, 1, 1)?;
        let parsed = parser::Parser::new(tokens, version, true).statement()?;
        Ok(Statement {
            version,
            sets: parsed.sets,
            query: parsed.query,
            topic: parsed.topic,
        })
    }

    /// The FROM topic filter; `None` when absent (the rule then serves Basic Ingest only).
    pub fn topic_filter(&self) -> Option<&str> {
        self.topic.as_deref()
    }

    /// The SQL version the statement was parsed with.
    pub fn version(&self) -> SqlVersion {
        self.version
    }

    /// The names of the SET variables, in assignment order.
    pub fn variable_names(&self) -> impl Iterator<Item = &str> {
        self.sets.iter().map(|(name, _)| name.as_str())
    }

    /// Runs SET, then WHERE, then SELECT on one message; `Ok(None)` when WHERE is not true.
    pub fn evaluate(
        &self,
        message: &Input<'_>,
        env: &dyn Environment,
    ) -> Result<Option<Output>, EvalError> {
        let payload = Value::parse_json(message.payload, self.version);
        let variables = self.variables_for(message, env, payload.as_ref())?;
        let ctx = Ctx {
            input: message,
            env,
            version: self.version,
            payload: payload.as_ref(),
            variables: &variables,
        };
        if let Some(filter) = &self.query.filter
            && ctx.eval(filter, payload.as_ref())?.to_bool() != Some(true)
        {
            return Ok(None);
        }
        let output = match (&payload, self.query.items.as_slice(), self.query.value) {
            // `SELECT *` passes a non-JSON payload through untouched.
            (None, [SelectItem::Star], false)
            | (
                None,
                [
                    SelectItem::Expr {
                        expr: Expr::Star, ..
                    },
                ],
                true,
            ) => Payload::Bytes(Bytes::copy_from_slice(message.payload)),
            // `SELECT *` of JSON that is not an object (a number, an array) is that JSON.
            (Some(json), [SelectItem::Star], false) => match json.to_json() {
                Some(json) => Payload::Json(json),
                None => Payload::Bytes(Bytes::new()),
            },
            _ => match ctx.select(&self.query, payload.as_ref())?.to_json() {
                Some(json) => Payload::Json(json),
                None => Payload::Bytes(Bytes::new()),
            },
        };
        Ok(Some(Output {
            payload: output,
            variables,
        }))
    }

    /// The SET variables' values for one message, without running WHERE or SELECT (for an
    /// error action's templates, for instance).
    pub fn variables(
        &self,
        message: &Input<'_>,
        env: &dyn Environment,
    ) -> Result<Variables, EvalError> {
        let payload = Value::parse_json(message.payload, self.version);
        self.variables_for(message, env, payload.as_ref())
    }

    fn variables_for(
        &self,
        message: &Input<'_>,
        env: &dyn Environment,
        payload: Option<&Value>,
    ) -> Result<Variables, EvalError> {
        let mut variables = Variables::new();
        for (name, expr) in &self.sets {
            let ctx = Ctx {
                input: message,
                env,
                version: self.version,
                payload,
                variables: &variables,
            };
            let value = ctx.eval(expr, payload)?;
            variables.insert(name.clone(), value);
        }
        Ok(variables)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn statements_and_templates_are_shareable() {
        assert_send_sync::<Statement>();
        assert_send_sync::<Template>();
    }
}
