//! The agent databases the gateway keeps from 2026.6 on
//! (`agents/<id>/agent/openclaw-agent.sqlite`), made with SQLite itself from the gateway's own
//! schemas and left in each state the gateway leaves them in, and written one session at a
//! time as the gateway writes them; and snapshots of a folder, to prove that reading a
//! database changed no file in it. Fixtures for tests: they panic when
//! the disk fails them.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// 2026.6.35's agent database (`openclaw-agent-db`): auth, memory and caches, `user_version` 1,
/// no sessions.
pub const AGENT_SCHEMA_2026_6: &str = "
CREATE TABLE IF NOT EXISTS schema_meta (meta_key TEXT NOT NULL PRIMARY KEY, role TEXT NOT NULL,
  schema_version INTEGER NOT NULL, agent_id TEXT, app_version TEXT, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cache_entries (scope TEXT NOT NULL, key TEXT NOT NULL, value_json TEXT,
  blob BLOB, expires_at INTEGER, updated_at INTEGER NOT NULL, PRIMARY KEY (scope, key));
CREATE TABLE IF NOT EXISTS auth_profile_store (store_key TEXT NOT NULL PRIMARY KEY,
  store_json TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS auth_profile_state (state_key TEXT NOT NULL PRIMARY KEY,
  state_json TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS memory_index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO schema_meta VALUES ('primary', 'agent', 1, 'main', NULL, 1, 1);
PRAGMA user_version = 1;
";

/// 2026.9.6's session table, holding one session, `agent:main:main`: dumped from a database the
/// release's own `openclaw doctor --fix` made (the fixture file says how), so that tests build
/// on the release's schema, not on a copy of it.
pub const SESSION_SCHEMA_2026_9: &str = include_str!("../fixtures/agent-db-2026.9.6.sql");

/// The session id of the one session in [`SESSION_SCHEMA_2026_9`].
pub const SESSION_ID_2026_9: &str = "5d0c1c7e-6a1e-4c1e-9b1a-2f7e3c1d9a01";

/// How the database's writer left the file.
#[derive(Debug, Clone, Copy)]
pub enum Left {
    /// Rollback mode (SQLite's default), closed.
    Rollback,
    /// WAL mode, closed cleanly: no `-wal`, no `-shm`.
    Closed,
    /// WAL mode, its writer gone without closing: the tables created after WAL was switched
    /// on are only in `-wal` (never checkpointed), with the `-shm` index beside it.
    Crashed,
}

/// Writes a database at `path` holding `schema`, left as `left`. It is made elsewhere and
/// copied in, which for [`Left::Crashed`] is what the disk holds after the crash, and which
/// never creates a side file at `path` for a moment.
pub fn write_db(path: &Path, schema: &str, left: Left) {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let live = scratch.path().join("db.sqlite");
    let db = Connection::open(&live).expect("create the database");
    if !matches!(left, Left::Rollback) {
        db.pragma_update(None, "journal_mode", "WAL").expect("wal");
    }
    if matches!(left, Left::Crashed) {
        db.pragma_update(None, "wal_autocheckpoint", 0)
            .expect("no checkpoint");
    }
    db.execute_batch(schema).expect("schema");
    let suffixes: &[&str] = match left {
        Left::Crashed => &["", "-wal", "-shm"],
        Left::Rollback | Left::Closed => {
            drop(db);
            assert!(
                !with_suffix(&live, "-wal").exists() && !with_suffix(&live, "-shm").exists(),
                "closed, the database has no side files"
            );
            &[""]
        }
    };
    for suffix in suffixes {
        std::fs::copy(with_suffix(&live, suffix), with_suffix(path, suffix)).expect("copy");
    }
}

/// One session as the gateway keeps it in `session_nodes`, for [`put_sessions`].
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    pub key: &'a str,
    pub session_id: &'a str,
    /// 2026.8+ reset a session by giving its entry a new `lifecycleRevision` (and keep its
    /// session id); none: an entry as imported from `sessions.json`.
    pub lifecycle_revision: Option<&'a str>,
    /// Interacted with at this time, started ten minutes before.
    pub at_ms: u64,
    /// Bytes of `skillsSnapshot` prompt text in the entry, as a busy agent's entries carry.
    pub padding: usize,
}

/// The gateway's write of one session, as 2026.9.6 upserts a row: `current_session_id` and
/// `updated_at` the same in the columns and in the entry JSON, which the gateway requires.
/// One connection, closed after the write: in WAL mode that checkpoints and removes `-wal`
/// and `-shm`, as a gateway that stops does.
pub fn put_session(
    path: &Path,
    key: &str,
    session_id: &str,
    lifecycle_revision: Option<&str>,
    at_ms: u64,
) {
    put_sessions(
        path,
        &[Session {
            key,
            session_id,
            lifecycle_revision,
            at_ms,
            padding: 0,
        }],
    );
}

/// [`put_session`] for many sessions, in one transaction (a large database in seconds).
pub fn put_sessions(path: &Path, sessions: &[Session]) {
    let mut db = Connection::open(path).expect("open the database to write");
    let tx = db.transaction().expect("begin");
    for s in sessions {
        let mut entry = serde_json::json!({
            "sessionId": s.session_id, "updatedAt": s.at_ms,
            "sessionStartedAt": s.at_ms - 600_000, "lastInteractionAt": s.at_ms,
            "chatType": "direct", "delivery": {"kind": "none"}
        });
        if let Some(revision) = s.lifecycle_revision {
            entry["lifecycleRevision"] = revision.into();
        }
        if s.padding > 0 {
            entry["skillsSnapshot"] = serde_json::json!({ "prompt": "s".repeat(s.padding) });
        }
        let at = i64::try_from(s.at_ms).expect("a time SQLite holds");
        tx.execute(
            "INSERT INTO session_nodes (session_key, current_session_id, entry_json, updated_at, \
               last_interaction_at) VALUES (?1, ?2, ?3, ?4, ?4) \
             ON CONFLICT (session_key) DO UPDATE SET \
               current_session_id = excluded.current_session_id, \
               entry_json = excluded.entry_json, updated_at = excluded.updated_at, \
               last_interaction_at = excluded.last_interaction_at",
            rusqlite::params![s.key, s.session_id, entry.to_string(), at],
        )
        .expect("write the session");
    }
    tx.commit().expect("commit");
}

/// The gateway deleting one session's row (its maintenance, or `sessions.delete`).
pub fn delete_session(path: &Path, key: &str) {
    let db = Connection::open(path).expect("open the database to write");
    db.execute("DELETE FROM session_nodes WHERE session_key = ?1", [key])
        .expect("delete the session");
}

/// `path` with `suffix` appended to its name: a database's `-wal` and `-shm`.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Every file and folder under a folder: bytes, mode and mtime (a folder's mtime changes
/// when a file is created or removed in it, even for a moment).
pub type Tree = BTreeMap<PathBuf, (Vec<u8>, u32, i64, i64)>;

pub fn tree(dir: &Path) -> Tree {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(path) = todo.pop() {
        let meta = std::fs::symlink_metadata(&path).expect("stat");
        let bytes = if meta.is_dir() {
            for entry in std::fs::read_dir(&path).expect("list") {
                todo.push(entry.expect("entry").path());
            }
            Vec::new()
        } else {
            std::fs::read(&path).expect("read")
        };
        out.insert(path, (bytes, meta.mode(), meta.mtime(), meta.mtime_nsec()));
    }
    out
}

/// Asserts that `after` is `before`: the same files, each byte-identical, same mode and mtime.
pub fn assert_same_tree(before: &Tree, after: &Tree) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "files appeared or vanished"
    );
    for (path, was) in before {
        assert!(after[path] == *was, "{} changed", path.display());
    }
}
