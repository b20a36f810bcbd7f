//! Keeping alive exactly the sessions in real use, end to end: activity
//! from transcripts, from the gateway and from touches; the window; rules;
//! staleness and revival; generations; policy scheduling as seen in status;
//! `sessions` and `doctor`. Stores are built relative to the real clock.
//!
//! Over 400 lines: eight end-to-end scenarios, each building its stores and transcripts against
//! the real clock.

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use support::{Env, now_ms, ok, parse, row, stderr, store_of, text};

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;

fn v1(env: &Env, id: &str, updated: u64) -> Value {
    let transcript = env
        .state_dir
        .join("agents/main/sessions")
        .join(format!("{id}.jsonl"));
    json!({"sessionId": id, "updatedAt": updated, "chatType": "direct", "sessionFile": transcript})
}

/// Creates the transcript of `id` with the given age.
fn transcript(env: &Env, id: &str, age: Duration) {
    let path = env
        .state_dir
        .join("agents/main/sessions")
        .join(format!("{id}.jsonl"));
    std::fs::write(&path, "{\"turn\":1}\n").expect("transcript");
    let file = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_modified(SystemTime::now() - age).expect("mtime");
}

#[test]
fn keeps_alive_what_is_in_use_and_lets_the_rest_expire() {
    let env = Env::new();
    // Idle after 48 h, no daily reset: nothing here expires by the clock
    // during the test, so every outcome comes from activity.
    env.config("{ session: { reset: { mode: 'idle', idleMinutes: 2880 } } // 48 h\n}");
    let now = now_ms();
    let store_bytes = store_of(&[
        ("agent:main:busy", v1(&env, "busy", now - 5 * MIN)),
        ("agent:main:typing", v1(&env, "typing", now - 30 * HOUR)),
        ("agent:main:quiet", v1(&env, "quiet", now - 30 * HOUR)),
        ("agent:main:gone", v1(&env, "gone", now - 60 * HOUR)),
    ]);
    env.add_agent("main", &store_bytes);
    transcript(&env, "typing", Duration::from_secs(60));
    let _daemon = env.daemon(&["--interval", "1h"]);
    let status = env.wait_status("the first round", |s| {
        s["agents"][0]["last_tick_ms"].is_u64()
    });
    let agent = &status["agents"][0];
    assert_eq!(status["schedule"], "policy");
    assert_eq!(status["active_within_s"], 86400);
    assert_eq!(agent["generation"], "json-v1");
    assert_eq!(agent["kept_alive"], 2, "{status:#}");
    assert_eq!(agent["writes"], 0, "nothing is due for days: no write");
    assert_eq!(
        env.read_store("main"),
        store_bytes,
        "and the store is untouched"
    );

    // The next planned write: "typing" (idle timestamp 30 h old, 48 h rule)
    // 18 h from now, less the margin of two ticks (2 h).
    let expected = now - 30 * HOUR + 48 * HOUR + 1 - 2 * HOUR;
    let next = agent["next_write_ms"].as_u64().expect("a planned write");
    assert!(
        next.abs_diff(expected) < 60_000,
        "next write {next}, expected about {expected}"
    );
    assert!(
        agent["next_write_reason"]
            .as_str()
            .is_some_and(|r| r.contains("agent:main:typing")),
        "{agent}"
    );

    let rows = env.sessions();
    let busy = row(&rows, "agent:main:busy");
    assert_eq!(
        (busy["kept_alive"].as_bool(), busy["reason"].as_str()),
        (Some(true), Some("in_use"))
    );
    assert_eq!(busy["activity_source"], "gateway");
    assert_eq!(busy["last_activity_ms"], now - 5 * MIN);
    let typing = row(&rows, "agent:main:typing");
    assert_eq!(
        (
            typing["reason"].as_str(),
            typing["activity_source"].as_str()
        ),
        (Some("in_use"), Some("transcript"))
    );
    let quiet = row(&rows, "agent:main:quiet");
    assert_eq!(
        (quiet["kept_alive"].as_bool(), quiet["reason"].as_str()),
        (Some(false), Some("idle_too_long"))
    );
    let gone = row(&rows, "agent:main:gone");
    assert_eq!(gone["reason"], "stale_already");
    assert_eq!(gone["stale_rule"], "idle");
    assert!(gone["stale_at_ms"].as_u64().expect("stale at") < now);

    let out = env.ctl(&["sessions"]);
    assert!(
        support::stdout(&out).contains("idle_too_long"),
        "{}",
        text(&out)
    );

    // A stale session is not revived by a touch, unless asked.
    let out = env.ctl(&["touch", "agent:main:gone"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("--revive"), "{}", text(&out));
    assert_eq!(env.read_store("main"), store_bytes);
    let reply = env.ctl_json(&["touch", "--revive", "agent:main:gone"]);
    assert_eq!(reply["results"][0]["bumped"], json!(["agent:main:gone"]));
    let after = parse(&env.read_store("main"));
    assert!(after["agent:main:gone"]["updatedAt"].as_u64().expect("ts") >= now);
    assert_eq!(
        after["agent:main:busy"],
        parse(&store_bytes)["agent:main:busy"],
        "nothing else moved"
    );
    // The touch is activity: the revived session is now in use.
    let gone = row(&env.sessions(), "agent:main:gone").clone();
    assert_eq!(
        (gone["reason"].as_str(), gone["activity_source"].as_str()),
        (Some("in_use"), Some("touch"))
    );

    // A touch of everything bumps exactly the sessions kept alive.
    let reply = env.ctl_json(&["touch"]);
    let mut bumped: Vec<&str> = reply["results"][0]["bumped"]
        .as_array()
        .expect("bumped")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    bumped.sort_unstable();
    assert_eq!(
        bumped,
        ["agent:main:busy", "agent:main:gone", "agent:main:typing"]
    );
}

#[test]
fn rules_and_the_window_decide_with_activity() {
    let env = Env::new();
    env.config("{ session: { reset: { mode: 'idle', idleMinutes: 2880 } } }");
    let now = now_ms();
    env.add_agent(
        "main",
        &store_of(&[
            ("agent:main:busy", v1(&env, "busy", now - 5 * MIN)),
            ("agent:main:quiet", v1(&env, "quiet", now - 30 * HOUR)),
        ]),
    );
    let daemon = env.daemon(&["--interval", "1h"]);
    env.ctl_json(&["exclude", "agent:main:busy"]);
    env.ctl_json(&["include", "agent:main:quiet"]);
    let rows = env.sessions();
    assert_eq!(row(&rows, "agent:main:busy")["reason"], "excluded");
    assert_eq!(row(&rows, "agent:main:quiet")["reason"], "included");
    env.ctl_json(&["forget", "agent:main:busy"]);
    env.ctl_json(&["forget", "agent:main:quiet"]);

    assert_eq!(env.ctl_json(&["active-within"])["active_within_s"], 86400);
    let out = env.ctl(&["active-within", "all"]);
    assert!(ok(&out).contains("all"), "{}", text(&out));
    assert_eq!(row(&env.sessions(), "agent:main:quiet")["kept_alive"], true);
    env.ctl_json(&["active-within", "31h"]);
    assert_eq!(row(&env.sessions(), "agent:main:quiet")["kept_alive"], true);
    env.ctl_json(&["active-within", "2h"]);
    assert_eq!(
        row(&env.sessions(), "agent:main:quiet")["kept_alive"],
        false
    );
    for bad in ["0", "soon", "400d"] {
        assert_eq!(
            env.ctl(&["active-within", bad]).status.code(),
            Some(2),
            "{bad}"
        );
    }
    drop(daemon);
    let _daemon = env.daemon(&[]);
    assert_eq!(
        env.ctl_json(&["active-within"])["active_within_s"],
        7200,
        "persisted"
    );
    // A flag given at start-up wins over the saved value...
    drop(_daemon);
    let _daemon = env.daemon(&["--active-within", "all"]);
    assert_eq!(env.status()["active_within_s"], Value::Null);
    // ...until it is changed at run time, which applies at once.
    env.ctl_json(&["active-within", "3h"]);
    assert_eq!(env.status()["active_within_s"], 10800);
}

#[test]
fn keepalives_own_bumps_never_count_as_activity_but_the_gateways_do() {
    let env = Env::new();
    env.config("{ session: { reset: { mode: 'idle', idleMinutes: 2880 } } }");
    let now = now_ms();
    let store_path = env.add_agent(
        "main",
        &store_of(&[("agent:main:main", v1(&env, "main", now - 5 * MIN))]),
    );
    // Interval schedule: the first tick writes at once.
    let daemon = env.daemon(&["--schedule", "interval", "--interval", "1h"]);
    env.wait_status("the first write", |s| s["agents"][0]["writes"] == 1);
    let ours = parse(&env.read_store("main"))["agent:main:main"]["updatedAt"]
        .as_u64()
        .expect("ts");
    assert!(ours >= now);
    let main = row(&env.sessions(), "agent:main:main").clone();
    assert_eq!(
        main["last_activity_ms"],
        now - 5 * MIN,
        "our bump is not activity: {main}"
    );
    assert_eq!(main["reason"], "in_use");

    // The gateway moves the timestamp (under its lock): that is activity.
    let gateway_time = now_ms() + 1;
    support::gateway::locked_set(
        &store_path,
        "agent:main:main",
        "updatedAt",
        json!(gateway_time),
    );
    let main = row(&env.sessions(), "agent:main:main").clone();
    assert_eq!(
        (
            main["last_activity_ms"].as_u64(),
            main["activity_source"].as_str()
        ),
        (Some(gateway_time), Some("gateway"))
    );

    // What was seen survives a restart (the ledger is persisted), and the
    // restarted daemon does not take keepalive's earlier bump for activity.
    drop(daemon);
    let _daemon = env.daemon(&["--interval", "1h"]);
    let main = row(&env.sessions(), "agent:main:main").clone();
    assert_eq!(
        main["last_activity_ms"].as_u64(),
        Some(gateway_time),
        "{main}"
    );
}

#[test]
fn each_generation_is_detected_and_only_json_stores_are_written() {
    let env = Env::new();
    std::fs::remove_file(env.state_dir.join("openclaw.json")).expect("use the gateway's defaults");
    let now = now_ms();
    env.add_agent(
        "v1",
        &store_of(&[(
            "agent:v1:main",
            json!({"sessionId": "a", "updatedAt": now - MIN}),
        )]),
    );
    let v2 = store_of(&[(
        "agent:v2:main",
        json!({"sessionId": "b", "updatedAt": now - MIN, "sessionStartedAt": now - 2 * HOUR, "lastInteractionAt": now - 2 * MIN}),
    )]);
    env.add_agent("v2", &v2);
    let leftover = store_of(&[(
        "agent:old:main",
        json!({"sessionId": "c", "updatedAt": now - MIN}),
    )]);
    env.add_agent("old", &leftover);
    let db = env.add_agent_db(
        "old",
        support::agent_db::SESSION_SCHEMA_2026_9,
        support::agent_db::Left::Closed,
    );
    let odd = store_of(&[("agent:odd:main", json!({"sessionId": "d"}))]);
    env.add_agent("odd", &odd);

    let daemon = env.daemon(&["--schedule", "interval", "--interval", "1h"]);
    let status = env.wait_status("every first round", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.len() == 4 && a.iter().all(|a| a["last_tick_ms"].is_u64()))
    });
    let agent = |id: &str| {
        status["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == id))
            .expect(id)
            .clone()
    };
    assert_eq!(agent("v1")["generation"], "json-v1");
    assert_eq!(agent("v2")["generation"], "json-v2");
    assert_eq!(agent("old")["generation"], "sqlite");
    assert_eq!(agent("odd")["generation"], "unknown");
    assert!(
        agent("old")["note"]
            .as_str()
            .is_some_and(|n| n.contains("SQLite")),
        "{status:#}"
    );
    assert!(agent("odd")["note"].is_string());
    assert!(
        agent("v2")["note"]
            .as_str()
            .is_some_and(|n| n.contains("--bump-session-start")),
        "{status:#}"
    );
    assert_eq!(agent("v1")["writes"], 1);
    assert_eq!(agent("v2")["writes"], 1);

    // json-v2: updatedAt and lastInteractionAt move; sessionStartedAt not.
    let before = parse(&v2)["agent:v2:main"].clone();
    let after = parse(&env.read_store("v2"))["agent:v2:main"].clone();
    assert!(after["lastInteractionAt"].as_u64() > before["lastInteractionAt"].as_u64());
    assert!(after["updatedAt"].as_u64() > before["updatedAt"].as_u64());
    assert_eq!(after["sessionStartedAt"], before["sessionStartedAt"]);

    // SQLite and unknown stores are never written, not even on request.
    env.ctl_json(&["touch"]);
    let out = env.ctl(&["touch", "agent:old:main"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("SQLite"), "{}", text(&out));
    assert_eq!(env.read_store("old"), leftover);
    assert_eq!(env.read_store("odd"), odd);
    assert!(!db.with_file_name("sessions.json.lock").exists());
    assert_eq!(
        daemon.log().matches("keeps its sessions in SQLite").count(),
        1,
        "logged once:\n{}",
        daemon.log()
    );
}

#[test]
fn an_invalid_gateway_config_is_reported_and_keepalive_falls_back_to_writing_every_tick() {
    let env = Env::new();
    env.config("{\n  session: {\n    reset: { mode: 'idle', idleMinutes: 60 },,\n  }\n}\n");
    let now = now_ms();
    env.add_agent(
        "main",
        &store_of(&[(
            "agent:main:main",
            json!({"sessionId": "a", "updatedAt": now - MIN}),
        )]),
    );
    let _daemon = env.daemon(&["--interval", "1h"]);
    let status = env.wait_status("the first write", |s| s["agents"][0]["writes"] == 1);
    assert_eq!(status["schedule"], "interval");
    let problems = status["config"]["problems"].as_array().expect("problems");
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.contains("openclaw.json:3:"))),
        "{problems:?}"
    );
    let out = env.ctl(&["status"]);
    assert!(support::stdout(&out).contains("problem:"), "{}", text(&out));
}

/// The schedule follows whether openclaw.json can be read, also when its reset policy stays
/// the gateway's defaults throughout (broken, then removed, then broken again).
#[test]
fn the_schedule_follows_the_gateway_config_becoming_readable_and_broken_again() {
    let env = Env::new();
    let broken = "{\n  session: {\n    reset: { mode: 'idle', idleMinutes: 60 },,\n  }\n}\n";
    env.config(broken);
    env.add_agent(
        "main",
        &store_of(&[(
            "agent:main:main",
            json!({"sessionId": "a", "updatedAt": now_ms() - MIN}),
        )]),
    );
    let _daemon = env.daemon(&["--interval", "1h", "--tick-ms", "50"]);
    env.wait_status("the interval schedule", |s| s["schedule"] == "interval");
    std::fs::remove_file(env.state_dir.join("openclaw.json")).expect("use the gateway's defaults");
    let status = env.wait_status("the policy schedule", |s| s["schedule"] == "policy");
    assert_eq!(status["config"]["problems"], json!([]), "{status:#}");
    env.config(broken);
    env.wait_status("the interval schedule again", |s| {
        s["schedule"] == "interval"
    });
}

#[test]
fn doctor_explains_the_installation_without_a_daemon() {
    let env = Env::new();
    env.config("// my gateway\n{ session: { reset: { mode: 'daily', atHour: 5, idleMinutes: 90, }, resetByChannel: { discord: { mode: 'idle', idleMinutes: 15 } } } }\n");
    env.add_agent(
        "main",
        &store_of(&[(
            "agent:main:main",
            json!({"sessionId": "a", "updatedAt": now_ms()}),
        )]),
    );
    let state_dir = env.state_dir.display().to_string();
    let out = env.ctl(&["doctor", "--state-dir", &state_dir]);
    let said = ok(&out);
    for expected in [
        "json-v1",
        "daily at 05:00, and idle after 90 min",
        "channel discord: idle after 15 min",
        "not running",
        "keepalivectl start",
    ] {
        assert!(
            said.contains(expected),
            "doctor lacks {expected:?}:\n{said}"
        );
    }
    let report = env.ctl_json(&["doctor", "--state-dir", &state_dir]);
    assert_eq!(report["effective"], true);
    assert_eq!(report["agents"][0]["generation"], "json-v1");
    assert_eq!(report["agents"][0]["lock"]["state"], "free");
    assert_eq!(report["daemon"]["running"], false);
    assert!(
        !env.store("main")
            .with_file_name("sessions.json.lock")
            .exists(),
        "doctor only reads"
    );
}

#[test]
fn the_state_dir_is_found_like_the_gateway_finds_it() {
    let env = Env::new();
    let home = &env.home;
    let doctor = |vars: &[(&str, &OsStr)]| {
        let out = env.ctl_with(&["--json", "doctor"], vars);
        ok(&out);
        serde_json::from_slice::<Value>(&out.stdout).expect("json")
    };
    let make = |dir: &Path| std::fs::create_dir_all(dir.join("agents")).expect("dir");
    // No ~/.openclaw but a legacy ~/.clawdbot: the legacy dir is used.
    make(&home.join(".clawdbot"));
    let report = doctor(&[]);
    assert_eq!(
        report["state_dir"],
        home.join(".clawdbot").display().to_string()
    );
    // Once ~/.openclaw exists, it wins over the legacy dir.
    make(&home.join(".openclaw"));
    assert_eq!(
        doctor(&[])["state_dir"],
        home.join(".openclaw").display().to_string()
    );
    // A profile: ~/.openclaw-work.
    let report = doctor(&[("OPENCLAW_PROFILE", OsStr::new("work"))]);
    assert_eq!(
        report["state_dir"],
        home.join(".openclaw-work").display().to_string()
    );
    assert!(
        report["state_dir_source"]
            .as_str()
            .is_some_and(|s| s.contains("work")),
        "{report}"
    );
    // $OPENCLAW_STATE_DIR beats a profile.
    let report = doctor(&[
        ("OPENCLAW_PROFILE", OsStr::new("work")),
        ("OPENCLAW_STATE_DIR", env.state_dir.as_os_str()),
    ]);
    assert_eq!(report["state_dir"], env.state_dir.display().to_string());
    // session.store relocates the store, with {agentId}.
    let elsewhere = env.dir.path().join("stores");
    env.config(&format!(
        "{{ session: {{ store: '{}/{{agentId}}.json' }} }}",
        elsewhere.display()
    ));
    std::fs::create_dir_all(env.state_dir.join("agents/work")).expect("agent dir");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    std::fs::write(elsewhere.join("work.json"), b"{}").expect("store");
    let report = doctor(&[("OPENCLAW_STATE_DIR", env.state_dir.as_os_str())]);
    assert_eq!(
        report["agents"][0]["store"],
        elsewhere.join("work.json").display().to_string(),
        "{report}"
    );
}
