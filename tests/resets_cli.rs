//! `keepalivectl resets` as people call it (issue 13): `--agent`, `--since` (also with
//! `--follow`, and absurdly long), and `--follow` ending cleanly when keepalived stops. A real
//! daemon; each reset is made the way the gateway makes it (a new `sessionId` under its lock)
//! and noticed deterministically by a `sessions` report, which is a round.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Env, now_ms, ok, store_of, text};

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

/// A `resets --follow` client whose stdout lines arrive on a channel.
struct Follower {
    child: Child,
    lines: Receiver<String>,
}

impl Follower {
    fn spawn(env: &Env, args: &[&str]) -> Self {
        let mut child = env
            .ctl_command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn resets --follow");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Follower { child, lines }
    }

    fn next_event(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a line within 10s");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON event ({e}): {line}"))
    }

    /// Waits for the client to end by itself; its exit code and stderr.
    fn wait(&mut self) -> (Option<i32>, String) {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "resets --follow did not end after keepalived stopped"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            pipe.read_to_string(&mut stderr).expect("stderr");
        }
        (status.code(), stderr)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn agent_shows_only_that_agents_resets_and_an_unknown_agent_is_named_as_such() {
    let env = Env::new();
    one_session(&env, "main", "m1");
    one_session(&env, "work", "w1");
    let mut daemon = env.daemon(&["--interval", "1h"]);
    env.sessions();
    reset_and_notice(&env, "main", "m2");
    reset_and_notice(&env, "work", "w2");

    assert_eq!(new_ids(&env.resets(&[])), ["m2", "w2"]);
    let work = env.resets(&["--agent", "work"]);
    assert_eq!(new_ids(&work), ["w2"], "{work:#?}");
    assert!(work.iter().all(|e| e["agent"] == "work"), "{work:#?}");
    let table = ok(&env.ctl(&["resets", "--agent", "main"]));
    assert!(table.contains("agent:main:main"), "{table}");
    assert!(!table.contains("agent:work:main"), "{table}");

    // A mistyped agent is an error naming the agents keepalive knows, not an empty list.
    for args in [
        &["resets", "--agent", "wrok"][..],
        &["--json", "resets", "--agent", "wrok"],
    ] {
        let out = env.ctl(args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let stderr = support::stderr(&out);
        assert!(
            stderr.contains("\"wrok\"") && stderr.contains("main, work"),
            "{}",
            text(&out)
        );
        if args[0] == "--json" {
            assert!(
                support::stdout(&out).contains("\"unknown_agent\""),
                "the protocol's code, as for other commands: {}",
                text(&out)
            );
        }
    }

    // An agent no longer served still has its resets in the log: they are shown.
    ok(&env.ctl(&["shutdown"]));
    daemon.wait_exit();
    let _daemon = env.daemon(&["--interval", "1h", "--agent", "main"]);
    assert_eq!(new_ids(&env.resets(&["--agent", "work"])), ["w2"]);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(env.resets(&["--agent", "work", "--since", "1s"]).is_empty());
    let out = env.ctl(&["resets", "--agent", "wrok", "--since", "1s"]);
    assert!(
        support::stderr(&out).contains("(agents served: main)"),
        "{}",
        text(&out)
    );
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

#[test]
fn follow_with_since_skips_what_was_noticed_before_the_window() {
    let env = Env::new();
    let _daemon = watching_main(&env);
    reset_and_notice(&env, "main", "a2");
    std::thread::sleep(Duration::from_millis(2500));

    // Nothing within the last second: the polls must not fall back to the whole history.
    let follower = Follower::spawn(&env, &["--json", "resets", "--follow", "--since", "1s"]);
    std::thread::sleep(Duration::from_millis(1500));
    reset_and_notice(&env, "main", "a3");
    let first = follower.next_event();
    assert_eq!(first["new_session_id"], "a3", "{first:#}");
}

#[test]
fn follow_ends_cleanly_when_keepalived_stops() {
    for how in ["shutdown", "SIGTERM"] {
        let env = Env::new();
        let mut daemon = watching_main(&env);
        let mut follower = Follower::spawn(&env, &["--json", "resets", "--follow"]);
        reset_and_notice(&env, "main", "a2");
        assert_eq!(follower.next_event()["new_session_id"], "a2");

        if how == "shutdown" {
            ok(&env.ctl(&["shutdown"]));
        } else {
            daemon.signal(libc::SIGTERM);
        }
        assert_eq!(daemon.wait_exit(), Some(0), "{}", daemon.log());
        let (code, stderr) = follower.wait();
        assert_eq!(code, Some(0), "{how}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{how}: one line: {stderr}");
        assert!(
            stderr.contains("keepalived stopped") && stderr.contains("run this command again"),
            "{how}: {stderr}"
        );
    }
}

#[test]
fn follow_without_a_daemon_or_with_a_refused_request_still_fails() {
    let env = Env::new();
    let out = env.ctl(&["resets", "--follow"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        support::stderr(&out).contains("not running"),
        "{}",
        text(&out)
    );
    let _daemon = watching_main(&env);
    let out = env.ctl(&["resets", "--follow", "--agent", "../etc"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}
