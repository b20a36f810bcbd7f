//! The gateway's store lock: `<realpath(dir)>/sessions.json.lock`, created with O_EXCL, with
//! the same payload and the same staleness rules the gateway applies, so the two of us
//! exclude each other exactly as two gateway writers would.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::error::StoreError;
use crate::path::dir_and_name;
use crate::process::{own_starttime, pid_alive, proc_stat};
use crate::write;

/// The gateway's `staleMs` for session stores.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// A lock we created. Dropping it releases it (if it still holds our payload).
#[derive(Debug)]
pub(crate) struct LockGuard {
    path: PathBuf,
    payload: Vec<u8>,
}

/// The result of a successful acquire.
#[derive(Debug)]
pub(crate) struct Acquired {
    /// `None` when the wait was given up (see [`acquire`]'s `give_up`).
    pub guard: Option<LockGuard>,
    pub waited: Duration,
    pub reclaimed_stale: bool,
}

/// Our payload, byte-for-byte what `JSON.stringify({pid, createdAt, starttime}, null, 2)`
/// produces (starttime omitted where /proc is absent, as JS omits `undefined`).
pub(crate) fn payload(pid: u32, created_at: SystemTime, starttime: Option<u64>) -> Vec<u8> {
    let created = humantime::format_rfc3339_millis(created_at);
    match starttime {
        Some(st) => format!(
            "{{\n  \"pid\": {pid},\n  \"createdAt\": \"{created}\",\n  \"starttime\": {st}\n}}"
        ),
        None => format!("{{\n  \"pid\": {pid},\n  \"createdAt\": \"{created}\"\n}}"),
    }
    .into_bytes()
}

/// Take the lock, waiting up to `timeout` like the gateway does (`min(1000, 50 * attempt)`
/// ms between tries) and removing it when it is stale by the gateway's rules.
///
/// `cancel`, when set, ends the wait early with [`StoreError::Cancelled`]: a daemon that is
/// stopping must not sit out a long lock timeout before it can exit.
pub(crate) fn acquire(
    lock_path: &Path,
    timeout: Duration,
    cancel: Option<&AtomicBool>,
    give_up: &dyn Fn() -> bool,
) -> Result<Acquired, StoreError> {
    let started = Instant::now();
    let mut reclaimed_stale = false;
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let ours = payload(std::process::id(), SystemTime::now(), own_starttime());
        match try_create(lock_path, &ours) {
            Ok(()) => {
                return Ok(Acquired {
                    guard: Some(LockGuard {
                        path: lock_path.to_path_buf(),
                        payload: ours,
                    }),
                    waited: started.elapsed(),
                    reclaimed_stale,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::io(lock_path, "create the lock file", e)),
        }
        let holder_pid = match fs::read(lock_path) {
            // Released between our create and our read: just try again.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io(lock_path, "read the lock file", e)),
            Ok(held) => match assess(&held, lock_age(lock_path), SystemTime::now()) {
                Verdict::Stale(why) => {
                    if remove_if_unchanged(lock_path, &held)? {
                        tracing::warn!(lock = %lock_path.display(), why, "removed a stale session store lock");
                        reclaimed_stale = true;
                    }
                    continue;
                }
                Verdict::Live(pid) => pid,
            },
        };
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            return Err(StoreError::Busy {
                lock: lock_path.to_path_buf(),
                holder_pid,
                waited: elapsed,
            });
        }
        // Asked before each pause: whether what we would do with the lock is still worth it.
        if give_up() {
            return Ok(Acquired {
                guard: None,
                waited: elapsed,
                reclaimed_stale,
            });
        }
        let pause = Duration::from_millis(u64::from(attempt.saturating_mul(50).min(1000)));
        sleep_unless_cancelled(pause.min(timeout - elapsed), cancel)?;
    }
}

/// Sleeps in short slices so that a cancellation is seen within ~20 ms.
fn sleep_unless_cancelled(pause: Duration, cancel: Option<&AtomicBool>) -> Result<(), StoreError> {
    let slice = Duration::from_millis(20);
    let until = Instant::now() + pause;
    loop {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(StoreError::Cancelled);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(slice));
    }
}

/// Creates the lock with its whole payload at once. The payload is written
/// under a name of our own first and then linked into place: link(2) fails
/// with EEXIST exactly like O_EXCL, and the lock never exists without its
/// payload. (Creating with O_EXCL and then writing leaves an empty lock when
/// the process is killed in between, and the gateway treats an unreadable
/// lock as live for 30 s.) A kill before the link leaves only the staged
/// file, named like our other temp files, which the next start removes.
fn try_create(path: &Path, payload: &[u8]) -> io::Result<()> {
    let (dir, name) = dir_and_name(path);
    let name = name
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staged = write::temp_file_in(dir, &name);
    let Ok(mut staged) = staged else {
        return create_exclusive(path, payload);
    };
    staged.write_all(payload)?;
    match fs::hard_link(staged.path(), path) {
        // Dropping `staged` removes its name; the lock keeps the file.
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        // A file system without hard links: the plain O_EXCL way.
        Err(_) => create_exclusive(path, payload),
    }
}

fn create_exclusive(path: &Path, payload: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    if let Err(e) = file.write_all(payload) {
        // A half-written lock would block the gateway for 30 s: take it back at once.
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

/// Remove a lock judged stale, unless it changed since we judged it (someone else may have
/// reclaimed it and created a fresh one). A tiny window remains between this re-read and
/// the unlink; the gateway's own reclaim has the same window, and without a reclaim guard
/// shared by both parties it cannot be closed. Returns whether we removed it.
fn remove_if_unchanged(path: &Path, judged: &[u8]) -> Result<bool, StoreError> {
    match fs::read(path) {
        Ok(now) if now == judged => match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(path, "remove the stale lock file", e)),
        },
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::io(path, "read the lock file", e)),
    }
}

/// What holds the gateway's lock on a store, judged by the gateway's rules:
/// the same judgement a round makes before it would reclaim the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    Free,
    /// Held by a live writer; `pid` when its payload names one.
    Held {
        pid: Option<u32>,
    },
    /// The gateway (and keepalive) would remove it, and why.
    Stale {
        pid: Option<u32>,
        why: &'static str,
    },
}

/// The lock file of `store` (`<realpath(dir)>/<name>.lock`) and its state.
/// Read-only: nothing is created or removed.
pub fn lock_state(store: &Path) -> io::Result<(PathBuf, LockState)> {
    let (dir, name) = dir_and_name(store);
    let name = name
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = fs::canonicalize(dir)?.join(format!("{name}.lock"));
    let held = match fs::read(&path) {
        Ok(held) => held,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((path, LockState::Free)),
        Err(e) => return Err(e),
    };
    let pid = serde_json::Deserializer::from_slice(&held)
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .and_then(|v| v.as_object().and_then(payload_pid));
    let state = match assess(&held, lock_age(&path), SystemTime::now()) {
        Verdict::Stale(why) => LockState::Stale { pid, why },
        Verdict::Live(pid) => LockState::Held { pid },
    };
    Ok((path, state))
}

/// The holder's pid as the payload names it (absent, zero or out of range: none).
fn payload_pid(obj: &serde_json::Map<String, Value>) -> Option<u32> {
    obj.get("pid")
        .and_then(Value::as_u64)
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| *p > 0)
}

/// How long ago the lock file was last modified (None if unknown).
fn lock_age(path: &Path) -> Option<Duration> {
    let modified = fs::metadata(path).ok()?.modified().ok()?;
    Some(
        SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default(),
    )
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Stale(&'static str),
    /// Held by a live writer (pid when the payload named one).
    Live(Option<u32>),
}

/// Judge a lock payload by the gateway's rules. `file_age` is the lock file's mtime age.
pub(crate) fn assess(held: &[u8], file_age: Option<Duration>, now: SystemTime) -> Verdict {
    let old_file = file_age.is_some_and(|a| a > STALE_AFTER);
    // Newer gateways append an ownership-token line after the JSON: read the first value.
    let first = serde_json::Deserializer::from_slice(held)
        .into_iter::<Value>()
        .next();
    let Some(Ok(Value::Object(obj))) = first else {
        // Empty or partial: possibly a writer between its create and its write.
        return if old_file {
            Verdict::Stale("unreadable payload and old lock file")
        } else {
            Verdict::Live(None)
        };
    };
    let Some(pid) = payload_pid(&obj) else {
        return if old_file {
            Verdict::Stale("payload without a pid and old lock file")
        } else {
            Verdict::Live(None)
        };
    };
    if !pid_alive(pid) {
        return Verdict::Stale("holder is dead");
    }
    if let Some(stat) = proc_stat(pid) {
        if stat.state == b'Z' {
            return Verdict::Stale("holder is a zombie");
        }
        let recorded = obj.get("starttime").and_then(|v| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        });
        if recorded.is_some_and(|st| st != stat.starttime) {
            return Verdict::Stale("holder pid was recycled");
        }
    }
    let created = obj
        .get("createdAt")
        .and_then(Value::as_str)
        .and_then(|s| humantime::parse_rfc3339(s).ok())
        .or_else(|| {
            // The pre-2026-02-13 form: {"pid": N, "startedAt": ms}.
            let ms = obj.get("startedAt")?.as_u64()?;
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(ms))
        });
    let old = match created {
        Some(t) => now.duration_since(t).is_ok_and(|age| age > STALE_AFTER),
        None => old_file,
    };
    if old {
        Verdict::Stale("lock older than 30 s")
    } else {
        Verdict::Live(Some(pid))
    }
}

impl LockGuard {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the lock file still holds exactly our payload (nobody reclaimed it).
    pub fn still_ours(&self) -> io::Result<bool> {
        match fs::read(&self.path) {
            Ok(held) => Ok(held == self.payload),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Only our own payload is removed: if someone judged us stale and took over, the
        // lock is theirs now.
        match self.still_ours() {
            Ok(true) => {
                if let Err(e) = fs::remove_file(&self.path)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    tracing::warn!(lock = %self.path.display(), error = %e, "could not release the session store lock");
                }
            }
            Ok(false) => {
                tracing::warn!(lock = %self.path.display(), "our session store lock was taken over; leaving it");
            }
            Err(e) => {
                tracing::warn!(lock = %self.path.display(), error = %e, "could not read our session store lock to release it");
            }
        }
    }
}

#[cfg(test)]
mod tests;
