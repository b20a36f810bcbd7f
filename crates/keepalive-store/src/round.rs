//! One keep-alive round on one store: plan from a snapshot, stage the patched temp file and
//! fsync it, then — for milliseconds — take the gateway's lock, check that the store and the
//! lock are still what we read and took, rename, release. When the store changed since it
//! was read, the round is redone the classic way: read, plan and write all under the lock.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use tempfile::NamedTempFile;

use crate::error::StoreError;
use crate::lock;
use crate::patch::{self, Bump, Fields};
use crate::scan::{EntryInfo, StoreScan};
use crate::snapshot::{self, StoreSnapshot};
use crate::write::{self, StoreFile};

/// What one round should do.
pub struct RoundOptions<'a> {
    /// The time to write (ms since the epoch).
    pub now_ms: u64,
    /// Which timestamp fields of an entry to bump, judged from what the entry contains.
    /// Called once per entry that has at least one bumpable timestamp, and again for every
    /// entry when the round is redone: it must be cheap, and any side effect (such as
    /// counting keys) must tolerate repetition.
    pub decide: &'a dyn Fn(&EntryInfo) -> Fields,
    /// Compute everything, write nothing, take no lock.
    pub dry_run: bool,
    /// How long to wait for the gateway's lock before giving up with `Busy`.
    pub lock_timeout: Duration,
    /// How many times to redo the round when the store changed under us (0 acts as 1).
    pub max_attempts: u32,
    /// When set, a wait for the lock ends early with [`StoreError::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
    /// Called while the lock is held, just before the last check and the rename, on every
    /// attempt. Tests use it to change the store or the lock under a round; otherwise None.
    pub before_rename: Option<&'a dyn Fn()>,
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
    /// From taking the lock to releasing it, over all attempts.
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
    let snapshot = StoreSnapshot::scanned(store, write::read_store(store, false)?)?;
    run(&paths, &snapshot, opts)
}

/// [`bump_store`] planned from a snapshot the caller already read (with [`read_snapshot`]),
/// so the store is read and scanned once per round. If the store changed since, the round
/// is redone from a fresh read under the lock; `opts.decide` then sees the new entries.
///
/// [`read_snapshot`]: crate::read_snapshot
pub fn bump_snapshot(
    store: &Path,
    snapshot: &StoreSnapshot,
    opts: &RoundOptions,
) -> Result<RoundOutcome, StoreError> {
    run(&StorePaths::new(store)?, snapshot, opts)
}

fn run(
    paths: &StorePaths,
    snapshot: &StoreSnapshot,
    opts: &RoundOptions,
) -> Result<RoundOutcome, StoreError> {
    let mut outcome = RoundOutcome {
        attempts: 1,
        ..RoundOutcome::default()
    };
    let planned = plan(paths.store, &snapshot.scan, opts);
    record(&mut outcome, snapshot.scan.entries.len(), &planned);
    if opts.dry_run || planned.is_empty() {
        // Nothing to write: no temp file, no lock.
        return Ok(outcome);
    }
    let max_attempts = opts.max_attempts.max(1);
    // The first attempt does everything slow before the lock: the gateway gives up on a busy
    // lock after about a second, and a 40 MB store takes about that long to write and fsync
    // on a slow disk. The identity check under the lock makes this exactly as safe as
    // writing under it. Not on a nearly full disk, where our staged copy could take the space
    // the gateway needs for its own write while we wait for its lock.
    let staged = snapshot
        .take_file()
        .filter(|file| max_attempts > 1 && write::room_to_stage(&paths.dir, file.len()));
    let mut first_locked_attempt = 1;
    if let Some(file) = staged {
        let tmp = stage(paths, &file, &planned, opts.now_ms)?;
        // While the gateway holds its lock it is writing: once the store has changed, our
        // copy is stale and waiting on for the lock would be for nothing.
        let changed = || !write::still_same_file(paths.store, &file.identity).unwrap_or(false);
        let written = locked(paths, opts, &mut outcome, &changed, |guard| {
            commit_if_unchanged(paths, &file, guard, tmp, opts.before_rename)
        })?
        .unwrap_or(Written::NotYet("store replaced while waiting for the lock"));
        // Free the bytes and close the replaced file (releasing its space) before the
        // directory fsync.
        drop(file);
        if finished(paths, &mut outcome, written, 1) {
            return Ok(outcome);
        }
        first_locked_attempt = 2;
    }
    // The store changed between our read and the lock: the gateway is writing right now, and
    // a copy staged outside the lock would likely be stale again by the time we hold it. So
    // the redo reads and writes under the lock, as the gateway does, and cannot be starved.
    for attempt in first_locked_attempt..=max_attempts {
        outcome.attempts = attempt;
        let Some(attempted) = locked(paths, opts, &mut outcome, &|| false, |guard| {
            read_and_write_locked(paths, opts, guard)
        })?
        else {
            continue; // never given up: this wait ends with the lock or an error
        };
        // Overwritten on each redo: the outcome describes the attempt that finished.
        record(&mut outcome, attempted.sessions, &attempted.planned);
        match attempted.written {
            None => return Ok(outcome),
            Some(written) if finished(paths, &mut outcome, written, attempt) => {
                return Ok(outcome);
            }
            Some(_) => {}
        }
    }
    Err(StoreError::Changed {
        attempts: max_attempts,
    })
}

/// What happened at the rename.
#[derive(Clone, Copy)]
enum Written {
    Renamed,
    NotYet(&'static str),
}

/// Whether the round is over. A rename is made durable here, after the lock's release: the
/// lock guards what the store holds, and the directory fsync only makes an already visible
/// rename survive a crash.
fn finished(
    paths: &StorePaths,
    outcome: &mut RoundOutcome,
    written: Written,
    attempt: u32,
) -> bool {
    match written {
        Written::Renamed => {
            write::sync_dir(&paths.dir);
            outcome.written = true;
            true
        }
        Written::NotYet(why) => {
            tracing::info!(store = %paths.store.display(), attempt, why,
                "store changed during the round; redoing it");
            false
        }
    }
}

/// Take the lock, run `inside`, release, and account for the wait and the hold. `None` when
/// `give_up`, asked between the lock's busy probes, said the wait was no longer worth it.
fn locked<T>(
    paths: &StorePaths,
    opts: &RoundOptions,
    outcome: &mut RoundOutcome,
    give_up: &dyn Fn() -> bool,
    inside: impl FnOnce(&lock::LockGuard) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let acquired = lock::acquire(&paths.lock, opts.lock_timeout, opts.cancel, give_up)?;
    outcome.lock_wait += acquired.waited;
    outcome.reclaimed_stale_lock |= acquired.reclaimed_stale;
    let Some(guard) = acquired.guard else {
        return Ok(None);
    };
    let held_since = Instant::now();
    let result = inside(&guard);
    drop(guard);
    outcome.lock_hold += held_since.elapsed();
    result.map(Some)
}

/// What a redo under the lock found and did.
struct LockedAttempt {
    sessions: usize,
    planned: Vec<Vec<Bump>>,
    /// `None` when there was nothing left to write.
    written: Option<Written>,
}

/// The classic round, all under the lock: read, scan, plan, stage, check, rename.
fn read_and_write_locked(
    paths: &StorePaths,
    opts: &RoundOptions,
    guard: &lock::LockGuard,
) -> Result<LockedAttempt, StoreError> {
    let file = write::read_store(paths.store, false)?;
    let scan = snapshot::scan_file(paths.store, &file)?;
    let planned = plan(paths.store, &scan, opts);
    let sessions = scan.entries.len();
    if planned.is_empty() {
        return Ok(LockedAttempt {
            sessions,
            planned,
            written: None,
        });
    }
    let tmp = stage(paths, &file, &planned, opts.now_ms)?;
    let written = commit_if_unchanged(paths, &file, guard, tmp, opts.before_rename)?;
    Ok(LockedAttempt {
        sessions,
        planned,
        written: Some(written),
    })
}

/// Last look before the rename: the store must still be the file we read, and the lock must
/// still be ours. Dropping `tmp` on any other way out removes the temp file.
fn commit_if_unchanged(
    paths: &StorePaths,
    read: &StoreFile,
    guard: &lock::LockGuard,
    tmp: NamedTempFile,
    before_rename: Option<&dyn Fn()>,
) -> Result<Written, StoreError> {
    if let Some(hook) = before_rename {
        hook();
    }
    let ours = guard
        .still_ours()
        .map_err(|e| StoreError::io(guard.path(), "read the lock file", e))?;
    if !ours {
        return Ok(Written::NotYet("lock taken over by another writer"));
    }
    // The identity check comes last, right before the rename, to leave a writer that ignores
    // the lock the smallest window.
    let same = write::still_same_file(paths.store, &read.identity)
        .map_err(|e| StoreError::io(paths.store, "stat", e))?;
    if !same {
        return Ok(Written::NotYet("store replaced since it was read"));
    }
    write::rename_over(tmp, paths.store)?;
    Ok(Written::Renamed)
}

/// The patched store in a fsynced temp file beside it, written piece by piece from the bytes
/// read: the store is never copied in memory.
fn stage(
    paths: &StorePaths,
    read: &StoreFile,
    planned: &[Vec<Bump>],
    now_ms: u64,
) -> Result<NamedTempFile, StoreError> {
    let digits = now_ms.to_string();
    let spans = planned.iter().flatten().map(|b| &b.span);
    let pieces = patch::splice(&read.bytes, spans, digits.as_bytes());
    write::write_temp(&paths.dir, &paths.name, &pieces, read)
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

/// Fill in what the round planned: entries, bumped keys (one per entry) and field count.
fn record(outcome: &mut RoundOutcome, sessions: usize, planned: &[Vec<Bump>]) {
    outcome.sessions = sessions;
    outcome.bumped = planned
        .iter()
        .filter_map(|entry| entry.first().map(|b| b.key.clone()))
        .collect();
    outcome.bumped_fields = planned.iter().map(Vec::len).sum();
}

/// The bumps to make, grouped by entry.
fn plan(store: &Path, scanned: &StoreScan, opts: &RoundOptions) -> Vec<Vec<Bump>> {
    if scanned.duplicate_keys > 0 {
        tracing::warn!(store = %store.display(), duplicates = scanned.duplicate_keys,
            "store repeats session keys; only the last occurrence (the one the gateway reads) is bumped");
    }
    patch::plan_by_entry(scanned, opts.now_ms, opts.decide)
}
