//! The agent actor: the single writer of one agent's store.
//!
//! Ticks and client touches for an agent all go through this actor's queue,
//! so keepalive never races itself on a store. Whatever queued up while a
//! round was running is merged into the next round (one write for a burst of
//! touches), and each caller is answered once the write containing its
//! request is durable.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keepalive_proto::{AgentResult, AgentStatus, ErrorBody, ErrorCode};
use keepalive_store::{RoundOptions, RoundOutcome, StoreError, bump_store};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::policy::{Rules, selected_on_tick};

/// How many requests may wait for one agent before callers are slowed down.
const QUEUE_DEPTH: usize = 4096;
/// How often a round is redone when the store changes between read and rename.
const MAX_ATTEMPTS: u32 = 3;

/// What a caller wants bumped.
#[derive(Debug, Clone)]
pub enum Job {
    /// Every selected session (a tick, or a touch without keys).
    Selected,
    /// Exactly these keys, whatever the rules say.
    Keys(Vec<String>),
}

pub type JobReply = oneshot::Sender<Result<AgentResult, ErrorBody>>;

struct Message {
    job: Job,
    reply: Option<JobReply>,
}

/// Per-round settings that do not change while the daemon runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub dry_run: bool,
    pub lock_timeout: Duration,
}

/// The daemon's handle on a running actor.
#[derive(Clone)]
pub struct AgentHandle {
    pub id: String,
    pub store: PathBuf,
    queue: mpsc::Sender<Message>,
    status: Arc<Mutex<AgentStatus>>,
}

impl AgentHandle {
    /// Starts the actor for `id`'s store on `tracker`, stopping at `shutdown`.
    pub fn spawn(
        id: String,
        store: PathBuf,
        config: AgentConfig,
        rules: watch::Receiver<Arc<Rules>>,
        shutdown: CancellationToken,
        tracker: &tokio_util::task::TaskTracker,
    ) -> Self {
        let (queue, inbox) = mpsc::channel(QUEUE_DEPTH);
        let status = Arc::new(Mutex::new(AgentStatus {
            id: id.clone(),
            store: store.display().to_string(),
            sessions: None,
            kept_alive: None,
            last_tick_ms: None,
            last_tick_duration_ms: None,
            writes: 0,
            last_error: None,
        }));
        let actor = Actor {
            id: id.clone(),
            store: store.clone(),
            config,
            rules,
            status: status.clone(),
        };
        tracker.spawn(actor.run(inbox, shutdown));
        AgentHandle {
            id,
            store,
            queue,
            status,
        }
    }

    /// Queues a tick unless the queue is full, in which case a round is
    /// coming anyway and this tick would be merged into it.
    pub fn tick(&self) {
        let _ = self.queue.try_send(Message {
            job: Job::Selected,
            reply: None,
        });
    }

    /// Queues `job` and waits for the round that carries it.
    pub async fn run(&self, job: Job) -> Result<AgentResult, ErrorBody> {
        let (reply, answer) = oneshot::channel();
        let message = Message {
            job,
            reply: Some(reply),
        };
        if self.queue.send(message).await.is_err() {
            return Err(shutting_down());
        }
        answer.await.unwrap_or_else(|_| Err(shutting_down()))
    }

    pub fn status(&self) -> AgentStatus {
        match self.status.lock() {
            Ok(status) => status.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

struct Actor {
    id: String,
    store: PathBuf,
    config: AgentConfig,
    rules: watch::Receiver<Arc<Rules>>,
    status: Arc<Mutex<AgentStatus>>,
}

impl Actor {
    async fn run(self, mut inbox: mpsc::Receiver<Message>, shutdown: CancellationToken) {
        if let Some(dir) = self.store.parent() {
            match keepalive_store::remove_stale_temp_files(dir) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    "{}: removed {n} temp file(s) left by an earlier keepalived",
                    self.id
                ),
                Err(e) => tracing::warn!(
                    "{}: cannot clean old temp files in {}: {e}",
                    self.id,
                    dir.display()
                ),
            }
        }
        loop {
            let first = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                message = inbox.recv() => match message {
                    Some(message) => message,
                    None => return,
                },
            };
            let mut batch = vec![first];
            while let Ok(message) = inbox.try_recv() {
                batch.push(message);
            }
            // The round runs to completion even if shutdown starts meanwhile:
            // a write is never cut in half.
            self.round(batch).await;
        }
        inbox.close();
        while let Some(message) = inbox.recv().await {
            if let Some(reply) = message.reply {
                let _ = reply.send(Err(shutting_down()));
            }
        }
    }

    async fn round(&self, batch: Vec<Message>) {
        let all_selected = batch.iter().any(|m| matches!(m.job, Job::Selected));
        let named: HashSet<String> = batch
            .iter()
            .filter_map(|m| match &m.job {
                Job::Keys(keys) => Some(keys.iter().cloned()),
                Job::Selected => None,
            })
            .flatten()
            .collect();
        let rules = self.rules.borrow().clone();
        let (id, store, config) = (self.id.clone(), self.store.clone(), self.config.clone());
        let started = Instant::now();
        let outcome = tokio::task::spawn_blocking(move || {
            run_round(&id, &store, &config, &rules, all_selected, &named)
        })
        .await
        .unwrap_or_else(|e| Err(RoundError::Panicked(e.to_string())));
        let elapsed = started.elapsed();
        self.record(&outcome, elapsed);
        for message in batch {
            let Some(reply) = message.reply else { continue };
            let answer = match &outcome {
                Ok(round) => Ok(self.result_for(&message.job, round)),
                Err(e) => Err(e.to_body()),
            };
            let _ = reply.send(answer);
        }
    }

    fn result_for(&self, job: &Job, round: &Round) -> AgentResult {
        let bumped = match job {
            Job::Selected => round.outcome.bumped.clone(),
            Job::Keys(keys) => round
                .outcome
                .bumped
                .iter()
                .filter(|k| keys.contains(k))
                .cloned()
                .collect(),
        };
        AgentResult {
            agent: self.id.clone(),
            store: self.store.display().to_string(),
            sessions: round.outcome.sessions,
            bumped,
            written: round.outcome.written,
            dry_run: self.config.dry_run,
            error: None,
        }
    }

    fn record(&self, outcome: &Result<Round, RoundError>, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        let mut status = match self.status.lock() {
            Ok(status) => status,
            Err(poisoned) => poisoned.into_inner(),
        };
        status.last_tick_ms = Some(unix_ms(SystemTime::now()));
        status.last_tick_duration_ms = Some(ms);
        match outcome {
            Ok(round) => {
                let o = &round.outcome;
                status.sessions = Some(o.sessions);
                status.kept_alive = Some(round.selected);
                status.last_error = None;
                if o.written {
                    status.writes += 1;
                }
                if self.config.dry_run {
                    tracing::info!(
                        "{}: dry run: would bump {} of {} sessions{}",
                        self.id,
                        o.bumped.len(),
                        o.sessions,
                        list_keys(&o.bumped)
                    );
                } else {
                    tracing::info!(
                        "{}: bumped {} of {} sessions in {ms:.1} ms{}",
                        self.id,
                        o.bumped.len(),
                        o.sessions,
                        if o.reclaimed_stale_lock {
                            " (reclaimed a stale gateway lock)"
                        } else {
                            ""
                        }
                    );
                }
            }
            Err(e) => {
                tracing::warn!("{}: {e}", self.id);
                status.last_error = Some(e.to_body());
            }
        }
    }
}

/// A finished round: the store's answer plus how many sessions were selected.
struct Round {
    outcome: RoundOutcome,
    selected: usize,
}

#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error while writing the store: {0}")]
    Panicked(String),
}

impl RoundError {
    fn to_body(&self) -> ErrorBody {
        match self {
            RoundError::Store(e) => ErrorBody::new(ErrorCode::from_wire(e.code()), e.to_string()),
            RoundError::Panicked(_) => ErrorBody::new(ErrorCode::Internal, self.to_string()),
        }
    }
}

/// One blocking round on the store. `named` keys are bumped whatever the
/// rules say; the rest only when `all_selected` and the policy selects them.
fn run_round(
    agent: &str,
    store: &std::path::Path,
    config: &AgentConfig,
    rules: &Rules,
    all_selected: bool,
    named: &HashSet<String>,
) -> Result<Round, RoundError> {
    // Counted as a set: the store may redo the round and ask again.
    let selected = std::cell::RefCell::new(HashSet::new());
    // Only `updatedAt` for now: which fields to bump per entry is the policy's to decide.
    let decide = |entry: &keepalive_store::EntryInfo| {
        let key = entry.key.as_str();
        let chosen = named.contains(key) || (all_selected && selected_on_tick(rules, agent, key));
        if chosen {
            selected.borrow_mut().insert(key.to_owned());
            keepalive_store::Fields::UPDATED_AT
        } else {
            keepalive_store::Fields::NONE
        }
    };
    let options = RoundOptions {
        now_ms: unix_ms(SystemTime::now()),
        decide: &decide,
        dry_run: config.dry_run,
        lock_timeout: config.lock_timeout,
        max_attempts: MAX_ATTEMPTS,
    };
    let outcome = bump_store(store, &options)?;
    let selected = selected.borrow().len();
    Ok(Round { outcome, selected })
}

pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn shutting_down() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::ShuttingDown,
        "keepalived is shutting down and took no new work; start it again with `keepalivectl start`",
    )
}

fn list_keys(keys: &[String]) -> String {
    const SHOWN: usize = 10;
    if keys.is_empty() {
        return String::new();
    }
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
