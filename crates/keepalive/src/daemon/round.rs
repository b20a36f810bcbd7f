//! One round for one agent, on a blocking thread: read the store once,
//! without a lock, decide for every session, write what is due from that same
//! read (the gateway's lock is held only for the final check and rename; when
//! nothing is due no lock is taken), and answer every request that was merged
//! into the round.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use keepalive_proto::{AgentResult, ErrorBody, ErrorCode, SessionRow};
use keepalive_store::{EntryInfo, Fields, RoundOptions, StoreError, Timestamp};

use crate::openclaw::discovery::AgentSpec;
use crate::openclaw::{Clock, Facing, Generation, Mode, agent_db};
use crate::policy::{AgentLedger, Context, Decision, LedgerFile, PolicyInputs, Transcript, decide};

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
    pub touch_all: usize,
    pub touches: Vec<KeyTouch>,
    pub lookups: Vec<Vec<String>>,
    pub reports: usize,
}

/// Per-agent settings that do not change while the daemon runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub dry_run: bool,
    pub lock_timeout: std::time::Duration,
    pub ledger_dir: std::path::PathBuf,
}

pub struct Input {
    pub spec: AgentSpec,
    pub config: AgentConfig,
    pub policy: Arc<PolicyInputs>,
    pub cancel: Arc<AtomicBool>,
    pub clock: Clock,
}

/// What the round found and did, and the answers in batch order.
#[derive(Debug)]
pub struct Output {
    pub dry_run: bool,
    pub generation: Option<Generation>,
    pub note: Option<String>,
    pub sessions: Option<usize>,
    pub kept_alive: Option<usize>,
    pub bumped: Vec<String>,
    pub written: bool,
    /// How long the write waited for, and held, the gateway's lock.
    pub lock_wait: std::time::Duration,
    pub lock_hold: std::time::Duration,
    pub reclaimed_stale_lock: bool,
    /// How long the write waited for a write of the gateway's in progress to end.
    pub writer_wait: std::time::Duration,
    /// Gateway writes that landed at the moment of ours and were put back.
    pub put_back: u32,
    pub next_write: Option<(u64, String)>,
    pub error: Option<ErrorBody>,
    pub touch_all: Result<AgentResult, ErrorBody>,
    pub touches: Vec<Result<AgentResult, ErrorBody>>,
    pub lookups: Vec<Result<Vec<String>, ErrorBody>>,
    pub report: Result<Vec<SessionRow>, ErrorBody>,
}

/// Before an agent's first round: removes the temp files an earlier, killed
/// keepalived left beside its store (not on a dry run, which changes no file
/// at all, not even our own leftovers), then loads the agent's ledger.
pub fn prepare(store: &std::path::Path, ledger_file: &LedgerFile, dry_run: bool) -> AgentLedger {
    if let (Some(dir), false) = (store.parent(), dry_run) {
        crate::atomic_file::remove_leftovers(dir);
    }
    ledger_file.load()
}

pub fn run(input: &Input, batch: &Batch, ledger: &mut AgentLedger) -> Output {
    let spec = &input.spec;
    let mut out = Output::empty(spec, input.config.dry_run, batch);
    // Where the sessions live is told by the agent database's tables, read afresh each
    // round. One that cannot be read leaves the round without a write: whether the store
    // is the live one cannot be told then.
    let holds_sessions = match agent_db::probe(&spec.sqlite) {
        Ok(db) => db.is_some_and(|db| db.holds_sessions),
        Err(e) => return out.fail(e.to_error_body()),
    };
    if holds_sessions {
        out.generation = Some(Generation::Sqlite);
        out.note = Some(sqlite_note(spec));
        // The sessions' keys are still found (in the session table, and in a leftover
        // sessions.json), so that a touch of one says why it is not written instead of
        // "unknown session". Only read when a request names keys.
        let mut keys: Vec<String> = Vec::new();
        if !batch.touches.is_empty() || !batch.lookups.is_empty() {
            match agent_db::session_keys(&spec.sqlite) {
                Ok(found) => keys = found,
                Err(e) => return out.fail(e.to_error_body()),
            }
            if let Ok(leftover) = keepalive_store::read_snapshot(&spec.store) {
                keys.extend(leftover.scan.entries.into_iter().map(|e| e.key));
            }
        }
        let index: HashMap<&str, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        out.lookups = lookups(batch, &index);
        return out.refuse_writes(
            ErrorBody::new(ErrorCode::GenerationUnsupported, sqlite_note(spec)),
            batch,
            &index,
        );
    }
    let snapshot = match keepalive_store::read_snapshot(&spec.store) {
        Ok(snapshot) => snapshot,
        Err(e) => return out.fail(store_error(e)),
    };
    let scan = &snapshot.scan;
    let generation = crate::openclaw::generation::detect(scan);
    out.generation = Some(generation);
    out.sessions = Some(scan.entries.len());
    let index = index_of(&scan.entries);
    out.lookups = lookups(batch, &index);
    if generation == Generation::Unknown {
        let note = format!(
            "{}: its entries carry no integer updatedAt, lastInteractionAt or sessionStartedAt; \
             this is not a store layout keepalive knows, so it writes nothing here",
            spec.store.display()
        );
        out.note = Some(note.clone());
        return out.refuse_writes(
            ErrorBody::new(ErrorCode::GenerationUnsupported, note),
            batch,
            &index,
        );
    }

    let policy = &input.policy;
    let now = input.clock.now_ms;
    let split_fields = generation == Generation::JsonV2;
    let facing = match policy.release {
        Some(release) if policy.release_certain => Facing::known(release),
        Some(hint) => Facing::hinted(hint, split_fields, false),
        None => Facing::unknown(split_fields, false),
    };
    let ctx = context(input, generation, &facing, ledger);
    // Looked at once: a bump below changes timestamps, never the transcript.
    let wants_start = facing.candidates().iter().any(|r| r.split_timestamps);
    let transcripts: Vec<Transcript> = scan
        .entries
        .iter()
        .map(|e| transcript(e, wants_start))
        .collect();
    let decisions: Vec<Decision> = scan
        .entries
        .iter()
        .zip(&transcripts)
        .map(|(e, t)| decide(e, *t, &ctx))
        .collect();
    // Remember what was seen: the bump below overwrites the timestamps
    // that showed the gateway's activity.
    let seen: Vec<(String, u64, &'static str)> = decisions
        .iter()
        .zip(&scan.entries)
        .filter_map(|(d, e)| {
            d.activity
                .map(|a| (e.key.clone(), a.at_ms, a.source.as_str()))
        })
        .collect();

    // What to bump: kept sessions on a due tick (all of them, so their
    // deadlines line up and the next write serves them all) or a touch of
    // everything; named sessions on a touch, after the staleness check.
    let mut bumps: HashMap<String, Fields> = HashMap::new();
    let kept = || decisions.iter().zip(&scan.entries).filter(|(d, _)| d.keep);
    if (batch.tick && decisions.iter().any(|d| d.due(now))) || batch.touch_all > 0 {
        for (d, e) in kept() {
            bumps.insert(e.key.clone(), d.fields);
        }
    }
    // Each touch, accepted or refused, in batch order.
    let mut checked: Vec<Result<&KeyTouch, ErrorBody>> = Vec::new();
    for touch in &batch.touches {
        let check = check_touch(touch, &index, &decisions).map(|()| touch);
        if check.is_ok() {
            for key in &touch.keys {
                let d = &decisions[index[key.as_str()]];
                let fields = bumps.entry(key.clone()).or_default();
                *fields = union(*fields, d.fields);
            }
        }
        checked.push(check);
    }
    out.kept_alive = Some(decisions.iter().filter(|d| d.keep).count());

    let written = if bumps.is_empty() {
        Ok(None)
    } else {
        let choose = |e: &EntryInfo| bumps.get(&e.key).copied().unwrap_or(Fields::NONE);
        let options = RoundOptions {
            now_ms: now,
            decide: &choose,
            dry_run: input.config.dry_run,
            lock_timeout: input.config.lock_timeout,
            max_attempts: MAX_ATTEMPTS,
            cancel: Some(&input.cancel),
            at_step: None,
        };
        keepalive_store::bump_snapshot(&spec.store, &snapshot, &options)
            .map(Some)
            .map_err(|e| {
                if let StoreError::Writing {
                    waited, put_back, ..
                } = e
                {
                    out.writer_wait = waited;
                    out.put_back = put_back;
                }
                store_error(e)
            })
    };
    let outcome = match written {
        Ok(outcome) => outcome,
        Err(e) => {
            out.error = Some(e.clone());
            out.touch_all = Err(e.clone());
            out.touches = checked
                .into_iter()
                .map(|c| Err(c.err().unwrap_or_else(|| e.clone())))
                .collect();
            out.next_write = next_write(&decisions, &scan.entries, now);
            if batch.reports > 0 {
                out.report = Ok(rows(spec, &decisions, &scan.entries));
            }
            return out;
        }
    };
    let bumped: Vec<String> = outcome
        .as_ref()
        .map(|o| o.bumped.clone())
        .unwrap_or_default();
    out.written = outcome.as_ref().is_some_and(|o| o.written);
    if let Some(o) = &outcome {
        out.lock_wait = o.lock_wait;
        out.lock_hold = o.lock_hold;
        out.reclaimed_stale_lock = o.reclaimed_stale_lock;
        out.writer_wait = o.writer_wait;
        out.put_back = o.put_back;
    }

    // Remember our own writes (so they never count as activity) and the
    // touches (which do), then recompute the bumped sessions as they now are.
    let mut decisions = decisions;
    for (key, at, source) in &seen {
        ledger.record_activity(key, *at, source);
    }
    if !input.config.dry_run {
        for key in &bumped {
            ledger.record_write(key, bumps[key], now);
        }
        for touch in checked.iter().flatten() {
            for key in &touch.keys {
                ledger.record_touch(key, now);
            }
        }
        ledger.retain(|key| index.contains_key(key));
        let ctx = context(input, generation, &facing, ledger);
        for key in &bumped {
            let i = index[key.as_str()];
            let after = bumped_entry(&scan.entries[i], bumps[key], now);
            decisions[i] = decide(&after, transcripts[i], &ctx);
        }
    }
    let kept_keys: HashSet<&str> = kept_of(&decisions, &scan.entries);
    out.touch_all = Ok(out.result(
        spec,
        bumped
            .iter()
            .filter(|k| kept_keys.contains(k.as_str()))
            .cloned()
            .collect(),
    ));
    out.touches = checked
        .into_iter()
        .map(|check| {
            check.map(|t| {
                out.result(
                    spec,
                    bumped
                        .iter()
                        .filter(|k| t.keys.contains(k))
                        .cloned()
                        .collect(),
                )
            })
        })
        .collect();
    out.bumped = bumped;
    out.note = daily_note(generation, policy, &decisions, &scan.entries);
    out.next_write = next_write(&decisions, &scan.entries, now);
    // Only a report reads the rows: not built for a round that has none.
    if batch.reports > 0 {
        out.report = Ok(rows(spec, &decisions, &scan.entries));
    }
    out
}

/// What every decision of this round depends on besides the entry.
fn context<'a>(
    input: &'a Input,
    generation: Generation,
    facing: &'a Facing,
    ledger: &'a AgentLedger,
) -> Context<'a> {
    let policy = &input.policy;
    Context {
        agent: &input.spec.id,
        generation,
        facing,
        rules: &policy.rules,
        reset: &policy.reset,
        clock: &input.clock,
        window_ms: policy.window_ms,
        margin_ms: policy.margin_ms,
        schedule: policy.schedule,
        bump_session_start: policy.bump_session_start,
        ledger,
    }
}

/// Where each key stands in `entries`.
fn index_of(entries: &[EntryInfo]) -> HashMap<&str, usize> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.key.as_str(), i))
        .collect()
}

fn lookups(batch: &Batch, index: &HashMap<&str, usize>) -> Vec<Result<Vec<String>, ErrorBody>> {
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

/// A touch is all or nothing: every key must be in this store, and none may
/// be stale already unless the caller asked to revive.
fn check_touch(
    touch: &KeyTouch,
    index: &HashMap<&str, usize>,
    decisions: &[Decision],
) -> Result<(), ErrorBody> {
    let missing: Vec<&String> = touch
        .keys
        .iter()
        .filter(|k| !index.contains_key(k.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(unknown_sessions(&missing));
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

/// `unknown_session`, naming the keys no targeted store holds (protocol: nothing written,
/// `details.missing` lists them).
pub fn unknown_sessions(missing: &[&String]) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::UnknownSession,
        format!(
            "unknown session {}: in no store (the gateway removed it?); `keepalivectl sessions` \
             lists them",
            quoted(missing)
        ),
    )
    .with_details(serde_json::json!({ "missing": missing }))
}

/// The transcript's mtime in ms and, when `wants_start` and the entry has
/// no `sessionStartedAt`, its header's start time; only absolute paths are
/// looked at.
fn transcript(entry: &EntryInfo, wants_start: bool) -> Transcript {
    let Some(path) = entry
        .session_file
        .as_deref()
        .map(std::path::Path::new)
        .filter(|p| p.is_absolute())
    else {
        return Transcript::default();
    };
    let modified_ms = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(crate::time::unix_ms);
    let needs_start = wants_start && entry.session_started_at.value().is_none();
    Transcript {
        modified_ms,
        started_ms: needs_start.then(|| header_started_ms(path)).flatten(),
    }
}

/// The `timestamp` of a transcript's header line (`{"type":"session",
/// ...}`), read the way the gateway reads it: the first line of the first
/// 8 KiB; a number, or a date string.
fn header_started_ms(path: &std::path::Path) -> Option<u64> {
    use std::io::Read;
    let mut head = Vec::with_capacity(8192);
    std::fs::File::open(path)
        .ok()?
        .take(8192)
        .read_to_end(&mut head)
        .ok()?;
    let line = head.split(|b| *b == b'\n').next()?;
    let header: serde_json::Value = serde_json::from_slice(line).ok()?;
    if header.get("type")?.as_str()? != "session" {
        return None;
    }
    match header.get("timestamp")? {
        serde_json::Value::Number(n) => n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64),
        serde_json::Value::String(s) => {
            let ts: jiff::Timestamp = s.parse().ok()?;
            u64::try_from(ts.as_millisecond()).ok()
        }
        _ => None,
    }
}

/// The entry as it is after a bump of `fields` to `now`.
fn bumped_entry(entry: &EntryInfo, fields: Fields, now: u64) -> EntryInfo {
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

fn kept_of<'a>(decisions: &[Decision], entries: &'a [EntryInfo]) -> HashSet<&'a str> {
    decisions
        .iter()
        .zip(entries)
        .filter(|(d, _)| d.keep)
        .map(|(_, e)| e.key.as_str())
        .collect()
}

fn next_write(decisions: &[Decision], entries: &[EntryInfo], now: u64) -> Option<(u64, String)> {
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

fn rows(spec: &AgentSpec, decisions: &[Decision], entries: &[EntryInfo]) -> Vec<SessionRow> {
    decisions
        .iter()
        .zip(entries)
        .map(|(d, e)| SessionRow {
            agent: spec.id.clone(),
            key: e.key.clone(),
            last_activity_ms: d.activity.map(|a| a.at_ms),
            activity_source: d.activity.map(|a| a.source.as_str().to_string()),
            stale_at_ms: d.stale_at.map(|(at, _)| at),
            stale_rule: d
                .stale_at
                .map(|(_, r)| crate::policy::decide::rule_name(r).to_string()),
            kept_alive: d.keep,
            reason: d.reason.code().to_string(),
            detail: d.detail.clone(),
        })
        .collect()
}

/// On json-v2 the daily reset reads `sessionStartedAt`, which keepalive only
/// writes on request: say so rather than look as if it prevented it.
fn daily_note(
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

fn sqlite_note(spec: &AgentSpec) -> String {
    format!(
        "agent {} keeps its sessions in SQLite (table session_nodes in {}; OpenClaw 2026.8 and \
         later): the gateway forbids other writers and sessions.json is only a leftover, so \
         keepalive writes nothing here. These releases expire sessions only where \
         session.reset in openclaw.json says so: to keep them, set session.reset.mode to \
         \"none\" or raise idleMinutes",
        spec.id,
        spec.sqlite.display()
    )
}

fn store_error(e: StoreError) -> ErrorBody {
    ErrorBody::new(ErrorCode::from_wire(e.code()), e.to_string())
}

fn union(a: Fields, b: Fields) -> Fields {
    Fields {
        updated_at: a.updated_at || b.updated_at,
        last_interaction_at: a.last_interaction_at || b.last_interaction_at,
        session_started_at: a.session_started_at || b.session_started_at,
    }
}

fn quoted(keys: &[&String]) -> String {
    keys.iter()
        .map(|k| format!("{k:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Output {
    fn empty(spec: &AgentSpec, dry_run: bool, batch: &Batch) -> Self {
        let nothing = AgentResult {
            agent: spec.id.clone(),
            store: spec.store.display().to_string(),
            sessions: 0,
            bumped: Vec::new(),
            written: false,
            dry_run,
            error: None,
            note: None,
        };
        Output {
            dry_run,
            generation: None,
            note: None,
            sessions: None,
            kept_alive: None,
            bumped: Vec::new(),
            written: false,
            lock_wait: std::time::Duration::ZERO,
            lock_hold: std::time::Duration::ZERO,
            reclaimed_stale_lock: false,
            writer_wait: std::time::Duration::ZERO,
            put_back: 0,
            next_write: None,
            error: None,
            touch_all: Ok(nothing.clone()),
            touches: batch.touches.iter().map(|_| Ok(nothing.clone())).collect(),
            lookups: batch.lookups.iter().map(|_| Ok(Vec::new())).collect(),
            report: Ok(Vec::new()),
        }
    }

    fn result(&self, spec: &AgentSpec, bumped: Vec<String>) -> AgentResult {
        AgentResult {
            agent: spec.id.clone(),
            store: spec.store.display().to_string(),
            sessions: self.sessions.unwrap_or(0),
            bumped,
            written: self.written,
            dry_run: self.dry_run,
            error: None,
            note: self.note.clone(),
        }
    }

    /// This agent is never written: touches of named sessions fail (as
    /// unknown when a key is not in the store), a touch of everything
    /// reports the note, reports find nothing.
    fn refuse_writes(
        mut self,
        why: ErrorBody,
        batch: &Batch,
        index: &HashMap<&str, usize>,
    ) -> Self {
        if let Ok(r) = &mut self.touch_all {
            r.note = self.note.clone();
        }
        self.touches = batch
            .touches
            .iter()
            .map(|touch| {
                let missing: Vec<&String> = touch
                    .keys
                    .iter()
                    .filter(|k| !index.contains_key(k.as_str()))
                    .collect();
                Err(if missing.is_empty() {
                    why.clone()
                } else {
                    unknown_sessions(&missing)
                })
            })
            .collect();
        self
    }

    fn fail(mut self, error: ErrorBody) -> Self {
        self.touch_all = Err(error.clone());
        self.touches = self.touches.iter().map(|_| Err(error.clone())).collect();
        self.lookups = self.lookups.iter().map(|_| Err(error.clone())).collect();
        self.report = Err(error.clone());
        self.error = Some(error);
        self
    }
}
