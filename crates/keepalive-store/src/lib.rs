//! Safe keep-alive rounds on OpenClaw session stores (`<stateDir>/agents/<id>/sessions/sessions.json`).
//!
//! A round moves timestamps of session entries forward to "now" while treating the gateway's
//! file as sacred. Each entry has up to three timestamp fields the gateway judges staleness
//! by: `updatedAt` (every store generation; the fallback of the newer ones),
//! `lastInteractionAt` (idle reset, json-v2 stores) and `sessionStartedAt` (daily reset,
//! json-v2). The scan also decodes the entry's own `sessionFile`, `chatType`, `channel` and
//! `lastChannel` strings, and the caller (the daemon, from its policy) decides per entry
//! which of the fields present to bump; this crate only guarantees how:
//!
//! - it takes the gateway's own lock file (`<realpath(dir)>/sessions.json.lock`, O_EXCL,
//!   same payload, same staleness rules) and holds it for milliseconds;
//! - it validates the whole file in one linear, non-recursive pass and changes nothing but
//!   the digits of the bumped timestamps: every other byte (key order, escapes, lone
//!   surrogates, floats, unknown fields) is copied verbatim;
//! - it never lowers a timestamp, never touches a value that is not a plain positive integer
//!   within 2^53, never adds a field or an entry (a field the entry lacks is not written
//!   even when asked for); a 0 stays 0, since the gateway reads `updatedAt` 0 as "a reset is
//!   owed" and keepalive never revives behind its back;
//! - it writes a fsynced temp file in the same directory before taking the lock (under it
//!   when the disk lacks room for two more copies of the store), waits for a moment when no
//!   write of the gateway's is in progress (its `sessions.json.*.tmp` exists from its start to
//!   its rename; the releases from 2026.5.2 to 2026.7.35 take no lock, so this is what keeps
//!   keepalive out of their way), then under the lock checks that the lock is still its own,
//!   that no gateway write began since the read and that the store is still the file it read,
//!   swaps its file into place and releases (then fsyncs the directory) — or, when the store
//!   changed meanwhile, redoes the round entirely under the lock;
//! - the swap (`renameat2(RENAME_EXCHANGE)` on Linux) hands back the file it took out of
//!   place: if that is not the file read, a gateway rename landed between the last check and
//!   the swap, and its file is put back at once and the round redone, so even that window
//!   does not lose the gateway's write (a plain rename where the exchange is unsupported);
//! - a store the gateway writes on every attempt is left alone with "store busy"
//!   ([`StoreError::Writing`]);
//! - on any error the store is byte-for-byte what it was (or what the gateway made it) and no
//!   file of ours remains; the one exception, [`StoreError::NotPutBack`], needs a system call
//!   to fail in the microseconds after a gateway rename landed at the moment of our swap, and
//!   says where the gateway's file was kept.
//!
//! Duplicate keys and duplicate members follow JSON.parse: the last occurrence counts (and is
//! the only one bumped). A store path that is a symlink is refused for writing; read-only
//! snapshots ([`read_snapshot`]) follow it. Everything here is synchronous; the daemon runs
//! it on a blocking thread.

mod commit;
mod error;
mod lock;
mod patch;
mod path;
mod process;
mod read;
mod round;
pub mod scan;
mod snapshot;
mod watch;
mod write;

pub use commit::Step;
pub use error::StoreError;
pub use lock::{LockState, STALE_AFTER, lock_state};
pub use patch::{Bump, Field, Fields, apply as apply_bumps, plan as plan_bumps};
pub use path::dir_and_name;
pub use round::{RoundOptions, RoundOutcome, bump_snapshot, bump_store};
pub use scan::{EntryInfo, MAX_SAFE_INTEGER, ScanError, StoreScan, Timestamp, scan};
pub use snapshot::{StoreSnapshot, read_keys, read_snapshot};
/// The inotify events a round's directory watch asks for (the benchmarks time the same watch).
#[cfg(target_os = "linux")]
pub use watch::linux::WATCH_EVENTS;
pub use write::{remove_stale_temp_files, temp_file_in};
