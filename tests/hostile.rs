//! Hostile clients and broken stores against real daemons: every bad input
//! gets one error reply (or a dropped connection), the daemon keeps serving
//! everyone else with bounded memory, and a store it cannot safely bump stays
//! byte-identical while the other agents carry on.
//!
//! Each test prints `RELIABILITY ...` lines with its figures (bad inputs
//! tried, memory, latency); run with `--nocapture` to see them.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keepalive::paths::current_uid;
use serde_json::{Value, json};
use support::{Env, Rng, bumped_digit_spans, fixture, now_ms};

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

/// Sorted relative paths of everything under `dir` (symlinks not followed).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let entry = entry.expect("entry");
            let path = entry.path();
            out.push(
                path.strip_prefix(root)
                    .expect("prefix")
                    .display()
                    .to_string(),
            );
            if entry.file_type().expect("type").is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn code(reply: &Value) -> &str {
    reply["error"]["code"].as_str().unwrap_or("")
}

/// Asserts `reply` is a well-formed error reply whose code is one of `codes`.
fn assert_error(what: &str, reply: &Value, codes: &[&str]) {
    assert_eq!(reply["v"], 1, "{what} -> {reply}");
    assert_eq!(reply["ok"], false, "{what} must be refused -> {reply}");
    assert!(
        codes.contains(&code(reply)),
        "{what}: expected one of {codes:?}, got {reply}"
    );
    assert!(
        reply["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: no message: {reply}"
    );
}

fn agent<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == id))
        .unwrap_or_else(|| panic!("no agent {id} in {status:#}"))
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
const TOUCH_MAIN: &str = r#"{"v":1,"cmd":"touch","agent":"main","sessions":["agent:main:main"]}"#;

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
    bad += refuses_unknown_commands_fields_and_wrong_types(&env);
    bad += refuses_absurd_values(&env);
    bad += refuses_path_like_names(&env);
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

    bad += refuses_invalid_utf8(&env);
    bad += refuses_deep_nesting_within_the_frame_limit(&env);
    bad += survives_an_endless_line(&env, pid);
    bad += answers_every_random_line(&env, 0x5eed_0001, 3000);
    bad += answers_every_fuzzed_request(&env, 0x5eed_0002, 2000);
    // The fuzz may have set an interval; put the daemon back on an hour.
    let reply = env
        .client()
        .request(r#"{"v":1,"cmd":"set_interval","interval_s":3600}"#);
    assert_eq!(reply["ok"], true, "{reply}");

    serves_a_thousand_clients_at_once(&env, pid, 1200);
    serves_status_under_slow_loris(&env, 300, 50, 200);
    bad += survives_clients_that_vanish(&env, 200);

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

fn refuses_unknown_commands_fields_and_wrong_types(env: &Env) -> usize {
    let long_cmd = format!(r#"{{"v":1,"cmd":"{}"}}"#, "x".repeat(60_000));
    let mut cases: Vec<(String, &[&str])> = vec![
        (r#"{"v":1,"cmd":"explode"}"#.into(), &["unknown_command"]),
        (r#"{"v":1,"cmd":"HELLO"}"#.into(), &["unknown_command"]),
        (r#"{"v":1,"cmd":""}"#.into(), &["unknown_command"]),
        (r#"{"v":1,"cmd":"hello "}"#.into(), &["unknown_command"]),
        (r#"{"v":1,"cmd":"../status"}"#.into(), &["unknown_command"]),
        (
            r#"{"v":1,"cmd":"status\u0000"}"#.into(),
            &["unknown_command"],
        ),
        (long_cmd, &["unknown_command"]),
        // Unknown fields, including the misspelling that must not widen a touch.
        (
            r#"{"v":1,"cmd":"touch","agnet":"main"}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":1,"cmd":"status","x":1}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":1,"cmd":"hello","":null}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":1,"cmd":"touch","sessions":["agent:main:main"],"force":true}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":1,"cmd":"shutdown","now":true}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":1,"cmd":"set_interval","interval_s":60,"interval":60}"#.into(),
            &["invalid_request"],
        ),
        // Wrong types.
        (r#"{"v":1,"cmd":["hello"]}"#.into(), &["invalid_request"]),
        (r#"{"v":1,"cmd":null}"#.into(), &["invalid_request"]),
        (
            r#"{"v":1,"cmd":{"name":"hello"}}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":"1","cmd":"hello"}"#.into(),
            &["unsupported_version"],
        ),
        (
            r#"{"v":true,"cmd":"hello"}"#.into(),
            &["unsupported_version"],
        ),
        (
            r#"{"v":[1],"cmd":"hello"}"#.into(),
            &["unsupported_version"],
        ),
    ];
    for value in [
        r#""60""#,
        "60.0",
        "6e1",
        "true",
        "null",
        "[60]",
        r#"{"s":60}"#,
    ] {
        cases.push((
            format!(r#"{{"v":1,"cmd":"set_interval","interval_s":{value}}}"#),
            &["invalid_request"],
        ));
    }
    for value in ["7", "[]", "{}", "true", r#"["main"]"#] {
        cases.push((
            format!(r#"{{"v":1,"cmd":"touch","agent":{value}}}"#),
            &["invalid_request"],
        ));
        cases.push((
            format!(r#"{{"v":1,"cmd":"sessions","agent":{value}}}"#),
            &["invalid_request"],
        ));
    }
    for value in [
        r#""agent:main:main""#,
        "null",
        "[1]",
        "[null]",
        r#"[["agent:main:main"]]"#,
        r#"{"agent:main:main":true}"#,
    ] {
        cases.push((
            format!(r#"{{"v":1,"cmd":"touch","sessions":{value}}}"#),
            &["invalid_request"],
        ));
    }
    for value in [r#""true""#, "1", "null", "[]"] {
        cases.push((
            format!(r#"{{"v":1,"cmd":"touch","sessions":["agent:main:main"],"revive":{value}}}"#),
            &["invalid_request"],
        ));
    }
    for value in [r#""1h""#, "1.5", "true", "[3600]"] {
        cases.push((
            format!(r#"{{"v":1,"cmd":"set_active_within","active_within_s":{value}}}"#),
            &["invalid_request"],
        ));
    }
    cases.push((
        r#"{"v":1,"cmd":"set_active_within"}"#.into(),
        &["invalid_request"],
    ));
    for cmd in ["include", "exclude", "forget"] {
        for value in ["5", "null", "[]", r#"{"k":"agent:main:main"}"#] {
            cases.push((
                format!(r#"{{"v":1,"cmd":"{cmd}","session":{value}}}"#),
                &["invalid_request"],
            ));
        }
        cases.push((format!(r#"{{"v":1,"cmd":"{cmd}"}}"#), &["invalid_request"]));
    }
    let mut client = env.client();
    for (line, codes) in &cases {
        let reply = client.request(line);
        assert_error(&line.chars().take(120).collect::<String>(), &reply, codes);
    }
    assert_eq!(client.request(HELLO)["ok"], true);
    cases.len()
}

fn refuses_absurd_values(env: &Env) -> usize {
    let mut client = env.client();
    let interval = client.request(r#"{"v":1,"cmd":"get_interval"}"#)["interval_s"].clone();
    let window = client.request(r#"{"v":1,"cmd":"get_active_within"}"#)["active_within_s"].clone();
    assert_eq!(interval, 3600);
    assert!(
        window.is_null(),
        "started with --active-within all: {window}"
    );
    // (value, codes): out of the documented range is invalid_argument, not an
    // integer of the wire type at all is invalid_request.
    let either: &[&str] = &["invalid_request", "invalid_argument"];
    let numbers: [(&str, &[&str]); 10] = [
        ("0", &["invalid_argument"]),
        ("-1", &["invalid_request"]),
        ("-0", either),
        ("86401", &["invalid_argument"]),
        ("4294967297", &["invalid_argument"]),
        ("18446744073709551615", &["invalid_argument"]),
        ("18446744073709551616", &["invalid_request"]),
        ("1000000000000000000000000000000", &["invalid_request"]),
        ("1e30", &["invalid_request"]),
        // Valid JSON, but serde_json refuses numbers beyond f64 as bad_json.
        (
            "1e400",
            &["bad_json", "invalid_request", "invalid_argument"],
        ),
    ];
    let mut tried = 0;
    for (value, codes) in numbers {
        let line = format!(r#"{{"v":1,"cmd":"set_interval","interval_s":{value}}}"#);
        assert_error(&line, &client.request(&line), codes);
        tried += 1;
    }
    let windows: [(&str, &[&str]); 8] = [
        ("0", &["invalid_argument"]),
        ("-1", &["invalid_request"]),
        ("-86400", &["invalid_request"]),
        ("31622401", &["invalid_argument"]),
        ("9007199254740993", &["invalid_argument"]),
        ("18446744073709551615", &["invalid_argument"]),
        ("1000000000000000000000000000000", &["invalid_request"]),
        (
            "1e400",
            &["bad_json", "invalid_request", "invalid_argument"],
        ),
    ];
    for (value, codes) in windows {
        let line = format!(r#"{{"v":1,"cmd":"set_active_within","active_within_s":{value}}}"#);
        assert_error(&line, &client.request(&line), codes);
        tried += 1;
    }
    // Absurd but well-formed touches: nothing may be written by them.
    for line in [
        r#"{"v":1,"cmd":"touch","sessions":[]}"#.to_string(),
        format!(
            r#"{{"v":1,"cmd":"touch","sessions":["{}"]}}"#,
            "k".repeat(1025)
        ),
        format!(
            r#"{{"v":1,"cmd":"touch","agent":"main","sessions":[{}]}}"#,
            vec!["\"agent:main:nope\""; 3000].join(",")
        ),
        r#"{"v":1,"cmd":"touch","sessions":["   "]}"#.into(),
        r#"{"v":1,"cmd":"touch","sessions":["agent:main:main\u0007"]}"#.into(),
        r#"{"v":1,"cmd":"touch","sessions":["agent:main:main\u009f"]}"#.into(),
    ] {
        let reply = client.request(&line);
        let short: String = line.chars().take(100).collect();
        if line.contains(r#""sessions":[]"#) {
            // Documented: refused, so an empty filter never means "every session".
            assert_error(&short, &reply, &["invalid_argument"]);
        } else {
            assert_error(&short, &reply, &["invalid_argument", "unknown_session"]);
        }
        tried += 1;
    }
    assert_eq!(
        client.request(r#"{"v":1,"cmd":"get_interval"}"#)["interval_s"],
        interval
    );
    assert_eq!(
        client.request(r#"{"v":1,"cmd":"get_active_within"}"#)["active_within_s"],
        window
    );
    tried
}

fn refuses_path_like_names(env: &Env) -> usize {
    let mut client = env.client();
    let long = "a".repeat(129);
    let agents = [
        "../x",
        "..",
        ".",
        "/etc",
        "/",
        "a/b",
        "main/../main",
        "main/",
        "a\\\\b",
        "..\\\\..",
        "a\\u0000b",
        "\\u0000",
        "main\\u0000",
        "x\\n",
        "\\u007f",
        "",
        long.as_str(),
    ];
    let mut tried = 0;
    for name in agents {
        for line in [
            format!(r#"{{"v":1,"cmd":"touch","agent":"{name}"}}"#),
            format!(r#"{{"v":1,"cmd":"touch","agent":"{name}","sessions":["agent:main:main"]}}"#),
            format!(r#"{{"v":1,"cmd":"sessions","agent":"{name}"}}"#),
            format!(r#"{{"v":1,"cmd":"include","session":"agent:main:main","agent":"{name}"}}"#),
            format!(r#"{{"v":1,"cmd":"exclude","session":"agent:main:main","agent":"{name}"}}"#),
            format!(r#"{{"v":1,"cmd":"forget","session":"agent:main:main","agent":"{name}"}}"#),
        ] {
            assert_error(&line, &client.request(&line), &["invalid_argument"]);
            tried += 1;
        }
    }
    // Valid agent ids that merely look odd: no store, so unknown_agent.
    for name in [" ", "etc", "...", "-", "main ", "MAIN", "~"] {
        for cmd in ["touch", "sessions"] {
            let line = format!(r#"{{"v":1,"cmd":"{cmd}","agent":"{name}"}}"#);
            assert_error(&line, &client.request(&line), &["unknown_agent"]);
            tried += 1;
        }
    }
    // Session keys that look like paths are keys like any other: unknown here.
    for key in [
        "../x",
        "/etc/passwd",
        "..",
        "../../agents/main/sessions/sessions.json",
    ] {
        let line = format!(r#"{{"v":1,"cmd":"touch","sessions":["{key}"]}}"#);
        let reply = client.request(&line);
        assert_error(&line, &reply, &["unknown_session"]);
        tried += 1;
    }
    for key in ["a\\u0000b", "\\u0000", "../x\\u0000", "\\n"] {
        for cmd in [
            "touch\",\"sessions\":[\"KEY\"]",
            "include\",\"session\":\"KEY\"",
        ] {
            let line = format!(r#"{{"v":1,"cmd":"{}}}"#, cmd.replace("KEY", key));
            assert_error(&line, &client.request(&line), &["invalid_argument"]);
            tried += 1;
        }
    }
    let rules = client.request(r#"{"v":1,"cmd":"rules"}"#);
    assert_eq!(rules["ok"], true, "{rules}");
    assert_eq!(rules["rules"], json!([]), "no rule was added: {rules}");
    tried
}

fn refuses_invalid_utf8(env: &Env) -> usize {
    let mut client = env.client();
    let cases: [&[u8]; 10] = [
        b"\xff",
        b"\x80",
        b"{\"v\":1,\"cmd\":\"hello\xc0\xaf\"}", // overlong '/'
        b"{\"v\":1,\"cmd\":\"hello\xed\xa0\x80\"}", // UTF-8-encoded surrogate
        b"{\"v\":1,\"cmd\":\"touch\",\"agent\":\"\xe2\x82\"}", // cut multibyte
        b"{\"v\":1,\"cmd\":\"status\"}\xf8\x88\x80\x80\x80", // 5-byte form
        b"{\"v\":1,\"cmd\":\"status\",\"\xfe\":1}",
        b"{\"v\":1,\"cmd\":\"sessions\",\"agent\":\"main\xf4\x90\x80\x80\"}", // > U+10FFFF
        b"\xef\xbb\xbf\xff{\"v\":1,\"cmd\":\"hello\"}",
        b"\xc3",
    ];
    for bytes in cases {
        client.send_raw(bytes);
        client.send_raw(b"\n");
        let reply = client.read_reply();
        assert_error(&String::from_utf8_lossy(bytes), &reply, &["invalid_utf8"]);
    }
    assert_eq!(client.request(HELLO)["ok"], true);
    cases.len()
}

fn refuses_deep_nesting_within_the_frame_limit(env: &Env) -> usize {
    let mut client = env.client();
    let limit = 65_536;
    let arrays = format!("{}{}", "[".repeat(32_000), "]".repeat(32_000));
    let objects = {
        let depth = (limit - 20) / 6;
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    };
    let inside = {
        let depth = 30_000;
        format!(
            r#"{{"v":1,"cmd":"touch","sessions":{}"agent:main:main"{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let unclosed = "[{\"v\":".repeat(10_000);
    let mut tried = 0;
    for line in [arrays, objects, inside, unclosed] {
        assert!(line.len() <= limit, "{} bytes", line.len());
        let reply = client.request(&line);
        assert_error("deep nesting", &reply, &["bad_json", "invalid_request"]);
        tried += 1;
    }
    assert_eq!(client.request(HELLO)["ok"], true);
    tried
}

/// 256 MB without a newline, then a newline and a valid request: one
/// frame_too_large, then the answer; the daemon must not buffer the line.
fn survives_an_endless_line(env: &Env, pid: u32) -> usize {
    const TOTAL: usize = 256 << 20;
    let mut client = env.client();
    let mut writer = client.try_clone_writer();
    let started = Instant::now();
    let sender = std::thread::spawn(move || {
        let chunk = vec![b'{'; 1 << 20];
        for _ in 0..TOTAL / chunk.len() {
            writer.write_all(&chunk).expect("send the endless line");
        }
        writer.write_all(b"\n").expect("newline");
        writer.write_all(HELLO.as_bytes()).expect("hello");
        writer.write_all(b"\n").expect("newline");
    });
    let reply = client.read_reply();
    assert_error("endless line", &reply, &["frame_too_large"]);
    let reply = client.read_reply();
    assert_eq!(
        reply["ok"], true,
        "the request after the endless line: {reply}"
    );
    assert_eq!(reply["daemon"], "keepalived");
    sender.join().expect("sender");
    let hwm = proc_status(pid, "VmHWM");
    println!(
        "RELIABILITY hostile: a {} MB line was discarded in {:.1?}; daemon VmHWM now {hwm} kB",
        TOTAL >> 20,
        started.elapsed()
    );
    assert!(
        hwm < 100 * 1024,
        "the endless line was buffered: VmHWM {hwm} kB"
    );
    1
}

/// Many lines of seeded random bytes, pipelined: exactly one error per line.
fn answers_every_random_line(env: &Env, seed: u64, lines: usize) -> usize {
    let mut rng = Rng(seed);
    let alphabet = b"{}[]\":,0123456789.eE+-tfnulrs\\ vcmd";
    let mut payload = Vec::new();
    for i in 0..lines {
        let len = rng.below(if i % 100 == 0 { 60_000 } else { 300 }) as usize;
        let json_ish = i % 2 == 0;
        for _ in 0..len {
            let b = if json_ish {
                *rng.pick(alphabet)
            } else {
                rng.next() as u8
            };
            payload.push(if b == b'\n' { b' ' } else { b });
        }
        payload.push(b'\n');
    }
    let mut client = env.client();
    let mut writer = client.try_clone_writer();
    let sender = std::thread::spawn(move || writer.write_all(&payload).expect("send"));
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..lines {
        let reply = client.read_reply();
        assert_eq!(reply["v"], 1, "line {i}: {reply}");
        assert_eq!(reply["ok"], false, "random line {i} accepted: {reply}");
        *codes.entry(code(&reply).to_string()).or_default() += 1;
    }
    sender.join().expect("sender");
    assert_eq!(client.request(HELLO)["ok"], true, "the connection survived");
    println!("RELIABILITY hostile: {lines} random lines (seed {seed:#x}) -> {codes:?}");
    lines
}

/// Seeded structurally-valid JSON requests with random commands, fields and
/// values (never `shutdown`): exactly one well-formed reply each.
fn answers_every_fuzzed_request(env: &Env, seed: u64, count: usize) -> usize {
    let mut rng = Rng(seed);
    let commands: Vec<&str> = keepalive_proto::COMMANDS
        .iter()
        .copied()
        .filter(|&c| c != "shutdown")
        .chain(["Touch", "shutdown!", ""])
        .collect();
    let fields = [
        "agent",
        "sessions",
        "revive",
        "interval_s",
        "active_within_s",
        "session",
        "cmd",
        "v",
        "x",
        "__proto__",
    ];
    fn value(rng: &mut Rng, depth: u32) -> Value {
        let strings = [
            "main",
            "agent:main:main",
            "../x",
            "/etc",
            "..",
            "a\0b",
            "",
            " Agent:Main:Main ",
            "agent:main:nope",
            "\u{7f}",
        ];
        match rng.below(if depth > 3 { 7 } else { 9 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.below(2) == 0),
            2 => json!(rng.next() as i64),
            3 => json!(rng.below(100_000)),
            4 => json!((rng.next() as f64) / 7.0),
            5 => json!(rng.pick(&strings)),
            6 => json!(-(rng.below(1000) as i64)),
            7 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth + 1)).collect()),
            _ => {
                let mut map = serde_json::Map::new();
                for _ in 0..rng.below(3) {
                    map.insert(format!("k{}", rng.below(5)), value(rng, depth + 1));
                }
                Value::Object(map)
            }
        }
    }
    let mut payload = String::new();
    for _ in 0..count {
        let mut request = serde_json::Map::new();
        request.insert(
            "v".into(),
            if rng.below(10) == 0 {
                value(&mut rng, 0)
            } else {
                json!(1)
            },
        );
        request.insert("cmd".into(), json!(rng.pick(&commands)));
        for _ in 0..rng.below(3) {
            request.insert(rng.pick(&fields).to_string(), value(&mut rng, 0));
        }
        // The fuzz must not stop the daemon it is testing.
        if request["cmd"] == "shutdown" {
            request.insert("cmd".into(), json!("hello"));
        }
        payload.push_str(&Value::Object(request).to_string());
        payload.push('\n');
    }
    let mut client = env.client();
    let mut writer = client.try_clone_writer();
    let sender = std::thread::spawn(move || writer.write_all(payload.as_bytes()).expect("send"));
    let (mut ok, mut codes) = (0, std::collections::BTreeMap::<String, usize>::new());
    for i in 0..count {
        let reply = client.read_reply();
        assert_eq!(reply["v"], 1, "request {i}: {reply}");
        match reply["ok"].as_bool() {
            Some(true) => ok += 1,
            Some(false) => {
                assert!(reply["error"]["message"].is_string(), "{reply}");
                *codes.entry(code(&reply).to_string()).or_default() += 1;
            }
            None => panic!("request {i}: reply without ok: {reply}"),
        }
    }
    sender.join().expect("sender");
    assert!(
        !codes.contains_key("internal"),
        "the fuzz found an internal error: {codes:?}"
    );
    println!(
        "RELIABILITY hostile: {count} fuzzed requests (seed {seed:#x}): {ok} ok, errors {codes:?}"
    );
    count - ok
}

/// `clients` connections at once, more than the daemon serves concurrently
/// (512): the extra ones wait in the backlog and are all answered.
fn serves_a_thousand_clients_at_once(env: &Env, pid: u32, clients: usize) {
    let base_fds = open_fds(pid);
    let done = Arc::new(AtomicBool::new(false));
    let monitor = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut max = 0;
            while !done.load(Ordering::Relaxed) {
                max = max.max(open_fds(pid));
                std::thread::sleep(Duration::from_millis(5));
            }
            max
        })
    };
    let connected = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(std::sync::Barrier::new(clients));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let socket = env.socket.clone();
            let (gate, connected) = (gate.clone(), connected.clone());
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || -> Result<Duration, String> {
                    gate.wait(); // all connect at the same moment
                    let t0 = Instant::now();
                    let stream =
                        UnixStream::connect(&socket).map_err(|e| format!("connect: {e}"))?;
                    connected.fetch_add(1, Ordering::Relaxed);
                    stream.set_read_timeout(Some(Duration::from_secs(60))).ok();
                    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
                    let request = if i % 10 == 0 { STATUS } else { HELLO };
                    writer
                        .write_all(format!("{request}\n").as_bytes())
                        .map_err(|e| format!("send: {e}"))?;
                    let reply = read_line(&mut BufReader::new(stream))
                        .map_err(|e| format!("reply: {e}"))?;
                    if reply["ok"] != true {
                        return Err(format!("refused: {reply}"));
                    }
                    let waited = t0.elapsed();
                    // Hold the connection a little so the cap is really reached.
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(waited)
                })
                .expect("spawn a client thread")
        })
        .collect();
    let mut waits = Vec::new();
    let mut failures = Vec::new();
    for t in threads {
        match t.join().expect("client thread") {
            Ok(w) => waits.push(w),
            Err(e) => failures.push(e),
        }
    }
    let total = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let max_fds = monitor.join().expect("monitor");
    waits.sort();
    println!(
        "RELIABILITY hostile: {clients} simultaneous clients: {} answered in {total:.1?} \
         (answer after median {:.1?}, max {:.1?}); daemon fds {base_fds} -> max {max_fds}",
        waits.len(),
        waits.get(waits.len() / 2).copied().unwrap_or_default(),
        waits.last().copied().unwrap_or_default(),
    );
    assert!(
        failures.is_empty(),
        "{} of {clients} clients failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(connected.load(Ordering::Relaxed), clients);
    assert!(
        total < Duration::from_secs(30),
        "{clients} clients took {total:?}"
    );
    assert!(
        max_fds <= base_fds + 512 + 16,
        "the daemon held {max_fds} fds at once (cap 512 connections over {base_fds})"
    );
}

/// `idle` connections that never send and `half` that sent half a line and
/// stalled, while another client's `status` requests are timed.
fn serves_status_under_slow_loris(env: &Env, idle: usize, half: usize, probes: usize) {
    let mut lurkers: Vec<UnixStream> = (0..idle)
        .map(|_| UnixStream::connect(&env.socket).expect("idle connection"))
        .collect();
    for _ in 0..half {
        let mut s = UnixStream::connect(&env.socket).expect("half connection");
        s.write_all(br#"{"v":1,"cmd":"sta"#).expect("half a line");
        lurkers.push(s);
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut persistent = env.client();
    let mut latencies = Vec::new();
    for i in 0..probes {
        let t0 = Instant::now();
        let reply = if i % 2 == 0 {
            persistent.request(STATUS)
        } else {
            env.client().request(STATUS)
        };
        latencies.push(t0.elapsed());
        assert_eq!(reply["ok"], true, "status {i} under slow-loris: {reply}");
        assert!(reply["agents"].is_array(), "{reply}");
    }
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "RELIABILITY hostile: status latency with {idle} idle + {half} half-line connections \
         ({probes} probes): median {:.2?}, p99 {:.2?}, max {:.2?}",
        p(0.5),
        p(0.99),
        latencies[latencies.len() - 1]
    );
    // A lurker that finally speaks is served; the half line completes into
    // `status` once the rest arrives.
    let mut first = lurkers.swap_remove(0);
    first.set_read_timeout(Some(Duration::from_secs(30))).ok();
    first
        .write_all(format!("{HELLO}\n").as_bytes())
        .expect("send");
    assert_eq!(
        read_line(&mut BufReader::new(first)).expect("reply")["ok"],
        true
    );
    let mut last = lurkers.pop().expect("a half-line lurker");
    last.set_read_timeout(Some(Duration::from_secs(30))).ok();
    last.write_all(b"tus\"}\n").expect("send the rest");
    let reply = read_line(&mut BufReader::new(last)).expect("reply");
    assert_eq!(reply["ok"], true, "{reply}");
    assert!(reply["agents"].is_array(), "{reply}");
}

/// Clients that go away in the middle: half a line then close, a touch then
/// close before the reply, a burst of pipelined requests never read.
fn survives_clients_that_vanish(env: &Env, rounds: usize) -> usize {
    let writes_before = agent(&env.status(), "main")["writes"]
        .as_u64()
        .expect("writes");
    let mut tried = 0;
    for i in 0..rounds {
        let mut s = UnixStream::connect(&env.socket).expect("connect");
        let line = format!("{TOUCH_MAIN}\n");
        let cut = 1 + i % (line.len() - 1);
        s.write_all(&line.as_bytes()[..cut]).expect("half");
        drop(s);
        tried += 1;
    }
    for i in 0..rounds {
        let mut s = UnixStream::connect(&env.socket).expect("connect");
        s.write_all(format!("{TOUCH_MAIN}\n").as_bytes())
            .expect("touch");
        if i % 2 == 0 {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        drop(s);
        tried += 1;
    }
    // Pipelined requests whose replies are never read, then a reset.
    for _ in 0..20 {
        let mut s = UnixStream::connect(&env.socket).expect("connect");
        let burst = format!("{STATUS}\n").repeat(500);
        let _ = s.write_all(burst.as_bytes());
        drop(s);
        tried += 500;
    }
    // A touch whose reader closed but whose writer lingers.
    let mut s = UnixStream::connect(&env.socket).expect("connect");
    s.shutdown(std::net::Shutdown::Read).expect("shut read");
    s.write_all(format!("{TOUCH_MAIN}\n").as_bytes())
        .expect("touch");
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    tried += 1;
    // The touches that were sent whole finish anyway (they may coalesce).
    let status = env.wait_status("the orphaned touches written", |s| {
        agent(s, "main")["writes"].as_u64().expect("writes") > writes_before
    });
    assert!(agent(&status, "main")["last_error"].is_null(), "{status:#}");
    let mut client = env.client();
    assert_eq!(client.request(HELLO)["ok"], true);
    tried
}

// ---------------------------------------------------------------------------
// Broken and hostile stores.

fn entry(key: &str, updated_at: &str) -> String {
    format!(
        r#""{key}": {{"sessionId": "s-{key}", "updatedAt": {updated_at}, "chatType": "direct"}}"#
    )
}

#[test]
fn odd_numbers_and_unusable_timestamps_are_never_bumped() {
    let env = Env::new();
    let recent = (now_ms() - 60_000).to_string();
    // Stores whose only timestamp cannot be bumped: left byte-identical.
    let odd = [
        ("string", "\"1776081268770\""),
        ("float", "1776081268770.5"),
        ("onepointzero", "1.0"),
        ("exponent", "1.77608126877e12"),
        ("negative", "-1776081268770"),
        ("negzero", "-0"),
        ("huge", "1e400"),
        ("tiny", "1e-400"),
        ("bigint", "12345678901234567890123"),
        ("over2p53", "9007199254740993"),
        ("is2p53", "9007199254740992"),
        ("u64max", "18446744073709551616"),
        ("null", "null"),
        ("bool", "true"),
        ("object", "{\"ms\": 1776081268770}"),
        ("array", "[1776081268770]"),
        ("leadingzero", "01776081268770"),
    ];
    let mut stores: Vec<(String, Vec<u8>)> = odd
        .iter()
        .map(|(name, v)| {
            (
                name.to_string(),
                format!("{{{}}}", entry(&format!("agent:{name}:main"), v)).into_bytes(),
            )
        })
        .collect();
    stores.push((
        "missing".into(),
        br#"{"agent:missing:main": {"sessionId": "s", "chatType": "direct"}}"#.to_vec(),
    ));
    stores.push(("noentries".into(), b"{}".to_vec()));
    stores.push((
        "notobjects".into(),
        br#"{"a": 1, "b": "x", "c": [1], "d": null, "e": true}"#.to_vec(),
    ));
    // One store mixing all of it with entries that must be bumped, and odd
    // numbers elsewhere in the good entries (kept verbatim).
    let mut mixed = vec![format!(
        r#""agent:mixed:good1": {{"sessionId": "g1", "updatedAt": {recent}, "n1": 1e400, "n2": -0, "n3": 1.0, "n4": 12345678901234567890123, "n5": -1e-400, "n6": 9007199254740993}}"#
    )];
    // (A leading zero is not JSON at all: that store is invalid as a whole.)
    for (name, v) in odd.iter().filter(|(name, _)| *name != "leadingzero") {
        mixed.push(entry(&format!("agent:mixed:{name}"), v));
    }
    mixed.push(r#""agent:mixed:str": "not an object""#.into());
    mixed.push(r#""agent:mixed:num": 1776081268770"#.into());
    mixed.push(r#""agent:mixed:arr": [{"updatedAt": 1776081268770}]"#.into());
    mixed.push(r#""agent:mixed:nul": null"#.into());
    mixed.push(format!(
        r#""agent:mixed:good2": {{"sessionId": "g2", "updatedAt": {recent}}}"#
    ));
    let mixed = format!("{{\n  {}\n}}", mixed.join(",\n  ")).into_bytes();
    for (name, bytes) in &stores {
        env.add_agent(name, bytes);
    }
    env.add_agent("mixed", &mixed);
    env.add_agent("good", &fixture("v1-6.json"));
    let total = stores.len() + 2;
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    let status = env.wait_status("every agent's first round", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.len() == total && a.iter().all(|a| a["last_tick_ms"].is_u64()))
    });
    let mut observed = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut touches = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (name, bytes) in &stores {
        let a = agent(&status, name);
        assert_eq!(a["writes"], 0, "{name}: {a}");
        assert_eq!(
            &env.read_store(name),
            bytes,
            "{name} must stay byte-identical"
        );
        // Either a clear error or a note saying why nothing is written.
        // Either a clear error, a note saying why nothing is written, or
        // every session reported as `no_timestamp` (json-v1 with nothing usable).
        let why = if !a["last_error"].is_null() {
            format!("error {}", a["last_error"]["code"])
        } else if let Some(note) = a["note"].as_str() {
            format!("note: {note}")
        } else {
            let rows = env
                .client()
                .request(&format!(r#"{{"v":1,"cmd":"sessions","agent":"{name}"}}"#));
            assert_eq!(rows["ok"], true, "{name}: {rows}");
            let rows = rows["sessions"].as_array().expect("sessions").clone();
            assert!(
                rows.iter()
                    .all(|r| r["reason"] == "no_timestamp" && r["kept_alive"] == false),
                "{name}: neither an error, a note nor no_timestamp: {a} {rows:?}"
            );
            assert_eq!(a["kept_alive"], 0, "{name}: {a}");
            format!("{} sessions, all no_timestamp", rows.len())
        };
        observed
            .entry(format!(
                "{} / {}",
                a["generation"],
                why.chars().take(90).collect::<String>()
            ))
            .or_default()
            .push(name.clone());
        // A touch by name is refused clearly and writes nothing.
        let key = if *name == "notobjects" {
            "a".to_string()
        } else {
            format!("agent:{name}:main")
        };
        let line = format!(r#"{{"v":1,"cmd":"touch","agent":"{name}","sessions":["{key}"]}}"#);
        let reply = env.client().request(&line);
        if *name == "noentries" {
            assert_error(&line, &reply, &["unknown_session"]);
        } else if *name == "leadingzero" {
            // Not JSON at all: the touch says so rather than "unknown session".
            assert_error(&line, &reply, &["store_invalid"]);
        } else if reply["ok"] == true {
            // Documented: "if no timestamp would change, nothing is written".
            let results = reply["results"].as_array().expect("results");
            assert!(
                results
                    .iter()
                    .all(|r| r["bumped"] == json!([]) && r["written"] == false),
                "{line} -> {reply}"
            );
        } else {
            assert_error(
                &line,
                &reply,
                &["generation_unsupported", "unknown_session"],
            );
        }
        touches
            .entry(if reply["ok"] == true {
                "ok, bumped nothing".to_string()
            } else {
                code(&reply).to_string()
            })
            .or_default()
            .push(name.clone());
        assert_eq!(&env.read_store(name), bytes, "{name}: touched");
    }
    for (how, names) in &observed {
        println!("RELIABILITY stores: status {how}: {names:?}");
    }
    for (how, names) in &touches {
        println!("RELIABILITY stores: touch by name -> {how}: {names:?}");
    }
    // The mixed store: exactly the two good entries move, nothing else.
    let a = agent(&status, "mixed");
    assert!(a["last_error"].is_null(), "{a}");
    assert_eq!(a["writes"], 1, "{a}");
    let after = env.read_store("mixed");
    let moved = bumped_digit_spans(&mixed, &after);
    assert_eq!(moved.len(), 2, "only good1 and good2: {moved:?}");
    let text = String::from_utf8(after).expect("utf8");
    for kept in [
        "1e400",
        "\"n2\": -0",
        "\"n3\": 1.0",
        "12345678901234567890123",
        "-1e-400",
        "9007199254740993",
        "\"not an object\"",
    ] {
        assert!(text.contains(kept), "lost {kept}");
    }
    let reply = env
        .client()
        .request(r#"{"v":1,"cmd":"touch","agent":"mixed","sessions":["agent:mixed:over2p53"]}"#);
    println!(
        "RELIABILITY stores: touch of an entry with updatedAt > 2^53 in a good store -> {reply}"
    );
    assert!(
        reply["ok"] == false || reply["results"][0]["bumped"] == json!([]),
        "{reply}"
    );
    assert_eq!(
        bumped_digit_spans(&mixed, &env.read_store("mixed")).len(),
        2
    );
    let good = agent(&status, "good");
    assert_eq!(good["writes"], 1, "{good}");
    assert_eq!(
        bumped_digit_spans(&fixture("v1-6.json"), &env.read_store("good")).len(),
        6
    );
    println!(
        "RELIABILITY stores: bad timestamp stores tried = {} (+ {} odd values in one mixed store)",
        stores.len(),
        odd.len() - 1 + 10
    );
}

#[test]
fn a_symlinked_store_is_refused_and_nothing_is_written_outside_its_directory() {
    let env = Env::new();
    let outside = env.dir.path().join("outside");
    std::fs::create_dir_all(&outside).expect("outside");
    let target = outside.join("target.json");
    let content = fixture("v1-6.json");
    std::fs::write(&target, &content).expect("target");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let target_meta = std::fs::metadata(&target).expect("meta");
    // An absolute link, a relative one, and a dangling one into the outside dir.
    let links = [
        ("abs", target.clone()),
        ("rel", PathBuf::from("../../../../outside/target.json")),
        ("dangling", outside.join("created-by-keepalive.json")),
    ];
    for (name, to) in &links {
        let store = env.store(name);
        std::fs::create_dir_all(store.parent().expect("dir")).expect("dir");
        std::os::unix::fs::symlink(to, &store).expect("symlink");
    }
    env.add_agent("good", &content);
    let outside_tree = tree(&outside);
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    let status = env.wait_status("every agent's first round", |s| {
        s["agents"].as_array().is_some_and(|a| {
            a.len() == links.len() + 1 && a.iter().all(|a| a["last_tick_ms"].is_u64())
        })
    });
    for (name, to) in &links {
        let a = agent(&status, name);
        println!(
            "RELIABILITY stores: symlinked store {name} -> {}: {}",
            to.display(),
            a["last_error"]
        );
        assert_eq!(a["writes"], 0, "{a}");
        assert!(
            !a["last_error"].is_null(),
            "{name}: a symlink must be an error: {a}"
        );
        if *name != "dangling" {
            assert_eq!(a["last_error"]["code"], "store_invalid", "{a}");
            assert!(
                a["last_error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("symbolic link"),
                "{a}"
            );
        }
        let reply = env
            .client()
            .request(&format!(r#"{{"v":1,"cmd":"touch","agent":"{name}"}}"#));
        assert_eq!(
            reply["ok"], false,
            "{name}: touch through a symlink: {reply}"
        );
        let sessions = env
            .client()
            .request(&format!(r#"{{"v":1,"cmd":"sessions","agent":"{name}"}}"#));
        println!(
            "RELIABILITY stores: sessions of symlinked {name}: ok={} ({} rows, error {})",
            sessions["ok"],
            sessions["sessions"].as_array().map_or(0, |s| s.len()),
            sessions["error"]["code"]
        );
        let store = env.store(name);
        let meta = std::fs::symlink_metadata(&store).expect("the link is still there");
        assert!(
            meta.file_type().is_symlink(),
            "{name}: the link was replaced"
        );
        assert_eq!(&std::fs::read_link(&store).expect("link"), to);
        assert_eq!(
            tree(store.parent().expect("dir")),
            vec!["sessions.json"],
            "{name}: nothing written beside the link"
        );
    }
    assert_eq!(
        std::fs::read(&target).expect("target"),
        content,
        "the target is untouched"
    );
    let after = std::fs::metadata(&target).expect("meta");
    assert_eq!(
        (after.ino(), after.mtime(), after.mtime_nsec(), after.mode()),
        (
            target_meta.ino(),
            target_meta.mtime(),
            target_meta.mtime_nsec(),
            target_meta.mode()
        ),
        "the target was rewritten"
    );
    assert_eq!(
        tree(&outside),
        outside_tree,
        "something was created outside the store's directory"
    );
    assert!(agent(&status, "good")["last_error"].is_null());
    assert_eq!(
        bumped_digit_spans(&content, &env.read_store("good")).len(),
        6
    );
    println!(
        "RELIABILITY stores: symlinked stores tried = {}",
        links.len()
    );
}

#[test]
fn a_bump_keeps_the_stores_mode_and_owner() {
    let env = Env::new();
    let content = fixture("v1-6.json");
    let modes = [
        ("m600", 0o600),
        ("m644", 0o644),
        ("m640", 0o640),
        ("m444", 0o444),
        ("m666", 0o666),
    ];
    for (name, mode) in modes {
        let store = env.add_agent(name, &content);
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let root = current_uid() == 0;
    if root {
        let store = env.add_agent("nobody", &content);
        std::os::unix::fs::chown(&store, Some(65534), Some(65534)).expect("chown");
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        // And a store whose whole sessions directory belongs to nobody, 0700.
        let store = env.add_agent("nobodydir", &content);
        let dir = store.parent().expect("dir");
        std::os::unix::fs::chown(&store, Some(65534), Some(65534)).expect("chown");
        std::os::unix::fs::chown(dir, Some(65534), Some(65534)).expect("chown");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    } else {
        println!(
            "SKIPPED: a store owned by another user needs root (running as uid {})",
            current_uid()
        );
    }
    // A read-only sessions directory.
    let ro = env.add_agent("rodir", &content);
    let ro_dir = ro.parent().expect("dir").to_path_buf();
    std::fs::set_permissions(&ro_dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");

    let _daemon = env.daemon_all(&["--interval", "1h"]);
    let count = modes.len() + 1 + if root { 2 } else { 0 };
    let status = env.wait_status("every agent's first round", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.len() == count && a.iter().all(|a| a["last_tick_ms"].is_u64()))
    });
    for (name, mode) in modes {
        let a = agent(&status, name);
        assert!(a["last_error"].is_null(), "{name}: {a}");
        let meta = std::fs::metadata(env.store(name)).expect("meta");
        assert_eq!(meta.mode() & 0o7777, mode, "{name}: mode not preserved");
        assert_eq!(meta.uid(), current_uid());
        assert_eq!(
            bumped_digit_spans(&content, &env.read_store(name)).len(),
            6,
            "{name}"
        );
    }
    if root {
        for name in ["nobody", "nobodydir"] {
            let a = agent(&status, name);
            let meta = std::fs::metadata(env.store(name)).expect("meta");
            println!(
                "RELIABILITY stores: root daemon, store of uid 65534 ({name}): error {}, now uid {} gid {} mode {:o}",
                a["last_error"],
                meta.uid(),
                meta.gid(),
                meta.mode() & 0o7777
            );
            assert!(a["last_error"].is_null(), "{name}: {a}");
            assert_eq!(
                (meta.uid(), meta.gid()),
                (65534, 65534),
                "{name}: the owner was taken away"
            );
            assert_eq!(
                bumped_digit_spans(&content, &env.read_store(name)).len(),
                6,
                "{name}"
            );
            let dir = env.store(name).parent().expect("dir").to_path_buf();
            assert_eq!(tree(&dir), vec!["sessions.json"], "{name}: leftovers");
        }
        assert_eq!(
            std::fs::metadata(env.store("nobody")).expect("m").mode() & 0o7777,
            0o644
        );
    }
    // The read-only directory: root writes anyway; anyone else gets a clear
    // store_io and an untouched file.
    let a = agent(&status, "rodir");
    println!(
        "RELIABILITY stores: read-only sessions dir as uid {}: error {}",
        current_uid(),
        a["last_error"]
    );
    if root {
        assert!(a["last_error"].is_null(), "{a}");
        assert_eq!(
            bumped_digit_spans(&content, &env.read_store("rodir")).len(),
            6
        );
    } else {
        assert_eq!(a["last_error"]["code"], "store_io", "{a}");
        assert_eq!(env.read_store("rodir"), content);
    }
    assert_eq!(tree(&ro_dir), vec!["sessions.json"]);
    std::fs::set_permissions(&ro_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    println!("RELIABILITY stores: mode/owner/permission cases tried = {count}");
}

#[test]
fn a_store_emptied_by_another_writer_is_an_error_then_recovers() {
    let env = Env::new();
    let content = fixture("v1-6.json");
    let store = env.add_agent("main", &content);
    env.add_agent("other", &content);
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("the first rounds", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|a| a["writes"] == 1))
    });
    let bumped = env.read_store("main");

    // Another process truncates the store in place, as a crashed in-place writer would.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&store)
        .expect("truncate");
    drop(file);
    // A touch naming the session cannot find it (the message says why); a
    // touch of the whole agent fails on the store.
    let reply = env.client().request(TOUCH_MAIN);
    println!("RELIABILITY stores: touch by name of an emptied store -> {reply}");
    assert_error(
        "touch of an empty store",
        &reply,
        &["store_invalid", "unknown_session"],
    );
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("empty file"),
        "{reply}"
    );
    let reply = env
        .client()
        .request(r#"{"v":1,"cmd":"touch","agent":"main"}"#);
    println!("RELIABILITY stores: touch of the agent of an emptied store -> {reply}");
    let failure = if reply["ok"] == false {
        &reply
    } else {
        &reply["results"][0]
    };
    assert_eq!(failure["error"]["code"], "store_invalid", "{reply}");
    assert_eq!(
        std::fs::read(&store).expect("read"),
        b"",
        "the empty file stays empty"
    );
    assert_eq!(std::fs::metadata(&store).expect("m").mode() & 0o777, 0o600);
    let status = env.status();
    assert_eq!(
        agent(&status, "main")["last_error"]["code"],
        "store_invalid",
        "{status:#}"
    );
    // Other agents keep working meanwhile.
    let reply = env
        .client()
        .request(r#"{"v":1,"cmd":"touch","agent":"other"}"#);
    assert_eq!(reply["ok"], true, "{reply}");
    // The writer finishes: the next touch succeeds and the error clears.
    std::fs::write(&store, &bumped).expect("restore");
    let reply = env.client().request(TOUCH_MAIN);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["results"][0]["written"], true, "{reply}");
    assert_eq!(
        bumped_digit_spans(&bumped, &env.read_store("main")).len(),
        1
    );
    assert!(agent(&env.status(), "main")["last_error"].is_null());

    // Now a writer that keeps truncating and rewriting in place while touches
    // arrive: each touch succeeds or fails cleanly; no mix is ever written.
    let stop = Arc::new(AtomicBool::new(false));
    let restored = env.read_store("main");
    let flapper = {
        let (stop, store, restored) = (stop.clone(), store.clone(), restored.clone());
        std::thread::spawn(move || {
            let mut flaps = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&store)
                    .expect("open");
                std::thread::sleep(Duration::from_micros(500));
                f.write_all(&restored).expect("rewrite");
                drop(f);
                std::thread::sleep(Duration::from_micros(500));
                flaps += 1;
            }
            flaps
        })
    };
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    let mut client = env.client();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let reply = client.request(TOUCH_MAIN);
        let what = if reply["ok"] == true {
            "ok".to_string()
        } else {
            code(&reply).to_string()
        };
        assert!(
            [
                "ok",
                "store_invalid",
                "store_changed",
                "store_busy",
                "store_not_found",
                "unknown_session"
            ]
            .contains(&what.as_str()),
            "{reply}"
        );
        *outcomes.entry(what).or_default() += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let flaps = flapper.join().expect("flapper");
    // The in-place writer's last write may have landed in a file we since
    // replaced, or over ours; either way what is there is whole.
    let now = env.read_store("main");
    assert!(!now.is_empty());
    bumped_digit_spans(&restored, &now);
    let reply = client.request(TOUCH_MAIN);
    assert_eq!(reply["ok"], true, "{reply}");
    let last = env.read_store("main");
    assert_eq!(bumped_digit_spans(&restored, &last).len(), 1);
    support::parse(&last);
    assert!(
        outcomes.keys().any(|k| k != "ok"),
        "no touch ever saw the flapping store: {outcomes:?}"
    );
    println!("RELIABILITY stores: {flaps} in-place truncations during touches -> {outcomes:?}");
    let other = env.read_store("other");
    assert_eq!(bumped_digit_spans(&content, &other).len(), 6);
    let dir = store.parent().expect("dir").to_path_buf();
    assert_eq!(
        tree(&dir),
        vec!["sessions.json"],
        "no temp or lock file left"
    );
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
