//! The `Condition` element: IAM's condition operators, their `IfExists` forms and the set
//! qualifiers `ForAllValues:` / `ForAnyValue:`, over the keys AWS IoT defines.
//!
//! Semantics (IAM's): the keys of one operator and the operators of one block must all hold
//! (AND); the values of one key are alternatives (OR), and a negated operator holds when the
//! request value equals none of them. A missing key makes a condition false, except that
//! `...IfExists` then holds, a negated operator then holds, `ForAllValues:` then holds, and
//! `Null` tests for exactly that.

use std::net::IpAddr;

use crate::context::{Context, Key};
use crate::error::quoted;
use crate::glob::Glob;
use crate::ip::Cidr;
use crate::json::Json;
use crate::template::{Template, note_missing};

/// The base operator, without qualifier or `IfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    Bool,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    IpAddress,
    NotIpAddress,
    Null,
}

const OPERATORS: [(&str, Operator); 14] = [
    ("StringEquals", Operator::StringEquals),
    ("StringNotEquals", Operator::StringNotEquals),
    ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        Operator::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", Operator::StringLike),
    ("StringNotLike", Operator::StringNotLike),
    ("Bool", Operator::Bool),
    ("ArnEquals", Operator::ArnEquals),
    ("ArnLike", Operator::ArnLike),
    ("ArnNotEquals", Operator::ArnNotEquals),
    ("ArnNotLike", Operator::ArnNotLike),
    ("IpAddress", Operator::IpAddress),
    ("NotIpAddress", Operator::NotIpAddress),
    ("Null", Operator::Null),
];

impl Operator {
    /// Whether the operator holds when the request value matches none of the policy values.
    fn negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::ArnNotEquals
                | Operator::ArnNotLike
                | Operator::NotIpAddress
        )
    }
}

/// How a condition treats a multi-valued key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Qualifier {
    /// No set qualifier: some request value must match (for a negated operator: none may).
    Single,
    /// `ForAllValues:`: every request value must match (true when there are none).
    ForAll,
    /// `ForAnyValue:`: at least one request value must match (false when there are none).
    ForAny,
}

/// One policy value, parsed for its operator.
#[derive(Clone, Debug)]
enum Value {
    /// String and ARN operators: text with variables (and wildcards for the `Like` forms).
    Text(Template),
    /// `Bool`: the value compared with the key's `"true"`/`"false"`.
    Bool(bool),
    /// `IpAddress`/`NotIpAddress`.
    Range(Cidr),
    /// `Null`: true means "the key must be absent".
    Absent(bool),
}

/// One (operator, key, values) triple of a `Condition` block.
#[derive(Clone, Debug)]
pub(crate) struct Condition {
    operator: Operator,
    qualifier: Qualifier,
    if_exists: bool,
    key_name: String,
    key: Key,
    values: Vec<Value>,
}

impl Condition {
    /// Parses a statement's `Condition` object. Errors are the detail of a `PolicyError`.
    pub(crate) fn parse_block(json: &Json, variables: bool) -> Result<Vec<Condition>, String> {
        let Json::Object(operators) = json else {
            return Err(format!(
                "Condition must be an object, found {}",
                json.kind()
            ));
        };
        let mut conditions = Vec::new();
        for (index, (name, keys)) in operators.iter().enumerate() {
            if operators[..index].iter().any(|(other, _)| other == name) {
                return Err(format!("Condition has duplicate operator {}", quoted(name)));
            }
            let (operator, qualifier, if_exists) = parse_operator(name)?;
            let Json::Object(keys) = keys else {
                return Err(format!(
                    "Condition.{name} must be an object of condition keys, found {}",
                    keys.kind()
                ));
            };
            if keys.is_empty() {
                return Err(format!(
                    "Condition.{name} must name at least one condition key"
                ));
            }
            for (index, (key_name, values)) in keys.iter().enumerate() {
                if keys[..index]
                    .iter()
                    .any(|(other, _)| other.eq_ignore_ascii_case(key_name))
                {
                    return Err(format!(
                        "Condition.{name} has duplicate key {}",
                        quoted(key_name)
                    ));
                }
                if key_name.is_empty() {
                    return Err(format!("Condition.{name} has an empty condition key"));
                }
                let field = format!("Condition.{name}.{key_name}");
                let values = parse_values(&field, operator, values, variables)?;
                conditions.push(Condition {
                    operator,
                    qualifier,
                    if_exists,
                    key_name: key_name.clone(),
                    key: Key::parse(key_name),
                    values,
                });
            }
        }
        Ok(conditions)
    }

    /// Whether the condition holds for `context`. Keys and variables without a value are added
    /// to `missing` (except the key of a `Null` test, whose absence is what it asks about).
    pub(crate) fn holds(&self, context: &Context, missing: &mut Vec<String>) -> bool {
        let request = self.key.values(context);
        if self.operator == Operator::Null {
            let absent = request.is_none();
            return self
                .values
                .iter()
                .any(|v| matches!(v, Value::Absent(a) if *a == absent));
        }
        let Some(request) = request else {
            note_missing(missing, &self.key_name);
            return self.if_exists
                || match self.qualifier {
                    Qualifier::ForAll => true,
                    Qualifier::ForAny => false,
                    Qualifier::Single => self.operator.negated(),
                };
        };
        let policy = self.resolve(context, missing);
        let matches = |value: &str| policy.iter().any(|p| p.matches(self.operator, value));
        let negated = self.operator.negated();
        // For a negated operator a request value "passes" when it matches no policy value.
        let passes = |value: &std::borrow::Cow<'_, str>| matches(value) != negated;
        match self.qualifier {
            Qualifier::Single if negated => !request.iter().any(|v| matches(v)),
            Qualifier::Single | Qualifier::ForAny => request.iter().any(passes),
            Qualifier::ForAll => request.iter().all(passes),
        }
    }

    /// The policy values with variables substituted; a value whose variable has no value is
    /// left out (it can match nothing).
    fn resolve(&self, context: &Context, missing: &mut Vec<String>) -> Vec<Resolved> {
        self.values
            .iter()
            .filter_map(|value| match value {
                Value::Text(template) => match self.operator {
                    Operator::StringLike | Operator::StringNotLike => {
                        template.glob(context, missing).map(Resolved::Glob)
                    }
                    Operator::ArnEquals
                    | Operator::ArnLike
                    | Operator::ArnNotEquals
                    | Operator::ArnNotLike => {
                        // ARN operators take wildcards in each of the six components.
                        template
                            .glob(context, missing)
                            .map(|glob| Resolved::Arn(glob.split(':', 6)))
                    }
                    _ => template.literal(context, missing).map(Resolved::Text),
                },
                Value::Bool(b) => Some(Resolved::Bool(*b)),
                Value::Range(cidr) => Some(Resolved::Range(*cidr)),
                Value::Absent(_) => None,
            })
            .collect()
    }
}

/// A policy value ready to compare with request values.
enum Resolved {
    Text(String),
    Glob(Glob),
    /// The six components of an ARN pattern (fewer when the policy value is not an ARN).
    Arn(Vec<Glob>),
    Bool(bool),
    Range(Cidr),
}

impl Resolved {
    /// Whether `value` matches, in the operator's positive sense.
    fn matches(&self, operator: Operator, value: &str) -> bool {
        match self {
            Resolved::Text(text) => match operator {
                Operator::StringEqualsIgnoreCase | Operator::StringNotEqualsIgnoreCase => text
                    .chars()
                    .flat_map(char::to_lowercase)
                    .eq(value.chars().flat_map(char::to_lowercase)),
                _ => text == value,
            },
            Resolved::Glob(glob) => glob.matches(value),
            Resolved::Arn(parts) => {
                let values: Vec<&str> = value.splitn(6, ':').collect();
                parts.len() == 6
                    && values.len() == 6
                    && parts.iter().zip(&values).all(|(p, v)| p.matches(v))
            }
            Resolved::Bool(b) => value.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            Resolved::Range(cidr) => value.parse::<IpAddr>().is_ok_and(|ip| cidr.contains(ip)),
        }
    }
}

/// Splits `[ForAllValues:|ForAnyValue:]Operator[IfExists]`.
fn parse_operator(name: &str) -> Result<(Operator, Qualifier, bool), String> {
    let unknown = || format!("Condition operator {} is not supported", quoted(name));
    let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (Qualifier::ForAll, rest)
    } else if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (Qualifier::ForAny, rest)
    } else {
        (Qualifier::Single, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let operator = OPERATORS
        .iter()
        .find(|(n, _)| *n == base)
        .map(|(_, op)| *op)
        .ok_or_else(unknown)?;
    if operator == Operator::Null && (if_exists || qualifier != Qualifier::Single) {
        // IAM rejects these: Null already says what happens when the key is absent.
        return Err(unknown());
    }
    Ok((operator, qualifier, if_exists))
}

/// Parses the value(s) of one key for `operator`.
fn parse_values(
    field: &str,
    operator: Operator,
    json: &Json,
    variables: bool,
) -> Result<Vec<Value>, String> {
    let items: Vec<&Json> = match json {
        Json::Array(items) if items.is_empty() => {
            return Err(format!("{field} must have at least one value"));
        }
        Json::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| {
            let text = match item {
                Json::String(s) => s.clone(),
                Json::Bool(b) => b.to_string(),
                Json::Number(n) => n.clone(),
                other => {
                    return Err(format!(
                        "{field} values must be strings, booleans or numbers, found {}",
                        other.kind()
                    ));
                }
            };
            match operator {
                Operator::Bool | Operator::Null => {
                    let value = if text.eq_ignore_ascii_case("true") {
                        true
                    } else if text.eq_ignore_ascii_case("false") {
                        false
                    } else {
                        return Err(format!(
                            "{field} must be \"true\" or \"false\", found {}",
                            quoted(&text)
                        ));
                    };
                    Ok(if operator == Operator::Bool {
                        Value::Bool(value)
                    } else {
                        Value::Absent(value)
                    })
                }
                Operator::IpAddress | Operator::NotIpAddress => {
                    Cidr::parse(&text).map(Value::Range).ok_or_else(|| {
                        format!(
                            "{field} must be an IP address or CIDR range, found {}",
                            quoted(&text)
                        )
                    })
                }
                _ => Ok(Value::Text(Template::parse(&text, variables))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names() {
        assert_eq!(
            parse_operator("StringEquals").unwrap(),
            (Operator::StringEquals, Qualifier::Single, false)
        );
        assert_eq!(
            parse_operator("ForAnyValue:StringLikeIfExists").unwrap(),
            (Operator::StringLike, Qualifier::ForAny, true)
        );
        for bad in [
            "StringEqual",
            "NullIfExists",
            "ForAllValues:Null",
            "stringequals",
            "ForSomeValues:StringEquals",
            "IfExists",
        ] {
            assert!(parse_operator(bad).is_err(), "{bad}");
        }
    }
}
