//! Fuzz target: parses arbitrary text as AWS IoT SQL (each version) and as a substitution
//! template, and evaluates what parses on a fixed JSON payload and on the input bytes as a
//! payload. Nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use thingd_sql::{Environment, Input, SqlVersion, Statement, Template, Variables};

struct Account;

impl Environment for Account {
    fn account_id(&self) -> &str {
        "123456789012"
    }
}

const PAYLOAD: &[u8] =
    br#"{"a": 1, "b": {"c": [1, 2.5, "x", null]}, "arr": [{"n": 1}, {"n": 2}], "s": "1e3"}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for version in [
        SqlVersion::V2015_10_08,
        SqlVersion::V2016_03_23,
        SqlVersion::Beta,
    ] {
        if let Ok(statement) = Statement::parse(text, version) {
            for payload in [PAYLOAD, data] {
                let _ =
                    statement.evaluate(&Input::new("a/b/c", payload, 1_481_825_251_155), &Account);
            }
        }
        if let Ok(template) = Template::parse(text, version) {
            let _ = template.render(
                &Input::new("a/b/c", PAYLOAD, 0),
                &Account,
                &Variables::new(),
            );
        }
    }
});
