//! The API's admin access key: created on first start, kept in the store, and written with the
//! region and endpoint into the AWS CLI's two configuration files in the data directory, so that
//! `AWS_SHARED_CREDENTIALS_FILE=<dir>/credentials AWS_CONFIG_FILE=<dir>/aws-config aws iot
//! list-things` works with no other flag.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use thingd_registry::{AccessKey, AccessKeyStore, Inserted, Timestamp};

/// The file of AWS shared credentials (INI) in the data directory.
pub const CREDENTIALS_FILE: &str = "credentials";
/// The AWS CLI configuration file (region and endpoints) in the data directory.
pub const CONFIG_FILE: &str = "aws-config";

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_string(alphabet: &[u8], len: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random source failed"))?;
    // The secret's 64-symbol alphabet divides 256, so each of its characters is uniform. The
    // 36-symbol alphabet of the access key id does not, and its slight modulo bias does not
    // matter for an identifier, which is not secret.
    Ok(bytes
        .iter()
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect())
}

/// A new access key shaped like AWS's (`AKIA` + 16, a 40-character secret).
pub fn new_access_key(user: &str) -> anyhow::Result<AccessKey> {
    Ok(AccessKey {
        access_key_id: format!("AKIA{}", random_string(ALPHANUMERIC, 16)?),
        secret_access_key: random_string(SECRET_ALPHABET, 40)?,
        user: user.to_owned(),
        created: Timestamp::now(),
    })
}

/// The admin key: the first key of user `admin` in the store, created if there is none.
/// Returns the key and whether it was created now.
pub async fn admin_key(store: &dyn AccessKeyStore) -> anyhow::Result<(AccessKey, bool)> {
    if let Some(key) = store
        .access_keys()
        .await?
        .into_iter()
        .find(|k| k.user == "admin")
    {
        return Ok((key, false));
    }
    let key = new_access_key("admin")?;
    match store.insert_access_key(&key).await? {
        Inserted::Created => Ok((key, true)),
        Inserted::Exists(existing) => Ok((existing, false)),
    }
}

/// Writes `credentials` and `aws-config` (both owner-only) for `key`, `region` and the API at
/// `endpoint`; returns their paths.
pub fn write_cli_files(
    data_dir: &Path,
    key: &AccessKey,
    region: &str,
    endpoint: &str,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let credentials = format!(
        "# Written by thingd: the admin access key of its AWS-compatible API.\n[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        key.access_key_id, key.secret_access_key
    );
    // Service-specific endpoints (the `services` section) keep other AWS services untouched:
    // `iot` is the control plane, `iot_data_plane` the data plane (AWS CLI/botocore names).
    let config = format!(
        "# Written by thingd: the region and endpoints of its AWS-compatible API.\n[default]\nregion = {region}\nservices = thingd\n\n[services thingd]\niot =\n  endpoint_url = {endpoint}\niot_data_plane =\n  endpoint_url = {endpoint}\n"
    );
    let credentials_path = data_dir.join(CREDENTIALS_FILE);
    let config_path = data_dir.join(CONFIG_FILE);
    write_private(&credentials_path, credentials.as_bytes())?;
    write_private(&config_path, config.as_bytes())?;
    Ok((credentials_path, config_path))
}

/// Writes a file readable by the owner only, atomically (temporary file, then rename).
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("writing {}", temporary.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
