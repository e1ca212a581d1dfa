//! Two shadow services on one database, as several thingd nodes will share one: each keeps its
//! own cache, and the store's compare-and-swap keeps them honest. A node whose cached document
//! is stale finds its write refused, reads the shadow again and recomputes, so versions never
//! repeat; answers that no write confirms (a get, a version conflict) come from the store.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use thingd::shadows::{ShadowConfig, ShadowService};
use thingd_broker::{AllowConnected, Broker, BrokerConfig, PublishOrigin};
use thingd_storage::SqliteStore;

use crate::support::within;

/// A node: a broker without listeners and a shadow service on the shared database file.
async fn node(path: &std::path::Path) -> Arc<ShadowService> {
    let store = SqliteStore::open(path).await.unwrap();
    let broker = Broker::new(BrokerConfig::default(), Arc::new(AllowConnected));
    ShadowService::start(Arc::new(store), broker, ShadowConfig::default())
}

async fn update(node: &ShadowService, payload: Value) -> Result<Value, u16> {
    node.update(
        "shared",
        None,
        payload.to_string().as_bytes(),
        &PublishOrigin::default(),
    )
    .await
    .map(|accepted| serde_json::from_slice(&accepted).unwrap())
    .map_err(|error| error.code)
}

#[tokio::test]
async fn nodes_sharing_a_database_never_answer_from_a_stale_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thingd.db");
    let a = node(&path).await;
    let b = node(&path).await;

    let first = update(&a, json!({"state": {"reported": {"a": 1}}}))
        .await
        .unwrap();
    assert_eq!(first["version"], 1);
    // B writes behind A's back.
    let second = update(&b, json!({"state": {"reported": {"b": 2}}}))
        .await
        .unwrap();
    assert_eq!(second["version"], 2);
    // A's cache says version 1: its write is refused, it reads again and goes on from 2.
    let third = update(&a, json!({"state": {"reported": {"a": 3}}}))
        .await
        .unwrap();
    assert_eq!(third["version"], 3);
    assert!(a.metrics().write_conflicts_total.load(Ordering::Relaxed) >= 1);
    let shadow: Value = serde_json::from_slice(&a.get("shared", None).await.unwrap()).unwrap();
    assert_eq!(shadow["state"]["reported"], json!({"a": 3, "b": 2}));

    // B moves on again; A's get and A's versioned update see it.
    update(&b, json!({"state": {"reported": {"b": 4}}}))
        .await
        .unwrap();
    let shadow: Value = serde_json::from_slice(&a.get("shared", None).await.unwrap()).unwrap();
    assert_eq!(shadow["version"], 4);
    assert_eq!(shadow["state"]["reported"]["b"], 4);
    update(&b, json!({"state": {"reported": {"b": 5}}}))
        .await
        .unwrap();
    // A's cache (version 4) would call this a conflict; the store says version 5.
    let accepted = update(&a, json!({"state": {"reported": {"a": 6}}, "version": 5}))
        .await
        .unwrap();
    assert_eq!(accepted["version"], 6);
    assert_eq!(
        update(&a, json!({"state": {"reported": {"a": 7}}, "version": 5})).await,
        Err(409)
    );
    // B deletes; A sees no shadow (its cache still has one).
    b.delete("shared", None, &PublishOrigin::default())
        .await
        .unwrap();
    assert_eq!(a.get("shared", None).await.unwrap_err().code, 404);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn concurrent_updates_through_two_nodes_get_distinct_consecutive_versions() {
    const CALLERS_PER_NODE: usize = 16;
    const UPDATES: usize = 5;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thingd.db");
    let nodes = [node(&path).await, node(&path).await];
    let mut tasks = Vec::new();
    for node in &nodes {
        for caller in 0..CALLERS_PER_NODE {
            let node = node.clone();
            tasks.push(tokio::spawn(async move {
                let mut versions = Vec::new();
                for n in 0..UPDATES {
                    let accepted = update(
                        &node,
                        json!({"state": {"reported": {"caller": caller, "n": n}}}),
                    )
                    .await
                    .unwrap();
                    versions.push(accepted["version"].as_u64().unwrap());
                }
                versions
            }));
        }
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(within(task).await.unwrap());
    }
    all.sort_unstable();
    let total = (2 * CALLERS_PER_NODE * UPDATES) as u64;
    assert_eq!(all, (1..=total).collect::<Vec<_>>());
    for node in nodes {
        node.shutdown().await;
    }
}
