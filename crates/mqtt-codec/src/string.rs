//! `MqttString`: a UTF-8 Encoded String as MQTT defines it (§1.5.4), validated once and shared without copying.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

use crate::error::DecodeError;

/// A UTF-8 string that is valid for MQTT: well-formed UTF-8 with no U+0000, at most 65,535 bytes.
///
/// It keeps the decoded frame's bytes (a [`Bytes`] slice), so decoding a topic, a client id or a
/// user property costs no allocation. Build one from a `&str` with [`MqttString::new`] or
/// `TryFrom`; from network bytes with [`MqttString::from_bytes`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MqttString(ByteString);

impl MqttString {
    /// The largest string a two-byte length prefix can describe.
    pub const MAX_LEN: usize = u16::MAX as usize;

    /// Validates `bytes` as a UTF-8 Encoded String.
    ///
    /// Ill-formed UTF-8 (including encoded surrogates) is malformed [MQTT-1.5.4-1], and so is the
    /// null character U+0000 [MQTT-1.5.4-2].
    pub fn from_bytes(bytes: Bytes) -> Result<Self, DecodeError> {
        if bytes.len() > Self::MAX_LEN {
            return Err(DecodeError::StringTooLong(bytes.len()));
        }
        let text = ByteString::try_from(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        if text.as_bytes().contains(&0) {
            return Err(DecodeError::NullCharacter);
        }
        Ok(MqttString(text))
    }

    /// Copies `text` into a new string, checking the same rules as [`MqttString::from_bytes`].
    pub fn new(text: &str) -> Result<Self, DecodeError> {
        Self::from_bytes(Bytes::copy_from_slice(text.as_bytes()))
    }

    /// Wraps a `'static` string without copying; checks the same rules.
    pub fn from_static(text: &'static str) -> Result<Self, DecodeError> {
        Self::from_bytes(Bytes::from_static(text.as_bytes()))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying shared bytes (UTF-8).
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// Takes the underlying shared bytes (UTF-8).
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// The text as a [`ByteString`], which other crates (topics) take without re-validating.
    pub fn as_byte_string(&self) -> &ByteString {
        &self.0
    }

    /// Takes the text as a [`ByteString`].
    pub fn into_byte_string(self) -> ByteString {
        self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for MqttString {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for MqttString {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl TryFrom<&str> for MqttString {
    type Error = DecodeError;
    fn try_from(text: &str) -> Result<Self, DecodeError> {
        MqttString::new(text)
    }
}

impl TryFrom<String> for MqttString {
    type Error = DecodeError;
    fn try_from(text: String) -> Result<Self, DecodeError> {
        MqttString::from_bytes(Bytes::from(text))
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_multibyte_text() {
        assert_eq!(MqttString::new("sensors/℃/温度").unwrap(), "sensors/℃/温度");
        assert!(MqttString::new("").unwrap().is_empty());
    }

    #[test]
    fn rejects_null_surrogates_and_invalid_utf8() {
        assert!(matches!(
            MqttString::new("a\0b"),
            Err(DecodeError::NullCharacter)
        ));
        // U+D800 encoded as if it were a scalar value: ill-formed [MQTT-1.5.4-1].
        let surrogate = Bytes::from_static(&[0xED, 0xA0, 0x80]);
        assert!(matches!(
            MqttString::from_bytes(surrogate),
            Err(DecodeError::InvalidUtf8)
        ));
        let truncated = Bytes::from_static(&[b'a', 0xE2, 0x82]);
        assert!(matches!(
            MqttString::from_bytes(truncated),
            Err(DecodeError::InvalidUtf8)
        ));
    }

    #[test]
    fn rejects_strings_longer_than_the_length_prefix() {
        let long = "x".repeat(MqttString::MAX_LEN + 1);
        assert!(matches!(
            MqttString::new(&long),
            Err(DecodeError::StringTooLong(_))
        ));
        assert!(MqttString::new(&long[1..]).is_ok());
    }
}
