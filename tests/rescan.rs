//! A new install in companion mode: keepalived starts with the gateway, before
//! any agent store exists, and the first messages' touches must keep their
//! sessions at once, not from the next tick (a minute later). A touch that
//! finds no agent, key or store makes the daemon look at the state dir again
//! right away, at most once per 100 ms however many clients ask.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Env, RawClient, now_ms, parse, text};

const MIN: u64 = 60_000;

/// The documented least spacing between two re-scans asked for by requests.
const RESCAN_SPACING: Duration = Duration::from_millis(100);

/// A store as the gateway writes it, each session last updated at `updated`.
fn store(keys: &[&str], updated: u64) -> Vec<u8> {
    let mut map = serde_json::Map::new();
    for (i, key) in keys.iter().enumerate() {
        map.insert(
            (*key).to_string(),
            json!({"sessionId": format!("s{i}"), "updatedAt": updated, "chatType": "direct"}),
        );
    }
    serde_json::to_vec_pretty(&Value::Object(map)).expect("json")
}

fn updated_at(env: &Env, agent: &str, key: &str) -> u64 {
    parse(&env.read_store(agent))[key]["updatedAt"]
        .as_u64()
        .unwrap_or_else(|| panic!("no updatedAt for {key} in {agent}'s store"))
}

/// `keepalive_rescans_total`, which must be exposed.
fn rescans(env: &Env) -> u64 {
    let metrics = env.ctl_json(&["metrics"]);
    let text = metrics["text"].as_str().expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix("keepalive_rescans_total "))
        .unwrap_or_else(|| panic!("no keepalive_rescans_total in:\n{text}"))
        .parse()
        .expect("a count")
}

/// A daemon on the default 60 s tick whose scheduler has made its first scan
/// (so anything created afterwards is, without a re-scan, unknown for a minute).
fn daemon_after_first_scan(env: &Env) -> support::Daemon {
    let daemon = env.daemon(&[]);
    env.wait_status("the first tick", |s| s["next_tick_ms"].as_u64() > Some(0));
    daemon
}

/// Touches `args`, which must bump exactly `key` and write it to disk at once.
fn touch_bumps(env: &Env, args: &[&str], agent: &str, key: &str, before: u64) {
    let mut all = vec!["touch"];
    all.extend_from_slice(args);
    let started = Instant::now();
    let reply = env.ctl_json(&all);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the touch waited for a tick: {:?}",
        started.elapsed()
    );
    let result = &reply["results"][0];
    assert_eq!(result["agent"], agent, "{reply}");
    assert_eq!(result["bumped"], json!([key]), "{reply}");
    assert_eq!(result["written"], true, "{reply}");
    let after = updated_at(env, agent, key);
    assert!(
        after > before && after <= now_ms(),
        "updatedAt of {key} did not move: {before} -> {after}"
    );
}

#[test]
fn a_touch_finds_agents_created_after_the_last_scan() {
    let env = Env::new();
    let _daemon = daemon_after_first_scan(&env);
    assert_eq!(env.status()["agents"], json!([]));

    // The gateway creates its first store, then its hook touches the session.
    let before = now_ms() - MIN;
    env.add_agent("main", &store(&["agent:main:main"], before));
    touch_bumps(
        &env,
        &["agent:main:main"],
        "main",
        "agent:main:main",
        before,
    );
    assert_eq!(rescans(&env), 1);

    // A second agent while one is known: the key is in no known store.
    env.add_agent("work", &store(&["agent:work:main"], before));
    touch_bumps(
        &env,
        &["agent:work:main"],
        "work",
        "agent:work:main",
        before,
    );

    // A third one named with --agent.
    env.add_agent("ops", &store(&["agent:ops:main"], before));
    touch_bumps(
        &env,
        &["agent:ops:main", "--agent", "ops"],
        "ops",
        "agent:ops:main",
        before,
    );
    let ids: Vec<Value> = env.status()["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, [json!("main"), json!("ops"), json!("work")]);
    assert_eq!(rescans(&env), 3);
}

#[test]
fn a_session_new_in_a_known_store_is_found_by_the_touch_itself() {
    let env = Env::new();
    let before = now_ms() - MIN;
    env.add_agent("main", &store(&["agent:main:main"], before));
    let _daemon = daemon_after_first_scan(&env);
    env.wait_status("main's first round", |s| {
        s["agents"][0]["sessions"].as_u64() == Some(1)
    });

    // The gateway adds a session to the store keepalive already serves.
    env.add_agent(
        "main",
        &store(&["agent:main:main", "agent:main:telegram:42"], before),
    );
    touch_bumps(
        &env,
        &["agent:main:telegram:42"],
        "main",
        "agent:main:telegram:42",
        before,
    );
    // The touch's own round read the store afresh: no re-scan was needed.
    assert_eq!(rescans(&env), 0);
}

#[test]
fn a_key_still_unknown_after_a_rescan_is_refused_and_nothing_is_written() {
    let env = Env::new();
    env.add_agent("main", &store(&["agent:main:main"], now_ms() - MIN));
    let _daemon = daemon_after_first_scan(&env);
    let bytes = env.read_store("main");

    let refused = |args: &[&str], code: &str| -> Value {
        let mut all = vec!["--json", "touch"];
        all.extend_from_slice(args);
        let out = env.ctl(&all);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let reply: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)));
        assert_eq!(reply["error"]["code"], code, "{reply}");
        reply
    };
    let reply = refused(&["agent:main:nope"], "unknown_session");
    assert_eq!(
        reply["error"]["details"]["missing"],
        json!(["agent:main:nope"])
    );
    assert!(
        reply["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("agent:main:nope")),
        "{reply}"
    );
    assert_eq!(
        rescans(&env),
        1,
        "the unknown key made the daemon look again"
    );
    // All or nothing: the known key beside an unknown one is not bumped either.
    let reply = refused(&["agent:main:main", "agent:main:nope"], "unknown_session");
    assert_eq!(
        reply["error"]["details"]["missing"],
        json!(["agent:main:nope"])
    );
    refused(&["agent:main:main", "--agent", "nope"], "unknown_agent");
    assert_eq!(rescans(&env), 3);
    assert_eq!(env.read_store("main"), bytes, "nothing may be written");
}

#[test]
fn a_flood_of_unknown_touches_rescans_at_most_once_per_spacing() {
    const CLIENTS: usize = 4;
    const EACH: usize = 20;
    let env = Env::new();
    env.add_agent("main", &store(&["agent:main:main"], now_ms() - MIN));
    let _daemon = daemon_after_first_scan(&env);
    let bytes = env.read_store("main");

    let started = Instant::now();
    std::thread::scope(|scope| {
        for c in 0..CLIENTS {
            let socket = env.socket.clone();
            scope.spawn(move || {
                let mut client = RawClient::connect(&socket);
                for i in 0..EACH {
                    // Unknown keys everywhere, unknown keys in one agent, unknown agents.
                    let (line, code) = match i % 3 {
                        0 => (
                            format!(r#"{{"v":1,"cmd":"touch","sessions":["flood:{c}:{i}"]}}"#),
                            "unknown_session",
                        ),
                        1 => (
                            format!(
                                r#"{{"v":1,"cmd":"touch","agent":"main","sessions":["flood:{c}:{i}"]}}"#
                            ),
                            "unknown_session",
                        ),
                        _ => (
                            format!(r#"{{"v":1,"cmd":"touch","agent":"flood-{c}-{i}"}}"#),
                            "unknown_agent",
                        ),
                    };
                    let reply = client.request(&line);
                    assert_eq!(reply["error"]["code"], code, "{line} -> {reply}");
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let count = rescans(&env);
    let bound = 1 + (elapsed.as_millis() / RESCAN_SPACING.as_millis()) as u64;
    eprintln!(
        "{} unknown touches from {CLIENTS} clients in {elapsed:?}: {count} re-scans (bound {bound})",
        CLIENTS * EACH
    );
    assert!(count >= 1, "the flood never made the daemon look again");
    assert!(
        count <= bound,
        "{count} re-scans in {elapsed:?}: more than one per {RESCAN_SPACING:?}"
    );
    // Concurrent clients share re-scans instead of queueing one each.
    assert!(
        count < (CLIENTS * EACH / 2) as u64,
        "{count} re-scans for {} touches",
        CLIENTS * EACH
    );
    assert_eq!(env.read_store("main"), bytes, "nothing may be written");

    // After the flood, a real new session is still found at once.
    let before = now_ms() - MIN;
    env.add_agent("late", &store(&["agent:late:main"], before));
    touch_bumps(
        &env,
        &["agent:late:main"],
        "late",
        "agent:late:main",
        before,
    );
}
