//! Statements AWS rejects with SqlParseException, and where the error points.

use thingd_sql::{SqlVersion, Statement, Template};

use crate::{V1, V2};

fn error(sql: &str, version: SqlVersion) -> (usize, usize, String) {
    let error = Statement::parse(sql, version).expect_err(sql);
    (error.line, error.column, error.message)
}

#[test]
fn errors_name_position_and_expectation() {
    let rows: &[(&str, SqlVersion, usize, usize, &str)] = &[
        (
            "SELECT FROM 'a'",
            V2,
            1,
            8,
            "Expected an expression but found 'FROM'",
        ),
        (
            "SELECT a FROM",
            V2,
            1,
            14,
            "Expected a quoted topic filter after FROM but found end of input",
        ),
        (
            "SELECT a FROM 'a/#/b'",
            V2,
            1,
            15,
            "'#' must be the whole last level",
        ),
        (
            "SELECT a FROM 'a/b+'",
            V2,
            1,
            15,
            "'+' must be a whole level",
        ),
        (
            "SELECT a,\n  b + FROM 't'",
            V2,
            2,
            7,
            "Expected an expression but found 'FROM'",
        ),
        (
            "SELECT a FROM 't' WHERE",
            V2,
            1,
            24,
            "Expected an expression but found end of input",
        ),
        (
            "SELECT a FROM 't' extra",
            V2,
            1,
            19,
            "Expected end of statement but found 'extra'",
        ),
        (
            "SELECT a FROM 'abc",
            V2,
            1,
            15,
            "Expected a closing ' for this string",
        ),
        ("SELECT nosuch(1) FROM 't'", V2, 1, 8, "no such function"),
        (
            "SELECT aws_lambda('arn', *) FROM 't'",
            V2,
            1,
            8,
            "calls another AWS service",
        ),
        (
            "SELECT get_dynamodb('t','k',1,'r') FROM 't'",
            V2,
            1,
            8,
            "calls another AWS service",
        ),
        (
            "SELECT machinelearning_predict('m','r',*) FROM 't'",
            V2,
            1,
            8,
            "calls another AWS service",
        ),
        (
            "SELECT decode(*, 'proto', 'bucket', 'key', 'file', 'Message') FROM 't'",
            V2,
            1,
            8,
            "'proto' scheme reads a descriptor from Amazon S3",
        ),
        (
            "SELECT * AS FROM 't'",
            V2,
            1,
            13,
            "Expected an alias name after AS",
        ),
        (
            "SELECT a FROM t/# WHERE",
            V2,
            1,
            24,
            "Expected an expression but found end of input",
        ),
        (
            "SELECT a FROM a/#/b",
            V2,
            1,
            15,
            "'#' must be the whole last level",
        ),
        (
            "SELECT indexof('a','b') FROM 't'",
            V1,
            1,
            8,
            "requires SQL version 2016-03-23",
        ),
        (
            "SELECT [1, 2] AS a FROM 't'",
            V1,
            1,
            8,
            "An array literal requires SQL version 2016-03-23",
        ),
        (
            "SELECT {'a': 1} AS a FROM 't'",
            V1,
            1,
            8,
            "An object literal requires",
        ),
        (
            "SELECT (SELECT VALUE n FROM e) AS a FROM 't'",
            V1,
            1,
            8,
            "A nested SELECT requires",
        ),
        (
            "SELECT cast(1 AS Decimal) AS a FROM 't'",
            V1,
            1,
            18,
            "cast to Decimal requires",
        ),
        (
            "SELECT cast(1 AS Widget) AS a FROM 't'",
            V2,
            1,
            18,
            "Expected a cast type",
        ),
        (
            "SELECT CASE a ELSE 1 END FROM 't'",
            V2,
            1,
            15,
            "Expected WHEN but found 'ELSE'",
        ),
        (
            "SELECT @x AS a FROM 't'",
            V2,
            1,
            8,
            "Variable @x is not defined",
        ),
        (
            "SET @a = 1, @a = 2 SELECT @a FROM 't'",
            V2,
            1,
            13,
            "assigned twice",
        ),
        (
            "SELECT a FROM 't' SET @a = 1",
            V2,
            1,
            19,
            "SET may appear only once, before SELECT",
        ),
        (
            "SELECT VALUE a, b FROM 't'",
            V2,
            1,
            14,
            "exactly one expression",
        ),
        (
            "SELECT a # b FROM 't'",
            V2,
            1,
            10,
            "Unexpected character '#'",
        ),
        ("SELECT 12abc FROM 't'", V2, 1, 8, "Invalid number '12abc'"),
        (
            "SELECT a.0 FROM 't'",
            V2,
            1,
            10,
            "Expected an attribute name after '.'",
        ),
        (
            "SELECT a AS FROM 't'",
            V2,
            1,
            13,
            "Expected an alias name after AS",
        ),
    ];
    for (sql, version, line, column, message) in rows {
        let (l, c, m) = error(sql, *version);
        assert!(
            m.contains(message),
            "{sql}: message {m:?} lacks {message:?}"
        );
        assert_eq!((l, c), (*line, *column), "{sql}: {m}");
    }
}

#[test]
fn display_is_sql_parse_exception_style() {
    let error = Statement::parse("SELECT FROM 'a'", V2).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1:8: Expected an expression but found 'FROM'"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let sql = format!("SELECT {}1{} FROM 't'", "(".repeat(5000), ")".repeat(5000));
    let error = Statement::parse(&sql, V2).unwrap_err();
    assert!(error.message.contains("nested too deeply"));
    let sql = format!("SELECT {}1 FROM 't'", "NOT ".repeat(5000));
    assert!(Statement::parse(&sql, V2).is_err());
    let sql = format!("SELECT {}1 FROM 't'", "- ".repeat(5000));
    assert!(Statement::parse(&sql, V2).is_err());
}

#[test]
fn accepted_statements() {
    let rows: &[(&str, Option<&str>)] = &[
        ("SELECT * FROM 'topic/subtopic'", Some("topic/subtopic")),
        ("select * from 'a/+/c/#'", Some("a/+/c/#")),
        ("SELECT * FROM '#'", Some("#")),
        ("SELECT *", None),
        ("SELECT * WHERE a > 1", None),
        ("SELECT value FROM 't'", Some("t")),
        ("SELECT VALUE value FROM 't'", Some("t")),
        ("SET @a = 1 SELECT @a AS a FROM 't'", Some("t")),
        ("SELECT timestamp, topic FROM 't'", Some("t")),
        ("SELECT foo.bar AS bar.baz FROM \"t\"", Some("t")),
        (
            "SELECT * FROM $aws/things/+/shadow/update/documents",
            Some("$aws/things/+/shadow/update/documents"),
        ),
        (
            "SELECT (SELECT VALUE n FROM e) AS x FROM a/b WHERE x <> 1",
            Some("a/b"),
        ),
    ];
    for (sql, topic) in rows {
        let statement = Statement::parse(sql, V2).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(statement.topic_filter(), *topic, "{sql}");
    }
}

#[test]
fn versions_parse_by_name() {
    assert_eq!(SqlVersion::parse("2015-10-08"), Some(V1));
    assert_eq!(SqlVersion::parse("2016-03-23"), Some(V2));
    assert_eq!("beta".parse::<SqlVersion>().unwrap(), SqlVersion::Beta);
    assert!("2017-01-01".parse::<SqlVersion>().is_err());
    assert_eq!(SqlVersion::default(), V1);
}

#[test]
fn template_errors_point_into_the_text() {
    let error = Template::parse("prefix/${topic(}", V2).unwrap_err();
    assert_eq!((error.line, error.column), (1, 16), "{error}");
    let error = Template::parse("a ${topic()", V2).unwrap_err();
    assert!(error.message.contains("Expected '}'"));
}

#[test]
fn long_chains_are_an_error_not_a_crash() {
    // Left-associative chains and member paths nest without recursion in the parser; the
    // evaluator (and dropping the tree) would recurse once per link.
    for chain in [
        format!("SELECT VALUE 1{} FROM 't'", " + 1".repeat(100_000)),
        format!("SELECT VALUE a{} FROM 't'", ".b".repeat(100_000)),
        format!("SELECT VALUE a{} FROM 't'", "[0]".repeat(100_000)),
        format!("SELECT VALUE true{} FROM 't'", " AND true".repeat(100_000)),
        format!("SELECT VALUE 1{} FROM 't'", " = 1".repeat(100_000)),
    ] {
        let error = Statement::parse(&chain, V2).unwrap_err();
        assert!(error.message.contains("nested too deeply"), "{error}");
    }
    // Within the limits, long chains parse and evaluate (on a test thread's 2 MiB stack, in a
    // debug build).
    let sum = format!("1{}", " + 1".repeat(250));
    assert_eq!(crate::value(V2, &sum, "{}"), "251");
    let all = format!("true{}", " AND true".repeat(250));
    assert_eq!(crate::value(V2, &all, "{}"), "true");
    let path = format!("a{}", ".a".repeat(250));
    assert_eq!(crate::value(V2, &path, r#"{"a": {"a": 1}}"#), "");
    let nested = format!("{}1{}", "(".repeat(63), ")".repeat(63));
    assert_eq!(crate::value(V2, &nested, "{}"), "1");
    let mixed = format!("{}1{}", "(1 + ".repeat(60), ")".repeat(60));
    assert_eq!(crate::value(V2, &mixed, "{}"), "61");
}
