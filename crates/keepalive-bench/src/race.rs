//! 6. Race: the gateway updates lost to a second writer. A gateway simulator in another
//!    process (this binary's hidden `gateway-sim` mode running `openclaw-sim`'s writer, written
//!    from docs/GATEWAY.md, lock era) makes numbered updates under the gateway's lock while
//!    the baseline script runs in a loop, then while a real `keepalived` takes a burst of
//!    touches and touches back to back.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::Section;
use crate::client::{self, KEY};
use crate::round;
use crate::store::{self, Size};
use crate::util::{self, Env};

use crate::gateway_sim::FIELD;

pub struct Plan {
    pub size: Size,
    /// Updates the gateway simulator makes in each half.
    pub updates: u64,
    /// Its pause between updates (outside the lock).
    pub interval: Duration,
    /// Clients of the burst fired during keepalive's half.
    pub clients: usize,
}

pub fn run(bins: &Path, plan: &Plan, baseline: Option<&Path>) -> Section {
    let mut s = Section::new(
        "race",
        "Race: a gateway simulator's locked updates against a second writer (lost updates)",
        &[
            "writer racing the gateway",
            "store",
            "gateway updates made",
            "gateway updates lost",
            "writer activity during the gateway's run",
            "gateway updates that waited for the lock (max wait)",
            "gateway run time",
            "final store",
        ],
    );
    let jq = round::jq_available();
    let baseline = baseline.filter(|p| p.is_file());
    match (jq, baseline) {
        (true, Some(script)) => s.row(against_baseline(bins, plan, script)),
        _ => {
            s.row(vec![
                "baseline script in a loop".into(),
                plan.size.label(),
                "not run".into(),
                "not run".into(),
                "not run".into(),
                "n/a".into(),
                "n/a".into(),
                "n/a".into(),
            ]);
            s.note(if jq {
                "the baseline script was not found (pass --baseline PATH): its half was not run."
            } else {
                "`jq` is not installed: the baseline half was not run."
            });
        }
    }
    let (row, failure) = against_keepalive(bins, plan);
    s.row(row);
    if let Some(f) = failure {
        s.note(&format!("keepalive half, first failed touch: {}", f.trim()));
    }
    s.note(&format!(
        "The gateway simulator is another process (`keepalive-bench gateway-sim`) following \
         docs/GATEWAY.md (lock era): lock file `sessions.json.lock` in the realpath of the store's directory, \
         created O_CREAT|O_EXCL with `{{pid, createdAt, starttime}}`; a held lock is removed only \
         when stale (dead, zombie or recycled pid, `createdAt` older than 30 s, unreadable and \
         mtime older than 30 s), otherwise retried after min(1000, 50 × attempt) ms for up to \
         10 s; under the lock it re-reads the store, adds 1 to `{FIELD}` of `{KEY}`, writes \
         `sessions.json.<uuid>.tmp`, fsync, rename, fsync dir, chmod 0600, and removes the lock. \
         {} updates, {} ms apart (the pause is outside the lock).",
        plan.updates,
        plan.interval.as_millis()
    ));
    s.note(&format!(
        "Lost = updates made − the `{FIELD}` left in the store at the end: each update a writer \
         overwrote with an older copy of the store takes 1 off. \"Noticed\" counts those the \
         simulator found missing when it re-read the store for its next update."
    ));
    s.note(
        "Baseline: `bash update-session-timestamps.sh main` (OPENCLAW_STATE_DIR on the temp store) \
         run back to back for the whole of the simulator's run, as a shell loop would; it takes \
         no lock, so a gateway write between its jq read and its mv is overwritten.",
    );
    s.note(&format!(
        "keepalive: `keepalived --schedule interval --interval 1s` (its timer writes too) on a \
         store of the same size; one client sends touches of `{KEY}` back to back over the raw \
         socket (a connection each) for the whole run, and when the simulator has made a third \
         of its updates {} clients send one touch each at once, as in `burst`. A `store_busy` \
         reply means the daemon gave up waiting for the lock (`--lock-timeout`, 5 s) and wrote \
         nothing. Store writes are `writes` in `keepalivectl --json status`, after minus before.",
        plan.clients
    ));
    s
}

fn against_baseline(bins: &Path, plan: &Plan, script: &Path) -> Vec<String> {
    let env = Env::new(bins);
    let store = store::fresh_store(&env.state_dir(), "main", plan.size);
    let mut sim = Sim::spawn(&store, plan);
    let (mut runs, mut ok) = (0u64, 0u64);
    while sim.running() {
        let mut cmd = round::baseline_cmd(script, &env.state_dir());
        cmd.env("HOME", env.root.path().join("home"));
        let (_, success, _) = util::run_measured(&mut cmd);
        runs += 1;
        ok += u64::from(success);
    }
    let report = sim.finish();
    row(
        "baseline: `update-session-timestamps.sh` in a loop".into(),
        plan,
        &report,
        format!("{runs} runs of the script ({ok} succeeded), each rewriting the whole store"),
        &store,
    )
}

/// Touches sent back to back by one client, by outcome.
#[derive(Default)]
struct Steady {
    sent: u64,
    acked: u64,
    busy: u64,
    failed: u64,
    first_failure: Option<String>,
}

fn steady_touches(socket: PathBuf, stop: Arc<AtomicBool>) -> JoinHandle<Steady> {
    std::thread::spawn(move || {
        let mut c = Steady::default();
        while !stop.load(Ordering::Relaxed) {
            c.sent += 1;
            let reply = UnixStream::connect(&socket)
                .map_err(|e| e.to_string())
                .and_then(|stream| client::send_touch(&stream));
            match reply {
                Ok(v) if v["ok"] == true => c.acked += 1,
                Ok(v) if v["error"]["code"] == "store_busy" => c.busy += 1,
                other => {
                    c.failed += 1;
                    let text = other.map_or_else(|e| e, |v| v.to_string());
                    c.first_failure.get_or_insert(text);
                }
            }
        }
        c
    })
}

fn against_keepalive(bins: &Path, plan: &Plan) -> (Vec<String>, Option<String>) {
    let env = Env::new(bins);
    let store = store::fresh_store(&env.state_dir(), "main", plan.size);
    let _daemon = env.start_daemon(&["--schedule", "interval", "--interval", "1s"]);
    let before = env.writes("main");
    let stop = Arc::new(AtomicBool::new(false));
    let mut sim = Sim::spawn(&store, plan);
    let steady = steady_touches(env.socket(), Arc::clone(&stop));
    while sim.running() && sim.made() < plan.updates / 3 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let burst = client::fire_burst(&env.socket(), plan.clients);
    while sim.running() {
        std::thread::sleep(Duration::from_millis(2));
    }
    let report = sim.finish();
    let writes = env.writes("main").saturating_sub(before);
    stop.store(true, Ordering::Relaxed);
    let steady = steady.join().expect("touch thread");
    let activity = format!(
        "{writes} store writes; burst: {} of {} acknowledged in {}; back to back: {} touches, \
         {} acknowledged, {} store_busy, {} failed",
        burst.acked.len(),
        plan.clients,
        util::ms(burst.wall.as_secs_f64() * 1e3),
        steady.sent,
        steady.acked,
        steady.busy,
        steady.failed
    );
    let failure = burst.failures.first().cloned().or(steady.first_failure);
    (
        row(
            "keepalived: burst + touches back to back".into(),
            plan,
            &report,
            activity,
            &store,
        ),
        failure,
    )
}

fn row(writer: String, plan: &Plan, report: &Value, activity: String, store: &Path) -> Vec<String> {
    let n = |k: &str| report[k].as_u64().unwrap_or(0);
    let made = n("made");
    let mut made_cell = format!("{made} of {}", plan.updates);
    for (k, what) in [
        ("gaveUp", "gave up waiting for the lock"),
        ("unreadable", "found the store unreadable and skipped"),
        ("errors", "failed"),
        ("staleRemoved", "stale locks removed"),
    ] {
        if n(k) > 0 {
            made_cell.push_str(&format!("; {} {what}", n(k)));
        }
    }
    let (lost, fin) = match inspect(store) {
        Ok((entries, counter)) => {
            let lost = made.saturating_sub(counter);
            let pct = if made > 0 {
                lost as f64 * 100.0 / made as f64
            } else {
                0.0
            };
            (
                format!(
                    "{lost} of {made} ({pct:.1} %); {} noticed mid-run",
                    n("rolledBack")
                ),
                format!("valid JSON, {entries} entries, {FIELD} = {counter}"),
            )
        }
        Err(e) => ("unknown".into(), format!("INVALID: {e}")),
    };
    vec![
        writer,
        plan.size.label(),
        made_cell,
        lost,
        activity,
        format!(
            "{} ({})",
            n("waited"),
            util::ms(report["maxWaitMs"].as_f64().unwrap_or(0.0))
        ),
        format!("{:.1} s", report["wallMs"].as_f64().unwrap_or(0.0) / 1e3),
        fin,
    ]
}

/// The final store: its number of entries and the counter of entry [`KEY`].
fn inspect(store: &Path) -> Result<(usize, u64), String> {
    let bytes = std::fs::read(store).map_err(|e| format!("read: {e}"))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let counter = obj
        .get(KEY)
        .and_then(|e| e.get(FIELD))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok((obj.len(), counter))
}

/// The simulator as seen from the benchmark: its process, and its progress read from its
/// stdout (`made N` after each update, `done {json}` at the end).
struct Sim {
    child: Option<Child>,
    made: Arc<AtomicU64>,
    reader: Option<JoinHandle<Option<String>>>,
}

impl Sim {
    fn spawn(store: &Path, plan: &Plan) -> Sim {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .arg("gateway-sim")
            .arg("--store")
            .arg(store)
            .args(["--key", KEY])
            .args(["--updates", &plan.updates.to_string()])
            .args(["--interval-ms", &plan.interval.as_millis().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the gateway simulator");
        let stdout = child.stdout.take().expect("simulator stdout");
        let made = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&made);
        let reader = std::thread::spawn(move || {
            let mut done = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("made ") {
                    counter.store(n.parse().unwrap_or(0), Ordering::Relaxed);
                } else if let Some(report) = line.strip_prefix("done ") {
                    done = Some(report.to_owned());
                }
            }
            done
        });
        Sim {
            child: Some(child),
            made,
            reader: Some(reader),
        }
    }

    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Wait for the end and return the simulator's report.
    fn finish(&mut self) -> Value {
        let status = self
            .child
            .take()
            .expect("simulator already finished")
            .wait()
            .expect("wait for the gateway simulator");
        let done = self
            .reader
            .take()
            .and_then(|r| r.join().ok())
            .flatten()
            .and_then(|d| serde_json::from_str(&d).ok());
        done.unwrap_or_else(|| panic!("the gateway simulator ended ({status}) without its report"))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
