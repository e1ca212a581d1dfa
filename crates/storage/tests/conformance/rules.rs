//! `RuleStore`: topic rules and HTTP topic rule destinations.

use futures_util::future::join_all;
use thingd_registry::{Inserted, Store, Timestamp, TopicRuleDestinationRecord, TopicRuleRecord};

use crate::support::{
    NAMES, all, assert_empty, assert_insert_if_absent, assert_missing, assert_pages, sorted,
};

fn rule(name: &str) -> TopicRuleRecord {
    TopicRuleRecord {
        name: name.to_owned(),
        payload: format!(r#"{{"sql":"SELECT * FROM '{name}'","actions":[]}}"#),
        disabled: false,
        created: Timestamp(1_700_000_000_000),
    }
}

fn destination(n: u32) -> TopicRuleDestinationRecord {
    TopicRuleDestinationRecord {
        arn: format!("arn:aws:iot:us-east-1:123456789012:ruledestination/http/{n:08}"),
        confirmation_url: format!("https://receiver-{n}.example/hook"),
        status: "IN_PROGRESS".to_owned(),
        status_reason: None,
        confirmation_token: Some(format!("token-{n}")),
        created: Timestamp(1_700_000_000_000 + i64::from(n)),
        updated: Timestamp(1_700_000_000_000 + i64::from(n)),
    }
}

/// Insert-if-absent by name: `Exists` with the stored rule, unchanged.
pub(crate) async fn rule_insert_if_absent(store: &dyn Store) {
    let original = rule("r1");
    let mut other = rule("r1");
    other.payload = "{}".into();
    other.disabled = true;
    other.created = Timestamp(1);
    assert_insert_if_absent(
        &original,
        &other,
        async |r| store.insert_topic_rule(r).await,
        async || store.topic_rule("r1").await,
    )
    .await;
}

/// A missing rule: none to read, replace, enable or delete, and none listed.
pub(crate) async fn rule_missing(store: &dyn Store) {
    assert_missing(
        async || store.topic_rule("nope").await,
        async || store.replace_topic_rule("nope", "{}", false).await,
        async || store.delete_topic_rule("nope").await,
    )
    .await;
    assert!(!store.set_topic_rule_disabled("nope", true).await.unwrap());
    assert_eq!(store.topic_rule("nope").await.unwrap(), None);
    assert_empty(store.topic_rules(&all()).await);
    assert!(store.all_topic_rules().await.unwrap().is_empty());
}

/// Every field survives, a large payload with non-ASCII text included.
pub(crate) async fn rule_round_trip(store: &dyn Store) {
    let mut big = rule("big_1");
    big.payload = format!(
        r#"{{"sql":"SELECT * FROM 'a'","description":"Température 🌡️ {}","actions":[]}}"#,
        "x".repeat(200_000)
    );
    big.disabled = true;
    big.created = Timestamp(0);
    let plain = rule("plain");
    for r in [&big, &plain] {
        assert_eq!(store.insert_topic_rule(r).await.unwrap(), Inserted::Created);
    }
    for r in [&big, &plain] {
        assert_eq!(store.topic_rule(&r.name).await.unwrap().as_ref(), Some(r));
    }
}

/// Replace changes the payload and the flag, keeps the creation time; enable and disable
/// change only the flag.
pub(crate) async fn rule_replace_and_disable(store: &dyn Store) {
    let original = rule("r");
    store.insert_topic_rule(&original).await.unwrap();
    assert!(
        store
            .replace_topic_rule("r", "{\"new\":1}", true)
            .await
            .unwrap()
    );
    let replaced = TopicRuleRecord {
        payload: "{\"new\":1}".into(),
        disabled: true,
        ..original.clone()
    };
    assert_eq!(store.topic_rule("r").await.unwrap(), Some(replaced.clone()));
    assert!(store.set_topic_rule_disabled("r", false).await.unwrap());
    let enabled = TopicRuleRecord {
        disabled: false,
        ..replaced
    };
    assert_eq!(store.topic_rule("r").await.unwrap(), Some(enabled.clone()));
    // Setting the flag it already has still finds the rule.
    assert!(store.set_topic_rule_disabled("r", false).await.unwrap());
    assert!(store.delete_topic_rule("r").await.unwrap());
    assert!(!store.delete_topic_rule("r").await.unwrap());
    assert_eq!(
        store.insert_topic_rule(&original).await.unwrap(),
        Inserted::Created,
        "a deleted rule's name can be used again"
    );
}

/// Rules list in byte order of names, in pages of any size; `all_topic_rules` gives them all
/// in that order.
pub(crate) async fn rule_list_pages(store: &dyn Store) {
    for name in NAMES {
        store.insert_topic_rule(&rule(name)).await.unwrap();
    }
    let expected: Vec<_> = sorted(&NAMES).iter().map(|n| rule(n)).collect();
    assert_pages(&expected, true, async |p| store.topic_rules(&p).await).await;
    assert_eq!(store.all_topic_rules().await.unwrap(), expected);
}

/// Insert-if-absent by confirmation URL (and by ARN): `Exists` with the stored destination.
pub(crate) async fn destination_insert_if_absent(store: &dyn Store) {
    let original = destination(1);
    let same_url = TopicRuleDestinationRecord {
        arn: destination(2).arn,
        status: "ENABLED".into(),
        confirmation_token: None,
        ..original.clone()
    };
    assert_insert_if_absent(
        &original,
        &same_url,
        async |d| store.insert_topic_rule_destination(d).await,
        async || store.topic_rule_destination(&original.arn).await,
    )
    .await;
    let same_arn = TopicRuleDestinationRecord {
        confirmation_url: "https://elsewhere.example/".into(),
        confirmation_token: Some("other-token".into()),
        ..original.clone()
    };
    assert_eq!(
        store
            .insert_topic_rule_destination(&same_arn)
            .await
            .unwrap(),
        Inserted::Exists(original.clone())
    );
    assert_eq!(
        store.all_topic_rule_destinations().await.unwrap(),
        vec![original]
    );
}

/// A missing destination: none to read (by ARN or token), update or delete.
pub(crate) async fn destination_missing(store: &dyn Store) {
    let ghost = destination(9);
    assert_missing(
        async || store.topic_rule_destination(&ghost.arn).await,
        async || {
            store
                .update_topic_rule_destination(&ghost, "IN_PROGRESS", None)
                .await
        },
        async || store.delete_topic_rule_destination(&ghost.arn).await,
    )
    .await;
    assert_eq!(
        store
            .topic_rule_destination_by_token("token-9")
            .await
            .unwrap(),
        None
    );
    assert_empty(store.topic_rule_destinations(&all()).await);
}

/// Every field survives; a destination is found by its outstanding token, and no longer once
/// the token is cleared.
pub(crate) async fn destination_round_trip(store: &dyn Store) {
    let pending = destination(1);
    let enabled = TopicRuleDestinationRecord {
        status: "ENABLED".into(),
        status_reason: Some("Confirmed — «ok»".into()),
        confirmation_token: None,
        ..destination(2)
    };
    for d in [&pending, &enabled] {
        assert_eq!(
            store.insert_topic_rule_destination(d).await.unwrap(),
            Inserted::Created
        );
    }
    for d in [&pending, &enabled] {
        assert_eq!(
            store.topic_rule_destination(&d.arn).await.unwrap().as_ref(),
            Some(d)
        );
    }
    assert_eq!(
        store
            .topic_rule_destination_by_token("token-1")
            .await
            .unwrap(),
        Some(pending.clone())
    );
    let confirmed = TopicRuleDestinationRecord {
        status: "ENABLED".into(),
        confirmation_token: None,
        updated: Timestamp(1_800_000_000_000),
        ..pending.clone()
    };
    assert!(
        store
            .update_topic_rule_destination(&confirmed, "IN_PROGRESS", Some("token-1"))
            .await
            .unwrap()
    );
    assert_eq!(
        store.topic_rule_destination(&pending.arn).await.unwrap(),
        Some(confirmed)
    );
    assert_eq!(
        store
            .topic_rule_destination_by_token("token-1")
            .await
            .unwrap(),
        None
    );
}

/// An update applies only from the expected status (and token, when given); the ARN, URL and
/// creation time never change.
pub(crate) async fn destination_update_compare_and_swap(store: &dyn Store) {
    let original = destination(1);
    store
        .insert_topic_rule_destination(&original)
        .await
        .unwrap();
    let error = TopicRuleDestinationRecord {
        status: "ERROR".into(),
        status_reason: Some("refused".into()),
        updated: Timestamp(1_800_000_000_000),
        ..original.clone()
    };
    for (status, token) in [("ENABLED", None), ("IN_PROGRESS", Some("stale-token"))] {
        assert!(
            !store
                .update_topic_rule_destination(&error, status, token)
                .await
                .unwrap(),
            "{status} {token:?}"
        );
        assert_eq!(
            store.topic_rule_destination(&original.arn).await.unwrap(),
            Some(original.clone())
        );
    }
    assert!(
        store
            .update_topic_rule_destination(&error, "IN_PROGRESS", Some("token-1"))
            .await
            .unwrap()
    );
    // The update does not move the URL or the creation time, whatever the record says.
    let moved = TopicRuleDestinationRecord {
        confirmation_url: "https://moved.example/".into(),
        created: Timestamp(5),
        status: "DISABLED".into(),
        ..error.clone()
    };
    assert!(
        store
            .update_topic_rule_destination(&moved, "ERROR", None)
            .await
            .unwrap()
    );
    let stored = store
        .topic_rule_destination(&original.arn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, "DISABLED");
    assert_eq!(stored.confirmation_url, original.confirmation_url);
    assert_eq!(stored.created, original.created);
}

/// Of many transitions from one status at once, exactly one applies.
pub(crate) async fn destination_concurrent_updates_one_wins(store: &dyn Store) {
    const WRITERS: usize = 8;
    let original = destination(1);
    store
        .insert_topic_rule_destination(&original)
        .await
        .unwrap();
    let updates: Vec<TopicRuleDestinationRecord> = (0..WRITERS)
        .map(|w| TopicRuleDestinationRecord {
            status: "ENABLED".into(),
            status_reason: Some(format!("writer-{w}")),
            confirmation_token: None,
            ..original.clone()
        })
        .collect();
    let outcomes: Vec<bool> = join_all(
        updates
            .iter()
            .map(|u| store.update_topic_rule_destination(u, "IN_PROGRESS", None)),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    let winners: Vec<_> = updates
        .iter()
        .zip(&outcomes)
        .filter_map(|(u, won)| won.then_some(u))
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert_eq!(
        store
            .topic_rule_destination(&original.arn)
            .await
            .unwrap()
            .as_ref(),
        Some(winners[0])
    );
}

/// Destinations list in ARN order, in pages of any size; `all_topic_rule_destinations` gives
/// them all in that order; delete removes one.
pub(crate) async fn destination_list_pages_and_delete(store: &dyn Store) {
    let order = [7_u32, 2, 9, 1, 5, 3, 8];
    for n in order {
        store
            .insert_topic_rule_destination(&destination(n))
            .await
            .unwrap();
    }
    let mut sorted_ns = order.to_vec();
    sorted_ns.sort_unstable();
    let expected: Vec<_> = sorted_ns.iter().map(|n| destination(*n)).collect();
    assert_pages(&expected, true, async |p| {
        store.topic_rule_destinations(&p).await
    })
    .await;
    assert_eq!(store.all_topic_rule_destinations().await.unwrap(), expected);
    assert!(
        store
            .delete_topic_rule_destination(&destination(5).arn)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_topic_rule_destination(&destination(5).arn)
            .await
            .unwrap()
    );
    assert_eq!(store.all_topic_rule_destinations().await.unwrap().len(), 6);
    // Its URL may be used again.
    assert_eq!(
        store
            .insert_topic_rule_destination(&destination(5))
            .await
            .unwrap(),
        Inserted::Created
    );
}
