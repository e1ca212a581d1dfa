//! The TLS listener: a client certificate chained to thingd's CA is required (mosquitto_pub
//! without one, or with one from another CA, is refused), ALPN negotiates AWS IoT's
//! `x-amzn-mqtt-ca` and `mqtt`, and TLS 1.2 and 1.3 both work.

use mqtt_codec::{Connect, MqttString, Packet, ProtocolVersion, ReasonCode};
use testkit::TestServer;
use thingd_pki::{CertificateAuthority, write_client_bundle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{
    Endpoint, MqttStream, Next, TlsFiles, client_config, mosquitto_pub_output,
    testkit_client_config, tls_connect,
};

/// mosquitto_pub trusting thingd's CA but presenting no client certificate fails (the server
/// ends the handshake with `certificate_required`) and exits non-zero, for QoS 0 too, where a
/// client that never waits for an answer could otherwise "succeed".
#[tokio::test]
async fn mosquitto_without_client_certificate_is_refused() {
    let server = TestServer::start().await.expect("server starts");
    let endpoint = Endpoint::tls(
        server.mqtt_tls,
        TlsFiles {
            ca: server.ca_path.clone(),
            cert_key: None,
        },
    );
    for (version, qos) in [(ProtocolVersion::V311, "0"), (ProtocolVersion::V5, "1")] {
        let finished = mosquitto_pub_output(
            &endpoint,
            version,
            &["-t", "nocert", "-q", qos, "-m", "x"],
            None,
        )
        .await;
        assert!(
            !finished.status.success(),
            "mosquitto_pub without a certificate succeeded: {finished:?}"
        );
        assert!(
            !finished
                .stdout
                .iter()
                .any(|l| l.contains("received CONNACK")),
            "the server answered CONNECT: {:?}",
            finished.stdout
        );
        let all = format!("{}\n{}", finished.stdout.join("\n"), finished.stderr);
        assert!(
            all.contains("certificate required"),
            "expected a certificate_required alert: {all}"
        );
    }
    assert_eq!(
        server
            .broker()
            .metrics()
            .connections_total
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    server.shutdown().await;
}

/// A client certificate issued by a different CA (same subject names, same key type) is
/// refused, by mosquitto_pub and by a rustls client alike.
#[tokio::test]
async fn client_certificate_from_another_ca_is_refused() {
    let server = TestServer::start().await.expect("server starts");
    let rogue_ca = CertificateAuthority::generate().expect("a second CA");
    let rogue = rogue_ca
        .issue_client_certificate("testkit-client")
        .expect("a rogue certificate");
    let dir = tempfile::tempdir().expect("a temporary directory");
    // The bundle trusts thingd's CA, so only the client certificate is wrong.
    write_client_bundle(dir.path(), &rogue, &server.ca_pem, true).expect("writing the bundle");
    let endpoint = Endpoint::tls(server.mqtt_tls, TlsFiles::bundle(dir.path()));
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let finished = mosquitto_pub_output(
            &endpoint,
            version,
            &["-t", "rogue", "-q", "1", "-m", "x"],
            None,
        )
        .await;
        assert!(
            !finished.status.success(),
            "a certificate from another CA was accepted: {finished:?}"
        );
        assert!(
            !finished
                .stdout
                .iter()
                .any(|l| l.contains("received CONNACK")),
            "{:?}",
            finished.stdout
        );
    }

    // rustls: with TLS 1.3 the client learns of the refusal on its first read.
    let config = client_config(
        &server.ca_pem,
        Some((&rogue.certificate_pem, &rogue.private_key_pem)),
        &[b"mqtt"],
        rustls::DEFAULT_VERSIONS,
    );
    match tls_connect(server.mqtt_tls, config).await {
        Err(_) => {}
        Ok(mut stream) => {
            let connect = Connect::new(
                ProtocolVersion::V5,
                MqttString::new("rogue").expect("a client id"),
            );
            let mut out = bytes::BytesMut::new();
            Packet::Connect(Box::new(connect))
                .encode(ProtocolVersion::V5, &mut out)
                .expect("encodes");
            // The write may already fail; the read below reports the alert either way.
            let _ = stream.write_all(&out).await;
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(crate::support::WAIT, stream.read(&mut buf))
                .await
                .expect("the server answers the rogue certificate");
            let error = read.expect_err("the server must refuse a certificate from another CA");
            let text = error.to_string();
            assert!(
                text.contains("UnknownCA")
                    || text.contains("BadCertificate")
                    || text.contains("alert"),
                "{text}"
            );
        }
    }
    assert_eq!(
        server
            .broker()
            .metrics()
            .connections_total
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    server.shutdown().await;
}

/// Connects with `alpn` offered and `versions` allowed, checks the negotiated protocol and TLS
/// version, then CONNECT gets a successful CONNACK.
async fn connect_with_alpn(
    server: &TestServer,
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
    expected_alpn: Option<&[u8]>,
    expected_version: rustls::ProtocolVersion,
) {
    let config = crate::support::client_config(
        &server.ca_pem,
        Some((&server.client.cert_pem, &server.client.key_pem)),
        alpn,
        versions,
    );
    let stream = tls_connect(server.mqtt_tls, config)
        .await
        .expect("the TLS handshake succeeds");
    let (_, session) = stream.get_ref();
    assert_eq!(
        session.alpn_protocol(),
        expected_alpn,
        "negotiated ALPN for offer {alpn:?}"
    );
    assert_eq!(session.protocol_version(), Some(expected_version));
    let mut mqtt = MqttStream::new(stream, ProtocolVersion::V5);
    let connack = mqtt.connect("alpn-client").await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    mqtt.send(&Packet::PingReq).await;
    assert_eq!(mqtt.next().await, Next::Packet(Packet::PingResp));
}

/// AWS IoT Device SDKs offer `x-amzn-mqtt-ca`; thingd selects it.
#[tokio::test]
async fn alpn_x_amzn_mqtt_ca_is_negotiated() {
    let server = TestServer::start().await.expect("server starts");
    connect_with_alpn(
        &server,
        &[b"x-amzn-mqtt-ca"],
        rustls::DEFAULT_VERSIONS,
        Some(b"x-amzn-mqtt-ca"),
        rustls::ProtocolVersion::TLSv1_3,
    )
    .await;
    server.shutdown().await;
}

/// The IANA name `mqtt` is selected too, also on TLS 1.2, and no ALPN at all still connects.
#[tokio::test]
async fn alpn_mqtt_and_none_are_accepted_on_tls12_and_tls13() {
    let server = TestServer::start().await.expect("server starts");
    connect_with_alpn(
        &server,
        &[b"mqtt"],
        rustls::DEFAULT_VERSIONS,
        Some(b"mqtt"),
        rustls::ProtocolVersion::TLSv1_3,
    )
    .await;
    connect_with_alpn(
        &server,
        &[b"mqtt"],
        &[&rustls::version::TLS12],
        Some(b"mqtt"),
        rustls::ProtocolVersion::TLSv1_2,
    )
    .await;
    connect_with_alpn(
        &server,
        &[b"x-amzn-mqtt-ca"],
        &[&rustls::version::TLS12],
        Some(b"x-amzn-mqtt-ca"),
        rustls::ProtocolVersion::TLSv1_2,
    )
    .await;
    connect_with_alpn(
        &server,
        &[],
        rustls::DEFAULT_VERSIONS,
        None,
        rustls::ProtocolVersion::TLSv1_3,
    )
    .await;
    // A client preferring an unknown protocol but also offering mqtt gets mqtt.
    connect_with_alpn(
        &server,
        &[b"h2", b"mqtt"],
        rustls::DEFAULT_VERSIONS,
        Some(b"mqtt"),
        rustls::ProtocolVersion::TLSv1_3,
    )
    .await;
    server.shutdown().await;
}

/// Offering only protocols thingd does not speak ends the handshake (RFC 7301 §3.2:
/// `no_application_protocol`).
#[tokio::test]
async fn alpn_without_a_common_protocol_is_refused() {
    let server = TestServer::start().await.expect("server starts");
    let config = testkit_client_config(&server, &[b"h2", b"http/1.1"]);
    let error = tls_connect(server.mqtt_tls, config)
        .await
        .expect_err("no common ALPN protocol");
    assert!(
        error.to_string().contains("NoApplicationProtocol"),
        "{error}"
    );
    server.shutdown().await;
}
