//! A store the gateway is writing when keepalive's write is due (the releases from 2026.5.2 to
//! 2026.7.35 take no lock, so "busy" means a write of theirs in progress): keepalive does not
//! write then, says "store busy" in status, metrics and the log, and tries again in the next
//! gap between the gateway's writes, without waiting for the next tick.

mod support;

use serde_json::{Value, json};
use support::{Env, fixture, parse};

/// The gateway's temp file for a write of the store, as 2026.6.1+ names it.
const GATEWAY_TEMP: &str = "sessions.json.4242.0f1e2a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp";

fn metric(env: &Env, name: &str) -> Option<f64> {
    let metrics = env.ctl_json(&["metrics"]);
    let text = metrics["text"].as_str().expect("metrics text").to_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn a_busy_store_is_reported_then_written_in_the_next_gap() {
    let env = Env::new();
    let store = env.add_agent("main", &fixture("v1-6.json"));
    let before = env.read_store("main");
    // A write of the gateway's in progress when keepalived starts.
    let temp = store.with_file_name(GATEWAY_TEMP);
    std::fs::write(&temp, b"{\"half\": ").expect("gateway temp");
    let daemon = env.daemon_all(&["--interval", "1h", "--lock-timeout", "500ms"]);

    let status = env.wait_status("a busy round", |s| {
        s["agents"][0]["last_error"]["code"] == "store_busy"
    });
    let message = status["agents"][0]["last_error"]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.starts_with("store busy: the gateway was writing"),
        "{message}"
    );
    assert_eq!(status["agents"][0]["writes"], 0);
    assert_eq!(
        env.read_store("main"),
        before,
        "nothing written while it writes"
    );
    let human = support::text(&env.ctl(&["status"]));
    assert!(human.contains("store busy"), "{human}");
    assert!(
        metric(
            &env,
            r#"keepalive_errors_total{agent="main",code="store_busy"}"#
        ) >= Some(1.0),
        "no store_busy error counted"
    );
    assert!(daemon.log().contains("store busy"), "{}", daemon.log());
    // A request that writes nothing (a report) neither hides "store busy" nor ends the retries.
    let report = env.ctl(&["sessions"]);
    assert_eq!(report.status.code(), Some(0), "{}", support::text(&report));
    let status = env.status();
    assert_eq!(
        status["agents"][0]["last_error"]["code"], "store_busy",
        "{status:#}"
    );

    // The gateway's write ends: its new store, with a session it just added, is renamed in.
    let mut theirs: Value = parse(&before);
    theirs["agent:main:new"] = json!({"sessionId": "n1", "updatedAt": 1_776_000_000_000_u64});
    std::fs::write(&temp, serde_json::to_vec_pretty(&theirs).expect("json")).expect("write");
    std::fs::rename(&temp, &store).expect("rename");

    // No tick comes for an hour: the write lands on the busy retry.
    let status = env.wait_status("the write after the gateway's", |s| {
        s["agents"][0]["writes"] == 1
    });
    assert!(status["agents"][0]["last_error"].is_null(), "{status:#}");
    let after = parse(&env.read_store("main"));
    assert_eq!(
        after["agent:main:new"]["sessionId"], "n1",
        "the gateway's new session is kept"
    );
    let bumped = after["agent:main:new"]["updatedAt"]
        .as_u64()
        .expect("updatedAt");
    assert!(
        bumped > 1_776_000_000_000,
        "and bumped by the retried round"
    );
    assert!(
        metric(&env, r#"keepalive_gateway_write_waits_total{agent="main"}"#) >= Some(1.0),
        "the wait for the gateway's write is counted"
    );
    // One warning for the busy spell, not one per retry.
    let warnings = daemon
        .log()
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("store busy"))
        .count();
    assert_eq!(warnings, 1, "{}", daemon.log());
}
