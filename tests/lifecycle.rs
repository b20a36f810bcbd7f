//! The daemon's life: one per socket, crashes, signals, restarts.
//!
//! About 450 lines: seventeen short tests, one per event in the daemon's life.

mod support;

use keepalive::paths::current_uid;
use support::{Env, fixture, ok, stderr, text};

#[test]
fn a_second_daemon_on_the_same_socket_is_refused() {
    let env = Env::new();
    let first = env.daemon_all(&[]);
    let mut second = env.spawn_daemon(&[]);
    assert_eq!(
        second.wait_exit(),
        Some(4),
        "distinct exit code; log:\n{}",
        second.log()
    );
    let log = second.log();
    assert!(
        log.contains(&format!("already running (pid {})", first.pid())),
        "{log}"
    );
    // The first one is unharmed.
    assert_eq!(env.status()["pid"], first.pid());
}

#[test]
fn a_second_daemon_on_another_socket_is_refused_for_the_same_state_dir() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let first = env.daemon_all(&[]);
    let other = env.dir.path().join("run2").join("k.sock");
    let mut second = env.spawn_daemon_at(&other, &[], &[]);
    assert_eq!(second.wait_exit(), Some(4), "log:\n{}", second.log());
    let log = second.log();
    assert!(
        log.contains(&format!("already running (pid {})", first.pid()))
            && log.contains("only one keepalive may write them"),
        "{log}"
    );
    assert!(!other.exists(), "no socket left behind");
    // A dry run writes nothing, so it may run beside it.
    let dry = env.spawn_daemon_at(&other, &["--dry-run"], &[]);
    dry.wait_ready(&other);
    assert_eq!(
        env.status()["pid"],
        first.pid(),
        "the first one is unharmed"
    );
}

#[test]
fn once_beside_a_running_daemon_is_refused_whatever_its_socket() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let mut daemon = env.daemon(&["--interval", "1h"]);
    env.wait_status("the first round", |s| {
        !s["agents"][0]["last_tick_ms"].is_null()
    });
    let before = env.read_store("main");
    // `--once` uses the default socket, not the daemon's (as from cron): refused all the same.
    let out = env.once(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("already running (pid {})", daemon.pid()))
            && text(&out).contains("keepalivectl touch"),
        "{}",
        text(&out)
    );
    assert_eq!(env.read_store("main"), before, "refused, it wrote nothing");
    ok(&env.once(&["--dry-run"]));
    ok(&env.ctl(&["shutdown"]));
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(
        ok(&env.once(&[])).contains("bumped"),
        "works once the daemon is gone"
    );
}

#[test]
fn a_sigkilled_daemon_does_not_block_the_next_start() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let mut daemon = env.daemon_all(&[]);
    daemon.signal(libc::SIGKILL);
    assert_eq!(daemon.wait_exit(), None, "killed by a signal");
    assert!(
        env.socket.exists(),
        "the killed daemon left its socket behind"
    );
    let out = env.ctl(&["status"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a dead socket means not running: {}",
        text(&out)
    );
    let next = env.daemon_all(&[]);
    assert_eq!(env.status()["pid"], next.pid());
}

#[test]
fn every_stop_signal_stops_cleanly_and_removes_the_socket() {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
        let env = Env::new();
        env.add_agent("main", &fixture("v1-6.json"));
        let mut daemon = env.daemon_all(&[]);
        env.wait_status("the first round", |s| s["agents"][0]["writes"] == 1);
        daemon.signal(signal);
        assert_eq!(daemon.wait_exit(), Some(0), "log:\n{}", daemon.log());
        assert!(!env.socket.exists(), "socket removed");
        assert!(daemon.log().contains("stopped"), "{}", daemon.log());
        let lock = env.store("main").with_file_name("sessions.json.lock");
        assert!(!lock.exists(), "no store lock left behind");
    }
}

#[test]
fn shutdown_is_answered_before_the_daemon_exits() {
    let env = Env::new();
    let mut daemon = env.daemon_all(&[]);
    let mut client = env.client();
    let reply = client.request(r#"{"v":1,"cmd":"shutdown"}"#);
    assert_eq!(reply["ok"], true);
    assert_eq!(reply["stopping"], true);
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(!env.socket.exists());
}

#[test]
fn agents_that_appear_later_are_picked_up() {
    let env = Env::new();
    let _daemon = env.daemon_all(&["--interval", "1s"]);
    assert_eq!(env.status()["agents"], serde_json::json!([]));
    let out = env.ctl(&["status"]);
    assert!(
        support::stdout(&out).contains("no agents yet"),
        "{}",
        text(&out)
    );
    env.add_agent("late", &fixture("v1-6.json"));
    env.wait_status("the new agent's first write", |s| {
        s["agents"][0]["writes"].as_u64() >= Some(1)
    });
}

#[test]
fn agent_flags_restrict_the_daemon_to_those_agents() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    env.add_agent("other", &fixture("v1-6.json"));
    let before = env.read_store("other");
    let _daemon = env.daemon_all(&["--agent", "main", "--interval", "1h"]);
    let status = env.wait_status("main's first round", |s| s["agents"][0]["writes"] == 1);
    assert_eq!(status["agents"].as_array().expect("agents").len(), 1);
    assert_eq!(env.read_store("other"), before);
}

#[test]
fn a_socket_path_that_is_not_a_socket_is_never_replaced() {
    let env = Env::new();
    std::fs::create_dir_all(env.socket.parent().expect("dir")).expect("dir");
    std::fs::write(&env.socket, b"precious").expect("file");
    let mut daemon = env.spawn_daemon(&[]);
    assert_eq!(daemon.wait_exit(), Some(1));
    assert!(daemon.log().contains("not a socket"), "{}", daemon.log());
    assert_eq!(std::fs::read(&env.socket).expect("kept"), b"precious");
}

#[test]
fn bad_command_lines_exit_2_with_a_message() {
    let env = Env::new();
    let out = std::process::Command::new(support::DAEMON)
        .args(["--interval", "0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("out of range"), "{}", text(&out));
    let out = env.ctl(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    // A lock the gateway holds longer than 60 s is stale anyway.
    let out = std::process::Command::new(support::DAEMON)
        .args(["--lock-timeout", "61s"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("too long"), "{}", text(&out));
}

#[test]
fn the_default_socket_is_in_the_runtime_dir_and_the_env_var_overrides_it() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let runtime = env.dir.path().join("xdg-run");
    let run = |program: &str, args: &[&str], socket_env: Option<&std::path::Path>| {
        let mut command = std::process::Command::new(program);
        command
            .env_clear()
            .env("HOME", &env.home)
            .env("XDG_STATE_HOME", env.home.join("state"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .args(args);
        if let Some(socket) = socket_env {
            command.env("KEEPALIVE_SOCKET", socket);
        }
        command
    };
    let state_dir = env.state_dir.display().to_string();
    let log = env.dir.path().join("default.log");
    let child = run(support::DAEMON, &["--state-dir", &state_dir], None)
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn");
    // Killed on drop if an assertion fails.
    let mut daemon = support::Daemon { child, log };
    let socket = runtime.join("keepalive").join("keepalived.sock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !socket.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no socket at {}",
            socket.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mode = std::fs::metadata(socket.parent().expect("dir"))
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let out = run(support::CTL, &["--json", "status"], None)
        .output()
        .expect("ctl");
    ok(&out);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["socket"], socket.display().to_string());
    assert_eq!(status["pid"], daemon.pid());

    // KEEPALIVE_SOCKET points both programs elsewhere.
    let elsewhere = env.dir.path().join("e.sock");
    let out = run(support::CTL, &["status"], Some(&elsewhere))
        .output()
        .expect("ctl");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stderr(&out).contains(&elsewhere.display().to_string()),
        "{}",
        text(&out)
    );
    ok(&run(support::CTL, &["shutdown"], None)
        .output()
        .expect("ctl"));
    assert_eq!(daemon.wait_exit(), Some(0));
}

#[test]
fn a_socket_directory_owned_by_another_user_is_refused() {
    use std::os::unix::fs::MetadataExt;
    if current_uid() != 0 {
        eprintln!("SKIPPED: needs root to give a directory to another user");
        return;
    }
    let env = Env::new();
    let dir = env.socket.parent().expect("dir").to_path_buf();
    std::fs::create_dir_all(&dir).expect("dir");
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).expect("chown to nobody");
    let mut daemon = env.spawn_daemon(&[]);
    assert_eq!(daemon.wait_exit(), Some(1));
    assert!(
        daemon.log().contains("belongs to uid 65534"),
        "{}",
        daemon.log()
    );
    assert_eq!(
        std::fs::metadata(&dir).expect("dir").uid(),
        65534,
        "left as it was"
    );
    assert!(!env.socket.exists());
}

#[test]
fn another_users_connection_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    if current_uid() != 0
        || std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("SKIPPED: needs root and setpriv to connect as another user");
        return;
    }
    let env = Env::new();
    // Let `nobody` reach a socket it may write to, so that only the peer
    // check stands between it and the daemon.
    let open = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    open(env.dir.path(), 0o755);
    std::fs::create_dir_all(env.socket.parent().expect("dir")).expect("dir");
    open(env.socket.parent().expect("dir"), 0o755);
    let daemon = env.daemon(&[]);
    open(&env.socket, 0o666);
    let ctl = env.dir.path().join("keepalivectl");
    std::fs::copy(support::CTL, &ctl).expect("copy");
    open(&ctl, 0o755);
    let out = support::output_of_copied_binary(|| {
        let mut command = std::process::Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&ctl)
            .arg("--socket")
            .arg(&env.socket)
            .arg("status")
            .env_clear()
            .env("HOME", "/");
        command
    });
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("connections from other users are refused"),
        "{}",
        text(&out)
    );
    assert!(
        daemon
            .log()
            .contains("refused a connection from uid Some(65534)"),
        "{}",
        daemon.log()
    );
    assert_eq!(
        env.status()["pid"],
        daemon.pid(),
        "the daemon serves its own user still"
    );
}

#[test]
fn a_client_that_never_reads_cannot_hold_up_shutdown() {
    let env = Env::new();
    let mut daemon = env.daemon(&[]);
    let client = env.client();
    // Far more replies than the socket buffers hold, none of them read.
    let requests = "{\"v\":1,\"cmd\":\"status\"}\n".repeat(5000);
    let writer = {
        let mut raw = client.try_clone_writer();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = raw.write_all(requests.as_bytes());
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let stopped = std::time::Instant::now();
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(), Some(0), "log:\n{}", daemon.log());
    assert!(
        stopped.elapsed() < std::time::Duration::from_secs(15),
        "shutdown took {:?}",
        stopped.elapsed()
    );
    assert!(!env.socket.exists());
    drop(client);
    let _ = writer.join();
}

#[test]
fn stop_waits_for_the_daemon_to_exit_so_start_works_right_after() {
    let env = Env::new();
    let store = env.add_agent("main", &fixture("v1-6.json"));
    let before = env.read_store("main");
    let _daemon = env.daemon_all(&["--interval", "1h", "--lock-timeout", "60s"]);
    env.wait_status("the first write", |s| s["agents"][0]["writes"] == 1);
    let written = env.read_store("main");
    assert_ne!(written, before);
    // The gateway holds its lock: a touch's round waits for it.
    let lock =
        support::gateway::acquire(&store, std::time::Duration::from_secs(1)).expect("gateway lock");
    let socket = env.socket.clone();
    let touch = std::thread::spawn(move || {
        support::RawClient::connect(&socket).request(r#"{"v":1,"cmd":"touch"}"#)
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    ok(&env.ctl(&["stop"]));
    // The waiting round was cancelled, not the write of a round: the touch
    // is answered with shutting_down, and the store is as it was.
    let reply = touch.join().expect("touch");
    assert_eq!(reply["error"]["code"], "shutting_down", "{reply}");
    assert_eq!(env.read_store("main"), written);
    assert!(lock.path.exists(), "the gateway's lock is untouched");
    drop(lock);
    // stop returned after the daemon was gone: a new one starts at once.
    let again = env.daemon_all(&[]);
    assert_eq!(env.status()["pid"], again.pid());
}

#[test]
fn concurrent_rule_changes_are_all_kept() {
    let env = Env::new();
    let daemon = env.daemon(&[]);
    let threads: Vec<_> = (0..40)
        .map(|i| {
            let socket = env.socket.clone();
            std::thread::spawn(move || {
                let request = format!(r#"{{"v":1,"cmd":"include","session":"k{i}"}}"#);
                support::RawClient::connect(&socket).request(&request)
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().expect("client")["ok"], true);
    }
    assert_eq!(
        env.ctl_json(&["rules"])["rules"]
            .as_array()
            .expect("rules")
            .len(),
        40
    );
    drop(daemon);
    let _again = env.daemon(&[]);
    assert_eq!(
        env.ctl_json(&["rules"])["rules"]
            .as_array()
            .expect("rules")
            .len(),
        40,
        "all saved"
    );
}

#[test]
fn a_store_that_disappears_and_returns_keeps_one_writer() {
    let env = Env::new();
    let store = env.add_agent("main", &fixture("v1-6.json"));
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("the first write", |s| s["agents"][0]["writes"] == 1);
    let aside = store.with_file_name("aside.json");
    std::fs::rename(&store, &aside).expect("move away");
    let out = env.ctl(&["touch"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        env.status()["agents"][0]["last_error"]["code"],
        "store_not_found"
    );
    std::fs::rename(&aside, &store).expect("move back");
    std::thread::sleep(std::time::Duration::from_millis(5));
    env.ctl_json(&["touch"]);
    let status = env.status();
    assert_eq!(status["agents"].as_array().expect("agents").len(), 1);
    assert_eq!(
        status["agents"][0]["writes"], 2,
        "the same actor, counting on: {status:#}"
    );
    assert!(status["agents"][0]["last_error"].is_null());
}
