//! Matching of topic names against filters, from the examples of MQTT 5.0 §4.7, checked both
//! with `TopicFilter::matches` and through a `SubscriptionIndex`.

use mqtt_topic::{Match, SubscriptionFilter, SubscriptionIndex, TopicFilter, TopicName};

/// (filter, topic name, whether it matches).
const TABLE: &[(&str, &str, bool)] = &[
    // §4.7.1.2: "sport/tennis/player1/#" matches these three.
    ("sport/tennis/player1/#", "sport/tennis/player1", true),
    (
        "sport/tennis/player1/#",
        "sport/tennis/player1/ranking",
        true,
    ),
    (
        "sport/tennis/player1/#",
        "sport/tennis/player1/score/wimbledon",
        true,
    ),
    ("sport/tennis/player1/#", "sport/tennis/player2", false),
    ("sport/tennis/player1/#", "sport/tennis", false),
    // §4.7.1.2: "sport/#" also matches the singular "sport", since # includes the parent level.
    ("sport/#", "sport", true),
    ("sport/#", "sport/", true),
    ("sport/#", "sports", false),
    ("sport/tennis/#", "sport/tennis/player1/ranking", true),
    ("#", "sport", true),
    ("#", "/", true),
    ("#", "sport/tennis/player1", true),
    // §4.7.1.3: "sport/tennis/+" matches one level only.
    ("sport/tennis/+", "sport/tennis/player1", true),
    ("sport/tennis/+", "sport/tennis/player2", true),
    ("sport/tennis/+", "sport/tennis/player1/ranking", false),
    // §4.7.1.3: "sport/+" does not match "sport" but does match "sport/".
    ("sport/+", "sport", false),
    ("sport/+", "sport/", true),
    ("sport/+/player1", "sport/tennis/player1", true),
    ("sport/+/player1", "sport/player1", false),
    ("+/tennis/#", "sport/tennis/player1/ranking", true),
    ("+/tennis/#", "sport/tennis", true),
    // §4.7.1.3: "+/+" and "/+" match "/finance", "+" does not.
    ("/finance", "/finance", true),
    ("+/+", "/finance", true),
    ("/+", "/finance", true),
    ("+", "/finance", false),
    ("+", "sport", true),
    ("+", "sport/", false),
    ("+/+", "/", true),
    ("/+", "/", true),
    ("+/#", "sport", true),
    ("+/+/+", "a//c", true),
    ("a//c", "a//c", true),
    ("a/+/c", "a//c", true),
    ("a/c", "a//c", false),
    // §4.7.2: filters starting with a wildcard do not match `$` topics [MQTT-4.7.2-1].
    ("#", "$SYS/monitor/Clients", false),
    ("#", "$SYS", false),
    ("+", "$SYS", false),
    ("+/monitor/Clients", "$SYS/monitor/Clients", false),
    ("+/#", "$SYS/monitor/Clients", false),
    ("$SYS/#", "$SYS/monitor/Clients", true),
    ("$SYS/#", "$SYS", true),
    ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
    ("$SYS/+", "$SYS/", true),
    ("$SYS", "$SYS", true),
    // Only the first character counts: a `$` later on is an ordinary character.
    ("+/$SYS", "a/$SYS", true),
    ("#", "a/$b", true),
    ("+", "a$", true),
    // §4.7.3: levels compare exactly, case and all [MQTT-4.7.3-4].
    ("ACCOUNTS", "Accounts", false),
    ("Accounts payable", "Accounts payable", true),
    ("é/+", "é/x", true),
    ("e\u{301}", "é", false),
];

fn name(s: &str) -> TopicName {
    s.parse().expect("test topic names are valid")
}

#[test]
fn filter_matches_follows_the_spec_examples() {
    for &(filter, topic, expected) in TABLE {
        let filter: TopicFilter = filter.parse().unwrap();
        assert_eq!(
            filter.matches(&name(topic)),
            expected,
            "{filter} vs {topic}"
        );
    }
}

#[test]
fn index_matches_follows_the_spec_examples() {
    let index = SubscriptionIndex::new();
    for &(filter, _, _) in TABLE {
        index.insert(&filter.parse().unwrap(), filter, ());
        let shared = format!("$share/g/{filter}");
        index.insert(&shared.parse().unwrap(), filter, ());
    }
    for &(filter, topic, expected) in TABLE {
        let mut plain = 0;
        let mut shared = 0;
        index.for_each_match(&name(topic), |m| match m {
            Match::Plain { filter: f, .. } if f.as_str() == filter => plain += 1,
            Match::Shared(group) if group.filter().as_str() == filter => shared += 1,
            _ => {}
        });
        let expected = usize::from(expected);
        assert_eq!((plain, shared), (expected, expected), "{filter} vs {topic}");
    }
}

#[test]
fn every_topic_matches_the_same_filters_in_the_index() {
    let index = SubscriptionIndex::new();
    let filters: Vec<SubscriptionFilter> =
        TABLE.iter().map(|(f, _, _)| f.parse().unwrap()).collect();
    for filter in &filters {
        index.insert(filter, (), ());
    }
    for &(_, topic, _) in TABLE {
        let topic = name(topic);
        let mut from_index = Vec::new();
        index.for_each_match(&topic, |m| {
            if let Match::Plain { filter, .. } = m {
                from_index.push(filter.to_string());
            }
        });
        from_index.sort();
        let mut expected: Vec<String> = filters
            .iter()
            .map(SubscriptionFilter::filter)
            .filter(|f| f.matches(&topic))
            .map(ToString::to_string)
            .collect();
        expected.sort();
        expected.dedup();
        assert_eq!(from_index, expected, "{topic}");
    }
}
