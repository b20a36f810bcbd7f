//! Statistics, child processes and the running daemon, shared by the benchmarks.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Median and p99 (nearest rank) of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stat {
    pub n: usize,
    pub median: f64,
    pub p99: f64,
}

impl Stat {
    pub fn of(samples: &[Duration]) -> Stat {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        if ms.is_empty() {
            return Stat::default();
        }
        let n = ms.len();
        let median = if n % 2 == 1 {
            ms[n / 2]
        } else {
            (ms[n / 2 - 1] + ms[n / 2]) / 2.0
        };
        let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n);
        Stat {
            n,
            median,
            p99: ms[rank - 1],
        }
    }
}

pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

pub fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "n/a".into()
    }
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The floor of one durable store write: read `src`, write the bytes to a temp file in
/// `dst`'s directory, fsync, rename over `dst`, fsync the directory.
/// The options every in-process benchmark round uses: bump what `decide` says at `now_ms`,
/// a 5 s lock timeout, 3 attempts.
pub fn round_options<'a>(
    now_ms: u64,
    decide: &'a dyn Fn(&keepalive_store::EntryInfo) -> keepalive_store::Fields,
    at_step: Option<&'a dyn Fn(keepalive_store::Step)>,
) -> keepalive_store::RoundOptions<'a> {
    keepalive_store::RoundOptions {
        now_ms,
        decide,
        dry_run: false,
        lock_timeout: Duration::from_secs(5),
        max_attempts: 3,
        cancel: None,
        at_step,
    }
}

/// The floor of a store write: read the bytes, then the durable replace every writer pays
/// (temp file, fsync, rename, fsync dir; the gateway's own, from `openclaw-sim`), nothing else.
pub fn floor_write(src: &Path, dst: &Path) {
    let bytes = std::fs::read(src).expect("floor: read");
    let dir = dst.parent().expect("floor: dir");
    let tmp = dir.join(format!(
        ".floor-{}.tmp",
        dst.file_name().and_then(OsStr::to_str).unwrap_or("x")
    ));
    openclaw_sim::store::durable_replace(&tmp, dst, &bytes).expect("floor: durable write");
}

/// The fields of `/proc/<pid>/stat` after the command name (which is in parentheses and may
/// hold spaces): index 0 is field 3 (state), so field N is at index N - 3.
pub fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Run a command to completion, returning its wall time, exit status and peak RSS (KiB,
/// `ru_maxrss` from `wait4` on this very child, which includes the descendants it waited
/// for: for a shell script, the largest of bash and its `jq`s).
pub fn run_measured(cmd: &mut Command) -> (Duration, bool, u64) {
    let start = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter; wait4 on our own child pid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert_eq!(r, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    std::mem::forget(child);
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (elapsed, ok, usage.ru_maxrss.max(0) as u64)
}

/// Peak RSS (KiB) of one run of `cmd`, measured by a fresh copy of this program (the hidden
/// `__rss` mode) so the figure is not inflated by this process: a child's `ru_maxrss` starts
/// from its parent's RSS at fork (or, with vfork, at exec), and this process may hold a 40 MB
/// store. The helper is small but not nothing: [`rss_floor`] is what it reports for `true`.
pub fn peak_rss(cmd: &Command) -> (bool, u64) {
    let exe = std::env::current_exe().expect("current exe");
    let mut helper = Command::new(exe);
    helper
        .arg("__rss")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => helper.env(k, v),
            None => helper.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        helper.current_dir(dir);
    }
    let out = helper
        .stderr(Stdio::inherit())
        .output()
        .expect("run the __rss helper");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let ok = parts.next() == Some("ok");
    let kib = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (ok && out.status.success(), kib)
}

/// What [`peak_rss`] reports for `true`: the smallest figure it can give.
pub fn rss_floor() -> u64 {
    peak_rss(&Command::new("true")).1
}

/// The `__rss PROGRAM ARGS...` mode: run it, print `ok|failed MAXRSS_KIB`.
pub fn rss_helper(args: &[std::ffi::OsString]) -> ! {
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]);
    let (_, ok, kib) = run_measured(&mut cmd);
    println!("{} {kib}", if ok { "ok" } else { "failed" });
    std::process::exit(0);
}

/// Where the release binaries are.
pub fn find_bin_dir(given: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(dir) = given {
        return check_bins(dir);
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.to_path_buf());
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    candidates.push(manifest.join("../../target/release"));
    candidates.push(manifest.join("../../target/debug"));
    for dir in candidates {
        if let Ok(dir) = check_bins(dir) {
            return Ok(dir);
        }
    }
    Err(
        "keepalived/keepalivectl not found: run `cargo build --release -p keepalive` first, \
         or pass --bin-dir DIR"
            .into(),
    )
}

fn check_bins(dir: PathBuf) -> Result<PathBuf, String> {
    if dir.join("keepalived").is_file() && dir.join("keepalivectl").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "no keepalived and keepalivectl in {}",
            dir.display()
        ))
    }
}

/// A private environment for one daemon: state dir, socket, XDG dirs.
pub struct Env {
    pub root: tempfile::TempDir,
    pub bins: PathBuf,
}

impl Env {
    pub fn new(bins: &Path) -> Env {
        let root = tempfile::Builder::new()
            .prefix("keepalive-bench-")
            .tempdir()
            .expect("tempdir");
        for d in ["state", "home", "xdg-state", "xdg-run"] {
            std::fs::create_dir_all(root.path().join(d)).expect("mkdir");
        }
        Env {
            root,
            bins: bins.to_path_buf(),
        }
    }
    pub fn state_dir(&self) -> PathBuf {
        self.root.path().join("state")
    }
    pub fn socket(&self) -> PathBuf {
        self.root.path().join("xdg-run/keepalived.sock")
    }
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bins.join(program));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root.path().join("home"))
            .env("XDG_STATE_HOME", self.root.path().join("xdg-state"))
            .env("XDG_RUNTIME_DIR", self.root.path().join("xdg-run"))
            .env("TZ", "UTC")
            .env("RUST_LOG", "warn");
        c
    }
    pub fn ctl(&self) -> Command {
        let mut c = self.command("keepalivectl");
        c.arg("--socket").arg(self.socket());
        c
    }
    /// Start `keepalived` on this state dir and wait until it answers `status`.
    pub fn start_daemon(&self, extra: &[&str]) -> Daemon {
        let child = self
            .command("keepalived")
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--socket")
            .arg(self.socket())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn keepalived");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self
                .ctl()
                .arg("status")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "keepalived did not answer in 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon { child }
    }
    /// Store writes per agent so far, from `keepalivectl --json status`.
    pub fn writes(&self, agent: &str) -> u64 {
        let out = self
            .ctl()
            .args(["--json", "status"])
            .output()
            .expect("keepalivectl status");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
        v["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == agent))
            .and_then(|x| x["writes"].as_u64())
            .expect("agent writes in status")
    }
}

pub struct Daemon {
    pub child: Child,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
