//! The README's "From a button press to Slack" walkthrough, command for command: the AWS CLI
//! makes the thing, its certificate and the button policy, creates the rule with an `http`
//! action, and the real `thingd button` presses; a loopback HTTP server stands in for Slack's
//! incoming webhook and must receive the rule's message.

use std::ffi::OsString;
use std::path::Path;

use serde_json::{Value, json};
use testkit::TestServer;
use testkit::process::{Proc, require_tool};
use tokio::process::Command;

use crate::support::{Answer, HttpReceiver};

const THINGD: &str = env!("CARGO_BIN_EXE_thingd");
const SERIAL: &str = "G030JF055364XVRB";

/// Runs a program as the README's reader does: with only `PATH`, `HOME` and the two variables
/// `thingd serve` prints; returns its stdout, after checking that it succeeded.
async fn run_as_reader(data_dir: &Path, program: &str, args: &[OsString]) -> String {
    require_tool(program);
    let mut command = Command::new(program);
    command.env_clear();
    for name in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
        .env("AWS_SHARED_CREDENTIALS_FILE", data_dir.join("credentials"))
        .env("AWS_CONFIG_FILE", data_dir.join("aws-config"))
        .args(args);
    let finished = Proc::spawn_command(program, command, None).finish().await;
    finished.assert_success(&format!("{program} {args:?}"));
    finished.stdout.join("\n")
}

fn args(items: &[&str]) -> Vec<OsString> {
    items.iter().map(OsString::from).collect()
}

#[tokio::test]
async fn a_button_press_reaches_slack_through_a_rule() {
    let mut slack = HttpReceiver::start(Answer::Status(200)).await;
    // The README starts thingd with `--rules-trusted-destination https://hooks.slack.com/`; the
    // stand-in is plain HTTP on loopback, which `--rules-http-allow` must also allow.
    let slack_prefix = format!("{}/", slack.url());
    let server = TestServer::start_configured(|options| {
        options.rules_trusted_destinations = vec![slack_prefix.clone()];
        options.rules.http_allow = vec![slack_prefix.clone()];
    })
    .await
    .unwrap();
    let data_dir = server.data_dir().to_owned();
    let work = tempfile::tempdir().unwrap();
    let cert = work.path().join("button.pem");
    let key = work.path().join("button.key");
    let aws = |items: Vec<OsString>| {
        let data_dir = data_dir.clone();
        async move { run_as_reader(&data_dir, "aws", &items).await }
    };

    let thing = format!("iotbutton_{SERIAL}");
    aws(args(&["iot", "create-thing", "--thing-name", &thing])).await;
    let mut create_keys = args(&[
        "iot",
        "create-keys-and-certificate",
        "--set-as-active",
        "--query",
        "certificateArn",
        "--output",
        "text",
        "--certificate-pem-outfile",
    ]);
    create_keys.push(cert.clone().into());
    create_keys.push("--private-key-outfile".into());
    create_keys.push(key.clone().into());
    let certificate_arn = aws(create_keys).await.trim().to_owned();
    assert!(certificate_arn.starts_with("arn:aws:iot:us-east-1:000000000000:cert/"));
    aws(args(&[
        "iot",
        "attach-thing-principal",
        "--thing-name",
        &thing,
        "--principal",
        &certificate_arn,
    ]))
    .await;
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:Publish",
         "Resource": "arn:aws:iot:us-east-1:000000000000:topic/iotbutton/*"}]});
    aws(args(&[
        "iot",
        "create-policy",
        "--policy-name",
        "iotbutton",
        "--policy-document",
        &policy.to_string(),
    ]))
    .await;
    aws(args(&[
        "iot",
        "attach-policy",
        "--policy-name",
        "iotbutton",
        "--target",
        &certificate_arn,
    ]))
    .await;
    let webhook = format!("{}/services/T000/B000/XXXX", slack.url());
    let rule = json!({
        "sql": "SELECT concat('Button ', serialNumber, ': ', clickType) AS text FROM 'iotbutton/+'",
        "actions": [{"http": {"url": webhook}}]});
    aws(args(&[
        "iot",
        "create-topic-rule",
        "--rule-name",
        "button_to_slack",
        "--topic-rule-payload",
        &rule.to_string(),
    ]))
    .await;

    let mut press = args(&[
        "button",
        "--endpoint",
        &format!("localhost:{}", server.mqtt_tls.port()),
        "--serial",
        SERIAL,
        "--click",
        "SINGLE",
        "--cert",
    ]);
    press.push(cert.into());
    press.push("--key".into());
    press.push(key.into());
    press.push("--ca".into());
    press.push(server.data_dir().join("ca.pem").into());
    run_as_reader(server.data_dir(), THINGD, &press).await;

    let received = slack.next().await;
    assert_eq!(received.path, "/services/T000/B000/XXXX");
    assert_eq!(
        received.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let body: Value = serde_json::from_slice(&received.body).unwrap();
    assert_eq!(body, json!({"text": format!("Button {SERIAL}: SINGLE")}));
}
