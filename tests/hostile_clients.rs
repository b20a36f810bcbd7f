//! Hostile clients against a real daemon: one daemon meets every kind of abuse on its socket in
//! turn (unknown commands and fields, absurd values, path-like names, invalid UTF-8, deep
//! nesting, an endless line, random bytes, fuzzed requests, a thousand clients at once, slow
//! loris, clients that vanish); every bad input gets one error reply (or a dropped connection)
//! and the daemon keeps serving everyone else with bounded memory.
//!
//! Over 400 lines because it is one suite: the phases run against one daemon, whose memory
//! must stay bounded across all of them.
//!
//! Each test prints `RELIABILITY ...` lines with its figures (bad inputs
//! tried, memory, latency); run with `--nocapture` to see them.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::hostile::{TOUCH_MAIN, agent, assert_error, code, tree};
use support::{Env, Rng, bumped_digit_spans, fixture};

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
