//! What an agent shows between rounds: its status (`keepalivectl status`) and its counters
//! (metrics), updated together after each round, and the round's line in the log.

use std::time::{Duration, SystemTime};

use keepalive_proto::{AgentStatus, ErrorCode, ResetEvent, ResetKind, ResetVerdict};

use crate::daemon::metrics::AgentCounters;
use crate::daemon::round::{Batch, RoundResult};
use crate::openclaw::discovery::AgentFiles;
use crate::time::unix_ms;

/// An agent's status and counters, updated together after each round.
pub struct Reported {
    /// Without `writes`, which `counters` counts.
    status: AgentStatus,
    pub counters: AgentCounters,
}

impl Reported {
    pub fn new(agent: &AgentFiles) -> Self {
        Reported {
            counters: AgentCounters::default(),
            status: AgentStatus {
                id: agent.id.clone(),
                store: agent.store.display().to_string(),
                sessions: None,
                kept_alive: None,
                last_tick_ms: None,
                last_tick_duration_ms: None,
                writes: 0,
                last_error: None,
                generation: None,
                next_write_ms: None,
                next_write_reason: None,
                note: None,
                resets: 0,
                resets_of_kept: 0,
            },
        }
    }

    pub fn status(&self) -> AgentStatus {
        let resets = &self.counters.resets;
        AgentStatus {
            writes: self.counters.writes,
            resets: resets.values().sum(),
            resets_of_kept: resets
                .get(ResetVerdict::KeptAlive.code())
                .copied()
                .unwrap_or(0),
            ..self.status.clone()
        }
    }

    /// Records one round that took `elapsed`, and logs what it did.
    pub fn record(&mut self, id: &str, out: &RoundResult, batch: &Batch, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        let (found, write) = (&out.found, &out.write);
        self.counters.count(out, batch, ms);
        log_resets(id, &found.resets);
        let status = &mut self.status;
        if status.note != found.note
            && let Some(note) = &found.note
        {
            tracing::info!("{id}: {note}");
        }
        status.last_tick_ms = Some(unix_ms(SystemTime::now()));
        status.last_tick_duration_ms = Some(ms);
        status.generation = found.generation.map(|g| g.as_str().to_string());
        status.note = found.note.clone();
        status.sessions = found.sessions.or(status.sessions);
        status.kept_alive = found.kept_alive.or(status.kept_alive);
        status.next_write_ms = found.next_write.as_ref().map(|(at, _)| *at);
        status.next_write_reason = Some(match &found.next_write {
            Some((_, why)) => why.clone(),
            None if found.kept_alive == Some(0) => "no session is in use".into(),
            None if found.kept_alive.is_some() => {
                "the sessions kept alive never expire (reset mode none)".into()
            }
            None => "nothing to plan".into(),
        });
        let (sessions, kept) = (found.sessions.unwrap_or(0), found.kept_alive.unwrap_or(0));
        match &found.error {
            Some(e) => {
                let still_busy = e.code == ErrorCode::StoreBusy
                    && status.last_error.as_ref().is_some_and(|l| l.code == e.code);
                if still_busy {
                    // Retried within the second: one warning per busy spell is enough.
                    tracing::debug!("{id}: {}", e.message);
                } else {
                    tracing::warn!("{id}: {}", e.message);
                }
                status.last_error = Some(e.clone());
                return;
            }
            // A round that wrote nothing (a lookup, a report) says nothing about the store's
            // last write: "store busy" stays shown until a write gets through.
            None if batch.writes_what_is_due() || !batch.touches.is_empty() => {
                status.last_error = None;
            }
            None => {}
        }
        let next = status.next_write_reason.clone().unwrap_or_default();
        if out.dry_run && !write.bumped.is_empty() {
            tracing::info!(
                "{id}: dry run: would bump {} of {sessions} sessions{}",
                write.bumped.len(),
                list_keys(&write.bumped)
            );
        } else if write.written {
            tracing::info!(
                "{id}: bumped {} of {sessions} sessions in {ms:.1} ms ({kept} in use; next: {next})",
                write.bumped.len()
            );
        } else if batch.tick {
            tracing::info!(
                "{id}: {kept} of {sessions} sessions in use, nothing due (next: {next})"
            );
        }
    }
}

fn list_keys(keys: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = format!(
        ": {}",
        keys.iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if keys.len() > SHOWN {
        text.push_str(&format!(" and {} more", keys.len() - SHOWN));
    }
    text
}

/// A reset of a session keepalive was keeping alive, once a reset rule had made it stale, is
/// keepalive's failure: an error, with everything needed to look into it. With no rule struck
/// it is most likely a `/new` or `/reset` in the chat: a warning that says so (an error for
/// each would teach people to ignore errors). Other resets are worth a line; new entries are
/// not.
fn log_resets(id: &str, events: &[ResetEvent]) {
    for e in events {
        let ids = format!(
            "{} -> {}",
            e.old_session_id.as_deref().unwrap_or("none"),
            e.new_session_id.as_deref().unwrap_or("none")
        );
        match (e.kind, e.verdict) {
            (ResetKind::Reset, Some(ResetVerdict::KeptAlive)) if e.stale_rule.is_some() => {
                tracing::error!(
                agent = id,
                key = %e.key,
                session_ids = %ids,
                last_seen_ms = e.last_seen_ms,
                noticed_ms = e.noticed_ms,
                stale_rule = e.stale_rule.as_deref(),
                stale_at_ms = e.stale_at_ms,
                    "{id}: session {:?} was reset although keepalive kept it alive: {}",
                    e.key,
                    e.detail
                )
            }
            (ResetKind::Reset, Some(ResetVerdict::KeptAlive)) => tracing::warn!(
                agent = id,
                key = %e.key,
                session_ids = %ids,
                "{id}: session {:?} was reset while keepalive kept it alive, with no reset \
                 rule due (a /new or /reset in the chat?): {}",
                e.key,
                e.detail
            ),
            (ResetKind::Reset, _) => {
                tracing::info!("{id}: session {:?} was reset: {}", e.key, e.detail);
            }
            (ResetKind::Disappeared, _) => {
                tracing::info!("{id}: session {:?} {}", e.key, e.detail);
            }
            (ResetKind::Appeared, _) => tracing::debug!("{id}: session {:?}: {}", e.key, e.detail),
        }
    }
}
