//! CASE, nested queries over payload arrays, SET variables and literals.

use thingd_sql::{Input, Statement, Value};

use crate::{TestEnv, V2, run, table_on};

#[test]
fn case_matches_in_order() {
    let sql = "SELECT CASE color WHEN 'green' THEN 'go' WHEN 'yellow' THEN 'caution' \
               WHEN 'red' THEN 'stop' ELSE 'you are not at a stop light' END as instructions \
               FROM 'topic/subtopic'";
    let rows = [
        (r#"{"color":"yellow"}"#, r#"{"instructions":"caution"}"#),
        (r#"{"color":"red"}"#, r#"{"instructions":"stop"}"#),
        (
            r#"{"color":"blue"}"#,
            r#"{"instructions":"you are not at a stop light"}"#,
        ),
        (r#"{"other":1}"#, "{}"),
    ];
    for (payload, expected) in rows {
        assert_eq!(run(sql, V2, payload).unwrap(), expected, "{payload}");
    }
    table_on(
        V2,
        r#"{"n": 2}"#,
        &[
            ("CASE n WHEN 1 THEN 'one' END", ""),
            (
                "CASE n WHEN 2.0 THEN 'two' WHEN 2 THEN 'second' END",
                "\"two\"",
            ),
            ("CASE n WHEN missing THEN 'x' ELSE 'y' END", "\"y\""),
            ("case n when 2 then upper('a') else 'b' end", "\"A\""),
        ],
    );
}

#[test]
fn nested_queries_over_arrays() {
    let payload = r#"{"e": [
        { "n": "temperature", "u": "Cel", "t": 1234, "v": 22.5 },
        { "n": "light", "u": "lm", "t": 1235, "v": 135 },
        { "n": "acidity", "u": "pH", "t": 1235, "v": 7 }
    ]}"#;
    let rows = [
        (
            "SELECT (SELECT VALUE n FROM e) as sensors FROM 'my/topic'",
            r#"{"sensors":["temperature","light","acidity"]}"#,
        ),
        (
            "SELECT (SELECT v FROM e WHERE n = 'temperature') as temperature FROM 'my/topic'",
            r#"{"temperature":[{"v":22.5}]}"#,
        ),
        (
            "SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v as temperature FROM 'topic'",
            r#"{"temperature":22.5}"#,
        ),
        (
            "SELECT (SELECT n, v * 2 AS double FROM e WHERE t > 1234) AS later FROM 'topic'",
            r#"{"later":[{"double":270,"n":"light"},{"double":14,"n":"acidity"}]}"#,
        ),
        (
            "SELECT (SELECT * FROM e WHERE v = 7) AS x FROM 'topic'",
            r#"{"x":[{"n":"acidity","t":1235,"u":"pH","v":7}]}"#,
        ),
        (
            "SELECT (SELECT VALUE n FROM missing) AS x FROM 'topic'",
            "{}",
        ),
        (
            "SELECT (SELECT VALUE n FROM e WHERE n = 'none') AS x FROM 'topic'",
            r#"{"x":[]}"#,
        ),
        (
            "SELECT (SELECT u, v FROM get(e, 1)) AS light FROM 'topic'",
            r#"{"light":{"u":"lm","v":135}}"#,
        ),
        (
            "SELECT (SELECT VALUE v FROM get(e, 1) WHERE u = 'Cel') AS x FROM 'topic'",
            "{}",
        ),
        (
            "SELECT (SELECT VALUE n FROM get(e, 0).n) AS x FROM 'topic'",
            "{}",
        ),
    ];
    for (sql, expected) in rows {
        assert_eq!(run(sql, V2, payload).unwrap(), expected, "{sql}");
    }
}

#[test]
fn set_variables_are_visible_everywhere() {
    let sql = "SET @temp_celsius = (temp_fahrenheit - 32) * 5 / 9, @hot = @temp_celsius > 20, \
               @dev = device1.deviceData \
               SELECT @temp_celsius AS celsius, humidity, @dev.sensors.humidity AS h2, \
               (SELECT VALUE x + @temp_celsius FROM [1, 2]) AS shifted \
               FROM 'device/data' WHERE @hot";
    let statement = Statement::parse(sql, V2).unwrap();
    assert_eq!(
        statement.variable_names().collect::<Vec<_>>(),
        ["temp_celsius", "hot", "dev"]
    );
    let payload = br#"{"temp_fahrenheit": 77, "humidity": 60, "device1": {"deviceData": {"sensors": {"humidity": 61}}}}"#;
    let input = Input::new("device/data", payload, 0);
    let output = statement.evaluate(&input, &TestEnv).unwrap().unwrap();
    assert_eq!(
        String::from_utf8(output.to_payload()).unwrap(),
        r#"{"celsius":25,"h2":61,"humidity":60,"shifted":[]}"#
    );
    assert_eq!(
        output.variables().get("temp_celsius"),
        Some(&Value::Int(25))
    );
    assert_eq!(output.variables().get("hot"), Some(&Value::Bool(true)));
    let cold = Input::new("device/data", br#"{"temp_fahrenheit": 50}"#, 0);
    assert!(statement.evaluate(&cold, &TestEnv).unwrap().is_none());
    let variables = statement.variables(&cold, &TestEnv).unwrap();
    assert_eq!(variables.get("temp_celsius"), Some(&Value::Int(10)));
    assert_eq!(variables.len(), 3);
}

#[test]
fn literals() {
    let payload = r#"{"lat_long": [47.606, -122.332], "lat": 47.696, "long": -122.332}"#;
    assert_eq!(
        run("SELECT {'latitude': get(lat_long, 0),'longitude':get(lat_long, 1)} as lat_long FROM 'topic/subtopic'", V2, payload).unwrap(),
        r#"{"lat_long":{"latitude":47.606,"longitude":-122.332}}"#
    );
    assert_eq!(
        run(
            "SELECT [lat,long] as lat_long FROM 'topic/subtopic'",
            V2,
            payload
        )
        .unwrap(),
        r#"{"lat_long":[47.696,-122.332]}"#
    );
    table_on(
        V2,
        "{}",
        &[
            ("'it''s'", "\"it's\""),
            ("\"double\"", "\"double\""),
            ("'tab\\there'", "\"tab\\there\""),
            ("'\\u00e9'", "\"é\""),
            ("NULL", "null"),
            ("TRUE", "true"),
            ("1.5e3", "1500"),
            ("[1, missing, 2]", "[1,2]"),
            ("{'a': missing, 'b': 1}", "{\"b\":1}"),
            ("{}", "{}"),
            ("[]", "[]"),
        ],
    );
}
