//! `keepalivectl resets` as people call it (issue 13): `--since` (also absurdly long). A real
//! daemon; each reset is made the way the gateway makes it (a new `sessionId` under its lock)
//! and noticed deterministically by a `sessions` report, which is a round.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Env, now_ms, ok, store_of};

const MIN: u64 = 60_000;

fn entry(id: &str) -> Value {
    json!({"sessionId": id, "updatedAt": now_ms() - 5 * MIN, "chatType": "direct"})
}

fn one_session(env: &Env, agent: &str, id: &str) {
    env.add_agent(
        agent,
        &store_of(&[(&format!("agent:{agent}:main"), entry(id))]),
    );
}

/// The gateway starts `agent`'s main session afresh; keepalive's next look notices it.
fn reset_and_notice(env: &Env, agent: &str, new_id: &str) {
    support::gateway::locked_set(
        &env.store(agent),
        &format!("agent:{agent}:main"),
        "sessionId",
        json!(new_id),
    );
    env.sessions();
}

/// keepalived watching agent `main`'s one session (`a1`), its first look taken.
fn watching_main(env: &Env) -> support::Daemon {
    one_session(env, "main", "a1");
    let daemon = env.daemon(&["--interval", "1h"]);
    env.sessions();
    daemon
}

fn new_ids(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["new_session_id"].as_str().unwrap_or("?"))
        .collect()
}

#[test]
fn since_shows_the_resets_noticed_within_the_window_only() {
    let env = Env::new();
    let _daemon = watching_main(&env);
    reset_and_notice(&env, "main", "a2");
    std::thread::sleep(Duration::from_secs(4));
    reset_and_notice(&env, "main", "a3");

    assert_eq!(new_ids(&env.resets(&[])), ["a2", "a3"]);
    assert_eq!(new_ids(&env.resets(&["--since", "3s"])), ["a3"]);
    let table = ok(&env.ctl(&["resets", "--since", "3s"]));
    assert_eq!(table.lines().count(), 2, "a header and a3's line: {table}");
    assert!(table.contains("a2 -> a3"), "{table}");
    assert_eq!(new_ids(&env.resets(&["--since", "1h"])), ["a2", "a3"]);
}

#[test]
fn since_longer_than_milliseconds_can_count_means_everything() {
    let env = Env::new();
    let _daemon = watching_main(&env);
    reset_and_notice(&env, "main", "a2");
    std::thread::sleep(Duration::from_secs(1));
    // 18446744073709552 s is 2^64 ms and 384 ms: wrapped, it would mean "the last 384 ms".
    assert_eq!(
        new_ids(&env.resets(&["--since", "18446744073709552"])),
        ["a2"]
    );
}
