//! Records with name/value attributes in a table of their own (things and thing groups):
//! reading, inserting and replacing a record together with its attributes, in one transaction.

use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, Transaction};
use thingd_registry::{Attributes, Inserted, StoreError};

use super::{SqliteStore, Statement, backend, column, insert_new};

/// A family of records keyed by `name` whose attributes are rows `(owner, name, value)` of
/// another table.
pub(crate) struct Attributed<T> {
    /// What one record is called, in messages.
    pub(crate) noun: &'static str,
    /// The records' table.
    pub(crate) table: &'static str,
    /// The columns `from_row` reads.
    pub(crate) columns: &'static str,
    /// The attributes' table.
    pub(crate) attributes: &'static str,
    /// The column of the attributes' table that holds the record's name.
    pub(crate) owner: &'static str,
    /// The record, from its row and its attributes.
    pub(crate) from_row: fn(&SqliteRow, Attributes) -> Result<T, StoreError>,
}

impl<T> Attributed<T> {
    /// The record with this name and its attributes, read in `tx` (so from one snapshot).
    async fn read(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        name: &str,
    ) -> Result<Option<T>, StoreError> {
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM {} WHERE name = $1",
            self.columns, self.table
        )))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?
        else {
            return Ok(None);
        };
        let attributes = self.read_attributes(tx, name).await?;
        (self.from_row)(&row, attributes).map(Some)
    }

    /// The attributes of the record with this name.
    pub(crate) async fn read_attributes(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        name: &str,
    ) -> Result<Attributes, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name, value FROM {} WHERE {} = $1",
            self.attributes, self.owner
        )))
        .bind(name)
        .fetch_all(&mut **tx)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| Ok((column(row, "name")?, column(row, "value")?)))
            .collect()
    }

    /// Replaces the attributes of the record with this name.
    async fn write_attributes(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        name: &str,
        attributes: &Attributes,
    ) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {} WHERE {} = $1",
            self.attributes, self.owner
        )))
        .bind(name)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        for (attribute, value) in attributes {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {} ({}, name, value) VALUES ($1, $2, $3)",
                self.attributes, self.owner
            )))
            .bind(name)
            .bind(attribute)
            .bind(value)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        }
        Ok(())
    }
}

impl SqliteStore {
    /// The record with this name, with its attributes.
    pub(crate) async fn read_attributed<T>(
        &self,
        family: &Attributed<T>,
        name: &str,
    ) -> Result<Option<T>, StoreError> {
        // Fix (conformance suite, groups::reads_are_consistent): the row and its attributes
        // are read in one transaction, so from one snapshot. Read separately, a replace
        // committing in between gave one version's row with another's attributes.
        let mut tx = self.pool().begin().await.map_err(backend)?;
        let record = family.read(&mut tx, name).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    /// Inserts a record and its attributes unless its name is taken, in one write transaction:
    /// `insert` is an `INSERT ... ON CONFLICT DO NOTHING` of the record's row; when it inserts
    /// nothing, the record that holds the name is read and nothing is written.
    pub(crate) async fn insert_attributed<T>(
        &self,
        family: &Attributed<T>,
        insert: Statement,
        name: &str,
        attributes: &Attributes,
    ) -> Result<Inserted<T>, StoreError> {
        let mut tx = self.write().await?;
        if !insert_new(&mut tx, insert).await? {
            let existing = family.read(&mut tx, name).await?;
            return existing.map(Inserted::Exists).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "{} {name} conflicts but cannot be read",
                    family.noun
                ))
            });
        }
        family.write_attributes(&mut tx, name, attributes).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Inserted::Created)
    }

    /// Replaces a record and its attributes in one write transaction: `update` changes the
    /// record's row if its version is still the expected one; when it changes nothing, nothing
    /// is written and the answer is `false`.
    pub(crate) async fn replace_attributed<T>(
        &self,
        family: &Attributed<T>,
        update: Statement,
        name: &str,
        attributes: &Attributes,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let updated = update
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        family.write_attributes(&mut tx, name, attributes).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }
}
