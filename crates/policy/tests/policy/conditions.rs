//! Condition operators, qualifiers, `IfExists`, `Null`, and how missing keys behave.

use thingd_policy::{Action, CertificateContext, Context, evaluate};

use crate::{allowed, arn, context, policy, statement};

/// Whether an Allow of Publish on `*` with `condition` allows for `ctx`.
fn holds(condition: &str, ctx: &Context) -> bool {
    let policies = [policy(
        "p",
        &statement("Allow", r#""iot:Publish""#, r#""*""#, condition),
    )];
    allowed(&policies, ctx, Action::Publish, "topic/t")
}

/// The missing context values reported for `condition`.
fn missing(condition: &str, ctx: &Context) -> Vec<String> {
    let policies = [policy(
        "p",
        &statement("Allow", r#""iot:Publish""#, r#""*""#, condition),
    )];
    evaluate(&policies, Action::Publish, &arn("topic/t"), ctx).missing_context_values
}

fn full() -> Context {
    Context {
        source_ip: Some("203.0.113.7".parse().expect("valid address")),
        connect_attributes: vec!["PersistentConnect".into(), "LastWill".into()],
        last_will_topic: Some("wills/dev-1".into()),
        certificate: Some(CertificateContext {
            id: "cert".into(),
            ..CertificateContext::default()
        }),
        ..context("Dev-1")
    }
}

/// A context where the client id (and every other key) is absent.
fn empty() -> Context {
    Context {
        client_id: None,
        ..context("x")
    }
}

#[test]
fn string_operators() {
    let ctx = full();
    let cases = [
        (r#"{"StringEquals":{"iot:ClientId":"Dev-1"}}"#, true),
        (r#"{"StringEquals":{"iot:ClientId":"dev-1"}}"#, false),
        (r#"{"StringEquals":{"iot:ClientId":["a","Dev-1"]}}"#, true),
        (r#"{"StringEquals":{"iot:ClientId":"Dev-*"}}"#, false),
        (r#"{"StringNotEquals":{"iot:ClientId":"Dev-1"}}"#, false),
        (r#"{"StringNotEquals":{"iot:ClientId":["a","b"]}}"#, true),
        (
            r#"{"StringNotEquals":{"iot:ClientId":["a","Dev-1"]}}"#,
            false,
        ),
        (
            r#"{"StringEqualsIgnoreCase":{"iot:ClientId":"DEV-1"}}"#,
            true,
        ),
        (
            r#"{"StringEqualsIgnoreCase":{"iot:ClientId":"DEV-2"}}"#,
            false,
        ),
        (
            r#"{"StringNotEqualsIgnoreCase":{"iot:ClientId":"dev-1"}}"#,
            false,
        ),
        (
            r#"{"StringNotEqualsIgnoreCase":{"iot:ClientId":"dev-2"}}"#,
            true,
        ),
        (r#"{"StringLike":{"iot:ClientId":"Dev-*"}}"#, true),
        (r#"{"StringLike":{"iot:ClientId":"Dev-?"}}"#, true),
        (r#"{"StringLike":{"iot:ClientId":"dev-*"}}"#, false),
        (r#"{"StringLike":{"iot:ClientId":"Dev-${*}"}}"#, false),
        (r#"{"StringNotLike":{"iot:ClientId":"Dev-*"}}"#, false),
        (r#"{"StringNotLike":{"iot:ClientId":["x*","y*"]}}"#, true),
        (
            r#"{"StringEquals":{"iot:LastWillTopic":"wills/dev-1"}}"#,
            true,
        ),
        (
            r#"{"StringLike":{"iot:LastWillTopic":"wills/${iot:ClientId}"}}"#,
            false,
        ),
        (
            r#"{"StringEqualsIgnoreCase":{"iot:LastWillTopic":"wills/${iot:ClientId}"}}"#,
            true,
        ),
        (r#"{"StringEquals":{"aws:SourceIp":"203.0.113.7"}}"#, true),
        (
            r#"{"StringEquals":{"iot:ClientId":"Dev-1"},"StringLike":{"iot:LastWillTopic":"wills/*"}}"#,
            true,
        ),
        (
            r#"{"StringEquals":{"iot:ClientId":"Dev-1"},"StringLike":{"iot:LastWillTopic":"other/*"}}"#,
            false,
        ),
        (
            r#"{"StringEquals":{"iot:ClientId":"Dev-1","iot:LastWillTopic":"nope"}}"#,
            false,
        ),
        (r#"{"StringEquals":{"IOT:CLIENTID":"Dev-1"}}"#, true),
    ];
    for (condition, expected) in cases {
        assert_eq!(holds(condition, &ctx), expected, "{condition}");
    }
}

#[test]
fn numbers_and_booleans_are_compared_as_strings() {
    let ctx = Context {
        last_will_topic: Some("42".into()),
        ..context("true")
    };
    assert!(holds(r#"{"StringEquals":{"iot:LastWillTopic":42}}"#, &ctx));
    assert!(holds(r#"{"StringEquals":{"iot:ClientId":true}}"#, &ctx));
}

#[test]
fn bool_operator() {
    let ctx = crate::context("thing-1");
    let attached = Context {
        thing: Some(thingd_policy::ThingContext {
            name: "thing-1".into(),
            ..Default::default()
        }),
        ..ctx.clone()
    };
    let cases = [
        (
            r#"{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}"#,
            &attached,
            true,
        ),
        (
            r#"{"Bool":{"iot:Connection.Thing.IsAttached":true}}"#,
            &attached,
            true,
        ),
        (
            r#"{"Bool":{"iot:Connection.Thing.IsAttached":"TRUE"}}"#,
            &attached,
            true,
        ),
        (
            r#"{"Bool":{"iot:Connection.Thing.IsAttached":"false"}}"#,
            &attached,
            false,
        ),
        (
            r#"{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}"#,
            &ctx,
            false,
        ),
        (
            r#"{"Bool":{"iot:Connection.Thing.IsAttached":"false"}}"#,
            &ctx,
            true,
        ),
        (
            r#"{"Bool":{"iot:Connection.Thing.IsAttached":["false","true"]}}"#,
            &ctx,
            true,
        ),
        (r#"{"Bool":{"iot:ClientId":"true"}}"#, &ctx, false),
    ];
    for (condition, ctx, expected) in cases {
        assert_eq!(holds(condition, ctx), expected, "{condition}");
    }
}

#[test]
fn arn_operators() {
    let ctx = Context {
        last_will_topic: Some("arn:aws:iot:us-east-1:123456789012:topic/a/b".into()),
        ..context("c")
    };
    let cases = [
        (
            r#"{"ArnEquals":{"iot:LastWillTopic":"arn:aws:iot:us-east-1:123456789012:topic/a/b"}}"#,
            true,
        ),
        (
            r#"{"ArnEquals":{"iot:LastWillTopic":"arn:aws:iot:*:123456789012:topic/a/b"}}"#,
            true,
        ),
        (
            r#"{"ArnLike":{"iot:LastWillTopic":"arn:aws:iot:*:*:topic/*"}}"#,
            true,
        ),
        (
            r#"{"ArnLike":{"iot:LastWillTopic":"arn:aws:iot:us-?ast-1:*:topic/a/?"}}"#,
            true,
        ),
        // Wildcards stay within their component: `*` here cannot absorb region and account.
        (
            r#"{"ArnLike":{"iot:LastWillTopic":"arn:aws:iot:*:topic/a/b"}}"#,
            false,
        ),
        (
            r#"{"ArnLike":{"iot:LastWillTopic":"arn:aws:iot:*:*:client/*"}}"#,
            false,
        ),
        (
            r#"{"ArnNotEquals":{"iot:LastWillTopic":"arn:aws:iot:us-east-1:123456789012:topic/a/b"}}"#,
            false,
        ),
        (
            r#"{"ArnNotLike":{"iot:LastWillTopic":"arn:aws:iot:*:*:client/*"}}"#,
            true,
        ),
        (r#"{"ArnLike":{"iot:ClientId":"*"}}"#, false),
    ];
    for (condition, expected) in cases {
        assert_eq!(holds(condition, &ctx), expected, "{condition}");
    }
}

#[test]
fn ip_address_operators() {
    let v4 = Context {
        source_ip: Some("203.0.113.7".parse().expect("valid address")),
        ..context("c")
    };
    let v6 = Context {
        source_ip: Some("2001:db8::7".parse().unwrap()),
        ..context("c")
    };
    let mapped = Context {
        source_ip: Some("::ffff:203.0.113.7".parse().unwrap()),
        ..context("c")
    };
    let cases = [
        (
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &v4,
            true,
        ),
        (r#"{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}"#, &v4, true),
        (
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.7/32"}}"#,
            &v4,
            true,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}"#,
            &v4,
            false,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":["198.51.100.0/24","203.0.0.0/8"]}}"#,
            &v4,
            true,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &mapped,
            true,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &v6,
            false,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#,
            &v6,
            true,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"2001:db9::/32"}}"#,
            &v6,
            false,
        ),
        (r#"{"IpAddress":{"aws:SourceIp":"::/0"}}"#, &v6, true),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &v4,
            false,
        ),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &v4,
            true,
        ),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#,
            &v6,
            false,
        ),
        (r#"{"IpAddress":{"iot:ClientId":"0.0.0.0/0"}}"#, &v4, false),
    ];
    for (condition, ctx, expected) in cases {
        assert_eq!(
            holds(condition, ctx),
            expected,
            "{condition} {:?}",
            ctx.source_ip
        );
    }
    let none = context("c");
    assert!(!holds(
        r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
        &none
    ));
    assert!(holds(
        r#"{"NotIpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
        &none
    ));
    assert!(holds(
        r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        &none
    ));
    assert!(!holds(
        r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        &v4
    ));
}

#[test]
fn missing_keys() {
    let ctx = empty();
    let cases = [
        // Positive operators are false on a missing key; negated ones are true.
        (r#"{"StringEquals":{"iot:ClientId":"a"}}"#, false),
        (r#"{"StringLike":{"iot:ClientId":"*"}}"#, false),
        (r#"{"StringEqualsIgnoreCase":{"iot:ClientId":"a"}}"#, false),
        (r#"{"ArnLike":{"iot:ClientId":"*"}}"#, false),
        (r#"{"StringNotEquals":{"iot:ClientId":"a"}}"#, true),
        (r#"{"StringNotLike":{"iot:ClientId":"*"}}"#, true),
        (
            r#"{"StringNotEqualsIgnoreCase":{"iot:ClientId":"a"}}"#,
            true,
        ),
        (r#"{"ArnNotLike":{"iot:ClientId":"*"}}"#, true),
        (r#"{"ArnNotEquals":{"iot:ClientId":"*"}}"#, true),
        // IfExists holds on a missing key.
        (r#"{"StringEqualsIfExists":{"iot:ClientId":"a"}}"#, true),
        (r#"{"StringLikeIfExists":{"iot:ClientId":"a*"}}"#, true),
        (r#"{"BoolIfExists":{"iot:ClientId":"true"}}"#, true),
        (r#"{"ArnLikeIfExists":{"iot:ClientId":"a"}}"#, true),
        // Set qualifiers: ForAllValues holds over nothing, ForAnyValue does not.
        (
            r#"{"ForAllValues:StringEquals":{"iot:ConnectAttributes":"LastWill"}}"#,
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"LastWill"}}"#,
            false,
        ),
        (
            r#"{"ForAnyValue:StringEqualsIfExists":{"iot:ConnectAttributes":"LastWill"}}"#,
            true,
        ),
        (
            r#"{"ForAllValues:StringNotEquals":{"iot:ConnectAttributes":"LastWill"}}"#,
            true,
        ),
        (
            r#"{"ForAnyValue:StringNotEquals":{"iot:ConnectAttributes":"LastWill"}}"#,
            false,
        ),
        // An unknown key is always missing.
        (r#"{"StringEquals":{"aws:username":"a"}}"#, false),
        (r#"{"StringNotEquals":{"aws:username":"a"}}"#, true),
    ];
    for (condition, expected) in cases {
        assert_eq!(holds(condition, &ctx), expected, "{condition}");
    }
    assert_eq!(
        missing(
            r#"{"StringEquals":{"iot:ClientId":"a","iot:LastWillTopic":"b"}}"#,
            &ctx
        ),
        ["iot:ClientId", "iot:LastWillTopic"]
    );
    assert_eq!(
        missing(r#"{"StringEqualsIfExists":{"iot:ClientId":"a"}}"#, &ctx),
        ["iot:ClientId"]
    );
    assert!(missing(r#"{"Null":{"iot:ClientId":"true"}}"#, &ctx).is_empty());
    assert!(missing(r#"{"StringEquals":{"iot:ClientId":"a"}}"#, &full()).is_empty());
}

#[test]
fn null_operator() {
    let present = full();
    let absent = empty();
    let cases = [
        (r#"{"Null":{"iot:ClientId":"true"}}"#, &absent, true),
        (r#"{"Null":{"iot:ClientId":"true"}}"#, &present, false),
        (r#"{"Null":{"iot:ClientId":"false"}}"#, &present, true),
        (r#"{"Null":{"iot:ClientId":false}}"#, &absent, false),
        (
            r#"{"Null":{"iot:LastWillTopic":"true","iot:ClientId":"false"}}"#,
            &Context {
                last_will_topic: None,
                ..full()
            },
            true,
        ),
        (
            r#"{"Null":{"iot:ConnectAttributes":"true"}}"#,
            &Context {
                connect_attributes: vec![],
                ..full()
            },
            true,
        ),
    ];
    for (condition, ctx, expected) in cases {
        assert_eq!(holds(condition, ctx), expected, "{condition}");
    }
}

#[test]
fn set_qualifiers_over_connect_attributes() {
    let attrs = |a: &[&str]| Context {
        connect_attributes: a.iter().map(|s| (*s).to_owned()).collect(),
        ..context("c")
    };
    let both = attrs(&["PersistentConnect", "LastWill"]);
    let will = attrs(&["LastWill"]);
    let cases = [
        (
            r#"{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect","LastWill"]}}"#,
            &both,
            true,
        ),
        (
            r#"{"ForAllValues:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}"#,
            &both,
            false,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}"#,
            &both,
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}"#,
            &will,
            false,
        ),
        (
            r#"{"ForAnyValue:StringLike":{"iot:ConnectAttributes":"Last*"}}"#,
            &both,
            true,
        ),
        (
            r#"{"ForAllValues:StringLike":{"iot:ConnectAttributes":"*Connect"}}"#,
            &both,
            false,
        ),
        (
            r#"{"ForAllValues:StringEqualsIgnoreCase":{"iot:ConnectAttributes":["persistentconnect","lastwill"]}}"#,
            &both,
            true,
        ),
        // Negated with a qualifier: each request value is tested against all policy values.
        (
            r#"{"ForAllValues:StringNotEquals":{"iot:ConnectAttributes":"LastWill"}}"#,
            &both,
            false,
        ),
        (
            r#"{"ForAllValues:StringNotEquals":{"iot:ConnectAttributes":"Other"}}"#,
            &both,
            true,
        ),
        (
            r#"{"ForAnyValue:StringNotEquals":{"iot:ConnectAttributes":"LastWill"}}"#,
            &both,
            true,
        ),
        (
            r#"{"ForAnyValue:StringNotEquals":{"iot:ConnectAttributes":"LastWill"}}"#,
            &will,
            false,
        ),
        // Without a qualifier a multi-valued key matches when any value does (negated: none).
        (
            r#"{"StringEquals":{"iot:ConnectAttributes":"LastWill"}}"#,
            &both,
            true,
        ),
        (
            r#"{"StringNotEquals":{"iot:ConnectAttributes":"LastWill"}}"#,
            &both,
            false,
        ),
        (
            r#"{"StringNotEquals":{"iot:ConnectAttributes":"Other"}}"#,
            &both,
            true,
        ),
    ];
    for (condition, ctx, expected) in cases {
        assert_eq!(
            holds(condition, ctx),
            expected,
            "{condition} {:?}",
            ctx.connect_attributes
        );
    }
}

#[test]
fn a_false_condition_disables_a_deny() {
    let policies = [
        policy("allow", &statement("Allow", r#""iot:*""#, r#""*""#, "")),
        policy(
            "deny",
            &statement(
                "Deny",
                r#""iot:Publish""#,
                r#""*""#,
                r#"{"StringEquals":{"iot:ClientId":"bad"}}"#,
            ),
        ),
    ];
    assert!(allowed(
        &policies,
        &context("good"),
        Action::Publish,
        "topic/x"
    ));
    assert!(!allowed(
        &policies,
        &context("bad"),
        Action::Publish,
        "topic/x"
    ));
    assert!(allowed(
        &policies,
        &context("bad"),
        Action::Receive,
        "topic/x"
    ));
}
