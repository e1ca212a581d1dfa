//! Operators and the standard conversions, per SQL version (DG `iot-sql-operators`,
//! `iot-sql-data-types`).

use crate::{V1, V2, table, table_on, value};

#[test]
fn logical_operators() {
    let rows = [
        ("true AND true", "true"),
        ("true AND false", "false"),
        ("'TRUE' AND 'true'", "true"),
        ("'true' AND 1", ""),
        ("true AND missing", ""),
        ("false OR 'True'", "true"),
        ("false OR false", "false"),
        ("1 OR true", ""),
        ("NOT false", "true"),
        ("NOT 'FALSE'", "true"),
        ("NOT 0", ""),
        ("NOT missing", ""),
        ("NOT 1 = 2", "true"),
        ("true OR false AND false", "true"),
    ];
    table(V1, &rows);
    table(V2, &rows);
}

#[test]
fn comparisons_convert_to_decimal() {
    let rows = [
        ("1 < 2", "true"),
        ("2.5 >= 2.5", "true"),
        ("'10' > 9", "true"),
        ("'1e1' = 10", "false"),
        ("'1e1' >= 10", "true"),
        ("'abc' > 1", ""),
        ("true > false", ""),
        ("null < 1", ""),
        ("missing <= 1", ""),
        ("-1 < 0", "true"),
    ];
    table(V1, &rows);
    table(V2, &rows);
}

#[test]
fn equality_follows_the_table() {
    let payload = r#"{"a": [1, 2], "b": [2, 1], "o": {"x": 1, "y": "s"}, "p": {"y": "s", "x": 1.0}, "n": null}"#;
    let rows = [
        ("1 = 1", "true"),
        ("1 = 1.0", "true"),
        ("'a' = 'a'", "true"),
        ("'1' = 1", "false"),
        ("'1' <> 1", "true"),
        ("a = a", "true"),
        ("a = b", "false"),
        ("a <> b", "true"),
        ("o = p", "true"),
        ("n = null", "true"),
        ("n <> null", "false"),
        ("missing = 1", ""),
        ("1 <> missing", ""),
        ("true = 'true'", "false"),
        ("1 != 2", "true"),
    ];
    table_on(V1, payload, &rows);
    table_on(V2, payload, &rows);
}

#[test]
fn in_tests_membership() {
    let payload = r#"{"colors": ["red", "green"], "c": "red"}"#;
    table_on(
        V2,
        payload,
        &[
            ("c IN colors", "true"),
            ("'blue' IN colors", "false"),
            ("c IN ['red', 'blue']", "true"),
            ("missing IN colors", ""),
            ("c IN 'red'", ""),
        ],
    );
}

#[test]
fn arithmetic_in_2015_keeps_decimals() {
    table(
        V1,
        &[
            ("1 + 2", "3"),
            ("1 + 2.0", "3.0"),
            ("0.1 + 0.2", "0.3"),
            ("10.0", "10.0"),
            ("5 - 7", "-2"),
            ("'5' - 2", "3.0"),
            ("3 * 4", "12"),
            ("1.5 * 2", "3.0"),
            ("7 / 2", "3"),
            ("-7 / 2", "-3"),
            ("7.0 / 2", "3.5"),
            ("1 / 0", ""),
            ("1.0 / 0", ""),
            ("7 % 3", "1"),
            ("-7 % 3", "-1"),
            ("7.5 % 2", "1.5"),
            ("7 % 0", ""),
            ("'a' + 1", "\"a1\""),
            ("1 + 'a'", "\"1a\""),
            ("'a' + 1.5", "\"a1.5\""),
            ("'a' + true", "\"atrue\""),
            ("'a' + null", ""),
            ("'a' - 1", ""),
            ("true + 1", ""),
            ("null + 1", ""),
            ("missing + 1", ""),
            ("-(2)", "-2"),
            ("-'2'", "-2.0"),
            ("9223372036854775807 + 1", "9.22337203685478e+18"),
            ("(temperature - 32) * 5 / 9", ""),
        ],
    );
}

#[test]
fn arithmetic_in_2016_turns_whole_decimals_into_ints() {
    table(
        V2,
        &[
            ("1 + 2.0", "3"),
            ("10.0", "10"),
            ("'5' - 2", "3"),
            ("1.5 * 2", "3"),
            // 7.0 is the Int 7 in 2016-03-23, so this is integer division (use 2015-10-08 to
            // keep decimals, as AWS advises).
            ("7.0 / 2", "3"),
            ("7.5 / 2", "3.75"),
            ("0.1 + 0.2", "0.3"),
        ],
    );
}

#[test]
fn payload_numbers_follow_the_version() {
    let payload = r#"{"t": 10.0, "u": 10.5, "big": 123456789012345678901234567890}"#;
    assert_eq!(value(V1, "t", payload), "10.0");
    assert_eq!(value(V2, "t", payload), "10");
    assert_eq!(value(V1, "u", payload), "10.5");
    assert_eq!(value(V2, "u", payload), "10.5");
    assert_eq!(value(V1, "big > 1", payload), "true");
}

#[test]
fn the_select_example_from_the_guide() {
    let out = crate::run(
        "SELECT (temperature - 32) * 5 / 9 AS celsius, upper(color) as my_color FROM 'topic/subtopic'",
        V1,
        r#"{"color":"red", "temperature":50}"#,
    );
    assert_eq!(out.unwrap(), r#"{"celsius":10,"my_color":"RED"}"#);
}
