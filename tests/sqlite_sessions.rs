//! An agent whose sessions are in SQLite (OpenClaw 2026.8+), end to end with the real
//! binaries and a database made from 2026.9.6's own schema (the openclaw-sim fixture): every
//! round reads `session_nodes`, so `sessions` lists each session with when the gateway would
//! reset it under the policy in force, and `resets` notices each reset (a new
//! `lifecycleRevision` under the same `sessionId`, as 2026.8+ reset, or a new `sessionId`),
//! disappearance and appearance there as it does in a JSON store, with the verdict
//! `not_writable`; keepalive still writes nothing, and reading leaves every file of the
//! agent's folder as it was.

mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::agent_db::{
    Left, SESSION_ID_2026_9, SESSION_SCHEMA_2026_9, assert_same_tree, delete_session, put_session,
    tree,
};
use support::{Env, now_ms, ok, row, text};

const MIN: u64 = 60_000;
/// The session of the 2026.9.6 fixture, which its doctor imported (last used long ago).
const IMPORTED: &str = "agent:main:main";
const ADVICE: &str = "openclaw config set session.reset.mode none";

fn agent_dir(env: &Env) -> PathBuf {
    env.state_dir.join("agents/main")
}

/// Runs `round` and checks that nothing in the agent's folder changed meanwhile: the gateway's
/// own writes come before the snapshot.
fn untouched<T>(env: &Env, round: impl FnOnce() -> T) -> T {
    let before = tree(&agent_dir(env));
    let out = round();
    assert_same_tree(&before, &tree(&agent_dir(env)));
    out
}

/// A 2026.9.6 agent database (WAL mode, closed by its gateway) with the imported session and
/// `chat`, last used at `used_ms`.
fn sqlite_agent(env: &Env, used_ms: u64) -> PathBuf {
    let db = env.add_agent_db("main", SESSION_SCHEMA_2026_9, Left::Closed);
    put_session(&db, "agent:main:chat", "c1", Some("r1"), used_ms);
    db
}

#[test]
fn sessions_lists_each_sqlite_session_with_its_expiry_and_what_to_do() {
    let env = Env::new();
    env.config("{ session: { reset: { mode: 'idle', idleMinutes: 60 } } }");
    let used = now_ms() - MIN;
    sqlite_agent(&env, used);
    let _daemon = env.daemon(&["--interval", "1h"]);

    let rows = untouched(&env, || env.sessions());
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let chat = row(&rows, "agent:main:chat");
    assert_eq!(chat["agent"], "main");
    assert_eq!(chat["kept_alive"], false);
    assert_eq!(chat["reason"], "not_writable", "{chat:#}");
    assert_eq!(chat["last_activity_ms"], used);
    assert_eq!(chat["activity_source"], "gateway");
    assert_eq!(chat["stale_at_ms"], used + 60 * MIN + 1, "{chat:#}");
    assert_eq!(chat["stale_rule"], "idle");
    let detail = chat["detail"].as_str().expect("detail");
    assert!(detail.contains("never writes"), "{detail}");
    assert!(detail.contains(&format!("`{ADVICE}`")), "{detail}");
    // The imported session was last used long before: stale already.
    let imported = row(&rows, IMPORTED);
    assert!(
        imported["stale_at_ms"].as_u64() < Some(now_ms()),
        "{imported:#}"
    );
    let detail = imported["detail"].as_str().expect("detail");
    assert!(detail.contains("made it stale"), "{detail}");

    let status = env.status();
    let agent = &status["agents"][0];
    assert_eq!(agent["generation"], "sqlite", "{status:#}");
    assert_eq!(agent["sessions"], 2, "{status:#}");
    assert_eq!(agent["kept_alive"], 0, "{status:#}");
    assert_eq!(agent["writes"], 0, "{status:#}");

    let table = untouched(&env, || ok(&env.ctl(&["sessions"])));
    assert!(table.contains("agent:main:chat"), "{table}");
    assert!(table.contains("not_writable"), "{table}");

    // A touch by name is still refused, and a touch of everything writes nothing.
    untouched(&env, || {
        let out = env.ctl(&["--json", "touch", "agent:main:chat"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains("generation_unsupported"),
            "{}",
            text(&out)
        );
        ok(&env.ctl(&["touch"]));
    });
}

#[test]
fn under_the_default_policy_sqlite_sessions_never_expire() {
    let env = Env::new();
    env.config("{}");
    sqlite_agent(&env, now_ms() - MIN);
    let _daemon = env.daemon(&["--interval", "1h"]);
    let rows = untouched(&env, || env.sessions());
    for r in &rows {
        assert_eq!(r["stale_at_ms"], Value::Null, "{r:#}");
        let detail = r["detail"].as_str().expect("detail");
        assert!(detail.contains("never expires"), "{detail}");
        assert!(!detail.contains("openclaw config set"), "{detail}");
    }
    let table = ok(&env.ctl(&["sessions"]));
    assert!(table.contains("never"), "{table}");
}

#[test]
fn a_reset_in_sqlite_is_one_event_with_the_verdict_not_writable() {
    let env = Env::new();
    env.config("{ session: { reset: { mode: 'idle', idleMinutes: 60 } } }");
    let db = sqlite_agent(&env, now_ms() - MIN);
    put_session(&db, "agent:main:other", "o1", Some("r1"), now_ms() - MIN);
    let _daemon = env.daemon(&["--interval", "1h"]);
    untouched(&env, || env.sessions());
    assert!(
        env.resets(&["--all"]).is_empty(),
        "the first look tells nothing"
    );

    let before_changes = now_ms();
    // The gateway starts the sessions afresh as 2026.8+ do: the same sessionId, a new
    // lifecycleRevision (the imported session had none; its idle rule had made it stale).
    put_session(&db, "agent:main:chat", "c1", Some("r2"), now_ms());
    put_session(&db, IMPORTED, SESSION_ID_2026_9, Some("r9"), now_ms());
    // And as a new conversation under the key: a new sessionId.
    put_session(&db, "agent:main:other", "o2", Some("r1"), now_ms());
    untouched(&env, || env.sessions());
    untouched(&env, || env.sessions());
    let resets = env.resets(&[]);
    assert_eq!(resets.len(), 3, "one event per reset: {resets:#?}");
    let of = |key: &str| {
        resets
            .iter()
            .find(|e| e["key"] == key)
            .unwrap_or_else(|| panic!("no reset of {key}: {resets:#?}"))
    };
    let chat = of("agent:main:chat");
    assert_eq!(chat["kind"], "reset");
    assert_eq!(chat["verdict"], "not_writable", "{chat:#}");
    assert_eq!(
        (
            chat["old_session_id"].as_str(),
            chat["new_session_id"].as_str()
        ),
        (Some("c1"), Some("c1"))
    );
    let detail = chat["detail"].as_str().expect("detail");
    assert!(
        detail.contains("lifecycleRevision r1 became r2"),
        "{detail}"
    );
    assert!(chat["stale_rule"].is_null(), "not stale yet: {chat:#}");
    let other = of("agent:main:other");
    assert_eq!(
        (
            other["old_session_id"].as_str(),
            other["new_session_id"].as_str()
        ),
        (Some("o1"), Some("o2"))
    );
    assert_eq!(other["verdict"], "not_writable");
    assert!(
        chat["last_seen_ms"]
            .as_u64()
            .is_some_and(|s| s <= before_changes),
        "{chat:#}"
    );
    let imported = of(IMPORTED);
    assert_eq!(imported["old_session_id"], SESSION_ID_2026_9);
    assert_eq!(imported["verdict"], "not_writable");
    assert_eq!(imported["stale_rule"], "idle", "{imported:#}");

    // Gone and new rows, as in a JSON store.
    delete_session(&db, "agent:main:chat");
    put_session(&db, "agent:main:new", "n1", Some("r1"), now_ms());
    untouched(&env, || env.sessions());
    let all = env.resets(&["--all"]);
    let kind = |key: &str| {
        all.iter()
            .filter(|e| e["key"] == key)
            .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kind("agent:main:chat"),
        ["reset", "disappeared"],
        "{all:#?}"
    );
    assert_eq!(kind("agent:main:new"), ["appeared"], "{all:#?}");

    let rows = env.sessions();
    assert_eq!(
        row(&rows, IMPORTED)["last_reset"]["verdict"],
        "not_writable"
    );
    let status = env.status();
    assert_eq!(status["agents"][0]["resets"], 3, "{status:#}");
    assert_eq!(status["agents"][0]["resets_of_kept"], 0, "{status:#}");
    let table = ok(&env.ctl(&["resets"]));
    assert!(
        table.contains("its store is one keepalive does not write"),
        "{table}"
    );
}

#[test]
fn a_reset_in_sqlite_while_keepalived_was_stopped_is_reported_when_it_starts() {
    let env = Env::new();
    let db = sqlite_agent(&env, now_ms() - MIN);
    let mut daemon = env.daemon(&["--interval", "1h"]);
    untouched(&env, || env.sessions());
    ok(&env.ctl(&["shutdown"]));
    assert_eq!(daemon.wait_exit(), Some(0), "{}", daemon.log());

    put_session(&db, "agent:main:chat", "c1", Some("r2"), now_ms());
    let _daemon = untouched(&env, || {
        let daemon = env.daemon(&["--interval", "1h"]);
        env.sessions();
        daemon
    });
    let resets = env.resets(&[]);
    assert_eq!(resets.len(), 1, "{resets:#?}");
    let e = &resets[0];
    assert_eq!(e["key"], "agent:main:chat");
    assert_eq!(e["verdict"], "daemon_not_running", "{e:#}");
    let detail = e["detail"].as_str().expect("detail");
    assert!(
        detail.contains("before it stopped: its store is one keepalive does not write"),
        "{detail}"
    );
}

#[test]
fn doctor_shows_the_sqlite_sessions_and_the_command_that_keeps_them() {
    let env = Env::new();
    env.config("{ session: { reset: { mode: 'idle', idleMinutes: 60 } } }");
    sqlite_agent(&env, now_ms() - MIN);
    let state_dir = env.state_dir.display().to_string();
    let report = untouched(&env, || {
        env.ctl_json(&["doctor", "--state-dir", &state_dir])
    });
    let agent = &report["agents"][0];
    assert_eq!(agent["generation"], "sqlite", "{report:#}");
    assert_eq!(agent["sessions"], 2, "{report:#}");
    let sessions = agent["sqlite_sessions"].as_array().expect("sessions");
    let chat = sessions
        .iter()
        .find(|s| s["key"] == "agent:main:chat")
        .expect("chat");
    assert_eq!(chat["stale_rule"], "idle", "{chat:#}");
    assert_eq!(chat["advice"], ADVICE, "{chat:#}");
    let advice = report["advice"].to_string();
    assert!(advice.contains(ADVICE), "{advice}");

    let text = untouched(&env, || {
        ok(&env.ctl(&["doctor", "--state-dir", &state_dir]))
    });
    assert!(text.contains("main: sqlite, 2 sessions"), "{text}");
    assert!(text.contains("agent:main:chat: last interaction"), "{text}");
    assert!(text.contains("expires in"), "{text}");
    assert!(text.contains(ADVICE), "{text}");

    // Under the default policy nothing expires, and nothing is advised.
    env.config("{}");
    let text = ok(&env.ctl(&["doctor", "--state-dir", &state_dir]));
    assert!(text.contains("never expires"), "{text}");
    assert!(!text.contains("openclaw config set"), "{text}");
    assert!(text.contains("never expire"), "{text}");
}
