//! `SqliteDurable`, the SQLite backend of the broker's durability seam: it must hold exactly
//! what `MemoryBackend` (the reference semantics of `thingd_broker::store`) holds after the same
//! batches, keep it across a reopen, write large batches in chunks, stay usable after a failed
//! batch, and refuse a file of a newer schema.

#![allow(clippy::unwrap_used)]

use std::num::NonZeroU32;
use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use mqtt_codec::{QoS, RetainHandling, SubscriptionOptions};
use sqlx::{Connection, SqliteConnection};
use thingd_broker::store::{
    Batch, DeliveryStage, DurableBackend, MemoryBackend, PersistedSubscription, Snapshot,
    StoredDelivery, StoredMessage, StoredRetained, StoredSession, StoredWill,
};
use thingd_storage::SqliteDurable;

/// A snapshot in a canonical order: the backends may list rows in any order.
fn canonical(mut snapshot: Snapshot) -> Snapshot {
    snapshot
        .sessions
        .sort_by(|a, b| a.client_id.cmp(&b.client_id));
    snapshot.messages.sort_by_key(|m| m.id);
    snapshot.deliveries.sort_by_key(|d| (d.uid, d.seq));
    snapshot.retained.sort_by(|a, b| a.topic.cmp(&b.topic));
    snapshot
}

fn every_option() -> Vec<SubscriptionOptions> {
    let mut all = Vec::new();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for no_local in [false, true] {
            for retain_as_published in [false, true] {
                for retain_handling in [
                    RetainHandling::SendAtSubscribe,
                    RetainHandling::SendAtSubscribeIfNew,
                    RetainHandling::DoNotSend,
                ] {
                    all.push(SubscriptionOptions {
                        qos,
                        no_local,
                        retain_as_published,
                        retain_handling,
                    });
                }
            }
        }
    }
    all
}

fn session(client_id: &str, uid: u64, subscriptions: usize, will: bool) -> StoredSession {
    StoredSession {
        client_id: client_id.into(),
        uid,
        expiry_interval: u32::MAX - u32::try_from(uid % 7).unwrap(),
        online: uid.is_multiple_of(2),
        saved_at_ms: uid.wrapping_mul(31),
        subscriptions: every_option()
            .into_iter()
            .cycle()
            .take(subscriptions)
            .enumerate()
            .map(|(i, options)| PersistedSubscription {
                filter: format!("$share/gr\u{fc}ppe/capteurs/\u{1f321}/{i},\"'/+/#"),
                options,
                identifier: NonZeroU32::new(u32::try_from(i).unwrap() * 1000),
            })
            .collect(),
        will: will.then(|| StoredWill {
            packet: Bytes::from(vec![0x30, 2, 0, 0, uid.to_le_bytes()[0]]),
            due_at_ms: u64::MAX - uid,
            expires_at_ms: (!uid.is_multiple_of(3)).then_some(uid.wrapping_add(5)),
        }),
        // None, one, or several, up to the largest identifier.
        incoming_qos2: (0..uid % 3)
            .map(|i| u16::MAX - u16::try_from(i).unwrap())
            .collect(),
    }
}

fn message(id: u64) -> StoredMessage {
    StoredMessage {
        id,
        packet: Bytes::from(id.to_be_bytes().to_vec()),
        received_at_ms: id ^ 0xdead_beef,
        expires_at_ms: (id.is_multiple_of(2)).then_some(u64::MAX - id),
    }
}

fn delivery(uid: u64, seq: u64, message_id: u64) -> StoredDelivery {
    StoredDelivery {
        uid,
        seq,
        message_id,
        qos: 1 + u8::from(seq.is_multiple_of(2)),
        retain: seq.is_multiple_of(3),
        subscription_ids: (0..seq % 4)
            .map(|i| u32::try_from(i).unwrap() * 7 + 1)
            .collect(),
        packet_id: (seq.is_multiple_of(5)).then_some(u16::try_from(seq % 65_535).unwrap() + 1),
        stage: DeliveryStage::Queued,
    }
}

fn retained(topic: &str, n: u64) -> StoredRetained {
    StoredRetained {
        topic: topic.into(),
        packet: if n == 0 {
            Bytes::new()
        } else {
            Bytes::from(vec![n.to_le_bytes()[0]; 40])
        },
        received_at_ms: n,
        expires_at_ms: (n % 2 == 1).then_some(n * 1000),
    }
}

async fn open(dir: &Path) -> SqliteDurable {
    SqliteDurable::open(&dir.join("mqtt.db")).await.unwrap()
}

/// Batches that exercise every part and the order of [`Batch`]'s application.
fn scripted_batches() -> Vec<Batch> {
    let big = u64::MAX - 3;
    let mut batches = Vec::new();
    // 1: sessions (one with a will, one with every option and a non-ASCII filter, one with a
    // uid above i64::MAX), messages (one id above i64::MAX), deliveries, retained messages.
    batches.push(Batch {
        sessions_written: vec![
            session("a", 1, 0, true),
            session("b\u{e9}\u{1f980}", big, 36, false),
            session("c", 3, 2, true),
        ],
        messages_inserted: vec![message(1), message(2), message(big)],
        deliveries_inserted: vec![
            delivery(1, 1, 1),
            delivery(1, 2, 2),
            delivery(big, 1, big),
            delivery(big, u64::MAX, 2),
            delivery(3, 10, 1),
        ],
        retained_written: vec![
            retained("t/1", 1),
            retained("t/\u{e4}", 2),
            retained("empty", 0),
        ],
        ..Batch::default()
    });
    // 2: updates (one twice: the last wins; one of a delivery that does not exist), a delivery
    // deleted and rewritten in one batch, a message deleted and rewritten, a retained message
    // cleared and set again, another replaced.
    let mut rewritten = delivery(1, 2, 2);
    rewritten.stage = DeliveryStage::Released;
    rewritten.packet_id = Some(9);
    batches.push(Batch {
        messages_deleted: vec![2],
        messages_inserted: vec![StoredMessage {
            packet: Bytes::from_static(b"again"),
            ..message(2)
        }],
        deliveries_deleted: vec![(1, 2)],
        deliveries_inserted: vec![rewritten],
        deliveries_updated: vec![
            (1, 1, 7, DeliveryStage::Sent),
            (big, 1, 8, DeliveryStage::Sent),
            (big, 1, 8, DeliveryStage::Released),
            (42, 42, 1, DeliveryStage::Sent),
        ],
        retained_deleted: vec!["t/1".into(), "absent".into()],
        retained_written: vec![retained("t/1", 5), retained("t/\u{e4}", 6)],
        ..Batch::default()
    });
    // 3: a session replaced under its Client Identifier (the old uid's deliveries go, a new
    // one arrives in the same batch), a delete of a uid the row no longer has (the row stays,
    // the uid's deliveries still go), a will removed.
    batches.push(Batch {
        sessions_deleted: vec![("a".into(), 1), ("c".into(), 999), ("nobody".into(), 3)],
        sessions_written: vec![session("a", 11, 1, false), session("c", 3, 3, false)],
        deliveries_inserted: vec![delivery(11, 1, 1), delivery(3, 11, big)],
        ..Batch::default()
    });
    // 4: the same session written twice in one batch (the last wins), same for a retained
    // message and a message; a session deleted outright; everything of a uid above i64::MAX.
    batches.push(Batch {
        sessions_deleted: vec![("b\u{e9}\u{1f980}".into(), big)],
        sessions_written: vec![session("d", 20, 1, true), session("d", 21, 4, false)],
        messages_deleted: vec![big],
        messages_inserted: vec![
            message(30),
            StoredMessage {
                received_at_ms: 1,
                ..message(30)
            },
        ],
        deliveries_inserted: vec![delivery(21, 1, 30), delivery(21, 1, 1)],
        retained_written: vec![retained("x", 3), retained("x", 4)],
        ..Batch::default()
    });
    // 5: an empty batch.
    batches.push(Batch::default());
    batches
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random batches over small key spaces, so keys collide within and across batches.
fn random_batch(rng: &mut Rng) -> Batch {
    let mut batch = Batch::default();
    let uid = |rng: &mut Rng| {
        let u = rng.below(6);
        if u == 5 { u64::MAX - rng.below(2) } else { u }
    };
    let stages = [
        DeliveryStage::Queued,
        DeliveryStage::Sent,
        DeliveryStage::Released,
    ];
    for _ in 0..rng.below(3) {
        let client = format!("c{}", rng.below(4));
        batch.sessions_deleted.push((client, uid(rng)));
    }
    for _ in 0..rng.below(3) {
        let client = format!("c{}", rng.below(4));
        let s = session(
            &client,
            uid(rng),
            usize::try_from(rng.below(5)).unwrap(),
            rng.below(2) == 0,
        );
        batch.sessions_written.push(s);
    }
    for _ in 0..rng.below(5) {
        batch.messages_deleted.push(rng.below(20));
    }
    for _ in 0..rng.below(200) {
        batch.messages_inserted.push(message(rng.below(20)));
    }
    for _ in 0..rng.below(150) {
        batch.deliveries_deleted.push((uid(rng), rng.below(40)));
    }
    for _ in 0..rng.below(300) {
        let (u, seq, m) = (uid(rng), rng.below(40), rng.below(20));
        batch.deliveries_inserted.push(delivery(u, seq, m));
    }
    for _ in 0..rng.below(300) {
        let stage = stages[usize::try_from(rng.below(3)).unwrap()];
        let packet_id = u16::try_from(rng.below(65_535)).unwrap() + 1;
        batch
            .deliveries_updated
            .push((uid(rng), rng.below(40), packet_id, stage));
    }
    for _ in 0..rng.below(4) {
        batch.retained_deleted.push(format!("r/{}", rng.below(6)));
    }
    for _ in 0..rng.below(140) {
        let topic = format!("r/{}", rng.below(6));
        batch.retained_written.push(retained(&topic, rng.below(9)));
    }
    batch
}

#[tokio::test]
async fn durable_sqlite_holds_what_memory_holds() {
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = open(dir.path()).await;
    let mut memory = MemoryBackend::new();
    for (i, batch) in scripted_batches().iter().enumerate() {
        memory.commit(batch).await.unwrap();
        sqlite.commit(batch).await.unwrap();
        assert_eq!(
            canonical(sqlite.load().await.unwrap()),
            canonical(memory.load().await.unwrap()),
            "after scripted batch {i}"
        );
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..300 {
        let batch = random_batch(&mut rng);
        memory.commit(&batch).await.unwrap();
        sqlite.commit(&batch).await.unwrap();
        assert_eq!(
            canonical(sqlite.load().await.unwrap()),
            canonical(memory.load().await.unwrap()),
            "after random batch {i}"
        );
    }
    // The snapshot is not trivially empty.
    let loaded = sqlite.load().await.unwrap();
    assert!(!loaded.sessions.is_empty() && !loaded.deliveries.is_empty());
}

#[tokio::test]
async fn durable_data_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut memory = MemoryBackend::new();
    {
        let mut sqlite = open(dir.path()).await;
        for batch in scripted_batches() {
            memory.commit(&batch).await.unwrap();
            sqlite.commit(&batch).await.unwrap();
        }
    }
    let mut reopened = open(dir.path()).await;
    let expected = canonical(memory.load().await.unwrap());
    assert_eq!(canonical(reopened.load().await.unwrap()), expected);
    assert!(!expected.sessions.is_empty());
    // The file is the owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("mqtt.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn durable_large_batches_are_chunked() {
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = open(dir.path()).await;
    let messages: Vec<_> = (1..=5_000).map(message).collect();
    let deliveries: Vec<_> = (0..20_000u64)
        .map(|i| delivery(i % 7, i, i % 5_000 + 1))
        .collect();
    let batch = Batch {
        messages_inserted: messages.clone(),
        deliveries_inserted: deliveries.clone(),
        deliveries_updated: (0..20_000u64)
            .step_by(3)
            .map(|i| (i % 7, i, 1, DeliveryStage::Sent))
            .collect(),
        ..Batch::default()
    };
    let mut memory = MemoryBackend::new();
    memory.commit(&batch).await.unwrap();
    sqlite.commit(&batch).await.unwrap();
    let loaded = canonical(sqlite.load().await.unwrap());
    assert_eq!(loaded.messages.len(), 5_000);
    assert_eq!(loaded.deliveries.len(), 20_000);
    assert_eq!(loaded, canonical(memory.load().await.unwrap()));
    // Deleting them all, also in chunks (19,999 = not a multiple of any chunk size).
    let delete = Batch {
        messages_deleted: (1..=5_000).collect(),
        deliveries_deleted: deliveries.iter().skip(1).map(|d| (d.uid, d.seq)).collect(),
        ..Batch::default()
    };
    sqlite.commit(&delete).await.unwrap();
    let loaded = sqlite.load().await.unwrap();
    assert!(loaded.messages.is_empty());
    assert_eq!(loaded.deliveries.len(), 1);
}

#[tokio::test]
async fn durable_a_failed_batch_changes_nothing_and_the_next_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mqtt.db");
    let mut sqlite = SqliteDurable::open(&path).await.unwrap();
    let first = Batch {
        sessions_written: vec![session("a", 1, 1, false)],
        ..Batch::default()
    };
    sqlite.commit(&first).await.unwrap();
    // A trigger (through a connection of its own) makes one retained topic fail, after the
    // batch's sessions, messages and deliveries were written in its transaction.
    let mut raw = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TRIGGER fail_boom BEFORE INSERT ON mqtt_retained WHEN NEW.topic = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'boom refused'); END",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    let failing = Batch {
        sessions_deleted: vec![("a".into(), 1)],
        sessions_written: vec![session("b", 2, 0, true)],
        messages_inserted: vec![message(1)],
        deliveries_inserted: vec![delivery(2, 1, 1)],
        retained_written: vec![retained("ok", 1), retained("boom", 2)],
        ..Batch::default()
    };
    let error = sqlite.commit(&failing).await.unwrap_err();
    assert!(error.to_string().contains("boom refused"), "{error}");
    let after_failure = sqlite.load().await.unwrap();
    assert_eq!(after_failure.sessions, [session("a", 1, 1, false)]);
    assert!(after_failure.messages.is_empty());
    assert!(after_failure.deliveries.is_empty());
    assert!(after_failure.retained.is_empty());
    // The writer retries later: the same connection commits the next batch, durably (the
    // other connection sees it).
    let next = Batch {
        retained_written: vec![retained("ok", 1)],
        messages_inserted: vec![message(1)],
        ..Batch::default()
    };
    sqlite.commit(&next).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM mqtt_retained")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(count, 1);
    // Once the cause is gone, the failed batch commits on retry.
    sqlx::raw_sql("DROP TRIGGER fail_boom")
        .execute(&mut raw)
        .await
        .unwrap();
    sqlite.commit(&failing).await.unwrap();
    let loaded = sqlite.load().await.unwrap();
    assert_eq!(loaded.sessions, [session("b", 2, 0, true)]);
    assert_eq!(loaded.retained.len(), 2);
}

#[tokio::test]
async fn durable_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mqtt.db");
    drop(SqliteDurable::open(&path).await.unwrap());
    let mut raw = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql("PRAGMA user_version = 2")
        .execute(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();
    let error = SqliteDurable::open(&path).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("schema version 2"), "{message}");
    // The file is left as it was.
    assert_eq!(user_version(&path).await.0, 2);
}

/// The file's `user_version`, and the connection that read it.
async fn user_version(path: &std::path::Path) -> (i64, SqliteConnection) {
    let mut raw = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    (version, raw)
}

#[tokio::test]
async fn durable_a_new_file_records_schema_version_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mqtt.db");
    drop(SqliteDurable::open(&path).await.unwrap());
    // Opening again (schema present) is fine.
    drop(SqliteDurable::open(&path).await.unwrap());
    let (version, mut raw) = user_version(&path).await;
    assert_eq!(version, 1);
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
}

/// Commit throughput of the QoS 1 pattern: a batch inserting 256 messages with one delivery
/// each (and marking them sent), then a batch deleting them. Prints the rate; asserts nothing
/// about time. `cargo test -p thingd-storage --release --test durable -- --ignored --nocapture`
#[tokio::test]
#[ignore = "a measurement, not a test"]
async fn durable_commit_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = open(dir.path()).await;
    let rounds = 200u64;
    let per_batch = 256u64;
    let started = Instant::now();
    for round in 0..rounds {
        let ids: Vec<u64> = (round * per_batch..(round + 1) * per_batch).collect();
        let insert = Batch {
            messages_inserted: ids.iter().map(|&id| message(id)).collect(),
            deliveries_inserted: ids.iter().map(|&id| delivery(id % 64, id, id)).collect(),
            deliveries_updated: ids
                .iter()
                .map(|&id| (id % 64, id, 1, DeliveryStage::Sent))
                .collect(),
            ..Batch::default()
        };
        sqlite.commit(&insert).await.unwrap();
        let delete = Batch {
            messages_deleted: ids.clone(),
            deliveries_deleted: ids.iter().map(|&id| (id % 64, id)).collect(),
            ..Batch::default()
        };
        sqlite.commit(&delete).await.unwrap();
    }
    let elapsed = started.elapsed();
    let deliveries = rounds * per_batch;
    println!(
        "{} batches of {per_batch} deliveries inserted + {rounds} deleting them in {elapsed:?}: \
         {:.0} deliveries/s, {:.2} ms per batch",
        rounds,
        deliveries as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / (2 * rounds) as f64
    );
    assert!(sqlite.load().await.unwrap().deliveries.is_empty());
}
