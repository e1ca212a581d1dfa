//! Integration tests of thingd-policy: parsing errors, AWS's example policies, matching,
//! conditions, variables, and properties (no panics; `evaluate` agrees with `ConnectionPolicy`).

mod conditions;
mod examples;
mod matching;
mod parse;
mod properties;
mod variables;

use std::sync::Arc;

use thingd_policy::{
    Action, ConnectionPolicy, Context, Decision, NamedPolicy, PolicyDocument, evaluate,
};

pub(crate) const REGION: &str = "us-east-1";
pub(crate) const ACCOUNT: &str = "123456789012";

/// A named policy from its JSON text (which must be valid).
pub(crate) fn policy(name: &str, text: &str) -> NamedPolicy {
    NamedPolicy {
        name: name.to_owned(),
        arn: format!("arn:aws:iot:{REGION}:{ACCOUNT}:policy/{name}"),
        document: Arc::new(PolicyDocument::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"))),
    }
}

/// A policy of one statement.
pub(crate) fn statement(effect: &str, action: &str, resource: &str, condition: &str) -> String {
    let condition = if condition.is_empty() {
        String::new()
    } else {
        format!(r#","Condition":{condition}"#)
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Action":{action},"Resource":{resource}{condition}}}]}}"#
    )
}

/// The usual context: region and account set, the given client id.
pub(crate) fn context(client_id: &str) -> Context {
    Context {
        region: REGION.to_owned(),
        account: ACCOUNT.to_owned(),
        client_id: Some(client_id.to_owned()),
        ..Context::default()
    }
}

/// The full ARN of a resource given after the account.
pub(crate) fn arn(suffix: &str) -> String {
    format!("arn:aws:iot:{REGION}:{ACCOUNT}:{suffix}")
}

/// Evaluates `action` on the resource `suffix`, and checks that the compiled policy agrees by
/// every entry point that applies.
pub(crate) fn decide(
    policies: &[NamedPolicy],
    context: &Context,
    action: Action,
    suffix: &str,
) -> Decision {
    let evaluation = evaluate(policies, action, &arn(suffix), context);
    let allowed = evaluation.decision == Decision::Allowed;
    let compiled = ConnectionPolicy::compile(policies, context);
    assert_eq!(
        compiled.allows(action, suffix),
        allowed,
        "allows({action}, {suffix})"
    );
    if let Some(topic) = suffix.strip_prefix("topic/") {
        assert_eq!(
            compiled.allows_topic(action, topic),
            allowed,
            "allows_topic({action}, {topic})"
        );
    }
    if let Some(filter) = suffix.strip_prefix("topicfilter/")
        && action == Action::Subscribe
    {
        assert_eq!(
            compiled.allows_topic_filter(filter),
            allowed,
            "allows_topic_filter({filter})"
        );
    }
    if action == Action::Connect
        && context
            .client_id
            .as_deref()
            .map(|c| format!("client/{c}"))
            .as_deref()
            == Some(suffix)
    {
        assert_eq!(compiled.allows_connect(), allowed, "allows_connect");
    }
    evaluation.decision
}

/// `decide` reduced to allowed or not.
pub(crate) fn allowed(
    policies: &[NamedPolicy],
    context: &Context,
    action: Action,
    suffix: &str,
) -> bool {
    decide(policies, context, action, suffix) == Decision::Allowed
}
