//! Who a connection is: a TLS connection's principal carries the AWS IoT certificate id of the
//! client certificate (the hex SHA-256 of its DER), as a real client (mosquitto_pub) presents
//! it; plain TCP connections carry none. The authorizer's refusal reaches the client as a CONNACK
//! it understands.

use std::sync::{Arc, Mutex};

use mqtt_codec::{ProtocolVersion, ReasonCode};
use testkit::TestServer;
use thingd_broker::auth::{BoxFuture, ConnectRequest};
use thingd_broker::{AllowConnected, Authorizer, BrokerConfig, ConnectionAuthorizer, ListenerKind};

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
        if request.client_id.starts_with("denied") {
            Box::pin(async { Err(ReasonCode::NotAuthorized) })
        } else {
            // thingd's own authorizer: every connection that passed the TLS layer may do anything.
            AllowConnected.authorize_connect(request)
        }
    }
}

impl Recording {
    /// A server that authorizes connections through a new `Recording`.
    async fn start() -> (TestServer, Arc<Recording>) {
        let recording = Arc::new(Recording::default());
        let server = TestServer::start_with_authorizer(BrokerConfig::default(), recording.clone())
            .await
            .expect("server starts");
        (server, recording)
    }

    fn for_client(&self, client_id: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.client_id == client_id)
            .cloned()
            .collect()
    }

    /// Publishes once with mosquitto_pub as `client_id` and returns what was seen of its CONNECT,
    /// checking that there was exactly one.
    async fn publish_as(
        &self,
        endpoint: &Endpoint,
        version: ProtocolVersion,
        client_id: &str,
    ) -> Seen {
        mosquitto_pub(
            endpoint,
            version,
            &["-i", client_id, "-t", "p", "-q", "1", "-m", "x"],
            None,
        )
        .await;
        let mut seen = self.for_client(client_id);
        assert_eq!(seen.len(), 1, "{seen:?}");
        seen.remove(0)
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
    let (server, recording) = Recording::start().await;
    let expected = sha256_of_pem_certificate(&server.client.cert_path()).await;
    assert_eq!(expected.len(), 64);
    assert_eq!(
        expected, server.client.certificate_id,
        "testkit's certificate id is the SHA-256 of the DER"
    );

    let endpoint = Endpoint::testkit_tls(&server);
    let seen = recording
        .publish_as(&endpoint, ProtocolVersion::V311, "principal-tls")
        .await;
    assert_eq!(seen.listener, ListenerKind::Tls);
    assert_eq!(seen.certificate_id.as_deref(), Some(expected.as_str()));
    assert!(seen.loopback);
    let der_len =
        rustls::pki_types::pem::PemObject::from_pem_slice(server.client.cert_pem.as_bytes())
            .map(|der: rustls::pki_types::CertificateDer<'_>| der.len())
            .expect("a PEM certificate");
    assert_eq!(
        seen.certificate_der_len,
        Some(der_len),
        "the principal carries the leaf certificate's DER"
    );

    // A second device has a different certificate and so a different principal, whatever
    // client id it uses.
    let second = server
        .issue_client("second-device")
        .await
        .expect("a second certificate");
    let second_expected = sha256_of_pem_certificate(&second.cert_path()).await;
    assert_ne!(second_expected, expected);
    let endpoint = Endpoint::tls(server.mqtt_tls, TlsFiles::bundle(&second.dir));
    let seen = recording
        .publish_as(&endpoint, ProtocolVersion::V5, "principal-tls-2")
        .await;
    assert_eq!(
        seen.certificate_id.as_deref(),
        Some(second_expected.as_str())
    );

    // Plain TCP: no certificate.
    let endpoint = Endpoint::tcp(server.mqtt_tcp);
    let seen = recording
        .publish_as(&endpoint, ProtocolVersion::V5, "principal-tcp")
        .await;
    assert_eq!(
        (seen.listener, seen.certificate_id),
        (ListenerKind::Tcp, None)
    );
    server.shutdown().await;
}

/// The authorizer's 0x87 reaches mosquitto_pub as "not authorised" (3.1.1 return code 5) and as
/// reason 0x87 (5.0), and mosquitto_pub exits non-zero.
#[tokio::test]
async fn refused_connect_reaches_mosquitto_as_not_authorized() {
    let (server, recording) = Recording::start().await;
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
            finished.printed(code),
            "{version}: expected {code:?} in {:?}",
            finished.stdout
        );
        assert!(
            !finished.printed("received PUBACK"),
            "{:?}",
            finished.stdout
        );
    }
    assert_eq!(recording.for_client("denied-device").len(), 2);
    server.shutdown().await;
}
