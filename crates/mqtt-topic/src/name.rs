//! Topic names: the validated topic that a PUBLISH packet carries.

use std::str::FromStr;

use bytes::Bytes;
use bytestring::ByteString;

use crate::text::{Levels, Utf8Bytes, impl_text_newtype};
use crate::{TopicError, TopicLimits};

/// A valid MQTT topic name, as carried by PUBLISH.
///
/// It is at least one byte of UTF-8 without `+`, `#` or U+0000, within the [`TopicLimits`] it
/// was parsed with. Empty levels are allowed: `a//b`, `/a` and `a/` are valid names.
///
/// The text lives in a [`Bytes`], so it can share the buffer of a decoded packet and clones
/// are cheap. Equality, ordering and hashing are those of the text, so a `HashMap<TopicName, _>`
/// can be queried with a `&str`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicName(Utf8Bytes);

impl TopicName {
    /// Parses `s` into a topic name, copying it.
    ///
    /// # Errors
    ///
    /// Returns the first rule that `s` breaks: see [`TopicError`].
    pub fn parse(s: &str, limits: &TopicLimits) -> Result<Self, TopicError> {
        validate(s, limits)?;
        Ok(Self(Utf8Bytes::copy_from_str(s)))
    }

    /// Parses `bytes` into a topic name without copying, checking that they are UTF-8 too.
    ///
    /// The name keeps the whole buffer of `bytes` alive, as [`Bytes::slice`] does: when it is
    /// stored for long, as for a retained message, store a copy made with
    /// [`parse`](Self::parse) rather than pin a whole packet buffer.
    ///
    /// # Errors
    ///
    /// Returns the first rule that `bytes` break: see [`TopicError`].
    pub fn from_bytes(bytes: Bytes, limits: &TopicLimits) -> Result<Self, TopicError> {
        let text = Utf8Bytes::from_bytes(bytes)?;
        validate(text.as_str(), limits)?;
        Ok(Self(text))
    }

    /// Parses text already known to be UTF-8 (such as a string the MQTT codec validated),
    /// without copying it or checking its encoding again.
    ///
    /// # Errors
    ///
    /// Returns the first rule that `text` breaks: see [`TopicError`].
    pub fn from_byte_string(text: ByteString, limits: &TopicLimits) -> Result<Self, TopicError> {
        let text = Utf8Bytes::from_byte_string(text);
        validate(text.as_str(), limits)?;
        Ok(Self(text))
    }

    /// The topic name as a string slice.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The UTF-8 bytes of the topic name.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The buffer holding the topic name, for encoding it without a copy.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// The levels of the name, split at each `/`; there is always at least one.
    pub fn levels(&self) -> Levels<'_> {
        Levels::new(self.as_str())
    }

    /// Whether the name starts with `$`, as server-specific topics such as `$SYS/...` do.
    ///
    /// Filters starting with a wildcard do not match such names [MQTT-4.7.2-1].
    pub fn is_system(&self) -> bool {
        self.as_bytes().first() == Some(&b'$')
    }
}

/// Checks the rules of topic names on `s`, which is UTF-8 by type.
fn validate(s: &str, limits: &TopicLimits) -> Result<(), TopicError> {
    // [MQTT-4.7.3-1]
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    // The length is checked before the scan so that oversized input is rejected cheaply.
    limits.check(s)?;
    // Scanning bytes is enough: in UTF-8, bytes below 0x80 only ever encode themselves.
    for (at, byte) in s.bytes().enumerate() {
        match byte {
            // [MQTT-4.7.3-2]
            0 => return Err(TopicError::NullCharacter { at }),
            // [MQTT-4.7.0-1], [MQTT-3.3.2-2]
            b'+' | b'#' => {
                return Err(TopicError::WildcardInName {
                    wildcard: char::from(byte),
                    at,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

impl_text_newtype!(TopicName);

impl FromStr for TopicName {
    type Err = TopicError;

    /// Parses with [`TopicLimits::MQTT`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, &TopicLimits::MQTT)
    }
}

impl TryFrom<&str> for TopicName {
    type Error = TopicError;

    /// Parses with [`TopicLimits::MQTT`].
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s, &TopicLimits::MQTT)
    }
}
