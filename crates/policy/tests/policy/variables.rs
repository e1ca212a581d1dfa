//! Policy variables in resources and condition values: each variable, missing values, escapes,
//! `.N` / `.List`, and AWS's limits on certificate values.

use std::collections::BTreeMap;

use thingd_policy::{Action, CertificateContext, Context, Decision, ThingContext, evaluate};

use crate::{allowed, arn, context, decide, policy, statement};

/// Whether Publish to `topic/{topic}` is allowed by an Allow on `topic/{pattern}`.
fn publish(pattern: &str, topic: &str, ctx: &Context) -> bool {
    let policies = [policy(
        "p",
        &statement(
            "Allow",
            r#""iot:Publish""#,
            &format!(r#""{}""#, arn(&format!("topic/{pattern}"))),
            "",
        ),
    )];
    allowed(&policies, ctx, Action::Publish, &format!("topic/{topic}"))
}

fn missing(pattern: &str, ctx: &Context) -> Vec<String> {
    let policies = [policy(
        "p",
        &statement(
            "Allow",
            r#""iot:Publish""#,
            &format!(r#""{}""#, arn(&format!("topic/{pattern}"))),
            "",
        ),
    )];
    evaluate(&policies, Action::Publish, &arn("topic/x"), ctx).missing_context_values
}

fn rich() -> Context {
    Context {
        source_ip: Some("2001:db8::1".parse().expect("valid address")),
        thing: Some(ThingContext {
            name: "lamp-1".into(),
            thing_type: Some("Lamp".into()),
            attributes: BTreeMap::from([
                ("room".into(), "kitchen".into()),
                ("floor".into(), "2".into()),
            ]),
        }),
        certificate: Some(CertificateContext {
            id: "0123abcd".into(),
            subject: vec![
                ("CommonName".into(), "lamp-1.example".into()),
                ("Country".into(), "US".into()),
                ("Organization".into(), "Example Corp".into()),
                ("OrganizationalUnit".into(), "ou-a".into()),
                ("OrganizationalUnit".into(), "ou-b".into()),
                ("OrganizationalUnit".into(), "ou-c".into()),
                ("Title".into(), "Big, Important".into()),
                ("Pseudonym".into(), "a+b".into()),
                ("GivenName".into(), "x".repeat(1025)),
                ("Surname".into(), "x".repeat(1024)),
            ],
            issuer: vec![
                ("CommonName".into(), "Example CA".into()),
                ("State".into(), "WA".into()),
            ],
            subject_alternative_names: vec![
                ("DNSName".into(), "lamp.example".into()),
                ("DNSName".into(), "lamp2.example".into()),
                ("IPAddress".into(), "10.0.0.1".into()),
                ("RFC822Name".into(), "ops@example.com".into()),
            ],
            issuer_alternative_names: vec![(
                "UniformResourceIdentifier".into(),
                "https://ca.example".into(),
            )],
            serial_number: "10525622389124227206".into(),
            not_before: None,
            not_after: None,
        }),
        ..context("lamp-1")
    }
}

#[test]
fn each_variable_substitutes() {
    let ctx = rich();
    let cases = [
        ("${iot:ClientId}", "lamp-1"),
        ("${iot:Connection.Thing.ThingName}", "lamp-1"),
        ("${iot:Connection.Thing.ThingTypeName}", "Lamp"),
        ("${iot:Connection.Thing.Attributes[room]}", "kitchen"),
        ("${iot:Connection.Thing.Attributes[floor]}/x", "2/x"),
        ("${iot:CertificateId}", "0123abcd"),
        ("${iot:Certificate.SerialNumber}", "10525622389124227206"),
        ("${iot:Certificate.Subject.CommonName}", "lamp-1.example"),
        ("${iot:Certificate.Subject.Country}", "US"),
        ("${iot:Certificate.Subject.Organization}", "Example Corp"),
        ("${iot:Certificate.Subject.OrganizationalUnit}", "ou-a"),
        ("${iot:Certificate.Subject.OrganizationalUnit.0}", "ou-a"),
        ("${iot:Certificate.Subject.OrganizationalUnit.1}", "ou-b"),
        ("${iot:Certificate.Subject.OrganizationalUnit.2}", "ou-c"),
        ("${iot:Certificate.Subject.Surname}", &"x".repeat(1024)),
        ("${iot:Certificate.Issuer.CommonName}", "Example CA"),
        ("${iot:Certificate.Issuer.State}", "WA"),
        (
            "${iot:Certificate.Subject.AlternativeName.DNSName}",
            "lamp.example",
        ),
        (
            "${iot:Certificate.Subject.AlternativeName.DNSName.1}",
            "lamp2.example",
        ),
        (
            "${iot:Certificate.Subject.AlternativeName.IPAddress}",
            "10.0.0.1",
        ),
        (
            "${iot:Certificate.Subject.AlternativeName.RFC822Name}",
            "ops@example.com",
        ),
        (
            "${iot:Certificate.Issuer.AlternativeName.UniformResourceIdentifier}",
            "https://ca.example",
        ),
        ("${aws:SourceIp}", "2001:db8::1"),
        ("${iot:clientid}", "lamp-1"),
        // A distinguished-name value is presented with special characters escaped.
        ("${iot:Certificate.Subject.Title}", "Big\\, Important"),
    ];
    for (pattern, topic) in cases {
        assert!(
            publish(pattern, topic, &ctx),
            "{pattern} should give {topic}"
        );
        assert!(missing(pattern, &ctx).is_empty(), "{pattern}");
        assert!(!publish(pattern, "something-else", &ctx), "{pattern}");
    }
}

#[test]
fn missing_variables_do_not_match() {
    let ctx = rich();
    let cases = [
        "${iot:Certificate.Subject.OrganizationalUnit.3}",
        "${iot:Certificate.Subject.OrganizationalUnit.List}",
        "${iot:Certificate.Subject.Locality}",
        "${iot:Certificate.Subject.AlternativeName.DirectoryName}",
        "${iot:Connection.Thing.Attributes[missing]}",
        "${iot:ConnectAttributes}",
        "${iot:LastWillTopic}",
        "${aws:username}",
        // Certificate values over 1024 characters or containing * $ + ? # are not substituted.
        "${iot:Certificate.Subject.GivenName}",
        "${iot:Certificate.Subject.Pseudonym}",
    ];
    for pattern in cases {
        let name = &pattern[2..pattern.len() - 1];
        assert_eq!(missing(pattern, &ctx), [name], "{pattern}");
        // Not even a pattern that would otherwise match anything after it.
        assert!(
            !publish(&format!("{pattern}*"), "anything", &ctx),
            "{pattern}"
        );
        assert!(!publish(&format!("{pattern}*"), pattern, &ctx), "{pattern}");
    }
    let bare = context("c");
    for pattern in [
        "${iot:Certificate.SerialNumber}",
        "${iot:CertificateId}",
        "${aws:SourceIp}",
        "${iot:Connection.Thing.ThingTypeName}",
    ] {
        assert!(!publish(pattern, "", &bare), "{pattern}");
        assert_eq!(missing(pattern, &bare), [&pattern[2..pattern.len() - 1]]);
    }
    let no_type = Context {
        thing: Some(ThingContext {
            name: "c".into(),
            ..Default::default()
        }),
        ..context("c")
    };
    assert_eq!(
        missing("${iot:Connection.Thing.ThingTypeName}", &no_type),
        ["iot:Connection.Thing.ThingTypeName"]
    );
}

#[test]
fn a_deny_with_a_missing_variable_denies_nothing() {
    let policies = [
        policy(
            "allow",
            &statement("Allow", r#""iot:Publish""#, r#""*""#, ""),
        ),
        policy(
            "deny",
            &statement(
                "Deny",
                r#""iot:Publish""#,
                &format!(r#""{}""#, arn("topic/${iot:Connection.Thing.ThingName}/*")),
                "",
            ),
        ),
    ];
    let ctx = context("c");
    let evaluation = evaluate(&policies, Action::Publish, &arn("topic/c/x"), &ctx);
    assert_eq!(evaluation.decision, Decision::Allowed);
    assert_eq!(
        evaluation.missing_context_values,
        ["iot:Connection.Thing.ThingName"]
    );
    assert_eq!(
        decide(&policies, &ctx, Action::Publish, "topic/c/x"),
        Decision::Allowed
    );
    let thing = Context {
        thing: Some(ThingContext {
            name: "c".into(),
            ..Default::default()
        }),
        ..context("c")
    };
    assert_eq!(
        decide(&policies, &thing, Action::Publish, "topic/c/x"),
        Decision::ExplicitDeny
    );
}

#[test]
fn substituted_values_are_literal() {
    // A client id with wildcard characters does not widen the pattern it is substituted into.
    let ctx = context("a*");
    assert!(publish("${iot:ClientId}/x", "a*/x", &ctx));
    assert!(!publish("${iot:ClientId}/x", "abc/x", &ctx));
    let ctx = context("dev+1#");
    assert!(publish("${iot:ClientId}", "dev+1#", &ctx));
    assert!(!publish("${iot:ClientId}", "dev+1", &ctx));
}

#[test]
fn escapes() {
    let ctx = context("c");
    assert!(publish("a${*}", "a*", &ctx));
    assert!(!publish("a${*}", "ab", &ctx));
    assert!(publish("a${?}", "a?", &ctx));
    assert!(!publish("a${?}", "ab", &ctx));
    assert!(publish("${$}aws/x", "$aws/x", &ctx));
    assert!(publish("$aws/${iot:ClientId}", "$aws/c", &ctx));
    // An unclosed `${` is literal text.
    assert!(publish("${iot:ClientId", "${iot:ClientId", &ctx));
}

#[test]
fn variables_in_condition_values() {
    let ctx = rich();
    let holds = |condition: &str| {
        let policies = [policy(
            "p",
            &statement("Allow", r#""iot:Connect""#, r#""*""#, condition),
        )];
        allowed(&policies, &ctx, Action::Connect, "client/lamp-1")
    };
    assert!(holds(
        r#"{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}"#
    ));
    assert!(!holds(
        r#"{"StringLike":{"iot:ClientId":"${iot:Connection.Thing.ThingTypeName}*"}}"#
    ));
    assert!(holds(
        r#"{"StringEqualsIgnoreCase":{"iot:ClientId":"${iot:Connection.Thing.ThingTypeName}-1"}}"#
    ));
    assert!(!holds(
        r#"{"StringEquals":{"iot:ClientId":"${iot:LastWillTopic}"}}"#
    ));
    // A value whose variable is missing matches nothing, so a negated operator holds.
    assert!(holds(
        r#"{"StringNotEquals":{"iot:ClientId":"${iot:LastWillTopic}"}}"#
    ));
}

#[test]
fn certificate_condition_keys() {
    let ctx = rich();
    let holds = |condition: &str| {
        let policies = [policy(
            "p",
            &statement("Allow", r#""iot:Connect""#, r#""*""#, condition),
        )];
        allowed(&policies, &ctx, Action::Connect, "client/lamp-1")
    };
    let cases = [
        (
            r#"{"StringEquals":{"iot:Certificate.Subject.CommonName":"lamp-1.example"}}"#,
            true,
        ),
        (
            r#"{"StringEquals":{"iot:Certificate.SerialNumber":"10525622389124227206"}}"#,
            true,
        ),
        (
            r#"{"StringEquals":{"iot:Certificate.Subject.OrganizationalUnit.1":"ou-b"}}"#,
            true,
        ),
        (
            r#"{"ForAllValues:StringLike":{"iot:Certificate.Subject.OrganizationalUnit.List":"ou-*"}}"#,
            true,
        ),
        (
            r#"{"ForAllValues:StringEquals":{"iot:Certificate.Subject.OrganizationalUnit.List":["ou-a","ou-b"]}}"#,
            false,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"iot:Certificate.Subject.OrganizationalUnit.List":"ou-c"}}"#,
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"iot:Certificate.Subject.AlternativeName.DNSName.List":"lamp2.example"}}"#,
            true,
        ),
        (
            r#"{"StringEquals":{"iot:Certificate.Subject.AlternativeName.DNSName":"lamp2.example"}}"#,
            false,
        ),
        (
            r#"{"StringEquals":{"iot:Certificate.Subject.Title":"Big\\, Important"}}"#,
            true,
        ),
        (
            r#"{"StringEquals":{"iot:Certificate.Subject.Title":"Big, Important"}}"#,
            false,
        ),
        (
            r#"{"Null":{"iot:Certificate.Subject.Pseudonym":"true"}}"#,
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"iot:Certificate.AvailableKeys":"iot:Certificate.Subject.CommonName"}}"#,
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"iot:Certificate.AvailableKeys":"iot:Certificate.Subject.AlternativeName.DNSName"}}"#,
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"iot:Certificate.AvailableKeys":"iot:Certificate.Subject.Locality"}}"#,
            false,
        ),
        (
            r#"{"StringEquals":{"iot:Connection.Thing.Attributes[room]":"kitchen","iot:Connection.Thing.ThingTypeName":"Lamp"}}"#,
            true,
        ),
        (
            r#"{"StringEquals":{"iot:Connection.Thing.Attributes[Room]":"kitchen"}}"#,
            false,
        ),
    ];
    for (condition, expected) in cases {
        assert_eq!(holds(condition), expected, "{condition}");
    }
}

#[test]
fn certificate_arrays_are_capped_at_five_values() {
    let ctx = Context {
        certificate: Some(CertificateContext {
            subject: (0..7)
                .map(|i| ("OrganizationalUnit".to_owned(), format!("ou{i}")))
                .collect(),
            ..CertificateContext::default()
        }),
        ..context("c")
    };
    assert!(publish(
        "${iot:Certificate.Subject.OrganizationalUnit.4}",
        "ou4",
        &ctx
    ));
    assert!(!publish(
        "${iot:Certificate.Subject.OrganizationalUnit.5}*",
        "ou5",
        &ctx
    ));
    let policies = [policy(
        "p",
        &statement(
            "Allow",
            r#""iot:Connect""#,
            r#""*""#,
            r#"{"ForAnyValue:StringEquals":{"iot:Certificate.Subject.OrganizationalUnit.List":"ou5"}}"#,
        ),
    )];
    assert!(!allowed(&policies, &ctx, Action::Connect, "client/c"));
}
