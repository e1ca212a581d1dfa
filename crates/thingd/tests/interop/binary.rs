//! The real `thingd` binary, as a person runs it (README's quick start): `thingd serve` on a
//! fresh data directory with `--mqtt-tcp-policy`, `thingd cert issue` for a device, a policy
//! created and attached with the AWS CLI, mosquitto clients over TLS and plain TCP, the HTTP
//! listener, then SIGTERM and a clean exit; and the data directory's permissions. Needs the AWS
//! CLI (PyPI: awscli) besides mosquitto-clients.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mqtt_codec::ProtocolVersion;

use serde_json::Value;

use crate::support::{Endpoint, Finished, Proc, Subscriber, TlsFiles, http_get, run};

const THINGD: &str = env!("CARGO_BIN_EXE_thingd");

/// A loopback port that was free a moment ago (the binary binds fixed ports, so this is the one
/// place the tests pick ports themselves).
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding port 0");
    listener.local_addr().expect("a local address")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Runs `thingd cert issue` for `dev1` from the data directory `data` into `out`.
async fn cert_issue(data: &Path, out: &Path) -> Finished {
    run(
        THINGD,
        [
            "cert".into(),
            "issue".into(),
            "--data-dir".into(),
            data.as_os_str().to_os_string(),
            "--name".into(),
            "dev1".into(),
            "--out".into(),
            out.as_os_str().to_os_string(),
        ],
        None,
    )
    .await
}

/// What the quick start's devices may do: connect, publish, subscribe and receive anywhere.
const DEVICE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Publish","iot:Subscribe","iot:Receive"],"Resource":"*"}]}"#;

/// Runs `aws` with the two variables `thingd serve` prints for the data directory `data`, checks
/// that it succeeded, and returns its JSON output (`Null` when it printed nothing).
async fn aws(data: &Path, args: &[&str]) -> Value {
    testkit::process::require_tool("aws");
    let mut command = tokio::process::Command::new("aws");
    command
        .env("AWS_SHARED_CREDENTIALS_FILE", data.join("credentials"))
        .env("AWS_CONFIG_FILE", data.join("aws-config"))
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .args(args);
    let finished = Proc::spawn_command("aws", command, None).finish().await;
    finished.assert_success(&format!("aws {}", args.join(" ")));
    let text = finished.stdout.join("\n");
    if text.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("aws printed no JSON ({e}): {text}"))
}

#[tokio::test]
async fn thingd_binary_serve_cert_issue_and_sigterm() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let data = tmp.path().join("data");
    let device = tmp.path().join("dev1");
    let (mqtt, mqtt_tcp, api) = (free_port(), free_port(), free_port());

    let mut command = tokio::process::Command::new(THINGD);
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--mqtt",
            &mqtt.to_string(),
            "--mqtt-tcp",
            &mqtt_tcp.to_string(),
            "--mqtt-tcp-policy",
            "dev-all",
            "--api",
            &api.to_string(),
            "--https",
            &free_port().to_string(),
        ])
        .env_remove("THINGD_DATA_DIR")
        .env_remove("THINGD_LOG")
        .env("NO_COLOR", "1");
    let mut serve = Proc::spawn_command("thingd serve", command, None);
    // thingd logs to stderr; wait for the line that says every listener is bound.
    serve
        .stderr_line_where("\"thingd is running\"", |l| l.contains("thingd is running"))
        .await;

    // The data directory: owner-only directory and keys.
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&data.join("ca-key.pem")), 0o600, "ca-key.pem");
    assert_eq!(mode(&data.join("server-key.pem")), 0o600, "server-key.pem");

    let issued = cert_issue(&data, &device).await;
    issued.assert_success("thingd cert issue");
    assert_eq!(
        mode(&device.join("key.pem")),
        0o600,
        "the device key is owner-only"
    );
    let ca_in_bundle =
        std::fs::read_to_string(device.join("ca.pem")).expect("ca.pem in the bundle");
    let ca_in_data =
        std::fs::read_to_string(data.join("ca.pem")).expect("ca.pem in the data directory");
    assert_eq!(ca_in_bundle, ca_in_data);
    // Issuing again into the same folder without --force keeps the existing key.
    let again = cert_issue(&data, &device).await;
    assert!(
        !again.status.success(),
        "cert issue overwrote an existing key without --force: {again:?}"
    );

    // Without a policy the device may do nothing: create one and attach it to its certificate.
    aws(
        &data,
        &[
            "iot",
            "create-policy",
            "--policy-name",
            "dev-all",
            "--policy-document",
            DEVICE_POLICY,
        ],
    )
    .await;
    let listed = aws(&data, &["iot", "list-certificates"]).await;
    let certificate_arn = listed["certificates"][0]["certificateArn"]
        .as_str()
        .unwrap_or_else(|| panic!("the issued certificate is listed: {listed}"))
        .to_owned();
    aws(
        &data,
        &[
            "iot",
            "attach-policy",
            "--policy-name",
            "dev-all",
            "--target",
            &certificate_arn,
        ],
    )
    .await;

    // TLS with the issued bundle, both versions, reached as `localhost` like the README's
    // example (the server certificate must name it), and plain TCP.
    let tls = Endpoint::tls(mqtt, TlsFiles::bundle(&device)).with_host("localhost");
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let topic = format!("smoke/{}", crate::support::mosquitto_version(version));
        let mut sub = Subscriber::start(&tls, version, &topic, 1, &["-C", "1"]).await;
        sub.expect_published(&tls, version, &topic, 1, "hello from dev1", &[])
            .await;
        sub.finish_ok().await;
    }
    // Plain TCP: held to the same policy, named by --mqtt-tcp-policy.
    let tcp = Endpoint::tcp(mqtt_tcp);
    let mut sub = Subscriber::start(&tcp, ProtocolVersion::V5, "smoke/tcp", 2, &["-C", "1"]).await;
    // Across listeners: published over TLS, received over TCP.
    sub.expect_published(
        &tls,
        ProtocolVersion::V311,
        "smoke/tcp",
        2,
        "tls to tcp",
        &[],
    )
    .await;
    sub.finish_ok().await;

    let (status, _, body) = http_get(api, "/health").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _, metrics) = http_get(api, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("\nthingd_publish_received_total 3\n"),
        "{metrics}"
    );

    // SIGTERM: a clean exit with status 0.
    let pid = serve.pid().to_string();
    run("kill", ["-TERM", pid.as_str()], None)
        .await
        .assert_success("kill -TERM");
    let finished = serve.finish().await;
    assert!(
        finished.status.success(),
        "thingd exited with {} after SIGTERM:\n{}",
        finished.status,
        finished.stderr
    );
    assert!(
        finished.stderr.contains("Shutting down"),
        "{}",
        finished.stderr
    );
}
