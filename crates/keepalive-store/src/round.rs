//! One keep-alive round on one store: plan from a snapshot, stage the patched temp file and
//! fsync it, wait for a moment when the gateway is not writing, then — for milliseconds —
//! take the gateway's lock, check and swap (`commit.rs`), release. When the store changed
//! since it was read, the round is redone the classic way: read, plan and write all under
//! the lock, again between two of the gateway's writes.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tempfile::NamedTempFile;

use crate::commit::{self, Committed, NotYet, Step};
use crate::error::StoreError;
use crate::lock;
use crate::patch::{self, Bump, Fields};
use crate::path::dir_and_name;
use crate::read::{self, StoreFile};
use crate::scan::{EntryInfo, StoreScan};
use crate::snapshot::{self, StoreSnapshot};
use crate::watch::WriteWatch;
use crate::write;

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
    /// Called at each [`Step`] of the commit, on every attempt. Tests use it to change the
    /// store or the lock at exactly that point of a round; otherwise None.
    pub at_step: Option<&'a dyn Fn(Step)>,
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
    /// How long the round waited for the gateway to finish a write in progress.
    pub writer_wait: Duration,
    /// Gateway writes that landed between our last check and our swap, and were put back.
    pub put_back: u32,
}

/// Bump the fields `opts.decide` asks for to `opts.now_ms`. See the crate docs for the
/// guarantees; on any error the store is exactly as it was.
///
/// A store path that is a symbolic link is refused (`Invalid`), also in a dry run, because
/// renaming over it would replace the link with a plain file.
pub fn bump_store(store: &Path, opts: &RoundOptions) -> Result<RoundOutcome, StoreError> {
    let paths = StorePaths::new(store)?;
    let snapshot = StoreSnapshot::scanned(store, read::read_store(store, false)?)?;
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
    // One budget for every wait of this round for a gap between the gateway's writes.
    let patience = Instant::now() + opts.lock_timeout;
    let mut watch = WriteWatch::start(&paths.dir, &paths.name)
        .map_err(|e| StoreError::io(&paths.dir, "watch for the gateway's writes in", e))?;
    let mut last = None;
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
        let committed = if !wait_for_gap(paths, &mut watch, patience, opts, &mut outcome)? {
            Committed::NotYet(NotYet::WriterBusy)
        } else if watch.replaced() {
            // The gateway renamed a new store in since our read: our copy is stale.
            Committed::NotYet(NotYet::StoreReplaced)
        } else {
            // While the gateway holds its lock it is writing: once the store has changed, our
            // copy is stale and waiting on for the lock would be for nothing.
            let changed = || !read::still_same_file(paths.store, &file.identity).unwrap_or(false);
            locked(paths, opts, &mut outcome, &changed, |guard| {
                commit::commit(
                    paths.store,
                    &paths.dir,
                    &file.identity,
                    guard,
                    &mut watch,
                    tmp,
                    opts.at_step,
                )
            })?
            .unwrap_or(Committed::NotYet(NotYet::StoreReplaced))
        };
        // Free the bytes and close the replaced file (releasing its space) before the
        // directory fsync.
        drop(file);
        if finished(paths, &mut outcome, committed, 1, &mut last) {
            return Ok(outcome);
        }
        first_locked_attempt = 2;
    }
    // The store changed between our read and the lock: the gateway is writing right now, and
    // a copy staged outside the lock would likely be stale again by the time we hold it. So
    // the redo waits for the end of the gateway's write in progress, then reads and writes
    // under the lock, as the gateway does (up to 2026.4.29 it cannot be starved that way).
    for attempt in first_locked_attempt..=max_attempts {
        outcome.attempts = attempt;
        if !wait_for_gap(paths, &mut watch, patience, opts, &mut outcome)? {
            last = Some(NotYet::WriterBusy);
            break;
        }
        let Some(attempted) = locked(paths, opts, &mut outcome, &|| false, |guard| {
            read_and_write_locked(paths, opts, guard, &mut watch)
        })?
        else {
            continue; // never given up: this wait ends with the lock or an error
        };
        // Overwritten on each redo: the outcome describes the attempt that finished.
        record(&mut outcome, attempted.sessions, &attempted.planned);
        match attempted.committed {
            None => return Ok(outcome),
            Some(committed) if finished(paths, &mut outcome, committed, attempt, &mut last) => {
                return Ok(outcome);
            }
            Some(_) => {}
        }
    }
    Err(match last {
        Some(why) if why.is_writer_activity() => StoreError::Writing {
            attempts: outcome.attempts,
            waited: outcome.writer_wait,
            put_back: outcome.put_back,
        },
        _ => StoreError::Changed {
            attempts: outcome.attempts,
        },
    })
}

/// Wait until no write of the gateway's is in progress, within the round's budget; false
/// when it was writing throughout. A stopping daemon does not wait.
fn wait_for_gap(
    paths: &StorePaths,
    watch: &mut WriteWatch,
    patience: Instant,
    opts: &RoundOptions,
    outcome: &mut RoundOutcome,
) -> Result<bool, StoreError> {
    let started = Instant::now();
    let gap = watch
        .wait_for_gap(patience, opts.cancel)
        .map_err(|e| StoreError::io(&paths.dir, "watch for the gateway's writes in", e))?;
    outcome.writer_wait += started.elapsed();
    if opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(StoreError::Cancelled);
    }
    Ok(gap)
}

/// Whether the round is over. A rename is made durable here, after the lock's release: the
/// lock guards what the store holds, and the directory fsync only makes an already visible
/// rename survive a crash.
fn finished(
    paths: &StorePaths,
    outcome: &mut RoundOutcome,
    committed: Committed,
    attempt: u32,
    last: &mut Option<NotYet>,
) -> bool {
    match committed {
        Committed::Replaced => {
            write::sync_dir(&paths.dir);
            outcome.written = true;
            true
        }
        Committed::NotYet(why) => {
            if why == NotYet::PutBack {
                outcome.put_back += 1;
            }
            *last = Some(why);
            tracing::debug!(store = %paths.store.display(), attempt, why = why.describe(),
                "store not replaced this attempt; redoing the round");
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
    committed: Option<Committed>,
}

/// The classic round, all under the lock: read, scan, plan, stage, check, swap.
fn read_and_write_locked(
    paths: &StorePaths,
    opts: &RoundOptions,
    guard: &lock::LockGuard,
    watch: &mut WriteWatch,
) -> Result<LockedAttempt, StoreError> {
    // Replacements seen so far are in the read below; later ones are not.
    watch
        .refresh()
        .map_err(|e| StoreError::io(&paths.dir, "watch for the gateway's writes in", e))?;
    watch.forget_replaced();
    let file = read::read_store(paths.store, false)?;
    let scan = snapshot::scan_file(paths.store, &file)?;
    let planned = plan(paths.store, &scan, opts);
    let sessions = scan.entries.len();
    if planned.is_empty() {
        return Ok(LockedAttempt {
            sessions,
            planned,
            committed: None,
        });
    }
    let tmp = stage(paths, &file, &planned, opts.now_ms)?;
    let committed = commit::commit(
        paths.store,
        &paths.dir,
        &file.identity,
        guard,
        watch,
        tmp,
        opts.at_step,
    )?;
    Ok(LockedAttempt {
        sessions,
        planned,
        committed: Some(committed),
    })
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
        let (dir, name) = dir_and_name(store);
        let name = name
            .and_then(|n| n.to_str())
            .ok_or_else(|| StoreError::Invalid {
                path: store.into(),
                reason: "is not a path to a file with a UTF-8 name: nothing done".into(),
            })?
            .to_owned();
        let dir = dir.to_path_buf();
        // Checked before locking so that a missing store never leaves even a transient lock
        // file behind; re-checked by the read inside the lock.
        match std::fs::symlink_metadata(store) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound { path: store.into() });
            }
            Err(e) => return Err(StoreError::io(store, "stat", e)),
            Ok(m) if m.file_type().is_symlink() => return Err(read::symlink_refused(store)),
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
