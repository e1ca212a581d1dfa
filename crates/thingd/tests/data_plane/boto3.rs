//! boto3's `iot-data` client (botocore's SigV4 signer with the signing name `iotdata`, its
//! restJson1 serializer and error parser, its paginator) against the data plane on the API
//! listener: each scenario of `data_plane_scenarios.py` runs in a Python process configured only
//! by the two files `thingd serve` writes, and prints what every step observed; the checks are
//! here.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use mqtt_codec::{PayloadFormat, QoS};
use serde_json::{Value, json};
use testkit::TestServer;
use testkit::process::{Proc, require_tool};
use tokio::process::Command;

use crate::support::{Client, Net, V5};

/// Runs a scenario of `data_plane_scenarios.py` with only `PATH`, `HOME` and the two files of
/// `server`'s data directory in its environment; returns the JSON object it printed last.
async fn boto3(server: &TestServer, scenario: &str) -> Value {
    require_tool("python3");
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data_plane/data_plane_scenarios.py");
    let mut command = Command::new("python3");
    command.env_clear();
    for name in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            server.data_dir().join("credentials"),
        )
        .env("AWS_CONFIG_FILE", server.data_dir().join("aws-config"))
        .arg(script)
        .arg(scenario);
    let finished = Proc::spawn_command("python3 data_plane_scenarios.py", command, None)
        .finish()
        .await;
    finished.assert_success(&format!("the boto3 scenario {scenario}"));
    let last = finished
        .stdout
        .last()
        .expect("the scenario printed nothing");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {last}"))
}

/// The response of a step that succeeded.
fn ok<'a>(observed: &'a Value, step: &str) -> &'a Value {
    observed[step]
        .get("ok")
        .unwrap_or_else(|| panic!("step {step} failed: {}", observed[step]))
}

/// The error of a step that failed with AWS's `code` and `status`.
fn failed<'a>(observed: &'a Value, step: &str, code: &str, status: u16) -> &'a Value {
    let error = observed[step]
        .get("error")
        .unwrap_or_else(|| panic!("step {step} succeeded: {}", observed[step]));
    assert_eq!(error["code"], code, "step {step}: {error}");
    assert_eq!(error["status"], status, "step {step}: {error}");
    error
}

/// The error of a step that botocore raised as the model's exception class.
fn failed_modeled<'a>(observed: &'a Value, step: &str, code: &str, status: u16) -> &'a Value {
    let error = failed(observed, step, code, status);
    assert_eq!(
        error["class"], code,
        "step {step}: botocore knew the exception"
    );
    error
}

fn text(value: &Value) -> &str {
    value["text"]
        .as_str()
        .unwrap_or_else(|| panic!("not text: {value}"))
}

#[tokio::test]
async fn boto3_publishes_and_reads_retained_messages() {
    let server = TestServer::start().await.unwrap();
    let mut mqtt = Client::connect(&server, Net::Tcp, V5, "py-subscriber").await;
    mqtt.subscribe("py/props", QoS::AtLeastOnce).await;
    let observed = boto3(&server, "publishing").await;

    ok(&observed, "publish_props");
    let received = mqtt.expect_publish().await;
    assert_eq!(&received.payload[..], br#"{"on":true}"#);
    assert_eq!(received.qos, QoS::AtLeastOnce);
    let properties = &received.properties;
    assert_eq!(
        properties.content_type.as_ref().map(|s| s.as_str()),
        Some("application/json")
    );
    assert_eq!(
        properties.response_topic.as_ref().map(|s| s.as_str()),
        Some("py/replies")
    );
    assert_eq!(
        properties.correlation_data.as_deref(),
        Some(&b"request-1"[..])
    );
    assert_eq!(
        properties.payload_format_indicator,
        Some(PayloadFormat::Utf8)
    );
    assert!(properties.message_expiry_interval.is_some_and(|s| s <= 600));
    let user: Vec<(&str, &str)> = properties
        .user_properties
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(user, [("deviceName", "alpha"), ("deviceCnt", "45")]);
    ok(&observed, "publish_string_props");
    let second = mqtt.expect_publish().await;
    assert_eq!(&second.payload[..], b"second");
    assert_eq!(second.properties.user_properties.len(), 1);
    assert_eq!(second.properties.user_properties[0].name.as_str(), "room");

    // GetRetainedMessage: botocore decoded the base64 blobs.
    let got = ok(&observed, "get_retained");
    assert_eq!(got["topic"], "py/retained/3");
    assert_eq!(text(&got["payload"]), "value-3");
    assert_eq!(got["qos"], 1);
    assert!(got["lastModifiedTime"].as_u64().unwrap() > 1_700_000_000_000);
    let with_props = ok(&observed, "get_retained_props");
    assert_eq!(with_props["payload"]["base64"], BASE64.encode(b"\x00\xff"));
    assert_eq!(text(&with_props["userProperties"]), r#"[{"k":"v"}]"#);
    failed_modeled(
        &observed,
        "get_retained_missing",
        "ResourceNotFoundException",
        404,
    );

    // The paginator followed nextToken through pages of 2, in topic order.
    let mut all: Vec<String> = (0..5).map(|i| format!("py/retained/{i}")).collect();
    all.push("py/retained/props".to_owned());
    assert_eq!(
        observed["retained_pages"],
        json!([[all[0], all[1]], [all[2], all[3]], [all[4], all[5]]])
    );
    let first = ok(&observed, "list_first");
    assert_eq!(first["retainedTopics"].as_array().unwrap().len(), 4);
    assert_eq!(first["retainedTopics"][0]["payloadSize"], 7);
    assert!(first["nextToken"].is_string());
    ok(&observed, "clear");
    failed_modeled(&observed, "get_cleared", "ResourceNotFoundException", 404);

    failed_modeled(
        &observed,
        "publish_wildcard",
        "InvalidRequestException",
        400,
    );
    failed(
        &observed,
        "publish_too_large",
        "RequestEntityTooLargeException",
        413,
    );
    ok(&observed, "publish_largest");
    failed_modeled(
        &observed,
        "publish_bad_props",
        "InvalidRequestException",
        400,
    );
    server.shutdown().await;
}

#[tokio::test]
async fn boto3_reads_updates_lists_and_deletes_shadows() {
    let server = TestServer::start().await.unwrap();
    let observed = boto3(&server, "shadows").await;

    failed(&observed, "get_missing", "ResourceNotFoundException", 404);
    let updated = ok(&observed, "update");
    assert_eq!(updated["state"]["desired"]["color"], "red");
    assert_eq!(updated["version"], 1);
    assert_eq!(updated["clientToken"], "py-1");
    let got = ok(&observed, "get");
    assert_eq!(got["state"]["delta"]["color"], "red");
    let conflict = failed_modeled(&observed, "conflict", "ConflictException", 409);
    assert_eq!(conflict["message"], "Version conflict");
    let bad = failed_modeled(&observed, "bad_json", "InvalidRequestException", 400);
    assert_eq!(bad["message"], "Invalid JSON");
    failed_modeled(
        &observed,
        "state_too_large",
        "RequestEntityTooLargeException",
        413,
    );
    failed_modeled(
        &observed,
        "body_too_large",
        "RequestEntityTooLargeException",
        413,
    );
    for name in ["cfg", "firmware", "net"] {
        assert_eq!(ok(&observed, &format!("update_{name}"))["version"], 1);
    }
    assert_eq!(
        ok(&observed, "get_named")["state"]["reported"]["name"],
        "firmware"
    );
    let first = ok(&observed, "list_first");
    assert_eq!(first["results"], json!(["cfg", "firmware"]));
    assert!(first["timestamp"].is_u64());
    assert_eq!(ok(&observed, "list_rest")["results"], json!(["net"]));
    let deleted = ok(&observed, "delete");
    assert_eq!(deleted["version"], 1);
    failed(&observed, "get_deleted", "ResourceNotFoundException", 404);
    ok(&observed, "delete_named");
    assert_eq!(
        ok(&observed, "list_after")["results"],
        json!(["cfg", "firmware"])
    );
    failed_modeled(
        &observed,
        "delete_missing",
        "ResourceNotFoundException",
        404,
    );
    failed_modeled(&observed, "bad_thing_name", "InvalidRequestException", 400);
    server.shutdown().await;
}

#[tokio::test]
async fn the_data_plane_takes_only_its_own_signing_names() {
    let server = TestServer::start().await.unwrap();
    let mut mqtt = Client::connect(&server, Net::Tcp, V5, "py-signed").await;
    mqtt.subscribe("py/signed", QoS::AtLeastOnce).await;
    let observed = boto3(&server, "signing_names").await;

    for (step, payload) in [("iotdata", "a"), ("iotdevicegateway", "b")] {
        assert_eq!(observed[step]["status"], 200, "{step}: {}", observed[step]);
        assert_eq!(&mqtt.expect_publish().await.payload[..], payload.as_bytes());
    }
    for step in ["iot", "iot_shadow"] {
        let refused = &observed[step];
        assert_eq!(refused["status"], 403, "{step}: {refused}");
        assert_eq!(refused["code"], "InvalidSignatureException", "{step}");
        let message = refused["message"].as_str().unwrap();
        assert!(
            message.starts_with("Credential should be scoped to correct service: 'iotdata'"),
            "{step}: {message}"
        );
    }
    let refused = &observed["control_plane_as_iotdata"];
    assert_eq!(refused["status"], 403, "{refused}");
    assert_eq!(refused["code"], "InvalidSignatureException");
    assert_eq!(observed["control_plane_as_iot"]["status"], 200);
    // Nothing was published by the refused request.
    let meanwhile = mqtt.settle().await;
    assert!(meanwhile.is_empty(), "{meanwhile:?}");
    server.shutdown().await;
}
