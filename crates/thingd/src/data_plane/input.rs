//! Reading what a data plane request carries, strictly and within bounds: percent-encoded path
//! labels and query strings (a malformed escape or invalid UTF-8 is an error, never passed on
//! half-decoded), the query members of the iot-data operations, and the MQTT 5 headers of
//! Publish (botocore's `iot-data` model: `x-amz-mqtt5-user-properties` is base64 of a JSON
//! array of `{"name": "value"}` objects, `x-amz-mqtt5-correlation-data` is base64).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::error::DataPlaneError;

/// The most query parameters a request may carry (the iot-data operations define at most five).
pub(crate) const MAX_QUERY_PARAMETERS: usize = 16;

/// The most user properties a Publish may carry.
pub(crate) const MAX_USER_PROPERTIES: usize = 64;

/// Percent-decodes a path label or query component: every `%` must start two hexadecimal
/// digits, and the result must be UTF-8. `plus_is_space` decodes `+` as a space, as query strings
/// are (application/x-www-form-urlencoded); in a path, `+` is itself.
pub(crate) fn percent_decode(
    text: &str,
    plus_is_space: bool,
    what: &str,
) -> Result<String, DataPlaneError> {
    if !text
        .bytes()
        .any(|b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return Ok(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'%' => {
                let digits = bytes.get(at + 1..at + 3).and_then(|pair| {
                    let high = (pair[0] as char).to_digit(16)?;
                    let low = (pair[1] as char).to_digit(16)?;
                    u8::try_from(high * 16 + low).ok()
                });
                match digits {
                    Some(byte) => decoded.push(byte),
                    None => {
                        return Err(DataPlaneError::invalid_request(format!(
                            "The {what} has a malformed percent-encoding at byte {at}"
                        )));
                    }
                }
                at += 3;
            }
            b'+' if plus_is_space => {
                decoded.push(b' ');
                at += 1;
            }
            byte => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8(decoded).map_err(|_| {
        DataPlaneError::invalid_request(format!("The {what} is not valid UTF-8 once decoded"))
    })
}

/// A query string, decoded: names and values in order. A name given twice is an error, as
/// every iot-data query member is a single value.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses the raw query of a request (without `?`).
    pub(crate) fn parse(raw: Option<&str>) -> Result<Query, DataPlaneError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in raw.unwrap_or_default().split('&') {
            if part.is_empty() {
                continue;
            }
            if pairs.len() == MAX_QUERY_PARAMETERS {
                return Err(DataPlaneError::invalid_request(format!(
                    "The query string has more than {MAX_QUERY_PARAMETERS} parameters"
                )));
            }
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = percent_decode(name, true, "query string")?;
            let value = percent_decode(value, true, "query string")?;
            if pairs.iter().any(|(known, _)| *known == name) {
                return Err(DataPlaneError::invalid_request(format!(
                    "The query parameter {name} is given more than once"
                )));
            }
            pairs.push((name, value));
        }
        Ok(Query { pairs })
    }

    /// The value of `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, value)| value.as_str())
    }

    /// An integer within `min..=max`, if given; otherwise AWS's validation error.
    pub(crate) fn integer(
        &self,
        name: &str,
        min: i64,
        max: i64,
    ) -> Result<Option<i64>, DataPlaneError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        match text.parse::<i64>() {
            Ok(value) if (min..=max).contains(&value) => Ok(Some(value)),
            _ => Err(DataPlaneError::invalid_request(format!(
                "1 validation error detected: Value '{text}' at '{name}' failed to satisfy \
                 constraint: Member must be an integer between {min} and {max}"
            ))),
        }
    }

    /// A boolean (`true` or `false`, as AWS's clients send them), if given.
    pub(crate) fn boolean(&self, name: &str) -> Result<Option<bool>, DataPlaneError> {
        match self.get(name) {
            None => Ok(None),
            Some(text) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(text) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(text) => Err(DataPlaneError::invalid_request(format!(
                "1 validation error detected: Value '{text}' at '{name}' failed to satisfy \
                 constraint: Member must be true or false"
            ))),
        }
    }
}

/// Decodes standard base64 (padding optional, surrounding whitespace ignored).
pub(crate) fn base64_decode(text: &str, what: &str) -> Result<Vec<u8>, DataPlaneError> {
    let text = text.trim();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine
        .decode(text)
        .map_err(|_| DataPlaneError::invalid_request(format!("The {what} is not valid base64")))
}

/// Encodes standard base64 with padding.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// The user properties of `x-amz-mqtt5-user-properties`: base64 of a JSON array of objects whose
/// members are the properties' names and string values, e.g. `[{"deviceName":"alpha"}]`, in
/// order. botocore JSON-encodes the value it is given (the model marks it `jsonvalue`), so a
/// caller that passes the array as a JSON string sends a JSON string holding the array; both
/// forms are accepted.
pub(crate) fn user_properties(header: &str) -> Result<Vec<(String, String)>, DataPlaneError> {
    const WHAT: &str = "x-amz-mqtt5-user-properties header";
    let invalid = || {
        DataPlaneError::invalid_request(format!(
            "The {WHAT} must be base64 of a JSON array of objects with string values, \
             e.g. [{{\"name\":\"value\"}}]"
        ))
    };
    let decoded = base64_decode(header, WHAT)?;
    let mut value: Value = serde_json::from_slice(&decoded).map_err(|_| invalid())?;
    if let Value::String(inner) = &value {
        value = serde_json::from_str(inner).map_err(|_| invalid())?;
    }
    let Value::Array(items) = value else {
        return Err(invalid());
    };
    let mut properties = Vec::new();
    for item in items {
        let Value::Object(members) = item else {
            return Err(invalid());
        };
        for (name, value) in members {
            let Value::String(value) = value else {
                return Err(invalid());
            };
            properties.push((name, value));
        }
        if properties.len() > MAX_USER_PROPERTIES {
            return Err(DataPlaneError::invalid_request(format!(
                "The {WHAT} holds more than {MAX_USER_PROPERTIES} properties"
            )));
        }
    }
    Ok(properties)
}

/// The JSON array of user properties as `GetRetainedMessage` returns them (before base64): one
/// object per property, in order.
pub(crate) fn user_properties_json<'a>(
    properties: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<u8> {
    let items: Vec<Value> = properties
        .map(|(name, value)| {
            let mut object = serde_json::Map::new();
            object.insert(name.to_owned(), Value::from(value));
            Value::Object(object)
        })
        .collect();
    Value::Array(items).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_is_strict() {
        assert_eq!(percent_decode("a%2Fb", false, "x").unwrap(), "a/b");
        assert_eq!(percent_decode("a+b", false, "x").unwrap(), "a+b");
        assert_eq!(percent_decode("a+b", true, "x").unwrap(), "a b");
        assert_eq!(percent_decode("%e2%82%AC", false, "x").unwrap(), "€");
        for bad in ["%", "%2", "%zz", "a%g0", "%ff"] {
            let error = percent_decode(bad, false, "topic").unwrap_err();
            assert_eq!(error.code(), "InvalidRequestException", "{bad}");
        }
    }

    #[test]
    fn queries_are_decoded_and_repeated_names_refused() {
        let query = Query::parse(Some("qos=1&retain=true&contentType=text%2Fplain&empty")).unwrap();
        assert_eq!(query.get("contentType"), Some("text/plain"));
        assert_eq!(query.get("empty"), Some(""));
        assert_eq!(query.integer("qos", 0, 1).unwrap(), Some(1));
        assert_eq!(query.boolean("retain").unwrap(), Some(true));
        assert!(Query::parse(Some("qos=1&qos=0")).is_err());
        assert!(Query::parse(Some("a=%zz")).is_err());
        let many = (0..=MAX_QUERY_PARAMETERS)
            .map(|i| format!("p{i}=1"))
            .collect::<Vec<_>>();
        assert!(Query::parse(Some(&many.join("&"))).is_err());
        let query = Query::parse(Some("qos=2&retain=yes")).unwrap();
        assert!(query.integer("qos", 0, 1).is_err());
        assert!(query.boolean("retain").is_err());
    }

    #[test]
    fn user_properties_accept_the_array_or_a_json_string_holding_it() {
        let array = base64_encode(br#"[{"a":"1"},{"b":"2","c":"3"}]"#);
        assert_eq!(
            user_properties(&array).unwrap(),
            [("a", "1"), ("b", "2"), ("c", "3")].map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        let wrapped = base64_encode(br#""[{\"a\":\"1\"}]""#);
        assert_eq!(
            user_properties(&wrapped).unwrap(),
            [("a".to_owned(), "1".to_owned())]
        );
        for bad in [
            "not base64!".to_owned(),
            base64_encode(b"{}"),
            base64_encode(br#"[{"a":1}]"#),
            base64_encode(br#"["a"]"#),
        ] {
            assert!(user_properties(&bad).is_err(), "{bad}");
        }
    }
}
