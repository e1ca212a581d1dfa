//! Criterion benchmark of the rules engine's work per message for a typical rule, the AWS IoT
//! Button's: the statement parsed once, then for each message SET/WHERE/SELECT evaluated and the
//! republish action's topic template rendered (what a rule's worker does before handing the
//! result to its actions).

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use thingd_sql::{Environment, Input, SqlVersion, Statement, Template};

const BUTTON: &str = "SELECT concat('Button ', serialNumber, ': ', clickType) AS text \
     FROM 'iotbutton/+' WHERE batteryVoltage <> ''";
const BUTTON_PAYLOAD: &[u8] =
    br#"{"serialNumber": "G030JF055364XVRB", "batteryVoltage": "1705mV", "clickType": "SINGLE"}"#;

struct Account;

impl Environment for Account {
    fn account_id(&self) -> &str {
        "123456789012"
    }
}

fn bench(c: &mut Criterion) {
    let statement = Statement::parse(BUTTON, SqlVersion::V2016_03_23).unwrap();
    let topic = Template::parse("notify/${topic(2)}", SqlVersion::V2016_03_23).unwrap();
    let input = Input::new(
        "iotbutton/G030JF055364XVRB",
        BUTTON_PAYLOAD,
        1_481_825_251_155,
    );
    let output = statement.evaluate(&input, &Account).unwrap().unwrap();
    assert_eq!(
        output.json().unwrap()["text"],
        "Button G030JF055364XVRB: SINGLE"
    );
    c.bench_function("rules/button/evaluate", |b| {
        b.iter(|| statement.evaluate(black_box(&input), &Account).unwrap())
    });
    c.bench_function("rules/button/evaluate_render_serialize", |b| {
        b.iter(|| {
            let output = statement
                .evaluate(black_box(&input), &Account)
                .unwrap()
                .unwrap();
            let topic = topic.render(&input, &Account, output.variables());
            (topic, output.to_payload())
        })
    });
    let dry = Input::new(
        "iotbutton/G030JF055364XVRB",
        br#"{"serialNumber": "G030JF055364XVRB", "batteryVoltage": "", "clickType": "SINGLE"}"#,
        1_481_825_251_155,
    );
    assert!(statement.evaluate(&dry, &Account).unwrap().is_none());
    c.bench_function("rules/button/where_false", |b| {
        b.iter(|| statement.evaluate(black_box(&dry), &Account).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
