//! Update semantics: deep merge, deletion by null, arrays replaced whole, sections, versions,
//! metadata timestamps, and delete keeping the version counter.

use serde_json::{Value, json};
use thingd_shadow::{
    ShadowDocument, StoredShadow, apply_delete, apply_update, get_response, parse_update,
};

use crate::{NOW, json, shadow_after, update_at};

fn state(shadow: &StoredShadow) -> Value {
    let document = shadow.document.as_ref().expect("a document");
    Value::Object(document.state_json())
}

/// Each case: the updates applied in order to a new shadow, and the state they leave.
#[test]
fn merge_table() {
    let cases: Vec<(&str, Vec<&str>, Value)> = vec![
        (
            "create desired",
            vec![r#"{"state":{"desired":{"color":"RED"}}}"#],
            json!({"desired": {"color": "RED"}}),
        ),
        (
            "fields merge",
            vec![
                r#"{"state":{"desired":{"color":"RED"}}}"#,
                r#"{"state":{"desired":{"power":"on"}}}"#,
            ],
            json!({"desired": {"color": "RED", "power": "on"}}),
        ),
        (
            "objects merge deeply",
            vec![
                r#"{"state":{"reported":{"lights":{"color":"RED","level":1}}}}"#,
                r#"{"state":{"reported":{"lights":{"level":5}}}}"#,
            ],
            json!({"reported": {"lights": {"color": "RED", "level": 5}}}),
        ),
        (
            "null deletes a field",
            vec![
                r#"{"state":{"desired":{"color":"RED","engine":"ON"}}}"#,
                r#"{"state":{"desired":{"engine":null}}}"#,
            ],
            json!({"desired": {"color": "RED"}}),
        ),
        (
            "null deletes a nested field and the emptied parent",
            vec![
                r#"{"state":{"desired":{"a":{"b":1},"c":2}}}"#,
                r#"{"state":{"desired":{"a":{"b":null}}}}"#,
            ],
            json!({"desired": {"c": 2}}),
        ),
        (
            "empty object deletes",
            vec![
                r#"{"state":{"desired":{"a":{"b":1},"c":2}}}"#,
                r#"{"state":{"desired":{"a":{}}}}"#,
            ],
            json!({"desired": {"c": 2}}),
        ),
        (
            "null of an absent field is nothing",
            vec![
                r#"{"state":{"desired":{"c":2}}}"#,
                r#"{"state":{"desired":{"x":null,"y":{"z":null}}}}"#,
            ],
            json!({"desired": {"c": 2}}),
        ),
        (
            "arrays are replaced whole",
            vec![
                r#"{"state":{"desired":{"colors":["RED","GREEN","BLUE"]}}}"#,
                r#"{"state":{"desired":{"colors":["RED"]}}}"#,
            ],
            json!({"desired": {"colors": ["RED"]}}),
        ),
        (
            "a value replaces an object",
            vec![
                r#"{"state":{"desired":{"a":{"b":1}}}}"#,
                r#"{"state":{"desired":{"a":3}}}"#,
            ],
            json!({"desired": {"a": 3}}),
        ),
        (
            "an object replaces a value",
            vec![
                r#"{"state":{"desired":{"a":3}}}"#,
                r#"{"state":{"desired":{"a":{"b":1,"c":null}}}}"#,
            ],
            json!({"desired": {"a": {"b": 1}}}),
        ),
        (
            "desired null removes the section",
            vec![
                r#"{"state":{"desired":{"a":1},"reported":{"a":2}}}"#,
                r#"{"state":{"reported":{"color":"red"},"desired":null}}"#,
            ],
            json!({"reported": {"a": 2, "color": "red"}}),
        ),
        (
            "deleting the last field removes the section",
            vec![
                r#"{"state":{"desired":{"a":1},"reported":{"b":2}}}"#,
                r#"{"state":{"desired":{"a":null}}}"#,
            ],
            json!({"reported": {"b": 2}}),
        ),
        (
            "state null empties the document",
            vec![
                r#"{"state":{"desired":{"a":1},"reported":{"b":2}}}"#,
                r#"{"state":null}"#,
            ],
            json!({}),
        ),
        (
            "an empty state changes nothing",
            vec![r#"{"state":{"desired":{"a":1}}}"#, r#"{"state":{}}"#],
            json!({"desired": {"a": 1}}),
        ),
        (
            "an empty section changes nothing",
            vec![
                r#"{"state":{"desired":{"a":1}}}"#,
                r#"{"state":{"desired":{},"reported":{}}}"#,
            ],
            json!({"desired": {"a": 1}}),
        ),
        (
            "empty objects inside arrays are values",
            vec![r#"{"state":{"reported":{"list":[{},{"a":1}]}}}"#],
            json!({"reported": {"list": [{}, {"a": 1}]}}),
        ),
    ];
    for (name, updates, expected) in cases {
        let shadow = shadow_after(&updates);
        assert_eq!(state(&shadow), expected, "{name}");
        assert_eq!(shadow.version, updates.len() as u64, "{name}");
    }
}

#[test]
fn versions_count_updates_and_survive_delete() {
    let shadow = shadow_after(&[
        r#"{"state":{"desired":{"a":1}}}"#,
        r#"{"state":{"desired":{"a":2}}}"#,
    ]);
    assert_eq!(shadow.version, 2);
    let (deleted, payload) = apply_delete(&shadow, None, None, NOW).unwrap();
    assert_eq!(
        deleted,
        StoredShadow {
            document: None,
            version: 2
        }
    );
    assert_eq!(json(&payload), json!({"version": 2, "timestamp": NOW}));
    assert!(get_response(&deleted, Some("s"), None, NOW).is_err());
    // The next update continues the counter and starts from an empty document.
    let recreated = update_at(&deleted, r#"{"state":{"reported":{"b":1}}}"#, NOW).stored;
    assert_eq!(recreated.version, 3);
    assert_eq!(state(&recreated), json!({"reported": {"b": 1}}));
}

#[test]
fn state_null_keeps_the_shadow_and_counts() {
    let shadow = shadow_after(&[r#"{"state":{"desired":{"a":1}}}"#, r#"{"state":null}"#]);
    assert_eq!(shadow.version, 2);
    let document = shadow.document.as_ref().unwrap();
    assert!(document.is_empty());
    let got = json(&get_response(&shadow, None, None, NOW).unwrap());
    assert_eq!(
        got,
        json!({"state": {}, "metadata": {}, "version": 2, "timestamp": NOW})
    );
    // A new shadow can also be created empty.
    let created = shadow_after(&[r#"{"state":null}"#]);
    assert_eq!(created.version, 1);
    assert!(created.document.unwrap().is_empty());
}

#[test]
fn delete_echoes_client_token() {
    let shadow = shadow_after(&[r#"{"state":{"desired":{"a":1}}}"#]);
    let (_, payload) = apply_delete(&shadow, Some("s"), Some("tok"), NOW).unwrap();
    assert_eq!(
        json(&payload),
        json!({"version": 1, "timestamp": NOW, "clientToken": "tok"})
    );
}

#[test]
fn metadata_timestamps_follow_changed_leaves() {
    let first = update_at(
        &StoredShadow::default(),
        r#"{"state":{"reported":{"a":1,"b":{"c":2,"d":3},"list":[1,{"x":2}]}}}"#,
        100,
    )
    .stored;
    let second = update_at(
        &first,
        r#"{"state":{"reported":{"b":{"c":20},"e":5}}}"#,
        200,
    )
    .stored;
    let document = second.document.as_ref().unwrap();
    assert_eq!(
        Value::Object(document.reported_metadata().clone()),
        json!({
            "a": {"timestamp": 100},
            "b": {"c": {"timestamp": 200}, "d": {"timestamp": 100}},
            "e": {"timestamp": 200},
            "list": [{"timestamp": 100}, {"x": {"timestamp": 100}}],
        })
    );
    // Deleting a field deletes its metadata; replacing an object by a value makes it a leaf.
    let third = update_at(&second, r#"{"state":{"reported":{"a":null,"b":7}}}"#, 300).stored;
    assert_eq!(
        Value::Object(third.document.as_ref().unwrap().reported_metadata().clone()),
        json!({
            "b": {"timestamp": 300},
            "e": {"timestamp": 200},
            "list": [{"timestamp": 100}, {"x": {"timestamp": 100}}],
        })
    );
    // A value replaced by an object gets object metadata.
    let fourth = update_at(&third, r#"{"state":{"reported":{"b":{"y":1}}}}"#, 400).stored;
    assert_eq!(
        fourth
            .document
            .as_ref()
            .unwrap()
            .reported_metadata()
            .get("b"),
        Some(&json!({"y": {"timestamp": 400}}))
    );
    assert!(fourth.document.unwrap().desired_metadata().is_empty());
}

#[test]
fn stored_form_round_trips() {
    let shadow = shadow_after(&[
        r#"{"state":{"desired":{"a":{"b":[1,2]},"c":"x"},"reported":{"a":{"b":[1]},"n":1.5}}}"#,
    ]);
    let document = shadow.document.unwrap();
    let text = document.to_json();
    assert_eq!(ShadowDocument::from_json(&text).unwrap(), document);
    let empty = ShadowDocument::empty();
    assert_eq!(empty.to_json(), r#"{"metadata":{},"state":{}}"#);
    assert_eq!(ShadowDocument::from_json(&empty.to_json()).unwrap(), empty);
}

#[test]
fn reported_only_update_republishes_outstanding_delta() {
    let shadow = shadow_after(&[r#"{"state":{"desired":{"color":"RED","power":"on"}}}"#]);
    let outcome = update_at(&shadow, r#"{"state":{"reported":{"power":"on"}}}"#, NOW);
    let delta = json(&outcome.delta.expect("a delta is still outstanding"));
    assert_eq!(delta["state"], json!({"color": "RED"}));
    // Once reported matches, there is no delta to publish.
    let settled = update_at(
        &outcome.stored,
        r#"{"state":{"reported":{"color":"RED"}}}"#,
        NOW,
    );
    assert_eq!(settled.delta, None);
}

#[test]
fn rejected_update_changes_nothing() {
    let shadow = shadow_after(&[r#"{"state":{"desired":{"a":1}}}"#]);
    let request = parse_update(br#"{"state":{"desired":{"a":2}},"version":7}"#).unwrap();
    assert!(apply_update(&shadow, &request, NOW).is_err());
    assert_eq!(state(&shadow), json!({"desired": {"a": 1}}));
}
