//! 5. Store writes in a simulated day: the library's pure decision
//!    (`keepalive::policy::decide`) driven by a simulated clock, one step per tick, as the
//!    daemon's round does it: a tick writes when any kept session is due, and then bumps every
//!    kept session to now and records its own write in the ledger.

use jiff::tz::TimeZone;
use keepalive::openclaw::{Clock, Facing, Generation, Release, ResetConfig};
use keepalive::policy::{AgentLedger, Context, Rules, Schedule, Transcript, decide};
use keepalive_store::{EntryInfo, Timestamp};

use crate::Section;

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;

pub struct DayResult {
    pub writes: u64,
    /// Writes per reason of the session that fell due first ("idle reset after 60 min ...",
    /// "daily reset at 04:00", "every tick ...").
    pub by_reason: std::collections::BTreeMap<String, u64>,
    pub ticks: u64,
    pub kept_at_end: usize,
}

fn entry(key: String, updated_at: u64) -> EntryInfo {
    EntryInfo {
        key,
        key_lossy: false,
        updated_at: Timestamp::Integer {
            value: updated_at,
            span: 0..0,
        },
        last_interaction_at: Timestamp::Missing,
        session_started_at: Timestamp::Missing,
        session_file: None,
        chat_type: Some("direct".into()),
        channel: None,
        last_channel: Some("telegram".into()),
        session_id: None,
    }
}

pub fn simulate(schedule: Schedule, sessions: usize, tick_ms: u64, start_ms: u64) -> DayResult {
    let reset = ResetConfig::from_session(serde_json::json!({
        "reset": {"mode": "daily", "atHour": 4, "idleMinutes": 60},
    }));
    let rules = Rules::default();
    let facing = Facing::known(Release::new(2026, 4, 12));
    let mut ledger = AgentLedger::default();
    // 20 sessions in use: each last interacted with in the 40 minutes before the start
    // (the gateway's own updatedAt) and touched by a hook at the start.
    let mut entries: Vec<EntryInfo> = (0..sessions)
        .map(|i| {
            let key = format!("agent:main:telegram:direct:{}", 1000 + i);
            entry(key, start_ms - (i as u64 * 2 * MIN) % (40 * MIN))
        })
        .collect();
    for e in &entries {
        ledger.record_touch(&e.key, start_ms);
    }
    let mut writes = 0;
    let mut by_reason = std::collections::BTreeMap::new();
    let mut ticks = 0;
    let mut kept_at_end = 0;
    let mut now = start_ms;
    while now < start_ms + 24 * HOUR {
        ticks += 1;
        let clock = Clock {
            now_ms: now,
            tz: TimeZone::UTC,
        };
        let ctx = Context {
            agent: "main",
            generation: Generation::JsonV1,
            facing: &facing,
            rules: &rules,
            reset: &reset,
            clock: &clock,
            window_ms: Some(24 * HOUR),
            margin_ms: 2 * tick_ms,
            schedule,
            bump_session_start: false,
            ledger: &ledger,
        };
        let decisions: Vec<_> = entries
            .iter()
            .map(|e| decide(e, Transcript::default(), &ctx))
            .collect();
        kept_at_end = decisions.iter().filter(|d| d.keep).count();
        let due = decisions.iter().any(|d| d.due(now));
        for (d, e) in decisions.iter().zip(&entries) {
            if let Some(a) = d.activity {
                ledger.record_activity(&e.key, a.at_ms, a.source.as_str());
            }
        }
        if due {
            writes += 1;
            let first = decisions
                .iter()
                .filter(|d| d.due(now))
                .filter_map(|d| d.write_at.as_ref())
                .min_by_key(|(at, _)| *at);
            if let Some((_, why)) = first {
                *by_reason.entry(why.clone()).or_insert(0) += 1;
            }
            for (d, e) in decisions.iter().zip(entries.iter_mut()) {
                if d.keep {
                    e.updated_at = Timestamp::Integer {
                        value: now,
                        span: 0..0,
                    };
                    ledger.record_write(&e.key, d.fields, now);
                }
            }
        }
        now += tick_ms;
    }
    DayResult {
        writes,
        by_reason,
        ticks,
        kept_at_end,
    }
}

pub fn run(sessions: usize) -> Section {
    let tick = 60_000;
    // 2026-11-24T10:00:00Z: the simulated day crosses the 04:00 daily boundary.
    let start: u64 = 1_795_514_400_000;
    let policy = simulate(Schedule::Policy, sessions, tick, start);
    let interval = simulate(Schedule::Interval, sessions, tick, start);
    let mut s = Section::new(
        "writes-per-day",
        "Store writes in a simulated day (idle 60 min, daily at 04:00 UTC, tick 60 s)",
        &[
            "sessions in use",
            "ticks",
            "writes, --schedule interval",
            "writes, --schedule policy",
            "interval ÷ policy",
            "policy writes by the reason that fell due first",
            "sessions still kept at the end (policy / interval)",
        ],
    );
    s.row(vec![
        sessions.to_string(),
        policy.ticks.to_string(),
        interval.writes.to_string(),
        policy.writes.to_string(),
        format!(
            "{:.0}×",
            interval.writes as f64 / policy.writes.max(1) as f64
        ),
        policy
            .by_reason
            .iter()
            .map(|(why, n)| format!("{n} × {why}"))
            .collect::<Vec<_>>()
            .join("; "),
        format!("{} / {}", policy.kept_at_end, interval.kept_at_end),
    ]);
    s.note(
        "Pure simulation, no files: `keepalive::policy::decide` with a `Clock` stepped by the tick over \
         24 h from 2026-11-24T10:00Z, json-v1 entries (updatedAt), activity window 24 h, margin two \
         ticks (as the daemon sets it). A tick writes when any kept session is due; a write bumps every \
         kept session to now and records it in the ledger, as `daemon/round.rs` does. The sessions' only \
         real activity is a touch at the start, so all stay in use for the whole day.",
    );
    s
}
