//! Noticing resets end to end (issue 13), on JSON stores: a real daemon, a store whose
//! `sessionId`s the test changes the way the gateway does (under its lock), and what
//! `resets`, `sessions`, `status`, the metrics and the log then say. Each verdict that can be
//! produced deterministically is checked once; so is a reset while the daemon was stopped,
//! the event log surviving a SIGKILL, and an unreadable event log left alone.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::{Env, now_ms, ok, store_of};

const MIN: u64 = 60_000;
const DAY: u64 = 24 * 60 * MIN;

fn entry(id: &str, updated: u64) -> Value {
    json!({"sessionId": id, "updatedAt": updated, "chatType": "direct"})
}

/// What the gateway does when it starts a session afresh: a new `sessionId`, under its lock.
fn reset(env: &Env, key: &str, new_id: &str) {
    support::gateway::locked_set(&env.store("main"), key, "sessionId", json!(new_id));
}

/// The event log's file (as the daemon says) and agent main's activity ledger beside it,
/// where the last look is kept.
fn log_and_ledger(env: &Env) -> (PathBuf, PathBuf) {
    let log_file = PathBuf::from(env.ctl_json(&["resets"])["log_file"].as_str().expect("log"));
    let ledger = log_file
        .with_extension("")
        .with_extension("activity")
        .join("main.json");
    (log_file, ledger)
}

fn event<'a>(events: &'a [Value], key: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["key"] == key)
        .unwrap_or_else(|| panic!("no event for {key}: {events:#?}"))
}

#[test]
fn each_reset_is_one_event_with_keepalives_verdict_just_before() {
    let env = Env::new();
    // Idle after two days: a session untouched for three days is stale already.
    env.config("{ session: { reset: { mode: 'idle', idleMinutes: 2880 } } }");
    let now = now_ms();
    env.add_agent(
        "main",
        &store_of(&[
            ("agent:main:kept", entry("k1", now - 5 * MIN)),
            ("agent:main:lapsed", entry("l1", now - 5 * MIN)),
            ("agent:main:excluded", entry("e1", now - 5 * MIN)),
            ("agent:main:idle", entry("i1", now - 3 * 60 * MIN)),
            ("agent:main:stale", entry("s1", now - 3 * DAY)),
            ("agent:main:gone", entry("g1", now - 5 * MIN)),
        ]),
    );
    let daemon = env.daemon(&["--active-within", "1h", "--interval", "1h"]);
    ok(&env.ctl(&["exclude", "agent:main:excluded"]));
    // The look the changes are compared with, and the verdicts it recorded.
    let rows = env.sessions();
    let reason = |key: &str| {
        rows.iter()
            .find(|r| r["key"] == key)
            .map(|r| r["reason"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(reason("agent:main:kept").as_deref(), Some("in_use"));
    assert_eq!(reason("agent:main:lapsed").as_deref(), Some("in_use"));
    assert_eq!(reason("agent:main:excluded").as_deref(), Some("excluded"));
    assert_eq!(reason("agent:main:idle").as_deref(), Some("idle_too_long"));
    assert_eq!(reason("agent:main:stale").as_deref(), Some("stale_already"));
    assert!(
        env.resets(&["--all"]).is_empty(),
        "the first look tells nothing"
    );

    // A kept session that went stale all the same, as when keepalive's bumps did not land
    // (a laptop asleep past the idle limit): the gateway resets it only at its next message,
    // and the look in between, which finds it stale, still says keepalive was keeping it.
    support::gateway::locked_set(
        &env.store("main"),
        "agent:main:lapsed",
        "updatedAt",
        json!(now - 3 * DAY),
    );
    let rows = env.sessions();
    let lapsed = rows.iter().find(|r| r["key"] == "agent:main:lapsed");
    assert_eq!(
        lapsed.map(|r| &r["reason"]),
        Some(&json!("stale_already")),
        "{rows:#?}"
    );

    let before_changes = now_ms();
    for (key, id) in [
        ("agent:main:lapsed", "l2"),
        ("agent:main:kept", "k2"),
        ("agent:main:excluded", "e2"),
        ("agent:main:idle", "i2"),
        ("agent:main:stale", "s2"),
    ] {
        reset(&env, key, id);
    }
    let mut remaining: serde_json::Map<String, Value> =
        serde_json::from_slice(&env.read_store("main")).expect("store");
    remaining.remove("agent:main:gone");
    remaining.insert("agent:main:new".into(), entry("n1", now_ms()));
    support::gateway::atomic_write(
        &env.store("main"),
        &support::gateway::stringify(&Value::Object(remaining)),
    );
    let rows = env.sessions();

    let resets = env.resets(&[]);
    assert_eq!(resets.len(), 5, "one event per reset: {resets:#?}");
    for (key, old, new, verdict) in [
        ("agent:main:kept", "k1", "k2", "kept_alive"),
        ("agent:main:lapsed", "l1", "l2", "kept_alive"),
        ("agent:main:excluded", "e1", "e2", "excluded"),
        ("agent:main:idle", "i1", "i2", "not_in_use"),
        ("agent:main:stale", "s1", "s2", "already_stale"),
    ] {
        let e = event(&resets, key);
        assert_eq!(e["kind"], "reset", "{e:#}");
        assert_eq!(
            (e["old_session_id"].as_str(), e["new_session_id"].as_str()),
            (Some(old), Some(new))
        );
        assert_eq!(e["verdict"], verdict, "{e:#}");
        let (seen, noticed) = (e["last_seen_ms"].as_u64(), e["noticed_ms"].as_u64());
        assert!(seen.is_some_and(|s| s <= before_changes), "{e:#}");
        assert!(noticed.is_some_and(|n| n >= before_changes), "{e:#}");
    }
    // The stale sessions' idle rule had struck before the change, and is named; the kept
    // session's reset has no rule behind it (a /new in the chat, say).
    assert_eq!(event(&resets, "agent:main:stale")["stale_rule"], "idle");
    assert_eq!(event(&resets, "agent:main:lapsed")["stale_rule"], "idle");
    assert!(event(&resets, "agent:main:kept")["stale_rule"].is_null());

    let all = env.resets(&["--all"]);
    assert_eq!(event(&all, "agent:main:gone")["kind"], "disappeared");
    assert_eq!(event(&all, "agent:main:new")["kind"], "appeared");
    assert_eq!(all.len(), 7, "{all:#?}");

    // Shown where people look.
    let kept_row = rows
        .iter()
        .find(|r| r["key"] == "agent:main:kept")
        .expect("row");
    assert_eq!(
        kept_row["last_reset"]["verdict"], "kept_alive",
        "{kept_row:#}"
    );
    let status = env.status();
    assert_eq!(status["agents"][0]["resets"], 5, "{status:#}");
    assert_eq!(status["agents"][0]["resets_of_kept"], 2, "{status:#}");
    let metrics = ok(&env.ctl(&["metrics"]));
    assert!(
        metrics.contains("keepalive_resets_total{agent=\"main\",verdict=\"kept_alive\"} 2"),
        "{metrics}"
    );
    let status_text = ok(&env.ctl(&["status"]));
    assert!(
        status_text.contains("5 (2 while kept alive)"),
        "{status_text}"
    );
    let sessions_text = ok(&env.ctl(&["sessions"]));
    let kept_line = sessions_text
        .lines()
        .find(|l| l.contains("agent:main:kept"))
        .unwrap_or_else(|| panic!("{sessions_text}"));
    assert!(kept_line.contains("kept_alive"), "{sessions_text}");
    let table = ok(&env.ctl(&["resets"]));
    assert!(table.contains("KEEPALIVE'S VERDICT"), "{table}");
    assert!(table.contains("keepalive was keeping it alive"), "{table}");
    assert!(
        !table.contains("agent:main:new"),
        "appeared entries only with --all: {table}"
    );
    // keepalive's failure is an error with what is needed to look into it; a reset with no
    // rule behind it is a warning; other verdicts are neither.
    let log = daemon.log();
    let line = |level: &str, key: &str| {
        log.lines()
            .find(|l| l.contains(level) && l.contains(key))
            .map(str::to_owned)
    };
    let error = line("ERROR", "agent:main:lapsed")
        .unwrap_or_else(|| panic!("no error line for the lapsed session:\n{log}"));
    assert!(
        error.contains("l1 -> l2") && error.contains("stale_rule=\"idle\""),
        "{error}"
    );
    let warning = line("WARN", "agent:main:kept")
        .unwrap_or_else(|| panic!("no warning for the kept session:\n{log}"));
    assert!(warning.contains("/new"), "{warning}");
    for key in ["agent:main:kept", "agent:main:excluded", "agent:main:stale"] {
        assert_eq!(
            line("ERROR", key),
            None,
            "only keepalive's failures are errors"
        );
    }
}

#[test]
fn a_reset_while_keepalived_was_stopped_is_reported_when_it_starts_and_survives_a_kill() {
    let env = Env::new();
    let now = now_ms();
    env.config("{ session: { reset: { mode: 'idle', idleMinutes: 2880 } } }");
    env.add_agent(
        "main",
        &store_of(&[
            ("agent:main:main", entry("a1", now - 5 * MIN)),
            ("agent:main:lapsed", entry("l1", now - 5 * MIN)),
        ]),
    );
    let mut daemon = env.daemon(&["--interval", "1h"]);
    env.sessions();
    let (log_file, ledger) = log_and_ledger(&env);
    ok(&env.ctl(&["shutdown"]));
    assert_eq!(daemon.wait_exit(), Some(0), "{}", daemon.log());
    let stopped = now_ms();
    let look_before_the_reset = std::fs::read(&ledger).expect("the ledger was saved");

    // While keepalive is stopped, one session is reset and another goes stale (as if two
    // days had passed); the gateway resets that one only at its next message, after
    // keepalive started again and looked.
    reset(&env, "agent:main:main", "a2");
    support::gateway::locked_set(
        &env.store("main"),
        "agent:main:lapsed",
        "updatedAt",
        json!(now - 3 * DAY),
    );
    let daemon = env.daemon(&["--interval", "1h"]);
    env.sessions();
    reset(&env, "agent:main:lapsed", "l2");
    env.sessions();
    let resets = env.resets(&[]);
    assert_eq!(resets.len(), 2, "{resets:#?}");
    let e = event(&resets, "agent:main:main");
    assert_eq!(e["verdict"], "daemon_not_running", "{e:#}");
    // The last look is the stopped daemon's: saved when it stopped.
    let seen = e["last_seen_ms"].as_u64().expect("last seen");
    assert!(
        seen >= now && seen <= stopped,
        "{seen} not in [{now}, {stopped}]"
    );
    assert!(
        e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("before it stopped")),
        "{e:#}"
    );
    let lapsed = event(&resets, "agent:main:lapsed");
    assert_eq!(lapsed["verdict"], "daemon_not_running", "{lapsed:#}");
    assert_eq!(lapsed["stale_rule"], "idle", "{lapsed:#}");

    // A SIGKILL loses no event already noticed. One struck between the event log's write
    // and the ledger's save leaves the ledger's look from before the reset (put back here):
    // the next daemon finds the same change again, and records it once.
    let holds_both = || {
        std::fs::read_to_string(&log_file)
            .is_ok_and(|t| t.contains("\"a2\"") && t.contains("\"l2\""))
    };
    let waited = std::time::Instant::now();
    while !holds_both() {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(10),
            "never written"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    daemon.signal(libc::SIGKILL);
    drop(daemon);
    std::fs::write(&ledger, &look_before_the_reset).expect("the ledger as before");
    let _daemon = env.daemon(&["--interval", "1h"]);
    env.sessions();
    let after = env.resets(&[]);
    assert_eq!(after.len(), 2, "{after:#?}");
    for key in ["agent:main:main", "agent:main:lapsed"] {
        let (was, is) = (event(&resets, key), event(&after, key));
        assert_eq!(
            (&is["seq"], &is["noticed_ms"]),
            (&was["seq"], &was["noticed_ms"]),
            "the very event, not one noticed again: {is:#}"
        );
    }
}

#[test]
fn an_unreadable_event_log_is_left_alone_reported_and_the_daemon_carries_on() {
    let env = Env::new();
    env.add_agent(
        "main",
        &store_of(&[("agent:main:main", entry("a1", now_ms() - 5 * MIN))]),
    );
    let mut daemon = env.daemon(&["--interval", "1h"]);
    let path = env.ctl_json(&["resets"])["log_file"]
        .as_str()
        .expect("log file")
        .to_owned();
    ok(&env.ctl(&["shutdown"]));
    daemon.wait_exit();
    let garbage = b"{\"seq\": 1, \"agent\": \"main\"}\n\x00\xff not an event\n";
    std::fs::write(&path, garbage).expect("garbage");

    let daemon = env.daemon(&["--interval", "1h"]);
    env.sessions();
    reset(&env, "agent:main:main", "a2");
    env.sessions();
    let reply = env.ctl_json(&["resets"]);
    let problem = reply["log_problem"]
        .as_str()
        .expect("a problem is reported");
    assert!(
        problem.contains(&path) && problem.contains("left as it is"),
        "{problem}"
    );
    assert_eq!(
        reply["events"].as_array().map(Vec::len),
        Some(1),
        "{reply:#}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), garbage, "left alone");
    assert!(daemon.log().contains("cannot be read"), "{}", daemon.log());
    let text = env.ctl(&["resets"]);
    assert!(
        support::stderr(&text).contains("left as it is"),
        "{}",
        support::text(&text)
    );
}

#[test]
fn resets_follow_prints_each_new_reset_as_it_is_noticed() {
    use std::io::BufRead;

    let env = Env::new();
    env.add_agent(
        "main",
        &store_of(&[("agent:main:main", entry("a1", now_ms() - 5 * MIN))]),
    );
    let _daemon = env.daemon(&["--interval", "1h"]);
    env.sessions();
    let mut follow = env
        .ctl_command(&["--json", "resets", "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn resets --follow");
    let stdout = follow.stdout.take().expect("stdout");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    for (n, id) in ["a2", "a3"].iter().enumerate() {
        reset(&env, "agent:main:main", id);
        env.sessions();
        let line = received
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("no line for reset {n} ({e})"))
            .expect("read");
        let event: Value = serde_json::from_str(&line).expect("one JSON event per line");
        assert_eq!(event["new_session_id"], *id, "{event:#}");
        assert_eq!(event["seq"], n + 1, "{event:#}");
    }
    assert!(
        follow.try_wait().expect("try_wait").is_none(),
        "still following"
    );
    let _ = follow.kill();
    let _ = follow.wait();
}

#[test]
fn a_reset_after_keepalives_write_failed_says_so() {
    let env = Env::new();
    let store = env.add_agent(
        "main",
        &store_of(&[("agent:main:main", entry("w1", now_ms() - 5 * MIN))]),
    );
    let _daemon = env.daemon_all(&["--interval", "1h", "--lock-timeout", "300ms"]);
    env.wait_status("the first write", |s| s["agents"][0]["writes"] == 1);
    // A write of the gateway's in progress (its temp file): keepalive's next write waits for
    // it, gives up after the lock timeout, and its look says the write failed.
    let temp = store.with_file_name("sessions.json.4242.0f1e2a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp");
    std::fs::write(&temp, b"{\"half\": ").expect("gateway temp");
    let touch = env.ctl(&["touch"]);
    assert_ne!(touch.status.code(), Some(0), "{}", support::text(&touch));
    assert!(
        support::text(&touch).contains("store busy"),
        "{}",
        support::text(&touch)
    );
    // A report writes nothing: the failure still stands in its look.
    env.sessions();
    // Meanwhile the session was started afresh (the store replaced by another file; the
    // gateway's write is still in progress, so every write of keepalive's keeps failing).
    let mut theirs: Value = serde_json::from_slice(&env.read_store("main")).expect("store");
    theirs["agent:main:main"]["sessionId"] = json!("w2");
    let other = store.with_file_name("replacement.json");
    std::fs::write(&other, serde_json::to_vec_pretty(&theirs).expect("json")).expect("write");
    std::fs::rename(&other, &store).expect("rename");
    env.sessions();
    let resets = env.resets(&[]);
    assert_eq!(resets.len(), 1, "{resets:#?}");
    assert_eq!(resets[0]["verdict"], "write_failed", "{:#}", resets[0]);
}

#[test]
fn a_session_keepalive_could_not_write_says_why() {
    let env = Env::new();
    let now = now_ms();
    // An entry with no timestamp keepalive may write, beside one it can.
    env.add_agent(
        "main",
        &store_of(&[
            ("agent:main:main", entry("m1", now - 5 * MIN)),
            (
                "agent:main:bare",
                json!({"sessionId": "b1", "chatType": "direct"}),
            ),
        ]),
    );
    // A store whose entries carry no timestamp at all: not a layout keepalive knows.
    env.add_agent(
        "odd",
        &store_of(&[(
            "agent:odd:main",
            json!({"sessionId": "o1", "updatedAt": "yesterday"}),
        )]),
    );
    let _daemon = env.daemon(&["--interval", "1h"]);
    env.sessions();
    reset(&env, "agent:main:bare", "b2");
    support::gateway::locked_set(
        &env.store("odd"),
        "agent:odd:main",
        "sessionId",
        json!("o2"),
    );
    env.sessions();
    let resets = env.resets(&[]);
    assert_eq!(resets.len(), 2, "{resets:#?}");
    assert_eq!(event(&resets, "agent:main:bare")["verdict"], "no_timestamp");
    let odd = event(&resets, "agent:odd:main");
    assert_eq!(odd["verdict"], "not_writable", "{odd:#}");
    assert_eq!(odd["agent"], "odd");
}

#[test]
fn while_the_event_log_cannot_be_written_the_look_is_not_saved_and_nothing_is_lost() {
    let env = Env::new();
    env.add_agent(
        "main",
        &store_of(&[("agent:main:main", entry("a1", now_ms() - 5 * MIN))]),
    );
    let mut daemon = env.daemon(&["--interval", "1h"]);
    env.sessions();
    let (log_file, ledger) = log_and_ledger(&env);
    let saved = || std::fs::read_to_string(&ledger).expect("the ledger");
    assert!(saved().contains("\"a1\""), "{}", saved());
    // A folder where the log's file goes: every write of it fails.
    std::fs::create_dir(&log_file).expect("block the log");

    reset(&env, "agent:main:main", "a2");
    env.sessions();
    let reply = env.ctl_json(&["resets"]);
    assert_eq!(
        reply["events"].as_array().map(Vec::len),
        Some(1),
        "{reply:#}"
    );
    let problem = reply["log_problem"].as_str().unwrap_or_default();
    assert!(problem.contains("cannot write the event log"), "{reply:#}");
    ok(&env.ctl(&["shutdown"]));
    assert_eq!(daemon.wait_exit(), Some(0), "{}", daemon.log());
    // The look that found the reset was never saved, not even at the stop...
    assert!(
        saved().contains("\"a1\"") && !saved().contains("\"a2\""),
        "{}",
        saved()
    );

    // ...so the next daemon, with the log writable again, finds the reset again.
    std::fs::remove_dir(&log_file).expect("unblock the log");
    let _daemon = env.daemon(&["--interval", "1h"]);
    env.sessions();
    let resets = env.resets(&[]);
    assert_eq!(resets.len(), 1, "{resets:#?}");
    assert_eq!(resets[0]["new_session_id"], "a2");
    assert_eq!(resets[0]["verdict"], "daemon_not_running");
    let logged = std::fs::read_to_string(&log_file).expect("the log is written now");
    assert!(logged.contains("\"a2\""), "{logged}");
}
