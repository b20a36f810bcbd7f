//! Hostile clients against a real daemon: one daemon meets every kind of abuse on its socket in
//! turn (unknown commands and fields, absurd values, path-like names, invalid UTF-8, deep
//! nesting, an endless line, random bytes, fuzzed requests, a thousand clients at once, slow
//! loris, clients that vanish); every bad input gets one error reply (or a dropped connection)
//! and the daemon keeps serving everyone else with bounded memory.
//!
//! The phases run against one daemon, whose memory must stay bounded across all of them;
//! they are in `tests/hostile_clients/` (bad requests, malformed lines, crowds).
//!
//! Each test prints `RELIABILITY ...` lines with its figures (bad inputs
//! tried, memory, latency); run with `--nocapture` to see them.

mod support;

/// The phases, one file per kind of abuse.
mod hostile_clients {
    pub mod bad_requests;
    pub mod crowds;
    pub mod malformed;
}
use hostile_clients::{bad_requests, crowds, malformed};

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde_json::Value;
use support::hostile::{TOUCH_MAIN, agent, tree};
use support::{Env, bumped_digit_spans, fixture};

// ---------------------------------------------------------------------------
// Small helpers

/// A field of /proc/<pid>/status in kB (VmRSS, VmHWM, Threads...).
fn proc_status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit (the daemon,
/// spawned afterwards, inherits it). Returns the new soft limit.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
    }
    limit.rlim_cur
}

/// Lines read from a raw stream, for clients that do not use RawClient.
fn read_line(reader: &mut BufReader<UnixStream>) -> std::io::Result<Value> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    serde_json::from_str(&line).map_err(|e| std::io::Error::other(format!("{e}: {line:?}")))
}

const HELLO: &str = r#"{"v":1,"cmd":"hello"}"#;
const STATUS: &str = r#"{"v":1,"cmd":"status"}"#;

// ---------------------------------------------------------------------------
// Hostile clients: one daemon, one store, every kind of abuse in turn.

#[test]
fn hostile_clients_are_refused_one_by_one_and_the_daemon_stays_bounded() {
    let fd_limit = raise_fd_limit();
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let original = env.read_store("main");
    let mut daemon = env.daemon_all(&["--interval", "1h"]);
    let pid = daemon.pid();
    env.wait_status("the first round", |s| s["agents"][0]["writes"] == 1);
    let (rss0, hwm0) = (proc_status(pid, "VmRSS"), proc_status(pid, "VmHWM"));
    println!(
        "RELIABILITY hostile: daemon at start VmRSS {rss0} kB, VmHWM {hwm0} kB; fd limit {fd_limit}"
    );
    let mut bad = 0usize;

    // Phases that must write nothing: refusals happen before any work.
    let before = env.read_store("main");
    let state_tree = tree(&env.state_dir);
    bad += bad_requests::refuses_unknown_commands_fields_and_wrong_types(&env);
    bad += bad_requests::refuses_absurd_values(&env);
    bad += bad_requests::refuses_path_like_names(&env);
    assert_eq!(
        env.read_store("main"),
        before,
        "a refused request wrote the store"
    );
    assert_eq!(
        tree(&env.state_dir),
        state_tree,
        "a refused request created or removed a file in the state dir"
    );
    assert_eq!(agent(&env.status(), "main")["writes"], 1, "nothing written");

    bad += malformed::refuses_invalid_utf8(&env);
    bad += malformed::refuses_deep_nesting_within_the_frame_limit(&env);
    bad += malformed::survives_an_endless_line(&env, pid);
    bad += malformed::answers_every_random_line(&env, 0x5eed_0001, 3000);
    bad += malformed::answers_every_fuzzed_request(&env, 0x5eed_0002, 2000);
    // The fuzz may have set an interval; put the daemon back on an hour.
    let reply = env
        .client()
        .request(r#"{"v":1,"cmd":"set_interval","interval_s":3600}"#);
    assert_eq!(reply["ok"], true, "{reply}");

    crowds::serves_a_thousand_clients_at_once(&env, pid, 1200);
    crowds::serves_status_under_slow_loris(&env, 300, 50, 200);
    bad += crowds::survives_clients_that_vanish(&env, 200);

    // Afterwards: alive, answering, the store valid with only timestamps moved.
    assert!(
        daemon.child.try_wait().expect("try_wait").is_none(),
        "the daemon died; log:\n{}",
        daemon.log()
    );
    std::thread::sleep(Duration::from_millis(5)); // a new millisecond to bump to
    let reply = env.client().request(TOUCH_MAIN);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["results"][0]["written"], true, "{reply}");
    let after = env.read_store("main");
    let moved = bumped_digit_spans(&original, &after);
    assert!(!moved.is_empty() && moved.len() <= 6, "{moved:?}");
    support::parse(&after);
    let dir = env.store("main").parent().expect("dir").to_path_buf();
    assert_eq!(
        tree(&dir),
        vec!["sessions.json"],
        "no temp or lock file left"
    );
    let status = env.status();
    assert!(agent(&status, "main")["last_error"].is_null(), "{status:#}");

    let (rss1, hwm1) = (proc_status(pid, "VmRSS"), proc_status(pid, "VmHWM"));
    let threads = proc_status(pid, "Threads");
    println!(
        "RELIABILITY hostile: daemon at end VmRSS {rss1} kB, VmHWM {hwm1} kB, {threads} threads, {} fds",
        open_fds(pid)
    );
    println!("RELIABILITY hostile: bad client inputs tried = {bad}");
    assert!(
        hwm1 < 200 * 1024,
        "the daemon's memory peaked at {hwm1} kB: an unbounded buffer or a leak"
    );
    assert!(
        rss1 < 100 * 1024,
        "the daemon still holds {rss1} kB after every client left"
    );
    assert!(bad > 5000, "only {bad} bad inputs");
}

/// 512 connections that never send take every connection slot; a further
/// client (keepalivectl, say) must still be answered: when all slots are
/// taken, connections idle for a second are closed to make room. (Before
/// that fix, it waited for the 10-minute idle timeout.)
#[test]
fn idle_connections_cannot_lock_out_other_clients() {
    raise_fd_limit();
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    let _idle: Vec<UnixStream> = (0..512)
        .map(|_| UnixStream::connect(&env.socket).expect("idle connection"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let probe = UnixStream::connect(&env.socket).expect("connect");
    probe
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    (&probe)
        .write_all(format!("{STATUS}\n").as_bytes())
        .expect("send");
    let reply = read_line(&mut BufReader::new(probe));
    assert!(
        reply.as_ref().is_ok_and(|r| r["ok"] == true),
        "status not answered within 5 s while 512 idle connections are open: {reply:?}"
    );
}
