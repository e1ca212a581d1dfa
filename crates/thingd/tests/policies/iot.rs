//! Helpers of the policy tests: an AWS SDK client of a test server, policy documents and ARNs of
//! its partition, the policy operations, TestAuthorization, and devices connecting over TLS with
//! a certificate of their own.

use aws_sdk_iot::Client;
use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iot::types::{ActionType, AuthDecision, AuthInfo};
use mqtt_codec::{ConnAck, ProtocolVersion, QoS, ReasonCode};
use serde_json::{Value, json};
use testkit::{ClientCert, TestServer};

use crate::support::{Client as Mqtt, connect_packet, tls_config};

/// The region and account of a test server's ARNs (thingd's defaults).
pub(crate) const REGION: &str = "us-east-1";
pub(crate) const ACCOUNT: &str = "000000000000";

/// An ARN of the test server's partition: `resource` is what follows the account
/// (`topic/a/b`, `client/x`, `cert/<id>`, `thinggroup/g`).
pub(crate) fn arn(resource: &str) -> String {
    format!("arn:aws:iot:{REGION}:{ACCOUNT}:{resource}")
}

/// A policy document with `statements`.
pub(crate) fn document(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// A statement allowing `actions` on `resources`.
pub(crate) fn allow(actions: &[&str], resources: &[&str]) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resources.iter().map(|r| arn(r)).collect::<Vec<_>>()})
}

/// A statement denying `actions` on `resources`.
pub(crate) fn deny(actions: &[&str], resources: &[&str]) -> Value {
    json!({"Effect": "Deny", "Action": actions, "Resource": resources.iter().map(|r| arn(r)).collect::<Vec<_>>()})
}

/// An AWS SDK client of `server`'s API with its admin key, configured as a user of any
/// AWS-compatible endpoint would: region, endpoint URL and static credentials.
pub(crate) fn sdk(server: &TestServer) -> Client {
    let key = server.admin_key();
    let config = aws_sdk_iot::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(format!("http://{}", server.api))
        .credentials_provider(Credentials::new(
            &key.access_key_id,
            &key.secret_access_key,
            None,
            None,
            "thingd-tests",
        ))
        .build();
    Client::from_conf(config)
}

/// CreatePolicy.
pub(crate) async fn create_policy(iot: &Client, name: &str, document: &str) {
    iot.create_policy()
        .policy_name(name)
        .policy_document(document)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreatePolicy {name}: {e:?}"));
}

/// AttachPolicy of `name` to `target` (an ARN).
pub(crate) async fn attach_policy(iot: &Client, name: &str, target: &str) {
    iot.attach_policy()
        .policy_name(name)
        .target(target)
        .send()
        .await
        .unwrap_or_else(|e| panic!("AttachPolicy {name} to {target}: {e:?}"));
}

/// CreatePolicy and AttachPolicy to a certificate.
pub(crate) async fn give(
    iot: &Client,
    server: &TestServer,
    cert: &ClientCert,
    name: &str,
    document: &str,
) {
    create_policy(iot, name, document).await;
    attach_policy(iot, name, &server.certificate_arn(cert)).await;
}

/// DetachPolicy.
pub(crate) async fn detach_policy(iot: &Client, name: &str, target: &str) {
    iot.detach_policy()
        .policy_name(name)
        .target(target)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DetachPolicy {name} from {target}: {e:?}"));
}

/// CreatePolicyVersion with setAsDefault.
pub(crate) async fn new_default_version(iot: &Client, name: &str, document: &str) {
    iot.create_policy_version()
        .policy_name(name)
        .policy_document(document)
        .set_as_default(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreatePolicyVersion {name}: {e:?}"));
}

/// What TestAuthorization decided for one request, and the policies it named.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Decided {
    pub(crate) decision: AuthDecision,
    pub(crate) allowing: Vec<String>,
    pub(crate) explicitly_denying: Vec<String>,
}

/// TestAuthorization of one action on one resource (given after the account, e.g.
/// `topic/a/b`) for the certificate `cert` with `client_id`.
pub(crate) async fn test_authorization(
    iot: &Client,
    server: &TestServer,
    cert: &ClientCert,
    client_id: &str,
    action: ActionType,
    resource: &str,
) -> Decided {
    let answer = iot
        .test_authorization()
        .principal(server.certificate_arn(cert))
        .client_id(client_id)
        .auth_infos(
            AuthInfo::builder()
                .action_type(action.clone())
                .resources(arn(resource))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("TestAuthorization {action:?} {resource}: {e:?}"));
    let result = answer
        .auth_results()
        .first()
        .expect("one result per authInfo");
    let names = |policies: &[aws_sdk_iot::types::Policy]| -> Vec<String> {
        policies
            .iter()
            .filter_map(|p| p.policy_name().map(str::to_owned))
            .collect()
    };
    Decided {
        decision: result.auth_decision().cloned().expect("a decision"),
        allowing: result
            .allowed()
            .map(|a| names(a.policies()))
            .unwrap_or_default(),
        explicitly_denying: result
            .denied()
            .and_then(|d| d.explicit_deny())
            .map(|d| names(d.policies()))
            .unwrap_or_default(),
    }
}

/// Opens a TLS connection with `cert` and sends CONNECT as `client_id` (clean start); returns
/// the connection and the CONNACK, whatever it says.
pub(crate) async fn connect_as(
    server: &TestServer,
    cert: &ClientCert,
    version: ProtocolVersion,
    client_id: &str,
) -> (Mqtt, ConnAck) {
    let mut client = Mqtt::open_tls(server, tls_config(server, cert), version).await;
    let connack = client.handshake(connect_packet(version, client_id)).await;
    (client, connack)
}

/// Connects with `cert` as `client_id` and checks that the server accepted it.
pub(crate) async fn device(
    server: &TestServer,
    cert: &ClientCert,
    version: ProtocolVersion,
    client_id: &str,
) -> Mqtt {
    let (client, connack) = connect_as(server, cert, version, client_id).await;
    assert_eq!(
        connack.reason_code,
        ReasonCode::Success,
        "CONNACK of {client_id} ({version})"
    );
    client
}

/// Connects with `cert` as `client_id` and checks that CONNECT is refused as not authorized
/// (MQTT 5: CONNACK 0x87; 3.1.1: return code 5) and the connection closed.
pub(crate) async fn assert_refused(
    server: &TestServer,
    cert: &ClientCert,
    version: ProtocolVersion,
    client_id: &str,
) {
    let (mut client, connack) = connect_as(server, cert, version, client_id).await;
    assert_eq!(
        connack.reason_code,
        ReasonCode::NotAuthorized,
        "CONNACK of {client_id} ({version})"
    );
    let after = client.expect_close().await;
    assert!(after.is_empty(), "after the refusing CONNACK: {after:?}");
}

/// Whether `client` receives a message published to `topic` by `publisher` (QoS 1): the
/// publisher then publishes to `marker`, which `client` is subscribed to and may receive, so
/// the answer is decided by what arrives before the marker, without waiting for time to pass.
pub(crate) async fn receives(
    client: &mut Mqtt,
    publisher: &mut Mqtt,
    topic: &str,
    marker: &str,
) -> bool {
    for (topic, payload) in [(topic, &b"probe"[..]), (marker, b"marker")] {
        let acked = publisher.publish1(topic, payload).await;
        assert!(
            accepted(acked),
            "the publisher may publish to {topic}: {acked}"
        );
    }
    let before = client.publishes_until(marker).await;
    match before.as_slice() {
        [] => false,
        [only] if only.topic.as_str() == topic => true,
        other => panic!("expected at most {topic} before {marker}, got {other:?}"),
    }
}

/// Whether a PUBACK accepted the message: Success, or No matching subscribers (0x10), which
/// MQTT 5 reports when nobody is subscribed.
pub(crate) fn accepted(code: ReasonCode) -> bool {
    !code.is_error()
}

/// The QoS the policy tests subscribe at.
pub(crate) const QOS1: QoS = QoS::AtLeastOnce;
