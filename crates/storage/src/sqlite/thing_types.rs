//! Thing types.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use thingd_registry::{
    Inserted, Page, PageRequest, StoreError, ThingType, ThingTypeStore, Timestamp,
};

use super::{SqliteStore, Statement, column, fetch_limit};

const COLUMNS: &str = "name, id, description, searchable_attributes, deprecated, created";

fn thing_type_from_row(row: &SqliteRow) -> Result<ThingType, StoreError> {
    // Searchable attribute names cannot contain a newline (their pattern excludes it), so one
    // TEXT column holds the list.
    let searchable: String = column(row, "searchable_attributes")?;
    Ok(ThingType {
        name: column(row, "name")?,
        id: column(row, "id")?,
        description: column(row, "description")?,
        searchable_attributes: searchable.lines().map(str::to_owned).collect(),
        deprecated: column::<Option<i64>>(row, "deprecated")?.map(Timestamp),
        created: Timestamp(column(row, "created")?),
    })
}

fn select(name: &str) -> Statement {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM thing_types WHERE name = $1"
    )))
    .bind(name)
}

#[async_trait]
impl ThingTypeStore for SqliteStore {
    async fn insert_thing_type(
        &self,
        thing_type: &ThingType,
    ) -> Result<Inserted<ThingType>, StoreError> {
        let insert = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO thing_types ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (name) DO NOTHING"
        )))
        .bind(&thing_type.name)
        .bind(&thing_type.id)
        .bind(&thing_type.description)
        .bind(thing_type.searchable_attributes.join("\n"))
        .bind(thing_type.deprecated.map(|t| t.0))
        .bind(thing_type.created.0);
        self.insert_if_absent(insert, select(&thing_type.name), thing_type_from_row)
            .await
    }

    async fn thing_type(&self, name: &str) -> Result<Option<ThingType>, StoreError> {
        self.fetch_optional(select(name), thing_type_from_row).await
    }

    async fn replace_thing_type(&self, thing_type: &ThingType) -> Result<bool, StoreError> {
        let update = sqlx::query(
            "UPDATE thing_types SET description = $1, searchable_attributes = $2, deprecated = $3 WHERE name = $4",
        )
        .bind(&thing_type.description)
        .bind(thing_type.searchable_attributes.join("\n"))
        .bind(thing_type.deprecated.map(|t| t.0))
        .bind(&thing_type.name);
        self.changed(update).await
    }

    async fn delete_thing_type(&self, name: &str) -> Result<bool, StoreError> {
        self.changed(sqlx::query("DELETE FROM thing_types WHERE name = $1").bind(name))
            .await
    }

    async fn list_thing_types(
        &self,
        name: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ThingType>, StoreError> {
        let query = match name {
            Some(name) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM thing_types WHERE name = $1 AND name > $2 ORDER BY name LIMIT {}",
                fetch_limit(page)
            )))
            .bind(name)
            .bind(page.after.clone().unwrap_or_default()),
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM thing_types WHERE name > $1 ORDER BY name LIMIT {}",
                fetch_limit(page)
            )))
            .bind(page.after.clone().unwrap_or_default()),
        };
        self.fetch_page(query, page, thing_type_from_row, |t| t.name.clone())
            .await
    }
}
