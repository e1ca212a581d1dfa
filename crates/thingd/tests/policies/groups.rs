//! A policy attached to a thing group applies to the things of its descendant groups: a device
//! whose thing is in a child group may do what its parent group's policy allows, when it
//! connects as that thing; removing the thing from the group takes the rights away from the
//! open connection.

use std::time::Duration;

use aws_sdk_iot::types::{ActionType, AuthDecision};
use mqtt_codec::ProtocolVersion::{V5, V311};
use mqtt_codec::ReasonCode;
use serde_json::json;
use testkit::TestServer;
use tokio::time::Instant;

use crate::iot::{
    allow, arn, assert_refused, attach_policy, create_policy, device, document, sdk,
    test_authorization,
};

#[tokio::test]
async fn a_parent_groups_policy_applies_to_a_thing_in_a_child_group() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
    iot.create_thing_group()
        .thing_group_name("factory")
        .send()
        .await
        .unwrap();
    iot.create_thing_group()
        .thing_group_name("line-1")
        .parent_group_name("factory")
        .send()
        .await
        .unwrap();
    iot.create_thing()
        .thing_name("press-1")
        .send()
        .await
        .unwrap();
    iot.add_thing_to_thing_group()
        .thing_group_name("line-1")
        .thing_name("press-1")
        .send()
        .await
        .unwrap();
    let cert = server.issue_client_without_policy("press-1").await.unwrap();
    iot.attach_thing_principal()
        .thing_name("press-1")
        .principal(server.certificate_arn(&cert))
        .send()
        .await
        .unwrap();
    create_policy(
        &iot,
        "factory-devices",
        &document(json!([
            allow(
                &["iot:Connect"],
                &["client/${iot:Connection.Thing.ThingName}"]
            ),
            allow(
                &["iot:Publish"],
                &["topic/factory/${iot:Connection.Thing.ThingName}/*"]
            ),
        ])),
    )
    .await;
    attach_policy(&iot, "factory-devices", &arn("thinggroup/factory")).await;

    // As its thing, through the group hierarchy; under another client id no thing, no group.
    assert_refused(&server, &cert, V311, "press-2").await;
    let mut press = device(&server, &cert, V5, "press-1").await;
    assert!(crate::iot::accepted(
        press.publish1("factory/press-1/pressure", b"7").await
    ));
    assert_eq!(
        press.publish1("factory/press-2/pressure", b"7").await,
        ReasonCode::NotAuthorized
    );
    let decided = test_authorization(
        &iot,
        &server,
        &cert,
        "press-1",
        ActionType::Publish,
        "topic/factory/press-1/pressure",
    )
    .await;
    assert_eq!(decided.decision, AuthDecision::Allowed);
    assert_eq!(decided.allowing, ["factory-devices"]);

    // Out of the group, the open connection loses iot:Connect and is closed.
    let since = Instant::now();
    iot.remove_thing_from_thing_group()
        .thing_group_name("line-1")
        .thing_name("press-1")
        .send()
        .await
        .unwrap();
    press.expect_disconnect(ReasonCode::NotAuthorized).await;
    let took = since.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "closed {took:?} after RemoveThingFromThingGroup"
    );
    assert_refused(&server, &cert, V5, "press-1").await;
    let decided = test_authorization(
        &iot,
        &server,
        &cert,
        "press-1",
        ActionType::Connect,
        "client/press-1",
    )
    .await;
    assert_eq!(decided.decision, AuthDecision::ImplicitDeny);
    server.shutdown().await;
}
