//! What a round decides from what it read: every session's decision (`policy::decide`),
//! which sessions to bump and which touches to refuse, and what the round tells afterwards
//! (the next write, the notes, a report's rows).

use std::collections::{BTreeMap, HashMap, HashSet};

use keepalive_proto::{ErrorBody, ErrorCode, ResetVerdict, SessionRow};
use keepalive_store::{EntryInfo, Fields, Timestamp};

use super::read::transcript;
use super::{Batch, KeyTouch, Round};
use crate::openclaw::agent_db::SessionNode;
use crate::openclaw::discovery::AgentFiles;
use crate::openclaw::{Facing, Generation, Mode};
use crate::policy::decide::rule_name;
use crate::policy::unwritable::{self, Expiry};
use crate::policy::{
    AgentLedger, Context, Decision, Look, PolicyInputs, Reason, Source, Transcript, decide,
};
use crate::resets;

/// Every session's decision, from one read of the store.
pub struct Decided {
    pub transcripts: Vec<Transcript>,
    pub decisions: Vec<Decision>,
    /// The activity each decision saw, kept before the bump overwrites the timestamps that
    /// showed it: (key, when, source).
    pub seen: Vec<(String, u64, &'static str)>,
}

/// What the gateway release (known, hinted or unknown) lets the decisions assume.
pub fn facing(policy: &PolicyInputs, generation: Generation) -> Facing {
    let in_sqlite = generation == Generation::Sqlite;
    let split_fields = generation == Generation::JsonV2 || in_sqlite;
    match policy.release {
        Some(release) if policy.release_certain => Facing::known(release),
        Some(hint) => Facing::hinted(hint, split_fields, in_sqlite),
        None => Facing::unknown(split_fields, in_sqlite),
    }
}

/// What every decision of this round depends on besides the entry.
pub fn context<'a>(
    round: &Round<'a>,
    generation: Generation,
    facing: &'a Facing,
    ledger: &'a AgentLedger,
) -> Context<'a> {
    let policy = round.policy;
    Context {
        agent: &round.agent.id,
        generation,
        facing,
        rules: &policy.rules,
        reset: &policy.reset,
        clock: round.clock,
        window_ms: policy.window_ms,
        margin_ms: policy.margin_ms,
        schedule: policy.schedule,
        bump_session_start: policy.bump_session_start,
        ledger,
    }
}

/// Decides every session in `entries`.
pub fn decide_all(entries: &[EntryInfo], facing: &Facing, ctx: &Context) -> Decided {
    // Looked at once: a bump changes timestamps, never the transcript.
    let wants_start = facing.candidates().iter().any(|r| r.split_timestamps);
    let transcripts: Vec<Transcript> = entries.iter().map(|e| transcript(e, wants_start)).collect();
    let decisions: Vec<Decision> = entries
        .iter()
        .zip(&transcripts)
        .map(|(e, t)| decide(e, *t, ctx))
        .collect();
    let seen = decisions
        .iter()
        .zip(entries)
        .filter_map(|(d, e)| {
            d.activity
                .map(|a| (e.key.clone(), a.at_ms, a.source.as_str()))
        })
        .collect();
    Decided {
        transcripts,
        decisions,
        seen,
    }
}

/// What to bump, and each touch accepted or refused, in batch order: kept sessions on a due
/// tick (all of them, so their deadlines line up and the next write serves them all) or a
/// touch of everything; named sessions on a touch, after the staleness check.
pub fn bumps<'b>(
    batch: &'b Batch,
    decisions: &[Decision],
    entries: &[EntryInfo],
    index: &HashMap<&str, usize>,
    now: u64,
) -> (
    HashMap<String, Fields>,
    Vec<Result<&'b KeyTouch, ErrorBody>>,
) {
    let mut bumps: HashMap<String, Fields> = HashMap::new();
    if (batch.tick && decisions.iter().any(|d| d.due(now))) || batch.touches_of_all > 0 {
        for (d, e) in decisions.iter().zip(entries).filter(|(d, _)| d.keep) {
            bumps.insert(e.key.clone(), d.fields);
        }
    }
    let mut checked = Vec::new();
    for touch in &batch.touches {
        let check = check_touch(touch, index, decisions).map(|()| touch);
        if check.is_ok() {
            for key in &touch.keys {
                let d = &decisions[index[key.as_str()]];
                let fields = bumps.entry(key.clone()).or_default();
                *fields = union(*fields, d.fields);
            }
        }
        checked.push(check);
    }
    (bumps, checked)
}

/// Where each key stands in `keys`.
pub fn index_of<'a>(keys: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    keys.enumerate().map(|(i, k)| (k, i)).collect()
}

/// Each lookup's answer: which of its keys the store holds.
pub fn lookups(batch: &Batch, index: &HashMap<&str, usize>) -> Vec<Result<Vec<String>, ErrorBody>> {
    batch
        .lookups
        .iter()
        .map(|keys| {
            Ok(keys
                .iter()
                .filter(|k| index.contains_key(k.as_str()))
                .cloned()
                .collect())
        })
        .collect()
}

/// The keys of `touch` that `index` does not hold.
pub fn missing<'t>(touch: &'t KeyTouch, index: &HashMap<&str, usize>) -> Vec<&'t String> {
    touch
        .keys
        .iter()
        .filter(|k| !index.contains_key(k.as_str()))
        .collect()
}

/// A touch is all or nothing: every key must be in this store, and none may
/// be stale already unless the caller asked to revive.
fn check_touch(
    touch: &KeyTouch,
    index: &HashMap<&str, usize>,
    decisions: &[Decision],
) -> Result<(), ErrorBody> {
    let missing = missing(touch, index);
    if !missing.is_empty() {
        return Err(ErrorBody::unknown_sessions(&missing));
    }
    if touch.revive {
        return Ok(());
    }
    let stale: Vec<String> = touch
        .keys
        .iter()
        .filter_map(|k| {
            let d = &decisions[index[k.as_str()]];
            d.stale_already.map(|_| format!("{k:?}: {}", d.detail))
        })
        .collect();
    if stale.is_empty() {
        Ok(())
    } else {
        Err(ErrorBody::new(
            ErrorCode::SessionStale,
            format!(
                "not bumped: {}. The gateway starts such a session afresh at its next message; \
                 pass --revive to bump it anyway",
                stale.join("; ")
            ),
        ))
    }
}

/// The entry as it is after a bump of `fields` to `now`.
pub fn bumped_entry(entry: &EntryInfo, fields: Fields, now: u64) -> EntryInfo {
    let mut after = entry.clone();
    let set = |t: &mut Timestamp, wanted: bool| {
        if let Timestamp::Integer { value, .. } = t
            && wanted
            && *value < now
        {
            *value = now;
        }
    };
    set(&mut after.updated_at, fields.updated_at);
    set(&mut after.last_interaction_at, fields.last_interaction_at);
    set(&mut after.session_started_at, fields.session_started_at);
    after
}

pub fn kept_of<'a>(decisions: &[Decision], entries: &'a [EntryInfo]) -> HashSet<&'a str> {
    decisions
        .iter()
        .zip(entries)
        .filter(|(d, _)| d.keep)
        .map(|(_, e)| e.key.as_str())
        .collect()
}

/// The soonest write a kept session needs, and why.
pub fn next_write(
    decisions: &[Decision],
    entries: &[EntryInfo],
    now: u64,
) -> Option<(u64, String)> {
    let soonest = decisions
        .iter()
        .zip(entries)
        .filter_map(|(d, e)| {
            d.write_at
                .as_ref()
                .filter(|_| d.keep)
                .map(|(at, why)| (*at, e, why))
        })
        .min_by_key(|(at, _, _)| *at);
    soonest.map(|(at, e, why)| (at.max(now), format!("{}: {why}", e.key)))
}

/// keepalive's look at every session as the round leaves it. `written(key)` says whether the
/// round wrote the session (`Some(true)`), tried and failed (`Some(false)`), or did not try
/// (`None`): then a failure of an earlier round still stands, until a write gets through.
pub fn looks(
    entries: &[EntryInfo],
    decisions: &[Decision],
    written: impl Fn(&str) -> Option<bool>,
    before: &BTreeMap<String, Look>,
) -> BTreeMap<String, Look> {
    entries
        .iter()
        .zip(decisions)
        .map(|(e, d)| {
            let failed = match written(&e.key) {
                Some(ok) => !ok,
                None => before.get(&e.key).is_some_and(|was| {
                    was.verdict == ResetVerdict::WriteFailed && was.session_id == e.session_id
                }),
            };
            (
                e.key.clone(),
                resets::look(e.session_id.as_deref(), d, failed),
            )
        })
        .collect()
}

/// The look at sessions of a store keepalive does not write.
pub fn unwritable_looks(entries: &[EntryInfo]) -> BTreeMap<String, Look> {
    entries
        .iter()
        .map(|e| {
            let look = Look {
                session_id: e.session_id.clone(),
                lifecycle: None,
                verdict: ResetVerdict::NotWritable,
                stale_at_ms: None,
                stale_rule: None,
            };
            (e.key.clone(), look)
        })
        .collect()
}

/// The look at the sessions of an SQLite store: their lifecycles too (a reset there keeps
/// the `sessionId`), and when each goes stale under the policy in force.
pub fn sqlite_looks(nodes: &[SessionNode], expiries: &[Expiry]) -> BTreeMap<String, Look> {
    nodes
        .iter()
        .zip(expiries)
        .map(|(node, expiry)| {
            let look = Look {
                session_id: node.session_id.clone(),
                lifecycle: Some(node.lifecycle_revision.clone().unwrap_or_default()),
                verdict: ResetVerdict::NotWritable,
                stale_at_ms: expiry.stale_at.map(|(at, _)| at),
                stale_rule: expiry.stale_at.map(|(_, rule)| rule_name(rule).to_owned()),
            };
            (node.key.clone(), look)
        })
        .collect()
}

/// A report's rows for sessions keepalive never writes: each one's last interaction, and when
/// the gateway would reset it under the policy in force.
pub fn unwritable_rows(
    agent: &AgentFiles,
    entries: &[EntryInfo],
    expiries: &[Expiry],
    now: u64,
) -> Vec<SessionRow> {
    entries
        .iter()
        .zip(expiries)
        .map(|(e, expiry)| {
            let last = (e.last_interaction_at.value())
                .or(e.updated_at.value())
                .filter(|t| *t > 0);
            SessionRow {
                agent: agent.id.clone(),
                key: e.key.clone(),
                last_activity_ms: last,
                activity_source: last.map(|_| Source::Gateway.as_str().to_owned()),
                stale_at_ms: expiry.stale_at.map(|(at, _)| at),
                stale_rule: expiry.stale_at.map(|(_, r)| rule_name(r).to_owned()),
                kept_alive: false,
                reason: Reason::NotWritable.code().to_owned(),
                detail: unwritable::detail(expiry, now),
                last_reset: None,
            }
        })
        .collect()
}

/// A report's rows: one per session, as decided.
pub fn rows(agent: &AgentFiles, decisions: &[Decision], entries: &[EntryInfo]) -> Vec<SessionRow> {
    decisions
        .iter()
        .zip(entries)
        .map(|(d, e)| SessionRow {
            agent: agent.id.clone(),
            key: e.key.clone(),
            last_activity_ms: d.activity.map(|a| a.at_ms),
            activity_source: d.activity.map(|a| a.source.as_str().to_string()),
            stale_at_ms: d.stale_at.map(|(at, _)| at),
            stale_rule: d.stale_at.map(|(_, r)| rule_name(r).to_string()),
            kept_alive: d.keep,
            reason: d.reason.code().to_string(),
            detail: d.detail.clone(),
            last_reset: None,
        })
        .collect()
}

/// On json-v2 the daily reset reads `sessionStartedAt`, which keepalive only
/// writes on request: say so rather than look as if it prevented it.
pub fn daily_note(
    generation: Generation,
    policy: &PolicyInputs,
    decisions: &[Decision],
    entries: &[EntryInfo],
) -> Option<String> {
    let affected = decisions.iter().zip(entries).any(|(d, e)| {
        d.keep && d.rule.mode == Mode::Daily && e.session_started_at.value().is_some()
    });
    (generation == Generation::JsonV2 && !policy.bump_session_start && affected).then(|| {
        "json-v2: the daily reset reads sessionStartedAt, which keepalive does not rewrite; kept \
         sessions still reset at the daily boundary (opt in with --bump-session-start)"
            .to_string()
    })
}

fn union(a: Fields, b: Fields) -> Fields {
    Fields {
        updated_at: a.updated_at || b.updated_at,
        last_interaction_at: a.last_interaction_at || b.last_interaction_at,
        session_started_at: a.session_started_at || b.session_started_at,
    }
}
