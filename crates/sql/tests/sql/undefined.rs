//! `Undefined`: what a missing attribute or an invalid call produces, how every operator and
//! function passes it on, and how it serialises (DG `iot-sql-data-types`).

use thingd_sql::{Input, Payload, Statement};

use crate::{TestEnv, V1, V2, run, table_on};

/// A payload with a `null` (a value) next to attributes that do not exist (no value).
const PAYLOAD: &str = r#"{"n": null, "s": "x", "i": 1, "o": {"a": 1}, "arr": [1]}"#;

#[test]
fn operators_pass_undefined_on() {
    let rows = [
        ("missing", ""),
        ("o.missing", ""),
        ("o.a.deeper", ""),
        ("s.a", ""),
        ("arr.a", ""),
        ("arr[5]", ""),
        ("missing.a.b", ""),
        ("missing + 1", ""),
        ("1 - missing", ""),
        ("missing * 2", ""),
        ("2 / missing", ""),
        ("missing % 2", ""),
        ("'a' + missing", ""),
        ("missing + 'a'", ""),
        ("-missing", ""),
        ("missing = missing", ""),
        ("missing <> 1", ""),
        ("missing < 1", ""),
        ("1 >= missing", ""),
        ("missing AND true", ""),
        ("true OR missing", ""),
        ("NOT missing", ""),
        ("missing IN arr", ""),
        // Null is a value: it compares, but does not compute.
        ("n = null", "true"),
        ("n <> 1", "true"),
        ("n + 1", ""),
        ("n < 1", ""),
        ("n", "null"),
    ];
    table_on(V1, PAYLOAD, &rows);
    table_on(V2, PAYLOAD, &rows);
}

#[test]
fn functions_return_undefined_for_invalid_arguments() {
    table_on(
        V2,
        PAYLOAD,
        &[
            ("abs(missing)", ""),
            ("abs(s)", ""),
            ("abs(o)", ""),
            ("abs()", ""),
            ("abs(1, 2)", ""),
            ("upper(missing)", ""),
            ("upper(n)", ""),
            ("concat(s, missing)", ""),
            ("substring(s, missing)", ""),
            ("get(o, missing)", ""),
            ("get(missing, 0)", ""),
            ("md5(missing)", ""),
            ("cast(missing AS String)", ""),
            ("topic(missing)", ""),
            ("parse_time(missing, 0)", ""),
            ("isUndefined(missing)", "true"),
            ("isUndefined(n)", "false"),
            ("isNull(missing)", "false"),
            ("get_or_default(missing, 'd')", "\"d\""),
            ("nanvl(missing, 0)", "0"),
            ("CASE missing WHEN 1 THEN 'a' ELSE 'b' END", ""),
            ("CASE i WHEN missing THEN 'a' ELSE 'b' END", "\"b\""),
            ("CASE i WHEN 1 THEN missing ELSE 'b' END", ""),
        ],
    );
}

#[test]
fn undefined_is_left_out_of_output() {
    let rows = [
        ("SELECT missing, s FROM 't'", r#"{"s":"x"}"#),
        ("SELECT missing AS a.b, s FROM 't'", r#"{"s":"x"}"#),
        (
            "SELECT [1, missing, o.missing] AS a FROM 't'",
            r#"{"a":[1]}"#,
        ),
        (
            "SELECT {'k': missing, 'n': n} AS a FROM 't'",
            r#"{"a":{"n":null}}"#,
        ),
        ("SELECT missing FROM 't'", "{}"),
        ("SELECT VALUE missing FROM 't'", ""),
        ("SELECT VALUE n FROM 't'", "null"),
    ];
    for (sql, expected) in rows {
        assert_eq!(run(sql, V2, PAYLOAD).unwrap(), expected, "{sql}");
    }
    // Alone, Undefined serialises as the empty payload.
    let statement = Statement::parse("SELECT VALUE missing FROM 't'", V2).unwrap();
    let output = statement
        .evaluate(&Input::new("t", PAYLOAD.as_bytes(), 0), &TestEnv)
        .unwrap()
        .unwrap();
    assert_eq!(output.payload, Payload::Bytes(bytes::Bytes::new()));
    assert!(output.to_payload().is_empty());
}

#[test]
fn undefined_where_does_not_fire() {
    for condition in [
        "missing",
        "missing = 1",
        "NOT missing",
        "n",
        "upper(missing) = 'X'",
    ] {
        let sql = format!("SELECT * FROM 't' WHERE {condition}");
        assert_eq!(run(&sql, V2, PAYLOAD), None, "{condition}");
    }
}
