//! `thingd button` (the classic AWS IoT button, reference §8): the click a subscriber receives,
//! through the library and through the real binary, and the clear failures of a button that may
//! not connect or may not publish.

use std::time::Duration;

use mqtt_codec::ProtocolVersion::V5;
use testkit::{ClientCert, TestServer};
use thingd::button::{ButtonOptions, ClickType, click_message, press};

use crate::support::{Endpoint, Subscriber, message_line, run};

const THINGD: &str = env!("CARGO_BIN_EXE_thingd");
const SERIAL: &str = "G030JF051234A5BC";

fn options(server: &TestServer, button: &ClientCert, click: ClickType) -> ButtonOptions {
    ButtonOptions {
        // `localhost`: a name the server certificate covers, as a person would type it.
        endpoint: format!("localhost:{}", server.mqtt_tls.port()),
        cert: button.cert_path(),
        key: button.key_path(),
        ca: button.ca_path(),
        serial: SERIAL.to_owned(),
        click,
        battery_mv: 1567,
        client_id: None,
        timeout: Duration::from_secs(10),
    }
}

/// The button's policy: connect as its serial, publish to its topic.
/// Runs the real `thingd button` against `server` with `button`'s certificate files, the
/// serial [`SERIAL`] and `extra` arguments.
async fn run_button(
    server: &TestServer,
    button: &ClientCert,
    extra: &[&str],
) -> crate::support::Finished {
    let mut args: Vec<std::ffi::OsString> = vec![
        "button".into(),
        "--endpoint".into(),
        format!("localhost:{}", server.mqtt_tls.port()).into(),
        "--cert".into(),
        button.cert_path().into_os_string(),
        "--key".into(),
        button.key_path().into_os_string(),
        "--ca".into(),
        button.ca_path().into_os_string(),
        "--serial".into(),
        SERIAL.into(),
    ];
    args.extend(extra.iter().map(Into::into));
    run(THINGD, args, None).await
}

async fn button_with_policy(server: &TestServer, actions: &[&str]) -> ClientCert {
    let button = server.issue_client_without_policy(SERIAL).await.unwrap();
    let document = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": actions,
        "Resource": "*",
    }]});
    server
        .create_policy("button", &document.to_string())
        .await
        .unwrap();
    server.attach_policy("button", &button).await.unwrap();
    button
}

#[tokio::test]
async fn a_click_reaches_a_subscriber() {
    let server = TestServer::start().await.unwrap();
    let button = button_with_policy(&server, &["iot:Connect", "iot:Publish"]).await;
    let mut watcher =
        Subscriber::start(&Endpoint::testkit_tls(&server), V5, "iotbutton/+", 1, &[]).await;

    let topic = press(&options(&server, &button, ClickType::Single))
        .await
        .unwrap();
    assert_eq!(topic, format!("iotbutton/{SERIAL}"));
    let expected =
        format!(r#"{{"serialNumber":"{SERIAL}","batteryVoltage":"1567mV","clickType":"SINGLE"}}"#);
    assert_eq!(
        watcher.next_message().await,
        message_line(&topic, 1, false, &expected)
    );

    // The real binary, with every flag.
    let finished = run_button(
        &server,
        &button,
        &["--click", "long", "--battery-mv", "1490"],
    )
    .await;
    finished.assert_success("thingd button");
    assert_eq!(
        watcher.next_message().await,
        message_line(
            &topic,
            1,
            false,
            &click_message(SERIAL, ClickType::Long, 1490)
        )
    );
}

#[tokio::test]
async fn a_refused_button_says_why_and_fails() {
    let server = TestServer::start().await.unwrap();
    // May connect, may not publish: 3.1.1 has no negative PUBACK, the connection closes.
    let mute = button_with_policy(&server, &["iot:Connect"]).await;
    let error = press(&options(&server, &mute, ClickType::Double))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("closed the connection instead of acknowledging the click")
            && error.contains(&format!("topic/iotbutton/{SERIAL}")),
        "{error}"
    );

    // No policy at all: the CONNACK refuses.
    let bare = server.issue_client_without_policy("bare").await.unwrap();
    let error = press(&options(&server, &bare, ClickType::Single))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("refused the connection"), "{error}");

    // The binary exits non-zero with the message.
    let finished = run_button(&server, &bare, &[]).await;
    assert!(!finished.status.success(), "{finished:?}");
    assert!(
        finished.stderr.contains("refused the connection"),
        "{}",
        finished.stderr
    );

    // A serial that is not one topic level never reaches the network.
    let mut bad = options(&server, &mute, ClickType::Single);
    bad.serial = "a/b".into();
    assert!(
        press(&bad)
            .await
            .unwrap_err()
            .to_string()
            .contains("serial number"),
    );
}
