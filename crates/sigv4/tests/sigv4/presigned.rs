//! Presigned URLs: expiry, the AWS IoT WebSocket form (no X-Amz-Expires, a session token
//! appended after signing), malformed parameters.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use thingd_sigv4::{Error, SignatureLocation, Verifier, presign};

use crate::support::{AKID, HOST, SECRET, TestRequest, at, our_params, signing_time};

fn gateway() -> Verifier {
    Verifier::new("us-east-1", ["iotdata", "iotdevicegateway"])
}

/// `GET /mqtt` presigned by thingd's signer.
fn presigned(expires: Option<Duration>) -> TestRequest {
    let request = TestRequest::new("GET", "/mqtt", None);
    let params = our_params("us-east-1", "iotdevicegateway");
    let query = presign(&request.parts(), &["host"], &params, expires).unwrap();
    TestRequest {
        query: Some(query),
        ..request
    }
}

#[test]
fn expiry() {
    let request = presigned(Some(Duration::from_secs(300)));
    for offset in [-900, 0, 299, 300] {
        let verified = request.verify_at(&gateway(), at(offset)).unwrap();
        assert_eq!(verified.location, SignatureLocation::Query);
        assert_eq!(verified.expires_at, Some(at(300)));
    }
    let error = request.verify_at(&gateway(), at(301)).unwrap_err();
    assert_eq!(
        error,
        Error::PresignedUrlExpired {
            request_time: "20261126T000000Z".into(),
            expires_seconds: 300,
            expired_at: "20261126T000500Z".into(),
            now: "20261126T000501Z".into(),
        }
    );
    assert_eq!(error.aws_error().code, "InvalidSignatureException");
    assert!(matches!(
        request.verify_at(&gateway(), at(-901)),
        Err(Error::SignatureNotYetCurrent { .. })
    ));
    // A week is the longest.
    let week = presigned(Some(Duration::from_secs(604_800)));
    assert!(week.verify_at(&gateway(), at(604_800)).is_ok());
    assert!(matches!(
        week.verify_at(&gateway(), at(604_801)),
        Err(Error::PresignedUrlExpired { .. })
    ));
}

#[test]
fn malformed_expires() {
    let request = presigned(Some(Duration::from_secs(300)));
    for bad in [
        "0",
        "604801",
        "-1",
        "+300",
        "3e2",
        "",
        "99999999999999999999",
    ] {
        let mut changed = request.clone();
        changed.query = Some(
            request
                .query
                .as_deref()
                .unwrap()
                .replace("X-Amz-Expires=300", &format!("X-Amz-Expires={bad}")),
        );
        assert_eq!(
            changed.verify_at(&gateway(), signing_time()),
            Err(Error::MalformedExpires { value: bad.into() }),
            "{bad}"
        );
    }
}

#[test]
fn without_expires_the_clock_skew_applies() {
    let request = presigned(None);
    assert!(!request.query.as_deref().unwrap().contains("X-Amz-Expires"));
    let verified = request.verify_at(&gateway(), at(900)).unwrap();
    assert_eq!(verified.expires_at, None);
    assert!(matches!(
        request.verify_at(&gateway(), at(901)),
        Err(Error::SignatureExpired { .. })
    ));
}

/// A port of `prepareWebSocketUrl`/`signUrl` of aws-iot-device-sdk-js (`device/index.js`): a
/// hand-written canonical query without X-Amz-Expires, the SHA-256 of an empty payload, and
/// the session token appended after X-Amz-Signature.
fn aws_iot_js_sdk_url(session_token: Option<&str>) -> String {
    let hmac = |key: &[u8], data: &str| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    let now = "20261126T000000Z";
    let today = "20261126";
    let (region, service) = ("us-east-1", "iotdevicegateway");
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AKID}%2F{today}%2F{region}%2F{service}%2Faws4_request&X-Amz-Date={now}&X-Amz-SignedHeaders=host"
    );
    let canonical_request = format!(
        "GET\n/mqtt\n{query}\nhost:{HOST}\n\nhost\n{}",
        hex::encode(Sha256::digest(b""))
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{now}\n{today}/{region}/{service}/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{SECRET}").as_bytes(), today);
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex::encode(hmac(&key, &string_to_sign));
    let mut url = format!("{query}&X-Amz-Signature={signature}");
    if let Some(token) = session_token {
        let mut encoded = String::new();
        for b in token.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        url.push_str(&format!("&X-Amz-Security-Token={encoded}"));
    }
    url
}

#[test]
fn aws_iot_websocket_url_with_trailing_session_token() {
    let plain = TestRequest::new("GET", "/mqtt", Some(&aws_iot_js_sdk_url(None)));
    let verified = plain.verify_at(&gateway(), signing_time()).unwrap();
    assert!(!verified.unsigned_session_token);
    assert_eq!(verified.service, "iotdevicegateway");

    let with_token = TestRequest::new(
        "GET",
        "/mqtt",
        Some(&aws_iot_js_sdk_url(Some(
            "IQoJb3JpZ2luX2VjEJr//////////wEaCXVz+token==",
        ))),
    );
    let verified = with_token.verify_at(&gateway(), signing_time()).unwrap();
    assert!(verified.unsigned_session_token);
    assert_eq!(verified.expires_at, None);
    crate::support::assert_verifies_and_detects_tampering(
        "aws-iot-js-sdk",
        &with_token,
        &gateway(),
        signing_time(),
        AKID,
        SECRET,
    );

    // Twice is refused.
    let mut twice = with_token.clone();
    twice.query = Some(format!("{}&X-Amz-Security-Token=x", twice.query.unwrap()));
    assert_eq!(
        twice.verify_at(&gateway(), signing_time()),
        Err(Error::DuplicateParameter {
            name: "X-Amz-Security-Token"
        })
    );
    // A token header is refused even with query authentication.
    assert_eq!(
        with_token
            .clone()
            .header("X-Amz-Security-Token", "t")
            .verify_at(&gateway(), signing_time()),
        Err(Error::SessionTokenNotSupported)
    );
}

#[test]
fn presigned_urls_can_be_refused() {
    let request = presigned(Some(Duration::from_secs(60)));
    let error = request
        .verify_at(&gateway().presigned_urls(false), signing_time())
        .unwrap_err();
    assert_eq!(error, Error::PresignedNotAccepted);
    assert_eq!(
        error.aws_error().code,
        "MissingAuthenticationTokenException"
    );
}

#[test]
fn missing_and_duplicate_parameters() {
    let request = presigned(Some(Duration::from_secs(60)));
    let query = request.query.clone().unwrap();
    let without = |names: &[&str]| {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|p| !names.iter().any(|n| p.starts_with(&format!("{n}="))))
            .collect();
        TestRequest {
            query: Some(kept.join("&")),
            ..request.clone()
        }
    };
    let missing = |names: &[&'static str]| Error::MissingParameters {
        location: SignatureLocation::Query,
        names: names.to_vec(),
    };
    for (removed, expected) in [
        (&["X-Amz-Algorithm"][..], missing(&["X-Amz-Algorithm"])),
        (
            &["X-Amz-Date", "X-Amz-SignedHeaders"][..],
            missing(&["X-Amz-Date", "X-Amz-SignedHeaders"]),
        ),
        (&["X-Amz-Signature"][..], missing(&["X-Amz-Signature"])),
        (
            &[
                "X-Amz-Algorithm",
                "X-Amz-Signature",
                "X-Amz-Date",
                "X-Amz-SignedHeaders",
            ][..],
            missing(&[
                "X-Amz-Algorithm",
                "X-Amz-Signature",
                "X-Amz-Date",
                "X-Amz-SignedHeaders",
            ]),
        ),
    ] {
        let error = without(removed)
            .verify_at(&gateway(), signing_time())
            .unwrap_err();
        assert_eq!(error, expected, "{removed:?}");
        assert_eq!(error.aws_error().status, 400);
    }
    assert_eq!(
        missing(&["X-Amz-Date"]).aws_error().message,
        "AWS query-string parameters must include 'X-Amz-Date'."
    );
    let duplicate = TestRequest {
        query: Some(format!("{query}&X-Amz-Signature={}", "0".repeat(64))),
        ..request.clone()
    };
    assert_eq!(
        duplicate.verify_at(&gateway(), signing_time()),
        Err(Error::DuplicateParameter {
            name: "X-Amz-Signature"
        })
    );
    let other_algorithm = TestRequest {
        query: Some(query.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")),
        ..request.clone()
    };
    assert_eq!(
        other_algorithm.verify_at(&gateway(), signing_time()),
        Err(Error::UnsupportedAlgorithm {
            algorithm: "AWS4-ECDSA-P256-SHA256".into()
        })
    );
}
