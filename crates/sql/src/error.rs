//! The errors this crate reports: bad SQL at parse time, and the few failures of evaluation.

use thiserror::Error;

/// A statement or template AWS IoT would reject with `SqlParseException`.
///
/// `line` and `column` are 1-based and count characters; `message` says what was expected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}:{column}: {message}")]
pub struct SqlError {
    /// The line of the offending token.
    pub line: usize,
    /// The column (in characters) of the offending token.
    pub column: usize,
    /// What is wrong, e.g. "Expected FROM or WHERE but found ','".
    pub message: String,
}

/// Why one evaluation could not produce a result at all (as opposed to producing `Undefined`).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EvalError {
    /// A value grew past what the rules engine allows for one message.
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What grew too large.
        what: &'static str,
        /// The limit, in bytes.
        limit: usize,
    },
}
