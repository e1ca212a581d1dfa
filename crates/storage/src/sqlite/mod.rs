//! The SQLite store: opening the file (owner-only, WAL, synchronous FULL), applying migrations,
//! and the helpers the per-family implementations share.

mod access_keys;
mod attributes;
mod certificates;
pub(crate) mod durable;
mod groups;
mod policies;
mod principals;
mod rules;
mod shadows;
mod tags;
mod thing_types;
mod things;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use thingd_registry::{Inserted, Page, PageRequest, StoreError, Timestamp};

use crate::migrations::{MIGRATIONS, statements};

/// thingd's state in one SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

/// Converts a database error into the store's error.
pub(crate) fn backend(error: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// The most items one page may hold, whatever the caller asked for.
const MAX_PAGE: usize = 1000;

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// A new file is created with mode 0600: it holds the API's secret keys.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if !path.exists() {
            create_private_file(path)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed write survives a power loss, not only a crash of thingd.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = connect_retrying_when_locked(options).await?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// An in-memory database (one connection), for tests.
    pub async fn memory() -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(backend)?
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            // An in-memory database lives as long as its connection: keep the one alive.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        for migration in MIGRATIONS {
            let mut tx = self.write().await?;
            let applied = sqlx::query("SELECT 1 FROM schema_migrations WHERE version = $1")
                .bind(migration.version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?
                .is_some();
            if applied {
                continue;
            }
            for statement in statements(migration.sql) {
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(Timestamp::now().0)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            tracing::info!(
                message = "Applied a database migration.",
                version = migration.version,
                name = migration.name
            );
        }
        Ok(())
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock at once, so a transaction
    /// that reads before it writes cannot deadlock against another writer.
    pub(crate) async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Runs a write (an UPDATE, a DELETE, an `INSERT ... ON CONFLICT DO NOTHING`) on its own:
    /// whether it changed a row.
    pub(crate) async fn changed(&self, statement: Statement) -> Result<bool, StoreError> {
        let rows = statement
            .execute(self.pool())
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(rows > 0)
    }

    /// Runs a query, every row decoded by `decode`.
    pub(crate) async fn fetch_all<T>(
        &self,
        query: Statement,
        decode: impl Fn(&SqliteRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = query.fetch_all(self.pool()).await.map_err(backend)?;
        rows.iter().map(decode).collect()
    }

    /// Runs a query that finds at most one row, decoded by `decode`.
    pub(crate) async fn fetch_optional<T>(
        &self,
        query: Statement,
        decode: impl FnOnce(&SqliteRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let row = query.fetch_optional(self.pool()).await.map_err(backend)?;
        row.as_ref().map(decode).transpose()
    }

    /// Runs the query of a page (which fetches [`fetch_limit`] rows) and makes the page: the
    /// rows decoded by `decode`, the next token from the last item kept by `token`.
    pub(crate) async fn fetch_page<T>(
        &self,
        query: Statement,
        page: &PageRequest,
        decode: impl Fn(&SqliteRow) -> Result<T, StoreError>,
        token: impl Fn(&T) -> String,
    ) -> Result<Page<T>, StoreError> {
        let items = self.fetch_all(query, decode).await?;
        Ok(paginate(items, page, token))
    }

    /// A page of a list in the order of a text key, whose token is the last key given:
    /// `select` (`SELECT ... WHERE ... = $1 AND key > $2 ORDER BY key`) gets the page's LIMIT,
    /// `$1` is bound to `owner` and `$2` to the page's token.
    pub(crate) async fn page_after<T>(
        &self,
        select: &str,
        owner: &str,
        page: &PageRequest,
        decode: impl Fn(&SqliteRow) -> Result<T, StoreError>,
        token: impl Fn(&T) -> String,
    ) -> Result<Page<T>, StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{select} LIMIT {}",
            fetch_limit(page)
        )))
        .bind(owner)
        .bind(page.after.clone().unwrap_or_default());
        self.fetch_page(query, page, decode, token).await
    }

    /// Runs a query over a list of keys in one read transaction, so that every row comes from
    /// one snapshot: `select` holds `{keys}` where the list's placeholders go (`IN ({keys})`,
    /// numbered from `$1`), and runs once per [`IN_LIST_CHUNK`] keys; the rows of all runs
    /// are decoded by `decode`, in the order received. No keys, no query (`IN ()` is not
    /// portable SQL).
    pub(crate) async fn fetch_in<T>(
        &self,
        select: &str,
        keys: &[String],
        decode: impl Fn(&SqliteRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut items = Vec::new();
        for chunk in keys.chunks(IN_LIST_CHUNK) {
            let placeholders = (1..=chunk.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut query =
                sqlx::query(sqlx::AssertSqlSafe(select.replace("{keys}", &placeholders)));
            for key in chunk {
                query = query.bind(key.clone());
            }
            let rows = query.fetch_all(&mut *tx).await.map_err(backend)?;
            for row in &rows {
                items.push(decode(row)?);
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(items)
    }

    /// Inserts a record unless its key is taken, in one write transaction: `insert` is an
    /// `INSERT ... ON CONFLICT DO NOTHING`; when it inserts nothing, `existing` (a SELECT by
    /// the key) reads the record that holds the key, decoded by `decode`, and nothing is
    /// written.
    pub(crate) async fn insert_if_absent<T>(
        &self,
        insert: Statement,
        existing: Statement,
        decode: impl FnOnce(&SqliteRow) -> Result<T, StoreError>,
    ) -> Result<Inserted<T>, StoreError> {
        let mut tx = self.write().await?;
        if !insert_new(&mut tx, insert).await? {
            let row = existing.fetch_one(&mut *tx).await.map_err(backend)?;
            return decode(&row).map(Inserted::Exists);
        }
        tx.commit().await.map_err(backend)?;
        Ok(Inserted::Created)
    }
}

/// The most keys one `IN (...)` list of [`SqliteStore::fetch_in`] binds: far below the most
/// parameters a statement may have (SQLite: 32,766; PostgreSQL: 65,535), and more than a
/// connection's targets (a certificate and the thing groups of its things) ever number, so the
/// lists the authorizer reads take one query.
pub(crate) const IN_LIST_CHUNK: usize = 500;

/// A statement with its values bound, as `sqlx::query(...).bind(...)` makes it.
pub(crate) type Statement = sqlx::query::Query<'static, Sqlite, SqliteArguments>;

/// Runs an `INSERT ... ON CONFLICT DO NOTHING` in `tx`: whether it inserted the row (`false`:
/// its key is taken).
pub(crate) async fn insert_new(
    tx: &mut Transaction<'static, Sqlite>,
    insert: Statement,
) -> Result<bool, StoreError> {
    let rows = insert
        .execute(&mut **tx)
        .await
        .map_err(backend)?
        .rows_affected();
    Ok(rows > 0)
}

/// How long [`SqliteStore::open`] keeps retrying a connect that finds the database locked.
const LOCKED_RETRY: Duration = Duration::from_secs(10);

/// Opens the pool of a file-backed store.
///
/// Fix (conformance suite, `sqlite::concurrent_opens_of_a_new_file`): putting a new database
/// into WAL mode takes an exclusive lock that SQLite's busy timeout does not wait for (sqlx's
/// `journal_mode` documents it), so when two stores create one file at once, one connect
/// failed at once with SQLITE_BUSY ("database is locked"). The lock is held for milliseconds:
/// retry with a short backoff instead. Once the file is in WAL mode, connects do not take it.
async fn connect_retrying_when_locked(
    options: SqliteConnectOptions,
) -> Result<SqlitePool, StoreError> {
    let start = std::time::Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await
        {
            Ok(pool) => return Ok(pool),
            Err(sqlx::Error::Database(error))
                if is_busy(error.code().as_deref()) && start.elapsed() < LOCKED_RETRY =>
            {
                tracing::debug!(message = "The database is locked; retrying the connect.", %error);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(error) => return Err(backend(error)),
        }
    }
}

/// Whether an (extended) SQLite result code is one of SQLITE_BUSY's.
fn is_busy(code: Option<&str>) -> bool {
    code.and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == 5)
}

fn create_private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .or_else(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(|e| StoreError::Backend(Box::new(e)))
}

/// The number of rows to fetch for a page: one more than its limit, to learn whether another
/// page follows.
pub(crate) fn fetch_limit(page: &PageRequest) -> i64 {
    i64::try_from(page.limit.clamp(1, MAX_PAGE) + 1).unwrap_or(i64::MAX)
}

/// Cuts the extra row off and makes the next token from the last item kept.
pub(crate) fn paginate<T>(
    mut items: Vec<T>,
    page: &PageRequest,
    token: impl Fn(&T) -> String,
) -> Page<T> {
    let limit = page.limit.clamp(1, MAX_PAGE);
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(token)
    } else {
        None
    };
    Page { items, next }
}

/// Reads a column, mapping a decode failure to [`StoreError::Corrupt`].
pub(crate) fn column<'r, T>(row: &'r sqlx::sqlite::SqliteRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_sqlite_busy_and_its_extended_codes() {
        // SQLITE_BUSY, _RECOVERY, _SNAPSHOT, _TIMEOUT.
        for code in ["5", "261", "517", "773"] {
            assert!(is_busy(Some(code)), "{code}");
        }
        // SQLITE_LOCKED, SQLITE_NOTADB, SQLITE_ERROR, nothing, not a number.
        for code in [Some("6"), Some("26"), Some("1"), None, Some("x")] {
            assert!(!is_busy(code), "{code:?}");
        }
    }
}
