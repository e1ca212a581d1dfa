//! Things and their attributes.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use thingd_registry::{
    Attributes, Inserted, Page, PageRequest, StoreError, Thing, ThingFilter, ThingStore, Timestamp,
};

use super::attributes::Attributed;
use super::{SqliteStore, backend, column, fetch_limit, paginate};

const COLUMNS: &str = "name, id, thing_type, version, created";

/// Things, with their attributes.
const THINGS: Attributed<Thing> = Attributed {
    noun: "thing",
    table: "things",
    columns: COLUMNS,
    attributes: "thing_attributes",
    owner: "thing",
    from_row: thing_from_row,
};

fn thing_from_row(row: &SqliteRow, attributes: Attributes) -> Result<Thing, StoreError> {
    Ok(Thing {
        name: column(row, "name")?,
        id: column(row, "id")?,
        thing_type: column(row, "thing_type")?,
        attributes,
        version: column(row, "version")?,
        created: Timestamp(column(row, "created")?),
    })
}

#[async_trait]
impl ThingStore for SqliteStore {
    async fn insert_thing(&self, thing: &Thing) -> Result<Inserted<Thing>, StoreError> {
        let insert = sqlx::query(
            "INSERT INTO things (name, id, thing_type, version, created) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&thing.name)
        .bind(&thing.id)
        .bind(&thing.thing_type)
        .bind(thing.version)
        .bind(thing.created.0);
        self.insert_attributed(&THINGS, insert, &thing.name, &thing.attributes)
            .await
    }

    async fn thing(&self, name: &str) -> Result<Option<Thing>, StoreError> {
        self.read_attributed(&THINGS, name).await
    }

    async fn replace_thing(
        &self,
        thing: &Thing,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        let update = sqlx::query(
            "UPDATE things SET thing_type = $1, version = $2 WHERE name = $3 AND version = $4",
        )
        .bind(&thing.thing_type)
        .bind(thing.version)
        .bind(&thing.name)
        .bind(expected_version);
        self.replace_attributed(&THINGS, update, &thing.name, &thing.attributes)
            .await
    }

    async fn delete_thing(&self, name: &str) -> Result<bool, StoreError> {
        // Attributes, group memberships and principal attachments go with it (ON DELETE CASCADE).
        self.changed(sqlx::query("DELETE FROM things WHERE name = $1").bind(name))
            .await
    }

    async fn list_things(
        &self,
        filter: &ThingFilter,
        page: &PageRequest,
    ) -> Result<Page<Thing>, StoreError> {
        // The statement's shape depends only on which filters are present; every value is bound.
        let mut sql = format!("SELECT {COLUMNS} FROM things t WHERE t.name > $1");
        let mut next = 2;
        if filter.thing_type.is_some() {
            sql.push_str(&format!(" AND t.thing_type = ${next}"));
            next += 1;
        }
        if filter.attribute_name.is_some() {
            sql.push_str(&format!(" AND EXISTS (SELECT 1 FROM thing_attributes a WHERE a.thing = t.name AND a.name = ${next}"));
            next += 1;
            if filter.attribute_value.is_some() {
                if filter.attribute_value_prefix {
                    sql.push_str(&format!(
                        " AND substr(a.value, 1, length(${next})) = ${next}"
                    ));
                } else {
                    sql.push_str(&format!(" AND a.value = ${next}"));
                }
            }
            sql.push(')');
        }
        sql.push_str(&format!(" ORDER BY t.name LIMIT {}", fetch_limit(page)));
        let mut query =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(page.after.clone().unwrap_or_default());
        if let Some(thing_type) = &filter.thing_type {
            query = query.bind(thing_type.clone());
        }
        if let Some(name) = &filter.attribute_name {
            query = query.bind(name.clone());
            if let Some(value) = &filter.attribute_value {
                query = query.bind(value.clone());
            }
        }
        let mut tx = self.pool().begin().await.map_err(backend)?;
        let rows = query.fetch_all(&mut *tx).await.map_err(backend)?;
        // The page's attributes in one range query over the names it spans.
        let mut attributes: HashMap<String, Attributes> = HashMap::new();
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            let first: String = column(first, "name")?;
            let last: String = column(last, "name")?;
            let attribute_rows = sqlx::query(
                "SELECT thing, name, value FROM thing_attributes WHERE thing >= $1 AND thing <= $2",
            )
            .bind(first)
            .bind(last)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
            for row in &attribute_rows {
                attributes
                    .entry(column(row, "thing")?)
                    .or_default()
                    .insert(column(row, "name")?, column(row, "value")?);
            }
        }
        tx.commit().await.map_err(backend)?;
        let things = rows
            .iter()
            .map(|row| {
                let name: String = column(row, "name")?;
                thing_from_row(row, attributes.remove(&name).unwrap_or_default())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(things, page, |thing| thing.name.clone()))
    }

    async fn count_things_of_type(&self, thing_type: &str) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM things WHERE thing_type = $1")
            .bind(thing_type)
            .fetch_one(self.pool())
            .await
            .map_err(backend)?;
        let count: i64 = column(&row, "n")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
