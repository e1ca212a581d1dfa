//! Static thing groups, their attributes and their members.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, Transaction};
use thingd_registry::{
    Attributes, Inserted, Page, PageRequest, StoreError, ThingGroup, ThingGroupStore, Timestamp,
};

use super::attributes::Attributed;
use super::{SqliteStore, backend, column, fetch_limit, paginate};

const COLUMNS: &str = "name, id, parent, description, version, created";

/// The group and all its descendants, as a recursive common table expression named `tree`
/// (portable: SQLite and PostgreSQL both have `WITH RECURSIVE`).
const TREE: &str = "WITH RECURSIVE tree (name) AS (\
    SELECT name FROM thing_groups WHERE name = $1 \
    UNION SELECT g.name FROM thing_groups g JOIN tree ON g.parent = tree.name)";

/// Groups, with their attributes.
const GROUPS: Attributed<ThingGroup> = Attributed {
    noun: "thing group",
    table: "thing_groups",
    columns: COLUMNS,
    attributes: "thing_group_attributes",
    owner: "thing_group",
    from_row: group_from_row,
};

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

async fn rows_to_groups(
    tx: &mut Transaction<'static, Sqlite>,
    rows: &[SqliteRow],
) -> Result<Vec<ThingGroup>, StoreError> {
    let mut groups = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = column(row, "name")?;
        let attributes = GROUPS.read_attributes(tx, &name).await?;
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
        let insert = sqlx::query(
            "INSERT INTO thing_groups (name, id, parent, description, version, created) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&group.name)
        .bind(&group.id)
        .bind(&group.parent)
        .bind(&group.description)
        .bind(group.version)
        .bind(group.created.0);
        self.insert_attributed(&GROUPS, insert, &group.name, &group.attributes)
            .await
    }

    async fn thing_group(&self, name: &str) -> Result<Option<ThingGroup>, StoreError> {
        self.read_attributed(&GROUPS, name).await
    }

    async fn replace_thing_group(
        &self,
        group: &ThingGroup,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        let update = sqlx::query(
            "UPDATE thing_groups SET description = $1, version = $2 WHERE name = $3 AND version = $4",
        )
        .bind(&group.description)
        .bind(group.version)
        .bind(&group.name)
        .bind(expected_version);
        self.replace_attributed(&GROUPS, update, &group.name, &group.attributes)
            .await
    }

    async fn delete_thing_group(&self, name: &str) -> Result<bool, StoreError> {
        self.changed(sqlx::query("DELETE FROM thing_groups WHERE name = $1").bind(name))
            .await
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
        let query =
            sqlx::query("SELECT name FROM thing_groups WHERE parent = $1 ORDER BY name").bind(name);
        self.fetch_all(query, |row| column(row, "name")).await
    }

    async fn add_thing_to_group(&self, group: &str, thing: &str) -> Result<bool, StoreError> {
        let insert = sqlx::query(
            "INSERT INTO thing_group_members (thing_group, thing) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(group)
        .bind(thing);
        self.changed(insert).await
    }

    async fn remove_thing_from_group(&self, group: &str, thing: &str) -> Result<bool, StoreError> {
        let delete =
            sqlx::query("DELETE FROM thing_group_members WHERE thing_group = $1 AND thing = $2")
                .bind(group)
                .bind(thing);
        self.changed(delete).await
    }

    async fn things_in_group(
        &self,
        group: &str,
        recursive: bool,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        let select = if recursive {
            format!(
                "{TREE} SELECT DISTINCT thing FROM thing_group_members WHERE thing_group IN (SELECT name FROM tree) \
                 AND thing > $2 ORDER BY thing"
            )
        } else {
            String::from(
                "SELECT thing FROM thing_group_members WHERE thing_group = $1 AND thing > $2 ORDER BY thing",
            )
        };
        self.page_after(
            &select,
            group,
            page,
            |row| column(row, "thing"),
            Clone::clone,
        )
        .await
    }

    async fn groups_of_thing(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        self.page_after(
            "SELECT thing_group FROM thing_group_members WHERE thing = $1 AND thing_group > $2 \
             ORDER BY thing_group",
            thing,
            page,
            |row| column(row, "thing_group"),
            Clone::clone,
        )
        .await
    }

    async fn ancestors_of_groups(&self, groups: &[String]) -> Result<Vec<String>, StoreError> {
        // Up the parent chains from the given groups in one recursive query (portable: SQLite
        // and PostgreSQL both have `WITH RECURSIVE`); UNION keeps each group once where chains
        // meet.
        let select = "WITH RECURSIVE up (name, parent) AS (\
             SELECT name, parent FROM thing_groups WHERE name IN ({keys}) \
             UNION SELECT g.name, g.parent FROM thing_groups g JOIN up ON g.name = up.parent) \
             SELECT name FROM up ORDER BY name";
        let names = self
            .fetch_in(select, groups, |row| column::<String>(row, "name"))
            .await?;
        // Several chunks of `groups` may reach the same ancestors.
        Ok(names
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect())
    }
}
