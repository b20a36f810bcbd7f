//! Where an agent's sessions live is told by its database's tables, never by the
//! database's existence, end to end with the real binaries: OpenClaw 2026.6.11 – 2026.7.35
//! keep sessions in `sessions.json` beside an agent database without session tables
//! (keepalive writes the store); 2026.8+ keep them in `session_nodes` (keepalive writes
//! nothing, and reading the database changes no file); a database that cannot be read
//! means no write that round, with the file and the reason in `status`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

use serde_json::{Value, json};
use support::agent_db::{
    AGENT_SCHEMA_2026_6, Left, SESSION_SCHEMA_2026_9, assert_same_tree, tree, with_suffix,
};
use support::{Env, bumped_digit_spans, now_ms, ok, stderr, stdout, text};

const MIN: u64 = 60_000;

/// A store as the gateway writes it, one session of `agent` used a minute ago.
fn store(agent: &str) -> Vec<u8> {
    let now = now_ms();
    let key = format!("agent:{agent}:main");
    serde_json::to_vec_pretty(&json!({
        key: {"sessionId": "s1", "updatedAt": now - MIN, "sessionStartedAt": now - 5 * MIN,
              "lastInteractionAt": now - MIN, "chatType": "direct"}
    }))
    .expect("json")
}

fn agent<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id))
        .unwrap_or_else(|| panic!("no agent {id}: {status:#}"))
}

fn agent_dir(env: &Env, id: &str) -> std::path::PathBuf {
    env.state_dir.join("agents").join(id)
}

#[test]
fn an_agent_database_without_session_tables_leaves_the_store_to_keepalive() {
    let env = Env::new();
    // 2026.6: sessions.json beside a database the gateway's doctor made, in both states
    // the gateway leaves it in.
    let (json6, json7) = (store("json6"), store("json7"));
    env.add_agent("json6", &json6);
    env.add_agent_db("json6", AGENT_SCHEMA_2026_6, Left::Closed);
    env.add_agent("json7", &json7);
    env.add_agent_db("json7", AGENT_SCHEMA_2026_6, Left::Crashed);
    // 2026.9: sessions in session_nodes; the imported store is a leftover.
    let leftover = store("sqlite9");
    env.add_agent("sqlite9", &leftover);
    env.add_agent_db("sqlite9", SESSION_SCHEMA_2026_9, Left::Crashed);
    let databases: Vec<_> = ["json6", "json7"]
        .into_iter()
        .map(|id| (id, tree(&agent_dir(&env, id).join("agent"))))
        .collect();
    let sqlite_before = tree(&agent_dir(&env, "sqlite9"));

    let daemon = env.daemon_all(&["--interval", "1h"]);
    let status = env.wait_status("the first round of every agent", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.len() == 3 && a.iter().all(|a| a["last_tick_ms"].is_u64()))
    });
    for (id, stored) in [("json6", &json6), ("json7", &json7)] {
        let a = agent(&status, id);
        assert_eq!(a["generation"], "json-v2", "{status:#}");
        assert_eq!(a["writes"], 1, "{status:#}");
        assert_eq!(a["last_error"], Value::Null, "{status:#}");
        let changes = bumped_digit_spans(stored, &env.read_store(id));
        assert!(!changes.is_empty(), "{id}: nothing bumped");
    }
    let sqlite = agent(&status, "sqlite9");
    assert_eq!(sqlite["generation"], "sqlite", "{status:#}");
    assert_eq!(sqlite["writes"], 0);
    assert!(
        sqlite["note"]
            .as_str()
            .is_some_and(|n| n.contains("session_nodes")),
        "{status:#}"
    );

    // A touch by name bumps the 2026.6 store and is refused for the SQLite one.
    env.ctl_json(&["touch", "agent:json6:main"]);
    let out = env.ctl(&["--json", "touch", "agent:sqlite9:main"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains("generation_unsupported")
            || stderr(&out).contains("generation_unsupported"),
        "{}",
        text(&out)
    );
    drop(daemon);

    // The databases were read, never changed; the SQLite agent's folder not at all.
    for (id, before) in &databases {
        assert_same_tree(before, &tree(&agent_dir(&env, id).join("agent")));
    }
    assert_same_tree(&sqlite_before, &tree(&agent_dir(&env, "sqlite9")));
    assert_eq!(env.read_store("sqlite9"), leftover);
}

#[test]
fn once_and_doctor_tell_the_generation_by_the_tables() {
    let env = Env::new();
    env.add_agent("json6", &store("json6"));
    env.add_agent_db("json6", AGENT_SCHEMA_2026_6, Left::Closed);
    env.add_agent("sqlite9", &store("sqlite9"));
    env.add_agent_db("sqlite9", SESSION_SCHEMA_2026_9, Left::Closed);
    let sqlite_before = tree(&agent_dir(&env, "sqlite9"));

    let out = env.once(&["--schedule", "interval"]);
    let said = ok(&out);
    assert!(said.contains("✓ json6: bumped 1 of 1"), "{said}");
    assert!(said.contains("- sqlite9:"), "{said}");
    assert_same_tree(&sqlite_before, &tree(&agent_dir(&env, "sqlite9")));

    let state_dir = env.state_dir.display().to_string();
    let report = env.ctl_json(&["doctor", "--state-dir", &state_dir]);
    let doctor_agent = |id: &str| {
        report["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == id))
            .unwrap_or_else(|| panic!("no {id}: {report:#}"))
            .clone()
    };
    let json6 = doctor_agent("json6");
    assert_eq!(json6["generation"], "json-v2", "{report:#}");
    assert_eq!(json6["database"]["holds_sessions"], false);
    assert_eq!(json6["database"]["user_version"], 1);
    let sqlite9 = doctor_agent("sqlite9");
    assert_eq!(sqlite9["generation"], "sqlite", "{report:#}");
    assert_eq!(sqlite9["database"]["holds_sessions"], true);
    assert_eq!(sqlite9["database"]["user_version"], 23);
    assert_eq!(report["effective"], true, "{report:#}");
    let text_report = ok(&env.ctl(&["doctor", "--state-dir", &state_dir]));
    assert!(
        text_report.contains("no session tables, user_version 1"),
        "{text_report}"
    );
    assert_same_tree(&sqlite_before, &tree(&agent_dir(&env, "sqlite9")));
}

#[test]
fn an_agent_with_only_a_database_is_served_only_if_it_holds_the_sessions() {
    let env = Env::new();
    // A 2026.6 agent that has had no session yet: no store, so nothing to serve.
    env.add_agent_db("fresh6", AGENT_SCHEMA_2026_6, Left::Closed);
    // A 2026.9 agent after its doctor moved sessions.json away.
    env.add_agent_db("sqlite9", SESSION_SCHEMA_2026_9, Left::Closed);
    env.add_agent("main", &store("main"));
    let _daemon = env.daemon_all(&["--interval", "1h", "--tick-ms", "50"]);
    let status = env.wait_status("the first rounds", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.iter().all(|a| a["last_tick_ms"].is_u64()))
    });
    let ids: Vec<&str> = status["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, ["main", "sqlite9"], "{status:#}");
    assert_eq!(agent(&status, "sqlite9")["generation"], "sqlite");
    // Its first session arrives: from then on it is served, as json.
    env.add_agent("fresh6", &store("fresh6"));
    let status = env.wait_status("fresh6 written", |s| {
        s["agents"].as_array().is_some_and(|a| {
            a.iter()
                .any(|a| a["id"] == "fresh6" && a["writes"].as_u64() >= Some(1))
        })
    });
    assert_eq!(agent(&status, "fresh6")["generation"], "json-v2");
}

#[test]
fn a_database_that_cannot_be_read_means_no_write_until_it_can() {
    let env = Env::new();
    let stored = store("main");
    env.add_agent("main", &stored);
    let db = env.add_agent_db("main", AGENT_SCHEMA_2026_6, Left::Closed);
    let good = std::fs::read(&db).expect("db");
    let mut damaged = good.clone();
    damaged[100] = 0x07; // the schema page's b-tree type
    std::fs::write(&db, &damaged).expect("damage");

    let _daemon = env.daemon_all(&["--interval", "1h", "--tick-ms", "50"]);
    let status = env.wait_status("the round's error", |s| {
        s["agents"][0]["last_error"].is_object()
    });
    let main = agent(&status, "main");
    assert_eq!(main["last_error"]["code"], "store_invalid", "{status:#}");
    let message = main["last_error"]["message"].as_str().expect("message");
    assert!(message.contains(&db.display().to_string()), "{message}");
    assert!(message.contains("writes nothing"), "{message}");
    assert_eq!(main["writes"], 0);
    assert_eq!(env.read_store("main"), stored);
    let out = env.ctl(&["touch", "agent:main:main"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(env.read_store("main"), stored);

    // Repaired: the next round writes.
    std::fs::write(&db, &good).expect("repair");
    // (Every tick writes from then on: --schedule interval.)
    let status = env.wait_status("a write", |s| s["agents"][0]["writes"].as_u64() >= Some(1));
    assert_eq!(agent(&status, "main")["last_error"], Value::Null);
    assert!(!bumped_digit_spans(&stored, &env.read_store("main")).is_empty());
}

/// A database this user may not read. Root reads everything, so as root the binaries
/// run as `nobody` (copied where that user can run them); otherwise the file is chmod 0.
#[test]
fn a_database_this_user_may_not_read_is_reported_and_nothing_is_written() {
    let env = Env::new();
    let stored = store("main");
    env.add_agent("main", &stored);
    let db = env.add_agent_db("main", AGENT_SCHEMA_2026_6, Left::Closed);
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let as_root = unsafe { libc::geteuid() } == 0;
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let mut paths = vec![env.dir.path().to_path_buf()];
    for dir in walk_dirs(&env.state_dir) {
        paths.push(dir);
    }
    for extra in [bin.clone(), env.home.clone()] {
        paths.push(extra);
    }
    if as_root {
        // Everything readable and writable by nobody but the database (0600, root's).
        for path in &paths {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        std::fs::set_permissions(env.store("main"), std::fs::Permissions::from_mode(0o666))
            .expect("chmod");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    } else {
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    }
    let run = |program: &str, args: &[&str]| {
        let copy = bin.join(Path::new(program).file_name().expect("name"));
        if !copy.exists() {
            std::fs::copy(program, &copy).expect("copy binary");
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        support::output_of_copied_binary(|| {
            let mut command = std::process::Command::new(&copy);
            command
                .env_clear()
                .env("HOME", &env.home)
                .env("XDG_STATE_HOME", env.home.join("state"))
                .env("XDG_RUNTIME_DIR", env.home.join("run"))
                .env("TZ", "UTC")
                .args(args);
            if as_root {
                command.uid(65534).gid(65534);
            }
            command
        })
    };
    let state_dir = env.state_dir.display().to_string();
    let doctor = run(
        support::CTL,
        &["--json", "doctor", "--state-dir", &state_dir],
    );
    let report: Value = serde_json::from_slice(&doctor.stdout)
        .unwrap_or_else(|e| panic!("doctor ({e}): {}", text(&doctor)));
    let main = &report["agents"][0];
    assert_eq!(main["generation"], Value::Null, "{report:#}");
    let error = main["database"]["error"].as_str().expect("database error");
    assert!(error.contains("may not be read by this user"), "{error}");
    assert!(error.contains(&db.display().to_string()), "{error}");

    let once = run(
        support::DAEMON,
        &[
            "--state-dir",
            &state_dir,
            "--once",
            "--active-within",
            "all",
            "--schedule",
            "interval",
        ],
    );
    assert_ne!(once.status.code(), Some(0), "{}", text(&once));
    assert!(
        stdout(&once).contains("may not be read by this user"),
        "{}",
        text(&once)
    );
    assert_eq!(env.read_store("main"), stored);
}

fn walk_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).expect("list").flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk_dirs(&entry.path()));
        }
    }
    out
}

#[test]
fn a_leftover_write_ahead_log_is_never_given_an_index_by_keepalive() {
    let env = Env::new();
    let stored = store("main");
    env.add_agent("main", &stored);
    let db = env.add_agent_db("main", SESSION_SCHEMA_2026_9, Left::Crashed);
    std::fs::remove_file(with_suffix(&db, "-shm")).expect("rm shm");
    let before = tree(&agent_dir(&env, "main"));
    let _daemon = env.daemon_all(&["--interval", "1h", "--tick-ms", "50"]);
    let status = env.wait_status("the round's error", |s| {
        s["agents"][0]["last_error"].is_object()
    });
    assert_eq!(
        agent(&status, "main")["last_error"]["code"],
        "store_busy",
        "{status:#}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_same_tree(&before, &tree(&agent_dir(&env, "main")));
}

#[test]
fn a_touch_of_a_session_in_session_nodes_is_refused_as_unwritable_not_unknown() {
    let env = Env::new();
    // As 2026.9.6's doctor leaves it: sessions.json archived, the session only in SQLite.
    env.add_agent_db("main", SESSION_SCHEMA_2026_9, Left::Crashed);
    let before = tree(&agent_dir(&env, "main"));
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    let out = env.ctl(&["--json", "touch", "agent:main:main"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let reply: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        reply["error"]["code"], "generation_unsupported",
        "{reply:#}"
    );
    let out = env.ctl(&["--json", "touch", "agent:main:nowhere"]);
    let reply: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(reply["error"]["code"], "unknown_session", "{reply:#}");
    assert_same_tree(&before, &tree(&agent_dir(&env, "main")));
}
