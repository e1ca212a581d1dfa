//! SELECT forms: `*`, added fields, aliases (dotted), VALUE, and non-JSON payloads.

use thingd_sql::{Input, Payload, Statement};

use crate::{TestEnv, V1, V2, run};

#[test]
fn select_forms_from_the_guide() {
    let payload = r#"{"color":"red", "temperature":50}"#;
    let rows = [
        (
            "SELECT * FROM 'topic/subtopic'",
            r#"{"color":"red","temperature":50}"#,
        ),
        ("SELECT color FROM 'topic/subtopic'", r#"{"color":"red"}"#),
        (
            "SELECT color AS my_color FROM 'topic/subtopic'",
            r#"{"my_color":"red"}"#,
        ),
        (
            "SELECT color as my_color, temperature as fahrenheit FROM 'topic/subtopic'",
            r#"{"fahrenheit":50,"my_color":"red"}"#,
        ),
        (
            "SELECT *, 15 as speed FROM 'topic/subtopic'",
            r#"{"color":"red","speed":15,"temperature":50}"#,
        ),
        ("SELECT VALUE color FROM 'topic/subtopic'", r#""red""#),
        (
            "SELECT color, missing FROM 'topic/subtopic'",
            r#"{"color":"red"}"#,
        ),
        ("SELECT VALUE missing FROM 'topic/subtopic'", ""),
        (
            "SELECT * FROM 'topic/subtopic' WHERE temperature > 40",
            r#"{"color":"red","temperature":50}"#,
        ),
        (
            "SELECT color AS a.b.c, temperature AS a.t FROM 't'",
            r#"{"a":{"b":{"c":"red"},"t":50}}"#,
        ),
        (
            "SELECT upper(color), 1 + 1 FROM 't'",
            r#"{"_2":2,"upper":"RED"}"#,
        ),
        (
            "SELECT color AS 'quoted name' FROM 't'",
            r#"{"quoted name":"red"}"#,
        ),
    ];
    for version in [V1, V2] {
        for (sql, expected) in rows {
            assert_eq!(
                run(sql, version, payload).unwrap(),
                expected,
                "{version} {sql}"
            );
        }
    }
    let nested = r#"{"color":{"red":255,"green":0,"blue":0}, "temperature":50}"#;
    assert_eq!(
        run("SELECT color.red as red_value FROM 't'", V1, nested).unwrap(),
        r#"{"red_value":255}"#
    );
    assert_eq!(
        run(
            "SELECT foo.bar AS bar.baz FROM 't'",
            V2,
            r#"{"foo": {"bar": "RED", "bar1": "GREEN"}}"#
        )
        .unwrap(),
        r#"{"bar":{"baz":"RED"}}"#
    );
    let tricky = r#"{"mydata": {"item2": {"0": {"my-key": "myValue"}}}}"#;
    assert_eq!(
        run("SELECT * from 'iot/rules' WHERE get(get(get(mydata,\"item2\"),\"0\"),\"my-key\") = \"myValue\"", V1, tricky).unwrap(),
        r#"{"mydata":{"item2":{"0":{"my-key":"myValue"}}}}"#
    );
    let array = r#"{"a": {"b":"c"}, "arr":[1,2,3,4]}"#;
    assert_eq!(
        run("SELECT VALUE arr FROM 'topic'", V2, array).unwrap(),
        "[1,2,3,4]"
    );
}

#[test]
fn where_must_be_true() {
    let payload = r#"{"n": 5, "s": "true"}"#;
    let rows = [
        ("n > 1", true),
        ("n > 10", false),
        ("missing > 1", false),
        ("s", true),
        ("n", false),
        ("'TRUE'", true),
        ("null", false),
    ];
    for (condition, passes) in rows {
        let sql = format!("SELECT * FROM 't' WHERE {condition}");
        assert_eq!(run(&sql, V2, payload).is_some(), passes, "{condition}");
    }
}

#[test]
fn non_json_payloads() {
    let binary: &[u8] = &[0xde, 0xad, 0xbe, 0xef];
    let evaluate = |sql: &str, payload: &[u8]| {
        let statement = Statement::parse(sql, V2).unwrap();
        statement
            .evaluate(&Input::new("topic/subtopic", payload, 0), &TestEnv)
            .unwrap()
    };
    let out = evaluate("SELECT * FROM 'topic/subtopic'", binary).unwrap();
    assert_eq!(
        out.payload,
        Payload::Bytes(bytes::Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]))
    );
    assert_eq!(out.to_payload(), binary);
    assert!(
        evaluate(
            "SELECT * FROM 'topic/subtopic' WHERE timestamp() % 12 = 0",
            binary
        )
        .is_some()
    );
    assert!(
        evaluate(
            "SELECT * FROM 'topic/subtopic' WHERE device_type = 'thermostat'",
            binary
        )
        .is_none()
    );
    assert_eq!(
        evaluate("SELECT VALUE * FROM 't'", b"plain text")
            .unwrap()
            .to_payload(),
        b"plain text"
    );
    let out = evaluate(
        "SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 't'",
        binary,
    )
    .unwrap();
    assert_eq!(out.to_payload(), br#"{"data":"3q2+7w==","ts":0}"#);
    let out = evaluate(
        "SELECT *, principal() AS principal, 1 AS one FROM 't'",
        binary,
    )
    .unwrap();
    assert_eq!(out.to_payload(), br#"{"one":1}"#);
    let out = evaluate(
        "SELECT decode(encode(*, 'base64'), 'base64') AS payload FROM 't'",
        b"hello",
    )
    .unwrap();
    assert_eq!(out.to_payload(), br#"{"payload":"hello"}"#);
    let out = evaluate("SELECT field FROM 't'", binary).unwrap();
    assert_eq!(out.to_payload(), b"{}");
    // A JSON scalar is JSON, not bytes.
    assert_eq!(
        evaluate("SELECT * FROM 't'", b"42").unwrap().json(),
        Some(&serde_json::json!(42))
    );
    assert_eq!(
        evaluate("SELECT * FROM 't'", b"").unwrap().to_payload(),
        b""
    );
}

#[test]
fn examples_from_the_reference_pages() {
    // iot-sql-reference: WHERE decides, AS renames.
    let sql = "SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50";
    assert_eq!(
        run(sql, V1, r#"{"color":"red","temperature":100}"#).unwrap(),
        r#"{"rgb":"red"}"#
    );
    // iot-sql-where: the rule fires but produces nothing.
    let sql =
        "SELECT color AS my_color FROM 'topic/subtopic' WHERE temperature > 50 AND color <> 'red'";
    assert_eq!(run(sql, V1, r#"{"color":"red", "temperature":40}"#), None);
    // iot-sql-where: a payload read through encode/decode.
    let sql = "SELECT decode(encode(*, 'base64'), 'base64') AS value FROM 'topic/subtopic' \
               WHERE decode(encode(*, 'base64'), 'base64') > 50";
    assert_eq!(run(sql, V2, "80").unwrap(), r#"{"value":80}"#);
    assert_eq!(run(sql, V2, "20"), None);
    // iot-sql-json: a function applied to an attribute, with the guide's unquoted topic.
    let payload = r#"{"deviceid": "iot123", "temp": 54.98, "humidity": 32.43,
        "coords": {"latitude": 47.615694, "longitude": -122.3359976}}"#;
    let sql = "SELECT temp, md5(deviceid) AS hashed_id FROM topic/#";
    assert_eq!(
        Statement::parse(sql, V1).unwrap().topic_filter(),
        Some("topic/#")
    );
    assert_eq!(
        crate::run_on(sql, V1, "topic/a", payload)
            .map(|out| String::from_utf8(out.to_payload()).unwrap())
            .unwrap(),
        r#"{"hashed_id":"e37f81fb397e595c4aeb5645b8cbbbd1","temp":54.98}"#
    );
    // iot-substitution-templates: `*` plus a function, in 2015-10-08.
    let sql = "SELECT *, timestamp() AS timestamp FROM 'my/iot/topic'";
    assert_eq!(
        run(sql, V1, r#"{"deviceid": "iot123", "temp": 54.98}"#).unwrap(),
        r#"{"deviceid":"iot123","temp":54.98,"timestamp":1481825251155}"#
    );
}

#[test]
fn star_with_an_alias_nests_the_document() {
    let payload = r#"{"a": 1, "b": {"c": 2}}"#;
    let rows = [
        (
            "SELECT * AS payload, topic() AS topic FROM '/+/tms'",
            r#"{"payload":{"a":1,"b":{"c":2}},"topic":"topic/subtopic"}"#,
        ),
        (
            "SELECT * AS out.doc, a FROM 't'",
            r#"{"a":1,"out":{"doc":{"a":1,"b":{"c":2}}}}"#,
        ),
        (
            "SELECT (SELECT * AS item FROM [1, 2]) AS items FROM 't'",
            r#"{"items":[{"item":1},{"item":2}]}"#,
        ),
    ];
    for (sql, expected) in rows {
        assert_eq!(run(sql, V2, payload).unwrap(), expected, "{sql}");
    }
    // A non-JSON payload has no document to nest.
    assert_eq!(
        run("SELECT * AS payload, 1 AS one FROM 't'", V2, "not json").unwrap(),
        r#"{"one":1}"#
    );
}

#[test]
fn value_is_an_attribute_where_no_expression_follows() {
    let payload = r#"{"value": 4, "other": 1}"#;
    let rows = [
        ("SELECT value FROM 't'", r#"{"value":4}"#),
        ("SELECT value AS v FROM 't'", r#"{"v":4}"#),
        ("SELECT value, other FROM 't'", r#"{"other":1,"value":4}"#),
        ("SELECT value / 2 AS half FROM 't'", r#"{"half":2}"#),
        ("SELECT value = 4 AS four FROM 't'", r#"{"four":true}"#),
        ("SELECT VALUE value FROM 't'", "4"),
        ("SELECT VALUE value * 2 FROM 't'", "8"),
        ("SELECT VALUE -value FROM 't'", "-4"),
        ("SELECT VALUE * FROM 't'", r#"{"other":1,"value":4}"#),
    ];
    for (sql, expected) in rows {
        assert_eq!(run(sql, V2, payload).unwrap(), expected, "{sql}");
    }
}
