//! Access keys of the AWS-compatible API.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use thingd_registry::{AccessKey, AccessKeyStore, Inserted, StoreError, Timestamp};

use super::{SqliteStore, backend, column};

fn key_from_row(row: &SqliteRow) -> Result<AccessKey, StoreError> {
    Ok(AccessKey {
        access_key_id: column(row, "access_key_id")?,
        secret_access_key: column(row, "secret_access_key")?,
        user: column(row, "user_name")?,
        created: Timestamp(column(row, "created")?),
    })
}

#[async_trait]
impl AccessKeyStore for SqliteStore {
    async fn insert_access_key(&self, key: &AccessKey) -> Result<Inserted<AccessKey>, StoreError> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO access_keys (access_key_id, secret_access_key, user_name, created) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (access_key_id) DO NOTHING",
        )
        .bind(&key.access_key_id)
        .bind(&key.secret_access_key)
        .bind(&key.user)
        .bind(key.created.0)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if inserted == 0 {
            let row = sqlx::query(
                "SELECT access_key_id, secret_access_key, user_name, created FROM access_keys WHERE access_key_id = $1",
            )
            .bind(&key.access_key_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
            return key_from_row(&row).map(Inserted::Exists);
        }
        tx.commit().await.map_err(backend)?;
        Ok(Inserted::Created)
    }

    async fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>, StoreError> {
        let row = sqlx::query(
            "SELECT access_key_id, secret_access_key, user_name, created FROM access_keys WHERE access_key_id = $1",
        )
        .bind(access_key_id)
        .fetch_optional(self.pool())
        .await
        .map_err(backend)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn access_keys(&self) -> Result<Vec<AccessKey>, StoreError> {
        let rows = sqlx::query("SELECT access_key_id, secret_access_key, user_name, created FROM access_keys ORDER BY created")
            .fetch_all(self.pool())
            .await
            .map_err(backend)?;
        rows.iter().map(key_from_row).collect()
    }
}
