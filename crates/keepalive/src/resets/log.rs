//! The event log: the resets keepalive noticed, one JSON object per line (the protocol's
//! `ResetEvent`), in `settings-<state dir>.resets.jsonl` beside the settings file.
//!
//! - Bounded: the newest [`MAX_EVENTS`] events within [`MAX_BYTES`]; older ones are dropped.
//! - Rewritten whole and atomically on each append (events are rare), so a crash leaves the
//!   old file or the new one, never half of one.
//! - A file keepalive cannot read is left exactly as it is and reported (in the log, in
//!   `status`-side replies via [`ResetLog::problem`]); events are then kept in memory only.
//! - A dry run keeps events in memory only: it changes no file.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use keepalive_proto::{LastReset, ResetEvent, ResetKind};

/// At most this many events are kept.
pub const MAX_EVENTS: usize = 2000;
/// And at most this many bytes of them on disk.
pub const MAX_BYTES: usize = 1024 * 1024;

pub struct ResetLog {
    path: PathBuf,
    inner: Mutex<Inner>,
}

struct Inner {
    events: VecDeque<ResetEvent>,
    next_seq: u64,
    /// Why the file is not written; `None` while it is.
    problem: Option<String>,
    /// Events recorded since the file was last written.
    unwritten: bool,
}

impl ResetLog {
    /// Loads the log at `path` (blocking). `persist: false` (a dry run) never writes it.
    pub fn open(path: &Path, persist: bool) -> Self {
        let (events, problem) = match std::fs::read(path) {
            Ok(bytes) => match parse(&bytes) {
                Ok(events) => (events, None),
                Err(why) => (
                    VecDeque::new(),
                    Some(format!(
                        "the event log {} cannot be read ({why}); it is left as it is, and new \
                         events are kept in memory until keepalived stops. Move it away to \
                         start a new one",
                        path.display()
                    )),
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (VecDeque::new(), None),
            Err(e) => (
                VecDeque::new(),
                Some(format!(
                    "the event log {} cannot be read ({e}); new events are kept in memory \
                     until keepalived stops",
                    path.display()
                )),
            ),
        };
        let problem = problem
            .or_else(|| (!persist).then(|| "dry run: events are kept in memory only".to_owned()));
        if let Some(problem) = problem.as_ref().filter(|_| persist) {
            tracing::warn!("{problem}");
        }
        let next_seq = events.back().map_or(1, |e| e.seq + 1);
        ResetLog {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                events,
                next_seq,
                problem,
                unwritten: false,
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why events are not written to the file, if they are not.
    pub fn problem(&self) -> Option<String> {
        self.lock().problem.clone()
    }

    /// Numbers `events` and keeps them in memory (cheap: done before the round answers, so a
    /// client that asks next finds them); returns them numbered. [`ResetLog::write`] puts
    /// them in the file.
    pub fn record(&self, events: Vec<ResetEvent>) -> Vec<ResetEvent> {
        let mut inner = self.lock();
        let mut numbered = Vec::with_capacity(events.len());
        for mut event in events {
            event.seq = inner.next_seq;
            inner.next_seq += 1;
            numbered.push(event.clone());
            inner.events.push_back(event);
            inner.unwritten = true;
        }
        while inner.events.len() > MAX_EVENTS {
            inner.events.pop_front();
        }
        numbered
    }

    /// Rewrites the file with what is in memory, if anything new is (blocking). A failure
    /// is warned about; the events are still answered from memory and the next write tries
    /// again.
    pub fn write(&self) {
        let mut inner = self.lock();
        if !inner.unwritten || inner.problem.is_some() {
            return;
        }
        let bytes = encode(&mut inner.events);
        match crate::atomic_file::write_atomically(&self.path, &bytes) {
            Ok(()) => inner.unwritten = false,
            Err(e) => tracing::warn!("cannot write the event log {}: {e}", self.path.display()),
        }
    }

    /// [`ResetLog::record`], then [`ResetLog::write`] (blocking).
    pub fn append(&self, events: Vec<ResetEvent>) -> Vec<ResetEvent> {
        let numbered = self.record(events);
        self.write();
        numbered
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

    /// The last reset of `key` in `agent`, if one was noticed.
    pub fn last_reset(&self, agent: &str, key: &str) -> Option<LastReset> {
        self.lock()
            .events
            .iter()
            .rev()
            .find(|e| e.kind == ResetKind::Reset && e.agent == agent && e.key == key)
            .map(|e| LastReset {
                noticed_ms: e.noticed_ms,
                verdict: e.verdict,
            })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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

/// The file's bytes, dropping the oldest events until they fit in [`MAX_BYTES`].
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
    while total > MAX_BYTES {
        let Some(dropped) = lines.pop_front() else {
            break;
        };
        events.pop_front();
        total -= dropped.len();
    }
    lines.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests;
