//! Regression tests for bugs the interop suite found, each named after what it guards.
//!
//! - MQTT over WebSocket: the connection loop flushes its writer once its buffer is empty, so a
//!   WebSocket sink (which holds frames until flushed) sends CONNACK and every later packet at
//!   once rather than at the close (`paho_websocket_*`, `websocket_packets_may_span_and_share_frames`,
//!   `websocket_text_frame_after_connect_closes`, `websocket_mqtt5_client_receives_server_shutting_down`).
//! - Shutdown closes connections that have not sent CONNECT yet, instead of waiting for their
//!   connect timeout (`shutdown_closes_connections_that_have_not_sent_connect`).
//! - `thingd_bytes_received_total` counts the bytes of CONNECT too
//!   (`bytes_received_total_counts_connect`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::SinkExt;
use mqtt_codec::{
    Decoder, Disconnect, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS, ReasonCode,
    Subscribe, SubscribeProperties, SubscriptionOptions,
};
use serde_json::json;
use testkit::TestServer;
use thingd_broker::BrokerConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};

use crate::paho::{hex, run_paho};
use crate::support::{
    MqttStream, Next, connect_packet, encode, testkit_client_config, tls_connect,
};
use crate::websocket::{Ws, WsNext, open, read_packets};

const V5: ProtocolVersion = ProtocolVersion::V5;

/// Runs `test` against the WebSocket listener of a new server, then shuts the server down.
async fn on_the_api_of_a_server<F: Future<Output = ()>>(test: impl FnOnce(SocketAddr) -> F) {
    let server = TestServer::start().await.expect("server starts");
    test(server.api).await;
    server.shutdown().await;
}

#[tokio::test]
async fn paho_websocket_mqtt311() {
    on_the_api_of_a_server(|api| paho_over_websocket(api, "3.1.1")).await;
}

#[tokio::test]
async fn paho_websocket_mqtt5() {
    on_the_api_of_a_server(|api| paho_over_websocket(api, "5")).await;
}

#[tokio::test]
async fn websocket_packets_may_span_and_share_frames() {
    on_the_api_of_a_server(packets_may_span_and_share_frames).await;
}

#[tokio::test]
async fn websocket_text_frame_after_connect_closes() {
    on_the_api_of_a_server(text_frame_after_connect_closes).await;
}

/// A TLS client that completed the handshake but has not sent CONNECT is closed at shutdown,
/// and shutdown does not wait out its grace period for it.
#[tokio::test]
async fn shutdown_closes_connections_that_have_not_sent_connect() {
    let grace = Duration::from_secs(20);
    let config = BrokerConfig {
        shutdown_grace: grace,
        connect_timeout: Duration::from_secs(120),
        ..BrokerConfig::default()
    };
    let server = TestServer::start_with(config).await.expect("server starts");
    // TLS 1.2: the client's handshake completes only after the server's, so the server is
    // already waiting for CONNECT when the shutdown starts.
    let tls = testkit_client_config(&server, &[b"mqtt"], &[&rustls::version::TLS12]);
    let stream = tls_connect(server.mqtt_tls, tls)
        .await
        .expect("TLS handshake");
    let mut idle = MqttStream::new(stream, V5);
    let started = Instant::now();
    let (_, next) = tokio::join!(server.shutdown(), idle.next());
    assert_eq!(next, Next::Closed);
    assert!(
        started.elapsed() < grace,
        "shutdown waited {:?} for a connection without CONNECT",
        started.elapsed()
    );
}

/// Every byte a client sends is counted, the CONNECT packet's included: after CONNECT and a
/// PINGREQ answered, `thingd_bytes_received_total` is exactly their size.
#[tokio::test]
async fn bytes_received_total_counts_connect() {
    let server = TestServer::start().await.expect("server starts");
    let mut client = MqttStream::new(
        tokio::net::TcpStream::connect(server.mqtt_tcp)
            .await
            .expect("connects"),
        V5,
    );
    let wire = encode(V5, &[connect_packet(V5, "bytes")]);
    assert_eq!(
        client.connect("bytes").await.reason_code,
        ReasonCode::Success
    );
    client.send(&Packet::PingReq).await;
    assert_eq!(client.next().await, Next::Packet(Packet::PingResp));
    let received = server
        .broker()
        .metrics()
        .bytes_received_total
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        received,
        wire.len() as u64 + 2,
        "CONNECT ({} bytes) + PINGREQ (2)",
        wire.len()
    );
    server.shutdown().await;
}

/// A 5.0 client on the WebSocket listener gets CONNACK, then at shutdown DISCONNECT 0x8B, then
/// the close.
#[tokio::test]
async fn websocket_mqtt5_client_receives_server_shutting_down() {
    let server = crate::shutdown::server().await;
    let mut ws = WsClient::open(server.api).await;
    ws.send(encode(V5, &[connect_packet(V5, "ws-shutdown")]))
        .await;
    ws.expect_connack().await;
    let (_, next) = tokio::join!(crate::shutdown::shut_down(server), ws.read(1));
    match next {
        WsNext::Packets(p) => assert_eq!(
            p,
            vec![Packet::Disconnect(Disconnect::new(
                ReasonCode::ServerShuttingDown
            ))]
        ),
        closed => panic!("expected DISCONNECT 0x8B, got {closed:?}"),
    }
    match ws.read(1).await {
        WsNext::Closed(_) => {}
        WsNext::Packets(p) => panic!("expected the close after DISCONNECT, got {p:?}"),
    }
}

/// Two paho clients on `ws://{api}/mqtt` with `version`: QoS 0, 1 and 2 messages, a binary
/// payload and a 200 KiB one (several TCP segments, possibly several frames) arrive unchanged.
pub(crate) async fn paho_over_websocket(api: SocketAddr, version: &str) {
    let big: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    let messages = json!([
        {"topic": "ws/a", "payload_hex": hex(format!("qos0 over websocket {version}").as_bytes()), "qos": 0},
        {"topic": "ws/b", "payload_hex": hex("qos1 ✓".as_bytes()), "qos": 1},
        {"topic": "ws/c/d", "payload_hex": hex(&[0x00, 0xff, 0x7f, 0x80]), "qos": 2},
        {"topic": "ws/big", "payload_hex": hex(&big), "qos": 1},
    ]);
    let config = json!({
        "host": "127.0.0.1",
        "port": api.port(),
        "transport": "websockets",
        "path": "/mqtt",
        "version": version,
        "filter": "ws/#",
        "sub_qos": 2,
        "messages": messages,
    });
    let received = run_paho(config).await;
    let sent = messages.as_array().expect("an array");
    assert_eq!(received.len(), sent.len(), "{version}");
    // MQTT orders messages per topic only (§4.6): paho hands a QoS 2 message to the
    // application at PUBREL, so a QoS 1 message on another topic may overtake it.
    for want in sent {
        let got = received
            .iter()
            .find(|m| m["topic"] == want["topic"])
            .unwrap_or_else(|| panic!("{version}: no message on {}", want["topic"]));
        assert_eq!(got["topic"], want["topic"], "{version}");
        assert_eq!(
            got["payload_hex"], want["payload_hex"],
            "{version}: payload of {}",
            want["topic"]
        );
        assert_eq!(got["qos"], want["qos"], "{version}");
        assert_eq!(got["retain"], false, "{version}");
    }
}

/// A 5.0 client on the WebSocket listener: the socket and the decoder of what it reads.
struct WsClient {
    ws: Ws,
    decoder: Decoder,
    buf: BytesMut,
}

impl WsClient {
    /// Opens `ws://{api}/mqtt` (see [`open`]).
    async fn open(api: SocketAddr) -> WsClient {
        WsClient {
            ws: open(api).await,
            decoder: Decoder::new(V5, usize::MAX),
            buf: BytesMut::new(),
        }
    }

    /// Sends `bytes` in one binary frame.
    async fn send(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("sending");
    }

    /// Reads until `want` packets decoded or the connection closes.
    async fn read(&mut self, want: usize) -> WsNext {
        read_packets(&mut self.ws, &mut self.decoder, &mut self.buf, want).await
    }

    /// Reads the CONNACK, which must accept the connection.
    async fn expect_connack(&mut self) {
        match self.read(1).await {
            WsNext::Packets(p) => match &p[0] {
                Packet::ConnAck(ack) => assert_eq!(ack.reason_code, ReasonCode::Success),
                other => panic!("expected CONNACK, got {other:?}"),
            },
            closed => panic!("expected CONNACK, got {closed:?}"),
        }
    }
}

/// One CONNECT split over two binary frames, then PINGREQ and SUBSCRIBE sharing one frame: the
/// server answers CONNACK, PINGRESP and SUBACK.
pub(crate) async fn packets_may_span_and_share_frames(api: SocketAddr) {
    let mut ws = WsClient::open(api).await;
    let mut connect = encode(V5, &[connect_packet(V5, "ws-frames")]);
    let tail = connect.split_off(5);
    ws.send(connect).await;
    ws.send(tail).await;
    ws.expect_connack().await;
    let packet_id = PacketId::new(7).expect("non-zero");
    let subscribe = Subscribe {
        packet_id,
        properties: SubscribeProperties::default(),
        filters: vec![(
            MqttString::new("ws/frames").expect("filter"),
            SubscriptionOptions::qos(QoS::AtLeastOnce),
        )],
    };
    ws.send(encode(V5, &[Packet::PingReq, Packet::Subscribe(subscribe)]))
        .await;
    match ws.read(2).await {
        WsNext::Packets(p) => {
            assert_eq!(p[0], Packet::PingResp);
            match &p[1] {
                Packet::SubAck(ack) => {
                    assert_eq!(ack.packet_id, packet_id);
                    assert_eq!(ack.reason_codes, vec![ReasonCode::GrantedQoS1]);
                }
                other => panic!("expected SUBACK, got {other:?}"),
            }
        }
        closed => panic!("expected PINGRESP and SUBACK, got {closed:?}"),
    }
}

/// A text frame in an established session closes the connection too.
pub(crate) async fn text_frame_after_connect_closes(api: SocketAddr) {
    let mut ws = WsClient::open(api).await;
    ws.send(encode(V5, &[connect_packet(V5, "ws-text")])).await;
    ws.expect_connack().await;
    // The text frame carries a well-formed PUBLISH (all ASCII bytes, so valid UTF-8): the frame
    // type alone must close.
    let publish = Publish::new(
        MqttString::new("t").expect("topic"),
        Bytes::from_static(b"load"),
    );
    let text =
        String::from_utf8(encode(V5, &[Packet::Publish(publish)])).expect("this PUBLISH is ASCII");
    ws.ws.send(Message::text(text)).await.expect("sending");
    match ws.read(1).await {
        WsNext::Closed(how) => println!("closed: {how}"),
        WsNext::Packets(p) => panic!("[MQTT-6.0.0-1]: expected the connection closed, got {p:?}"),
    }
}
