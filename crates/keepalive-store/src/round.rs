//! One keep-alive round on one store: lock, read, scan, plan, patch, write, verify, rename,
//! release — redone from the top when the store or the lock changed under us.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::error::StoreError;
use crate::lock;
use crate::patch::{self, Bump, Fields};
use crate::scan::{self, EntryInfo, StoreScan};
use crate::write::{self, FileIdentity, StoreFile};

/// What one round should do.
pub struct RoundOptions<'a> {
    /// The time to write (ms since the epoch).
    pub now_ms: u64,
    /// Which timestamp fields of an entry to bump, judged from what the entry contains.
    /// Called once per entry that has at least one bumpable timestamp, while the lock is
    /// held, and again for every entry when the round is redone: it must be cheap, and any
    /// side effect (such as counting keys) must tolerate repetition.
    pub decide: &'a dyn Fn(&EntryInfo) -> Fields,
    /// Compute everything, write nothing, take no lock.
    pub dry_run: bool,
    /// How long to wait for the gateway's lock before giving up with `Busy`.
    pub lock_timeout: Duration,
    /// How many times to redo the round when the store changed under us (0 acts as 1).
    pub max_attempts: u32,
    /// When set, a wait for the lock ends early with [`StoreError::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundOutcome {
    /// Distinct entries in the store.
    pub sessions: usize,
    /// Keys of the entries with at least one field (that would be, in a dry run) moved
    /// forward, each entry once, in store order.
    pub bumped: Vec<String>,
    /// Total timestamp fields written (or, in a dry run, that would be).
    pub bumped_fields: usize,
    /// A new file was renamed over the store.
    pub written: bool,
    pub lock_wait: Duration,
    pub lock_hold: Duration,
    /// We removed a stale lock under the gateway's rules.
    pub reclaimed_stale_lock: bool,
    pub attempts: u32,
}

/// Bump the fields `opts.decide` asks for to `opts.now_ms`. See the crate docs for the
/// guarantees; on any error the store is exactly as it was.
///
/// A store path that is a symbolic link is refused (`Invalid`), also in a dry run, because
/// renaming over it would replace the link with a plain file.
pub fn bump_store(store: &Path, opts: &RoundOptions) -> Result<RoundOutcome, StoreError> {
    let paths = StorePaths::new(store)?;
    let mut outcome = RoundOutcome::default();
    if opts.dry_run {
        outcome.attempts = 1;
        let file = write::read_store(store, false)?;
        let (sessions, planned) = analyse(store, &file, opts)?;
        record(&mut outcome, sessions, &planned);
        return Ok(outcome);
    }
    let max_attempts = opts.max_attempts.max(1);
    for attempt in 1..=max_attempts {
        outcome.attempts = attempt;
        let acquired = lock::acquire(&paths.lock, opts.lock_timeout, opts.cancel)?;
        outcome.lock_wait += acquired.waited;
        outcome.reclaimed_stale_lock |= acquired.reclaimed_stale;
        let held_since = Instant::now();
        let result = locked_round(&paths, opts, &acquired.guard, &mut outcome);
        drop(acquired.guard);
        outcome.lock_hold += held_since.elapsed();
        match result? {
            Step::Done => return Ok(outcome),
            Step::Redo(why) => {
                tracing::info!(store = %store.display(), attempt, why, "store changed during the round; redoing it");
            }
        }
    }
    Err(StoreError::Changed {
        attempts: max_attempts,
    })
}

/// A read-only view of a store for planning outside any lock: what it held, and enough
/// about the file to tell later whether it is still the same one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSnapshot {
    pub scan: StoreScan,
    /// The file's length in bytes.
    pub len: u64,
    identity: FileIdentity,
}

impl StoreSnapshot {
    /// Whether `path` (symlinks followed, like [`read_snapshot`]) is still the very file this
    /// snapshot was read from: same device, inode, size, mtime and ctime. Any writer that
    /// replaces it by rename, or rewrites it in place, makes this false; so does a vanished
    /// file. The file is not held open, so in theory a freed inode could be reused, but the
    /// new file would also need the same size and nanosecond mtime and ctime.
    pub fn unchanged_on_disk(&self, path: &Path) -> io::Result<bool> {
        write::still_same_target(path, &self.identity)
    }
}

/// Read-only: scan a store without a lock (the gateway replaces the file by rename, so a
/// read always sees a whole file). Follows a symlinked store path. A file that is not a
/// complete JSON object is `Invalid`, as in a round.
pub fn read_snapshot(store: &Path) -> Result<StoreSnapshot, StoreError> {
    let file = write::read_store(store, true)?;
    let scan = scan::scan(&file.bytes).map_err(|e| invalid_json(store, &e))?;
    Ok(StoreSnapshot {
        scan,
        len: file.identity.len,
        identity: file.identity,
    })
}

/// Read-only: the distinct session keys of a store, decoded (lossy where a key holds a lone
/// surrogate), in order of first appearance. See [`read_snapshot`].
pub fn read_keys(store: &Path) -> Result<Vec<String>, StoreError> {
    let snapshot = read_snapshot(store)?;
    Ok(snapshot.scan.entries.into_iter().map(|e| e.key).collect())
}

enum Step {
    Done,
    Redo(&'static str),
}

struct StorePaths<'a> {
    store: &'a Path,
    dir: PathBuf,
    name: String,
    lock: PathBuf,
}

impl<'a> StorePaths<'a> {
    fn new(store: &'a Path) -> Result<Self, StoreError> {
        let name = store
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| StoreError::Invalid {
                path: store.into(),
                reason: "is not a path to a file with a UTF-8 name: nothing done".into(),
            })?
            .to_owned();
        let dir = match store.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Checked before locking so that a missing store never leaves even a transient lock
        // file behind; re-checked by the read inside the lock.
        match std::fs::symlink_metadata(store) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound { path: store.into() });
            }
            Err(e) => return Err(StoreError::io(store, "stat", e)),
            Ok(m) if m.file_type().is_symlink() => return Err(write::symlink_refused(store)),
            Ok(_) => {}
        }
        // The gateway locks next to realpath(dir), so a symlinked directory still meets it.
        let real_dir = std::fs::canonicalize(&dir)
            .map_err(|e| StoreError::io(&dir, "resolve the directory", e))?;
        let lock = real_dir.join(format!("{name}.lock"));
        Ok(StorePaths {
            store,
            dir,
            name,
            lock,
        })
    }
}

/// Everything that happens while we hold the lock. Kept to read, scan, patch, write and
/// fsync: the gateway gives up on a busy lock after about a second.
fn locked_round(
    paths: &StorePaths,
    opts: &RoundOptions,
    guard: &lock::LockGuard,
    outcome: &mut RoundOutcome,
) -> Result<Step, StoreError> {
    let file = write::read_store(paths.store, false)?;
    let (sessions, planned) = analyse(paths.store, &file, opts)?;
    // Overwritten on a redo: the outcome describes the attempt that finished.
    record(outcome, sessions, &planned);
    outcome.written = false;
    if planned.is_empty() {
        return Ok(Step::Done);
    }
    let bumps: Vec<Bump> = planned.into_iter().flatten().collect();
    let patched = patch::apply(&file.bytes, &bumps, opts.now_ms);
    let tmp = write::write_temp(&paths.dir, &paths.name, &patched, &file)?;
    // Last look before the rename: our read must still be the store, and the lock must still
    // be ours. Dropping `tmp` on the way out removes the temp file.
    let same = write::still_same_file(paths.store, &file.identity)
        .map_err(|e| StoreError::io(paths.store, "stat", e))?;
    if !same {
        return Ok(Step::Redo("store replaced since it was read"));
    }
    let ours = guard
        .still_ours()
        .map_err(|e| StoreError::io(guard.path(), "read the lock file", e))?;
    if !ours {
        return Ok(Step::Redo("lock taken over by another writer"));
    }
    write::commit(tmp, paths.store, &paths.dir)?;
    outcome.written = true;
    Ok(Step::Done)
}

/// Fill in what the round planned: entries, bumped keys (one per entry) and field count.
fn record(outcome: &mut RoundOutcome, sessions: usize, planned: &[Vec<Bump>]) {
    outcome.sessions = sessions;
    outcome.bumped = planned
        .iter()
        .filter_map(|entry| entry.first().map(|b| b.key.clone()))
        .collect();
    outcome.bumped_fields = planned.iter().map(Vec::len).sum();
}

/// Scan and plan: the number of distinct entries and the bumps to make, grouped by entry.
fn analyse(
    store: &Path,
    file: &StoreFile,
    opts: &RoundOptions,
) -> Result<(usize, Vec<Vec<Bump>>), StoreError> {
    let scanned = scan::scan(&file.bytes).map_err(|e| invalid_json(store, &e))?;
    if scanned.duplicate_keys > 0 {
        tracing::warn!(store = %store.display(), duplicates = scanned.duplicate_keys,
            "store repeats session keys; only the last occurrence (the one the gateway reads) is bumped");
    }
    let planned = patch::plan_by_entry(&scanned, opts.now_ms, opts.decide);
    Ok((scanned.entries.len(), planned))
}

fn invalid_json(store: &Path, e: &scan::ScanError) -> StoreError {
    let name = store
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sessions.json".into());
    StoreError::Invalid {
        path: store.into(),
        reason: format!(
            "is not valid JSON at byte {} ({}): left untouched; the gateway will not read it \
             either — restore it from {name}.bak.* or let the gateway recreate it",
            e.offset, e.reason
        ),
    }
}
