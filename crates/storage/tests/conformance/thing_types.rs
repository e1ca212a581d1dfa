//! `ThingTypeStore`: thing types.

use thingd_registry::{Inserted, Store, Timestamp};

use crate::support::{
    NAMES, all, assert_empty, assert_insert_if_absent, assert_missing, assert_pages, page, sorted,
    thing_type,
};

/// Insert-if-absent creates once, then answers `Exists` with the stored type, unchanged.
pub(crate) async fn insert_if_absent(store: &dyn Store) {
    let mut original = thing_type("sensor");
    original.description = Some("A sensor".into());
    original.searchable_attributes = vec!["serial".into(), "room".into()];
    let mut other = thing_type("sensor");
    other.id = "other".into();
    other.description = None;
    other.searchable_attributes = vec!["x".into()];
    other.deprecated = Some(Timestamp(5));
    assert_insert_if_absent(
        &original,
        &other,
        async |t| store.insert_thing_type(t).await,
        async || store.thing_type("sensor").await,
    )
    .await;
}

/// A missing type: none to read, replace or delete.
pub(crate) async fn missing(store: &dyn Store) {
    assert_missing(
        async || store.thing_type("nope").await,
        async || store.replace_thing_type(&thing_type("nope")).await,
        async || store.delete_thing_type("nope").await,
    )
    .await;
    assert_empty(store.list_thing_types(None, &all()).await);
}

/// Every field survives: zero to three searchable attributes (in their order), descriptions
/// with spaces and non-ASCII, deprecation.
pub(crate) async fn round_trip(store: &dyn Store) {
    let bare = thing_type("bare");
    let mut one = thing_type("one");
    one.searchable_attributes = vec!["serial.number@v1/x#y".into()];
    one.description = Some(String::new());
    let mut full = thing_type("a:full_type-1");
    full.description = Some("Température — capteur « salon » 🌡️ with  two spaces".into());
    full.searchable_attributes = vec!["zeta".into(), "alpha".into(), "mid".into()];
    full.deprecated = Some(Timestamp(1_700_000_123_456));
    full.created = Timestamp(0);
    for t in [&bare, &one, &full] {
        assert_eq!(store.insert_thing_type(t).await.unwrap(), Inserted::Created);
    }
    for t in [&bare, &one, &full] {
        assert_eq!(store.thing_type(&t.name).await.unwrap().as_ref(), Some(t));
    }
}

/// Replace changes description, searchable attributes and deprecation, and undoes deprecation.
pub(crate) async fn replace(store: &dyn Store) {
    let mut t = thing_type("sensor");
    t.description = Some("before".into());
    store.insert_thing_type(&t).await.unwrap();

    t.deprecated = Some(Timestamp(1_700_000_500_000));
    t.description = Some("after".into());
    assert!(store.replace_thing_type(&t).await.unwrap());
    assert_eq!(store.thing_type("sensor").await.unwrap().as_ref(), Some(&t));

    t.deprecated = None;
    t.description = None;
    assert!(store.replace_thing_type(&t).await.unwrap());
    assert_eq!(store.thing_type("sensor").await.unwrap().as_ref(), Some(&t));
}

/// Delete reports whether the type existed; the name can then be reused.
pub(crate) async fn delete(store: &dyn Store) {
    store.insert_thing_type(&thing_type("a")).await.unwrap();
    store.insert_thing_type(&thing_type("b")).await.unwrap();
    assert!(store.delete_thing_type("a").await.unwrap());
    assert!(!store.delete_thing_type("a").await.unwrap());
    assert_eq!(store.thing_type("a").await.unwrap(), None);
    assert_eq!(store.thing_type("b").await.unwrap(), Some(thing_type("b")));
    let mut again = thing_type("a");
    again.id = "new".into();
    assert_eq!(
        store.insert_thing_type(&again).await.unwrap(),
        Inserted::Created
    );
    assert_eq!(store.thing_type("a").await.unwrap(), Some(again));
}

/// Types list in byte order of names, in pages of any size; the name filter gives that one
/// type or none.
pub(crate) async fn list_pages_and_name_filter(store: &dyn Store) {
    for name in NAMES {
        store.insert_thing_type(&thing_type(name)).await.unwrap();
    }
    let expected: Vec<_> = sorted(&NAMES).iter().map(|n| thing_type(n)).collect();
    assert_pages(&expected, true, async |p| {
        store.list_thing_types(None, &p).await
    })
    .await;

    let named = store.list_thing_types(Some("a-b"), &all()).await.unwrap();
    assert_eq!(named.items, vec![thing_type("a-b")]);
    assert_eq!(named.next, None);
    let named = store.list_thing_types(Some("a-b"), &page(1)).await.unwrap();
    assert_eq!((named.items, named.next), (vec![thing_type("a-b")], None));
    for name in ["nope", "A-B", "a-"] {
        assert_empty(store.list_thing_types(Some(name), &all()).await);
    }
}
