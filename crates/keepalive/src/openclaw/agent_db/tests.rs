//! The agent database probe and the read of its sessions, on real SQLite files made here with
//! the gateway's own schemas (2026.6.35's agent tables, 2026.9.6's `session_nodes` as its
//! doctor made it): what they tell, and that reading leaves every file in the agent's folder
//! exactly as it was. A file that
//! may not be read is tested end to end (tests/stores.rs), where it can be read as
//! another user: this process usually runs as root, which reads everything.

use std::path::{Path, PathBuf};

use openclaw_sim::agent_db::{
    AGENT_SCHEMA_2026_6, Left, SESSION_ID_2026_9, SESSION_SCHEMA_2026_9, assert_same_tree, tree,
    with_suffix, write_db,
};
use rusqlite::Connection;

use super::{AgentDb, DbError, Journal, SessionNode, probe, sessions};

fn db_in(dir: &Path) -> PathBuf {
    let agent = dir.join("agents/main/agent");
    std::fs::create_dir_all(&agent).expect("agent dir");
    agent.join("openclaw-agent.sqlite")
}

/// Probes `db` and checks that nothing under `dir` changed; returns the answer.
fn probe_untouched(dir: &Path, db: &Path) -> Result<Option<AgentDb>, DbError> {
    let before = tree(dir);
    let found = probe(db);
    assert_same_tree(&before, &tree(dir));
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
    write_db(&db, AGENT_SCHEMA_2026_6, Left::Rollback);
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
    write_db(
        &db,
        &format!("{AGENT_SCHEMA_2026_6}{SESSION_SCHEMA_2026_9}"),
        Left::Rollback,
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
        write_db(&db, &schema, Left::Closed);
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
        write_db(&db, &schema, Left::Crashed);
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
    write_db(&db, SESSION_SCHEMA_2026_9, Left::Crashed);
    std::fs::remove_file(with_suffix(&db, "-shm")).expect("rm shm");
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
    write_db(
        &db,
        &format!("{AGENT_SCHEMA_2026_6}{SESSION_SCHEMA_2026_9}"),
        Left::Rollback,
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
    write_db(&db, AGENT_SCHEMA_2026_6, Left::Rollback);
    // A rollback-mode writer in the middle of committing holds an exclusive lock.
    let writer = Connection::open(&db).expect("writer");
    writer
        .execute_batch(&format!("BEGIN EXCLUSIVE; {SESSION_SCHEMA_2026_9}"))
        .expect("locked");
    let started = std::time::Instant::now();
    let err = probe(&db).expect_err("busy");
    assert!(matches!(err, DbError::Busy { .. }), "{err:?}");
    let err = sessions(&db).expect_err("busy");
    assert!(matches!(err, DbError::Busy { .. }), "{err:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
    writer.execute_batch("COMMIT").expect("commit");
    assert!(found(probe(&db)).holds_sessions);
}

/// Reads the sessions of `db` and checks that nothing under `dir` changed.
fn sessions_untouched(dir: &Path, db: &Path) -> Vec<SessionNode> {
    let before = tree(dir);
    let (_, nodes) = sessions(db).expect("readable").expect("exists");
    assert_same_tree(&before, &tree(dir));
    nodes
}

/// The one session of the 2026.9.6 fixture, as its doctor imported it.
fn imported() -> SessionNode {
    SessionNode {
        key: "agent:main:main".into(),
        session_id: Some(SESSION_ID_2026_9.into()),
        lifecycle_revision: None,
        updated_at: Some(1_767_323_045_000),
        last_interaction_at: Some(1_767_323_045_000),
        session_started_at: Some(1_767_322_445_000),
        chat_type: Some("direct".into()),
        channel: None,
        archived_at: None,
    }
}

#[test]
fn sessions_come_from_session_nodes_also_when_only_in_the_log() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = db_in(dir.path());
    assert_eq!(sessions(&db).expect("no file"), None);
    write_db(&db, SESSION_SCHEMA_2026_9, Left::Crashed);
    let (found, nodes) = sessions(&db).expect("readable").expect("exists");
    assert_eq!(
        found,
        AgentDb {
            holds_sessions: true,
            user_version: 23,
            journal: Journal::Wal
        }
    );
    assert_eq!(nodes, [imported()]);
    assert_eq!(sessions_untouched(dir.path(), &db), [imported()]);

    let other = tempfile::tempdir().expect("tmp");
    let db = db_in(other.path());
    write_db(&db, AGENT_SCHEMA_2026_6, Left::Rollback);
    let (found, nodes) = sessions(&db).expect("readable").expect("exists");
    assert!(!found.holds_sessions);
    assert!(nodes.is_empty());
}

#[test]
fn what_a_reset_reads_comes_from_the_entry_and_a_broken_entry_leaves_the_columns() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = db_in(dir.path());
    // The telegram group is as 2026.9.6's doctor imports one (channel and lastChannel of the
    // JSON store become its delivery); the others are what a row may hold besides.
    let rows = [
        (
            "agent:main:telegram:group:-100123",
            r#"{"sessionId":"g1","lifecycleRevision":"r1","updatedAt":1000,"sessionStartedAt":500,"lastInteractionAt":900,"chatType":"group","delivery":{"kind":"external","route":{"channel":"telegram"},"context":{"channel":"telegram"},"origin":{"provider":"telegram"}}}"#,
            "g1",
            1000,
            Some(1000),
            None,
        ),
        (
            "agent:main:origin-only",
            r#"{"sessionId":"o1","updatedAt":2000,"lastInteractionAt":1500.75,"delivery":{"kind":"external","context":{},"origin":{"provider":"discord"}}}"#,
            "o1",
            2000,
            None,
            Some(3000),
        ),
        (
            "agent:main:not-json",
            "{not json",
            "n1",
            3000,
            Some(2500),
            None,
        ),
        (
            "agent:main:odd-types",
            r#"{"sessionId":"x1","updatedAt":4000,"sessionStartedAt":"yesterday","lastInteractionAt":-5,"chatType":7,"delivery":{"kind":"none"}}"#,
            "x1",
            4000,
            None,
            None,
        ),
    ];
    let scratch = tempfile::tempdir().expect("tmp");
    let made = scratch.path().join("db.sqlite");
    let conn = Connection::open(&made).expect("create");
    conn.execute_batch(SESSION_SCHEMA_2026_9).expect("schema");
    for (key, entry, id, updated, interaction, archived) in rows {
        conn.execute(
            "INSERT INTO session_nodes (session_key, current_session_id, entry_json, updated_at, \
             last_interaction_at, archived_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![key, id, entry, updated, interaction, archived],
        )
        .expect("row");
    }
    drop(conn);
    std::fs::copy(&made, &db).expect("copy in");

    let nodes = sessions_untouched(dir.path(), &db);
    let by_key = |key: &str| {
        nodes
            .iter()
            .find(|n| n.key == key)
            .unwrap_or_else(|| panic!("no {key}: {nodes:#?}"))
            .clone()
    };
    let keys: Vec<&str> = nodes.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "agent:main:main",
            "agent:main:not-json",
            "agent:main:odd-types",
            "agent:main:origin-only",
            "agent:main:telegram:group:-100123"
        ],
        "in key order"
    );
    let group = by_key("agent:main:telegram:group:-100123");
    assert_eq!(group.session_id.as_deref(), Some("g1"));
    assert_eq!(group.lifecycle_revision.as_deref(), Some("r1"));
    assert_eq!(by_key("agent:main:origin-only").lifecycle_revision, None);
    assert_eq!(
        (
            group.updated_at,
            group.last_interaction_at,
            group.session_started_at
        ),
        (Some(1000), Some(900), Some(500)),
        "the entry's lastInteractionAt wins over the column"
    );
    assert_eq!(group.chat_type.as_deref(), Some("group"));
    assert_eq!(group.channel.as_deref(), Some("telegram"));
    let origin = by_key("agent:main:origin-only");
    assert_eq!(origin.channel.as_deref(), Some("discord"));
    assert_eq!(origin.last_interaction_at, Some(1500));
    assert_eq!(origin.archived_at, Some(3000));
    let broken = by_key("agent:main:not-json");
    assert_eq!(
        (broken.updated_at, broken.last_interaction_at),
        (Some(3000), Some(2500))
    );
    assert_eq!((broken.chat_type, broken.session_started_at), (None, None));
    let odd = by_key("agent:main:odd-types");
    assert_eq!(
        (
            odd.session_started_at,
            odd.last_interaction_at,
            odd.chat_type.clone()
        ),
        (None, None, None)
    );
    assert_eq!(odd.channel, None, "delivery kind none has no channel");

    let entry = group.entry();
    assert_eq!(entry.session_id.as_deref(), Some("g1"));
    assert_eq!(entry.last_interaction_at.value(), Some(900));
    assert_eq!(entry.channel.as_deref(), Some("telegram"));
    assert_eq!(
        odd.entry().session_started_at,
        keepalive_store::Timestamp::Missing
    );
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
            "openclaw::agent_db::tests::live_writer_process",
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
        let wal = std::fs::metadata(with_suffix(&db, "-wal"))
            .expect("-wal")
            .len();
        assert!(
            wal > 32,
            "no frames in the log ({wal} bytes): this test would prove nothing"
        );
        assert!(with_suffix(&db, "-shm").exists());
        let got = found(probe_untouched(dir.path(), &db));
        assert_eq!(
            got,
            AgentDb {
                holds_sessions: true,
                user_version: 23,
                journal: Journal::Wal
            }
        );
        assert_eq!(sessions_untouched(dir.path(), &db), [imported()]);
    });
    drop(writer.stdin.take());
    let exited = writer.wait().expect("writer exit");
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
    assert!(exited.success(), "the writer process failed: {exited}");
}
