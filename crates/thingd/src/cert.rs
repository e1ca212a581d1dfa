//! `thingd cert issue`: issues a device certificate from the data directory's CA into a folder.
//!
//! This stands in until the AWS-compatible CreateKeysAndCertificate API exists; it reads the CA
//! key from the data directory, so it runs on the machine that runs thingd.

use std::path::Path;

use anyhow::Context;
use thingd_pki::{CertificateAuthority, write_client_bundle};

/// Issues a certificate for `name` signed by the CA in `data_dir` and writes `cert.pem`,
/// `key.pem` (owner-only) and `ca.pem` into `out`; returns the certificate id.
pub fn issue(data_dir: &Path, name: &str, out: &Path, overwrite: bool) -> anyhow::Result<String> {
    let ca = CertificateAuthority::load_or_create(data_dir).with_context(|| {
        format!(
            "opening the certificate authority in {}",
            data_dir.display()
        )
    })?;
    let issued = ca
        .issue_client_certificate(name)
        .context("issuing the certificate")?;
    write_client_bundle(out, &issued, ca.ca_pem(), overwrite)
        .with_context(|| format!("writing the certificate into {}", out.display()))?;
    Ok(issued.certificate_id.clone())
}
