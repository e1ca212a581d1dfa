//! The `http` action against an HTTP server on loopback: delivery with templates and headers,
//! destinations and plain-HTTP prefixes, refusals, error statuses, timeouts and a stalled
//! receiver overflowing the queue.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

fn http_action(url: &str) -> Value {
    json!({"http": {
        "url": url,
        "headers": [
            {"key": "x-device", "value": "${topic(2)}"},
            {"key": "x-static", "value": "fixed"}
        ]
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_posted_under_a_trusted_prefix_with_templated_url_and_headers() {
    let mut receiver = HttpReceiver::start(Answer::Status(200)).await;
    let base = receiver.url();
    let server = start(|rules| {
        rules.http_allow.push(format!("{base}/"));
        rules.trusted_destinations.push(format!("{base}/hooks"));
    })
    .await;
    put_rule(
        &server,
        "post",
        json!({
            "sql": "SELECT temp, topic(2) AS device FROM 'sensors/+/data'",
            "actions": [http_action(&format!("{base}/hooks/${{topic(2)}}?x=1"))]
        }),
    )
    .await;
    let mut device = Mqtt::connect(&server, "http-device").await;
    device.publish("sensors/d1/data", r#"{"temp": 21}"#).await;
    let request = receiver.next().await;
    assert_eq!(request.path, "/hooks/d1?x=1");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["x-device"], "d1");
    assert_eq!(request.headers["x-static"], "fixed");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body, json!({"temp": 21, "device": "d1"}));
    actions_succeeded(&server, "http", 1.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enabled_destination_covers_its_urls_and_binary_results_are_octet_streams() {
    let mut receiver = HttpReceiver::start(Answer::Status(204)).await;
    let base = receiver.url();
    let server = start(|rules| rules.http_allow.push(format!("{base}/"))).await;
    enabled_destination(&server, &format!("{base}/dest")).await;
    put_rule(
        &server,
        "binary",
        json!({"sql": "SELECT * FROM 'raw/in'", "actions": [{"http": {"url": format!("{base}/dest/raw")}}]}),
    )
    .await;
    let mut device = Mqtt::connect(&server, "raw-device").await;
    device.publish("raw/in", vec![0u8, 159, 146, 150]).await;
    let request = receiver.next().await;
    assert_eq!(request.path, "/dest/raw");
    assert_eq!(request.headers["content-type"], "application/octet-stream");
    assert_eq!(&request.body[..], &[0u8, 159, 146, 150]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_urls_and_error_statuses_fail_into_the_error_action() {
    let mut failing = HttpReceiver::start(Answer::Status(503)).await;
    let base = failing.url();
    let server = start(|rules| {
        // Plain HTTP is allowed to the receiver, but no destination covers /elsewhere.
        rules.http_allow.push(format!("{base}/"));
        rules.trusted_destinations.push(format!("{base}/hooks"));
    })
    .await;
    put_rule(
        &server,
        "failing",
        json!({
            "sql": "SELECT * FROM 'fail/in'",
            "actions": [
                {"http": {"url": format!("{base}/hooks/503")}},
                {"http": {"url": format!("{base}/elsewhere")}},
                // Under a trusted prefix, but plain HTTP to a host that is not allowed.
                {"http": {"url": "http://192.0.2.1/hooks"}}
            ],
            "errorAction": error_to("errors/http")
        }),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "http-errors").await;
    let mut device = Mqtt::connect(&server, "http-failing").await;
    device.publish("fail/in", r#"{"a":1}"#).await;
    assert_eq!(failing.next().await.path, "/hooks/503");
    let (_, body) = subscriber.next_json().await;
    let failures = check_error_payload(&body, "failing", "fail/in", "http-failing", br#"{"a":1}"#);
    assert_eq!(
        failures.len(),
        3,
        "one error action for three failures: {failures:?}"
    );
    let message_of = |resource: &str| {
        failures
            .iter()
            .find(|f| f["failedResource"] == resource)
            .unwrap_or_else(|| panic!("no failure for {resource}: {failures:?}"))["errorMessage"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(message_of(&format!("{base}/hooks/503")).contains("503"));
    assert!(message_of(&format!("{base}/elsewhere")).contains("destination"));
    assert!(message_of("http://192.0.2.1/hooks").contains("Plain http://"));
    assert!(failures.iter().all(|f| f["failedAction"] == "HttpAction"));
    assert_eq!(
        metric(&server, "thingd_rules_action_failed_total{action=\"http\"}").await,
        3.0
    );
}

/// An HTTPS server on loopback presenting thingd's server certificate (for localhost, signed
/// by the data directory's CA): answers 200 to every request and sends each request's head.
async fn https_receiver(
    data_dir: &std::path::Path,
) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(data_dir.join("server.pem"))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_file(data_dir.join("server-key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&request).into_owned());
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_verified_against_the_roots_and_the_extra_cas() {
    // With the data directory's CA among the extra roots, thingd's server certificate verifies.
    let server = testkit::TestServer::start_configured(|options| {
        options
            .rules
            .http_ca_files
            .push(options.data_dir.join("ca.pem"));
        options
            .rules
            .trusted_destinations
            .push("https://localhost:".into());
    })
    .await
    .unwrap();
    let (port, mut requests) = https_receiver(server.data_dir()).await;
    let rule = json!({
        "sql": "SELECT * FROM 'tls/in'",
        "actions": [{"http": {"url": format!("https://localhost:{port}/secure")}}],
        "errorAction": error_to("errors/tls")
    });
    put_rule(&server, "tls", rule.clone()).await;
    let mut device = Mqtt::connect(&server, "tls-device").await;
    device.publish("tls/in", "{}").await;
    let head = within(requests.recv()).await.unwrap();
    assert!(head.starts_with("POST /secure HTTP/1.1"), "{head}");
    actions_succeeded(&server, "http", 1.0).await;

    // Without it, the certificate is unknown: the delivery fails.
    let strict = start(|rules| rules.trusted_destinations.push("https://localhost:".into())).await;
    put_rule(&strict, "tls", rule).await;
    let mut subscriber = Mqtt::errors_watcher(&strict, "tls-errors").await;
    let mut device = Mqtt::connect(&strict, "tls-device").await;
    device.publish("tls/in", "{}").await;
    let (_, body) = subscriber.next_json().await;
    let failures = check_error_payload(&body, "tls", "tls/in", "tls-device", b"{}");
    let message = failures[0]["errorMessage"].as_str().unwrap();
    assert!(message.to_lowercase().contains("certificate"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_slower_than_the_timeout_fails_the_delivery() {
    let mut stalled = HttpReceiver::start(Answer::Stall).await;
    let base = stalled.url();
    let server = start(|rules| {
        rules.http_allow.push(format!("{base}/"));
        rules.trusted_destinations.push(base.clone());
        rules.http_timeout = Duration::from_millis(300);
    })
    .await;
    put_rule(
        &server,
        "slow",
        json!({"sql": "SELECT * FROM 'slow/in'", "actions": [{"http": {"url": format!("{base}/slow")}}], "errorAction": error_to("errors/slow")}),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "slow-errors").await;
    let mut device = Mqtt::connect(&server, "slow-device").await;
    device.publish("slow/in", "{}").await;
    stalled.next().await;
    let (_, body) = subscriber.next_json().await;
    let failures = check_error_payload(&body, "slow", "slow/in", "slow-device", b"{}");
    assert!(
        failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{failures:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_receiver_overflows_the_queue_without_slowing_other_actions() {
    let mut stalled = HttpReceiver::start(Answer::Stall).await;
    let base = stalled.url();
    let server = start(|rules| {
        rules.http_allow.push(format!("{base}/"));
        rules.trusted_destinations.push(base.clone());
        rules.http_timeout = Duration::from_secs(60);
        rules.action_queue = 1;
        rules.action_concurrency = 1;
    })
    .await;
    put_rule(
        &server,
        "stall",
        json!({
            "sql": "SELECT * FROM 'stall/in'",
            "actions": [{"http": {"url": format!("{base}/stall")}}, republish("stall/fast/${n}")],
            "errorAction": error_to("errors/stall")
        }),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "stall-errors").await;
    subscriber.subscribe("stall/fast/#").await;
    let mut device = Mqtt::connect(&server, "stall-device").await;
    // The first request is under way (the receiver holds it), the second waits in the queue,
    // the third finds the queue full. The republish action goes on meanwhile (each message
    // waited for, so that its own queue of one never overflows).
    let mut error = None;
    for n in 0..3 {
        device.publish("stall/in", format!("{{\"n\": {n}}}")).await;
        if n == 0 {
            stalled.next().await;
        }
        loop {
            let (topic, body) = subscriber.next_json().await;
            if topic == "errors/stall" {
                error = Some(body);
            } else {
                assert_eq!(
                    topic,
                    format!("stall/fast/{n}"),
                    "the republish action was not held back"
                );
                break;
            }
        }
    }
    if error.is_none() {
        error = Some(subscriber.next_json().await.1);
    }
    let failures = check_error_payload(
        &error.unwrap(),
        "stall",
        "stall/in",
        "stall-device",
        br#"{"n": 2}"#,
    );
    assert!(
        failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("queue is full"),
        "{failures:?}"
    );
    assert_eq!(
        metric(
            &server,
            "thingd_rules_action_dropped_total{action=\"http\"}"
        )
        .await,
        1.0
    );
}
