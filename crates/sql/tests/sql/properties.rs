//! Property tests: no input makes parsing or evaluation panic.

use proptest::prelude::*;
use thingd_sql::{Input, SqlVersion, Statement, Template};

use crate::TestEnv;

const VERSIONS: [SqlVersion; 3] = [
    SqlVersion::V2015_10_08,
    SqlVersion::V2016_03_23,
    SqlVersion::Beta,
];

/// SQL-looking fragments, so generated statements get past the lexer and exercise the parser
/// and evaluator rather than failing on the first character.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("SELECT ".to_owned()),
        Just("VALUE ".to_owned()),
        Just("* ".to_owned()),
        Just("FROM 't/#' ".to_owned()),
        Just("WHERE ".to_owned()),
        Just("SET @v = ".to_owned()),
        Just("@v".to_owned()),
        Just("AND ".to_owned()),
        Just("OR ".to_owned()),
        Just("NOT ".to_owned()),
        Just("CASE a WHEN 1 THEN 2 ELSE 3 END ".to_owned()),
        Just("(SELECT VALUE x FROM arr WHERE x > 1) ".to_owned()),
        Just("AS out.x ".to_owned()),
        Just(", ".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[1, 'a', null]".to_owned()),
        Just("{'k': a}".to_owned()),
        Just(" + ".to_owned()),
        Just(" - ".to_owned()),
        Just(" / ".to_owned()),
        Just(" % ".to_owned()),
        Just(" * ".to_owned()),
        Just(" = ".to_owned()),
        Just(" <> ".to_owned()),
        Just(" < ".to_owned()),
        Just(" IN ".to_owned()),
        Just("a.b".to_owned()),
        Just("arr[1]".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-1.5e300".to_owned()),
        Just("0".to_owned()),
        Just("'s'".to_owned()),
        "[a-z_]{1,8}\\(".prop_map(|name| name),
        "(abs|substring|concat|regexp_replace|lpad|trunc|parse_time|time_to_epoch|cast|get|decode|encode|transform|bitnot|power|chr|mod)\\(".prop_map(|s| s),
        "[ -~]{0,6}",
    ]
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(br#"{"a": 1, "b": {"c": [1, 2.5, "x"]}, "arr": [1, 2, 3], "s": "1e5"}"#.to_vec()),
        Just(br#"[1, {"a": null}]"#.to_vec()),
        Just(b"1.0".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..32),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(sql in "\\PC{0,80}", version in 0usize..3) {
        let _ = Statement::parse(&sql, VERSIONS[version]);
        let _ = Template::parse(&sql, VERSIONS[version]);
    }

    #[test]
    fn generated_statements_never_panic(
        parts in proptest::collection::vec(fragment(), 1..14),
        payload in payload(),
        version in 0usize..3,
    ) {
        let sql = parts.concat();
        let input = Input::new("t/x", &payload, 1_481_825_251_155);
        if let Ok(statement) = Statement::parse(&sql, VERSIONS[version]) {
            let _ = statement.evaluate(&input, &TestEnv);
        }
        let template = format!("x/${{{sql}}}/y");
        if let Ok(template) = Template::parse(&template, VERSIONS[version]) {
            let _ = template.render(&input, &TestEnv, &thingd_sql::Variables::new());
        }
    }
}

/// Functions that take text, each applied to arbitrary strings (quoted as SQL literals).
const TEXT_FUNCTIONS: &[&str] = &[
    "time_to_epoch({a}, {b})",
    "parse_time({a}, 1481825251155, {b})",
    "parse_time({b}, -62135596800001)",
    "substring({a}, {b}, 3)",
    "regexp_replace({a}, {b}, '$1x')",
    "regexp_substr({a}, {b})",
    "replace({a}, {b}, 'z')",
    "indexof({a}, {b})",
    "decode({a}, 'base64')",
    "get({a}, {b})",
    "lpad({a}, {b})",
    "cast({a} AS Int) + cast({b} AS Decimal)",
    "{a} * {b}",
    "{a} + {b}",
    "{a} < {b}",
    "chr({a})",
    "topic({b})",
    "get_mqtt_property({a})",
];

/// `text` as a single-quoted literal: backslashes and quotes escaped.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn text_functions_never_panic(
        function in 0..TEXT_FUNCTIONS.len(),
        a in "\\PC{0,24}",
        b in prop_oneof!["\\PC{0,12}", "[yMdHhmsSaEzZXVGkKDu' :.-]{0,12}", "-?[0-9]{1,20}(\\.[0-9]{1,5})?"],
    ) {
        let expr = TEXT_FUNCTIONS[function]
            .replace("{a}", &quoted(&a))
            .replace("{b}", &quoted(&b));
        let sql = format!("SELECT VALUE {expr} FROM 't'");
        let statement = Statement::parse(&sql, SqlVersion::V2016_03_23);
        prop_assert!(statement.is_ok(), "{sql}: {statement:?}");
        if let Ok(statement) = statement {
            let _ = statement.evaluate(&Input::new("a/b", b"{}", 0), &TestEnv);
        }
    }
}
