//! `thingd cert issue`: issues a device certificate from the data directory's CA into a folder
//! and registers it, ACTIVE, in the registry.
//!
//! This reads the CA key and the database of the data directory, so it runs on the machine that
//! runs thingd; over the network, the AWS-compatible CreateKeysAndCertificate does the same.

use std::path::Path;

use anyhow::Context;
use thingd_pki::{CertificateAuthority, write_client_bundle};
use thingd_registry::{CertificateStatus, CertificateStore};
use thingd_storage::SqliteStore;

/// Issues a certificate for `name` signed by the CA in `data_dir`, registers it as ACTIVE, and
/// writes `cert.pem`, `key.pem` (owner-only) and `ca.pem` into `out`; returns the certificate id.
pub async fn issue(
    data_dir: &Path,
    name: &str,
    out: &Path,
    overwrite: bool,
) -> anyhow::Result<String> {
    let ca = CertificateAuthority::load_or_create(data_dir).with_context(|| {
        format!(
            "opening the certificate authority in {}",
            data_dir.display()
        )
    })?;
    let issued = ca
        .issue_client_certificate(name)
        .context("issuing the certificate")?;
    let database = data_dir.join(crate::serve::DATABASE_FILE);
    let store = SqliteStore::open(&database)
        .await
        .with_context(|| format!("opening the database {}", database.display()))?;
    let record = thingd_api::records::certificate_record(
        &issued.certificate_pem,
        &issued.certificate_der,
        CertificateStatus::Active,
        None,
    )
    .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    write_client_bundle(out, &issued, ca.ca_pem(), overwrite)
        .with_context(|| format!("writing the certificate into {}", out.display()))?;
    store
        .insert_certificate(&record)
        .await
        .context("registering the certificate")?;
    Ok(issued.certificate_id.clone())
}
