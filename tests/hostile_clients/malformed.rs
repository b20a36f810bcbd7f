//! Malformed lines, one kind per phase: invalid UTF-8, deep nesting, an endless line, random
//! bytes, fuzzed requests. Each phase returns how many bad inputs it tried.

use std::io::Write;
use std::time::Instant;

use serde_json::{Value, json};

use crate::support::hostile::{assert_error, code};
use crate::support::{Env, Rng};
use crate::{HELLO, proc_status};

pub fn refuses_invalid_utf8(env: &Env) -> usize {
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

pub fn refuses_deep_nesting_within_the_frame_limit(env: &Env) -> usize {
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
pub fn survives_an_endless_line(env: &Env, pid: u32) -> usize {
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
pub fn answers_every_random_line(env: &Env, seed: u64, lines: usize) -> usize {
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
pub fn answers_every_fuzzed_request(env: &Env, seed: u64, count: usize) -> usize {
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
