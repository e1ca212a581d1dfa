//! The SQLite store's own contract: what is written is on disk when the call returns and is read
//! back by a later open, the file is private, two stores share one file, in-memory stores are
//! separate, and failures of SQLite surface as `StoreError::Backend` (or `Corrupt` for rows that
//! do not decode).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use thingd_registry::{
    AccessKeyStore, CertificateStore, Inserted, PrincipalStore, Store, StoreError, Tag,
    ThingFilter, ThingStore,
};
use thingd_storage::SqliteStore;

use crate::support::{
    access_key, all, attrs, ca_certificate, certificate, group, thing, thing_type,
};

const THING_ARN: &str = "arn:aws:iot:us-east-1:123456789012:thing/lamp";

/// Writes one of everything, with an update and a delete among them.
async fn populate(store: &dyn Store) {
    let mut tt = thing_type("light");
    tt.searchable_attributes = vec!["room".into()];
    store.insert_thing_type(&tt).await.unwrap();
    store
        .insert_thing_group(&group("home", None))
        .await
        .unwrap();
    let mut floor = group("floor", Some("home"));
    floor.attributes = attrs(&[("level", "1")]);
    store.insert_thing_group(&floor).await.unwrap();
    let mut lamp = thing("lamp");
    lamp.thing_type = Some("light".into());
    lamp.attributes = attrs(&[("room", "kitchen")]);
    store.insert_thing(&lamp).await.unwrap();
    lamp.version = 2;
    lamp.attributes = attrs(&[("room", "hall"), ("watts", "60")]);
    assert!(store.replace_thing(&lamp, 1).await.unwrap());
    store.insert_thing(&thing("gone")).await.unwrap();
    assert!(store.delete_thing("gone").await.unwrap());
    assert!(store.add_thing_to_group("floor", "lamp").await.unwrap());
    let mut ca = ca_certificate(1, 1_000);
    ca.auto_registration = true;
    store.insert_ca_certificate(&ca).await.unwrap();
    let mut cert = certificate(2, 2_000);
    cert.ca_certificate_id = Some(ca.id.clone());
    store.insert_certificate(&cert).await.unwrap();
    assert!(
        store
            .attach_principal("lamp", "arn:cert/2", true)
            .await
            .unwrap()
    );
    store
        .tag_resource(
            THING_ARN,
            &[Tag {
                key: "owner".into(),
                value: "me".into(),
            }],
        )
        .await
        .unwrap();
    store
        .insert_access_key(&access_key("AKIAEXAMPLE", 3_000))
        .await
        .unwrap();
}

/// Checks everything [`populate`] wrote.
async fn check_populated(store: &dyn Store) {
    let mut tt = thing_type("light");
    tt.searchable_attributes = vec!["room".into()];
    assert_eq!(store.thing_type("light").await.unwrap(), Some(tt));
    let mut floor = group("floor", Some("home"));
    floor.attributes = attrs(&[("level", "1")]);
    assert_eq!(store.thing_group("floor").await.unwrap(), Some(floor));
    assert_eq!(
        store.child_groups("home").await.unwrap(),
        vec!["floor".to_owned()]
    );
    let mut lamp = thing("lamp");
    lamp.thing_type = Some("light".into());
    lamp.version = 2;
    lamp.attributes = attrs(&[("room", "hall"), ("watts", "60")]);
    assert_eq!(store.thing("lamp").await.unwrap(), Some(lamp.clone()));
    let lights = ThingFilter {
        thing_type: Some("light".into()),
        ..ThingFilter::default()
    };
    assert_eq!(
        store.list_things(&lights, &all()).await.unwrap().items,
        vec![lamp]
    );
    assert_eq!(store.thing("gone").await.unwrap(), None);
    assert_eq!(
        store
            .things_in_group("home", true, &all())
            .await
            .unwrap()
            .items,
        vec!["lamp".to_owned()]
    );
    let mut ca = ca_certificate(1, 1_000);
    ca.auto_registration = true;
    assert_eq!(
        store.ca_certificate(&ca.id).await.unwrap(),
        Some(ca.clone())
    );
    let mut cert = certificate(2, 2_000);
    cert.ca_certificate_id = Some(ca.id.clone());
    assert_eq!(
        store
            .list_certificates(Some(&ca.id), &all())
            .await
            .unwrap()
            .items,
        vec![cert]
    );
    assert_eq!(
        store
            .principals_of_thing("lamp", &all())
            .await
            .unwrap()
            .items,
        vec![("arn:cert/2".to_owned(), true)]
    );
    assert_eq!(
        store.tags_of(THING_ARN, &all()).await.unwrap().items,
        vec![Tag {
            key: "owner".into(),
            value: "me".into()
        }]
    );
    assert!(
        store.access_key("AKIAEXAMPLE").await.unwrap() == Some(access_key("AKIAEXAMPLE", 3_000))
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Everything written through one store is read back by a store opened on the file later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thingd.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        populate(&store).await;
        check_populated(&store).await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    check_populated(&store).await;
    // And the reopened store writes on.
    store.insert_thing(&thing("later")).await.unwrap();
    drop(store);
    let store = SqliteStore::open(&path).await.unwrap();
    check_populated(&store).await;
    assert_eq!(store.thing("later").await.unwrap(), Some(thing("later")));
}

/// Reopening does not apply migrations again (it would fail on existing tables, or lose data).
#[tokio::test]
async fn migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thingd.db");
    for n in 0..3 {
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .insert_access_key(&access_key(&format!("AKIA{n}"), 1))
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.access_keys().await.unwrap().len(), 3);
    let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM schema_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 4, "one row per migration (0001 to 0004)");
    pool.close().await;
}

/// The database file (and the WAL beside it) is readable by its owner only: it holds the API's
/// secret keys.
#[tokio::test]
async fn the_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thingd.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .insert_access_key(&access_key("AKIAEXAMPLE", 1))
        .await
        .unwrap();
    assert_eq!(mode(&path), 0o600, "{}", path.display());
    let wal = dir.path().join("thingd.db-wal");
    assert!(
        wal.exists(),
        "a WAL-mode database has a -wal file while open"
    );
    assert_eq!(mode(&wal), 0o600, "{}", wal.display());
}

/// Two stores on one file (as two processes would have) see each other's writes, and their
/// conditional writes exclude each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_share_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thingd.db");
    let first = SqliteStore::open(&path).await.unwrap();
    let second = SqliteStore::open(&path).await.unwrap();

    populate(&first).await;
    check_populated(&second).await;

    let mut lamp = second.thing("lamp").await.unwrap().unwrap();
    lamp.version = 3;
    lamp.attributes = attrs(&[("room", "attic")]);
    assert!(second.replace_thing(&lamp, 2).await.unwrap());
    assert_eq!(first.thing("lamp").await.unwrap(), Some(lamp.clone()));

    for round in 3..23_i64 {
        let mut left = lamp.clone();
        left.version = round + 1;
        left.attributes = attrs(&[("writer", "first")]);
        let mut right = lamp.clone();
        right.version = round + 1;
        right.attributes = attrs(&[("writer", "second")]);
        let (l, r) = tokio::join!(
            first.replace_thing(&left, round),
            second.replace_thing(&right, round)
        );
        let (l, r) = (l.unwrap(), r.unwrap());
        assert!(l ^ r, "round {round}: first {l}, second {r}");
        let winner = if l { left } else { right };
        assert_eq!(first.thing("lamp").await.unwrap().as_ref(), Some(&winner));
        assert_eq!(second.thing("lamp").await.unwrap().as_ref(), Some(&winner));
    }

    let racer = thing("racer");
    let (a, b) = tokio::join!(first.insert_thing(&racer), second.insert_thing(&racer));
    let created = [a.unwrap(), b.unwrap()]
        .iter()
        .filter(|i| **i == Inserted::Created)
        .count();
    assert_eq!(created, 1);

    assert!(second.delete_thing("lamp").await.unwrap());
    assert_eq!(first.thing("lamp").await.unwrap(), None);
    assert!(
        first
            .principals_of_thing("lamp", &all())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// Two stores opening one new file at once both end up on the migrated database (one of them
/// may find the file locked while the other puts it into WAL mode, about one time in fifty).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_opens_of_a_new_file() {
    for _ in 0..50 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("thingd.db");
        let (first, second) = tokio::join!(SqliteStore::open(&path), SqliteStore::open(&path));
        let (first, second) = (first.unwrap(), second.unwrap());
        first.insert_thing(&thing("x")).await.unwrap();
        assert_eq!(second.thing("x").await.unwrap(), Some(thing("x")));
        assert_eq!(mode(&path), 0o600);
    }
}

/// Each in-memory store is a database of its own.
#[tokio::test]
async fn memory_stores_are_separate() {
    let first = SqliteStore::memory().await.unwrap();
    let second = SqliteStore::memory().await.unwrap();
    first.insert_thing(&thing("x")).await.unwrap();
    assert_eq!(second.thing("x").await.unwrap(), None);
    assert_eq!(first.thing("x").await.unwrap(), Some(thing("x")));
    // Clones share the database.
    let clone = first.clone();
    drop(first);
    assert_eq!(clone.thing("x").await.unwrap(), Some(thing("x")));
}

fn assert_backend(result: Result<SqliteStore, StoreError>, what: &str) -> StoreError {
    match result {
        Err(error @ StoreError::Backend(_)) => {
            assert!(
                error.to_string().starts_with("storage backend error: "),
                "{what}: {error}"
            );
            error
        }
        Err(other) => panic!("{what}: not a backend error: {other:?}"),
        Ok(_) => panic!("{what}: opened"),
    }
}

/// Files SQLite cannot open or use are backend errors, not panics or success.
#[tokio::test]
async fn unusable_files_are_backend_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert_backend(
        SqliteStore::open(&dir.path().join("missing/dir/thingd.db")).await,
        "a missing directory",
    );
    assert!(!dir.path().join("missing").exists());

    assert_backend(SqliteStore::open(dir.path()).await, "a directory");

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, "this is not a database, just text\n".repeat(200)).unwrap();
    let error = assert_backend(SqliteStore::open(&garbage).await, "not a database");
    let StoreError::Backend(source) = &error else {
        unreachable!()
    };
    assert!(
        source.downcast_ref::<sqlx::Error>().is_some(),
        "the database's own error: {source:?}"
    );
    assert!(
        std::error::Error::source(&error).is_some(),
        "the cause is chained"
    );
    assert_eq!(
        std::fs::read_to_string(&garbage).unwrap(),
        "this is not a database, just text\n".repeat(200),
        "a file that is not a database is left alone"
    );
}

/// A row that does not decode is `Corrupt`, naming what is wrong.
#[tokio::test]
async fn undecodable_rows_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thingd.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let cert = certificate(1, 1_000);
    store.insert_certificate(&cert).await.unwrap();
    store.insert_thing(&thing("t")).await.unwrap();

    let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    sqlx::query("UPDATE certificates SET status = 'BOGUS'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE things SET version = 'not a number'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    match store.certificate(&cert.id).await {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("BOGUS"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.list_certificates(None, &all()).await,
        Err(StoreError::Corrupt(_))
    ));
    match store.thing("t").await {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("version"), "{message}"),
        other => panic!("{other:?}"),
    }
    // Other rows are still fine.
    assert_eq!(
        store
            .certificate(&crate::support::cert_id(2))
            .await
            .unwrap(),
        None
    );
}
