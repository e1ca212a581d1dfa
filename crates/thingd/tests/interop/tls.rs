//! The TLS listener: a client certificate is required (mosquitto_pub without one is refused at
//! the handshake), the registry decides at CONNECT which certificates may connect, ALPN
//! negotiates AWS IoT's `x-amzn-mqtt-ca` and `mqtt`, and TLS 1.2 and 1.3 both work.

use mqtt_codec::{Packet, ProtocolVersion, ReasonCode};
use testkit::TestServer;
use thingd_broker::metrics::Metrics;
use thingd_pki::{CertificateAuthority, write_client_bundle};

use crate::support::{
    Endpoint, Finished, MqttStream, Next, TlsFiles, client_config, connect_packet,
    mosquitto_pub_output, testkit_client_config, tls_connect,
};

/// Runs mosquitto_pub against `endpoint`, which the server must refuse during the TLS
/// handshake: it exits non-zero without a CONNACK. Returns how it ended.
async fn mosquitto_pub_refused(
    endpoint: &Endpoint,
    version: ProtocolVersion,
    args: &[&str],
) -> Finished {
    let finished = mosquitto_pub_output(endpoint, version, args, None).await;
    assert!(
        !finished.status.success(),
        "mosquitto_pub was accepted: {finished:?}"
    );
    assert!(
        !finished.printed("received CONNACK"),
        "the server answered CONNECT: {:?}",
        finished.stdout
    );
    finished
}

/// Checks that no connection reached MQTT: the TLS layer refused every one.
fn assert_no_connection(server: &TestServer) {
    assert_eq!(
        Metrics::get(&server.broker().metrics().connections_total),
        0
    );
}

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
        let finished =
            mosquitto_pub_refused(&endpoint, version, &["-t", "nocert", "-q", qos, "-m", "x"])
                .await;
        let all = format!("{}\n{}", finished.stdout.join("\n"), finished.stderr);
        assert!(
            all.contains("certificate required"),
            "expected a certificate_required alert: {all}"
        );
    }
    assert_no_connection(&server);
    server.shutdown().await;
}

/// The registry decides who connects: a certificate that is not registered (here one from
/// another CA, same subject names and key type) completes the handshake, which only proves the
/// client holds its key, and CONNECT is refused with Not authorized (3.1.1 return code 5, 5.0
/// reason 0x87), for mosquitto_pub and a rustls client alike. Registered, the same certificate
/// connects (AWS IoT's RegisterCertificateWithoutCA) once a policy allows it, and set INACTIVE
/// it is refused again.
#[tokio::test]
async fn the_registry_decides_which_certificates_connect() {
    let server = TestServer::start().await.expect("server starts");
    let rogue_ca = CertificateAuthority::generate().expect("a second CA");
    let rogue = rogue_ca
        .issue_client_certificate("testkit-client")
        .expect("a rogue certificate");
    let dir = tempfile::tempdir().expect("a temporary directory");
    // The bundle trusts thingd's CA, so only the client certificate is unknown.
    write_client_bundle(dir.path(), &rogue, &server.ca_pem, true).expect("writing the bundle");
    let endpoint = Endpoint::tls(server.mqtt_tls, TlsFiles::bundle(dir.path()));
    for (version, code) in [(ProtocolVersion::V311, "5"), (ProtocolVersion::V5, "135")] {
        let finished = mosquitto_pub_output(
            &endpoint,
            version,
            &["-t", "rogue", "-q", "1", "-m", "x"],
            None,
        )
        .await;
        assert!(
            !finished.status.success(),
            "mosquitto_pub was accepted: {finished:?}"
        );
        assert!(
            finished.printed(&format!("received CONNACK ({code})")),
            "expected CONNACK ({code}): {:?}",
            finished.stdout
        );
    }

    let config = client_config(
        &server.ca_pem,
        Some((&rogue.certificate_pem, &rogue.private_key_pem)),
        &[b"mqtt"],
        rustls::DEFAULT_VERSIONS,
    );
    let connack = |stream| async move {
        let mut mqtt = MqttStream::new(stream, ProtocolVersion::V5);
        mqtt.send(&connect_packet(ProtocolVersion::V5, "rogue"))
            .await;
        match mqtt.next().await {
            Next::Packet(Packet::ConnAck(ack)) => ack.reason_code,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    };
    let stream = tls_connect(server.mqtt_tls, config.clone())
        .await
        .expect("the handshake completes");
    assert_eq!(connack(stream).await, ReasonCode::NotAuthorized);

    let mut record = thingd_api::records::certificate_record(
        &rogue.certificate_pem,
        &rogue.certificate_der,
        thingd_registry::CertificateStatus::Active,
        None,
    )
    .expect("a record");
    thingd_registry::CertificateStore::insert_certificate(server.store(), &record)
        .await
        .expect("registered");
    // Registered and ACTIVE, but held to no policy: still refused.
    let stream = tls_connect(server.mqtt_tls, config.clone())
        .await
        .expect("the handshake completes");
    assert_eq!(connack(stream).await, ReasonCode::NotAuthorized);
    thingd_registry::PolicyStore::attach_policy(
        server.store(),
        testkit::ALLOW_ALL_POLICY,
        &server.arn(thingd_registry::ArnKind::Certificate, &rogue.certificate_id),
        10,
    )
    .await
    .expect("a policy attached");
    let stream = tls_connect(server.mqtt_tls, config.clone())
        .await
        .expect("the handshake completes");
    assert_eq!(connack(stream).await, ReasonCode::Success);

    record.status = thingd_registry::CertificateStatus::Inactive;
    record.version += 1;
    assert!(
        thingd_registry::CertificateStore::replace_certificate(server.store(), &record, 1)
            .await
            .expect("deactivated")
    );
    let stream = tls_connect(server.mqtt_tls, config)
        .await
        .expect("the handshake completes");
    assert_eq!(connack(stream).await, ReasonCode::NotAuthorized);
    server.shutdown().await;
}

/// TLS versions a client allows.
type Versions = &'static [&'static rustls::SupportedProtocolVersion];

/// An ALPN offer and the TLS versions allowed; the protocol and TLS version negotiated.
type AlpnCase = (
    &'static [&'static [u8]],
    Versions,
    Option<&'static [u8]>,
    rustls::ProtocolVersion,
);

/// Connects with `alpn` offered and `versions` allowed, checks the negotiated protocol and TLS
/// version, then CONNECT gets a successful CONNACK.
async fn connect_with_alpn(
    server: &TestServer,
    alpn: &[&[u8]],
    versions: Versions,
    expected_alpn: Option<&[u8]>,
    expected_version: rustls::ProtocolVersion,
) {
    let config = testkit_client_config(server, alpn, versions);
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
    static TLS12: Versions = &[&rustls::version::TLS12];
    let (any, v1_2, v1_3) = (
        rustls::DEFAULT_VERSIONS,
        rustls::ProtocolVersion::TLSv1_2,
        rustls::ProtocolVersion::TLSv1_3,
    );
    let cases: [AlpnCase; 5] = [
        (&[b"mqtt"], any, Some(b"mqtt"), v1_3),
        (&[b"mqtt"], TLS12, Some(b"mqtt"), v1_2),
        (&[b"x-amzn-mqtt-ca"], TLS12, Some(b"x-amzn-mqtt-ca"), v1_2),
        (&[], any, None, v1_3),
        // A client preferring an unknown protocol but also offering mqtt gets mqtt.
        (&[b"h2", b"mqtt"], any, Some(b"mqtt"), v1_3),
    ];
    for (alpn, versions, expected_alpn, expected_version) in cases {
        connect_with_alpn(&server, alpn, versions, expected_alpn, expected_version).await;
    }
    server.shutdown().await;
}

/// Offering only protocols thingd does not speak ends the handshake (RFC 7301 §3.2:
/// `no_application_protocol`).
#[tokio::test]
async fn alpn_without_a_common_protocol_is_refused() {
    let server = TestServer::start().await.expect("server starts");
    let config = testkit_client_config(&server, &[b"h2", b"http/1.1"], rustls::DEFAULT_VERSIONS);
    let error = tls_connect(server.mqtt_tls, config)
        .await
        .expect_err("no common ALPN protocol");
    assert!(
        error.to_string().contains("NoApplicationProtocol"),
        "{error}"
    );
    server.shutdown().await;
}
