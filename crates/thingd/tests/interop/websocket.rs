//! MQTT over WebSocket on the HTTP listener (`ws://api/mqtt`, sub-protocol `mqtt`), seen by a
//! tokio-tungstenite client: the server selects the `mqtt` sub-protocol [MQTT-6.0.0-4] and a text
//! frame closes the connection [MQTT-6.0.0-1]; the HTTP listener's other routes. paho-mqtt's
//! websockets transport and the checks that need the server's answers over WebSocket are in
//! `pending.rs` (they wait for a broker fix).

use std::net::SocketAddr;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use mqtt_codec::{Decoder, Packet, ProtocolVersion};
use testkit::TestServer;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::support::{WAIT, header};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `ws://{api}/mqtt` offering the `mqtt` sub-protocol and checks the server selected it.
pub(crate) async fn open(api: SocketAddr) -> Ws {
    let mut request = format!("ws://{api}/mqtt")
        .into_client_request()
        .expect("a request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    let (ws, response) = tokio::time::timeout(WAIT, connect_async(request))
        .await
        .expect("WebSocket handshake timed out")
        .expect("the WebSocket handshake succeeds");
    assert_eq!(response.status().as_u16(), 101);
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("mqtt"),
        "[MQTT-6.0.0-4]: the server selects the mqtt sub-protocol"
    );
    ws
}

/// What came back on a WebSocket.
#[derive(Debug)]
pub(crate) enum WsNext {
    Packets(Vec<Packet>),
    Closed(String),
}

/// Reads binary messages until at least `want` packets decoded, or the connection closes.
pub(crate) async fn read_packets(
    ws: &mut Ws,
    decoder: &mut Decoder,
    buf: &mut BytesMut,
    want: usize,
) -> WsNext {
    let mut packets = Vec::new();
    let read = async {
        loop {
            while let Some(packet) = decoder.decode(buf).expect("well-formed packets") {
                packets.push(packet);
            }
            if packets.len() >= want {
                return WsNext::Packets(std::mem::take(&mut packets));
            }
            match ws.next().await {
                Some(Ok(Message::Binary(data))) => buf.extend_from_slice(&data),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Text(text))) => panic!("the server sent a text frame: {text}"),
                Some(Ok(Message::Close(frame))) => {
                    return WsNext::Closed(format!("close frame {frame:?}"));
                }
                Some(Ok(Message::Frame(_))) => {}
                Some(Err(error)) => return WsNext::Closed(format!("error {error}")),
                None => return WsNext::Closed("end of stream".into()),
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("timed out reading from the WebSocket")
}

/// A client offering several sub-protocols (older clients list `mqttv3.1` too) gets `mqtt`.
#[tokio::test]
async fn websocket_handshake_selects_mqtt_subprotocol() {
    let server = TestServer::start().await.expect("server starts");
    let only_mqtt = open(server.api).await;
    let mut request = format!("ws://{}/mqtt", server.api)
        .into_client_request()
        .expect("a request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("mqttv3.1, mqtt"),
    );
    let (ws, response) = tokio::time::timeout(WAIT, connect_async(request))
        .await
        .expect("WebSocket handshake timed out")
        .expect("the WebSocket handshake succeeds");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("mqtt")
    );
    // Close both before the shutdown: a connection that never sent CONNECT would hold the
    // shutdown for its whole grace period (see pending.rs).
    drop((only_mqtt, ws));
    server.shutdown().await;
}

/// A text frame instead of CONNECT closes the connection without a CONNACK.
#[tokio::test]
async fn websocket_text_frame_before_connect_closes() {
    let server = TestServer::start().await.expect("server starts");
    let mut ws = open(server.api).await;
    ws.send(Message::text("CONNECT please"))
        .await
        .expect("sending");
    let mut decoder = Decoder::new(ProtocolVersion::V5, usize::MAX);
    let mut buf = BytesMut::new();
    match read_packets(&mut ws, &mut decoder, &mut buf, 1).await {
        WsNext::Closed(how) => println!("closed: {how}"),
        WsNext::Packets(p) => panic!("[MQTT-6.0.0-1]: expected the connection closed, got {p:?}"),
    }
    server.shutdown().await;
}

/// The HTTP listener's other routes, on the same port as /mqtt.
#[tokio::test]
async fn http_health_and_unknown_path() {
    let server = TestServer::start().await.expect("server starts");
    let (status, _, body) = crate::support::http_get(server.api, "/health").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    // Every other path belongs to the AWS-compatible API, which answers an unsigned request as
    // AWS does: 403 MissingAuthenticationTokenException, in JSON, never an HTML page.
    let (status, headers, _) = crate::support::http_get(server.api, "/no-such-thing").await;
    assert_eq!(status, 403, "{headers:?}");
    assert_eq!(
        header(&headers, "x-amzn-errortype"),
        Some("MissingAuthenticationTokenException"),
        "{headers:?}"
    );
    // A plain GET on /mqtt (no upgrade) is not a WebSocket and is refused.
    let (status, _, _) = crate::support::http_get(server.api, "/mqtt").await;
    assert!(
        (400..500).contains(&status),
        "GET /mqtt without Upgrade answered {status}"
    );
    assert!(
        header(&headers, "content-length").is_some()
            || header(&headers, "transfer-encoding").is_some()
    );
    server.shutdown().await;
}
