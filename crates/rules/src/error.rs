//! The one error type of this crate, shaped after the two AWS exceptions a rule can earn.

use thiserror::Error;

/// Why a topic rule (or one of its parts) is refused.
///
/// The API maps [`RuleError::SqlParse`] to `SqlParseException` and [`RuleError::InvalidRequest`]
/// to `InvalidRequestException`, both HTTP 400 (reference §5.1, §9.4).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RuleError {
    /// The rule's SQL does not parse in its SQL version; `message` carries the line and column
    /// as `thingd_sql` renders them (`line 1:8: Expected ...`).
    #[error("{message}")]
    SqlParse {
        /// What is wrong and where.
        message: String,
    },
    /// Anything else: a bad name, a missing or out-of-range field, an unsupported action type.
    #[error("{message}")]
    InvalidRequest {
        /// What is wrong, naming the field.
        message: String,
    },
}

impl RuleError {
    /// An [`RuleError::InvalidRequest`] with this message.
    pub fn invalid(message: impl Into<String>) -> RuleError {
        RuleError::InvalidRequest {
            message: message.into(),
        }
    }

    /// The AWS error code this error is reported with.
    pub fn aws_code(&self) -> &'static str {
        match self {
            RuleError::SqlParse { .. } => "SqlParseException",
            RuleError::InvalidRequest { .. } => "InvalidRequestException",
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            RuleError::SqlParse { message } | RuleError::InvalidRequest { message } => message,
        }
    }
}

impl From<thingd_sql::SqlError> for RuleError {
    fn from(error: thingd_sql::SqlError) -> RuleError {
        RuleError::SqlParse {
            message: error.to_string(),
        }
    }
}
