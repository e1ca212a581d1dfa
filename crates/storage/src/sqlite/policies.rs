//! Policies, their versions and their attachments to targets.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use thingd_registry::{
    AttachedPolicy, DeletedPolicy, DeletedPolicyVersion, Inserted, NewPolicyVersion, Page,
    PageRequest, Policy, PolicyStore, PolicyVersion, StoreError, Timestamp,
};

use super::{SqliteStore, Statement, backend, column, fetch_limit, insert_new};

const COLUMNS: &str = "name, default_version_id, created, last_modified, generation_id";
const VERSION_COLUMNS: &str = "policy, version_id, document, created";

/// Policies joined with their default version: the policy's columns as in [`COLUMNS`], the
/// version's document and creation time as `document` and `version_created`.
const WITH_DEFAULT_VERSION: &str = "SELECT p.name, p.default_version_id, p.created, p.last_modified, p.generation_id, \
     v.document, v.created AS version_created \
     FROM policies p JOIN policy_versions v ON v.policy = p.name AND v.version_id = p.default_version_id";

fn policy_from_row(row: &SqliteRow) -> Result<Policy, StoreError> {
    Ok(Policy {
        name: column(row, "name")?,
        default_version_id: column(row, "default_version_id")?,
        created: Timestamp(column(row, "created")?),
        last_modified: Timestamp(column(row, "last_modified")?),
        generation_id: column(row, "generation_id")?,
    })
}

fn version_from_row(row: &SqliteRow) -> Result<PolicyVersion, StoreError> {
    Ok(PolicyVersion {
        policy_name: column(row, "policy")?,
        version_id: column(row, "version_id")?,
        document: column(row, "document")?,
        created: Timestamp(column(row, "created")?),
    })
}

/// A row of [`WITH_DEFAULT_VERSION`].
fn with_default_version_from_row(row: &SqliteRow) -> Result<(Policy, PolicyVersion), StoreError> {
    let policy = policy_from_row(row)?;
    let version = PolicyVersion {
        policy_name: policy.name.clone(),
        version_id: policy.default_version_id,
        document: column(row, "document")?,
        created: Timestamp(column(row, "version_created")?),
    };
    Ok((policy, version))
}

/// Policies with their default version, each once, in name order, whatever order and
/// repetitions the rows of several queries came in.
fn by_name(rows: Vec<(Policy, PolicyVersion)>) -> Vec<(Policy, PolicyVersion)> {
    rows.into_iter()
        .map(|(policy, version)| (policy.name.clone(), (policy, version)))
        .collect::<BTreeMap<_, _>>()
        .into_values()
        .collect()
}

fn select_policy(name: &str) -> Statement {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM policies WHERE name = $1"
    )))
    .bind(name.to_owned())
}

/// A fresh generation id: a policy's changes are told apart by it, as by AWS's `generationId`.
fn generation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A caller's limit as the database counts.
fn limit(max: usize) -> i64 {
    i64::try_from(max).unwrap_or(i64::MAX)
}

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn insert_policy(
        &self,
        policy: &Policy,
        document: &str,
    ) -> Result<Inserted<Policy>, StoreError> {
        let mut tx = self.write().await?;
        let insert = sqlx::query(
            "INSERT INTO policies (name, default_version_id, next_version_id, created, last_modified, generation_id) \
             VALUES ($1, 1, 2, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(policy.name.clone())
        .bind(policy.created.0)
        .bind(policy.last_modified.0)
        .bind(policy.generation_id.clone());
        if !insert_new(&mut tx, insert).await? {
            // Nothing is written: the transaction rolls back when dropped.
            let row = select_policy(&policy.name)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
            return policy_from_row(&row).map(Inserted::Exists);
        }
        sqlx::query(
            "INSERT INTO policy_versions (policy, version_id, document, created) VALUES ($1, 1, $2, $3)",
        )
        .bind(&policy.name)
        .bind(document)
        .bind(policy.created.0)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Inserted::Created)
    }

    async fn policy(&self, name: &str) -> Result<Option<Policy>, StoreError> {
        self.fetch_optional(select_policy(name), policy_from_row)
            .await
    }

    async fn list_policies(&self, page: &PageRequest) -> Result<Page<Policy>, StoreError> {
        let limit = fetch_limit(page);
        let query = match (&page.after, page.ascending) {
            (after, true) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM policies WHERE name > $1 ORDER BY name LIMIT {limit}"
            )))
            .bind(after.clone().unwrap_or_default()),
            (Some(after), false) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM policies WHERE name < $1 ORDER BY name DESC LIMIT {limit}"
            )))
            .bind(after.clone()),
            // Descending from the end: no bound, since no string is above every name.
            (None, false) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM policies ORDER BY name DESC LIMIT {limit}"
            ))),
        };
        self.fetch_page(query, page, policy_from_row, |p| p.name.clone())
            .await
    }

    async fn policy_version(
        &self,
        name: &str,
        version_id: i64,
    ) -> Result<Option<PolicyVersion>, StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM policy_versions WHERE policy = $1 AND version_id = $2"
        )))
        .bind(name.to_owned())
        .bind(version_id);
        self.fetch_optional(query, version_from_row).await
    }

    async fn policy_versions(&self, name: &str) -> Result<Vec<PolicyVersion>, StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM policy_versions WHERE policy = $1 ORDER BY version_id"
        )))
        .bind(name.to_owned());
        self.fetch_all(query, version_from_row).await
    }

    async fn insert_policy_version(
        &self,
        name: &str,
        document: &str,
        set_as_default: bool,
        max_versions: usize,
        now: Timestamp,
    ) -> Result<NewPolicyVersion, StoreError> {
        // The count and the insert in one write transaction: a concurrent insert waits for the
        // write lock and then counts this one, so the limit holds.
        let mut tx = self.write().await?;
        let row = sqlx::query(
            "SELECT next_version_id, (SELECT COUNT(*) FROM policy_versions WHERE policy = $1) AS versions \
             FROM policies WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(NewPolicyVersion::PolicyMissing);
        };
        let version_id: i64 = column(&row, "next_version_id")?;
        let versions: i64 = column(&row, "versions")?;
        if versions >= limit(max_versions) {
            return Ok(NewPolicyVersion::LimitExceeded);
        }
        sqlx::query(
            "INSERT INTO policy_versions (policy, version_id, document, created) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(version_id)
        .bind(document)
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let update = if set_as_default {
            sqlx::query(
                "UPDATE policies SET next_version_id = $1, default_version_id = $2, last_modified = $3, \
                 generation_id = $4 WHERE name = $5",
            )
            .bind(version_id + 1)
            .bind(version_id)
            .bind(now.0)
            .bind(generation_id())
        } else {
            sqlx::query("UPDATE policies SET next_version_id = $1 WHERE name = $2")
                .bind(version_id + 1)
        };
        update.bind(name).execute(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(NewPolicyVersion::Created(PolicyVersion {
            policy_name: name.to_owned(),
            version_id,
            document: document.to_owned(),
            created: now,
        }))
    }

    async fn set_default_policy_version(
        &self,
        name: &str,
        version_id: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        // One statement, so the version cannot be deleted between the check and the update.
        let update = sqlx::query(
            "UPDATE policies SET default_version_id = $1, last_modified = $2, generation_id = $3 \
             WHERE name = $4 AND EXISTS \
             (SELECT 1 FROM policy_versions WHERE policy = $4 AND version_id = $1)",
        )
        .bind(version_id)
        .bind(now.0)
        .bind(generation_id())
        .bind(name.to_owned());
        self.changed(update).await
    }

    async fn delete_policy_version(
        &self,
        name: &str,
        version_id: i64,
    ) -> Result<DeletedPolicyVersion, StoreError> {
        // In a write transaction, so the version cannot become the default in between.
        let mut tx = self.write().await?;
        let default: Option<i64> =
            sqlx::query_scalar("SELECT default_version_id FROM policies WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        match default {
            None => return Ok(DeletedPolicyVersion::Missing),
            Some(default) if default == version_id => return Ok(DeletedPolicyVersion::IsDefault),
            Some(_) => {}
        }
        let deleted =
            sqlx::query("DELETE FROM policy_versions WHERE policy = $1 AND version_id = $2")
                .bind(name)
                .bind(version_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(if deleted > 0 {
            DeletedPolicyVersion::Deleted
        } else {
            DeletedPolicyVersion::Missing
        })
    }

    async fn delete_policy(&self, name: &str) -> Result<DeletedPolicy, StoreError> {
        // The checks and the delete in one write transaction: an attach or a new version waits
        // for the write lock, then finds the policy gone.
        let mut tx = self.write().await?;
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM policy_targets WHERE policy = $1) AS targets, \
             (SELECT COUNT(*) FROM policy_versions WHERE policy = $1) AS versions \
             FROM policies WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(DeletedPolicy::Missing);
        };
        if column::<i64>(&row, "targets")? > 0 {
            return Ok(DeletedPolicy::Attached);
        }
        if column::<i64>(&row, "versions")? > 1 {
            return Ok(DeletedPolicy::HasVersions);
        }
        // Its default version goes with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM policies WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(DeletedPolicy::Deleted)
    }

    async fn attach_policy(
        &self,
        name: &str,
        target: &str,
        max_per_target: usize,
    ) -> Result<AttachedPolicy, StoreError> {
        // The count and the insert in one write transaction, so concurrent attaches to one
        // target never exceed its limit.
        let mut tx = self.write().await?;
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM policy_targets WHERE policy = $1 AND target = $2) AS attached, \
             (SELECT COUNT(*) FROM policy_targets WHERE target = $2) AS attachments \
             FROM policies WHERE name = $1",
        )
        .bind(name)
        .bind(target)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(AttachedPolicy::PolicyMissing);
        };
        // Attaching again is answered before the limit: it adds nothing, so a target at its
        // limit may still be told its policy is attached.
        if column::<i64>(&row, "attached")? > 0 {
            return Ok(AttachedPolicy::AlreadyAttached);
        }
        if column::<i64>(&row, "attachments")? >= limit(max_per_target) {
            return Ok(AttachedPolicy::LimitExceeded);
        }
        sqlx::query("INSERT INTO policy_targets (policy, target) VALUES ($1, $2)")
            .bind(name)
            .bind(target)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(AttachedPolicy::Attached)
    }

    async fn detach_policy(&self, name: &str, target: &str) -> Result<bool, StoreError> {
        let delete = sqlx::query("DELETE FROM policy_targets WHERE policy = $1 AND target = $2")
            .bind(name.to_owned())
            .bind(target.to_owned());
        self.changed(delete).await
    }

    async fn detach_all_policies(&self, target: &str) -> Result<Vec<String>, StoreError> {
        // One statement: the names returned are exactly those this delete removed, even if
        // attachments race with it. RETURNING gives no order, hence the sort.
        let delete = sqlx::query("DELETE FROM policy_targets WHERE target = $1 RETURNING policy")
            .bind(target.to_owned());
        let mut names = self
            .fetch_all(delete, |row| column::<String>(row, "policy"))
            .await?;
        names.sort();
        Ok(names)
    }

    async fn policies_of_target(
        &self,
        target: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        self.page_after(
            "SELECT policy FROM policy_targets WHERE target = $1 AND policy > $2 ORDER BY policy",
            target,
            page,
            |row| column(row, "policy"),
            Clone::clone,
        )
        .await
    }

    async fn targets_of_policy(
        &self,
        name: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        self.page_after(
            "SELECT target FROM policy_targets WHERE policy = $1 AND target > $2 ORDER BY target",
            name,
            page,
            |row| column(row, "target"),
            Clone::clone,
        )
        .await
    }

    async fn attached_policies(
        &self,
        targets: &[String],
    ) -> Result<Vec<(Policy, PolicyVersion)>, StoreError> {
        let select = format!(
            "{WITH_DEFAULT_VERSION} WHERE p.name IN \
             (SELECT policy FROM policy_targets WHERE target IN ({{keys}})) ORDER BY p.name"
        );
        let rows = self
            .fetch_in(&select, targets, with_default_version_from_row)
            .await?;
        Ok(by_name(rows))
    }

    async fn policies_with_default_versions(
        &self,
        names: &[String],
    ) -> Result<Vec<(Policy, PolicyVersion)>, StoreError> {
        let select = format!("{WITH_DEFAULT_VERSION} WHERE p.name IN ({{keys}}) ORDER BY p.name");
        let rows = self
            .fetch_in(&select, names, with_default_version_from_row)
            .await?;
        Ok(by_name(rows))
    }
}
