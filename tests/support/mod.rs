//! Test harness: real `keepalived` processes in temporary state dirs, the
//! real `keepalivectl`, raw socket clients, and a gateway-style writer.
//!
//! Over 400 lines: the harness every suite shares (`Env`, `Daemon`, `RawClient`, fixtures, the
//! store diff); the parts only some suites use are beside it (`gateway`, `agent_db`,
//! `hostile`).

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod agent_db;
pub mod gateway;
pub mod hostile;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const DAEMON: &str = env!("CARGO_BIN_EXE_keepalived");

/// Daemon flags for the seed behaviour: every session, every tick. The
/// tests of store safety and of the client use it so that what they check
/// does not depend on the activity policy (which tests/activity.rs covers).
pub const KEEP_ALL: [&str; 4] = ["--schedule", "interval", "--active-within", "all"];

/// A reset policy under which the fixtures (made in April 2026) are not
/// stale: idle after ten years, no daily reset.
pub const PERMISSIVE_CONFIG: &str = "// written by the keepalive tests\n{ session: { reset: { mode: 'idle', idleMinutes: 5256000 } } }\n";
pub const CTL: &str = env!("CARGO_BIN_EXE_keepalivectl");

/// Fixtures made with `shared/openclaw/gen-store.mjs` (see tests/fixtures/README.md).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A private world: OpenClaw state dir, keepalive's state home, a short socket path.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub home: PathBuf,
}

impl Env {
    pub fn new() -> Self {
        // Under /tmp with a short name: socket paths must stay under ~100 bytes.
        let dir = tempfile::Builder::new()
            .prefix("ka")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let state_dir = dir.path().join("oc");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&state_dir).expect("state dir");
        std::fs::write(state_dir.join("openclaw.json"), PERMISSIVE_CONFIG).expect("config");
        std::fs::create_dir_all(&home).expect("home");
        let socket = dir.path().join("run").join("k.sock");
        Env {
            state_dir,
            home,
            socket,
            dir,
        }
    }

    pub fn store(&self, agent: &str) -> PathBuf {
        self.state_dir
            .join("agents")
            .join(agent)
            .join("sessions")
            .join("sessions.json")
    }

    /// Writes `bytes` as agent `agent`'s store, mode 0600 like the gateway.
    pub fn add_agent(&self, agent: &str, bytes: &[u8]) -> PathBuf {
        let store = self.store(agent);
        std::fs::create_dir_all(store.parent().expect("parent")).expect("agent dir");
        std::fs::write(&store, bytes).expect("write store");
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        store
    }

    pub fn read_store(&self, agent: &str) -> Vec<u8> {
        std::fs::read(self.store(agent)).expect("read store")
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("XDG_STATE_HOME", self.home.join("state"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("xdg-run"))
            .env("RUST_LOG", "info")
            .env("TZ", "UTC")
            .stdin(Stdio::null());
        command
    }

    /// `keepalived --state-dir ... --socket ... ARGS`, waited on until it answers.
    pub fn daemon(&self, args: &[&str]) -> Daemon {
        let daemon = self.spawn_daemon(args);
        daemon.wait_ready(&self.socket);
        daemon
    }

    /// The daemon with [`KEEP_ALL`] before `args`.
    pub fn daemon_all(&self, args: &[&str]) -> Daemon {
        let mut all = KEEP_ALL.to_vec();
        all.extend_from_slice(args);
        self.daemon(&all)
    }

    /// Spawns the daemon without waiting for it.
    pub fn spawn_daemon(&self, args: &[&str]) -> Daemon {
        self.spawn_daemon_with(args, &[])
    }

    /// Spawns the daemon with extra environment variables, without waiting for it.
    pub fn spawn_daemon_with(&self, args: &[&str], vars: &[(&str, &std::ffi::OsStr)]) -> Daemon {
        self.spawn_daemon_at(&self.socket, args, vars)
    }

    /// Spawns the daemon on another socket (same user, same state dir), without waiting.
    pub fn spawn_daemon_at(
        &self,
        socket: &Path,
        args: &[&str],
        vars: &[(&str, &std::ffi::OsStr)],
    ) -> Daemon {
        let log = self.dir.path().join(format!("daemon-{}.log", unique()));
        let log_file = std::fs::File::create(&log).expect("log");
        let mut command = self.command(DAEMON);
        for (name, value) in vars {
            command.env(name, value);
        }
        let child = command
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--socket")
            .arg(socket)
            .args(args)
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .spawn()
            .expect("spawn keepalived");
        Daemon { child, log }
    }

    /// `keepalived --once ...` run to completion.
    pub fn once(&self, args: &[&str]) -> Output {
        self.command(DAEMON)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--once")
            .args(["--active-within", "all"])
            .args(args)
            .output()
            .expect("run keepalived --once")
    }

    /// `keepalivectl --socket ... ARGS`.
    pub fn ctl(&self, args: &[&str]) -> Output {
        self.command(CTL)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run keepalivectl")
    }

    /// `keepalivectl --socket ... ARGS`, not started yet (for a client that keeps running).
    pub fn ctl_command(&self, args: &[&str]) -> Command {
        let mut command = self.command(CTL);
        command.arg("--socket").arg(&self.socket).args(args);
        command
    }

    /// `keepalivectl ARGS` with extra environment variables.
    pub fn ctl_with(&self, args: &[&str], vars: &[(&str, &std::ffi::OsStr)]) -> Output {
        let mut command = self.command(CTL);
        command.arg("--socket").arg(&self.socket).args(args);
        for (name, value) in vars {
            command.env(name, value);
        }
        command.output().expect("run keepalivectl")
    }

    /// Writes `openclaw.json` (JSON5) in the state dir.
    pub fn config(&self, text: &str) {
        std::fs::write(self.state_dir.join("openclaw.json"), text).expect("config");
    }

    /// `keepalivectl --json ARGS`, asserting success, parsed.
    pub fn ctl_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ctl(&all);
        assert_eq!(
            out.status.code(),
            Some(0),
            "keepalivectl {args:?} failed: {}",
            text(&out)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)))
    }

    pub fn status(&self) -> Value {
        self.ctl_json(&["status"])
    }

    /// `keepalivectl sessions`: the rows. Each report is a round, which reads every store and
    /// compares it with keepalive's last look.
    pub fn sessions(&self) -> Vec<Value> {
        self.ctl_json(&["sessions"])["sessions"]
            .as_array()
            .expect("rows")
            .clone()
    }

    /// `keepalivectl resets ARGS`: the events.
    pub fn resets(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["resets"];
        all.extend_from_slice(args);
        self.ctl_json(&all)["events"]
            .as_array()
            .expect("events")
            .clone()
    }

    /// Polls `status` until `check` holds for it (the daemon works on its own clock).
    pub fn wait_status(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self.status();
            if check(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last status: {status:#}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn client(&self) -> RawClient {
        RawClient::connect(&self.socket)
    }
}

/// A running `keepalived`. Killed (SIGKILL) when dropped if still running.
pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait_ready(&self, socket: &Path) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut client) = UnixStream::connect(socket).map(RawClient::from_stream)
                && client.request(r#"{"v":1,"cmd":"hello"}"#)["ok"] == true
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "keepalived did not become ready; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: plain kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "keepalived did not exit; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A client speaking the wire protocol by hand, as a shell or Node tool would.
pub struct RawClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl RawClient {
    pub fn connect(socket: &Path) -> Self {
        Self::from_stream(UnixStream::connect(socket).expect("connect to the socket"))
    }

    fn from_stream(stream: UnixStream) -> Self {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let writer = stream.try_clone().expect("clone");
        RawClient {
            reader: BufReader::new(stream),
            writer,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// A second handle for writing, e.g. from another thread.
    pub fn try_clone_writer(&self) -> UnixStream {
        self.writer.try_clone().expect("clone")
    }

    /// Half-closes the connection: the daemon sees EOF after what was sent.
    pub fn shutdown_write(&mut self) {
        self.writer
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
    }

    pub fn read_reply(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read reply");
        assert!(n > 0, "the daemon closed the connection");
        assert!(
            line.ends_with('\n'),
            "reply not newline-terminated: {line:?}"
        );
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {line:?}"))
    }

    /// Sends one line (a newline is added) and reads one reply.
    pub fn request(&mut self, line: &str) -> Value {
        self.send_raw(line.as_bytes());
        self.send_raw(b"\n");
        self.read_reply()
    }
}

/// Runs a command built by `command`, retrying while the executable is
/// "busy" (ETXTBSY): a binary this test process just copied stays busy for
/// a moment when another test thread forks.
pub fn output_of_copied_binary(command: impl Fn() -> Command) -> Output {
    for _ in 0..50 {
        match command().output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other.expect("run"),
        }
    }
    panic!("the copied executable stayed busy for a second");
}

/// The row of `key` among the rows of `sessions`.
pub fn row<'a>(rows: &'a [Value], key: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row for {key}: {rows:#?}"))
}

pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that the process exited 0; returns its stdout.
pub fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    stdout(out)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Checks that `after` equals `before` except for timestamps whose digits
/// were replaced by larger ones; returns the (old, new) pairs.
pub fn bumped_digit_spans(before: &[u8], after: &[u8]) -> Vec<(u64, u64)> {
    let (mut i, mut j) = (0, 0);
    let mut changes = Vec::new();
    while i < before.len() || j < after.len() {
        if i < before.len() && j < after.len() && before[i] == after[j] {
            i += 1;
            j += 1;
            continue;
        }
        // Back up to the start of the digit run both sides share.
        let mut start = 0;
        while i - start > 0 && before[i - start - 1].is_ascii_digit() {
            start += 1;
        }
        let (bi, bj) = (i - start, j - start);
        let end_b = bi
            + before[bi..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        let end_a = bj
            + after[bj..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        let old = std::str::from_utf8(&before[bi..end_b])
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        let new = std::str::from_utf8(&after[bj..end_a])
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        match (old, new) {
            (Some(old), Some(new)) if new > old => changes.push((old, new)),
            _ => panic!(
                "store changed outside a timestamp near byte {i}: before {:?} after {:?}",
                String::from_utf8_lossy(
                    &before[bi.saturating_sub(20)..(end_b + 20).min(before.len())]
                ),
                String::from_utf8_lossy(
                    &after[bj.saturating_sub(20)..(end_a + 20).min(after.len())]
                ),
            ),
        }
        i = end_b;
        j = end_a;
    }
    changes
}

/// Parses a store with serde_json (not for stores with lone surrogates).
/// A store as the gateway writes it (`JSON.stringify(store, null, 2)`), from its entries.
pub fn store_of(entries: &[(&str, Value)]) -> Vec<u8> {
    let map: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(key, entry)| ((*key).to_string(), entry.clone()))
        .collect();
    serde_json::to_vec_pretty(&Value::Object(map)).expect("json")
}

pub fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("store is JSON")
}

/// A small deterministic PRNG (xorshift64*): reproducible junk without a
/// dependency. `Rng(seed)` uses the seed as is (it must not be zero);
/// [`Rng::new`] spreads nearby seeds into unrelated streams.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        rng.next();
        rng
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Current wall clock in ms since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
