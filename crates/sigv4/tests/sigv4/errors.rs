//! Refusals: clock skew, scope, unknown keys, malformed signatures, and the AWS errors they map
//! to.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thingd_sigv4::{Error, Limits, Payload, RequestParts, Secret, SignatureLocation, Verifier};

use crate::support::{AKID, SECRET, TestRequest, at, our_params, signing_time};

/// `GET /things` signed by thingd's signer for `region` and `service`.
fn signed(region: &str, service: &str) -> TestRequest {
    TestRequest::new("GET", "/things", Some("maxResults=5"))
        .signed_by_thingd(&["host"], &our_params(region, service))
}

fn iot() -> Verifier {
    Verifier::new("us-east-1", ["iot"])
}

#[test]
fn clock_skew_of_15_minutes() {
    let request = signed("us-east-1", "iot");
    for offset in [-900, -1, 0, 1, 900] {
        assert!(request.verify_at(&iot(), at(offset)).is_ok(), "{offset}");
    }
    let late = request.verify_at(&iot(), at(901)).unwrap_err();
    assert_eq!(
        late,
        Error::SignatureExpired {
            request_time: "20261126T000000Z".into(),
            now: "20261126T001501Z".into(),
            skew_minutes: 15,
        }
    );
    let aws = request.verify_at(&iot(), at(1800)).unwrap_err().aws_error();
    assert_eq!(aws.code, "InvalidSignatureException");
    assert_eq!(aws.status, 400);
    assert_eq!(
        aws.message,
        "Signature expired: 20261126T000000Z is now earlier than 20261126T001500Z (20261126T003000Z - 15 min.)"
    );
    let early = request.verify_at(&iot(), at(-901)).unwrap_err();
    assert!(
        matches!(early, Error::SignatureNotYetCurrent { .. }),
        "{early:?}"
    );
    assert_eq!(
        early.aws_error().message,
        "Signature not yet current: 20261126T000000Z is still later than 20261125T235959Z (20261125T234459Z + 15 min.)"
    );
    // A verifier with another tolerance.
    let strict = iot().max_clock_skew(std::time::Duration::from_secs(60));
    assert!(request.verify_at(&strict, at(60)).is_ok());
    assert!(matches!(
        request.verify_at(&strict, at(61)),
        Err(Error::SignatureExpired {
            skew_minutes: 1,
            ..
        })
    ));
}

#[test]
fn wrong_region() {
    let request = signed("us-west-2", "iot");
    let error = request.verify_at(&iot(), signing_time()).unwrap_err();
    assert_eq!(
        error,
        Error::WrongRegion {
            region: "us-west-2".into(),
            expected: "us-east-1".into()
        }
    );
    let aws = error.aws_error();
    assert_eq!((aws.code, aws.status), ("InvalidSignatureException", 403));
    assert_eq!(
        aws.message,
        "Credential should be scoped to a valid region, not 'us-west-2'. "
    );
    let verified = request
        .verify_at(&iot().any_region(), signing_time())
        .unwrap();
    assert_eq!(verified.region, "us-west-2");
}

#[test]
fn wrong_service() {
    let request = signed("us-east-1", "iotdata");
    let error = request.verify_at(&iot(), signing_time()).unwrap_err();
    assert_eq!(
        error,
        Error::WrongService {
            service: "iotdata".into(),
            expected: vec!["iot".into()]
        }
    );
    assert_eq!(
        error.aws_error().message,
        "Credential should be scoped to correct service: 'iot'. "
    );
    let data = Verifier::new("us-east-1", ["iotdata", "iotdevicegateway"]);
    assert_eq!(
        request.verify_at(&data, signing_time()).unwrap().service,
        "iotdata"
    );
    assert!(matches!(
        signed("us-east-1", "iot").verify_at(&data, signing_time()),
        Err(Error::WrongService { .. })
    ));
}

#[test]
fn unknown_access_key() {
    let request = signed("us-east-1", "iot");
    let error = request
        .verify_with(&iot(), signing_time(), "SOMEONEELSE", SECRET)
        .unwrap_err();
    assert_eq!(
        error,
        Error::UnknownAccessKey {
            access_key_id: AKID.into()
        }
    );
    let aws = error.aws_error();
    assert_eq!((aws.code, aws.status), ("UnrecognizedClientException", 403));
    assert_eq!(
        aws.message,
        "The security token included in the request is invalid."
    );
}

#[test]
fn wrong_secret() {
    let request = signed("us-east-1", "iot");
    let error = request
        .verify_with(&iot(), signing_time(), AKID, "another secret")
        .unwrap_err();
    let aws = error.aws_error();
    assert_eq!((aws.code, aws.status), ("InvalidSignatureException", 403));
    assert!(aws.message.starts_with(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service documentation \
         for details.\n\nThe Canonical String for this request should have been\n'GET\n/things\nmaxResults=5\nhost:127.0.0.1:8443\n"
    ), "{}", aws.message);
    assert!(aws.message.contains(
        "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20261126T000000Z\n20261126/us-east-1/iot/aws4_request\n"
    ));
    // Neither the secret nor the right signature leak.
    let good_signature = signature_of(&request);
    let wrong = request
        .clone()
        .set_header(
            "authorization",
            &request
                .header_value("authorization")
                .unwrap()
                .replace(&good_signature, &"0".repeat(64)),
        )
        .verify_at(&iot(), signing_time())
        .unwrap_err();
    for text in [
        format!("{wrong:?}"),
        wrong.to_string(),
        wrong.aws_error().message,
        format!("{:?}", wrong.aws_error()),
    ] {
        assert!(!text.contains(&good_signature), "{text}");
        assert!(!text.contains(SECRET), "{text}");
    }
    assert_eq!(format!("{:?}", Secret::new(SECRET)), "Secret(<redacted>)");
}

fn signature_of(request: &TestRequest) -> String {
    request
        .header_value("authorization")
        .unwrap()
        .rsplit("Signature=")
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn host_must_be_signed_and_present() {
    let request = signed("us-east-1", "iot");
    let auth = request.header_value("authorization").unwrap().to_owned();
    let unsigned_host = request.clone().set_header(
        "authorization",
        &auth.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date"),
    );
    let error = unsigned_host.verify_at(&iot(), signing_time()).unwrap_err();
    assert_eq!(error, Error::HostNotSigned);
    assert_eq!(
        (error.aws_error().code, error.aws_error().status),
        ("IncompleteSignatureException", 400)
    );
    assert_eq!(
        error.aws_error().message,
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );
    assert_eq!(
        request
            .clone()
            .without_header("host")
            .verify_at(&iot(), signing_time()),
        Err(Error::MissingHost)
    );
    assert_eq!(
        request
            .clone()
            .set_header("host", "   ")
            .verify_at(&iot(), signing_time()),
        Err(Error::MissingHost)
    );
}

#[test]
fn scope_date_must_be_the_request_date() {
    let request = signed("us-east-1", "iot");
    let auth = request.header_value("authorization").unwrap().to_owned();
    let error = request
        .clone()
        .set_header("authorization", &auth.replace("/20261126/", "/20261125/"))
        .verify_at(&iot(), signing_time())
        .unwrap_err();
    assert_eq!(
        error.aws_error().message,
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261125' != '20261126', from '20261126T000000Z'."
    );
}

#[test]
fn no_authentication_at_all() {
    let request = TestRequest::new("GET", "/things", None);
    let error = request.verify_at(&iot(), signing_time()).unwrap_err();
    assert_eq!(error, Error::MissingAuthentication);
    let aws = error.aws_error();
    assert_eq!(
        (aws.code, aws.status, aws.message.as_str()),
        (
            "MissingAuthenticationTokenException",
            403,
            "Missing Authentication Token"
        )
    );
    // Query parameters that are not SigV4's are no authentication either.
    let request = TestRequest::new("GET", "/mqtt", Some("x-amz-customauthorizer-name=a"));
    assert_eq!(
        request.verify_at(&iot(), signing_time()),
        Err(Error::MissingAuthentication)
    );
}

#[test]
fn malformed_authorization_headers() {
    let sig = "a".repeat(64);
    let cred = "AKIDTHINGDEXAMPLE/20261126/us-east-1/iot/aws4_request";
    let missing = |names: &[&'static str]| Error::MissingParameters {
        location: SignatureLocation::Header,
        names: names.to_vec(),
    };
    let cases: Vec<(String, Error)> = vec![
        (
            String::new(),
            Error::UnsupportedAlgorithm {
                algorithm: String::new(),
            },
        ),
        (
            "Bearer abc".into(),
            Error::UnsupportedAlgorithm {
                algorithm: "Bearer".into(),
            },
        ),
        (
            format!(
                "AWS4-ECDSA-P256-SHA256 Credential={cred}, SignedHeaders=host, Signature={sig}"
            ),
            Error::UnsupportedAlgorithm {
                algorithm: "AWS4-ECDSA-P256-SHA256".into(),
            },
        ),
        (
            "AWS4-HMAC-SHA256".into(),
            missing(&["Credential", "Signature", "SignedHeaders"]),
        ),
        (
            format!("AWS4-HMAC-SHA256 Credential={cred}"),
            missing(&["Signature", "SignedHeaders"]),
        ),
        (
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host"),
            missing(&["Signature"]),
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature={sig}, Signature={sig}"
            ),
            Error::DuplicateParameter { name: "Signature" },
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={cred}, Credential={cred}, SignedHeaders=host, Signature={sig}"
            ),
            Error::DuplicateParameter { name: "Credential" },
        ),
        (
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature={sig},"),
            Error::EmptyAuthorizationComponent,
        ),
        (
            format!("AWS4-HMAC-SHA256 Credential={cred},, SignedHeaders=host, Signature={sig}"),
            Error::EmptyAuthorizationComponent,
        ),
        (
            format!("AWS4-HMAC-SHA256 Credential={cred} SignedHeaders=host, Signature={sig}"),
            missing(&["SignedHeaders"]),
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential=AKID /20261126/us-east-1/iot/aws4_request, SignedHeaders=host, Signature={sig}"
            ),
            Error::MalformedCredential {
                credential: "AKID /20261126/us-east-1/iot/aws4_request".into(),
                reason: "the access key id must be 1 to 128 letters, digits or '_'",
            },
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host, Signature={sig}"),
            Error::MalformedAuthorizationComponent {
                component: cred.into(),
            },
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature={sig}, Extra=1"
            ),
            Error::UnknownAuthorizationComponent {
                name: "Extra".into(),
            },
        ),
        (
            format!("AWS4-HMAC-SHA256 credential={cred}, SignedHeaders=host, Signature={sig}"),
            Error::UnknownAuthorizationComponent {
                name: "credential".into(),
            },
        ),
        (
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature=abc"),
            Error::MalformedSignature,
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature={}",
                "g".repeat(64)
            ),
            Error::MalformedSignature,
        ),
        (
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=, Signature={sig}"),
            Error::MalformedSignedHeaders {
                reason: "the list is empty",
            },
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=x-amz-date;host, Signature={sig}"
            ),
            Error::MalformedSignedHeaders {
                reason: "names must be sorted and unique",
            },
        ),
        (
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=Host, Signature={sig}"),
            Error::MalformedSignedHeaders {
                reason: "each name must be a lowercase header name, separated by ';'",
            },
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=x-amz-date, Signature={sig}"
            ),
            Error::HostNotSigned,
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host;{}, Signature={sig}",
                (0..100)
                    .map(|i| format!("x{i:03}"))
                    .collect::<Vec<_>>()
                    .join(";")
            ),
            Error::TooManySignedHeaders { limit: 100 },
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature={}",
                "a".repeat(5000)
            ),
            Error::TooLong {
                what: "Authorization header",
                limit: 4096,
            },
        ),
    ];
    for (authorization, expected) in cases {
        let request = TestRequest::new("GET", "/things", None)
            .header("x-amz-date", "20261126T000000Z")
            .header("authorization", &authorization);
        let error = request.verify_at(&iot(), signing_time()).unwrap_err();
        assert_eq!(error, expected, "{authorization:?}");
        let aws = error.aws_error();
        assert_eq!(
            aws.code, "IncompleteSignatureException",
            "{authorization:?}"
        );
        assert_eq!(aws.status, 400, "{authorization:?}");
    }
}

#[test]
fn authorization_components_parse_with_or_without_spaces() {
    let request = signed("us-east-1", "iot");
    let auth = request.header_value("authorization").unwrap().to_owned();
    let (algorithm, rest) = auth.split_once(' ').unwrap();
    let parts: Vec<&str> = rest.split(", ").collect();
    for variant in [
        format!("{algorithm} {}", parts.join(",")),
        format!("{algorithm}   {}", parts.join(" ,  ")),
        format!("{algorithm} {},{},{}", parts[2], parts[0], parts[1]),
        format!("{algorithm}\t{}", parts.join(",\t")),
    ] {
        let varied = request.clone().set_header("authorization", &variant);
        assert!(
            varied.verify_at(&iot(), signing_time()).is_ok(),
            "{variant}"
        );
    }
}

#[test]
fn missing_or_malformed_request_time() {
    let request = signed("us-east-1", "iot");
    let no_date = request.clone().without_header("x-amz-date");
    let error = no_date.verify_at(&iot(), signing_time()).unwrap_err();
    assert_eq!(error, Error::MissingDate);
    assert_eq!(
        error.aws_error().message,
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    );
    for bad in ["2026-11-26T00:00:00Z", "20261126T000000", "yesterday"] {
        let error = request
            .clone()
            .set_header("x-amz-date", bad)
            .verify_at(&iot(), signing_time())
            .unwrap_err();
        assert_eq!(error, Error::MalformedDate { value: bad.into() });
        assert_eq!(error.aws_error().code, "IncompleteSignatureException");
    }
    assert_eq!(
        request
            .clone()
            .header("x-amz-date", "20261126T000000Z")
            .verify_at(&iot(), signing_time()),
        Err(Error::DuplicateHeader { name: "x-amz-date" })
    );
    assert_eq!(
        request
            .clone()
            .header("Authorization", "AWS4-HMAC-SHA256")
            .verify_at(&iot(), signing_time()),
        Err(Error::DuplicateHeader {
            name: "authorization"
        })
    );
}

/// Signs `request` with the string to sign the verifier reports, using a signing key derived
/// here (independently of the crate).
fn sign_via_mismatch(request: TestRequest, verifier: &Verifier) -> TestRequest {
    let Err(Error::SignatureMismatch { string_to_sign, .. }) =
        request.verify_with(verifier, signing_time(), AKID, "wrong")
    else {
        panic!("expected a mismatch")
    };
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    };
    let scope: Vec<&str> = string_to_sign.lines().nth(2).unwrap().split('/').collect();
    let mut key = hmac(format!("AWS4{SECRET}").as_bytes(), scope[0].as_bytes());
    for part in &scope[1..] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    let auth = request.header_value("authorization").unwrap();
    let (unsigned, _) = auth.rsplit_once("Signature=").unwrap();
    let auth = format!("{unsigned}Signature={signature}");
    request.set_header("authorization", &auth)
}

#[test]
fn http_date_header_instead_of_x_amz_date() {
    let request = TestRequest::new("GET", "/things", None)
        .header("date", "Thu, 26 Nov 2026 00:00:00 GMT")
        .header(
            "authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential={AKID}/20261126/us-east-1/iot/aws4_request, SignedHeaders=date;host, Signature={}",
                "0".repeat(64)
            ),
        );
    let request = sign_via_mismatch(request, &iot());
    let verified = request.verify_at(&iot(), signing_time()).unwrap();
    assert_eq!(verified.signed_at, signing_time());
    assert!(matches!(
        request.verify_at(&iot(), at(3600)),
        Err(Error::SignatureExpired { .. })
    ));
}

#[test]
fn signed_header_absent_from_the_request_counts_as_empty() {
    let request = TestRequest::new("GET", "/things", None)
        .header("x-amz-date", "20261126T000000Z")
        .header(
            "authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential={AKID}/20261126/us-east-1/iot/aws4_request, SignedHeaders=host;x-amz-date;x-custom, Signature={}",
                "0".repeat(64)
            ),
        );
    let request = sign_via_mismatch(request, &iot());
    assert!(request.verify_at(&iot(), signing_time()).is_ok());
    // Adding the header with a value changes the canonical request.
    assert!(matches!(
        request
            .clone()
            .header("x-custom", "v")
            .verify_at(&iot(), signing_time()),
        Err(Error::SignatureMismatch { .. })
    ));
    // An empty value is the same as none.
    assert!(
        request
            .header("x-custom", "")
            .verify_at(&iot(), signing_time())
            .is_ok()
    );
}

#[test]
fn both_header_and_query_authentication() {
    let request = signed("us-east-1", "iot");
    let mut both = request.clone();
    both.query = Some(format!("X-Amz-Signature={}", "0".repeat(64)));
    assert_eq!(
        both.verify_at(&iot(), signing_time()),
        Err(Error::AmbiguousAuthentication)
    );
}

#[test]
fn bounded_input() {
    let request = signed("us-east-1", "iot");
    let mut long_path = request.clone();
    long_path.path = format!("/things/{}", "a".repeat(9000));
    assert_eq!(
        long_path.verify_at(&iot(), signing_time()),
        Err(Error::TooLong {
            what: "path",
            limit: 8192
        })
    );
    let mut long_query = request.clone();
    long_query.query = Some("a=".to_owned() + &"b".repeat(17_000));
    assert_eq!(
        long_query.verify_at(&iot(), signing_time()),
        Err(Error::TooLong {
            what: "query string",
            limit: 16_384
        })
    );
    let mut many = request.clone();
    many.query = Some(vec!["a=1"; 1001].join("&"));
    assert_eq!(
        many.verify_at(&iot(), signing_time()),
        Err(Error::TooManyQueryParameters { limit: 1000 })
    );
    let huge_header = request.clone().set_header("host", &"h".repeat(70_000));
    assert_eq!(
        huge_header.verify_at(&iot(), signing_time()),
        Err(Error::TooLong {
            what: "signed header values",
            limit: 65_536
        })
    );
    let mut limits = Limits::default();
    limits.max_query_params = 1;
    let mut two = request.clone();
    two.query = Some("a=1&b=2".into());
    assert_eq!(
        two.verify_at(&iot().limits(limits), signing_time()),
        Err(Error::TooManyQueryParameters { limit: 1 })
    );
}

#[test]
fn content_sha256_header_values() {
    let base = signed("us-east-1", "iot");
    for (value, expected) in [
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            Error::UnsupportedPayloadMode {
                value: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into(),
            },
        ),
        (
            "abc",
            Error::MalformedContentSha256 {
                value: "abc".into(),
            },
        ),
        ("0".repeat(64).as_str(), Error::ContentSha256Mismatch),
    ] {
        let error = base
            .clone()
            .header("x-amz-content-sha256", value)
            .verify_at(&iot(), signing_time())
            .unwrap_err();
        assert_eq!(error, expected);
    }
    let mismatch = Error::ContentSha256Mismatch.aws_error();
    assert_eq!(
        (mismatch.code, mismatch.status),
        ("XAmzContentSHA256Mismatch", 400)
    );
}

#[test]
fn split_verification_for_asynchronous_stores() {
    let request = signed("us-east-1", "iot");
    let prepared = iot().prepare(&request.parts(), signing_time()).unwrap();
    assert_eq!(prepared.access_key_id(), AKID);
    assert_eq!(prepared.region(), "us-east-1");
    assert_eq!(prepared.service(), "iot");
    assert_eq!(prepared.location(), SignatureLocation::Header);
    let secret = Secret::new(SECRET);
    assert!(prepared.verify(Some(&secret)).is_ok());
    assert!(matches!(
        prepared.verify(None),
        Err(Error::UnknownAccessKey { .. })
    ));
    assert!(!format!("{prepared:?}").contains(&signature_of(&request)));
}

#[test]
fn payload_given_as_its_hash() {
    let body = b"{\"attributePayload\":{}}";
    let request = TestRequest::new("POST", "/things/t", None)
        .body(body)
        .signed_by_thingd(&["host"], &our_params("us-east-1", "iot"));
    let digest = Payload::Bytes(body).sha256();
    let hex = hex::encode(digest);
    for payload in [
        Payload::Sha256(digest),
        Payload::from_sha256_hex(&hex).unwrap(),
        Payload::from_sha256_hex(&hex.to_uppercase()).unwrap(),
    ] {
        let parts = RequestParts {
            payload,
            ..request.parts()
        };
        let lookup = |_: &str| Some(Secret::new(SECRET));
        assert!(iot().verify(&parts, signing_time(), &lookup).is_ok());
    }
    assert!(Payload::from_sha256_hex("abc").is_none());
}

#[test]
fn aws_error_codes_and_statuses() {
    for (error, code, status) in [
        (
            Error::MissingAuthentication,
            "MissingAuthenticationTokenException",
            403,
        ),
        (
            Error::PresignedNotAccepted,
            "MissingAuthenticationTokenException",
            403,
        ),
        (
            Error::MalformedSignature,
            "IncompleteSignatureException",
            400,
        ),
        (Error::MissingDate, "IncompleteSignatureException", 400),
        (
            Error::SessionTokenNotSupported,
            "UnrecognizedClientException",
            403,
        ),
        (
            Error::UnknownAccessKey {
                access_key_id: "A".into(),
            },
            "UnrecognizedClientException",
            403,
        ),
        (
            Error::UnsignedPayloadNotAccepted,
            "InvalidSignatureException",
            403,
        ),
        (
            Error::ContentSha256Mismatch,
            "XAmzContentSHA256Mismatch",
            400,
        ),
        (
            Error::PresignedUrlExpired {
                request_time: "20261126T000000Z".into(),
                expires_seconds: 60,
                expired_at: "20261126T000100Z".into(),
                now: "20261126T000200Z".into(),
            },
            "InvalidSignatureException",
            403,
        ),
        (
            Error::SignatureMismatch {
                canonical_request: String::new(),
                string_to_sign: String::new(),
            },
            "InvalidSignatureException",
            403,
        ),
    ] {
        let aws = error.aws_error();
        assert_eq!((aws.code, aws.status), (code, status), "{error:?}");
        assert_eq!((error.code(), error.status()), (code, status));
        assert!(!aws.message.is_empty());
    }
    assert_eq!(
        Error::MalformedSignature.aws_error().message,
        "The signature is not 64 hexadecimal digits."
    );
    assert_eq!(
        Error::MalformedAuthorizationComponent {
            component: "AKID/20261126/us-east-1/iot/aws4_request".into()
        }
        .aws_error()
        .message,
        "'AKID/20261126/us-east-1/iot/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header"
    );
    assert_eq!(
        Error::MissingParameters {
            location: SignatureLocation::Header,
            names: vec!["Credential", "Signature"],
        }
        .aws_error()
        .message,
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter."
    );
}
