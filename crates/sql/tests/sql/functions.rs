//! Every built-in function, with the Developer Guide's examples and each documented rule.

use std::net::{IpAddr, Ipv4Addr};

use thingd_sql::{Input, MqttProperties, Statement};

use crate::{TestEnv, V1, V2, table, table_on, value};

#[test]
fn math() {
    table(
        V2,
        &[
            ("abs(-5)", "5"),
            ("abs(-5.123)", "5.123"),
            ("abs('-5.123')", "5.123"),
            ("abs(true)", ""),
            ("abs(null)", ""),
            ("acos(0)", "1.5707963267948966"),
            ("asin(0)", "0"),
            ("atan(0)", "0"),
            ("atan2(1, 0)", "1.5707963267948966"),
            ("acos(2)", ""),
            ("cos(0)", "1"),
            ("cosh(2.3)", "5.037220649268761"),
            ("exp(0)", "1"),
            ("ln(1)", "0"),
            ("log(100)", "2"),
            ("power(2, 5)", "32"),
            ("power('2', 'x')", ""),
            ("sin(0)", "0"),
            ("sinh(2.3)", "4.936961805545957"),
            ("sqrt(9)", "3"),
            ("sqrt(-1)", ""),
            ("tan(3)", "-0.1425465430742778"),
            ("tanh(2.3)", "0.9800963962661914"),
            ("ceil(1.2)", "2"),
            ("ceil(-1.2)", "-1"),
            ("floor(1.2)", "1"),
            ("floor(-1.2)", "-2"),
            ("floor('3.7')", "3"),
            ("floor([1,2,3])", ""),
            ("round(1.2)", "1"),
            ("round(1.5)", "2"),
            ("round(1.7)", "2"),
            ("round(-1.1)", "-1"),
            ("round(-1.5)", "-2"),
            ("sign(-7)", "-1"),
            ("sign(0)", "0"),
            ("sign(13)", "1"),
            ("sign(-0.5)", "-1"),
            ("mod(8, 3)", "2"),
            ("remainder(8, 3)", "2"),
            ("mod(8.5, 3)", "2.5"),
            ("mod('x', 3)", ""),
            ("trunc(2.3, 0)", "2"),
            ("trunc(2.3123, 2)", "2.31"),
            ("trunc(2.3123, 6)", "2.3123"),
            ("trunc(-2.789, 1)", "-2.7"),
            ("trunc(2.50, 1)", "2.5"),
            ("trunc(2.888, 2)", "2.88"),
            ("trunc(2.00, 5)", "2"),
            ("trunc('2.3123', 2)", "2.31"),
            ("trunc(7, 2)", "7"),
            ("trunc(2.3123, 2.9)", "2.31"),
            ("trunc(true, 2)", ""),
            ("nanvl(8, 3)", "8"),
            ("nanvl(missing, 3)", "3"),
            ("nanvl(null, 3)", "3"),
            ("nanvl('x', 3)", "\"x\""),
            ("bitand(13, 5)", "5"),
            ("bitor(8, 5)", "13"),
            ("bitxor(13, 5)", "8"),
            ("bitnot(13)", "-14"),
            ("bitand(13.7, '5')", "5"),
            ("bitand(13, 'x')", ""),
        ],
    );
    table(
        V1,
        &[
            ("power(2, 5)", "32.0"),
            ("sqrt(9)", "3.0"),
            ("cos(0)", "1.0"),
            ("trunc(2.3, 0)", "2"),
        ],
    );
    let r: f64 = value(V1, "rand()", "{}").parse().unwrap();
    assert!((0.0..1.0).contains(&r));
}

#[test]
fn strings() {
    table(
        V2,
        &[
            ("chr(65)", "\"A\""),
            ("chr(49)", "\"1\""),
            ("chr(65.9)", "\"A\""),
            ("chr(300)", ""),
            ("concat()", ""),
            ("concat(1)", "1"),
            ("concat([1, 2, 3], 4)", "[1,2,3,4]"),
            ("concat([1, 2, 3], 'hello')", "[1,2,3,\"hello\"]"),
            ("concat('con', 'cat')", "\"concat\""),
            ("concat(1, 'hello')", "\"1hello\""),
            ("concat('he', 'is', 'man')", "\"heisman\""),
            (
                "concat([1, 2, 3], 'hello', [4, 5, 6])",
                "[1,2,3,\"hello\",4,5,6]",
            ),
            ("concat('a', missing)", ""),
            ("endswith('cat', 'at')", "true"),
            ("endswith(123, 3)", "true"),
            ("endswith('cat', null)", ""),
            ("startswith('ranger', 'ran')", "true"),
            ("startswith('ranger', missing)", ""),
            ("indexof('abcd', 'bc')", "1"),
            ("indexof('abcd', 'x')", "-1"),
            ("length('hi')", "2"),
            ("length(false)", "5"),
            ("length('€uro')", "4"),
            ("numbytes('hi')", "2"),
            ("numbytes('€')", "3"),
            ("lower('HELLO')", "\"hello\""),
            ("lower(['HELLO'])", "\"[\\\"hello\\\"]\""),
            ("upper('hello')", "\"HELLO\""),
            ("lpad('hello', 2)", "\"  hello\""),
            ("lpad(1, 3)", "\"   1\""),
            ("lpad('a', -5)", "\"a\""),
            ("lpad('a', 'x')", ""),
            ("rpad('hello', 2)", "\"hello  \""),
            ("rpad(1, 3)", "\"1   \""),
            ("length(rpad('', 5000))", "1000"),
            ("ltrim(' h i ')", "\"h i \""),
            ("rtrim(' h i ')", "\" h i\""),
            ("trim(' h i ')", "\"h i\""),
            ("trim(null)", ""),
            ("replace('abcd', 'bc', 'x')", "\"axd\""),
            ("replace('abcdabcd', 'b', 'x')", "\"axcdaxcd\""),
            ("substring('012345', 0)", "\"012345\""),
            ("substring('012345', 2)", "\"2345\""),
            ("substring('012345', 2.745)", "\"2345\""),
            ("substring(123, 2)", "\"3\""),
            ("substring('012345', -1)", "\"012345\""),
            ("substring(true, 1.2)", "\"rue\""),
            ("substring(false, -2.411E247)", "\"false\""),
            ("substring('012345', 1, 3)", "\"12\""),
            ("substring('012345', -50, 50)", "\"012345\""),
            ("substring('012345', 3, 1)", "\"\""),
            ("substring('012345', 'x')", ""),
            ("regexp_matches('aaaa', 'a{2,}')", "true"),
            ("regexp_matches('aaaa', 'b')", "false"),
            ("regexp_matches('a1', '\\d')", "true"),
            ("regexp_matches('aaaa', '(')", ""),
            ("regexp_replace('abcd', 'bc', 'x')", "\"axd\""),
            ("regexp_replace('abcd', 'b(.*)d', '$1')", "\"ac\""),
            ("regexp_replace('abcd', 'b(c)', '$1x')", "\"acxd\""),
            ("regexp_substr('hihihello', 'hi')", "\"hi\""),
            ("regexp_substr('hihihello', '(hi)*')", "\"hihi\""),
            ("md2('hello')", "\"a9046c73e00331af68917d3804f70655\""),
            ("md5('hello')", "\"5d41402abc4b2a76b9719d911017c592\""),
            (
                "sha1('hello')",
                "\"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\"",
            ),
            (
                "sha224('hello')",
                "\"ea09ae9cc6768c50fcee903ed054556e5bfc8347907f12598aa24193\"",
            ),
            (
                "sha256('hello')",
                "\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\"",
            ),
            ("length(sha384('hello'))", "96"),
            ("length(sha512('hello'))", "128"),
            ("md5(null)", ""),
        ],
    );
    // Patterns that are not literals are compiled at evaluation time.
    table_on(
        V2,
        r#"{"p": "a+", "s": "baaad"}"#,
        &[("regexp_substr(s, p)", "\"aaa\"")],
    );
}

#[test]
fn types_and_json() {
    table(
        V2,
        &[
            ("get(['a', 'b', 'c'], 1)", "\"b\""),
            ("get({'a': 'b'}, 'a')", "\"b\""),
            ("get('abc', 1)", "\"b\""),
            ("get(['a'], 1)", ""),
            ("get(['a'], -1)", ""),
            ("get(['a', 'b'], '1')", "\"b\""),
            ("get({'1': 'x'}, 1)", ""),
            ("get(5, 0)", ""),
            ("['a', 'b'][1]", "\"b\""),
            ("get_or_default(missing, 'd')", "\"d\""),
            ("get_or_default(null, 'd')", "\"d\""),
            ("get_or_default(1, 'd')", "1"),
            ("isNull(5)", "false"),
            ("isNull(null)", "true"),
            ("isNull(missing)", "false"),
            ("isUndefined(5)", "false"),
            ("isUndefined(floor([1,2,3]))", "true"),
            ("cast(true AS Int)", "1"),
            ("cast(2.9 AS Int)", "2"),
            ("cast(-2.9 AS Integer)", "-2"),
            ("cast('5.5' AS Int)", "5"),
            ("cast('x' AS Int)", ""),
            ("cast(1 AS String)", "\"1\""),
            ("cast(1.5 AS varchar)", "\"1.5\""),
            ("cast(true AS Text)", "\"true\""),
            ("cast([1, 'a'] AS String)", "\"[1,\\\"a\\\"]\""),
            ("cast(null AS String)", ""),
            ("cast(1 AS Double)", "1"),
            ("cast(1.5 AS Decimal)", "1.5"),
            ("cast(0 AS Boolean)", "false"),
            ("cast(2.5 AS Bool)", "true"),
            ("cast('TRUE' AS Boolean)", "true"),
            ("cast('yes' AS Boolean)", ""),
            ("cast(null AS Boolean)", ""),
        ],
    );
    table(
        V1,
        &[
            ("cast(1 AS Double)", "1.0"),
            ("cast(true AS Double)", "1.0"),
        ],
    );
}

#[test]
fn encode_decode_and_transform() {
    let payload =
        r#"{"encoded_temp": "eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg==", "text": "aGVsbG8=", "bad": "!!"}"#;
    table_on(
        V2,
        payload,
        &[
            ("decode(encoded_temp, 'base64').temperature", "33"),
            ("decode(text, 'base64')", "\"hello\""),
            ("decode(bad, 'base64')", "null"),
            ("decode(text, 'hex')", ""),
            ("encode('hello', 'base64')", "\"aGVsbG8=\""),
            ("encode(1, 'base64')", "\"MQ==\""),
        ],
    );
    let out = crate::run(
        "SELECT decode(encoded_temp, \"base64\").temperature AS temp from 'topic/subtopic'",
        V2,
        payload,
    );
    assert_eq!(out.unwrap(), r#"{"temp":33}"#);

    let payload =
        r#"{"attributes": {"data1": 1, "data2": 2}, "values": [{"a": 3}, {"b": 4}, {"c": 5}]}"#;
    assert_eq!(
        value(V2, "transform('enrichArray', attributes, values)", payload),
        r#"[{"a":3,"data1":1,"data2":2},{"b":4,"data1":1,"data2":2},{"c":5,"data1":1,"data2":2}]"#
    );
    assert_eq!(
        value(
            V2,
            "transform('enrichArray', {'key': attributes.data1}, values)",
            payload
        ),
        r#"[{"a":3,"key":1},{"b":4,"key":1},{"c":5,"key":1}]"#
    );
    assert_eq!(
        value(V2, "transform('other', attributes, values)", payload),
        ""
    );
}

#[test]
fn context_functions() {
    let statement = Statement::parse(
        "SELECT topic() AS t, topic(1) AS t1, topic(3) AS t3, topic(9) AS t9, clientid() AS c, \
         principal() AS p, accountid() AS a, timestamp() AS ts, traceid() AS tr, sql_version() AS v, \
         sourceip() AS ip, get_mqtt_property('content_type') AS ct, \
         get_mqtt_property('format_indicator') AS fi, get_mqtt_property('correlation_data') AS cd, \
         get_mqtt_property('response_topic') AS rt, get_user_properties('k') AS up, \
         get_user_properties('none') AS none, newuuid() AS id FROM '$aws/rules/BuildingManager/#'",
        V2,
    )
    .unwrap();
    let user_properties = vec![
        ("k".to_owned(), "v1".to_owned()),
        ("x".to_owned(), "y".to_owned()),
        ("k".to_owned(), "v2".to_owned()),
    ];
    let mut input = Input::new(
        "$aws/rules/BuildingManager/Buildings/Building5/Floor2/Room201/Lights",
        b"{}",
        1_481_825_251_155,
    );
    input.basic_ingest_rule = Some("BuildingManager");
    input.client_id = Some("client-1");
    input.principal = Some("ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373");
    input.trace_id = Some("12345678-1234-1234-1234-123456789012");
    input.source_ip = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
    input.mqtt = MqttProperties {
        format_indicator: Some(1),
        content_type: Some("application/json"),
        response_topic: Some("reply/here"),
        correlation_data: Some(b"abc"),
        user_properties: &user_properties,
    };
    let output = statement.evaluate(&input, &TestEnv).unwrap().unwrap();
    let mut json = output.json().unwrap().clone();
    let id = json.as_object_mut().unwrap().remove("id").unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(id.as_str().unwrap())
            .unwrap()
            .get_version_num(),
        4
    );
    assert_eq!(
        json,
        serde_json::json!({
            "t": "Buildings/Building5/Floor2/Room201/Lights", "t1": "Buildings", "t3": "Floor2",
            "c": "client-1",
            "p": "ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373",
            "a": "123456789012", "ts": 1_481_825_251_155_i64,
            "tr": "12345678-1234-1234-1234-123456789012", "v": "2016-03-23", "ip": "192.0.2.7",
            "ct": "application/json", "fi": "UTF8_DATA", "cd": "YWJj", "rt": "reply/here",
            "up": ["v1", "v2"]
        })
    );
    // Without the optional context: clientid() is n/a, the others are Undefined.
    let bare = crate::run(
        "SELECT clientid() AS c, principal() AS p, traceid() AS t, sourceip() AS s, sql_version() AS v FROM 'a'",
        V1,
        "{}",
    );
    assert_eq!(bare.unwrap(), r#"{"c":"n/a","v":"2015-10-08"}"#);
    assert_eq!(value(V2, "topic(2)", "{}"), "\"subtopic\"");
}

#[test]
fn shadows_come_from_the_environment() {
    let out = crate::run(
        "SELECT * FROM 'topic/subtopic' WHERE get_thing_shadow('MyThing', 'arn:aws:iam::123456789012:role/R').state.reported.alarm = 'ON'",
        V2,
        r#"{"x": 1}"#,
    );
    assert_eq!(out.unwrap(), r#"{"x":1}"#);
    let out = crate::run(
        "SELECT * FROM 'topic/subtopic' WHERE get_thing_shadow('MyThing', 'named', 'arn:aws:iam::1:role/R').state.reported.alarm = 'ON'",
        V2,
        r#"{"x": 1}"#,
    );
    assert_eq!(out, None);
    assert_eq!(value(V2, "get_thing_shadow('Other', 'arn')", "{}"), "");
}

#[test]
fn time_functions() {
    table(
        V2,
        &[
            ("parse_time('yyyy', 1481825251155)", "\"2016\""),
            (
                "parse_time(\"yyyy.MM.dd G 'at' HH:mm:ss z\", 100000000, '-06:00')",
                "\"1970.01.01 AD at 21:46:40 -06:00\"",
            ),
            (
                "parse_time(\"yyyy.MM.dd G 'at' HH:mm:ss z\", 1497028786000)",
                "\"2017.06.09 AD at 17:19:46 UTC\"",
            ),
            (
                "parse_time('yyyy-MM-dd HH:mm:ss.SSS', 1481825251155, 'UTC')",
                "\"2016-12-15 18:07:31.155\"",
            ),
            (
                "parse_time('EEE, d MMM yy hh:mm a Z', 1481825251155)",
                "\"Thu, 15 Dec 16 06:07 PM +0000\"",
            ),
            (
                "parse_time('EEEE MMMM D', 1481825251155)",
                "\"Thursday December 350\"",
            ),
            ("parse_time('yyyy', 1481825251155, 'America/Belize')", ""),
            ("parse_time('yyyy q', 1481825251155)", ""),
            (
                "time_to_epoch('2020-04-03 09:45:18 UTC+01:00', 'yyyy-MM-dd HH:mm:ss VV')",
                "1585903518000",
            ),
            (
                "time_to_epoch('18 December 2015', 'dd MMMM yyyy')",
                "1450396800000",
            ),
            (
                "time_to_epoch('2016-12-15T18:07:31.155Z', \"yyyy-MM-dd'T'HH:mm:ss.SSSX\")",
                "1481825251155",
            ),
            ("time_to_epoch('20161215', 'yyyyMMdd')", "1481760000000"),
            ("time_to_epoch('06:07 PM', 'hh:mm a')", "65220000"),
            ("time_to_epoch('not a date', 'yyyy')", ""),
            ("time_to_epoch('2016é12', 'yyyy-MM')", ""),
            ("time_to_epoch('é', '-')", ""),
            ("time_to_epoch('250 PM', 'K a')", ""),
            ("time_to_epoch('13 PM', 'h a')", ""),
            ("time_to_epoch('12 AM', 'h a')", "0"),
            ("time_to_epoch('12 PM', 'h a')", "43200000"),
            ("time_to_epoch('-2147483648 BC', 'yyyy G')", ""),
            (
                "time_to_epoch('2007-12-03 10:15:30.592 America/Los_Angeles', 'yyyy-MM-dd HH:mm:ss.SSS z')",
                "",
            ),
        ],
    );
}

#[test]
fn string_growth_is_bounded() {
    let payload = format!(r#"{{"s": "{}"}}"#, "a".repeat(100_000));
    let evaluate = |expr: &str| {
        Statement::parse(&format!("SELECT VALUE {expr} FROM 't'"), V2)
            .unwrap()
            .evaluate(&Input::new("t", payload.as_bytes(), 0), &TestEnv)
    };
    for expr in [
        "replace(s, 'a', s)",
        "regexp_replace(s, 'a', s)",
        "regexp_replace(s, '(a)', '$1$1$1$1$1$1$1$1$1$1$1')",
        "regexp_replace(s, 'a+', '$0$0$0$0$0$0$0$0$0$0$0')",
    ] {
        let error = evaluate(expr).unwrap_err();
        assert!(
            error.to_string().contains("exceeds the limit"),
            "{expr}: {error}"
        );
    }
    // Growth within the limit is fine.
    let out = evaluate("length(regexp_replace(s, '(a)', '$1$1'))")
        .unwrap()
        .unwrap();
    assert_eq!(out.to_payload(), b"200000");
    let out = evaluate("length(replace(s, 'a', 'bb'))").unwrap().unwrap();
    assert_eq!(out.to_payload(), b"200000");
}
