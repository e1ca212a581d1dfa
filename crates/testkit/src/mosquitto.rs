//! Mosquitto's command-line clients (`mosquitto_pub`, `mosquitto_sub`) as independent MQTT
//! clients of a test server: their options for an endpoint, a subscriber that waits for its
//! SUBACK and reads messages, and a publisher run to completion.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mqtt_codec::ProtocolVersion;
use tokio::process::Command;

use crate::process::{Finished, Proc, require_tool, run};

/// Where a mosquitto client connects: plain TCP, or TLS with a CA file and a client certificate.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The address connected to.
    pub addr: SocketAddr,
    /// The host name given to the client (`-h`); the address's IP unless set.
    pub host: String,
    /// TLS, or plain TCP if `None`.
    pub tls: Option<TlsFiles>,
}

/// The PEM files of a TLS client: the CA it trusts, and optionally its certificate and key.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA certificate the client trusts (`--cafile`).
    pub ca: PathBuf,
    /// The client certificate and its key (`--cert`, `--key`), if any.
    pub cert_key: Option<(PathBuf, PathBuf)>,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir` (the layout of `thingd cert issue`).
    pub fn bundle(dir: &Path) -> TlsFiles {
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert_key: Some((dir.join("cert.pem"), dir.join("key.pem"))),
        }
    }
}

impl Endpoint {
    /// Plain MQTT at `addr`.
    pub fn tcp(addr: SocketAddr) -> Endpoint {
        Endpoint {
            addr,
            host: addr.ip().to_string(),
            tls: None,
        }
    }

    /// MQTT over TLS at `addr` with `files`.
    pub fn tls(addr: SocketAddr, files: TlsFiles) -> Endpoint {
        Endpoint {
            addr,
            host: addr.ip().to_string(),
            tls: Some(files),
        }
    }

    /// The same endpoint reached by `host` (resolved by the client, as a person would type it).
    pub fn with_host(mut self, host: &str) -> Endpoint {
        self.host = host.to_string();
        self
    }

    /// The TLS listener of a test server with its client certificate.
    pub fn testkit_tls(server: &crate::TestServer) -> Endpoint {
        Endpoint::tls(server.mqtt_tls, TlsFiles::bundle(&server.client.dir))
    }

    /// mosquitto_pub / mosquitto_sub options for the host, port and TLS files.
    pub fn mosquitto_args(&self) -> Vec<OsString> {
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
pub fn mosquitto_version(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::V311 => "mqttv311",
        ProtocolVersion::V5 => "mqttv5",
    }
}

/// The `-F` format the subscriber prints messages in: topic, QoS, retain flag, payload.
pub const MESSAGE_FORMAT: &str = "MSG|%t|%q|%r|%p";

/// A message line as [`MESSAGE_FORMAT`] prints it.
pub fn message_line(topic: &str, qos: u8, retain: bool, payload: &str) -> String {
    format!("MSG|{topic}|{qos}|{}|{payload}", u8::from(retain))
}

/// A running `mosquitto_sub -d` that has been granted its subscription.
pub struct Subscriber {
    /// The running `mosquitto_sub`.
    pub proc: Proc,
}

impl Subscriber {
    /// Starts `mosquitto_sub -d` on `filter` at `qos` with `extra` options and waits until the
    /// broker's SUBACK granted `qos`.
    pub async fn start(
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
    pub async fn next_message(&mut self) -> String {
        self.proc
            .line_where("a message", |l| l.starts_with("MSG|"))
            .await
    }

    /// Waits for mosquitto_sub to exit by itself (after its `-C` count) and checks it exited 0.
    pub async fn finish_ok(self) {
        self.proc.finish().await.assert_success("mosquitto_sub");
    }

    /// Publishes `payload` to `topic` at `qos` with mosquitto_pub (given `extra` options first)
    /// and checks that this subscriber prints it next, not retained, at that QoS.
    pub async fn expect_published(
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
pub async fn mosquitto_pub(
    endpoint: &Endpoint,
    version: ProtocolVersion,
    args: &[&str],
    lines: Option<&[&str]>,
) {
    let finished = mosquitto_pub_output(endpoint, version, args, lines).await;
    finished.assert_success("mosquitto_pub");
}

/// Runs `mosquitto_pub` and returns how it ended, whatever that was.
pub async fn mosquitto_pub_output(
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
