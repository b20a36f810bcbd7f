//! The agent database probe on real SQLite files made here with the gateway's own
//! schemas (2026.6.35's agent tables, 2026.9.6's `session_nodes`): what it tells, and
//! that reading leaves every file in the agent's folder exactly as it was. A file that
//! may not be read is tested end to end (tests/stores.rs), where it can be read as
//! another user: this process usually runs as root, which reads everything.

use std::path::{Path, PathBuf};

use openclaw_sim::agent_db::{
    AGENT_SCHEMA_2026_6, Left, SESSION_SCHEMA_2026_9, assert_same_tree, tree, with_suffix, write_db,
};
use rusqlite::Connection;

use super::{AgentDb, DbError, Journal, probe, session_keys};

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
    write_db(&db, SESSION_SCHEMA_2026_9, Left::Crashed);
    let before = tree(dir.path());
    assert_eq!(session_keys(&db).expect("keys"), ["agent:main:main"]);
    assert!(
        tree(dir.path()) == before,
        "reading the keys changed a file"
    );
    let other = tempfile::tempdir().expect("tmp");
    let db = db_in(other.path());
    write_db(&db, AGENT_SCHEMA_2026_6, Left::Rollback);
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
