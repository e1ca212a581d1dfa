//! Tags, by resource ARN.

use async_trait::async_trait;
use thingd_registry::{Page, PageRequest, StoreError, Tag, TagStore};

use super::{SqliteStore, backend, column};

#[async_trait]
impl TagStore for SqliteStore {
    async fn tag_resource(&self, arn: &str, tags: &[Tag]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for tag in tags {
            sqlx::query(
                "INSERT INTO tags (arn, tag_key, tag_value) VALUES ($1, $2, $3) \
                 ON CONFLICT (arn, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            )
            .bind(arn)
            .bind(&tag.key)
            .bind(&tag.value)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for key in keys {
            sqlx::query("DELETE FROM tags WHERE arn = $1 AND tag_key = $2")
                .bind(arn)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn tags_of(&self, arn: &str, page: &PageRequest) -> Result<Page<Tag>, StoreError> {
        self.page_after(
            "SELECT tag_key, tag_value FROM tags WHERE arn = $1 AND tag_key > $2 ORDER BY tag_key",
            arn,
            page,
            |row| {
                Ok(Tag {
                    key: column(row, "tag_key")?,
                    value: column(row, "tag_value")?,
                })
            },
            |tag| tag.key.clone(),
        )
        .await
    }
}
