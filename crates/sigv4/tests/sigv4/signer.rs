//! thingd's signer produces the signatures aws-sigv4 produces, and its requests verify.

use std::time::Duration;

use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignatureLocation, SigningSettings,
};
use thingd_sigv4::{Payload, RequestParts, SigningParams, Verifier, presign};

use crate::support::{TestRequest, aws_sigv4_sign, our_params, signing_time};

fn ours(unsigned_payload: bool, content_sha256_header: bool) -> SigningParams<'static> {
    SigningParams {
        unsigned_payload,
        content_sha256_header,
        ..our_params("us-east-1", "iot")
    }
}

/// aws-sigv4's headers for a request (it signs every header given, plus host and x-amz-date).
fn sdk_headers(
    (method, path_and_query): (&str, &str),
    headers: &[(&str, &str)],
    body: &[u8],
    settings: SigningSettings,
    unsigned: bool,
) -> Vec<(String, String)> {
    let body = if unsigned {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(body)
    };
    let request = (method, path_and_query);
    let (instructions, _) = aws_sigv4_sign("iot", request, headers, body, settings, None);
    let (headers, _params) = instructions.into_parts();
    headers
        .iter()
        .map(|h| (h.name().to_owned(), h.value().to_owned()))
        .collect()
}

#[test]
fn same_authorization_header_as_aws_sigv4() {
    for (method, path, query, headers, body, unsigned, content_header) in [
        (
            "GET",
            "/things",
            Some("maxResults=5&nextToken=a%2Fb"),
            vec![],
            &b""[..],
            false,
            false,
        ),
        (
            "POST",
            "/things/my%3Athing",
            None,
            vec![
                ("content-type", "application/json"),
                ("x-amzn-principal", "arn:aws:iot:x"),
            ],
            &b"{\"a\":1}"[..],
            false,
            false,
        ),
        (
            "PUT",
            "/topics/a%2Fb%20c",
            Some("qos=1"),
            vec![],
            &b"payload"[..],
            true,
            false,
        ),
        (
            "PUT",
            "/things/t",
            None,
            vec![("x-custom", "  a   b ")],
            &b"{}"[..],
            false,
            true,
        ),
    ] {
        let path_and_query = match query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        let mut settings = SigningSettings::default();
        if unsigned || content_header {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let request = (method, path_and_query.as_str());
        let expected = sdk_headers(request, &headers, body, settings, unsigned);

        let mut request = TestRequest::new(method, path, query).body(body);
        for (n, v) in &headers {
            request = request.header(n, v);
        }
        let mut names = vec!["host"];
        names.extend(headers.iter().map(|(n, _)| *n));
        let added =
            thingd_sigv4::sign(&request.parts(), &names, &ours(unsigned, content_header)).unwrap();
        let find = |list: &[(String, String)], name: &str| {
            list.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
        };
        let added: Vec<(String, String)> =
            added.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        for name in ["authorization", "x-amz-date", "x-amz-content-sha256"] {
            assert_eq!(
                find(&added, name),
                find(&expected, name),
                "{method} {path}: {name}"
            );
        }

        let signed = added
            .into_iter()
            .fold(request, |r, (n, v)| r.set_header(&n, &v));
        let verified = signed
            .verify_at(&Verifier::new("us-east-1", ["iot"]), signing_time())
            .unwrap();
        assert_eq!(verified.unsigned_payload, unsigned);
    }
}

#[test]
fn same_presigned_signature_as_aws_sigv4() {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(3600));
    let (_, sdk_signature) = aws_sigv4_sign(
        "iot",
        ("GET", "/mqtt?clientId=dev%201"),
        &[],
        SignableBody::Bytes(b""),
        settings,
        None,
    );

    let request = TestRequest::new("GET", "/mqtt", Some("clientId=dev%201"));
    let query = presign(
        &request.parts(),
        &["host"],
        &ours(false, false),
        Some(Duration::from_secs(3600)),
    )
    .unwrap();
    assert!(query.starts_with("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTHINGDEXAMPLE%2F20261126%2Fus-east-1%2Fiot%2Faws4_request&X-Amz-Date=20261126T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&clientId=dev%201&X-Amz-Signature="), "{query}");
    assert!(query.ends_with(&format!("&X-Amz-Signature={sdk_signature}")));
    let presigned = TestRequest {
        query: Some(query),
        ..request
    };
    assert!(
        presigned
            .verify_at(&Verifier::new("us-east-1", ["iot"]), signing_time())
            .is_ok()
    );
}

#[test]
fn signer_rejects_bad_input() {
    let request = TestRequest::new("GET", "/things", None);
    assert_eq!(
        thingd_sigv4::sign(&request.parts(), &["x-amz-date"], &ours(false, false)),
        Err(thingd_sigv4::Error::HostNotSigned)
    );
    assert!(
        thingd_sigv4::sign(&request.parts(), &["host", "bad name"], &ours(false, false)).is_err()
    );
    assert!(matches!(
        presign(
            &request.parts(),
            &["host"],
            &ours(false, false),
            Some(Duration::from_secs(604_801))
        ),
        Err(thingd_sigv4::Error::MalformedExpires { .. })
    ));
    let no_host = RequestParts {
        headers: &[("x", "y")],
        payload: Payload::Bytes(b""),
        ..request.parts()
    };
    assert_eq!(
        thingd_sigv4::sign(&no_host, &["host"], &ours(false, false)),
        Err(thingd_sigv4::Error::MissingHost)
    );
}
