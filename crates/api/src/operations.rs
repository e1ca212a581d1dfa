//! Requests no route handles: naming the AWS IoT operation they are (`NotImplementedException`)
//! or saying that none matches (`UnknownOperationException`), in AWS's error shape.

#[path = "operations_table.rs"]
mod table;

use axum::http::{Method, Uri};

use crate::error::ApiError;

/// The fallback handler.
pub(crate) async fn unimplemented(method: Method, uri: Uri) -> ApiError {
    let path = uri.path();
    match operation_for(method.as_str(), path) {
        Some(operation) => ApiError::not_implemented(operation, method.as_str(), path),
        None => ApiError::unknown_operation(method.as_str(), path),
    }
}

/// The operation whose method and URI pattern match, preferring the pattern with the most
/// literal segments (so `/thing-groups/addThingToThingGroup` wins over
/// `/thing-groups/{thingGroupName}`).
pub(crate) fn operation_for(method: &str, path: &str) -> Option<&'static str> {
    table::OPERATIONS
        .iter()
        .filter(|(_, m, _)| *m == method)
        .filter_map(|(name, _, pattern)| matches(pattern, path).map(|score| (score, *name)))
        .max_by_key(|(score, _)| *score)
        .map(|(_, name)| name)
}

/// The number of literal segments of `pattern` if `path` matches it.
fn matches(pattern: &str, path: &str) -> Option<usize> {
    let mut pattern_segments = pattern.trim_start_matches('/').split('/');
    let mut path_segments = path.trim_start_matches('/').split('/');
    let mut literals = 0;
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => return Some(literals),
            (Some(p), Some(s)) if p.starts_with('{') && p.ends_with("+}") => {
                // A greedy label takes this segment and all that follow.
                return (!s.is_empty() && pattern_segments.next().is_none()).then_some(literals);
            }
            (Some(p), Some(s)) if p.starts_with('{') => {
                if s.is_empty() {
                    return None;
                }
            }
            (Some(p), Some(s)) if p == s => literals += 1,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_operations_from_the_service_model() {
        assert_eq!(
            operation_for("GET", "/things/my-thing"),
            Some("DescribeThing")
        );
        assert_eq!(
            operation_for("PUT", "/thing-groups/addThingToThingGroup"),
            Some("AddThingToThingGroup")
        );
        assert_eq!(operation_for("POST", "/policies/p"), Some("CreatePolicy"));
        assert_eq!(operation_for("GET", "/tags"), Some("ListTagsForResource"));
        assert_eq!(operation_for("GET", "/nothing/here"), None);
        assert_eq!(operation_for("DELETE", "/things"), None);
    }
}
