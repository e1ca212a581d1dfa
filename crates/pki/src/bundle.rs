//! Writing a device's certificate, key and CA certificate to a directory (`thingd cert issue`).

use std::path::Path;

use crate::fs::{PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, Replace, ensure_private_dir, write_atomic};
use crate::{IssuedCertificate, PkiError};

/// File name of the device certificate in a client bundle.
pub const BUNDLE_CERT_FILE: &str = "cert.pem";
/// File name of the device private key in a client bundle.
pub const BUNDLE_KEY_FILE: &str = "key.pem";
/// File name of the CA certificate in a client bundle.
pub const BUNDLE_CA_FILE: &str = "ca.pem";

/// Writes `issued` and the CA certificate to `dir` as `cert.pem`, `key.pem` and `ca.pem`: the
/// three files an MQTT client needs for mutual TLS with thingd.
///
/// `dir` is created with mode 0700 if missing. `key.pem` is written atomically with mode 0600;
/// unless `overwrite` is set, an existing `key.pem` is an error and nothing is written, so a
/// device's only copy of its key is never lost to a mistyped path. The certificates are
/// public and simply replaced.
///
/// # Errors
///
/// [`PkiError::FileExists`] if `key.pem` exists and `overwrite` is false; I/O errors naming the
/// file otherwise.
pub fn write_client_bundle(
    dir: &Path,
    issued: &IssuedCertificate,
    ca_pem: &str,
    overwrite: bool,
) -> Result<(), PkiError> {
    ensure_private_dir(dir)?;
    // The key goes first so that the existence check and the write are one atomic step, and
    // a refusal leaves the directory exactly as it was.
    let replace = if overwrite { Replace::Yes } else { Replace::No };
    write_atomic(
        &dir.join(BUNDLE_KEY_FILE),
        issued.private_key_pem.as_bytes(),
        PRIVATE_FILE_MODE,
        replace,
    )?;
    write_atomic(
        &dir.join(BUNDLE_CERT_FILE),
        issued.certificate_pem.as_bytes(),
        PUBLIC_FILE_MODE,
        Replace::Yes,
    )?;
    write_atomic(
        &dir.join(BUNDLE_CA_FILE),
        ca_pem.as_bytes(),
        PUBLIC_FILE_MODE,
        Replace::Yes,
    )
}
