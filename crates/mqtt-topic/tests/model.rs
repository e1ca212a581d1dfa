//! Property tests: the index agrees with a naive linear scan over `TopicFilter::matches`, and
//! parsing never panics.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use mqtt_topic::{
    Match, SubscriptionFilter, SubscriptionIndex, TopicFilter, TopicLimits, TopicName,
};
use proptest::prelude::*;
use proptest::sample::select;

/// A small alphabet, so that random filters and names match often; `$x` makes system topics.
const NAME_LEVELS: &[&str] = &["a", "b", "", "$x"];

fn filter_string() -> impl Strategy<Value = String> {
    let inner = prop::collection::vec(select(&["a", "b", "", "+", "$x"][..]), 0..4);
    let last = select(&["a", "b", "", "+", "#", "$x"][..]);
    let group = prop::option::of(select(&["g", "h"][..]));
    (inner, last, group).prop_filter_map("empty filter", |(mut levels, last, group)| {
        levels.push(last);
        let filter = levels.join("/");
        // A lone empty level makes the empty string, which is not a filter [MQTT-4.7.3-1].
        (!filter.is_empty()).then(|| match group {
            Some(group) => format!("$share/{group}/{filter}"),
            None => filter,
        })
    })
}

fn topic_name() -> impl Strategy<Value = TopicName> {
    prop::collection::vec(select(NAME_LEVELS), 1..5).prop_filter_map("empty name", |levels| {
        TopicName::parse(&levels.join("/"), &TopicLimits::MQTT).ok()
    })
}

#[derive(Debug, Clone)]
enum Op {
    Insert(String, u8, u16),
    Remove(String, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (filter_string(), 0..3u8, any::<u16>()).prop_map(|(f, k, v)| Op::Insert(f, k, v)),
        1 => (filter_string(), 0..3u8).prop_map(|(f, k)| Op::Remove(f, k)),
    ]
}

type Model = HashMap<(SubscriptionFilter, u8), u16>;

/// Plain matches as a multiset of (filter, key, value).
type PlainMatches = Vec<(String, u8, u16)>;
/// Shared matches: (group, filter) to members, each group listed as often as it matched.
type SharedMatches = BTreeMap<(String, String), Vec<BTreeSet<(u8, u16)>>>;

fn from_index(
    index: &SubscriptionIndex<u8, u16>,
    topic: &TopicName,
) -> (PlainMatches, SharedMatches) {
    let mut plain = Vec::new();
    let mut shared = SharedMatches::new();
    index.for_each_match(topic, |m| match m {
        Match::Plain { filter, key, value } => plain.push((filter.to_string(), *key, *value)),
        Match::Shared(group) => shared
            .entry((group.group().to_string(), group.filter().to_string()))
            .or_default()
            .push(group.members().map(|(k, v)| (*k, *v)).collect()),
    });
    plain.sort_unstable();
    (plain, shared)
}

fn from_model(model: &Model, topic: &TopicName) -> (PlainMatches, SharedMatches) {
    let mut plain = Vec::new();
    let mut groups: BTreeMap<(String, String), BTreeSet<(u8, u16)>> = BTreeMap::new();
    for ((subscription, key), value) in model {
        if !subscription.filter().matches(topic) {
            continue;
        }
        match subscription {
            SubscriptionFilter::Plain(filter) => plain.push((filter.to_string(), *key, *value)),
            SubscriptionFilter::Shared { group, filter } => {
                groups
                    .entry((group.to_string(), filter.to_string()))
                    .or_default()
                    .insert((*key, *value));
            }
        }
    }
    plain.sort_unstable();
    let shared = groups
        .into_iter()
        .map(|(id, members)| (id, vec![members]))
        .collect();
    (plain, shared)
}

proptest! {
    // Integration tests have no `lib.rs` next to them for proptest to persist failures beside.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn index_agrees_with_a_linear_scan(
        ops in prop::collection::vec(op(), 0..60),
        topics in prop::collection::vec(topic_name(), 1..12),
    ) {
        let index = SubscriptionIndex::new();
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Insert(filter, key, value) => {
                    let filter: SubscriptionFilter = filter.parse().unwrap();
                    let expected = model.insert((filter.clone(), key), value);
                    prop_assert_eq!(index.insert(&filter, key, value), expected);
                }
                Op::Remove(filter, key) => {
                    let filter: SubscriptionFilter = filter.parse().unwrap();
                    let expected = model.remove(&(filter.clone(), key));
                    prop_assert_eq!(index.remove(&filter, &key), expected);
                }
            }
        }
        prop_assert_eq!(index.len(), model.len());
        let filters: BTreeSet<&TopicFilter> = model.keys().map(|(f, _)| f.filter()).collect();
        prop_assert_eq!(index.filter_count(), filters.len());
        for topic in &topics {
            prop_assert_eq!(from_index(&index, topic), from_model(&model, topic), "topic {}", topic);
        }
        for (filter, key) in model.keys() {
            prop_assert!(index.remove(filter, key).is_some());
        }
        prop_assert!(index.is_empty());
        prop_assert_eq!(index.filter_count(), 0);
        prop_assert_eq!(index.node_count(), 0);
    }

    #[test]
    fn parsing_arbitrary_strings_never_panics(
        s in prop_oneof![
            any::<String>(),
            "[a+#/$\u{0}é]{0,12}",
            "\\$share[a+#/$\u{0}]{0,12}",
            "\\$aws/rules/[a+#/]{0,12}",
        ],
    ) {
        for limits in [TopicLimits::MQTT, TopicLimits::AWS_IOT] {
            let name = TopicName::parse(&s, &limits);
            let filter = TopicFilter::parse(&s, &limits);
            let subscription = SubscriptionFilter::parse(&s, &limits);
            if let Ok(name) = &name {
                // Every valid name is a valid filter that matches exactly that name.
                let filter = filter.as_ref().expect("a valid name is a valid filter");
                prop_assert!(filter.matches(name));
                prop_assert_eq!(name.as_str(), s.as_str());
            }
            if let Ok(subscription) = subscription {
                prop_assert_eq!(subscription.to_string(), s.clone());
                if !subscription.is_shared() {
                    prop_assert_eq!(Some(subscription.filter()), filter.as_ref().ok());
                }
            }
        }
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        let bytes = Bytes::from(bytes);
        let text = std::str::from_utf8(&bytes).ok();
        for limits in [TopicLimits::MQTT, TopicLimits::AWS_IOT] {
            let name = TopicName::from_bytes(bytes.clone(), &limits);
            let filter = TopicFilter::from_bytes(bytes.clone(), &limits);
            let subscription = SubscriptionFilter::from_bytes(bytes.clone(), &limits);
            match text {
                Some(text) => {
                    prop_assert_eq!(name, TopicName::parse(text, &limits));
                    prop_assert_eq!(filter, TopicFilter::parse(text, &limits));
                    prop_assert_eq!(subscription, SubscriptionFilter::parse(text, &limits));
                }
                None => prop_assert!(name.is_err() && filter.is_err() && subscription.is_err()),
            }
        }
    }
}
