//! The error a malformed policy document produces.

/// Why a policy document was rejected. Its `Display` is the message of AWS IoT's
/// `MalformedPolicyException`: it names the statement (index from 0, and Sid when it has one)
/// and the field at fault, e.g. `Policy document is malformed: Statement[2] (Sid "pub"): Effect
/// must be "Allow" or "Deny", found "Permit"`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Policy document is malformed: {location}{detail}")]
pub struct PolicyError {
    statement: Option<usize>,
    sid: Option<String>,
    /// `Statement[i] (Sid "x"): `, or empty for a document-level fault; kept rendered so that
    /// `Display` stays a plain format string.
    location: String,
    detail: String,
}

impl PolicyError {
    /// A fault of the document as a whole (size, JSON syntax, top-level fields).
    pub(crate) fn document(detail: impl Into<String>) -> PolicyError {
        PolicyError {
            statement: None,
            sid: None,
            location: String::new(),
            detail: detail.into(),
        }
    }

    /// A fault inside statement `index` (whose Sid, if known, is `sid`).
    pub(crate) fn statement(
        index: usize,
        sid: Option<&str>,
        detail: impl Into<String>,
    ) -> PolicyError {
        let location = match sid {
            Some(sid) => format!("Statement[{index}] (Sid {}): ", quoted(sid)),
            None => format!("Statement[{index}]: "),
        };
        PolicyError {
            statement: Some(index),
            sid: sid.map(str::to_owned),
            location,
            detail: detail.into(),
        }
    }

    /// The index (from 0) of the statement at fault, if the fault is inside one.
    pub fn statement_index(&self) -> Option<usize> {
        self.statement
    }

    /// The Sid of the statement at fault, if it has one.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The fault itself, without the "Policy document is malformed" prefix and the location.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// `s` as a JSON string literal, so that quotes and control characters in user input cannot
/// make a message ambiguous.
pub(crate) fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(
            PolicyError::statement(
                2,
                Some("pub"),
                "Effect must be \"Allow\" or \"Deny\", found \"Permit\""
            )
            .to_string(),
            "Policy document is malformed: Statement[2] (Sid \"pub\"): Effect must be \"Allow\" or \"Deny\", found \"Permit\""
        );
        assert_eq!(
            PolicyError::statement(0, None, "x").to_string(),
            "Policy document is malformed: Statement[0]: x"
        );
        assert_eq!(
            PolicyError::document("y").to_string(),
            "Policy document is malformed: y"
        );
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
    }
}
