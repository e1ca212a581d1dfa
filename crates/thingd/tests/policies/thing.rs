//! A policy scoped by thing name (reference §4.8, example 2): `iot:Connect` on
//! `client/${iot:Connection.Thing.ThingName}` when the thing is attached to the certificate, and
//! publish, subscribe and receive under the thing's own topics. The certificate connects with
//! the thing's name as client id and with no other; a certificate not attached to the thing
//! cannot borrow its name; TestAuthorization agrees.

use aws_sdk_iot::types::{ActionType, AuthDecision};
use mqtt_codec::ProtocolVersion::{V5, V311};
use mqtt_codec::ReasonCode;
use serde_json::json;
use testkit::TestServer;

use crate::iot::{QOS1, arn, assert_refused, device, document, give, sdk, test_authorization};
use crate::support::{Client, Net, by_version};

fn thing_scoped() -> String {
    document(json!([
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": arn("client/${iot:Connection.Thing.ThingName}"),
         "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": [
            arn("topic/${iot:Connection.Thing.ThingName}/*"),
            arn("topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*")]},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": arn("topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*")},
        {"Effect": "Allow", "Action": "iot:Receive",
         "Resource": arn("topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*")},
    ]))
}

#[tokio::test]
async fn a_thing_scoped_policy_lets_a_device_connect_as_its_thing_only() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
    let cert = server
        .issue_client_without_policy("sensor-7")
        .await
        .unwrap();
    give(&iot, &server, &cert, "thing-scoped", &thing_scoped()).await;
    iot.create_thing()
        .thing_name("sensor-7")
        .send()
        .await
        .unwrap();

    // Not yet attached to the thing: the thing name resolves to nothing.
    assert_refused(&server, &cert, V5, "sensor-7").await;
    iot.attach_thing_principal()
        .thing_name("sensor-7")
        .principal(server.certificate_arn(&cert))
        .send()
        .await
        .unwrap();

    for version in [V5, V311] {
        assert_refused(&server, &cert, version, "sensor-8").await;
        let mut sensor = device(&server, &cert, version, "sensor-7").await;
        sensor
            .subscribe("$aws/things/sensor-7/shadow/#", QOS1)
            .await;
        assert_eq!(
            sensor
                .subscribe_with(
                    &[("$aws/things/sensor-8/shadow/#", crate::support::opts(QOS1))],
                    None
                )
                .await
                .reason_codes,
            [by_version(
                version,
                ReasonCode::NotAuthorized,
                ReasonCode::UnspecifiedError
            )],
            "another thing's shadow ({version})"
        );
        // Its own topics reach a watcher (a client that may do anything).
        let mut watcher = Client::connect(&server, Net::Tcp, V5, "watcher").await;
        watcher.subscribe("sensor-7/#", QOS1).await;
        assert!(crate::iot::accepted(
            sensor.publish1("sensor-7/temperature", b"21").await
        ));
        assert_eq!(
            watcher.expect_publish().await.topic.as_str(),
            "sensor-7/temperature"
        );
        watcher.disconnect().await;
        sensor.disconnect().await;
    }

    // Another certificate, not attached to the thing, cannot borrow its name.
    let stranger = server
        .issue_client_without_policy("stranger")
        .await
        .unwrap();
    iot.attach_policy()
        .policy_name("thing-scoped")
        .target(server.certificate_arn(&stranger))
        .send()
        .await
        .unwrap();
    assert_refused(&server, &stranger, V311, "sensor-7").await;

    // TestAuthorization agrees.
    let connect = |client_id: &'static str| {
        let (iot, server, cert) = (&iot, &server, &cert);
        async move {
            test_authorization(
                iot,
                server,
                cert,
                client_id,
                ActionType::Connect,
                &format!("client/{client_id}"),
            )
            .await
            .decision
        }
    };
    assert_eq!(connect("sensor-7").await, AuthDecision::Allowed);
    assert_eq!(connect("sensor-8").await, AuthDecision::ImplicitDeny);
    let publish = test_authorization(
        &iot,
        &server,
        &cert,
        "sensor-7",
        ActionType::Publish,
        "topic/sensor-7/temperature",
    )
    .await;
    assert_eq!(publish.decision, AuthDecision::Allowed);
    assert_eq!(publish.allowing, ["thing-scoped"]);
    server.shutdown().await;
}
