//! The agent actor: the single writer of one agent's store.
//!
//! Ticks, touches, lookups and reports for an agent all go through this
//! actor's queue, so keepalive never races itself on a store and reads it
//! once per round however many clients ask. Whatever queued up while a round
//! ran is merged into the next one (one write for a burst of touches), and
//! each caller is answered once the write containing its request is durable.

mod status;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keepalive_proto::{AgentStatus, ErrorBody, ErrorCode, SessionRow};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::metrics::AgentCounters;
use super::round::{AgentRounds, Batch, KeyTouch, RoundConfig, RoundResult, Touched};
use crate::openclaw::Clock;
use crate::openclaw::discovery::AgentFiles;
use crate::policy::PolicyInputs;
use crate::resets::ResetLog;
use status::Reported;

/// How many requests may wait for one agent before callers are slowed down.
const QUEUE_DEPTH: usize = 4096;

/// What a caller wants from the agent.
#[derive(Debug, Clone)]
enum Job {
    Tick,
    TouchAll,
    TouchKeys(KeyTouch),
    Lookup(Vec<String>),
    Report,
}

enum Answer {
    Touched(Touched),
    Found(Vec<String>),
    Rows(Vec<SessionRow>),
}

struct Message {
    job: Job,
    reply: Option<oneshot::Sender<Result<Answer, ErrorBody>>>,
}

/// The daemon's handle on a running actor.
#[derive(Clone)]
pub struct AgentHandle {
    pub id: String,
    pub store: PathBuf,
    queue: mpsc::Sender<Message>,
    state: Arc<Mutex<Reported>>,
}

/// What an actor takes from the daemon: where it runs and when it stops, nothing more.
pub struct Lifetime<'a> {
    pub workers: &'a TaskTracker,
    /// Ends the actor's loop once its round in progress is done.
    pub shutdown: CancellationToken,
    /// Cuts a wait for the gateway's lock (or for a gap between its writes) short.
    pub cancel: Arc<AtomicBool>,
}

impl AgentHandle {
    /// Starts the actor for `agent` on the daemon's worker tracker.
    pub fn spawn(
        agent: AgentFiles,
        config: RoundConfig,
        lifetime: Lifetime<'_>,
        policy: watch::Receiver<Arc<PolicyInputs>>,
        resets: Arc<ResetLog>,
    ) -> Self {
        let (queue, inbox) = mpsc::channel(QUEUE_DEPTH);
        let state = Arc::new(Mutex::new(Reported::new(&agent)));
        let handle = AgentHandle {
            id: agent.id.clone(),
            store: agent.store.clone(),
            queue,
            state: state.clone(),
        };
        let actor = Actor {
            rounds: AgentRounds::new(agent, config),
            busy_retry: None,
            policy,
            resets,
            state,
            cancel: lifetime.cancel,
        };
        lifetime.workers.spawn(actor.run(inbox, lifetime.shutdown));
        handle
    }

    /// Queues a tick unless the queue is full, in which case a round is
    /// coming anyway and this tick would be merged into it.
    pub fn tick(&self) {
        let _ = self.queue.try_send(Message {
            job: Job::Tick,
            reply: None,
        });
    }

    /// Bumps every session kept alive.
    pub async fn touch_all(&self) -> Result<Touched, ErrorBody> {
        match self.ask(Job::TouchAll).await? {
            Answer::Touched(result) => Ok(result),
            _ => Err(reply_mismatch()),
        }
    }

    /// Bumps `keys`, all or none.
    pub async fn touch_keys(&self, keys: Vec<String>, revive: bool) -> Result<Touched, ErrorBody> {
        match self.ask(Job::TouchKeys(KeyTouch { keys, revive })).await? {
            Answer::Touched(result) => Ok(result),
            _ => Err(reply_mismatch()),
        }
    }

    /// Which of `keys` this agent's store holds.
    pub async fn lookup(&self, keys: Vec<String>) -> Result<Vec<String>, ErrorBody> {
        match self.ask(Job::Lookup(keys)).await? {
            Answer::Found(found) => Ok(found),
            _ => Err(reply_mismatch()),
        }
    }

    /// One row per session, without writing anything.
    pub async fn report(&self) -> Result<Vec<SessionRow>, ErrorBody> {
        match self.ask(Job::Report).await? {
            Answer::Rows(rows) => Ok(rows),
            _ => Err(reply_mismatch()),
        }
    }

    async fn ask(&self, job: Job) -> Result<Answer, ErrorBody> {
        let (reply, answer) = oneshot::channel();
        if self
            .queue
            .send(Message {
                job,
                reply: Some(reply),
            })
            .await
            .is_err()
        {
            return Err(shutting_down());
        }
        answer.await.unwrap_or_else(|_| Err(shutting_down()))
    }

    pub fn status(&self) -> AgentStatus {
        lock(&self.state).status()
    }

    /// Status and counters, for metrics.
    pub fn metrics(&self) -> (AgentStatus, AgentCounters) {
        let state = lock(&self.state);
        (state.status(), state.counters.clone())
    }
}

struct Actor {
    rounds: AgentRounds,
    policy: watch::Receiver<Arc<PolicyInputs>>,
    /// Where the resets the rounds notice are kept.
    resets: Arc<ResetLog>,
    state: Arc<Mutex<Reported>>,
    cancel: Arc<AtomicBool>,
    /// When the last round found the store busy: how soon to try again, without waiting
    /// for the next tick.
    busy_retry: Option<Duration>,
}

/// The first retry after a busy store, doubled after each busy round up to [`BUSY_RETRY_MAX`].
const BUSY_RETRY_FIRST: Duration = Duration::from_millis(250);
const BUSY_RETRY_MAX: Duration = Duration::from_secs(5);

/// A store the gateway keeps writing (or whose lock it keeps) does not wait a whole tick for
/// the next try: the write that was due may be the last one before a deadline, so it is tried
/// again soon, and again, in every gap between the gateway's writes until it lands. Only a
/// tick's round that was not busy ends the retries: a lookup, a report or a touch of a few
/// keys does not write the sessions that were due.
fn busy_retry(out: &RoundResult, batch: &Batch, last: Option<Duration>) -> Option<Duration> {
    let busy = out
        .found
        .error
        .as_ref()
        .is_some_and(|e| e.code == ErrorCode::StoreBusy);
    if busy {
        Some(last.map_or(BUSY_RETRY_FIRST, |d| (d * 2).min(BUSY_RETRY_MAX)))
    } else if batch.writes_what_is_due() {
        None
    } else {
        last
    }
}

async fn sleep_or_never(delay: Option<Duration>) {
    match delay {
        Some(delay) => tokio::time::sleep(delay).await,
        None => std::future::pending().await,
    }
}

impl Actor {
    async fn run(mut self, mut inbox: mpsc::Receiver<Message>, shutdown: CancellationToken) {
        loop {
            let retry = self.busy_retry;
            let first = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                message = inbox.recv() => match message {
                    Some(message) => message,
                    None => return,
                },
                _ = sleep_or_never(retry) => Message { job: Job::Tick, reply: None },
            };
            let mut batch = vec![first];
            while let Ok(message) = inbox.try_recv() {
                batch.push(message);
            }
            // The round runs to completion even if shutdown starts meanwhile:
            // a write is never cut in half (a wait for the lock is, though).
            self.round(batch).await;
        }
        // The time of the last look too, so that the next daemon knows since when it was
        // not running.
        // Not while the event log lacks events the looks found: the next daemon finds them
        // again instead.
        let (mut rounds, log) = (self.take_rounds(), self.resets.clone());
        let _ = tokio::task::spawn_blocking(move || {
            if log.write() {
                rounds.save_ledger_now();
            }
        })
        .await;
        inbox.close();
        while let Some(message) = inbox.recv().await {
            if let Some(reply) = message.reply {
                let _ = reply.send(Err(shutting_down()));
            }
        }
    }

    async fn round(&mut self, messages: Vec<Message>) {
        let mut batch = Batch::default();
        for message in &messages {
            match &message.job {
                Job::Tick => batch.tick = true,
                Job::TouchAll => batch.touches_of_all += 1,
                Job::TouchKeys(touch) => batch.touches.push(touch.clone()),
                Job::Lookup(keys) => batch.lookups.push(keys.clone()),
                Job::Report => batch.reports += 1,
            }
        }
        let (policy, cancel) = (self.policy.borrow().clone(), self.cancel.clone());
        let mut rounds = self.take_rounds();
        let started = Instant::now();
        let ran = tokio::task::spawn_blocking(move || {
            let out = rounds.run(&batch, &policy, &cancel, &Clock::system());
            (out, rounds, batch)
        })
        .await;
        let Ok((mut out, rounds, batch)) = ran else {
            // The round panicked with the ledger: the next round starts again from the
            // ledger as last saved, rather than from one the panic left half-changed.
            let error = ErrorBody::new(
                ErrorCode::Internal,
                "internal error in a store round; see the log",
            );
            for reply in messages.into_iter().filter_map(|m| m.reply) {
                let _ = reply.send(Err(error.clone()));
            }
            return;
        };
        self.rounds = rounds;
        self.busy_retry = busy_retry(&out, &batch, self.busy_retry);
        // Recorded before the answers, so that a client asking next finds them; and before
        // they are counted and logged, which a change the log already holds must not be twice.
        let found = std::mem::take(&mut out.found.resets);
        out.found.resets = self.resets.record(found, out.found.compared_with_ms);
        let noticed = !out.found.resets.is_empty();
        let id = &self.rounds.agent().id;
        lock(&self.state).record(id, &out, &batch, started.elapsed());
        let answers = out.answers;
        let (mut touches, mut lookups) = (answers.touches.into_iter(), answers.lookups.into_iter());
        for message in messages {
            let Some(reply) = message.reply else { continue };
            let answer = match message.job {
                Job::Tick => continue,
                Job::TouchAll => answers.touch_all.clone().map(Answer::Touched),
                Job::TouchKeys(_) => touches
                    .next()
                    .unwrap_or_else(|| Err(reply_mismatch()))
                    .map(Answer::Touched),
                Job::Lookup(_) => lookups
                    .next()
                    .unwrap_or_else(|| Err(reply_mismatch()))
                    .map(Answer::Found),
                Job::Report => answers.report.clone().map(Answer::Rows),
            };
            let _ = reply.send(answer);
        }
        // Saved after the answers, off the touch's path: the store write they waited for is
        // durable already, and a ledger lost to a crash only means keepalive's own last bump
        // may count as activity once. The next round waits for this save.
        // The events go to the log's file before the ledger records the look that found
        // them, and the ledger waits while they cannot: a crash in between notices them
        // again at the next start, rather than never.
        if self.rounds.ledger_changed() || noticed {
            let (mut rounds, log) = (self.take_rounds(), self.resets.clone());
            if let Ok(saved) = tokio::task::spawn_blocking(move || {
                if log.write() {
                    rounds.save_ledger();
                }
                rounds
            })
            .await
            {
                self.rounds = saved;
            }
        }
    }

    /// The agent's rounds, to move onto a blocking thread; a fresh start (which loads the
    /// ledger as last saved) stays behind in case that thread panics.
    fn take_rounds(&mut self) -> AgentRounds {
        let fresh = self.rounds.fresh();
        std::mem::replace(&mut self.rounds, fresh)
    }
}

fn shutting_down() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::ShuttingDown,
        "keepalived is shutting down and took no new work; start it again with `keepalivectl start`",
    )
}

fn reply_mismatch() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Internal,
        "internal error: a reply went to the wrong request",
    )
}

/// Locks `mutex`, also after a panic elsewhere left it poisoned.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
