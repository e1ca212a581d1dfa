//! Behaviour of `SubscriptionIndex`: replacing, removing, shared groups, pruning and deep
//! filters.

use std::collections::HashMap;

use mqtt_topic::{Match, SubscriptionFilter, SubscriptionIndex, TopicLimits, TopicName};

fn sub(s: &str) -> SubscriptionFilter {
    s.parse().expect("test filters are valid")
}

fn name(s: &str) -> TopicName {
    s.parse().expect("test topic names are valid")
}

/// The plain matches of `topic` as sorted (filter, key, value).
fn plain_matches<V: Clone + Ord>(
    index: &SubscriptionIndex<&'static str, V>,
    topic: &str,
) -> Vec<(String, &'static str, V)> {
    let mut found = Vec::new();
    index.for_each_match(&name(topic), |m| {
        if let Match::Plain { filter, key, value } = m {
            found.push((filter.to_string(), *key, value.clone()));
        }
    });
    found.sort();
    found
}

#[test]
fn subscribing_again_replaces_the_value() {
    let index = SubscriptionIndex::new();
    assert_eq!(index.insert(&sub("a/+"), "c1", 0), None);
    assert_eq!(index.insert(&sub("a/+"), "c1", 1), Some(0));
    assert_eq!(index.insert(&sub("a/+"), "c2", 2), None);
    assert_eq!(index.insert(&sub("$share/g/a/+"), "c1", 3), None);
    assert_eq!(index.insert(&sub("$share/g/a/+"), "c1", 4), Some(3));
    assert_eq!(index.insert(&sub("$share/h/a/+"), "c1", 5), None);
    assert_eq!(index.len(), 4);
    assert_eq!(index.filter_count(), 1);
    assert_eq!(
        plain_matches(&index, "a/b"),
        [("a/+".into(), "c1", 1), ("a/+".into(), "c2", 2)]
    );
}

#[test]
fn overlapping_filters_match_once_each() {
    let index = SubscriptionIndex::new();
    for filter in ["a/+", "a/#", "#", "a/b", "+/b", "b/#"] {
        index.insert(&sub(filter), "c1", 0);
    }
    let filters: Vec<String> = plain_matches(&index, "a/b")
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(filters, ["#", "+/b", "a/#", "a/+", "a/b"]);
    assert_eq!(index.filter_count(), 6);
}

#[test]
fn system_topics_skip_leading_wildcards() {
    let index = SubscriptionIndex::new();
    for filter in [
        "#",
        "+/x",
        "$SYS/#",
        "$SYS/+",
        "+",
        "$share/g/#",
        "$share/g/$SYS/x",
    ] {
        index.insert(&sub(filter), "c", ());
    }
    let mut found = Vec::new();
    index.for_each_match(&name("$SYS/x"), |m| match m {
        Match::Plain { filter, .. } => found.push(filter.to_string()),
        Match::Shared(group) => found.push(format!("$share/{}/{}", group.group(), group.filter())),
    });
    found.sort();
    assert_eq!(found, ["$SYS/#", "$SYS/+", "$share/g/$SYS/x"]);
}

#[test]
fn removal_returns_the_value_and_forgets_the_subscription() {
    let index = SubscriptionIndex::new();
    index.insert(&sub("a/b"), "c1", 1);
    index.insert(&sub("a/b"), "c2", 2);
    index.insert(&sub("$share/g/a/b"), "c1", 3);
    assert_eq!(index.remove(&sub("a/b"), &"c3"), None);
    assert_eq!(index.remove(&sub("a/c"), &"c1"), None);
    assert_eq!(index.remove(&sub("$share/h/a/b"), &"c1"), None);
    assert_eq!(index.remove(&sub("a/b"), &"c1"), Some(1));
    assert_eq!(index.remove(&sub("a/b"), &"c1"), None);
    assert_eq!(plain_matches(&index, "a/b"), [("a/b".into(), "c2", 2)]);
    assert_eq!(index.remove(&sub("$share/g/a/b"), &"c1"), Some(3));
    assert_eq!(index.len(), 1);
    assert_eq!(index.filter_count(), 1);
}

#[test]
fn remove_all_removes_a_sessions_filters() {
    let index = SubscriptionIndex::new();
    let filters: Vec<SubscriptionFilter> = ["a", "a/+", "#", "$share/g/a"]
        .into_iter()
        .map(sub)
        .collect();
    for filter in &filters {
        index.insert(filter, "c1", ());
        index.insert(filter, "c2", ());
    }
    assert_eq!(index.remove_all(&"c1", &filters), 4);
    assert_eq!(index.remove_all(&"c1", &filters), 0);
    assert_eq!(index.len(), 4);
    assert_eq!(index.remove_all(&"c2", &filters), 4);
    assert!(index.is_empty());
    assert_eq!(index.node_count(), 0);
}

#[test]
fn shared_groups_match_once_with_all_members() {
    let index = SubscriptionIndex::new();
    for member in ["m1", "m2", "m3"] {
        index.insert(&sub("$share/g/a/+"), member, ());
        index.insert(&sub("$share/g/a/#"), member, ());
    }
    index.insert(&sub("$share/h/a/+"), "m1", ());
    let mut groups = Vec::new();
    index.for_each_match(&name("a/b"), |m| {
        if let Match::Shared(group) = m {
            let mut members: Vec<&str> = group.members().map(|(k, ())| *k).collect();
            members.sort();
            groups.push((
                group.group().to_string(),
                group.filter().to_string(),
                members,
            ));
        }
    });
    groups.sort();
    assert_eq!(
        groups,
        [
            ("g".into(), "a/#".into(), vec!["m1", "m2", "m3"]),
            ("g".into(), "a/+".into(), vec!["m1", "m2", "m3"]),
            ("h".into(), "a/+".into(), vec!["m1"]),
        ]
    );
}

#[test]
fn pick_rotates_through_members_and_skips_refused_ones() {
    let index = SubscriptionIndex::new();
    for member in ["m1", "m2", "m3", "m4"] {
        index.insert(&sub("$share/g/t"), member, ());
    }
    let pick = |accept: &dyn Fn(&str) -> bool| {
        let mut picked = None;
        index.for_each_match(&name("t"), |m| {
            if let Match::Shared(group) = m {
                picked = group.pick(|key, ()| accept(key)).map(|(key, ())| *key);
            }
        });
        picked
    };
    let mut counts = HashMap::new();
    for _ in 0..400 {
        *counts.entry(pick(&|_| true).unwrap()).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 4);
    assert!(counts.values().all(|&n| n == 100), "{counts:?}");

    // With m2 refusing, the others still share evenly and m2 is never picked.
    let mut counts = HashMap::new();
    for _ in 0..300 {
        *counts.entry(pick(&|key| key != "m2").unwrap()).or_insert(0) += 1;
    }
    assert_eq!(counts.get("m2"), None);
    assert!(
        counts.values().all(|&n| (90..=110).contains(&n)),
        "{counts:?}"
    );

    assert_eq!(pick(&|_| false), None);
}

#[test]
fn removing_everything_prunes_every_node() {
    let index = SubscriptionIndex::new();
    let filters: Vec<SubscriptionFilter> = [
        "#",
        "+",
        "a",
        "a/b/c/d",
        "a/b/c/d/#",
        "a/+/c",
        "a/b",
        "+/+/+",
        "/",
        "//",
        "a/#",
        "$share/g/a/b/c",
        "$share/g/#",
        "$SYS/x/y",
    ]
    .into_iter()
    .map(sub)
    .collect();
    for (i, filter) in filters.iter().enumerate() {
        index.insert(filter, i, ());
    }
    assert!(index.node_count() > 0);
    // Remove in an order that leaves intermediate nodes holding other filters for a while.
    for filter in filters
        .iter()
        .rev()
        .step_by(2)
        .chain(filters.iter().rev().skip(1).step_by(2))
    {
        let i = filters.iter().position(|f| f == filter).unwrap();
        assert_eq!(index.remove(filter, &i), Some(()));
    }
    assert!(index.is_empty());
    assert_eq!(index.filter_count(), 0);
    assert_eq!(index.node_count(), 0);
}

#[test]
fn pruning_keeps_nodes_still_in_use() {
    let index = SubscriptionIndex::new();
    index.insert(&sub("a/b/c/d"), 1, ());
    index.insert(&sub("a/b"), 2, ());
    index.insert(&sub("a/b/x"), 3, ());
    assert_eq!(index.node_count(), 5);
    index.remove(&sub("a/b/c/d"), &1);
    assert_eq!(index.node_count(), 3);
    index.remove(&sub("a/b"), &2);
    assert_eq!(index.node_count(), 3);
    index.remove(&sub("a/b/x"), &3);
    assert_eq!(index.node_count(), 0);
}

#[test]
fn churn_does_not_grow_the_trie() {
    let index = SubscriptionIndex::new();
    for round in 0..5 {
        for i in 0..2_000 {
            index.insert(&sub(&format!("devices/{round}-{i}/+")), i, ());
        }
        for i in 0..2_000 {
            index.remove(&sub(&format!("devices/{round}-{i}/+")), &i);
        }
        assert_eq!(index.node_count(), 0);
    }
}

#[test]
fn large_fan_out_inserts_and_removes() {
    let index = SubscriptionIndex::new();
    let filter = sub("broadcast/#");
    for key in 0..10_000u32 {
        index.insert(&filter, key, key);
    }
    for key in (0..10_000u32).step_by(2) {
        assert_eq!(index.remove(&filter, &key), Some(key));
    }
    let mut found = Vec::new();
    index.for_each_match(&name("broadcast/all"), |m| {
        if let Match::Plain { key, value, .. } = m {
            assert_eq!(key, value);
            found.push(*key);
        }
    });
    found.sort_unstable();
    assert_eq!(found, (1..10_000u32).step_by(2).collect::<Vec<_>>());
}

#[test]
fn deep_filters_do_not_overflow_the_stack() {
    // 32,768 levels: the most a 65,535-byte filter can have.
    let deep_filter = vec!["+"; 32_768].join("/");
    let deep_topic = "/".repeat(32_767);
    assert_eq!(deep_filter.len(), 65_535);
    // Run with a small stack so that recursion anywhere would show.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let index = SubscriptionIndex::new();
            let filter = SubscriptionFilter::parse(&deep_filter, &TopicLimits::MQTT).unwrap();
            let topic = TopicName::parse(&deep_topic, &TopicLimits::MQTT).unwrap();
            index.insert(&filter, 1, ());
            index.insert(&sub("#"), 2, ());
            let mut keys = Vec::new();
            index.for_each_match(&topic, |m| {
                if let Match::Plain { key, .. } = m {
                    keys.push(*key);
                }
            });
            keys.sort_unstable();
            assert_eq!(keys, [1, 2]);
            assert_eq!(index.node_count(), 32_768);
            assert_eq!(index.remove(&filter, &1), Some(()));
            assert_eq!(index.node_count(), 0);
            // And dropping a deep trie.
            index.insert(&filter, 1, ());
            drop(index);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn index_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SubscriptionIndex<String, u8>>();
}

#[test]
fn the_index_does_not_pin_packet_buffers() {
    let packet = bytes::Bytes::from(b"$share/group/devices/+/telemetry".to_vec());
    let filter = SubscriptionFilter::from_bytes(packet.clone(), &TopicLimits::MQTT).unwrap();
    let index = SubscriptionIndex::new();
    index.insert(&filter, 1, ());
    drop(filter);
    assert!(packet.is_unique());
}
