//! The HTTPS listener of the device data plane (AWS IoT's port 8443): TLS 1.2/1.3 with a client
//! certificate required, HTTP/1.1 (and 1.0) served by hyper, each connection's requests made
//! by the device whose certificate it presented (see [`super`]).
//!
//! Bounded: at most [`HttpsConfig::max_connections`] connections (more are closed at once and
//! counted), a TLS handshake within [`HttpsConfig::handshake_timeout`], a request head within
//! [`HttpsConfig::idle_timeout`] of the previous answer (also the idle keep-alive limit) and at
//! most [`HttpsConfig::max_head_bytes`] long (hyper answers 431 past it), a body of at most
//! [`super::MAX_PAYLOAD_BYTES`] within [`super::BODY_TIMEOUT`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thingd_broker::auth::ClientCertificate;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::{debug, info, warn};

use super::auth::DeviceConnection;
use super::{DataPlane, increment};

/// ALPN protocols of the HTTPS listener: HTTP/1.1, and AWS IoT's `x-amzn-http-ca` (what devices
/// send to reach HTTPS on port 443 of AWS's endpoint).
pub const HTTPS_ALPN: [&[u8]; 2] = [b"http/1.1", b"x-amzn-http-ca"];

/// hyper's smallest read buffer.
const MIN_BUFFER: usize = 8 * 1024;

/// The limits of the HTTPS listener.
#[derive(Clone, Debug)]
pub struct HttpsConfig {
    /// The most connections open at once.
    pub max_connections: usize,
    /// How long a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// How long a connection may wait for (the whole head of) its next request.
    pub idle_timeout: Duration,
    /// The largest request head (request line and headers) read, in bytes.
    pub max_head_bytes: usize,
    /// How long a connection may make no progress reading or writing before it is closed (a
    /// stalled client that never reads its answers must not hold a connection slot forever).
    pub io_timeout: Duration,
    /// How long open connections get to finish their request when the listener stops.
    pub shutdown_grace: Duration,
}

impl Default for HttpsConfig {
    fn default() -> Self {
        HttpsConfig {
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_head_bytes: 64 * 1024,
            io_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// The TLS configuration of the HTTPS listener: the server certificate, a client certificate
/// and proof of its key required at the handshake, trust decided per request from the registry
/// (as `thingd_broker::tls::mqtt_server_config_deferred` does for MQTT), ALPN
/// [`HTTPS_ALPN`].
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, thingd_broker::tls::TlsError> {
    let mqtt = thingd_broker::tls::mqtt_server_config_deferred(cert_chain, key)?;
    let mut config = ServerConfig::clone(&mqtt);
    config.alpn_protocols = HTTPS_ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A running HTTPS listener.
#[derive(Debug)]
pub struct HttpsServer {
    local_addr: SocketAddr,
    stop: CancellationToken,
    connections: TaskTracker,
    accept: JoinHandle<()>,
    grace: Duration,
}

impl HttpsServer {
    /// Binds `addr` and serves the data plane to devices on it.
    pub async fn bind(
        addr: SocketAddr,
        tls: Arc<ServerConfig>,
        plane: Arc<DataPlane>,
        config: HttpsConfig,
    ) -> io::Result<HttpsServer> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let connections = TaskTracker::new();
        let grace = config.shutdown_grace;
        let accept = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(tls),
            plane,
            config,
            stop.clone(),
            connections.clone(),
        ));
        info!(message = "HTTPS data plane listening (client certificates required).", address = %local_addr);
        Ok(HttpsServer {
            local_addr,
            stop,
            connections,
            accept,
            grace,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets open connections finish the request under way (idle ones close at
    /// once), and waits for them up to the shutdown grace; connections still open then are
    /// dropped.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        let _ = (&mut self.accept).await;
        self.connections.close();
        // Each connection bounds its own graceful close by the same grace; the margin covers
        // the tasks' own scheduling.
        let _ = tokio::time::timeout(self.grace * 2, self.connections.wait()).await;
    }
}

impl Drop for HttpsServer {
    /// A listener dropped without [`HttpsServer::shutdown`] (e.g. when a later step of
    /// `thingd serve`'s start fails) stops accepting and closes its connections, releasing the
    /// port.
    fn drop(&mut self) {
        self.stop.cancel();
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    plane: Arc<DataPlane>,
    config: HttpsConfig,
    stop: CancellationToken,
    connections: TaskTracker,
) {
    let router = super::device_router(plane.clone());
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let config = Arc::new(config);
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => return,
        };
        let (stream, remote_addr) = match accepted {
            Ok(pair) => {
                backoff = Duration::from_millis(5);
                pair
            }
            Err(error) => {
                // Running out of file descriptors must not spin the loop: back off and let
                // connections close.
                warn!(message = "HTTPS accept failed.", %error);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            increment(&plane.metrics.https_connections_refused_total);
            debug!(message = "HTTPS connection refused: at the connection limit.", remote = %remote_addr);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(serve_connection(
            stream,
            remote_addr,
            acceptor.clone(),
            plane.clone(),
            router.clone(),
            config.clone(),
            stop.clone(),
            permit,
        ));
    }
}

/// Serves one connection: the handshake, then its requests until it closes, idles out, or the
/// listener stops.
#[allow(clippy::too_many_arguments)]
async fn serve_connection(
    stream: TcpStream,
    remote_addr: SocketAddr,
    acceptor: TlsAcceptor,
    plane: Arc<DataPlane>,
    router: Router,
    config: Arc<HttpsConfig>,
    stop: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let handshake = tokio::select! {
        handshake = tokio::time::timeout(config.handshake_timeout, acceptor.accept(stream)) => handshake,
        () = stop.cancelled() => return,
    };
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            increment(&plane.metrics.https_handshakes_failed_total);
            debug!(message = "HTTPS handshake failed.", remote = %remote_addr, %error);
            return;
        }
        Err(_) => {
            increment(&plane.metrics.https_handshakes_failed_total);
            debug!(message = "HTTPS handshake timed out.", remote = %remote_addr);
            return;
        }
    };
    // The verifier makes a certificate mandatory, so a completed handshake has one.
    let Some(certificate) = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|der| ClientCertificate::from_der(der.as_ref()))
    else {
        return;
    };
    let metrics = &plane.metrics;
    increment(&metrics.https_connections_total);
    increment(&metrics.https_connections_current);
    let device = Arc::new(DeviceConnection::new(certificate, remote_addr));
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(device.clone());
        let answer = router.clone().oneshot(request);
        async move {
            let mut response = answer.await?;
            // A refused certificate stays refused: close the connection rather than let it
            // spend a registry lookup on every further request.
            if response.status() == hyper::StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    hyper::header::CONNECTION,
                    hyper::header::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.idle_timeout)
        .max_header_size(config.max_head_bytes)
        .max_buf_size(config.max_head_bytes.max(MIN_BUFFER))
        .keep_alive(true);
    let tls = ProgressTimeout::new(tls, config.io_timeout);
    let connection = http.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(config.shutdown_grace, connection.as_mut()).await {
                Ok(result) => result,
                Err(_) => Ok(()),
            }
        }
    };
    if let Err(error) = result {
        debug!(message = "HTTPS connection ended with an error.", remote = %remote_addr, %error);
    }
    metrics
        .https_connections_current
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// A stream that fails with `TimedOut` once neither a read nor a write has made progress for
/// `timeout` while one of them waits: a peer that stops reading its answers (or sending the
/// rest of its request) cannot hold its connection open.
struct ProgressTimeout<S> {
    inner: S,
    timeout: Duration,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl<S> ProgressTimeout<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        ProgressTimeout {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    /// Called after an operation: progress moves the deadline on; waiting fails once it has
    /// passed.
    fn check<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        poll: std::task::Poll<io::Result<T>>,
    ) -> std::task::Poll<io::Result<T>> {
        use std::task::Poll;
        match poll {
            Poll::Ready(result) => {
                if result.is_ok() {
                    let next = tokio::time::Instant::now() + self.timeout;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(result)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no progress on the connection",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for ProgressTimeout<S> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        this.check(cx, poll)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for ProgressTimeout<S> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = std::pin::Pin::new(&mut this.inner).poll_write(cx, buf);
        this.check(cx, poll)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = std::pin::Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.check(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = std::pin::Pin::new(&mut this.inner).poll_flush(cx);
        this.check(cx, poll)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = std::pin::Pin::new(&mut this.inner).poll_shutdown(cx);
        this.check(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use thingd_broker::{AllowConnected, Broker, BrokerConfig};
    use thingd_pki::{CertificateAuthority, ServerIdentity};
    use thingd_registry::Partition;
    use thingd_storage::SqliteStore;
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::shadows::{ShadowConfig, ShadowService};

    /// A listener on loopback with `config`, over an in-memory registry.
    async fn listener(config: HttpsConfig) -> (HttpsServer, Arc<DataPlane>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ca = CertificateAuthority::load_or_create(dir.path()).expect("a CA");
        let identity = ServerIdentity::load_or_issue(dir.path(), &ca, &[]).expect("a certificate");
        let tls = server_config(identity.cert_chain_der(), identity.private_key_der())
            .expect("a TLS configuration");
        let store = Arc::new(SqliteStore::memory().await.expect("a store"));
        let broker = Broker::new(BrokerConfig::default(), Arc::new(AllowConnected));
        let shadows = ShadowService::start(store.clone(), broker.clone(), ShadowConfig::default());
        let partition = Partition {
            region: "us-east-1".to_owned(),
            account: "000000000000".to_owned(),
        };
        let plane = DataPlane::new(broker, shadows, store, partition, None);
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = HttpsServer::bind(loopback, tls, plane.clone(), config)
            .await
            .expect("binding");
        (server, plane, dir)
    }

    /// Reads until the server closes the connection; false if it stays open 10 s.
    async fn closed_by_server(stream: &mut TcpStream) -> bool {
        let mut buffer = [0u8; 64];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    #[tokio::test]
    async fn connections_past_the_limit_are_closed_at_once() {
        let config = HttpsConfig {
            max_connections: 1,
            handshake_timeout: Duration::from_secs(60),
            ..HttpsConfig::default()
        };
        let (server, plane, _dir) = listener(config).await;
        // The first holds the only slot (it never starts its handshake).
        let mut first = TcpStream::connect(server.local_addr())
            .await
            .expect("connect");
        let mut second = TcpStream::connect(server.local_addr())
            .await
            .expect("connect");
        assert!(closed_by_server(&mut second).await);
        assert_eq!(
            plane
                .metrics()
                .https_connections_refused_total
                .load(Ordering::Relaxed),
            1
        );
        // Stopping the listener ends the waiting one too.
        server.shutdown().await;
        assert!(closed_by_server(&mut first).await);
    }

    #[tokio::test]
    async fn a_dropped_listener_releases_its_port() {
        let (server, _plane, _dir) = listener(HttpsConfig::default()).await;
        let address = server.local_addr();
        drop(server);
        // The accept task is aborted at its next poll: the port is free again soon after.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if TcpListener::bind(address).await.is_ok() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the port of a dropped listener is still bound"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_times_out_the_writes() {
        use tokio::io::AsyncWriteExt;
        // A 64-byte pipe whose other end never reads: the writer stalls once it is full.
        let (stream, _peer) = tokio::io::duplex(64);
        let mut stream = ProgressTimeout::new(stream, Duration::from_millis(100));
        let written = tokio::time::timeout(Duration::from_secs(10), stream.write_all(&[0; 4096]))
            .await
            .expect("the stalled write ends within the timeout");
        let error = written.expect_err("a stalled write fails");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn progress_keeps_a_stream_alive() {
        use tokio::io::AsyncWriteExt;
        let (stream, mut peer) = tokio::io::duplex(64);
        let mut stream = ProgressTimeout::new(stream, Duration::from_millis(300));
        // 4 KiB through a 64-byte pipe, drained slowly: each step makes progress in time.
        let reader = tokio::spawn(async move {
            let mut total = 0;
            let mut buffer = [0u8; 64];
            while total < 4096 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                total += peer.read(&mut buffer).await.expect("read");
            }
            total
        });
        stream
            .write_all(&[0; 4096])
            .await
            .expect("progressing writes succeed");
        assert_eq!(reader.await.expect("the reader"), 4096);
    }

    #[tokio::test]
    async fn a_handshake_that_does_not_finish_in_time_is_dropped() {
        let config = HttpsConfig {
            handshake_timeout: Duration::from_millis(200),
            ..HttpsConfig::default()
        };
        let (server, plane, _dir) = listener(config).await;
        let mut silent = TcpStream::connect(server.local_addr())
            .await
            .expect("connect");
        assert!(closed_by_server(&mut silent).await);
        assert_eq!(
            plane
                .metrics()
                .https_handshakes_failed_total
                .load(Ordering::Relaxed),
            1
        );
        server.shutdown().await;
    }
}
