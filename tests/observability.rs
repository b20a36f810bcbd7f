//! Metrics (command and file) in a valid Prometheus text exposition, and
//! logs: JSON format, levels, `keepalivectl logs` and following.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Env, fixture, stdout, text};

/// Checks `text` against the exposition format's grammar (version 0.0.4):
/// `# HELP`/`# TYPE` lines, then samples `name{label="value",...} number`,
/// every family typed before its samples, counters named `*_total`.
/// Returns the samples by `name{labels}`.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, value) = (
                parts.next(),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            assert!(name_ok(name), "bad metric name in {line:?}");
            match kind {
                Some("HELP") => assert!(!value.is_empty(), "empty HELP: {line:?}"),
                Some("TYPE") => {
                    assert!(
                        ["counter", "gauge"].contains(&value),
                        "type {value:?} in {line:?}"
                    );
                    if value == "counter" {
                        assert!(name.ends_with("_total"), "counter without _total: {name}");
                    }
                    assert!(
                        typed.insert(name.to_string(), value.to_string()).is_none(),
                        "{name} typed twice"
                    );
                }
                _ => panic!("unknown comment line {line:?}"),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap_or_default();
        assert!(name_ok(name), "bad name in {line:?}");
        assert!(
            typed.contains_key(name),
            "{name} has samples before its TYPE"
        );
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let inner = labels
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .unwrap_or_else(|| panic!("labels in {line:?}"));
            let mut rest = inner;
            let mut seen = BTreeSet::new();
            while !rest.is_empty() {
                let (label, after) = rest
                    .split_once("=\"")
                    .unwrap_or_else(|| panic!("label in {line:?}"));
                assert!(
                    name_ok(label) && !label.contains(':'),
                    "bad label name in {line:?}"
                );
                assert!(seen.insert(label), "label {label} twice in {line:?}");
                // The value runs to the first unescaped quote.
                let mut end = None;
                let mut escaped = false;
                for (i, c) in after.char_indices() {
                    match (escaped, c) {
                        (true, '\\' | '"' | 'n') => escaped = false,
                        (true, other) => panic!("bad escape \\{other} in {line:?}"),
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i);
                            break;
                        }
                        (false, '\n') => panic!("raw newline in {line:?}"),
                        _ => {}
                    }
                }
                let end = end.unwrap_or_else(|| panic!("unterminated label value in {line:?}"));
                rest = after[end + 1..]
                    .strip_prefix(',')
                    .unwrap_or(&after[end + 1..]);
            }
        }
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "{series} twice"
        );
    }
    samples
}

/// Prometheus's own checker, where it is installed (`.ci/run` installs
/// Debian's `prometheus` package for it); the grammar check runs either way.
fn promtool_check(text: &str) {
    use std::io::Write;
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!(
            "SKIPPED: promtool is not installed; checked against the exposition grammar only"
        );
        return;
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn metrics_are_a_valid_exposition_with_the_counters_and_gauges_of_each_agent() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("the first write", |s| s["agents"][0]["writes"] == 1);
    env.ctl_json(&["touch"]);
    let out = env.ctl(&["metrics"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    promtool_check(&stdout(&out));
    let samples = parse_exposition(&(stdout(&out)));
    let get = |series: &str| {
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
    };
    assert_eq!(get(r#"keepalive_writes_total{agent="main"}"#), 2.0);
    assert_eq!(get(r#"keepalive_bumps_total{agent="main"}"#), 12.0);
    assert_eq!(get(r#"keepalive_ticks_total{agent="main"}"#), 1.0);
    assert_eq!(get(r#"keepalive_sessions{agent="main"}"#), 6.0);
    assert_eq!(get(r#"keepalive_kept_alive_sessions{agent="main"}"#), 6.0);
    assert_eq!(get("keepalive_interval_seconds"), 3600.0);
    assert!(get(r#"keepalive_last_write_duration_seconds{agent="main"}"#) > 0.0);
    assert!(get(r#"keepalive_last_tick_timestamp_seconds{agent="main"}"#) > 1.7e9);
    // --json carries the same text in a reply object.
    let reply = env.ctl_json(&["metrics"]);
    assert!(
        reply["text"]
            .as_str()
            .is_some_and(|t| t.contains("# TYPE keepalive_writes_total counter"))
    );
}

#[test]
fn errors_and_lock_waits_are_counted() {
    let env = Env::new();
    let store = env.add_agent("main", &fixture("v1-6.json"));
    let lock = support::gateway::acquire(&store, Duration::from_secs(1)).expect("gateway lock");
    let _daemon = env.daemon_all(&["--interval", "1h", "--lock-timeout", "200ms"]);
    env.wait_status("a busy round", |s| !s["agents"][0]["last_error"].is_null());
    drop(lock);
    env.ctl_json(&["touch"]);
    let samples = parse_exposition(env.ctl_json(&["metrics"])["text"].as_str().expect("text"));
    // At least: a busy store is retried within the second (tests/busy.rs), so a retry may
    // have counted another busy round, or written, around the touch.
    let busy = samples.get(r#"keepalive_errors_total{agent="main",code="store_busy"}"#);
    assert!(busy >= Some(&1.0), "{samples:#?}");
    let writes = samples.get(r#"keepalive_writes_total{agent="main"}"#);
    assert!(writes >= Some(&1.0), "{samples:#?}");
}

#[test]
fn the_metrics_file_is_rewritten_every_tick() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let file = env.dir.path().join("metrics").join("keepalive.prom");
    let path = file.display().to_string();
    let _daemon = env.daemon_all(&["--interval", "1s", "--metrics-file", &path]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // The round of the first tick shows in the file the next tick writes.
        if let Ok(text) = std::fs::read_to_string(&file)
            && parse_exposition(&text)
                .get(r#"keepalive_writes_total{agent="main"}"#)
                .is_some_and(|w| *w >= 1.0)
        {
            promtool_check(&text);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the metrics file never showed a write"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let leftovers: Vec<_> = std::fs::read_dir(file.parent().expect("dir"))
        .expect("dir")
        .collect();
    assert_eq!(leftovers.len(), 1, "only the metrics file, no temp files");
}

#[test]
fn json_logs_and_log_levels() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let daemon = env.daemon_all(&["--interval", "1h", "--log-format", "json"]);
    env.wait_status("the first write", |s| s["agents"][0]["writes"] == 1);
    let log = daemon.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("main: bumped 6 of 6"))),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["timestamp"].is_string() && l["level"].is_string()),
        "{log}"
    );
    drop(daemon);

    let quiet = env.daemon_all(&["--interval", "1h", "--log-level", "warn"]);
    env.ctl_json(&["touch"]);
    assert!(
        !quiet.log().contains("bumped"),
        "info lines hidden at warn:\n{}",
        quiet.log()
    );
    drop(quiet);
    let mut bad = env.spawn_daemon(&["--log-level", "loud=?"]);
    assert_eq!(bad.wait_exit(), Some(1));
}

#[test]
fn logs_shows_the_newest_lines_and_follows() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let log = env.dir.path().join("logs").join("k.log");
    let log_arg = log.display().to_string();
    let _daemon = env.daemon_all(&["--interval", "1h", "--log-file", &log_arg]);
    env.wait_status("the first write", |s| s["agents"][0]["writes"] == 1);
    let out = env.ctl(&["logs", "-n", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = stdout(&out);
    assert_eq!(shown.lines().count(), 2, "{shown}");
    assert!(
        shown.contains("main: bumped 6 of 6"),
        "the daemon's log file, found through status: {shown}"
    );

    let mut follow = std::process::Command::new(support::CTL)
        .arg("--socket")
        .arg(&env.socket)
        .args(["logs", "-f", "-n", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("logs -f");
    std::thread::sleep(Duration::from_millis(300));
    env.ctl_json(&["interval", "7m"]);
    let mut lines = BufReader::new(follow.stdout.take().expect("stdout")).lines();
    let line = lines.next().expect("a followed line").expect("read");
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(line.contains("interval set to 7m"), "{line}");

    let out = env.ctl(&["logs", "--file", "/nonexistent/k.log"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        support::stderr(&out).contains("no log files"),
        "{}",
        text(&out)
    );
}
