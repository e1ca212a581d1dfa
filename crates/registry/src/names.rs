//! The names and values AWS IoT accepts (lengths and character sets from its service model), and
//! the validation error it answers with.

use std::fmt;

/// A value that breaks one of AWS IoT's constraints. Its message has the service's wording:
/// "1 validation error detected: Value 'x y' at 'thingName' failed to satisfy constraint: ...".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
)]
pub struct InvalidValue {
    /// The member name, as the API calls it (`thingName`, `attributePayload.attributes`, ...).
    pub field: String,
    /// The value, shortened if long.
    pub value: String,
    /// What the value must satisfy.
    pub constraint: String,
}

/// One constraint of the service model: a length range and a character set.
#[derive(Clone, Copy)]
pub struct Constraint {
    /// The member name for messages.
    pub field: &'static str,
    /// Minimum length in characters.
    pub min: usize,
    /// Maximum length in characters.
    pub max: usize,
    /// Which characters are allowed.
    pub allowed: fn(char) -> bool,
    /// The pattern as the service model states it, for messages.
    pub pattern: &'static str,
}

impl fmt::Debug for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Constraint")
            .field("field", &self.field)
            .field("pattern", &self.pattern)
            .finish()
    }
}

impl Constraint {
    /// Checks `value`.
    pub fn check(&self, value: &str) -> Result<(), InvalidValue> {
        self.check_as(self.field, value)
    }

    /// Checks `value`, naming it `field` in the error (for members of maps and lists).
    pub fn check_as(&self, field: &str, value: &str) -> Result<(), InvalidValue> {
        let len = value.chars().count();
        let shown = || {
            let mut shown: String = value.chars().take(64).collect();
            if len > 64 {
                shown.push_str("...");
            }
            shown
        };
        if len < self.min {
            return Err(InvalidValue {
                field: field.to_owned(),
                value: shown(),
                constraint: format!(
                    "Member must have length greater than or equal to {}",
                    self.min
                ),
            });
        }
        if len > self.max {
            return Err(InvalidValue {
                field: field.to_owned(),
                value: shown(),
                constraint: format!("Member must have length less than or equal to {}", self.max),
            });
        }
        if !value.chars().all(self.allowed) {
            return Err(InvalidValue {
                field: field.to_owned(),
                value: shown(),
                constraint: format!(
                    "Member must satisfy regular expression pattern: {}",
                    self.pattern
                ),
            });
        }
        Ok(())
    }
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')
}

fn attribute_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ',' | '@' | '/' | ':' | '#' | '-')
}

fn attribute_value_char(c: char) -> bool {
    attribute_name_char(c) || matches!(c, '=' | '[' | ']')
}

fn tag_key_char(c: char) -> bool {
    c.is_alphanumeric()
        || c.is_whitespace()
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

fn description_char(c: char) -> bool {
    // `[\p{Graph}\x20]*`: visible characters and the space.
    c == ' ' || !(c.is_control() || c.is_whitespace())
}

fn hex_char(c: char) -> bool {
    c.is_ascii_hexdigit()
}

fn any_char(_: char) -> bool {
    true
}

/// `thingName`: 1-128 of `[a-zA-Z0-9:_-]`.
pub const THING_NAME: Constraint = Constraint {
    field: "thingName",
    min: 1,
    max: 128,
    allowed: name_char,
    pattern: "[a-zA-Z0-9:_-]+",
};
/// `thingTypeName`: 1-128 of `[a-zA-Z0-9:_-]`.
pub const THING_TYPE_NAME: Constraint = Constraint {
    field: "thingTypeName",
    min: 1,
    max: 128,
    allowed: name_char,
    pattern: "[a-zA-Z0-9:_-]+",
};
/// `thingGroupName`: 1-128 of `[a-zA-Z0-9:_-]`.
pub const THING_GROUP_NAME: Constraint = Constraint {
    field: "thingGroupName",
    min: 1,
    max: 128,
    allowed: name_char,
    pattern: "[a-zA-Z0-9:_-]+",
};
/// An attribute name: up to 128 of `[a-zA-Z0-9_.,@/:#-]`.
pub const ATTRIBUTE_NAME: Constraint = Constraint {
    field: "attributeName",
    min: 1,
    max: 128,
    allowed: attribute_name_char,
    pattern: "[a-zA-Z0-9_.,@/:#-]+",
};
/// An attribute value: up to 800 of `[a-zA-Z0-9_.,@/:#=\[\]-]`.
pub const ATTRIBUTE_VALUE: Constraint = Constraint {
    field: "attributeValue",
    min: 0,
    max: 800,
    allowed: attribute_value_char,
    pattern: "[a-zA-Z0-9_.,@/:#=\\[\\]-]*",
};
/// A tag key: 1-128 letters, digits, spaces and `_.:/=+-@`.
pub const TAG_KEY: Constraint = Constraint {
    field: "tags.member.key",
    min: 1,
    max: 128,
    allowed: tag_key_char,
    pattern: "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
};
/// A tag value: up to 256 characters.
pub const TAG_VALUE: Constraint = Constraint {
    field: "tags.member.value",
    min: 0,
    max: 256,
    allowed: any_char,
    pattern: ".*",
};
/// A description of a thing type or group: up to 2,028 visible characters and spaces.
pub const DESCRIPTION: Constraint = Constraint {
    field: "description",
    min: 0,
    max: 2028,
    allowed: description_char,
    pattern: "[\\p{Graph}\\x20]*",
};
/// A certificate id: 64 hexadecimal characters (the SHA-256 of the DER).
pub const CERTIFICATE_ID: Constraint = Constraint {
    field: "certificateId",
    min: 64,
    max: 64,
    allowed: hex_char,
    pattern: "(0x)?[a-fA-F0-9]+",
};

/// Attributes a thing may have without a thing type (AWS IoT: 3).
pub const MAX_ATTRIBUTES_WITHOUT_TYPE: usize = 3;
/// Attributes a thing may have with a thing type (AWS IoT: 50).
pub const MAX_ATTRIBUTES_WITH_TYPE: usize = 50;
/// Attributes of a thing group (AWS IoT: 50).
pub const MAX_GROUP_ATTRIBUTES: usize = 50;
/// Searchable attributes of a thing type (AWS IoT: 3).
pub const MAX_SEARCHABLE_ATTRIBUTES: usize = 3;
/// Tags on one resource (AWS: 50).
pub const MAX_TAGS: usize = 50;
/// Depth of a thing-group hierarchy (AWS IoT: 7).
pub const MAX_GROUP_DEPTH: usize = 7;
/// Groups one thing may belong to (AWS IoT: 10).
pub const MAX_GROUPS_PER_THING: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_service_model() {
        assert!(THING_NAME.check("iotbutton_G030JF055364XVRB").is_ok());
        assert!(THING_NAME.check("a:b-c_d").is_ok());
        let error = THING_NAME.check("x y").unwrap_err();
        assert_eq!(
            error.to_string(),
            "1 validation error detected: Value 'x y' at 'thingName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+"
        );
        assert!(
            THING_NAME
                .check("")
                .unwrap_err()
                .constraint
                .contains("greater than or equal to 1")
        );
        assert!(THING_NAME.check(&"a".repeat(128)).is_ok());
        assert!(
            THING_NAME
                .check(&"a".repeat(129))
                .unwrap_err()
                .constraint
                .contains("less than or equal to 128")
        );
    }

    #[test]
    fn attribute_values_allow_brackets_and_equals_but_names_do_not() {
        assert!(ATTRIBUTE_VALUE.check("a=[1]").is_ok());
        assert!(ATTRIBUTE_VALUE.check("").is_ok());
        assert!(ATTRIBUTE_NAME.check("a=b").is_err());
        assert!(ATTRIBUTE_NAME.check("serial.number@v1/x#y").is_ok());
    }

    #[test]
    fn certificate_ids_are_64_hex_digits() {
        assert!(CERTIFICATE_ID.check(&"ab".repeat(32)).is_ok());
        assert!(CERTIFICATE_ID.check(&"ab".repeat(31)).is_err());
        assert!(CERTIFICATE_ID.check(&"zz".repeat(32)).is_err());
    }
}
