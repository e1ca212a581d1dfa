//! Owned test requests, clocks and the tamper checks every signed vector goes through.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SigningInstructions, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use thingd_sigv4::{Error, Payload, RequestParts, Secret, SigningParams, Verified, Verifier};

pub(crate) const AKID: &str = "AKIDTHINGDEXAMPLE";
pub(crate) const SECRET: &str = "thingd/Secret+Key/EXAMPLE0123456789abcdefgh";
pub(crate) const HOST: &str = "127.0.0.1:8443";

/// 2026-11-26T00:00:00Z, the time every vector of these tests is signed at.
pub(crate) fn signing_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_651_200)
}

pub(crate) fn at(offset_seconds: i64) -> SystemTime {
    let base = signing_time();
    if offset_seconds >= 0 {
        base + Duration::from_secs(offset_seconds.unsigned_abs())
    } else {
        base - Duration::from_secs(offset_seconds.unsigned_abs())
    }
}

/// thingd's signing parameters for the test key at [`signing_time`], for `region` and
/// `service`: the payload signed, no `x-amz-content-sha256` header.
pub(crate) fn our_params<'a>(region: &'a str, service: &'a str) -> SigningParams<'a> {
    static TEST_SECRET: LazyLock<Secret> = LazyLock::new(|| Secret::new(SECRET));
    SigningParams {
        access_key_id: AKID,
        secret: &TEST_SECRET,
        region,
        service,
        time: signing_time(),
        unsigned_payload: false,
        content_sha256_header: false,
    }
}

/// Signs a request with aws-sigv4 (the AWS SDK for Rust's signer) as the test key, with
/// `session_token` if given, at [`signing_time`] in us-east-1 for `service`; returns the
/// signing instructions and the signature.
pub(crate) fn aws_sigv4_sign(
    service: &str,
    (method, path_and_query): (&str, &str),
    headers: &[(&str, &str)],
    body: SignableBody<'_>,
    settings: SigningSettings,
    session_token: Option<&str>,
) -> (SigningInstructions, String) {
    let identity =
        Credentials::new(AKID, SECRET, session_token.map(str::to_owned), None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(signing_time())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = format!("http://{HOST}{path_and_query}");
    let signable = SignableRequest::new(method, uri, headers.iter().copied(), body).unwrap();
    sign(signable, &params).unwrap().into_parts()
}

/// A received request, owned.
#[derive(Debug, Clone)]
pub(crate) struct TestRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl TestRequest {
    pub(crate) fn new(method: &str, path: &str, query: Option<&str>) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            headers: vec![("host".to_owned(), HOST.to_owned())],
            body: Vec::new(),
        }
    }

    /// Splits an `http::Request` as the HTTP layer would see it (adding the host header hyper
    /// sees from the client).
    pub(crate) fn from_http(request: &http::Request<Vec<u8>>) -> Self {
        let mut headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        if !request.headers().contains_key("host") {
            let authority = request.uri().authority().unwrap().as_str().to_owned();
            headers.push(("host".to_owned(), authority));
        }
        Self {
            method: request.method().as_str().to_owned(),
            path: request.uri().path().to_owned(),
            query: request.uri().query().map(str::to_owned),
            headers,
            body: request.body().clone(),
        }
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    pub(crate) fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    pub(crate) fn set_header(self, name: &str, value: &str) -> Self {
        self.without_header(name).header(name, value)
    }

    pub(crate) fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// This request signed by thingd's own signer with `params`, signing the headers `signed`.
    pub(crate) fn signed_by_thingd(self, signed: &[&str], params: &SigningParams) -> Self {
        let added = thingd_sigv4::sign(&self.parts(), signed, params).unwrap();
        added.into_iter().fold(self, |request, (name, value)| {
            request.set_header(name, &value)
        })
    }

    pub(crate) fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            payload: Payload::Bytes(&self.body),
        }
    }

    /// Verifies with `verifier` at `now`, the test key being the only one known.
    pub(crate) fn verify_at(
        &self,
        verifier: &Verifier,
        now: SystemTime,
    ) -> Result<Verified, Error> {
        self.verify_with(verifier, now, AKID, SECRET)
    }

    pub(crate) fn verify_with(
        &self,
        verifier: &Verifier,
        now: SystemTime,
        akid: &str,
        secret: &str,
    ) -> Result<Verified, Error> {
        let lookup = |id: &str| (id == akid).then(|| Secret::new(secret));
        verifier.verify(&self.parts(), now, &lookup)
    }

    /// The canonical request the verifier builds (from the mismatch a wrong secret causes).
    pub(crate) fn canonical_request(
        &self,
        verifier: &Verifier,
        now: SystemTime,
        akid: &str,
    ) -> String {
        match self.verify_with(verifier, now, akid, "not-the-secret") {
            Err(Error::SignatureMismatch {
                canonical_request, ..
            }) => canonical_request,
            other => panic!("expected a signature mismatch, got {other:?}"),
        }
    }
}

/// `b` replaced by another byte that changes any canonical form it is part of.
fn flip(b: u8) -> u8 {
    if b == b'g' { b'h' } else { b'g' }
}

fn flipped(s: &str, i: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    bytes[i] = flip(bytes[i]);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Checks that `request` verifies, and that changing any byte of its signature, signed headers,
/// body, path or query makes verification fail: with `InvalidSignatureException` where the
/// change can only be caught by the signature.
pub(crate) fn assert_verifies_and_detects_tampering(
    name: &str,
    request: &TestRequest,
    verifier: &Verifier,
    now: SystemTime,
    akid: &str,
    secret: &str,
) -> Verified {
    let verified = request
        .verify_with(verifier, now, akid, secret)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let check =
        |what: String, tampered: TestRequest, only_signature_catches_it: bool| match tampered
            .verify_with(verifier, now, akid, secret)
        {
            Ok(_) => panic!("{name}: tampered {what} verified"),
            Err(e) if only_signature_catches_it => assert!(
                matches!(
                    e,
                    Error::SignatureMismatch { .. } | Error::ContentSha256Mismatch
                ),
                "{name}: tampered {what}: {e:?}"
            ),
            Err(e) => assert_ne!(e.code(), "", "{name}: {what}"),
        };

    // The signature, wherever it is.
    let (sig_location, signature) = signature_of(request);
    for i in 0..signature.len() {
        let mut tampered = request.clone();
        let new = flipped_hex(&signature, i);
        match sig_location {
            SigLocation::Header => {
                let auth = request
                    .header_value("authorization")
                    .unwrap()
                    .replace(&signature, &new);
                tampered = tampered.set_header("authorization", &auth);
            }
            SigLocation::Query => {
                let q = request.query.as_deref().unwrap().replace(&signature, &new);
                tampered.query = Some(q);
            }
        }
        check(format!("signature byte {i}"), tampered, true);
    }

    // Every byte of every signed header.
    for name_signed in signed_headers(request) {
        for (index, (n, v)) in request.headers.iter().enumerate() {
            if !n.eq_ignore_ascii_case(&name_signed) {
                continue;
            }
            for i in 0..v.len() {
                if v.as_bytes()[i] == b' ' {
                    continue;
                }
                let mut tampered = request.clone();
                tampered.headers[index].1 = flipped(v, i);
                // A changed date or body hash may be caught before the signature is checked.
                let parsed_first = matches!(
                    name_signed.as_str(),
                    "x-amz-date" | "date" | "x-amz-content-sha256"
                );
                check(format!("header {n} byte {i}"), tampered, !parsed_first);
            }
        }
    }

    // Every byte of the body, and one added byte, unless the body is not signed.
    if !verified.unsigned_payload {
        for i in 0..request.body.len().min(256) {
            let mut tampered = request.clone();
            tampered.body[i] = flip(tampered.body[i]);
            check(format!("body byte {i}"), tampered, true);
        }
        let mut tampered = request.clone();
        tampered.body.push(b'x');
        check("body length".to_owned(), tampered, true);
    }

    // Every byte of the path.
    for i in 0..request.path.len() {
        let mut tampered = request.clone();
        tampered.path = flipped(&request.path, i);
        check(format!("path byte {i}"), tampered, true);
    }

    // Every byte of the query, and an added parameter.
    if let Some(query) = &request.query {
        // An unsigned session token (AWS IoT's WebSocket form) is not covered by the signature.
        let mut token = 0..0;
        let mut start = 0;
        for pair in query.split('&') {
            if pair.starts_with("X-Amz-Security-Token=") {
                token = start..start + pair.len();
            }
            start += pair.len() + 1;
        }
        for i in (0..query.len()).filter(|i| !token.contains(i)) {
            let mut tampered = request.clone();
            tampered.query = Some(flipped(query, i));
            check(
                format!("query byte {i}"),
                tampered,
                sig_location == SigLocation::Header,
            );
        }
    }
    let mut tampered = request.clone();
    tampered.query = Some(match &request.query {
        Some(q) => format!("{q}&extra=1"),
        None => "extra=1".to_owned(),
    });
    check("query parameter added".to_owned(), tampered, true);
    verified
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigLocation {
    Header,
    Query,
}

fn signature_of(request: &TestRequest) -> (SigLocation, String) {
    if let Some(auth) = request.header_value("authorization") {
        let sig = auth.rsplit("Signature=").next().unwrap();
        return (SigLocation::Header, sig.trim().to_owned());
    }
    let query = request.query.as_deref().unwrap();
    let sig = query
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Signature="))
        .unwrap();
    (SigLocation::Query, sig.to_owned())
}

fn flipped_hex(sig: &str, i: usize) -> String {
    let mut bytes = sig.as_bytes().to_vec();
    bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).unwrap()
}

fn signed_headers(request: &TestRequest) -> Vec<String> {
    let list = if let Some(auth) = request.header_value("authorization") {
        auth.split("SignedHeaders=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_owned()
    } else {
        let query = request.query.as_deref().unwrap();
        let raw = query
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
            .unwrap();
        raw.replace("%3B", ";").replace("%3b", ";")
    };
    list.split(';').map(str::to_owned).collect()
}
