//! One look at an agent's sessions compared with keepalive's last look before it: an event
//! for each key whose `sessionId` (or, in the SQLite releases, `lifecycleRevision`) changed,
//! and for each key that disappeared or appeared.
//! Pure: the looks come from the agent's ledger and the round's decisions.

use std::collections::BTreeMap;

use keepalive_proto::{ResetEvent, ResetKind, ResetVerdict};

use crate::policy::decide::rule_name;
use crate::policy::{Decision, Look, Reason};
use crate::time::utc as when;

/// keepalive's look at a session as a round leaves it: `write_failed` when the round meant
/// to write and could not.
pub fn look(session_id: Option<&str>, decision: &Decision, write_failed: bool) -> Look {
    let verdict = match decision.reason {
        _ if decision.keep && write_failed => ResetVerdict::WriteFailed,
        _ if decision.keep => ResetVerdict::KeptAlive,
        Reason::Excluded => ResetVerdict::Excluded,
        Reason::StaleAlready => ResetVerdict::AlreadyStale,
        Reason::NoTimestamp => ResetVerdict::NoTimestamp,
        Reason::NotWritable => ResetVerdict::NotWritable,
        Reason::IdleTooLong | Reason::Included | Reason::InUse => ResetVerdict::NotInUse,
    };
    Look {
        session_id: session_id.map(str::to_owned),
        lifecycle: None,
        verdict,
        stale_at_ms: decision.stale_at.map(|(at, _)| at),
        stale_rule: decision
            .stale_at
            .map(|(_, rule)| rule_name(rule).to_owned()),
    }
}

/// The last look before this one: the sessions and when they were seen.
pub struct Before<'a> {
    pub looks: &'a BTreeMap<String, Look>,
    /// `None`: keepalive never looked at this agent, so nothing can be told yet.
    pub at_ms: Option<u64>,
    /// This daemon has not looked yet: the last look is a previous daemon's, and keepalive
    /// was not running for part of the time since.
    pub by_previous_daemon: bool,
    /// How long this machine slept (was suspended) since the last look; 0 when it did not or
    /// that cannot be told. keepalive does not run while the machine sleeps either.
    pub slept_ms: u64,
}

impl Before<'_> {
    /// keepalive was not running for part of the time since the last look.
    fn away(&self) -> bool {
        self.by_previous_daemon || self.slept_ms > 0
    }

    /// keepalive's time away explains what became of the session last seen as `was`: it was
    /// not stale yet at that look. One already stale then had its verdict decided by a
    /// keepalive that was running (its own failure stays its failure).
    fn away_explains(&self, was: &Look) -> bool {
        let stale_by_then = match (was.stale_at_ms, self.at_ms) {
            (Some(stale_at), Some(looked)) => stale_at <= looked,
            _ => false,
        };
        self.away() && !stale_by_then
    }

    /// Why keepalive was not running, with the verdict it had given before.
    fn away_words(&self, was: ResetVerdict) -> String {
        if self.by_previous_daemon {
            format!("before it stopped: {}", was.words())
        } else {
            format!(
                "this machine slept for {} since keepalive's last look; before: {}",
                crate::duration::format_secs(self.slept_ms / 1000),
                was.words()
            )
        }
    }
}

/// A session the gateway has not reset yet but that is stale now went stale since the last
/// look, for the reason that look gives: the gateway resets lazily (at the session's next
/// message), so "already stale" in the look before the reset would hide why. The reason stands
/// in the look until the reset: what keepalive last said of the live session (kept alive: its
/// failure; excluded; not in use), or that keepalive was not running when it lapsed. Only a
/// session first seen stale stays "already stale".
pub fn carry_lapses(before: &Before, now: &mut BTreeMap<String, Look>) {
    if before.at_ms.is_none() {
        return;
    }
    for (key, seen) in now.iter_mut() {
        let Some(was) = before.looks.get(key) else {
            continue;
        };
        let same_session = was.session_id == seen.session_id && was.lifecycle == seen.lifecycle;
        if seen.verdict != ResetVerdict::AlreadyStale
            || !same_session
            || was.verdict == ResetVerdict::AlreadyStale
        {
            continue;
        }
        let lapsed_while_down = before.away_explains(was)
            && matches!(
                was.verdict,
                ResetVerdict::KeptAlive | ResetVerdict::WriteFailed
            );
        seen.verdict = if lapsed_while_down {
            ResetVerdict::DaemonNotRunning
        } else {
            was.verdict
        };
    }
}

/// The events between `before` and the sessions seen `now` (at `now_ms`), in key order,
/// unnumbered (`seq` 0: the log numbers them).
pub fn notice(
    agent: &str,
    before: &Before,
    now: &BTreeMap<String, Look>,
    now_ms: u64,
) -> Vec<ResetEvent> {
    let Some(last_ms) = before.at_ms else {
        return Vec::new();
    };
    let mut events = Vec::new();
    for (key, seen) in now {
        match before.looks.get(key) {
            Some(was) => {
                let changed = matches!(
                    (&was.session_id, &seen.session_id),
                    (Some(old), Some(new)) if old != new
                ) || matches!(
                    (&was.lifecycle, &seen.lifecycle),
                    (Some(old), Some(new)) if old != new
                );
                if changed {
                    events.push(change(
                        agent,
                        key,
                        ResetKind::Reset,
                        was,
                        seen,
                        before,
                        now_ms,
                    ));
                }
            }
            None => events.push(ResetEvent {
                seq: 0,
                agent: agent.to_owned(),
                key: key.clone(),
                kind: ResetKind::Appeared,
                old_session_id: None,
                new_session_id: seen.session_id.clone(),
                last_seen_ms: None,
                noticed_ms: now_ms,
                stale_rule: None,
                stale_at_ms: None,
                verdict: None,
                detail: format!(
                    "new session{} since {}",
                    seen.session_id
                        .as_deref()
                        .map(|id| format!(" {id}"))
                        .unwrap_or_default(),
                    when(last_ms)
                ),
            }),
        }
    }
    for (key, was) in before.looks {
        if !now.contains_key(key) {
            let gone = Look {
                session_id: None,
                lifecycle: None,
                ..was.clone()
            };
            events.push(change(
                agent,
                key,
                ResetKind::Disappeared,
                was,
                &gone,
                before,
                now_ms,
            ));
        }
    }
    events
}

/// A reset or a disappearance of `key`, which keepalive last saw as `was`.
fn change(
    agent: &str,
    key: &str,
    kind: ResetKind,
    was: &Look,
    seen: &Look,
    before: &Before,
    now_ms: u64,
) -> ResetEvent {
    let last_ms = before.at_ms.unwrap_or(now_ms);
    let verdict = if before.away_explains(was) {
        ResetVerdict::DaemonNotRunning
    } else {
        was.verdict
    };
    // The rule counts only if it had made the session stale by the time the change was seen.
    let stale = was
        .stale_at_ms
        .filter(|at| *at <= now_ms)
        .zip(was.stale_rule.clone());
    let what = match kind {
        ResetKind::Reset if was.session_id == seen.session_id => format!(
            "started afresh: lifecycleRevision {} became {} (sessionId {} kept, as OpenClaw \
             2026.8+ does)",
            revision(was),
            revision(seen),
            seen.session_id.as_deref().unwrap_or("?")
        ),
        ResetKind::Reset => format!(
            "started afresh: sessionId {} became {}",
            was.session_id.as_deref().unwrap_or("?"),
            seen.session_id.as_deref().unwrap_or("?")
        ),
        _ => "gone from the store (pruned or deleted)".to_owned(),
    };
    let why = match &stale {
        Some((at, rule)) if verdict == ResetVerdict::KeptAlive => format!(
            "the {rule} rule had made it stale at {} although keepalive was keeping it alive: \
             a keepalive failure",
            when(*at)
        ),
        Some((at, rule)) => format!("the {rule} rule had made it stale at {}", when(*at)),
        None => "no reset rule had made it stale by then (a /new or /reset in the chat, or a \
                 gateway reset of its own)"
            .to_owned(),
    };
    let verdict_words = if before.away_explains(was) {
        format!("{}; {}", verdict.words(), before.away_words(was.verdict))
    } else {
        verdict.words().to_owned()
    };
    ResetEvent {
        seq: 0,
        agent: agent.to_owned(),
        key: key.to_owned(),
        kind,
        old_session_id: was.session_id.clone(),
        new_session_id: seen.session_id.clone(),
        last_seen_ms: Some(last_ms),
        noticed_ms: now_ms,
        stale_rule: stale.as_ref().map(|(_, rule)| rule.clone()),
        stale_at_ms: stale.map(|(at, _)| at),
        verdict: Some(verdict),
        detail: format!(
            "{what} between {} and {}; {why}; verdict: {verdict_words}",
            when(last_ms),
            when(now_ms)
        ),
    }
}

/// A look's lifecycle revision as people read it.
fn revision(look: &Look) -> &str {
    match look.lifecycle.as_deref() {
        None | Some("") => "(none)",
        Some(revision) => revision,
    }
}

#[cfg(test)]
mod tests;
