//! Malformed documents, each with the message AWS's MalformedPolicyException carries.

use thingd_policy::{MAX_DOCUMENT_CHARS, PolicyDocument, PolicyVersion};

const PREFIX: &str = "Policy document is malformed: ";

fn error(text: &str) -> String {
    match PolicyDocument::parse(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with(PREFIX), "{message}");
            message[PREFIX.len()..].to_owned()
        }
    }
}

/// A document whose only statement is `statement` (an object body without braces).
fn one(statement: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{{{statement}}}]}}"#)
}

const OK: &str = r#""Effect":"Allow","Action":"iot:Publish","Resource":"*""#;

#[test]
fn malformed_documents() {
    let cases: Vec<(String, &str)> = vec![
        (
            "".into(),
            "invalid JSON at line 1 column 0: EOF while parsing a value",
        ),
        (
            "{".into(),
            "invalid JSON at line 1 column 1: EOF while parsing an object",
        ),
        (
            r#"{"Statement":[]} x"#.into(),
            "invalid JSON at line 1 column 18: trailing characters",
        ),
        (
            "[]".into(),
            "the document must be a JSON object, found an array",
        ),
        (
            r#"{"Version":"2012-10-17"}"#.into(),
            "Statement is required",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            "Statement must not be an empty array",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":"x"}"#.into(),
            "Statement must be an object or an array of objects, found a string",
        ),
        (
            r#"{"Version":"2013-01-01","Statement":[]}"#.into(),
            "Version must be \"2012-10-17\" or \"2008-10-17\", found \"2013-01-01\"",
        ),
        (
            r#"{"Version":2012,"Statement":[]}"#.into(),
            "Version must be a string, found a number",
        ),
        (
            r#"{"Version":"2012-10-17","Statements":[]}"#.into(),
            "unknown field \"Statements\"",
        ),
        (
            r#"{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}"#.into(),
            "duplicate field \"Version\"",
        ),
        (
            r#"{"Id":1,"Statement":[]}"#.into(),
            "Id must be a string, found a number",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[1]}"#.into(),
            "Statement[0]: a statement must be an object, found a number",
        ),
        (
            one(r#""Effect":"Allow","Resource":"*""#),
            "Statement[0]: a statement must have exactly one of Action and NotAction",
        ),
        (
            one(r#""Effect":"Allow","Action":"*","NotAction":"*","Resource":"*""#),
            "Statement[0]: a statement must have exactly one of Action and NotAction",
        ),
        (
            one(r#""Effect":"Allow","Action":"*""#),
            "Statement[0]: a statement must have exactly one of Resource and NotResource",
        ),
        (
            one(r#""Effect":"Allow","Action":"*","Resource":"*","NotResource":"*""#),
            "Statement[0]: a statement must have exactly one of Resource and NotResource",
        ),
        (
            one(r#""Action":"*","Resource":"*""#),
            "Statement[0]: Effect is required",
        ),
        (
            one(r#""Sid":"pub","Effect":"Permit","Action":"*","Resource":"*""#),
            "Statement[0] (Sid \"pub\"): Effect must be \"Allow\" or \"Deny\", found \"Permit\"",
        ),
        (
            one(r#""Effect":"allow","Action":"*","Resource":"*""#),
            "Statement[0]: Effect must be \"Allow\" or \"Deny\", found \"allow\"",
        ),
        (
            one(r#""Effect":true,"Action":"*","Resource":"*""#),
            "Statement[0]: Effect must be a string, found a boolean",
        ),
        (
            one(r#""Sid":7,"Effect":"Allow","Action":"*","Resource":"*""#),
            "Statement[0]: Sid must be a string, found a number",
        ),
        (
            one(&format!(r#"{OK},"Principal":"*""#)),
            "Statement[0]: unknown field \"Principal\"",
        ),
        (
            one(&format!(r#"{OK},"Effect":"Deny""#)),
            "Statement[0]: duplicate field \"Effect\"",
        ),
        (
            one(r#""Effect":"Allow","Action":[],"Resource":"*""#),
            "Statement[0]: Action must not be an empty array",
        ),
        (
            one(r#""Effect":"Allow","Action":"*","Resource":[]"#),
            "Statement[0]: Resource must not be an empty array",
        ),
        (
            one(r#""Effect":"Allow","Action":[1],"Resource":"*""#),
            "Statement[0]: Action entries must be strings, found a number",
        ),
        (
            one(r#""Effect":"Allow","Action":{},"Resource":"*""#),
            "Statement[0]: Action must be a string or an array of strings, found an object",
        ),
        (
            one(r#""Effect":"Allow","Action":"s3:GetObject","Resource":"*""#),
            "Statement[0]: Action \"s3:GetObject\" is not a valid action: an action is \"*\" or \"iot:\" followed by an action name (letters, digits and the wildcards * and ?)",
        ),
        (
            one(r#""Effect":"Allow","NotAction":"Publish","Resource":"*""#),
            "Statement[0]: NotAction \"Publish\" is not a valid action: an action is \"*\" or \"iot:\" followed by an action name (letters, digits and the wildcards * and ?)",
        ),
        (
            one(r#""Effect":"Allow","Action":"iot:","Resource":"*""#),
            "Statement[0]: Action \"iot:\" is not a valid action: an action is \"*\" or \"iot:\" followed by an action name (letters, digits and the wildcards * and ?)",
        ),
        (
            one(r#""Effect":"Allow","Action":"*","Resource":"topic/a""#),
            "Statement[0]: Resource \"topic/a\" must be \"*\" or an ARN (\"arn:...\")",
        ),
        (
            one(r#""Effect":"Allow","Action":"*","NotResource":[""]"#),
            "Statement[0]: NotResource \"\" must be \"*\" or an ARN (\"arn:...\")",
        ),
        (
            one(&format!(r#"{OK},"Condition":[]"#)),
            "Statement[0]: Condition must be an object, found an array",
        ),
        (
            one(&format!(
                r#"{OK},"Condition":{{"StringEqual":{{"iot:ClientId":"a"}}}}"#
            )),
            "Statement[0]: Condition operator \"StringEqual\" is not supported",
        ),
        (
            one(&format!(
                r#"{OK},"Condition":{{"NullIfExists":{{"iot:ClientId":"true"}}}}"#
            )),
            "Statement[0]: Condition operator \"NullIfExists\" is not supported",
        ),
        (
            one(&format!(r#"{OK},"Condition":{{"StringEquals":"a"}}"#)),
            "Statement[0]: Condition.StringEquals must be an object of condition keys, found a string",
        ),
        (
            one(&format!(r#"{OK},"Condition":{{"StringEquals":{{}}}}"#)),
            "Statement[0]: Condition.StringEquals must name at least one condition key",
        ),
        (
            one(&format!(
                r#"{OK},"Condition":{{"StringEquals":{{"iot:ClientId":[]}}}}"#
            )),
            "Statement[0]: Condition.StringEquals.iot:ClientId must have at least one value",
        ),
        (
            one(&format!(
                r#"{OK},"Condition":{{"StringEquals":{{"iot:ClientId":null}}}}"#
            )),
            "Statement[0]: Condition.StringEquals.iot:ClientId values must be strings, booleans or numbers, found null",
        ),
        (
            one(&format!(
                r#"{OK},"Condition":{{"StringEquals":{{"iot:ClientId":[["a"]]}}}}"#
            )),
            "Statement[0]: Condition.StringEquals.iot:ClientId values must be strings, booleans or numbers, found an array",
        ),
        (
            one(&format!(
                r#"{OK},"Condition":{{"StringEquals":{{"iot:ClientId":"a","IOT:clientid":"b"}}}}"#
            )),
            "Statement[0]: Condition.StringEquals has duplicate key \"IOT:clientid\"",
        ),
        (
            one(&format!(
                r#"{OK},"Condition":{{"Bool":{{"iot:Connection.Thing.IsAttached":"yes"}}}}"#
            )),
            "Statement[0]: Condition.Bool.iot:Connection.Thing.IsAttached must be \"true\" or \"false\", found \"yes\"",
        ),
        (
            one(&format!(
                r#"{OK},"Condition":{{"IpAddress":{{"aws:SourceIp":"10.0.0.0/33"}}}}"#
            )),
            "Statement[0]: Condition.IpAddress.aws:SourceIp must be an IP address or CIDR range, found \"10.0.0.0/33\"",
        ),
        (
            one(&format!(
                r#"{OK},"Condition":{{"Null":{{"iot:ClientId":"maybe"}}}}"#
            )),
            "Statement[0]: Condition.Null.iot:ClientId must be \"true\" or \"false\", found \"maybe\"",
        ),
        (
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{{OK}}},{{{OK}}},{{"Sid":"pub","Effect":"Permit","Action":"*","Resource":"*"}}]}}"#
            ),
            "Statement[2] (Sid \"pub\"): Effect must be \"Allow\" or \"Deny\", found \"Permit\"",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(error(&text), expected, "{text}");
    }
}

#[test]
fn error_accessors() {
    let e = PolicyDocument::parse(&one(
        r#""Sid":"s","Effect":"Permit","Action":"*","Resource":"*""#,
    ))
    .unwrap_err();
    assert_eq!(e.statement_index(), Some(0));
    assert_eq!(e.sid(), Some("s"));
    assert_eq!(
        e.detail(),
        "Effect must be \"Allow\" or \"Deny\", found \"Permit\""
    );
    assert_eq!(
        PolicyDocument::parse("[]").unwrap_err().statement_index(),
        None
    );
}

#[test]
fn size_limit_excludes_whitespace() {
    // A statement padded with a long Sid up to exactly the limit is accepted; one more is not.
    let skeleton = one(r#""Sid":"","Effect":"Allow","Action":"*","Resource":"*""#);
    let room = MAX_DOCUMENT_CHARS - skeleton.len();
    let at_limit = one(&format!(
        r#""Sid":"{}","Effect":"Allow","Action":"*","Resource":"*""#,
        "s".repeat(room)
    ));
    assert!(PolicyDocument::parse(&at_limit).is_ok());
    let spaced = at_limit.replace(',', " ,\n\t ");
    assert!(PolicyDocument::parse(&spaced).is_ok());
    let over = one(&format!(
        r#""Sid":"{}","Effect":"Allow","Action":"*","Resource":"*""#,
        "s".repeat(room + 1)
    ));
    assert_eq!(
        error(&over),
        format!(
            "the document has {} characters other than whitespace, more than the 2048 allowed",
            MAX_DOCUMENT_CHARS + 1
        )
    );
    assert!(error(&" ".repeat(500_000)).starts_with("the document has 500000 bytes"));
}

#[test]
fn nesting_is_bounded() {
    let deep = format!(
        r#"{{"Version":"2012-10-17","Statement":{}1{}}}"#,
        "[".repeat(500),
        "]".repeat(500)
    );
    assert!(error(&deep).contains("recursion limit"), "{}", error(&deep));
}

#[test]
fn accepted_forms() {
    let doc = PolicyDocument::parse(
        r#"{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"a","Effect":"Deny","NotAction":["iot:Connect","iot:Get*"],"NotResource":"arn:aws:iot:*:*:client/x",
            "Condition":{"ForAnyValue:StringLikeIfExists":{"iot:ConnectAttributes":["Last*",1,true]},"Bool":{"iot:Connection.Thing.IsAttached":true},"Null":{"iot:LastWillTopic":false}}}}"#,
    )
    .unwrap();
    assert_eq!(doc.statement_count(), 1);
    assert_eq!(doc.sids().collect::<Vec<_>>(), [Some("a")]);
    let old = PolicyDocument::parse(
        r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
    .unwrap();
    assert_eq!(old.version(), PolicyVersion::V2008_10_17);
}
