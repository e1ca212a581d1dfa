//! Publish over HTTPS reaches MQTT subscribers and services as a PUBLISH would: QoS, retain,
//! the MQTT 5 properties of iot-data's query and headers, retained messages read back with
//! GetRetainedMessage and ListRetainedMessages, Basic Ingest and the shadow topics through their
//! hooks, other `$` topics refused.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use mqtt_codec::{PayloadFormat, QoS};
use mqtt_topic::{TopicFilter, TopicLimits};
use testkit::TestServer;
use testkit::mosquitto::{Endpoint, Subscriber, message_line};
use testkit::process::run;
use thingd_broker::{HookOptions, Message, PublishHook, PublishOrigin};
use tokio::sync::mpsc;

use crate::client::{Https, curl};
use crate::support::{Client, Net, V5, within};

#[tokio::test]
async fn curl_publishes_to_mqtt_subscribers_with_encoded_or_raw_slashes() {
    let server = TestServer::start().await.unwrap();
    let endpoint = Endpoint::testkit_tls(&server);
    let mut mosquitto = Subscriber::start(&endpoint, V5, "sensors/#", 1, &[]).await;
    let mut mqtt = Client::connect(&server, Net::Tcp, V5, "subscriber").await;
    mqtt.subscribe("sensors/#", QoS::AtLeastOnce).await;

    // SDKs encode the topic as one label (`/` as %2F); hand-written clients send slashes.
    for (path, topic, payload) in [
        ("/topics/sensors%2Fkitchen?qos=1", "sensors/kitchen", "21.5"),
        ("/topics/sensors/hall?qos=1", "sensors/hall", "19"),
        ("/topics/sensors/attic", "sensors/attic", "12"),
    ] {
        let answer = curl(&server, &server.client, "POST", path, Some(payload)).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json()["message"], "OK");
        assert!(answer.json()["traceId"].is_string());

        let qos = if path.contains("qos=1") { 1 } else { 0 };
        assert_eq!(
            mosquitto.next_message().await,
            message_line(topic, qos, false, payload)
        );
        let received = mqtt.expect_publish().await;
        assert_eq!(received.topic.as_str(), topic);
        assert_eq!(&received.payload[..], payload.as_bytes());
        assert_eq!(
            received.qos,
            if qos == 1 {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            }
        );
        assert!(!received.retain);
    }
    let metrics = server.data_plane().metrics();
    assert_eq!(metrics.publishes_total.load(Ordering::Relaxed), 3);
    assert!(metrics.https_connections_total.load(Ordering::Relaxed) >= 3);
    // Rendered with the broker's on /metrics.
    let rendered = run(
        "curl",
        [
            "--silent",
            "--show-error",
            &format!("http://{}/metrics", server.api),
        ],
        None,
    )
    .await;
    rendered.assert_success("curl /metrics");
    assert!(
        rendered.printed("thingd_data_plane_publishes_total 3"),
        "{rendered:?}"
    );
    assert!(rendered.printed("thingd_connections_total"), "{rendered:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_mqtt5_properties_of_a_publish_reach_an_mqtt5_subscriber() {
    let server = TestServer::start().await.unwrap();
    let mut mqtt = Client::connect(&server, Net::Tcp, V5, "subscriber").await;
    mqtt.subscribe("props/#", QoS::AtLeastOnce).await;
    let mut https = Https::connect(&server, &server.client).await;

    let user = BASE64.encode(br#"[{"deviceName":"alpha"},{"deviceCnt":"45"}]"#);
    let correlation = BASE64.encode(b"\x00\x01request-7");
    let answer = https
        .request(
            "POST",
            "/topics/props%2Fa?qos=1&contentType=application%2Fjson&responseTopic=props%2Freplies&messageExpiry=3600",
            &[
                ("x-amz-mqtt5-user-properties", &user),
                ("x-amz-mqtt5-payload-format-indicator", "UTF8_DATA"),
                ("x-amz-mqtt5-correlation-data", &correlation),
            ],
            br#"{"on":true}"#,
        )
        .await;
    assert_eq!(answer.ok_json()["message"], "OK");
    let received = mqtt.expect_publish().await;
    let properties = &received.properties;
    assert_eq!(received.topic.as_str(), "props/a");
    assert_eq!(
        properties.content_type.as_ref().map(|s| s.as_str()),
        Some("application/json")
    );
    assert_eq!(
        properties.response_topic.as_ref().map(|s| s.as_str()),
        Some("props/replies")
    );
    assert_eq!(
        properties.correlation_data.as_deref(),
        Some(&b"\x00\x01request-7"[..])
    );
    assert_eq!(
        properties.payload_format_indicator,
        Some(PayloadFormat::Utf8)
    );
    let expiry = properties.message_expiry_interval.unwrap();
    assert!((3590..=3600).contains(&expiry), "{expiry}");
    let user: Vec<(&str, &str)> = properties
        .user_properties
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(user, [("deviceName", "alpha"), ("deviceCnt", "45")]);

    // Several requests on one keep-alive connection.
    for i in 0..3 {
        let answer = https
            .post("/topics/props%2Fseq?qos=1", format!("{i}").as_bytes())
            .await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            &mqtt.expect_publish().await.payload[..],
            format!("{i}").as_bytes()
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_retained_publish_is_read_back_listed_in_pages_and_cleared() {
    let server = TestServer::start().await.unwrap();
    let device = &server.client;
    for i in 0..5 {
        let answer = curl(
            &server,
            device,
            "POST",
            &format!("/topics/config%2Fr{i}?qos=1&retain=true"),
            Some(&format!("value-{i}")),
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    let mut https = Https::connect(&server, device).await;
    let user = BASE64.encode(br#"[{"k":"v"}]"#);
    let answer = https
        .request(
            "POST",
            "/topics/config%2Fwith-props?retain=true",
            &[("x-amz-mqtt5-user-properties", &user)],
            b"\x00binary\xff",
        )
        .await;
    assert_eq!(answer.status, 200);

    // GetRetainedMessage: the payload and user properties as base64, the time in ms.
    let got = curl(&server, device, "GET", "/retainedMessage/config%2Fr3", None).await;
    assert_eq!(got.status, 200, "{got:?}");
    let body = got.json();
    assert_eq!(body["topic"], "config/r3");
    assert_eq!(
        BASE64.decode(body["payload"].as_str().unwrap()).unwrap(),
        b"value-3"
    );
    assert_eq!(body["qos"], 1);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let modified = body["lastModifiedTime"].as_u64().unwrap();
    assert!(now_ms - modified < 60_000, "{modified} vs {now_ms}");
    assert!(body.get("userProperties").is_none(), "{body}");
    let with_props = https
        .get("/retainedMessage/config/with-props")
        .await
        .ok_json();
    assert_eq!(
        BASE64
            .decode(with_props["payload"].as_str().unwrap())
            .unwrap(),
        b"\x00binary\xff"
    );
    assert_eq!(with_props["qos"], 0);
    assert_eq!(
        BASE64
            .decode(with_props["userProperties"].as_str().unwrap())
            .unwrap(),
        br#"[{"k":"v"}]"#
    );

    // A new subscriber gets it retained, as from an MQTT publisher.
    let mut late = Client::connect(&server, Net::Tcp, V5, "late").await;
    late.subscribe("config/r0", QoS::AtLeastOnce).await;
    let retained = late.expect_publish().await;
    assert!(retained.retain);
    assert_eq!(&retained.payload[..], b"value-0");

    // ListRetainedMessages in pages of 2, in topic order, following nextToken.
    let mut topics = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let target = match &token {
            None => "/retainedMessage?maxResults=2".to_owned(),
            Some(token) => format!("/retainedMessage?maxResults=2&nextToken={token}"),
        };
        let page = https.get(&target).await.ok_json();
        pages += 1;
        for item in page["retainedTopics"].as_array().unwrap() {
            topics.push(item["topic"].as_str().unwrap().to_owned());
            assert!(item["payloadSize"].is_u64() && item["lastModifiedTime"].is_u64());
        }
        match page["nextToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        topics,
        [
            "config/r0",
            "config/r1",
            "config/r2",
            "config/r3",
            "config/r4",
            "config/with-props"
        ]
    );

    // retain=true with an empty payload clears the topic's retained message.
    let cleared = curl(
        &server,
        device,
        "POST",
        "/topics/config%2Fr3?retain=true",
        Some(""),
    )
    .await;
    assert_eq!(cleared.status, 200);
    let gone = https.get("/retainedMessage/config%2Fr3").await;
    gone.assert_error(404, "ResourceNotFoundException");
    server.shutdown().await;
}

/// A service hook that forwards what it sees.
struct Forward(mpsc::UnboundedSender<(String, Vec<u8>, PublishOrigin)>);

impl PublishHook for Forward {
    fn on_publish(&self, message: &Arc<Message>, origin: &PublishOrigin) {
        let _ = self.0.send((
            message.topic.as_str().to_owned(),
            message.payload.to_vec(),
            origin.clone(),
        ));
    }
}

#[tokio::test]
async fn reserved_topics_reach_the_services_that_take_them_and_no_others() {
    let server = TestServer::start().await.unwrap();
    let (sender, mut seen) = mpsc::unbounded_channel();
    // Basic Ingest, as the rules engine registers it: for the hook alone.
    server.broker().add_publish_hook(
        TopicFilter::parse("$aws/rules/#", &TopicLimits::MQTT).unwrap(),
        HookOptions {
            accepts_system_topics: true,
            hook_only: true,
        },
        Arc::new(Forward(sender)),
    );
    let mut https = Https::connect(&server, &server.client).await;
    let answer = https
        .post(
            "/topics/%24aws%2Frules%2Fmy_rule%2Fbuilding%2F7?qos=1",
            b"ingested",
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let (topic, payload, origin) = within(seen.recv()).await.unwrap();
    assert_eq!(topic, "$aws/rules/my_rule/building/7");
    assert_eq!(payload, b"ingested");
    // The publisher as rules see it: no client id over HTTPS, its certificate and address.
    assert_eq!(origin.client_id, None);
    assert_eq!(
        origin.certificate_id.as_deref(),
        Some(server.client.certificate_id.as_str())
    );
    assert!(origin.remote_addr.unwrap().ip().is_loopback());

    // No service takes this one: refused as over MQTT.
    for path in ["/topics/%24aws%2Fsomething", "/topics/$SYS/broker"] {
        https
            .post(path, b"x")
            .await
            .assert_error(403, "ForbiddenException");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversize_payload_is_refused_and_the_largest_accepted() {
    let server = TestServer::start().await.unwrap();
    let mut mqtt = Client::connect(&server, Net::Tcp, V5, "subscriber").await;
    mqtt.subscribe("big", QoS::AtMostOnce).await;
    let mut https = Https::connect(&server, &server.client).await;
    let largest = vec![b'x'; 128 * 1024];
    assert_eq!(https.post("/topics/big", &largest).await.status, 200);
    assert_eq!(mqtt.expect_publish().await.payload.len(), 128 * 1024);

    let mut https = Https::connect(&server, &server.client).await;
    let too_large = vec![b'x'; 128 * 1024 + 1];
    let message = https
        .post("/topics/big", &too_large)
        .await
        .assert_error(413, "RequestEntityTooLargeException");
    assert!(message.contains("131072"), "{message}");
    // The refused message went nowhere: the next one is what arrives.
    let mut https = Https::connect(&server, &server.client).await;
    assert_eq!(https.post("/topics/big", b"after").await.status, 200);
    assert_eq!(&mqtt.expect_publish().await.payload[..], b"after");
    server.shutdown().await;
}

/// A Publish over HTTPS is answered once durable, like a PUBACK; past `max_stored_bytes` the
/// store refuses it with 429 and delivers it to no one.
#[tokio::test]
async fn a_publish_the_full_durable_store_refuses_is_throttled() {
    let config = thingd_broker::BrokerConfig {
        max_stored_bytes: 1,
        ..thingd_broker::BrokerConfig::default()
    };
    let server = TestServer::start_with(config).await.unwrap();
    crate::support::offline_subscriber(
        &server,
        V5,
        Net::Tcp,
        "https-durable",
        "stored/#",
        QoS::AtLeastOnce,
    )
    .await;
    let mut https = Https::connect(&server, &server.client).await;
    // The first is stored (the store was empty), and answered once it is.
    assert_eq!(
        https.post("/topics/stored%2F1?qos=1", b"1").await.status,
        200
    );
    let refused = https.post("/topics/stored%2F2?qos=1", b"2").await;
    let message = refused.assert_error(429, "ThrottlingException");
    assert!(message.contains("store is full"), "{message}");
    // QoS 0 needs no storing.
    assert_eq!(https.post("/topics/stored%2F3", b"3").await.status, 200);
    let mut subscriber = Client::resume(
        &server,
        Net::Tcp,
        crate::support::persistent_connect(V5, "https-durable", 300),
    )
    .await;
    let publish = subscriber.expect_publish().await;
    assert_eq!(&publish.payload[..], b"1");
    let rest = subscriber.settle().await;
    assert!(
        rest.iter()
            .all(|p| !matches!(p, mqtt_codec::Packet::Publish(_))),
        "{rest:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_retained_publish_past_the_retained_store_limit_is_throttled() {
    let config = thingd_broker::BrokerConfig {
        max_retained_messages: 1,
        ..thingd_broker::BrokerConfig::default()
    };
    let server = TestServer::start_with(config).await.unwrap();
    let mut https = Https::connect(&server, &server.client).await;
    assert_eq!(
        https
            .post("/topics/full%2Fa?retain=true", b"1")
            .await
            .status,
        200
    );
    // Replacing the one retained topic stays within the limit.
    assert_eq!(
        https
            .post("/topics/full%2Fa?retain=true", b"2")
            .await
            .status,
        200
    );
    let refused = https.post("/topics/full%2Fb?retain=true", b"3").await;
    let message = refused.assert_error(429, "ThrottlingException");
    assert!(message.contains("retained"), "{message}");
    assert!(https.get("/retainedMessage/full%2Fb").await.status == 404);
    // Clearing frees the slot.
    assert_eq!(
        https.post("/topics/full%2Fa?retain=true", b"").await.status,
        200
    );
    assert_eq!(
        https
            .post("/topics/full%2Fb?retain=true", b"3")
            .await
            .status,
        200
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_publish_under_way_at_shutdown_still_reaches_subscribers() {
    // Shutdown stops the HTTPS listener (letting requests under way finish) before the broker:
    // a publish answered 200 during shutdown reached the subscribers still connected.
    let server = TestServer::start().await.unwrap();
    let https_address = server.https;
    let mut mqtt = Client::connect(&server, Net::Tcp, V5, "late-subscriber").await;
    mqtt.subscribe("late/#", QoS::AtLeastOnce).await;
    let mut https = Https::connect(&server, &server.client).await;
    // The head now, the body once shutdown is under way; `100 Continue` tells that the request
    // is being served (its body awaited).
    https
        .send_raw(
            b"POST /topics/late%2Fa?qos=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
        )
        .await;
    assert!(https.read_interim().await.contains(" 100 "));
    let stopping = tokio::spawn(server.shutdown());
    // Shutdown is under way once the HTTPS listener no longer accepts.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::net::TcpStream::connect(https_address).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the HTTPS listener still accepts"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    https.send_raw(b"late").await;
    let reply = https.read_reply().await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(&mqtt.expect_publish().await.payload[..], b"late");
    within(stopping).await.expect("shutdown completes");
}
