//! Clients of the HTTPS listener: a raw HTTP/1.1 client over rustls that presents a device
//! certificate and sends exactly the bytes a test gives (several requests on one connection,
//! malformed ones included), and `curl` as a device would run it.

use std::sync::Arc;

use rustls_pki_types::ServerName;
use serde_json::Value;
use testkit::process::run;
use testkit::{ClientCert, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::support::{tls_config, within};

/// One answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// A header's value (names compared without case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Checks an iot-data error: status, the code in `x-amzn-ErrorType`, and a message; the
    /// body either AWS's `{"__type", "message", "traceId"}` or, from a shadow operation, the
    /// shadow error document `{"code", "message", "timestamp"}`; returns the message.
    pub(crate) fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.header("x-amzn-ErrorType"), Some(code), "{self:?}");
        let body = self.json();
        if body.get("__type").is_some() {
            assert_eq!(body["__type"], code, "{body}");
            assert!(body["traceId"].is_string(), "{body}");
        } else {
            assert_eq!(body["code"], status, "{body}");
            assert!(body["timestamp"].is_u64(), "{body}");
        }
        let message = body["message"].as_str().unwrap().to_owned();
        assert!(!message.is_empty());
        message
    }

    /// Checks a shadow operation's error: status, the code in `x-amzn-ErrorType`, and the
    /// shadow error document as the body; returns the document.
    pub(crate) fn assert_shadow_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.header("x-amzn-ErrorType"), Some(code), "{self:?}");
        let body = self.json();
        assert_eq!(body["code"], status, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(body["timestamp"].is_u64(), "{body}");
        assert!(body.get("__type").is_none(), "{body}");
        body
    }

    /// Checks a 200 and returns the body as JSON.
    pub(crate) fn ok_json(&self) -> Value {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.header("content-type"), Some("application/json"));
        self.json()
    }
}

/// An HTTPS connection to the data plane as a device.
pub(crate) struct Https {
    stream: TlsStream<TcpStream>,
    buffer: Vec<u8>,
}

impl Https {
    /// Connects to `server`'s HTTPS listener presenting `cert`.
    pub(crate) async fn connect(server: &TestServer, cert: &ClientCert) -> Https {
        Self::connect_with(server, tls_config(server, cert))
            .await
            .unwrap()
    }

    /// Connects with a TLS configuration of the test's choosing.
    pub(crate) async fn connect_with(
        server: &TestServer,
        config: Arc<rustls::ClientConfig>,
    ) -> std::io::Result<Https> {
        let stream = within(TcpStream::connect(server.https)).await?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let name = ServerName::try_from("localhost").unwrap();
        let mut stream = within(connector.connect(name, stream)).await?;
        // TLS 1.3 sends the server's verdict on the client certificate after the client's
        // Finished: a refusal shows on the first read, which a zero-byte flush does not force.
        stream.flush().await?;
        Ok(Https {
            stream,
            buffer: Vec::new(),
        })
    }

    /// Sends `bytes` as they are.
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) {
        self.try_send_raw(bytes).await.unwrap();
    }

    /// Sends `bytes` as they are, telling whether the connection took them.
    pub(crate) async fn try_send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        within(self.stream.write_all(bytes)).await?;
        within(self.stream.flush()).await
    }

    /// Sends a request (with `Host` and `Content-Length`) and reads the answer.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes).await;
        self.read_reply().await
    }

    /// `POST` with a body.
    pub(crate) async fn post(&mut self, target: &str, body: &[u8]) -> Reply {
        self.request("POST", target, &[], body).await
    }

    /// `GET`.
    pub(crate) async fn get(&mut self, target: &str) -> Reply {
        self.request("GET", target, &[], b"").await
    }

    /// Reads an interim answer (a head without a body, e.g. `100 Continue`); returns its status
    /// line.
    pub(crate) async fn read_interim(&mut self) -> String {
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.buffer[..head_end].to_vec()).unwrap();
        self.buffer.drain(..head_end + 4);
        head.lines().next().unwrap_or_default().to_owned()
    }

    /// Reads one answer (its body sized by Content-Length).
    pub(crate) async fn read_reply(&mut self) -> Reply {
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.buffer[..head_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("a status line: {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.trim().to_owned(), value.trim().to_owned())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .map(|(_, value)| value.parse().unwrap())
            .unwrap_or_else(|| panic!("no Content-Length in {headers:?}"));
        let body_start = head_end + 4;
        while self.buffer.len() < body_start + length {
            self.fill().await;
        }
        let body = self.buffer[body_start..body_start + length].to_vec();
        self.buffer.drain(..body_start + length);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Whether the server closed the connection (reads until it does, within the guard).
    pub(crate) async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match within(self.stream.read(&mut chunk)).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    }

    async fn fill(&mut self) {
        // On the heap: a 16 KiB array would make every future that awaits this one as large.
        let mut chunk = vec![0u8; 16 * 1024];
        let read = within(self.stream.read(&mut chunk))
            .await
            .expect("reading an answer");
        assert!(
            read > 0,
            "the server closed the connection; read so far: {:?}",
            String::from_utf8_lossy(&self.buffer)
        );
        self.buffer.extend_from_slice(&chunk[..read]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// What `curl` answered: the status and the body.
#[derive(Debug)]
pub(crate) struct Curled {
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Curled {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("curl's body is not JSON ({e}): {self:?}"))
    }
}

/// Runs `curl` against `server`'s HTTPS listener as the device `cert` (its `cert.pem`,
/// `key.pem` and the CA in its folder): `method` on `path` (which starts with `/`), `body` sent
/// as it is when given.
pub(crate) async fn curl(
    server: &TestServer,
    cert: &ClientCert,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Curled {
    let url = format!("https://localhost:{}{path}", server.https.port());
    let mut args: Vec<String> = vec![
        "--silent".into(),
        "--show-error".into(),
        "--max-time".into(),
        "30".into(),
        "--cacert".into(),
        cert.ca_path().display().to_string(),
        "--cert".into(),
        cert.cert_path().display().to_string(),
        "--key".into(),
        cert.key_path().display().to_string(),
        "--request".into(),
        method.into(),
        "--write-out".into(),
        "\n%{http_code}".into(),
    ];
    if let Some(body) = body {
        args.push("--data-binary".into());
        args.push(body.into());
    }
    args.push(url);
    let finished = run("curl", args, None).await;
    finished.assert_success("curl");
    let mut lines = finished.stdout.clone();
    let status = lines
        .pop()
        .and_then(|code| code.trim().parse().ok())
        .unwrap_or_else(|| panic!("curl printed no status: {finished:?}"));
    Curled {
        status,
        body: lines.join("\n"),
    }
}
