//! Properties: no input makes the verifier panic; whatever the SDK signs, thingd verifies.

use aws_sigv4::http_request::{SignableBody, SigningSettings};
use aws_smithy_http::label::{EncodingStrategy, fmt_string as label};
use aws_smithy_http::query::fmt_string as query_value;
use proptest::prelude::*;
use thingd_sigv4::{Error, Payload, RequestParts, Secret, Verifier};

use crate::support::{SECRET, TestRequest, at, aws_sigv4_sign, our_params, signing_time};

fn any_header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("authorization".to_owned()),
        Just("x-amz-date".to_owned()),
        Just("date".to_owned()),
        Just("host".to_owned()),
        Just("x-amz-content-sha256".to_owned()),
        Just("x-amz-security-token".to_owned()),
        "[a-zA-Z-]{1,12}",
    ]
}

/// Authorization values near the valid form, and arbitrary ones.
fn any_authorization() -> impl Strategy<Value = String> {
    let component = prop_oneof![
        "Credential=[A-Z0-9]{0,20}(/[0-9]{0,8}(/[a-z0-9-]{0,12}(/[a-z]{0,8}(/aws4_request)?)?)?)?",
        "SignedHeaders=[a-z;-]{0,30}",
        "Signature=[0-9a-fA-Fg]{0,70}",
        ".{0,20}",
    ];
    prop_oneof![
        (prop::collection::vec(component, 0..5), "[ ,\t]{0,3}").prop_map(|(parts, sep)| {
            format!("AWS4-HMAC-SHA256 {}", parts.join(&format!(",{sep}")))
        }),
        any::<String>(),
    ]
}

fn any_query() -> impl Strategy<Value = Option<String>> {
    let pair = prop_oneof![
        "X-Amz-(Algorithm|Credential|Date|Expires|SignedHeaders|Signature|Security-Token)=[A-Za-z0-9%/;+-]{0,40}",
        "[A-Za-z0-9%+=.~-]{0,20}",
        ".{0,10}",
    ];
    proptest::option::of(prop::collection::vec(pair, 0..8).prop_map(|p| p.join("&")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_requests_never_panic(
        method in "[A-Z]{0,7}",
        path in prop_oneof![".{0,40}", "(/[A-Za-z0-9%.]{0,6}){0,6}"],
        query in any_query(),
        authorization in proptest::option::of(any_authorization()),
        headers in prop::collection::vec((any_header_name(), prop::collection::vec(any::<u8>(), 0..40)), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..64),
        offset in -2000i64..2000,
    ) {
        let mut headers: Vec<(String, Vec<u8>)> = headers;
        if let Some(authorization) = authorization {
            headers.push(("authorization".to_owned(), authorization.into_bytes()));
        }
        let request = RequestParts {
            method: &method,
            path: &path,
            query: query.as_deref(),
            headers: &headers,
            payload: Payload::Bytes(&body),
        };
        let lookup = |_: &str| Some(Secret::new(SECRET));
        let verifier = Verifier::new("us-east-1", ["iot"]);
        if let Err(error) = verifier.verify(&request, at(offset), &lookup) {
            let aws = error.aws_error();
            prop_assert!(aws.status == 400 || aws.status == 403);
            prop_assert!(!aws.message.is_empty());
            prop_assert!(!aws.message.contains(SECRET));
        }
    }

    /// Whatever thing name, topic and query values the SDK encodes and signs, thingd verifies,
    /// in any order of the query parameters.
    #[test]
    fn sdk_signed_requests_verify(
        name in "\\PC{1,20}",
        topic in "[a-z/ +#$]{1,20}",
        values in prop::collection::vec("\\PC{0,12}", 0..4),
        greedy in any::<bool>(),
        reverse in any::<bool>(),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let strategy = if greedy { EncodingStrategy::Greedy } else { EncodingStrategy::Default };
        let path = format!("/things/{}/x/{}", label(&name, strategy), label(&topic, EncodingStrategy::Default));
        let mut pairs: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("k{i}={}", query_value(v)))
            .collect();
        let path_and_query = if pairs.is_empty() { path.clone() } else { format!("{path}?{}", pairs.join("&")) };
        let (instructions, _) = aws_sigv4_sign(
            "iot",
            ("POST", &path_and_query),
            &[],
            SignableBody::Bytes(&body),
            SigningSettings::default(),
            None,
        );
        let (headers, _) = instructions.into_parts();
        let mut request = TestRequest::new("POST", &path, None).body(&body);
        for h in &headers {
            request = request.header(h.name(), h.value());
        }
        if reverse {
            pairs.reverse();
        }
        if !pairs.is_empty() {
            request.query = Some(pairs.join("&"));
        }
        let verified = request.verify_at(&Verifier::new("us-east-1", ["iot"]), signing_time());
        prop_assert!(verified.is_ok(), "{path_and_query}: {verified:?}");
    }

    /// thingd's own signer and verifier agree on any raw path and query.
    #[test]
    fn own_signatures_verify(
        path in "/[!-~]{0,30}",
        query in proptest::option::of("[!-~]{0,30}"),
    ) {
        let signed = TestRequest::new("GET", &path, query.as_deref())
            .signed_by_thingd(&["host"], &our_params("us-east-1", "iot"));
        match signed.verify_at(&Verifier::new("us-east-1", ["iot"]), signing_time()) {
            Ok(_) => {}
            // A query that looks like query authentication is refused as ambiguous, or is too
            // malformed to be one.
            Err(e) => prop_assert!(
                query.as_deref().is_some_and(|q| q.contains("X-Amz-")),
                "{e:?}"
            ),
        }
    }
}

#[test]
fn error_display_is_never_empty() {
    let error = Error::TooLong {
        what: "path",
        limit: 1,
    };
    assert_eq!(error.to_string(), "path is longer than 1 bytes");
    assert_eq!(error.aws_error().message, "Path is longer than 1 bytes.");
}
