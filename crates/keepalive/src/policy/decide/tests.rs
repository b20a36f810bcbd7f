//! The decision driven by explicit clocks: idle and daily deadlines,
//! per-channel overrides, generations, activity sources and rules.
//!
//! Over 400 lines: sixteen tests, one per rule of the decision, each with the clock and entries
//! it needs.

use super::*;
use crate::openclaw::{Release, ResetConfig};
use jiff::tz::TimeZone;
use keepalive_proto::{Rule as RuleSpec, RuleAction};
use keepalive_store::Timestamp;
use serde_json::json;

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;

fn at(iso: &str) -> u64 {
    let ts: jiff::Timestamp = iso.parse().expect("timestamp");
    u64::try_from(ts.as_millisecond()).expect("after 1970")
}

fn clock(now: u64) -> Clock {
    Clock {
        now_ms: now,
        tz: TimeZone::UTC,
    }
}

fn ts(value: Option<u64>) -> Timestamp {
    match value {
        Some(value) => Timestamp::Integer { value, span: 0..0 },
        None => Timestamp::Missing,
    }
}

fn entry(key: &str, updated: Option<u64>, last: Option<u64>, started: Option<u64>) -> EntryInfo {
    EntryInfo {
        key: key.into(),
        key_lossy: false,
        updated_at: ts(updated),
        last_interaction_at: ts(last),
        session_started_at: ts(started),
        session_file: None,
        chat_type: None,
        channel: None,
        last_channel: None,
        session_id: None,
    }
}

fn idle(minutes: u64) -> ResetConfig {
    ResetConfig::from_session(json!({"reset": {"mode": "idle", "idleMinutes": minutes}}))
}

fn daily(hour: u8) -> ResetConfig {
    ResetConfig::from_session(json!({"reset": {"mode": "daily", "atHour": hour, "idleMinutes": 0}}))
}

struct World {
    rules: Rules,
    reset: ResetConfig,
    ledger: AgentLedger,
    generation: Generation,
    facing: Facing,
    window_ms: Option<u64>,
    schedule: Schedule,
    bump_session_start: bool,
}

impl World {
    fn new(reset: ResetConfig) -> Self {
        World {
            rules: Rules::default(),
            reset,
            ledger: AgentLedger::default(),
            generation: Generation::JsonV1,
            facing: Facing::known(Release::new(2026, 4, 12)),
            window_ms: Some(24 * HOUR),
            schedule: Schedule::Policy,
            bump_session_start: false,
        }
    }

    fn context<'a>(&'a self, clock: &'a Clock) -> Context<'a> {
        Context {
            agent: "main",
            generation: self.generation,
            facing: &self.facing,
            rules: &self.rules,
            reset: &self.reset,
            clock,
            window_ms: self.window_ms,
            margin_ms: 2 * MIN,
            schedule: self.schedule,
            bump_session_start: self.bump_session_start,
            ledger: &self.ledger,
        }
    }

    fn decide(&self, e: &EntryInfo, transcript: Option<u64>, now: u64) -> Decision {
        let clock = clock(now);
        let ctx = self.context(&clock);
        let transcript = Transcript {
            modified_ms: transcript,
            started_ms: None,
        };
        decide(e, transcript, &ctx)
    }
}

#[test]
fn idle_sessions_are_written_a_margin_before_their_deadline() {
    let world = World::new(idle(60));
    let now = at("2026-11-24T10:00:00Z");
    let e = entry("agent:main:main", Some(now - 10 * MIN), None, None);
    let d = world.decide(&e, None, now);
    assert!(d.keep, "{}", d.detail);
    assert_eq!(d.reason, Reason::InUse);
    assert_eq!(
        d.activity,
        Some(Activity {
            at_ms: now - 10 * MIN,
            source: Source::Gateway
        })
    );
    let deadline = now - 10 * MIN + 60 * MIN + 1;
    assert_eq!(d.stale_at, Some((deadline, Rule::Idle)));
    let (write_at, why) = d.write_at.clone().expect("a planned write");
    assert_eq!(write_at, deadline - 2 * MIN);
    assert!(why.contains("idle"), "{why}");
    assert!(!d.due(now));
    assert!(!d.due(write_at - 1));
    assert!(d.due(write_at));
}

#[test]
fn a_session_stale_beyond_the_margin_is_not_revived_but_one_just_stale_is_kept() {
    let world = World::new(idle(60));
    let now = at("2026-11-24T10:00:00Z");
    let long_gone = entry("a", Some(now - 3 * HOUR), None, None);
    let d = world.decide(&long_gone, Some(now - 3 * HOUR), now);
    assert!(!d.keep);
    assert_eq!(d.reason, Reason::StaleAlready);
    assert_eq!(d.stale_already, Some(Rule::Idle));
    // Went stale one minute ago (a late tick): nobody can have seen it stale
    // yet, so it is still kept, and due at once.
    let just = entry("b", Some(now - 61 * MIN), None, None);
    let d = world.decide(&just, None, now);
    assert!(d.keep, "{}", d.detail);
    assert!(d.due(now));
}

#[test]
fn the_daily_rule_is_served_right_after_the_boundary() {
    let world = World::new(daily(4));
    let before = at("2026-11-24T02:00:00Z");
    let e = entry("k", Some(at("2026-11-24T01:59:00Z")), None, None);
    let d = world.decide(&e, None, before);
    assert!(d.keep);
    // A bump before 04:00 cannot help: the timestamp must be after it.
    assert_eq!(
        d.write_at.clone().map(|w| w.0),
        Some(at("2026-11-24T04:00:00Z"))
    );
    assert!(!d.due(before));
    // 30 s after the boundary: stale, but within the margin: due now.
    let d = world.decide(&e, None, at("2026-11-24T04:00:30Z"));
    assert!(d.keep, "{}", d.detail);
    assert!(d.due(at("2026-11-24T04:00:30Z")));
    // An hour later it is stale already: left to the gateway.
    let d = world.decide(&e, None, at("2026-11-24T05:00:00Z"));
    assert_eq!(d.reason, Reason::StaleAlready);
    assert_eq!(d.stale_already, Some(Rule::Daily));
}

#[test]
fn the_daily_boundary_is_local_time() {
    let world = World::new(daily(4));
    // 04:00 in UTC-5 is 09:00 UTC.
    let e = entry("k", Some(at("2026-11-24T08:00:00Z")), None, None);
    let clock = Clock {
        now_ms: at("2026-11-24T08:30:00Z"),
        tz: TimeZone::fixed(jiff::tz::offset(-5)),
    };
    let d = decide(&e, Transcript::default(), &world.context(&clock));
    assert_eq!(d.write_at.map(|w| w.0), Some(at("2026-11-24T09:00:00Z")));
}

#[test]
fn reset_by_channel_overrides_the_default() {
    let world = World::new(ResetConfig::from_session(json!({
        "reset": {"mode": "idle", "idleMinutes": 60},
        "resetByChannel": {"discord": {"mode": "idle", "idleMinutes": 5}},
    })));
    let now = at("2026-11-24T10:00:00Z");
    let mut e = entry("agent:main:discord:channel:1", Some(now - MIN), None, None);
    e.channel = Some("discord".into());
    let d = world.decide(&e, None, now);
    assert_eq!(d.stale_at, Some((now - MIN + 5 * MIN + 1, Rule::Idle)));
    assert!(
        d.rule.source.contains("resetByChannel.discord"),
        "{}",
        d.rule.source
    );
    e.channel = None;
    e.last_channel = Some("telegram".into());
    let d = world.decide(&e, None, now);
    assert_eq!(d.stale_at, Some((now - MIN + 60 * MIN + 1, Rule::Idle)));
}

#[test]
fn mode_none_keeps_in_use_sessions_but_plans_no_write() {
    // Up to 2026.7 "none" is not special: it is just not "daily", and
    // without idle minutes no rule applies.
    let world = World::new(ResetConfig::from_session(
        json!({"reset": {"mode": "none"}}),
    ));
    let now = at("2026-11-24T10:00:00Z");
    let d = world.decide(&entry("k", Some(now - HOUR), None, None), None, now);
    assert!(d.keep);
    assert_eq!(d.stale_at, None);
    assert_eq!(d.write_at, None);
}

#[test]
fn json_v2_bumps_interaction_not_start_unless_opted_in() {
    let mut world = World::new(ResetConfig::from_session(json!({
        "reset": {"mode": "daily", "atHour": 4, "idleMinutes": 60},
    })));
    world.generation = Generation::JsonV2;
    world.facing = Facing::known(Release::new(2026, 6, 35));
    let now = at("2026-11-24T10:00:00Z");
    let e = entry(
        "k",
        Some(now - 5 * MIN),
        Some(now - 10 * MIN),
        Some(now - 5 * HOUR),
    );
    let d = world.decide(&e, None, now);
    assert_eq!(
        d.fields,
        Fields {
            updated_at: true,
            last_interaction_at: true,
            session_started_at: false
        }
    );
    // The daily reset reads sessionStartedAt, which is not bumped: only the
    // idle deadline (lastInteractionAt + 60 min) is planned.
    assert_eq!(
        d.write_at.clone().map(|w| w.0),
        Some(now - 10 * MIN + 60 * MIN + 1 - 2 * MIN)
    );
    world.bump_session_start = true;
    let d = world.decide(&e, None, now);
    assert!(d.fields.session_started_at);
    assert!(d.write_at.is_some());
}

#[test]
fn keepalives_own_bumps_are_not_activity_but_remembered_activity_is() {
    let mut world = World::new(idle(60 * 48));
    let now = at("2026-11-24T10:00:00Z");
    let ours = now - 10 * MIN;
    world.ledger.record_write("k", Fields::UPDATED_AT, ours);
    let e = entry("k", Some(ours), None, None);
    let d = world.decide(&e, None, now);
    assert_eq!(d.activity, None, "our own write is not activity");
    assert_eq!(d.reason, Reason::IdleTooLong);
    // A transcript write is.
    let d = world.decide(&e, Some(now - 30 * MIN), now);
    assert_eq!(d.activity.map(|a| a.source), Some(Source::Transcript));
    assert!(d.keep);
    // A gateway write after ours is.
    let moved = entry("k", Some(ours + 1000), None, None);
    assert_eq!(
        world.decide(&moved, None, now).activity.map(|a| a.source),
        Some(Source::Gateway)
    );
    // And activity seen before our bump overwrote its evidence is remembered.
    world.ledger.record_activity("k", now - 20 * MIN, "gateway");
    let d = world.decide(&e, None, now);
    assert_eq!(
        d.activity,
        Some(Activity {
            at_ms: now - 20 * MIN,
            source: Source::Gateway
        })
    );
}

#[test]
fn the_window_decides_between_in_use_and_idle_too_long() {
    let mut world = World::new(idle(60 * 24 * 30));
    let now = at("2026-11-24T10:00:00Z");
    let e = entry("k", Some(now - 30 * HOUR), None, None);
    assert_eq!(world.decide(&e, None, now).reason, Reason::IdleTooLong);
    world.window_ms = Some(48 * HOUR);
    assert_eq!(world.decide(&e, None, now).reason, Reason::InUse);
    world.window_ms = None;
    assert!(
        world.decide(&e, None, now).keep,
        "all keeps everything not stale"
    );
}

#[test]
fn exclude_beats_activity_and_include_beats_idleness_but_not_staleness() {
    let mut world = World::new(idle(60));
    let now = at("2026-11-24T10:00:00Z");
    world.rules.set(RuleSpec {
        session: "busy".into(),
        agent: None,
        action: RuleAction::Exclude,
    });
    world.rules.set(RuleSpec {
        session: "quiet".into(),
        agent: Some("main".into()),
        action: RuleAction::Include,
    });
    world.rules.set(RuleSpec {
        session: "gone".into(),
        agent: None,
        action: RuleAction::Include,
    });
    let busy = world.decide(&entry("busy", Some(now - MIN), None, None), None, now);
    assert_eq!((busy.keep, busy.reason), (false, Reason::Excluded));
    world.window_ms = Some(MIN);
    let quiet = world.decide(&entry("quiet", Some(now - 30 * MIN), None, None), None, now);
    assert_eq!((quiet.keep, quiet.reason), (true, Reason::Included));
    let gone = world.decide(&entry("gone", Some(now - 5 * HOUR), None, None), None, now);
    assert_eq!((gone.keep, gone.reason), (false, Reason::StaleAlready));
}

#[test]
fn interval_schedule_is_due_every_tick_and_no_timestamp_is_never_kept() {
    let mut world = World::new(idle(60));
    world.schedule = Schedule::Interval;
    let now = at("2026-11-24T10:00:00Z");
    assert!(
        world
            .decide(&entry("k", Some(now - MIN), None, None), None, now)
            .due(now)
    );
    let none = world.decide(&entry("k", None, None, None), None, now);
    assert_eq!((none.keep, none.reason), (false, Reason::NoTimestamp));
}

/// Finding 1 of issue 10: with no reset settings, no release has an idle
/// rule, so sessions last touched 90 min and 3 h ago are fresh and kept, on
/// a known release and on an unknown one alike (an assumed rule never makes
/// keepalive give up on a session in use).
#[test]
fn the_default_policy_has_no_idle_rule_and_keeps_sessions_used_hours_ago() {
    let now = at("2026-11-24T15:00:00Z");
    for facing in [
        Facing::known(Release::new(2026, 4, 12)),
        Facing::unknown(false, false),
    ] {
        let mut world = World::new(ResetConfig::default());
        world.facing = facing.clone();
        for age in [90 * MIN, 3 * HOUR] {
            let e = entry("agent:main:main", Some(now - age), None, None);
            let d = world.decide(&e, Some(now - MIN), now);
            assert!(d.keep, "{facing:?}, {age} ms: {}", d.detail);
            assert_eq!(d.reason, Reason::InUse);
            assert_eq!(d.stale_already, None);
            assert_eq!(d.stale_at.map(|s| s.1), Some(Rule::Daily));
        }
    }
}

/// Finding 2: mode idle without idleMinutes (or with 0) means 60 (or 1)
/// minutes up to 2026.3.13 and no idle expiry from 2026.3.22.
#[test]
fn idle_without_minutes_follows_the_release() {
    let now = at("2026-11-24T15:00:00Z");
    let idle_unset = ResetConfig::from_session(json!({"reset": {"mode": "idle"}}));
    let e = entry("agent:main:main", Some(now - 2 * HOUR), None, None);
    let mut world = World::new(idle_unset);
    world.facing = Facing::known(Release::new(2026, 6, 35));
    let d = world.decide(&e, Some(now - MIN), now);
    assert!(d.keep, "{}", d.detail);
    assert_eq!(d.stale_at, None, "no idle expiry from 2026.3.22");
    assert_eq!(d.write_at, None, "nothing to write for");

    world.facing = Facing::known(Release::new(2026, 3, 13));
    let d = world.decide(&e, Some(now - MIN), now);
    assert_eq!(d.reason, Reason::StaleAlready, "60 minutes up to 2026.3.13");
    assert_eq!(d.rule.idle_minutes, 60);

    // Unknown: the 60-minute reading plans the writes, the no-expiry reading
    // keeps the session that the other would call stale.
    world.facing = Facing::unknown(false, false);
    let d = world.decide(&e, Some(now - MIN), now);
    assert!(d.keep, "{}", d.detail);
    let fresh = entry("agent:main:main", Some(now - 10 * MIN), None, None);
    let d = world.decide(&fresh, Some(now - MIN), now);
    assert_eq!(
        d.write_at.map(|w| w.0),
        Some(now - 10 * MIN + 60 * MIN + 1 - 2 * MIN)
    );

    // An explicit 0 was 1 minute up to 2026.3.13.
    world.reset = ResetConfig::from_session(json!({"reset": {"mode": "idle", "idleMinutes": 0}}));
    world.facing = Facing::known(Release::new(2026, 3, 13));
    let d = world.decide(&fresh, Some(now - MIN), now);
    assert_eq!(d.rule.idle_minutes, 1);
}

/// The SQLite releases read `updatedAt` 0 as a reset owed: never kept.
#[test]
fn a_zero_updated_at_is_owed_a_reset_from_2026_8() {
    let now = at("2026-11-24T15:00:00Z");
    let mut world = World::new(ResetConfig::default());
    world.facing = Facing::known(Release::new(2026, 9, 6));
    let e = entry("k", Some(0), None, None);
    let d = world.decide(&e, Some(now - MIN), now);
    assert!(!d.keep);
    assert_eq!(d.stale_already, Some(Rule::Owed));
}

/// From 2026.4.25 the daily rule reads `sessionStartedAt`, else the
/// transcript header's start: a bump of `updatedAt` cannot move either, so
/// no daily write is planned for such a session (only the idle one).
#[test]
fn the_transcript_header_decides_the_daily_rule_when_the_entry_has_no_start() {
    let now = at("2026-11-24T15:00:00Z");
    let mut world = World::new(ResetConfig::from_session(json!({
        "reset": {"mode": "daily", "atHour": 4, "idleMinutes": 60},
    })));
    world.facing = Facing::known(Release::new(2026, 6, 35));
    world.generation = Generation::JsonV2;
    let e = entry("k", Some(now - 10 * MIN), Some(now - 10 * MIN), None);
    let clock = clock(now);
    let ctx = world.context(&clock);
    let started_yesterday = Transcript {
        modified_ms: Some(now - MIN),
        started_ms: Some(at("2026-11-23T20:00:00Z")),
    };
    let d = decide(&e, started_yesterday, &ctx);
    assert_eq!(d.stale_already, Some(Rule::Daily), "{}", d.detail);
    let started_today = Transcript {
        modified_ms: Some(now - MIN),
        started_ms: Some(at("2026-11-24T05:00:00Z")),
    };
    let d = decide(&e, started_today, &ctx);
    assert!(d.keep, "{}", d.detail);
    let (write_at, why) = d.write_at.expect("the idle write");
    assert!(why.contains("idle"), "{why}");
    assert_eq!(write_at, now - 10 * MIN + 60 * MIN + 1 - 2 * MIN);
    // Without a header the daily rule falls back to updatedAt, which a bump
    // moves: the daily write is planned too.
    let d = decide(&e, Transcript::default(), &ctx);
    assert_eq!(
        d.write_at.map(|w| w.1),
        Some("idle reset after 60 min without interaction".to_string())
    );
    let yesterday = entry("k", Some(now - 12 * HOUR), Some(now - 10 * MIN), None);
    let d = decide(&yesterday, Transcript::default(), &ctx);
    assert_eq!(d.stale_already, Some(Rule::Daily));
}

/// The round's clock is read before the store: timestamps the gateway wrote
/// in between are a little after it. From 2026.4.25 the gateway reads
/// future values as none, so without care a session written to a moment ago
/// would look never used, and be refused as stale.
#[test]
fn timestamps_written_just_after_the_clock_count_as_now() {
    let now = at("2026-11-24T15:00:00Z");
    let mut world = World::new(ResetConfig::default());
    world.facing = Facing::known(Release::new(2026, 6, 35));
    world.generation = Generation::JsonV2;
    let e = entry("k", Some(now + 300), Some(now + 300), Some(now + 300));
    let d = world.decide(&e, Some(now), now);
    assert!(d.keep, "{}", d.detail);
    assert_eq!(d.stale_already, None);
    // Far in the future is not "just now": the gateway reads it as none.
    let e = entry(
        "k",
        Some(now + 30 * 24 * HOUR),
        None,
        Some(now + 30 * 24 * HOUR),
    );
    let d = world.decide(&e, Some(now), now);
    assert_eq!(d.stale_already, Some(Rule::Daily));
}
