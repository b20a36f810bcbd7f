//! A store as read at one moment, without any lock: its bytes, its scan, and enough about the
//! file to tell later whether it is still the same one. The daemon plans from a snapshot, and
//! a round stages its write from the snapshot's bytes, so a store is read and scanned once.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::path::Path;

use crate::error::StoreError;
use crate::read::{self, FileIdentity, StoreFile};
use crate::scan::{self, StoreScan};

/// A read-only view of a store for planning outside any lock.
pub struct StoreSnapshot {
    pub scan: StoreScan,
    /// The file's length in bytes.
    pub len: u64,
    identity: FileIdentity,
    /// The bytes scanned, with the file still open: the first round from this snapshot
    /// writes its patched copy from them, and takes them (see [`crate::bump_snapshot`]).
    file: Cell<Option<StoreFile>>,
}

impl StoreSnapshot {
    /// Scan bytes just read. A file that is not a complete JSON object is `Invalid`.
    pub(crate) fn scanned(store: &Path, file: StoreFile) -> Result<Self, StoreError> {
        let scan = scan_file(store, &file)?;
        Ok(StoreSnapshot {
            scan,
            len: file.identity.len,
            identity: file.identity,
            file: Cell::new(Some(file)),
        })
    }

    /// The bytes and the open file, for the one round that writes from them; `None` once
    /// taken.
    pub(crate) fn take_file(&self) -> Option<StoreFile> {
        self.file.take()
    }

    /// Whether `path` (symlinks followed, like [`read_snapshot`]) is still the very file this
    /// snapshot was read from: same device, inode, size, mtime and ctime. Any writer that
    /// replaces it by rename, or rewrites it in place, makes this false; so does a vanished
    /// file. Until a round has written from it, the snapshot keeps the file open, so its
    /// inode cannot be freed and reused.
    pub fn unchanged_on_disk(&self, path: &Path) -> io::Result<bool> {
        read::still_same_target(path, &self.identity)
    }
}

impl fmt::Debug for StoreSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSnapshot")
            .field("len", &self.len)
            .field("identity", &self.identity)
            .field("entries", &self.scan.entries.len())
            .finish_non_exhaustive()
    }
}

/// Read-only: read and scan a store without a lock (the gateway replaces the file by rename,
/// so a read always sees a whole file). Follows a symlinked store path; a round refuses one.
pub fn read_snapshot(store: &Path) -> Result<StoreSnapshot, StoreError> {
    StoreSnapshot::scanned(store, read::read_store(store, true)?)
}

/// Read-only: the distinct session keys of a store, decoded (lossy where a key holds a lone
/// surrogate), in order of first appearance. See [`read_snapshot`].
pub fn read_keys(store: &Path) -> Result<Vec<String>, StoreError> {
    let snapshot = read_snapshot(store)?;
    Ok(snapshot.scan.entries.into_iter().map(|e| e.key).collect())
}

/// Scan bytes just read from `store`. A file that is not a complete JSON object is `Invalid`.
pub(crate) fn scan_file(store: &Path, file: &StoreFile) -> Result<StoreScan, StoreError> {
    scan::scan(&file.bytes).map_err(|e| invalid_json(store, &e))
}

fn invalid_json(store: &Path, e: &scan::ScanError) -> StoreError {
    let name = store
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sessions.json".into());
    StoreError::Invalid {
        path: store.into(),
        reason: format!(
            "is not valid JSON {e}: left untouched; the gateway will not read it either — \
             restore it from {name}.bak.* or let the gateway recreate it"
        ),
    }
}
