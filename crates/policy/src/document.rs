//! Policy documents: parsing and validation into the form evaluation uses.

use crate::action::ActionSet;
use crate::condition::Condition;
use crate::context::Context;
use crate::error::{PolicyError, quoted};
use crate::glob::Glob;
use crate::json::Json;
use crate::template::Template;

/// At most this many characters other than whitespace (AWS IoT's quota for a policy document).
pub const MAX_DOCUMENT_CHARS: usize = 2048;

/// At most this many bytes in all, whitespace included (the length AWS IoT's API accepts for
/// `policyDocument`), so that padding cannot make parsing unbounded.
pub const MAX_DOCUMENT_BYTES: usize = 404_600;

/// At most this many statements. The character quota already bounds the count (a minimal
/// statement takes about 45 characters); this bound states it.
pub const MAX_STATEMENTS: usize = 100;

/// Whether a statement grants or refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// The policy language version a document declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyVersion {
    /// `2012-10-17`, the current version, with policy variables.
    V2012_10_17,
    /// `2008-10-17`, the original version (also assumed when `Version` is absent, as in IAM):
    /// `${...}` is literal text, not a variable.
    V2008_10_17,
}

/// One statement, validated.
#[derive(Clone, Debug)]
pub(crate) struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    /// The actions the statement applies to (the complement of `NotAction` already taken).
    pub(crate) actions: ActionSet,
    pub(crate) resources: Vec<Template>,
    /// `NotResource`: the statement applies to resources matching none of `resources`.
    pub(crate) not_resource: bool,
    pub(crate) conditions: Vec<Condition>,
}

impl Statement {
    /// Whether every condition holds. All are evaluated (no short cut) so that `missing`
    /// collects every absent key.
    pub(crate) fn conditions_hold(&self, context: &Context, missing: &mut Vec<String>) -> bool {
        let mut all = true;
        for condition in &self.conditions {
            all &= condition.holds(context, missing);
        }
        all
    }

    /// The resource patterns with variables substituted; those with a variable lacking a value
    /// are left out, since they can match nothing.
    pub(crate) fn resource_globs(&self, context: &Context, missing: &mut Vec<String>) -> Vec<Glob> {
        self.resources
            .iter()
            .filter_map(|t| t.glob(context, missing))
            .collect()
    }
}

/// A parsed and validated AWS IoT policy document.
#[derive(Clone, Debug)]
pub struct PolicyDocument {
    version: PolicyVersion,
    pub(crate) statements: Vec<Statement>,
}

impl PolicyDocument {
    /// Parses and validates a policy document (the rules are in the crate documentation).
    pub fn parse(text: &str) -> Result<PolicyDocument, PolicyError> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(PolicyError::document(format!(
                "the document has {} bytes, more than the {MAX_DOCUMENT_BYTES} allowed",
                text.len()
            )));
        }
        let chars = text.chars().filter(|c| !c.is_whitespace()).count();
        if chars > MAX_DOCUMENT_CHARS {
            return Err(PolicyError::document(format!(
                "the document has {chars} characters other than whitespace, more than the {MAX_DOCUMENT_CHARS} allowed"
            )));
        }
        let json = Json::parse(text).map_err(|e| {
            PolicyError::document(format!(
                "invalid JSON at line {} column {}: {}",
                e.line(),
                e.column(),
                json_error_text(&e)
            ))
        })?;
        let Json::Object(members) = json else {
            return Err(PolicyError::document(format!(
                "the document must be a JSON object, found {}",
                json.kind()
            )));
        };
        check_fields(&members, &["Version", "Id", "Statement"]).map_err(PolicyError::document)?;
        let mut version = PolicyVersion::V2008_10_17;
        let mut statements = None;
        for (name, value) in &members {
            match name.as_str() {
                "Version" => {
                    version = match value {
                        Json::String(v) if v == "2012-10-17" => PolicyVersion::V2012_10_17,
                        Json::String(v) if v == "2008-10-17" => PolicyVersion::V2008_10_17,
                        Json::String(v) => {
                            return Err(PolicyError::document(format!(
                                "Version must be \"2012-10-17\" or \"2008-10-17\", found {}",
                                quoted(v)
                            )));
                        }
                        other => {
                            return Err(PolicyError::document(format!(
                                "Version must be a string, found {}",
                                other.kind()
                            )));
                        }
                    };
                }
                "Id" => {
                    if !matches!(value, Json::String(_)) {
                        return Err(PolicyError::document(format!(
                            "Id must be a string, found {}",
                            value.kind()
                        )));
                    }
                }
                _ => statements = Some(value),
            }
        }
        let statements = match statements {
            None => return Err(PolicyError::document("Statement is required")),
            Some(Json::Array(items)) if items.is_empty() => {
                return Err(PolicyError::document(
                    "Statement must not be an empty array",
                ));
            }
            Some(Json::Array(items)) => items.iter().collect::<Vec<_>>(),
            Some(item @ Json::Object(_)) => vec![item],
            Some(other) => {
                return Err(PolicyError::document(format!(
                    "Statement must be an object or an array of objects, found {}",
                    other.kind()
                )));
            }
        };
        if statements.len() > MAX_STATEMENTS {
            return Err(PolicyError::document(format!(
                "the document has {} statements, more than the {MAX_STATEMENTS} allowed",
                statements.len()
            )));
        }
        let variables = version == PolicyVersion::V2012_10_17;
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(index, json)| parse_statement(index, json, variables))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PolicyDocument {
            version,
            statements,
        })
    }

    /// How many statements the document has.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// The Sid of each statement, in order.
    pub fn sids(&self) -> impl Iterator<Item = Option<&str>> {
        self.statements.iter().map(|s| s.sid.as_deref())
    }

    /// The policy language version the document declares.
    pub fn version(&self) -> PolicyVersion {
        self.version
    }
}

/// serde_json's message without its own " at line L column C" suffix (we say where first).
fn json_error_text(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Rejects unknown and duplicate fields.
fn check_fields(members: &[(String, Json)], known: &[&str]) -> Result<(), String> {
    for (index, (name, _)) in members.iter().enumerate() {
        if !known.contains(&name.as_str()) {
            return Err(format!("unknown field {}", quoted(name)));
        }
        if members[..index].iter().any(|(other, _)| other == name) {
            return Err(format!("duplicate field {}", quoted(name)));
        }
    }
    Ok(())
}

fn parse_statement(index: usize, json: &Json, variables: bool) -> Result<Statement, PolicyError> {
    let Json::Object(members) = json else {
        return Err(PolicyError::statement(
            index,
            None,
            format!("a statement must be an object, found {}", json.kind()),
        ));
    };
    // The Sid is read first so that every other error can name it.
    let sid = match members.iter().find(|(name, _)| name == "Sid") {
        None => None,
        Some((_, Json::String(sid))) => Some(sid.clone()),
        Some((_, other)) => {
            return Err(PolicyError::statement(
                index,
                None,
                format!("Sid must be a string, found {}", other.kind()),
            ));
        }
    };
    let fail = |detail: String| PolicyError::statement(index, sid.as_deref(), detail);
    check_fields(
        members,
        &[
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ],
    )
    .map_err(fail)?;
    let field = |name: &str| members.iter().find(|(n, _)| n == name).map(|(_, v)| v);

    let effect = match field("Effect") {
        None => return Err(fail("Effect is required".into())),
        Some(Json::String(e)) if e == "Allow" => Effect::Allow,
        Some(Json::String(e)) if e == "Deny" => Effect::Deny,
        Some(Json::String(e)) => {
            return Err(fail(format!(
                "Effect must be \"Allow\" or \"Deny\", found {}",
                quoted(e)
            )));
        }
        Some(other) => {
            return Err(fail(format!(
                "Effect must be a string, found {}",
                other.kind()
            )));
        }
    };

    let actions = match (field("Action"), field("NotAction")) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(fail(
                "a statement must have exactly one of Action and NotAction".into(),
            ));
        }
        (Some(json), None) => parse_actions("Action", json).map_err(fail)?,
        (None, Some(json)) => parse_actions("NotAction", json).map_err(fail)?.complement(),
    };

    let (resources, not_resource) = match (field("Resource"), field("NotResource")) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(fail(
                "a statement must have exactly one of Resource and NotResource".into(),
            ));
        }
        (Some(json), None) => (
            parse_resources("Resource", json, variables).map_err(fail)?,
            false,
        ),
        (None, Some(json)) => (
            parse_resources("NotResource", json, variables).map_err(fail)?,
            true,
        ),
    };

    let conditions = match field("Condition") {
        None => Vec::new(),
        Some(json) => Condition::parse_block(json, variables).map_err(fail)?,
    };

    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        not_resource,
        conditions,
    })
}

/// The strings of a field that takes a string or a non-empty array of strings.
fn strings<'a>(field: &str, json: &'a Json) -> Result<Vec<&'a str>, String> {
    match json {
        Json::String(s) => Ok(vec![s.as_str()]),
        Json::Array(items) if items.is_empty() => {
            Err(format!("{field} must not be an empty array"))
        }
        Json::Array(items) => items
            .iter()
            .map(|item| match item {
                Json::String(s) => Ok(s.as_str()),
                other => Err(format!(
                    "{field} entries must be strings, found {}",
                    other.kind()
                )),
            })
            .collect(),
        other => Err(format!(
            "{field} must be a string or an array of strings, found {}",
            other.kind()
        )),
    }
}

fn parse_actions(field: &str, json: &Json) -> Result<ActionSet, String> {
    strings(field, json)?
        .into_iter()
        .try_fold(ActionSet::default(), |set, s| {
            Ok(set.union(ActionSet::parse_pattern(field, s)?))
        })
}

fn parse_resources(field: &str, json: &Json, variables: bool) -> Result<Vec<Template>, String> {
    strings(field, json)?
        .into_iter()
        .map(|s| {
            if s == "*" || s.starts_with("arn:") {
                Ok(Template::parse(s, variables))
            } else {
                Err(format!(
                    "{field} {} must be \"*\" or an ARN (\"arn:...\")",
                    quoted(s)
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_documents() {
        let doc = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(doc.statement_count(), 1);
        assert_eq!(doc.version(), PolicyVersion::V2012_10_17);
        let doc = PolicyDocument::parse(
            r#"{"Statement":[{"Effect":"Deny","NotAction":"iot:Connect","NotResource":["arn:aws:iot:*"]}]}"#,
        )
        .unwrap();
        assert_eq!(doc.version(), PolicyVersion::V2008_10_17);
        assert!(doc.statements[0].not_resource);
        assert!(!doc.statements[0].actions.contains(crate::Action::Connect));
        assert!(doc.statements[0].actions.contains(crate::Action::Publish));
    }
}
