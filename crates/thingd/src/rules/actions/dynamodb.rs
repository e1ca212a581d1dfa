//! The `dynamoDBv2` action onto a SQL table: SQLite (`rules.db` in the data directory) by
//! default, PostgreSQL with `--rules-postgres URL`.
//!
//! AWS writes each top-level key of the SQL result as an attribute of an item of the table
//! `putItem.tableName` (a template). thingd writes it as a column of a row of that table,
//! creating the table, and adding columns, the first time a key appears. Column types follow
//! the first non-null value seen: integers `INTEGER`/`BIGINT`, other numbers
//! `REAL`/`DOUBLE PRECISION`, strings `TEXT`, booleans `BOOLEAN`, objects and arrays `TEXT`
//! holding their JSON, a null alone `TEXT`. Later values are converted to the column's type by
//! the database (SQLite's affinities; PostgreSQL's input functions, so a value that does not fit
//! fails that delivery). Rows are appended: there is no key schema, so a write never replaces
//! another (DynamoDB's PutItem replaces the item with the same key).
//!
//! Writes are batched: a worker takes up to `RulesOptions::batch_size` results and writes each
//! table's rows with one statement (SQLite `json_each`, PostgreSQL `json_populate_recordset`),
//! one transaction and one fsync. If that statement fails, each row is written alone so that
//! one bad row fails only its own delivery.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use thingd_rules::DynamoDBv2Action;
use thingd_sql::{SqlVersion, Template};
use tokio::sync::{Mutex, OnceCell};

use super::{ActionError, Job, Services, template};

/// The longest table or column name: PostgreSQL's identifier limit (longer names are cut
/// there, which would merge columns).
const MAX_NAME_BYTES: usize = 63;

/// The most columns the action gives one table.
const MAX_COLUMNS: usize = 500;

/// The most tables whose columns are remembered.
const MAX_KNOWN_TABLES: usize = 10_000;

/// How long to wait for a database connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A compiled `dynamoDBv2` action.
pub(crate) struct PutItem {
    table: Template,
}

impl PutItem {
    pub(crate) fn compile(action: &DynamoDBv2Action, version: SqlVersion) -> Result<Self, String> {
        Ok(PutItem {
            table: template("putItem.tableName", &action.put_item.table_name, version)?,
        })
    }

    /// Writes a batch of results, each table's rows with one statement.
    pub(crate) async fn run(
        &self,
        batch: &[Job],
        services: &Services,
    ) -> Vec<Result<(), ActionError>> {
        let mut results: Vec<Result<(), ActionError>> = Vec::with_capacity(batch.len());
        // Each table's rows, with the index of the job each came from.
        let mut tables: BTreeMap<String, Vec<IndexedRow<'_>>> = BTreeMap::new();
        for (i, job) in batch.iter().enumerate() {
            let table = job.event.render(&self.table, &services.env);
            let row = check_name("table", &table).and_then(|()| match job.event.json() {
                Some(Value::Object(row)) if !row.is_empty() => {
                    row.keys().try_for_each(|k| check_name("column", k))?;
                    Ok(row)
                }
                Some(Value::Object(_)) => Err("The SQL result has no keys: there is no column to write".to_owned()),
                _ => Err("The SQL result is not a JSON object: dynamoDBv2 writes its top-level keys as columns".to_owned()),
            });
            match row {
                Ok(row) => {
                    results.push(Ok(()));
                    tables.entry(table).or_default().push((i, row));
                }
                Err(message) => results.push(Err(ActionError::new(table, message))),
            }
        }
        if tables.is_empty() {
            return results;
        }
        let db = match services.tables.database().await {
            Ok(db) => db,
            Err(message) => {
                for (table, rows) in &tables {
                    for (i, _) in rows {
                        results[*i] = Err(ActionError::new(table.clone(), message.clone()));
                    }
                }
                return results;
            }
        };
        for (table, rows) in &tables {
            let all: Vec<&Map<String, Value>> = rows.iter().map(|(_, row)| *row).collect();
            let Err(message) = services.tables.write(db, table, &all).await else {
                continue;
            };
            if rows.len() == 1 {
                results[rows[0].0] = Err(ActionError::new(table.clone(), message));
                continue;
            }
            // One statement for all failed: find the rows at fault, one at a time.
            for (i, row) in rows {
                if let Err(message) = services.tables.write(db, table, &[*row]).await {
                    results[*i] = Err(ActionError::new(table.clone(), message));
                }
            }
        }
        results
    }
}

/// A row to write and the index of its job in the batch.
type IndexedRow<'a> = (usize, &'a Map<String, Value>);

/// Table and column names: what both databases take quoted, without surprises.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "The {what} name '{name}' must have 1 to {MAX_NAME_BYTES} bytes"
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(format!(
            "The {what} name '{}' may not contain control characters, '\"' or '\\'",
            name.escape_default()
        ));
    }
    if name.to_ascii_lowercase().starts_with("sqlite_") {
        return Err(format!("The {what} name '{name}' is reserved"));
    }
    Ok(())
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The type a new column gets from a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ColumnType {
    Integer,
    Real,
    Text,
    Boolean,
}

impl ColumnType {
    fn of(value: &Value) -> Option<ColumnType> {
        match value {
            Value::Null => None,
            Value::Bool(_) => Some(ColumnType::Boolean),
            Value::Number(n) if n.is_i64() => Some(ColumnType::Integer),
            Value::Number(_) => Some(ColumnType::Real),
            Value::String(_) | Value::Array(_) | Value::Object(_) => Some(ColumnType::Text),
        }
    }

    fn sql(self, postgres: bool) -> &'static str {
        match (self, postgres) {
            (ColumnType::Integer, false) => "INTEGER",
            (ColumnType::Integer, true) => "BIGINT",
            (ColumnType::Real, false) => "REAL",
            (ColumnType::Real, true) => "DOUBLE PRECISION",
            (ColumnType::Text, _) => "TEXT",
            (ColumnType::Boolean, _) => "BOOLEAN",
        }
    }
}

/// The database the action writes to.
#[derive(Debug)]
pub(crate) enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Database {
    fn is_postgres(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }
}

/// The action's database, opened on first use, and the columns of the tables it has written.
#[derive(Debug)]
pub(crate) struct Tables {
    postgres_url: Option<String>,
    sqlite_path: PathBuf,
    connections: u32,
    database: OnceCell<Database>,
    /// Known columns per table (lower-cased for SQLite, whose names ignore case). Held across a
    /// schema change so that two workers do not add the same column.
    columns: Mutex<HashMap<String, Vec<String>>>,
}

impl Tables {
    pub(crate) fn new(
        postgres_url: Option<String>,
        sqlite_path: PathBuf,
        connections: usize,
    ) -> Tables {
        Tables {
            postgres_url,
            sqlite_path,
            connections: u32::try_from(connections.max(1)).unwrap_or(u32::MAX),
            database: OnceCell::new(),
            columns: Mutex::new(HashMap::new()),
        }
    }

    /// The database, connecting on first use (a failed connect is tried again next time).
    pub(crate) async fn database(&self) -> Result<&Database, String> {
        self.database
            .get_or_try_init(|| async {
                match &self.postgres_url {
                    Some(url) => PgPoolOptions::new()
                        .max_connections(self.connections)
                        .acquire_timeout(CONNECT_TIMEOUT)
                        .connect(url)
                        .await
                        .map(Database::Postgres)
                        .map_err(|error| {
                            format!("Cannot connect to the --rules-postgres database: {error}")
                        }),
                    None => open_sqlite(&self.sqlite_path).await.map(Database::Sqlite),
                }
            })
            .await
    }

    /// Writes `rows` into `table` with one statement, adding the table and columns they need.
    async fn write(
        &self,
        db: &Database,
        table: &str,
        rows: &[&Map<String, Value>],
    ) -> Result<(), String> {
        let columns = self.ensure_columns(db, table, rows).await?;
        let rows_json = Value::Array(
            rows.iter()
                .map(|row| Value::Object((*row).clone()))
                .collect(),
        )
        .to_string();
        let names = columns
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(", ");
        let outcome = match db {
            Database::Sqlite(pool) => {
                let values = columns
                    .iter()
                    .map(|c| format!("json_extract(value, '$.{}')", quote(c).replace('\'', "''")))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO {} ({names}) SELECT {values} FROM json_each($1)",
                    quote(table)
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(rows_json)
                    .execute(pool)
                    .await
                    .map(|_| ())
            }
            Database::Postgres(pool) => {
                let sql = format!(
                    "INSERT INTO {table} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{table}, $1::json)",
                    table = quote(table)
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(rows_json)
                    .execute(pool)
                    .await
                    .map(|_| ())
            }
        };
        outcome.map_err(|error| format!("Writing to table {table} failed: {error}"))
    }

    /// The columns `rows` write, in the table's spelling, after creating the table or adding
    /// the columns it lacks.
    async fn ensure_columns(
        &self,
        db: &Database,
        table: &str,
        rows: &[&Map<String, Value>],
    ) -> Result<Vec<String>, String> {
        let postgres = db.is_postgres();
        let fold = |name: &str| {
            if postgres {
                name.to_owned()
            } else {
                name.to_ascii_lowercase()
            }
        };
        // The keys of the rows, each with the type of its first non-null value.
        let mut wanted: Vec<(String, Option<ColumnType>)> = Vec::new();
        for row in rows {
            for (key, value) in row.iter() {
                match wanted.iter_mut().find(|(k, _)| fold(k) == fold(key)) {
                    Some((_, ty)) => {
                        if ty.is_none() {
                            *ty = ColumnType::of(value);
                        }
                    }
                    None => wanted.push((key.clone(), ColumnType::of(value))),
                }
            }
        }
        let mut known = self.columns.lock().await;
        // Table names come from templates: keep the cache bounded (a forgotten table's columns
        // are only read again from the database).
        if known.len() >= MAX_KNOWN_TABLES && !known.contains_key(table) {
            known.clear();
        }
        let missing = |known: &HashMap<String, Vec<String>>| {
            let have = known.get(table);
            wanted
                .iter()
                .filter(|(k, _)| !have.is_some_and(|h| h.contains(&fold(k))))
                .cloned()
                .collect::<Vec<_>>()
        };
        let mut to_add = missing(&known);
        if !to_add.is_empty() {
            // The cache may be stale (another process, an operator): ask the database.
            let existing = table_columns(db, table).await?;
            known.insert(table.to_owned(), existing.iter().map(|c| fold(c)).collect());
            to_add = missing(&known);
            if !to_add.is_empty() {
                if existing.len() + to_add.len() > MAX_COLUMNS {
                    return Err(format!(
                        "Table {table} would have more than {MAX_COLUMNS} columns"
                    ));
                }
                let definitions = to_add
                    .iter()
                    .map(|(name, ty)| {
                        format!(
                            "{} {}",
                            quote(name),
                            ty.unwrap_or(ColumnType::Text).sql(postgres)
                        )
                    })
                    .collect::<Vec<_>>();
                if existing.is_empty() {
                    execute(
                        db,
                        format!(
                            "CREATE TABLE IF NOT EXISTS {} ({})",
                            quote(table),
                            definitions.join(", ")
                        ),
                    )
                    .await?;
                } else {
                    for definition in &definitions {
                        let if_not_exists = if postgres { "IF NOT EXISTS " } else { "" };
                        execute(
                            db,
                            format!(
                                "ALTER TABLE {} ADD COLUMN {if_not_exists}{definition}",
                                quote(table)
                            ),
                        )
                        .await?;
                    }
                }
                let existing = table_columns(db, table).await?;
                known.insert(table.to_owned(), existing.iter().map(|c| fold(c)).collect());
            }
        }
        Ok(wanted.into_iter().map(|(name, _)| name).collect())
    }
}

async fn execute(db: &Database, sql: String) -> Result<(), String> {
    let outcome = match db {
        Database::Sqlite(pool) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(pool)
            .await
            .map(|_| ()),
        Database::Postgres(pool) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(pool)
            .await
            .map(|_| ()),
    };
    outcome.map_err(|error| format!("{sql} failed: {error}"))
}

/// The table's columns as the database names them; empty if the table does not exist.
async fn table_columns(db: &Database, table: &str) -> Result<Vec<String>, String> {
    let outcome = match db {
        Database::Sqlite(pool) => {
            sqlx::query_scalar::<_, String>("SELECT name FROM pragma_table_info($1)")
                .bind(table)
                .fetch_all(pool)
                .await
        }
        Database::Postgres(pool) => {
            sqlx::query_scalar::<_, String>(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind(table)
            .fetch_all(pool)
            .await
        }
    };
    outcome.map_err(|error| format!("Reading the columns of table {table} failed: {error}"))
}

/// Opens (creating, owner-only) the SQLite file of the action.
async fn open_sqlite(path: &Path) -> Result<SqlitePool, String> {
    if !path.exists() {
        create_private_file(path)
            .map_err(|error| format!("Cannot create {}: {error}", path.display()))?;
    }
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(|error| error.to_string())?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a row is on disk when its delivery counts as done (batches pay one fsync).
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5));
    SqlitePoolOptions::new()
        // One writer: SQLite serialises writers anyway, and this way none waits on a lock.
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .map_err(|error| format!("Cannot open {}: {error}", path.display()))
}

/// Creates an empty file readable by the owner only: device data is not for other users.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(|_| ())
        .or_else(|error| {
            if error.kind() == std::io::ErrorKind::AlreadyExists {
                Ok(())
            } else {
                Err(error)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_quotable() {
        assert!(check_name("table", "readings").is_ok());
        assert!(check_name("table", "Readings-2026.v1").is_ok());
        assert!(check_name("column", "a b").is_ok());
        assert!(check_name("table", "").is_err());
        assert!(check_name("table", &"x".repeat(64)).is_err());
        assert!(check_name("column", "a\"b").is_err());
        assert!(check_name("column", "a\\b").is_err());
        assert!(check_name("column", "a\nb").is_err());
        assert!(check_name("table", "SQLITE_master").is_err());
    }

    #[test]
    fn column_types_follow_json_values() {
        assert_eq!(
            ColumnType::of(&serde_json::json!(1)),
            Some(ColumnType::Integer)
        );
        assert_eq!(
            ColumnType::of(&serde_json::json!(1.5)),
            Some(ColumnType::Real)
        );
        assert_eq!(
            ColumnType::of(&serde_json::json!(u64::MAX)),
            Some(ColumnType::Real)
        );
        assert_eq!(
            ColumnType::of(&serde_json::json!("s")),
            Some(ColumnType::Text)
        );
        assert_eq!(
            ColumnType::of(&serde_json::json!({"a": 1})),
            Some(ColumnType::Text)
        );
        assert_eq!(
            ColumnType::of(&serde_json::json!(true)),
            Some(ColumnType::Boolean)
        );
        assert_eq!(ColumnType::of(&Value::Null), None);
    }
}
