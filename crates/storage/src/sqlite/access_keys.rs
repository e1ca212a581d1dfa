//! Access keys of the AWS-compatible API.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use thingd_registry::{AccessKey, AccessKeyStore, Inserted, StoreError, Timestamp};

use super::{SqliteStore, Statement, column};

const COLUMNS: &str = "access_key_id, secret_access_key, user_name, created";

fn key_from_row(row: &SqliteRow) -> Result<AccessKey, StoreError> {
    Ok(AccessKey {
        access_key_id: column(row, "access_key_id")?,
        secret_access_key: column(row, "secret_access_key")?,
        user: column(row, "user_name")?,
        created: Timestamp(column(row, "created")?),
    })
}

fn select(access_key_id: &str) -> Statement {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM access_keys WHERE access_key_id = $1"
    )))
    .bind(access_key_id)
}

#[async_trait]
impl AccessKeyStore for SqliteStore {
    async fn insert_access_key(&self, key: &AccessKey) -> Result<Inserted<AccessKey>, StoreError> {
        let insert = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO access_keys ({COLUMNS}) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (access_key_id) DO NOTHING"
        )))
        .bind(&key.access_key_id)
        .bind(&key.secret_access_key)
        .bind(&key.user)
        .bind(key.created.0);
        self.insert_if_absent(insert, select(&key.access_key_id), key_from_row)
            .await
    }

    async fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>, StoreError> {
        self.fetch_optional(select(access_key_id), key_from_row)
            .await
    }

    async fn access_keys(&self) -> Result<Vec<AccessKey>, StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM access_keys ORDER BY created"
        )));
        self.fetch_all(query, key_from_row).await
    }
}
