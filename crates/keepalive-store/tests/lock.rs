//! The gateway lock against real processes: live holders make us wait and give up, stale
//! ones are reclaimed exactly under the gateway's rules, and we never remove a lock that is
//! not ours.

mod common;

use std::cell::Cell;
use std::fs;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, SystemTime};

use common::*;
use keepalive_store::{RoundOptions, Step, StoreError, bump_store};

fn iso(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let line = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &line[line.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f[0].chars().next()?, f[19].parse().ok()?))
}

fn gateway_payload(pid: u32, created: SystemTime, starttime: Option<u64>) -> String {
    match starttime {
        Some(st) => format!(
            "{{\n  \"pid\": {pid},\n  \"createdAt\": \"{}\",\n  \"starttime\": {st}\n}}",
            iso(created)
        ),
        None => format!(
            "{{\n  \"pid\": {pid},\n  \"createdAt\": \"{}\"\n}}",
            iso(created)
        ),
    }
}

struct Sleeper(Child);

impl Sleeper {
    fn start() -> Self {
        Sleeper(Command::new("sleep").arg("30").spawn().unwrap())
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn set_mtime(path: &Path, ago: Duration) {
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - ago).unwrap();
}

/// Bump with a stale lock planted: the lock is reclaimed, the bump happens, nothing remains.
fn assert_reclaimed(payload: &str, mtime_age: Option<Duration>) {
    let before = fixture("basic-6.json");
    let (_tmp, store) = store_with(&before);
    let lock = lock_path(&store);
    fs::write(&lock, payload).unwrap();
    if let Some(age) = mtime_age {
        set_mtime(&lock, age);
    }
    let out = run(&store, NOW, &updated).unwrap_or_else(|e| panic!("{payload:?}: {e}"));
    assert!(out.reclaimed_stale_lock, "{payload:?}");
    assert!(out.written);
    assert_eq!(
        replaced_timestamps(&before, &fs::read(&store).unwrap(), NOW),
        6
    );
    assert_eq!(listing(&store), ["sessions.json"], "{payload:?}");
}

/// Bump with a live lock planted: Busy after the timeout, store and lock untouched.
fn assert_busy(payload: &str, mtime_age: Option<Duration>, holder: Option<u32>) {
    let before = fixture("basic-6.json");
    let (_tmp, store) = store_with(&before);
    let lock = lock_path(&store);
    fs::write(&lock, payload).unwrap();
    if let Some(age) = mtime_age {
        set_mtime(&lock, age);
    }
    let err = run(&store, NOW, &updated).unwrap_err();
    match &err {
        StoreError::Busy {
            holder_pid, waited, ..
        } => {
            assert_eq!(*holder_pid, holder);
            assert!(
                *waited >= Duration::from_millis(300) && *waited < Duration::from_secs(2),
                "{waited:?}"
            );
        }
        other => panic!("{payload:?}: {other}"),
    }
    assert_eq!(err.code(), "store_busy");
    assert_eq!(fs::read(&store).unwrap(), before);
    assert_eq!(fs::read_to_string(&lock).unwrap(), payload);
    assert_eq!(listing(&store), ["sessions.json", "sessions.json.lock"]);
}

#[test]
fn live_holder_means_busy() {
    let child = Sleeper::start();
    let st = proc_stat(child.pid()).map(|s| s.1);
    let payload = gateway_payload(child.pid(), SystemTime::now(), st);
    assert_busy(&payload, None, Some(child.pid()));
    // With a trailing ownership-token line and extra fields (newer gateways).
    let payload = format!(
        "{{\"pid\":{},\"createdAt\":\"{}\",\"maxHoldMs\":5000}}\ntoken-abc\n",
        child.pid(),
        iso(SystemTime::now())
    );
    assert_busy(&payload, None, Some(child.pid()));
}

#[test]
fn fresh_unparseable_lock_means_busy() {
    assert_busy("", None, None);
    assert_busy("{\"pid\": 12", None, None);
}

#[test]
fn dead_holder_is_reclaimed() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    assert_reclaimed(&gateway_payload(pid, SystemTime::now(), Some(1)), None);
}

#[cfg(target_os = "linux")]
#[test]
fn zombie_holder_is_reclaimed() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    let mut tries = 0;
    while proc_stat(pid).map(|s| s.0) != Some('Z') {
        tries += 1;
        assert!(tries < 500, "child never became a zombie");
        std::thread::sleep(Duration::from_millis(10));
    }
    let st = proc_stat(pid).map(|s| s.1);
    assert_reclaimed(&gateway_payload(pid, SystemTime::now(), st), None);
    child.wait().unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn recycled_pid_is_reclaimed() {
    let me = std::process::id();
    let st = proc_stat(me).unwrap().1;
    assert_reclaimed(&gateway_payload(me, SystemTime::now(), Some(st + 7)), None);
}

#[test]
fn old_created_at_is_reclaimed() {
    let child = Sleeper::start();
    let st = proc_stat(child.pid()).map(|s| s.1);
    let old = SystemTime::now() - Duration::from_secs(31);
    assert_reclaimed(&gateway_payload(child.pid(), old, st), None);
}

#[test]
fn unparseable_old_lock_is_reclaimed() {
    assert_reclaimed("{\"pid\": 12", Some(Duration::from_secs(31)));
    assert_reclaimed("", Some(Duration::from_secs(60)));
}

#[test]
fn legacy_started_at_form() {
    let child = Sleeper::start();
    let ms = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    let old = SystemTime::now() - Duration::from_secs(31);
    assert_reclaimed(
        &format!("{{\"pid\":{},\"startedAt\":{}}}", child.pid(), ms(old)),
        None,
    );
    let fresh = format!(
        "{{\"pid\":{},\"startedAt\":{}}}",
        child.pid(),
        ms(SystemTime::now())
    );
    assert_busy(&fresh, None, Some(child.pid()));
}

#[test]
fn lock_taken_over_mid_round_is_not_removed() {
    let before = fixture("basic-6.json");
    let (_tmp, store) = store_with(&before);
    let lock = lock_path(&store);
    let child = Sleeper::start();
    let st = proc_stat(child.pid()).map(|s| s.1);
    let theirs = gateway_payload(child.pid(), SystemTime::now(), st);
    let done = Cell::new(false);
    // While we hold the lock, just before our rename, another writer "reclaims" it.
    let take_over = |step: Step| {
        if step == Step::BeforeChecks && !done.replace(true) {
            fs::write(&lock, &theirs).unwrap();
        }
    };
    let options = RoundOptions {
        at_step: Some(&take_over),
        ..opts(NOW, &updated)
    };
    let err = bump_store(&store, &options).unwrap_err();
    assert!(
        matches!(err, StoreError::Busy { holder_pid: Some(p), .. } if p == child.pid()),
        "{err}"
    );
    assert_eq!(fs::read(&store).unwrap(), before);
    assert_eq!(fs::read_to_string(&lock).unwrap(), theirs);
    assert_eq!(listing(&store), ["sessions.json", "sessions.json.lock"]);
}

#[test]
fn lock_taken_over_by_a_dead_writer_is_redone() {
    let before = fixture("basic-6.json");
    let (_tmp, store) = store_with(&before);
    let lock = lock_path(&store);
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let done = Cell::new(false);
    let take_over = |step: Step| {
        if step == Step::BeforeChecks && !done.replace(true) {
            fs::write(&lock, gateway_payload(dead, SystemTime::now(), None)).unwrap();
        }
    };
    let options = RoundOptions {
        at_step: Some(&take_over),
        ..opts(NOW, &updated)
    };
    let out = bump_store(&store, &options).unwrap();
    assert_eq!(out.attempts, 2);
    assert!(out.reclaimed_stale_lock && out.written);
    assert_eq!(
        replaced_timestamps(&before, &fs::read(&store).unwrap(), NOW),
        6
    );
    assert_eq!(listing(&store), ["sessions.json"]);
}

#[test]
fn our_lock_has_the_gateway_shape_and_is_gone_after() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let lock = lock_path(&store);
    let seen = std::cell::RefCell::new(String::new());
    let look = |_: Step| *seen.borrow_mut() = fs::read_to_string(&lock).unwrap();
    let options = RoundOptions {
        at_step: Some(&look),
        ..opts(NOW, &updated)
    };
    let out = bump_store(&store, &options).unwrap();
    assert!(out.lock_hold > Duration::ZERO);
    let text = seen.into_inner();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["pid"], std::process::id());
    let created = humantime::parse_rfc3339(v["createdAt"].as_str().unwrap()).unwrap();
    assert!(SystemTime::now().duration_since(created).unwrap() < Duration::from_secs(5));
    assert_eq!(
        text,
        serde_json::to_string_pretty(&v).unwrap(),
        "not JSON.stringify(.., null, 2) shaped"
    );
    if cfg!(target_os = "linux") {
        assert_eq!(v["starttime"], proc_stat(std::process::id()).unwrap().1);
    }
    assert!(!lock.exists());
}

/// A stopping daemon must not sit out a long lock timeout: setting the
/// cancel flag ends the wait within a slice, with the store untouched.
#[test]
fn a_cancelled_wait_ends_early_and_touches_nothing() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (_dir, store) = store_with(&fixture("basic-6.json"));
    let before = fs::read(&store).unwrap();
    let sleeper = Sleeper::start();
    let lock = lock_path(&store);
    let held = gateway_payload(
        sleeper.pid(),
        SystemTime::now(),
        proc_stat(sleeper.pid()).map(|s| s.1),
    );
    fs::write(&lock, &held).unwrap();
    let cancel = AtomicBool::new(false);
    let started = std::time::Instant::now();
    let err = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(150));
            cancel.store(true, Ordering::Relaxed);
        });
        let mut options = opts(NOW, &updated);
        options.lock_timeout = Duration::from_secs(30);
        options.cancel = Some(&cancel);
        keepalive_store::bump_store(&store, &options).unwrap_err()
    });
    assert!(matches!(err, StoreError::Cancelled), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "did not wait out the timeout"
    );
    assert_eq!(fs::read(&store).unwrap(), before);
    assert_eq!(
        fs::read_to_string(&lock).unwrap(),
        held,
        "the holder's lock is untouched"
    );
}

/// `lock_state` (what `keepalivectl doctor` shows) judges a lock by the same
/// rules as a round, and changes nothing.
#[test]
fn lock_state_reports_free_held_and_stale_without_touching_the_lock() {
    use keepalive_store::{LockState, lock_state};
    let (_dir, store) = store_with(&fixture("basic-6.json"));
    let lock = lock_path(&store);
    assert_eq!(lock_state(&store).unwrap(), (lock.clone(), LockState::Free));

    let sleeper = Sleeper::start();
    let held = gateway_payload(
        sleeper.pid(),
        SystemTime::now(),
        proc_stat(sleeper.pid()).map(|s| s.1),
    );
    fs::write(&lock, &held).unwrap();
    assert_eq!(
        lock_state(&store).unwrap().1,
        LockState::Held {
            pid: Some(sleeper.pid())
        }
    );

    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    fs::write(&lock, gateway_payload(dead_pid, SystemTime::now(), None)).unwrap();
    assert_eq!(
        lock_state(&store).unwrap().1,
        LockState::Stale {
            pid: Some(dead_pid),
            why: "holder is dead"
        }
    );
    assert!(lock.exists(), "lock_state only reads");
}
