//! Graceful shutdown as clients see it: 5.0 clients (a raw client over TCP, a rustls client,
//! mosquitto_sub over TLS) receive DISCONNECT 0x8B Server shutting down and then the close;
//! rumqttc sees its connection end; a 3.1.1 client sees the close with no packet; shutdown
//! returns without waiting out its grace period. (The WebSocket case is in `pending.rs`.)

use std::time::{Duration, Instant};

use mqtt_codec::{Disconnect, Packet, ProtocolVersion, ReasonCode};
use rumqttc::v5::mqttbytes::v5::{DisconnectReasonCode, Packet as RumqttPacket};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, MqttOptions, StateError};
use rumqttc::{TlsConfiguration, Transport};
use testkit::TestServer;
use testkit::raw::RawClient;
use thingd_broker::BrokerConfig;

use crate::support::{
    Endpoint, MqttStream, Next, Subscriber, WAIT, testkit_client_config, tls_connect,
};

/// A grace period long enough that returning before it proves every connection closed.
const GRACE: Duration = Duration::from_secs(20);

pub(crate) async fn server() -> TestServer {
    TestServer::start_with(BrokerConfig {
        shutdown_grace: GRACE,
        ..BrokerConfig::default()
    })
    .await
    .expect("server starts")
}

/// Shuts `server` down and checks it did not need the whole grace period.
pub(crate) async fn shut_down(server: TestServer) {
    let started = Instant::now();
    server.shutdown().await;
    assert!(
        started.elapsed() < GRACE,
        "shutdown waited out its grace period: a connection did not close"
    );
}

/// Connects a raw client of `version` over TCP, shuts the server down, and returns the packets
/// the client received before the close.
async fn raw_client_at_shutdown(version: ProtocolVersion, client_id: &str) -> Vec<Packet> {
    let server = server().await;
    let mut client = RawClient::connect(server.mqtt_tcp, version, client_id)
        .await
        .expect("connects");
    let (_, packets) = tokio::join!(shut_down(server), client.expect_close());
    packets.expect("the connection closes")
}

#[tokio::test]
async fn raw_mqtt5_client_receives_server_shutting_down() {
    assert_eq!(
        raw_client_at_shutdown(ProtocolVersion::V5, "shutdown-v5").await,
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ServerShuttingDown
        ))]
    );
}

#[tokio::test]
async fn raw_mqtt311_client_sees_the_close() {
    assert_eq!(
        raw_client_at_shutdown(ProtocolVersion::V311, "shutdown-v311").await,
        vec![],
        "3.1.1 has no server DISCONNECT"
    );
}

/// A 5.0 client over TLS (rustls) gets DISCONNECT 0x8B, then the close.
#[tokio::test]
async fn tls_mqtt5_client_receives_server_shutting_down() {
    let server = server().await;
    let stream = tls_connect(
        server.mqtt_tls,
        testkit_client_config(&server, &[b"mqtt"], rustls::DEFAULT_VERSIONS),
    )
    .await
    .expect("TLS handshake");
    let mut mqtt = MqttStream::new(stream, ProtocolVersion::V5);
    assert_eq!(
        mqtt.connect("tls-shutdown").await.reason_code,
        ReasonCode::Success
    );
    let after = async {
        let first = mqtt.next().await;
        let second = mqtt.next().await;
        (first, second)
    };
    let (_, (first, second)) = tokio::join!(shut_down(server), after);
    assert_eq!(
        first,
        Next::Packet(Packet::Disconnect(Disconnect::new(
            ReasonCode::ServerShuttingDown
        )))
    );
    assert_eq!(second, Next::Closed);
}

/// rumqttc's 5.0 event loop over TLS (the testkit certificate, an aws-lc-rs rustls
/// configuration): it connects, and when thingd shuts down its event loop ends.
///
/// thingd sends DISCONNECT 0x8B as `E0 01 8B` (no Property Length, which §3.14.2.2.1 allows when
/// the Remaining Length is below 2); rumqttc 0.25.1 cannot decode that form (its
/// `DisconnectProperties::extract` wants the Property Length byte, and the truncated read turns
/// into `ConnectionAborted` at EOF), so it reports the close rather than the reason. Both are
/// accepted here; anything else, or no error at all, fails.
#[tokio::test]
async fn rumqttc_v5_over_tls_connects_and_sees_shutdown() {
    let server = server().await;
    let mut options = MqttOptions::new("rumqttc-shutdown", "127.0.0.1", server.mqtt_tls.port());
    options.set_transport(Transport::Tls(TlsConfiguration::Rustls(
        testkit_client_config(&server, &[b"mqtt"], rustls::DEFAULT_VERSIONS),
    )));
    options.set_keep_alive(Duration::from_secs(60));
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    let connack = tokio::time::timeout(WAIT, async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(RumqttPacket::ConnAck(ack))) => return ack,
                Ok(_) => {}
                Err(e) => panic!("rumqttc could not connect: {e}"),
            }
        }
    })
    .await
    .expect("CONNACK in time");
    assert!(!connack.session_present);

    let until_error = async {
        loop {
            match eventloop.poll().await {
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    };
    let (_, error) = tokio::join!(shut_down(server), tokio::time::timeout(WAIT, until_error));
    match error.expect("rumqttc notices the shutdown in time") {
        ConnectionError::MqttState(StateError::ServerDisconnect { reason_code, .. }) => {
            assert_eq!(reason_code, DisconnectReasonCode::ServerShuttingDown);
        }
        ConnectionError::MqttState(StateError::ConnectionAborted) => {}
        other => panic!("expected DISCONNECT 0x8B or the close, rumqttc reported {other:?}"),
    }
    drop(client);
}

/// mosquitto_sub (MQTT 5.0 over TLS) logs the server's DISCONNECT with reason 139 (0x8B).
#[tokio::test]
async fn mosquitto_sub_mqtt5_sees_server_shutting_down() {
    let server = server().await;
    let endpoint = Endpoint::testkit_tls(&server);
    let mut sub = Subscriber::start(&endpoint, ProtocolVersion::V5, "shutdown/#", 1, &[]).await;
    // libmosquitto logs "Received DISCONNECT (139)".
    let wait_line = sub.proc.line_where("DISCONNECT from the server", |l| {
        l.to_ascii_lowercase().contains("received disconnect")
    });
    let (_, line) = tokio::join!(shut_down(server), wait_line);
    assert!(
        line.ends_with("(139)"),
        "expected reason 139 Server shutting down: {line:?}"
    );
    // mosquitto_sub then exits by itself (it does not retry after a server DISCONNECT).
    let _ = sub.proc.finish().await;
}
