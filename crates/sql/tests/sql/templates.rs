//! Substitution templates (`${...}`) on the original message with SET variables.

use thingd_sql::{Input, Statement, Template, Value, Variables};

use crate::{TestEnv, V1, V2};

fn render(template: &str, payload: &str, variables: &Variables) -> String {
    let mut input = Input::new("my/iot/topic", payload.as_bytes(), 1_481_825_251_155);
    input.client_id = Some("dev-1");
    Template::parse(template, V2)
        .unwrap()
        .render(&input, &TestEnv, variables)
}

#[test]
fn templates_render_expressions() {
    let payload =
        r#"{"deviceid": "iot123", "temp": 54.98, "coords": {"latitude": 47.6}, "tags": ["a"]}"#;
    let none = Variables::new();
    let rows = [
        ("${topic()}/republish", "my/iot/topic/republish"),
        (
            "${replace(topic(),'/','-')}-${timestamp()}",
            "my-iot-topic-1481825251155",
        ),
        ("${parse_time('yyyy', timestamp(), 'UTC')}", "2016"),
        ("device/${deviceid}", "device/iot123"),
        ("${temp}", "54.98"),
        ("${coords}", r#"{"latitude":47.6}"#),
        ("${tags}", r#"["a"]"#),
        ("${missing}-x", "-x"),
        ("${clientid()}", "dev-1"),
        ("no templates at all", "no templates at all"),
        ("$aws/things/x and $$ and $", "$aws/things/x and $$ and $"),
        ("${ {'a': '}'}.a }", "}"),
        ("${concat('{', deviceid, '}')}", "{iot123}"),
        ("${isNull(null)}", "true"),
    ];
    for (template, expected) in rows {
        assert_eq!(render(template, payload, &none), expected, "{template}");
    }
    let plain = Template::parse("plain", V1).unwrap();
    assert!(plain.is_literal());
}

#[test]
fn templates_see_set_variables() {
    let statement =
        Statement::parse("SET @room = upper(room) SELECT * FROM 'rooms/+'", V2).unwrap();
    let input = Input::new("rooms/1", br#"{"room": "kitchen"}"#, 0);
    let output = statement.evaluate(&input, &TestEnv).unwrap().unwrap();
    let template = Template::parse("alerts/${@room}/${lower(@room)}/${@unknown}", V2).unwrap();
    assert_eq!(
        template.render(&input, &TestEnv, output.variables()),
        "alerts/KITCHEN/kitchen/"
    );
    let mut variables = Variables::new();
    variables.insert("room", Value::String("hall".to_owned()));
    assert_eq!(
        template.render(&input, &TestEnv, &variables),
        "alerts/hall/hall/"
    );
}

#[test]
fn template_versions_apply() {
    assert!(Template::parse("${indexof('ab', 'b')}", V1).is_err());
    assert!(Template::parse("${indexof('ab', 'b')}", V2).is_ok());
    assert!(Template::parse("${aws_lambda('arn', *)}", V2).is_err());
    assert!(Template::parse("${a b}", V2).is_err());
}
