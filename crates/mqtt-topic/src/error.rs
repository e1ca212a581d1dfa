//! The error returned when a string is not a valid topic name, topic filter or shared subscription.

/// Why a string was rejected as a topic name, a topic filter, a share name or a shared
/// subscription.
///
/// Byte offsets (`at`) count from the start of the string that was parsed, so for a shared
/// subscription they point into the whole `$share/{ShareName}/{filter}` string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The topic name or filter is zero bytes long [MQTT-4.7.3-1].
    #[error("topic is empty: topic names and filters must be at least one byte long")]
    Empty,

    /// The bytes are not well-formed UTF-8 [MQTT-1.5.4-1].
    #[error("topic is not valid UTF-8 (the first {valid_up_to} bytes are)")]
    InvalidUtf8 {
        /// Length of the longest valid UTF-8 prefix.
        valid_up_to: usize,
    },

    /// The string contains the null character U+0000 [MQTT-4.7.3-2].
    #[error("topic contains the null character U+0000 at byte {at}")]
    NullCharacter {
        /// Byte offset of the null character.
        at: usize,
    },

    /// A topic name contains `+` or `#`, which are only allowed in topic filters
    /// [MQTT-4.7.0-1], [MQTT-3.3.2-2].
    #[error("topic name contains the wildcard {wildcard:?} at byte {at}")]
    WildcardInName {
        /// The wildcard character found, `'+'` or `'#'`.
        wildcard: char,
        /// Byte offset of the wildcard.
        at: usize,
    },

    /// A `#` in a topic filter is not alone in the last level [MQTT-4.7.1-1].
    #[error("'#' at byte {at} must be alone in the last level of the filter")]
    MisplacedMultiLevelWildcard {
        /// Byte offset of the misplaced `#`.
        at: usize,
    },

    /// A `+` in a topic filter does not occupy an entire level [MQTT-4.7.1-2].
    #[error("'+' at byte {at} must occupy an entire level of the filter")]
    MisplacedSingleLevelWildcard {
        /// Byte offset of the misplaced `+`.
        at: usize,
    },

    /// The string encodes to more bytes than allowed: the protocol's 65,535 [MQTT-4.7.3-3] or
    /// the configured [`TopicLimits::max_bytes`](crate::TopicLimits::max_bytes).
    #[error("topic is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Number of bytes counted against the limit.
        len: usize,
        /// The limit that was exceeded.
        max: usize,
    },

    /// The topic has more levels than
    /// [`TopicLimits::max_levels`](crate::TopicLimits::max_levels) allows.
    #[error("topic has {levels} levels, the limit is {max}")]
    TooManyLevels {
        /// Number of levels counted against the limit.
        levels: usize,
        /// The limit that was exceeded.
        max: usize,
    },

    /// The ShareName of a shared subscription is empty, as in `$share//a` or `$share`
    /// [MQTT-4.8.2-1].
    #[error("shared subscription has an empty share name")]
    EmptyShareName,

    /// The ShareName contains `/`, `+` or `#` [MQTT-4.8.2-2].
    #[error("share name contains the forbidden character {found:?} at byte {at}")]
    InvalidShareName {
        /// The forbidden character.
        found: char,
        /// Byte offset of the forbidden character.
        at: usize,
    },

    /// A shared subscription has no topic filter after its ShareName, as in `$share/group` or
    /// `$share/group/` [MQTT-4.8.2-2].
    #[error("shared subscription has no topic filter after the share name")]
    MissingSharedFilter,
}

impl TopicError {
    /// Shifts the byte offset of this error by `by`, for errors found in a part of a larger
    /// string.
    pub(crate) fn offset_by(self, by: usize) -> Self {
        match self {
            Self::InvalidUtf8 { valid_up_to } => Self::InvalidUtf8 {
                valid_up_to: valid_up_to + by,
            },
            Self::NullCharacter { at } => Self::NullCharacter { at: at + by },
            Self::WildcardInName { wildcard, at } => Self::WildcardInName {
                wildcard,
                at: at + by,
            },
            Self::MisplacedMultiLevelWildcard { at } => {
                Self::MisplacedMultiLevelWildcard { at: at + by }
            }
            Self::MisplacedSingleLevelWildcard { at } => {
                Self::MisplacedSingleLevelWildcard { at: at + by }
            }
            Self::InvalidShareName { found, at } => Self::InvalidShareName { found, at: at + by },
            other @ (Self::Empty
            | Self::TooLong { .. }
            | Self::TooManyLevels { .. }
            | Self::EmptyShareName
            | Self::MissingSharedFilter) => other,
        }
    }
}
