//! The values AWS IoT SQL computes with, and the standard conversions between them.
//!
//! AWS's types are `Int`, `Decimal`, `Boolean`, `String`, `Array`, `Object`, `Null` and
//! `Undefined` (reference §5.3). Precision, documented here once: `Int` is an `i64` (AWS allows
//! 34 digits; larger integers in a payload become `Decimal`s, and integer arithmetic that would
//! overflow continues in `Decimal`), and `Decimal` is an IEEE-754 double (AWS keeps 34 decimal
//! digits; several of its functions already work in double precision). Results of decimal
//! arithmetic are rounded to 15 significant digits so that `0.1 + 0.2` is `0.3`, as it is with
//! AWS's decimal arithmetic, rather than a binary-rounding artefact.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::SqlVersion;

/// An object's attributes, ordered by key (JSON objects are unordered; a stable order keeps
/// output deterministic).
pub type Object = BTreeMap<String, Value>;

/// One AWS IoT SQL value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// Not a value: a missing attribute or a function called with invalid arguments. Omitted
    /// when serialised inside an object or array, and the empty string when serialised alone.
    #[default]
    Undefined,
    /// JSON `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number with a fractional part (double precision, see the module documentation).
    Decimal(f64),
    /// A UTF-8 string.
    String(String),
    /// A JSON array.
    Array(Vec<Value>),
    /// A JSON object.
    Object(Object),
}

/// A number after conversion: what arithmetic and comparisons work on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Dec(f64),
}

impl Num {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Dec(d) => d,
        }
    }
}

impl Value {
    /// The AWS type name, as error messages and `Debug` output use it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Undefined => "Undefined",
            Value::Null => "Null",
            Value::Bool(_) => "Boolean",
            Value::Int(_) => "Int",
            Value::Decimal(_) => "Decimal",
            Value::String(_) => "String",
            Value::Array(_) => "Array",
            Value::Object(_) => "Object",
        }
    }

    /// Whether this is `Undefined`.
    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    /// A decimal result as the given SQL version represents it: 2016-03-23 (and beta) treat a
    /// whole-number decimal such as `10.0` as the `Int` `10`; 2015-10-08 keeps the `Decimal`.
    /// Infinities and NaN are not numbers AWS can represent, so they are `Undefined`.
    pub(crate) fn decimal(value: f64, version: SqlVersion) -> Value {
        if !value.is_finite() {
            return Value::Undefined;
        }
        if version != SqlVersion::V2015_10_08
            && let Some(int) = whole_to_i64(value)
        {
            return Value::Int(int);
        }
        Value::Decimal(value)
    }

    /// Applies [`Value::decimal`]'s version rule to every number inside this value.
    pub(crate) fn normalize(self, version: SqlVersion) -> Value {
        if version == SqlVersion::V2015_10_08 {
            return self;
        }
        match self {
            Value::Decimal(d) => Value::decimal(d, version),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| v.normalize(version)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, v.normalize(version)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// The standard conversion to a number ("To decimal" in AWS's table): numbers as they are,
    /// strings matching `^-?\d+(\.\d+)?((?i)E-?\d+)?$` parsed as a `Decimal`, anything else none.
    pub(crate) fn to_num(&self) -> Option<Num> {
        match self {
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Decimal(d) => Some(Num::Dec(*d)),
            Value::String(s) => parse_decimal_string(s).map(Num::Dec),
            _ => None,
        }
    }

    /// The standard conversion to `Int`: decimals rounded to the nearest whole number, numeric
    /// strings truncated, anything else none.
    pub(crate) fn to_int_standard(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Decimal(d) => f64_to_i64(d.round()),
            Value::String(s) => parse_decimal_string(s).and_then(|d| f64_to_i64(d.trunc())),
            _ => None,
        }
    }

    /// The conversion many functions document as "rounded down to the nearest Int": numbers and
    /// numeric strings truncated towards zero (Java's `intValue`).
    pub(crate) fn to_int_truncated(&self) -> Option<i64> {
        match self.to_num()? {
            Num::Int(i) => Some(i),
            Num::Dec(d) => f64_to_i64(d.trunc()),
        }
    }

    /// The standard conversion to `Boolean`: booleans, and the strings "true"/"false" in any
    /// case.
    pub(crate) fn to_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// The standard conversion to `String`: numbers in their JSON notation, booleans lowercase,
    /// arrays and objects as JSON text; `Null` and `Undefined` have none.
    pub fn to_sql_string(&self) -> Option<String> {
        match self {
            Value::Undefined | Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Decimal(d) => Some(format_decimal(*d)),
            Value::Array(_) | Value::Object(_) => self.to_json().map(|json| json.to_string()),
        }
    }

    /// The value as JSON; `None` for `Undefined`, which JSON cannot represent. `Undefined`
    /// members of arrays and objects are left out.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Undefined => return None,
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Decimal(d) => serde_json::Number::from_f64(*d).map(serde_json::Value::Number)?,
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().filter_map(Value::to_json).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect(),
            ),
        })
    }

    /// Converts JSON (from a payload, a shadow or a caller) into a value.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    n.as_f64().map_or(Value::Undefined, Value::Decimal)
                }
            }
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Parses a payload as JSON; `None` when it is not JSON (AWS then treats it as binary).
    pub(crate) fn parse_json(bytes: &[u8], version: SqlVersion) -> Option<Value> {
        let value: Value = serde_json::from_slice(bytes).ok()?;
        Some(value.normalize(version))
    }

    /// An attribute of an object; `Undefined` for anything else or a missing key.
    pub(crate) fn member(&self, name: &str) -> Value {
        match self {
            Value::Object(map) => map.get(name).cloned().unwrap_or_default(),
            _ => Value::Undefined,
        }
    }
}

/// Serialises like [`Value::to_json`]; `Undefined` alone becomes the empty string.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_json() {
            Some(json) => write!(f, "{json}"),
            None => Ok(()),
        }
    }
}

/// Equality as tests and callers expect it (numbers by value, `Int` 1 equal to `Decimal` 1.0);
/// the SQL `=` operator, which also has an `Undefined` outcome, is [`sql_equals`].
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Undefined, Value::Undefined) => true,
            _ => sql_equals(self, other) == Some(true),
        }
    }
}

/// AWS's `=`: `None` (Undefined) when either side is `Undefined`; numbers compare by value;
/// arrays element by element in order; objects by keys and values in any order; values of
/// different types are unequal.
pub(crate) fn sql_equals(left: &Value, right: &Value) -> Option<bool> {
    Some(match (left, right) {
        (Value::Undefined, _) | (_, Value::Undefined) => return None,
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            let (Some(a), Some(b)) = (left.to_num(), right.to_num()) else {
                return Some(false);
            };
            a.as_f64() == b.as_f64()
        }
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| sql_equals(x, y) == Some(true))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| sql_equals(v, w) == Some(true)))
        }
        _ => false,
    })
}

/// Whether `s` is a number by AWS's pattern `^-?\d+(\.\d+)?((?i)E-?\d+)?$`, and its value.
pub(crate) fn parse_decimal_string(s: &str) -> Option<f64> {
    let bytes = s.as_bytes();
    let mut i = 0;
    if bytes.first() == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|d| d.is_finite())
}

/// The `i64` a float holds exactly, if it is whole and in range.
pub(crate) fn whole_to_i64(value: f64) -> Option<i64> {
    if value.fract() == 0.0 && value.abs() < 9.007_199_254_740_992e15 {
        Some(value as i64)
    } else {
        None
    }
}

/// A whole float as `i64`, saturating is not wanted: out of range is none.
pub(crate) fn f64_to_i64(value: f64) -> Option<i64> {
    if value.is_finite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&value) {
        Some(value as i64)
    } else {
        None
    }
}

/// Rounds the result of decimal arithmetic to 15 significant digits, the precision a double
/// carries exactly, which removes binary-rounding noise such as `0.30000000000000004`.
pub(crate) fn round_significant(value: f64) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    format!("{value:.14e}").parse::<f64>().unwrap_or(value)
}

/// A decimal in the notation its JSON serialisation uses (`10.0`, `0.5`, `1e-7`).
pub(crate) fn format_decimal(value: f64) -> String {
    serde_json::Number::from_f64(value).map_or_else(|| value.to_string(), |n| n.to_string())
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Builds [`Value`]s straight from the JSON parser, so a payload is read in one pass.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Decimal(v as f64), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Decimal(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Object::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}
