//! The agent database probe on real SQLite files made here with the gateway's own
//! schemas (2026.6.35's agent tables, 2026.9.6's `session_nodes`): what it tells, and
//! that reading leaves every file in the agent's folder exactly as it was. A file that
//! may not be read is tested end to end (tests/stores.rs), where it can be read as
//! another user: this process usually runs as root, which reads everything.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::openclaw::agent_db::{AgentDb, DbError, Journal, probe, session_keys};

/// 2026.6.35's agent database (`openclaw-agent-db`): auth, memory and caches, no sessions.
const AGENT_SCHEMA_2026_6: &str = "
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

/// 2026.9.6's session table, as its dist creates it, with one session.
const SESSION_SCHEMA_2026_9: &str = "
CREATE TABLE IF NOT EXISTS session_nodes (
  session_key TEXT NOT NULL PRIMARY KEY,
  current_session_id TEXT NOT NULL,
  entry_json TEXT NOT NULL,
  legacy_acp_migration_json TEXT,
  entry_valid INTEGER NOT NULL DEFAULT 0 CHECK (entry_valid IN (-1, 0, 1)),
  updated_at INTEGER NOT NULL,
  created_at INTEGER,
  pinned_at INTEGER,
  archived_at INTEGER,
  last_read_at INTEGER,
  last_interaction_at INTEGER,
  last_activity_at INTEGER
) STRICT;
INSERT INTO session_nodes (session_key, current_session_id, entry_json, updated_at)
  VALUES ('agent:main:main', 's1', '{}', 1770000000000);
PRAGMA user_version = 23;
";

fn db_in(dir: &Path) -> PathBuf {
    let agent = dir.join("agents/main/agent");
    std::fs::create_dir_all(&agent).expect("agent dir");
    agent.join("openclaw-agent.sqlite")
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A database in rollback mode (SQLite's default), closed.
fn rollback_db(path: &Path, schema: &str) {
    let db = Connection::open(path).expect("create");
    db.execute_batch(schema).expect("schema");
}

/// A WAL database that its writer closed cleanly: no `-wal`, no `-shm`.
fn closed_wal_db(path: &Path, schema: &str) {
    let db = Connection::open(path).expect("create");
    db.pragma_update(None, "journal_mode", "WAL").expect("wal");
    db.execute_batch(schema).expect("schema");
    drop(db);
    assert!(!sibling(path, "-wal").exists() && !sibling(path, "-shm").exists());
}

/// A WAL database as a writer leaves it when it dies: the tables created after WAL was
/// switched on are only in `-wal` (never checkpointed), with the `-shm` index beside it.
/// Made by copying a live writer's files, which is what the disk holds after a crash.
fn crashed_wal_db(path: &Path, schema: &str) {
    let scratch = tempfile::tempdir().expect("scratch");
    let live = scratch.path().join("live.sqlite");
    let db = Connection::open(&live).expect("create");
    db.pragma_update(None, "journal_mode", "WAL").expect("wal");
    db.pragma_update(None, "wal_autocheckpoint", 0)
        .expect("no checkpoint");
    db.execute_batch(schema).expect("schema");
    for suffix in ["", "-wal", "-shm"] {
        std::fs::copy(sibling(&live, suffix), sibling(path, suffix)).expect("copy");
    }
    drop(db);
}

/// Every file and folder under `dir`: bytes, size, mode and mtime (a folder's mtime
/// changes when a file is created or removed in it, even for a moment).
fn tree(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32, i64, i64)> {
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

/// Probes `db` and checks that nothing under `dir` changed; returns the answer.
fn probe_untouched(dir: &Path, db: &Path) -> Result<Option<AgentDb>, DbError> {
    let before = tree(dir);
    let found = probe(db);
    let after = tree(dir);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "files appeared or vanished"
    );
    for (path, was) in &before {
        assert!(after[path] == *was, "{} changed", path.display());
    }
    found
}

fn found(answer: Result<Option<AgentDb>, DbError>) -> AgentDb {
    answer.expect("readable").expect("exists")
}

#[test]
fn no_file_is_no_database() {
    let dir = tempfile::tempdir().expect("tmp");
    assert_eq!(
        probe_untouched(dir.path(), &db_in(dir.path())).expect("ok"),
        None
    );
}

#[test]
fn the_2026_6_agent_database_holds_no_sessions() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = db_in(dir.path());
    rollback_db(&db, AGENT_SCHEMA_2026_6);
    let got = found(probe_untouched(dir.path(), &db));
    assert_eq!(
        got,
        AgentDb {
            holds_sessions: false,
            user_version: 1,
            journal: Journal::Rollback
        }
    );
}

#[test]
fn a_database_with_session_nodes_holds_the_sessions() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = db_in(dir.path());
    rollback_db(
        &db,
        &format!("{AGENT_SCHEMA_2026_6}{SESSION_SCHEMA_2026_9}"),
    );
    let got = found(probe_untouched(dir.path(), &db));
    assert!(got.holds_sessions);
    assert_eq!(got.user_version, 23);
}

#[test]
fn a_cleanly_closed_wal_database_is_read_without_creating_its_side_files() {
    for (schema, sessions) in [
        (AGENT_SCHEMA_2026_6.to_string(), false),
        (
            format!("{AGENT_SCHEMA_2026_6}{SESSION_SCHEMA_2026_9}"),
            true,
        ),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let db = db_in(dir.path());
        closed_wal_db(&db, &schema);
        let got = found(probe_untouched(dir.path(), &db));
        assert_eq!(got.holds_sessions, sessions);
        assert_eq!(got.journal, Journal::WalCheckpointed);
    }
}

#[test]
fn tables_that_are_only_in_the_write_ahead_log_are_found_and_nothing_is_checkpointed() {
    for (schema, sessions, version) in [
        (AGENT_SCHEMA_2026_6.to_string(), false, 1),
        (SESSION_SCHEMA_2026_9.to_string(), true, 23),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let db = db_in(dir.path());
        crashed_wal_db(&db, &schema);
        let main = std::fs::read(&db).expect("main file");
        assert!(
            !main.windows(12).any(|w| w == b"schema_meta ")
                && !main.windows(13).any(|w| w == b"session_nodes"),
            "the tables must be in the log only, or this test proves nothing"
        );
        let got = found(probe_untouched(dir.path(), &db));
        assert_eq!(
            got,
            AgentDb {
                holds_sessions: sessions,
                user_version: version,
                journal: Journal::Wal
            }
        );
    }
}

#[test]
fn a_write_ahead_log_without_its_index_is_not_read_rather_than_given_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = db_in(dir.path());
    crashed_wal_db(&db, SESSION_SCHEMA_2026_9);
    std::fs::remove_file(sibling(&db, "-shm")).expect("rm shm");
    let err = probe_untouched(dir.path(), &db).expect_err("unreadable");
    assert!(matches!(err, DbError::Busy { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&db.display().to_string()), "{message}");
    assert!(message.contains("writes nothing"), "{message}");
    assert_eq!(err.to_error_body().code.as_str(), "store_busy");
}

#[test]
fn an_empty_file_is_a_database_without_tables() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = db_in(dir.path());
    std::fs::write(&db, b"").expect("empty");
    let got = found(probe_untouched(dir.path(), &db));
    assert_eq!(
        got,
        AgentDb {
            holds_sessions: false,
            user_version: 0,
            journal: Journal::Empty
        }
    );
}

#[test]
fn a_file_that_is_not_a_database_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = db_in(dir.path());
    for bytes in [
        &b"SQLite format 3\0"[..],
        b"{\"agent:main:main\": {}}",
        &[0x5a; 8192][..],
    ] {
        std::fs::write(&db, bytes).expect("junk");
        let err = probe_untouched(dir.path(), &db).expect_err("not a database");
        assert!(matches!(err, DbError::NotADatabase { .. }), "{err:?}");
        assert!(err.to_string().contains(&db.display().to_string()));
        assert_eq!(err.to_error_body().code.as_str(), "store_invalid");
    }
    std::fs::remove_file(&db).expect("rm");
    std::fs::create_dir(&db).expect("a folder in its place");
    let err = probe_untouched(dir.path(), &db).expect_err("a folder");
    assert!(matches!(err, DbError::NotADatabase { .. }), "{err:?}");
}

#[test]
fn a_damaged_database_is_reported_as_such() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = db_in(dir.path());
    rollback_db(
        &db,
        &format!("{AGENT_SCHEMA_2026_6}{SESSION_SCHEMA_2026_9}"),
    );
    // The schema table's root page (page 1, after the 100-byte header) gets an
    // impossible b-tree page type.
    let mut bytes = std::fs::read(&db).expect("read");
    bytes[100] = 0x07;
    std::fs::write(&db, &bytes).expect("damage");
    let err = probe_untouched(dir.path(), &db).expect_err("damaged");
    assert!(matches!(err, DbError::Corrupt { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("openclaw doctor"), "{message}");
    assert_eq!(err.to_error_body().code.as_str(), "store_invalid");
}

#[test]
fn a_database_locked_by_a_writer_is_busy_not_guessed() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = db_in(dir.path());
    rollback_db(&db, AGENT_SCHEMA_2026_6);
    // A rollback-mode writer in the middle of committing holds an exclusive lock.
    let writer = Connection::open(&db).expect("writer");
    writer
        .execute_batch(&format!("BEGIN EXCLUSIVE; {SESSION_SCHEMA_2026_9}"))
        .expect("locked");
    let started = std::time::Instant::now();
    let err = probe(&db).expect_err("busy");
    assert!(matches!(err, DbError::Busy { .. }), "{err:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
    writer.execute_batch("COMMIT").expect("commit");
    assert!(found(probe(&db)).holds_sessions);
}

#[test]
fn session_keys_come_from_session_nodes_also_when_only_in_the_log() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = db_in(dir.path());
    assert_eq!(session_keys(&db).expect("no file"), Vec::<String>::new());
    crashed_wal_db(&db, SESSION_SCHEMA_2026_9);
    let before = tree(dir.path());
    assert_eq!(session_keys(&db).expect("keys"), ["agent:main:main"]);
    assert!(
        tree(dir.path()) == before,
        "reading the keys changed a file"
    );
    let other = tempfile::tempdir().expect("tmp");
    let db = db_in(other.path());
    rollback_db(&db, AGENT_SCHEMA_2026_6);
    assert_eq!(session_keys(&db).expect("no table"), Vec::<String>::new());
}

/// Set for the writer process that [`a_database_a_live_writer_holds_open_is_read_through_its_index`]
/// starts: the database it creates and holds open.
const LIVE_WRITER_DB: &str = "KEEPALIVE_TEST_LIVE_WRITER_DB";

/// The other process of that test (this test binary again, as the gateway is another
/// process): creates the database in WAL mode, writes the session table without a
/// checkpoint, says "ready", and keeps the connection open until its stdin closes.
#[test]
#[ignore = "the writer process of a_database_a_live_writer_holds_open_is_read_through_its_index"]
fn live_writer_process() {
    use std::io::{BufRead, Write};
    let path = std::env::var_os(LIVE_WRITER_DB).expect("started by the live-writer test");
    let db = Connection::open(path).expect("create");
    db.pragma_update(None, "journal_mode", "WAL").expect("wal");
    db.pragma_update(None, "wal_autocheckpoint", 0)
        .expect("no checkpoint");
    db.execute_batch(&format!("{AGENT_SCHEMA_2026_6}{SESSION_SCHEMA_2026_9}"))
        .expect("schema");
    println!("live writer ready");
    std::io::stdout().flush().expect("flush");
    let _ = std::io::stdin().lock().read_line(&mut String::new());
    drop(db);
}

#[test]
fn a_database_a_live_writer_holds_open_is_read_through_its_index() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tmp");
    let db = db_in(dir.path());
    let mut writer = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "openclaw::tests::agent_db::live_writer_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(LIVE_WRITER_DB, &db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the writer");
    let mut lines = BufReader::new(writer.stdout.take().expect("stdout")).lines();
    let ready = lines.any(|line| line.is_ok_and(|l| l.contains("live writer ready")));
    let checked = std::panic::catch_unwind(|| {
        assert!(ready, "the writer process did not get ready");
        let wal = std::fs::metadata(sibling(&db, "-wal")).expect("-wal").len();
        assert!(
            wal > 32,
            "no frames in the log ({wal} bytes): this test would prove nothing"
        );
        assert!(sibling(&db, "-shm").exists());
        let got = found(probe_untouched(dir.path(), &db));
        assert_eq!(
            got,
            AgentDb {
                holds_sessions: true,
                user_version: 23,
                journal: Journal::Wal
            }
        );
        let before = tree(dir.path());
        assert_eq!(session_keys(&db).expect("keys"), ["agent:main:main"]);
        assert!(
            tree(dir.path()) == before,
            "reading the keys changed a file"
        );
    });
    drop(writer.stdin.take());
    let exited = writer.wait().expect("writer exit");
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
    assert!(exited.success(), "the writer process failed: {exited}");
}
