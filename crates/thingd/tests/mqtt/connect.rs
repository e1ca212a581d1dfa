//! CONNECT: validation and its CONNACK reason codes, server-assigned identifiers, client-id
//! takeover, Keep Alive (client's, and the server's override) and the CONNECT timeout.

use std::time::Duration;

use mqtt_codec::{ConnAck, Packet, ProtocolVersion, QoS, ReasonCode};
use thingd_broker::BrokerConfig;

use crate::support::*;

/// A CONNECT for `version` as it encodes it.
fn connect_bytes(version: ProtocolVersion, client_id: &str) -> Vec<u8> {
    encoded(
        version,
        &Packet::Connect(Box::new(connect_packet(version, client_id))),
    )
}

/// A CONNECT for `version` encoded with its Protocol Level byte replaced by `level`.
fn connect_bytes_with_level(version: ProtocolVersion, level: u8) -> Vec<u8> {
    let mut bytes = connect_bytes(version, "level");
    // Fixed header (2 bytes), then the Protocol Name "MQTT" (6 bytes), then the level.
    assert_eq!(&bytes[2..8], b"\x00\x04MQTT");
    bytes[8] = level;
    bytes
}

/// A CONNECT for `version` with the reserved bit of its Connect Flags (after the level byte) set.
fn connect_bytes_with_reserved_flag(version: ProtocolVersion) -> Vec<u8> {
    let mut bytes = connect_bytes(version, "reserved-flag");
    bytes[9] |= 0x01;
    bytes
}

/// Sends `bytes` as the first thing on a new connection, and returns the one CONNACK the server
/// answers with before it closes the connection.
async fn connack_then_close(
    server: &testkit::TestServer,
    net: Net,
    version: ProtocolVersion,
    bytes: &[u8],
) -> ConnAck {
    let mut client = Client::open(server, net, version).await;
    client.send_bytes(bytes).await;
    match &client.expect_close().await[..] {
        [Packet::ConnAck(connack)] => connack.clone(),
        other => panic!("expected one CONNACK then the close, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_level_3_is_refused_with_v311_return_code_1() {
    let server = start().await;
    for net in [Net::Tcp, Net::Tls] {
        // [MQTT-3.1.2-2]: an unsupported level gets return code 0x01 in a CONNACK the client reads.
        let connack = connack_then_close(&server, net, V3, &connect_bytes_with_level(V3, 3)).await;
        assert_eq!(connack.reason_code, ReasonCode::UnsupportedProtocolVersion);
        assert!(!connack.session_present);
        // The 3.1.1 encoding of that code is the byte 0x01.
        let refusal = ConnAck::new(false, ReasonCode::UnsupportedProtocolVersion);
        assert_eq!(
            encoded(V3, &Packet::ConnAck(refusal)),
            [0x20, 0x02, 0x00, 0x01]
        );
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_level_6_is_refused_with_v5_reason_0x84() {
    let server = start().await;
    for net in [Net::Tcp, Net::Tls] {
        let connack = connack_then_close(&server, net, V5, &connect_bytes_with_level(V5, 6)).await;
        assert_eq!(connack.reason_code.as_u8(), 0x84);
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v311_empty_client_id_without_clean_session_is_refused_with_code_2() {
    let server = start().await;
    for net in [Net::Tcp, Net::Tls] {
        // [MQTT-3.1.3-8] (3.1.1): a zero-byte ClientId with CleanSession 0 gets return code 0x02.
        let connack = Client::connect_refused(
            &server,
            net,
            persistent_connect(V3, "", 0),
            ReasonCode::ClientIdentifierNotValid,
        )
        .await;
        assert_eq!(connack.reason_code.to_v3_connack_code(), 0x02);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v311_empty_client_id_with_clean_session_is_accepted() {
    let server = start().await;
    for net in [Net::Tcp, Net::Tls] {
        let (mut client, connack) = Client::connect_ok(&server, net, connect_packet(V3, "")).await;
        assert!(!connack.session_present);
        client.subscribe("anonymous/t", QoS::AtLeastOnce).await;
        client.publish1_ok("anonymous/t", b"hello").await;
        assert_eq!(&client.expect_publish().await.payload[..], b"hello");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_empty_client_id_gets_an_assigned_client_identifier() {
    let server = start().await;
    let (_first, connack) =
        Client::connect_ok(&server, Net::Tls, persistent_connect(V5, "", 60)).await;
    // [MQTT-3.2.2-16]: the CONNACK carries the identifier the server assigned.
    let assigned = connack
        .properties
        .assigned_client_identifier
        .expect("Assigned Client Identifier");
    assert!(!assigned.is_empty());
    let (_second, connack) = Client::connect_ok(&server, Net::Tcp, connect_packet(V5, "")).await;
    let other = connack
        .properties
        .assigned_client_identifier
        .expect("Assigned Client Identifier");
    assert_ne!(assigned, other, "assigned identifiers are unique");
    drop(_first);
    // The assigned identifier names a real session: resuming it finds it (the first connection is
    // taken over or already gone).
    let (_resumed, connack) =
        Client::connect_ok(&server, Net::Tcp, persistent_connect(V5, &assigned, 60)).await;
    assert!(connack.session_present);
    assert!(
        connack.properties.assigned_client_identifier.is_none(),
        "only an empty id gets one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_id_longer_than_the_limit_is_refused() {
    let server = start_with(BrokerConfig {
        max_client_id_len: 16,
        ..BrokerConfig::default()
    })
    .await;
    let long = "x".repeat(17);
    for (version, net) in ALL {
        // 0x85 Client Identifier not valid (5.0), return code 0x02 (3.1.1).
        let connack = Client::connect_refused(
            &server,
            net,
            connect_packet(version, &long),
            ReasonCode::ClientIdentifierNotValid,
        )
        .await;
        assert_eq!(connack.reason_code.as_u8(), 0x85, "{version} {net:?}");
        let (_client, connack) =
            Client::connect_ok(&server, net, connect_packet(version, &long[..16])).await;
        assert!(!connack.session_present);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_method_is_refused_with_0x8c() {
    let server = start().await;
    let mut connect = connect_packet(V5, "enhanced-auth");
    connect.properties.authentication_method = Some(s("SCRAM-SHA-1"));
    let connack = Client::connect_refused(
        &server,
        Net::Tls,
        connect,
        ReasonCode::BadAuthenticationMethod,
    )
    .await;
    assert!(connack.properties.authentication_method.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn will_qos_above_maximum_qos_is_refused_with_0x9b() {
    let server = start_with(BrokerConfig {
        maximum_qos: QoS::AtLeastOnce,
        ..BrokerConfig::default()
    })
    .await;
    let mut connect = connect_packet(V5, "will-qos2");
    connect.will = Some(will("wills/x", b"bye", QoS::ExactlyOnce, false));
    // [MQTT-3.2.2-12]
    Client::connect_refused(&server, Net::Tcp, connect, ReasonCode::QoSNotSupported).await;
    // A will within the maximum is fine.
    let mut connect = connect_packet(V5, "will-qos1");
    connect.will = Some(will("wills/x", b"bye", QoS::AtLeastOnce, false));
    let (_client, connack) = Client::connect_ok(&server, Net::Tcp, connect).await;
    assert_eq!(connack.properties.maximum_qos, Some(QoS::AtLeastOnce));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_v5_connect_gets_connack_0x81_then_close() {
    let server = start().await;
    for net in [Net::Tcp, Net::Tls] {
        // [MQTT-3.1.2-3]: the reserved bit of the Connect Flags (after the level byte) must be 0.
        let bytes = connect_bytes_with_reserved_flag(V5);
        let connack = connack_then_close(&server, net, V5, &bytes).await;
        assert_eq!(connack.reason_code, ReasonCode::MalformedPacket);
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_connect_with_a_protocol_error_gets_connack_0x82_then_close() {
    let server = start().await;
    // Session Expiry Interval twice: "It is a Protocol Error to include the Session Expiry
    // Interval more than once" (§3.1.2.11.2).
    let body: &[u8] = &[
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, // header, clean start
        0x0A, 0x11, 0x00, 0x00, 0x00, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x0A, // properties
        0x00, 0x01, b'a', // client id
    ];
    let mut bytes = vec![0x10, body.len() as u8];
    bytes.extend_from_slice(body);
    let connack = connack_then_close(&server, Net::Tcp, V5, &bytes).await;
    assert_eq!(connack.reason_code, ReasonCode::ProtocolError);
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_v311_connect_is_closed_without_connack() {
    let server = start().await;
    let mut client = Client::open(&server, Net::Tls, V3).await;
    client
        .send_bytes(&connect_bytes_with_reserved_flag(V3))
        .await;
    // 3.1.1 has no return code for a malformed CONNECT: the server closes [MQTT-3.1.4-1].
    assert!(client.expect_close().await.is_empty());
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_takeover_sends_disconnect_0x8e_to_the_older_connection() {
    let server = start().await;
    let mut older = Client::connect(&server, Net::Tls, V5, "device-1").await;
    older.subscribe("takeover/t", QoS::AtLeastOnce).await;
    let (mut newer, connack) =
        Client::connect_ok(&server, Net::Tls, connect_packet(V5, "device-1")).await;
    assert!(!connack.session_present);
    // [MQTT-3.1.4-3]: the existing connection is closed, with 0x8E Session taken over (§4.13).
    older.expect_disconnect(ReasonCode::SessionTakenOver).await;
    // The newer connection works and its clean start discarded the old subscription.
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "takeover-pub").await;
    assert_eq!(
        publisher.publish1("takeover/t", b"x").await,
        ReasonCode::NoMatchingSubscribers
    );
    newer.subscribe("takeover/t", QoS::AtLeastOnce).await;
    publisher.publish1_ok("takeover/t", b"y").await;
    assert_eq!(&newer.expect_publish().await.payload[..], b"y");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v311_takeover_closes_the_older_connection() {
    let server = start().await;
    let mut older = Client::connect_ok(&server, Net::Tcp, persistent_connect(V3, "device-2", 0))
        .await
        .0;
    older.subscribe("takeover/t", QoS::AtLeastOnce).await;
    let (mut newer, connack) =
        Client::connect_ok(&server, Net::Tls, persistent_connect(V3, "device-2", 0)).await;
    assert!(
        connack.session_present,
        "the session is resumed by the new connection"
    );
    older.expect_disconnect(ReasonCode::SessionTakenOver).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V3, "takeover-pub").await;
    publisher.publish1_ok("takeover/t", b"to the newer").await;
    assert_eq!(&newer.expect_publish().await.payload[..], b"to the newer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_is_enforced_at_one_and_a_half_times() {
    let server = start().await;
    for (version, net) in [(V5, Net::Tls), (V3, Net::Tcp)] {
        let mut connect = connect_packet(version, "sleepy");
        connect.keep_alive = 1;
        let (mut client, connack) = Client::connect_ok(&server, net, connect).await;
        assert_eq!(
            connack.properties.server_keep_alive, None,
            "a 1 s keep alive is accepted as is"
        );
        // The client goes silent; [MQTT-3.1.2-22]: after 1.5 × Keep Alive the server closes,
        // with DISCONNECT 0x8D for 5.0 (§4.13).
        let (_, elapsed) = timed(client.expect_disconnect(ReasonCode::KeepAliveTimeout)).await;
        assert!(
            elapsed >= Duration::from_millis(1400),
            "closed after {elapsed:?}, before 1.5 × Keep Alive"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_counts_from_the_last_packet() {
    let server = start().await;
    let mut connect = connect_packet(V5, "pinger");
    connect.keep_alive = 1;
    let (mut client, _) = Client::connect_ok(&server, Net::Tcp, connect).await;
    let (_, elapsed) = timed(async {
        // Behave like a client whose keep-alive timer fires at 1 s: one PINGREQ, then silence.
        tokio::time::sleep(Duration::from_secs(1)).await;
        client.ping().await;
        client.expect_disconnect(ReasonCode::KeepAliveTimeout).await;
    })
    .await;
    assert!(
        elapsed >= Duration::from_millis(2400),
        "the PINGREQ at 1 s must extend the deadline to 2.5 s: {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_keep_alive_overrides_the_clients() {
    let server = start_with(BrokerConfig {
        max_keep_alive: Some(30),
        ..BrokerConfig::default()
    })
    .await;
    for (asked, imposed) in [(60, Some(30)), (0, Some(30)), (10, None), (30, None)] {
        let mut connect = connect_packet(V5, "keep-alive");
        connect.keep_alive = asked;
        let (_client, connack) = Client::connect_ok(&server, Net::Tcp, connect).await;
        // [MQTT-3.2.2-21]: the client must use the Server Keep Alive the CONNACK carries.
        assert_eq!(
            connack.properties.server_keep_alive, imposed,
            "client asked for {asked}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_keep_alive_is_enforced() {
    let server = start_with(BrokerConfig {
        max_keep_alive: Some(1),
        ..BrokerConfig::default()
    })
    .await;
    let mut connect = connect_packet(V5, "keep-alive");
    connect.keep_alive = 60;
    let (mut client, connack) = Client::connect_ok(&server, Net::Tls, connect).await;
    assert_eq!(connack.properties.server_keep_alive, Some(1));
    let (_, elapsed) = timed(client.expect_disconnect(ReasonCode::KeepAliveTimeout)).await;
    assert!(elapsed >= Duration::from_millis(1400), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(9),
        "the server's 1 s applies, not the client's 60 s: {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_required_within_the_connect_timeout() {
    let server = start_with(BrokerConfig {
        connect_timeout: Duration::from_secs(1),
        ..BrokerConfig::default()
    })
    .await;
    for net in [Net::Tcp, Net::Tls] {
        let mut client = Client::open(&server, net, V5).await;
        let (packets, elapsed) = timed(client.expect_close()).await;
        assert!(
            packets.is_empty(),
            "no CONNACK without a CONNECT: {packets:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(900),
            "{net:?} closed after {elapsed:?}"
        );
    }
    // A client that does send CONNECT in time is served.
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_a_client_certificate_is_refused() {
    let server = start().await;
    // With TLS 1.3 the client may finish its side of the handshake before the server refuses;
    // either way no MQTT session is established.
    if let Ok(tls) = tls_handshake(&server, tls_config_without_cert(&server)).await {
        let mut client = Client::from_io(tls, V5);
        client
            .send(&Packet::Connect(Box::new(connect_packet(V5, "no-cert"))))
            .await;
        let packets = client.expect_close().await;
        assert!(
            packets.is_empty(),
            "no CONNACK without a client certificate: {packets:?}"
        );
    }
    assert_serving(&server).await;
}
