//! Static thing groups, their attributes and their members.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, Transaction};
use thingd_registry::{
    Attributes, Inserted, Page, PageRequest, StoreError, ThingGroup, ThingGroupStore, Timestamp,
};

use super::{SqliteStore, backend, column, fetch_limit, paginate};

const COLUMNS: &str = "name, id, parent, description, version, created";

/// The group and all its descendants, as a recursive common table expression named `tree`
/// (portable: SQLite and PostgreSQL both have `WITH RECURSIVE`).
const TREE: &str = "WITH RECURSIVE tree (name) AS (\
    SELECT name FROM thing_groups WHERE name = $1 \
    UNION SELECT g.name FROM thing_groups g JOIN tree ON g.parent = tree.name)";

fn group_from_row(row: &SqliteRow, attributes: Attributes) -> Result<ThingGroup, StoreError> {
    Ok(ThingGroup {
        name: column(row, "name")?,
        id: column(row, "id")?,
        parent: column(row, "parent")?,
        description: column(row, "description")?,
        attributes,
        version: column(row, "version")?,
        created: Timestamp(column(row, "created")?),
    })
}

async fn attributes_of(
    executor: impl sqlx::Executor<'_, Database = Sqlite>,
    group: &str,
) -> Result<Attributes, StoreError> {
    let rows = sqlx::query("SELECT name, value FROM thing_group_attributes WHERE thing_group = $1")
        .bind(group)
        .fetch_all(executor)
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|row| Ok((column(row, "name")?, column(row, "value")?)))
        .collect()
}

async fn write_attributes(
    tx: &mut Transaction<'static, Sqlite>,
    group: &str,
    attributes: &Attributes,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM thing_group_attributes WHERE thing_group = $1")
        .bind(group)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    for (name, value) in attributes {
        sqlx::query(
            "INSERT INTO thing_group_attributes (thing_group, name, value) VALUES ($1, $2, $3)",
        )
        .bind(group)
        .bind(name)
        .bind(value)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

async fn rows_to_groups(
    tx: &mut Transaction<'static, Sqlite>,
    rows: &[SqliteRow],
) -> Result<Vec<ThingGroup>, StoreError> {
    let mut groups = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = column(row, "name")?;
        let attributes = attributes_of(&mut **tx, &name).await?;
        groups.push(group_from_row(row, attributes)?);
    }
    Ok(groups)
}

#[async_trait]
impl ThingGroupStore for SqliteStore {
    async fn insert_thing_group(
        &self,
        group: &ThingGroup,
    ) -> Result<Inserted<ThingGroup>, StoreError> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO thing_groups (name, id, parent, description, version, created) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&group.name)
        .bind(&group.id)
        .bind(&group.parent)
        .bind(&group.description)
        .bind(group.version)
        .bind(group.created.0)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if inserted == 0 {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM thing_groups WHERE name = $1"
            )))
            .bind(&group.name)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
            let attributes = attributes_of(&mut *tx, &group.name).await?;
            return group_from_row(&row, attributes).map(Inserted::Exists);
        }
        write_attributes(&mut tx, &group.name, &group.attributes).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Inserted::Created)
    }

    async fn thing_group(&self, name: &str) -> Result<Option<ThingGroup>, StoreError> {
        // Fix (conformance suite, groups::reads_are_consistent): the row and its attributes
        // are read in one transaction, so from one snapshot. Read separately, a replace
        // committing in between gave one version's row with another's attributes.
        let mut tx = self.pool().begin().await.map_err(backend)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM thing_groups WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let group = match row {
            Some(row) => {
                let attributes = attributes_of(&mut *tx, name).await?;
                group_from_row(&row, attributes).map(Some)
            }
            None => Ok(None),
        };
        tx.commit().await.map_err(backend)?;
        group
    }

    async fn replace_thing_group(
        &self,
        group: &ThingGroup,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let updated =
            sqlx::query("UPDATE thing_groups SET description = $1, version = $2 WHERE name = $3 AND version = $4")
                .bind(&group.description)
                .bind(group.version)
                .bind(&group.name)
                .bind(expected_version)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        write_attributes(&mut tx, &group.name, &group.attributes).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn delete_thing_group(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM thing_groups WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn list_thing_groups(
        &self,
        parent: Option<&str>,
        name_prefix: Option<&str>,
        recursive: bool,
        page: &PageRequest,
    ) -> Result<Page<ThingGroup>, StoreError> {
        let limit = fetch_limit(page);
        let after = page.after.clone().unwrap_or_default();
        let prefix = name_prefix.unwrap_or_default().to_owned();
        let prefix_clause = "substr(name, 1, length($3)) = $3";
        let query = match parent {
            Some(parent) if recursive => sqlx::query(sqlx::AssertSqlSafe(format!(
                "{TREE} SELECT {COLUMNS} FROM thing_groups WHERE name IN (SELECT name FROM tree) AND name <> $1 \
                 AND name > $2 AND {prefix_clause} ORDER BY name LIMIT {limit}"
            )))
            .bind(parent.to_owned()),
            Some(parent) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM thing_groups WHERE parent = $1 AND name > $2 AND {prefix_clause} \
                 ORDER BY name LIMIT {limit}"
            )))
            .bind(parent.to_owned()),
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM thing_groups WHERE $1 = $1 AND name > $2 AND {prefix_clause} \
                 ORDER BY name LIMIT {limit}"
            )))
            .bind(String::new()),
        }
        .bind(after)
        .bind(prefix);
        // Fix (as in `thing_group`): the page and its attributes from one snapshot.
        let mut tx = self.pool().begin().await.map_err(backend)?;
        let rows = query.fetch_all(&mut *tx).await.map_err(backend)?;
        let groups = rows_to_groups(&mut tx, &rows).await?;
        tx.commit().await.map_err(backend)?;
        Ok(paginate(groups, page, |g| g.name.clone()))
    }

    async fn child_groups(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT name FROM thing_groups WHERE parent = $1 ORDER BY name")
            .bind(name)
            .fetch_all(self.pool())
            .await
            .map_err(backend)?;
        rows.iter().map(|row| column(row, "name")).collect()
    }

    async fn add_thing_to_group(&self, group: &str, thing: &str) -> Result<bool, StoreError> {
        let added = sqlx::query(
            "INSERT INTO thing_group_members (thing_group, thing) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(group)
        .bind(thing)
        .execute(self.pool())
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(added > 0)
    }

    async fn remove_thing_from_group(&self, group: &str, thing: &str) -> Result<bool, StoreError> {
        let removed =
            sqlx::query("DELETE FROM thing_group_members WHERE thing_group = $1 AND thing = $2")
                .bind(group)
                .bind(thing)
                .execute(self.pool())
                .await
                .map_err(backend)?
                .rows_affected();
        Ok(removed > 0)
    }

    async fn things_in_group(
        &self,
        group: &str,
        recursive: bool,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        let limit = fetch_limit(page);
        let sql = if recursive {
            format!(
                "{TREE} SELECT DISTINCT thing FROM thing_group_members WHERE thing_group IN (SELECT name FROM tree) \
                 AND thing > $2 ORDER BY thing LIMIT {limit}"
            )
        } else {
            format!(
                "SELECT thing FROM thing_group_members WHERE thing_group = $1 AND thing > $2 ORDER BY thing LIMIT {limit}"
            )
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(group)
            .bind(page.after.clone().unwrap_or_default())
            .fetch_all(self.pool())
            .await
            .map_err(backend)?;
        let things = rows
            .iter()
            .map(|row| column(row, "thing"))
            .collect::<Result<Vec<String>, _>>()?;
        Ok(paginate(things, page, Clone::clone))
    }

    async fn groups_of_thing(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT thing_group FROM thing_group_members WHERE thing = $1 AND thing_group > $2 \
             ORDER BY thing_group LIMIT {}",
            fetch_limit(page)
        )))
        .bind(thing)
        .bind(page.after.clone().unwrap_or_default())
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        let groups = rows
            .iter()
            .map(|row| column(row, "thing_group"))
            .collect::<Result<Vec<String>, _>>()?;
        Ok(paginate(groups, page, Clone::clone))
    }
}
