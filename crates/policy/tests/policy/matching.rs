//! Actions and resources: wildcards, literal MQTT wildcards, NotAction and NotResource.

use thingd_policy::{Action, ConnectionPolicy, Decision, evaluate};

use crate::{allowed, arn, context, decide, policy, statement};

#[test]
fn resource_wildcards() {
    let ctx = context("c");
    let cases = [
        ("topic/a/*", "topic/a/b", true),
        ("topic/a/*", "topic/a/b/c/d", true),
        ("topic/a/*", "topic/a/", true),
        ("topic/a/*", "topic/a", false),
        ("topic/a/?", "topic/a/b", true),
        ("topic/a/?", "topic/a/bc", false),
        ("topic/a/?", "topic/a/é", true),
        ("topic/a/?/c", "topic/a/b/c", true),
        ("topic/*/c", "topic/a/b/c", true),
        ("topic/*", "topic/x", true),
        ("topic/A", "topic/a", false),
        ("topic/a", "topic/A", false),
        ("topic/a/+", "topic/a/+", true),
        ("topic/a/+", "topic/a/b", false),
        ("topic/a/#", "topic/a/#", true),
        ("topic/a/#", "topic/a/b/c", false),
        (
            "topic/$aws/things/x/shadow/get",
            "topic/$aws/things/x/shadow/get",
            true,
        ),
    ];
    for (pattern, resource, expected) in cases {
        let policies = [policy(
            "p",
            &statement(
                "Allow",
                r#""iot:Publish""#,
                &format!(r#""{}""#, arn(pattern)),
                "",
            ),
        )];
        assert_eq!(
            allowed(&policies, &ctx, Action::Publish, resource),
            expected,
            "{pattern} ~ {resource}"
        );
    }
}

#[test]
fn subscribe_filters_match_literally() {
    let ctx = context("c");
    let policies = [policy(
        "p",
        &statement(
            "Allow",
            r#""iot:Subscribe""#,
            &format!(
                r#"["{}","{}"]"#,
                arn("topicfilter/a/+/c"),
                arn("topicfilter/b/*")
            ),
            "",
        ),
    )];
    assert!(allowed(
        &policies,
        &ctx,
        Action::Subscribe,
        "topicfilter/a/+/c"
    ));
    assert!(!allowed(
        &policies,
        &ctx,
        Action::Subscribe,
        "topicfilter/a/x/c"
    ));
    assert!(!allowed(
        &policies,
        &ctx,
        Action::Subscribe,
        "topicfilter/a/#"
    ));
    assert!(allowed(
        &policies,
        &ctx,
        Action::Subscribe,
        "topicfilter/b/#"
    ));
    assert!(allowed(
        &policies,
        &ctx,
        Action::Subscribe,
        "topicfilter/b/+/x"
    ));
    // The topicfilter resource is not a topic resource.
    assert!(!allowed(&policies, &ctx, Action::Subscribe, "topic/b/x"));
}

#[test]
fn actions_match_case_insensitively_and_with_wildcards() {
    let ctx = context("c");
    let cases = [
        (r#""iot:publish""#, Action::Publish, true),
        (r#""IOT:PUBLISH""#, Action::Publish, true),
        (r#""iot:*""#, Action::GetThingShadow, true),
        (r#""*""#, Action::Connect, true),
        (r#""iot:*Publish""#, Action::RetainPublish, true),
        (r#""iot:*Publish""#, Action::Receive, false),
        (r#""iot:?eceive""#, Action::Receive, true),
        (
            r#"["iot:Receive","iot:Subscribe"]"#,
            Action::Subscribe,
            true,
        ),
        (r#""iot:*Shadow""#, Action::UpdateThingShadow, true),
        (r#""iot:*Shadow""#, Action::ListNamedShadowsForThing, false),
    ];
    for (actions, action, expected) in cases {
        let policies = [policy("p", &statement("Allow", actions, r#""*""#, ""))];
        assert_eq!(
            allowed(&policies, &ctx, action, "topic/x"),
            expected,
            "{actions} {action}"
        );
    }
}

#[test]
fn not_action() {
    let ctx = context("c");
    let policies = [policy(
        "p",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iot:Connect","iot:Subscribe"],"Resource":"*"}]}"#,
    )];
    for action in Action::ALL {
        let expected = !matches!(action, Action::Connect | Action::Subscribe);
        assert_eq!(
            allowed(&policies, &ctx, action, "topic/x"),
            expected,
            "{action}"
        );
    }
    let deny = policy(
        "d",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"iot:Publish","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    );
    let policies = [deny];
    assert_eq!(
        decide(&policies, &ctx, Action::Publish, "topic/x"),
        Decision::Allowed
    );
    assert_eq!(
        decide(&policies, &ctx, Action::Receive, "topic/x"),
        Decision::ExplicitDeny
    );
}

#[test]
fn not_resource() {
    let ctx = context("c");
    let allow = policy(
        "p",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Publish","NotResource":["{}","{}"]}}]}}"#,
            arn("topic/secret/*"),
            arn("topic/admin")
        ),
    );
    let policies = [allow];
    assert!(allowed(&policies, &ctx, Action::Publish, "topic/public"));
    assert!(allowed(&policies, &ctx, Action::Publish, "topic/admin/x"));
    assert!(!allowed(&policies, &ctx, Action::Publish, "topic/admin"));
    assert!(!allowed(&policies, &ctx, Action::Publish, "topic/secret/x"));
    // Another kind of resource is outside the NotResource list too.
    assert!(allowed(&policies, &ctx, Action::Publish, "thing/x"));

    let deny = policy(
        "d",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"iot:*","NotResource":"{}"}},{{"Effect":"Allow","Action":"iot:*","Resource":"*"}}]}}"#,
            arn("topic/mine/*")
        ),
    );
    let policies = [deny];
    assert_eq!(
        decide(&policies, &ctx, Action::Receive, "topic/mine/a"),
        Decision::Allowed
    );
    assert_eq!(
        decide(&policies, &ctx, Action::Receive, "topic/theirs/a"),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&policies, &ctx, Action::Subscribe, "topicfilter/mine/a"),
        Decision::ExplicitDeny
    );
}

#[test]
fn shadow_and_other_resources() {
    let ctx = context("c");
    let policies = [policy(
        "p",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["iot:GetThingShadow","iot:UpdateThingShadow"],"Resource":["{}","{}"]}},{{"Effect":"Allow","Action":"iot:ListRetainedMessages","Resource":"*"}}]}}"#,
            arn("thing/lamp"),
            arn("thing/lamp/config")
        ),
    )];
    assert!(allowed(
        &policies,
        &ctx,
        Action::GetThingShadow,
        "thing/lamp"
    ));
    assert!(allowed(
        &policies,
        &ctx,
        Action::UpdateThingShadow,
        "thing/lamp/config"
    ));
    assert!(!allowed(
        &policies,
        &ctx,
        Action::UpdateThingShadow,
        "thing/lamp/other"
    ));
    assert!(!allowed(
        &policies,
        &ctx,
        Action::DeleteThingShadow,
        "thing/lamp"
    ));
    assert!(allowed(
        &policies,
        &ctx,
        Action::ListRetainedMessages,
        "anything"
    ));
}

#[test]
fn no_policies_deny_implicitly() {
    let ctx = context("c");
    assert_eq!(
        decide(&[], &ctx, Action::Connect, "client/c"),
        Decision::ImplicitDeny
    );
    let compiled = ConnectionPolicy::compile(&[], &ctx);
    assert!(!compiled.allows_connect());
    assert!(!compiled.allows_topic(Action::Publish, "a"));
    assert_eq!(compiled.policy_names().count(), 0);
}

#[test]
fn connection_policy_basics() {
    let policies = [
        policy(
            "one",
            &statement(
                "Allow",
                r#""iot:Connect""#,
                &format!(r#""{}""#, arn("client/${iot:ClientId}")),
                "",
            ),
        ),
        policy("two", &statement("Allow", r#""iot:Publish""#, r#""*""#, "")),
    ];
    let compiled = ConnectionPolicy::compile(&policies, &context("me"));
    assert!(compiled.allows_connect());
    assert!(compiled.allows_topic(Action::Publish, "any/topic"));
    assert!(!compiled.allows_topic(Action::Receive, "any/topic"));
    assert_eq!(compiled.policy_names().collect::<Vec<_>>(), ["one", "two"]);
    // No client id: nothing to connect as.
    let mut ctx = context("me");
    ctx.client_id = None;
    assert!(!ConnectionPolicy::compile(&policies, &ctx).allows_connect());
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ConnectionPolicy>();
}

#[test]
fn version_2008_has_no_variables() {
    let ctx = context("c");
    let policies = [policy(
        "old",
        &format!(
            r#"{{"Version":"2008-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{}"}}]}}"#,
            arn("topic/${iot:ClientId}")
        ),
    )];
    assert!(!allowed(&policies, &ctx, Action::Publish, "topic/c"));
    assert!(allowed(
        &policies,
        &ctx,
        Action::Publish,
        "topic/${iot:ClientId}"
    ));
    let evaluation = evaluate(&policies, Action::Publish, &arn("topic/c"), &ctx);
    assert!(evaluation.missing_context_values.is_empty());
}
