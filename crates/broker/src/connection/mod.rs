//! One client connection, from the first byte to the close: the CONNECT handshake, then a loop
//! that reads and handles packets, moves deliveries from the session's mailbox into the write
//! buffer, writes, and enforces Keep Alive, all in one task that owns the connection's state.
//!
//! The loop batches: every read may carry many packets, every drain of the mailbox many
//! deliveries, and each write sends everything encoded since the last one, so a busy connection
//! makes few syscalls per message. Memory is bounded: reading stops while the write buffer is
//! over its limit, and deliveries wait in the bounded mailbox until the buffer drains.

mod inbound;
mod outbound;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use mqtt_codec::{
    ConnAck, ConnAckProperties, Connect, DecodeError, Decoder, Disconnect, MqttString, Packet,
    PayloadFormat, ProtocolVersion, QoS, ReasonCode,
};
use mqtt_topic::TopicName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::debug;

use crate::auth::{AuthorizationSignal, ConnectRequest, ConnectionAuthorizer, Principal};
use crate::core::{Core, session_origin};
use crate::durable::{DeliveryChange, Op};
use crate::hooks::{HookScratch, PublishOrigin};
use crate::lifecycle::{self, DisconnectReason, LifecycleSession, Subject};
use crate::message::{Delivery, Message, now_ms};
use crate::metrics::Metrics;
use crate::router::RouteScratch;
use crate::session::{ConnectionControl, Session};

use outbound::{Encoder, OutgoingAliases};

/// Bytes read per read call at most, and the initial size of a connection's read buffer.
const READ_CHUNK: usize = 16 * 1024;
/// Deliveries taken from the mailbox per drain.
const DRAIN_BATCH: usize = 512;
/// How long the final flush of a closing connection may take.
const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// The client sent DISCONNECT; `publish_will` is set for 0x04 Disconnect with Will Message.
    ClientDisconnect {
        publish_will: bool,
        session_expiry: Option<u32>,
    },
    /// The server closes the connection with this reason (sent in DISCONNECT to 5.0 clients).
    Server(ReasonCode),
    /// The network connection was lost or closed by the peer.
    Lost,
}

/// The limits a client announced in CONNECT.
#[derive(Debug, Clone, Copy)]
struct ClientLimits {
    receive_maximum: u16,
    max_packet_size: usize,
}

/// Serves one client connection over any byte stream.
pub(crate) async fn serve<S>(core: Arc<Core>, stream: S, principal: Principal)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (reader, writer) = tokio::io::split(stream);
    serve_split(core, reader, writer, principal).await;
}

/// Serves one client connection over separate read and write halves.
pub(crate) async fn serve_split<R, W>(
    core: Arc<Core>,
    mut reader: R,
    mut writer: W,
    principal: Principal,
) where
    R: AsyncRead + Send + Unpin,
    W: AsyncWrite + Send + Unpin,
{
    Metrics::inc(&core.metrics.connections_total);
    core.metrics
        .connections_current
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut rbuf = BytesMut::with_capacity(4096);
    let mut decoder = Decoder::server(core.config.max_packet_size as usize);
    let handshake = tokio::select! {
        handshake = tokio::time::timeout(
            core.config.connect_timeout,
            read_connect(&mut reader, &mut rbuf, &mut decoder, &core.metrics),
        ) => handshake,
        // A connection that has not sent CONNECT yet is simply closed at shutdown.
        _ = core.shutdown.cancelled() => Ok(Err(None)),
    };
    let connect = match handshake {
        Ok(Ok(connect)) => connect,
        Ok(Err(refusal)) => {
            Metrics::inc(&core.metrics.connections_refused_total);
            if let Some(refusal) = refusal {
                let _ = send_refusal(&mut writer, refusal).await;
            }
            core.metrics
                .connections_current
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        Err(_elapsed) => {
            // Connections that never send CONNECT would otherwise hold server resources
            // indefinitely; [MQTT-4.8... ] allows the server to close them.
            debug!(message = "No CONNECT within the connect timeout.", remote = %principal.remote_addr);
            Metrics::inc(&core.metrics.connections_refused_total);
            core.metrics
                .connections_current
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
    };
    let version = connect.protocol_version;
    match accept(&core, connect, principal, decoder).await {
        Ok((mut connection, connack, decoder)) => {
            let mut wbuf = BytesMut::with_capacity(256);
            let _ = Packet::ConnAck(connack).encode(version, &mut wbuf);
            connection.wbuf = wbuf;
            connection
                .run(&mut reader, &mut writer, rbuf, decoder)
                .await;
        }
        Err(connack) => {
            Metrics::inc(&core.metrics.connections_refused_total);
            let _ = send_refusal(&mut writer, Refusal { version, connack }).await;
        }
    }
    core.metrics
        .connections_current
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// A CONNACK that refuses a connection, in the client's protocol version.
struct Refusal {
    version: ProtocolVersion,
    connack: ConnAck,
}

async fn send_refusal<W: AsyncWrite + Unpin>(
    writer: &mut W,
    refusal: Refusal,
) -> std::io::Result<()> {
    let mut buf = BytesMut::new();
    if Packet::ConnAck(refusal.connack)
        .encode(refusal.version, &mut buf)
        .is_ok()
    {
        let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, writer.write_all(&buf)).await;
    }
    let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, writer.shutdown()).await;
    Ok(())
}

/// Reads until the first packet, which must be CONNECT [MQTT-3.1.0-1]. A malformed or refused
/// CONNECT gets a CONNACK in the client's version where the protocol allows one ([MQTT-3.1.4-1],
/// [MQTT-3.2.2-8]); `Err(None)` means close without one.
async fn read_connect<R: AsyncRead + Unpin>(
    reader: &mut R,
    rbuf: &mut BytesMut,
    decoder: &mut Decoder,
    metrics: &Metrics,
) -> Result<Connect, Option<Refusal>> {
    loop {
        match decoder.decode(rbuf) {
            Ok(Some(Packet::Connect(connect))) => return Ok(*connect),
            Ok(Some(_)) => return Err(None),
            Ok(None) => {}
            Err(error) => return Err(refusal_for(&error, decoder.version())),
        }
        rbuf.reserve(1024);
        match reader.read_buf(rbuf).await {
            Ok(0) | Err(_) => return Err(None),
            Ok(n) => Metrics::add(&metrics.bytes_received_total, n as u64),
        }
    }
}

fn refusal_for(error: &DecodeError, version: Option<ProtocolVersion>) -> Option<Refusal> {
    match (error, version) {
        // [MQTT-3.1.2-2]: an unsupported protocol level is answered with 0x84 (5.0) or return
        // code 0x01 (3.1.1), in a CONNACK the client's version can read.
        (DecodeError::UnsupportedProtocolLevel(level), _) => Some(Refusal {
            version: if *level > 5 {
                ProtocolVersion::V5
            } else {
                ProtocolVersion::V311
            },
            connack: ConnAck::new(false, ReasonCode::UnsupportedProtocolVersion),
        }),
        (DecodeError::UnsupportedProtocolName, _) => Some(Refusal {
            version: ProtocolVersion::V311,
            connack: ConnAck::new(false, ReasonCode::UnsupportedProtocolVersion),
        }),
        // A 5.0 client gets the reason (0x81, 0x82, 0x95 ...) before the close (§4.13).
        (error, Some(ProtocolVersion::V5)) => Some(Refusal {
            version: ProtocolVersion::V5,
            connack: ConnAck::new(false, error.reason_code()),
        }),
        // 3.1.1 has no return code for a malformed packet: close [MQTT-4.8.0-1 of 3.1.1].
        _ => None,
    }
}

fn refuse(reason: ReasonCode) -> ConnAck {
    ConnAck::new(false, reason)
}

/// Validates and authorizes CONNECT, attaches the session, and builds the CONNACK.
async fn accept(
    core: &Arc<Core>,
    connect: Connect,
    principal: Principal,
    mut decoder: Decoder,
) -> Result<(Connection, ConnAck, Decoder), ConnAck> {
    let config = &core.config;
    let version = connect.protocol_version;
    let v5 = version == ProtocolVersion::V5;
    if core
        .metrics
        .connections_current
        .load(std::sync::atomic::Ordering::Relaxed) as usize
        > config.max_connections
    {
        return Err(refuse(ReasonCode::ServerBusy));
    }
    if core.shutdown.is_cancelled() {
        return Err(refuse(ReasonCode::ServerUnavailable));
    }
    // Enhanced authentication (§4.12) is not offered: a client asking for a method gets
    // 0x8C Bad authentication method.
    if connect.properties.authentication_method.is_some() {
        return Err(refuse(ReasonCode::BadAuthenticationMethod));
    }
    // §3.1.2.11.10: "It is a Protocol Error to include Authentication Data if there is no
    // Authentication Method."
    if connect.properties.authentication_data.is_some() {
        return Err(refuse(ReasonCode::ProtocolError));
    }

    // Client Identifier (§3.1.3.1).
    let mut assigned = None;
    let client_id: Arc<str> = if connect.client_id.is_empty() {
        // [MQTT-3.1.3-8] (3.1.1): an empty identifier needs Clean Session; 5.0 lets the server
        // assign one and return it [MQTT-3.1.3-7], [MQTT-3.2.2-16].
        if !v5 && !connect.clean_start {
            return Err(refuse(ReasonCode::ClientIdentifierNotValid));
        }
        let id = format!("thingd-{:016x}", rand_u64());
        assigned = Some(id.clone());
        Arc::from(id)
    } else {
        Arc::from(connect.client_id.as_str())
    };
    if client_id.len() > config.max_client_id_len {
        return Err(refuse(ReasonCode::ClientIdentifierNotValid));
    }

    // Will (§3.1.2.5).
    let will_topic = match &connect.will {
        Some(will) => Some(
            TopicName::parse(will.topic.as_str(), &config.topic_limits)
                .map_err(|_| refuse(ReasonCode::TopicNameInvalid))?,
        ),
        None => None,
    };
    if let (Some(will), Some(_)) = (&connect.will, &will_topic) {
        if will.qos > config.maximum_qos {
            // [MQTT-3.2.2-12]: a will QoS above Maximum QoS is refused with 0x9B.
            return Err(refuse(ReasonCode::QoSNotSupported));
        }
        if will.properties.payload_format_indicator == Some(PayloadFormat::Utf8)
            && std::str::from_utf8(&will.payload).is_err()
        {
            return Err(refuse(ReasonCode::PayloadFormatInvalid));
        }
    }

    // Session Expiry (§3.1.2.11.2): 5.0 asks for an interval, 3.1.1 Clean Session = 0 asks for a
    // session that lasts; both are capped by the configuration.
    let requested_expiry = if v5 {
        connect.properties.session_expiry_interval.unwrap_or(0)
    } else if connect.clean_start {
        0
    } else {
        u32::MAX
    };
    let session_expiry = requested_expiry.min(config.max_session_expiry);

    // The control exists before the authorizer is asked, so the authorizer can keep the
    // connection's signal from the start: rights that change while the session is being
    // attached are then rechecked as soon as the connection task runs.
    let control = Arc::new(ConnectionControl::default());
    let request = ConnectRequest {
        principal: &principal,
        client_id: &client_id,
        protocol_version: version,
        persistent: session_expiry > 0,
        username: connect.username.as_deref(),
        will_topic: will_topic.as_ref(),
        signal: AuthorizationSignal::new(control.clone()),
    };
    let authz = match core.authorizer.authorize_connect(&request).await {
        Ok(authz) => authz,
        Err(reason) => {
            control.mark_finished();
            return Err(refuse(reason));
        }
    };
    if let (Some(will), Some(topic)) = (&connect.will, &will_topic) {
        // The will is published on the client's behalf, so it obeys the rule of its PUBLISH:
        // topics starting with `$` are the server's [MQTT-4.7.2-1] (see `on_publish`).
        if topic.is_system() || !authz.publish(topic, will.qos, will.retain) {
            control.mark_finished();
            return Err(refuse(ReasonCode::NotAuthorized));
        }
    }

    // Keep Alive (§3.1.2.10): the server may impose its own [MQTT-3.2.2-21].
    let mut keep_alive = connect.keep_alive;
    let mut server_keep_alive = None;
    if let Some(max) = config.max_keep_alive
        && (keep_alive == 0 || keep_alive > max)
    {
        keep_alive = max;
        server_keep_alive = Some(max);
    }

    let id = core.sessions.connection_id();
    let certificate_id = principal
        .certificate
        .as_ref()
        .map(|c| c.certificate_id.clone());
    if let Some(certificate_id) = &certificate_id {
        // Tracked before the session is attached, so a deactivation from now on reaches it.
        core.track_certificate(certificate_id, id, control.clone());
    }
    let attached = core.sessions.attach(
        &client_id,
        connect.clean_start,
        session_expiry,
        id,
        control.clone(),
    );
    if let Some(will) = attached.ended_will {
        // The will of a session that waited for its delay is published on behalf of the
        // session's earlier connection, which only its client id describes now; before that
        // session's row (which holds the will) leaves the store.
        core.publish_will(will, &session_origin(&attached.session));
    }
    if let Some(ended) = &attached.ended {
        core.forget_session(ended);
    }
    // Before any subscription can route to it: a persistent session is stored (online) from
    // its CONNECT, and one resumed with an expiry of 0 leaves the store.
    core.save_session(&attached.session);

    let client = ClientLimits {
        receive_maximum: connect
            .properties
            .receive_maximum
            .map_or(u16::MAX, |r| r.get()),
        max_packet_size: connect
            .properties
            .maximum_packet_size
            .map_or(usize::MAX, |m| m.get() as usize),
    };
    let will = match (connect.will, will_topic) {
        (Some(will), Some(topic)) => {
            let expires_at = will
                .properties
                .message_expiry_interval
                .map(|s| Instant::now() + Duration::from_secs(u64::from(s)));
            let mut properties = mqtt_codec::PublishProperties::default();
            properties.payload_format_indicator = will.properties.payload_format_indicator;
            properties.message_expiry_interval = will.properties.message_expiry_interval;
            properties.content_type = will.properties.content_type;
            properties.response_topic = will.properties.response_topic;
            properties.correlation_data = will.properties.correlation_data;
            properties.user_properties = will.properties.user_properties;
            let message = Message {
                topic,
                payload: bytes::Bytes::copy_from_slice(&will.payload),
                qos: will.qos,
                retain: will.retain,
                properties,
                expires_at,
                origin: Some(attached.session.key()),
                received_at_ms: now_ms(),
            };
            Some((
                Arc::new(message),
                will.properties.will_delay_interval.unwrap_or(0),
            ))
        }
        _ => None,
    };

    let mut connack = ConnAck::new(attached.session_present, ReasonCode::Success);
    if v5 {
        let p: &mut ConnAckProperties = &mut connack.properties;
        p.receive_maximum = std::num::NonZeroU16::new(config.receive_maximum);
        p.maximum_packet_size = std::num::NonZeroU32::new(config.max_packet_size);
        p.topic_alias_maximum = Some(config.topic_alias_maximum);
        p.retain_available = Some(true);
        p.wildcard_subscription_available = Some(true);
        p.subscription_identifiers_available = Some(true);
        p.shared_subscription_available = Some(true);
        if config.maximum_qos < QoS::ExactlyOnce {
            p.maximum_qos = Some(config.maximum_qos);
        }
        p.server_keep_alive = server_keep_alive;
        if session_expiry != requested_expiry {
            // [MQTT-3.2.2-...]: the server tells the client the interval it will use.
            p.session_expiry_interval = Some(session_expiry);
        }
        if let Some(assigned) = assigned {
            p.assigned_client_identifier = MqttString::try_from(assigned).ok();
        }
    }

    decoder.set_max_packet_size(config.max_packet_size as usize);
    let topic_alias_slots = usize::from(config.topic_alias_maximum);
    let outgoing_alias_maximum = if v5 {
        connect
            .properties
            .topic_alias_maximum
            .unwrap_or(0)
            .min(config.outgoing_topic_alias_maximum)
    } else {
        0
    };
    debug!(message = "Client connected.", client_id = %client_id, version = %version, session_present = attached.session_present);
    let origin = PublishOrigin {
        client_id: Some(client_id.clone()),
        certificate_id: certificate_id.as_deref().map(Arc::from),
        remote_addr: Some(principal.remote_addr),
        protocol_version: Some(version),
    };
    let connection = Connection {
        core: core.clone(),
        id,
        certificate_id,
        version,
        client_id,
        session: attached.session,
        control,
        authz,
        keep_alive: (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500)),
        client,
        incoming_aliases: vec![None; topic_alias_slots],
        outgoing_aliases: OutgoingAliases::new(outgoing_alias_maximum),
        will,
        session_expiry,
        session_present: attached.session_present,
        wbuf: BytesMut::new(),
        scratch: RouteScratch::default(),
        drained: Vec::new(),
        last_packet: Instant::now(),
        mailbox_ready: true,
        congested: Vec::new(),
        congestion_deadline: None,
        input_pending: false,
        counts: PendingCounts::default(),
        origin,
        lifecycle: LifecycleSession::new(),
        hooks: HookScratch::default(),
        received_at_ms: now_ms(),
        pending_acks: VecDeque::new(),
        held: BytesMut::new(),
        pending_subacks: 0,
        publish_ticket: None,
        progress: Vec::new(),
    };
    Ok((connection, connack, decoder))
}

/// Writes some of `wbuf` (returning how much), or flushes when it is empty (returning `None`).
async fn write_or_flush<W: AsyncWrite + Unpin>(
    writer: &mut W,
    wbuf: &[u8],
) -> std::io::Result<Option<usize>> {
    if wbuf.is_empty() {
        writer.flush().await.map(|()| None)
    } else {
        writer.write(wbuf).await.map(Some)
    }
}

/// Waits until the durable store commits more (forever without a store).
async fn committed_changed(
    committed: &mut Option<tokio::sync::watch::Receiver<u64>>,
) -> Result<(), tokio::sync::watch::error::RecvError> {
    match committed {
        Some(receiver) => receiver.changed().await,
        None => std::future::pending().await,
    }
}

/// Waits until every congested subscriber has drained; `false` if `deadline` came first.
async fn wait_for_space(congested: &[Arc<Session>], deadline: tokio::time::Instant) -> bool {
    let all = async {
        for session in congested {
            session.mailbox.space_available().await;
        }
    };
    tokio::select! {
        _ = all => true,
        _ = tokio::time::sleep_until(deadline) => false,
    }
}

/// A random 64-bit value for server-assigned Client Identifiers.
fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // The system random source is always available on the platforms thingd supports; a clock
    // reading stands in if it ever is not, since uniqueness, not secrecy, is what matters here.
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    }
    u64::from_le_bytes(bytes)
}

/// A connected client.
pub(crate) struct Connection {
    core: Arc<Core>,
    id: u64,
    /// The id of the client certificate the connection authenticated with, if any.
    certificate_id: Option<String>,
    version: ProtocolVersion,
    client_id: Arc<str>,
    session: Arc<Session>,
    control: Arc<ConnectionControl>,
    authz: Arc<dyn ConnectionAuthorizer>,
    /// 1.5 times the Keep Alive: the longest silence allowed [MQTT-3.1.2-22].
    keep_alive: Option<Duration>,
    client: ClientLimits,
    /// Topic Aliases the client set, by alias - 1.
    incoming_aliases: Vec<Option<TopicName>>,
    outgoing_aliases: OutgoingAliases,
    will: Option<(Arc<Message>, u32)>,
    session_expiry: u32,
    session_present: bool,
    wbuf: BytesMut,
    scratch: RouteScratch,
    drained: Vec<Delivery>,
    last_packet: Instant,
    /// Whether the mailbox may hold deliveries that could be sent now.
    mailbox_ready: bool,
    /// Subscribers whose queues this connection's publishes congested: reading waits for them
    /// (see [`crate::mailbox`]) until `congestion_deadline`.
    congested: Vec<Arc<Session>>,
    congestion_deadline: Option<tokio::time::Instant>,
    /// Complete packets may remain in the read buffer: input stopped at a congestion.
    input_pending: bool,
    /// Per-message counts, added to the shared counters once per loop iteration: shared
    /// counters written by every connection on every message would bounce their cache line
    /// between cores.
    counts: PendingCounts,
    /// Who this client is, as hooks are told.
    origin: PublishOrigin,
    /// The connection's identity in its lifecycle events.
    lifecycle: LifecycleSession,
    /// The hooks that matched the PUBLISH being handled.
    hooks: HookScratch,
    /// When the last read completed (ms since the Unix epoch): the receive time of the
    /// messages decoded from it, one clock reading per read rather than per message.
    received_at_ms: u64,
    /// Acknowledgements (PUBACK, PUBREC) waiting for the durable store to commit the ticket
    /// they carry, in the order their PUBLISH packets arrived [MQTT-4.6.0-2].
    pending_acks: VecDeque<(u64, Held)>,
    /// Stored QoS 2 deliveries encoded by the last drain, held until their identifiers are
    /// stored (see [`outbound::Encoder::held`]).
    held: BytesMut,
    /// How many of `pending_acks` are SUBACKs: deliveries wait for them, so that retained
    /// messages a SUBSCRIBE brings follow its SUBACK.
    pending_subacks: usize,
    /// The durable store's ticket of the PUBLISH being handled.
    publish_ticket: Option<u64>,
    /// Progress of this session's stored deliveries (sent, acknowledged, dropped), submitted
    /// to the durable store once per read or drain.
    progress: Vec<DeliveryChange>,
}

/// What a connection holds back until the durable store commits a ticket.
#[derive(Debug)]
enum Held {
    /// An acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK).
    Packet(Box<Packet>),
    /// Encoded QoS 2 PUBLISH packets.
    Encoded(bytes::Bytes),
}

/// Counts not yet added to [`Metrics`].
#[derive(Debug, Default)]
struct PendingCounts {
    publish_received: u64,
    publish_sent: u64,
    publish_unrouted: u64,
    deliveries_dropped: u64,
    publishes_denied: u64,
}

impl PendingCounts {
    fn flush(&mut self, metrics: &Metrics) {
        let pending = std::mem::take(self);
        for (counter, n) in [
            (&metrics.publish_received_total, pending.publish_received),
            (&metrics.publish_sent_total, pending.publish_sent),
            (&metrics.publish_unrouted_total, pending.publish_unrouted),
            (
                &metrics.deliveries_dropped_total,
                pending.deliveries_dropped,
            ),
            (&metrics.publishes_denied_total, pending.publishes_denied),
        ] {
            if n > 0 {
                Metrics::add(counter, n);
            }
        }
    }
}

impl Connection {
    async fn run<R, W>(
        mut self,
        reader: &mut R,
        writer: &mut W,
        mut rbuf: BytesMut,
        mut decoder: Decoder,
    ) where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        if self.session_present {
            // The resumed session's subscriptions were made under the rights of an earlier
            // connection: those this connection may not make are removed before anything is
            // delivered. (Messages sent before and unacknowledged are resent regardless: they
            // were authorized when first sent, and a QoS 2 flow must be completed.)
            if self.recheck_authorization() {
                let session = self.session.clone();
                let mut state = session.state.lock();
                self.encoder().resend_inflight(&mut state, Instant::now());
            } else {
                self.control.close(ReasonCode::NotAuthorized);
            }
        }
        let core = self.core.clone();
        // The CONNACK is encoded, the session attached: the client is connected.
        core.publish_lifecycle(|| lifecycle::connected(&self.subject(), self.origin.remote_addr?));
        let control = self.control.clone();
        let session = self.session.clone();
        let max_write_buffer = core.config.max_write_buffer;
        let keep_alive_timer =
            tokio::time::sleep(self.keep_alive.unwrap_or(Duration::from_secs(86_400)));
        tokio::pin!(keep_alive_timer);
        let mut unflushed = false;
        let mut committed = core.durable.as_ref().map(|durable| durable.committed());
        // A client that does not honour Receive Maximum (3.1.1 has none) stops being read
        // while this many acknowledgements wait for the store.
        let max_pending_acks = usize::from(core.config.receive_maximum);

        let close = loop {
            self.counts.flush(&core.metrics);
            self.submit_progress();
            if let Some(committed) = &committed
                && !self.pending_acks.is_empty()
            {
                let ticket = *committed.borrow();
                self.release_acks(ticket);
            }
            if let Some(reason) = control.reason() {
                break Close::Server(reason);
            }
            if control.take_recheck() && !self.recheck_authorization() {
                break Close::Server(ReasonCode::NotAuthorized);
            }
            if session.mailbox.take_overflow() {
                break Close::Server(ReasonCode::QuotaExceeded);
            }
            if self.mailbox_ready && self.wbuf.len() < max_write_buffer && self.pending_subacks == 0
            {
                self.pump();
            }
            if self.input_pending && self.congested.is_empty() && self.wbuf.len() < max_write_buffer
            {
                if let Err(close) = self.handle_input(&mut rbuf, &mut decoder) {
                    break close;
                }
                self.note_congestion();
                continue;
            }
            // Back-pressure: no reading while the write buffer is full, while a subscriber this
            // connection publishes to has not drained, or while the durable store falls behind
            // (woken by its next commit).
            let backlogged = core
                .durable
                .as_ref()
                .is_some_and(|durable| durable.is_backlogged());
            let can_read = self.wbuf.len() < max_write_buffer
                && self.congested.is_empty()
                && !self.input_pending
                && self.pending_acks.len() < max_pending_acks
                && !backlogged;
            let congestion_deadline = self
                .congestion_deadline
                .unwrap_or_else(tokio::time::Instant::now);
            tokio::select! {
                biased;
                _ = control.signalled() => {}
                _ = core.shutdown.cancelled() => break Close::Server(ReasonCode::ServerShuttingDown),
                read = reader.read_buf(&mut rbuf), if can_read => {
                    match read {
                        Ok(0) | Err(_) => break Close::Lost,
                        Ok(n) => {
                            Metrics::add(&core.metrics.bytes_received_total, n as u64);
                            self.last_packet = Instant::now();
                            self.received_at_ms = now_ms();
                            if let Err(close) = self.handle_input(&mut rbuf, &mut decoder) {
                                break close;
                            }
                            self.note_congestion();
                            if rbuf.capacity() - rbuf.len() < 1024 {
                                rbuf.reserve(READ_CHUNK);
                            }
                        }
                    }
                }
                // One branch both writes and, once the buffer is empty, flushes: streams that
                // buffer (a WebSocket sink holds frames until flushed) then send what was
                // written; for TCP the flush completes at once.
                written = write_or_flush(writer, &self.wbuf), if !self.wbuf.is_empty() || unflushed => {
                    match written {
                        Err(_) | Ok(Some(0)) => break Close::Lost,
                        Ok(None) => unflushed = false,
                        Ok(Some(n)) => {
                            Metrics::add(&core.metrics.bytes_sent_total, n as u64);
                            self.wbuf.advance(n);
                            unflushed = true;
                            if self.wbuf.is_empty() && self.wbuf.capacity() > 4 * READ_CHUNK {
                                // Give back what a burst grew, so idle connections stay small.
                                self.wbuf = BytesMut::new();
                            }
                        }
                    }
                }
                _ = session.mailbox.notified(), if !self.mailbox_ready => {
                    self.mailbox_ready = true;
                }
                changed = committed_changed(&mut committed), if !self.pending_acks.is_empty() || backlogged => {
                    if changed.is_err() {
                        // The writer stopped (shutdown): nothing more will be committed.
                        break Close::Server(ReasonCode::ServerShuttingDown);
                    }
                }
                drained = wait_for_space(&self.congested, congestion_deadline), if !self.congested.is_empty() => {
                    if !drained {
                        // The subscribers did not drain in time: stop waiting for them; their
                        // queues drop what overflows until they catch up.
                        for congested in &self.congested {
                            congested.mailbox.mark_slow();
                        }
                    }
                    self.congested.clear();
                    self.congestion_deadline = None;
                }
                _ = &mut keep_alive_timer => {
                    let Some(limit) = self.keep_alive else {
                        keep_alive_timer.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(86_400));
                        continue;
                    };
                    if !can_read {
                        // The server is not reading (its own back-pressure), so the client's
                        // packets wait in the socket: that silence is not the client's.
                        self.last_packet = Instant::now();
                    }
                    let deadline = self.last_packet + limit;
                    if Instant::now() >= deadline {
                        // [MQTT-3.1.2-22]: no packet within 1.5 times the Keep Alive.
                        break Close::Server(ReasonCode::KeepAliveTimeout);
                    }
                    keep_alive_timer.as_mut().reset(tokio::time::Instant::from_std(deadline));
                }
            }
        };
        self.counts.flush(&core.metrics);
        self.finish(writer, close).await;
    }

    /// The connection as its lifecycle events describe it.
    pub(super) fn subject(&self) -> Subject<'_> {
        Subject {
            client_id: &self.client_id,
            certificate_id: self.certificate_id.as_deref(),
            session: &self.lifecycle,
        }
    }

    /// Sends an acknowledgement of a PUBLISH once the durable store committed `ticket` (at
    /// once without one), never before the acknowledgements of earlier PUBLISH packets
    /// [MQTT-4.6.0-2].
    pub(super) fn send_ack(&mut self, packet: Packet, ticket: Option<u64>) {
        if matches!(packet, Packet::SubAck(_))
            && (ticket.is_some() || !self.pending_acks.is_empty())
        {
            self.pending_subacks += 1;
        }
        match ticket {
            None if self.pending_acks.is_empty() => self.send(packet),
            // Behind the ones waiting: released as soon as they are.
            None => self
                .pending_acks
                .push_back((0, Held::Packet(Box::new(packet)))),
            Some(ticket) => self
                .pending_acks
                .push_back((ticket, Held::Packet(Box::new(packet)))),
        }
    }

    /// Sends the acknowledgements whose tickets the store has committed, in order.
    fn release_acks(&mut self, committed: u64) {
        while let Some((ticket, _)) = self.pending_acks.front()
            && *ticket <= committed
        {
            match self.pending_acks.pop_front() {
                Some((_, Held::Packet(packet))) => {
                    if matches!(*packet, Packet::SubAck(_)) {
                        self.pending_subacks -= 1;
                        self.mailbox_ready = true;
                    }
                    self.send(*packet);
                }
                Some((_, Held::Encoded(bytes))) => self.wbuf.extend_from_slice(&bytes),
                None => {}
            }
        }
    }

    /// Submits the progress of stored deliveries gathered since the last call; returns the
    /// ticket that covers it.
    pub(super) fn submit_progress(&mut self) -> Option<u64> {
        if self.progress.is_empty() {
            return None;
        }
        if let Some(durable) = &self.core.durable {
            Some(durable.submit(Op::Deliveries(std::mem::take(&mut self.progress))))
        } else {
            self.progress.clear();
            None
        }
    }

    /// Why the connection ended, in AWS IoT's terms (the `disconnectReason` of its event).
    fn disconnect_reason(&self, close: Close) -> DisconnectReason {
        match close {
            Close::ClientDisconnect { .. } => DisconnectReason::ClientInitiatedDisconnect,
            Close::Lost => DisconnectReason::ConnectionLost,
            Close::Server(code) => match self.control.cause() {
                // Told to close from outside (takeover, a revoked certificate, a failed
                // recheck): the teller knew why.
                Some(cause) if self.control.reason() == Some(code) => cause,
                _ => DisconnectReason::for_server_close(code),
            },
        }
    }

    /// Re-evaluates the connection's rights, after its authorizer signalled a change or when it
    /// resumes a session: `false` if it may no longer stay connected; otherwise every
    /// subscription of the session that it may no longer make is removed from the session and
    /// the router (and the store, for a persistent session).
    fn recheck_authorization(&mut self) -> bool {
        if !self.authz.connect() {
            debug!(message = "Connection no longer authorized.", client_id = %self.client_id);
            return false;
        }
        let revoked = {
            let mut state = self.session.state.lock();
            if !self.session.is_owned_by(self.id) {
                // Taken over: the subscriptions are the new owner's now, decided by its rights
                // (and this connection is closing).
                return true;
            }
            let refused: Vec<Box<str>> = state
                .subscriptions
                .iter()
                .filter(|(_, stored)| !self.authz.subscribe(&stored.filter))
                .map(|(text, _)| text.clone())
                .collect();
            // Removed under the state lock (the order SUBSCRIBE takes too), so the session and
            // the router agree whenever the lock is free.
            for text in &refused {
                if let Some(stored) = state.subscriptions.remove(text) {
                    self.core
                        .router
                        .unsubscribe(&stored.filter, self.session.key());
                }
            }
            refused
        };
        if !revoked.is_empty() {
            debug!(message = "Subscriptions revoked.", client_id = %self.client_id, filters = ?revoked);
            Metrics::add(
                &self.core.metrics.subscriptions_revoked_total,
                revoked.len() as u64,
            );
            self.core.save_session(&self.session);
        }
        true
    }

    /// Takes the congested subscribers routing reported and starts the back-pressure wait.
    fn note_congestion(&mut self) {
        if self.scratch.congested.is_empty() {
            return;
        }
        for session in self.scratch.congested.drain(..) {
            if !self.congested.iter().any(|s| s.key() == session.key()) {
                self.congested.push(session);
            }
        }
        if self.congestion_deadline.is_none() {
            self.congestion_deadline =
                Some(tokio::time::Instant::now() + self.core.config.backpressure_timeout);
        }
    }

    /// Decodes and handles the complete packets in `rbuf`, stopping early when a publish
    /// congested a subscriber (the rest waits in `rbuf` until it drains).
    fn handle_input(&mut self, rbuf: &mut BytesMut, decoder: &mut Decoder) -> Result<(), Close> {
        self.input_pending = false;
        loop {
            if !self.scratch.congested.is_empty() {
                self.input_pending = true;
                return Ok(());
            }
            match decoder.decode(rbuf) {
                Ok(Some(packet)) => self.handle(packet)?,
                Ok(None) => return Ok(()),
                Err(error) => {
                    debug!(message = "Malformed packet.", client_id = %self.client_id, %error);
                    Metrics::inc(&self.core.metrics.protocol_errors_total);
                    return Err(Close::Server(error.reason_code()));
                }
            }
        }
    }

    /// The encoder of this connection's deliveries, writing into its write buffer.
    fn encoder(&mut self) -> Encoder<'_> {
        Encoder {
            version: self.version,
            max_packet_size: self.client.max_packet_size,
            aliases: &mut self.outgoing_aliases,
            wbuf: &mut self.wbuf,
            metrics: &self.core.metrics,
            sent: &mut self.counts.publish_sent,
            uid: self.session.uid(),
            progress: &mut self.progress,
            held: self.core.durable.is_some().then_some(&mut self.held),
        }
    }

    /// Moves deliveries from the mailbox into the write buffer, as far as the client's
    /// inflight window and the write buffer allow; stored QoS 2 deliveries wait (in
    /// `pending_acks`) until their identifiers are stored.
    fn pump(&mut self) {
        self.pump_batches();
        if !self.held.is_empty() {
            let encoded = self.held.split().freeze();
            match self.submit_progress() {
                Some(ticket) => self
                    .pending_acks
                    .push_back((ticket, Held::Encoded(encoded))),
                // Held only with a durable store, which every held delivery reported to.
                None => self.wbuf.extend_from_slice(&encoded),
            }
        }
    }

    fn pump_batches(&mut self) {
        let window = usize::from(
            self.client
                .receive_maximum
                .min(self.core.config.max_inflight),
        );
        let session = self.session.clone();
        let authz = self.authz.clone();
        let mut state = session.state.lock();
        if self.control.reason().is_some() {
            // Told to close, e.g. taken over [MQTT-3.1.4-3]: the new owner resends the session's
            // inflight messages once [MQTT-4.4.0-1], under this lock, after the close was asked
            // for; a delivery tracked here after that would be neither sent to it nor resent
            // until the next reconnection, holding a slot of its window all the while.
            return;
        }
        let now = Instant::now();
        loop {
            let mut slots = window.saturating_sub(state.inflight.len());
            self.drained.clear();
            let more = session
                .mailbox
                .drain(&mut self.drained, DRAIN_BATCH, &mut slots);
            let taken = self.drained.len();
            let mut drained = std::mem::take(&mut self.drained);
            let mut denied = 0;
            let mut encoder = self.encoder();
            for delivery in drained.drain(..) {
                // Every delivery, live, retained or queued, is authorized for this connection.
                if !authz.receive(&delivery.message.topic) {
                    denied += 1;
                    if let Some(seq) = delivery.durable {
                        encoder.progress.push(DeliveryChange::Done {
                            uid: encoder.uid,
                            seq,
                        });
                    }
                    continue;
                }
                encoder.publish(delivery, Some(&mut state), now);
            }
            self.drained = drained;
            if denied > 0 {
                Metrics::add(&self.core.metrics.deliveries_denied_total, denied);
            }
            // Stop draining when the window, not the batch size, stopped us: acknowledgements set
            // `mailbox_ready` again, and pushes wake the mailbox's notification. The window is
            // measured after sending: a QoS 1 or 2 delivery that took a slot but was dropped
            // (expired [MQTT-3.3.2-5], denied, or too large [MQTT-3.1.2-25]) left it free, and no
            // acknowledgement will come to reopen it.
            let free = window.saturating_sub(state.inflight.len());
            self.mailbox_ready = more && (taken == DRAIN_BATCH || free > 0);
            // With nothing to write, no event would wake the loop to drain again (its mailbox
            // notification is off while `mailbox_ready`): drain again now.
            if !self.mailbox_ready || !self.wbuf.is_empty() {
                return;
            }
        }
    }

    /// Sends what is left, tells a 5.0 client why the server closes (§4.13), and settles the
    /// session and the will.
    async fn finish<W: AsyncWrite + Unpin>(mut self, writer: &mut W, close: Close) {
        let (publish_will, expiry_update) = match close {
            Close::ClientDisconnect {
                publish_will,
                session_expiry,
            } => (publish_will, session_expiry),
            Close::Server(ReasonCode::ServerShuttingDown) => (false, None),
            Close::Server(_) | Close::Lost => (true, None),
        };
        debug!(
            message = "Connection ending.",
            client_id = %self.client_id,
            queued = self.session.mailbox.len(),
            inflight = self.session.state.lock().inflight.len(),
            mailbox_ready = self.mailbox_ready,
            congested = self.congested.len(),
            input_pending = self.input_pending,
        );
        self.submit_progress();
        if let Some(durable) = &self.core.durable
            && !self.pending_acks.is_empty()
        {
            // Acknowledgements the store committed in time still reach the client; the rest
            // are not sent, and the client sends those PUBLISH packets again.
            let committed = *durable.committed().borrow();
            self.release_acks(committed);
        }
        if let Close::Server(reason) = close {
            // [MQTT-3.14.0-1]: the server sends DISCONNECT only to 5.0 clients and only with a
            // reason code of 0x80 or above... or a normal shutdown reason.
            if self.version == ProtocolVersion::V5 && reason != ReasonCode::Success {
                let _ = Packet::Disconnect(Disconnect::new(reason))
                    .encode(self.version, &mut self.wbuf);
            }
            debug!(message = "Closing connection.", client_id = %self.client_id, reason = %reason);
        }
        if let Some(certificate_id) = &self.certificate_id {
            self.core.untrack_certificate(certificate_id, self.id);
        }
        self.control.mark_finished();
        let will = if publish_will { self.will.take() } else { None };
        // The will is authorized again when it is armed: the connection's rights may have
        // changed since CONNECT.
        let will = will.filter(|(m, _)| self.authz.publish(&m.topic, m.qos, m.retain));
        // The session is settled before the client can see the close: a Session Expiry Interval
        // of 0 ends the session when the Network Connection closes (§3.1.2.11.2), so a client
        // that reconnects once it saw the close must not find (and take over) the old session.
        if !self.core.shutdown.is_cancelled() {
            let detached = self
                .core
                .sessions
                .detach(&self.session, self.id, expiry_update, will);
            self.core
                .finish_detach(&self.session, detached, &self.origin);
        }
        let reason = self.disconnect_reason(close);
        self.core
            .publish_lifecycle(|| lifecycle::disconnected(&self.subject(), reason));
        if close != Close::Lost && !self.wbuf.is_empty() {
            let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, writer.write_all(&self.wbuf)).await;
        }
        let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, writer.shutdown()).await;
    }
}
