//! Shared helpers: a raw MQTT client on thingd's codec (over TCP or TLS with the testkit client
//! certificate), rumqttc set-up, and waits that end on events, never on elapsed time.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Ack, ConnAck, Connect, Decoder, Disconnect, MqttString, Packet, PacketId, PacketType,
    ProtocolVersion, Publish, QoS, ReasonCode, SubAck, Subscribe, SubscriptionOptions, UnsubAck,
    Unsubscribe, Will,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use testkit::{ClientCert, TestServer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How long any single wait may take before the test fails: a guard, not a synchronisation.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// MQTT 3.1.1.
pub(crate) const V3: ProtocolVersion = ProtocolVersion::V311;
/// MQTT 5.0.
pub(crate) const V5: ProtocolVersion = ProtocolVersion::V5;

/// The listener a client uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Net {
    /// Plain MQTT over TCP.
    Tcp,
    /// MQTT over TLS with the testkit client certificate.
    Tls,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A rustls client configuration (aws-lc-rs) that trusts the server's CA, still to be told which
/// certificate to present.
fn tls_builder(
    server: &TestServer,
) -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(server.ca_pem.as_bytes()) {
        roots.add(ca.unwrap()).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
}

/// A rustls client configuration (aws-lc-rs) that trusts the server's CA and presents `cert`.
pub(crate) fn tls_config(server: &TestServer, cert: &ClientCert) -> Arc<rustls::ClientConfig> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
    Arc::new(
        tls_builder(server)
            .with_client_auth_cert(chain, key)
            .unwrap(),
    )
}

/// A TLS client configuration that trusts the server but presents no certificate.
pub(crate) fn tls_config_without_cert(server: &TestServer) -> Arc<rustls::ClientConfig> {
    Arc::new(tls_builder(server).with_no_client_auth())
}

/// A TLS handshake with the server's TLS listener, verifying it as `localhost`, with the
/// [`TIMEOUT`] guard.
pub(crate) async fn tls_handshake(
    server: &TestServer,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let stream = within(TcpStream::connect(server.mqtt_tls)).await?;
    stream.set_nodelay(true)?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::try_from("localhost").unwrap();
    within(connector.connect(name, stream)).await
}

/// An MQTT string.
pub(crate) fn s(text: &str) -> MqttString {
    MqttString::new(text).unwrap()
}

/// A Packet Identifier.
pub(crate) fn pid(id: u16) -> PacketId {
    PacketId::new(id).unwrap()
}

/// A CONNECT with clean start, a 60 s keep alive and nothing else.
pub(crate) fn connect_packet(version: ProtocolVersion, client_id: &str) -> Connect {
    Connect::new(version, s(client_id))
}

/// A CONNECT that asks for a session that outlives the connection: Clean Start 0 with a Session
/// Expiry Interval of `expiry` (5.0), or Clean Session 0 (3.1.1).
pub(crate) fn persistent_connect(
    version: ProtocolVersion,
    client_id: &str,
    expiry: u32,
) -> Connect {
    let mut connect = connect_packet(version, client_id);
    connect.clean_start = false;
    if version == V5 {
        connect.properties.session_expiry_interval = Some(expiry);
    }
    connect
}

/// A Will Message.
pub(crate) fn will(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Will {
    Will {
        topic: s(topic),
        payload: Bytes::copy_from_slice(payload),
        qos,
        retain,
        properties: Default::default(),
    }
}

/// A PUBLISH; `id` is used for QoS 1 and 2.
pub(crate) fn publish_packet(topic: &str, payload: &[u8], qos: QoS, id: u16) -> Publish {
    Publish::with_qos(s(topic), Bytes::copy_from_slice(payload), qos, pid(id))
}

/// `packet` as `version` encodes it.
pub(crate) fn encoded(version: ProtocolVersion, packet: &Packet) -> Vec<u8> {
    let mut out = BytesMut::new();
    packet.encode(version, &mut out).unwrap();
    out.to_vec()
}

/// Subscription options with a QoS.
pub(crate) fn opts(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions::qos(qos)
}

/// A raw MQTT client on thingd's codec: it sends whatever it is told, bytes included, and
/// decodes (strictly, as a client) whatever the server sends.
pub(crate) struct Client {
    io: Box<dyn Io>,
    decoder: Decoder,
    /// The protocol version.
    pub(crate) version: ProtocolVersion,
    buf: BytesMut,
    /// Packets read while waiting for another one, handed out first by [`Client::recv`].
    pending: VecDeque<Packet>,
    next_id: u16,
    /// Whether PUBLISH read by [`Client::expect_publish`] is acknowledged (PUBACK, or PUBREC and
    /// then PUBCOMP when the PUBREL arrives).
    pub(crate) auto_ack: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Client {
    fn new(io: Box<dyn Io>, version: ProtocolVersion) -> Client {
        Client {
            io,
            decoder: Decoder::new(version, usize::MAX),
            version,
            buf: BytesMut::new(),
            pending: VecDeque::new(),
            next_id: 0,
            auto_ack: true,
        }
    }

    /// Wraps an established stream.
    pub(crate) fn from_io<T: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
        io: T,
        version: ProtocolVersion,
    ) -> Client {
        Client::new(Box::new(io), version)
    }

    /// Opens a connection to `server` without sending anything.
    pub(crate) async fn open(server: &TestServer, net: Net, version: ProtocolVersion) -> Client {
        match net {
            Net::Tcp => Self::open_tcp(server.mqtt_tcp, version).await,
            Net::Tls => Self::open_tls(server, tls_config(server, &server.client), version).await,
        }
    }

    /// Opens a plain TCP connection to `addr`.
    pub(crate) async fn open_tcp(addr: SocketAddr, version: ProtocolVersion) -> Client {
        let stream = within(TcpStream::connect(addr)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Client::new(Box::new(stream), version)
    }

    /// Opens a plain TCP connection whose receive buffer is as small as the system allows, for
    /// a client that stops reading.
    pub(crate) async fn open_tcp_small_buffer(
        addr: SocketAddr,
        version: ProtocolVersion,
    ) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(1024).unwrap();
        let stream = within(socket.connect(addr)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Client::new(Box::new(stream), version)
    }

    /// Opens a TLS connection with `config`.
    pub(crate) async fn open_tls(
        server: &TestServer,
        config: Arc<rustls::ClientConfig>,
        version: ProtocolVersion,
    ) -> Client {
        let tls = tls_handshake(server, config).await.unwrap();
        Client::new(Box::new(tls), version)
    }

    /// Opens a connection, sends `connect` and returns the client with the CONNACK it got.
    pub(crate) async fn connect_with(
        server: &TestServer,
        net: Net,
        connect: Connect,
    ) -> (Client, ConnAck) {
        let mut client = Self::open(server, net, connect.protocol_version).await;
        let connack = client.handshake(connect).await;
        (client, connack)
    }

    /// Sends `connect` and returns the CONNACK.
    pub(crate) async fn handshake(&mut self, connect: Connect) -> ConnAck {
        self.send(&Packet::Connect(Box::new(connect))).await;
        match self.recv().await {
            Some(Packet::ConnAck(connack)) => connack,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects with `connect` and checks that the server accepted it.
    pub(crate) async fn connect_ok(
        server: &TestServer,
        net: Net,
        connect: Connect,
    ) -> (Client, ConnAck) {
        let (client, connack) = Self::connect_with(server, net, connect).await;
        assert_eq!(
            connack.reason_code,
            ReasonCode::Success,
            "CONNACK {connack:?}"
        );
        (client, connack)
    }

    /// Connects with `connect` and checks that the server accepted it and resumed a session:
    /// Session Present 1.
    pub(crate) async fn resume(server: &TestServer, net: Net, connect: Connect) -> Client {
        let (client, connack) = Self::connect_ok(server, net, connect).await;
        assert!(connack.session_present, "no session was resumed");
        client
    }

    /// Connects with `connect` and checks that the server refused it with `reason` and then
    /// closed the connection without sending anything else. Returns the CONNACK.
    pub(crate) async fn connect_refused(
        server: &TestServer,
        net: Net,
        connect: Connect,
        reason: ReasonCode,
    ) -> ConnAck {
        let version = connect.protocol_version;
        let (mut client, connack) = Self::connect_with(server, net, connect).await;
        assert_eq!(
            connack.reason_code, reason,
            "CONNACK for {version} over {net:?}"
        );
        let after = client.expect_close().await;
        assert!(after.is_empty(), "after the refusing CONNACK: {after:?}");
        connack
    }

    /// Connects with a clean start and no other options.
    pub(crate) async fn connect(
        server: &TestServer,
        net: Net,
        version: ProtocolVersion,
        client_id: &str,
    ) -> Client {
        Self::connect_ok(server, net, connect_packet(version, client_id))
            .await
            .0
    }

    /// A fresh Packet Identifier.
    pub(crate) fn next_pid(&mut self) -> PacketId {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        pid(self.next_id)
    }

    /// Sends a packet. A write that fails because the server closed the connection is not an
    /// error: the next [`Client::recv`] reports the close.
    pub(crate) async fn send(&mut self, packet: &Packet) {
        self.send_bytes(&encoded(self.version, packet)).await;
    }

    /// Sends raw bytes (see [`Client::send`] about errors).
    pub(crate) async fn send_bytes(&mut self, bytes: &[u8]) {
        let _ = within(async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        })
        .await;
    }

    /// The next packet from the server, or its close.
    pub(crate) async fn recv(&mut self) -> Option<Packet> {
        if let Some(packet) = self.pending.pop_front() {
            return Some(packet);
        }
        within(self.recv_wire()).await
    }

    async fn recv_wire(&mut self) -> Option<Packet> {
        loop {
            if let Some(packet) = self
                .decoder
                .decode(&mut self.buf)
                .expect("the server sent a malformed packet")
            {
                return Some(packet);
            }
            self.buf.reserve(4096);
            match self.io.read_buf(&mut self.buf).await {
                Ok(0) => return None,
                Ok(_) => {}
                // A reset after the server closed counts as closed.
                Err(_) => return None,
            }
        }
    }

    /// The next packet; fails if the server closes the connection instead.
    pub(crate) async fn next_packet(&mut self) -> Packet {
        match self.recv().await {
            Some(packet) => packet,
            None => panic!("the server closed the connection"),
        }
    }

    /// Reads until the server closes the connection, returning what it sent first.
    pub(crate) async fn expect_close(&mut self) -> Vec<Packet> {
        let mut packets = Vec::new();
        loop {
            match self.recv().await {
                Some(packet) => packets.push(packet),
                None => return packets,
            }
        }
    }

    /// Expects the server to end the connection because of `reason`: with a DISCONNECT carrying
    /// it and then the close for 5.0, with just the close for 3.1.1 (which has no server
    /// DISCONNECT). Packets sent before are returned.
    pub(crate) async fn expect_disconnect(&mut self, reason: ReasonCode) -> Vec<Packet> {
        let mut packets = self.expect_close().await;
        match self.version {
            ProtocolVersion::V5 => match packets.pop() {
                Some(Packet::Disconnect(disconnect)) => {
                    assert_eq!(
                        disconnect.reason_code, reason,
                        "DISCONNECT {disconnect:?} after {packets:?}"
                    )
                }
                other => panic!(
                    "expected DISCONNECT {reason} before the close, got {other:?} after {packets:?}"
                ),
            },
            ProtocolVersion::V311 => {
                assert!(
                    !packets.iter().any(|p| matches!(p, Packet::Disconnect(_))),
                    "a 3.1.1 server never sends DISCONNECT: {packets:?}"
                );
            }
        }
        packets
    }

    /// Reads the next PUBLISH, answering PUBREL with PUBCOMP on the way; with `auto_ack`, the
    /// PUBLISH is acknowledged. Any other packet fails the test.
    pub(crate) async fn expect_publish(&mut self) -> Publish {
        loop {
            match self.next_packet().await {
                Packet::Publish(publish) => {
                    if self.auto_ack {
                        self.ack(&publish).await;
                    }
                    return publish;
                }
                Packet::PubRel(rel) if self.auto_ack => {
                    self.send(&Packet::PubComp(Ack::new(rel.packet_id))).await;
                }
                other => panic!("expected PUBLISH, got {other:?}"),
            }
        }
    }

    /// Acknowledges a PUBLISH from the server: PUBACK for QoS 1, PUBREC for QoS 2.
    pub(crate) async fn ack(&mut self, publish: &Publish) {
        match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => self.send(&Packet::PubAck(Ack::new(id))).await,
            (QoS::ExactlyOnce, Some(id)) => self.send(&Packet::PubRec(Ack::new(id))).await,
            _ => {}
        }
    }

    /// Reads PUBLISH packets until one on `marker`, returning those before it.
    pub(crate) async fn publishes_until(&mut self, marker: &str) -> Vec<Publish> {
        let mut before = Vec::new();
        loop {
            let publish = self.expect_publish().await;
            if publish.topic.as_str() == marker {
                return before;
            }
            before.push(publish);
        }
    }

    /// Waits for a packet that `pick` accepts, keeping the others for later [`Client::recv`]s.
    async fn wait_for<T>(&mut self, mut pick: impl FnMut(&Packet) -> Option<T>) -> T {
        let mut skipped = Vec::new();
        let found = loop {
            let packet = match self.pending.pop_front() {
                Some(packet) => packet,
                None => match within(self.recv_wire()).await {
                    Some(packet) => packet,
                    None => {
                        panic!("the server closed the connection; before that: {skipped:?}")
                    }
                },
            };
            if let Some(found) = pick(&packet) {
                break found;
            }
            skipped.push(packet);
        };
        for packet in skipped.into_iter().rev() {
            self.pending.push_front(packet);
        }
        found
    }

    /// Subscribes and returns the SUBACK.
    pub(crate) async fn subscribe_with(
        &mut self,
        filters: &[(&str, SubscriptionOptions)],
        identifier: Option<u32>,
    ) -> SubAck {
        let id = self.next_pid();
        let mut subscribe = Subscribe {
            packet_id: id,
            properties: Default::default(),
            filters: filters.iter().map(|(f, o)| (s(f), *o)).collect(),
        };
        subscribe.properties.subscription_identifier =
            identifier.map(|i| NonZeroU32::new(i).unwrap());
        self.send(&Packet::Subscribe(subscribe)).await;
        let suback = self
            .wait_for(|p| match p {
                Packet::SubAck(ack) => Some(ack.clone()),
                _ => None,
            })
            .await;
        assert_eq!(
            suback.packet_id, id,
            "SUBACK carries the SUBSCRIBE's identifier [MQTT-3.8.4-2]"
        );
        suback
    }

    /// Unsubscribes from `filters` and returns the UNSUBACK.
    pub(crate) async fn unsubscribe(&mut self, filters: &[&str]) -> UnsubAck {
        let id = self.next_pid();
        self.send(&Packet::Unsubscribe(Unsubscribe {
            packet_id: id,
            properties: Default::default(),
            filters: filters.iter().map(|f| s(f)).collect(),
        }))
        .await;
        match self.next_packet().await {
            Packet::UnsubAck(ack) => {
                assert_eq!(
                    ack.packet_id, id,
                    "UNSUBACK carries the UNSUBSCRIBE's identifier"
                );
                ack
            }
            other => panic!("expected UNSUBACK, got {other:?}"),
        }
    }

    /// Subscribes to one filter and checks that the server granted `qos`.
    pub(crate) async fn subscribe(&mut self, filter: &str, qos: QoS) {
        let suback = self.subscribe_with(&[(filter, opts(qos))], None).await;
        assert_eq!(suback.reason_codes, [granted(qos)], "SUBACK for {filter}");
    }

    /// Sends a PUBLISH without waiting for anything; `id` is used for QoS 1 and 2.
    pub(crate) async fn send_publish(&mut self, topic: &str, payload: &[u8], qos: QoS, id: u16) {
        self.send(&Packet::Publish(publish_packet(topic, payload, qos, id)))
            .await;
    }

    /// Publishes at QoS 0.
    pub(crate) async fn publish0(&mut self, topic: &str, payload: &[u8]) {
        self.send_publish(topic, payload, QoS::AtMostOnce, 1).await;
    }

    /// Publishes at QoS 1 and checks that the PUBACK reports success.
    pub(crate) async fn publish1_ok(&mut self, topic: &str, payload: &[u8]) {
        let reason = self.publish1(topic, payload).await;
        assert_eq!(reason, ReasonCode::Success, "PUBACK for {topic}");
    }

    /// Publishes at QoS 1 and returns the PUBACK's reason code.
    pub(crate) async fn publish1(&mut self, topic: &str, payload: &[u8]) -> ReasonCode {
        let id = self.next_pid();
        self.publish_acked(publish_packet(topic, payload, QoS::AtLeastOnce, id.get()))
            .await
    }

    /// Publishes a retained message at QoS 1 and returns the PUBACK's reason code.
    pub(crate) async fn publish_retained(&mut self, topic: &str, payload: &[u8]) -> ReasonCode {
        let id = self.next_pid().get();
        let mut publish = publish_packet(topic, payload, QoS::AtLeastOnce, id);
        publish.retain = true;
        self.publish_acked(publish).await
    }

    /// Sends a QoS 1 or 2 PUBLISH and completes its flow; returns the PUBACK's or PUBREC's
    /// reason code.
    pub(crate) async fn publish_acked(&mut self, publish: Publish) -> ReasonCode {
        let id = publish.packet_id.expect("a QoS 1 or 2 PUBLISH");
        let qos = publish.qos;
        self.send(&Packet::Publish(publish)).await;
        match qos {
            QoS::AtLeastOnce => {
                self.wait_for(|p| match p {
                    Packet::PubAck(ack) if ack.packet_id == id => Some(ack.reason_code),
                    _ => None,
                })
                .await
            }
            QoS::ExactlyOnce => {
                let reason = self
                    .wait_for(|p| match p {
                        Packet::PubRec(ack) if ack.packet_id == id => Some(ack.reason_code),
                        _ => None,
                    })
                    .await;
                if !reason.is_error() {
                    self.send(&Packet::PubRel(Ack::new(id))).await;
                    let comp = self
                        .wait_for(|p| match p {
                            Packet::PubComp(ack) if ack.packet_id == id => Some(ack.reason_code),
                            _ => None,
                        })
                        .await;
                    assert_eq!(comp, ReasonCode::Success, "PUBCOMP");
                }
                reason
            }
            QoS::AtMostOnce => unreachable!("QoS 0 has no acknowledgement"),
        }
    }

    /// Reads the next packet, which must be the acknowledgement `kind` (PUBACK, PUBREC, PUBREL or
    /// PUBCOMP) for Packet Identifier `id`, and returns its reason code.
    pub(crate) async fn expect_ack(&mut self, kind: PacketType, id: PacketId) -> ReasonCode {
        let packet = self.next_packet().await;
        let actual = packet.packet_type();
        match packet {
            Packet::PubAck(ack)
            | Packet::PubRec(ack)
            | Packet::PubRel(ack)
            | Packet::PubComp(ack)
                if actual == kind && ack.packet_id == id =>
            {
                ack.reason_code
            }
            other => panic!("expected {kind:?} for {id:?}, got {other:?}"),
        }
    }

    /// One PINGREQ/PINGRESP round trip.
    pub(crate) async fn ping(&mut self) {
        self.send(&Packet::PingReq).await;
        self.wait_for(|p| matches!(p, Packet::PingResp).then_some(()))
            .await;
    }

    /// Two PINGREQ/PINGRESP round trips, after which the server has handled everything this
    /// client sent before, and has been idle between them, so deliveries it could make then
    /// have been made. Returns the packets received meanwhile (also left to read).
    pub(crate) async fn settle(&mut self) -> Vec<Packet> {
        self.ping().await;
        self.ping().await;
        self.pending.iter().cloned().collect()
    }

    /// Sends a normal DISCONNECT and waits for the close.
    pub(crate) async fn disconnect(mut self) {
        self.send(&Packet::Disconnect(Disconnect::default())).await;
        let packets = self.expect_close().await;
        assert!(
            packets.iter().all(|p| !matches!(p, Packet::Disconnect(_))),
            "the server answered DISCONNECT with {packets:?}"
        );
    }
}

/// The SUBACK reason code that grants `qos`.
pub(crate) fn granted(qos: QoS) -> ReasonCode {
    match qos {
        QoS::AtMostOnce => ReasonCode::GRANTED_QOS_0,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    }
}

/// The reason code a client of `version` sees: `v5` for 5.0, `v3` (3.1.1's nearest code, as the
/// codec decodes it) for 3.1.1.
pub(crate) fn by_version(version: ProtocolVersion, v5: ReasonCode, v3: ReasonCode) -> ReasonCode {
    if version == V5 { v5 } else { v3 }
}

/// Runs `future` with the [`TIMEOUT`] guard.
pub(crate) async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("timed out waiting for the server")
}

static SENTINELS: AtomicU64 = AtomicU64::new(0);

/// Waits until a server-side timer of `seconds` (started now) has fired: a sentinel client with
/// a Will Delay Interval of `seconds` drops its connection and this returns when its will is
/// delivered. Whatever the server scheduled to happen earlier (an expiry, a shorter will delay)
/// has happened by then, so a test can check it without sleeping.
pub(crate) async fn server_timer(server: &TestServer, seconds: u32) {
    let n = SENTINELS.fetch_add(1, Ordering::Relaxed);
    let topic = format!("sentinel/{n}");
    let mut watcher = Client::connect(server, Net::Tcp, V5, &format!("sentinel-watcher-{n}")).await;
    watcher.subscribe(&topic, QoS::AtMostOnce).await;
    let mut connect = persistent_connect(V5, &format!("sentinel-{n}"), seconds + 60);
    let mut w = will(&topic, b"tick", QoS::AtMostOnce, false);
    w.properties.will_delay_interval = Some(seconds);
    connect.will = Some(w);
    let (sentinel, _) = Client::connect_ok(server, Net::Tcp, connect).await;
    drop(sentinel);
    let publish = watcher.expect_publish().await;
    assert_eq!(publish.topic.as_str(), topic);
}

/// A client with a persistent session (Session Expiry Interval 300 s for 5.0) subscribed to
/// `filter`, then disconnected.
pub(crate) async fn offline_subscriber(
    server: &TestServer,
    version: ProtocolVersion,
    net: Net,
    id: &str,
    filter: &str,
    qos: QoS,
) {
    let (mut client, _) =
        Client::connect_ok(server, net, persistent_connect(version, id, 300)).await;
    client.subscribe(filter, qos).await;
    client.disconnect().await;
}

/// Checks that the broker still serves a new, well-behaved pair of clients: a QoS 1 message
/// goes from one to the other.
pub(crate) async fn assert_serving(server: &TestServer) {
    let n = SENTINELS.fetch_add(1, Ordering::Relaxed);
    let topic = format!("health/{n}");
    let mut subscriber = Client::connect(server, Net::Tcp, V5, &format!("health-sub-{n}")).await;
    subscriber.subscribe(&topic, QoS::AtLeastOnce).await;
    let mut publisher = Client::connect(server, Net::Tls, V3, &format!("health-pub-{n}")).await;
    assert_eq!(
        publisher.publish1(&topic, b"still serving").await,
        ReasonCode::Success
    );
    let publish = subscriber.expect_publish().await;
    assert_eq!(&publish.payload[..], b"still serving");
}

/// Publishes from a 5.0 `client` on topics it may not publish to: `topics[0]` at QoS 1,
/// `topics[1]` at QoS 2, `topics[2]` at QoS 0 and `topics[3]` retained at QoS 1, and checks that
/// the PUBACK and PUBREC refuse them with 0x87 Not authorized (§3.4.2.1, §3.5.2.1).
pub(crate) async fn publish_unauthorized(client: &mut Client, topics: [&str; 4]) {
    let [qos1, qos2, qos0, retained] = topics;
    assert_eq!(
        client.publish1(qos1, b"forged").await,
        ReasonCode::NotAuthorized
    );
    let id = client.next_pid().get();
    let publish = publish_packet(qos2, b"forged", QoS::ExactlyOnce, id);
    assert_eq!(
        client.publish_acked(publish).await,
        ReasonCode::NotAuthorized
    );
    client.publish0(qos0, b"forged").await;
    let id = client.next_pid().get();
    let mut publish = publish_packet(retained, b"forged", QoS::AtLeastOnce, id);
    publish.retain = true;
    assert_eq!(
        client.publish_acked(publish).await,
        ReasonCode::NotAuthorized
    );
}

/// Checks that none of the messages published before reached `watcher` (subscribed to them and
/// to `marker`), and that none was retained: a new subscriber to `retained_filter` gets nothing.
/// `publisher` publishes the marker, at QoS 1, after the others.
pub(crate) async fn assert_none_delivered_or_retained(
    server: &TestServer,
    watcher: &mut Client,
    publisher: &mut Client,
    marker: &str,
    retained_filter: &str,
) {
    publisher.publish1(marker, b"").await;
    let delivered = watcher.publishes_until(marker).await;
    assert!(delivered.is_empty(), "delivered: {delivered:?}");
    let n = SENTINELS.fetch_add(1, Ordering::Relaxed);
    let mut late = Client::connect(server, Net::Tcp, V5, &format!("late-{n}")).await;
    late.subscribe(retained_filter, QoS::AtLeastOnce).await;
    late.subscribe(marker, QoS::AtLeastOnce).await;
    publisher.publish1(marker, b"").await;
    let retained = late.publishes_until(marker).await;
    assert!(retained.is_empty(), "retained: {retained:?}");
}

/// Measures how long `future` takes.
pub(crate) async fn timed<F: std::future::Future>(future: F) -> (F::Output, Duration) {
    let start = Instant::now();
    let out = future.await;
    (out, start.elapsed())
}

/// Starts a server with `config`.
pub(crate) async fn start_with(config: thingd_broker::BrokerConfig) -> TestServer {
    TestServer::start_with(config).await.unwrap()
}

/// Starts a server with the default configuration.
pub(crate) async fn start() -> TestServer {
    TestServer::start().await.unwrap()
}

/// Both protocol versions with both listeners, for tests that apply to every combination.
pub(crate) const ALL: [(ProtocolVersion, Net); 4] = [
    (V3, Net::Tcp),
    (V3, Net::Tls),
    (V5, Net::Tcp),
    (V5, Net::Tls),
];

pub(crate) mod rumqtt {
    //! rumqttc clients (3.1.1 and 5.0) over TLS with the testkit client certificate, their
    //! event loops driven by a task that forwards every event to a channel.

    use tokio::sync::mpsc;

    use super::*;

    /// The events of a rumqttc event loop; `Err` is the error that ended it.
    pub(crate) struct Events<E> {
        rx: mpsc::UnboundedReceiver<Result<E, String>>,
    }

    impl<E: std::fmt::Debug> Events<E> {
        /// Waits for an event that `pick` accepts, skipping the others; fails if the event loop
        /// ends first.
        pub(crate) async fn wait_for<T>(&mut self, mut pick: impl FnMut(&E) -> Option<T>) -> T {
            within(async {
                loop {
                    match self.rx.recv().await {
                        Some(Ok(event)) => {
                            if let Some(found) = pick(&event) {
                                return found;
                            }
                        }
                        Some(Err(error)) => panic!("the rumqttc event loop ended: {error}"),
                        None => panic!("the rumqttc event loop ended"),
                    }
                }
            })
            .await
        }
    }

    /// Polls an event loop once.
    type PollFn<L, E> = for<'a> fn(
        &'a mut L,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<E, String>> + Send + 'a>,
    >;

    fn spawn<E: Send + 'static, L: Send + 'static>(
        mut eventloop: L,
        poll: PollFn<L, E>,
    ) -> Events<E> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let event = poll(&mut eventloop).await;
                let end = event.is_err();
                if tx.send(event).is_err() || end {
                    break;
                }
            }
        });
        Events { rx }
    }

    /// rumqttc's transport for the server's TLS listener with the testkit client certificate.
    fn tls_transport(server: &TestServer) -> rumqttc::Transport {
        rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(tls_config(
            server,
            &server.client,
        )))
    }

    /// Starts a 3.1.1 rumqttc client with `options`.
    fn start_v3(options: rumqttc::MqttOptions) -> (rumqttc::AsyncClient, Events<rumqttc::Event>) {
        let (client, eventloop) = rumqttc::AsyncClient::new(options, 64);
        let events = spawn(eventloop, |l: &mut rumqttc::EventLoop| {
            Box::pin(async move { l.poll().await.map_err(|e| e.to_string()) })
        });
        (client, events)
    }

    /// A 3.1.1 rumqttc client over TLS.
    pub(crate) fn v3(
        server: &TestServer,
        client_id: &str,
    ) -> (rumqttc::AsyncClient, Events<rumqttc::Event>) {
        let mut options = rumqttc::MqttOptions::new(client_id, "localhost", server.mqtt_tls.port());
        options.set_transport(tls_transport(server));
        start_v3(options)
    }

    /// A 3.1.1 rumqttc client over plain TCP.
    pub(crate) fn v3_tcp(
        server: &TestServer,
        client_id: &str,
    ) -> (rumqttc::AsyncClient, Events<rumqttc::Event>) {
        start_v3(rumqttc::MqttOptions::new(
            client_id,
            "127.0.0.1",
            server.mqtt_tcp.port(),
        ))
    }

    /// A 5.0 rumqttc client over TLS.
    pub(crate) fn v5(
        server: &TestServer,
        client_id: &str,
    ) -> (rumqttc::v5::AsyncClient, Events<rumqttc::v5::Event>) {
        let mut options =
            rumqttc::v5::MqttOptions::new(client_id, "localhost", server.mqtt_tls.port());
        options.set_transport(tls_transport(server));
        let (client, eventloop) = rumqttc::v5::AsyncClient::new(options, 64);
        let events = spawn(eventloop, |l: &mut rumqttc::v5::EventLoop| {
            Box::pin(async move { l.poll().await.map_err(|e| e.to_string()) })
        });
        (client, events)
    }
}

/// The broker's database (`mqtt.db`) in the data directory of a [`TestServer`] started on
/// `data_dir` (`TestServer::start_in`, `stop_keeping_data`).
pub(crate) fn mqtt_database(data_dir: &tempfile::TempDir) -> std::path::PathBuf {
    data_dir
        .path()
        .join("data")
        .join(thingd::serve::MQTT_DATABASE_FILE)
}

/// What the broker's database in `data_dir` holds (no server running on it).
pub(crate) async fn stored(data_dir: &tempfile::TempDir) -> thingd_broker::store::Snapshot {
    use thingd_broker::DurableBackend;
    let mut backend = thingd_storage::SqliteDurable::open(&mqtt_database(data_dir))
        .await
        .unwrap();
    backend.load().await.unwrap()
}

/// Writes `batch` into the broker's database in `data_dir`, before a server starts on it.
pub(crate) async fn store_rows(data_dir: &tempfile::TempDir, batch: thingd_broker::store::Batch) {
    use thingd_broker::DurableBackend;
    std::fs::create_dir_all(data_dir.path().join("data")).unwrap();
    let mut backend = thingd_storage::SqliteDurable::open(&mqtt_database(data_dir))
        .await
        .unwrap();
    backend.commit(&batch).await.unwrap();
}

/// The wall clock in milliseconds since the Unix epoch, as stored rows count time.
pub(crate) fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A stored offline session with a 60 s expiry, saved `saved_ago_secs` ago.
pub(crate) fn stored_session(
    client_id: &str,
    uid: u64,
    saved_ago_secs: u64,
    subscriptions: Vec<thingd_broker::PersistedSubscription>,
) -> thingd_broker::store::StoredSession {
    thingd_broker::store::StoredSession {
        client_id: client_id.to_owned(),
        uid,
        expiry_interval: 60,
        online: false,
        saved_at_ms: wall_ms() - saved_ago_secs * 1000,
        subscriptions,
        will: None,
        incoming_qos2: Vec::new(),
    }
}

impl Client {
    /// Lets the server go idle ([`Client::settle`]) and checks that no PUBLISH arrived.
    pub(crate) async fn assert_no_publish(&mut self, context: &str) {
        let late = self.settle().await;
        assert!(
            late.iter().all(|p| !matches!(p, Packet::Publish(_))),
            "{context}: unexpected PUBLISH in {late:?}"
        );
    }
}
