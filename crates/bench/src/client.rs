//! A minimal, fast MQTT 3.1.1 client over TCP for load generation.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Context, bail};
use bytes::{BufMut, BytesMut};
use mqtt_codec::{
    Ack, Connect, Decoder, MqttString, OutgoingPublish, Packet, PacketId, ProtocolVersion,
    PublishProperties, QoS, Subscribe, SubscriptionOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub(crate) const VERSION: ProtocolVersion = ProtocolVersion::V311;

/// A connected client, split into halves.
pub(crate) struct Connection {
    pub(crate) reader: OwnedReadHalf,
    pub(crate) writer: OwnedWriteHalf,
    pub(crate) decoder: Decoder,
    pub(crate) rbuf: BytesMut,
}

pub(crate) async fn connect(addr: SocketAddr, client_id: &str) -> anyhow::Result<Connection> {
    connect_with(addr, client_id, true).await
}

/// Connects with Clean Session `clean`: `false` asks for a persistent session, whose QoS 1
/// deliveries a durable broker stores until they are acknowledged.
pub(crate) async fn connect_with(
    addr: SocketAddr,
    client_id: &str,
    clean: bool,
) -> anyhow::Result<Connection> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (reader, mut writer) = stream.into_split();
    let mut out = BytesMut::new();
    let mut connect = Connect::new(VERSION, MqttString::new(client_id)?);
    connect.keep_alive = 120;
    connect.clean_start = clean;
    Packet::Connect(Box::new(connect)).encode(VERSION, &mut out)?;
    writer.write_all(&out).await?;
    let mut connection = Connection {
        reader,
        writer,
        decoder: Decoder::new(VERSION, 16 << 20),
        rbuf: BytesMut::with_capacity(64 * 1024),
    };
    match connection.next_packet().await? {
        Packet::ConnAck(ack) if !ack.reason_code.is_error() => Ok(connection),
        other => bail!("{client_id}: expected CONNACK, got {other:?}"),
    }
}

impl Connection {
    pub(crate) async fn next_packet(&mut self) -> anyhow::Result<Packet> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.rbuf)? {
                return Ok(packet);
            }
            if self.reader.read_buf(&mut self.rbuf).await? == 0 {
                bail!("connection closed");
            }
        }
    }

    pub(crate) async fn subscribe(&mut self, filter: &str, qos: QoS) -> anyhow::Result<()> {
        let mut out = BytesMut::new();
        let subscribe = Subscribe {
            packet_id: PacketId::new(1).context("packet id")?,
            properties: Default::default(),
            filters: vec![(MqttString::new(filter)?, SubscriptionOptions::qos(qos))],
        };
        Packet::Subscribe(subscribe).encode(VERSION, &mut out)?;
        self.writer.write_all(&out).await?;
        match self.next_packet().await? {
            Packet::SubAck(ack) if ack.reason_codes.iter().all(|r| !r.is_error()) => Ok(()),
            other => bail!("expected SUBACK, got {other:?}"),
        }
    }
}

/// The payload header: publisher index, sequence number, send time in nanoseconds since the
/// run's epoch (16 bytes, the smallest payload of the scenarios).
pub(crate) fn write_payload(
    buf: &mut BytesMut,
    publisher: u32,
    sequence: u32,
    epoch: Instant,
    size: usize,
) {
    let sent = epoch.elapsed().as_nanos() as u64;
    buf.put_u32(publisher);
    buf.put_u32(sequence);
    buf.put_u64(sent);
    buf.put_bytes(b'x', size.saturating_sub(16));
}

pub(crate) fn read_payload(payload: &[u8]) -> Option<(u32, u32, u64)> {
    let header: &[u8; 16] = payload.get(..16)?.try_into().ok()?;
    let publisher = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let sequence = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let sent = u64::from_be_bytes([
        header[8], header[9], header[10], header[11], header[12], header[13], header[14],
        header[15],
    ]);
    Some((publisher, sequence, sent))
}

/// What a publisher stamps on each message.
pub(crate) struct Stamp {
    pub(crate) publisher: u32,
    pub(crate) sequence: u32,
    pub(crate) epoch: Instant,
    pub(crate) size: usize,
}

/// Encodes one PUBLISH whose payload is built in `scratch`.
pub(crate) fn encode_publish(
    out: &mut BytesMut,
    scratch: &mut BytesMut,
    topic: &[u8],
    qos: QoS,
    packet_id: Option<PacketId>,
    stamp: Stamp,
) -> anyhow::Result<()> {
    scratch.clear();
    write_payload(
        scratch,
        stamp.publisher,
        stamp.sequence,
        stamp.epoch,
        stamp.size,
    );
    let properties = PublishProperties::default();
    OutgoingPublish {
        dup: false,
        qos,
        retain: false,
        packet_id,
        topic,
        topic_alias: None,
        subscription_identifiers: &[],
        properties: &properties,
        payload: scratch,
    }
    .encode(VERSION, out)?;
    Ok(())
}

pub(crate) fn encode_puback(out: &mut BytesMut, id: PacketId) {
    // A PUBACK is four fixed bytes; encoding it cannot fail.
    let _ = Packet::PubAck(Ack::new(id)).encode(VERSION, out);
}
