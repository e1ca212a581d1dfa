//! The AWS CLI (v1, from PyPI) as a person uses it with thingd: no flag, only the two variables
//! `thingd serve` prints. It creates a thing and a certificate, attaches them and lists them,
//! creates a policy and attaches it to the certificate (without one a device may do nothing);
//! mosquitto connects with that certificate over TLS; `update-certificate --new-status INACTIVE`
//! drops the open connections within a second and refuses new ones. Once with an in-process
//! server, once with the real `thingd` binary on a fresh data directory, restarted.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mqtt_codec::ProtocolVersion;
use serde_json::{Value, json};
use testkit::TestServer;
use testkit::mosquitto::{Endpoint, Subscriber, TlsFiles, mosquitto_pub, mosquitto_pub_output};
use testkit::process::{Proc, run};
use tokio::time::Instant;

use crate::support::{AwsEnv, Device, arn};

/// How soon an open connection must be dropped after the CLI's update returned: one second in
/// the issue, plus slack for a loaded CI machine.
const DROPPED_WITHIN: Duration = Duration::from_millis(1500);

/// A device provisioned by the AWS CLI: its thing, its certificate and key files.
struct CliDevice {
    certificate_id: String,
    certificate_arn: String,
    cert: PathBuf,
    key: PathBuf,
}

/// What the CLI's devices may do: connect, publish, subscribe and receive anywhere.
const DEVICE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Publish","iot:Subscribe","iot:Receive"],"Resource":"*"}]}"#;

/// The done-when's provisioning: `create-thing`, `create-keys-and-certificate --set-as-active`
/// into files, `attach-thing-principal`, `create-policy` and `attach-policy` to the certificate,
/// then `list-things` and `list-thing-principals` show them.
async fn provision(env: &AwsEnv, thing: &str, dir: &Path) -> CliDevice {
    let created = env
        .aws_json(&["iot", "create-thing", "--thing-name", thing])
        .await;
    assert_eq!(created["thingName"], thing);
    assert_eq!(created["thingArn"], arn("thing", thing));

    std::fs::create_dir_all(dir).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let keys = env
        .aws_json(&[
            "iot".as_ref(),
            "create-keys-and-certificate".as_ref(),
            "--set-as-active".as_ref(),
            "--certificate-pem-outfile".as_ref(),
            cert.as_os_str(),
            "--private-key-outfile".as_ref(),
            key.as_os_str(),
        ])
        .await;
    let certificate_id = keys["certificateId"].as_str().unwrap().to_owned();
    let certificate_arn = keys["certificateArn"].as_str().unwrap().to_owned();
    assert_eq!(certificate_arn, arn("cert", &certificate_id));
    assert_eq!(
        std::fs::read_to_string(&cert).unwrap(),
        keys["certificatePem"].as_str().unwrap(),
        "the CLI wrote the certificate it received"
    );
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("PRIVATE KEY-----")
    );

    let attached = env
        .aws_json(&[
            "iot",
            "attach-thing-principal",
            "--thing-name",
            thing,
            "--principal",
            &certificate_arn,
        ])
        .await;
    assert_eq!(
        attached,
        Value::Null,
        "attach-thing-principal prints nothing"
    );
    let policy = format!("{thing}-policy");
    let created = env
        .aws_json(&[
            "iot",
            "create-policy",
            "--policy-name",
            &policy,
            "--policy-document",
            DEVICE_POLICY,
        ])
        .await;
    assert_eq!(created["policyName"], policy.as_str(), "{created}");
    assert_eq!(created["policyVersionId"], "1", "{created}");
    let attached = env
        .aws_json(&[
            "iot",
            "attach-policy",
            "--policy-name",
            &policy,
            "--target",
            &certificate_arn,
        ])
        .await;
    assert_eq!(attached, Value::Null, "attach-policy prints nothing");
    let things = env.aws_json(&["iot", "list-things"]).await;
    assert!(
        things["things"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["thingName"] == thing),
        "{things}"
    );
    let principals = env
        .aws_json(&["iot", "list-thing-principals", "--thing-name", thing])
        .await;
    assert_eq!(principals, json!({"principals": [certificate_arn]}));
    CliDevice {
        certificate_id,
        certificate_arn,
        cert,
        key,
    }
}

/// `aws iot update-certificate --new-status INACTIVE` for the device's certificate, which must
/// succeed.
async fn deactivate(env: &AwsEnv, device: &CliDevice) {
    let answer = env
        .aws_json(&[
            "iot",
            "update-certificate",
            "--certificate-id",
            &device.certificate_id,
            "--new-status",
            "INACTIVE",
        ])
        .await;
    assert_eq!(answer, Value::Null, "update-certificate prints nothing");
}

/// The mosquitto endpoint for a device: the host DescribeEndpoint gives, the MQTT/TLS port, the
/// server's CA, the device's files.
async fn endpoint(env: &AwsEnv, mqtt: SocketAddr, ca: &Path, device: &CliDevice) -> Endpoint {
    let described = env
        .aws_json(&[
            "iot",
            "describe-endpoint",
            "--endpoint-type",
            "iot:Data-ATS",
        ])
        .await;
    let host = described["endpointAddress"].as_str().unwrap();
    Endpoint::tls(
        mqtt,
        TlsFiles {
            ca: ca.to_owned(),
            cert_key: Some((device.cert.clone(), device.key.clone())),
        },
    )
    .with_host(host)
}

/// Checks that mosquitto_pub is refused at CONNECT (MQTT 3.1.1 return code 5, MQTT 5 0x87).
async fn assert_mosquitto_refused(endpoint: &Endpoint) {
    for (version, connack) in [
        (ProtocolVersion::V311, "received CONNACK (5)"),
        (ProtocolVersion::V5, "received CONNACK (135)"),
    ] {
        let finished = mosquitto_pub_output(
            endpoint,
            version,
            &["-i", "cli-refused", "-t", "lamps/refused", "-m", "x"],
            None,
        )
        .await;
        assert!(
            !finished.status.success() && finished.printed(connack),
            "mosquitto_pub ({version}) was not refused: {finished:?}"
        );
    }
}

#[tokio::test]
async fn aws_cli_with_two_variables_provisions_a_device_that_connects_until_inactive() {
    let server = TestServer::start().await.unwrap();
    let env = AwsEnv::of(&server);
    let scratch = tempfile::tempdir().unwrap();
    let device = provision(&env, "cli-lamp", &scratch.path().join("cli-lamp")).await;
    let endpoint = endpoint(&env, server.mqtt_tls, &server.ca_path, &device).await;

    // mosquitto_pub connects with the certificate and publishes; a mosquitto_sub with the same
    // certificate receives it.
    let mut sub = Subscriber::start(
        &endpoint,
        ProtocolVersion::V5,
        "lamps/cli-lamp/#",
        1,
        &["-i", "cli-sub"],
    )
    .await;
    sub.expect_published(
        &endpoint,
        ProtocolVersion::V311,
        "lamps/cli-lamp/state",
        1,
        "on",
        &["-i", "cli-pub"],
    )
    .await;
    // A Rust client holds a second connection with the same files, to time its close exactly.
    let rust = Device::connect(
        &server,
        &std::fs::read_to_string(&device.cert).unwrap(),
        &std::fs::read_to_string(&device.key).unwrap(),
        "cli-rust",
        ProtocolVersion::V311,
    )
    .await
    .expect("the CLI's certificate connects");

    // update-certificate INACTIVE: both open connections end, within a second of the CLI's
    // answer (the broker closes them before the API answers, so usually before the CLI exits).
    let started = Instant::now();
    let update = async {
        deactivate(&env, &device).await;
        Instant::now()
    };
    let sub_dropped = async {
        sub.proc
            .line_where("the DISCONNECT", |l| l.starts_with("Received DISCONNECT"))
            .await;
        Instant::now()
    };
    let (answered, sub_dropped, rust_closed) = tokio::join!(update, sub_dropped, rust.closed());
    let line = sub.proc.transcript.last().unwrap().clone();
    assert_eq!(line, "Received DISCONNECT (135)", "0x87 Not authorized");
    for (who, at) in [
        ("mosquitto_sub", sub_dropped),
        ("the Rust client", rust_closed.at),
    ] {
        assert!(
            at <= answered + DROPPED_WITHIN,
            "{who} was dropped {:?} after update-certificate returned",
            at.saturating_duration_since(answered)
        );
    }
    println!(
        "aws iot update-certificate took {:?}; connections dropped {:?} (mosquitto_sub) and \
         {:?} (Rust) after it started",
        answered - started,
        sub_dropped - started,
        rust_closed.at - started
    );
    sub.proc.finish().await.assert_success("mosquitto_sub");

    assert_mosquitto_refused(&endpoint).await;
    let described = env
        .aws_json(&[
            "iot",
            "describe-certificate",
            "--certificate-id",
            &device.certificate_id,
        ])
        .await;
    assert_eq!(described["certificateDescription"]["status"], "INACTIVE");

    // The CLI pages by itself: nextToken for things, nextMarker for certificates; with
    // --max-items it hands out its own token, which --starting-token resumes from.
    env.aws_json(&["iot", "create-thing", "--thing-name", "cli-lamp-2"])
        .await;
    let things = env
        .aws_json(&["iot", "list-things", "--page-size", "1"])
        .await;
    let names: Vec<&str> = things["things"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["thingName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cli-lamp", "cli-lamp-2"]);
    let first = env
        .aws_json(&["iot", "list-things", "--page-size", "1", "--max-items", "1"])
        .await;
    assert_eq!(first["things"][0]["thingName"], "cli-lamp");
    let token = first["NextToken"].as_str().unwrap();
    let rest = env
        .aws_json(&["iot", "list-things", "--starting-token", token])
        .await;
    assert_eq!(rest["things"][0]["thingName"], "cli-lamp-2");
    assert_eq!(rest["things"].as_array().unwrap().len(), 1);
    // ListCertificates' own page size parameter is called pageSize: the CLI takes
    // --page-size as that manual parameter and then does not page by itself, so the marker is
    // the caller's to pass on.
    let first = env
        .aws_json(&["iot", "list-certificates", "--page-size", "1"])
        .await;
    let marker = first["nextMarker"].as_str().unwrap();
    let second = env
        .aws_json(&[
            "iot",
            "list-certificates",
            "--page-size",
            "1",
            "--marker",
            marker,
        ])
        .await;
    assert!(second.get("nextMarker").is_none(), "{second}");
    let all = env.aws_json(&["iot", "list-certificates"]).await;
    let ids = |listed: &Value| -> Vec<String> {
        listed["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["certificateId"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut paged = ids(&first);
    paged.extend(ids(&second));
    assert_eq!(paged, ids(&all), "newest first, page by page");
    let mut expected = vec![
        device.certificate_id.clone(),
        server.client.certificate_id.clone(),
    ];
    expected.sort();
    paged.sort();
    assert_eq!(paged, expected);

    // The CLI's errors: AWS's codes, a non-zero exit.
    let stderr = env
        .aws_error(&["iot", "create-thing", "--thing-name", "bad name"])
        .await;
    assert!(stderr.contains("(InvalidRequestException)"), "{stderr}");
    let stderr = env
        .aws_error(&[
            "iot",
            "delete-certificate",
            "--certificate-id",
            &device.certificate_id,
        ])
        .await;
    assert!(stderr.contains("(DeleteConflictException)"), "{stderr}");
    let stderr = env
        .aws_error(&["iot", "describe-thing", "--thing-name", "no-such-thing"])
        .await;
    assert!(stderr.contains("(ResourceNotFoundException)"), "{stderr}");
    server.shutdown().await;
}

/// A loopback port that was free a moment ago (the binary binds fixed ports).
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding port 0");
    listener.local_addr().expect("a local address")
}

/// `thingd serve` on `data`; waits until it runs and returns it with the AWS CLI variables it
/// printed.
async fn serve(data: &Path, mqtt: SocketAddr, api: SocketAddr) -> (Proc, AwsEnv) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_thingd"));
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(data)
        .args(["--mqtt", &mqtt.to_string(), "--api", &api.to_string()])
        // Not about the HTTPS data plane; its default port may be taken.
        .args(["--https", "off"])
        .env_remove("THINGD_DATA_DIR")
        .env_remove("THINGD_LOG")
        .env_remove("THINGD_REGION")
        .env_remove("THINGD_ACCOUNT_ID")
        .env("NO_COLOR", "1");
    let mut serve = Proc::spawn_command("thingd serve", command, None);
    let usage = serve
        .stderr_line_where("the AWS CLI usage", |l| {
            l.trim_start()
                .starts_with("export AWS_SHARED_CREDENTIALS_FILE=")
        })
        .await;
    serve
        .stderr_line_where("the example command", |l| l.trim() == "aws iot list-things")
        .await;
    serve
        .stderr_line_where("\"thingd is running\"", |l| l.contains("thingd is running"))
        .await;
    // `export AWS_SHARED_CREDENTIALS_FILE=<path> AWS_CONFIG_FILE=<path>`, used as printed.
    let mut variables = usage
        .split_whitespace()
        .skip(1)
        .map(|assignment| assignment.split_once('=').unwrap());
    let (Some(("AWS_SHARED_CREDENTIALS_FILE", credentials)), Some(("AWS_CONFIG_FILE", config))) =
        (variables.next(), variables.next())
    else {
        panic!("unexpected usage line: {usage}");
    };
    let env = AwsEnv {
        credentials: PathBuf::from(credentials),
        config: PathBuf::from(config),
    };
    (serve, env)
}

async fn sigterm(serve: Proc) {
    let pid = serve.pid().to_string();
    run("kill", ["-TERM", pid.as_str()], None)
        .await
        .assert_success("kill -TERM");
    let finished = serve.finish().await;
    assert!(
        finished.status.success(),
        "thingd exited with {}:\n{}",
        finished.status,
        finished.stderr
    );
}

#[tokio::test]
async fn thingd_serve_prints_how_to_use_the_aws_cli_and_its_data_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mqtt, api) = (free_port(), free_port());
    let (serve1, env) = serve(&data, mqtt, api).await;
    assert_eq!(env.credentials, data.join("credentials"));
    assert_eq!(env.config, data.join("aws-config"));

    let device = provision(&env, "survivor", &tmp.path().join("survivor")).await;
    let tls = endpoint(&env, mqtt, &data.join("ca.pem"), &device).await;
    mosquitto_pub(
        &tls,
        ProtocolVersion::V311,
        &["-i", "survivor", "-t", "lamps/survivor", "-m", "before"],
        None,
    )
    .await;
    sigterm(serve1).await;

    // Restarted on other ports: the same data, the same key, the files rewritten for the new
    // endpoint, so the same two variables keep working.
    let (mqtt, api) = (free_port(), free_port());
    let (serve2, env_again) = serve(&data, mqtt, api).await;
    assert_eq!(
        (&env_again.credentials, &env_again.config),
        (&env.credentials, &env.config)
    );
    let things = env.aws_json(&["iot", "list-things"]).await;
    assert_eq!(things["things"][0]["thingName"], "survivor", "{things}");
    let principals = env
        .aws_json(&["iot", "list-thing-principals", "--thing-name", "survivor"])
        .await;
    assert_eq!(principals, json!({"principals": [device.certificate_arn]}));
    let tls = endpoint(&env, mqtt, &data.join("ca.pem"), &device).await;
    mosquitto_pub(
        &tls,
        ProtocolVersion::V5,
        &["-i", "survivor", "-t", "lamps/survivor", "-m", "after"],
        None,
    )
    .await;

    // Once INACTIVE, it is refused.
    deactivate(&env, &device).await;
    assert_mosquitto_refused(&tls).await;
    sigterm(serve2).await;
}
