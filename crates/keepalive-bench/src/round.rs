//! 1. One round on one store: keepalive in-process, the floor, the jq baseline; peak RSS of
//!    `keepalived --once` against the baseline script's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use keepalive_store::{Fields, bump_store};

use crate::Section;
use crate::store::{self, Size};
use crate::util::{self, Env, Stat, mib, ms, ratio};

pub struct Plan {
    pub size: Size,
    /// Runs of keepalive and of the floor.
    pub runs: usize,
    /// Runs of the jq baseline (slow on big stores).
    pub baseline_runs: usize,
}

pub fn run(bins: &Path, plans: &[Plan], baseline: Option<&Path>) -> Section {
    let jq = jq_available();
    let baseline = baseline.filter(|p| p.is_file());
    let mut s = Section::new(
        "round",
        "One round on one store (lock, read, bump every entry, durable atomic write, unlock)",
        &[
            "store",
            "actual size",
            "keepalive median / p99",
            "lock hold median / max",
            "floor median / p99",
            "keepalive ÷ floor",
            "jq baseline median",
            "baseline ÷ keepalive",
            "peak RSS keepalived --once",
            "peak RSS jq script",
            "keepalived RSS ÷ store size",
        ],
    );
    for plan in plans {
        let env = Env::new(bins);
        let state = env.state_dir();
        let bytes = store::store_bytes(plan.size, "main", &state, store::now_ms(), 6 * 3600 * 1000);
        let actual = bytes.len() as u64;
        let store = store::write_store(&state, "main", &bytes);
        drop(bytes);

        let mut keep = Vec::new();
        let mut holds = Vec::new();
        let mut floor = Vec::new();
        let mut base = Vec::new();
        let mut last_now = 0u64;
        let all = |_: &keepalive_store::EntryInfo| Fields::UPDATED_AT;
        for i in 0..plan.runs {
            let t = Instant::now();
            util::floor_write(&store, &store);
            floor.push(t.elapsed());

            let now = store::now_ms().max(last_now + 1);
            last_now = now;
            let opts = util::round_options(now, &all, None);
            let t = Instant::now();
            let outcome = bump_store(&store, &opts).expect("bump_store");
            keep.push(t.elapsed());
            assert!(outcome.written, "round wrote nothing");
            holds.push(outcome.lock_hold);

            if let (true, Some(script)) = (jq, baseline)
                && i < plan.baseline_runs
            {
                let (d, ok, _) = util::run_measured(&mut baseline_cmd(script, &state));
                assert!(ok, "baseline script failed");
                base.push(d);
            }
        }
        let (k, f, b) = (Stat::of(&keep), Stat::of(&floor), Stat::of(&base));
        let h = Stat::of(&holds);
        let hold_max = holds.iter().max().copied().unwrap_or_default();

        // Peak RSS: one child at a time, each measured by a fresh helper (see peak_rss).
        let (ok, rss_keep) = util::peak_rss(
            env.command("keepalived")
                .arg("--state-dir")
                .arg(&state)
                .args(["--once", "--active-within", "all", "--schedule", "interval"]),
        );
        assert!(ok, "keepalived --once failed");
        let rss_base = match (jq, baseline) {
            (true, Some(script)) => {
                let (ok, rss) = util::peak_rss(&baseline_cmd(script, &state));
                assert!(ok, "baseline script failed");
                Some(rss)
            }
            _ => None,
        };
        s.row(vec![
            plan.size.label(),
            store::human_bytes(actual),
            format!("{} / {} (n={})", ms(k.median), ms(k.p99), k.n),
            format!("{} / {}", ms(h.median), ms(hold_max.as_secs_f64() * 1e3)),
            format!("{} / {}", ms(f.median), ms(f.p99)),
            ratio(k.median, f.median),
            if b.n > 0 {
                format!("{} (n={})", ms(b.median), b.n)
            } else {
                "not run".into()
            },
            if b.n > 0 {
                ratio(b.median, k.median)
            } else {
                "n/a".into()
            },
            mib(rss_keep),
            rss_base.map_or("not run".into(), mib),
            format!("{:.2}×", rss_keep as f64 * 1024.0 / actual as f64),
        ]);
    }
    if !jq {
        s.note("`jq` is not installed: the baseline was not run.");
    }
    if baseline.is_none() {
        s.note(
            "the baseline script was not found (pass --baseline PATH): the baseline was not run.",
        );
    }
    s.note(
        "keepalive is `keepalive_store::bump_store` in process (all entries, `Fields::UPDATED_AT`, \
         lock timeout 5 s); the floor reads the same bytes and writes them to a temp file in the same \
         directory, fsync, rename, fsync dir; the baseline is `bash update-session-timestamps.sh main` \
         (a process per run, so it includes bash and two jq start-ups). Runs interleave floor, \
         keepalive, baseline.",
    );
    s.note(&format!(
        "Peak RSS: `ru_maxrss` from `wait4` on one child at a time, spawned by a fresh small helper \
         process (a child's maxrss starts from its parent's RSS, and the harness itself holds the \
         store): `keepalived --once --active-within all --schedule interval` (whole daemon start-up, \
         one round) and the baseline script (the largest of bash and its jq processes). The helper \
         reports {} for `true`: figures near that are at the measurement floor.",
        mib(util::rss_floor())
    ));
    s
}

/// Whether `jq`, which the baseline script runs, is installed.
pub fn jq_available() -> bool {
    Command::new("jq")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `bash SCRIPT main` against the stores of `state` (`OPENCLAW_STATE_DIR`).
pub fn baseline_cmd(script: &Path, state: &Path) -> Command {
    let mut c = Command::new("bash");
    c.arg(script)
        .arg("main")
        .env("OPENCLAW_STATE_DIR", state)
        .env("TZ", "UTC");
    c
}

pub fn default_baseline() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/baseline/update-session-timestamps.sh");
    p.is_file().then_some(p)
}
