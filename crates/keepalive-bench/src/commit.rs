//! 7. What the mitigation for the lock-free releases (issue 11) adds to a round, in process on
//!    a 200 KB store: the round with an empty sessions directory against one that also holds a
//!    big install's transcripts (the round's write watch lists the directory once), and the
//!    critical window under the lock, timed with `RoundOptions::at_step`: from the first check
//!    to the swap (lock check, inotify drain, identity `lstat`: the longest a gateway rename
//!    can land unseen before the swap) and the `renameat2(RENAME_EXCHANGE)` itself.

use std::cell::Cell;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keepalive_store::{Fields, Step, bump_store};

use crate::Section;
use crate::store::{self, Size};
use crate::util::{self, Stat, ms};

pub struct Plan {
    /// Rounds per directory (the two directories take turns).
    pub rounds: usize,
    /// Transcript files `<uuid>.jsonl` beside the store in the second directory.
    pub transcripts: usize,
}

/// Rounds before the measured ones, per directory (page cache, first inotify set-up).
const WARM_UP: usize = 3;

/// The times of one commit's steps, set by the `at_step` hook.
#[derive(Default)]
struct Marks {
    before_checks: Cell<Option<Instant>>,
    before_swap: Cell<Option<Instant>>,
    after_swap: Cell<Option<Instant>>,
    put_backs: Cell<u32>,
}

impl Marks {
    fn clear(&self) {
        self.before_checks.set(None);
        self.before_swap.set(None);
        self.after_swap.set(None);
    }

    fn hook(&self, step: Step) {
        // The clock first, so the hook's own work stays outside the interval it ends.
        let now = Instant::now();
        match step {
            Step::BeforeChecks => self.before_checks.set(Some(now)),
            Step::BeforeSwap => self.before_swap.set(Some(now)),
            Step::AfterSwap => self.after_swap.set(Some(now)),
            Step::AfterPutBack => self.put_backs.set(self.put_backs.get() + 1),
        }
    }
}

/// One directory's samples.
struct Case {
    label: String,
    store: PathBuf,
    round: Vec<Duration>,
    writer_wait: Vec<Duration>,
    lock_hold: Vec<Duration>,
    checks: Vec<Duration>,
    exchange: Vec<Duration>,
    window: Vec<Duration>,
    listing: Vec<Duration>,
    inotify_set_up: Vec<Duration>,
    inotify_close: Vec<Duration>,
    extra_attempts: u32,
}

impl Case {
    fn new(label: String, store: PathBuf) -> Case {
        Case {
            label,
            store,
            round: Vec::new(),
            writer_wait: Vec::new(),
            lock_hold: Vec::new(),
            checks: Vec::new(),
            exchange: Vec::new(),
            window: Vec::new(),
            listing: Vec::new(),
            inotify_set_up: Vec::new(),
            inotify_close: Vec::new(),
            extra_attempts: 0,
        }
    }
}

pub fn run(plan: &Plan) -> Section {
    let root = tempfile::Builder::new()
        .prefix("keepalive-bench-commit-")
        .tempdir()
        .expect("create a temp dir for the commit benchmark");
    let now = store::now_ms();
    let mut cases = Vec::new();
    for (name, transcripts) in [("empty", 0), ("transcripts", plan.transcripts)] {
        let state = root.path().join(name);
        let bytes = store::store_bytes(Size::SMALL, "main", &state, now, 6 * 3600 * 1000);
        let path = store::write_store(&state, "main", &bytes);
        let dir = path.parent().expect("store has a directory").to_path_buf();
        for i in 0..transcripts {
            let file = dir.join(format!("{}.jsonl", uuid_like(i as u64)));
            std::fs::write(&file, TRANSCRIPT_LINE)
                .unwrap_or_else(|e| panic!("write transcript {}: {e}", file.display()));
        }
        let label = if transcripts == 0 {
            "sessions.json only".to_string()
        } else {
            format!("sessions.json + {transcripts} transcripts `<uuid>.jsonl`")
        };
        cases.push(Case::new(label, path));
    }

    let marks = Marks::default();
    let hook = |step: Step| marks.hook(step);
    let all = |_: &keepalive_store::EntryInfo| Fields::UPDATED_AT;
    let mut last_now = 0u64;
    for i in 0..WARM_UP + plan.rounds {
        let measured = i >= WARM_UP;
        for case in &mut cases {
            let now = store::now_ms().max(last_now + 1);
            last_now = now;
            let opts = util::round_options(now, &all, Some(&hook));
            marks.clear();
            let t = Instant::now();
            let outcome = bump_store(&case.store, &opts)
                .unwrap_or_else(|e| panic!("round on {}: {e}", case.store.display()));
            let elapsed = t.elapsed();
            assert!(outcome.written, "round wrote nothing");
            let (Some(checks), Some(swap), Some(swapped)) = (
                marks.before_checks.get(),
                marks.before_swap.get(),
                marks.after_swap.get(),
            ) else {
                panic!("the round's commit did not pass every step (plain rename fallback?)");
            };
            if measured {
                case.round.push(elapsed);
                case.writer_wait.push(outcome.writer_wait);
                case.lock_hold.push(outcome.lock_hold);
                case.checks.push(swap - checks);
                case.exchange.push(swapped - swap);
                case.window.push(swapped - checks);
                case.extra_attempts += outcome.attempts - 1;
            }
        }
    }
    // The watch's parts alone, after the rounds so that they do not slow the rounds down (a
    // close waits for the kernel, and the next one may wait for the same grace period).
    for _ in 0..plan.rounds {
        for case in &mut cases {
            let dir = case.store.parent().expect("store has a directory");
            case.listing.push(time_listing(dir));
            let (set_up, close) = time_inotify(dir);
            case.inotify_set_up.push(set_up);
            case.inotify_close.push(close);
        }
    }

    let mut s = Section::new(
        "commit",
        "What the lock-free-release mitigation adds to a round (200 KB store, in process)",
        &[
            "sessions directory",
            "round median / p99",
            "listing the directory alone median / p99",
            "inotify watch set-up alone median / p99",
            "closing it alone median / p99 / max (share over 1 ms)",
            "waiting for a gap median / p99",
            "lock hold median / max",
            "checks → swap median / p99 / max",
            "exchange median / p99 / max",
            "checks → exchange done median / p99 / max",
        ],
    );
    for case in &cases {
        let r = Stat::of(&case.round);
        let l = Stat::of(&case.listing);
        let n = Stat::of(&case.inotify_set_up);
        let w = Stat::of(&case.writer_wait);
        let h = Stat::of(&case.lock_hold);
        s.row(vec![
            case.label.clone(),
            format!("{} / {} (n={})", ms(r.median), ms(r.p99), r.n),
            format!("{} / {}", us(l.median), us(l.p99)),
            format!("{} / {}", us(n.median), us(n.p99)),
            format!(
                "{} ({:.0} %)",
                spread(&case.inotify_close),
                share_over(&case.inotify_close, Duration::from_millis(1))
            ),
            format!("{} / {}", us(w.median), us(w.p99)),
            format!("{} / {}", us(h.median), us(max_ms(&case.lock_hold))),
            spread(&case.checks),
            spread(&case.exchange),
            spread(&case.window),
        ]);
    }
    let extra: u32 = cases.iter().map(|c| c.extra_attempts).sum();
    if extra > 0 || marks.put_backs.get() > 0 {
        s.note(&format!(
            "{extra} rounds needed more than one attempt and {} put-backs happened, with no other \
             writer: read the figures with care.",
            marks.put_backs.get()
        ));
    }
    s.note(
        "Each round is `keepalive_store::bump_store` (all entries, `Fields::UPDATED_AT`, lock \
         timeout 5 s) on a 200 KB store with no other writer; the two directories take turns, \
         after 3 unmeasured rounds each. A round starts a write watch on the store's directory \
         (an inotify watch, then one listing for the gateway's `sessions.json.*.tmp`): \
         \"listing the directory alone\" is that listing (`read_dir` of every entry, name \
         test), \"inotify watch set-up alone\" is `inotify_init1` + `inotify_add_watch` and \
         \"closing it\" the `close` of that descriptor (the kernel waits there for the watch to \
         be freed, likely an SRCU grace period), which the round hands to a thread that only \
         closes, so the round does not pay it: all three timed apart from the rounds, after \
         them, as many times. \"Waiting for a gap\" is the \
         round's own `writer_wait` (an inotify drain when nothing is in progress).",
    );
    s.note(
        "Under the lock, timed with `RoundOptions::at_step`: \"checks → swap\" runs from \
         `Step::BeforeChecks` to `Step::BeforeSwap` (lock file re-read, inotify drain, identity \
         `lstat`), the longest a gateway rename can land before the swap without being seen by \
         a check; a rename that lands there is caught after the swap and put back. \"Exchange\" \
         runs from `Step::BeforeSwap` to `Step::AfterSwap`: the `renameat2(RENAME_EXCHANGE)`; \
         \"checks → exchange done\" is the two together, per round (the exchange takes effect \
         at some instant inside its call, so this bounds the window from above). \
         The lock hold also includes the `lstat` of the file taken out and the unlink of the \
         old store.",
    );
    s
}

/// One line of a transcript; its size does not matter to a listing.
const TRANSCRIPT_LINE: &str = "{\"type\":\"session\",\"version\":3,\"id\":\"bench\",\"timestamp\":\"2026-11-24T10:00:00.000Z\",\"cwd\":\"/root\"}\n";

/// A UUID-shaped name (version 4 layout), distinct for each `i`.
fn uuid_like(i: u64) -> String {
    let a = splitmix(i);
    let b = splitmix(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A listing of `dir` as the write watch makes it: every entry's name tested for a foreign
/// temp file of `sessions.json`.
fn time_listing(dir: &Path) -> Duration {
    let t = Instant::now();
    let mut temps = 0usize;
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("list {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("list {}: {e}", dir.display()));
        let name = entry.file_name();
        let name = name.as_bytes();
        if name.starts_with(b"sessions.json.") && name.ends_with(b".tmp") {
            temps += 1;
        }
    }
    let elapsed = t.elapsed();
    std::hint::black_box(temps);
    elapsed
}

/// `inotify_init1` + `inotify_add_watch` on `dir` with the write watch's flags, then the
/// `close` (which waits for the kernel to free the watch): the two times.
fn time_inotify(dir: &Path) -> (Duration, Duration) {
    let path = CString::new(dir.as_os_str().as_bytes()).expect("no NUL in the temp dir's path");
    let mask = keepalive_store::WATCH_EVENTS;
    let t = Instant::now();
    // SAFETY: plain system calls on a descriptor we own and close; results are checked.
    unsafe {
        let fd = libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC);
        assert!(
            fd >= 0,
            "inotify_init1: {}",
            std::io::Error::last_os_error()
        );
        let wd = libc::inotify_add_watch(fd, path.as_ptr(), mask);
        let err = std::io::Error::last_os_error();
        let set_up = t.elapsed();
        let t = Instant::now();
        libc::close(fd);
        let close = t.elapsed();
        assert!(wd >= 0, "inotify_add_watch {}: {err}", dir.display());
        (set_up, close)
    }
}

fn max_ms(samples: &[Duration]) -> f64 {
    samples.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// The percentage of `samples` longer than `limit`.
fn share_over(samples: &[Duration], limit: Duration) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let over = samples.iter().filter(|&&d| d > limit).count();
    100.0 * over as f64 / samples.len() as f64
}

/// `median / p99 / max` in microseconds.
fn spread(samples: &[Duration]) -> String {
    let st = Stat::of(samples);
    format!(
        "{} / {} / {}",
        us(st.median),
        us(st.p99),
        us(max_ms(samples))
    )
}

/// A duration given in milliseconds, shown in microseconds below 1 ms.
fn us(v_ms: f64) -> String {
    if v_ms >= 1.0 {
        ms(v_ms)
    } else if v_ms >= 0.01 {
        format!("{:.0} µs", v_ms * 1e3)
    } else {
        format!("{:.1} µs", v_ms * 1e3)
    }
}
