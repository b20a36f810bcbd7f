//! Reading a store: its bytes through one descriptor, with the identity of the file they came
//! from (device, inode, size, times), and telling later whether a path still names that file.
//! A round reads here, refusing a symlink it would have to rename over; a read-only snapshot
//! follows it.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::StoreError;

/// What identifies the exact file we read: a rename by anyone gives a new inode, an in-place
/// write changes size or mtime/ctime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl FileIdentity {
    pub fn of(meta: &Metadata) -> Self {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Whether `path` still names the very file described by `expected` (not following a
/// symlink that might have appeared in its place). A vanished file counts as changed.
pub fn still_same_file(path: &Path, expected: &FileIdentity) -> io::Result<bool> {
    is_same(fs::symlink_metadata(path), expected)
}

/// Like [`still_same_file`] but following symlinks, for read-only snapshots that were read
/// through a symlinked store path.
pub fn still_same_target(path: &Path, expected: &FileIdentity) -> io::Result<bool> {
    is_same(fs::metadata(path), expected)
}

fn is_same(meta: io::Result<Metadata>, expected: &FileIdentity) -> io::Result<bool> {
    match meta {
        Ok(meta) => Ok(meta.is_file() && FileIdentity::of(&meta) == *expected),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The store's bytes plus what we need to replace it faithfully.
pub(crate) struct StoreFile {
    pub bytes: Vec<u8>,
    pub identity: FileIdentity,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Kept open until the round ends so the inode we read cannot be freed and reused by a
    /// writer's new file: an equal inode number then really is the same file.
    _handle: File,
}

/// Read the store. With `follow_symlink` false a symlink is refused: renaming over it would
/// replace the link with a plain file. Identity comes from the descriptor we read through,
/// so it describes exactly those bytes (or something older, which only causes a redo).
pub(crate) fn read_store(path: &Path, follow_symlink: bool) -> Result<StoreFile, StoreError> {
    let mut flags = libc::O_NONBLOCK; // a FIFO planted at the path must not hang us
    if !follow_symlink {
        flags |= libc::O_NOFOLLOW;
    }
    let mut file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StoreError::NotFound { path: path.into() });
        }
        Err(e) if !follow_symlink && e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(symlink_refused(path));
        }
        Err(e) => return Err(StoreError::io(path, "open", e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| StoreError::io(path, "stat", e))?;
    if !meta.is_file() {
        return Err(StoreError::Invalid {
            path: path.into(),
            reason: "is not a regular file: left untouched; point keepalive at the gateway's \
                     sessions.json"
                .into(),
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)
        .map_err(|e| StoreError::io(path, "read", e))?;
    Ok(StoreFile {
        bytes,
        identity: FileIdentity::of(&meta),
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        _handle: file,
    })
}

impl StoreFile {
    /// The length of the file as read.
    pub fn len(&self) -> u64 {
        self.identity.len
    }
}

pub(crate) fn symlink_refused(path: &Path) -> StoreError {
    StoreError::Invalid {
        path: path.into(),
        reason: "is a symbolic link: left untouched; keepalive only replaces regular files \
                 (renaming over the link would turn it into a plain file, as the gateway's own \
                 next write will) — point keepalive at the link's target instead"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_detects_replacement_and_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sessions.json");
        fs::write(&p, b"{}").unwrap();
        let id = FileIdentity::of(&fs::metadata(&p).unwrap());
        assert!(still_same_file(&p, &id).unwrap());
        // Same size, same content, new inode (what any renaming writer produces).
        let other = dir.path().join("other");
        fs::write(&other, b"{}").unwrap();
        fs::rename(&other, &p).unwrap();
        assert!(!still_same_file(&p, &id).unwrap());
        // In-place rewrite of the same length.
        let id = FileIdentity::of(&fs::metadata(&p).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&p, b"[]").unwrap();
        assert!(!still_same_file(&p, &id).unwrap());
        fs::remove_file(&p).unwrap();
        assert!(!still_same_file(&p, &id).unwrap());
    }
}
