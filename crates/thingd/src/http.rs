//! The HTTP listener: MQTT over WebSocket at `/mqtt`, Prometheus metrics at `/metrics`,
//! `/health`, the device data plane (`iot-data`), and the AWS-compatible control-plane API for
//! every other path.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use futures_util::{Sink, Stream};
use thingd_broker::Broker;
use thingd_broker::websocket::WebSocketBytes;

use crate::data_plane::DataPlane;
use crate::shadows::ShadowService;

/// A service whose metrics `/metrics` shows after the broker's (the rules engine's, the shadow
/// service's, the data plane's).
pub trait MetricsSource: Send + Sync + 'static {
    /// Appends the service's metrics in the Prometheus text format.
    fn render_metrics(&self, out: &mut String);
}

impl MetricsSource for crate::rules::RulesEngine {
    fn render_metrics(&self, out: &mut String) {
        crate::rules::RulesEngine::render_metrics(self, out);
    }
}

impl MetricsSource for ShadowService {
    fn render_metrics(&self, out: &mut String) {
        ShadowService::render_metrics(self, out);
    }
}

impl MetricsSource for DataPlane {
    fn render_metrics(&self, out: &mut String) {
        self.metrics().render(out);
    }
}

/// What the routes of this module share.
#[derive(Clone)]
struct HttpState {
    broker: Broker,
    metrics: Arc<[Arc<dyn MetricsSource>]>,
}

/// The HTTP routes: MQTT over WebSocket, metrics (the broker's, then each of `metrics`) and
/// health, the data plane's (`iot-data`, SigV4 for `iotdata`), then the AWS IoT control plane
/// (SigV4 for `iot`) for the rest.
pub fn router(
    broker: Broker,
    api: thingd_api::ApiState,
    data_plane: Arc<DataPlane>,
    metrics: Vec<Arc<dyn MetricsSource>>,
) -> Router {
    Router::new()
        .route("/mqtt", get(mqtt_over_websocket))
        .route("/metrics", get(render_metrics))
        .route("/health", get(|| async { "ok\n" }))
        .with_state(HttpState {
            broker,
            metrics: metrics.into(),
        })
        .merge(crate::data_plane::api_router(data_plane, api.clone()))
        .merge(thingd_api::authenticated_router(api))
}

async fn render_metrics(State(state): State<HttpState>) -> impl IntoResponse {
    let mut out = state.broker.render_metrics();
    for source in state.metrics.iter() {
        source.render_metrics(&mut out);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
}

/// [MQTT-6.0.0-3], [MQTT-6.0.0-4]: the sub-protocol is `mqtt`.
async fn mqtt_over_websocket(
    upgrade: WebSocketUpgrade,
    State(HttpState { broker, .. }): State<HttpState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
) -> impl IntoResponse {
    let max_frame = broker.config().max_packet_size as usize + 8;
    upgrade
        .protocols(["mqtt"])
        .max_message_size(max_frame.max(64 * 1024))
        .on_upgrade(move |socket| async move {
            broker
                .serve_websocket(WebSocketBytes::new(BinaryFrames(socket)), remote)
                .await;
        })
}

/// An axum WebSocket seen as binary payloads: text frames are refused [MQTT-6.0.0-1], pings and
/// pongs are handled by the WebSocket layer, and a close frame ends the stream.
struct BinaryFrames(WebSocket);

impl Stream for BinaryFrames {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match Pin::new(&mut self.0).poll_next(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) | Poll::Ready(Some(Ok(Message::Close(_)))) => Poll::Ready(None),
                Poll::Ready(Some(Ok(Message::Binary(bytes)))) => Poll::Ready(Some(Ok(bytes))),
                Poll::Ready(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Poll::Ready(Some(Ok(Message::Text(_)))) => Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "MQTT over WebSocket uses binary frames only [MQTT-6.0.0-1]",
                )))),
                Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(io::Error::other(error)))),
            };
        }
    }
}

impl Sink<Bytes> for BinaryFrames {
    type Error = io::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0)
            .poll_ready(cx)
            .map_err(io::Error::other)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Bytes) -> io::Result<()> {
        Pin::new(&mut self.0)
            .start_send(Message::Binary(item))
            .map_err(io::Error::other)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0)
            .poll_flush(cx)
            .map_err(io::Error::other)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0)
            .poll_close(cx)
            .map_err(io::Error::other)
    }
}
