//! What a round reads before it decides: where the agent keeps its sessions (told by the
//! agent database's tables, read afresh each round), the store itself, and each session's
//! transcript.

use std::path::Path;

use keepalive_proto::ErrorBody;
use keepalive_store::{EntryInfo, StoreSnapshot};

use super::store_error;
use crate::openclaw::agent_db::{self, SessionNode};
use crate::openclaw::discovery::AgentFiles;
use crate::policy::Transcript;

/// Where the agent's sessions are this round.
pub enum Holding {
    /// In the agent database (OpenClaw 2026.8 and later), which keepalive never writes: its
    /// sessions, read every round so that resets are noticed there too. The keys of a
    /// leftover sessions.json are read only when a request names keys, so that a touch of
    /// one says why it is not written instead of "unknown session".
    Sqlite {
        nodes: Vec<SessionNode>,
        leftover_keys: Vec<String>,
    },
    /// In the store, read once, without a lock.
    Store(StoreSnapshot),
}

/// Reads where the agent's sessions are (and, in the agent database, the sessions, in the
/// same read). An agent database that cannot be read leaves the round without a write:
/// whether the store is the live one cannot be told then.
pub fn holding(agent: &AgentFiles, wants_keys: bool) -> Result<Holding, ErrorBody> {
    let found = agent_db::sessions(&agent.sqlite).map_err(|e| e.to_error_body())?;
    if let Some((_, nodes)) = found.filter(|(db, _)| db.holds_sessions) {
        let leftover_keys = if wants_keys {
            keepalive_store::read_snapshot(&agent.store)
                .map(|leftover| leftover.scan.entries.into_iter().map(|e| e.key).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        return Ok(Holding::Sqlite {
            nodes,
            leftover_keys,
        });
    }
    keepalive_store::read_snapshot(&agent.store)
        .map(Holding::Store)
        .map_err(store_error)
}

/// The transcript's mtime in ms and, when `wants_start` and the entry has
/// no `sessionStartedAt`, its header's start time; only absolute paths are
/// looked at.
pub fn transcript(entry: &EntryInfo, wants_start: bool) -> Transcript {
    let Some(path) = entry
        .session_file
        .as_deref()
        .map(Path::new)
        .filter(|p| p.is_absolute())
    else {
        return Transcript::default();
    };
    let modified_ms = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(crate::time::unix_ms);
    let needs_start = wants_start && entry.session_started_at.value().is_none();
    Transcript {
        modified_ms,
        started_ms: needs_start.then(|| header_started_ms(path)).flatten(),
    }
}

/// The `timestamp` of a transcript's header line (`{"type":"session",
/// ...}`), read the way the gateway reads it: the first line of the first
/// 8 KiB; a number, or a date string.
fn header_started_ms(path: &Path) -> Option<u64> {
    use std::io::Read;
    let mut head = Vec::with_capacity(8192);
    std::fs::File::open(path)
        .ok()?
        .take(8192)
        .read_to_end(&mut head)
        .ok()?;
    let line = head.split(|b| *b == b'\n').next()?;
    let header: serde_json::Value = serde_json::from_slice(line).ok()?;
    if header.get("type")?.as_str()? != "session" {
        return None;
    }
    match header.get("timestamp")? {
        serde_json::Value::Number(n) => n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64),
        serde_json::Value::String(s) => {
            let ts: jiff::Timestamp = s.parse().ok()?;
            u64::try_from(ts.as_millisecond()).ok()
        }
        _ => None,
    }
}
