//! Which reset rule applies to a session, as each release resolves it:
//! `resolveChannelResetConfig`, `resolveSessionResetType` and
//! `resolveSessionResetPolicy`, mirrored line by line on the raw `session`
//! object of `openclaw.json` with JavaScript's coercions ([`super::js`]),
//! since the gateway applies them to wrongly typed values too. The interop
//! suite checks every line against each pinned release (docs/GATEWAY.md).

use serde_json::Value;

use super::channels;
use super::js::{coalesce, floor, member, present, truthy};
use super::release::ReleaseRules;
use super::reset::{Mode, ResetConfig, ResetRule};

/// The gateway's reset type of a session from what its store entry keeps:
/// `thread` for a thread key; `group` when the chat type is a group or
/// channel, or the key has a group marker; else `direct`. (At a message the
/// gateway also knows thread and group facts of the message itself, which
/// the entry's `chatType` and key carry for the sessions keepalive sees.)
pub fn session_reset_type(
    rules: &ReleaseRules,
    session_key: &str,
    chat_type: Option<&str>,
) -> &'static str {
    let is_group = chat_type
        .and_then(channels::normalize_chat_type)
        .is_some_and(|t| t != "direct");
    if channels::is_thread_key(rules.release.triple(), session_key) {
        "thread"
    } else if is_group || channels::is_group_key(rules.release.triple(), session_key) {
        "group"
    } else {
        "direct"
    }
}

/// `resolveChannelResetConfig`: the `session.resetByChannel` entry for the
/// session's channel, if any (null counts as none).
fn channel_override<'a>(
    session: &'a Value,
    rules: &ReleaseRules,
    channel: Option<&str>,
) -> Option<(String, &'a Value)> {
    let by_channel = member(Some(session), "resetByChannel");
    if !truthy(by_channel) {
        return None;
    }
    let key = channels::reset_channel_key(rules.release.triple(), channel?)?;
    let by_channel = by_channel?.as_object()?;
    let entry = match by_channel.get(&key) {
        Some(v) => present(Some(v))?,
        // A plain JavaScript object lookup: these two names find the
        // object's prototype members, truthy and without reset fields.
        None if key == "constructor" || key == "__proto__" => &PROTOTYPE_MEMBER,
        None => return None,
    };
    Some((key, entry))
}

/// The rule the release applies to a session of `reset_type` on `channel`
/// (`resolveSessionResetPolicy`), as its effect: mode daily when the daily
/// rule applies (an idle rule may apply too, `idle_minutes` > 0), mode idle
/// when only the idle rule does, mode none when neither does.
pub fn effective_rule(
    config: &ResetConfig,
    rules: &ReleaseRules,
    reset_type: &str,
    channel: Option<&str>,
) -> ResetRule {
    let session = &config.session;
    let by_channel = channel_override(session, rules, channel);
    let over = by_channel.as_ref().map(|(_, v)| *v);
    let base = coalesce(over, member(Some(session), "reset"));
    let by_type = member(Some(session), "resetByType");
    let mut sources: Vec<String> = Vec::new();
    if let Some((key, _)) = &by_channel {
        sources.push(format!("session.resetByChannel.{key}"));
    } else if truthy(base) {
        sources.push("session.reset".into());
    }

    // The per-type entry (`dm` is the legacy name of `direct` up to 2026.7).
    let (typed, typed_name) = if truthy(over) {
        (None, reset_type)
    } else {
        match present(member(by_type, reset_type)) {
            Some(v) => (Some(v), reset_type),
            None if reset_type == "direct" && !rules.type_inherits_base => {
                (member(by_type, "dm"), "dm")
            }
            None => (None, reset_type),
        }
    };
    if typed.is_some() {
        sources.insert(0, format!("session.resetByType.{typed_name}"));
    }
    let legacy = if truthy(over) || rules.type_inherits_base {
        None
    } else {
        member(Some(session), "idleMinutes")
    };

    let mode_of = |v: Option<&Value>| member(v, "mode").map(ModeValue::of);
    let mut from_default = false;
    let mode: ModeValue = if rules.type_inherits_base {
        let inherited = (truthy(typed) && mode_of(base) != Some(ModeValue::None))
            .then(|| mode_of(base))
            .flatten();
        match mode_of(typed).or(inherited) {
            Some(m) => m,
            None if truthy(typed) => ModeValue::Daily,
            None => match mode_of(base) {
                Some(m) => m,
                None if truthy(base) => ModeValue::Daily,
                None => {
                    from_default = true;
                    ModeValue::default_of(rules)
                }
            },
        }
    } else {
        match mode_of(typed).or_else(|| mode_of(base)) {
            Some(m) => m,
            None if !(truthy(base) || truthy(by_type)) && legacy.is_some() => {
                sources.push("session.idleMinutes".into());
                ModeValue::Idle
            }
            None => {
                from_default = true;
                ModeValue::default_of(rules)
            }
        }
    };
    let at_hour = at_hour(coalesce(member(typed, "atHour"), member(base, "atHour")));
    let idle_raw = coalesce(
        coalesce(member(typed, "idleMinutes"), member(base, "idleMinutes")),
        legacy,
    );
    if idle_raw.is_some() && legacy.is_some() && idle_raw == legacy {
        push_once(&mut sources, "session.idleMinutes");
    }
    let idle: Option<f64> = match idle_raw {
        Some(raw) => Some(floor(raw)).filter(|n| n.is_finite()).map(|n| {
            n.max(if rules.idle_zero_is_a_window {
                1.0
            } else {
                0.0
            })
        }),
        None if mode == ModeValue::Idle => Some(if rules.idle_zero_is_a_window {
            60.0
        } else {
            0.0
        }),
        None => None,
    };

    let daily = mode == ModeValue::Daily;
    // Up to 2026.7 any mode other than daily leaves an idle rule in force
    // (even `none`); from 2026.8 `none` switches it off.
    let none = rules.type_inherits_base && mode == ModeValue::None;
    let idle_minutes = match idle {
        Some(m) if m > 0.0 && !none => m.min(u64::MAX as f64) as u64,
        _ => 0,
    };
    let effect = match (daily, idle_minutes > 0) {
        (true, _) => Mode::Daily,
        (false, true) => Mode::Idle,
        (false, false) => Mode::None,
    };
    if from_default || sources.is_empty() {
        sources.push(
            match rules.default_mode {
                Mode::None => "gateway default (no reset)",
                _ => "gateway default (daily at 4)",
            }
            .into(),
        );
    }
    ResetRule {
        mode: effect,
        at_hour,
        idle_minutes,
        source: sources.join(" + "),
    }
}

/// What `{}[name]` finds for an inherited member: truthy, no fields.
static PROTOTYPE_MEMBER: Value = Value::Bool(true);

/// A `mode` value as the gateway compares it: only these exact strings
/// mean something (`"Daily"`, `"off"` or `true` mean nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModeValue {
    Daily,
    Idle,
    None,
    Other,
}

impl ModeValue {
    fn of(v: &Value) -> Self {
        match v.as_str() {
            Some("daily") => ModeValue::Daily,
            Some("idle") => ModeValue::Idle,
            Some("none") => ModeValue::None,
            _ => ModeValue::Other,
        }
    }

    /// The mode when nothing sets one: daily in the `sessions.json`
    /// releases, none from 2026.8.
    fn default_of(rules: &ReleaseRules) -> Self {
        match rules.default_mode {
            Mode::None => ModeValue::None,
            _ => ModeValue::Daily,
        }
    }
}

fn push_once(sources: &mut Vec<String>, name: &str) {
    if !sources.iter().any(|s| s == name) {
        sources.push(name.to_string());
    }
}

/// `normalizeResetAtHour`: a finite number, floored and clamped to 0..=23;
/// anything else (a string too) is 4.
fn at_hour(v: Option<&Value>) -> u8 {
    match v.and_then(Value::as_f64).filter(|f| f.is_finite()) {
        Some(f) => f.floor().clamp(0.0, 23.0) as u8,
        None => 4,
    }
}

#[cfg(test)]
mod tests;
