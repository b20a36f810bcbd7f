//! The one error type of the crate. Every message says what was wrong, that the store was
//! left alone, and what the operator can do about it.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a round (or a read) did not complete. In every case but [`StoreError::NotPutBack`] the
/// store file is exactly as it was before the call (or as another writer left it), and no temp
/// or lock file of ours is left behind.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store file does not exist.
    #[error(
        "store {} does not exist: nothing to keep alive; check the agent id and the state \
         directory (the gateway creates the store with the agent's first session)",
        path.display()
    )]
    NotFound { path: PathBuf },

    /// The gateway's lock was held (and not stale) for the whole `lock_timeout`.
    #[error(
        "store busy: the gateway's lock {} is held by {} and was not released within {}: store \
         left untouched; the next round will retry. If that process is not an OpenClaw gateway \
         (check with `ps -p PID`), remove the lock file",
        lock.display(),
        holder(*holder_pid),
        humantime::format_duration(Duration::from_millis(waited.as_millis() as u64))
    )]
    Busy {
        lock: PathBuf,
        holder_pid: Option<u32>,
        waited: Duration,
    },

    /// The round was cancelled while waiting for the lock or for a gap between the gateway's
    /// writes (the daemon is stopping).
    #[error(
        "cancelled while waiting for the gateway's lock or for a gap between its writes \
         (keepalived is stopping): store left untouched"
    )]
    Cancelled,

    /// The store is not something we may rewrite: not a complete JSON object, or not a
    /// regular file. `reason` continues the sentence "store <path> ...".
    #[error("store {} {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },

    /// The store (or our lock) kept changing between our read and our rename.
    #[error(
        "the session store kept changing under us (on each of {attempts} attempt(s), another \
         writer replaced it or took over the lock between our read and our rename): left \
         untouched this round; the next round will retry"
    )]
    Changed { attempts: u32 },

    /// The gateway was writing the store (a write in progress, or a new store renamed in
    /// since our read) on every attempt: it takes no lock from 2026.5.2, so keepalive only
    /// replaces the store in a moment between two of its writes.
    #[error(
        "store busy: the gateway was writing the session store on each of {attempts} \
         attempt(s) to replace it, {} in all{}: left untouched (keepalive writes only between \
         two of the gateway's writes); it tries again shortly",
        humantime::format_duration(Duration::from_millis(waited.as_millis() as u64)),
        put_back_note(*put_back)
    )]
    Writing {
        attempts: u32,
        /// How long the round waited for the gateway's writes to end.
        waited: Duration,
        put_back: u32,
    },

    /// A writer replaced the store at the very moment of our swap, and putting its file back
    /// failed. The only error after which the store may not hold the gateway's newest file.
    #[error(
        "the gateway replaced {} at the moment keepalive replaced it, and putting the \
         gateway's file back failed: {source}. The gateway's file is kept at {}: if the store \
         lacks the gateway's latest change, stop the gateway and move that file over the store",
        store.display(),
        kept.display()
    )]
    NotPutBack {
        store: PathBuf,
        kept: PathBuf,
        #[source]
        source: io::Error,
    },

    /// An I/O operation failed.
    #[error(
        "could not {op} {}: {source}; the store was left untouched (check permissions, free \
         space and that the directory still exists)",
        path.display()
    )]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
}

fn put_back_note(put_back: u32) -> String {
    match put_back {
        0 => String::new(),
        n => format!(" ({n} of its writes landed at the moment of ours and were put back)"),
    }
}

fn holder(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("live process {pid}"),
        None => "a writer whose lock file is not yet readable".to_owned(),
    }
}

impl StoreError {
    /// A stable snake_case code for logs, metrics and the control protocol.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "store_not_found",
            StoreError::Busy { .. } => "store_busy",
            StoreError::Cancelled => "shutting_down",
            StoreError::Invalid { .. } => "store_invalid",
            StoreError::Changed { .. } => "store_changed",
            StoreError::Writing { .. } => "store_busy",
            StoreError::NotPutBack { .. } => "store_io",
            StoreError::Io { .. } => "store_io",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            op,
            source,
        }
    }
}
