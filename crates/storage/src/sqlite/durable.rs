//! The broker's durable rows in SQLite: [`SqliteDurable`], the [`DurableBackend`] that keeps
//! persistent MQTT sessions, their queued and inflight QoS 1/2 deliveries and retained messages.
//!
//! The rows live in a file of their own (`mqtt.db` next to the registry's `thingd.db`), on one
//! dedicated connection, so the broker's group commits never wait for a registry write and the
//! other way round. One [`Batch`] is one `BEGIN IMMEDIATE` ... `COMMIT`, with `synchronous =
//! FULL`: when [`DurableBackend::commit`] returns, the batch survives a power loss.
//!
//! `commit` is the hot path of durable QoS 1 (every delivery is inserted, updated when sent and
//! deleted when acknowledged), so each part of a batch is written with multi-row statements of
//! at most [`MAX_CHUNK`] rows. sqlx prepares and caches a statement per SQL text and
//! connection; to keep the set of texts small (and every one of them cached), a part is cut
//! into chunks of [`MAX_CHUNK`] rows and a tail of power-of-two chunks, so each statement kind
//! has only `log2(MAX_CHUNK) + 1` texts, all built once at open.
//!
//! # Encoding
//!
//! - `u64` values (uids, sequence numbers, message ids, millisecond timestamps) are stored as
//!   the `i64` with the same bits (`cast_signed`), so values above `i64::MAX` read back
//!   exactly; only SQL ordering of such values differs from their numeric order (the broker
//!   sorts deliveries itself, [`thingd_broker::store::Snapshot::deliveries`]).
//! - A session's subscriptions are one BLOB: per subscription, the MQTT 5 Subscription Options
//!   byte (§3.8.3.1: QoS in bits 0-1, No Local bit 2, Retain As Published bit 3, Retain
//!   Handling bits 4-5), the Subscription Identifier as 4 big-endian bytes (0: none; §3.8.2.1.2
//!   forbids 0 as an identifier), the filter's length as 4 big-endian bytes and its UTF-8 bytes.
//!   Binary, so any filter round-trips without escaping.
//! - A delivery's Subscription Identifiers are decimal numbers separated by commas (empty: none).
//!
//! The schema version is `PRAGMA user_version` ([`SCHEMA_VERSION`]); a file written by a newer
//! thingd is refused rather than misread.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use mqtt_codec::{QoS, RetainHandling, SubscriptionOptions};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row, SqlSafeStr, SqlStr, Sqlite};
use thingd_broker::store::{
    BackendError, Batch, DeliveryStage, DurableBackend, PersistedSubscription, Snapshot,
    StoredDelivery, StoredMessage, StoredRetained, StoredSession, StoredWill,
};
use thingd_registry::StoreError;

use super::{backend, create_private_file};

/// The schema version this code writes and understands, kept in `PRAGMA user_version`.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// The most rows one multi-row statement carries. The widest row (a session) binds 9 values,
/// so a statement binds at most 1,152: far below SQLite's limit of 32,766 variables.
const MAX_CHUNK: usize = 128;

/// The number of SQL texts per statement kind: chunks of 1, 2, 4, ... [`MAX_CHUNK`] rows.
const CHUNK_SIZES: usize = MAX_CHUNK.ilog2() as usize + 1;

/// The schema, created when absent. `mqtt_deliveries` is `WITHOUT ROWID`: its primary key is
/// the only way it is read, and deleting a session's deliveries is a range of that key.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS mqtt_sessions (
        client_id TEXT PRIMARY KEY,
        uid INTEGER NOT NULL,
        expiry_interval INTEGER NOT NULL,
        online INTEGER NOT NULL,
        saved_at_ms INTEGER NOT NULL,
        subscriptions BLOB NOT NULL,
        will_packet BLOB,
        will_due_at_ms INTEGER,
        will_expires_at_ms INTEGER,
        incoming_qos2 TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS mqtt_messages (
        id INTEGER PRIMARY KEY,
        packet BLOB NOT NULL,
        received_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER
    )",
    "CREATE TABLE IF NOT EXISTS mqtt_deliveries (
        uid INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        qos INTEGER NOT NULL,
        retain INTEGER NOT NULL,
        subscription_ids TEXT NOT NULL,
        packet_id INTEGER,
        stage INTEGER NOT NULL,
        PRIMARY KEY (uid, seq)
    ) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS mqtt_retained (
        topic TEXT PRIMARY KEY,
        packet BLOB NOT NULL,
        received_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER
    )",
];

/// A statement bound to its values.
type Statement = sqlx::query::Query<'static, Sqlite, SqliteArguments>;

/// A multi-row statement: `head`, then `row` repeated (comma-separated), then `tail`.
struct Shape {
    head: &'static str,
    row: &'static str,
    tail: &'static str,
}

/// The statement kinds of a commit, in the order [`Batch`] applies them.
#[derive(Clone, Copy)]
enum Kind {
    /// `sessions_deleted`: the rows still holding the uid.
    SessionsDelete,
    /// `sessions_deleted`: every delivery of the uid.
    SessionDeliveriesDelete,
    SessionsWrite,
    MessagesDelete,
    MessagesInsert,
    DeliveriesDelete,
    DeliveriesInsert,
    DeliveriesUpdate,
    RetainedDelete,
    RetainedWrite,
}

/// The shape of each [`Kind`], indexed by `Kind as usize`.
///
/// Inserts are upserts: a [`Batch`] replaces a row of the same key (also one written earlier
/// in the same statement: SQLite applies a multi-row INSERT's rows in order, so the last wins,
/// as in `MemoryBackend`). Each listed row is found by its key: `(a, b) IN (SELECT column1,
/// column2 FROM (VALUES ...))` searches the primary key for each pair, where the shorter
/// `(a, b) IN (VALUES ...)` scans the whole table in some SQLite versions (3.40 does; the
/// bundled 3.51 does not), checked by the test `every_statement_finds_its_rows_by_key`; `UPDATE ... FROM (VALUES ...)` (SQLite 3.33)
/// scans the values and searches the key.
const SHAPES: [Shape; 10] = [
    Shape {
        head: "DELETE FROM mqtt_sessions WHERE (client_id, uid) IN \
               (SELECT column1, column2 FROM (VALUES ",
        row: "(?, ?)",
        tail: "))",
    },
    Shape {
        head: "DELETE FROM mqtt_deliveries WHERE uid IN (",
        row: "?",
        tail: ")",
    },
    Shape {
        head: "INSERT INTO mqtt_sessions (client_id, uid, expiry_interval, online, saved_at_ms, \
               subscriptions, will_packet, will_due_at_ms, will_expires_at_ms, incoming_qos2) \
               VALUES ",
        row: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        tail: " ON CONFLICT (client_id) DO UPDATE SET uid = excluded.uid, \
               expiry_interval = excluded.expiry_interval, online = excluded.online, \
               saved_at_ms = excluded.saved_at_ms, subscriptions = excluded.subscriptions, \
               will_packet = excluded.will_packet, will_due_at_ms = excluded.will_due_at_ms, \
               will_expires_at_ms = excluded.will_expires_at_ms, \
               incoming_qos2 = excluded.incoming_qos2",
    },
    Shape {
        head: "DELETE FROM mqtt_messages WHERE id IN (",
        row: "?",
        tail: ")",
    },
    Shape {
        head: "INSERT INTO mqtt_messages (id, packet, received_at_ms, expires_at_ms) VALUES ",
        row: "(?, ?, ?, ?)",
        tail: " ON CONFLICT (id) DO UPDATE SET packet = excluded.packet, \
               received_at_ms = excluded.received_at_ms, expires_at_ms = excluded.expires_at_ms",
    },
    Shape {
        head: "DELETE FROM mqtt_deliveries WHERE (uid, seq) IN \
               (SELECT column1, column2 FROM (VALUES ",
        row: "(?, ?)",
        tail: "))",
    },
    Shape {
        head: "INSERT INTO mqtt_deliveries (uid, seq, message_id, qos, retain, subscription_ids, \
               packet_id, stage) VALUES ",
        row: "(?, ?, ?, ?, ?, ?, ?, ?)",
        tail: " ON CONFLICT (uid, seq) DO UPDATE SET message_id = excluded.message_id, \
               qos = excluded.qos, retain = excluded.retain, \
               subscription_ids = excluded.subscription_ids, packet_id = excluded.packet_id, \
               stage = excluded.stage",
    },
    Shape {
        head: "UPDATE mqtt_deliveries SET packet_id = v.column3, stage = v.column4 FROM (VALUES ",
        row: "(?, ?, ?, ?)",
        tail: ") AS v WHERE mqtt_deliveries.uid = v.column1 AND mqtt_deliveries.seq = v.column2",
    },
    Shape {
        head: "DELETE FROM mqtt_retained WHERE topic IN (",
        row: "?",
        tail: ")",
    },
    Shape {
        head: "INSERT INTO mqtt_retained (topic, packet, received_at_ms, expires_at_ms) VALUES ",
        row: "(?, ?, ?, ?)",
        tail: " ON CONFLICT (topic) DO UPDATE SET packet = excluded.packet, \
               received_at_ms = excluded.received_at_ms, expires_at_ms = excluded.expires_at_ms",
    },
];

/// The SQL texts of every [`Kind`] and chunk size, built once: `[kind][log2(rows)]`.
struct Texts(Vec<[SqlStr; CHUNK_SIZES]>);

impl Texts {
    fn new() -> Texts {
        Texts(
            SHAPES
                .iter()
                .map(|shape| {
                    std::array::from_fn(|log| {
                        let rows = vec![shape.row; 1 << log].join(", ");
                        let text: Arc<str> = format!("{}{rows}{}", shape.head, shape.tail).into();
                        AssertSqlSafe(text).into_sql_str()
                    })
                })
                .collect(),
        )
    }

    /// The text of `kind` for a chunk of `rows` rows (a power of two up to [`MAX_CHUNK`]).
    fn get(&self, kind: Kind, rows: usize) -> SqlStr {
        self.0[kind as usize][rows.ilog2() as usize].clone()
    }
}

/// The schema of a file is newer than this code.
#[derive(Debug, thiserror::Error)]
#[error(
    "the MQTT database has schema version {found}, newer than the version this thingd \
     understands ({SCHEMA_VERSION}): run a newer thingd, or move the file away to start empty"
)]
pub struct NewerSchema {
    /// The version found in the file.
    pub found: i64,
}

/// When a commit of the broker's store is durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DurableSync {
    /// On disk (fsync of the write-ahead log at every commit): a committed batch survives a
    /// power loss or an operating-system crash, not only a crash of thingd.
    #[default]
    Full,
    /// In the operating system (the write-ahead log is written at every commit and synced
    /// only at checkpoints): a committed batch survives thingd being killed (`kill -9`, a
    /// crash) but not a power loss. Commits cost a write instead of an fsync.
    Normal,
}

/// The broker's durable rows in one SQLite file, on one dedicated connection.
pub struct SqliteDurable {
    conn: SqliteConnection,
    /// How to reconnect when a failed transaction cannot even be rolled back.
    options: SqliteConnectOptions,
    texts: Texts,
}

impl std::fmt::Debug for SqliteDurable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDurable")
            .field("filename", &self.options.get_filename())
            .finish_non_exhaustive()
    }
}

impl SqliteDurable {
    /// Opens (creating if needed, with mode 0600: retained messages and wills are the
    /// devices' data) the database at `path`, in WAL mode with `synchronous = FULL`, and
    /// creates the schema if absent.
    ///
    /// `path` should be a file of its own (`mqtt.db`), not the registry's. A file whose
    /// schema version is newer than this code's (1) is refused ([`NewerSchema`]).
    pub async fn open(path: &Path) -> Result<SqliteDurable, StoreError> {
        Self::open_with(path, DurableSync::Full).await
    }

    /// [`SqliteDurable::open`] with the durability of commits `sync` (`synchronous = FULL` or
    /// `NORMAL`).
    pub async fn open_with(path: &Path, sync: DurableSync) -> Result<SqliteDurable, StoreError> {
        if !path.exists() {
            create_private_file(path)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed batch survives a power loss, not only a crash of thingd; the
            // broker acknowledges QoS 1/2 messages only once their batch is committed. NORMAL
            // (chosen by the operator) survives a crash of thingd only.
            .synchronous(match sync {
                DurableSync::Full => SqliteSynchronous::Full,
                DurableSync::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(10))
            // Room for every multi-row text (10 kinds x 8 sizes) and the few others.
            .statement_cache_capacity(256);
        let mut conn = options.connect().await.map_err(backend)?;
        create_schema(&mut conn).await?;
        Ok(SqliteDurable {
            conn,
            options,
            texts: Texts::new(),
        })
    }

    /// Applies `batch` in the open transaction on `conn`, in the order [`Batch`] documents.
    async fn apply(
        conn: &mut SqliteConnection,
        texts: &Texts,
        batch: &Batch,
    ) -> Result<(), sqlx::Error> {
        write_rows(
            conn,
            texts,
            Kind::SessionsDelete,
            &batch.sessions_deleted,
            |q, (client_id, uid)| q.bind(client_id.clone()).bind(uid.cast_signed()),
        )
        .await?;
        write_rows(
            conn,
            texts,
            Kind::SessionDeliveriesDelete,
            &batch.sessions_deleted,
            |q, (_, uid)| q.bind(uid.cast_signed()),
        )
        .await?;
        write_rows(
            conn,
            texts,
            Kind::SessionsWrite,
            &batch.sessions_written,
            |q, session| {
                let will = session.will.as_ref();
                q.bind(session.client_id.clone())
                    .bind(session.uid.cast_signed())
                    .bind(i64::from(session.expiry_interval))
                    .bind(session.online)
                    .bind(session.saved_at_ms.cast_signed())
                    .bind(encode_subscriptions(&session.subscriptions))
                    .bind(will.map(|w| w.packet.to_vec()))
                    .bind(will.map(|w| w.due_at_ms.cast_signed()))
                    .bind(will.and_then(|w| w.expires_at_ms).map(u64::cast_signed))
                    .bind(encode_ids(&session.incoming_qos2))
            },
        )
        .await?;
        write_rows(
            conn,
            texts,
            Kind::MessagesDelete,
            &batch.messages_deleted,
            |q, id| q.bind(id.cast_signed()),
        )
        .await?;
        write_rows(
            conn,
            texts,
            Kind::MessagesInsert,
            &batch.messages_inserted,
            |q, message| {
                q.bind(message.id.cast_signed())
                    .bind(message.packet.to_vec())
                    .bind(message.received_at_ms.cast_signed())
                    .bind(message.expires_at_ms.map(u64::cast_signed))
            },
        )
        .await?;
        write_rows(
            conn,
            texts,
            Kind::DeliveriesDelete,
            &batch.deliveries_deleted,
            |q, (uid, seq)| q.bind(uid.cast_signed()).bind(seq.cast_signed()),
        )
        .await?;
        write_rows(
            conn,
            texts,
            Kind::DeliveriesInsert,
            &batch.deliveries_inserted,
            |q, delivery| {
                q.bind(delivery.uid.cast_signed())
                    .bind(delivery.seq.cast_signed())
                    .bind(delivery.message_id.cast_signed())
                    .bind(i64::from(delivery.qos))
                    .bind(delivery.retain)
                    .bind(encode_ids(&delivery.subscription_ids))
                    .bind(delivery.packet_id.map(i64::from))
                    .bind(delivery.stage.as_i64())
            },
        )
        .await?;
        let updates = last_update_per_delivery(&batch.deliveries_updated);
        write_rows(
            conn,
            texts,
            Kind::DeliveriesUpdate,
            &updates,
            |q, (uid, seq, packet_id, stage)| {
                q.bind(uid.cast_signed())
                    .bind(seq.cast_signed())
                    .bind(i64::from(*packet_id))
                    .bind(stage.as_i64())
            },
        )
        .await?;
        write_rows(
            conn,
            texts,
            Kind::RetainedDelete,
            &batch.retained_deleted,
            |q, topic| q.bind(topic.clone()),
        )
        .await?;
        write_rows(
            conn,
            texts,
            Kind::RetainedWrite,
            &batch.retained_written,
            |q, retained| {
                q.bind(retained.topic.clone())
                    .bind(retained.packet.to_vec())
                    .bind(retained.received_at_ms.cast_signed())
                    .bind(retained.expires_at_ms.map(u64::cast_signed))
            },
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl DurableBackend for SqliteDurable {
    async fn load(&mut self) -> Result<Snapshot, BackendError> {
        // One read transaction: the four tables from one snapshot of the file.
        let mut tx = self.conn.begin().await?;
        let sessions = sqlx::query(
            "SELECT client_id, uid, expiry_interval, online, saved_at_ms, subscriptions, \
             will_packet, will_due_at_ms, will_expires_at_ms, incoming_qos2 FROM mqtt_sessions \
             ORDER BY client_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let messages = sqlx::query(
            "SELECT id, packet, received_at_ms, expires_at_ms FROM mqtt_messages ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let deliveries = sqlx::query(
            "SELECT uid, seq, message_id, qos, retain, subscription_ids, packet_id, stage \
             FROM mqtt_deliveries ORDER BY uid, seq",
        )
        .fetch_all(&mut *tx)
        .await?;
        let retained = sqlx::query(
            "SELECT topic, packet, received_at_ms, expires_at_ms FROM mqtt_retained ORDER BY topic",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Snapshot {
            sessions: decode_all(&sessions, "mqtt_sessions", decode_session),
            messages: decode_all(&messages, "mqtt_messages", decode_message),
            deliveries: decode_all(&deliveries, "mqtt_deliveries", decode_delivery),
            retained: decode_all(&retained, "mqtt_retained", decode_retained),
        })
    }

    async fn commit(&mut self, batch: &Batch) -> Result<(), BackendError> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.conn.is_in_transaction() {
            // A failed batch left a transaction that could not be cleaned up: a BEGIN now
            // would only open a SAVEPOINT in it, and its "commit" would not be durable.
            self.recover().await;
            if self.conn.is_in_transaction() {
                return Err("the MQTT database connection is still in a failed transaction".into());
            }
        }
        let applied = {
            // IMMEDIATE: take the write lock at BEGIN, so the batch cannot fail half-way on a
            // lock.
            let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await?;
            match Self::apply(&mut tx, &self.texts, batch).await {
                Ok(()) => tx.commit().await,
                // Dropping the transaction (here) queues its ROLLBACK on the connection.
                Err(error) => Err(error),
            }
        };
        if let Err(error) = applied {
            self.recover().await;
            return Err(error.into());
        }
        Ok(())
    }
}

impl SqliteDurable {
    /// Makes the connection usable again after a failed batch, for the writer's retry.
    ///
    /// A `Transaction` dropped open (a failed statement, or a failed COMMIT, which leaves it
    /// open) queues a ROLLBACK; `ping` waits until the connection has run it. When the
    /// ROLLBACK itself failed (SQLite may have rolled back on its own, after an I/O error or a
    /// full disk), sqlx still counts a transaction open and would turn the next BEGIN into a
    /// SAVEPOINT: then, and when the connection is gone, open a new one.
    async fn recover(&mut self) {
        let clean = self.conn.ping().await.is_ok() && !self.conn.is_in_transaction();
        if clean {
            return;
        }
        tracing::warn!(
            message = "Rolling back a failed MQTT durability batch failed; reconnecting."
        );
        match self.options.connect().await {
            Ok(conn) => {
                let old = std::mem::replace(&mut self.conn, conn);
                // Closing rolls back whatever the old connection still holds.
                if let Err(error) = old.close().await {
                    tracing::debug!(message = "Closing the failed MQTT connection failed.", %error);
                }
            }
            Err(error) => tracing::warn!(
                message = "Reconnecting to the MQTT database failed; the next batch retries.",
                %error
            ),
        }
    }
}

/// Creates the schema if absent, or checks a file's version.
async fn create_schema(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Backend(Box::new(NewerSchema {
            found: version,
        })));
    }
    for statement in SCHEMA {
        sqlx::raw_sql(AssertSqlSafe(*statement))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    if version < SCHEMA_VERSION {
        // PRAGMA takes no bound parameters; the value is this file's constant.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "PRAGMA user_version = {SCHEMA_VERSION}"
        )))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}

/// Writes `rows` with the statements of `kind`: chunks of [`MAX_CHUNK`] rows, then the tail in
/// power-of-two chunks (so a part of 300 rows takes 128 + 128 + 32 + 8 + 4). Nothing for no
/// rows.
async fn write_rows<T: Sync>(
    conn: &mut SqliteConnection,
    texts: &Texts,
    kind: Kind,
    rows: &[T],
    bind: impl Fn(Statement, &T) -> Statement + Sync,
) -> Result<(), sqlx::Error> {
    let mut rest = rows;
    while !rest.is_empty() {
        let size = if rest.len() >= MAX_CHUNK {
            MAX_CHUNK
        } else {
            1 << rest.len().ilog2()
        };
        let (chunk, tail) = rest.split_at(size);
        let mut statement = sqlx::query(texts.get(kind, size));
        for row in chunk {
            statement = bind(statement, row);
        }
        statement.execute(&mut *conn).await?;
        rest = tail;
    }
    Ok(())
}

/// The updates of a batch with only the last of each delivery kept: in one `UPDATE ... FROM`,
/// which of two source rows for one target applies is unspecified, while [`Batch`] applies
/// them in order (the last wins). Keeps the remaining updates in their order.
fn last_update_per_delivery(
    updates: &[(u64, u64, u16, DeliveryStage)],
) -> Vec<(u64, u64, u16, DeliveryStage)> {
    let mut seen = HashSet::with_capacity(updates.len());
    let mut kept: Vec<_> = updates
        .iter()
        .rev()
        .filter(|(uid, seq, _, _)| seen.insert((*uid, *seq)))
        .copied()
        .collect();
    kept.reverse();
    kept
}

/// Decodes every row with `decode`; a row that does not decode is logged and skipped, so one
/// damaged row does not keep the broker from starting with the rest.
fn decode_all<T>(
    rows: &[SqliteRow],
    table: &'static str,
    decode: impl Fn(&SqliteRow) -> Result<T, String>,
) -> Vec<T> {
    rows.iter()
        .filter_map(|row| match decode(row) {
            Ok(item) => Some(item),
            Err(error) => {
                tracing::warn!(message = "Skipping an MQTT durable row that does not decode.", table, %error);
                None
            }
        })
        .collect()
}

/// A column's value, or the error naming it.
fn column<'r, T>(row: &'r SqliteRow, name: &str) -> Result<T, String>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(name).map_err(|e| format!("column {name}: {e}"))
}

/// A `u64` column (stored as the `i64` with the same bits).
fn column_u64(row: &SqliteRow, name: &str) -> Result<u64, String> {
    column::<i64>(row, name).map(i64::cast_unsigned)
}

/// A nullable `u64` column.
fn column_opt_u64(row: &SqliteRow, name: &str) -> Result<Option<u64>, String> {
    column::<Option<i64>>(row, name).map(|v| v.map(i64::cast_unsigned))
}

/// An integer column that must fit `T`.
fn column_int<T: TryFrom<i64>>(row: &SqliteRow, name: &str) -> Result<T, String> {
    let value: i64 = column(row, name)?;
    T::try_from(value).map_err(|_| format!("column {name}: {value} is out of range"))
}

fn decode_session(row: &SqliteRow) -> Result<StoredSession, String> {
    let will_packet: Option<Vec<u8>> = column(row, "will_packet")?;
    let will = match will_packet {
        Some(packet) => Some(StoredWill {
            packet: Bytes::from(packet),
            due_at_ms: column_opt_u64(row, "will_due_at_ms")?
                .ok_or("a will without will_due_at_ms")?,
            expires_at_ms: column_opt_u64(row, "will_expires_at_ms")?,
        }),
        None => None,
    };
    let subscriptions: Vec<u8> = column(row, "subscriptions")?;
    Ok(StoredSession {
        client_id: column(row, "client_id")?,
        uid: column_u64(row, "uid")?,
        expiry_interval: column_int(row, "expiry_interval")?,
        online: column::<i64>(row, "online")? != 0,
        saved_at_ms: column_u64(row, "saved_at_ms")?,
        subscriptions: decode_subscriptions(&subscriptions)?,
        will,
        incoming_qos2: decode_ids(&column::<String>(row, "incoming_qos2")?)?,
    })
}

fn decode_message(row: &SqliteRow) -> Result<StoredMessage, String> {
    Ok(StoredMessage {
        id: column_u64(row, "id")?,
        packet: Bytes::from(column::<Vec<u8>>(row, "packet")?),
        received_at_ms: column_u64(row, "received_at_ms")?,
        expires_at_ms: column_opt_u64(row, "expires_at_ms")?,
    })
}

fn decode_delivery(row: &SqliteRow) -> Result<StoredDelivery, String> {
    let stage: i64 = column(row, "stage")?;
    let packet_id = column::<Option<i64>>(row, "packet_id")?
        .map(|id| u16::try_from(id).map_err(|_| format!("packet_id {id} is out of range")))
        .transpose()?;
    let ids: String = column(row, "subscription_ids")?;
    Ok(StoredDelivery {
        uid: column_u64(row, "uid")?,
        seq: column_u64(row, "seq")?,
        message_id: column_u64(row, "message_id")?,
        qos: column_int(row, "qos")?,
        retain: column::<i64>(row, "retain")? != 0,
        subscription_ids: decode_ids(&ids)?,
        packet_id,
        stage: DeliveryStage::from_i64(stage).ok_or(format!("unknown stage {stage}"))?,
    })
}

fn decode_retained(row: &SqliteRow) -> Result<StoredRetained, String> {
    Ok(StoredRetained {
        topic: column(row, "topic")?,
        packet: Bytes::from(column::<Vec<u8>>(row, "packet")?),
        received_at_ms: column_u64(row, "received_at_ms")?,
        expires_at_ms: column_opt_u64(row, "expires_at_ms")?,
    })
}

/// The MQTT 5 Subscription Options byte (§3.8.3.1).
fn options_byte(options: &SubscriptionOptions) -> u8 {
    let retain_handling = match options.retain_handling {
        RetainHandling::SendAtSubscribe => 0,
        RetainHandling::SendAtSubscribeIfNew => 1,
        RetainHandling::DoNotSend => 2,
    };
    options.qos as u8
        | u8::from(options.no_local) << 2
        | u8::from(options.retain_as_published) << 3
        | retain_handling << 4
}

/// The options of a Subscription Options byte; reserved bits set, QoS 3 or Retain Handling 3
/// are errors (§3.8.3.1), as no version wrote them.
fn options_from_byte(byte: u8) -> Result<SubscriptionOptions, String> {
    if byte & 0xc0 != 0 {
        return Err(format!(
            "subscription options {byte:#04x} set reserved bits"
        ));
    }
    let qos = QoS::from_u8(byte & 0x03).map_err(|_| format!("subscription QoS in {byte:#04x}"))?;
    let retain_handling = match (byte >> 4) & 0x03 {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendAtSubscribeIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return Err(format!("retain handling 3 in {byte:#04x}")),
    };
    Ok(SubscriptionOptions {
        qos,
        no_local: byte & 0x04 != 0,
        retain_as_published: byte & 0x08 != 0,
        retain_handling,
    })
}

/// A session's subscriptions as one BLOB (see the module's documentation).
fn encode_subscriptions(subscriptions: &[PersistedSubscription]) -> Vec<u8> {
    let size = subscriptions.iter().map(|s| 9 + s.filter.len()).sum();
    let mut out = Vec::with_capacity(size);
    for subscription in subscriptions {
        out.push(options_byte(&subscription.options));
        out.extend_from_slice(
            &subscription
                .identifier
                .map_or(0, NonZeroU32::get)
                .to_be_bytes(),
        );
        // A filter is at most 65,535 bytes on the wire (§1.5.4); a u32 length never overflows
        // for any String the broker holds, and saturating keeps the encoder total.
        let len = u32::try_from(subscription.filter.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(subscription.filter.as_bytes());
    }
    out
}

/// Reads [`encode_subscriptions`]' BLOB.
fn decode_subscriptions(mut bytes: &[u8]) -> Result<Vec<PersistedSubscription>, String> {
    fn take<'b>(bytes: &mut &'b [u8], n: usize) -> Result<&'b [u8], String> {
        if bytes.len() < n {
            return Err("truncated subscriptions".to_owned());
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Ok(head)
    }
    fn take_u32(bytes: &mut &[u8]) -> Result<u32, String> {
        let head = take(bytes, 4)?;
        let array: [u8; 4] = head
            .try_into()
            .map_err(|_| "truncated subscriptions".to_owned())?;
        Ok(u32::from_be_bytes(array))
    }
    let mut subscriptions = Vec::new();
    while !bytes.is_empty() {
        let options = options_from_byte(take(&mut bytes, 1)?[0])?;
        let identifier = NonZeroU32::new(take_u32(&mut bytes)?);
        let len = usize::try_from(take_u32(&mut bytes)?)
            .map_err(|_| "subscription filter too long".to_owned())?;
        let filter = std::str::from_utf8(take(&mut bytes, len)?)
            .map_err(|e| format!("subscription filter: {e}"))?;
        subscriptions.push(PersistedSubscription {
            filter: filter.to_owned(),
            options,
            identifier,
        });
    }
    Ok(subscriptions)
}

/// Identifiers (Subscription Identifiers, Packet Identifiers) as comma-separated decimals.
fn encode_ids<T: std::fmt::Display>(ids: &[T]) -> String {
    let mut out = String::new();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out
}

/// Reads [`encode_ids`]' text.
fn decode_ids<T: std::str::FromStr>(text: &str) -> Result<Vec<T>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|id| id.parse().map_err(|_| format!("identifier {id:?}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_round_trip_every_option_and_any_filter() {
        let mut subscriptions = Vec::new();
        for byte in 0..=0xffu8 {
            if let Ok(options) = options_from_byte(byte) {
                assert_eq!(options_byte(&options), byte);
                subscriptions.push(PersistedSubscription {
                    filter: format!("a/\u{e4}/\u{1f980}/{byte},\"'\0/+/#"),
                    options,
                    identifier: NonZeroU32::new(u32::from(byte) * 0x0101_0101),
                });
            }
        }
        // 3 QoS x 2 x 2 x 3 retain handlings.
        assert_eq!(subscriptions.len(), 36);
        subscriptions.push(PersistedSubscription {
            filter: String::new(),
            options: SubscriptionOptions::default(),
            identifier: None,
        });
        let encoded = encode_subscriptions(&subscriptions);
        assert_eq!(decode_subscriptions(&encoded).unwrap(), subscriptions);
        assert!(decode_subscriptions(&encoded[..encoded.len() - 1]).is_err());
        assert_eq!(decode_subscriptions(&[]).unwrap(), []);
    }

    #[test]
    fn subscription_ids_round_trip() {
        for ids in [vec![], vec![1u32], vec![1, u32::MAX, 268_435_455]] {
            assert_eq!(decode_ids::<u32>(&encode_ids(&ids)).unwrap(), ids);
        }
        assert!(decode_ids::<u32>("1,,2").is_err());
    }

    /// No statement of a commit scans a table: each finds its rows by their key, so a
    /// commit's cost does not grow with the rows stored.
    #[tokio::test]
    async fn every_statement_finds_its_rows_by_key() {
        let mut conn = SqliteConnectOptions::new()
            .in_memory(true)
            .connect()
            .await
            .unwrap();
        create_schema(&mut conn).await.unwrap();
        let texts = Texts::new();
        for (kind, shape) in SHAPES.iter().enumerate() {
            for log in [0, 1, CHUNK_SIZES - 1] {
                let text = texts.0[kind][log].as_str();
                let plan = format!("EXPLAIN QUERY PLAN {text}");
                let mut query = sqlx::query(AssertSqlSafe(plan));
                for _ in 0..shape.row.matches('?').count() << log {
                    query = query.bind(1_i64);
                }
                let rows = query.fetch_all(&mut conn).await.unwrap();
                let details: Vec<String> = rows.iter().map(|row| row.get("detail")).collect();
                assert!(
                    !details.iter().any(|d| d.starts_with("SCAN mqtt_")),
                    "{text}: {details:?}"
                );
                if !shape.head.starts_with("INSERT") {
                    assert!(
                        details.iter().any(|d| d.starts_with("SEARCH mqtt_")),
                        "{text}: {details:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_last_update_of_a_delivery_wins() {
        let updates = [
            (1, 1, 5, DeliveryStage::Sent),
            (1, 2, 6, DeliveryStage::Sent),
            (1, 1, 5, DeliveryStage::Released),
        ];
        assert_eq!(
            last_update_per_delivery(&updates),
            [
                (1, 2, 6, DeliveryStage::Sent),
                (1, 1, 5, DeliveryStage::Released)
            ]
        );
    }
}
