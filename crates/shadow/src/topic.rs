//! Shadow topics (`$aws/things/{thing}/shadow[/name/{shadow}]/...`) and the names they carry.

use crate::error::ShadowError;

/// The longest thing name AWS IoT accepts, in characters.
pub const MAX_THING_NAME_LEN: usize = 128;
/// The longest shadow name AWS IoT accepts, in characters.
pub const MAX_SHADOW_NAME_LEN: usize = 64;

/// The operation a shadow topic asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `.../get`: read the shadow.
    Get,
    /// `.../update`: create or change the shadow.
    Update,
    /// `.../delete`: delete the shadow.
    Delete,
}

impl Operation {
    /// The topic level that names the operation.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// Which response topic of an operation a message goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `/accepted`: the request succeeded.
    Accepted,
    /// `/rejected`: the request failed; the payload is an error document.
    Rejected,
    /// `/delta` (updates only): desired and reported differ after an update.
    Delta,
    /// `/documents` (updates only): the shadow before and after an update.
    Documents,
}

impl Outcome {
    /// The topic level that names the outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::Delta => "delta",
            Outcome::Documents => "documents",
        }
    }
}

/// A request topic, `$aws/things/{thing}/shadow[/name/{shadow}]/{get|update|delete}`, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShadowRequestTopic<'a> {
    /// The thing name (not validated: see [`validate_thing_name`]).
    pub thing: &'a str,
    /// The shadow name for a named shadow, `None` for the classic shadow (not validated: see
    /// [`validate_shadow_name`]).
    pub shadow: Option<&'a str>,
    /// What the request asks for.
    pub operation: Operation,
}

/// Parses a shadow request topic; `None` for any other topic, response topics included, and for
/// a topic with an empty thing or shadow level.
///
/// Names are returned as they appear, without checking AWS's rules for them, so that the
/// service can still answer a request with a bad name on its `/rejected` topic.
pub fn parse_request_topic(topic: &str) -> Option<ShadowRequestTopic<'_>> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("shadow/")?;
    if thing.is_empty() {
        return None;
    }
    let (shadow, operation) = match rest.split_once('/') {
        None => (None, rest),
        Some((level, named)) => {
            if level != "name" {
                return None;
            }
            let (shadow, operation) = named.split_once('/')?;
            if shadow.is_empty() {
                return None;
            }
            (Some(shadow), operation)
        }
    };
    let operation = match operation {
        "get" => Operation::Get,
        "update" => Operation::Update,
        "delete" => Operation::Delete,
        _ => return None,
    };
    Some(ShadowRequestTopic {
        thing,
        shadow,
        operation,
    })
}

/// The topic prefix of a shadow: `$aws/things/{thing}/shadow` for the classic shadow,
/// `$aws/things/{thing}/shadow/name/{shadow}` for a named one.
pub fn topic_prefix(thing: &str, shadow: Option<&str>) -> String {
    match shadow {
        None => format!("$aws/things/{thing}/shadow"),
        Some(shadow) => format!("$aws/things/{thing}/shadow/name/{shadow}"),
    }
}

/// The request topic of an operation on a shadow, e.g. `$aws/things/t/shadow/update`.
pub fn request_topic(thing: &str, shadow: Option<&str>, operation: Operation) -> String {
    format!("{}/{}", topic_prefix(thing, shadow), operation.as_str())
}

/// The response topic of an operation on a shadow, e.g. `$aws/things/t/shadow/get/accepted`.
///
/// AWS IoT publishes [`Outcome::Delta`] and [`Outcome::Documents`] for updates only; the topic is
/// built for any pair all the same.
pub fn response_topic(
    thing: &str,
    shadow: Option<&str>,
    operation: Operation,
    outcome: Outcome,
) -> String {
    format!(
        "{}/{}/{}",
        topic_prefix(thing, shadow),
        operation.as_str(),
        outcome.as_str()
    )
}

/// Checks a thing name against AWS IoT's rule: 1 to 128 characters of `[a-zA-Z0-9:_-]`.
pub fn validate_thing_name(s: &str) -> Result<(), ShadowError> {
    if s.is_empty() {
        return Err(ShadowError::invalid_name("ThingName is missing"));
    }
    if s.chars().count() > MAX_THING_NAME_LEN {
        return Err(ShadowError::invalid_name(format!(
            "ThingName has a maximum length of {MAX_THING_NAME_LEN}"
        )));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b":_-".contains(&b))
    {
        return Err(ShadowError::invalid_name(
            "ThingName must match pattern [a-zA-Z0-9:_-]+",
        ));
    }
    Ok(())
}

/// Checks a shadow name against AWS IoT's rule: 1 to 64 characters of `[$a-zA-Z0-9:_-]`.
pub fn validate_shadow_name(s: &str) -> Result<(), ShadowError> {
    if s.is_empty() {
        return Err(ShadowError::invalid_name("ShadowName is missing"));
    }
    if s.chars().count() > MAX_SHADOW_NAME_LEN {
        return Err(ShadowError::invalid_name(format!(
            "ShadowName has a maximum length of {MAX_SHADOW_NAME_LEN}"
        )));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"$:_-".contains(&b))
    {
        return Err(ShadowError::invalid_name(
            "ShadowName must match pattern [$a-zA-Z0-9:_-]+",
        ));
    }
    Ok(())
}
