//! Which principals (certificate ARNs) are attached to which things.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use thingd_registry::{Page, PageRequest, PrincipalStore, StoreError};

use super::{SqliteStore, column};

/// An attachment as a list gives it: the thing or the principal in `name`, and whether the
/// attachment is exclusive.
fn attachment(row: &SqliteRow, name: &str) -> Result<(String, bool), StoreError> {
    Ok((column(row, name)?, column::<i64>(row, "exclusive")? != 0))
}

#[async_trait]
impl PrincipalStore for SqliteStore {
    async fn attach_principal(
        &self,
        thing: &str,
        principal: &str,
        exclusive: bool,
    ) -> Result<bool, StoreError> {
        let insert = sqlx::query(
            "INSERT INTO thing_principals (thing, principal, exclusive) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(thing)
        .bind(principal)
        .bind(i64::from(exclusive));
        self.changed(insert).await
    }

    async fn detach_principal(&self, thing: &str, principal: &str) -> Result<bool, StoreError> {
        let delete =
            sqlx::query("DELETE FROM thing_principals WHERE thing = $1 AND principal = $2")
                .bind(thing)
                .bind(principal);
        self.changed(delete).await
    }

    async fn principals_of_thing(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<(String, bool)>, StoreError> {
        self.page_after(
            "SELECT principal, exclusive FROM thing_principals WHERE thing = $1 AND principal > $2 \
             ORDER BY principal",
            thing,
            page,
            |row| attachment(row, "principal"),
            |(principal, _)| principal.clone(),
        )
        .await
    }

    async fn things_of_principal(
        &self,
        principal: &str,
        page: &PageRequest,
    ) -> Result<Page<(String, bool)>, StoreError> {
        self.page_after(
            "SELECT thing, exclusive FROM thing_principals WHERE principal = $1 AND thing > $2 \
             ORDER BY thing",
            principal,
            page,
            |row| attachment(row, "thing"),
            |(thing, _)| thing.clone(),
        )
        .await
    }
}
