//! The gateway's session reset policy as pure functions: which rule applies
//! to a session, whether the gateway would reset it now, and when it will
//! if nothing touches it, each for one release's rules ([`ReleaseRules`]).
//! Mirrors `src/config/sessions/reset.ts` (`resolveSessionResetPolicy`,
//! `resolveChannelResetConfig`, `evaluateSessionFreshness`,
//! `resolveDailyResetAtMs`); the interop suite compares every function here
//! with each pinned release's own (docs/GATEWAY.md).
//!
//! Invariant the scheduler can lean on: `goes_stale_at(..)` is `<= now`
//! exactly when `stale_reason(..)` is `Some`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::release::ReleaseRules;

/// How a store records liveness (docs/GATEWAY.md, "The store and its writers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Generation {
    /// `sessions.json`, `updatedAt` only (OpenClaw up to ~2026.4.2x).
    JsonV1,
    /// `sessions.json` with `lastInteractionAt` / `sessionStartedAt`.
    JsonV2,
    /// Table `session_nodes` in `agents/<id>/agent/openclaw-agent.sqlite` (2026.8+):
    /// keepalive never writes it. (The file alone, 2026.6.11+, is not this generation.)
    Sqlite,
    Unknown,
}

impl Generation {
    /// The name shown in `status` and `doctor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Generation::JsonV1 => "json-v1",
            Generation::JsonV2 => "json-v2",
            Generation::Sqlite => "sqlite",
            Generation::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Daily,
    Idle,
    /// Never reset on a schedule (`none`; older spellings `off`, `manual`).
    None,
}

/// One layer of configuration: only the fields it sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartialRule {
    pub mode: Option<Mode>,
    pub at_hour: Option<u8>,
    pub idle_minutes: Option<u64>,
}

/// The reset section of `openclaw.json`.
///
/// `session` is what the rules are resolved from, as the gateway reads it
/// (JavaScript's coercions included, see [`super::reset_policy`]); the typed
/// fields are keepalive's validated reading of the same, which reports
/// wrongly typed values as problems and lists the channels in `doctor`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResetConfig {
    /// The `session` object of `openclaw.json` as written (null if absent).
    pub session: serde_json::Value,
    /// `session.reset`.
    pub reset: PartialRule,
    /// `session.resetByType`: `direct` (alias `dm`), `group`, `thread`.
    pub by_type: BTreeMap<String, PartialRule>,
    /// `session.resetByChannel`, keyed by channel name as written.
    pub by_channel: BTreeMap<String, PartialRule>,
    /// Legacy `session.idleMinutes`.
    pub legacy_idle_minutes: Option<u64>,
    /// `session.reset` or `session.resetByType` is present, even empty. The
    /// gateway then stops reading a legacy `idleMinutes` as mode idle.
    pub explicit_reset: bool,
}

impl ResetConfig {
    /// The reset config of an `openclaw.json` whose `session` is `session`.
    pub fn from_session(session: serde_json::Value) -> Self {
        let text = serde_json::json!({ "session": session }).to_string();
        super::config::parse(std::path::Path::new("openclaw.json"), &text).reset
    }
}

/// The rule in force for one session.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResetRule {
    pub mode: Mode,
    pub at_hour: u8,
    /// 0 = no idle rule (under mode daily).
    pub idle_minutes: u64,
    /// Where it came from, most specific layer first, e.g.
    /// `session.resetByChannel.discord + gateway default (json-v2)`.
    pub source: String,
}

/// Which rule makes a session stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rule {
    Daily,
    Idle,
    /// `updatedAt` is 0: the SQLite releases read that as "a reset is
    /// owed", whatever the policy.
    Owed,
}

/// A session's timestamps (ms since the epoch), as found in its entry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Times {
    pub updated_at: Option<u64>,
    pub last_interaction_at: Option<u64>,
    pub session_started_at: Option<u64>,
    /// The `timestamp` of the transcript's header line: what releases from
    /// 2026.4.25 read when the entry has no `sessionStartedAt`.
    pub transcript_started_at: Option<u64>,
}

/// Now, and the gateway's local time zone (daily resets are local).
#[derive(Debug, Clone)]
pub struct Clock {
    pub now_ms: u64,
    pub tz: TimeZone,
}

impl Clock {
    /// The real clock in this machine's time zone, which is the gateway's
    /// when both run on one machine as the same user.
    pub fn system() -> Clock {
        Clock {
            now_ms: u64::try_from(Timestamp::now().as_millisecond()).unwrap_or(0),
            tz: TimeZone::system(),
        }
    }
}

/// Idle minutes the releases up to 2026.3.13 use when mode is idle and
/// none are set (`DEFAULT_IDLE_MINUTES`); later releases apply no idle rule.
pub const OLD_DEFAULT_IDLE_MINUTES: u64 = 60;

use crate::time::MINUTE_MS;
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 86_400_000;

/// The gateway's policy when `openclaw.json` sets none: daily at 4 with no
/// idle rule in every `sessions.json` release, no reset at all in the
/// SQLite releases. (No release ever had an idle rule by default: the idle
/// default only applied to mode idle.)
pub fn defaults(rules: &ReleaseRules) -> ResetRule {
    let source = match rules.default_mode {
        Mode::None => "gateway default (no reset)",
        _ => "gateway default (daily at 4)",
    };
    ResetRule {
        mode: rules.default_mode,
        at_hour: 4,
        idle_minutes: 0,
        source: source.to_string(),
    }
}

/// `resolveTimestamp(value, now)`: a value in the future counts as none.
fn not_future(value: Option<u64>, now_ms: u64) -> Option<u64> {
    value.filter(|t| *t <= now_ms)
}

/// The timestamp the daily rule reads. Up to 2026.4.24: `updatedAt`, as
/// is. From 2026.4.25: `sessionStartedAt` (else the transcript header's
/// start), falling back to `updatedAt`, then 0; future values count as none.
pub fn daily_timestamp(rules: &ReleaseRules, times: &Times, now_ms: u64) -> Option<u64> {
    if !rules.split_timestamps {
        return times.updated_at;
    }
    let started = times.session_started_at.or(times.transcript_started_at);
    Some(
        not_future(started, now_ms)
            .or(not_future(times.updated_at, now_ms))
            .unwrap_or(0),
    )
}

/// The timestamp the idle rule reads. Up to 2026.4.24: `updatedAt`. From
/// 2026.4.25: `lastInteractionAt`, falling back to what the daily rule
/// reads (not to `updatedAt` first); future values count as none.
pub fn idle_timestamp(rules: &ReleaseRules, times: &Times, now_ms: u64) -> Option<u64> {
    if !rules.split_timestamps {
        return times.updated_at;
    }
    not_future(times.last_interaction_at, now_ms).or(daily_timestamp(rules, times, now_ms))
}

/// Stale whatever the policy: the SQLite releases read `updatedAt` 0 as a
/// reset owed, and from 2026.4.24 a session without a numeric `updatedAt`
/// is not reused.
fn reset_owed(rules: &ReleaseRules, times: &Times) -> bool {
    (rules.zero_updated_at_is_stale && times.updated_at == Some(0))
        || (rules.updated_at_required && times.updated_at.is_none())
}

fn to_ms(ts: Timestamp) -> Option<u64> {
    u64::try_from(ts.as_millisecond()).ok()
}

/// `at_hour:00` local on `date`; a time skipped by DST resolves
/// "compatible" (later), as JavaScript's `Date.setHours` does.
fn boundary_on(date: Date, at_hour: u8, tz: &TimeZone) -> Option<u64> {
    let dt = date.at(at_hour.min(23) as i8, 0, 0, 0);
    to_ms(tz.to_timestamp(dt).ok()?)
}

fn local_date(t_ms: u64, tz: &TimeZone) -> Option<Date> {
    let ts = Timestamp::from_millisecond(i64::try_from(t_ms).ok()?).ok()?;
    Some(tz.to_datetime(ts).date())
}

/// The most recent local `at_hour:00` at or before now, in ms.
pub fn last_boundary(at_hour: u8, clock: &Clock) -> u64 {
    let now = clock.now_ms;
    let local = || -> Option<u64> {
        let mut date = local_date(now, &clock.tz)?;
        // Today's boundary, else yesterday's (a third try only guards odd zones).
        for _ in 0..3 {
            let b = boundary_on(date, at_hour, &clock.tz)?;
            if b <= now {
                return Some(b);
            }
            date = date.yesterday().ok()?;
        }
        None
    };
    local().unwrap_or_else(|| utc_last_boundary(at_hour, now))
}

/// [`last_boundary`] as `rules`' release computes it: before 2026.9,
/// yesterday's boundary is today's moved back one day on the calendar
/// (`setDate(getDate() - 1)`), which lands an hour late when today's hour
/// fell in a spring-forward gap.
pub fn last_boundary_of(rules: &ReleaseRules, at_hour: u8, clock: &Clock) -> u64 {
    if !rules.dst_quirk {
        return last_boundary(at_hour, clock);
    }
    let now = clock.now_ms;
    let quirky = || -> Option<u64> {
        let today = boundary_on(local_date(now, &clock.tz)?, at_hour, &clock.tz)?;
        if today <= now {
            return Some(today);
        }
        let ts = Timestamp::from_millisecond(i64::try_from(today).ok()?).ok()?;
        let local = clock.tz.to_datetime(ts);
        let moved = local.date().yesterday().ok()?.to_datetime(local.time());
        to_ms(clock.tz.to_timestamp(moved).ok()?)
    };
    quirky().unwrap_or_else(|| last_boundary(at_hour, clock))
}

/// When a daily timestamp `ts` goes stale under `rules`: at the first
/// boundary after it, or, before 2026.9, sooner at a local midnight when
/// the quirky "today's boundary moved back a day" lands after `ts` (the day
/// of a spring-forward gap over the boundary hour).
fn daily_stale_at(rules: &ReleaseRules, at_hour: u8, ts: u64, tz: &TimeZone) -> u64 {
    let mut at = next_boundary_after(at_hour, ts, tz);
    if !rules.dst_quirk {
        return at;
    }
    let mut date = local_date(ts, tz);
    for _ in 0..2 {
        date = date.and_then(|d| d.tomorrow().ok());
        let Some(midnight) = date.and_then(|d| boundary_on(d, 0, tz)) else {
            break;
        };
        let clock = Clock {
            now_ms: midnight,
            tz: tz.clone(),
        };
        if midnight > ts && midnight < at && last_boundary_of(rules, at_hour, &clock) > ts {
            at = midnight;
        }
    }
    at
}

/// The first local `at_hour:00` strictly after `t_ms`, in ms.
pub fn next_boundary_after(at_hour: u8, t_ms: u64, tz: &TimeZone) -> u64 {
    let local = || -> Option<u64> {
        let mut date = local_date(t_ms, tz)?;
        for _ in 0..3 {
            let b = boundary_on(date, at_hour, tz)?;
            if b > t_ms {
                return Some(b);
            }
            date = date.tomorrow().ok()?;
        }
        None
    };
    local().unwrap_or_else(|| utc_last_boundary(at_hour, t_ms).saturating_add(DAY_MS))
}

/// Fallback for instants outside jiff's range (years beyond 9999): plain UTC
/// arithmetic, so the answer is still sane.
fn utc_last_boundary(at_hour: u8, now: u64) -> u64 {
    let offset = u64::from(at_hour.min(23)) * HOUR_MS;
    match now.checked_sub(offset) {
        Some(since) => since / DAY_MS * DAY_MS + offset,
        None => 0,
    }
}

/// The idle window in minutes, if the rule has one.
pub fn idle_window(rule: &ResetRule) -> Option<u64> {
    (rule.mode != Mode::None && rule.idle_minutes > 0).then_some(rule.idle_minutes)
}

/// Why the gateway would reset this session if a message arrived now, or
/// `None` if it would not. Daily: its daily timestamp is before the last
/// boundary. Idle: now is past its idle timestamp plus the window. Daily
/// is reported when both apply. No usable timestamp: not stale.
pub fn stale_reason(
    rule: &ResetRule,
    rules: &ReleaseRules,
    times: &Times,
    clock: &Clock,
) -> Option<Rule> {
    if reset_owed(rules, times) {
        return Some(Rule::Owed);
    }
    if rule.mode == Mode::Daily
        && let Some(ts) = daily_timestamp(rules, times, clock.now_ms)
        && ts < last_boundary_of(rules, rule.at_hour, clock)
    {
        return Some(Rule::Daily);
    }
    if let Some(minutes) = idle_window(rule)
        && let Some(ts) = idle_timestamp(rules, times, clock.now_ms)
        && clock.now_ms > ts.saturating_add(minutes.saturating_mul(MINUTE_MS))
    {
        return Some(Rule::Idle);
    }
    None
}

/// The first instant at which the session is stale if nothing touches it,
/// and by which rule (daily wins a tie). Idle: `ts + window + 1` ms (the
/// gateway tests `now > ts + window`); daily: the first boundary after its
/// daily timestamp. At or before now when it is stale already. `None` for
/// mode none or without usable timestamps.
pub fn goes_stale_at(
    rule: &ResetRule,
    rules: &ReleaseRules,
    times: &Times,
    clock: &Clock,
) -> Option<(u64, Rule)> {
    if reset_owed(rules, times) {
        return Some((0, Rule::Owed));
    }
    let daily = (rule.mode == Mode::Daily)
        .then(|| daily_timestamp(rules, times, clock.now_ms))
        .flatten()
        .map(|ts| {
            (
                daily_stale_at(rules, rule.at_hour, ts, &clock.tz),
                Rule::Daily,
            )
        });
    let idle = idle_window(rule)
        .zip(idle_timestamp(rules, times, clock.now_ms))
        .map(|(minutes, ts)| {
            let at = ts
                .saturating_add(minutes.saturating_mul(MINUTE_MS))
                .saturating_add(1);
            (at, Rule::Idle)
        });
    match (daily, idle) {
        (Some(d), Some(i)) => Some(if i.0 < d.0 { i } else { d }),
        (d, i) => d.or(i),
    }
}

#[cfg(test)]
mod tests;
