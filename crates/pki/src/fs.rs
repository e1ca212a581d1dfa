//! File-system helpers that keep private keys private: 0700 directories and atomic 0600 files.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::PkiError;
use crate::util::random_bytes;

/// Permission bits for files holding private keys: owner read/write only.
pub(crate) const PRIVATE_FILE_MODE: u32 = 0o600;
/// Permission bits for certificates, which are public by nature.
pub(crate) const PUBLIC_FILE_MODE: u32 = 0o644;
/// Permission bits for directories this crate creates.
pub(crate) const PRIVATE_DIR_MODE: u32 = 0o700;

/// Makes sure `dir` exists as a directory, creating it (and any missing parents) with mode 0700.
///
/// An existing directory is left as it is, permissions included: it may be a directory the
/// user chose and shares on purpose, and the key files inside are 0600 regardless.
///
/// # Errors
///
/// [`PkiError::NotADirectory`] if `dir` exists but is something else, [`PkiError::Io`] if it
/// cannot be inspected or created.
pub fn ensure_private_dir(dir: &Path) -> Result<(), PkiError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(PkiError::NotADirectory {
            path: dir.to_path_buf(),
        }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => DirBuilder::new()
            .recursive(true)
            .mode(PRIVATE_DIR_MODE)
            .create(dir)
            .map_err(|source| io_error("create directory", dir, source)),
        Err(source) => Err(io_error("inspect", dir, source)),
    }
}

/// Whether [`write_atomic`] may replace a file that already exists at the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replace {
    /// Replace an existing file (via `rename`).
    Yes,
    /// Fail with `AlreadyExists` if the destination exists (via `link`, which is atomic and
    /// never clobbers, so two processes racing to create the same file cannot both win).
    No,
}

/// Writes `contents` to `path` so that readers see either the old file or the complete new one.
///
/// The data goes to a uniquely named temporary file in the same directory, created with `mode`
/// from the start (so a key is never readable by others, even for an instant), flushed to disk,
/// and then moved into place.
pub(crate) fn write_atomic(
    path: &Path,
    contents: &[u8],
    mode: u32,
    replace: Replace,
) -> Result<(), PkiError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let (tmp_path, mut file) = create_temp(dir, &name, mode)?;
    let result = fill_and_publish(&tmp_path, &mut file, path, contents, replace);
    drop(file);
    // The temporary name is gone after a successful rename; after a link, or after a failure,
    // it still exists and must not be left behind holding key material. (After the no-link
    // fallback's rename, removing it is a harmless no-op.)
    if result.is_err() || replace == Replace::No {
        let _ = fs::remove_file(&tmp_path);
    }
    result?;

    // Syncing the directory makes the new directory entry durable. It is best effort: some
    // file systems refuse to open or sync directories, and the data itself is already synced.
    if let Ok(dir_handle) = File::open(dir) {
        let _ = dir_handle.sync_all();
    }
    Ok(())
}

/// Creates a fresh temporary file next to the destination, retrying on name collisions.
fn create_temp(dir: &Path, name: &str, mode: u32) -> Result<(PathBuf, File), PkiError> {
    let mut last_err = None;
    for _ in 0..8 {
        let suffix = hex::encode(random_bytes::<8>()?);
        let tmp_path = dir.join(format!(".{name}.{suffix}.tmp"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp_path)
        {
            Ok(file) => return Ok((tmp_path, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last_err = Some(err),
            Err(source) => return Err(io_error("create", &tmp_path, source)),
        }
    }
    Err(io_error(
        "create a temporary file in",
        dir,
        last_err.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)),
    ))
}

fn fill_and_publish(
    tmp_path: &Path,
    file: &mut File,
    dest: &Path,
    contents: &[u8],
    replace: Replace,
) -> Result<(), PkiError> {
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error("write", tmp_path, source))?;
    match replace {
        Replace::Yes => {
            fs::rename(tmp_path, dest).map_err(|source| io_error("write", dest, source))
        }
        Replace::No => match fs::hard_link(tmp_path, dest) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Err(PkiError::FileExists {
                path: dest.to_path_buf(),
            }),
            // Some file systems (FAT, certain FUSE and network mounts) have no hard links. There
            // the check and the rename are two steps with a tiny race window, which is still
            // far better than failing outright.
            Err(_) => {
                if dest
                    .try_exists()
                    .map_err(|source| io_error("inspect", dest, source))?
                {
                    return Err(PkiError::FileExists {
                        path: dest.to_path_buf(),
                    });
                }
                fs::rename(tmp_path, dest).map_err(|source| io_error("write", dest, source))
            }
        },
    }
}

/// Reads a whole file, or returns `None` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, PkiError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(io_error("read", path, source)),
    }
}

pub(crate) fn io_error(action: &'static str, path: &Path, source: io::Error) -> PkiError {
    PkiError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
