//! The gateway's session reset policy as pure functions: which rule applies
//! to a session, whether the gateway would reset it now, and when it will
//! if nothing touches it. Mirrors `src/config/sessions/reset.ts`
//! (`resolveSessionResetPolicy`, `resolveChannelResetConfig`,
//! `evaluateSessionFreshness`, `resolveDailyResetAtMs`).
//!
//! Invariant the scheduler can lean on: `goes_stale_at(..)` is `<= now`
//! exactly when `stale_reason(..)` is `Some`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// How a store records liveness (see STORE-FACTS "Store generations").
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResetConfig {
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
}

/// A session's timestamps (ms since the epoch), as found in its entry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Times {
    pub updated_at: Option<u64>,
    pub last_interaction_at: Option<u64>,
    pub session_started_at: Option<u64>,
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

/// Idle minutes the gateway uses when mode is idle and none are set
/// (`DEFAULT_IDLE_MINUTES`).
pub const DEFAULT_IDLE_MINUTES: u64 = 60;

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 86_400_000;

/// The gateway's defaults for a store generation.
///
/// json-v1 assumes idle 60 as well as daily at 4: the idle default was 60
/// until 2026-03-18 and 0 after, a v1 store cannot tell which gateway wrote
/// it, and assuming the rule that expires sessions sooner only makes
/// keepalive bump earlier, never too late. Unknown stores are treated alike.
pub fn defaults(generation: Generation) -> ResetRule {
    let (mode, idle_minutes, source) = match generation {
        Generation::JsonV1 => (
            Mode::Daily,
            DEFAULT_IDLE_MINUTES,
            "gateway default (json-v1: daily at 4, idle 60 assumed as before 2026-03-18)",
        ),
        Generation::Unknown => (
            Mode::Daily,
            DEFAULT_IDLE_MINUTES,
            "gateway default (unknown generation, assumed json-v1: daily at 4, idle 60)",
        ),
        Generation::JsonV2 => (Mode::Daily, 0, "gateway default (json-v2: daily at 4)"),
        Generation::Sqlite => (Mode::None, 0, "gateway default (sqlite: mode none)"),
    };
    ResetRule {
        mode,
        at_hour: 4,
        idle_minutes,
        source: source.to_string(),
    }
}

/// The gateway's reset type of a session (`resolveSessionResetType`):
/// `thread` when the key has `:thread:` or `:topic:` or the chat type says
/// thread; `group` when the chat type is group or channel, or the key has
/// `:group:` or `:channel:`; else `direct`.
pub fn session_reset_type(session_key: &str, chat_type: Option<&str>) -> &'static str {
    let key = session_key.to_ascii_lowercase();
    let chat = chat_type.map(|c| c.trim().to_ascii_lowercase());
    let chat = chat.as_deref();
    if matches!(chat, Some("thread" | "topic"))
        || key.contains(":thread:")
        || key.contains(":topic:")
    {
        "thread"
    } else if matches!(chat, Some("group" | "channel"))
        || key.contains(":group:")
        || key.contains(":channel:")
    {
        "group"
    } else {
        "direct"
    }
}

/// The rule for a session of `chat_type` on `channel`.
///
/// Layers, each overriding only the fields it sets: the generation's
/// [`defaults`] < legacy `session.idleMinutes` < `session.reset` <
/// `session.resetByType[type]`. Then, as in the gateway:
/// - a legacy `idleMinutes` with neither `session.reset` nor
///   `session.resetByType` present also means mode idle;
/// - a `session.resetByChannel[channel]` entry *replaces* `session.reset`,
///   and `resetByType` and legacy `idleMinutes` are not read at all (the
///   gateway passes it as `resetOverride`): fields it leaves out come from
///   the defaults, not from `session.reset`. Channels are matched trimmed
///   and lower-cased.
///
/// `chat_type`: `direct`/`dm` look up `direct`, then `dm` (an alias);
/// `group` and `channel` look up `group` (the gateway has no `channel`
/// type); `thread`/`topic` look up `thread`; anything else, or `None`, is
/// `direct`, the gateway's default. [`session_reset_type`] derives it from
/// a session key.
///
/// Mode idle with idle minutes 0 becomes 60 (the gateway's default); mode
/// none carries idle minutes 0.
pub fn effective_rule(
    config: &ResetConfig,
    generation: Generation,
    chat_type: Option<&str>,
    channel: Option<&str>,
) -> ResetRule {
    let base = defaults(generation);
    let mut layers: Vec<(String, &PartialRule)> = Vec::new();
    let mut mode_from_legacy = false;
    let channel_entry = channel
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .and_then(|c| config.by_channel.get_key_value(&c));
    let legacy = PartialRule {
        idle_minutes: config.legacy_idle_minutes,
        ..PartialRule::default()
    };
    match channel_entry {
        Some((key, rule)) => layers.push((format!("session.resetByChannel.{key}"), rule)),
        None => {
            let wanted = match session_reset_type("", chat_type) {
                "direct" => &["direct", "dm"][..],
                "group" => &["group"][..],
                _ => &["thread"][..],
            };
            if let Some((key, rule)) = wanted.iter().find_map(|k| config.by_type.get_key_value(*k))
            {
                layers.push((format!("session.resetByType.{key}"), rule));
            }
            if config.reset != PartialRule::default() {
                layers.push(("session.reset".to_string(), &config.reset));
            }
            if config.legacy_idle_minutes.is_some() {
                layers.push(("session.idleMinutes".to_string(), &legacy));
                mode_from_legacy = !config.explicit_reset;
            }
        }
    }

    // Each field comes from the most specific layer that sets it; `used`
    // records those layers (in layer order) for `source`.
    let mut used: Vec<&str> = Vec::new();
    let mut pick = |get: &dyn Fn(&PartialRule) -> bool| -> Option<usize> {
        let i = layers.iter().position(|(_, r)| get(r))?;
        if !used.contains(&layers[i].0.as_str()) {
            used.push(layers[i].0.as_str());
        }
        Some(i)
    };
    let mode = match pick(&|r| r.mode.is_some()) {
        Some(i) => layers[i].1.mode,
        // The gateway's backward compatibility: a bare legacy idleMinutes
        // meant "reset when idle".
        None if mode_from_legacy => {
            pick(&|r| r.idle_minutes.is_some());
            Some(Mode::Idle)
        }
        None => None,
    };
    let at_hour = pick(&|r| r.at_hour.is_some()).and_then(|i| layers[i].1.at_hour);
    let idle = pick(&|r| r.idle_minutes.is_some()).and_then(|i| layers[i].1.idle_minutes);

    let uses_default = mode.is_none() || at_hour.is_none() || idle.is_none();
    let mut source: Vec<String> = layers
        .iter()
        .filter(|(name, _)| used.contains(&name.as_str()))
        .map(|(name, _)| name.clone())
        .collect();
    if uses_default {
        source.push(base.source.clone());
    }

    let mode = mode.unwrap_or(base.mode);
    let idle_minutes = match (mode, idle.unwrap_or(base.idle_minutes)) {
        (Mode::None, _) => 0,
        (Mode::Idle, 0) => DEFAULT_IDLE_MINUTES,
        (_, m) => m,
    };
    ResetRule {
        mode,
        at_hour: at_hour.unwrap_or(base.at_hour).min(23),
        idle_minutes,
        source: source.join(" + "),
    }
}

/// Newer stores carry per-rule timestamps, and newer gateways ignore
/// timestamps in the future.
fn reads_new_fields(generation: Generation) -> bool {
    matches!(generation, Generation::JsonV2 | Generation::Sqlite)
}

fn first_usable(generation: Generation, candidates: [Option<u64>; 2], now_ms: u64) -> Option<u64> {
    if reads_new_fields(generation) {
        candidates.into_iter().flatten().find(|t| *t <= now_ms)
    } else {
        candidates[1]
    }
}

/// The timestamp the idle rule reads: `lastInteractionAt`, falling back to
/// `updatedAt`, on json-v2 and sqlite (future values skipped); `updatedAt`
/// on json-v1 and unknown.
pub fn idle_timestamp(generation: Generation, times: &Times, now_ms: u64) -> Option<u64> {
    first_usable(
        generation,
        [times.last_interaction_at, times.updated_at],
        now_ms,
    )
}

/// The timestamp the daily rule reads: `sessionStartedAt`, falling back to
/// `updatedAt`, on json-v2 and sqlite (future values skipped); `updatedAt`
/// on json-v1 and unknown.
pub fn daily_timestamp(generation: Generation, times: &Times, now_ms: u64) -> Option<u64> {
    first_usable(
        generation,
        [times.session_started_at, times.updated_at],
        now_ms,
    )
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
fn idle_window(rule: &ResetRule) -> Option<u64> {
    match rule.mode {
        Mode::None => None,
        Mode::Idle if rule.idle_minutes == 0 => Some(DEFAULT_IDLE_MINUTES),
        Mode::Idle => Some(rule.idle_minutes),
        Mode::Daily => (rule.idle_minutes > 0).then_some(rule.idle_minutes),
    }
}

/// Why the gateway would reset this session if a message arrived now, or
/// `None` if it would not. Daily: its daily timestamp is before the last
/// boundary. Idle: now is past its idle timestamp plus the window. Daily
/// is reported when both apply. No usable timestamp: not stale.
pub fn stale_reason(
    rule: &ResetRule,
    generation: Generation,
    times: &Times,
    clock: &Clock,
) -> Option<Rule> {
    if rule.mode == Mode::Daily
        && let Some(ts) = daily_timestamp(generation, times, clock.now_ms)
        && ts < last_boundary(rule.at_hour, clock)
    {
        return Some(Rule::Daily);
    }
    if let Some(minutes) = idle_window(rule)
        && let Some(ts) = idle_timestamp(generation, times, clock.now_ms)
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
    generation: Generation,
    times: &Times,
    clock: &Clock,
) -> Option<(u64, Rule)> {
    let daily = (rule.mode == Mode::Daily)
        .then(|| daily_timestamp(generation, times, clock.now_ms))
        .flatten()
        .map(|ts| {
            (
                next_boundary_after(rule.at_hour, ts, &clock.tz),
                Rule::Daily,
            )
        });
    let idle = idle_window(rule)
        .zip(idle_timestamp(generation, times, clock.now_ms))
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
