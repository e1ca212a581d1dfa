//! The AWS IoT Device SDK v2 for Python (`awsiotsdk` from PyPI) against thingd's shadows: a
//! thing, its certificate and a policy made through the API with the AWS SDK for Rust, as a user
//! provisions a device; then `shadow_sdk.py` connects with
//! `mqtt_connection_builder.mtls_from_path` and drives the classic and a named shadow with
//! `IotShadowClient`. The script prints what it observed; the checks are here. Then boto3's
//! `iot-data` client reads the named shadow the SDK wrote and reports on it over SigV4.

use std::path::Path;

use aws_sdk_iot::Client;
use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};
use serde_json::{Value, json};
use testkit::TestServer;
use testkit::process::{Proc, require_tool};
use tokio::process::Command;

const ARN_PREFIX: &str = "arn:aws:iot:us-east-1:000000000000";

/// An AWS SDK for Rust client of the server's API with its admin key.
fn sdk(server: &TestServer) -> Client {
    let key = server.admin_key();
    let config = aws_sdk_iot::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
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

/// The policy of AWS's shadow samples, scoped to the thing the connection is: it may connect
/// under its thing's name and use its own shadow topics only.
fn shadow_policy() -> String {
    let thing = "${iot:Connection.Thing.ThingName}";
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": format!("{ARN_PREFIX}:client/{thing}")},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": format!("{ARN_PREFIX}:topic/$aws/things/{thing}/shadow/*")},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": format!("{ARN_PREFIX}:topicfilter/$aws/things/{thing}/shadow/*")},
    ]})
    .to_string()
}

/// Provisions `thing` through the API and writes its certificate, key and the CA into `dir`.
async fn provision(server: &TestServer, thing: &str, dir: &Path) {
    let iot = sdk(server);
    iot.create_thing().thing_name(thing).send().await.unwrap();
    let created = iot
        .create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let certificate_arn = created.certificate_arn().unwrap();
    iot.attach_thing_principal()
        .thing_name(thing)
        .principal(certificate_arn)
        .send()
        .await
        .unwrap();
    iot.create_policy()
        .policy_name("shadow-device")
        .policy_document(shadow_policy())
        .send()
        .await
        .unwrap();
    iot.attach_policy()
        .policy_name("shadow-device")
        .target(certificate_arn)
        .send()
        .await
        .unwrap();
    std::fs::write(dir.join("cert.pem"), created.certificate_pem().unwrap()).unwrap();
    let keys = created.key_pair().unwrap();
    std::fs::write(dir.join("key.pem"), keys.private_key().unwrap()).unwrap();
    std::fs::write(dir.join("ca.pem"), &server.ca_pem).unwrap();
}

#[tokio::test]
async fn the_aws_iot_device_sdk_for_python_uses_shadows() {
    require_tool("python3");
    let sdk_installed = std::process::Command::new("python3")
        .args(["-c", "import awsiot.iotshadow"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        sdk_installed,
        "the AWS IoT Device SDK v2 for Python is not installed: pip install awsiotsdk \
         (.ci/run installs it)"
    );
    let server = TestServer::start().await.unwrap();
    let files = tempfile::tempdir().unwrap();
    let thing = "sdk-thermostat";
    provision(&server, thing, files.path()).await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shadows/shadow_sdk.py");
    let mut command = Command::new("python3");
    command
        .arg(script)
        .arg(server.mqtt_tls.port().to_string())
        .arg(files.path().join("cert.pem"))
        .arg(files.path().join("key.pem"))
        .arg(files.path().join("ca.pem"))
        .arg(thing);
    let finished = Proc::spawn_command("python3 shadow_sdk.py", command, None)
        .finish()
        .await;
    finished.assert_success("shadow_sdk.py");
    let last = finished.stdout.last().expect("the script printed nothing");
    let observed: Value = serde_json::from_str(last).unwrap();

    assert_eq!(
        observed["get_missing"],
        json!({"code": 404, "message": "No shadow exists with name: 'sdk-thermostat'", "clientToken": "get-1"})
    );
    let desired = json!({"color": "green", "level": 3});
    assert_eq!(
        observed["update_desired"],
        json!({"version": 1, "desired": desired, "clientToken": "update-1", "has_timestamp": true})
    );
    assert_eq!(observed["delta"], json!({"state": desired, "version": 1}));
    assert_eq!(
        observed["update_reported"],
        json!({"version": 2, "reported": desired})
    );
    assert_eq!(
        observed["update_stale"],
        json!({"code": 409, "message": "Version conflict", "clientToken": "update-3"})
    );
    assert_eq!(
        observed["get"],
        json!({"version": 2, "desired": desired, "reported": desired, "delta": null, "clientToken": "get-2"})
    );
    assert_eq!(
        observed["named_update"],
        json!({"version": 1, "desired": {"mode": "auto"}})
    );
    assert_eq!(observed["named_delta"], json!({"state": {"mode": "auto"}}));
    assert_eq!(
        observed["named_get"],
        json!({"version": 1, "desired": {"mode": "auto"}, "delta": {"mode": "auto"}})
    );
    assert_eq!(
        observed["delete"],
        json!({"version": 2, "clientToken": "delete-1"})
    );
    assert_eq!(observed["get_deleted"]["code"], 404);
    assert_eq!(observed["delete_again"]["code"], 404);

    // boto3's `iot-data` client, as an application would use it with the two files thingd
    // writes, reads the named shadow the device SDK wrote and reports on it.
    let boto3 = format!(
        r#"
import boto3, json
client = boto3.client("iot-data")
got = json.loads(client.get_thing_shadow(thingName="{thing}", shadowName="settings")["payload"].read())
updated = json.loads(client.update_thing_shadow(thingName="{thing}", shadowName="settings",
    payload=json.dumps({{"state": {{"reported": {{"mode": "auto"}}}}}}))["payload"].read())
print(json.dumps({{"state": got["state"], "version": got["version"], "updated": updated["version"]}}))
"#
    );
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
        .args(["-c", &boto3]);
    let finished = Proc::spawn_command("python3 (boto3 iot-data)", command, None)
        .finish()
        .await;
    finished.assert_success("boto3 iot-data on the SDK's shadow");
    let last = finished.stdout.last().expect("boto3 printed nothing");
    let seen: Value = serde_json::from_str(last).unwrap();
    assert_eq!(
        seen,
        json!({"state": {"desired": {"mode": "auto"}, "delta": {"mode": "auto"}}, "version": 1, "updated": 2})
    );
    let document: Value = serde_json::from_slice(
        &server
            .shadows()
            .get(thing, Some("settings"))
            .await
            .expect("the shadow boto3 updated"),
    )
    .unwrap();
    assert_eq!(document["state"]["reported"], json!({"mode": "auto"}));
    assert_eq!(document["state"].get("delta"), None, "{document}");
    assert_eq!(document["version"], 2);
    server.shutdown().await;
}
