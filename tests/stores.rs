//! What the daemon does to real stores: byte preservation, the gateway's
//! lock, a concurrent gateway writer, invalid stores, bursts of touches.

mod support;

use std::time::{Duration, SystemTime};

use support::gateway;
use support::{Env, bumped_digit_spans, fixture, now_ms};

/// The gateway simulator's process entry (see support/gateway.rs).
#[test]
#[ignore = "runs only as a helper process started by other tests"]
fn gateway_sim_process() {
    gateway::sim_main();
}

#[test]
fn bumps_change_only_timestamp_digits_in_stores_written_by_node() {
    let env = Env::new();
    let names = [
        "typical-3-entries.json",
        "tricky.json",
        "v1-6.json",
        "v2-5.json",
    ];
    for (i, name) in names.iter().enumerate() {
        env.add_agent(&format!("a{i}"), &fixture(name));
    }
    let started = now_ms();
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("every store written", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.len() == names.len() && a.iter().all(|a| a["writes"] == 1))
    });
    for (i, name) in names.iter().enumerate() {
        let before = fixture(name);
        let after = env.read_store(&format!("a{i}"));
        let changes = bumped_digit_spans(&before, &after);
        // json-v1: updatedAt of each entry; json-v2 (v2-5.json) also
        // lastInteractionAt, but never sessionStartedAt without opt-in.
        let timestamps = match *name {
            "typical-3-entries.json" => 3,
            "v1-6.json" | "tricky.json" => 6,
            _ => 10,
        };
        assert_eq!(
            changes.len(),
            timestamps,
            "{name}: only the expected timestamps move: {changes:?}"
        );
        let now = changes[0].1;
        assert!(
            now >= started && now <= now_ms(),
            "{name}: bumped to the time of the round"
        );
        assert!(
            changes.iter().all(|c| c.1 == now),
            "{name}: one round, one time"
        );
        assert!(!after.ends_with(b"\n"), "{name}: no trailing newline added");
        if *name != "tricky.json" {
            // serde_json cannot read the tricky store's lone surrogate; for
            // the others, the parsed stores are equal but for the bumped
            // fields, so no other number (a counter, a nested updatedAt) moved.
            let (mut before, after) = (support::parse(&before), support::parse(&after));
            for (key, entry) in before.as_object_mut().expect("object") {
                for field in ["updatedAt", "lastInteractionAt"] {
                    if entry.get(field).is_some() {
                        entry[field] = after[key][field].clone();
                    }
                }
            }
            assert_eq!(
                before, after,
                "{name}: only updatedAt and lastInteractionAt changed"
            );
        }
    }
    // The tricky store keeps its lone surrogate, raw emoji and number spellings.
    let tricky = String::from_utf8(env.read_store("a1")).expect("utf8");
    for kept in [
        "\\ud83d and a pair",
        "😀",
        "1e+21",
        "5e-324",
        "0.30000000000000004",
        "\"updatedAt\": 1",
    ] {
        assert!(tricky.contains(kept), "lost {kept:?}");
    }
    // No temp files are left beside any store.
    for i in 0..names.len() {
        let dir = env
            .store(&format!("a{i}"))
            .parent()
            .expect("dir")
            .to_path_buf();
        let names: Vec<String> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
            .collect();
        assert_eq!(
            names,
            vec!["sessions.json".to_string()],
            "only the store remains"
        );
    }
}

#[test]
fn nothing_is_written_while_the_gateway_holds_its_lock() {
    let env = Env::new();
    let store = env.add_agent("main", &fixture("v1-6.json"));
    let lock = gateway::acquire(&store, Duration::from_secs(1)).expect("take the gateway lock");
    let lock_bytes = std::fs::read(&lock.path).expect("lock");
    let before = env.read_store("main");
    let _daemon = env.daemon_all(&["--interval", "1h", "--lock-timeout", "300ms"]);
    let status = env.wait_status("a busy round", |s| !s["agents"][0]["last_error"].is_null());
    assert_eq!(
        status["agents"][0]["last_error"]["code"], "store_busy",
        "{status:#}"
    );
    let out = env.ctl(&["touch"]);
    assert_eq!(out.status.code(), Some(1), "{}", support::text(&out));
    assert!(
        support::stderr(&out).contains("busy") || support::stderr(&out).contains("lock"),
        "{}",
        support::text(&out)
    );
    assert_eq!(
        env.read_store("main"),
        before,
        "nothing written under a live gateway lock"
    );
    assert_eq!(
        std::fs::read(&lock.path).expect("lock"),
        lock_bytes,
        "the gateway's lock is untouched"
    );

    drop(lock);
    let reply = env.ctl_json(&["touch"]);
    assert_eq!(reply["results"][0]["written"], true);
    assert_eq!(
        bumped_digit_spans(&before, &env.read_store("main")).len(),
        6
    );
    assert!(
        env.status()["agents"][0]["last_error"].is_null(),
        "error cleared by a good round"
    );
}

#[test]
fn a_stale_gateway_lock_is_reclaimed_under_the_gateways_rules() {
    let env = Env::new();
    let store = env.add_agent("main", &fixture("v1-6.json"));
    // A lock left by a gateway that died: its pid no longer exists.
    let mut dead = std::process::Command::new("true").spawn().expect("spawn");
    let dead_pid = dead.id();
    dead.wait().expect("wait");
    let lock_path = gateway::lock_path(&store);
    std::fs::write(&lock_path, gateway::payload(dead_pid, SystemTime::now())).expect("lock");
    let before = env.read_store("main");
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("a write", |s| s["agents"][0]["writes"] == 1);
    assert_eq!(
        bumped_digit_spans(&before, &env.read_store("main")).len(),
        6
    );
    assert!(
        !lock_path.exists(),
        "the stale lock was removed and ours released"
    );
}

#[test]
fn a_concurrent_gateway_writer_loses_no_update() {
    let env = Env::new();
    let store = env.add_agent("main", &fixture("v1-6.json"));
    let _daemon = env.daemon_all(&["--interval", "1s"]);
    let mut sim = gateway::spawn(&store, "agent:main:main", 400);
    // Meanwhile, clients' touches add writes of our own to the daemon's ticks.
    let mut touches = 0;
    while sim.try_wait().expect("simulator").is_none() {
        let out = env.ctl(&["touch"]);
        assert_eq!(out.status.code(), Some(0), "{}", support::text(&out));
        touches += 1;
    }
    let out = sim.wait_with_output().expect("simulator");
    assert!(touches > 0);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the gateway simulator lost updates:\n{said}"
    );
    assert!(said.contains("lost=0 rounds=400"), "{said}");
    let parsed: serde_json::Value =
        serde_json::from_slice(&env.read_store("main")).expect("valid JSON");
    assert_eq!(
        parsed["agent:main:main"]["gatewayCounter"], 399,
        "the gateway's last write survived"
    );
    let status = env.status();
    assert!(
        status["agents"][0]["writes"].as_u64().expect("writes") >= 2,
        "the daemon's bumps landed too: {status:#}"
    );
    assert!(
        status["agents"][0]["last_error"].is_null()
            || status["agents"][0]["last_error"]["code"] != "store_invalid"
    );
}

#[test]
fn invalid_stores_stay_byte_identical_and_other_agents_carry_on() {
    let env = Env::new();
    let cases: [(&str, &[u8]); 9] = [
        ("empty", b""),
        (
            "truncated",
            b"{\n  \"agent:x:main\": {\n    \"sessionId\": \"a\",\n    \"updatedAt\": 17",
        ),
        ("array", b"[{\"updatedAt\": 1}]"),
        ("string", b"\"sessions\""),
        (
            "bom",
            b"\xef\xbb\xbf{\"agent:x:main\": {\"sessionId\": \"a\", \"updatedAt\": 1}}",
        ),
        (
            "nul",
            b"{\"agent:x:main\": {\"sessionId\": \"a\",\0 \"updatedAt\": 1}}",
        ),
        (
            "latin1",
            b"{\"agent:x:main\": {\"sessionId\": \"\xe9\", \"updatedAt\": 1}}",
        ),
        (
            "garbage",
            b"{\"agent:x:main\": {\"sessionId\": \"a\", \"updatedAt\": 1}} trailing",
        ),
        ("deep", &[b'['; 50_000]),
    ];
    for (name, bytes) in cases {
        env.add_agent(name, bytes);
    }
    env.add_agent("good", &fixture("v1-6.json"));
    let good_before = env.read_store("good");
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    let status = env.wait_status("every agent's first round", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.len() == 10 && a.iter().all(|a| a["last_tick_ms"].is_u64()))
    });
    for agent in status["agents"].as_array().expect("agents") {
        if agent["id"] == "good" {
            assert!(agent["last_error"].is_null(), "{agent}");
            assert_eq!(agent["writes"], 1);
        } else {
            assert_eq!(agent["last_error"]["code"], "store_invalid", "{agent}");
            assert_eq!(agent["writes"], 0);
        }
    }
    for (name, bytes) in cases {
        assert_eq!(
            env.read_store(name),
            bytes,
            "{name} must stay byte-identical"
        );
        let dir = env.store(name).parent().expect("dir").to_path_buf();
        assert_eq!(
            std::fs::read_dir(dir).expect("dir").count(),
            1,
            "{name}: no temp or lock file left"
        );
    }
    assert_eq!(
        bumped_digit_spans(&good_before, &env.read_store("good")).len(),
        6
    );
}

#[test]
fn hundreds_of_concurrent_touches_coalesce_into_few_writes() {
    let env = Env::new();
    let store = env.add_agent("main", &fixture("v1-6.json"));
    let _daemon = env.daemon_all(&["--interval", "1h", "--lock-timeout", "30s"]);
    env.wait_status("the first round", |s| s["agents"][0]["writes"] == 1);
    // The gateway holds its lock while the burst arrives, so the touches
    // queue up behind one waiting round, however fast this machine is.
    let lock = gateway::acquire(&store, Duration::from_secs(1)).expect("gateway lock");
    let clients = 300;
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let socket = env.socket.clone();
            std::thread::spawn(move || {
                let mut client = support::RawClient::connect(&socket);
                let request = if i % 2 == 0 {
                    r#"{"v":1,"cmd":"touch","sessions":["agent:main:main"]}"#
                } else {
                    r#"{"v":1,"cmd":"touch"}"#
                };
                client.request(request)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    drop(lock);
    let replies: Vec<serde_json::Value> = threads
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    assert!(
        replies.iter().all(|r| r["ok"] == true),
        "every touch answered ok"
    );
    let writes = env.status()["agents"][0]["writes"]
        .as_u64()
        .expect("writes")
        - 1;
    assert!(writes >= 1, "the touches were written");
    assert!(
        writes <= 10,
        "{writes} writes for {clients} touches: not coalesced"
    );
    let parsed: serde_json::Value =
        serde_json::from_slice(&env.read_store("main")).expect("valid JSON");
    assert_eq!(parsed.as_object().expect("object").len(), 6);
}
