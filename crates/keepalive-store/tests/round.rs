//! Rounds on real files: byte preservation, what is and is not bumped, dry runs, redo.
//!
//! Over 400 lines: eighteen short tests of one function, `bump_store`, on real files.

mod common;

use std::cell::Cell;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::*;
use keepalive_store::{
    EntryInfo, Fields, RoundOptions, Step, StoreError, Timestamp, bump_store, read_keys, scan,
};
use serde_json::Value;

#[test]
fn fixtures_change_only_bumped_digits() {
    for name in FIXTURES {
        let before = fixture(name);
        let (_tmp, store) = store_with(&before);
        let out = run(&store, NOW, &updated).unwrap();
        let after = fs::read(&store).unwrap();

        let parsed = parseable(&before);
        assert_eq!(out.sessions, parsed.len(), "{name}");
        let expected: Vec<&String> = parsed
            .iter()
            .filter(|(_, e)| e.get("updatedAt").and_then(Value::as_u64).is_some())
            .map(|(k, _)| k)
            .collect();
        assert!(!expected.is_empty(), "{name}");
        assert_eq!(out.bumped.len(), expected.len(), "{name}");
        assert!(
            out.written && out.attempts == 1 && !out.reclaimed_stale_lock,
            "{name}"
        );

        // Byte level: only timestamp digits changed, one region per bumped entry.
        assert_eq!(
            replaced_timestamps(&before, &after, NOW),
            expected.len(),
            "{name}"
        );
        // Still a store the gateway reads (our scanner accepts lone surrogates)...
        scan(&after).unwrap();
        // ...and semantically the input with exactly those updatedAt values set to now.
        let mut want = parsed.clone();
        for k in &out.bumped {
            want[k]["updatedAt"] = Value::from(NOW);
        }
        assert_eq!(parseable(&after), want, "{name}");
        // The rewrite is a new file with the store's mode, and nothing of ours is left.
        assert_eq!(fs::metadata(&store).unwrap().mode() & 0o7777, 0o600);
        assert_eq!(listing(&store), ["sessions.json"], "{name}");
    }
}

#[test]
fn second_round_writes_nothing() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    assert!(run(&store, NOW, &updated).unwrap().written);
    let ino = fs::metadata(&store).unwrap().ino();
    let bytes = fs::read(&store).unwrap();
    let out = run(&store, NOW, &updated).unwrap();
    assert!(!out.written && out.bumped.is_empty());
    assert_eq!(out.sessions, 6);
    assert_eq!(fs::metadata(&store).unwrap().ino(), ino);
    assert_eq!(fs::read(&store).unwrap(), bytes);
    assert_eq!(listing(&store), ["sessions.json"]);
}

#[test]
fn selection_is_honoured() {
    let before = fixture("typical-3-entries.json");
    let (_tmp, store) = store_with(&before);
    let out = run(&store, NOW, &updated_if(|k| k == "agent:main:main")).unwrap();
    assert_eq!(out.bumped, ["agent:main:main"]);
    let after = fs::read(&store).unwrap();
    assert_eq!(replaced_timestamps(&before, &after, NOW), 1);
    let v = parseable(&after);
    assert_eq!(v["agent:main:main"]["updatedAt"], NOW);
}

#[test]
fn dry_run_reports_and_writes_nothing() {
    let before = fixture("tricky.json");
    let (_tmp, store) = store_with(&before);
    let ino = fs::metadata(&store).unwrap().ino();
    let o = RoundOptions {
        dry_run: true,
        ..opts(NOW, &updated)
    };
    let out = bump_store(&store, &o).unwrap();
    assert_eq!(out.bumped.len(), 5);
    assert!(!out.written);
    assert_eq!(fs::read(&store).unwrap(), before);
    assert_eq!(fs::metadata(&store).unwrap().ino(), ino);
    assert_eq!(listing(&store), ["sessions.json"]);
}

#[test]
fn tricky_fields_stay_untouched() {
    let before = fixture("tricky.json");
    let (_tmp, store) = store_with(&before);
    let out = run(&store, NOW, &updated).unwrap();
    assert!(
        out.bumped
            .contains(&"agent:main:slack:channel:c0ffee".to_owned())
    );
    assert!(
        out.bumped
            .contains(&"agent:main:telegram:direct:émoji-😀".to_owned())
    );
    let after = String::from_utf8(fs::read(&store).unwrap()).unwrap();
    for kept in [
        "\"updatedAtHistory\": [\n      1,\n      2,\n      3\n    ]",
        "the word updatedAt inside a string: \\\"updatedAt\\\": 1",
        "\\ud83d and a pair: 😀",
        "\"ratio\": 0.30000000000000004",
        "\"big\": 1e+21",
        "\"small\": 5e-324",
        "\"negative\": -42",
    ] {
        assert!(after.contains(kept), "lost {kept}");
    }
    // updatedAt as the last key of its entry was bumped in place.
    assert!(after.contains(&format!(
        "\"chatType\": \"channel\",\n    \"updatedAt\": {NOW}\n  }}"
    )));
}

#[test]
fn nested_updated_at_is_not_ours() {
    let before = fixture("padded.json");
    let (_tmp, store) = store_with(&before);
    run(&store, NOW, &updated).unwrap();
    let v = parseable(&fs::read(&store).unwrap());
    for e in v.values() {
        assert_eq!(e["updatedAt"], NOW);
        for s in e["skillsSnapshot"]["skills"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(s["updatedAt"], 1);
        }
    }
}

#[test]
fn only_plain_older_integers_move() {
    let before = format!(
        r#"{{
  "old": {{"updatedAt": 5}},
  "future": {{"updatedAt": {future}}},
  "equal": {{"updatedAt": {NOW}}},
  "string": {{"updatedAt": "5"}},
  "float": {{"updatedAt": 5.0}},
  "exp": {{"updatedAt": 5e3}},
  "negative": {{"updatedAt": -5}},
  "huge": {{"updatedAt": 9007199254740993}},
  "overflow": {{"updatedAt": 123456789012345678901234567890}},
  "missing": {{"sessionId": "x"}},
  "null": null,
  "array": [{{"updatedAt": 5}}],
  "number": 5,
  "escaped": {{"updated\u0041t": 5}},
  "twice": {{"updatedAt": 5, "updatedAt": "x"}}
}}"#,
        future = NOW + 1
    );
    let (_tmp, store) = store_with(before.as_bytes());
    let out = run(&store, NOW, &updated).unwrap();
    assert_eq!(out.sessions, 15);
    assert_eq!(out.bumped, ["old", "escaped"]);
    let after = String::from_utf8(fs::read(&store).unwrap()).unwrap();
    let want = before
        .replacen("\"updatedAt\": 5}", &format!("\"updatedAt\": {NOW}}}"), 1)
        .replace("\\u0041t\": 5}", &format!("\\u0041t\": {NOW}}}"));
    assert_eq!(after, want);
}

#[test]
fn lone_surrogate_keys_are_usable() {
    let before = br#"{"agent:main:x\ud83d":{"updatedAt":1},"agent:main:y":{"updatedAt":2}}"#;
    let (_tmp, store) = store_with(before);
    let keys = read_keys(&store).unwrap();
    assert_eq!(keys, ["agent:main:x\u{FFFD}", "agent:main:y"]);
    let out = run(&store, NOW, &updated_if(|k| k.starts_with("agent:main:x"))).unwrap();
    assert_eq!(out.bumped, ["agent:main:x\u{FFFD}"]);
    let after = fs::read(&store).unwrap();
    assert_eq!(replaced_timestamps(before, &after, NOW), 1);
    assert!(after.starts_with(br#"{"agent:main:x\ud83d":{"updatedAt":"#));
}

#[test]
fn read_keys_lists_fixture_keys() {
    for name in FIXTURES {
        let bytes = fixture(name);
        let (_tmp, store) = store_with(&bytes);
        let keys = read_keys(&store).unwrap();
        let parsed: Vec<String> = parseable(&bytes).keys().cloned().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        let mut want = parsed;
        want.sort();
        assert_eq!(sorted, want, "{name}");
        assert_eq!(listing(&store), ["sessions.json"]);
    }
}

#[test]
fn mode_is_preserved() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    fs::set_permissions(&store, fs::Permissions::from_mode(0o640)).unwrap();
    assert!(run(&store, NOW, &updated).unwrap().written);
    assert_eq!(fs::metadata(&store).unwrap().mode() & 0o7777, 0o640);
}

#[test]
fn store_replaced_mid_round_is_redone() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let replacement = fixture("typical-3-entries.json");
    let calls = Cell::new(0u32);
    // `decide` runs between our read and our rename: replace the store like a gateway
    // writer would (temp file + rename) on the first attempt only.
    let decide = |_: &EntryInfo| {
        if calls.get() == 0 {
            let tmp = store.with_file_name("sessions.json.gateway.tmp");
            fs::write(&tmp, &replacement).unwrap();
            fs::rename(&tmp, &store).unwrap();
        }
        calls.set(calls.get() + 1);
        Fields::UPDATED_AT
    };
    let out = run(&store, NOW, &decide).unwrap();
    assert_eq!(out.attempts, 2);
    assert!(out.written);
    assert_eq!(out.sessions, 3);
    let after = fs::read(&store).unwrap();
    assert_eq!(replaced_timestamps(&replacement, &after, NOW), 3);
    assert_eq!(listing(&store), ["sessions.json"]);
}

/// A writer that ignores the lock (the gateway's heartbeat path) replaces the store while
/// we hold the lock: the check before the rename sees it and the round is redone.
#[test]
fn store_replaced_under_the_lock_is_redone() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let replacement = fixture("typical-3-entries.json");
    let done = Cell::new(false);
    let replace = |step: Step| {
        if step == Step::BeforeChecks && !done.replace(true) {
            let tmp = store.with_file_name("sessions.json.heartbeat.tmp");
            fs::write(&tmp, &replacement).unwrap();
            fs::rename(&tmp, &store).unwrap();
        }
    };
    let options = RoundOptions {
        at_step: Some(&replace),
        ..opts(NOW, &updated)
    };
    let out = bump_store(&store, &options).unwrap();
    assert_eq!((out.attempts, out.sessions, out.written), (2, 3, true));
    let after = fs::read(&store).unwrap();
    assert_eq!(replaced_timestamps(&replacement, &after, NOW), 3);
    assert_eq!(listing(&store), ["sessions.json"]);
}

/// The slow part of a round, writing and fsyncing the patched copy, happens before the lock
/// is taken: while the gateway holds its lock, our complete temp file is already waiting.
#[test]
fn the_temp_file_is_complete_before_the_lock_is_taken() {
    let before = fixture("padded.json");
    let (_tmp, store) = store_with(&before);
    let lock = lock_path(&store);
    // A lock held by this live process, as far as the staleness rules can tell.
    fs::write(&lock, live_payload()).unwrap();
    let ours = format!("sessions.json.keepalive-{}-", std::process::id());
    let (out, staged) = std::thread::scope(|scope| {
        let round = scope.spawn(|| {
            let options = RoundOptions {
                lock_timeout: std::time::Duration::from_secs(10),
                ..opts(NOW, &updated)
            };
            bump_store(&store, &options)
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let staged = loop {
            let names = listing(&store);
            if let Some(name) = names.iter().find(|n| n.starts_with(&ours)) {
                // Complete (its size is the store's: digits replaced by as many digits) and
                // still waiting: the lock is not ours yet.
                let bytes = fs::read(store.with_file_name(name)).unwrap();
                if bytes.len() == before.len() {
                    assert!(lock.exists() && !round.is_finished());
                    break bytes;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no temp file: {names:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        fs::remove_file(&lock).unwrap();
        (round.join().unwrap().unwrap(), staged)
    });
    assert!(out.written && out.attempts == 1, "{out:?}");
    assert!(out.lock_wait > std::time::Duration::ZERO);
    let after = fs::read(&store).unwrap();
    assert_eq!(staged, after, "the staged file is what was renamed");
    assert!(replaced_timestamps(&before, &after, NOW) > 0);
    assert_eq!(listing(&store), ["sessions.json"]);
}

/// While a round waits for the gateway's lock with its copy staged, the gateway replaces
/// the store: the stale copy is dropped at once, not waited on, and the redo writes into the
/// new store.
#[test]
fn a_copy_made_stale_while_waiting_for_the_lock_is_dropped_at_once() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let replacement = fixture("typical-3-entries.json");
    let lock = lock_path(&store);
    fs::write(&lock, live_payload()).unwrap();
    let ours = format!("sessions.json.keepalive-{}-", std::process::id());
    let staged = || listing(&store).iter().any(|n| n.starts_with(&ours));
    let out = std::thread::scope(|scope| {
        let round = scope.spawn(|| {
            let options = RoundOptions {
                lock_timeout: std::time::Duration::from_secs(10),
                ..opts(NOW, &updated)
            };
            bump_store(&store, &options)
        });
        wait_until("the copy is staged", &staged);
        // The gateway writes, under the lock it holds: a new file renamed over the store.
        let tmp = store.with_file_name("sessions.json.gateway.tmp");
        fs::write(&tmp, &replacement).unwrap();
        fs::rename(&tmp, &store).unwrap();
        wait_until("the stale copy is removed", &|| !staged());
        assert!(lock.exists() && !round.is_finished());
        fs::remove_file(&lock).unwrap();
        round.join().unwrap().unwrap()
    });
    assert_eq!((out.attempts, out.sessions, out.written), (2, 3, true));
    let after = fs::read(&store).unwrap();
    assert_eq!(replaced_timestamps(&replacement, &after, NOW), 3);
    assert_eq!(listing(&store), ["sessions.json"]);
}

fn wait_until(what: &str, done: &dyn Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Nothing due, nothing written: the round does not even wait for a busy lock.
#[test]
fn nothing_to_write_takes_no_lock() {
    let before = fixture("basic-6.json");
    let (_tmp, store) = store_with(&before);
    let lock = lock_path(&store);
    let payload = live_payload();
    fs::write(&lock, &payload).unwrap();
    let out = run(&store, NOW, &|_: &EntryInfo| Fields::NONE).unwrap();
    assert!(!out.written && out.bumped.is_empty());
    assert_eq!(out.lock_wait, std::time::Duration::ZERO);
    assert_eq!(fs::read_to_string(&lock).unwrap(), payload);
    assert_eq!(fs::read(&store).unwrap(), before);
    // With something due, the same busy lock is waited for and reported.
    let err = run(&store, NOW, &updated).unwrap_err();
    assert_eq!(err.code(), "store_busy");
    assert_eq!(fs::read(&store).unwrap(), before);
    assert_eq!(listing(&store), ["sessions.json", "sessions.json.lock"]);
}

/// A gateway-shaped lock held by this (live) process.
fn live_payload() -> String {
    format!(
        "{{\n  \"pid\": {},\n  \"createdAt\": \"{}\"\n}}",
        std::process::id(),
        humantime::format_rfc3339_millis(std::time::SystemTime::now())
    )
}

/// A writer replacing the store on every attempt is the gateway writing: "store busy".
#[test]
fn store_that_keeps_changing_gives_up() {
    let original = fixture("basic-6.json");
    let (_tmp, store) = store_with(&original);
    let n = Cell::new(0u64);
    let decide = |_: &EntryInfo| {
        n.set(n.get() + 1);
        let tmp = store.with_file_name("sessions.json.gateway.tmp");
        fs::write(&tmp, &original).unwrap();
        fs::rename(&tmp, &store).unwrap();
        Fields::UPDATED_AT
    };
    let err = run(&store, NOW, &decide).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Writing {
                attempts: 3,
                put_back: 0,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), "store_busy");
    assert_eq!(fs::read(&store).unwrap(), original);
    assert_eq!(listing(&store), ["sessions.json"]);
}

#[test]
fn symlinked_directory_locks_in_real_directory() {
    let (tmp, store) = store_with(&fixture("basic-6.json"));
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(store.parent().unwrap(), &link).unwrap();
    let via_link = link.join("sessions.json");
    let seen = Cell::new(false);
    let look = |_: Step| seen.set(lock_path(&store).exists());
    let options = RoundOptions {
        at_step: Some(&look),
        ..opts(NOW, &updated)
    };
    assert!(bump_store(&via_link, &options).unwrap().written);
    assert!(seen.get(), "lock was not next to realpath(dir)");
    assert_eq!(listing(&store), ["sessions.json"]);
    assert!(matches!(
        scan(&fs::read(&store).unwrap()).unwrap().entries[0].updated_at,
        Timestamp::Integer { value: NOW, .. }
    ));
}

#[test]
fn the_byte_checker_catches_stray_changes() {
    let before = fixture("typical-3-entries.json");
    let text = String::from_utf8(before.clone()).unwrap();
    let bump = |t: &str| t.replacen("1776081742311", &NOW.to_string(), 1);
    assert_eq!(replaced_timestamps(&before, bump(&text).as_bytes(), NOW), 1);
    let must_fail: Vec<String> = vec![
        bump(&text).replacen("\"compactionCount\": 0", "\"compactionCount\": 1", 1),
        bump(&text).replacen(
            "\"inputTokens\": 18234",
            &format!("\"inputTokens\": {NOW}"),
            1,
        ),
        bump(&text).replacen(",", ", ", 1),
        text.replacen("1776081742311", &(NOW + 1).to_string(), 1),
        text.replacen("1776081742311", "1", 1),
        format!("{}\n", bump(&text)),
    ];
    for after in must_fail {
        let r = std::panic::catch_unwind(|| replaced_timestamps(&before, after.as_bytes(), NOW));
        assert!(r.is_err());
    }
}
