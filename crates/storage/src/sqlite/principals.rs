//! Which principals (certificate ARNs) are attached to which things.

use async_trait::async_trait;
use thingd_registry::{Page, PageRequest, PrincipalStore, StoreError};

use super::{SqliteStore, backend, column, fetch_limit, paginate};

#[async_trait]
impl PrincipalStore for SqliteStore {
    async fn attach_principal(
        &self,
        thing: &str,
        principal: &str,
        exclusive: bool,
    ) -> Result<bool, StoreError> {
        let added = sqlx::query(
            "INSERT INTO thing_principals (thing, principal, exclusive) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(thing)
        .bind(principal)
        .bind(i64::from(exclusive))
        .execute(self.pool())
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(added > 0)
    }

    async fn detach_principal(&self, thing: &str, principal: &str) -> Result<bool, StoreError> {
        let removed =
            sqlx::query("DELETE FROM thing_principals WHERE thing = $1 AND principal = $2")
                .bind(thing)
                .bind(principal)
                .execute(self.pool())
                .await
                .map_err(backend)?
                .rows_affected();
        Ok(removed > 0)
    }

    async fn principals_of_thing(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<(String, bool)>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT principal, exclusive FROM thing_principals WHERE thing = $1 AND principal > $2 \
             ORDER BY principal LIMIT {}",
            fetch_limit(page)
        )))
        .bind(thing)
        .bind(page.after.clone().unwrap_or_default())
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        let items = rows
            .iter()
            .map(|row| {
                Ok((
                    column(row, "principal")?,
                    column::<i64>(row, "exclusive")? != 0,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(paginate(items, page, |(principal, _)| principal.clone()))
    }

    async fn things_of_principal(
        &self,
        principal: &str,
        page: &PageRequest,
    ) -> Result<Page<(String, bool)>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT thing, exclusive FROM thing_principals WHERE principal = $1 AND thing > $2 \
             ORDER BY thing LIMIT {}",
            fetch_limit(page)
        )))
        .bind(principal)
        .bind(page.after.clone().unwrap_or_default())
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        let items = rows
            .iter()
            .map(|row| Ok((column(row, "thing")?, column::<i64>(row, "exclusive")? != 0)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(paginate(items, page, |(thing, _)| thing.clone()))
    }
}
