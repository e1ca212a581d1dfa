//! Criterion benchmark of a typical rule: parsing once, and evaluating per message (the hot
//! path of the rules engine), for the AWS IoT Button rule and a WHERE-heavy telemetry rule.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use thingd_sql::{Environment, Input, SqlVersion, Statement};

const BUTTON: &str =
    "SELECT concat('Button ', serialNumber, ': ', clickType) AS text FROM 'iotbutton/+'";
const BUTTON_PAYLOAD: &[u8] =
    br#"{"serialNumber": "G030JF055364XVRB", "batteryVoltage": "1705mV", "clickType": "SINGLE"}"#;

const WHERE_HEAVY: &str = "SELECT deviceId, temperature * 1.8 + 32 AS fahrenheit, timestamp() AS ts \
     FROM 'devices/+/telemetry' \
     WHERE temperature > 25 AND humidity >= 40 AND humidity <= 80 \
     AND startswith(topic(2), 'thermo') AND status IN ['ok', 'warn'] \
     AND NOT isNull(location.building) AND location.floor <> 13";
const TELEMETRY_PAYLOAD: &[u8] =
    br#"{"deviceId": "thermo-0042", "temperature": 27.5, "humidity": 61,
    "status": "warn", "location": {"building": "B5", "floor": 2}, "firmware": "1.4.2"}"#;

struct Account;

impl Environment for Account {
    fn account_id(&self) -> &str {
        "123456789012"
    }
}

fn bench(c: &mut Criterion) {
    let where_sql = WHERE_HEAVY;
    c.bench_function("parse/button", |b| {
        b.iter(|| Statement::parse(black_box(BUTTON), SqlVersion::V2016_03_23).unwrap())
    });
    c.bench_function("parse/where_heavy", |b| {
        b.iter(|| Statement::parse(black_box(where_sql), SqlVersion::V2016_03_23).unwrap())
    });

    let button = Statement::parse(BUTTON, SqlVersion::V2016_03_23).unwrap();
    let input = Input::new(
        "iotbutton/G030JF055364XVRB",
        BUTTON_PAYLOAD,
        1_481_825_251_155,
    );
    assert!(button.evaluate(&input, &Account).unwrap().is_some());
    c.bench_function("evaluate/button", |b| {
        b.iter(|| button.evaluate(black_box(&input), &Account).unwrap())
    });

    let telemetry = Statement::parse(where_sql, SqlVersion::V2016_03_23).unwrap();
    let input = Input::new(
        "devices/thermo-0042/telemetry",
        TELEMETRY_PAYLOAD,
        1_481_825_251_155,
    );
    assert!(telemetry.evaluate(&input, &Account).unwrap().is_some());
    c.bench_function("evaluate/where_heavy", |b| {
        b.iter(|| telemetry.evaluate(black_box(&input), &Account).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
