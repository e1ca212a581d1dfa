//! Shared subscriptions (`$share/{ShareName}/{filter}`, MQTT 5.0 §4.8.2) and the filter a client
//! subscribes with, shared or not.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use bytes::Bytes;
use bytestring::ByteString;

use crate::limits::MQTT_MAX_BYTES;
use crate::text::{Utf8Bytes, impl_text_newtype};
use crate::{TopicError, TopicFilter, TopicLimits, filter};

/// The first level of every shared subscription [MQTT-4.8.2-1].
const SHARE_LEVEL: &str = "$share";

/// The name of a shared subscription group: at least one character, without `/`, `+`, `#` or
/// U+0000 [MQTT-4.8.2-1], [MQTT-4.8.2-2].
///
/// Like [`TopicName`](crate::TopicName), it lives in a [`Bytes`] and compares, orders and hashes
/// as its text.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShareName(Utf8Bytes);

impl ShareName {
    /// Parses a share name on its own, copying it.
    ///
    /// # Errors
    ///
    /// [`TopicError::EmptyShareName`], [`TopicError::InvalidShareName`],
    /// [`TopicError::NullCharacter`] or [`TopicError::TooLong`].
    pub fn parse(s: &str) -> Result<Self, TopicError> {
        if s.len() > MQTT_MAX_BYTES {
            return Err(TopicError::TooLong {
                len: s.len(),
                max: MQTT_MAX_BYTES,
            });
        }
        validate_share_name(s)?;
        Ok(Self(Utf8Bytes::copy_from_str(s)))
    }

    /// The share name as a string slice.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// A copy that does not share the buffer it was parsed from.
    pub(crate) fn detached(&self) -> Self {
        Self(self.0.detached())
    }
}

impl_text_newtype!(ShareName);

impl FromStr for ShareName {
    type Err = TopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn validate_share_name(s: &str) -> Result<(), TopicError> {
    // [MQTT-4.8.2-1]
    if s.is_empty() {
        return Err(TopicError::EmptyShareName);
    }
    for (at, found) in s.char_indices() {
        match found {
            // [MQTT-4.8.2-2]
            '/' | '+' | '#' => return Err(TopicError::InvalidShareName { found, at }),
            // [MQTT-4.7.3-2]
            '\0' => return Err(TopicError::NullCharacter { at }),
            _ => {}
        }
    }
    Ok(())
}

/// What a client subscribes to: a plain topic filter, or a shared subscription
/// `$share/{ShareName}/{filter}` whose messages go to one member of the group at a time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubscriptionFilter {
    /// A non-shared subscription to a topic filter.
    Plain(TopicFilter),
    /// A shared subscription: `$share/{group}/{filter}`.
    Shared {
        /// The ShareName, naming the group of sessions that share the subscription.
        group: ShareName,
        /// The topic filter after the ShareName.
        filter: TopicFilter,
    },
}

/// Where the parts of a valid subscription filter lie in its string.
enum Parts {
    Plain,
    Shared {
        group: Range<usize>,
        filter: Range<usize>,
    },
}

impl SubscriptionFilter {
    /// Parses the topic filter of a SUBSCRIBE or UNSUBSCRIBE, copying it.
    ///
    /// A string whose first level is `$share` is a shared subscription; `limits` apply to the
    /// topic filter after `$share/{ShareName}/`.
    ///
    /// # Errors
    ///
    /// Returns the first rule that `s` breaks: see [`TopicError`].
    pub fn parse(s: &str, limits: &TopicLimits) -> Result<Self, TopicError> {
        let parts = split(s, limits)?;
        Ok(Self::from_parts(Utf8Bytes::copy_from_str(s), parts))
    }

    /// Like [`parse`](Self::parse), without copying: the share name and filter share `bytes`
    /// and keep its whole buffer alive. ([`SubscriptionIndex`](crate::SubscriptionIndex) keeps
    /// copies of its own.)
    ///
    /// # Errors
    ///
    /// Returns the first rule that `bytes` break: see [`TopicError`].
    pub fn from_bytes(bytes: Bytes, limits: &TopicLimits) -> Result<Self, TopicError> {
        let text = Utf8Bytes::from_bytes(bytes)?;
        let parts = split(text.as_str(), limits)?;
        Ok(Self::from_parts(text, parts))
    }

    /// Parses text already known to be UTF-8 (such as a string the MQTT codec validated),
    /// without copying it or checking its encoding again.
    ///
    /// # Errors
    ///
    /// Returns the first rule that `text` breaks: see [`TopicError`].
    pub fn from_byte_string(text: ByteString, limits: &TopicLimits) -> Result<Self, TopicError> {
        let text = Utf8Bytes::from_byte_string(text);
        let parts = split(text.as_str(), limits)?;
        Ok(Self::from_parts(text, parts))
    }

    fn from_parts(text: Utf8Bytes, parts: Parts) -> Self {
        match parts {
            Parts::Plain => Self::Plain(TopicFilter::from_validated(text)),
            Parts::Shared { group, filter } => {
                // The ranges end at `/` or at the end of the string, so they are char
                // boundaries and slicing cannot panic.
                let s = text.as_str();
                Self::Shared {
                    group: ShareName(text.slice_ref(&s[group])),
                    filter: TopicFilter::from_validated(text.slice_ref(&s[filter])),
                }
            }
        }
    }

    /// The topic filter, without the `$share/{ShareName}/` of a shared subscription.
    pub fn filter(&self) -> &TopicFilter {
        match self {
            Self::Plain(filter) | Self::Shared { filter, .. } => filter,
        }
    }

    /// The ShareName of a shared subscription.
    pub fn share_name(&self) -> Option<&ShareName> {
        match self {
            Self::Plain(_) => None,
            Self::Shared { group, .. } => Some(group),
        }
    }

    /// Whether this is a shared subscription.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Shared { .. })
    }
}

/// Validates `s` as a subscription filter and finds its parts.
fn split(s: &str, limits: &TopicLimits) -> Result<Parts, TopicError> {
    if s.len() > MQTT_MAX_BYTES {
        return Err(TopicError::TooLong {
            len: s.len(),
            max: MQTT_MAX_BYTES,
        });
    }
    let Some(rest) = s.strip_prefix(SHARE_LEVEL) else {
        filter::validate(s, limits)?;
        return Ok(Parts::Plain);
    };
    let rest = match rest.strip_prefix('/') {
        Some(rest) => rest,
        // `$share` alone names no group [MQTT-4.8.2-1].
        None if rest.is_empty() => return Err(TopicError::EmptyShareName),
        // A first level like `$shared` is an ordinary level.
        None => {
            filter::validate(s, limits)?;
            return Ok(Parts::Plain);
        }
    };
    let group_start = SHARE_LEVEL.len() + 1;
    let (group, filter) = rest.split_once('/').unwrap_or((rest, ""));
    validate_share_name(group).map_err(|e| e.offset_by(group_start))?;
    // The ShareName "MUST be followed by a "/" character. This "/" character MUST be followed
    // by a Topic Filter" [MQTT-4.8.2-2].
    if filter.is_empty() {
        return Err(TopicError::MissingSharedFilter);
    }
    let filter_start = group_start + group.len() + 1;
    filter::validate(filter, limits).map_err(|e| e.offset_by(filter_start))?;
    Ok(Parts::Shared {
        group: group_start..filter_start - 1,
        filter: filter_start..s.len(),
    })
}

impl fmt::Display for SubscriptionFilter {
    /// Writes the filter as the client sent it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(filter) => f.write_str(filter.as_str()),
            Self::Shared { group, filter } => write!(f, "{SHARE_LEVEL}/{group}/{filter}"),
        }
    }
}

impl FromStr for SubscriptionFilter {
    type Err = TopicError;

    /// Parses with [`TopicLimits::MQTT`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, &TopicLimits::MQTT)
    }
}

impl TryFrom<&str> for SubscriptionFilter {
    type Error = TopicError;

    /// Parses with [`TopicLimits::MQTT`].
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s, &TopicLimits::MQTT)
    }
}

impl From<TopicFilter> for SubscriptionFilter {
    fn from(filter: TopicFilter) -> Self {
        Self::Plain(filter)
    }
}
