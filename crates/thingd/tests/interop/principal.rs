//! Who a connection is: a TLS connection's principal carries the AWS IoT certificate id of the
//! client certificate (the hex SHA-256 of its DER), as a real client (mosquitto_pub) presents
//! it; plain TCP connections carry none. The authorizer's refusal reaches the client as a CONNACK
//! it understands.

use std::sync::{Arc, Mutex};

use mqtt_codec::{ProtocolVersion, QoS, ReasonCode};
use mqtt_topic::{SubscriptionFilter, TopicName};
use testkit::TestServer;
use thingd_broker::auth::{BoxFuture, ConnectRequest};
use thingd_broker::{Authorizer, BrokerConfig, ConnectionAuthorizer, ListenerKind};

use crate::support::{Endpoint, TlsFiles, mosquitto_pub, mosquitto_pub_output, run};

/// What the authorizer saw for one CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    client_id: String,
    listener: ListenerKind,
    certificate_id: Option<String>,
    certificate_der_len: Option<usize>,
    loopback: bool,
}

/// Records every CONNECT; refuses client ids starting with `denied` with 0x87 Not authorized.
#[derive(Default)]
struct Recording {
    seen: Mutex<Vec<Seen>>,
}

struct AllowAll;

impl ConnectionAuthorizer for AllowAll {
    fn publish(&self, _topic: &TopicName, _qos: QoS, _retain: bool) -> bool {
        true
    }
    fn subscribe(&self, _filter: &SubscriptionFilter) -> bool {
        true
    }
    fn receive(&self, _topic: &TopicName) -> bool {
        true
    }
}

impl Authorizer for Recording {
    fn authorize_connect<'a>(
        &'a self,
        request: &'a ConnectRequest<'a>,
    ) -> BoxFuture<'a, Result<Arc<dyn ConnectionAuthorizer>, ReasonCode>> {
        let principal = request.principal;
        self.seen.lock().expect("lock").push(Seen {
            client_id: request.client_id.to_string(),
            listener: principal.listener,
            certificate_id: principal
                .certificate
                .as_ref()
                .map(|c| c.certificate_id.clone()),
            certificate_der_len: principal.certificate.as_ref().map(|c| c.der.len()),
            loopback: principal.remote_addr.ip().is_loopback(),
        });
        let denied = request.client_id.starts_with("denied");
        Box::pin(async move {
            if denied {
                Err(ReasonCode::NotAuthorized)
            } else {
                Ok(Arc::new(AllowAll) as Arc<dyn ConnectionAuthorizer>)
            }
        })
    }
}

impl Recording {
    fn for_client(&self, client_id: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.client_id == client_id)
            .cloned()
            .collect()
    }
}

/// The SHA-256 of the certificate's DER, computed by Python's standard library from the PEM
/// file, independently of thingd's code.
async fn sha256_of_pem_certificate(path: &std::path::Path) -> String {
    let script = "import hashlib, ssl, sys\n\
                  der = ssl.PEM_cert_to_DER_cert(open(sys.argv[1]).read())\n\
                  print(hashlib.sha256(der).hexdigest())";
    let finished = run(
        "python3",
        ["-c".into(), script.into(), path.as_os_str().to_os_string()],
        None,
    )
    .await;
    finished.assert_success("python3 sha256");
    finished
        .stdout
        .first()
        .expect("a digest")
        .trim()
        .to_string()
}

#[tokio::test]
async fn tls_principal_is_sha256_of_client_certificate_der() {
    let recording = Arc::new(Recording::default());
    let server = TestServer::start_with_authorizer(BrokerConfig::default(), recording.clone())
        .await
        .expect("server starts");
    let expected = sha256_of_pem_certificate(&server.client.cert_path()).await;
    assert_eq!(expected.len(), 64);
    assert_eq!(
        expected, server.client.certificate_id,
        "testkit's certificate id is the SHA-256 of the DER"
    );

    let endpoint = Endpoint::testkit_tls(&server);
    mosquitto_pub(
        &endpoint,
        ProtocolVersion::V311,
        &["-i", "principal-tls", "-t", "p", "-q", "1", "-m", "x"],
        None,
    )
    .await;
    let seen = recording.for_client("principal-tls");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].listener, ListenerKind::Tls);
    assert_eq!(seen[0].certificate_id.as_deref(), Some(expected.as_str()));
    assert!(seen[0].loopback);
    let der_len =
        rustls::pki_types::pem::PemObject::from_pem_slice(server.client.cert_pem.as_bytes())
            .map(|der: rustls::pki_types::CertificateDer<'_>| der.len())
            .expect("a PEM certificate");
    assert_eq!(
        seen[0].certificate_der_len,
        Some(der_len),
        "the principal carries the leaf certificate's DER"
    );

    // A second device has a different certificate and so a different principal, whatever
    // client id it uses.
    let second = server
        .issue_client("second-device")
        .expect("a second certificate");
    let second_expected = sha256_of_pem_certificate(&second.cert_path()).await;
    assert_ne!(second_expected, expected);
    let endpoint = Endpoint::tls(server.mqtt_tls, TlsFiles::bundle(&second.dir));
    mosquitto_pub(
        &endpoint,
        ProtocolVersion::V5,
        &["-i", "principal-tls-2", "-t", "p", "-q", "1", "-m", "x"],
        None,
    )
    .await;
    let seen = recording.for_client("principal-tls-2");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].certificate_id.as_deref(),
        Some(second_expected.as_str())
    );

    // Plain TCP: no certificate.
    let endpoint = Endpoint::tcp(server.mqtt_tcp);
    mosquitto_pub(
        &endpoint,
        ProtocolVersion::V5,
        &["-i", "principal-tcp", "-t", "p", "-q", "1", "-m", "x"],
        None,
    )
    .await;
    let seen = recording.for_client("principal-tcp");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        (seen[0].listener, seen[0].certificate_id.clone()),
        (ListenerKind::Tcp, None)
    );
    server.shutdown().await;
}

/// The authorizer's 0x87 reaches mosquitto_pub as "not authorised" (3.1.1 return code 5) and as
/// reason 0x87 (5.0), and mosquitto_pub exits non-zero.
#[tokio::test]
async fn refused_connect_reaches_mosquitto_as_not_authorized() {
    let recording = Arc::new(Recording::default());
    let server = TestServer::start_with_authorizer(BrokerConfig::default(), recording.clone())
        .await
        .expect("server starts");
    let endpoint = Endpoint::testkit_tls(&server);
    for (version, code) in [
        (ProtocolVersion::V311, "received CONNACK (5)"),
        (ProtocolVersion::V5, "received CONNACK (135)"),
    ] {
        let finished = mosquitto_pub_output(
            &endpoint,
            version,
            &["-i", "denied-device", "-t", "p", "-q", "1", "-m", "x"],
            None,
        )
        .await;
        assert!(!finished.status.success(), "{finished:?}");
        assert!(
            finished.stdout.iter().any(|l| l.contains(code)),
            "{version}: expected {code:?} in {:?}",
            finished.stdout
        );
        assert!(
            !finished
                .stdout
                .iter()
                .any(|l| l.contains("received PUBACK")),
            "{:?}",
            finished.stdout
        );
    }
    assert_eq!(recording.for_client("denied-device").len(), 2);
    server.shutdown().await;
}
