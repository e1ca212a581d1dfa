//! `thingd button`: plays the classic AWS IoT button (reference §8). It connects over MQTT 3.1.1
//! and TLS with its device certificate, as the button does, and publishes one click,
//! `{"serialNumber", "batteryVoltage": "<n>mV", "clickType"}`, to `iotbutton/<serialNumber>` at
//! QoS 1, then waits for the PUBACK: the broker has the message once this returns `Ok`.
//!
//! A refusal is an error that says which step was refused: the TLS handshake, the CONNACK's
//! return code, or the connection closed instead of the PUBACK (MQTT 3.1.1 has no negative
//! PUBACK, so AWS IoT and thingd close the connection of a publish the policy denies).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use mqtt_codec::{Connect, Decoder, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The protocol the classic button speaks.
const VERSION: ProtocolVersion = ProtocolVersion::V311;
/// The largest packet accepted from the broker (a CONNACK and a PUBACK are a few bytes).
const MAX_INCOMING_PACKET: usize = 64 * 1024;
/// The longest serial number accepted: the topic must stay within AWS's 256-byte limit.
const MAX_SERIAL_BYTES: usize = 128;

/// The three presses the button knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClickType {
    /// One short press.
    Single,
    /// Two short presses.
    Double,
    /// One press of more than 1.5 s.
    Long,
}

impl ClickType {
    /// The value of the message's `clickType`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClickType::Single => "SINGLE",
            ClickType::Double => "DOUBLE",
            ClickType::Long => "LONG",
        }
    }
}

/// Where the button connects and what it sends.
#[derive(Clone, Debug)]
pub struct ButtonOptions {
    /// The MQTT/TLS endpoint, `host:port`; `host` is also the name the server certificate is
    /// checked against.
    pub endpoint: String,
    /// The device certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA certificate(s) the server's certificate must chain to (PEM).
    pub ca: PathBuf,
    /// The device serial number (DSN), e.g. `G030JF051234A5BC`.
    pub serial: String,
    /// The press.
    pub click: ClickType,
    /// The battery voltage to report, in millivolts.
    pub battery_mv: u32,
    /// The MQTT client id; the serial number when `None`.
    pub client_id: Option<String>,
    /// How long the whole exchange may take.
    pub timeout: Duration,
}

/// The click message, as the button sends it:
/// `{"serialNumber":"G030...","batteryVoltage":"1567mV","clickType":"SINGLE"}`.
pub fn click_message(serial: &str, click: ClickType, battery_mv: u32) -> String {
    // Written out to keep the button's key order (serde_json's map would sort the keys); the
    // serial is the one caller-given string, so it alone goes through the JSON encoder.
    let serial = serde_json::Value::from(serial);
    format!(
        r#"{{"serialNumber":{serial},"batteryVoltage":"{battery_mv}mV","clickType":"{}"}}"#,
        click.as_str()
    )
}

/// The topic the button publishes to: `iotbutton/<serialNumber>`.
pub fn click_topic(serial: &str) -> String {
    format!("iotbutton/{serial}")
}

/// Presses the button once: connects, publishes the click at QoS 1, waits for the PUBACK and
/// disconnects. Returns the topic published to.
pub async fn press(options: &ButtonOptions) -> anyhow::Result<String> {
    check_serial(&options.serial)?;
    let tls = client_config(options)?;
    let (host, port) = split_endpoint(&options.endpoint)?;
    let server_name = ServerName::try_from(host.to_owned())
        .with_context(|| format!("{host:?} is not a valid server name"))?;
    let client_id = options.client_id.as_deref().unwrap_or(&options.serial);
    let topic = click_topic(&options.serial);
    let message = click_message(&options.serial, options.click, options.battery_mv);
    let exchange = async {
        let tcp = TcpStream::connect((host, port))
            .await
            .with_context(|| format!("connecting to {}", options.endpoint))?;
        tcp.set_nodelay(true)?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(server_name, tcp)
            .await
            .with_context(|| format!("the TLS handshake with {} failed", options.endpoint))?;
        click(stream, client_id, &topic, message).await
    };
    tokio::time::timeout(options.timeout, exchange)
        .await
        .unwrap_or_else(|_| {
            bail!(
                "no answer from {} within {:?}",
                options.endpoint,
                options.timeout
            )
        })?;
    Ok(topic)
}

/// The MQTT exchange on an established stream.
async fn click<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    client_id: &str,
    topic: &str,
    message: String,
) -> anyhow::Result<()> {
    let mut out = BytesMut::new();
    let mut connect = Connect::new(
        VERSION,
        MqttString::new(client_id).context("the client id is not a valid MQTT string")?,
    );
    connect.keep_alive = 30;
    Packet::Connect(Box::new(connect)).encode(VERSION, &mut out)?;
    stream.write_all(&out).await?;
    let mut reader = PacketReader::new();
    match reader.next(&mut stream).await? {
        Some(Packet::ConnAck(ack)) if !ack.reason_code.is_error() => {}
        Some(Packet::ConnAck(ack)) => {
            bail!(
                "the broker refused the connection: {} (is the certificate ACTIVE, and does its \
                 policy allow iot:Connect for client id {client_id}?)",
                ack.reason_code
            )
        }
        Some(other) => bail!("expected a CONNACK, got {other:?}"),
        None => bail!("the broker closed the connection instead of answering CONNECT"),
    }

    let packet_id = PacketId::new(1).context("packet id")?;
    let publish = Publish::with_qos(
        MqttString::new(topic).context("the topic is not a valid MQTT string")?,
        Bytes::from(message),
        QoS::AtLeastOnce,
        packet_id,
    );
    out.clear();
    Packet::Publish(publish).encode(VERSION, &mut out)?;
    stream.write_all(&out).await?;
    loop {
        match reader.next(&mut stream).await? {
            Some(Packet::PubAck(ack)) if ack.packet_id == packet_id => break,
            // Nothing else is expected; anything else (a retained message of a session the
            // broker kept, say) is not the answer.
            Some(_) => {}
            None => bail!(
                "the broker closed the connection instead of acknowledging the click: is the \
                 certificate's policy allowing iot:Publish on topic/{topic}?"
            ),
        }
    }
    out.clear();
    Packet::Disconnect(mqtt_codec::Disconnect::default()).encode(VERSION, &mut out)?;
    // The click is acknowledged: a failing DISCONNECT or close changes nothing.
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
    Ok(())
}

/// Reads whole packets from a stream.
struct PacketReader {
    decoder: Decoder,
    buffer: BytesMut,
}

impl PacketReader {
    fn new() -> Self {
        PacketReader {
            decoder: Decoder::new(VERSION, MAX_INCOMING_PACKET),
            buffer: BytesMut::with_capacity(1024),
        }
    }

    /// The next packet; `None` when the peer closed the connection (or reset it) first.
    async fn next<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> anyhow::Result<Option<Packet>> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.buffer)? {
                return Ok(Some(packet));
            }
            match stream.read_buf(&mut self.buffer).await {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                // A TLS close without close_notify, or a reset: the broker hung up.
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::UnexpectedEof
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::BrokenPipe
                    ) =>
                {
                    return Ok(None);
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// A serial number must make one topic level without wildcards.
fn check_serial(serial: &str) -> anyhow::Result<()> {
    if serial.is_empty() || serial.len() > MAX_SERIAL_BYTES {
        bail!("the serial number must have 1 to {MAX_SERIAL_BYTES} bytes");
    }
    if serial.contains(['/', '+', '#']) || serial.chars().any(char::is_control) {
        bail!("the serial number may not contain '/', '+', '#' or control characters");
    }
    Ok(())
}

/// `host:port` or `[v6]:port`.
fn split_endpoint(endpoint: &str) -> anyhow::Result<(&str, u16)> {
    let (host, port) = endpoint
        .rsplit_once(':')
        .with_context(|| format!("the endpoint {endpoint:?} is not host:port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port
        .parse::<u16>()
        .with_context(|| format!("the endpoint {endpoint:?} has no valid port"))?;
    if host.is_empty() {
        bail!("the endpoint {endpoint:?} has no host");
    }
    Ok((host, port))
}

/// TLS 1.2+ on aws-lc-rs, trusting the CA file, authenticating with the device certificate.
fn client_config(options: &ButtonOptions) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let ca_pem = std::fs::read(&options.ca)
        .with_context(|| format!("reading the CA file {}", options.ca.display()))?;
    for certificate in CertificateDer::pem_slice_iter(&ca_pem) {
        let certificate = certificate
            .with_context(|| format!("reading a certificate of {}", options.ca.display()))?;
        roots.add(certificate)?;
    }
    if roots.is_empty() {
        bail!("{} holds no certificate", options.ca.display());
    }
    let cert_pem = std::fs::read(&options.cert)
        .with_context(|| format!("reading the certificate {}", options.cert.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading {}", options.cert.display()))?;
    if chain.is_empty() {
        bail!("{} holds no certificate", options.cert.display());
    }
    let key_pem = std::fs::read(&options.key)
        .with_context(|| format!("reading the key {}", options.key.display()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .with_context(|| format!("{} holds no private key", options.key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .context("the certificate and the key do not go together")?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_the_buttons() {
        assert_eq!(
            click_message("G030JF051234A5BC", ClickType::Double, 1567),
            r#"{"serialNumber":"G030JF051234A5BC","batteryVoltage":"1567mV","clickType":"DOUBLE"}"#
        );
        assert_eq!(
            click_topic("G030JF051234A5BC"),
            "iotbutton/G030JF051234A5BC"
        );
    }

    #[test]
    fn endpoints_and_serials_are_checked() {
        assert_eq!(
            split_endpoint("localhost:8883").unwrap(),
            ("localhost", 8883)
        );
        assert_eq!(split_endpoint("[::1]:8883").unwrap(), ("::1", 8883));
        for bad in ["localhost", "localhost:x", ":8883", "host:70000"] {
            assert!(split_endpoint(bad).is_err(), "{bad}");
        }
        assert!(check_serial("G030JF051234A5BC").is_ok());
        for bad in ["", "a/b", "a+", "#", &"x".repeat(129)] {
            assert!(check_serial(bad).is_err(), "{bad:?}");
        }
    }
}
