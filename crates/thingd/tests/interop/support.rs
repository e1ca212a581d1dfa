//! Shared helpers: external processes read line by line with timeouts, mosquitto command lines,
//! a rustls client for thingd's TLS listener, MQTT over any byte stream, and a raw HTTP GET.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use mqtt_codec::{ConnAck, Connect, Decoder, MqttString, Packet, ProtocolVersion};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, Lines,
};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdout, Command};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How long any single wait (a line, an exit, a packet) may take before the test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// The Debian or PyPI package that provides an external program, for the failure message.
fn package_of(program: &str) -> &'static str {
    match program {
        "mosquitto_pub" | "mosquitto_sub" => {
            "the Debian package mosquitto-clients (apt-get install mosquitto-clients)"
        }
        "python3" => {
            "Python 3 with paho-mqtt (apt-get install python3 python3-pip; pip install paho-mqtt)"
        }
        "kill" => "procps (apt-get install procps)",
        "stdbuf" => "coreutils",
        _ => "it",
    }
}

fn spawn_error(program: &str, error: &std::io::Error) -> String {
    if error.kind() == ErrorKind::NotFound {
        format!(
            "`{program}` is not installed; these interop tests need {}",
            package_of(program)
        )
    } else {
        format!("cannot start `{program}`: {error}")
    }
}

/// Fails the test with the package to install if `program` is not on the PATH.
pub(crate) fn require_tool(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{}",
        spawn_error(program, &std::io::Error::from(ErrorKind::NotFound))
    );
}

/// A running external program whose stdout is read line by line and whose stderr is collected.
pub(crate) struct Proc {
    name: String,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Every stdout line read so far.
    pub(crate) transcript: Vec<String>,
    stderr: Arc<Mutex<String>>,
    /// Counts stderr lines; closed when stderr ends.
    stderr_lines: tokio::sync::watch::Receiver<usize>,
    stderr_task: tokio::task::JoinHandle<()>,
}

/// How an external program ended.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    /// Every stdout line, including those read while it ran.
    pub(crate) stdout: Vec<String>,
    pub(crate) stderr: String,
}

impl Finished {
    /// Whether a stdout line contains `text`.
    pub(crate) fn printed(&self, text: &str) -> bool {
        self.stdout.iter().any(|l| l.contains(text))
    }

    /// Panics with the transcript unless the program exited with status 0.
    pub(crate) fn assert_success(&self, what: &str) {
        assert!(
            self.status.success(),
            "{what} failed with {}\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout.join("\n"),
            self.stderr
        );
    }
}

impl Proc {
    /// Starts `program` with `args`, stdin closed unless `stdin` is given (then written and closed).
    pub(crate) fn spawn<I, S>(program: &str, args: I, stdin: Option<Vec<u8>>) -> Proc
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut command = Command::new(program);
        command.args(args.into_iter().map(Into::into));
        Self::spawn_command(program, command, stdin)
    }

    /// Starts a prepared command (its stdio is replaced by pipes).
    pub(crate) fn spawn_command(name: &str, mut command: Command, stdin: Option<Vec<u8>>) -> Proc {
        command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{}", spawn_error(name, &e)));
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            tokio::spawn(async move {
                let _ = pipe.write_all(&input).await;
                let _ = pipe.shutdown().await;
            });
        }
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let sink = stderr.clone();
        let (count, stderr_lines) = tokio::sync::watch::channel(0usize);
        let stderr_task = tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                {
                    let mut all = sink.lock().expect("stderr lock");
                    all.push_str(&line);
                    all.push('\n');
                }
                count.send_modify(|n| *n += 1);
            }
        });
        Proc {
            name: name.to_string(),
            child,
            stdout,
            transcript: Vec::new(),
            stderr,
            stderr_lines,
            stderr_task,
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// Everything written to stderr so far.
    pub(crate) fn stderr_so_far(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    fn context(&self) -> String {
        format!(
            "{}\nstdout so far:\n{}\nstderr so far:\n{}",
            self.name,
            self.transcript.join("\n"),
            self.stderr_so_far()
        )
    }

    /// Reads stdout until a line satisfies `predicate` and returns it; fails the test on EOF or
    /// after [`WAIT`].
    pub(crate) async fn line_where(
        &mut self,
        what: &str,
        predicate: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Err(_) => panic!("timed out waiting for {what} from {}", self.context()),
                Ok(Err(e)) => panic!("reading the stdout of {}: {e}", self.context()),
                Ok(Ok(None)) => {
                    let status = tokio::time::timeout(WAIT, self.child.wait()).await;
                    panic!(
                        "{} ended ({status:?}) before {what}; {}",
                        self.name,
                        self.context()
                    )
                }
                Ok(Ok(Some(line))) => {
                    self.transcript.push(line.clone());
                    if predicate(&line) {
                        return line;
                    }
                }
            }
        }
    }

    /// The first stderr line so far that satisfies `predicate`.
    fn stderr_line(&self, predicate: &impl Fn(&str) -> bool) -> Option<String> {
        self.stderr_so_far()
            .lines()
            .find(|l| predicate(l))
            .map(str::to_string)
    }

    /// Waits until a stderr line satisfies `predicate` and returns it; fails the test when
    /// stderr ends first or after [`WAIT`].
    pub(crate) async fn stderr_line_where(
        &mut self,
        what: &str,
        predicate: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(line) = self.stderr_line(&predicate) {
                return line;
            }
            match tokio::time::timeout_at(deadline, self.stderr_lines.changed()).await {
                Err(_) => panic!(
                    "timed out waiting for {what} on the stderr of {}",
                    self.context()
                ),
                Ok(Err(_)) => {
                    // stderr ended: one last look, since the final lines may have just arrived.
                    if let Some(line) = self.stderr_line(&predicate) {
                        return line;
                    }
                    panic!(
                        "{} closed stderr before {what}; {}",
                        self.name,
                        self.context()
                    )
                }
                Ok(Ok(())) => {}
            }
        }
    }

    /// Waits (up to [`WAIT`]) for the program to exit, reading the rest of its output.
    pub(crate) async fn finish(self) -> Finished {
        self.finish_within(WAIT).await
    }

    /// Waits up to `limit` for the program to exit, reading the rest of its output.
    pub(crate) async fn finish_within(mut self, limit: Duration) -> Finished {
        let name = self.name.clone();
        let rest = async {
            while let Some(line) = self.stdout.next_line().await.unwrap_or(None) {
                self.transcript.push(line);
            }
            self.child.wait().await
        };
        let status = match tokio::time::timeout(limit, rest).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => panic!("waiting for {name}: {e}"),
            Err(_) => panic!("{name} did not exit within {limit:?}; {}", self.context()),
        };
        let _ = tokio::time::timeout(WAIT, &mut self.stderr_task).await;
        let stderr = self.stderr_so_far();
        Finished {
            status,
            stdout: std::mem::take(&mut self.transcript),
            stderr,
        }
    }
}

/// Runs a program to completion with a timeout.
pub(crate) async fn run<I, S>(program: &str, args: I, stdin: Option<Vec<u8>>) -> Finished
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    Proc::spawn(program, args, stdin).finish().await
}

/// Where a mosquitto client connects: plain TCP, or TLS with a CA file and a client certificate.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub(crate) addr: SocketAddr,
    /// The host name given to the client (`-h`); the address's IP unless set.
    pub(crate) host: String,
    pub(crate) tls: Option<TlsFiles>,
}

/// The PEM files of a TLS client: the CA it trusts, and optionally its certificate and key.
#[derive(Clone, Debug)]
pub(crate) struct TlsFiles {
    pub(crate) ca: PathBuf,
    pub(crate) cert_key: Option<(PathBuf, PathBuf)>,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir` (the layout of `thingd cert issue`).
    pub(crate) fn bundle(dir: &Path) -> TlsFiles {
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert_key: Some((dir.join("cert.pem"), dir.join("key.pem"))),
        }
    }
}

impl Endpoint {
    pub(crate) fn tcp(addr: SocketAddr) -> Endpoint {
        Endpoint {
            addr,
            host: addr.ip().to_string(),
            tls: None,
        }
    }

    pub(crate) fn tls(addr: SocketAddr, files: TlsFiles) -> Endpoint {
        Endpoint {
            addr,
            host: addr.ip().to_string(),
            tls: Some(files),
        }
    }

    /// The same endpoint reached by `host` (resolved by the client, as a person would type it).
    pub(crate) fn with_host(mut self, host: &str) -> Endpoint {
        self.host = host.to_string();
        self
    }

    /// The TLS listener of a test server with its client certificate.
    pub(crate) fn testkit_tls(server: &testkit::TestServer) -> Endpoint {
        Endpoint::tls(server.mqtt_tls, TlsFiles::bundle(&server.client.dir))
    }

    /// mosquitto_pub / mosquitto_sub options for the host, port and TLS files.
    pub(crate) fn mosquitto_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "-h".into(),
            self.host.clone().into(),
            "-p".into(),
            self.addr.port().to_string().into(),
        ];
        if let Some(tls) = &self.tls {
            args.push("--cafile".into());
            args.push(tls.ca.clone().into());
            if let Some((cert, key)) = &tls.cert_key {
                args.push("--cert".into());
                args.push(cert.clone().into());
                args.push("--key".into());
                args.push(key.clone().into());
            }
        }
        args
    }
}

/// The mosquitto name of a protocol version (`-V`).
pub(crate) fn mosquitto_version(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::V311 => "mqttv311",
        ProtocolVersion::V5 => "mqttv5",
    }
}

/// The `-F` format the subscriber prints messages in: topic, QoS, retain flag, payload.
pub(crate) const MESSAGE_FORMAT: &str = "MSG|%t|%q|%r|%p";

/// A message line as [`MESSAGE_FORMAT`] prints it.
pub(crate) fn message_line(topic: &str, qos: u8, retain: bool, payload: &str) -> String {
    format!("MSG|{topic}|{qos}|{}|{payload}", u8::from(retain))
}

/// A running `mosquitto_sub -d` that has been granted its subscription.
pub(crate) struct Subscriber {
    pub(crate) proc: Proc,
}

impl Subscriber {
    /// Starts `mosquitto_sub -d` on `filter` at `qos` with `extra` options and waits until the
    /// broker's SUBACK granted `qos`.
    pub(crate) async fn start(
        endpoint: &Endpoint,
        version: ProtocolVersion,
        filter: &str,
        qos: u8,
        extra: &[&str],
    ) -> Subscriber {
        let mut args = endpoint.mosquitto_args();
        let qos_text = qos.to_string();
        for arg in [
            "-d",
            "-V",
            mosquitto_version(version),
            "-t",
            filter,
            "-q",
            &qos_text,
            "-F",
            MESSAGE_FORMAT,
        ] {
            args.push(arg.into());
        }
        args.extend(extra.iter().map(OsString::from));
        // mosquitto_sub's stdout is block-buffered when it is a pipe; stdbuf (coreutils) makes it
        // line-buffered so each line arrives as it is printed.
        require_tool("mosquitto_sub");
        let mut command = Command::new("stdbuf");
        command.arg("-oL").arg("mosquitto_sub").args(args);
        let mut proc = Proc::spawn_command("mosquitto_sub", command, None);
        proc.line_where("the SUBACK", |l| {
            l.to_ascii_lowercase().contains("received suback")
        })
        .await;
        // mosquitto_sub then prints "Subscribed (mid: 1): <granted QoS>".
        let granted = proc
            .line_where("the granted QoS", |l| l.starts_with("Subscribed (mid:"))
            .await;
        assert!(
            granted.ends_with(&format!("): {qos}")),
            "expected QoS {qos} granted, mosquitto_sub printed {granted:?}"
        );
        Subscriber { proc }
    }

    /// The next message line.
    pub(crate) async fn next_message(&mut self) -> String {
        self.proc
            .line_where("a message", |l| l.starts_with("MSG|"))
            .await
    }

    /// Waits for mosquitto_sub to exit by itself (after its `-C` count) and checks it exited 0.
    pub(crate) async fn finish_ok(self) {
        self.proc.finish().await.assert_success("mosquitto_sub");
    }

    /// Publishes `payload` to `topic` at `qos` with mosquitto_pub (given `extra` options first)
    /// and checks that this subscriber prints it next, not retained, at that QoS.
    pub(crate) async fn expect_published(
        &mut self,
        endpoint: &Endpoint,
        version: ProtocolVersion,
        topic: &str,
        qos: u8,
        payload: &str,
        extra: &[&str],
    ) {
        let qos_text = qos.to_string();
        let mut args = extra.to_vec();
        args.extend(["-t", topic, "-q", &qos_text, "-m", payload]);
        mosquitto_pub(endpoint, version, &args, None).await;
        assert_eq!(
            self.next_message().await,
            message_line(topic, qos, false, payload),
            "published with {version}"
        );
    }
}

/// Runs `mosquitto_pub` with the endpoint's options and `args`, sending each line of `lines`
/// as a message if given (`-l`), and checks it exits 0.
pub(crate) async fn mosquitto_pub(
    endpoint: &Endpoint,
    version: ProtocolVersion,
    args: &[&str],
    lines: Option<&[&str]>,
) {
    let finished = mosquitto_pub_output(endpoint, version, args, lines).await;
    finished.assert_success("mosquitto_pub");
}

/// Runs `mosquitto_pub` and returns how it ended, whatever that was.
pub(crate) async fn mosquitto_pub_output(
    endpoint: &Endpoint,
    version: ProtocolVersion,
    args: &[&str],
    lines: Option<&[&str]>,
) -> Finished {
    let mut all = endpoint.mosquitto_args();
    all.push("-d".into());
    all.push("-V".into());
    all.push(mosquitto_version(version).into());
    all.extend(args.iter().map(OsString::from));
    let stdin = lines.map(|lines| {
        all.push("-l".into());
        lines
            .iter()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect::<Vec<u8>>()
    });
    run("mosquitto_pub", all, stdin).await
}

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
