//! Crash safety and contention, measured: SIGKILL at random moments during
//! writes of a multi-megabyte store, a full disk, a locked gateway writer in
//! another process, an unlocked writer (the gateway's heartbeat runner), and
//! the daemon's lock hold time. Each test prints its figures (`--nocapture`)
//! so that RELIABILITY.md can quote them.
//!
//! Over 400 lines: each scenario builds multi-megabyte stores and reports the figures
//! RELIABILITY.md quotes; they share the store and file helpers at the top.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keepalive::paths::current_uid;
use serde_json::{Value, json};
use support::gateway;
use support::{Env, RawClient, bumped_digit_spans, fixture, now_ms};

/// The gateway simulator's process entry (see support/gateway.rs).
#[test]
#[ignore = "runs only as a helper process started by other tests"]
fn gateway_sim_process() {
    gateway::sim_main();
}

/// A store as the gateway writes it (`JSON.stringify(store, null, 2)`, no
/// trailing newline): `entries` sessions, most of each entry's bytes in
/// `skillsSnapshot` and `systemPromptReport` blobs, about `total_bytes` in
/// all, `updatedAt` between one and two hours in the past.
fn big_store(entries: usize, total_bytes: usize) -> Vec<u8> {
    let mut rng = support::Rng::new(entries as u64 ^ total_bytes as u64);
    let per_entry = total_bytes / entries;
    let now = now_ms();
    let words = [
        "skill",
        "tool",
        "read",
        "write",
        "bash",
        "browser",
        "memory",
        "über",
        "naïve",
        "日本語",
        "😀",
        "context",
        "prompt",
        "agent",
        "channel",
        "slack",
        "signal",
        "42",
        "0.5",
    ];
    let mut text = |len: usize| {
        let mut s = String::with_capacity(len + 16);
        while s.len() < len {
            s.push_str(words[rng.below(words.len() as u64) as usize]);
            s.push(if rng.below(12) == 0 { '\n' } else { ' ' });
        }
        s
    };
    let mut store = serde_json::Map::new();
    for i in 0..entries {
        let key = match i {
            0 => "agent:main:main".to_string(),
            i if i % 3 == 0 => format!("agent:main:slack:group:c{i:05}"),
            i => format!("agent:main:subagent:{:08x}-{i:04}", i * 7919),
        };
        let session_id = format!("{:08x}-0000-4000-8000-{:012x}", i * 104_729, i);
        let skills: Vec<Value> = (0..12)
            .map(|k| {
                json!({
                    "name": format!("skill-{k}"),
                    "description": text(per_entry / 40),
                    "path": format!("/home/alice/.openclaw/skills/skill-{k}/SKILL.md"),
                    "enabled": k % 4 != 0,
                })
            })
            .collect();
        let entry = json!({
            "sessionId": session_id,
            "updatedAt": now - 3_600_000 - (i as u64) * 37_000,
            "systemSent": true,
            "chatType": if i % 3 == 0 { "group" } else { "direct" },
            "sessionFile": format!("/home/alice/.openclaw/agents/main/sessions/{session_id}.jsonl"),
            "model": "claude-opus-4-6",
            "contextTokens": 200_000,
            "totalTokens": 1000 + i * 13,
            "skillsSnapshot": {
                "version": 3,
                "prompt": text(per_entry * 3 / 10),
                "skills": skills,
            },
            "systemPromptReport": {
                "source": "run",
                "generatedAt": now - 7_200_000,
                "systemPrompt": {"chars": 41_234, "projectContextChars": 1200},
                "injectedWorkspaceFiles": [
                    {"name": "AGENTS.md", "chars": 5000, "truncated": false},
                    {"name": "SOUL.md", "chars": 800, "truncated": false},
                ],
                "text": text(per_entry / 4),
            },
        });
        store.insert(key, entry);
    }
    serde_json::to_vec_pretty(&Value::Object(store)).expect("serialise")
}

/// Asserts that `bytes` is a JSON object (cheaply: no value tree).
fn assert_json_object(bytes: &[u8], what: &str) {
    let parsed: Result<std::collections::HashMap<String, serde::de::IgnoredAny>, _> =
        serde_json::from_slice(bytes);
    if let Err(e) = parsed {
        panic!("{what}: the store is not a JSON object: {e}");
    }
}

/// The file names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Files under `dir` (recursively) whose name matches.
fn count_files(dir: &Path, matches: &dyn Fn(&str) -> bool) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            n += count_files(&path, matches);
        } else if matches(&entry.file_name().to_string_lossy()) {
            n += 1;
        }
    }
    n
}

/// The pid in one of keepalive's temp file names (`sessions.json.keepalive-<pid>-*.tmp`).
fn keepalive_temp_pid(name: &str) -> Option<u32> {
    // The store's temp file, or the lock's payload staged before it is
    // linked into place (a kill between the two leaves it).
    let rest = name
        .strip_prefix("sessions.json.keepalive-")
        .or_else(|| name.strip_prefix("sessions.json.lock.keepalive-"))?;
    let rest = rest.strip_suffix(".tmp")?;
    rest.split_once('-')?.0.parse().ok()
}

/// One agent's status over a raw connection (much cheaper than a
/// `keepalivectl` process per poll).
fn agent_status(socket: &Path) -> Value {
    let reply = RawClient::connect(socket).request(r#"{"v":1,"cmd":"status"}"#);
    assert_eq!(reply["ok"], true, "{reply}");
    reply["agents"][0].clone()
}

/// Polls the first agent's status until `check` holds.
fn wait_agent(socket: &Path, daemon: &support::Daemon, what: &str, check: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = agent_status(socket);
        if check(&status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last status: {status:#}\nlog:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn sigkill_during_writes_never_leaves_a_broken_store_or_a_blocking_leftover() {
    const ROUNDS: u64 = 200;
    let env = Env::new();
    let original = big_store(100, 3 << 20);
    let store = env.add_agent("main", &original);
    let dir = store.parent().expect("dir").to_path_buf();
    let lock = gateway::lock_path(&store);
    // A gateway temp file that must never be touched, not even by the
    // clean-up of our own leftovers.
    let gw_tmp = dir.join("sessions.json.3f1e2a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp");
    std::fs::write(&gw_tmp, b"{\"half\": \"a gateway write in progress").expect("gateway tmp");
    let gw_tmp_meta = std::fs::metadata(&gw_tmp).expect("meta");
    let gw_tmp_bytes = std::fs::read(&gw_tmp).expect("read");

    let started = Instant::now();
    let mut previous = original.clone();
    let (mut kills, mut mid_write, mut lock_left, mut changed) = (0u32, 0u32, 0u32, 0u32);
    let (mut max_restart, mut max_check) = (Duration::ZERO, Duration::ZERO);
    // What the last kill left: our temp files and whether our lock stayed.
    let mut leftovers: Vec<PathBuf> = Vec::new();
    let mut stale_lock_pid: Option<u32> = None;
    for round in 0..ROUNDS {
        let restart = Instant::now();
        let mut daemon = env.daemon_all(&["--tick-ms", "5", "--interval", "1h"]);
        // The new daemon writes: a lock left by the killed one does not block it.
        wait_agent(&env.socket, &daemon, "a write after a restart", |s| {
            s["writes"].as_u64().is_some_and(|w| w >= 1)
        });
        max_restart = max_restart.max(restart.elapsed());
        // Its actor removed the killed daemon's temp files before its first round.
        for path in leftovers.drain(..) {
            assert!(
                !path.exists(),
                "round {round}: {} left by a killed daemon was not removed",
                path.display()
            );
        }
        if let Some(dead) = stale_lock_pid.take() {
            let holder = std::fs::read_to_string(&lock)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v["pid"].as_u64());
            assert_ne!(
                holder,
                Some(u64::from(dead)),
                "round {round}: the dead daemon's lock is still there"
            );
        }

        // The kill, at a random moment while the daemon rewrites the store every 5 ms.
        let delay = Duration::from_millis(support::Rng::new(round).below(41));
        std::thread::sleep(delay);
        let pid = daemon.pid();
        daemon.signal(libc::SIGKILL);
        daemon.wait_exit();
        kills += 1;

        let check = Instant::now();
        let now = now_ms();
        let after = std::fs::read(&store).expect("read store");
        if after != previous {
            changed += 1;
            assert_json_object(&after, &format!("round {round}"));
            // Only timestamp digits differ from the original, and from the
            // previous content (timestamps only move forward), and never into
            // the future.
            let from_original = bumped_digit_spans(&original, &after);
            assert!(!from_original.is_empty(), "round {round}");
            assert!(
                from_original.iter().all(|&(_, new)| new <= now),
                "round {round}: a timestamp in the future"
            );
            bumped_digit_spans(&previous, &after);
        }
        assert_eq!(
            std::fs::read(&gw_tmp).expect("gateway tmp"),
            gw_tmp_bytes,
            "round {round}: the gateway's temp file changed"
        );
        let meta = std::fs::metadata(&gw_tmp).expect("meta");
        assert_eq!(
            (meta.len(), meta.modified().ok()),
            (gw_tmp_meta.len(), gw_tmp_meta.modified().ok()),
            "round {round}: the gateway's temp file was touched"
        );
        for name in names_in(&dir) {
            match name.as_str() {
                "sessions.json" | "sessions.json.3f1e2a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp" => {}
                "sessions.json.lock" => {
                    let text = std::fs::read_to_string(&lock).unwrap_or_default();
                    // An empty or partial payload has no pid to find dead: by the
                    // gateway's rules it counts as live until its mtime is 30 s old,
                    // longer than the gateway's 10 s lock timeout.
                    let holder: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
                        panic!(
                            "round {round} (kill {kills}, {}ms after the first write): the \
                             killed daemon left a lock file with payload {text:?} ({e}); the \
                             gateway and the next daemon must treat it as live for 30 s",
                            delay.as_millis()
                        )
                    });
                    assert_eq!(
                        holder["pid"], pid,
                        "round {round}: a lock nobody else could have taken"
                    );
                    lock_left += 1;
                    stale_lock_pid = Some(pid);
                }
                other => {
                    assert_eq!(
                        keepalive_temp_pid(other),
                        Some(pid),
                        "round {round}: unexpected file {other:?} (earlier leftovers must be gone)"
                    );
                    leftovers.push(dir.join(other));
                }
            }
        }
        if !leftovers.is_empty() {
            mid_write += 1;
        }
        max_check = max_check.max(check.elapsed());
        previous = after;
    }
    // A last daemon cleans up after the last kill too.
    let daemon = env.daemon_all(&["--tick-ms", "5", "--interval", "1h"]);
    wait_agent(&env.socket, &daemon, "a write after the last kill", |s| {
        s["writes"].as_u64().is_some_and(|w| w >= 1)
    });
    for path in &leftovers {
        assert!(!path.exists(), "{} was not removed", path.display());
    }
    assert_eq!(
        std::fs::read(&gw_tmp).expect("gateway tmp"),
        gw_tmp_bytes,
        "the gateway's temp file survives every clean-up"
    );
    // keepalive's own small files (ledger, settings) are replaced through
    // `<file>.keepalive-<pid>-*.tmp` files too; the last daemon's start
    // removed what the killed ones left. It is stopped first: running, it
    // saves its ledger after every 5 ms round, so one of its own temp files
    // may exist at any moment, and a clean stop must leave none either.
    let mut daemon = daemon;
    daemon.signal(libc::SIGTERM);
    daemon.wait_exit();
    let own_leftovers = count_files(&env.home, &|name| {
        name.contains(".keepalive-") && name.ends_with(".tmp")
    });
    assert_eq!(
        own_leftovers, 0,
        "temp files of killed daemons left in $XDG_STATE_HOME"
    );
    println!(
        "crash: keepalive's own state files: {own_leftovers} temp file(s) left in $XDG_STATE_HOME \
         after {kills} kills"
    );
    println!(
        "crash: store {} bytes, {} entries; rounds {ROUNDS}, kills {kills}, store changed by \
         {changed} of them, kills mid-write (temp file left) {mid_write}, kills leaving our lock \
         {lock_left}; max restart-to-first-write {:.1} ms, max post-kill check {:.1} ms, total \
         {:.1} s",
        original.len(),
        100,
        max_restart.as_secs_f64() * 1000.0,
        max_check.as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64()
    );
    assert!(changed > 0, "the daemon never wrote between kills");
    assert_eq!(kills as u64, ROUNDS);
}

/// A tmpfs mounted for one test, lazily unmounted when dropped (also when
/// the test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Tmpfs(dir.to_path_buf()))
        } else {
            Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

fn free_bytes(dir: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).expect("path");
    // SAFETY: statvfs(3) on a NUL-terminated path into a zeroed struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    assert_eq!(rc, 0, "statvfs {}", dir.display());
    st.f_bavail as u64 * st.f_frsize as u64
}

/// An `Env` whose agent `main` keeps its store on a tmpfs of `size`, or None (with a
/// visible SKIPPED) when this is not root or the mount fails.
fn env_on_tmpfs(test: &str, size: &str) -> Option<(Env, PathBuf, Tmpfs)> {
    if current_uid() != 0 {
        eprintln!("SKIPPED: the {test} test mounts a tmpfs and needs root");
        return None;
    }
    let env = Env::new();
    let dir = env.store("main").parent().expect("dir").to_path_buf();
    std::fs::create_dir_all(&dir).expect("agent dir");
    match Tmpfs::mount(&dir, size) {
        Ok(guard) => Some((env, dir, guard)),
        Err(why) => {
            eprintln!("SKIPPED: the {test} test needs a tmpfs: {why}");
            None
        }
    }
}

#[test]
fn a_full_disk_fails_the_round_cleanly_and_the_next_one_succeeds() {
    let Some((env, dir, _tmpfs)) = env_on_tmpfs("full-disk", "4m") else {
        return;
    };
    let store = env.add_agent("main", &big_store(40, 1_500_000));
    let daemon = env.daemon_all(&["--interval", "1h"]);
    wait_agent(&env.socket, &daemon, "the first write", |s| {
        s["writes"] == 1
    });
    let before = env.read_store("main");

    // Fill the disk, leaving room for the lock file but not for a copy of the store.
    let filler = dir.join("filler");
    let room = 128 * 1024;
    let fill = free_bytes(&dir).saturating_sub(room);
    std::fs::write(&filler, vec![b'x'; fill as usize]).expect("filler");
    let free = free_bytes(&dir);
    assert!(
        free < before.len() as u64,
        "{free} bytes free: the temp copy would fit"
    );
    assert!(free >= 4096, "no room left even for the lock file");

    let out = env.ctl(&["touch"]);
    assert_eq!(out.status.code(), Some(1), "{}", support::text(&out));
    assert_eq!(
        env.read_store("main"),
        before,
        "the store is byte-identical"
    );
    assert_eq!(
        names_in(&dir),
        ["filler", "sessions.json"],
        "no temp file and no lock file remain"
    );
    let status = agent_status(&env.socket);
    assert_eq!(status["last_error"]["code"], "store_io", "{status:#}");
    assert_eq!(status["writes"], 1, "{status:#}");
    let message = status["last_error"]["message"].as_str().unwrap_or_default();
    println!(
        "full disk: {} byte store, {free} bytes free; touch: {}; status: {message}",
        before.len(),
        support::stderr(&out).trim()
    );

    std::fs::remove_file(&filler).expect("remove filler");
    let reply = env.ctl_json(&["touch"]);
    assert_eq!(reply["results"][0]["written"], true, "{reply:#}");
    let changes = bumped_digit_spans(&before, &std::fs::read(&store).expect("store"));
    assert_eq!(changes.len(), 40, "every session bumped once space is back");
    let status = agent_status(&env.socket);
    assert!(status["last_error"].is_null(), "{status:#}");
    assert_eq!(names_in(&dir), ["sessions.json"]);
    drop(daemon);
}

/// Before taking the gateway's lock, a round stages its patched copy of the store, so both
/// our copy and the gateway's own temp file may exist while we wait for its lock. On a disk
/// without room for both, the copy is written under the lock instead, as the gateway does.
#[test]
fn on_a_nearly_full_disk_the_copy_is_written_under_the_lock() {
    let Some((env, dir, _tmpfs)) = env_on_tmpfs("nearly-full-disk", "8m") else {
        return;
    };
    let store = env.add_agent("main", &big_store(40, 3_000_000));
    let before = env.read_store("main");
    let free = free_bytes(&dir);
    assert!(
        free > before.len() as u64 && free < 2 * before.len() as u64 + (1 << 20),
        "{free} bytes free: room for one copy of the {} byte store, not for two",
        before.len()
    );
    // The gateway holds its lock while the daemon's first round wants to write.
    let held = gateway::acquire(&store, Duration::from_secs(5)).expect("gateway lock");
    let daemon = env.daemon_all(&["--interval", "1h"]);
    let until = Instant::now() + Duration::from_millis(1500);
    let mut staged = std::collections::BTreeSet::new();
    while Instant::now() < until {
        staged.extend(
            names_in(&dir)
                .into_iter()
                // Our staged copy of the store, not the short-lived file each try for
                // the lock writes its payload into (`sessions.json.lock.keepalive-*`).
                .filter(|n| n.starts_with("sessions.json.keepalive-"))
                .filter(|n| keepalive_temp_pid(n).is_some()),
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(held);
    wait_agent(&env.socket, &daemon, "the write after the lock", |s| {
        s["writes"] == 1
    });
    assert!(staged.is_empty(), "staged while waiting: {staged:?}");
    // The round did wait for the lock, so the watch above covered its wait.
    let metrics = support::stdout(&env.ctl(&["metrics"]));
    let waits = metric(&metrics, "keepalive_lock_waits_total", "main");
    assert_eq!(waits, Some(1.0), "{metrics}");
    let after = std::fs::read(&store).expect("store");
    assert_eq!(bumped_digit_spans(&before, &after).len(), 40);
    assert_eq!(names_in(&dir), ["sessions.json"]);
    drop(daemon);
}

/// A helper process killed (SIGKILL) and reaped if the test ends before it
/// does, so that a failing test leaves no writer behind in a removed dir.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut()
            && let Ok(None) = child.try_wait()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn the_gateway_loses_no_update_while_the_daemon_bumps_at_its_fastest() {
    const ROUNDS: u32 = 2000;
    const PAUSE_US: u64 = 500;
    let env = Env::new();
    let store = env.add_agent("main", &fixture("v1-6.json"));
    let daemon = env.daemon_all(&["--tick-ms", "1", "--interval", "1h"]);
    wait_agent(&env.socket, &daemon, "the first write", |s| {
        s["writes"].as_u64().is_some_and(|w| w >= 1)
    });
    // What the store held, and the daemon had written, when the gateway started.
    let writes_before = agent_status(&env.socket)["writes"]
        .as_u64()
        .expect("writes");
    let before = support::parse(&env.read_store("main"));
    let started = Instant::now();
    // A short pause between its rounds leaves the daemon gaps to take the
    // lock in (see `spawn_paced`); the gateway still writes back to back.
    let mut sim = KillOnDrop(Some(gateway::spawn_paced(
        &store,
        "agent:main:main",
        ROUNDS,
        Duration::from_micros(PAUSE_US),
    )));
    let (mut touches, mut busy) = (0u32, 0u32);
    while sim
        .0
        .as_mut()
        .expect("sim")
        .try_wait()
        .expect("simulator")
        .is_none()
    {
        let out = env.ctl(&["--json", "touch"]);
        touches += 1;
        if out.status.code() == Some(0) {
            continue;
        }
        // A touch may find the gateway's lock busy for its whole wait: that
        // is reported, never a reason to write anyway.
        let reply: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("touch reply ({e}): {}", support::text(&out)));
        assert_eq!(
            reply["error"]["code"],
            "store_busy",
            "{}",
            support::text(&out)
        );
        busy += 1;
    }
    let out = sim
        .0
        .take()
        .expect("sim")
        .wait_with_output()
        .expect("simulator");
    let elapsed = started.elapsed();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the gateway simulator failed (lost updates?):\n{said}"
    );
    assert!(said.contains(&format!("lost=0 rounds={ROUNDS}")), "{said}");
    let status = agent_status(&env.socket);
    let writes = status["writes"].as_u64().expect("writes") - writes_before;
    drop(daemon);

    let after = support::parse(&env.read_store("main"));
    assert_eq!(
        after["agent:main:main"]["gatewayCounter"],
        ROUNDS - 1,
        "the gateway's last write survived"
    );
    assert!(
        writes > 0,
        "no bump landed while the gateway wrote: {status:#}"
    );
    let entries = before.as_object().expect("object");
    assert_eq!(after.as_object().expect("object").len(), entries.len());
    for (key, entry) in entries {
        let (old, new) = (&entry["updatedAt"], &after[key]["updatedAt"]);
        assert!(
            new.as_u64() > old.as_u64(),
            "{key}: the daemon's bumps landed ({old} -> {new})"
        );
    }
    println!(
        "contention: gateway rounds {ROUNDS} ({PAUSE_US} µs apart), lost 0, daemon writes meanwhile {writes}, client \
         touches {touches} ({busy} store_busy), {:.1} s",
        elapsed.as_secs_f64()
    );
}

#[test]
fn a_bump_overwritten_by_an_unlocked_writer_is_reapplied_next_round() {
    let env = Env::new();
    let store = env.add_agent("main", &fixture("v1-6.json"));
    let original = env.read_store("main");
    let key = "agent:main:main";
    let daemon = env.daemon_all(&["--interval", "1h"]);
    wait_agent(&env.socket, &daemon, "the first write", |s| {
        s["writes"] == 1
    });

    // The heartbeat runner reads the store without the lock...
    let read = env.read_store("main");
    let bumped_once = support::parse(&read)[key]["updatedAt"]
        .as_u64()
        .expect("updatedAt");
    let old = support::parse(&original)[key]["updatedAt"].clone();
    // ...meanwhile the daemon bumps again (a later millisecond, so it writes)...
    while now_ms() <= bumped_once {
        std::thread::yield_now();
    }
    let reply = env.ctl_json(&["touch"]);
    assert_eq!(reply["results"][0]["written"], true, "{reply:#}");
    let bumped_twice = support::parse(&env.read_store("main"))[key]["updatedAt"]
        .as_u64()
        .expect("updatedAt");
    assert!(bumped_twice > bumped_once);
    // ...and then the runner saves its whole stale copy, with an old
    // updatedAt for one key and a field of its own, by rename, without lock.
    let mut stale = support::parse(&read);
    stale[key]["updatedAt"] = old.clone();
    stale[key]["heartbeatNote"] = json!("written without the lock");
    let written = gateway::stringify(&stale);
    gateway::atomic_write(&store, &written);
    assert_eq!(
        support::parse(&env.read_store("main"))[key]["updatedAt"],
        old,
        "the unlocked write overwrote the bump"
    );

    // The daemon's next round puts the bump back, on top of the runner's data.
    let before_round = now_ms();
    let reply = env.ctl_json(&["touch"]);
    assert_eq!(reply["results"][0]["written"], true, "{reply:#}");
    let after = env.read_store("main");
    let changes = bumped_digit_spans(written.as_bytes(), &after);
    assert!(!changes.is_empty());
    let parsed = support::parse(&after);
    let reapplied = parsed[key]["updatedAt"].as_u64().expect("updatedAt");
    assert!(
        reapplied > bumped_twice && reapplied >= before_round,
        "the bump was re-applied: {old} -> {reapplied} (overwritten bump {bumped_twice})"
    );
    assert_eq!(parsed[key]["heartbeatNote"], "written without the lock");
    // Nothing else moved: the runner's store equals the result but for the
    // timestamps keepalive bumps.
    let mut expected = stale;
    for (k, entry) in expected.as_object_mut().expect("object") {
        entry["updatedAt"] = parsed[k]["updatedAt"].clone();
    }
    assert_eq!(expected, parsed, "no other data lost");
    println!(
        "unlocked writer: {key} updatedAt {bumped_twice} overwritten with {old}, re-applied as \
         {reapplied}"
    );
}

/// The value of `metric{agent="AGENT"}` in a Prometheus text.
fn metric(text: &str, name: &str, agent: &str) -> Option<f64> {
    let prefix = format!("{name}{{agent=\"{agent}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|v| v.trim().parse().expect("a number"))
}

#[test]
fn lock_hold_time_is_measured_on_big_stores() {
    let env = Env::new();
    let stores = [
        ("mb3", big_store(100, 3 << 20)),
        ("mb20", big_store(400, 20 << 20)),
    ];
    for (agent, bytes) in &stores {
        env.add_agent(agent, bytes);
    }
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("both first writes", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|a| a["writes"] == 1))
    });
    for (agent, bytes) in &stores {
        let mut holds = Vec::new();
        for _ in 0..3 {
            let reply = env.ctl_json(&["touch", "--agent", agent]);
            assert_eq!(reply["results"][0]["written"], true, "{reply:#}");
            let out = env.ctl(&["metrics"]);
            assert_eq!(out.status.code(), Some(0), "{}", support::text(&out));
            let text = support::stdout(&out);
            let hold = metric(&text, "keepalive_last_lock_hold_seconds", agent)
                .unwrap_or_else(|| panic!("no lock hold time for {agent}:\n{text}"));
            assert!(hold > 0.0, "{agent}: lock hold {hold}");
            holds.push(hold * 1000.0);
        }
        let figures: Vec<String> = holds.iter().map(|ms| format!("{ms:.3}")).collect();
        println!(
            "lock hold: {agent} ({} bytes): {} ms (max {:.3} ms)",
            bytes.len(),
            figures.join(", "),
            holds.iter().cloned().fold(0.0, f64::max)
        );
    }
}
