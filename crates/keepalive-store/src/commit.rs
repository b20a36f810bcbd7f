//! The last step of a round: the checks and the swap that put our file in place, safe also
//! against a writer that ignores the lock (the gateway from 2026.5.2 to 2026.7.35).
//!
//! Under our lock, in this order: the lock is still ours; no other write of the store is in
//! progress and none was made since our read (the [`WriteWatch`]); the store is still the
//! very file we read (its identity). Then, with only that last `lstat` between the checks and
//! the swap, our file and the store trade places with `renameat2(RENAME_EXCHANGE)`, which
//! leaves the file it took out of place at our temp path. If that is the file we read, the
//! round is done. If it is not, a writer renamed its new store in the microseconds between
//! our check and our swap: its file is put back at once by exchanging again (and again, if it
//! renamed once more meanwhile) until the store is the newest of its files, and the round is
//! redone. So a writer's rename that lands in the last window is no longer lost.
//!
//! Where the exchange is not available (not Linux, or a filesystem without it) a plain rename
//! follows the same checks.

use std::ffi::CString;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::StoreError;
use crate::lock::LockGuard;
use crate::read::{FileIdentity, still_same_file};
use crate::watch::WriteWatch;
use crate::write;

/// Points of the commit where a test can act (see `RoundOptions::at_step`), for example
/// rename a file over the store as a writer that ignores the lock would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The lock is held; nothing is checked yet.
    BeforeChecks,
    /// Every check passed; next is the swap.
    BeforeSwap,
    /// Our file is in place; next is the look at the file taken out.
    AfterSwap,
    /// A writer's file was exchanged back into place; next is the look at what came out.
    AfterPutBack,
}

/// Why a commit did not replace the store this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotYet {
    LockTakenOver,
    /// A foreign temp file of the store is being written.
    WriterBusy,
    /// The store is not the file we read any more.
    StoreReplaced,
    /// A writer renamed over the store between our check and our swap; its file is back.
    PutBack,
}

impl NotYet {
    pub fn describe(self) -> &'static str {
        match self {
            NotYet::LockTakenOver => "lock taken over by another writer",
            NotYet::WriterBusy => "the gateway is writing the store",
            NotYet::StoreReplaced => "store replaced since it was read",
            NotYet::PutBack => {
                "the gateway replaced the store at the moment of our swap; its file was put back"
            }
        }
    }

    /// Whether this shows the gateway (or another writer) writing the store.
    pub fn is_writer_activity(self) -> bool {
        self != NotYet::LockTakenOver
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Committed {
    Replaced,
    NotYet(NotYet),
}

/// Give up putting files back after this many exchanges: a writer would have to rename over
/// the store between each two of ours, microseconds apart.
const MAX_PUT_BACKS: u32 = 16;

/// Check, then swap `tmp` into `store`'s place (see the module docs). Dropping `tmp` on any
/// way out removes whatever our temp path holds then: our file, or the store we replaced.
pub(crate) fn commit(
    store: &Path,
    dir: &Path,
    read: &FileIdentity,
    lock: &LockGuard,
    watch: &mut WriteWatch,
    tmp: NamedTempFile,
    at_step: Option<&dyn Fn(Step)>,
) -> Result<Committed, StoreError> {
    let step = |s| {
        if let Some(hook) = at_step {
            hook(s);
        }
    };
    // Everything that allocates is done before the checks.
    let swap = Swap::new(tmp.path(), store)?;
    step(Step::BeforeChecks);
    let ours = lock
        .still_ours()
        .map_err(|e| StoreError::io(lock.path(), "read the lock file", e))?;
    if !ours {
        return Ok(Committed::NotYet(NotYet::LockTakenOver));
    }
    watch
        .refresh()
        .map_err(|e| StoreError::io(dir, "watch the directory", e))?;
    if watch.replaced() {
        return Ok(Committed::NotYet(NotYet::StoreReplaced));
    }
    if !watch.quiet() {
        return Ok(Committed::NotYet(NotYet::WriterBusy));
    }
    let same = still_same_file(store, read).map_err(|e| StoreError::io(store, "stat", e))?;
    if !same {
        return Ok(Committed::NotYet(NotYet::StoreReplaced));
    }
    step(Step::BeforeSwap);
    match swap.exchange() {
        Ok(()) => {}
        Err(e) if exchange_unsupported(&e) => {
            warn_once_no_exchange(dir, &e);
            write::rename_over(tmp, store)?;
            return Ok(Committed::Replaced);
        }
        Err(e) => return Err(StoreError::io(store, "exchange our new store with", e)),
    }
    step(Step::AfterSwap);
    let taken_out = fs::symlink_metadata(tmp.path());
    match &taken_out {
        Ok(out) if is(out, read) => Ok(Committed::Replaced),
        // Not the file we read: a writer's rename landed in the window. (Unreadable counts
        // as not ours too: undoing our own write is always safe.)
        Ok(_) | Err(_) => {
            let taken_out = taken_out.ok().map(|m| (m.dev(), m.ino()));
            put_back(&swap, tmp, store, taken_out, &step)?;
            write::sync_dir(dir);
            Ok(Committed::NotYet(NotYet::PutBack))
        }
    }
}

/// Exchange until the store is again the writer's newest file: each exchange puts back the
/// file our temp path holds and takes out what the store held, which must be the file we put
/// there last; if it is not, the writer renamed a newer file over that one meanwhile, and it
/// goes back in turn.
fn put_back(
    swap: &Swap,
    tmp: NamedTempFile,
    store: &Path,
    taken_out: Option<(u64, u64)>,
    step: &dyn Fn(Step),
) -> Result<(), StoreError> {
    let rescue = |tmp: NamedTempFile, source: io::Error| rescue(tmp, store, source);
    // What the store holds (as far as we know), and what our temp path holds: each exchange
    // trades them, and the look after it says what our temp path holds next.
    let mut in_place = match tmp.as_file().metadata() {
        Ok(m) => (m.dev(), m.ino()),
        Err(e) => return Err(rescue(tmp, e)),
    };
    let mut going_in = match taken_out {
        Some(id) => id,
        None => match fs::symlink_metadata(tmp.path()) {
            Ok(m) => (m.dev(), m.ino()),
            Err(e) => return Err(rescue(tmp, e)),
        },
    };
    for _ in 0..MAX_PUT_BACKS {
        if let Err(e) = swap.exchange() {
            return Err(rescue(tmp, e));
        }
        step(Step::AfterPutBack);
        match fs::symlink_metadata(tmp.path()) {
            Ok(out) if (out.dev(), out.ino()) == in_place => {
                tracing::warn!(store = %store.display(),
                    "the gateway replaced the store at the moment of our swap; its file was put back");
                return Ok(());
            }
            Ok(out) => (in_place, going_in) = (going_in, (out.dev(), out.ino())),
            Err(e) => return Err(rescue(tmp, e)),
        }
    }
    let e = io::Error::other("the store kept being replaced during the put-back");
    Err(rescue(tmp, e))
}

/// The file at our temp path may be the writer's: keep it under a new name no cleanup
/// removes (linked, so an earlier rescue is never overwritten), and say where it is.
fn rescue(tmp: NamedTempFile, store: &Path, source: io::Error) -> StoreError {
    let kept = match tmp.into_temp_path().keep() {
        Ok(kept_at) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let rescued = PathBuf::from(format!("{}.rescued-{nanos}.json", store.display()));
            match fs::hard_link(&kept_at, &rescued) {
                Ok(()) => {
                    let _ = fs::remove_file(&kept_at);
                    rescued
                }
                // Under our temp name a later start would remove it as a leftover: say so.
                Err(_) => kept_at,
            }
        }
        Err(e) => e.path.to_path_buf(),
    };
    tracing::error!(store = %store.display(), kept = %kept.display(), error = %source,
        "could not put the gateway's store back after a last-moment replacement");
    StoreError::NotPutBack {
        store: store.into(),
        kept,
        source,
    }
}

/// Whether `meta` describes the file we read: same inode, and not written to since. The
/// ctime is left out: the exchange itself changes it.
fn is(meta: &Metadata, read: &FileIdentity) -> bool {
    let now = FileIdentity::of(meta);
    (now.dev, now.ino, now.len, now.mtime) == (read.dev, read.ino, read.len, read.mtime)
}

/// Both paths as C strings, made before the checks so the swap allocates nothing.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
struct Swap {
    tmp: CString,
    store: CString,
}

impl Swap {
    fn new(tmp: &Path, store: &Path) -> Result<Self, StoreError> {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes()).map_err(|_| StoreError::Invalid {
                path: p.into(),
                reason: "contains a NUL byte: nothing done".into(),
            })
        };
        Ok(Swap {
            tmp: c(tmp)?,
            store: c(store)?,
        })
    }

    /// `renameat2(tmp, store, RENAME_EXCHANGE)`: both names stay, their files trade places.
    #[cfg(target_os = "linux")]
    fn exchange(&self) -> io::Result<()> {
        // SAFETY: two NUL-terminated paths relative to the working directory; the raw system
        // call is used because older C libraries lack the renameat2 wrapper.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                self.tmp.as_ptr(),
                libc::AT_FDCWD,
                self.store.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn exchange(&self) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::ENOTSUP))
    }
}

/// The kernel or the filesystem cannot exchange: fall back to a plain rename. EPERM too: a
/// seccomp filter may refuse renameat2 alone, and a rename we may not make fails anyway.
fn exchange_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::ENOTSUP) | Some(libc::EPERM)
    ) || e.raw_os_error() == Some(libc::EOPNOTSUPP)
}

/// Said once per process: every round from then on lacks the put-back.
fn warn_once_no_exchange(dir: &Path, e: &io::Error) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(dir = %dir.display(), error = %e,
            "this filesystem cannot exchange two files (renameat2 RENAME_EXCHANGE); keepalive \
             renames instead, without putting back a gateway write that lands at that moment");
    }
}
