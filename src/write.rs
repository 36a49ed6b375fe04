//! Atomic writes: a temporary file in the same directory, renamed over the
//! target, keeping the target's permissions. Nothing is left behind on error.
//! [`Staged`] splits the write in two: the synced temporary file first, the
//! rename when the caller decides.
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Replace `path` with `bytes` atomically (following a symlink to its target).
/// A target that exists but is not a regular file (`/dev/null`, a FIFO, a
/// terminal) is written in place: renaming over it would replace the device.
pub fn atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    Staged::new(path, bytes)?.commit()
}

/// A write made ready but not yet visible: the bytes are in a synced
/// temporary file beside the target, with the target's permissions. Only
/// [`Staged::commit`] puts it in place; dropped, it leaves nothing behind.
/// (So a big result can be written and synced while it is still being
/// checked, and kept only if the check passes.)
#[derive(Debug)]
pub struct Staged {
    how: How,
}

#[derive(Debug)]
enum How {
    /// Rename the temporary file over the target.
    Rename {
        tmp: tempfile::NamedTempFile,
        target: PathBuf,
    },
    /// Write into the existing special file (nothing is written before
    /// the commit).
    InPlace { target: PathBuf, bytes: Vec<u8> },
}

impl Staged {
    /// Stage `bytes` for `path` (see [`atomic`] for symlinks and special files).
    pub fn new(path: &Path, bytes: &[u8]) -> std::io::Result<Staged> {
        let target = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)?,
            _ => path.to_path_buf(),
        };
        let existing = std::fs::metadata(&target).ok();
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            if existing.as_ref().is_some_and(|m| m.is_dir()) {
                return Err(std::io::Error::other("is a directory"));
            }
            return Ok(Staged {
                how: How::InPlace {
                    target,
                    bytes: bytes.to_vec(),
                },
            });
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".kubectl-tingyun-")
            .suffix(".tmp")
            .tempfile_in(&dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        match existing {
            Some(meta) => std::fs::set_permissions(tmp.path(), meta.permissions())?,
            // a new file gets the usual mode, not the temporary file's 0600
            None => set_new_file_mode(tmp.path())?,
        }
        Ok(Staged {
            how: How::Rename { tmp, target },
        })
    }

    /// Put the staged bytes in place.
    pub fn commit(self) -> std::io::Result<()> {
        match self.how {
            How::Rename { tmp, target } => {
                tmp.persist(&target).map_err(|e| e.error)?;
                Ok(())
            }
            How::InPlace { target, bytes } => std::fs::OpenOptions::new()
                .write(true)
                .open(&target)?
                .write_all(&bytes),
        }
    }
}

#[cfg(unix)]
fn set_new_file_mode(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_new_file_mode(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn keeps_mode_and_leaves_no_temp_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.yaml");
        std::fs::write(&f, "old").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        atomic(&f, b"new").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_0644_and_special_files_are_written_not_replaced() {
        use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("new.yaml");
        atomic(&f, b"x").unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let null = Path::new("/dev/null");
        atomic(null, b"discarded").unwrap();
        assert!(
            std::fs::metadata(null)
                .unwrap()
                .file_type()
                .is_char_device()
        );
        assert!(atomic(dir.path(), b"x").is_err());
    }

    /// A staged write is invisible until committed, and a dropped one
    /// leaves the target and the directory as they were.
    #[test]
    fn staged_writes_show_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.yaml");
        std::fs::write(&f, "old").unwrap();
        let staged = Staged::new(&f, b"new").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"old");
        drop(staged);
        assert_eq!(std::fs::read(&f).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let staged = Staged::new(&f, b"new").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        staged.commit().unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
