//! Shared subscriptions: iot:Subscribe is checked on the filter as the client sent it,
//! `topicfilter/$share/{ShareName}/{filter}`, as AWS IoT's developer guide writes policies for
//! them, so a policy can let a client join one group and not another, nor subscribe to the
//! filter unshared; the group's messages are checked with iot:Receive on their topic.

use mqtt_codec::ProtocolVersion::{V5, V311};
use mqtt_codec::ReasonCode;
use serde_json::json;
use testkit::TestServer;

use crate::iot::{QOS1, accepted, allow, create_policy, document, sdk};
use crate::support::{Client, Net, by_version, opts};

#[tokio::test]
async fn a_shared_subscription_is_authorized_with_its_share_name() {
    let server = TestServer::start_with_tcp_policy(Default::default(), Some("workers"))
        .await
        .unwrap();
    create_policy(
        &sdk(&server),
        "workers",
        &document(json!([
            allow(&["iot:Connect", "iot:Publish", "iot:Receive"], &["*"]),
            allow(&["iot:Subscribe"], &["topicfilter/$share/workers/jobs/*"]),
        ])),
    )
    .await;
    for version in [V5, V311] {
        let mut worker = Client::connect(&server, Net::Tcp, version, "worker").await;
        let refused = by_version(
            version,
            ReasonCode::NotAuthorized,
            ReasonCode::UnspecifiedError,
        );
        let suback = worker
            .subscribe_with(
                &[
                    ("$share/workers/jobs/#", opts(QOS1)),
                    ("$share/others/jobs/#", opts(QOS1)),
                    ("jobs/#", opts(QOS1)),
                ],
                None,
            )
            .await;
        assert_eq!(
            suback.reason_codes,
            [ReasonCode::GrantedQoS1, refused, refused],
            "{version}"
        );
        let mut boss = Client::connect(&server, Net::Tcp, V5, "boss").await;
        assert!(accepted(boss.publish1("jobs/1", b"do it").await));
        assert_eq!(worker.expect_publish().await.topic.as_str(), "jobs/1");
        boss.disconnect().await;
        worker.disconnect().await;
    }
    server.shutdown().await;
}
