//! An explicit Deny in one policy beats an Allow in another attached to the same certificate:
//! for CONNECT (reference §4.8, example 3), PUBLISH, SUBSCRIBE and each delivery. TestAuthorization
//! names the denying policy.

use aws_sdk_iot::types::{ActionType, AuthDecision};
use mqtt_codec::ProtocolVersion::{V5, V311};
use mqtt_codec::ReasonCode;
use serde_json::json;
use testkit::TestServer;

use crate::iot::{
    QOS1, allow, assert_refused, deny, device, document, give, receives, sdk, test_authorization,
};
use crate::support::{Client, Net, opts};

#[tokio::test]
async fn an_explicit_deny_beats_an_allow_of_another_policy() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
    let cert = server.issue_client_without_policy("careful").await.unwrap();
    give(
        &iot,
        &server,
        &cert,
        "everything",
        &document(json!([allow(&["iot:*"], &["*"])])),
    )
    .await;
    give(
        &iot,
        &server,
        &cert,
        "no-secrets",
        &document(json!([
            deny(&["iot:Publish", "iot:Receive"], &["topic/secret/*"]),
            deny(&["iot:Subscribe"], &["topicfilter/secret/*"]),
            deny(&["iot:Connect"], &["client/client1", "client/client2"]),
        ])),
    )
    .await;

    assert_refused(&server, &cert, V5, "client1").await;
    assert_refused(&server, &cert, V311, "client2").await;

    let mut careful = device(&server, &cert, V5, "careful").await;
    assert_eq!(
        careful.publish1("secret/plans", b"x").await,
        ReasonCode::NotAuthorized
    );
    assert!(crate::iot::accepted(
        careful.publish1("public/news", b"x").await
    ));
    let suback = careful
        .subscribe_with(&[("secret/#", opts(QOS1)), ("#", opts(QOS1))], None)
        .await;
    assert_eq!(
        suback.reason_codes,
        [ReasonCode::NotAuthorized, ReasonCode::GrantedQoS1]
    );
    // Subscribed to everything, it still receives no secret.
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "publisher").await;
    assert!(
        !receives(
            &mut careful,
            &mut publisher,
            "secret/plans",
            "public/marker"
        )
        .await
    );
    assert!(receives(&mut careful, &mut publisher, "public/news", "public/marker").await);

    // TestAuthorization agrees and names the policy that denies.
    let decided = test_authorization(
        &iot,
        &server,
        &cert,
        "careful",
        ActionType::Receive,
        "topic/secret/plans",
    )
    .await;
    assert_eq!(decided.decision, AuthDecision::ExplicitDeny);
    assert_eq!(decided.explicitly_denying, ["no-secrets"]);
    let decided = test_authorization(
        &iot,
        &server,
        &cert,
        "client1",
        ActionType::Connect,
        "client/client1",
    )
    .await;
    assert_eq!(decided.decision, AuthDecision::ExplicitDeny);
    let decided = test_authorization(
        &iot,
        &server,
        &cert,
        "careful",
        ActionType::Publish,
        "topic/public/news",
    )
    .await;
    assert_eq!(decided.decision, AuthDecision::Allowed);
    assert_eq!(decided.allowing, ["everything"]);
    server.shutdown().await;
}
