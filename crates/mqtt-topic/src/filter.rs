//! Topic filters: the validated patterns of SUBSCRIBE and UNSUBSCRIBE, and how they match names.

use std::str::FromStr;

use bytes::Bytes;
use bytestring::ByteString;

use crate::text::{Levels, Utf8Bytes, impl_text_newtype};
use crate::{TopicError, TopicLimits, TopicName};

/// A valid MQTT topic filter, as carried by SUBSCRIBE and UNSUBSCRIBE.
///
/// It is at least one byte of UTF-8 without U+0000, where `+` occupies whole levels and `#` is
/// alone in the last level, within the [`TopicLimits`] it was parsed with.
///
/// This is the filter itself: a `$share/{ShareName}/{filter}` string parses here as a plain
/// filter whose first level is `$share`. Parse what a client subscribed to with
/// [`SubscriptionFilter::parse`](crate::SubscriptionFilter::parse) instead.
///
/// Like [`TopicName`], it lives in a [`Bytes`] and compares, orders and hashes as its text.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicFilter(Utf8Bytes);

impl TopicFilter {
    /// Parses `s` into a topic filter, copying it.
    ///
    /// # Errors
    ///
    /// Returns the first rule that `s` breaks: see [`TopicError`].
    pub fn parse(s: &str, limits: &TopicLimits) -> Result<Self, TopicError> {
        validate(s, limits)?;
        Ok(Self(Utf8Bytes::copy_from_str(s)))
    }

    /// Parses `bytes` into a topic filter without copying, checking that they are UTF-8 too.
    ///
    /// The filter keeps the whole buffer of `bytes` alive, as [`Bytes::slice`] does.
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

    /// Wraps text already validated as a filter.
    pub(crate) fn from_validated(text: Utf8Bytes) -> Self {
        Self(text)
    }

    /// A copy that does not share the buffer it was parsed from.
    pub(crate) fn detached(&self) -> Self {
        Self(self.0.detached())
    }

    /// The topic filter as a string slice.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The UTF-8 bytes of the topic filter.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The buffer holding the topic filter, for encoding it without a copy.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// The levels of the filter, split at each `/`; there is always at least one.
    pub fn levels(&self) -> Levels<'_> {
        Levels::new(self.as_str())
    }

    /// Whether the filter contains `+` or `#`, so that it may match more than one topic name.
    pub fn has_wildcards(&self) -> bool {
        // A validated filter holds these bytes only as wildcards: UTF-8 never encodes other
        // characters with bytes below 0x80.
        self.as_bytes().iter().any(|&b| b == b'+' || b == b'#')
    }

    /// Whether this filter matches `name`, following MQTT 5.0 §4.7.
    ///
    /// Levels compare byte for byte with no normalization [MQTT-4.7.3-4]; `+` matches exactly
    /// one level, empty ones too; `#` matches any number of levels including none, so `sport/#`
    /// matches `sport`; a filter starting with a wildcard never matches a name starting with `$`
    /// [MQTT-4.7.2-1].
    pub fn matches(&self, name: &TopicName) -> bool {
        let filter = self.as_bytes();
        if name.is_system() && matches!(filter.first(), Some(b'+' | b'#')) {
            return false;
        }
        let mut filter_levels = filter.split(|&b| b == b'/');
        let mut name_levels = name.as_bytes().split(|&b| b == b'/');
        loop {
            match (filter_levels.next(), name_levels.next()) {
                // `#` is last and matches the parent level and any number of children
                // (§4.7.1.2).
                (Some(b"#"), _) => return true,
                (Some(b"+"), Some(_)) => {}
                (Some(f), Some(n)) if f == n => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }
}

/// Checks the rules of topic filters on `s`, which is UTF-8 by type.
pub(crate) fn validate(s: &str, limits: &TopicLimits) -> Result<(), TopicError> {
    // [MQTT-4.7.3-1]
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    // The length is checked before the scan so that oversized input is rejected cheaply.
    limits.check(s)?;
    // Scanning bytes is enough: in UTF-8, bytes below 0x80 only ever encode themselves.
    let bytes = s.as_bytes();
    for (at, &byte) in bytes.iter().enumerate() {
        let starts_level = at == 0 || bytes[at - 1] == b'/';
        let is_last = at + 1 == bytes.len();
        let ends_level = is_last || bytes[at + 1] == b'/';
        match byte {
            // [MQTT-4.7.3-2]
            0 => return Err(TopicError::NullCharacter { at }),
            // [MQTT-4.7.1-1]
            b'#' if !(starts_level && is_last) => {
                return Err(TopicError::MisplacedMultiLevelWildcard { at });
            }
            // [MQTT-4.7.1-2]
            b'+' if !(starts_level && ends_level) => {
                return Err(TopicError::MisplacedSingleLevelWildcard { at });
            }
            _ => {}
        }
    }
    Ok(())
}

impl_text_newtype!(TopicFilter);

impl FromStr for TopicFilter {
    type Err = TopicError;

    /// Parses with [`TopicLimits::MQTT`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, &TopicLimits::MQTT)
    }
}

impl TryFrom<&str> for TopicFilter {
    type Error = TopicError;

    /// Parses with [`TopicLimits::MQTT`].
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s, &TopicLimits::MQTT)
    }
}
