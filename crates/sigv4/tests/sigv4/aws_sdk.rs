//! Requests signed by aws-sigv4, the AWS SDK for Rust's signer, with URIs encoded as the SDK
//! encodes them (`aws_smithy_http::label` / `query`).

use std::time::Duration;

use aws_sigv4::http_request::{
    PayloadChecksumKind, SessionTokenMode, SignableBody, SignatureLocation, SigningSettings,
};
use aws_smithy_http::label::{EncodingStrategy, fmt_string as label};
use aws_smithy_http::query::fmt_string as query;
use thingd_sigv4::{Error, Verifier};

use crate::support::{
    AKID, HOST, SECRET, TestRequest, assert_verifies_and_detects_tampering, aws_sigv4_sign,
    signing_time,
};

/// How the SDK signs a request.
#[derive(Clone, Copy, Default)]
struct How {
    unsigned_payload: bool,
    content_sha256_header: bool,
    presign: Option<Duration>,
    session_token: Option<&'static str>,
    /// The session token is signed, as the SDK does for every service but AWS IoT's WebSocket
    /// signers, which add it after signing.
    session_token_signed: bool,
}

/// Signs like the SDK, then returns the request as the server receives it.
fn sdk_signed(
    service: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    how: How,
) -> TestRequest {
    let mut settings = SigningSettings::default();
    if how.content_sha256_header || how.unsigned_payload {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    if let Some(expires) = how.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
    }
    if how.session_token.is_some() && !how.session_token_signed {
        settings.session_token_mode = SessionTokenMode::Exclude;
    }
    let signable_body = if how.unsigned_payload {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(body)
    };
    let (instructions, _signature) = aws_sigv4_sign(
        service,
        (method, path_and_query),
        headers,
        signable_body,
        settings,
        how.session_token,
    );
    let uri = format!("http://{HOST}{path_and_query}");
    let mut builder = http::Request::builder().method(method).uri(uri.as_str());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(body.to_vec()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    TestRequest::from_http(&request)
}

/// `GET /mqtt` presigned like the SDK for AWS IoT's device gateway (the WebSocket URL), valid
/// for `expires_in` seconds.
fn presigned_mqtt(expires_in: u64, how: How) -> TestRequest {
    let how = How {
        presign: Some(Duration::from_secs(expires_in)),
        ..how
    };
    sdk_signed("iotdevicegateway", "GET", "/mqtt", &[], b"", how)
}

fn check(name: &str, verifier: &Verifier, request: &TestRequest) -> thingd_sigv4::Verified {
    assert_verifies_and_detects_tampering(name, request, verifier, signing_time(), AKID, SECRET)
}

#[test]
fn get_with_query() {
    let path = format!(
        "/things?attributeName={}&attributeValue={}&maxResults=5&nextToken={}",
        query("color"),
        query("dark blue+green/é"),
        query("token==/+"),
    );
    assert_eq!(
        path,
        "/things?attributeName=color&attributeValue=dark%20blue%2Bgreen%2F%C3%A9&maxResults=5&nextToken=token%3D%3D%2F%2B"
    );
    let request = sdk_signed("iot", "GET", &path, &[], b"", How::default());
    check(
        "list-things",
        &Verifier::new("us-east-1", ["iot"]),
        &request,
    );
}

#[test]
fn post_with_json_body() {
    let body = br#"{"attributePayload":{"attributes":{"color":"blue"}}}"#;
    let request = sdk_signed(
        "iot",
        "POST",
        &format!("/things/{}", label("my-thing", EncodingStrategy::Default)),
        &[("content-type", "application/json")],
        body,
        How::default(),
    );
    let verified = check(
        "create-thing",
        &Verifier::new("us-east-1", ["iot"]),
        &request,
    );
    assert!(!verified.unsigned_payload);
}

#[test]
fn paths_with_special_characters() {
    let verifier = Verifier::new("us-east-1", ["iot", "iotdata"]);
    for (name, value, expected_path) in [
        ("colon", "my:thing", "/things/my%3Athing"),
        ("space", "my thing", "/things/my%20thing"),
        ("plus", "a+b", "/things/a%2Bb"),
        ("percent", "100%", "/things/100%25"),
        ("slash", "a/b", "/things/a%2Fb"),
        ("unicode", "thé-€", "/things/th%C3%A9-%E2%82%AC"),
        (
            "reserved",
            "~!*'()$&,;=@",
            "/things/~%21%2A%27%28%29%24%26%2C%3B%3D%40",
        ),
    ] {
        let path = format!("/things/{}", label(value, EncodingStrategy::Default));
        assert_eq!(path, expected_path, "{name}");
        let request = sdk_signed("iot", "GET", &path, &[], b"", How::default());
        check(name, &verifier, &request);
    }

    let certificate = format!(
        "/certificates/{}",
        label(
            "2f1e9a6b4c1d8e7f6a5b4c3d2e1f0a9b",
            EncodingStrategy::Default
        )
    );
    let request = sdk_signed("iot", "GET", &certificate, &[], b"", How::default());
    check("certificate", &verifier, &request);

    // A non-greedy label (iot-data Publish `/topics/{topic}`): '/' inside it is encoded.
    let topic = format!(
        "/topics/{}?qos=1",
        label("a/b c", EncodingStrategy::Default)
    );
    assert_eq!(topic, "/topics/a%2Fb%20c?qos=1");
    let request = sdk_signed(
        "iotdata",
        "POST",
        &topic,
        &[],
        b"{\"temp\":21}",
        How::default(),
    );
    check("publish", &verifier, &request);

    // A greedy label keeps '/' as a separator.
    let greedy = format!("/things/x/{}", label("a/b c/d:e", EncodingStrategy::Greedy));
    assert_eq!(greedy, "/things/x/a/b%20c/d%3Ae");
    let request = sdk_signed("iot", "GET", &greedy, &[], b"", How::default());
    check("greedy", &verifier, &request);
}

#[test]
fn unsigned_payload() {
    let request = sdk_signed(
        "iotdata",
        "POST",
        "/topics/t?qos=0",
        &[],
        b"payload",
        How {
            unsigned_payload: true,
            ..How::default()
        },
    );
    assert_eq!(
        request.header_value("x-amz-content-sha256"),
        Some("UNSIGNED-PAYLOAD")
    );
    let verifier = Verifier::new("us-east-1", ["iotdata"]);
    let verified = check("unsigned", &verifier, &request);
    assert!(verified.unsigned_payload);
    // The body is not covered.
    let changed = request.clone().body(b"other payload");
    assert!(changed.verify_at(&verifier, signing_time()).is_ok());
    // Unless the verifier requires signed payloads.
    assert_eq!(
        request.verify_at(&verifier.clone().unsigned_payload(false), signing_time()),
        Err(Error::UnsignedPayloadNotAccepted)
    );
}

#[test]
fn content_sha256_header() {
    let request = sdk_signed(
        "iot",
        "PUT",
        "/things/t",
        &[("content-type", "application/json")],
        b"{}",
        How {
            content_sha256_header: true,
            ..How::default()
        },
    );
    assert!(request.header_value("x-amz-content-sha256").is_some());
    let verifier = Verifier::new("us-east-1", ["iot"]);
    check("content-sha256", &verifier, &request);
    assert_eq!(
        request
            .clone()
            .body(b"{ }")
            .verify_at(&verifier, signing_time()),
        Err(Error::ContentSha256Mismatch)
    );
}

#[test]
fn presigned_url() {
    let request = presigned_mqtt(300, How::default());
    assert!(request.header_value("authorization").is_none());
    let verifier = Verifier::new("us-east-1", ["iotdata", "iotdevicegateway"]);
    let verified = check("presigned", &verifier, &request);
    assert_eq!(verified.location, thingd_sigv4::SignatureLocation::Query);
    assert_eq!(
        verified.expires_at,
        Some(signing_time() + Duration::from_secs(300))
    );
    assert!(!verified.unsigned_session_token);
}

#[test]
fn presigned_url_with_session_token_added_after_signing() {
    let request = presigned_mqtt(
        300,
        How {
            session_token: Some("FwoGZXIvYXdzEJr//////////wEaDGV4YW1wbGU+token=="),
            ..How::default()
        },
    );
    let query = request.query.as_deref().unwrap();
    assert!(query.contains("X-Amz-Security-Token="), "{query}");
    let verifier = Verifier::new("us-east-1", ["iotdevicegateway"]);
    let verified = request.verify_at(&verifier, signing_time()).unwrap();
    assert!(verified.unsigned_session_token);
    // The token is not covered by the signature: changing it changes nothing.
    let mut changed = request.clone();
    changed.query = Some(query.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x"));
    assert!(changed.verify_at(&verifier, signing_time()).is_ok());
}

#[test]
fn presigned_url_with_signed_session_token_is_refused() {
    let request = presigned_mqtt(
        60,
        How {
            session_token: Some("token"),
            session_token_signed: true,
            ..How::default()
        },
    );
    assert_eq!(
        request.verify_at(
            &Verifier::new("us-east-1", ["iotdevicegateway"]),
            signing_time()
        ),
        Err(Error::SessionTokenNotSupported)
    );
}

#[test]
fn header_session_token_is_refused() {
    let request = sdk_signed(
        "iot",
        "GET",
        "/things",
        &[],
        b"",
        How {
            session_token: Some("token"),
            session_token_signed: true,
            ..How::default()
        },
    );
    let error = request
        .verify_at(&Verifier::new("us-east-1", ["iot"]), signing_time())
        .unwrap_err();
    assert_eq!(error, Error::SessionTokenNotSupported);
    assert_eq!(error.aws_error().code, "UnrecognizedClientException");
}
