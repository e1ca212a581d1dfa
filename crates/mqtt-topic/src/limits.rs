//! Deployment limits on topic length and depth, beyond the rules of the MQTT protocol itself.

use crate::TopicError;

/// The protocol's own cap: topic names and filters are UTF-8 Encoded Strings, which carry a
/// two-byte length [MQTT-4.7.3-3].
pub(crate) const MQTT_MAX_BYTES: usize = 65_535;

/// The prefix of AWS IoT Basic Ingest topics: `$aws/rules/{ruleName}/`.
const BASIC_INGEST_PREFIX: &str = "$aws/rules/";

/// Limits applied when parsing topic names and filters.
///
/// The protocol cap of 65,535 bytes [MQTT-4.7.3-3] is always enforced on the whole string, in
/// addition to these limits. For shared subscriptions the limits apply to the topic filter after
/// `$share/{ShareName}/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TopicLimits {
    /// Maximum length in bytes of UTF-8.
    pub max_bytes: usize,
    /// Maximum number of levels (one more than the number of `/`), or `None` for no limit.
    pub max_levels: Option<usize>,
    /// Whether an AWS IoT Basic Ingest prefix `$aws/rules/{ruleName}/` is left out when counting
    /// bytes and levels, as AWS IoT Core does.
    pub exclude_basic_ingest_prefix: bool,
}

impl TopicLimits {
    /// Only the limits of the protocol: 65,535 bytes, any number of levels.
    pub const MQTT: Self = Self {
        max_bytes: MQTT_MAX_BYTES,
        max_levels: None,
        exclude_basic_ingest_prefix: false,
    };

    /// The limits of AWS IoT Core: 256 bytes and 8 levels (7 `/`), not counting a Basic Ingest
    /// prefix `$aws/rules/{ruleName}/`.
    pub const AWS_IOT: Self = Self {
        max_bytes: 256,
        max_levels: Some(8),
        exclude_basic_ingest_prefix: true,
    };

    /// Checks `topic`, already known to be valid UTF-8, against the protocol cap and these limits.
    pub(crate) fn check(&self, topic: &str) -> Result<(), TopicError> {
        if topic.len() > MQTT_MAX_BYTES {
            return Err(TopicError::TooLong {
                len: topic.len(),
                max: MQTT_MAX_BYTES,
            });
        }
        let counted = if self.exclude_basic_ingest_prefix {
            strip_basic_ingest_prefix(topic)
        } else {
            topic
        };
        if counted.len() > self.max_bytes {
            return Err(TopicError::TooLong {
                len: counted.len(),
                max: self.max_bytes,
            });
        }
        if let Some(max) = self.max_levels {
            let levels = counted.bytes().filter(|&b| b == b'/').count() + 1;
            if levels > max {
                return Err(TopicError::TooManyLevels { levels, max });
            }
        }
        Ok(())
    }
}

impl Default for TopicLimits {
    fn default() -> Self {
        Self::MQTT
    }
}

/// Returns what follows `$aws/rules/{ruleName}/`, or `topic` itself when it has no such prefix.
///
/// A rule name level that is empty or a wildcard is not a rule name, so such a prefix is counted.
fn strip_basic_ingest_prefix(topic: &str) -> &str {
    let Some(rest) = topic.strip_prefix(BASIC_INGEST_PREFIX) else {
        return topic;
    };
    match rest.split_once('/') {
        Some((rule, tail)) if !rule.is_empty() && rule != "+" && rule != "#" => tail,
        _ => topic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_ingest_prefix_is_stripped_only_when_complete() {
        assert_eq!(strip_basic_ingest_prefix("$aws/rules/r/a/b"), "a/b");
        assert_eq!(strip_basic_ingest_prefix("$aws/rules/r/"), "");
        assert_eq!(strip_basic_ingest_prefix("$aws/rules/r"), "$aws/rules/r");
        assert_eq!(strip_basic_ingest_prefix("$aws/rules//a"), "$aws/rules//a");
        assert_eq!(
            strip_basic_ingest_prefix("$aws/rules/+/a"),
            "$aws/rules/+/a"
        );
        assert_eq!(
            strip_basic_ingest_prefix("$AWS/rules/r/a"),
            "$AWS/rules/r/a"
        );
        assert_eq!(strip_basic_ingest_prefix("a/b"), "a/b");
    }

    #[test]
    fn default_is_mqtt() {
        assert_eq!(TopicLimits::default(), TopicLimits::MQTT);
    }
}
