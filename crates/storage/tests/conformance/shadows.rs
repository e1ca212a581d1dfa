//! `ShadowStore`: device shadows by (thing, shadow name), compare-and-swap by version alone and
//! in batches, deletes that keep the version counter, the paged list of named shadows; and, for
//! the file-backed SQLite store, that shadows survive reopening, that two stores on one file
//! exclude each other's conditional writes, and that a failed batch writes nothing.

use futures_util::future::join_all;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use thingd_registry::{ShadowRecord, ShadowStore, Store, Timestamp};
use thingd_storage::SqliteStore;

use crate::support::{NAMES, all, assert_empty, assert_pages, ordered, sorted, thing};

/// A live shadow of `thing` named `shadow` at `version`, its document naming all three and
/// `writer`, so that every write of a case leaves a record of its own.
fn record(thing: &str, shadow: &str, version: i64, writer: &str) -> ShadowRecord {
    ShadowRecord {
        thing: thing.to_owned(),
        shadow: shadow.to_owned(),
        document: Some(format!(
            r#"{{"state":{{"reported":{{"writer":"{writer}","thing":"{thing}","shadow":"{shadow}"}}}},"version":{version}}}"#
        )),
        version,
        updated: Timestamp(1_700_000_000_000 + version),
    }
}

/// The record of `thing`'s shadow `shadow` once deleted at `version`.
fn deleted(thing: &str, shadow: &str, version: i64) -> ShadowRecord {
    ShadowRecord {
        document: None,
        ..record(thing, shadow, version, "delete")
    }
}

/// Creates a shadow at version 1 (it must not exist); returns its record.
async fn create(store: &dyn Store, thing: &str, shadow: &str) -> ShadowRecord {
    let created = record(thing, shadow, 1, "create");
    assert!(
        store.put_shadow(&created, None).await.unwrap(),
        "create {thing}/{shadow}"
    );
    created
}

async fn named(store: &dyn Store, thing: &str) -> Vec<String> {
    let page = store.named_shadows(thing, &all()).await.unwrap();
    assert_eq!(page.next, None, "{page:?}");
    page.items
}

/// A shadow never written: nothing to read or list, and a write that expects a version neither
/// succeeds nor creates it. An empty batch is answered with no outcomes.
pub(crate) async fn missing(store: &dyn Store) {
    assert_eq!(store.shadow("t", "").await.unwrap(), None);
    assert_eq!(store.shadow("t", "s").await.unwrap(), None);
    for ascending in [true, false] {
        assert_empty(store.named_shadows("t", &ordered(1000, ascending)).await);
    }
    for expected in [0, 1, 7] {
        assert!(
            !store
                .put_shadow(&record("t", "s", expected + 1, "w"), Some(expected))
                .await
                .unwrap(),
            "expected {expected}"
        );
    }
    assert_eq!(
        store.shadow("t", "s").await.unwrap(),
        None,
        "nothing created"
    );
    assert!(store.put_shadows(&[]).await.unwrap().is_empty());
    let outcomes = store
        .put_shadows(&[(record("t", "", 2, "w"), Some(1))])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![false]);
    assert_eq!(
        store.shadow("t", "").await.unwrap(),
        None,
        "nothing created"
    );
}

/// What is written is read back whole, under its own key only: the classic and a named shadow of
/// one thing, shadows of other things, and keys whose concatenations coincide are all apart.
/// Creating again (no expectation) fails and changes nothing, and a shadow needs no thing in
/// the registry, nor goes when its thing does.
pub(crate) async fn round_trip(store: &dyn Store) {
    let classic = create(store, "lamp", "").await;
    let named_one = create(store, "lamp", "config").await;
    let other = create(store, "lampc", "onfig").await;
    let mut odd = record("lamp", "ünïcode/名前:-_", 1, "odd");
    odd.document = Some(format!(r#"{{"big":"{}"}}"#, "x".repeat(100_000)));
    assert!(store.put_shadow(&odd, None).await.unwrap());

    assert_eq!(
        store.shadow("lamp", "").await.unwrap(),
        Some(classic.clone())
    );
    assert_eq!(
        store.shadow("lamp", "config").await.unwrap(),
        Some(named_one.clone())
    );
    assert_eq!(store.shadow("lampc", "onfig").await.unwrap(), Some(other));
    assert_eq!(
        store.shadow("lamp", "ünïcode/名前:-_").await.unwrap(),
        Some(odd)
    );
    assert_eq!(store.shadow("lampc", "").await.unwrap(), None);
    assert_eq!(
        store.shadow("LAMP", "").await.unwrap(),
        None,
        "names are exact"
    );
    assert_eq!(store.shadow("lamp", "Config").await.unwrap(), None);

    assert!(
        !store
            .put_shadow(&record("lamp", "", 1, "again"), None)
            .await
            .unwrap(),
        "a second create"
    );
    assert_eq!(
        store.shadow("lamp", "").await.unwrap(),
        Some(classic.clone())
    );

    // The registry's things are another matter: a thing and its deletion leave shadows alone.
    store.insert_thing(&thing("lamp")).await.unwrap();
    assert!(store.delete_thing("lamp").await.unwrap());
    assert_eq!(store.shadow("lamp", "").await.unwrap(), Some(classic));
    assert_eq!(
        store.shadow("lamp", "config").await.unwrap(),
        Some(named_one)
    );
}

/// A write succeeds only against the stored version, and then stores the record exactly as
/// given (the store compares versions; it does not make them).
pub(crate) async fn compare_and_swap(store: &dyn Store) {
    let mut current = create(store, "t", "s").await;
    for stale in [0, 2, 5, -1] {
        assert!(
            !store
                .put_shadow(&record("t", "s", 9, "stale"), Some(stale))
                .await
                .unwrap(),
            "expected {stale} against 1"
        );
        assert_eq!(
            store.shadow("t", "s").await.unwrap().as_ref(),
            Some(&current)
        );
    }
    for version in 2..=5 {
        let next = record("t", "s", version, "w");
        assert!(store.put_shadow(&next, Some(version - 1)).await.unwrap());
        assert_eq!(store.shadow("t", "s").await.unwrap().as_ref(), Some(&next));
        current = next;
    }
    // The expectation is all that is compared: a record may set any version and time.
    let jump = ShadowRecord {
        updated: Timestamp(3),
        ..record("t", "s", 100, "jump")
    };
    assert!(
        store
            .put_shadow(&jump, Some(current.version))
            .await
            .unwrap()
    );
    assert_eq!(store.shadow("t", "s").await.unwrap(), Some(jump));
    // Only the shadow written changes: the thing's other shadow is untouched.
    let classic = create(store, "t", "").await;
    assert!(
        !store
            .put_shadow(&record("t", "", 101, "w"), Some(100))
            .await
            .unwrap(),
        "another shadow's version"
    );
    assert_eq!(store.shadow("t", "").await.unwrap(), Some(classic));
}

/// Of many writers with one expectation run at once, exactly one succeeds, and the stored
/// record is the winner's, whole: for creates (no expectation) and for updates.
pub(crate) async fn concurrent_writers_one_wins(store: &dyn Store) {
    const WRITERS: usize = 8;
    for round in 0..10_i64 {
        let shadow = format!("s{round}");
        let expected = (round > 0).then_some(round);
        if let Some(version) = expected {
            assert!(
                store
                    .put_shadow(&record("t", &shadow, version, "setup"), None)
                    .await
                    .unwrap()
            );
        }
        let records: Vec<ShadowRecord> = (0..WRITERS)
            .map(|w| record("t", &shadow, round + 1, &format!("writer-{w}")))
            .collect();
        let outcomes: Vec<bool> = join_all(records.iter().map(|r| store.put_shadow(r, expected)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let winners: Vec<&ShadowRecord> = records
            .iter()
            .zip(&outcomes)
            .filter_map(|(r, won)| won.then_some(r))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        assert_eq!(
            store.shadow("t", &shadow).await.unwrap().as_ref(),
            Some(winners[0]),
            "round {round}: the winner's record"
        );
    }
}

/// Deleting a shadow is a write of a record without a document: the record stays with its
/// version, the shadow leaves the list of named shadows, it cannot be created anew (a record
/// exists), and a write against the kept version brings it back with the counter going on.
pub(crate) async fn delete_keeps_the_version(store: &dyn Store) {
    create(store, "t", "s").await;
    let v2 = record("t", "s", 2, "update");
    assert!(store.put_shadow(&v2, Some(1)).await.unwrap());
    assert_eq!(named(store, "t").await, vec!["s".to_owned()]);

    let gone = deleted("t", "s", 3);
    assert!(store.put_shadow(&gone, Some(2)).await.unwrap());
    assert_eq!(store.shadow("t", "s").await.unwrap(), Some(gone.clone()));
    assert!(
        named(store, "t").await.is_empty(),
        "a deleted shadow is not listed"
    );
    assert!(
        !store
            .put_shadow(&record("t", "s", 1, "recreate"), None)
            .await
            .unwrap(),
        "the record of a deleted shadow still exists"
    );
    assert!(
        !store
            .put_shadow(&record("t", "s", 3, "stale"), Some(2))
            .await
            .unwrap()
    );
    assert_eq!(store.shadow("t", "s").await.unwrap(), Some(gone));

    let back = record("t", "s", 4, "rewrite");
    assert!(store.put_shadow(&back, Some(3)).await.unwrap());
    assert_eq!(store.shadow("t", "s").await.unwrap(), Some(back));
    assert_eq!(named(store, "t").await, vec!["s".to_owned()]);

    // Deleting the classic shadow keeps its version in the same way.
    create(store, "t", "").await;
    assert!(
        store
            .put_shadow(&deleted("t", "", 2), Some(1))
            .await
            .unwrap()
    );
    assert_eq!(
        store.shadow("t", "").await.unwrap(),
        Some(deleted("t", "", 2))
    );
    // Deleting a deleted shadow is a write like any other: the store does not refuse it.
    assert!(
        store
            .put_shadow(&deleted("t", "", 3), Some(2))
            .await
            .unwrap()
    );
    assert_eq!(store.shadow("t", "").await.unwrap().unwrap().version, 3);
}

/// The named shadows of a thing, in byte order both ways, walked with every page size: not the
/// classic shadow, not deleted ones, not other things' shadows.
pub(crate) async fn named_shadows_page(store: &dyn Store) {
    for name in NAMES {
        create(store, "t", name).await;
    }
    create(store, "t", "").await;
    create(store, "t", "removed").await;
    assert!(
        store
            .put_shadow(&deleted("t", "removed", 2), Some(1))
            .await
            .unwrap()
    );
    // Things whose names sort next to "t", with shadows named like its own and others.
    for other in ["T", "t2", "s", "t-"] {
        create(store, other, "").await;
        create(store, other, "a").await;
        create(store, other, "zz").await;
    }

    let ascending = sorted(&NAMES);
    let mut descending = ascending.clone();
    descending.reverse();
    assert_pages(&ascending, true, async |p| {
        store.named_shadows("t", &p).await
    })
    .await;
    assert_pages(&descending, false, async |p| {
        store.named_shadows("t", &p).await
    })
    .await;

    assert_eq!(
        named(store, "t2").await,
        vec!["a".to_owned(), "zz".to_owned()]
    );
    // A thing with only a classic shadow, or only deleted ones, has no named shadows.
    create(store, "classic-only", "").await;
    create(store, "deleted-only", "x").await;
    assert!(
        store
            .put_shadow(&deleted("deleted-only", "x", 2), Some(1))
            .await
            .unwrap()
    );
    for thing in ["classic-only", "deleted-only", "nothing"] {
        for ascending in [true, false] {
            assert_empty(store.named_shadows(thing, &ordered(1000, ascending)).await);
        }
    }
}

/// A batch answers each write on its own, in order, and applies them in order: creates of new
/// and of existing shadows, updates with current, stale and missing expectations, and writes of
/// one shadow whose expectations depend on the batch's earlier writes.
pub(crate) async fn batch_mixed_outcomes(store: &dyn Store) {
    create(store, "t", "a").await;
    create(store, "t", "gone").await;
    assert!(
        store
            .put_shadow(&deleted("t", "gone", 2), Some(1))
            .await
            .unwrap()
    );

    let writes = vec![
        // A new shadow: created.
        (record("t", "new", 1, "batch"), None),
        // An existing shadow, created again: refused.
        (record("t", "a", 1, "batch"), None),
        // A current expectation: written.
        (record("t", "a", 2, "batch"), Some(1)),
        // The same expectation again: the write before it moved the version on.
        (record("t", "a", 2, "late"), Some(1)),
        // The version the batch just wrote: written.
        (record("t", "a", 3, "batch"), Some(2)),
        // A shadow that does not exist: refused.
        (record("t", "missing", 2, "batch"), Some(1)),
        // A deleted shadow, with a stale and then the kept version.
        (record("t", "gone", 2, "stale"), Some(1)),
        (record("t", "gone", 3, "batch"), Some(2)),
        // A shadow the batch created, updated in the same batch.
        (record("t", "new", 2, "batch"), Some(1)),
        // The classic shadow of another thing, created and deleted.
        (record("u", "", 1, "batch"), None),
        (deleted("u", "", 2), Some(1)),
    ];
    let outcomes = store.put_shadows(&writes).await.unwrap();
    assert_eq!(
        outcomes,
        vec![
            true, false, true, false, true, false, false, true, true, true, true
        ]
    );
    assert_eq!(
        store.shadow("t", "a").await.unwrap(),
        Some(record("t", "a", 3, "batch"))
    );
    assert_eq!(
        store.shadow("t", "new").await.unwrap(),
        Some(record("t", "new", 2, "batch"))
    );
    assert_eq!(
        store.shadow("t", "gone").await.unwrap(),
        Some(record("t", "gone", 3, "batch"))
    );
    assert_eq!(store.shadow("t", "missing").await.unwrap(), None);
    assert_eq!(
        store.shadow("u", "").await.unwrap(),
        Some(deleted("u", "", 2))
    );
    assert_eq!(
        named(store, "t").await,
        vec!["a".to_owned(), "gone".to_owned(), "new".to_owned()]
    );

    // A batch of only refused writes changes nothing.
    let refused = store
        .put_shadows(&[
            (record("t", "a", 9, "x"), Some(1)),
            (record("t", "new", 1, "x"), None),
        ])
        .await
        .unwrap();
    assert_eq!(refused, vec![false, false]);
    assert_eq!(
        store.shadow("t", "a").await.unwrap(),
        Some(record("t", "a", 3, "batch"))
    );

    // A large batch, as a loaded shadow service may send.
    let many: Vec<(ShadowRecord, Option<i64>)> = (0..1500)
        .map(|n| (record("bulk", &format!("s{n:04}"), 1, "bulk"), None))
        .collect();
    let outcomes = store.put_shadows(&many).await.unwrap();
    assert!(outcomes.iter().all(|won| *won) && outcomes.len() == 1500);
    assert_eq!(
        store.shadow("bulk", "s1499").await.unwrap(),
        Some(record("bulk", "s1499", 1, "bulk"))
    );
}

/// Batches and single writes racing for one shadow with one expectation: exactly one wins it,
/// while each batch's writes of other shadows succeed regardless.
pub(crate) async fn concurrent_batches_one_wins(store: &dyn Store) {
    const BATCHES: usize = 4;
    for round in 0..10_i64 {
        let contended = format!("c{round}");
        create(store, "t", &contended).await;
        let batches: Vec<Vec<(ShadowRecord, Option<i64>)>> = (0..BATCHES)
            .map(|b| {
                vec![
                    (record("t", &format!("own-{round}-{b}"), 1, "own"), None),
                    (record("t", &contended, 2, &format!("batch-{b}")), Some(1)),
                ]
            })
            .collect();
        let single = record("t", &contended, 2, "single");
        let (outcomes, single_won) = tokio::join!(
            join_all(batches.iter().map(|batch| store.put_shadows(batch))),
            store.put_shadow(&single, Some(1)),
        );
        let mut winners = Vec::new();
        if single_won.unwrap() {
            winners.push(single.clone());
        }
        for (batch, outcome) in batches.iter().zip(outcomes) {
            let outcome = outcome.unwrap();
            assert_eq!(outcome.len(), 2);
            assert!(outcome[0], "round {round}: an uncontended write");
            if outcome[1] {
                winners.push(batch[1].0.clone());
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(
            store.shadow("t", &contended).await.unwrap().as_ref(),
            Some(&winners[0])
        );
    }
}

/// Shadows written through one file store, updated and deleted among them, are read back by a
/// store opened on the file later, which writes on from the versions kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thingd.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        create(&store, "lamp", "").await;
        assert!(
            store
                .put_shadow(&record("lamp", "", 2, "update"), Some(1))
                .await
                .unwrap()
        );
        create(&store, "lamp", "config").await;
        create(&store, "lamp", "old").await;
        let outcomes = store
            .put_shadows(&[
                (deleted("lamp", "old", 2), Some(1)),
                (record("fan", "", 1, "batch"), None),
            ])
            .await
            .unwrap();
        assert_eq!(outcomes, vec![true, true]);
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.shadow("lamp", "").await.unwrap(),
        Some(record("lamp", "", 2, "update"))
    );
    assert_eq!(
        store.shadow("lamp", "config").await.unwrap(),
        Some(record("lamp", "config", 1, "create"))
    );
    assert_eq!(
        store.shadow("lamp", "old").await.unwrap(),
        Some(deleted("lamp", "old", 2))
    );
    assert_eq!(
        store.shadow("fan", "").await.unwrap(),
        Some(record("fan", "", 1, "batch"))
    );
    assert_eq!(named(&store, "lamp").await, vec!["config".to_owned()]);
    assert!(
        store
            .put_shadow(&record("lamp", "old", 3, "back"), Some(2))
            .await
            .unwrap()
    );
    drop(store);
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.shadow("lamp", "old").await.unwrap(),
        Some(record("lamp", "old", 3, "back"))
    );
}

/// Two stores on one file (as two processes would have): their conditional writes of one
/// shadow exclude each other, single and batched, and each sees the other's result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thingd.db");
    let first = SqliteStore::open(&path).await.unwrap();
    let second = SqliteStore::open(&path).await.unwrap();
    for round in 0..20_i64 {
        let expected = (round > 0).then_some(round);
        let left = record("t", "", round + 1, "first");
        let right = record("t", "", round + 1, "second");
        let (l, r) = if round % 2 == 0 {
            let (l, r) = tokio::join!(
                first.put_shadow(&left, expected),
                second.put_shadow(&right, expected)
            );
            (l.unwrap(), r.unwrap())
        } else {
            let left_batch = [(left.clone(), expected)];
            let right_batch = [(right.clone(), expected)];
            let (l, r) = tokio::join!(
                first.put_shadows(&left_batch),
                second.put_shadows(&right_batch)
            );
            (l.unwrap()[0], r.unwrap()[0])
        };
        assert!(l ^ r, "round {round}: first {l}, second {r}");
        let winner = if l { left } else { right };
        assert_eq!(first.shadow("t", "").await.unwrap().as_ref(), Some(&winner));
        assert_eq!(
            second.shadow("t", "").await.unwrap().as_ref(),
            Some(&winner)
        );
    }
}

/// A batch that fails part way writes nothing: the writes before the failure are rolled back
/// with it, and the store goes on working. The failure is provoked by a trigger that refuses
/// one shadow's name, added behind the store's back.
#[tokio::test]
async fn a_failed_batch_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thingd.db");
    let store = SqliteStore::open(&path).await.unwrap();
    create(&store, "t", "kept").await;

    let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON shadows WHEN NEW.shadow = 'poison' \
         BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let result = store
        .put_shadows(&[
            (record("t", "before", 1, "batch"), None),
            (record("t", "kept", 2, "batch"), Some(1)),
            (record("t", "poison", 1, "batch"), None),
            (record("t", "after", 1, "batch"), None),
        ])
        .await;
    match result {
        Err(error) => assert!(error.to_string().contains("poisoned"), "{error}"),
        Ok(outcomes) => panic!("the batch succeeded: {outcomes:?}"),
    }
    assert_eq!(store.shadow("t", "before").await.unwrap(), None);
    assert_eq!(store.shadow("t", "after").await.unwrap(), None);
    assert_eq!(
        store.shadow("t", "kept").await.unwrap(),
        Some(record("t", "kept", 1, "create"))
    );
    assert_eq!(named(&store, "t").await, vec!["kept".to_owned()]);

    // The failure left no transaction open: the store writes on.
    let outcomes = store
        .put_shadows(&[
            (record("t", "before", 1, "again"), None),
            (record("t", "kept", 2, "again"), Some(1)),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![true, true]);
    assert_eq!(
        named(&store, "t").await,
        vec!["before".to_owned(), "kept".to_owned()]
    );
}
