//! AWS Signature Version 4 verification for thingd's AWS-compatible endpoints, without IO.
//!
//! The HTTP layer hands over a request it has received ([`RequestParts`]: method, raw path and
//! query, headers, body or body hash); a [`Verifier`] configured with the services and region it
//! serves says whether the request is signed by a known access key:
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use thingd_sigv4::{Payload, RequestParts, Secret, SigningParams, Verifier, sign};
//!
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_651_200); // 2026-11-26
//! let secret = Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
//!
//! // What a client sends (signed here with this crate's signer).
//! let mut headers = vec![("host".to_owned(), "127.0.0.1:8443".to_owned())];
//! let unsigned = RequestParts {
//!     method: "GET",
//!     path: "/things/my%3Athing",
//!     query: None,
//!     headers: &headers,
//!     payload: Payload::Bytes(b""),
//! };
//! let params = SigningParams {
//!     access_key_id: "AKIDEXAMPLE",
//!     secret: &secret,
//!     region: "us-east-1",
//!     service: "iot",
//!     time: now,
//!     unsigned_payload: false,
//!     content_sha256_header: false,
//! };
//! let added = sign(&unsigned, &["host"], &params)?;
//! headers.extend(added.into_iter().map(|(name, value)| (name.to_owned(), value)));
//!
//! // What the server does with it.
//! let verifier = Verifier::new("us-east-1", ["iot"]);
//! let received = RequestParts {
//!     method: "GET",
//!     path: "/things/my%3Athing",
//!     query: None,
//!     headers: &headers,
//!     payload: Payload::Bytes(b""),
//! };
//! let keys = |akid: &str| (akid == "AKIDEXAMPLE").then(|| secret.clone());
//! let verified = verifier.verify(&received, now, &keys)?;
//! assert_eq!(verified.access_key_id, "AKIDEXAMPLE");
//!
//! // Refusals map to the errors AWS answers with.
//! let nobody = |_: &str| None;
//! let refused = verifier.verify(&received, now, &nobody).unwrap_err().aws_error();
//! assert_eq!((refused.code, refused.status), ("UnrecognizedClientException", 403));
//! # Ok::<(), thingd_sigv4::Error>(())
//! ```
//!
//! When the secret comes from an asynchronous store, split the work: [`Verifier::prepare`] does
//! every check that needs no secret and names the access key; [`PreparedRequest::verify`]
//! finishes with the secret (or `None` if the key is unknown).
//!
//! Both forms of SigV4 are accepted: the `Authorization` header, and query-string
//! authentication (presigned URLs, e.g. MQTT over WebSocket `GET /mqtt?X-Amz-Algorithm=…`).
//! Canonicalisation follows what botocore and the AWS SDK for Rust actually sign (see
//! `canonical.rs`); [`sign`] and [`presign`] use the same code to sign requests.
//!
//! Session tokens (`X-Amz-Security-Token`) are not supported: thingd issues no temporary
//! credentials, so a request whose signature covers a token is refused. The one exception is a
//! presigned URL with a token that the signature does *not* cover, which AWS IoT's WebSocket
//! signers append after signing; see [`Verified::unsigned_session_token`].

#![warn(missing_docs)]

mod auth;
mod canonical;
mod crypto;
mod error;
mod sign;
mod time;
mod verify;

use std::collections::HashMap;
use std::fmt;

pub use error::{AwsError, Error};
pub use sign::{SigningParams, presign, sign};
pub use verify::{PreparedRequest, Verified, Verifier};

/// The parts of a received request that its signature covers.
///
/// Nothing is copied: the body is borrowed, or replaced by its SHA-256 when the HTTP layer
/// hashed it while reading.
#[derive(Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method, as received (`GET`, `POST` …).
    pub method: &'a str,
    /// The path, raw: still percent-encoded, exactly as in the request line (`/things/my%3Athing`).
    pub path: &'a str,
    /// The query string, raw, without the `?`; `None` when the request has none.
    pub query: Option<&'a str>,
    /// The request headers. For HTTP/2, the HTTP layer passes `:authority` as `host`.
    pub headers: &'a dyn Headers,
    /// The body, or its SHA-256.
    pub payload: Payload<'a>,
}

impl fmt::Debug for RequestParts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestParts")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

/// A request body, or its SHA-256 computed by the caller.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    /// The body (empty for none).
    Bytes(&'a [u8]),
    /// The SHA-256 digest of the body.
    Sha256([u8; 32]),
}

impl Payload<'_> {
    /// A payload given by the hex SHA-256 of the body (either case); `None` if `hex` is not 64
    /// hex digits.
    pub fn from_sha256_hex(hex: &str) -> Option<Payload<'static>> {
        let mut digest = [0u8; 32];
        (hex.len() == 64 && hex::decode_to_slice(hex, &mut digest).is_ok())
            .then_some(Payload::Sha256(digest))
    }

    /// The SHA-256 of the body.
    pub fn sha256(&self) -> [u8; 32] {
        match self {
            Payload::Bytes(bytes) => crypto::sha256(bytes),
            Payload::Sha256(digest) => *digest,
        }
    }
}

impl fmt::Debug for Payload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            Payload::Sha256(digest) => write!(f, "Sha256({})", hex::encode(digest)),
        }
    }
}

/// Read access to a request's headers.
///
/// Implemented for arrays, vectors and slices (`&&[…]`, as a `dyn Headers` must be sized) of
/// `(name, value)` pairs, names compared ASCII-case-insensitively; for [`HeaderFn`] closures;
/// and, with the `http` feature, for `http::HeaderMap`.
pub trait Headers {
    /// Calls `visit` with the value of every header named `name` (given in lowercase), in the
    /// order received.
    fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8]));
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for [(N, V)] {
    fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        for (n, v) in self {
            if n.as_ref().eq_ignore_ascii_case(name) {
                visit(v.as_ref());
            }
        }
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>, const K: usize> Headers for [(N, V); K] {
    fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        self[..].for_each_value(name, visit);
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for Vec<(N, V)> {
    fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        self[..].for_each_value(name, visit);
    }
}

impl<H: Headers + ?Sized> Headers for &H {
    fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        (**self).for_each_value(name, visit);
    }
}

#[cfg(feature = "http")]
impl Headers for http::HeaderMap {
    fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        for value in self.get_all(name) {
            visit(value.as_bytes());
        }
    }
}

/// Headers given by a closure with the signature of [`Headers::for_each_value`].
pub struct HeaderFn<F>(pub F);

impl<F: Fn(&str, &mut dyn FnMut(&[u8]))> Headers for HeaderFn<F> {
    fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        (self.0)(name, visit);
    }
}

/// A secret access key. Wiped from memory when dropped; never printed by `Debug`.
#[derive(Clone)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    /// Wraps a secret access key.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(zeroize::Zeroizing::new(secret.into()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Self {
        Self::new(secret)
    }
}

impl From<&str> for Secret {
    fn from(secret: &str) -> Self {
        Self::new(secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where secret access keys come from.
///
/// Implemented for closures `Fn(&str) -> Option<Secret>` and for maps from access key id to
/// secret.
pub trait SecretStore {
    /// The secret access key of `access_key_id`, or `None` if the key is unknown.
    fn secret_for(&self, access_key_id: &str) -> Option<Secret>;
}

impl<F: Fn(&str) -> Option<Secret>> SecretStore for F {
    fn secret_for(&self, access_key_id: &str) -> Option<Secret> {
        self(access_key_id)
    }
}

impl<S: std::hash::BuildHasher> SecretStore for HashMap<String, Secret, S> {
    fn secret_for(&self, access_key_id: &str) -> Option<Secret> {
        self.get(access_key_id).cloned()
    }
}

/// Where a request carries its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureLocation {
    /// The `Authorization` header.
    Header,
    /// Query parameters (`X-Amz-Signature=…`): a presigned URL.
    Query,
}

/// Bounds on what the verifier reads, so no input makes it do unbounded work. A request past a
/// bound is refused with an `IncompleteSignatureException`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Limits {
    /// The longest `Authorization` header (4 KiB).
    pub max_authorization_len: usize,
    /// The most signed headers (100).
    pub max_signed_headers: usize,
    /// The longest raw path (8 KiB).
    pub max_path_len: usize,
    /// The longest raw query string (16 KiB).
    pub max_query_len: usize,
    /// The most query parameters (1000).
    pub max_query_params: usize,
    /// The most bytes of signed header values, all headers together (64 KiB).
    pub max_signed_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_authorization_len: 4 * 1024,
            max_signed_headers: 100,
            max_path_len: 8 * 1024,
            max_query_len: 16 * 1024,
            max_query_params: 1000,
            max_signed_header_bytes: 64 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(headers: &dyn Headers, name: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        headers.for_each_value(name, &mut |v| out.push(v.to_vec()));
        out
    }

    #[test]
    fn header_sources() {
        let pairs = [("Host", "a"), ("X-Multi", "1"), ("x-multi", "2")];
        assert_eq!(values(&pairs, "host"), [b"a".to_vec()]);
        assert_eq!(values(&pairs, "x-multi"), [b"1".to_vec(), b"2".to_vec()]);
        assert_eq!(values(&&pairs[..], "x-multi").len(), 2);
        let owned: Vec<(String, Vec<u8>)> = vec![("host".into(), vec![0xff])];
        assert_eq!(values(&owned, "host"), [vec![0xff]]);
        let closure = HeaderFn(|name: &str, visit: &mut dyn FnMut(&[u8])| {
            if name == "host" {
                visit(b"h");
            }
        });
        assert_eq!(values(&closure, "host"), [b"h".to_vec()]);
        assert!(values(&closure, "date").is_empty());
    }

    #[cfg(feature = "http")]
    #[test]
    fn http_header_map() {
        let mut map = http::HeaderMap::new();
        map.append("x-multi", http::HeaderValue::from_static("1"));
        map.append("X-Multi", http::HeaderValue::from_static("2"));
        assert_eq!(values(&map, "x-multi"), [b"1".to_vec(), b"2".to_vec()]);
    }

    #[test]
    fn secrets_are_redacted() {
        let secret = Secret::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        let store: HashMap<String, Secret> = [("AKID".to_owned(), secret)].into();
        assert!(store.secret_for("AKID").is_some());
        assert!(store.secret_for("OTHER").is_none());
    }
}
