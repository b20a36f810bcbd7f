//! Replacing the store atomically and durably the way the gateway does: complete, fsynced
//! temp file in the same directory, rename, fsync directory; and the naming and clean-up of
//! keepalive's own temp files. Reading, and telling whether a file is still the one read, is
//! [`crate::read`].

use std::fs::{self, File, Permissions};
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::StoreError;
use crate::process::pid_alive;
use crate::read::StoreFile;

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
}
