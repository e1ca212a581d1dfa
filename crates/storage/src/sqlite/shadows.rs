//! Device shadows: conditional writes by version, one at a time or batched in one transaction.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use thingd_registry::{Page, PageRequest, ShadowRecord, ShadowStore, StoreError, Timestamp};

use super::{SqliteStore, Statement, backend, column, fetch_limit};

const COLUMNS: &str = "thing, shadow, document, version, updated";

fn shadow_from_row(row: &SqliteRow) -> Result<ShadowRecord, StoreError> {
    Ok(ShadowRecord {
        thing: column(row, "thing")?,
        shadow: column(row, "shadow")?,
        document: column(row, "document")?,
        version: column(row, "version")?,
        updated: Timestamp(column(row, "updated")?),
    })
}

/// The one statement that makes a conditional write: an insert that does nothing if the key is
/// taken (no expectation), or an update of the row whose version is still the expected one.
/// Being one statement each is what makes it a compare-and-swap: the check and the write cannot
/// be separated by another writer.
fn conditional_write(record: &ShadowRecord, expected_version: Option<i64>) -> Statement {
    match expected_version {
        None => sqlx::query(
            "INSERT INTO shadows (thing, shadow, document, version, updated) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (thing, shadow) DO NOTHING",
        )
        .bind(record.thing.clone())
        .bind(record.shadow.clone())
        .bind(record.document.clone())
        .bind(record.version)
        .bind(record.updated.0),
        Some(expected) => sqlx::query(
            "UPDATE shadows SET document = $1, version = $2, updated = $3 \
             WHERE thing = $4 AND shadow = $5 AND version = $6",
        )
        .bind(record.document.clone())
        .bind(record.version)
        .bind(record.updated.0)
        .bind(record.thing.clone())
        .bind(record.shadow.clone())
        .bind(expected),
    }
}

#[async_trait]
impl ShadowStore for SqliteStore {
    async fn shadow(&self, thing: &str, shadow: &str) -> Result<Option<ShadowRecord>, StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM shadows WHERE thing = $1 AND shadow = $2"
        )))
        .bind(thing.to_owned())
        .bind(shadow.to_owned());
        self.fetch_optional(query, shadow_from_row).await
    }

    async fn put_shadow(
        &self,
        record: &ShadowRecord,
        expected_version: Option<i64>,
    ) -> Result<bool, StoreError> {
        // On its own, the statement commits (and syncs) by itself: no transaction to open.
        self.changed(conditional_write(record, expected_version))
            .await
    }

    async fn named_shadows(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        // The classic shadow's name is the empty string, below every other: `shadow > ''`
        // leaves it out, and so does every `shadow > $2` of an ascending page.
        let limit = fetch_limit(page);
        let query = match (&page.after, page.ascending) {
            (after, true) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT shadow FROM shadows WHERE thing = $1 AND shadow > $2 \
                 AND document IS NOT NULL ORDER BY shadow LIMIT {limit}"
            )))
            .bind(thing.to_owned())
            .bind(after.clone().unwrap_or_default()),
            (Some(after), false) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT shadow FROM shadows WHERE thing = $1 AND shadow < $2 AND shadow > '' \
                 AND document IS NOT NULL ORDER BY shadow DESC LIMIT {limit}"
            )))
            .bind(thing.to_owned())
            .bind(after.clone()),
            // Descending from the end: no upper bound, since no string is above every name.
            (None, false) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT shadow FROM shadows WHERE thing = $1 AND shadow > '' \
                 AND document IS NOT NULL ORDER BY shadow DESC LIMIT {limit}"
            )))
            .bind(thing.to_owned()),
        };
        self.fetch_page(query, page, |row| column(row, "shadow"), Clone::clone)
            .await
    }

    async fn put_shadows(
        &self,
        writes: &[(ShadowRecord, Option<i64>)],
    ) -> Result<Vec<bool>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        // One write transaction: the writes wait for the write lock once and are synced once at
        // the commit, which is the point of batching. Each is still its own conditional
        // statement, applied in order, so a write's expectation sees the batch's earlier writes.
        // An error drops the transaction, which rolls the whole batch back.
        let mut tx = self.write().await?;
        let mut outcomes = Vec::with_capacity(writes.len());
        for (record, expected_version) in writes {
            let rows = conditional_write(record, *expected_version)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
            outcomes.push(rows > 0);
        }
        tx.commit().await.map_err(backend)?;
        Ok(outcomes)
    }
}
