//! `AccessKeyStore`: the API's access keys.

use thingd_registry::{Inserted, Store};

use crate::support::access_key;

/// Insert-if-absent creates once, then answers `Exists` with the stored key, secret unchanged.
pub(crate) async fn insert_if_absent(store: &dyn Store) {
    let original = access_key("AKIAIOSFODNN7EXAMPLE", 1_000);
    assert_eq!(
        store.insert_access_key(&original).await.unwrap(),
        Inserted::Created
    );
    let mut other = access_key("AKIAIOSFODNN7EXAMPLE", 2_000);
    other.secret_access_key = "another secret".into();
    other.user = "mallory".into();
    match store.insert_access_key(&other).await.unwrap() {
        Inserted::Exists(existing) => assert!(existing == original, "{existing:?}"),
        Inserted::Created => panic!("created twice"),
    }
    let stored = store
        .access_key("AKIAIOSFODNN7EXAMPLE")
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored == original && stored.created == original.created,
        "{stored:?}"
    );
}

/// A missing key: none; no keys at all: an empty list.
pub(crate) async fn missing(store: &dyn Store) {
    assert!(store.access_key("AKIANOPE").await.unwrap().is_none());
    assert!(store.access_keys().await.unwrap().is_empty());
    store
        .insert_access_key(&access_key("AKIAONE", 1))
        .await
        .unwrap();
    assert!(
        store.access_key("akiaone").await.unwrap().is_none(),
        "ids are case-sensitive"
    );
}

/// Every key, each whole.
pub(crate) async fn list(store: &dyn Store) {
    let mut keys = Vec::new();
    for (i, id) in ["AKIAC", "AKIAA", "AKIAB", "AKIAD"].iter().enumerate() {
        let mut key = access_key(id, 1_000 + i64::try_from(i % 2).unwrap());
        key.user = format!("user-{i}");
        store.insert_access_key(&key).await.unwrap();
        keys.push(key);
    }
    let mut listed = store.access_keys().await.unwrap();
    listed.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
    keys.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
    assert!(listed == keys, "{listed:?}");
    for key in &keys {
        assert!(store.access_key(&key.access_key_id).await.unwrap().as_ref() == Some(key));
    }
}
