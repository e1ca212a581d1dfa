//! Properties over arbitrary input: no panic, the delta's defining property, update/get round
//! trips.

use proptest::prelude::*;
use serde_json::{Map, Value};
use thingd_shadow::{
    ShadowDocument, StoredShadow, apply_delete, apply_update, delta, get_response, json_contains,
    parse_client_token, parse_update,
};

use crate::NOW;

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..4).prop_map(Value::from),
        (-3i64..4).prop_map(|n| Value::from(n as f64)),
        prop_oneof![Just("a"), Just("b"), Just("")].prop_map(Value::from),
    ]
}

/// JSON values over a small alphabet, so that desired and reported often share keys and values.
fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop_oneof![Just("x"), Just("y"), Just("z")], inner, 0..4)
                .prop_map(|map| Value::Object(
                    map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
        ]
    })
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(prop_oneof![Just("x"), Just("y"), Just("z")], value(), 0..4)
        .prop_map(|map| map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Update payloads: mostly valid shapes, sometimes with versions, nulls and tokens.
fn update_payload() -> impl Strategy<Value = String> {
    let section = prop_oneof![
        3 => object().prop_map(Value::Object),
        1 => Just(Value::Null),
        1 => Just(Value::from(5)),
    ];
    (
        prop::option::of(section.clone()),
        prop::option::of(section),
        prop::option::of(0u64..4),
        any::<bool>(),
    )
        .prop_map(|(desired, reported, version, state_null)| {
            let mut state = Map::new();
            if let Some(desired) = desired {
                state.insert("desired".to_owned(), desired);
            }
            if let Some(reported) = reported {
                state.insert("reported".to_owned(), reported);
            }
            let mut request = Map::new();
            let state = if state_null {
                Value::Null
            } else {
                Value::Object(state)
            };
            request.insert("state".to_owned(), state);
            if let Some(version) = version {
                request.insert("version".to_owned(), Value::from(version));
            }
            request.insert("clientToken".to_owned(), Value::from("t"));
            Value::Object(request).to_string()
        })
}

proptest! {
    #[test]
    fn no_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_update(&bytes);
        let _ = parse_client_token(&bytes);
        let _ = ShadowDocument::from_json(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn no_panic_on_arbitrary_json(request in value(), stored in value()) {
        let text = request.to_string();
        if let Ok(update) = parse_update(text.as_bytes()) {
            let _ = apply_update(&StoredShadow::default(), &update, NOW);
        }
        let _ = parse_client_token(text.as_bytes());
        let _ = ShadowDocument::from_json(&stored.to_string());
    }

    #[test]
    fn delta_is_empty_exactly_when_desired_is_contained(desired in value(), reported in value()) {
        let difference = delta(&desired, &reported);
        prop_assert_eq!(difference.is_none(), json_contains(&desired, &reported));
        if let (Some(Value::Object(fields)), Value::Object(_)) = (&difference, &reported) {
            // The delta is itself made of desired fields that reported does not match.
            prop_assert!(!fields.is_empty());
            prop_assert!(json_contains(&Value::Object(fields.clone()), &desired));
        }
    }

    #[test]
    fn delta_of_a_value_with_itself_is_empty(value in value()) {
        prop_assert_eq!(delta(&value, &value), None);
    }

    #[test]
    fn updates_then_get_round_trip(payloads in prop::collection::vec(update_payload(), 1..6)) {
        let mut current = StoredShadow::default();
        for (i, payload) in payloads.iter().enumerate() {
            let now = NOW + i as u64;
            let Ok(request) = parse_update(payload.as_bytes()) else { continue };
            let Ok(outcome) = apply_update(&current, &request, now) else {
                // Only a stale version is refused for these small payloads.
                prop_assert!(request.version().is_some_and(|v| v != current.version));
                continue;
            };
            prop_assert_eq!(outcome.stored.version, current.version + 1);
            let document = outcome.stored.document.clone().expect("a document");
            // The stored form reads back to the same document.
            prop_assert_eq!(ShadowDocument::from_json(&document.to_json()).unwrap(), document.clone());
            // Stored state holds no null and no empty object; metadata mirrors it.
            for section in [document.desired(), document.reported()].into_iter().flatten() {
                prop_assert!(!section.is_empty());
                prop_assert!(clean(&Value::Object(section.clone())));
            }
            // GET shows the stored state and the delta, which is present exactly when the
            // update published one.
            let got: Value = serde_json::from_slice(&get_response(&outcome.stored, None, None, now).unwrap()).unwrap();
            prop_assert_eq!(got["version"].as_u64(), Some(outcome.stored.version));
            prop_assert_eq!(got["state"].get("desired").cloned(), document.desired().map(|m| Value::Object(m.clone())));
            prop_assert_eq!(got["state"].get("reported").cloned(), document.reported().map(|m| Value::Object(m.clone())));
            prop_assert_eq!(got["state"].get("delta").is_some(), outcome.delta.is_some());
            if let Some(delta_payload) = &outcome.delta {
                let published: Value = serde_json::from_slice(delta_payload).unwrap();
                prop_assert_eq!(&published["state"], &got["state"]["delta"]);
                prop_assert_eq!(&published["metadata"], &got["metadata"]["delta"]);
            }
            current = outcome.stored;
        }
        if current.document.is_some() {
            let (deleted, _) = apply_delete(&current, None, None, NOW).unwrap();
            prop_assert_eq!(deleted.version, current.version);
            prop_assert!(get_response(&deleted, None, None, NOW).is_err());
        }
    }
}

/// True when a stored value has no null and no empty object outside arrays.
fn clean(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Object(map) => !map.is_empty() && map.values().all(clean),
        _ => true,
    }
}
