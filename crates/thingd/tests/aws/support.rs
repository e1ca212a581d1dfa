//! Helpers of the AWS client tests: an AWS SDK for Rust client of a test server, boto3 scripts
//! and the AWS CLI run as processes with only the environment `thingd serve` tells people to
//! set, a device connection over MQTT/TLS, and certificates made with rcgen.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_iot::Client;
use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iot::operation::create_certificate_from_csr::CreateCertificateFromCsrOutput;
use aws_sdk_iot::operation::create_keys_and_certificate::CreateKeysAndCertificateOutput;
use aws_sdk_iot::types::{
    AttributePayload, CaCertificateStatus, CertificateDescription, CertificateStatus, Tag,
};
use bytes::BytesMut;
use mqtt_codec::{Connect, Decoder, MqttString, Packet, ProtocolVersion, ReasonCode};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use testkit::TestServer;
use testkit::process::{Finished, Proc, WAIT, require_tool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The region and account of a test server's ARNs (thingd's defaults).
pub(crate) const REGION: &str = "us-east-1";
pub(crate) const ACCOUNT: &str = "000000000000";

/// An ARN of the test server's partition.
pub(crate) fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:iot:{REGION}:{ACCOUNT}:{kind}/{name}")
}

// ---------------------------------------------------------------------------------------------
// The AWS SDK for Rust.

/// An AWS SDK client of `server`'s API with its admin key.
pub(crate) fn sdk(server: &TestServer) -> Client {
    let key = server.admin_key();
    sdk_with_key(server, &key.access_key_id, &key.secret_access_key)
}

/// A new test server, and an AWS SDK client of its API with its admin key.
pub(crate) async fn server_with_sdk() -> (TestServer, Client) {
    let server = TestServer::start().await.expect("a test server");
    let iot = sdk(&server);
    (server, iot)
}

/// An AWS SDK client of `server`'s API signing with the given key. Configured as a user of any
/// AWS-compatible endpoint would: region, endpoint URL and static credentials; the SDK's own
/// defaults otherwise (its HTTP client, retries, SigV4 signer).
pub(crate) fn sdk_with_key(server: &TestServer, access_key_id: &str, secret: &str) -> Client {
    let config = aws_sdk_iot::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(format!("http://{}", server.api))
        .credentials_provider(Credentials::new(
            access_key_id,
            secret,
            None,
            None,
            "thingd-tests",
        ))
        .build();
    Client::from_conf(config)
}

/// The service error of a call that must fail with HTTP `status`, after checking that the SDK
/// read an error code from the answer (the typed variant is for the caller to check).
#[track_caller]
pub(crate) fn service_error<T: std::fmt::Debug, E>(result: Result<T, SdkError<E>>, status: u16) -> E
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let error = match result {
        Ok(output) => panic!("expected an error answered with {status}, got {output:?}"),
        Err(error) => error,
    };
    let answered = error.raw_response().map(|r| r.status().as_u16());
    assert_eq!(
        answered,
        Some(status),
        "{}",
        aws_sdk_iot::error::DisplayErrorContext(&error)
    );
    let error = match error {
        SdkError::ServiceError(context) => context.into_err(),
        other => panic!(
            "expected a service error, got {}",
            aws_sdk_iot::error::DisplayErrorContext(&other)
        ),
    };
    assert!(error.code().is_some(), "no error code: {error:?}");
    assert!(error.message().is_some(), "no error message: {error:?}");
    error
}

/// Asserts a service error's code, for errors the operation does not model (the SDK's
/// `Unhandled` variant, e.g. authentication failures).
#[track_caller]
pub(crate) fn assert_code<E: ProvideErrorMetadata + std::fmt::Debug>(error: &E, code: &str) {
    assert_eq!(error.code(), Some(code), "{error:?}");
}

/// Asserts that an SDK call failed with HTTP `status` as the service model's exception that
/// `$is` tests for (`is_resource_not_found_exception`, ...), and evaluates to the error (see
/// [`service_error`]). An optional last argument names the case in the failure message.
macro_rules! assert_error {
    ($result:expr, $status:expr, $is:ident $(,)?) => {{
        let error = $crate::support::service_error($result, $status);
        assert!(error.$is(), "expected {}, got {error:?}", stringify!($is));
        error
    }};
    ($result:expr, $status:expr, $is:ident, $case:expr $(,)?) => {{
        let error = $crate::support::service_error($result, $status);
        assert!(
            error.$is(),
            "{}: expected {}, got {error:?}",
            $case,
            stringify!($is)
        );
        error
    }};
}
pub(crate) use assert_error;

/// An attribute payload of `pairs`.
pub(crate) fn attributes(pairs: &[(&str, &str)]) -> AttributePayload {
    let mut payload = AttributePayload::builder();
    for (name, value) in pairs {
        payload = payload.attributes(*name, *value);
    }
    payload.build()
}

/// A tag.
pub(crate) fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().expect("a tag")
}

/// ListTagsForResource: the tags of `arn` (one page).
pub(crate) async fn tags_of(iot: &Client, arn: &str) -> Vec<Tag> {
    iot.list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .expect("ListTagsForResource")
        .tags()
        .to_vec()
}

/// ListCertificatesByCA: the ids of the certificates of the CA `ca_id` (one page).
pub(crate) async fn certificates_of_ca(iot: &Client, ca_id: &str) -> Vec<String> {
    iot.list_certificates_by_ca()
        .ca_certificate_id(ca_id)
        .send()
        .await
        .expect("ListCertificatesByCA")
        .certificates()
        .iter()
        .map(|c| c.certificate_id().expect("a certificate id").to_owned())
        .collect()
}

/// CreateKeysAndCertificate with `setAsActive`.
pub(crate) async fn create_active_certificate(iot: &Client) -> CreateKeysAndCertificateOutput {
    iot.create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await
        .expect("CreateKeysAndCertificate")
}

/// The policy [`allow_everything`] attaches: connect, publish, subscribe and receive anywhere.
pub(crate) const DEVICE_POLICY: &str = "device-allow-all";

/// Lets the certificate `certificate_arn` do anything, as a user provisioning a device does:
/// CreatePolicy (once per server) and AttachPolicy. Without a policy a device may not even
/// connect.
pub(crate) async fn allow_everything(iot: &Client, certificate_arn: &str) {
    let created = iot
        .create_policy()
        .policy_name(DEVICE_POLICY)
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Publish","iot:Subscribe","iot:Receive"],"Resource":"*"}]}"#,
        )
        .send()
        .await;
    if let Err(error) = created {
        let error = error.into_service_error();
        assert!(
            error.is_resource_already_exists_exception(),
            "CreatePolicy: {error:?}"
        );
    }
    iot.attach_policy()
        .policy_name(DEVICE_POLICY)
        .target(certificate_arn)
        .send()
        .await
        .expect("AttachPolicy");
}

/// CreateCertificateFromCsr for a CSR of `key` for `CN=<common_name>`.
pub(crate) async fn certificate_from_csr(
    iot: &Client,
    key: &KeyPair,
    common_name: &str,
) -> CreateCertificateFromCsrOutput {
    iot.create_certificate_from_csr()
        .certificate_signing_request(csr(key, common_name))
        .send()
        .await
        .expect("CreateCertificateFromCsr")
}

/// DescribeCertificate: the description it answers.
pub(crate) async fn describe_certificate(iot: &Client, id: &str) -> CertificateDescription {
    iot.describe_certificate()
        .certificate_id(id)
        .send()
        .await
        .expect("DescribeCertificate")
        .certificate_description()
        .cloned()
        .expect("a certificate description")
}

/// DescribeCertificate: the certificate's status.
pub(crate) async fn certificate_status(iot: &Client, id: &str) -> Option<CertificateStatus> {
    describe_certificate(iot, id).await.status().cloned()
}

/// UpdateCertificate to `status`.
pub(crate) async fn set_certificate_status(iot: &Client, id: &str, status: CertificateStatus) {
    iot.update_certificate()
        .certificate_id(id)
        .new_status(status)
        .send()
        .await
        .expect("UpdateCertificate");
}

/// UpdateCACertificate to `status`.
pub(crate) async fn set_ca_status(iot: &Client, id: &str, status: CaCertificateStatus) {
    iot.update_ca_certificate()
        .certificate_id(id)
        .new_status(status)
        .send()
        .await
        .expect("UpdateCACertificate");
}

/// GetRegistrationCode.
pub(crate) async fn registration_code(iot: &Client) -> String {
    iot.get_registration_code()
        .send()
        .await
        .expect("GetRegistrationCode")
        .registration_code()
        .expect("a registration code")
        .to_owned()
}

/// RegisterCACertificate with `setAsActive`, proven with the registration `code`; returns the
/// CA's id.
pub(crate) async fn register_active_ca(iot: &Client, ca: &TestCa, code: &str) -> String {
    iot.register_ca_certificate()
        .ca_certificate(&ca.pem)
        .verification_certificate(ca.verification(code))
        .set_as_active(true)
        .send()
        .await
        .expect("RegisterCACertificate")
        .certificate_id()
        .expect("the CA's id")
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// External AWS clients: the AWS CLI and boto3.

/// The two files `thingd serve` writes for AWS clients, and the only two variables a user sets
/// (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`).
#[derive(Clone, Debug)]
pub(crate) struct AwsEnv {
    pub(crate) credentials: PathBuf,
    pub(crate) config: PathBuf,
}

impl AwsEnv {
    /// The files in `server`'s data directory.
    pub(crate) fn of(server: &TestServer) -> AwsEnv {
        Self::in_dir(server.data_dir())
    }

    /// The files in a data directory.
    pub(crate) fn in_dir(data_dir: &Path) -> AwsEnv {
        AwsEnv {
            credentials: data_dir.join("credentials"),
            config: data_dir.join("aws-config"),
        }
    }

    /// `program` with an empty environment but for `PATH`, `HOME` (Python's installation may
    /// need both to be found) and the two variables: no endpoint, region or key from anywhere
    /// else.
    pub(crate) fn command(&self, program: &str) -> Command {
        require_tool(program);
        let mut command = Command::new(program);
        command.env_clear();
        for name in ["PATH", "HOME"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
            .env("AWS_SHARED_CREDENTIALS_FILE", &self.credentials)
            .env("AWS_CONFIG_FILE", &self.config);
        command
    }

    /// Runs `aws` with `args` to completion.
    pub(crate) async fn aws<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Finished {
        let mut command = self.command("aws");
        command.args(args);
        Proc::spawn_command("aws", command, None).finish().await
    }

    /// Runs `aws` with `args`, checks that it succeeded, and returns its JSON output (`Null`
    /// when it printed nothing).
    pub(crate) async fn aws_json<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Value {
        let finished = self.aws(args).await;
        finished.assert_success(&format!("aws {}", display_args(args)));
        let text = finished.stdout.join("\n");
        if text.trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("aws printed no JSON ({e}): {text}"))
    }

    /// Runs `aws` with `args`, checks that it failed, and returns its stderr.
    pub(crate) async fn aws_error<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> String {
        let finished = self.aws(args).await;
        assert!(
            !finished.status.success(),
            "aws {} succeeded: {:?}",
            display_args(args),
            finished.stdout
        );
        finished.stderr
    }

    /// Runs a boto3 scenario of `boto3_scenarios.py` with `args` and returns what it observed
    /// (the JSON object it prints last).
    pub(crate) async fn boto3(&self, scenario: &str, args: &[OsString]) -> Value {
        let mut command = self.command("python3");
        command.arg(script("boto3_scenarios.py")).arg(scenario);
        command.args(args);
        let finished = Proc::spawn_command("python3 boto3_scenarios.py", command, None)
            .finish()
            .await;
        finished.assert_success(&format!("the boto3 scenario {scenario}"));
        let last = finished
            .stdout
            .last()
            .unwrap_or_else(|| panic!("the boto3 scenario {scenario} printed nothing"));
        serde_json::from_str(last).unwrap_or_else(|e| {
            panic!("the boto3 scenario {scenario} printed no JSON ({e}): {last}")
        })
    }
}

fn display_args<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A file of this test binary's folder (the Python scripts).
pub(crate) fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/aws")
        .join(name)
}

/// A step of a boto3 scenario that must have succeeded; returns its response.
#[track_caller]
pub(crate) fn ok<'a>(observed: &'a Value, step: &str) -> &'a Value {
    let step_value = &observed[step];
    assert!(
        step_value.get("ok").is_some(),
        "step {step} did not succeed: {step_value}\nall: {observed:#}"
    );
    &step_value["ok"]
}

/// An AWS error as clients see it: its code and HTTP status.
pub(crate) type AwsError = (&'static str, u16);

/// A step of a boto3 scenario that must have failed with `error`, raised by botocore as the
/// service model's exception class of that name (so botocore parsed it as the modeled error);
/// returns what it observed of the error.
#[track_caller]
pub(crate) fn failed<'a>(observed: &'a Value, step: &str, error: AwsError) -> &'a Value {
    let (code, _) = error;
    let raised = failed_unmodeled(observed, step, error);
    assert_eq!(raised["class"], code, "step {step}: {raised}");
    raised
}

/// A step of a boto3 scenario that must have failed with `error`, whatever exception class
/// botocore raised (errors the service model does not have); returns what it observed.
#[track_caller]
pub(crate) fn failed_unmodeled<'a>(
    observed: &'a Value,
    step: &str,
    (code, status): AwsError,
) -> &'a Value {
    let step_value = &observed[step];
    let error = step_value
        .get("error")
        .unwrap_or_else(|| panic!("step {step} did not fail: {step_value}\nall: {observed:#}"));
    assert_eq!(error["code"], code, "step {step}: {error}");
    assert_eq!(error["status"], status, "step {step}: {error}");
    error
}

// ---------------------------------------------------------------------------------------------
// A device over MQTT/TLS.

/// A rustls client (aws-lc-rs) trusting the server's CA and presenting `cert_pem` with
/// `key_pem`.
fn device_tls(server: &TestServer, cert_pem: &str, key_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(server.ca_pem.as_bytes()).expect("the CA's PEM"))
        .expect("a valid CA");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("supported versions")
    .with_root_certificates(roots)
    .with_client_auth_cert(
        vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("a PEM certificate")],
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("a PEM key"),
    )
    .expect("a usable client certificate");
    Arc::new(config)
}

/// An MQTT connection over TLS with a device certificate, through thingd's codec.
pub(crate) struct Device {
    stream: TlsStream<TcpStream>,
    version: ProtocolVersion,
    decoder: Decoder,
    buf: BytesMut,
}

/// How a device connection ended.
#[derive(Debug)]
pub(crate) struct Closed {
    /// When the client saw the DISCONNECT or the close.
    pub(crate) at: Instant,
    /// The DISCONNECT's reason code, if the server sent one (MQTT 5).
    pub(crate) reason: Option<ReasonCode>,
}

impl Device {
    /// Opens a TLS connection to `server` with the certificate and key, sends CONNECT as
    /// `client_id` (clean start) and returns the connection, or the CONNACK's refusal.
    pub(crate) async fn connect(
        server: &TestServer,
        cert_pem: &str,
        key_pem: &str,
        client_id: &str,
        version: ProtocolVersion,
    ) -> Result<Device, ReasonCode> {
        let tcp = TcpStream::connect(server.mqtt_tls)
            .await
            .expect("connecting to MQTT/TLS");
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let name = ServerName::try_from("localhost").expect("a valid name");
        let stream = tokio::time::timeout(
            WAIT,
            TlsConnector::from(device_tls(server, cert_pem, key_pem)).connect(name, tcp),
        )
        .await
        .expect("the TLS handshake timed out")
        .expect("the TLS handshake completes (trust is decided at CONNECT)");
        let mut device = Device {
            stream,
            version,
            decoder: Decoder::new(version, usize::MAX),
            buf: BytesMut::new(),
        };
        let connect = Connect::new(version, MqttString::new(client_id).expect("a client id"));
        device.send(&Packet::Connect(Box::new(connect))).await;
        match device.next().await {
            Some(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success => Ok(device),
            Some(Packet::ConnAck(ack)) => Err(ack.reason_code),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    async fn send(&mut self, packet: &Packet) {
        let mut out = BytesMut::new();
        packet.encode(self.version, &mut out).expect("encodable");
        self.stream.write_all(&out).await.expect("writing a packet");
        self.stream.flush().await.expect("flushing");
    }

    /// The next packet, or `None` when the server closed the connection; fails the test after
    /// [`WAIT`].
    async fn next(&mut self) -> Option<Packet> {
        let read = async {
            loop {
                if let Some(packet) = self.decoder.decode(&mut self.buf).expect("a valid packet") {
                    return Some(packet);
                }
                self.buf.reserve(4096);
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("timed out waiting for the server")
    }

    /// Checks that CONNECT with the certificate and key is refused as not authorized; `why`
    /// says which certificate it is, for the failure message.
    pub(crate) async fn assert_refused(
        server: &TestServer,
        cert_pem: &str,
        key_pem: &str,
        client_id: &str,
        version: ProtocolVersion,
        why: &str,
    ) {
        let refused = Device::connect(server, cert_pem, key_pem, client_id, version).await;
        assert_eq!(
            refused.err(),
            Some(ReasonCode::NotAuthorized),
            "{why} ({client_id}, {version})"
        );
    }

    /// Checks the connection is alive: PINGREQ is answered.
    pub(crate) async fn ping(&mut self) {
        self.send(&Packet::PingReq).await;
        assert_eq!(self.next().await, Some(Packet::PingResp));
    }

    /// Waits (up to [`WAIT`]) until the server ends the connection, with nothing else sent
    /// before.
    pub(crate) async fn closed(mut self) -> Closed {
        match self.next().await {
            None => Closed {
                at: Instant::now(),
                reason: None,
            },
            Some(Packet::Disconnect(disconnect)) => {
                let at = Instant::now();
                assert_eq!(
                    self.next().await,
                    None,
                    "the connection closes after DISCONNECT"
                );
                Closed {
                    at,
                    reason: Some(disconnect.reason_code),
                }
            }
            Some(other) => panic!("expected the connection to end, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates made by the tests.

/// A key pair (ECDSA P-256) and its private key in PEM.
pub(crate) fn new_key() -> (KeyPair, String) {
    let key = KeyPair::generate().expect("a key pair");
    let pem = key.serialize_pem();
    (key, pem)
}

fn named(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("parameters");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Acme Devices");
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params
}

/// A certificate signing request for `CN=<common_name>` with `key`, PEM.
pub(crate) fn csr(key: &KeyPair, common_name: &str) -> String {
    named(common_name)
        .serialize_request(key)
        .expect("a CSR")
        .pem()
        .expect("PEM")
}

/// A certificate authority of the tests' own, which thingd knows nothing of until it is
/// registered.
pub(crate) struct TestCa {
    pub(crate) pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub(crate) fn new(common_name: &str) -> TestCa {
        let key = KeyPair::generate().expect("a key pair");
        let mut params = named(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).expect("a CA certificate").pem();
        TestCa {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A device certificate for `CN=<common_name>` and its key, both PEM.
    pub(crate) fn issue(&self, common_name: &str) -> (String, String) {
        let (key, key_pem) = new_key();
        let pem = named(common_name)
            .signed_by(&key, &self.issuer)
            .expect("a device certificate")
            .pem();
        (pem, key_pem)
    }

    /// The verification certificate of a registration: the registration code as its common
    /// name, signed by this CA.
    pub(crate) fn verification(&self, registration_code: &str) -> String {
        let (key, _) = new_key();
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("parameters");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, registration_code);
        params.distinguished_name = dn;
        params
            .signed_by(&key, &self.issuer)
            .expect("a verification certificate")
            .pem()
    }
}

/// Writes `contents` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("creating a folder");
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}
