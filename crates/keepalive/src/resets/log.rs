//! The event log: the resets keepalive noticed, one JSON object per line (the protocol's
//! `ResetEvent`), in `settings-<state dir>.resets.jsonl` beside the settings file.
//!
//! - Bounded: at most [`MAX_EVENTS`] events within [`MAX_BYTES`]. When over, entries that
//!   disappeared or appeared go first (oldest first), then the oldest resets: a busy install
//!   whose subagents come and go does not push its resets out.
//! - Rewritten whole and atomically on each append (events are rare), so a crash leaves the
//!   old file or the new one, never half of one. The write happens outside the lock that
//!   answers queries, so a slow disk never holds up `resets` or `sessions`.
//! - Written before the ledger saves the look that found the events: [`ResetLog::write`] says
//!   whether the file holds them, and while it does not the ledger is not saved, so a crash
//!   makes keepalive notice them again rather than never. One noticed again that the file
//!   already holds (a crash between the two writes) is recorded once.
//! - A file keepalive cannot read (or one far over the cap) is left exactly as it is and
//!   reported (in keepalived's log and in every `resets` reply via [`ResetLog::problem`]);
//!   events are then kept in memory only. A write that fails is reported the same way until
//!   one succeeds.
//! - A dry run keeps events in memory only: it changes no file.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use keepalive_proto::{LastReset, ResetEvent, ResetKind};

/// At most this many events are kept.
pub const MAX_EVENTS: usize = 2000;
/// And at most this many bytes of them on disk.
pub const MAX_BYTES: usize = 1024 * 1024;
/// A file larger than this is not keepalive's log as it writes it: it is not read into
/// memory, and is left alone and reported.
const MAX_READ_BYTES: u64 = 4 * MAX_BYTES as u64;

pub struct ResetLog {
    path: PathBuf,
    inner: Mutex<Inner>,
    /// Held while the file is written, so that two writes never race.
    writing: Mutex<()>,
}

struct Inner {
    events: VecDeque<ResetEvent>,
    next_seq: u64,
    /// Why the file is never written (unreadable, dry run); `None` while it is.
    problem: Option<String>,
    /// Why the last write failed; cleared by the next that succeeds.
    write_failed: Option<String>,
    /// The newest event the file holds (by `seq`).
    written_seq: u64,
}

impl ResetLog {
    /// Loads the log at `path` (blocking). `persist: false` (a dry run) never writes it.
    pub fn open(path: &Path, persist: bool) -> Self {
        let (events, problem) = match load(path) {
            Ok(events) => (events, None),
            Err(why) => (VecDeque::new(), Some(why)),
        };
        let problem = problem
            .or_else(|| (!persist).then(|| "dry run: events are kept in memory only".to_owned()));
        if let Some(problem) = problem.as_ref().filter(|_| persist) {
            tracing::warn!("{problem}");
        }
        let written_seq = events.iter().map(|e| e.seq).max().unwrap_or(0);
        ResetLog {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                events,
                next_seq: written_seq.saturating_add(1),
                problem,
                write_failed: None,
                written_seq,
            }),
            writing: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why events are not written to the file, if they are not.
    pub fn problem(&self) -> Option<String> {
        let inner = self.lock();
        inner.problem.clone().or_else(|| inner.write_failed.clone())
    }

    /// Numbers `events` and keeps them in memory (cheap: done before the round answers, so a
    /// client that asks next finds them); returns them numbered. `compared_with_ms` is when
    /// the look they were found against was made: an event the log already holds that was
    /// noticed after it (the same change, noticed before a crash kept the look from being
    /// saved) is not recorded twice. [`ResetLog::write`] puts them in the file.
    pub fn record(
        &self,
        events: Vec<ResetEvent>,
        compared_with_ms: Option<u64>,
    ) -> Vec<ResetEvent> {
        let mut inner = self.lock();
        let mut numbered = Vec::with_capacity(events.len());
        for mut event in events {
            let known = compared_with_ms.is_some_and(|since| {
                inner
                    .events
                    .iter()
                    .rev()
                    .take_while(|e| e.noticed_ms > since)
                    .any(|e| same_change(e, &event))
            });
            if known {
                continue;
            }
            event.seq = inner.next_seq;
            inner.next_seq = inner.next_seq.saturating_add(1);
            numbered.push(event.clone());
            inner.events.push_back(event);
        }
        while inner.events.len() > MAX_EVENTS {
            let first = next_to_evict(&inner.events);
            inner.events.remove(first);
        }
        numbered
    }

    /// Rewrites the file with what is in memory, if anything new is (blocking). Returns
    /// whether the file now holds every event recorded before the call (true also when the
    /// file is never written: then nothing would come of waiting). A failure is logged and reported by
    /// [`ResetLog::problem`]; the events are still answered from memory, and the next write
    /// tries again.
    pub fn write(&self) -> bool {
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let (bytes, newest) = {
            let mut inner = self.lock();
            let newest = inner.next_seq - 1;
            if inner.problem.is_some() || inner.written_seq == newest {
                return true;
            }
            (encode(&mut inner.events), newest)
        };
        let result = crate::atomic_file::write_atomically(&self.path, &bytes);
        let mut inner = self.lock();
        match result {
            // Events recorded meanwhile (another agent's) wait for their own caller's write:
            // this caller's were recorded before it wrote.
            Ok(()) => {
                inner.written_seq = newest;
                inner.write_failed = None;
                true
            }
            Err(e) => {
                let why = format!(
                    "cannot write the event log {} ({e}); events are kept in memory and \
                     written when it works again",
                    self.path.display()
                );
                if inner.write_failed.as_deref() != Some(why.as_str()) {
                    tracing::warn!("{why}");
                }
                inner.write_failed = Some(why);
                false
            }
        }
    }

    /// [`ResetLog::record`], then [`ResetLog::write`] (blocking); whether the file holds them.
    pub fn append(&self, events: Vec<ResetEvent>, compared_with_ms: Option<u64>) -> bool {
        self.record(events, compared_with_ms);
        self.write()
    }

    /// The events of `agent` (or all), noticed at or after `since_ms`, numbered after
    /// `after_seq`, oldest first.
    pub fn query(
        &self,
        agent: Option<&str>,
        since_ms: Option<u64>,
        after_seq: Option<u64>,
    ) -> Vec<ResetEvent> {
        self.lock()
            .events
            .iter()
            .filter(|e| agent.is_none_or(|a| e.agent == a))
            .filter(|e| since_ms.is_none_or(|since| e.noticed_ms >= since))
            .filter(|e| after_seq.is_none_or(|after| e.seq > after))
            .cloned()
            .collect()
    }

    /// The last reset of each session that had one, by agent and key: one pass, however many
    /// rows a report has.
    pub fn last_resets(&self) -> HashMap<(String, String), LastReset> {
        let mut last = HashMap::new();
        for e in self.lock().events.iter() {
            if e.kind == ResetKind::Reset {
                let reset = LastReset {
                    noticed_ms: e.noticed_ms,
                    verdict: e.verdict,
                };
                last.insert((e.agent.clone(), e.key.clone()), reset);
            }
        }
        last
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The same change of the same session: a crash between the log's write and the ledger's
/// save makes the next look find it again. What changed is compared as `detail` words it
/// (the ids, and the lifecycle revisions of a reset that kept its `sessionId`), not when.
fn same_change(a: &ResetEvent, b: &ResetEvent) -> bool {
    let what = |e: &ResetEvent| e.detail.split(" between ").next().unwrap_or("").to_owned();
    a.agent == b.agent
        && a.key == b.key
        && a.kind == b.kind
        && a.old_session_id == b.old_session_id
        && a.new_session_id == b.new_session_id
        && what(a) == what(b)
}

/// Which event goes first when the log is over a cap: the oldest entry that disappeared or
/// appeared, else the oldest reset.
fn next_to_evict(events: &VecDeque<ResetEvent>) -> usize {
    events
        .iter()
        .position(|e| e.kind != ResetKind::Reset)
        .unwrap_or(0)
}

/// The events in the file at `path`; none when there is no file. Why not, when it cannot
/// be read.
fn load(path: &Path) -> Result<VecDeque<ResetEvent>, String> {
    let left = "it is left as it is, and new events are kept in memory until keepalived \
                stops. Move it away to start a new one";
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(VecDeque::new()),
        Ok(m) if m.len() > MAX_READ_BYTES => {
            return Err(format!(
                "the event log {} is {} bytes, far more than keepalive writes ({MAX_BYTES} \
                 at most); {left}",
                path.display(),
                m.len()
            ));
        }
        _ => {}
    }
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "the event log {} cannot be read ({e}); new events are kept in memory until \
             keepalived stops",
            path.display()
        )
    })?;
    parse(&bytes).map_err(|why| {
        format!(
            "the event log {} cannot be read ({why}); {left}",
            path.display()
        )
    })
}

/// Every line an event; an empty file is no events.
fn parse(bytes: &[u8]) -> Result<VecDeque<ResetEvent>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut events = VecDeque::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event: ResetEvent =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        events.push_back(event);
    }
    Ok(events)
}

/// The file's bytes, dropping events in [`next_to_evict`]'s order until they fit in
/// [`MAX_BYTES`].
fn encode(events: &mut VecDeque<ResetEvent>) -> Vec<u8> {
    let mut lines: VecDeque<Vec<u8>> = events
        .iter()
        .map(|e| {
            let mut line = serde_json::to_vec(e).unwrap_or_default();
            line.push(b'\n');
            line
        })
        .collect();
    let mut total: usize = lines.iter().map(Vec::len).sum();
    while total > MAX_BYTES && !events.is_empty() {
        let first = next_to_evict(events);
        events.remove(first);
        total -= lines.remove(first).map_or(0, |l| l.len());
    }
    lines.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests;
