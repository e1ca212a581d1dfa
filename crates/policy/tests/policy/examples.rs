//! The example policies of the reference (§4.8), evaluated as AWS IoT would.

use thingd_policy::{Action, CertificateContext, Context, Decision, ThingContext, evaluate};

use crate::{allowed, arn, context, decide, policy};

#[test]
fn iot_button_publishes_only_to_its_topic() {
    let button = policy(
        "button",
        r#"{"Version":"2012-10-17","Statement":[{"Action":"iot:Publish","Effect":"Allow",
            "Resource":"arn:aws:iot:us-east-1:123456789012:topic/iotbutton/G030JF051234A5BC"}]}"#,
    );
    let policies = [button];
    let ctx = context("G030JF051234A5BC");
    let cases = [
        (Action::Publish, "topic/iotbutton/G030JF051234A5BC", true),
        (Action::Publish, "topic/iotbutton/G030JF051234A5BD", false),
        (Action::Publish, "topic/iotbutton/G030JF051234A5BC/x", false),
        (Action::Publish, "topic/iotbutton", false),
        (
            Action::RetainPublish,
            "topic/iotbutton/G030JF051234A5BC",
            false,
        ),
        (Action::Receive, "topic/iotbutton/G030JF051234A5BC", false),
        (
            Action::Subscribe,
            "topicfilter/iotbutton/G030JF051234A5BC",
            false,
        ),
        (Action::Connect, "client/G030JF051234A5BC", false),
    ];
    for (action, resource, expected) in cases {
        assert_eq!(
            allowed(&policies, &ctx, action, resource),
            expected,
            "{action} {resource}"
        );
    }
    // Another region or account is another resource.
    let evaluation = evaluate(
        &policies,
        Action::Publish,
        "arn:aws:iot:eu-west-1:123456789012:topic/iotbutton/G030JF051234A5BC",
        &ctx,
    );
    assert_eq!(evaluation.decision, Decision::ImplicitDeny);
    assert_eq!(evaluation.implicitly_denying.len(), 1);
    assert_eq!(evaluation.implicitly_denying[0].name, "button");
}

const THING_SCOPED: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}",
  "Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}},
 {"Effect":"Allow","Action":"iot:Publish","Resource":[
   "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/*",
   "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"]},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"},
 {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"}]}"#;

fn with_thing(client_id: &str, thing: Option<&str>) -> Context {
    Context {
        thing: thing.map(|name| ThingContext {
            name: name.to_owned(),
            ..ThingContext::default()
        }),
        ..context(client_id)
    }
}

#[test]
fn thing_scoped_policy_needs_client_id_equal_to_thing_name() {
    let policies = [policy("thing", THING_SCOPED)];
    let attached = with_thing("sensor-1", Some("sensor-1"));
    let cases = [
        (Action::Connect, "client/sensor-1", true),
        (Action::Connect, "client/sensor-2", false),
        (Action::Publish, "topic/sensor-1/temperature", true),
        (Action::Publish, "topic/sensor-1/a/b/c", true),
        (Action::Publish, "topic/sensor-2/temperature", false),
        (Action::Publish, "topic/sensor-1", false),
        (
            Action::Publish,
            "topic/$aws/things/sensor-1/shadow/update",
            true,
        ),
        (
            Action::Publish,
            "topic/$aws/things/sensor-2/shadow/update",
            false,
        ),
        (
            Action::Subscribe,
            "topicfilter/$aws/things/sensor-1/shadow/+/accepted",
            true,
        ),
        (
            Action::Subscribe,
            "topicfilter/$aws/things/sensor-1/shadow/#",
            true,
        ),
        (
            Action::Subscribe,
            "topicfilter/$aws/things/+/shadow/#",
            false,
        ),
        (
            Action::Receive,
            "topic/$aws/things/sensor-1/shadow/update/accepted",
            true,
        ),
        (Action::Receive, "topic/sensor-1/temperature", false),
    ];
    for (action, resource, expected) in cases {
        assert_eq!(
            allowed(&policies, &attached, action, resource),
            expected,
            "{action} {resource}"
        );
    }
    // Without a thing, or with a client id other than the thing's name, the thing variables do
    // not resolve and nothing is allowed.
    for ctx in [
        with_thing("sensor-1", None),
        with_thing("other", Some("sensor-1")),
    ] {
        for (action, resource, _) in cases {
            assert_eq!(
                decide(&policies, &ctx, action, resource),
                Decision::ImplicitDeny,
                "{action} {resource}"
            );
        }
        let evaluation = evaluate(&policies, Action::Publish, &arn("topic/sensor-1/x"), &ctx);
        assert_eq!(
            evaluation.missing_context_values,
            ["iot:Connection.Thing.ThingName"]
        );
    }
}

#[test]
fn deny_of_one_policy_beats_allow_of_another() {
    let deny = policy(
        "deny-clients",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:Connect","Resource":[
            "arn:aws:iot:us-east-1:123456789012:client/client1","arn:aws:iot:us-east-1:123456789012:client/client2"]}]}"#,
    );
    let allow = policy(
        "allow-things",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect",
            "Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"}]}"#,
    );
    let policies = [allow, deny];
    for (client, expected) in [
        ("client1", Decision::ExplicitDeny),
        ("client2", Decision::ExplicitDeny),
        ("client3", Decision::Allowed),
    ] {
        let ctx = with_thing(client, Some(client));
        assert_eq!(
            decide(
                &policies,
                &ctx,
                Action::Connect,
                &format!("client/{client}")
            ),
            expected,
            "{client}"
        );
    }
    let ctx = with_thing("client1", Some("client1"));
    let evaluation = evaluate(&policies, Action::Connect, &arn("client/client1"), &ctx);
    assert_eq!(evaluation.decision, Decision::ExplicitDeny);
    assert_eq!(
        evaluation
            .allowing
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["allow-things"]
    );
    assert_eq!(
        evaluation
            .denying
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["deny-clients"]
    );
    assert_eq!(
        evaluation.denying[0].arn,
        "arn:aws:iot:us-east-1:123456789012:policy/deny-clients"
    );
    assert!(evaluation.implicitly_denying.is_empty());
}

fn certificate(organizations: &[&str]) -> CertificateContext {
    CertificateContext {
        id: "abc".into(),
        subject: organizations
            .iter()
            .map(|o| ("Organization".to_owned(), (*o).to_owned()))
            .collect(),
        ..CertificateContext::default()
    }
}

#[test]
fn retained_configuration_with_certificate_organizations() {
    let policies = [policy(
        "retained",
        r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/device1"},
 {"Effect":"Allow","Action":["iot:Publish","iot:RetainPublish"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/device/sample/configuration",
  "Condition":{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Organization.List":["Example Corp","AnyCompany"]}}}]}"#,
    )];
    let topic = "topic/device/sample/configuration";
    let cases: [(&[&str], bool); 5] = [
        (&["Example Corp"], true),
        (&["Example Corp", "AnyCompany"], true),
        (&["Example Corp", "Other"], false),
        (&["Other"], false),
        // No organization at all: ForAllValues over an empty set holds, as in IAM.
        (&[], true),
    ];
    for (organizations, expected) in cases {
        let ctx = Context {
            certificate: Some(certificate(organizations)),
            ..context("device1")
        };
        assert_eq!(
            allowed(&policies, &ctx, Action::Publish, topic),
            expected,
            "{organizations:?}"
        );
        assert_eq!(
            allowed(&policies, &ctx, Action::RetainPublish, topic),
            expected,
            "{organizations:?}"
        );
        assert!(allowed(&policies, &ctx, Action::Connect, "client/device1"));
        assert!(!allowed(&policies, &ctx, Action::Connect, "client/device2"));
    }
}

#[test]
fn persistent_sessions_only() {
    let policies = [policy(
        "persistent",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*",
            "Condition":{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]}}}]}"#,
    )];
    let attributes = |attrs: &[&str]| Context {
        connect_attributes: attrs.iter().map(|a| (*a).to_owned()).collect(),
        ..context("c")
    };
    assert!(allowed(
        &policies,
        &attributes(&["PersistentConnect"]),
        Action::Connect,
        "client/c"
    ));
    assert!(!allowed(
        &policies,
        &attributes(&["PersistentConnect", "LastWill"]),
        Action::Connect,
        "client/c"
    ));
    assert!(!allowed(
        &policies,
        &attributes(&["LastWill"]),
        Action::Connect,
        "client/c"
    ));
    assert!(allowed(
        &policies,
        &attributes(&[]),
        Action::Connect,
        "client/c"
    ));
}
