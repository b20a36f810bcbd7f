//! The keep-alive decision for one session: is it in real use, would the
//! gateway reset it, which fields a bump writes, and when a write is due.
//!
//! Everything here is a pure function of the entry, the ledger and a
//! [`Clock`], so tests drive time by passing clocks instead of sleeping.
//!
//! One file of about 450 lines on purpose: the decision reads top to bottom as the gateway's
//! reset reads (activity, rule, staleness, the write it needs), and splitting it would put
//! the halves of one decision in two places.

use keepalive_store::{EntryInfo, Field, Fields};

use super::{AgentLedger, Rules};
use crate::openclaw::release::{Facing, ReleaseRules};
use crate::openclaw::{
    Clock, Generation, Mode, ResetConfig, ResetRule, Rule, Times, daily_timestamp, effective_rule,
    goes_stale_at, idle_timestamp, idle_window, next_boundary_after, session_reset_type,
    stale_reason,
};
use keepalive_proto::RuleAction;

use crate::time::MINUTE_MS;

/// How far past the round's clock a timestamp may be and still count as
/// written just now (at least; two ticks when they are longer).
const JUST_WRITTEN_MS: u64 = 60_000;

/// When the daemon writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Every tick, every kept session (the seed scripts' behaviour).
    Interval,
    /// Just before a kept session would expire, and right after a daily boundary.
    Policy,
}

impl Schedule {
    pub fn as_str(self) -> &'static str {
        match self {
            Schedule::Interval => "interval",
            Schedule::Policy => "policy",
        }
    }
}

/// Everything a decision depends on besides the entry itself.
pub struct Context<'a> {
    pub agent: &'a str,
    /// The store's layout: which fields a bump writes.
    pub generation: Generation,
    /// The release(s) whose rules decide staleness.
    pub facing: &'a Facing,
    pub rules: &'a Rules,
    pub reset: &'a ResetConfig,
    pub clock: &'a Clock,
    /// Sessions active within this many ms are kept alive; `None`: all are.
    pub window_ms: Option<u64>,
    /// How long before an idle deadline to write, and how long after a
    /// session went stale a bump still counts as keep-alive rather than a
    /// revival (nobody can have seen it stale in between: the gateway only
    /// checks when a message arrives). Two ticks.
    pub margin_ms: u64,
    pub schedule: Schedule,
    /// Also bump `sessionStartedAt` (json-v2), which defeats the daily reset
    /// but rewrites the session's recorded start: opt-in only.
    pub bump_session_start: bool,
    pub ledger: &'a AgentLedger,
}

/// Where the last real activity was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The transcript (`sessionFile`) was appended to.
    Transcript,
    /// A timestamp moved, and not by keepalive.
    Gateway,
    /// A client touched it by name.
    Touch,
}

impl Source {
    pub fn parse(name: &str) -> Option<Source> {
        [Source::Transcript, Source::Gateway, Source::Touch]
            .into_iter()
            .find(|s| s.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Transcript => "transcript",
            Source::Gateway => "gateway",
            Source::Touch => "touch",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    pub at_ms: u64,
    pub source: Source,
}

/// Why a session is or is not kept alive. The codes are part of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Included,
    InUse,
    Excluded,
    IdleTooLong,
    StaleAlready,
    NoTimestamp,
    /// Its store is one keepalive never writes (an SQLite store): told by
    /// [`super::unwritable`], never by [`decide`].
    NotWritable,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::Included => "included",
            Reason::InUse => "in_use",
            Reason::Excluded => "excluded",
            Reason::IdleTooLong => "idle_too_long",
            Reason::StaleAlready => "stale_already",
            Reason::NoTimestamp => "no_timestamp",
            Reason::NotWritable => "not_writable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub keep: bool,
    pub reason: Reason,
    pub detail: String,
    pub activity: Option<Activity>,
    pub rule: ResetRule,
    /// When the gateway would reset it if nothing bumps it, and by which rule.
    pub stale_at: Option<(u64, Rule)>,
    /// Stale for longer than the margin: a bump now would be a revival.
    pub stale_already: Option<Rule>,
    /// The fields a bump of this session writes (only those the entry has
    /// are ever written).
    pub fields: Fields,
    /// When the schedule next wants it written, and why; at or before now
    /// means now. `None` when it is not kept or needs no writes.
    pub write_at: Option<(u64, String)>,
}

impl Decision {
    /// A kept session whose write is due at `now`.
    pub fn due(&self, now_ms: u64) -> bool {
        self.keep && self.write_at.as_ref().is_some_and(|(at, _)| *at <= now_ms)
    }
}

/// One release's view of a session.
struct Verdict {
    rule: ResetRule,
    stale_at: Option<(u64, Rule)>,
    stale_already: Option<Rule>,
    write_at: Option<(u64, String)>,
}

/// What picks a session's reset rule besides the config, as the release
/// derives it: its reset type (from its key and `chatType`) and its channel
/// (`lastChannel`, else `channel`, as the gateway's own agent runs read it).
pub fn reset_inputs<'e>(
    rules: &ReleaseRules,
    entry: &'e EntryInfo,
) -> (&'static str, Option<&'e str>) {
    (
        session_reset_type(rules, &entry.key, entry.chat_type.as_deref()),
        entry.last_channel.as_deref().or(entry.channel.as_deref()),
    )
}

fn verdict(entry: &EntryInfo, times: &Times, rules: &ReleaseRules, ctx: &Context) -> Verdict {
    let clock = ctx.clock;
    let (reset_type, channel) = reset_inputs(rules, entry);
    let rule = effective_rule(ctx.reset, rules, reset_type, channel);
    let stale_at = goes_stale_at(&rule, rules, times, clock);
    // Stale for longer than the margin. (Not "stale at now minus the
    // margin": from 2026.4.25 the gateway reads timestamps after its clock
    // as none, so an earlier clock would see a session used a minute ago as
    // never used.)
    let stale_already = stale_reason(&rule, rules, times, clock).filter(|_| {
        stale_at.is_some_and(|(at, _)| at.saturating_add(ctx.margin_ms) <= clock.now_ms)
    });
    let write_at = plan_write(&rule, rules, times, ctx);
    Verdict {
        rule,
        stale_at,
        stale_already,
        write_at,
    }
}

/// Combines the verdicts of every release keepalive may face: the session
/// is stale already only if every one says so (an assumed rule never makes
/// keepalive give up on a session), and it goes stale, and is written, at
/// the earliest any one says (an assumed rule may make it write earlier).
fn combine(first: Verdict, others: impl Iterator<Item = Verdict>) -> Verdict {
    let soonest = |v: &Verdict| v.stale_at.map_or(u64::MAX, |(at, _)| at);
    let mut chosen = first;
    for other in others {
        let stale_already = chosen.stale_already.and(other.stale_already);
        let write_at = match (chosen.write_at.take(), other.write_at.clone()) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        if soonest(&other) < soonest(&chosen) {
            chosen = other;
        }
        chosen.stale_already = stale_already;
        chosen.write_at = write_at;
    }
    chosen
}

/// What the session's transcript (`sessionFile`) tells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transcript {
    /// When it was last appended to (its mtime): activity.
    pub modified_ms: Option<u64>,
    /// The `timestamp` of its header line, which releases from 2026.4.25
    /// read as the session's start when the entry has no `sessionStartedAt`
    /// (read only for such entries).
    pub started_ms: Option<u64>,
}

/// The entry's timestamps as the gateway's reset reads them. The clock was read before the
/// store: a timestamp the gateway wrote since (up to `margin_ms`, at least a minute, ahead)
/// is "just now", not in the future (which releases from 2026.4.25 would read as no
/// timestamp at all, making a session in use look stale).
pub fn times(entry: &EntryInfo, transcript: Transcript, margin_ms: u64, now: u64) -> Times {
    let recent = |t: Option<u64>| {
        let tolerance = margin_ms.max(JUST_WRITTEN_MS);
        t.map(|t| {
            if t > now && t - now <= tolerance {
                now
            } else {
                t
            }
        })
    };
    Times {
        updated_at: recent(entry.updated_at.value()),
        last_interaction_at: recent(entry.last_interaction_at.value()),
        session_started_at: recent(entry.session_started_at.value()),
        transcript_started_at: recent(transcript.started_ms),
    }
}

pub fn decide(entry: &EntryInfo, transcript: Transcript, ctx: &Context) -> Decision {
    let now = ctx.clock.now_ms;
    let times = times(entry, transcript, ctx.margin_ms, now);
    let (first, others) = ctx.facing.split();
    let verdict_of = |rules: &ReleaseRules| verdict(entry, &times, rules, ctx);
    let Verdict {
        rule,
        stale_at,
        stale_already,
        write_at: planned,
    } = combine(verdict_of(first), others.iter().map(verdict_of));
    let activity = last_activity(entry, transcript.modified_ms, ctx);
    let fields = match ctx.generation {
        Generation::JsonV2 => Fields {
            updated_at: true,
            last_interaction_at: true,
            session_started_at: ctx.bump_session_start,
        },
        _ => Fields::UPDATED_AT,
    };

    let action = ctx.rules.action_for(ctx.agent, &entry.key);
    let (keep, reason, detail) = if times.updated_at.is_none()
        && times.last_interaction_at.is_none()
        && times.session_started_at.is_none()
    {
        (
            false,
            Reason::NoTimestamp,
            "no integer timestamp keepalive could move".to_string(),
        )
    } else if action == Some(RuleAction::Exclude) {
        (
            false,
            Reason::Excluded,
            "excluded by a rule (`keepalivectl rules`)".to_string(),
        )
    } else if let Some(why) = stale_already {
        let detail = format!(
            "the gateway would reset it already ({} rule, {}); bumping it would revive it, so it is \
             left to expire (`keepalivectl touch --revive` overrides)",
            rule_name(why),
            rule.source
        );
        (false, Reason::StaleAlready, detail)
    } else if action == Some(RuleAction::Include) {
        (
            true,
            Reason::Included,
            "included by a rule: always kept alive".to_string(),
        )
    } else {
        match (ctx.window_ms, activity) {
            (None, _) => (
                true,
                Reason::InUse,
                "every session is kept alive (--active-within all)".into(),
            ),
            (Some(window), Some(a)) if now.saturating_sub(a.at_ms) <= window => (
                true,
                Reason::InUse,
                format!("active {} ago ({})", ago(now, a.at_ms), a.source.as_str()),
            ),
            (Some(window), Some(a)) => (
                false,
                Reason::IdleTooLong,
                format!(
                    "last active {} ago ({}), longer than the {} window",
                    ago(now, a.at_ms),
                    a.source.as_str(),
                    crate::duration::format_secs(window / 1000)
                ),
            ),
            (Some(_), None) => (false, Reason::IdleTooLong, "no activity seen".to_string()),
        }
    };

    let write_at = if !keep {
        None
    } else if ctx.schedule == Schedule::Interval {
        Some((now, "every tick (--schedule interval)".to_string()))
    } else {
        planned
    };
    Decision {
        keep,
        reason,
        detail,
        activity,
        rule,
        stale_at,
        stale_already,
        fields,
        write_at,
    }
}

/// Policy scheduling: write `margin` before the idle deadline, and right
/// after a daily boundary that the session's daily timestamp predates (a
/// bump before the boundary would not help: the timestamp must be later
/// than the boundary).
fn plan_write(
    rule: &ResetRule,
    rules: &ReleaseRules,
    times: &Times,
    ctx: &Context,
) -> Option<(u64, String)> {
    let clock = ctx.clock;
    let now = clock.now_ms;
    let mut best: Option<(u64, String)> = None;
    let mut consider = |at: u64, why: String| {
        if best.as_ref().is_none_or(|(b, _)| at < *b) {
            best = Some((at, why));
        }
    };
    if let Some(minutes) = idle_window(rule)
        && let Some(ts) = idle_timestamp(rules, times, now)
    {
        let deadline = ts
            .saturating_add(minutes.saturating_mul(MINUTE_MS))
            .saturating_add(1);
        consider(
            deadline.saturating_sub(ctx.margin_ms),
            format!("idle reset after {minutes} min without interaction"),
        );
    }
    if rule.mode == Mode::Daily
        && daily_preventable(times, rules, ctx)
        && let Some(ts) = daily_timestamp(rules, times, now)
    {
        let boundary = next_boundary_after(rule.at_hour, ts, &clock.tz);
        consider(boundary, format!("daily reset at {:02}:00", rule.at_hour));
    }
    best
}

/// Whether bumping can stop the daily reset: from 2026.4.25 the gateway
/// judges it by `sessionStartedAt`, which keepalive only writes when the
/// user opted in.
fn daily_preventable(times: &Times, rules: &ReleaseRules, ctx: &Context) -> bool {
    let now = ctx.clock.now_ms;
    if !rules.split_timestamps {
        return true;
    }
    // What the daily rule reads, in the gateway's order: a bump helps only
    // when that is a field keepalive moves.
    match (
        times.session_started_at.filter(|s| *s <= now),
        times.transcript_started_at,
    ) {
        (Some(_), _) => ctx.bump_session_start,
        // The transcript header: nothing keepalive writes can move it.
        (None, Some(header)) if times.session_started_at.is_none() && header <= now => false,
        _ => true,
    }
}

/// The latest real activity: the transcript's mtime, a timestamp moved by
/// someone other than keepalive, or a client's touch.
fn last_activity(entry: &EntryInfo, transcript_ms: Option<u64>, ctx: &Context) -> Option<Activity> {
    let now = ctx.clock.now_ms;
    let mut best: Option<Activity> = None;
    let mut consider = |at_ms: u64, source: Source| {
        let at_ms = at_ms.min(now);
        if best.is_none_or(|b| at_ms > b.at_ms) {
            best = Some(Activity { at_ms, source });
        }
    };
    if let Some(t) = transcript_ms {
        consider(t, Source::Transcript);
    }
    for (field, value) in [
        (Field::UpdatedAt, entry.updated_at.value()),
        (Field::LastInteractionAt, entry.last_interaction_at.value()),
    ] {
        let Some(v) = value else { continue };
        // Equal to what keepalive wrote: its own bump. Lower: someone wrote
        // back an older copy (the heartbeat runner does); not activity.
        if ctx
            .ledger
            .written(&entry.key, field)
            .is_some_and(|w| v <= w)
        {
            continue;
        }
        consider(v, Source::Gateway);
    }
    if let Some(seen) = ctx.ledger.session(&entry.key) {
        if let Some(t) = seen.touched_ms {
            consider(t, Source::Touch);
        }
        if let (Some(t), Some(source)) = (seen.activity_ms, seen.activity_source.as_deref()) {
            consider(t, Source::parse(source).unwrap_or(Source::Gateway));
        }
    }
    best
}

pub fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::Daily => "daily",
        Rule::Idle => "idle",
        Rule::Owed => "owed",
    }
}

fn ago(now: u64, then: u64) -> String {
    crate::duration::format_secs(now.saturating_sub(then) / 1000)
}

#[cfg(test)]
mod tests;
