//! Resets keepalive noticed: a session key whose `sessionId` changed between two looks, or an
//! entry that appeared or disappeared, with keepalive's own verdict on that session just
//! before. The daemon keeps them in its event log (one JSON object per line, the same shape
//! as on the wire) and answers `resets` with them.

use serde::{Deserialize, Serialize};

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetKind {
    /// The key now names another conversation: the gateway started the session afresh.
    Reset,
    /// The key is gone from the store (pruned by the gateway's maintenance, or deleted).
    Disappeared,
    /// A key keepalive had not seen before.
    Appeared,
}

/// keepalive's verdict on a session at its last look before the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetVerdict {
    /// keepalive was keeping it alive: a reset is keepalive's failure.
    KeptAlive,
    /// An `exclude` rule kept keepalive away from it.
    Excluded,
    /// Not used within the activity window, so keepalive let it go.
    NotInUse,
    /// Already past the gateway's reset when keepalive looked: it does not revive sessions.
    AlreadyStale,
    /// Its entry had no timestamp keepalive may write.
    NoTimestamp,
    /// Its store is one keepalive does not write (SQLite, or a layout it does not know).
    NotWritable,
    /// keepalive meant to keep it alive, but its last write failed (store busy, disk full...).
    WriteFailed,
    /// keepalive was not running for part of the time in which it changed.
    DaemonNotRunning,
}

impl ResetVerdict {
    /// The wire code.
    pub fn code(self) -> &'static str {
        match self {
            ResetVerdict::KeptAlive => "kept_alive",
            ResetVerdict::Excluded => "excluded",
            ResetVerdict::NotInUse => "not_in_use",
            ResetVerdict::AlreadyStale => "already_stale",
            ResetVerdict::NoTimestamp => "no_timestamp",
            ResetVerdict::NotWritable => "not_writable",
            ResetVerdict::WriteFailed => "write_failed",
            ResetVerdict::DaemonNotRunning => "daemon_not_running",
        }
    }

    /// The verdict in words, for people.
    pub fn words(self) -> &'static str {
        match self {
            ResetVerdict::KeptAlive => "keepalive was keeping it alive",
            ResetVerdict::Excluded => "excluded by a rule",
            ResetVerdict::NotInUse => "not in use within the activity window",
            ResetVerdict::AlreadyStale => {
                "already stale when keepalive first saw it (it does not revive)"
            }
            ResetVerdict::NoTimestamp => "no timestamp keepalive may write",
            ResetVerdict::NotWritable => "its store is one keepalive does not write",
            ResetVerdict::WriteFailed => "keepalive's last write failed",
            ResetVerdict::DaemonNotRunning => "keepalive was not running",
        }
    }
}

/// One change keepalive noticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetEvent {
    /// Increasing per event log: `resets` with `after_seq` returns only newer ones.
    pub seq: u64,
    pub agent: String,
    pub key: String,
    pub kind: ResetKind,
    /// The `sessionId` before; null for `appeared`, or when the entry had none.
    pub old_session_id: Option<String>,
    /// The `sessionId` now; null for `disappeared`.
    pub new_session_id: Option<String>,
    /// Unix ms of keepalive's last look at the session as it was before: the change happened
    /// after it. Null for `appeared`.
    pub last_seen_ms: Option<u64>,
    /// Unix ms of the look that noticed the change: it happened before it.
    pub noticed_ms: u64,
    /// `idle` or `daily`: the rule that would have made the session stale by `noticed_ms`,
    /// from the timestamps keepalive last saw and the policy then in force; null if none.
    pub stale_rule: Option<String>,
    /// When that rule made it stale.
    pub stale_at_ms: Option<u64>,
    /// keepalive's verdict at its last look before the change; null for `appeared`.
    pub verdict: Option<ResetVerdict>,
    /// What happened, in words, with the numbers.
    pub detail: String,
}
