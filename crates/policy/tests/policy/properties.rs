//! Properties: parsing and evaluation never panic, and the compiled policy decides as `evaluate`.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use thingd_policy::{
    Action, CertificateContext, ConnectionPolicy, Context, Decision, NamedPolicy, PolicyDocument,
    ThingContext, evaluate,
};

use crate::{ACCOUNT, REGION, arn};

/// Short strings over an alphabet rich in the characters policies treat specially.
fn word() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ab/+#*?$é]{0,4}").expect("valid regex")
}

fn action_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        Just("iot:*".to_owned()),
        Just("iot:Publish".to_owned()),
        Just("iot:Receive".to_owned()),
        Just("iot:Subscribe".to_owned()),
        Just("iot:Connect".to_owned()),
        Just("iot:*Publish".to_owned()),
        Just("iot:Get*".to_owned()),
    ]
}

fn resource_pattern() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        Just("topic/"),
        Just("topicfilter/"),
        Just("client/"),
        Just("thing/"),
        Just("")
    ];
    let var = prop_oneof![
        Just(""),
        Just("${iot:ClientId}"),
        Just("${iot:Connection.Thing.ThingName}"),
        Just("${iot:Certificate.Subject.CommonName}"),
        Just("${*}"),
        Just("${?}"),
    ];
    let head = prop_oneof![
        Just(format!("arn:aws:iot:{REGION}:{ACCOUNT}:")),
        Just("arn:aws:iot:*:*:".to_owned()),
        Just("arn:aws:iot:us-?ast-1:*:".to_owned()),
        Just("arn:aws:iot:eu-west-1:1:".to_owned()),
        Just("arn:*".to_owned()),
        Just("*".to_owned()),
    ];
    (head, kind, word(), var, word()).prop_map(|(head, kind, a, var, b)| {
        if head == "*" || head == "arn:*" {
            format!("{head}{a}")
        } else {
            format!("{head}{kind}{a}{var}{b}")
        }
    })
}

fn condition() -> impl Strategy<Value = String> {
    let op = prop_oneof![
        Just("StringEquals"),
        Just("StringNotEquals"),
        Just("StringLike"),
        Just("StringNotLikeIfExists"),
        Just("ForAllValues:StringEquals"),
        Just("ForAnyValue:StringLike"),
    ];
    let key = prop_oneof![
        Just("iot:ClientId"),
        Just("iot:ConnectAttributes"),
        Just("iot:LastWillTopic"),
        Just("iot:Connection.Thing.ThingName")
    ];
    prop_oneof![
        Just(String::new()),
        (op, key, word()).prop_map(|(op, key, v)| format!(
            r#","Condition":{{"{op}":{{"{key}":{}}}}}"#,
            serde_json_string(&v)
        )),
        Just(r#","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}"#.to_owned()),
        Just(r#","Condition":{"Null":{"iot:LastWillTopic":"true"}}"#.to_owned()),
        Just(r#","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#.to_owned()),
    ]
}

fn serde_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn statement_json() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("Allow"), Just("Deny")],
        prop::bool::ANY,
        prop::collection::vec(action_pattern(), 1..3),
        prop::bool::ANY,
        prop::collection::vec(resource_pattern(), 1..3),
        condition(),
    )
        .prop_map(
            |(effect, not_action, actions, not_resource, resources, condition)| {
                let list = |v: &[String]| {
                    format!(
                        "[{}]",
                        v.iter()
                            .map(|s| serde_json_string(s))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                };
                format!(
                    r#"{{"Effect":"{effect}","{}":{},"{}":{}{condition}}}"#,
                    if not_action { "NotAction" } else { "Action" },
                    list(&actions),
                    if not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    },
                    list(&resources),
                )
            },
        )
}

fn policies() -> impl Strategy<Value = Vec<NamedPolicy>> {
    prop::collection::vec(prop::collection::vec(statement_json(), 1..4), 1..4).prop_map(|docs| {
        docs.into_iter()
            .enumerate()
            .filter_map(|(i, statements)| {
                let text = format!(
                    r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
                    statements.join(",")
                );
                // Generated documents may exceed the size quota; those are simply left out.
                PolicyDocument::parse(&text)
                    .ok()
                    .map(|document| NamedPolicy {
                        name: format!("p{i}"),
                        arn: format!("arn:aws:iot:{REGION}:{ACCOUNT}:policy/p{i}"),
                        document: Arc::new(document),
                    })
            })
            .collect()
    })
}

fn contexts() -> impl Strategy<Value = Context> {
    (
        prop::option::of(word()),
        prop::bool::ANY,
        prop::option::of(word()),
        prop::collection::vec(
            prop_oneof![
                Just("PersistentConnect".to_owned()),
                Just("LastWill".to_owned())
            ],
            0..3,
        ),
        prop::option::of(word()),
        prop::bool::ANY,
    )
        .prop_map(
            |(client_id, thing, cn, connect_attributes, last_will_topic, ip)| {
                let thing = thing.then(|| ThingContext {
                    name: client_id.clone().unwrap_or_default(),
                    thing_type: None,
                    attributes: BTreeMap::new(),
                });
                Context {
                    region: REGION.to_owned(),
                    account: ACCOUNT.to_owned(),
                    client_id,
                    source_ip: ip.then(|| "10.1.2.3".parse().expect("valid address")),
                    thing,
                    certificate: cn.map(|cn| CertificateContext {
                        subject: vec![("CommonName".into(), cn)],
                        ..CertificateContext::default()
                    }),
                    connect_attributes,
                    last_will_topic,
                }
            },
        )
}

fn any_action() -> impl Strategy<Value = Action> {
    prop::sample::select(Action::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_text(text in "\\PC{0,200}") {
        let _ = PolicyDocument::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_json_ish_text(
        parts in prop::collection::vec(prop_oneof![
            Just("{"), Just("}"), Just("["), Just("]"), Just(","), Just(":"), Just("\"Version\""),
            Just("\"2012-10-17\""), Just("\"Statement\""), Just("\"Effect\""), Just("\"Allow\""),
            Just("\"Deny\""), Just("\"Action\""), Just("\"NotAction\""), Just("\"Resource\""),
            Just("\"NotResource\""), Just("\"Condition\""), Just("\"StringLike\""), Just("\"Null\""),
            Just("\"ForAllValues:StringEqualsIfExists\""), Just("\"iot:ClientId\""), Just("\"*\""),
            Just("\"iot:*\""), Just("\"arn:${iot:ClientId}\""), Just("\"Sid\""), Just("true"),
            Just("1"), Just("null"), Just("\"${\""), Just("\"10.0.0.0/8\""), Just("\"IpAddress\""),
        ], 0..60)
    ) {
        let text: String = parts.concat();
        let _ = PolicyDocument::parse(&text);
    }

    #[test]
    fn evaluate_never_panics(policies in policies(), context in contexts(), action in any_action(), resource in "\\PC{0,40}") {
        let evaluation = evaluate(&policies, action, &resource, &context);
        prop_assert_eq!(evaluation.implicitly_denying.is_empty(), evaluation.decision != Decision::ImplicitDeny || policies.is_empty());
        let compiled = ConnectionPolicy::compile(&policies, &context);
        let _ = compiled.allows(action, &resource);
        let _ = compiled.allows_topic(action, &resource);
        let _ = compiled.allows_topic_filter(&resource);
    }

    #[test]
    fn compiled_agrees_with_evaluate(policies in policies(), context in contexts(), action in any_action(), rest in word(), kind in 0..4usize) {
        let compiled = ConnectionPolicy::compile(&policies, &context);
        let (suffix, fast) = match kind {
            0 => (format!("topic/{rest}"), Some(compiled.allows_topic(action, &rest))),
            1 => (format!("topicfilter/{rest}"), (action == Action::Subscribe).then(|| compiled.allows_topic_filter(&rest))),
            2 => (format!("thing/{rest}"), None),
            _ => (format!("client/{rest}"), None),
        };
        let expected = evaluate(&policies, action, &arn(&suffix), &context).decision == Decision::Allowed;
        prop_assert_eq!(compiled.allows(action, &suffix), expected, "allows {}", suffix);
        if let Some(fast) = fast {
            prop_assert_eq!(fast, expected, "fast path {}", suffix);
        }
        if let Some(client_id) = &context.client_id {
            let connect = evaluate(&policies, Action::Connect, &arn(&format!("client/{client_id}")), &context).decision == Decision::Allowed;
            prop_assert_eq!(compiled.allows_connect(), connect);
        }
    }
}
