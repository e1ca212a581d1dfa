//! Shadow topics and the names they carry.

use thingd_shadow::{
    Operation, Outcome, ShadowRequestTopic, parse_request_topic, request_topic, response_topic,
    validate_shadow_name, validate_thing_name,
};

/// What a request topic parses to: thing, shadow, operation.
type Parsed = (&'static str, Option<&'static str>, Operation);

#[test]
fn request_topics() {
    let cases: Vec<(&str, Option<Parsed>)> = vec![
        (
            "$aws/things/t1/shadow/get",
            Some(("t1", None, Operation::Get)),
        ),
        (
            "$aws/things/t1/shadow/update",
            Some(("t1", None, Operation::Update)),
        ),
        (
            "$aws/things/t1/shadow/delete",
            Some(("t1", None, Operation::Delete)),
        ),
        (
            "$aws/things/t1/shadow/name/s1/get",
            Some(("t1", Some("s1"), Operation::Get)),
        ),
        (
            "$aws/things/t1/shadow/name/s1/update",
            Some(("t1", Some("s1"), Operation::Update)),
        ),
        (
            "$aws/things/t1/shadow/name/s1/delete",
            Some(("t1", Some("s1"), Operation::Delete)),
        ),
        ("$aws/things/t1/shadow/get/accepted", None),
        ("$aws/things/t1/shadow/update/delta", None),
        ("$aws/things/t1/shadow/name/s1/update/documents", None),
        ("$aws/things/t1/shadow/name/s1", None),
        ("$aws/things/t1/shadow/name//get", None),
        ("$aws/things//shadow/get", None),
        ("$aws/things/t1/shadow/list", None),
        ("$aws/things/t1/shadow", None),
        ("$aws/things/t1/jobs/get", None),
        ("aws/things/t1/shadow/get", None),
        ("$aws/things/t1/shadow/GET", None),
    ];
    for (topic, expected) in cases {
        let expected = expected.map(|(thing, shadow, operation)| ShadowRequestTopic {
            thing,
            shadow,
            operation,
        });
        assert_eq!(parse_request_topic(topic), expected, "{topic}");
    }
}

#[test]
fn response_topics() {
    assert_eq!(
        response_topic("t", None, Operation::Get, Outcome::Accepted),
        "$aws/things/t/shadow/get/accepted"
    );
    assert_eq!(
        response_topic("t", Some("s"), Operation::Update, Outcome::Documents),
        "$aws/things/t/shadow/name/s/update/documents"
    );
    assert_eq!(
        response_topic("t", None, Operation::Update, Outcome::Delta),
        "$aws/things/t/shadow/update/delta"
    );
    assert_eq!(
        response_topic("t", Some("s"), Operation::Delete, Outcome::Rejected),
        "$aws/things/t/shadow/name/s/delete/rejected"
    );
    let topic = request_topic("t", Some("s"), Operation::Update);
    assert_eq!(topic, "$aws/things/t/shadow/name/s/update");
    assert!(parse_request_topic(&topic).is_some());
}

#[test]
fn names() {
    assert!(validate_thing_name("my-Thing_1:a").is_ok());
    assert!(validate_thing_name(&"t".repeat(128)).is_ok());
    assert_eq!(validate_thing_name(&"t".repeat(129)).unwrap_err().code, 400);
    assert_eq!(validate_thing_name("").unwrap_err().code, 400);
    assert_eq!(validate_thing_name("a/b").unwrap_err().code, 400);
    assert_eq!(validate_thing_name("a$b").unwrap_err().code, 400);
    assert!(validate_shadow_name("$shadow-1:x_y").is_ok());
    assert!(validate_shadow_name(&"s".repeat(64)).is_ok());
    assert_eq!(validate_shadow_name(&"s".repeat(65)).unwrap_err().code, 400);
    assert_eq!(validate_shadow_name("").unwrap_err().code, 400);
    assert_eq!(validate_shadow_name("a b").unwrap_err().code, 400);
    assert_eq!(validate_shadow_name("é").unwrap_err().code, 400);
}
