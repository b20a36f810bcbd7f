//! What keepalive tells of sessions it never writes (an agent's SQLite store, OpenClaw 2026.8+):
//! when the gateway would reset each under the policy in force, and, where the user's own
//! config is what resets them, the command that stops it. The rounds (`sessions` rows, and the
//! looks resets are noticed by) and `keepalivectl doctor` tell it the same way.

use keepalive_store::EntryInfo;

use super::decide::{Transcript, reset_inputs, rule_name, times};
use crate::openclaw::release::ReleaseRules;
use crate::openclaw::{
    Clock, Facing, Mode, ResetConfig, ResetRule, Rule, effective_rule, goes_stale_at,
};
use crate::time::utc;

/// When the gateway resets a session that nobody writes, under the policy in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Expiry {
    pub rule: ResetRule,
    /// When it goes (or went) stale, and by which rule; `None`: never.
    pub stale_at: Option<(u64, Rule)>,
}

/// The session's expiry under the release keepalive faces, or, when that is not known, the
/// earliest any release it may face gives.
pub fn expiry(entry: &EntryInfo, facing: &Facing, reset: &ResetConfig, clock: &Clock) -> Expiry {
    let times = times(entry, Transcript::default(), 0, clock.now_ms);
    let under = |rules: &ReleaseRules| {
        let (reset_type, channel) = reset_inputs(rules, entry);
        let rule = effective_rule(reset, rules, reset_type, channel);
        let stale_at = goes_stale_at(&rule, rules, &times, clock);
        Expiry { rule, stale_at }
    };
    let soonest = |e: &Expiry| e.stale_at.map_or(u64::MAX, |(at, _)| at);
    let (first, others) = facing.split();
    let mut chosen = under(first);
    for rules in others {
        let other = under(rules);
        if soonest(&other) < soonest(&chosen) {
            chosen = other;
        }
    }
    chosen
}

/// The command that stops the gateway resetting sessions under `rule`, when the user's own
/// config is what resets them: the layer the rule comes from, set to mode `none`
/// (`session.reset`, or the `resetByType` / `resetByChannel` entry that overrides it).
pub fn advice(rule: &ResetRule) -> Option<String> {
    if rule.mode == Mode::None {
        return None;
    }
    let layer = rule.source.split(" + ").next()?;
    let path = if layer.starts_with("session.resetByType.")
        || layer.starts_with("session.resetByChannel.")
    {
        layer
    } else if layer.starts_with("session.") {
        "session.reset"
    } else {
        return None;
    };
    Some(format!("openclaw config set {path}.mode none"))
}

/// A `sessions` row's words on such a session at `now_ms`.
pub fn detail(expiry: &Expiry, now_ms: u64) -> String {
    let kept = "OpenClaw 2026.8+ keeps this session in SQLite, which keepalive never writes";
    let source = &expiry.rule.source;
    let when = match expiry.stale_at {
        None => return format!("{kept}; under the policy in force ({source}) it never expires"),
        Some((_, Rule::Owed)) => {
            return format!(
                "{kept}; its updatedAt is 0, which the gateway reads as a reset owed: it starts \
                 afresh at its next message, whatever the policy"
            );
        }
        Some((at, rule)) if at <= now_ms => format!(
            "the {} rule of {source} made it stale at {}: the gateway starts it afresh at its \
             next message",
            rule_name(rule),
            utc(at)
        ),
        Some((at, rule)) => format!(
            "the gateway starts it afresh at its first message after {} ({} rule of {source})",
            utc(at),
            rule_name(rule)
        ),
    };
    let fix = advice(&expiry.rule)
        .map(|command| format!("; to keep it, run `{command}`"))
        .unwrap_or_default();
    format!("{kept}; {when}{fix}")
}

#[cfg(test)]
mod tests;
