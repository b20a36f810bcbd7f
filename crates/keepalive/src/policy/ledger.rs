//! keepalive's memory of its own writes and of client touches, per agent.
//!
//! A timestamp that equals the value keepalive last wrote there is its own
//! bump, not activity; any other forward move was made by the gateway. The
//! ledger is persisted (one small file per agent) so that a restart does not
//! mistake yesterday's bumps for use.
//!
//! It also keeps keepalive's last look at each session (its `sessionId` and keepalive's
//! verdict then), so that a reset is noticed at the next look, also one that happened while
//! keepalive was not running.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use keepalive_proto::ResetVerdict;
use keepalive_store::{Field, Fields};
use serde::{Deserialize, Serialize};

/// How long the time of the last look may lag in the saved ledger. A look that changed
/// nothing else does not save the ledger: a daemon killed without a goodbye leaves a last
/// look at most this old, and a reset noticed after such a gap is reported with the gap.
pub const LOOK_SAVED_EVERY_MS: u64 = 10 * 60 * 1000;

/// keepalive's last look at one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Look {
    /// The entry's `sessionId`, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The session's lifecycle, where the gateway keeps one: OpenClaw 2026.8+ (SQLite) resets
    /// a session by giving its entry a new `lifecycleRevision` and keeping its `sessionId`.
    /// The empty string for an entry without one (as imported from `sessions.json`); `None`
    /// where it is not looked at (JSON stores, whose resets change the `sessionId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<String>,
    pub verdict: ResetVerdict,
    /// When it would go stale without a bump, and by which rule (`idle`, `daily`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_rule: Option<String>,
}

/// What keepalive knows of one session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLedger {
    /// Values keepalive last wrote, per field.
    #[serde(default, rename = "updatedAt", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<u64>,
    #[serde(
        default,
        rename = "lastInteractionAt",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_interaction_at: Option<u64>,
    #[serde(
        default,
        rename = "sessionStartedAt",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_started_at: Option<u64>,
    /// When a client last touched it by name (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touched_ms: Option<u64>,
    /// The latest real activity seen so far, and its source. A bump
    /// overwrites the gateway's timestamp that showed it, so it is kept here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_source: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLedger {
    #[serde(default)]
    sessions: BTreeMap<String, SessionLedger>,
    /// The sessions as keepalive last saw them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    looks: BTreeMap<String, Look>,
    /// When that was (Unix ms); `None` before keepalive ever looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    looked_at_ms: Option<u64>,
}

impl AgentLedger {
    pub fn session(&self, key: &str) -> Option<&SessionLedger> {
        self.sessions.get(key)
    }

    /// The value keepalive last wrote into `field` of `key`.
    pub fn written(&self, key: &str, field: Field) -> Option<u64> {
        let s = self.sessions.get(key)?;
        match field {
            Field::UpdatedAt => s.updated_at,
            Field::LastInteractionAt => s.last_interaction_at,
            Field::SessionStartedAt => s.session_started_at,
        }
    }

    pub fn record_write(&mut self, key: &str, fields: Fields, value: u64) {
        let s = self.sessions.entry(key.to_owned()).or_default();
        if fields.updated_at {
            s.updated_at = Some(value);
        }
        if fields.last_interaction_at {
            s.last_interaction_at = Some(value);
        }
        if fields.session_started_at {
            s.session_started_at = Some(value);
        }
    }

    /// Remembers `at_ms` as the session's latest activity if it is newer.
    pub fn record_activity(&mut self, key: &str, at_ms: u64, source: &str) {
        let s = self.sessions.entry(key.to_owned()).or_default();
        if s.activity_ms.is_none_or(|seen| at_ms > seen) {
            s.activity_ms = Some(at_ms);
            s.activity_source = Some(source.to_owned());
        }
    }

    pub fn record_touch(&mut self, key: &str, at_ms: u64) {
        self.sessions.entry(key.to_owned()).or_default().touched_ms = Some(at_ms);
    }

    /// The sessions as keepalive last saw them, and when.
    pub fn looks(&self) -> (&BTreeMap<String, Look>, Option<u64>) {
        (&self.looks, self.looked_at_ms)
    }

    /// Records a look at every session of the store, at `at_ms`.
    pub fn record_looks(&mut self, looks: BTreeMap<String, Look>, at_ms: u64) {
        self.looks = looks;
        self.looked_at_ms = Some(at_ms);
    }

    /// Whether this ledger says more than `saved` does: anything but the time of the last
    /// look, or that time once it is [`LOOK_SAVED_EVERY_MS`] newer.
    pub fn worth_saving_over(&self, saved: &AgentLedger) -> bool {
        let lag = match (self.looked_at_ms, saved.looked_at_ms) {
            (Some(now), Some(then)) => now.saturating_sub(then) >= LOOK_SAVED_EVERY_MS,
            (now, then) => now != then,
        };
        lag || self.sessions != saved.sessions || self.looks != saved.looks
    }

    /// Forgets sessions the store no longer has (the gateway pruned them;
    /// `in_store` says which it has), so the ledger never grows beyond the store.
    pub fn retain(&mut self, in_store: impl Fn(&str) -> bool) {
        self.sessions.retain(|k, _| in_store(k));
    }
}

/// Where one agent's ledger lives.
#[derive(Debug, Clone)]
pub struct LedgerFile {
    path: PathBuf,
}

impl LedgerFile {
    pub fn new(dir: &Path, agent: &str) -> Self {
        LedgerFile {
            path: dir.join(format!("{agent}.json")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the ledger; a missing or unreadable one is empty (the cost is
    /// only that keepalive's earlier bumps may count as activity once).
    pub fn load(&self) -> AgentLedger {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(
                    "ignoring unreadable activity ledger {}: {e}",
                    self.path.display()
                );
                AgentLedger::default()
            }),
            Err(_) => AgentLedger::default(),
        }
    }

    pub fn save(&self, ledger: &AgentLedger) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(ledger).map_err(std::io::Error::other)?;
        crate::atomic_file::write_atomically(&self.path, &bytes)
    }

    /// Saves the ledger after a round that changed it. A failure is only
    /// logged: the cost is that keepalive's own last bump may count as
    /// activity once.
    pub fn save_or_warn(&self, ledger: &AgentLedger) {
        if let Err(e) = self.save(ledger) {
            tracing::warn!(
                "cannot save the activity ledger {}: {e}",
                self.path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_writes_and_touches_and_forgets_pruned_sessions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = LedgerFile::new(dir.path(), "main");
        let mut ledger = file.load();
        ledger.record_write("a", Fields::ALL, 7);
        ledger.record_write("b", Fields::UPDATED_AT, 8);
        ledger.record_touch("b", 9);
        file.save(&ledger).expect("save");
        let mut loaded = file.load();
        assert_eq!(loaded, ledger);
        assert_eq!(loaded.written("a", Field::SessionStartedAt), Some(7));
        assert_eq!(loaded.written("b", Field::LastInteractionAt), None);
        loaded.retain(|key| key == "b");
        assert!(loaded.session("a").is_none());
        assert_eq!(loaded.session("b").and_then(|s| s.touched_ms), Some(9));
    }
}
