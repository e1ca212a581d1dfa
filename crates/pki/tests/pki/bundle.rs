//! Tests of `write_client_bundle` and `ensure_private_dir`.

use thingd_pki::{
    BUNDLE_CA_FILE, BUNDLE_CERT_FILE, BUNDLE_KEY_FILE, CertificateAuthority, PkiError,
    ensure_private_dir, write_client_bundle,
};

use crate::mode_of;

#[test]
fn bundle_is_written_with_private_key_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devices").join("thing-1");
    let ca = CertificateAuthority::generate().unwrap();
    let issued = ca.issue_client_certificate("thing-1").unwrap();

    write_client_bundle(&dir, &issued, ca.ca_pem(), false).unwrap();

    assert_eq!(mode_of(&dir), 0o700);
    assert_eq!(mode_of(&tmp.path().join("devices")), 0o700);
    assert_eq!(mode_of(&dir.join(BUNDLE_KEY_FILE)), 0o600);
    let read = |name| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(read(BUNDLE_KEY_FILE), issued.private_key_pem);
    assert_eq!(read(BUNDLE_CERT_FILE), issued.certificate_pem);
    assert_eq!(read(BUNDLE_CA_FILE), ca.ca_pem());

    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [BUNDLE_CA_FILE, BUNDLE_CERT_FILE, BUNDLE_KEY_FILE]);
}

#[test]
fn existing_key_is_kept_unless_overwrite_is_set() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate().unwrap();
    let first = ca.issue_client_certificate("thing-1").unwrap();
    let second = ca.issue_client_certificate("thing-1").unwrap();
    write_client_bundle(tmp.path(), &first, ca.ca_pem(), false).unwrap();

    let err = write_client_bundle(tmp.path(), &second, ca.ca_pem(), false).unwrap_err();
    assert!(matches!(err, PkiError::FileExists { .. }), "{err:?}");
    assert!(err.to_string().contains("key.pem"), "{err}");
    let read = |name| std::fs::read_to_string(tmp.path().join(name)).unwrap();
    assert_eq!(read(BUNDLE_KEY_FILE), first.private_key_pem);
    assert_eq!(read(BUNDLE_CERT_FILE), first.certificate_pem);
    // The refused attempt left no temporary file behind.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 3);

    write_client_bundle(tmp.path(), &second, ca.ca_pem(), true).unwrap();
    assert_eq!(read(BUNDLE_KEY_FILE), second.private_key_pem);
    assert_eq!(read(BUNDLE_CERT_FILE), second.certificate_pem);
    assert_eq!(mode_of(&tmp.path().join(BUNDLE_KEY_FILE)), 0o600);
}

#[test]
fn ensure_private_dir_creates_0700_and_rejects_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("b");
    ensure_private_dir(&dir).unwrap();
    assert_eq!(mode_of(&dir), 0o700);
    // Existing directories are accepted as they are.
    ensure_private_dir(&dir).unwrap();

    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = ensure_private_dir(&file).unwrap_err();
    assert!(matches!(err, PkiError::NotADirectory { .. }), "{err:?}");
    let err = CertificateAuthority::load_or_create(&file).unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
}
