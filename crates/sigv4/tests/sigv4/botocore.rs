//! Requests signed by botocore 1.43 (`tests/data/gen_botocore.py` → `botocore.json`): real AWS
//! IoT and IoT Data Plane operations and a presigned MQTT URL.

use serde_json::Value;
use thingd_sigv4::{SignatureLocation, Verifier};

use crate::support::{TestRequest, assert_verifies_and_detects_tampering, signing_time};

struct Case {
    name: String,
    service: String,
    region: String,
    akid: String,
    secret: String,
    canonical_request: String,
    request: TestRequest,
}

fn cases() -> Vec<Case> {
    let json: Value = serde_json::from_str(include_str!("../data/botocore.json")).unwrap();
    assert!(json["generator"].as_str().unwrap().starts_with("botocore "));
    json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_owned();
            assert_eq!(s("now"), "20261126T000000Z");
            Case {
                name: s("name"),
                service: s("service"),
                region: s("region"),
                akid: s("access_key_id"),
                secret: s("secret_access_key"),
                canonical_request: s("canonical_request"),
                request: TestRequest {
                    method: s("method"),
                    path: s("path"),
                    query: c["query"].as_str().map(str::to_owned),
                    headers: c["headers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| {
                            (
                                h[0].as_str().unwrap().to_owned(),
                                h[1].as_str().unwrap().to_owned(),
                            )
                        })
                        .collect(),
                    body: hex::decode(s("body_hex")).unwrap(),
                },
            }
        })
        .collect()
}

#[test]
fn botocore_vectors_verify_with_botocores_canonical_request() {
    let cases = cases();
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "create-thing",
            "list-things-query",
            "attach-thing-principal",
            "describe-thing-colon",
            "describe-thing-special",
            "publish-slash-topic",
            "get-thing-shadow",
            "presigned-mqtt",
        ]
    );
    for case in &cases {
        let verifier = Verifier::new(case.region.clone(), [case.service.clone()]);
        let verified = assert_verifies_and_detects_tampering(
            &case.name,
            &case.request,
            &verifier,
            signing_time(),
            &case.akid,
            &case.secret,
        );
        assert_eq!(verified.access_key_id, case.akid);
        assert_eq!(verified.service, case.service);
        assert!(!verified.unsigned_payload, "{}", case.name);
        let location = if case.name.starts_with("presigned") {
            SignatureLocation::Query
        } else {
            SignatureLocation::Header
        };
        assert_eq!(verified.location, location);
        assert_eq!(
            case.request
                .canonical_request(&verifier, signing_time(), &case.akid),
            case.canonical_request,
            "{}",
            case.name
        );
    }
}

#[test]
fn botocore_paths_are_double_encoded() {
    let cases = cases();
    let path_of = |name: &str| {
        let case = cases.iter().find(|c| c.name == name).unwrap();
        (
            case.request.path.clone(),
            case.canonical_request.lines().nth(1).unwrap().to_owned(),
        )
    };
    assert_eq!(
        path_of("describe-thing-colon"),
        ("/things/my%3Athing".into(), "/things/my%253Athing".into())
    );
    assert_eq!(
        path_of("publish-slash-topic"),
        (
            "/topics/devices%2Fdev%201%2Ftelemetry".into(),
            "/topics/devices%252Fdev%25201%252Ftelemetry".into()
        )
    );
    assert_eq!(
        path_of("describe-thing-special"),
        (
            "/things/a%20b%2Bc%25d%2F%C3%A9~%21%2A%27%28%29".into(),
            "/things/a%2520b%252Bc%2525d%252F%25C3%25A9~%2521%252A%2527%2528%2529".into()
        )
    );
}
