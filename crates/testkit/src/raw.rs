//! A raw MQTT client built on thingd's codec, for tests that must send what real clients never
//! would (protocol violations, malformed bytes) and see exactly what the server answers.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::BytesMut;
use mqtt_codec::{Connect, Decoder, MqttString, Packet, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a raw client waits for a packet before failing the test.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(10);

/// A plain-TCP MQTT connection that sends and receives packets or bytes.
#[derive(Debug)]
pub struct RawClient {
    stream: TcpStream,
    decoder: Decoder,
    version: ProtocolVersion,
    buf: BytesMut,
}

/// What the server did next.
// Test code matches on this by value; the size of a packet does not matter here.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// A packet.
    Packet(Packet),
    /// The server closed the connection.
    Closed,
}

impl RawClient {
    /// Opens a TCP connection without sending anything.
    pub async fn open(addr: SocketAddr, version: ProtocolVersion) -> anyhow::Result<RawClient> {
        let stream = TcpStream::connect(addr).await.context("connecting")?;
        stream.set_nodelay(true)?;
        Ok(RawClient {
            stream,
            decoder: Decoder::new(version, usize::MAX),
            version,
            buf: BytesMut::new(),
        })
    }

    /// Opens a connection, sends CONNECT with `client_id` (clean start) and checks the CONNACK
    /// reports success.
    pub async fn connect(
        addr: SocketAddr,
        version: ProtocolVersion,
        client_id: &str,
    ) -> anyhow::Result<RawClient> {
        let mut client = Self::open(addr, version).await?;
        let connect = Connect::new(version, MqttString::new(client_id)?);
        client.send(&Packet::Connect(Box::new(connect))).await?;
        match client.recv().await? {
            Received::Packet(Packet::ConnAck(ack)) if !ack.reason_code.is_error() => Ok(client),
            other => bail!("expected a successful CONNACK, got {other:?}"),
        }
    }

    /// Sends a packet.
    pub async fn send(&mut self, packet: &Packet) -> anyhow::Result<()> {
        let mut out = BytesMut::new();
        packet.encode(self.version, &mut out)?;
        self.send_bytes(&out).await
    }

    /// Sends raw bytes.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.stream.write_all(bytes).await.context("writing")?;
        Ok(())
    }

    /// Waits for the next packet or the close, failing after [`RECV_TIMEOUT`].
    pub async fn recv(&mut self) -> anyhow::Result<Received> {
        tokio::time::timeout(RECV_TIMEOUT, self.recv_inner())
            .await
            .context("timed out waiting for the server")?
    }

    async fn recv_inner(&mut self) -> anyhow::Result<Received> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.buf)? {
                return Ok(Received::Packet(packet));
            }
            self.buf.reserve(4096);
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => return Ok(Received::Closed),
                // A reset after the server closed counts as closed.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Ok(Received::Closed);
                }
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
        }
    }

    /// Waits for the next packet, failing if the connection closes instead.
    pub async fn expect_packet(&mut self) -> anyhow::Result<Packet> {
        match self.recv().await? {
            Received::Packet(packet) => Ok(packet),
            Received::Closed => bail!("the server closed the connection"),
        }
    }

    /// Reads until the server closes the connection, returning the packets it sent first.
    pub async fn expect_close(&mut self) -> anyhow::Result<Vec<Packet>> {
        let mut packets = Vec::new();
        loop {
            match self.recv().await? {
                Received::Packet(packet) => packets.push(packet),
                Received::Closed => return Ok(packets),
            }
        }
    }
}
