//! The Node clients, run with the machine's real `node` against a real daemon:
//! `proto/clients/node/keepalive-client.mjs` and the OpenClaw hook
//! `contrib/openclaw-hook/keepalive-touch/handler.ts`. Each test is skipped
//! (visibly) when `node` is not installed.
//!
//! Over 400 lines: each test carries the Node program it runs, inline, beside the checks of
//! what it printed.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use keepalive::paths::current_uid;
use serde_json::Value;
use support::{CTL, Env, fixture, now_ms, parse, text};

const KEY: &str = "agent:main:main";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn client_module() -> PathBuf {
    repo().join("proto/clients/node/keepalive-client.mjs")
}

/// Whether `node` runs; prints a visible SKIPPED line when it does not.
fn have_node(test: &str) -> bool {
    let ok = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success());
    if !ok {
        eprintln!("SKIPPED: {test}: `node --version` failed; install Node >= 18 to run it");
    }
    ok
}

/// The hook's handler.ts copied to `<dir>/handler.mjs`: Node 20 will not
/// import a `.ts` file, and the handler is plain JavaScript.
fn handler_module(env: &Env) -> PathBuf {
    let dest = env.dir.path().join("handler.mjs");
    std::fs::copy(
        repo().join("contrib/openclaw-hook/keepalive-touch/handler.ts"),
        &dest,
    )
    .expect("copy handler.ts");
    dest
}

/// Runs `script` as an ES module with `node`, `keepalivectl`'s directory first
/// on PATH, the socket in `KEEPALIVE_SOCKET`, and `vars`. The script prints one
/// JSON object as its last stdout line, which is returned.
fn node(env: &Env, script: &str, vars: &[(&str, &OsStr)]) -> Value {
    let ctl_dir = Path::new(CTL).parent().expect("keepalivectl dir");
    let path = std::env::join_paths(std::iter::once(ctl_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let mut command = Command::new("node");
    command
        .args(["--input-type=module", "-e", script])
        .env_clear()
        .env("PATH", path)
        .env("HOME", &env.home)
        .env("XDG_STATE_HOME", env.home.join("state"))
        .env("XDG_RUNTIME_DIR", env.dir.path().join("xdg-run"))
        .env("TZ", "UTC")
        .env("KEEPALIVE_SOCKET", &env.socket)
        .env("KA_CLIENT", client_module())
        .stdin(Stdio::null());
    for (name, value) in vars {
        command.env(name, value);
    }
    let out: Output = command.output().expect("run node");
    assert_eq!(out.status.code(), Some(0), "node failed: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("node printed no JSON ({e}): {}", text(&out)))
}

fn updated_at(env: &Env) -> u64 {
    parse(&env.read_store("main"))[KEY]["updatedAt"]
        .as_u64()
        .expect("updatedAt")
}

/// A daemon that bumps every session but ticks only hourly, so that any write
/// after its first round comes from a client; returns it with its write count.
fn quiet_daemon(env: &Env) -> (support::Daemon, u64) {
    env.add_agent("main", &fixture("v1-6.json"));
    let daemon = env.daemon_all(&["--interval", "1h"]);
    let status = env.wait_status("the first round", |s| {
        !s["agents"][0]["last_tick_ms"].is_null()
    });
    let writes = status["agents"][0]["writes"].as_u64().expect("writes");
    (daemon, writes)
}

const CLIENT_SCRIPT: &str = r#"
import { pathToFileURL } from "node:url";
const { connect } = await import(pathToFileURL(process.env.KA_CLIENT).href);
const ka = await connect();
const out = {};
out.hello = await ka.hello();
out.status = await ka.status();
out.touch = await ka.touch(process.env.KA_KEY);
out.resets = await ka.resets({ agent: "main" });
out.resetsAfter = await ka.resets({ afterSeq: out.resets.events.at(-1)?.seq ?? 0 });
try {
  await ka.touch(["agent:main:no-such-session"]);
  out.unknown = "resolved";
} catch (e) {
  out.unknown = { isError: e instanceof Error, code: e.code, details: e.details };
}
// Pipelined: all written before any reply arrives, one failing in the middle.
const settled = await Promise.allSettled([
  ka.request({ cmd: "get_interval" }),
  ka.touch(["agent:main:nope"]),
  ka.hello(),
  ka.request({ cmd: "rules" }),
  ka.status(),
]);
out.pipelined = settled.map((r) => (r.status === "fulfilled" ? r.value : { rejected: r.reason.code }));
out.shutdown = await ka.shutdown();
ka.close();
console.log(JSON.stringify(out));
"#;

#[test]
fn the_node_client_speaks_the_protocol_and_shuts_the_daemon_down() {
    if !have_node("the_node_client_speaks_the_protocol_and_shuts_the_daemon_down") {
        return;
    }
    let env = Env::new();
    let (mut daemon, _) = quiet_daemon(&env);
    let before = updated_at(&env);
    let t0 = now_ms();
    // A reset for `resets` to report: the gateway gives the key a new sessionId, and the
    // daemon's next round (the `sessions` report) notices it.
    env.ctl_json(&["sessions"]);
    support::gateway::locked_set(
        &env.store("main"),
        KEY,
        "sessionId",
        serde_json::json!("node-reset"),
    );
    env.ctl_json(&["sessions"]);

    let out = node(&env, CLIENT_SCRIPT, &[("KA_KEY", OsStr::new(KEY))]);

    let hello = &out["hello"];
    assert_eq!(hello["ok"], true, "{hello}");
    assert_eq!(hello["daemon"], "keepalived", "{hello}");
    assert_eq!(hello["protocol"], 1, "{hello}");
    assert_eq!(hello["pid"], daemon.pid(), "{hello}");
    let caps = hello["capabilities"].as_array().expect("capabilities");
    for cap in ["touch", "status", "shutdown"] {
        assert!(caps.iter().any(|c| c == cap), "{cap} missing: {hello}");
    }

    let status = &out["status"];
    assert_eq!(status["pid"], daemon.pid(), "{status}");
    assert_eq!(status["interval_s"], 3600, "{status}");
    assert_eq!(
        status["socket"],
        env.socket.display().to_string(),
        "{status}"
    );
    assert_eq!(status["agents"][0]["id"], "main", "{status}");
    assert_eq!(status["agents"][0]["generation"], "json-v1", "{status}");

    let results = out["touch"]["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{}", out["touch"]);
    assert_eq!(results[0]["agent"], "main");
    assert_eq!(results[0]["bumped"], serde_json::json!([KEY]));
    assert_eq!(results[0]["written"], true);
    assert_eq!(results[0]["dry_run"], false);
    let after = updated_at(&env);
    assert!(
        after > before && after >= t0,
        "updatedAt did not move forward: {before} -> {after} (touch sent after {t0})"
    );

    let resets = out["resets"]["events"].as_array().expect("events");
    assert_eq!(resets.len(), 1, "{}", out["resets"]);
    assert_eq!(resets[0]["kind"], "reset", "{}", out["resets"]);
    assert_eq!(
        resets[0]["new_session_id"], "node-reset",
        "{}",
        out["resets"]
    );
    assert_eq!(
        out["resetsAfter"]["events"],
        serde_json::json!([]),
        "{}",
        out["resetsAfter"]
    );

    let unknown = &out["unknown"];
    assert_eq!(unknown["isError"], true, "{unknown}");
    assert_eq!(unknown["code"], "unknown_session", "{unknown}");
    assert_eq!(
        unknown["details"]["missing"],
        serde_json::json!(["agent:main:no-such-session"]),
        "{unknown}"
    );

    let p = out["pipelined"].as_array().expect("pipelined");
    assert_eq!(p.len(), 5, "{p:?}");
    assert_eq!(p[0]["interval_s"], 3600, "{p:?}");
    assert_eq!(p[1]["rejected"], "unknown_session", "{p:?}");
    assert_eq!(p[2]["daemon"], "keepalived", "{p:?}");
    assert!(p[3]["rules"].is_array(), "{p:?}");
    assert_eq!(p[4]["pid"], daemon.pid(), "{p:?}");
    assert!(p[4]["agents"].is_array(), "{p:?}");

    assert_eq!(out["shutdown"]["ok"], true, "{}", out["shutdown"]);
    assert_eq!(out["shutdown"]["stopping"], true, "{}", out["shutdown"]);
    assert_eq!(out["shutdown"]["pid"], daemon.pid(), "{}", out["shutdown"]);
    assert_eq!(daemon.wait_exit(), Some(0), "log:\n{}", daemon.log());
    assert!(!env.socket.exists(), "the daemon left its socket behind");
}

const OFFLINE_SCRIPT: &str = r#"
import net from "node:net";
import { pathToFileURL } from "node:url";
const { connect, touchOnce, defaultSocket } = await import(pathToFileURL(process.env.KA_CLIENT).href);
const out = {};
const env = process.env;
const absent = `${env.KA_DIR}/absent.sock`;
out.quiet = await touchOnce("agent:main:main", { socket: absent, quiet: true });
out.loud = await touchOnce("agent:main:main", { socket: absent }).then(() => "resolved", (e) => e.code);

// A server that reads requests and never answers: per-request timeouts.
const mute = `${env.KA_DIR}/mute.sock`;
const server = net.createServer((s) => s.resume()).listen(mute);
await new Promise((r) => server.once("listening", r));
const ka = await connect({ socket: mute, timeoutMs: 100 });
const t = performance.now();
out.timeout = await ka.hello().then(() => "resolved", (e) => e.code);
out.timeoutMs = performance.now() - t;
ka.close();
server.close();

out.paths = [defaultSocket()];
delete env.KEEPALIVE_SOCKET;
out.paths.push(defaultSocket());
delete env.XDG_RUNTIME_DIR;
out.paths.push(defaultSocket());
console.log(JSON.stringify(out));
"#;

#[test]
fn the_node_client_without_a_daemon_times_out_and_finds_default_paths() {
    if !have_node("the_node_client_without_a_daemon_times_out_and_finds_default_paths") {
        return;
    }
    let env = Env::new();
    let out = node(
        &env,
        OFFLINE_SCRIPT,
        &[("KA_DIR", env.dir.path().as_os_str())],
    );
    assert_eq!(out["quiet"], Value::Null, "{out}");
    assert_eq!(out["loud"], "ENOENT", "{out}");
    assert_eq!(out["timeout"], "timeout", "{out}");
    let ms = out["timeoutMs"].as_f64().expect("timeoutMs");
    assert!((90.0..2000.0).contains(&ms), "timed out after {ms} ms");
    let uid = current_uid();
    // node runs without TMPDIR, so os.tmpdir() is /tmp.
    assert_eq!(
        out["paths"],
        serde_json::json!([
            env.socket.display().to_string(),
            format!(
                "{}/keepalive/keepalived.sock",
                env.dir.path().join("xdg-run").display()
            ),
            format!("/tmp/keepalive-{uid}/keepalived.sock"),
        ]),
    );
}

/// Runs the handler on each event of `KA_EVENTS` and reports how long each
/// call took, whether it threw, and what it warned, after `KA_LINGER` ms.
const HOOK_SCRIPT: &str = r#"
import { pathToFileURL } from "node:url";
const warnings = [];
console.warn = (...args) => warnings.push(args.join(" "));
const { default: handler } = await import(pathToFileURL(process.env.KA_HANDLER).href);
const calls = [];
for (const event of JSON.parse(process.env.KA_EVENTS)) {
  const t = performance.now();
  let threw = null, value;
  try { value = await handler(event); } catch (e) { threw = String(e); }
  calls.push({ ms: performance.now() - t, threw, undefined: value === undefined });
}
await new Promise((r) => setTimeout(r, Number(process.env.KA_LINGER || 0)));
console.log(JSON.stringify({ calls, warnings }));
"#;

fn run_hook(env: &Env, events: Value, linger_ms: u64, vars: &[(&str, &OsStr)]) -> Value {
    let handler = handler_module(env);
    let events = events.to_string();
    let linger = linger_ms.to_string();
    let mut all: Vec<(&str, &OsStr)> = vec![
        ("KA_HANDLER", handler.as_os_str()),
        ("KA_EVENTS", OsStr::new(&events)),
        ("KA_LINGER", OsStr::new(&linger)),
    ];
    all.extend_from_slice(vars);
    let out = node(env, HOOK_SCRIPT, &all);
    for call in out["calls"].as_array().expect("calls") {
        assert_eq!(call["threw"], Value::Null, "the handler threw: {out}");
        assert_eq!(call["undefined"], true, "{out}");
        let ms = call["ms"].as_f64().expect("ms");
        assert!(ms < 500.0, "the handler took {ms} ms: {out}");
    }
    out
}

fn message(action: &str, key: Option<&str>) -> Value {
    let mut event = serde_json::json!({
        "type": "message",
        "action": action,
        "timestamp": "2026-04-14T09:00:00.000Z",
        "context": {"channel": "slack"},
    });
    if let Some(key) = key {
        event["sessionKey"] = key.into();
    }
    event
}

#[test]
fn the_hook_touches_the_session_of_a_message() {
    if !have_node("the_hook_touches_the_session_of_a_message") {
        return;
    }
    let env = Env::new();
    let (_daemon, writes) = quiet_daemon(&env);
    let before = updated_at(&env);
    let t0 = now_ms();

    // The node process exits as soon as the handler returns: the daemon
    // finishes a touch it has read, whether or not anyone waits for the reply.
    run_hook(
        &env,
        serde_json::json!([message("received", Some(KEY))]),
        0,
        &[],
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = env.status();
        if status["agents"][0]["writes"].as_u64() > Some(writes) && updated_at(&env) >= t0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hook's touch never reached the store (updatedAt {before} -> {}); status: {status:#}",
            updated_at(&env)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let sessions = env.ctl_json(&["sessions"]);
    let row = sessions["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|row| row["key"] == KEY)
        .expect("row for the key")
        .clone();
    assert_eq!(row["activity_source"], "touch", "{row}");

    // A session the store does not hold yet (a brand-new chat) is refused by
    // the daemon, and that is no reason to warn.
    let out = run_hook(
        &env,
        serde_json::json!([message("sent", Some("agent:main:brand-new"))]),
        1000,
        &[],
    );
    assert_eq!(out["warnings"], serde_json::json!([]), "{out}");
}

#[test]
fn the_hook_without_a_daemon_returns_quickly_and_warns_once() {
    if !have_node("the_hook_without_a_daemon_returns_quickly_and_warns_once") {
        return;
    }
    let env = Env::new();
    let out = run_hook(
        &env,
        serde_json::json!([
            message("received", Some(KEY)),
            message("sent", Some(KEY)),
            message("received", Some("agent:main:other")),
        ]),
        300,
        &[],
    );
    let warnings = out["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "warn once: {out}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap_or_default()
            .contains("keepalivectl start"),
        "{out}"
    );
}

/// Runs the handler against a socket server that counts connections: events
/// without a session key, and events it does not handle, send nothing.
const IGNORED_SCRIPT: &str = r#"
import net from "node:net";
import { pathToFileURL } from "node:url";
let connections = 0;
const server = net.createServer((s) => { connections++; s.destroy(); }).listen(process.env.KEEPALIVE_SOCKET);
await new Promise((r) => server.once("listening", r));
const { default: handler } = await import(pathToFileURL(process.env.KA_HANDLER).href);
for (const event of JSON.parse(process.env.KA_EVENTS)) await handler(event);
await new Promise((r) => setTimeout(r, 300));
const ignored = connections;
await handler({ type: "message", action: "received", sessionKey: "agent:main:main" });
await new Promise((r) => setTimeout(r, 300));
server.close();
console.log(JSON.stringify({ ignored, handled: connections - ignored }));
"#;

#[test]
fn the_hook_ignores_events_without_a_session_key_and_other_events() {
    if !have_node("the_hook_ignores_events_without_a_session_key_and_other_events") {
        return;
    }
    let env = Env::new();
    let handler = handler_module(&env);
    let events = serde_json::json!([
        message("received", None),
        message("sent", None),
        message("received", Some("  ")),
        {"type": "command", "action": "new", "sessionKey": KEY},
        {"type": "message", "action": "transcribed", "sessionKey": KEY},
        {"type": "gateway", "action": "startup"},
        // Outside companion mode shutdown stops nothing, so it does not even connect.
        {"type": "gateway", "action": "shutdown", "context": {"reason": "gateway stopping", "restartExpectedMs": null}},
        null,
        {},
    ])
    .to_string();
    std::fs::create_dir_all(env.socket.parent().expect("run dir")).expect("run dir");
    let out = node(
        &env,
        IGNORED_SCRIPT,
        &[
            ("KA_HANDLER", handler.as_os_str()),
            ("KA_EVENTS", OsStr::new(&events)),
        ],
    );
    assert_eq!(out["ignored"], 0, "{out}");
    assert_eq!(out["handled"], 1, "the fake server saw no touch: {out}");
}

/// Stops the daemon a hook started (or should have stopped), even when an assertion fails.
struct StopDaemon<'a>(&'a Env);

impl Drop for StopDaemon<'_> {
    fn drop(&mut self) {
        let _ = self.0.ctl(&["stop"]);
    }
}

#[test]
fn the_hook_starts_the_daemon_on_gateway_startup_when_asked() {
    if !have_node("the_hook_starts_the_daemon_on_gateway_startup_when_asked") {
        return;
    }
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let _stop = StopDaemon(&env);
    run_hook(
        &env,
        serde_json::json!([{"type": "gateway", "action": "startup", "context": {}}]),
        0,
        &[
            ("KEEPALIVE_HOOK_START", OsStr::new("1")),
            ("KEEPALIVE_HOOK_START_ARGS", OsStr::new("--interval 1h")),
            ("OPENCLAW_STATE_DIR", env.state_dir.as_os_str()),
        ],
    );
    // The hook does not wait for `keepalivectl start`; poll until the daemon answers.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status: Value = loop {
        let out = env.ctl(&["--json", "status"]);
        if out.status.success() {
            break serde_json::from_slice(&out.stdout).expect("status JSON");
        }
        assert!(
            Instant::now() < deadline,
            "keepalivectl start never started the daemon: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status["agents"][0]["id"], "main", "{status:#}");
    assert_eq!(status["interval_s"], 3600, "{status:#}");
    assert_eq!(
        status["state_dir"],
        env.state_dir.display().to_string(),
        "{status:#}"
    );
}

/// Companion mode in one gateway process: `gateway:startup` (which starts the
/// daemon unless one runs), then, once `KA_WAIT_FOR_DAEMON` is set, a wait
/// until a daemon answers, then `gateway:shutdown` as OpenClaw sends it. Prints
/// the pid that answered before the shutdown, how long the shutdown handler
/// took, and the warnings.
const COMPANION_SCRIPT: &str = r#"
import { pathToFileURL } from "node:url";
const warnings = [];
console.warn = (...args) => warnings.push(args.join(" "));
const { connect } = await import(pathToFileURL(process.env.KA_CLIENT).href);
const { default: handler } = await import(pathToFileURL(process.env.KA_HANDLER).href);
await handler({ type: "gateway", action: "startup", sessionKey: "gateway:startup", context: {} });
let pid = null;
if (process.env.KA_WAIT_FOR_DAEMON === "1") {
  const deadline = Date.now() + 20000;
  while (pid === null && Date.now() < deadline) {
    try {
      const ka = await connect({ timeoutMs: 1000 });
      pid = (await ka.hello()).pid;
      ka.close();
    } catch { await new Promise((r) => setTimeout(r, 50)); }
  }
}
const t = performance.now();
let threw = null;
try {
  await handler({ type: "gateway", action: "shutdown", sessionKey: "gateway:shutdown",
    context: { reason: "gateway stopping", restartExpectedMs: null } });
} catch (e) { threw = String(e); }
const ms = performance.now() - t;
console.log(JSON.stringify({ pid, ms, threw, warnings }));
"#;

/// Whether process `pid` is gone (or a zombie: the daemon is not our child here).
fn gone(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

#[test]
fn the_hook_stops_the_daemon_it_started_on_gateway_shutdown() {
    if !have_node("the_hook_stops_the_daemon_it_started_on_gateway_shutdown") {
        return;
    }
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let _stop = StopDaemon(&env);
    let handler = handler_module(&env);
    let out = node(
        &env,
        COMPANION_SCRIPT,
        &[
            ("KA_HANDLER", handler.as_os_str()),
            ("KA_WAIT_FOR_DAEMON", OsStr::new("1")),
            ("KEEPALIVE_HOOK_START", OsStr::new("1")),
            ("KEEPALIVE_HOOK_START_ARGS", OsStr::new("--interval 1h")),
            ("OPENCLAW_STATE_DIR", env.state_dir.as_os_str()),
        ],
    );
    let pid = out["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("the hook never started a daemon: {out}"));
    assert_eq!(out["threw"], Value::Null, "{out}");
    assert_eq!(out["warnings"], serde_json::json!([]), "{out}");
    // OpenClaw 2026.4.29 – 2026.5.x give a shutdown hook 1 s before moving on.
    let ms = out["ms"].as_f64().expect("ms");
    assert!(ms < 1000.0, "gateway:shutdown took {ms} ms: {out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gone(pid) {
        assert!(
            Instant::now() < deadline,
            "keepalived (pid {pid}) still runs after gateway:shutdown: {out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!env.socket.exists(), "the daemon left its socket behind");
}

#[test]
fn the_hook_leaves_a_daemon_it_did_not_start_running_on_gateway_shutdown() {
    if !have_node("the_hook_leaves_a_daemon_it_did_not_start_running_on_gateway_shutdown") {
        return;
    }
    let env = Env::new();
    // A daemon that runs as a service: the gateway's `keepalivectl start` finds it.
    let (daemon, _) = quiet_daemon(&env);
    let handler = handler_module(&env);
    for start in ["1", "0"] {
        let out = node(
            &env,
            COMPANION_SCRIPT,
            &[
                ("KA_HANDLER", handler.as_os_str()),
                ("KEEPALIVE_HOOK_START", OsStr::new(start)),
                ("OPENCLAW_STATE_DIR", env.state_dir.as_os_str()),
            ],
        );
        assert_eq!(out["threw"], Value::Null, "{out}");
        assert_eq!(out["warnings"], serde_json::json!([]), "{out}");
        let ms = out["ms"].as_f64().expect("ms");
        assert!(ms < 1000.0, "gateway:shutdown took {ms} ms: {out}");
        // The daemon would have answered `shutdown` at once; give it time to go anyway.
        std::thread::sleep(Duration::from_millis(300));
        let status = env.status();
        assert_eq!(
            status["pid"],
            daemon.pid(),
            "KEEPALIVE_HOOK_START={start}: the service's daemon was stopped or replaced: {status:#}"
        );
    }
}
