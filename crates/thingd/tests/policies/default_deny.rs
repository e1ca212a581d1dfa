//! Default deny: a registered, ACTIVE certificate with no policy attached may do nothing, not
//! even connect; TestAuthorization says so too.

use aws_sdk_iot::types::{ActionType, AuthDecision};
use mqtt_codec::ProtocolVersion::{V5, V311};
use testkit::TestServer;

use crate::iot::{assert_refused, sdk, test_authorization};

#[tokio::test]
async fn a_device_with_no_policy_cannot_connect() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
    let cert = server.issue_client_without_policy("bare").await.unwrap();
    for version in [V5, V311] {
        assert_refused(&server, &cert, version, "bare").await;
    }
    for (action, resource) in [
        (ActionType::Connect, "client/bare"),
        (ActionType::Publish, "topic/bare/x"),
        (ActionType::Subscribe, "topicfilter/bare/#"),
        (ActionType::Receive, "topic/bare/x"),
    ] {
        let decided =
            test_authorization(&iot, &server, &cert, "bare", action.clone(), resource).await;
        assert_eq!(
            decided.decision,
            AuthDecision::ImplicitDeny,
            "{action:?} {resource}"
        );
        assert!(decided.allowing.is_empty() && decided.explicitly_denying.is_empty());
    }
    server.shutdown().await;
}
