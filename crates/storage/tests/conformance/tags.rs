//! `TagStore`: tags by resource ARN.

use thingd_registry::{Store, Tag};

use crate::support::{all, assert_pages};

const THING: &str = "arn:aws:iot:us-east-1:123456789012:thing/lamp";
const GROUP: &str = "arn:aws:iot:us-east-1:123456789012:thinggroup/lamp";

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

async fn tags(store: &dyn Store, arn: &str) -> Vec<Tag> {
    let page = store.tags_of(arn, &all()).await.unwrap();
    assert_eq!(page.next, None);
    page.items
}

/// Tagging adds new keys and replaces the values of existing ones; an empty list changes
/// nothing; tags list in key order.
pub(crate) async fn tag_upserts(store: &dyn Store) {
    assert!(tags(store, THING).await.is_empty());
    store
        .tag_resource(THING, &[tag("b", "1"), tag("a", "2")])
        .await
        .unwrap();
    assert_eq!(tags(store, THING).await, vec![tag("a", "2"), tag("b", "1")]);
    store
        .tag_resource(THING, &[tag("b", "changed"), tag("c", "")])
        .await
        .unwrap();
    assert_eq!(
        tags(store, THING).await,
        vec![tag("a", "2"), tag("b", "changed"), tag("c", "")]
    );
    store.tag_resource(THING, &[]).await.unwrap();
    assert_eq!(
        tags(store, THING).await,
        vec![tag("a", "2"), tag("b", "changed"), tag("c", "")]
    );
}

/// Untagging removes the given keys; unknown keys and an empty list are no-ops.
pub(crate) async fn untag(store: &dyn Store) {
    store
        .tag_resource(THING, &[tag("a", "1"), tag("b", "2"), tag("c", "3")])
        .await
        .unwrap();
    store
        .untag_resource(THING, &["b".to_owned(), "nope".to_owned()])
        .await
        .unwrap();
    assert_eq!(tags(store, THING).await, vec![tag("a", "1"), tag("c", "3")]);
    store.untag_resource(THING, &[]).await.unwrap();
    assert_eq!(tags(store, THING).await, vec![tag("a", "1"), tag("c", "3")]);
    store
        .untag_resource(THING, &["A".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        tags(store, THING).await,
        vec![tag("a", "1"), tag("c", "3")],
        "keys are case-sensitive"
    );
    store
        .untag_resource(THING, &["a".to_owned(), "c".to_owned()])
        .await
        .unwrap();
    assert!(tags(store, THING).await.is_empty());
    store
        .untag_resource(
            "arn:aws:iot:us-east-1:123456789012:thing/none",
            &["a".to_owned()],
        )
        .await
        .unwrap();
    // Tags can come back after all are gone.
    store
        .tag_resource(THING, &[tag("a", "again")])
        .await
        .unwrap();
    assert_eq!(tags(store, THING).await, vec![tag("a", "again")]);
}

/// Tags list in byte order of keys (upper case, spaces, non-ASCII), in pages of any size.
pub(crate) async fn pages(store: &dyn Store) {
    let keys = [
        "env",
        "Env",
        "a b",
        "a_b",
        "a-b",
        "Ünïcode",
        "zeta",
        "aws:x",
        "1",
        "a",
    ];
    let given: Vec<Tag> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| tag(k, &format!("v{i}")))
        .collect();
    store.tag_resource(THING, &given).await.unwrap();
    let mut expected = given.clone();
    expected.sort();
    assert_pages(&expected, true, async |p| store.tags_of(THING, &p).await).await;
    let (first, last) = (expected.first().unwrap(), expected.last().unwrap());
    assert_eq!((first.key.as_str(), last.key.as_str()), ("1", "Ünïcode"));
}

/// Each resource has its own tags.
pub(crate) async fn per_resource(store: &dyn Store) {
    store
        .tag_resource(THING, &[tag("k", "thing")])
        .await
        .unwrap();
    store
        .tag_resource(GROUP, &[tag("k", "group"), tag("only", "group")])
        .await
        .unwrap();
    assert_eq!(tags(store, THING).await, vec![tag("k", "thing")]);
    assert_eq!(
        tags(store, GROUP).await,
        vec![tag("k", "group"), tag("only", "group")]
    );
    store
        .untag_resource(GROUP, &["k".to_owned()])
        .await
        .unwrap();
    assert_eq!(tags(store, THING).await, vec![tag("k", "thing")]);
    assert_eq!(tags(store, GROUP).await, vec![tag("only", "group")]);
    assert!(tags(store, &format!("{THING}x")).await.is_empty());
}
