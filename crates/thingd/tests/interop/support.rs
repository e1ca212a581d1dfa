//! Shared helpers: the process and mosquitto helpers of testkit (re-exported), a rustls client
//! for thingd's TLS listener, MQTT over any byte stream, and a raw HTTP GET.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use mqtt_codec::{ConnAck, Connect, Decoder, MqttString, Packet, ProtocolVersion};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub(crate) use testkit::mosquitto::{
    Endpoint, Subscriber, TlsFiles, message_line, mosquitto_pub, mosquitto_pub_output,
    mosquitto_version,
};
pub(crate) use testkit::process::{Finished, Proc, WAIT, run};

/// Reads the first certificate of a PEM file.
pub(crate) fn read_cert(pem: &[u8]) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem).expect("a PEM certificate")
}

/// A rustls client configuration (aws-lc-rs) trusting `ca_pem`, presenting `client` if given,
/// offering `alpn`, limited to `versions`.
pub(crate) fn client_config(
    ca_pem: &str,
    client: Option<(&str, &str)>,
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(read_cert(ca_pem.as_bytes())).expect("a valid CA");
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("supported versions")
    .with_root_certificates(roots);
    let mut config = match client {
        Some((cert_pem, key_pem)) => builder
            .with_client_auth_cert(
                vec![read_cert(cert_pem.as_bytes())],
                PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("a PEM key"),
            )
            .expect("a usable client certificate"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// The testkit client certificate's configuration, offering `alpn`, limited to `versions`
/// (`rustls::DEFAULT_VERSIONS`: TLS 1.2 and 1.3).
pub(crate) fn testkit_client_config(
    server: &testkit::TestServer,
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    client_config(
        &server.ca_pem,
        Some((&server.client.cert_pem, &server.client.key_pem)),
        alpn,
        versions,
    )
}

/// Connects over TLS to `addr`, verifying the server as `localhost`.
pub(crate) async fn tls_connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("a valid name");
    tokio::time::timeout(WAIT, TlsConnector::from(config).connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::new(ErrorKind::TimedOut, "TLS handshake timed out"))?
}

/// A CONNECT with a clean start and nothing else.
pub(crate) fn connect_packet(version: ProtocolVersion, client_id: &str) -> Packet {
    Packet::Connect(Box::new(Connect::new(
        version,
        MqttString::new(client_id).expect("a valid client id"),
    )))
}

/// `packets` as `version` encodes them, back to back.
pub(crate) fn encode(version: ProtocolVersion, packets: &[Packet]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for packet in packets {
        packet.encode(version, &mut out).expect("encodable packet");
    }
    out.to_vec()
}

/// An MQTT connection over any byte stream, speaking through thingd's codec.
pub(crate) struct MqttStream<S> {
    pub(crate) stream: S,
    version: ProtocolVersion,
    decoder: Decoder,
    buf: BytesMut,
}

/// What the server did next on an [`MqttStream`].
// One value per read in a test: the size does not matter, comparing packets directly does.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Packet(Packet),
    Closed,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MqttStream<S> {
    pub(crate) fn new(stream: S, version: ProtocolVersion) -> Self {
        MqttStream {
            stream,
            version,
            decoder: Decoder::new(version, usize::MAX),
            buf: BytesMut::new(),
        }
    }

    pub(crate) async fn send(&mut self, packet: &Packet) {
        let out = encode(self.version, std::slice::from_ref(packet));
        self.stream.write_all(&out).await.expect("writing a packet");
        self.stream.flush().await.expect("flushing");
    }

    /// The next packet or the close, failing the test after [`WAIT`].
    pub(crate) async fn next(&mut self) -> Next {
        let read = async {
            loop {
                if let Some(packet) = self
                    .decoder
                    .decode(&mut self.buf)
                    .expect("a well-formed packet")
                {
                    return Next::Packet(packet);
                }
                self.buf.reserve(4096);
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) => return Next::Closed,
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof
                        ) =>
                    {
                        return Next::Closed;
                    }
                    Err(e) => panic!("reading from the server: {e}"),
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("timed out waiting for the server")
    }

    /// Sends CONNECT (clean start) and returns the CONNACK.
    pub(crate) async fn connect(&mut self, client_id: &str) -> ConnAck {
        self.send(&connect_packet(self.version, client_id)).await;
        match self.next().await {
            Next::Packet(Packet::ConnAck(ack)) => ack,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }
}

/// A raw HTTP/1.1 GET: returns the status code, the headers (lowercase names) and the body.
pub(crate) async fn http_get(addr: SocketAddr, path: &str) -> (u16, Vec<(String, String)>, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .expect("connecting to the HTTP listener");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("sending the request");
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .expect("reading the response");
        response
    };
    let response = tokio::time::timeout(WAIT, exchange)
        .await
        .expect("HTTP GET timed out");
    let text = String::from_utf8(response).expect("a UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let body = if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, headers, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// A header's value.
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
