//! Bad input over HTTPS is answered in iot-data's terms and never takes the listener down:
//! invalid, wildcard and malformed topics, bad query members and MQTT 5 headers, unknown paths
//! (404), wrong methods (405), an oversize head, and clients that are not HTTPS devices at all.

use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use testkit::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::Https;
use crate::support::{tls_config_without_cert, within};

const INVALID: (u16, &str) = (400, "InvalidRequestException");

#[tokio::test]
async fn invalid_topics_are_refused_with_invalid_request() {
    let server = TestServer::start().await.unwrap();
    let mut https = Https::connect(&server, &server.client).await;
    for path in [
        // Wildcards, encoded or not.
        "/topics/a%2F%2B%2Fb",
        "/topics/a/+/b",
        "/topics/a%2F%23",
        "/topics/%23",
        // Nothing after the prefix.
        "/topics/",
        "/topics",
        // Malformed percent-encoding, and bytes that are not UTF-8 once decoded.
        "/topics/a%zz",
        "/topics/a%2",
        "/topics/%ff%fe",
        // The null character [MQTT-4.7.3-2].
        "/topics/a%00b",
    ] {
        let reply = https.post(path, b"x").await;
        reply.assert_error(INVALID.0, INVALID.1);
    }
    // GetRetainedMessage reads its topic the same way.
    for path in [
        "/retainedMessage/a%2F%2B",
        "/retainedMessage/%zz",
        "/retainedMessage/",
    ] {
        https.get(path).await.assert_error(INVALID.0, INVALID.1);
    }
    // The connection survived every refusal.
    assert_eq!(https.post("/topics/fine", b"x").await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_query_members_and_headers_are_refused_with_invalid_request() {
    let server = TestServer::start().await.unwrap();
    let mut https = Https::connect(&server, &server.client).await;
    for query in [
        "qos=2",
        "qos=-1",
        "qos=one",
        "qos=",
        "qos=0&qos=1",
        "retain=yes",
        "messageExpiry=-5",
        "messageExpiry=4294967296",
        "messageExpiry=soon",
        "responseTopic=replies%2F%2B",
        "contentType=%zz",
    ] {
        let reply = https.post(&format!("/topics/t?{query}"), b"x").await;
        let message = reply.assert_error(INVALID.0, INVALID.1);
        assert!(!message.is_empty(), "{query}");
    }
    let many = (0..20)
        .map(|i| format!("p{i}=1"))
        .collect::<Vec<_>>()
        .join("&");
    https
        .post(&format!("/topics/t?{many}"), b"x")
        .await
        .assert_error(INVALID.0, INVALID.1);

    let not_an_array = BASE64.encode(br#"{"k":"v"}"#);
    let numbers = BASE64.encode(br#"[{"k":1}]"#);
    for (name, value) in [
        ("x-amz-mqtt5-user-properties", "not base64!"),
        ("x-amz-mqtt5-user-properties", not_an_array.as_str()),
        ("x-amz-mqtt5-user-properties", numbers.as_str()),
        ("x-amz-mqtt5-payload-format-indicator", "TEXT"),
        ("x-amz-mqtt5-correlation-data", "***"),
    ] {
        let reply = https
            .request("POST", "/topics/t", &[(name, value)], b"x")
            .await;
        reply.assert_error(INVALID.0, INVALID.1);
    }
    // A payload announced as UTF-8 must be [MQTT-3.3.2-4].
    let reply = https
        .request(
            "POST",
            "/topics/t",
            &[("x-amz-mqtt5-payload-format-indicator", "UTF8_DATA")],
            b"\xff\xfe",
        )
        .await;
    reply.assert_error(INVALID.0, INVALID.1);
    // Paging members out of the model's ranges.
    for target in [
        "/retainedMessage?maxResults=0",
        "/retainedMessage?maxResults=201",
        "/retainedMessage?nextToken=%21%21",
        "/api/things/shadow/ListNamedShadowsForThing/lamp?pageSize=101",
        "/api/things/shadow/ListNamedShadowsForThing/bad%20name",
        "/things/bad%20name/shadow",
        "/things/lamp/shadow?name=bad%20name",
    ] {
        https.get(target).await.assert_error(INVALID.0, INVALID.1);
    }
    assert_eq!(
        https
            .post("/topics/t?qos=0&retain=false", b"x")
            .await
            .status,
        200
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_get_404_and_wrong_methods_405() {
    let server = TestServer::start().await.unwrap();
    let mut https = Https::connect(&server, &server.client).await;
    for (method, path) in [
        ("GET", "/"),
        ("POST", "/nothing/here"),
        ("GET", "/things/lamp"),
    ] {
        https
            .request(method, path, &[], b"")
            .await
            .assert_error(404, "ResourceNotFoundException");
    }
    for (method, path) in [
        ("GET", "/topics/a"),
        ("PUT", "/topics/a"),
        ("DELETE", "/retainedMessage/a"),
        ("POST", "/retainedMessage"),
        ("PUT", "/things/lamp/shadow"),
        ("PATCH", "/things/lamp/shadow"),
        ("POST", "/api/things/shadow/ListNamedShadowsForThing/lamp"),
    ] {
        https
            .request(method, path, &[], b"")
            .await
            .assert_error(405, "MethodNotAllowedException");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversize_request_head_is_refused_and_the_connection_closed() {
    let server = TestServer::start().await.unwrap();
    let mut https = Https::connect(&server, &server.client).await;
    let long = "a".repeat(70 * 1024);
    let mut head = format!("POST /topics/t HTTP/1.1\r\nHost: localhost\r\nX-Long: {long}\r\n");
    head.push_str("Content-Length: 1\r\n\r\nx");
    https.send_raw(head.as_bytes()).await;
    let reply = https.read_reply().await;
    assert_eq!(reply.status, 431, "{reply:?}");
    assert!(https.closed().await);
    // Others are served on.
    let mut https = Https::connect(&server, &server.client).await;
    assert_eq!(https.post("/topics/t", b"x").await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn clients_that_are_not_https_devices_are_turned_away_at_the_handshake() {
    let server = TestServer::start().await.unwrap();
    let failed_before = server
        .data_plane()
        .metrics()
        .https_handshakes_failed_total
        .load(Ordering::Relaxed);

    // Plain HTTP on the HTTPS port.
    let mut plain = within(TcpStream::connect(server.https)).await.unwrap();
    plain
        .write_all(b"POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = within(plain.read_to_end(&mut answer)).await;
    assert!(!answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");

    // TLS without a client certificate: AWS's device endpoint requires one.
    let refused = match Https::connect_with(&server, tls_config_without_cert(&server)).await {
        Err(_) => true,
        Ok(mut https) => {
            let request = b"POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx";
            https.try_send_raw(request).await.is_err() || https.closed().await
        }
    };
    assert!(refused);

    // Both were counted, and a device is served as before.
    let metrics = server.data_plane().metrics();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while metrics
        .https_handshakes_failed_total
        .load(Ordering::Relaxed)
        < failed_before + 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "handshake failures not counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut https = Https::connect(&server, &server.client).await;
    assert_eq!(https.post("/topics/t", b"x").await.status, 200);
    server.shutdown().await;
}
