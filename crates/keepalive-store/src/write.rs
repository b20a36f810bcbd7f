//! Reading the store with its identity, and replacing it atomically and durably the way the
//! gateway does: complete, fsynced temp file in the same directory, rename, fsync directory.

use std::fs::{self, File, Metadata, Permissions};
use std::io::{self, IoSlice, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::StoreError;
use crate::process::pid_alive;

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

/// Whether `dir`'s filesystem has room for two more copies of a `len`-byte store, plus a
/// MiB: ours, staged before we take the lock, and the one the gateway may be writing under
/// its lock meanwhile. When it has not (or cannot tell), a round writes under the lock, as
/// the gateway does, so the two copies never coexist.
pub(crate) fn room_to_stage(dir: &Path, len: u64) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statvfs(3) on a NUL-terminated path, into a zeroed struct it fills in.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return false;
    }
    let free = (st.f_bavail as u64).saturating_mul(st.f_frsize as u64);
    free >= len.saturating_mul(2).saturating_add(1 << 20)
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

/// Marker in our temp file names; `remove_stale_temp_files` relies on it.
pub(crate) const TEMP_MARKER: &str = ".keepalive-";
const TEMP_SUFFIX: &str = ".tmp";

/// A new, empty temp file in `dir` named `<name>.keepalive-<pid>-<random>.tmp`, removed when
/// dropped: the one naming scheme for every file keepalive stages (stores, locks, its own
/// settings and ledgers), which [`remove_stale_temp_files`] recognises once that pid is gone.
pub fn temp_file_in(dir: &Path, name: &str) -> io::Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&format!("{name}{TEMP_MARKER}{}-", std::process::id()))
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
}

/// Write `pieces`, one after the other, to a new temp file next to the store, with the
/// store's mode and owner, fsynced. The pieces are slices of the store's own bytes and the new
/// digits, written with vectored writes, so no patched copy of the store is ever built in
/// memory. Dropping the result removes the file.
pub(crate) fn write_temp(
    dir: &Path,
    store_name: &str,
    pieces: &[&[u8]],
    original: &StoreFile,
) -> Result<NamedTempFile, StoreError> {
    let mut tmp = temp_file_in(dir, store_name)
        .map_err(|e| StoreError::io(dir, "create a temp file in", e))?;
    let path = tmp.path().to_path_buf();
    let file = tmp.as_file_mut();
    write_all_pieces(file, pieces).map_err(|e| StoreError::io(&path, "write", e))?;
    let meta = file
        .metadata()
        .map_err(|e| StoreError::io(&path, "stat", e))?;
    // A daemon running as another user (e.g. root) must not leave a file the gateway can no
    // longer read: keep the owner, and fail rather than hand over a foreign-owned store.
    if meta.uid() != original.uid || meta.gid() != original.gid {
        std::os::unix::fs::fchown(&*file, Some(original.uid), Some(original.gid))
            .map_err(|e| StoreError::io(&path, "give the store's owner to", e))?;
    }
    file.set_permissions(Permissions::from_mode(original.mode))
        .map_err(|e| StoreError::io(&path, "set the store's mode on", e))?;
    file.sync_all()
        .map_err(|e| StoreError::io(&path, "fsync", e))?;
    Ok(tmp)
}

/// `write_all` over many slices (std's `write_all_vectored` is not stable yet).
fn write_all_pieces(file: &mut File, pieces: &[&[u8]]) -> io::Result<()> {
    let mut slices: Vec<IoSlice> = pieces
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| IoSlice::new(p))
        .collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Rename the temp file over the store: from here on the new store is in place.
pub(crate) fn rename_over(tmp: NamedTempFile, store: &Path) -> Result<(), StoreError> {
    tmp.persist(store)
        .map(drop)
        .map_err(|e| StoreError::io(store, "rename the temp file over", e.error))
}

/// Make a rename in `dir` durable. Runs after the rename, so a failure is logged, not
/// returned: reporting an error would wrongly claim the store was left untouched.
pub(crate) fn sync_dir(dir: &Path) {
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(dir = %dir.display(), error = %e, "store replaced but the directory fsync failed");
    }
}

/// Remove temp files that a previous keepalive process left in `dir`
/// (`<store>.keepalive-<pid>-<random>.tmp`), only when that pid is no longer alive. The
/// gateway's own `sessions.json.<uuid>.tmp` never matches. Returns how many were removed.
pub fn remove_stale_temp_files(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_file_pid) else {
            continue;
        };
        if pid_alive(pid) || !entry.file_type()?.is_file() {
            continue;
        }
        let path: PathBuf = entry.path();
        match fs::remove_file(&path) {
            Ok(()) => {
                tracing::info!(path = %path.display(), pid, "removed a stale keepalive temp file");
                removed += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// The pid in one of our temp file names, or None if the name is not ours.
fn temp_file_pid(name: &str) -> Option<u32> {
    let body = name.strip_suffix(TEMP_SUFFIX)?;
    let (store, rest) = body.split_once(TEMP_MARKER)?;
    let (pid, random) = rest.split_once('-')?;
    let ours = !store.is_empty()
        && !random.is_empty()
        && !pid.is_empty()
        && pid.bytes().all(|c| c.is_ascii_digit());
    ours.then(|| pid.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names() {
        assert_eq!(
            temp_file_pid("sessions.json.keepalive-123-abcDEF.tmp"),
            Some(123)
        );
        assert_eq!(
            temp_file_pid("sessions.json.3f1e2a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp"),
            None
        );
        assert_eq!(temp_file_pid("sessions.json.keepalive-12x-abc.tmp"), None);
        assert_eq!(temp_file_pid("sessions.json.keepalive-123-.tmp"), None);
        assert_eq!(temp_file_pid(".keepalive-123-abc.tmp"), None);
        assert_eq!(temp_file_pid("sessions.json.keepalive-123-abc"), None);
    }

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
