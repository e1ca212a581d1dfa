//! Device certificates and CA certificates.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use thingd_registry::{
    CaCertificate, CaStatus, Certificate, CertificateStatus, CertificateStore, Inserted, Page,
    PageRequest, StoreError, Timestamp,
};

use super::{SqliteStore, Statement, column, fetch_limit};

const CERT_COLUMNS: &str = "id, pem, ca_certificate_id, status, not_before, not_after, created, last_modified, version, generation_id";
const CA_COLUMNS: &str = "id, pem, status, auto_registration, not_before, not_after, created, last_modified, version, generation_id";

fn certificate_from_row(row: &SqliteRow) -> Result<Certificate, StoreError> {
    let status: String = column(row, "status")?;
    Ok(Certificate {
        id: column(row, "id")?,
        pem: column(row, "pem")?,
        ca_certificate_id: column(row, "ca_certificate_id")?,
        status: CertificateStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("certificate status {status}")))?,
        not_before: Timestamp(column(row, "not_before")?),
        not_after: Timestamp(column(row, "not_after")?),
        created: Timestamp(column(row, "created")?),
        last_modified: Timestamp(column(row, "last_modified")?),
        version: column(row, "version")?,
        generation_id: column(row, "generation_id")?,
    })
}

fn ca_from_row(row: &SqliteRow) -> Result<CaCertificate, StoreError> {
    let status: String = column(row, "status")?;
    let auto_registration: i64 = column(row, "auto_registration")?;
    Ok(CaCertificate {
        id: column(row, "id")?,
        pem: column(row, "pem")?,
        status: CaStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("CA status {status}")))?,
        auto_registration: auto_registration != 0,
        not_before: Timestamp(column(row, "not_before")?),
        not_after: Timestamp(column(row, "not_after")?),
        created: Timestamp(column(row, "created")?),
        last_modified: Timestamp(column(row, "last_modified")?),
        version: column(row, "version")?,
        generation_id: column(row, "generation_id")?,
    })
}

/// A page token for lists ordered by (created, id): `"{created}:{id}"`.
fn token(created: Timestamp, id: &str) -> String {
    format!("{}:{id}", created.0)
}

/// The (created, id) a token stands for; `None` for no token, an error for a malformed one
/// (treated as the start, since tokens are opaque and an unknown one cannot mean anything else).
fn after(page: &PageRequest) -> Option<(i64, String)> {
    let text = page.after.as_deref()?;
    let (created, id) = text.split_once(':')?;
    Some((created.parse().ok()?, id.to_owned()))
}

/// The WHERE and ORDER BY of a (created, id)-ordered page whose bounds are `$n` and `$n+1`.
fn keyset(page: &PageRequest, first_param: usize) -> (String, String) {
    let (op, order) = if page.ascending {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    let a = first_param;
    let b = first_param + 1;
    (
        format!("(created {op} ${a} OR (created = ${a} AND id {op} ${b}))"),
        format!(
            "ORDER BY created {order}, id {order} LIMIT {}",
            fetch_limit(page)
        ),
    )
}

fn bounds(page: &PageRequest) -> (i64, String) {
    match after(page) {
        Some(bounds) => bounds,
        None if page.ascending => (i64::MIN, String::new()),
        // Descending from the end: a key above every real one.
        None => (i64::MAX, String::from("\u{10FFFF}")),
    }
}

fn select_certificate(id: &str) -> Statement {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE id = $1"
    )))
    .bind(id)
}

fn select_ca(id: &str) -> Statement {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CA_COLUMNS} FROM ca_certificates WHERE id = $1"
    )))
    .bind(id)
}

#[async_trait]
impl CertificateStore for SqliteStore {
    async fn insert_certificate(
        &self,
        certificate: &Certificate,
    ) -> Result<Inserted<Certificate>, StoreError> {
        let insert = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO certificates ({CERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO NOTHING"
        )))
        .bind(&certificate.id)
        .bind(&certificate.pem)
        .bind(&certificate.ca_certificate_id)
        .bind(certificate.status.as_str())
        .bind(certificate.not_before.0)
        .bind(certificate.not_after.0)
        .bind(certificate.created.0)
        .bind(certificate.last_modified.0)
        .bind(certificate.version)
        .bind(&certificate.generation_id);
        self.insert_if_absent(
            insert,
            select_certificate(&certificate.id),
            certificate_from_row,
        )
        .await
    }

    async fn certificate(&self, id: &str) -> Result<Option<Certificate>, StoreError> {
        self.fetch_optional(select_certificate(id), certificate_from_row)
            .await
    }

    async fn replace_certificate(
        &self,
        certificate: &Certificate,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        let update = sqlx::query(
            "UPDATE certificates SET status = $1, ca_certificate_id = $2, last_modified = $3, version = $4, \
             generation_id = $5 WHERE id = $6 AND version = $7",
        )
        .bind(certificate.status.as_str())
        .bind(&certificate.ca_certificate_id)
        .bind(certificate.last_modified.0)
        .bind(certificate.version)
        .bind(&certificate.generation_id)
        .bind(&certificate.id)
        .bind(expected_version);
        self.changed(update).await
    }

    async fn delete_certificate(&self, id: &str) -> Result<bool, StoreError> {
        self.changed(sqlx::query("DELETE FROM certificates WHERE id = $1").bind(id))
            .await
    }

    async fn list_certificates(
        &self,
        ca: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Certificate>, StoreError> {
        let (created, id) = bounds(page);
        let query = match ca {
            Some(ca) => {
                let (condition, order) = keyset(page, 2);
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {CERT_COLUMNS} FROM certificates WHERE ca_certificate_id = $1 AND {condition} {order}"
                )))
                .bind(ca.to_owned())
            }
            None => {
                let (condition, order) = keyset(page, 1);
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {CERT_COLUMNS} FROM certificates WHERE {condition} {order}"
                )))
            }
        }
        .bind(created)
        .bind(id);
        self.fetch_page(query, page, certificate_from_row, |c| {
            token(c.created, &c.id)
        })
        .await
    }

    async fn insert_ca_certificate(
        &self,
        ca: &CaCertificate,
    ) -> Result<Inserted<CaCertificate>, StoreError> {
        let insert = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO ca_certificates ({CA_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO NOTHING"
        )))
        .bind(&ca.id)
        .bind(&ca.pem)
        .bind(ca.status.as_str())
        .bind(i64::from(ca.auto_registration))
        .bind(ca.not_before.0)
        .bind(ca.not_after.0)
        .bind(ca.created.0)
        .bind(ca.last_modified.0)
        .bind(ca.version)
        .bind(&ca.generation_id);
        self.insert_if_absent(insert, select_ca(&ca.id), ca_from_row)
            .await
    }

    async fn ca_certificate(&self, id: &str) -> Result<Option<CaCertificate>, StoreError> {
        self.fetch_optional(select_ca(id), ca_from_row).await
    }

    async fn replace_ca_certificate(
        &self,
        ca: &CaCertificate,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        let update = sqlx::query(
            "UPDATE ca_certificates SET status = $1, auto_registration = $2, last_modified = $3, version = $4, \
             generation_id = $5 WHERE id = $6 AND version = $7",
        )
        .bind(ca.status.as_str())
        .bind(i64::from(ca.auto_registration))
        .bind(ca.last_modified.0)
        .bind(ca.version)
        .bind(&ca.generation_id)
        .bind(&ca.id)
        .bind(expected_version);
        self.changed(update).await
    }

    async fn delete_ca_certificate(&self, id: &str) -> Result<bool, StoreError> {
        self.changed(sqlx::query("DELETE FROM ca_certificates WHERE id = $1").bind(id))
            .await
    }

    async fn list_ca_certificates(
        &self,
        page: &PageRequest,
    ) -> Result<Page<CaCertificate>, StoreError> {
        let (created, id) = bounds(page);
        let (condition, order) = keyset(page, 1);
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CA_COLUMNS} FROM ca_certificates WHERE {condition} {order}"
        )))
        .bind(created)
        .bind(id);
        self.fetch_page(query, page, ca_from_row, |c| token(c.created, &c.id))
            .await
    }
}
