//! The AWS IoT Button's policy (reference §4.8, example 1): its certificate may publish to
//! `iotbutton/<serial>` and nowhere else. A click published by mosquitto_pub over TLS reaches a
//! subscriber; a publish elsewhere closes the button's MQTT 3.1.1 connection (3.1.1 has no
//! negative PUBACK) and reaches nobody; TestAuthorization says the same.

use aws_sdk_iot::types::{ActionType, AuthDecision};
use mqtt_codec::ProtocolVersion::{V5, V311};
use mqtt_codec::ReasonCode;
use serde_json::json;
use testkit::TestServer;
use testkit::mosquitto::{Endpoint, Subscriber, TlsFiles, message_line, mosquitto_pub_output};

use crate::iot::{
    QOS1, allow, arn, attach_policy, create_policy, device, document, sdk, test_authorization,
};
use crate::support::{Client, Net};

const SERIAL: &str = "G030JF051234A5BC";

/// The quick-start's document, in the test server's partition.
fn button_policy() -> String {
    document(json!([{
        "Action": "iot:Publish",
        "Effect": "Allow",
        "Resource": arn(&format!("topic/iotbutton/{SERIAL}")),
    }]))
}

#[tokio::test]
async fn the_iot_button_may_publish_to_its_own_topic_only() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
    let button = server.issue_client_without_policy(SERIAL).await.unwrap();
    let target = server.certificate_arn(&button);
    // The quick-start's policy as it is, plus the iot:Connect every AWS IoT device also needs
    // (a policy of its own, so the button's document stays verbatim).
    create_policy(&iot, "iot-button", &button_policy()).await;
    create_policy(
        &iot,
        "connect-as-self",
        &document(json!([allow(
            &["iot:Connect"],
            &[&format!("client/{SERIAL}")]
        )])),
    )
    .await;
    attach_policy(&iot, "iot-button", &target).await;
    attach_policy(&iot, "connect-as-self", &target).await;

    // Someone allowed to see everything watches.
    let watcher = Endpoint::testkit_tls(&server);
    let mut sub = Subscriber::start(&watcher, V5, "#", 1, &[]).await;

    let button_tls = Endpoint::tls(server.mqtt_tls, TlsFiles::bundle(&button.dir));
    let click = format!("iotbutton/{SERIAL}");
    let published = mosquitto_pub_output(
        &button_tls,
        V311,
        &["-i", SERIAL, "-t", &click, "-q", "1", "-m", "SINGLE"],
        None,
    )
    .await;
    published.assert_success("mosquitto_pub to the button's own topic");
    assert_eq!(
        sub.next_message().await,
        message_line(&click, 1, false, "SINGLE")
    );

    // Elsewhere: the server closes the connection instead of acknowledging.
    let elsewhere = mosquitto_pub_output(
        &button_tls,
        V311,
        &[
            "-i",
            SERIAL,
            "-t",
            "iotbutton/someone-else",
            "-q",
            "1",
            "-m",
            "x",
        ],
        None,
    )
    .await;
    assert!(
        !elsewhere.status.success(),
        "mosquitto_pub to another topic succeeded: {elsewhere:?}"
    );
    // The same, seen packet by packet, for both versions: 3.1.1 closes, 5.0 answers PUBACK
    // 0x87 and keeps the connection.
    let mut v311 = device(&server, &button, V311, SERIAL).await;
    v311.send_publish("iotbutton/someone-else", b"x", QOS1, 1)
        .await;
    assert_eq!(v311.expect_close().await, []);
    let mut v5 = device(&server, &button, V5, SERIAL).await;
    assert_eq!(
        v5.publish1("iotbutton/someone-else", b"x").await,
        ReasonCode::NotAuthorized
    );
    assert!(crate::iot::accepted(v5.publish1(&click, b"DOUBLE").await));
    // Nothing but the clicks reached the watcher: the next message it prints is the second
    // click, and then a marker from a client that may publish anywhere.
    assert_eq!(
        sub.next_message().await,
        message_line(&click, 1, false, "DOUBLE")
    );
    let mut other = Client::connect(&server, Net::Tcp, V5, "marker").await;
    assert!(crate::iot::accepted(other.publish1("marker", b"end").await));
    assert_eq!(
        sub.next_message().await,
        message_line("marker", 1, false, "end")
    );
    // Nor may the button subscribe, or connect under another client id.
    assert_eq!(
        v5.subscribe_with(&[(click.as_str(), crate::support::opts(QOS1))], None)
            .await
            .reason_codes,
        [ReasonCode::NotAuthorized]
    );
    crate::iot::assert_refused(&server, &button, V311, "not-the-button").await;

    // TestAuthorization agrees.
    let decided = test_authorization(
        &iot,
        &server,
        &button,
        SERIAL,
        ActionType::Publish,
        &format!("topic/{click}"),
    )
    .await;
    assert_eq!(decided.decision, AuthDecision::Allowed);
    assert_eq!(decided.allowing, ["iot-button"]);
    for (action, resource) in [
        (
            ActionType::Publish,
            "topic/iotbutton/someone-else".to_owned(),
        ),
        (ActionType::Subscribe, format!("topicfilter/{click}")),
        (ActionType::Connect, "client/not-the-button".to_owned()),
    ] {
        let decided =
            test_authorization(&iot, &server, &button, SERIAL, action.clone(), &resource).await;
        assert_eq!(
            decided.decision,
            AuthDecision::ImplicitDeny,
            "{action:?} {resource}"
        );
    }
    let decided = test_authorization(
        &iot,
        &server,
        &button,
        SERIAL,
        ActionType::Connect,
        &format!("client/{SERIAL}"),
    )
    .await;
    assert_eq!(decided.decision, AuthDecision::Allowed);
    drop(sub);
    server.shutdown().await;
}
