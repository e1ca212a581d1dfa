//! Every error of AWS's table (device-shadow-error-messages), with its code and message.

use serde_json::json;
use thingd_shadow::{
    ShadowError, StoredShadow, apply_delete, apply_update, get_response, parse_client_token,
    parse_update,
};

use crate::{NOW, json, shadow_after};

/// An expected error: its code and message.
type Expected = (u16, &'static str);

/// The expected token of a payload, or its error.
type TokenResult = Result<Option<&'static str>, Expected>;

#[test]
fn update_payload_errors() {
    // Levels count from `state` (1) and `desired` (2): `d` below is the sixth.
    let deep_ok = r#"{"state":{"desired":{"a":{"b":{"c":{"d":{"e":1}}}}}}}"#;
    let too_deep = r#"{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}}"#;
    let array_deep = r#"{"state":{"reported":{"a":{"b":{"c":{"d":[1]}}}}}}"#;
    let array_too_deep = r#"{"state":{"reported":{"a":{"b":{"c":{"d":[[1]]}}}}}}"#;
    let long_token = format!(r#"{{"state":{{}},"clientToken":"{}"}}"#, "t".repeat(65));
    let max_token = format!(r#"{{"state":{{}},"clientToken":"{}"}}"#, "t".repeat(64));
    let big_state = format!(
        r#"{{"state":{{"desired":{{"k":"{}"}}}}}}"#,
        "x".repeat(8200)
    );
    let cases: Vec<(&str, &[u8], Option<Expected>)> = vec![
        ("not JSON", b"{state", Some((400, "Invalid JSON"))),
        ("empty", b"", Some((400, "Invalid JSON"))),
        ("array", b"[1]", Some((400, "Invalid JSON"))),
        ("string", b"\"state\"", Some((400, "Invalid JSON"))),
        (
            "no state",
            br#"{"desired":{}}"#,
            Some((400, "Missing required node: state")),
        ),
        (
            "state string",
            br#"{"state":"on"}"#,
            Some((400, "State node must be an object")),
        ),
        (
            "state array",
            br#"{"state":[]}"#,
            Some((400, "State node must be an object")),
        ),
        (
            "desired number",
            br#"{"state":{"desired":1}}"#,
            Some((400, "Desired node must be an object")),
        ),
        (
            "desired array",
            br#"{"state":{"desired":[]}}"#,
            Some((400, "Desired node must be an object")),
        ),
        (
            "reported string",
            br#"{"state":{"reported":"x"}}"#,
            Some((400, "Reported node must be an object")),
        ),
        (
            "version string",
            br#"{"state":{},"version":"1"}"#,
            Some((400, "Invalid version")),
        ),
        (
            "version negative",
            br#"{"state":{},"version":-1}"#,
            Some((400, "Invalid version")),
        ),
        (
            "version float",
            br#"{"state":{},"version":1.5}"#,
            Some((400, "Invalid version")),
        ),
        (
            "token number",
            br#"{"state":{},"clientToken":5}"#,
            Some((400, "Invalid clientToken")),
        ),
        (
            "token too long",
            long_token.as_bytes(),
            Some((400, "Invalid clientToken")),
        ),
        ("token 64 bytes", max_token.as_bytes(), None),
        ("depth 6", deep_ok.as_bytes(), None),
        (
            "depth 7",
            too_deep.as_bytes(),
            Some((
                400,
                "JSON contains too many levels of nesting; maximum is 6",
            )),
        ),
        ("array counts as a level", array_deep.as_bytes(), None),
        (
            "nested array too deep",
            array_too_deep.as_bytes(),
            Some((
                400,
                "JSON contains too many levels of nesting; maximum is 6",
            )),
        ),
        (
            "delta in state",
            br#"{"state":{"delta":{}}}"#,
            Some((400, "State contains an invalid node")),
        ),
        (
            "other node in state",
            br#"{"state":{"desired":{},"x":1}}"#,
            Some((400, "State contains an invalid node")),
        ),
        (
            "null in array",
            br#"{"state":{"desired":{"colors":[null,"RED","GREEN"]}}}"#,
            Some((400, "State contains an invalid node")),
        ),
        (
            "null in nested array",
            br#"{"state":{"reported":{"a":[{"b":null}]}}}"#,
            Some((400, "State contains an invalid node")),
        ),
        (
            "state over 8 KiB",
            big_state.as_bytes(),
            Some((413, "The payload exceeds the maximum size allowed")),
        ),
        (
            "not UTF-8",
            b"{\"state\":{\"desired\":{\"a\":\"\xff\"}}}",
            Some((
                415,
                "Unsupported documented encoding; supported encoding is UTF-8",
            )),
        ),
        ("null state", br#"{"state":null}"#, None),
        (
            "null sections",
            br#"{"state":{"desired":null,"reported":null}}"#,
            None,
        ),
        (
            "other top-level fields ignored",
            br#"{"state":{},"metadata":{"x":1},"timestamp":5}"#,
            None,
        ),
    ];
    for (name, payload, expected) in cases {
        let result = parse_update(payload);
        match expected {
            None => assert!(result.is_ok(), "{name}: {result:?}"),
            Some((code, message)) => {
                let error = result.expect_err(name);
                assert_eq!(
                    (error.code, error.message.as_str()),
                    (code, message),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn oversized_payload_is_rejected_before_parsing() {
    let payload = vec![b' '; thingd_shadow::MAX_PAYLOAD_BYTES + 1];
    assert_eq!(parse_update(&payload).unwrap_err().code, 413);
    assert_eq!(parse_client_token(&payload).unwrap_err().code, 413);
}

#[test]
fn resulting_state_over_8_kib_is_413() {
    let half = "x".repeat(5000);
    let current = shadow_after(&[&format!(r#"{{"state":{{"desired":{{"a":"{half}"}}}}}}"#)]);
    let request =
        parse_update(format!(r#"{{"state":{{"reported":{{"b":"{half}"}}}}}}"#).as_bytes()).unwrap();
    let error = apply_update(&current, &request, NOW).unwrap_err();
    assert_eq!(error, ShadowError::payload_too_large());
}

#[test]
fn version_conflict() {
    let current = shadow_after(&[r#"{"state":{"desired":{"colors":["RED","GREEN","BLUE"]}}}"#]);
    assert_eq!(current.version, 1);
    let stale = parse_update(br#"{"state":{"desired":{"colors":["BLUE"]}},"version":0}"#).unwrap();
    let error = apply_update(&current, &stale, NOW).unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        (409, "Version conflict")
    );
    let ahead = parse_update(br#"{"state":{"desired":{"colors":["BLUE"]}},"version":2}"#).unwrap();
    assert_eq!(apply_update(&current, &ahead, NOW).unwrap_err().code, 409);
    let matching =
        parse_update(br#"{"state":{"desired":{"colors":["BLUE"]}},"version":1}"#).unwrap();
    assert_eq!(
        apply_update(&current, &matching, NOW)
            .unwrap()
            .stored
            .version,
        2
    );
}

#[test]
fn version_of_a_new_shadow_is_zero() {
    let request = parse_update(br#"{"state":{"reported":{"a":1}},"version":0}"#).unwrap();
    assert_eq!(
        apply_update(&StoredShadow::default(), &request, NOW)
            .unwrap()
            .stored
            .version,
        1
    );
    let request = parse_update(br#"{"state":{"reported":{"a":1}},"version":1}"#).unwrap();
    assert_eq!(
        apply_update(&StoredShadow::default(), &request, NOW)
            .unwrap_err()
            .code,
        409
    );
}

#[test]
fn client_token_of_get_and_delete_payloads() {
    let long = format!(r#"{{"clientToken":"{}"}}"#, "a".repeat(65));
    let cases: Vec<(&[u8], TokenResult)> = vec![
        (b"", Ok(None)),
        (b"  \n", Ok(None)),
        (b"{}", Ok(None)),
        (br#"{"clientToken":"abc"}"#, Ok(Some("abc"))),
        (br#"{"clientToken":""}"#, Ok(Some(""))),
        (br#"{"clientToken":1}"#, Err((400, "Invalid clientToken"))),
        (long.as_bytes(), Err((400, "Invalid clientToken"))),
        (b"{", Err((400, "Invalid JSON"))),
        (b"null", Err((400, "Invalid JSON"))),
        (
            b"\xff",
            Err((
                415,
                "Unsupported documented encoding; supported encoding is UTF-8",
            )),
        ),
        // An update's token is found the same way, even when the update itself is invalid.
        (br#"{"state":7,"clientToken":"t1"}"#, Ok(Some("t1"))),
    ];
    for (payload, expected) in cases {
        let result = parse_client_token(payload);
        match expected {
            Ok(token) => assert_eq!(result.unwrap().as_deref(), token),
            Err((code, message)) => {
                let error = result.unwrap_err();
                assert_eq!((error.code, error.message.as_str()), (code, message));
            }
        }
    }
}

#[test]
fn missing_shadow_is_404() {
    let never = StoredShadow::default();
    let named = get_response(&never, Some("simShadow1"), None, NOW).unwrap_err();
    assert_eq!(
        (named.code, named.message.as_str()),
        (404, "No shadow exists with name: 'simShadow1'")
    );
    let classic = get_response(&never, None, None, NOW).unwrap_err();
    assert_eq!(classic.code, 404);
    assert!(classic.is_no_shadow());
    assert_eq!(
        ShadowError::no_shadow("myThing", None).message,
        "No shadow exists with name: 'myThing'"
    );
    assert_eq!(
        ShadowError::no_shadow("myThing", Some("s")).message,
        "No shadow exists with name: 's'"
    );
    let deleted = StoredShadow {
        document: None,
        version: 4,
    };
    assert_eq!(
        apply_delete(&deleted, Some("s"), None, NOW).unwrap_err(),
        named_error("s")
    );
}

fn named_error(name: &str) -> ShadowError {
    ShadowError::no_shadow(name, Some(name))
}

#[test]
fn catalogue_codes_and_messages() {
    let cases = [
        (ShadowError::invalid_json(), 400, "Invalid JSON"),
        (
            ShadowError::missing_state(),
            400,
            "Missing required node: state",
        ),
        (
            ShadowError::state_not_object(),
            400,
            "State node must be an object",
        ),
        (
            ShadowError::desired_not_object(),
            400,
            "Desired node must be an object",
        ),
        (
            ShadowError::reported_not_object(),
            400,
            "Reported node must be an object",
        ),
        (ShadowError::invalid_version(), 400, "Invalid version"),
        (
            ShadowError::invalid_client_token(),
            400,
            "Invalid clientToken",
        ),
        (
            ShadowError::too_deep(),
            400,
            "JSON contains too many levels of nesting; maximum is 6",
        ),
        (
            ShadowError::invalid_node(),
            400,
            "State contains an invalid node",
        ),
        (ShadowError::unauthorized(), 401, "Unauthorized"),
        (ShadowError::forbidden(), 403, "Forbidden"),
        (ShadowError::thing_not_found(), 404, "Thing not found"),
        (ShadowError::version_conflict(), 409, "Version conflict"),
        (
            ShadowError::payload_too_large(),
            413,
            "The payload exceeds the maximum size allowed",
        ),
        (
            ShadowError::unsupported_encoding(),
            415,
            "Unsupported documented encoding; supported encoding is UTF-8",
        ),
        (ShadowError::too_many_requests(), 429, "Too Many Requests"),
        (ShadowError::internal(), 500, "Internal service failure"),
    ];
    for (error, code, message) in cases {
        assert_eq!((error.code, error.message.as_str()), (code, message));
    }
}

#[test]
fn error_document() {
    let error = ShadowError::version_conflict();
    assert_eq!(
        json(&error.to_payload(Some("426bfd96-e720-46d3-95cd-014e3ef12bb6"), NOW)),
        json!({"code": 409, "message": "Version conflict", "timestamp": NOW,
               "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"})
    );
    assert_eq!(
        json(&ShadowError::invalid_json().to_payload(None, NOW)),
        json!({"code": 400, "message": "Invalid JSON", "timestamp": NOW})
    );
}

#[test]
fn corrupted_stored_document_is_500() {
    for text in [
        "",
        "[]",
        r#"{"state":5}"#,
        r#"{"state":{"desired":1}}"#,
        r#"{"state":{},"x":{}}"#,
    ] {
        let error = thingd_shadow::ShadowDocument::from_json(text).unwrap_err();
        assert_eq!(error.code, 500, "{text}");
    }
}
