//! Table-driven tests of which strings are valid topic names, topic filters and shared
//! subscriptions, under MQTT and AWS IoT limits.

use bytes::Bytes;
use mqtt_topic::{ShareName, SubscriptionFilter, TopicError, TopicFilter, TopicLimits, TopicName};

const MQTT: TopicLimits = TopicLimits::MQTT;
const AWS: TopicLimits = TopicLimits::AWS_IOT;

fn levels(n: usize) -> String {
    vec!["l"; n].join("/")
}

#[test]
fn topic_names() {
    use TopicError::*;
    let cases: &[(&str, Result<(), TopicError>)] = &[
        ("a", Ok(())),
        ("a/b", Ok(())),
        ("/", Ok(())),
        ("//", Ok(())),
        ("/a", Ok(())),
        ("a/", Ok(())),
        ("a//b", Ok(())),
        (" ", Ok(())),
        ("$SYS/broker/load", Ok(())),
        ("$share/g/a", Ok(())),
        ("ünï/çødé/€/𝄞", Ok(())),
        ("", Err(Empty)),
        (
            "#",
            Err(WildcardInName {
                wildcard: '#',
                at: 0,
            }),
        ),
        (
            "+",
            Err(WildcardInName {
                wildcard: '+',
                at: 0,
            }),
        ),
        (
            "a/+/b",
            Err(WildcardInName {
                wildcard: '+',
                at: 2,
            }),
        ),
        (
            "a/#",
            Err(WildcardInName {
                wildcard: '#',
                at: 2,
            }),
        ),
        (
            "a#",
            Err(WildcardInName {
                wildcard: '#',
                at: 1,
            }),
        ),
        (
            "a/b+",
            Err(WildcardInName {
                wildcard: '+',
                at: 3,
            }),
        ),
        ("a\0b", Err(NullCharacter { at: 1 })),
        ("\0", Err(NullCharacter { at: 0 })),
    ];
    for (input, expected) in cases {
        let parsed = TopicName::parse(input, &MQTT);
        assert_eq!(
            parsed.as_ref().map(|_| ()).map_err(Clone::clone),
            expected.clone(),
            "{input:?}"
        );
        let from_bytes = TopicName::from_bytes(Bytes::copy_from_slice(input.as_bytes()), &MQTT);
        assert_eq!(from_bytes, parsed, "{input:?}");
        if let Ok(name) = parsed {
            assert_eq!(name.as_str(), *input);
            assert_eq!(name.to_string(), *input);
            assert_eq!(
                name.levels().collect::<Vec<_>>(),
                input.split('/').collect::<Vec<_>>()
            );
            assert_eq!(input.parse::<TopicName>().as_ref(), Ok(&name));
            assert_eq!(TopicName::try_from(*input).as_ref(), Ok(&name));
        }
    }
}

#[test]
fn topic_filters() {
    use TopicError::*;
    let cases: &[(&str, Result<(), TopicError>)] = &[
        ("a", Ok(())),
        ("#", Ok(())),
        ("+", Ok(())),
        ("/", Ok(())),
        ("//", Ok(())),
        ("+/+", Ok(())),
        ("/+", Ok(())),
        ("+/", Ok(())),
        ("+/#", Ok(())),
        ("/#", Ok(())),
        ("a/#", Ok(())),
        ("a/+/b", Ok(())),
        ("sport/tennis/player1/#", Ok(())),
        ("$SYS/#", Ok(())),
        // A plain filter whose first level happens to be `$share`.
        ("$share/g/a/#", Ok(())),
        ("", Err(Empty)),
        ("a/#/b", Err(MisplacedMultiLevelWildcard { at: 2 })),
        ("a#", Err(MisplacedMultiLevelWildcard { at: 1 })),
        ("#a", Err(MisplacedMultiLevelWildcard { at: 0 })),
        ("#/", Err(MisplacedMultiLevelWildcard { at: 0 })),
        ("##", Err(MisplacedMultiLevelWildcard { at: 0 })),
        ("a/b#", Err(MisplacedMultiLevelWildcard { at: 3 })),
        ("a/b+", Err(MisplacedSingleLevelWildcard { at: 3 })),
        ("+a", Err(MisplacedSingleLevelWildcard { at: 0 })),
        ("++", Err(MisplacedSingleLevelWildcard { at: 0 })),
        ("+#", Err(MisplacedSingleLevelWildcard { at: 0 })),
        ("a/+b/c", Err(MisplacedSingleLevelWildcard { at: 2 })),
        ("a\0", Err(NullCharacter { at: 1 })),
    ];
    for (input, expected) in cases {
        let parsed = TopicFilter::parse(input, &MQTT);
        assert_eq!(
            parsed.as_ref().map(|_| ()).map_err(Clone::clone),
            expected.clone(),
            "{input:?}"
        );
        let from_bytes = TopicFilter::from_bytes(Bytes::copy_from_slice(input.as_bytes()), &MQTT);
        assert_eq!(from_bytes, parsed, "{input:?}");
        if let Ok(filter) = parsed {
            assert_eq!(filter.as_str(), *input);
            assert_eq!(
                filter.has_wildcards(),
                input.contains(['+', '#']),
                "{input:?}"
            );
            assert_eq!(input.parse::<TopicFilter>().as_ref(), Ok(&filter));
        }
    }
}

#[test]
fn protocol_length_cap() {
    let max = "a".repeat(65_535);
    let over = "a".repeat(65_536);
    let too_long = Err(TopicError::TooLong {
        len: 65_536,
        max: 65_535,
    });
    assert!(TopicName::parse(&max, &MQTT).is_ok());
    assert!(TopicFilter::parse(&max, &MQTT).is_ok());
    assert!(SubscriptionFilter::parse(&max, &MQTT).is_ok());
    assert_eq!(TopicName::parse(&over, &MQTT).map(|_| ()), too_long);
    assert_eq!(TopicFilter::parse(&over, &MQTT).map(|_| ()), too_long);
    assert_eq!(
        SubscriptionFilter::parse(&over, &MQTT).map(|_| ()),
        too_long
    );
    // The protocol cap holds whatever the configured limits.
    let lax = TopicLimits {
        max_bytes: usize::MAX,
        ..MQTT
    };
    assert_eq!(TopicName::parse(&over, &lax).map(|_| ()), too_long);
    // A multi-byte character counts as its bytes: 21,845 × 3 = 65,535.
    assert!(TopicName::parse(&"€".repeat(21_845), &MQTT).is_ok());
    assert!(TopicName::parse(&"€".repeat(21_846), &MQTT).is_err());
}

#[test]
fn invalid_utf8_is_rejected() {
    for bytes in [&b"a/\xff"[..], b"\xc3", b"\xed\xa0\x80", b"a\xc0\xafb"] {
        let bytes = Bytes::copy_from_slice(bytes);
        let expected = Err(TopicError::InvalidUtf8 {
            valid_up_to: std::str::from_utf8(&bytes).unwrap_err().valid_up_to(),
        });
        assert_eq!(
            TopicName::from_bytes(bytes.clone(), &MQTT).map(|_| ()),
            expected
        );
        assert_eq!(
            TopicFilter::from_bytes(bytes.clone(), &MQTT).map(|_| ()),
            expected
        );
        assert_eq!(
            SubscriptionFilter::from_bytes(bytes, &MQTT).map(|_| ()),
            expected
        );
    }
}

#[test]
fn subscription_filters() {
    use TopicError::*;
    let shared = |group: &str, filter: &str| {
        Ok(SubscriptionFilter::Shared {
            group: ShareName::parse(group).unwrap(),
            filter: TopicFilter::parse(filter, &MQTT).unwrap(),
        })
    };
    let plain = |filter: &str| {
        Ok(SubscriptionFilter::Plain(
            TopicFilter::parse(filter, &MQTT).unwrap(),
        ))
    };
    let cases: Vec<(&str, Result<SubscriptionFilter, TopicError>)> = vec![
        ("a/b", plain("a/b")),
        ("#", plain("#")),
        ("$shared/x", plain("$shared/x")),
        ("$sharex", plain("$sharex")),
        ("x/$share/g/a", plain("x/$share/g/a")),
        ("$share/g/a/#", shared("g", "a/#")),
        ("$share/g/#", shared("g", "#")),
        ("$share/g/+", shared("g", "+")),
        ("$share/g//", shared("g", "/")),
        ("$share/grüppe/a", shared("grüppe", "a")),
        ("$share/g/$SYS/#", shared("g", "$SYS/#")),
        ("$share", Err(EmptyShareName)),
        ("$share/", Err(EmptyShareName)),
        ("$share//x", Err(EmptyShareName)),
        ("$share/g", Err(MissingSharedFilter)),
        ("$share/g/", Err(MissingSharedFilter)),
        ("$share/+/x", Err(InvalidShareName { found: '+', at: 7 })),
        ("$share/#/x", Err(InvalidShareName { found: '#', at: 7 })),
        ("$share/g#/x", Err(InvalidShareName { found: '#', at: 8 })),
        ("$share/g\0/x", Err(NullCharacter { at: 8 })),
        (
            "$share/g/a/#/b",
            Err(MisplacedMultiLevelWildcard { at: 11 }),
        ),
        ("$share/g/a+", Err(MisplacedSingleLevelWildcard { at: 10 })),
        ("$share/g/a\0", Err(NullCharacter { at: 10 })),
        ("", Err(Empty)),
        ("a/#/b", Err(MisplacedMultiLevelWildcard { at: 2 })),
    ];
    for (input, expected) in cases {
        let parsed = SubscriptionFilter::parse(input, &MQTT);
        assert_eq!(parsed, expected, "{input:?}");
        let from_bytes =
            SubscriptionFilter::from_bytes(Bytes::copy_from_slice(input.as_bytes()), &MQTT);
        assert_eq!(from_bytes, expected, "{input:?}");
        if let Ok(parsed) = parsed {
            assert_eq!(parsed.to_string(), input);
            assert_eq!(parsed.is_shared(), parsed.share_name().is_some());
        }
    }
}

#[test]
fn share_names() {
    assert_eq!(ShareName::parse("g").unwrap().as_str(), "g");
    assert_eq!(ShareName::parse(""), Err(TopicError::EmptyShareName));
    assert_eq!(
        ShareName::parse("a/b"),
        Err(TopicError::InvalidShareName { found: '/', at: 1 })
    );
    assert_eq!(
        ShareName::parse("+"),
        Err(TopicError::InvalidShareName { found: '+', at: 0 })
    );
}

#[test]
fn aws_iot_byte_limit() {
    let at_limit = "a".repeat(256);
    let over = "a".repeat(257);
    let too_long = Err(TopicError::TooLong { len: 257, max: 256 });
    assert!(TopicName::parse(&at_limit, &AWS).is_ok());
    assert_eq!(TopicName::parse(&over, &AWS).map(|_| ()), too_long);
    assert!(TopicFilter::parse(&at_limit, &AWS).is_ok());
    assert_eq!(TopicFilter::parse(&over, &AWS).map(|_| ()), too_long);

    // The Basic Ingest prefix is not counted.
    let ingest = |rest: &str| format!("$aws/rules/my_rule/{rest}");
    assert!(TopicName::parse(&ingest(&at_limit), &AWS).is_ok());
    assert_eq!(TopicName::parse(&ingest(&over), &AWS).map(|_| ()), too_long);
    assert!(TopicFilter::parse(&ingest(&at_limit), &AWS).is_ok());
    // Unless the limits say it is.
    let counted = TopicLimits {
        exclude_basic_ingest_prefix: false,
        ..AWS
    };
    assert_eq!(
        TopicName::parse(&ingest(&at_limit), &counted).map(|_| ()),
        Err(TopicError::TooLong { len: 275, max: 256 })
    );
    // Nor is `$share/{ShareName}/`.
    let shared = format!("$share/group/{at_limit}");
    assert!(SubscriptionFilter::parse(&shared, &AWS).is_ok());
    let shared = format!("$share/group/{over}");
    assert_eq!(
        SubscriptionFilter::parse(&shared, &AWS).map(|_| ()),
        too_long
    );
    let shared = format!("$share/group/{}", ingest(&at_limit));
    assert!(SubscriptionFilter::parse(&shared, &AWS).is_ok());
}

#[test]
fn aws_iot_level_limit() {
    let eight = levels(8);
    let nine = levels(9);
    let too_deep = Err(TopicError::TooManyLevels { levels: 9, max: 8 });
    assert!(TopicName::parse(&eight, &AWS).is_ok());
    assert_eq!(TopicName::parse(&nine, &AWS).map(|_| ()), too_deep);
    assert!(TopicFilter::parse("a/b/c/d/e/f/g/#", &AWS).is_ok());
    assert_eq!(
        TopicFilter::parse("a/b/c/d/e/f/g/h/#", &AWS).map(|_| ()),
        too_deep
    );
    // Empty levels count: 7 slashes make 8 levels.
    assert!(TopicName::parse("///////", &AWS).is_ok());
    assert_eq!(TopicName::parse("////////", &AWS).map(|_| ()), too_deep);
    // The MQTT limits have no level limit.
    assert!(TopicName::parse(&levels(10_000), &MQTT).is_ok());

    // The Basic Ingest prefix is not counted...
    assert!(TopicName::parse(&format!("$aws/rules/r/{eight}"), &AWS).is_ok());
    assert_eq!(
        TopicName::parse(&format!("$aws/rules/r/{nine}"), &AWS).map(|_| ()),
        too_deep
    );
    // ...but only when it is exactly that prefix, with a rule name.
    assert_eq!(
        TopicName::parse(&format!("$aws/rulez/r/{}", levels(6)), &AWS).map(|_| ()),
        too_deep
    );
    assert_eq!(
        TopicFilter::parse(&format!("$aws/rules/+/{}", levels(6)), &AWS).map(|_| ()),
        Err(TopicError::TooManyLevels { levels: 9, max: 8 })
    );
    // Nor is `$share/{ShareName}/`.
    assert!(SubscriptionFilter::parse(&format!("$share/g/{eight}"), &AWS).is_ok());
    assert_eq!(
        SubscriptionFilter::parse(&format!("$share/g/{nine}"), &AWS).map(|_| ()),
        too_deep
    );
    assert!(SubscriptionFilter::parse(&format!("$share/g/$aws/rules/r/{eight}"), &AWS).is_ok());
}

#[test]
fn names_compare_and_hash_as_strings() {
    use std::collections::HashSet;
    let a = TopicName::parse("a/b", &MQTT).unwrap();
    let b = TopicName::from_bytes(Bytes::from_static(b"xa/b").slice(1..), &MQTT).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, "a/b");
    let set: HashSet<TopicName> = [a.clone()].into();
    assert!(set.contains("a/b"));
    let mut names: Vec<TopicName> = ["b", "a/c", "a", "é", "z"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    names.sort();
    let sorted: Vec<&str> = names.iter().map(TopicName::as_str).collect();
    assert_eq!(sorted, ["a", "a/c", "b", "z", "é"]);
    assert_eq!(format!("{a:?}"), r#"TopicName("a/b")"#);
    assert!(TopicName::parse("$SYS/x", &MQTT).unwrap().is_system());
    assert!(!a.is_system());
    assert_eq!(Bytes::from(a.clone()), Bytes::from_static(b"a/b"));
}

#[test]
fn errors_explain_themselves() {
    let err = TopicFilter::parse("a/#/b", &MQTT).unwrap_err();
    assert_eq!(
        err.to_string(),
        "'#' at byte 2 must be alone in the last level of the filter"
    );
    let err = TopicName::parse(&levels(9), &AWS).unwrap_err();
    assert_eq!(err.to_string(), "topic has 9 levels, the limit is 8");
}
