//! 9. What an SQLite agent (OpenClaw 2026.8+) costs a tick now that its sessions are read every
//!    round (issue 13): before, a round only asked the database whether it holds the sessions
//!    (the probe); now it reads every row of `session_nodes`, works out when each session
//!    would expire, and compares the look with the last one. Timed in process on databases of
//!    2026.9.6's own schema; `sessions` (a report round) is timed too.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use keepalive::daemon::round::Batch;
use keepalive::openclaw::Clock;
use keepalive::openclaw::agent_db;
use keepalive::openclaw::discovery::AgentFiles;
use openclaw_sim::agent_db::{Left, SESSION_SCHEMA_2026_9, Session, put_sessions, write_db};

use crate::Section;
use crate::resets::agent_rounds_in;
use crate::store::{self, human_bytes};
use crate::util::{Stat, ms};

/// One database to measure: how many sessions, and how many bytes of padding in each entry.
#[derive(Debug, Clone, Copy)]
pub struct Db {
    pub sessions: usize,
    pub padding: usize,
}

pub fn run(dbs: &[Db], rounds: usize) -> Section {
    let mut section = Section::new(
        "sqlite",
        "An SQLite agent's tick: the probe it was, the read and look it is (in process)",
        &[
            "database",
            "probe only (before), median",
            "reading every row, median / p99",
            "tick round, median / p99",
            "of which new (tick − probe)",
            "sessions report round, median / p99",
            "ledger with the looks",
        ],
    );
    for db in dbs {
        section.row(measure(*db, rounds));
    }
    section.note(
        "The database is 2026.9.6's schema (`openclaw-sim`'s dump of the release's own \
         `doctor --fix`), closed cleanly (WAL, no side files), sessions all interacted with 5 \
         minutes ago, `session.reset` idle 120 min so that every expiry is computed. A tick \
         round is `AgentRounds::run` with a tick: it reads every row (one `json_extract` per \
         entry), works out each session's expiry, and compares the look with the last one \
         (no change: the steady state). Nothing is written to the database, ever.",
    );
    section
}

fn measure(db: Db, rounds: usize) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_dir = dir.path().join("state");
    let agent_dir = state_dir.join("agents/main/agent");
    std::fs::create_dir_all(&agent_dir).expect("agent dir");
    std::fs::write(
        state_dir.join("openclaw.json"),
        "{ session: { reset: { mode: 'idle', idleMinutes: 120 } } }",
    )
    .expect("config");
    let path = agent_dir.join("openclaw-agent.sqlite");
    fill(&path, db);
    let db_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

    let agent = AgentFiles {
        id: "main".into(),
        store: state_dir.join("agents/main/sessions/sessions.json"),
        sqlite: path.clone(),
    };
    // Not a dry run: keepalive writes nothing to an agent database anyway, and the ledger
    // (where the looks are kept) is saved as the daemon saves it.
    let (mut agent_rounds, policy) =
        agent_rounds_in(&state_dir, agent, dir.path().join("ledger"), false);
    let cancel = AtomicBool::new(false);
    let tick = Batch {
        tick: true,
        ..Batch::default()
    };
    let report = Batch {
        reports: 1,
        ..Batch::default()
    };
    // The first round loads the ledger and makes the first look.
    agent_rounds.run(&tick, &policy, &cancel, &Clock::system());
    agent_rounds.save_ledger();

    let time = |f: &mut dyn FnMut()| {
        let samples: Vec<Duration> = (0..rounds)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed()
            })
            .collect();
        Stat::of(&samples)
    };
    let probe = time(&mut || {
        let found = agent_db::probe(&path).expect("probe");
        assert!(
            found.is_some_and(|d| d.holds_sessions),
            "the sessions are there"
        );
    });
    let read = time(&mut || {
        let (_, nodes) = agent_db::sessions(&path)
            .expect("read")
            .expect("a database");
        assert_eq!(nodes.len(), db.sessions, "every row read");
    });
    let round = time(&mut || {
        let out = agent_rounds.run(&tick, &policy, &cancel, &Clock::system());
        assert!(out.found.looked, "the round looked at every session");
        assert!(out.found.resets.is_empty(), "nothing changed");
    });
    let listing = time(&mut || {
        let out = agent_rounds.run(&report, &policy, &cancel, &Clock::system());
        let rows = out.answers.report.expect("rows");
        assert_eq!(rows.len(), db.sessions, "a row per session");
        assert!(rows.iter().all(|r| r.stale_at_ms.is_some()), "every expiry");
    });
    let ledger_bytes = std::fs::read_dir(dir.path().join("ledger"))
        .expect("the ledger was saved")
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum::<u64>();
    assert!(ledger_bytes > 0, "the ledger holds the looks");

    vec![
        format!(
            "{} sessions, entries ≈{} B, {}",
            db.sessions,
            db.padding + 250,
            human_bytes(db_bytes)
        ),
        ms(probe.median),
        format!("{} / {}", ms(read.median), ms(read.p99)),
        format!("{} / {} (n={rounds})", ms(round.median), ms(round.p99)),
        ms(round.median - probe.median),
        format!("{} / {}", ms(listing.median), ms(listing.p99)),
        human_bytes(ledger_bytes),
    ]
}

/// 2026.9.6's session table with `db.sessions` sessions, as the gateway leaves it when it stops.
fn fill(path: &Path, db: Db) {
    write_db(path, SESSION_SCHEMA_2026_9, Left::Closed);
    let at_ms = store::now_ms() - 5 * 60_000;
    let names: Vec<(String, String)> = (0..db.sessions)
        .map(|i| {
            (
                format!("agent:main:telegram:direct:{i:06}"),
                format!("00000000-0000-4000-8000-{i:012}"),
            )
        })
        .collect();
    let sessions: Vec<Session> = names
        .iter()
        .map(|(key, id)| Session {
            key,
            session_id: id,
            lifecycle_revision: None,
            at_ms,
            padding: db.padding,
        })
        .collect();
    put_sessions(path, &sessions);
    // The fixture's own session is there too: drop it, so the count is the one asked for.
    openclaw_sim::agent_db::delete_session(path, "agent:main:main");
}
