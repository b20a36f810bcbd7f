//! Every `keepalivectl` command end to end against a real daemon, with its
//! text output, `--json` output and exit codes.
//!
//! Over 400 lines: fifteen tests, one per command or family of commands, each checking its
//! text, its `--json` and its exit code together.

mod support;

use support::{Env, bumped_digit_spans, fixture, ok, stderr, stdout, text};

#[test]
fn status_json_has_the_documented_fields() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let daemon = env.daemon_all(&["--interval", "1h"]);
    let status = env.wait_status("the first round", |s| {
        s["agents"][0]["last_tick_ms"].is_u64()
    });
    assert_eq!(status["ok"], true);
    assert_eq!(status["pid"], daemon.pid());
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert!(status["uptime_s"].is_u64());
    assert_eq!(status["interval_s"], 3600);
    assert_eq!(status["state_dir"], env.state_dir.display().to_string());
    assert_eq!(status["socket"], env.socket.display().to_string());
    assert_eq!(status["dry_run"], false);
    let agent = &status["agents"][0];
    assert_eq!(agent["id"], "main");
    assert_eq!(agent["store"], env.store("main").display().to_string());
    assert_eq!(agent["sessions"], 6);
    assert_eq!(agent["kept_alive"], 6);
    assert_eq!(agent["writes"], 1);
    assert!(agent["last_error"].is_null());

    let table = ok(&env.ctl(&["status"]));
    assert!(
        table.contains(&format!("running (pid {}", daemon.pid())),
        "{table}"
    );
    assert!(
        table.contains("main") && table.contains("SESSIONS"),
        "{table}"
    );
}

#[test]
fn a_client_without_a_daemon_says_so_with_exit_code_3() {
    let env = Env::new();
    for args in [
        &["status"][..],
        &["touch"],
        &["interval"],
        &["rules"],
        &["include", "k"],
    ] {
        let out = env.ctl(args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", text(&out));
        let message = stderr(&out);
        assert!(message.contains("not running"), "{message}");
        assert!(
            message.contains(&env.socket.display().to_string()),
            "{message}"
        );
        assert!(message.contains("keepalivectl start"), "{message}");
        assert_eq!(message.lines().count(), 1, "one line: {message}");
    }
    let out = env.ctl(&["shutdown"]);
    assert!(ok(&out).contains("was not running"), "{}", text(&out));
}

#[test]
fn touch_by_key_bumps_only_that_session_and_waits_for_the_write() {
    let env = Env::new();
    let store = env.add_agent("main", &fixture("typical-3-entries.json"));
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("the first round", |s| s["agents"][0]["writes"] == 1);
    let before = std::fs::read(&store).expect("read");

    let key = "agent:main:main";
    let started = support::now_ms();
    let reply = env.ctl_json(&["touch", "AGENT:Main:main "]);
    assert_eq!(reply["results"][0]["bumped"], serde_json::json!([key]));
    assert_eq!(reply["results"][0]["written"], true);
    // The reply came after the write: the store already holds the new time.
    let after = std::fs::read(&store).expect("read");
    let changes = bumped_digit_spans(&before, &after);
    assert_eq!(changes.len(), 1, "only one timestamp moves: {changes:?}");
    assert!(changes[0].1 >= started, "bumped to now");
    let parsed: serde_json::Value = serde_json::from_slice(&after).expect("valid JSON");
    assert_eq!(parsed[key]["updatedAt"], changes[0].1);

    ok(&env.ctl(&["touch", key]));
}

#[test]
fn touch_of_an_unknown_key_is_an_error_naming_it_and_writes_nothing() {
    let env = Env::new();
    env.add_agent("main", &fixture("typical-3-entries.json"));
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("the first round", |s| s["agents"][0]["writes"] == 1);
    let before = env.read_store("main");
    let out = env.ctl(&["touch", "agent:main:main", "agent:main:nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("agent:main:nope"), "{}", text(&out));
    assert_eq!(
        env.read_store("main"),
        before,
        "nothing written for a touch with an unknown key"
    );

    let out = env.ctl(&["touch", "--agent", "ghost"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("ghost"), "{}", text(&out));
}

#[test]
fn touch_without_keys_bumps_every_selected_session_of_every_agent() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    env.add_agent("work", &fixture("v2-5.json"));
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("the first rounds", |s| {
        s["agents"][0]["writes"] == 1 && s["agents"][1]["writes"] == 1
    });
    env.ctl_json(&["exclude", "agent:main:main", "--agent", "main"]);
    // A millisecond later every included timestamp is behind "now" again.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let reply = env.ctl_json(&["touch"]);
    let results = reply["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    let main = results.iter().find(|r| r["agent"] == "main").expect("main");
    let work = results.iter().find(|r| r["agent"] == "work").expect("work");
    assert_eq!(
        main["bumped"].as_array().expect("bumped").len(),
        5,
        "excluded key skipped: {main}"
    );
    assert!(
        !main["bumped"]
            .as_array()
            .expect("bumped")
            .contains(&"agent:main:main".into())
    );
    assert_eq!(work["bumped"].as_array().expect("bumped").len(), 5);

    let reply = env.ctl_json(&["touch", "--agent", "work"]);
    assert_eq!(reply["results"].as_array().expect("results").len(), 1);
    // Explicitly naming an excluded key still bumps it.
    let reply = env.ctl_json(&["touch", "agent:main:main"]);
    assert_eq!(
        reply["results"][0]["bumped"],
        serde_json::json!(["agent:main:main"])
    );
}

#[test]
fn interval_shows_sets_validates_and_persists() {
    let env = Env::new();
    let daemon = env.daemon_all(&[]);
    assert_eq!(env.ctl_json(&["interval"])["interval_s"], 60);
    let out = env.ctl(&["interval", "5m"]);
    assert!(ok(&out).contains("5m"), "{}", text(&out));
    assert_eq!(env.ctl_json(&["interval"])["interval_s"], 300);
    assert_eq!(env.status()["interval_s"], 300);

    for bad in ["0", "25h", "soon", "-1"] {
        let out = env.ctl(&["interval", "--", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
    }
    let mut client = env.client();
    let reply = client.request(r#"{"v":1,"cmd":"set_interval","interval_s":0}"#);
    assert_eq!(reply["error"]["code"], "invalid_argument");
    assert_eq!(
        env.ctl_json(&["interval"])["interval_s"],
        300,
        "a refused value changes nothing"
    );

    drop(daemon);
    let _again = env.daemon_all(&[]);
    assert_eq!(
        env.ctl_json(&["interval"])["interval_s"],
        300,
        "persisted across restarts"
    );
}

#[test]
fn a_command_line_interval_beats_the_persisted_one() {
    let env = Env::new();
    let daemon = env.daemon_all(&[]);
    env.ctl_json(&["interval", "10m"]);
    drop(daemon);
    let daemon = env.daemon_all(&["--interval", "90"]);
    assert_eq!(env.status()["interval_s"], 90);
    drop(daemon);
    let _daemon = env.daemon_all(&[]);
    assert_eq!(
        env.status()["interval_s"],
        600,
        "the flag itself was not persisted"
    );
}

#[test]
fn rules_are_managed_listed_and_persisted() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let daemon = env.daemon_all(&["--interval", "1h"]);
    let reply = env.ctl_json(&["exclude", "agent:main:main"]);
    assert_eq!(
        reply["rules"],
        serde_json::json!([{"session": "agent:main:main", "agent": null, "action": "exclude"}])
    );
    env.ctl_json(&["include", "cron:x", "--agent", "main"]);
    env.ctl_json(&["include", "agent:main:main"]);
    let rules = env.ctl_json(&["rules"])["rules"].clone();
    assert_eq!(
        rules,
        serde_json::json!([
            {"session": "agent:main:main", "agent": null, "action": "include"},
            {"session": "cron:x", "agent": "main", "action": "include"},
        ])
    );
    let out = env.ctl(&["rules"]);
    assert!(
        stdout(&out).contains("cron:x") && stdout(&out).contains("include"),
        "{}",
        text(&out)
    );

    let out = env.ctl(&["forget", "cron:x"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "only the exact (session, agent) rule is forgotten: {}",
        text(&out)
    );
    assert!(stderr(&out).contains("no rule"), "{}", text(&out));
    env.ctl_json(&["forget", "cron:x", "--agent", "main"]);

    drop(daemon);
    let _daemon = env.daemon_all(&[]);
    assert_eq!(
        env.ctl_json(&["rules"])["rules"],
        serde_json::json!([{"session": "agent:main:main", "agent": null, "action": "include"}])
    );
}

#[test]
fn an_excluded_session_is_not_bumped_by_ticks() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let daemon = env.daemon_all(&["--interval", "1h"]);
    env.ctl_json(&["exclude", "agent:main:main"]);
    drop(daemon);
    let before = env.read_store("main");
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    let status = env.wait_status("the first round", |s| s["agents"][0]["writes"] == 1);
    assert_eq!(status["agents"][0]["kept_alive"], 5);
    let after = env.read_store("main");
    let parsed_before: serde_json::Value = serde_json::from_slice(&before).expect("json");
    let parsed_after: serde_json::Value = serde_json::from_slice(&after).expect("json");
    assert_eq!(
        parsed_before["agent:main:main"],
        parsed_after["agent:main:main"]
    );
    assert_eq!(bumped_digit_spans(&before, &after).len(), 5);
}

#[test]
fn shutdown_stops_the_daemon_and_removes_its_socket() {
    let env = Env::new();
    let mut daemon = env.daemon_all(&[]);
    let out = env.ctl(&["stop"]);
    assert!(ok(&out).contains("stopped"), "{}", text(&out));
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(!env.socket.exists(), "socket removed");
}

#[test]
fn dry_run_writes_nothing_and_says_so() {
    let env = Env::new();
    let store = env.add_agent("main", &fixture("v1-6.json"));
    let before = env.read_store("main");
    // A temp file a crashed keepalived left (its pid is gone): a dry run
    // must not even clean that up.
    let leftover = store.with_file_name("sessions.json.keepalive-999999999-abc123.tmp");
    std::fs::write(&leftover, b"partial").expect("leftover");
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(store.parent().expect("dir"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let files = listing();
    let daemon = env.daemon_all(&["--dry-run", "--interval", "1h"]);
    let status = env.wait_status("the first round", |s| {
        s["agents"][0]["last_tick_ms"].is_u64()
    });
    assert_eq!(status["dry_run"], true);
    assert_eq!(status["agents"][0]["writes"], 0);
    let reply = env.ctl_json(&["touch"]);
    assert_eq!(reply["results"][0]["dry_run"], true);
    assert_eq!(reply["results"][0]["written"], false);
    assert_eq!(
        reply["results"][0]["bumped"]
            .as_array()
            .expect("bumped")
            .len(),
        6,
        "what would be bumped"
    );
    assert_eq!(env.read_store("main"), before);
    assert!(
        daemon.log().contains("dry run: would bump 6 of 6"),
        "{}",
        daemon.log()
    );
    let out = env.once(&["--dry-run"]);
    assert!(ok(&out).contains("would bump 6 of 6"), "{}", text(&out));
    assert_eq!(
        env.read_store("main"),
        before,
        "--once --dry-run writes nothing"
    );
    assert_eq!(listing(), files, "no file created or removed");
    drop(daemon);
    // A real run cleans up what a dead keepalived left: `--once`...
    ok(&env.once(&[]));
    assert!(
        !leftover.exists(),
        "--once removes the dead daemon's temp file"
    );
    assert_eq!(listing(), ["sessions.json"]);
    // ...and the daemon.
    std::fs::write(&leftover, b"partial").expect("leftover");
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("the first write", |s| s["agents"][0]["writes"] == 1);
    assert!(!leftover.exists(), "the dead daemon's temp file is removed");
}

#[test]
fn once_replaces_the_shell_script() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    env.add_agent("work", &fixture("typical-3-entries.json"));
    env.add_agent("broken", b"{\"agent:x:main\": {\"updatedAt\": 1");
    let before = env.read_store("main");
    let out = env.once(&["--agent", "main", "--agent", "work"]);
    assert!(ok(&out).contains("main: bumped 6 of 6"), "{}", text(&out));
    assert_eq!(
        bumped_digit_spans(&before, &env.read_store("main")).len(),
        6
    );

    let out = env.once(&[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a store that cannot be written fails --once: {}",
        text(&out)
    );
    assert!(stdout(&out).contains("broken"), "{}", text(&out));
    assert_eq!(
        env.read_store("broken"),
        b"{\"agent:x:main\": {\"updatedAt\": 1"
    );
}

#[test]
fn start_runs_the_daemon_in_the_background_once() {
    let env = Env::new();
    // The daemon is not our child: stop it even if an assertion fails.
    struct StopOnDrop<'a>(&'a Env);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            let _ = self.0.ctl(&["shutdown"]);
        }
    }
    let _stop = StopOnDrop(&env);
    env.add_agent("main", &fixture("v1-6.json"));
    let log = env.dir.path().join("d.log");
    let log_arg = log.display().to_string();
    let out = env.ctl(&[
        "start",
        "--",
        "--state-dir",
        &env.state_dir.display().to_string(),
        "--log-file",
        &log_arg,
    ]);
    let said = ok(&out);
    assert!(said.contains("keepalived started (pid"), "{said}");
    assert!(
        said.contains(&env.socket.display().to_string()) && said.contains("main"),
        "{said}"
    );
    let pid = env.status()["pid"].as_u64().expect("pid");

    let out = env.ctl(&["start"]);
    assert!(
        ok(&out).contains(&format!("already running (pid {pid})")),
        "{}",
        text(&out)
    );

    ok(&env.ctl(&["shutdown"]));
    assert!(
        std::fs::read_to_string(
            keepalive::logging::log_files(&log)
                .pop()
                .expect("a rotated log file")
        )
        .expect("log")
        .contains("keepalived"),
        "daemon logged to --log-file"
    );
}

#[test]
fn start_refuses_a_keepalived_that_is_not_ours() {
    let env = Env::new();
    // A directory holding only keepalivectl and an impostor `keepalived`
    // (the VRRP one prints its own version).
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::copy(support::CTL, bin.join("keepalivectl")).expect("copy ctl");
    let impostor = bin.join("keepalived");
    std::fs::write(
        &impostor,
        "#!/bin/sh\necho 'Keepalived v2.2.7 (01/01,2023)'\n",
    )
    .expect("impostor");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&impostor, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = support::output_of_copied_binary(|| {
        let mut command = std::process::Command::new(bin.join("keepalivectl"));
        command
            .env("PATH", &bin)
            .env("HOME", &env.home)
            .arg("--socket")
            .arg(&env.socket)
            .arg("start");
        command
    });
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("VRRP"), "{}", text(&out));
}

#[test]
fn completions_print_for_every_shell() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = env.ctl(&["completions", shell]);
        assert!(ok(&out).contains("keepalivectl"), "{shell}");
    }
}
