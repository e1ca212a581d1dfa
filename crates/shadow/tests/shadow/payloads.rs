//! The payloads of the response topics, against the documents of AWS's guide.

use serde_json::{Value, json};
use thingd_shadow::{StoredShadow, delta, get_response};

use crate::{NOW, json, shadow_after, update_at};

#[test]
fn update_accepted_echoes_the_request_with_metadata() {
    let outcome = update_at(
        &StoredShadow::default(),
        r#"{"state":{"desired":{"color":{"r":10},"engine":"ON"}},"clientToken":"c1"}"#,
        NOW,
    );
    assert_eq!(
        json(&outcome.accepted),
        json!({
            "state": {"desired": {"color": {"r": 10}, "engine": "ON"}},
            "metadata": {"desired": {"color": {"r": {"timestamp": NOW}}, "engine": {"timestamp": NOW}}},
            "version": 1,
            "timestamp": NOW,
            "clientToken": "c1",
        })
    );
    // Deletions are echoed, with a timestamp each.
    let deleted = update_at(
        &outcome.stored,
        r#"{"state":{"desired":{"engine":null}}}"#,
        NOW + 1,
    );
    assert_eq!(
        json(&deleted.accepted),
        json!({
            "state": {"desired": {"engine": null}},
            "metadata": {"desired": {"engine": {"timestamp": NOW + 1}}},
            "version": 2,
            "timestamp": NOW + 1,
        })
    );
}

#[test]
fn update_delta_holds_every_differing_desired_field() {
    let shadow = shadow_after(&[
        r#"{"state":{"reported":{"lights":{"color":"GREEN"},"engine":"ON"}}}"#,
        r#"{"state":{"desired":{"lights":{"color":"RED"}}}}"#,
    ]);
    let outcome = update_at(
        &shadow,
        r#"{"state":{"desired":{"engine":"ON","fan":1}},"clientToken":"k"}"#,
        NOW + 5,
    );
    assert_eq!(
        json(&outcome.delta.expect("a delta")),
        json!({
            "state": {"lights": {"color": "RED"}, "fan": 1},
            "metadata": {"lights": {"color": {"timestamp": NOW}}, "fan": {"timestamp": NOW + 5}},
            "version": 3,
            "timestamp": NOW + 5,
            "clientToken": "k",
        })
    );
}

#[test]
fn no_delta_without_difference() {
    let outcome = update_at(
        &StoredShadow::default(),
        r#"{"state":{"reported":{"a":1}}}"#,
        NOW,
    );
    assert_eq!(outcome.delta, None);
    let matched = update_at(&outcome.stored, r#"{"state":{"desired":{"a":1.0}}}"#, NOW);
    assert_eq!(matched.delta, None);
}

#[test]
fn update_documents_previous_and_current() {
    let created = update_at(
        &StoredShadow::default(),
        r#"{"state":{"desired":{"a":1}},"clientToken":"x"}"#,
        NOW,
    );
    assert_eq!(
        json(&created.documents),
        json!({
            "previous": null,
            "current": {
                "state": {"desired": {"a": 1}},
                "metadata": {"desired": {"a": {"timestamp": NOW}}},
                "version": 1,
            },
            "timestamp": NOW,
            "clientToken": "x",
        })
    );
    let changed = update_at(
        &created.stored,
        r#"{"state":{"reported":{"a":2}}}"#,
        NOW + 1,
    );
    assert_eq!(
        json(&changed.documents),
        json!({
            "previous": {
                "state": {"desired": {"a": 1}},
                "metadata": {"desired": {"a": {"timestamp": NOW}}},
                "version": 1,
            },
            "current": {
                "state": {"desired": {"a": 1}, "reported": {"a": 2}},
                "metadata": {"desired": {"a": {"timestamp": NOW}}, "reported": {"a": {"timestamp": NOW + 1}}},
                "version": 2,
            },
            "timestamp": NOW + 1,
        })
    );
}

#[test]
fn get_has_delta_and_its_metadata() {
    // The example document of AWS's guide.
    let shadow = shadow_after(&[
        r#"{"state":{"desired":{"color":"RED","sequence":["RED","GREEN","BLUE"]},"reported":{"color":"GREEN"}}}"#,
    ]);
    let got = json(&get_response(&shadow, None, Some("UniqueClientToken"), NOW + 9).unwrap());
    let at = json!({"timestamp": NOW});
    assert_eq!(
        got,
        json!({
            "state": {
                "desired": {"color": "RED", "sequence": ["RED", "GREEN", "BLUE"]},
                "reported": {"color": "GREEN"},
                "delta": {"color": "RED", "sequence": ["RED", "GREEN", "BLUE"]},
            },
            "metadata": {
                "desired": {"color": at, "sequence": [at, at, at]},
                "reported": {"color": at},
                "delta": {"color": at, "sequence": [at, at, at]},
            },
            "version": 1,
            "timestamp": NOW + 9,
            "clientToken": "UniqueClientToken",
        })
    );
    let settled = update_at(
        &shadow,
        r#"{"state":{"reported":{"color":"RED","sequence":["RED","GREEN","BLUE"]}}}"#,
        NOW,
    );
    let got = json(&get_response(&settled.stored, None, None, NOW).unwrap());
    assert_eq!(got["state"].get("delta"), None);
    assert_eq!(got["metadata"].get("delta"), None);
}

#[test]
fn delta_rules() {
    // Each case: desired, reported, expected delta (the /update/delta rules of AWS's guide).
    let cases: Vec<(Value, Value, Option<Value>)> = vec![
        (json!({"a": 1}), json!({"a": 1}), None),
        (json!({"a": 1}), json!({"a": 2}), Some(json!({"a": 1}))),
        (json!({"a": 1}), json!({}), Some(json!({"a": 1}))),
        (json!({}), json!({"a": 1}), None),
        (json!({"a": 1}), json!({"a": 1, "b": 2}), None),
        (
            json!({"x": {"a": 1, "b": 2}}),
            json!({"x": {"a": 1, "b": 3}}),
            Some(json!({"x": {"b": 2}})),
        ),
        (
            json!({"x": {"a": 1}}),
            json!({"x": 5}),
            Some(json!({"x": {"a": 1}})),
        ),
        (json!({"x": [1, 2]}), json!({"x": [1, 2]}), None),
        (
            json!({"x": [1, 2]}),
            json!({"x": [2, 1]}),
            Some(json!({"x": [1, 2]})),
        ),
        (
            json!({"x": [1, 2]}),
            json!({"x": [1, 2, 3]}),
            Some(json!({"x": [1, 2]})),
        ),
        (json!({"n": 1}), json!({"n": 1.0}), None),
        (json!({"n": 10}), json!({"n": 1e1}), None),
        (json!({"n": 1}), json!({"n": 1.5}), Some(json!({"n": 1}))),
        (
            json!({"n": -1}),
            json!({"n": u64::MAX}),
            Some(json!({"n": -1})),
        ),
        (json!({"s": "1"}), json!({"s": 1}), Some(json!({"s": "1"}))),
        (json!({"b": true}), json!({"b": true}), None),
    ];
    for (desired, reported, expected) in cases {
        assert_eq!(
            delta(&desired, &reported),
            expected,
            "{desired} vs {reported}"
        );
    }
}
