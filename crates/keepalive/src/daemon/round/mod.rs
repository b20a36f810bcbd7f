//! One round for one agent, on a blocking thread: read the store once, without a lock,
//! decide for every session, write what is due from that same read (the gateway's lock is
//! held only for the final check and rename; when nothing is due no lock is taken), and
//! answer every request that was merged into the round.
//!
//! [`AgentRounds`] runs an agent's rounds, for the actor and for `--once` alike, and is the
//! one place its activity ledger is loaded and saved. A round's steps, in order:
//! [`read`] (where the sessions are, the store), [`plan`] (decisions, bumps, refusals), the
//! store crate's write, then the ledger and the answers.

mod answers;
mod plan;
mod read;
mod sqlite;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use keepalive_proto::{ErrorBody, ErrorCode, ResetEvent};
use keepalive_store::{EntryInfo, Fields, RoundOptions, RoundOutcome, StoreError, StoreSnapshot};

use crate::openclaw::discovery::AgentFiles;
use crate::openclaw::{Clock, Generation};
use crate::policy::{AgentLedger, LedgerFile, Look, PolicyInputs, decide};
use crate::resets::{self, notice::Before};
pub use answers::{Answers, Touched};
use read::Holding;

/// How often a write is redone when the store changes between read and rename.
const MAX_ATTEMPTS: u32 = 3;

/// A client's touch of named sessions.
#[derive(Debug, Clone)]
pub struct KeyTouch {
    pub keys: Vec<String>,
    pub revive: bool,
}

/// Everything merged into one round.
#[derive(Debug, Default)]
pub struct Batch {
    pub tick: bool,
    /// How many touches of every session kept alive were merged in.
    pub touches_of_all: usize,
    pub touches: Vec<KeyTouch>,
    pub lookups: Vec<Vec<String>>,
    pub reports: usize,
}

impl Batch {
    /// The round writes every session that is due: only such a round ends a busy spell.
    pub fn writes_what_is_due(&self) -> bool {
        self.tick || self.touches_of_all > 0
    }
}

/// The settings of an agent's rounds that do not change while the daemon runs.
#[derive(Debug, Clone)]
pub struct RoundConfig {
    pub dry_run: bool,
    pub lock_timeout: Duration,
    pub ledger_dir: PathBuf,
}

/// What a round found: the agent's status is made of it.
#[derive(Debug, Default)]
pub struct Findings {
    pub generation: Option<Generation>,
    pub note: Option<String>,
    pub sessions: Option<usize>,
    pub kept_alive: Option<usize>,
    pub next_write: Option<(u64, String)>,
    pub error: Option<ErrorBody>,
    /// The round looked at every session (compared with the last look, in the ledger).
    pub looked: bool,
    /// What changed since the last look: resets, and entries gone or new (unnumbered).
    pub resets: Vec<ResetEvent>,
    /// When the last look, which this one was compared with, was made.
    pub compared_with_ms: Option<u64>,
}

/// What the round's write did and what it cost; all zero when nothing was written.
#[derive(Debug, Default)]
pub struct WriteStats {
    pub bumped: Vec<String>,
    pub written: bool,
    /// How long the write waited for, and held, the gateway's lock.
    pub lock_wait: Duration,
    pub lock_hold: Duration,
    pub reclaimed_stale_lock: bool,
    /// How long the write waited for a write of the gateway's in progress to end.
    pub writer_wait: Duration,
    /// Gateway writes that landed at the moment of ours and were put back.
    pub put_back: u32,
}

#[derive(Debug)]
pub struct RoundResult {
    pub dry_run: bool,
    pub found: Findings,
    pub write: WriteStats,
    pub answers: Answers,
}

/// One agent's rounds: its store, its settings, and its activity ledger, loaded before the
/// first round and saved after a round that changed it.
pub struct AgentRounds {
    agent: AgentFiles,
    config: RoundConfig,
    file: LedgerFile,
    /// `None` until the first round.
    ledger: Option<Ledger>,
    /// A round of this daemon has looked at every session: the last look in the ledger is
    /// this daemon's own, not one made before keepalive stopped.
    looked: bool,
    /// How long the machine had slept (in all, since boot) at this daemon's last look.
    asleep_at_last_look: Option<Duration>,
}

struct Ledger {
    current: AgentLedger,
    /// As last saved, or tried to be: a save that failed is warned about once, not retried
    /// every round.
    saved: AgentLedger,
}

impl AgentRounds {
    pub fn new(agent: AgentFiles, config: RoundConfig) -> Self {
        AgentRounds {
            file: LedgerFile::new(&config.ledger_dir, &agent.id),
            agent,
            config,
            ledger: None,
            looked: false,
            asleep_at_last_look: None,
        }
    }

    /// A fresh start of the same agent's rounds, which loads the ledger as last saved: to
    /// stand in while these run on another thread, in case that thread panics. It keeps
    /// knowing whether this daemon has looked, so that a panic is not taken for a restart.
    pub fn fresh(&self) -> Self {
        AgentRounds {
            looked: self.looked,
            asleep_at_last_look: self.asleep_at_last_look,
            ..AgentRounds::new(self.agent.clone(), self.config.clone())
        }
    }

    pub fn agent(&self) -> &AgentFiles {
        &self.agent
    }

    /// Runs one round (blocking). Before the first, removes the temp files an earlier,
    /// killed keepalived left beside the store (not on a dry run, which changes no file at
    /// all, not even our own leftovers), then loads the ledger.
    pub fn run(
        &mut self,
        batch: &Batch,
        policy: &PolicyInputs,
        cancel: &AtomicBool,
        clock: &Clock,
    ) -> RoundResult {
        let asleep_now = crate::time::asleep_total();
        let (agent, config, file) = (&self.agent, &self.config, &self.file);
        let ledger = self.ledger.get_or_insert_with(|| {
            if let (Some(dir), false) = (agent.store.parent(), config.dry_run) {
                crate::atomic_file::remove_leftovers(dir);
            }
            let loaded = file.load();
            Ledger {
                saved: loaded.clone(),
                current: loaded,
            }
        });
        let round = Round {
            agent,
            config,
            policy,
            cancel,
            clock,
            by_previous_daemon: !self.looked,
            slept_ms: crate::time::slept_ms(self.asleep_at_last_look, asleep_now),
        };
        let result = round.run(batch, &mut ledger.current);
        if result.found.looked {
            self.looked = true;
            self.asleep_at_last_look = asleep_now;
        }
        result
    }

    /// Whether rounds changed the ledger since it was last saved in a way worth a write now
    /// (a dry run never saves).
    pub fn ledger_changed(&self) -> bool {
        !self.config.dry_run
            && self
                .ledger
                .as_ref()
                .is_some_and(|l| l.current.worth_saving_over(&l.saved))
    }

    /// Saves the ledger if rounds changed it (blocking).
    pub fn save_ledger(&mut self) {
        if self.ledger_changed() {
            self.save_ledger_now();
        }
    }

    /// Saves the ledger if it differs at all from the saved one, the time of the last look
    /// included (blocking): when the daemon stops, so that the next one knows when keepalive
    /// last looked.
    pub fn save_ledger_now(&mut self) {
        if self.config.dry_run {
            return;
        }
        if let Some(ledger) = self.ledger.as_mut().filter(|l| l.current != l.saved) {
            self.file.save_or_warn(&ledger.current);
            ledger.saved = ledger.current.clone();
        }
    }
}

/// What one round runs on.
struct Round<'a> {
    agent: &'a AgentFiles,
    config: &'a RoundConfig,
    policy: &'a PolicyInputs,
    cancel: &'a AtomicBool,
    clock: &'a Clock,
    /// The last look in the ledger was made before this daemon started.
    by_previous_daemon: bool,
    /// How long the machine slept since this daemon's last look.
    slept_ms: u64,
}

impl Round<'_> {
    fn run(&self, batch: &Batch, ledger: &mut AgentLedger) -> RoundResult {
        let agent = self.agent;
        let mut out = RoundResult::empty(self.config.dry_run, batch);
        let wants_keys = !batch.touches.is_empty() || !batch.lookups.is_empty();
        let snapshot = match read::holding(agent, wants_keys) {
            Err(e) => return out.fail(e),
            Ok(Holding::Sqlite {
                nodes,
                leftover_keys,
            }) => return self.sqlite(batch, ledger, &nodes, &leftover_keys, out),
            Ok(Holding::Store(snapshot)) => snapshot,
        };
        let entries = &snapshot.scan.entries;
        let generation = crate::openclaw::generation::detect(&snapshot.scan);
        out.found.generation = Some(generation);
        out.found.sessions = Some(entries.len());
        let index = plan::index_of(entries.iter().map(|e| e.key.as_str()));
        out.answers.lookups = plan::lookups(batch, &index);
        if generation == Generation::Unknown {
            let note = format!(
                "{}: its entries carry no integer updatedAt, lastInteractionAt or \
                 sessionStartedAt; this is not a store layout keepalive knows, so it writes \
                 nothing here",
                agent.store.display()
            );
            out.found.note = Some(note.clone());
            self.notice(ledger, plan::unwritable_looks(entries), &mut out);
            let why = ErrorBody::new(ErrorCode::GenerationUnsupported, note);
            return out.refuse_writes(why, batch, &index);
        }

        let now = self.clock.now_ms;
        let facing = plan::facing(self.policy, generation);
        let ctx = plan::context(self, generation, &facing, ledger);
        let decided = plan::decide_all(entries, &facing, &ctx);
        let (bumps, checked) = plan::bumps(batch, &decided.decisions, entries, &index, now);
        out.found.kept_alive = Some(decided.decisions.iter().filter(|d| d.keep).count());

        let outcome = match self.write(&snapshot, &bumps, &mut out.write) {
            Ok(outcome) => outcome,
            Err(e) => {
                out.found.error = Some(e.clone());
                out.answers.touch_all = Err(e.clone());
                out.answers.touches = checked
                    .into_iter()
                    .map(|c| Err(c.err().unwrap_or_else(|| e.clone())))
                    .collect();
                out.found.next_write = plan::next_write(&decided.decisions, entries, now);
                let written = |key: &str| bumps.contains_key(key).then_some(false);
                let looks = plan::looks(entries, &decided.decisions, written, ledger.looks().0);
                self.notice(ledger, looks, &mut out);
                if batch.reports > 0 {
                    out.answers.report = Ok(plan::rows(agent, &decided.decisions, entries));
                }
                return out;
            }
        };
        let bumped: Vec<String> = outcome.map(|o| o.bumped).unwrap_or_default();

        // Remember our own writes (so they never count as activity) and the touches (which
        // do), then recompute the bumped sessions as they now are.
        let mut decisions = decided.decisions;
        for (key, at, source) in &decided.seen {
            ledger.record_activity(key, *at, source);
        }
        if !self.config.dry_run {
            for key in &bumped {
                ledger.record_write(key, bumps[key], now);
            }
            for touch in checked.iter().flatten() {
                for key in &touch.keys {
                    ledger.record_touch(key, now);
                }
            }
            ledger.retain(|key| index.contains_key(key));
            let ctx = plan::context(self, generation, &facing, ledger);
            for key in &bumped {
                let i = index[key.as_str()];
                let after = plan::bumped_entry(&entries[i], bumps[key], now);
                decisions[i] = decide(&after, decided.transcripts[i], &ctx);
            }
        }
        let kept_keys = plan::kept_of(&decisions, entries);
        let kept_bumped = bumped.iter().filter(|k| kept_keys.contains(k.as_str()));
        out.answers.touch_all = Ok(out.touched(kept_bumped.cloned().collect()));
        out.answers.touches = checked
            .into_iter()
            .map(|check| {
                check.map(|t| {
                    let here = bumped.iter().filter(|k| t.keys.contains(k));
                    out.touched(here.cloned().collect())
                })
            })
            .collect();
        out.write.bumped = bumped;
        out.found.note = plan::daily_note(generation, self.policy, &decisions, entries);
        out.found.next_write = plan::next_write(&decisions, entries, now);
        let written = |key: &str| bumps.contains_key(key).then_some(true);
        let looks = plan::looks(entries, &decisions, written, ledger.looks().0);
        self.notice(ledger, looks, &mut out);
        // Only a report reads the rows: not built for a round that has none.
        if batch.reports > 0 {
            out.answers.report = Ok(plan::rows(agent, &decisions, entries));
        }
        out
    }

    /// Compares this look at every session with the last one (kept in the ledger), records
    /// it there, and puts what changed in `out`.
    fn notice(
        &self,
        ledger: &mut AgentLedger,
        mut now: BTreeMap<String, Look>,
        out: &mut RoundResult,
    ) {
        let (looks, at_ms) = ledger.looks();
        let before = Before {
            looks,
            at_ms,
            by_previous_daemon: self.by_previous_daemon,
            slept_ms: self.slept_ms,
        };
        resets::notice::carry_lapses(&before, &mut now);
        out.found.resets = resets::notice(&self.agent.id, &before, &now, self.clock.now_ms);
        out.found.compared_with_ms = at_ms;
        out.found.looked = true;
        ledger.record_looks(now, self.clock.now_ms);
    }

    /// Hands the bumps to the store crate, which writes them from the same read; records
    /// what the write cost in `stats` (also when it failed), except the keys bumped.
    fn write(
        &self,
        snapshot: &StoreSnapshot,
        bumps: &HashMap<String, Fields>,
        stats: &mut WriteStats,
    ) -> Result<Option<RoundOutcome>, ErrorBody> {
        if bumps.is_empty() {
            return Ok(None);
        }
        let choose = |e: &EntryInfo| bumps.get(&e.key).copied().unwrap_or(Fields::NONE);
        let options = RoundOptions {
            now_ms: self.clock.now_ms,
            decide: &choose,
            dry_run: self.config.dry_run,
            lock_timeout: self.config.lock_timeout,
            max_attempts: MAX_ATTEMPTS,
            cancel: Some(self.cancel),
            at_step: None,
        };
        match keepalive_store::bump_snapshot(&self.agent.store, snapshot, &options) {
            Ok(o) => {
                stats.written = o.written;
                stats.lock_wait = o.lock_wait;
                stats.lock_hold = o.lock_hold;
                stats.reclaimed_stale_lock = o.reclaimed_stale_lock;
                stats.writer_wait = o.writer_wait;
                stats.put_back = o.put_back;
                Ok(Some(o))
            }
            Err(e) => {
                if let StoreError::Writing {
                    waited, put_back, ..
                } = e
                {
                    stats.writer_wait = waited;
                    stats.put_back = put_back;
                }
                Err(store_error(e))
            }
        }
    }
}

fn store_error(e: StoreError) -> ErrorBody {
    ErrorBody::new(ErrorCode::from_wire(e.code()), e.to_string())
}
