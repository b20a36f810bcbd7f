//! 8. What noticing resets (issue 13) adds to a round, in process on the 40 MB store: a whole
//!    tick round of the daemon (`AgentRounds::run`: read, scan, decide, compare with the last
//!    look) against the part that is new, building the look at every session and comparing it
//!    with the last one; and the activity ledger's size with the looks in it, and the time to
//!    save it (it is saved when a look changes, or every 10 minutes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use keepalive::daemon::round::{AgentRounds, Batch, RoundConfig};
use keepalive::openclaw::Clock;
use keepalive::openclaw::discovery::{AgentFiles, Installation};
use keepalive::policy::{Look, PolicyInputs};
use keepalive::resets::notice::{Before, carry_lapses, notice};
use keepalive::settings::{Flags, InForce, Persisted};
use keepalive_proto::ResetVerdict;

use crate::Section;
use crate::store::{self, Size};
use crate::util::{Stat, ms};

/// One agent's rounds as the daemon runs them, under the policy in force in `state_dir`
/// (its openclaw.json, keepalive's defaults).
pub fn agent_rounds_in(
    state_dir: &Path,
    agent: AgentFiles,
    ledger_dir: PathBuf,
    dry_run: bool,
) -> (AgentRounds, PolicyInputs) {
    let config = RoundConfig {
        dry_run,
        lock_timeout: Duration::from_secs(5),
        ledger_dir,
    };
    let installation = Installation::load(state_dir);
    let settings = InForce::of(&Persisted::default(), Flags::default());
    let policy = PolicyInputs::in_force(&settings, &installation, None, false);
    (AgentRounds::new(agent, config), policy)
}

pub fn run(size: Size, rounds: usize) -> Section {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_dir = dir.path().join("state");
    let store_path = store::fresh_store(&state_dir, "main", size);
    let agent = AgentFiles {
        id: "main".into(),
        store: store_path.clone(),
        sqlite: state_dir.join("agents/main/agent/openclaw-agent.sqlite"),
    };
    // Nothing is written: the round's reading, deciding and looking is what is measured.
    let (mut agent_rounds, policy) =
        agent_rounds_in(&state_dir, agent, dir.path().join("ledger"), true);
    let cancel = AtomicBool::new(false);
    let tick = Batch {
        tick: true,
        ..Batch::default()
    };
    // The first round loads the ledger and makes the first look.
    agent_rounds.run(&tick, &policy, &cancel, &Clock::system());
    let mut round_times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let out = agent_rounds.run(&tick, &policy, &cancel, &Clock::system());
        round_times.push(started.elapsed());
        assert!(out.found.looked, "the round looked at every session");
    }

    // The new part alone: the look at every session, compared with an identical last look.
    let snapshot = keepalive_store::read_snapshot(&store_path).expect("read the store");
    let look_of = |e: &keepalive_store::EntryInfo| Look {
        session_id: e.session_id.clone(),
        verdict: ResetVerdict::KeptAlive,
        stale_at_ms: Some(store::now_ms() + 3_600_000),
        stale_rule: Some("idle".into()),
        lifecycle: None,
    };
    let last: BTreeMap<String, Look> = snapshot
        .scan
        .entries
        .iter()
        .map(|e| (e.key.clone(), look_of(e)))
        .collect();
    let mut notice_times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let mut now: BTreeMap<String, Look> = snapshot
            .scan
            .entries
            .iter()
            .map(|e| (e.key.clone(), look_of(e)))
            .collect();
        let before = Before {
            looks: &last,
            at_ms: Some(store::now_ms()),
            by_previous_daemon: false,
            slept_ms: 0,
        };
        carry_lapses(&before, &mut now);
        let events = notice("main", &before, &now, store::now_ms());
        notice_times.push(started.elapsed());
        assert!(events.is_empty(), "nothing changed");
    }

    // The ledger with the looks in it, and one save of it.
    let mut ledger = keepalive::policy::AgentLedger::default();
    ledger.record_looks(last, store::now_ms());
    let ledger_bytes = serde_json::to_vec(&ledger).expect("ledger json");
    let ledger_file = keepalive::policy::LedgerFile::new(dir.path(), "bench");
    let mut save_times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        ledger_file.save(&ledger).expect("save the ledger");
        save_times.push(started.elapsed());
    }

    let (round, look, save) = (
        Stat::of(&round_times),
        Stat::of(&notice_times),
        Stat::of(&save_times),
    );
    let mut section = Section::new(
        "resets",
        "What noticing resets adds to a tick round (in process, nothing written)",
        &[
            "store",
            "tick round median / p99",
            "of which the look and the comparison, median / p99",
            "share of the round",
            "ledger with the looks",
            "ledger save median / p99 (on a change, or every 10 min)",
        ],
    );
    section.row(vec![
        size.label(),
        format!("{} / {} (n={rounds})", ms(round.median), ms(round.p99)),
        format!("{} / {}", ms(look.median), ms(look.p99)),
        format!("{:.2} %", 100.0 * look.median / round.median),
        store::human_bytes(ledger_bytes.len() as u64),
        format!("{} / {}", ms(save.median), ms(save.p99)),
    ]);
    section.notes.push(format!(
        "`AgentRounds::run` with a tick on a dry run (nothing due is written), default policy, \
         {} sessions all in use; the look and the comparison are timed apart on the same \
         entries (`carry_lapses` and `resets::notice` against an identical last look: the steady state, no event). \
         The ledger is saved with `write_atomically` (temp file, fsync, rename, fsync dir).",
        size.entries
    ));
    section
}
