//! The last step of a round against a writer that ignores the lock, as the gateway does from
//! 2026.5.2 to 2026.7.35: a gateway write placed at each step of the commit, and what the
//! store holds afterwards. The gateway's files here are other fixtures, so "its write
//! survived" is checked byte for byte: the final store is its file, with nothing changed but
//! the timestamps keepalive bumped.

mod common;

use std::cell::Cell;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;
use keepalive_store::{RoundOptions, RoundOutcome, Step, StoreError, bump_store};

/// What the gateway does: write `sessions.json.<pid>.<uuid>.tmp`, rename it over the store.
fn gateway_writes(store: &Path, bytes: &[u8], n: u32) {
    let tmp = store.with_file_name(format!(
        "sessions.json.4242.0000000{n}-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp"
    ));
    fs::write(&tmp, bytes).unwrap();
    fs::rename(&tmp, store).unwrap();
}

/// One round over every entry's `updatedAt`, with `hook` at each step and up to `attempts`.
fn round_with(
    store: &Path,
    hook: &dyn Fn(Step),
    attempts: u32,
) -> Result<RoundOutcome, StoreError> {
    bump_store(
        store,
        &RoundOptions {
            at_step: Some(hook),
            max_attempts: attempts,
            ..opts(NOW, &updated)
        },
    )
}

/// A round of one attempt whose last step met the gateway: nothing of ours is left, and the
/// store is exactly `theirs`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn put_back_exactly(store: &Path, hook: &dyn Fn(Step), theirs: &[u8]) {
    let err = round_with(store, hook, 1).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Writing {
                attempts: 1,
                put_back: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), "store_busy");
    assert_eq!(fs::read(store).unwrap(), theirs);
    assert_eq!(listing(store), ["sessions.json"]);
}

/// Runs `gateway` once, at the first time the commit reaches `at`.
fn once_at(at: Step, gateway: impl Fn()) -> impl Fn(Step) {
    let done = Cell::new(false);
    move |step| {
        if step == at && !done.replace(true) {
            gateway();
        }
    }
}

/// The old window: the gateway renames after our last check, before our swap. Its file is
/// put back, and the redone round bumps it.
#[cfg(target_os = "linux")] // needs renameat2(RENAME_EXCHANGE)
#[test]
fn a_gateway_write_between_the_check_and_the_swap_is_put_back() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let theirs = fixture("typical-3-entries.json");
    let hook = once_at(Step::BeforeSwap, || gateway_writes(&store, &theirs, 1));
    let out = round_with(&store, &hook, 3).unwrap();
    assert_eq!((out.put_back, out.attempts, out.written), (1, 2, true));
    assert_eq!(out.sessions, 3, "the redo planned from the gateway's file");
    assert_eq!(
        replaced_timestamps(&theirs, &fs::read(&store).unwrap(), NOW),
        3
    );
    assert_eq!(listing(&store), ["sessions.json"]);
}

/// Put back and not redone (one attempt only): the store is exactly the gateway's file.
#[cfg(target_os = "linux")] // needs renameat2(RENAME_EXCHANGE)
#[test]
fn a_put_back_leaves_the_gateway_file_exactly() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let theirs = fixture("tricky.json");
    let hook = once_at(Step::BeforeSwap, || gateway_writes(&store, &theirs, 1));
    put_back_exactly(&store, &hook, &theirs);
}

/// The gateway renames twice: once between the check and the swap, once more over our file
/// before the put-back. The put-back takes out the newest file instead of ours, and must put
/// that one back too: the newest ends in place, never the older.
#[cfg(target_os = "linux")]
#[test]
fn a_gateway_write_over_ours_before_the_put_back_is_put_back_too() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let first = fixture("typical-3-entries.json");
    let newest = fixture("schema-v2.json");
    let hook_first = once_at(Step::BeforeSwap, || gateway_writes(&store, &first, 1));
    let hook_newest = once_at(Step::AfterSwap, || gateway_writes(&store, &newest, 2));
    let both = |step| {
        hook_first(step);
        hook_newest(step);
    };
    put_back_exactly(&store, &both, &newest);
}

/// The gateway renames again just after its first file was put back: an ordinary later
/// write, which stays.
#[cfg(target_os = "linux")] // needs renameat2(RENAME_EXCHANGE)
#[test]
fn a_second_gateway_write_during_the_put_back_wins() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let first = fixture("typical-3-entries.json");
    let newest = fixture("schema-v2.json");
    let hook_first = once_at(Step::BeforeSwap, || gateway_writes(&store, &first, 1));
    let hook_second = once_at(Step::AfterPutBack, || gateway_writes(&store, &newest, 2));
    let both = |step| {
        hook_first(step);
        hook_second(step);
    };
    put_back_exactly(&store, &both, &newest);
}

/// The gateway's rename lands just after our swap: that is an ordinary later write, which
/// replaces ours. Our round counts as written; the store is the gateway's file exactly.
#[test]
fn a_gateway_write_after_the_swap_simply_replaces_ours() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let theirs = fixture("typical-3-entries.json");
    let hook = once_at(Step::AfterSwap, || gateway_writes(&store, &theirs, 1));
    let out = round_with(&store, &hook, 3).unwrap();
    assert_eq!((out.put_back, out.attempts, out.written), (0, 1, true));
    assert_eq!(fs::read(&store).unwrap(), theirs);
    assert_eq!(listing(&store), ["sessions.json"]);
}

/// A writer that rewrites the file in place between the check and the swap: the file taken
/// out is the same inode but no longer what we read, so it goes back too.
#[cfg(target_os = "linux")] // needs renameat2(RENAME_EXCHANGE)
#[test]
fn an_in_place_rewrite_before_the_swap_is_put_back() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let theirs = fixture("padded.json");
    let hook = once_at(Step::BeforeSwap, || fs::write(&store, &theirs).unwrap());
    put_back_exactly(&store, &hook, &theirs);
}

/// A gateway write in progress (its temp file exists) when we hold the lock: no swap now.
/// The redo waits for the write to end, then bumps the gateway's new store.
#[test]
fn a_gateway_write_in_progress_is_waited_for() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let theirs = fixture("typical-3-entries.json");
    let tmp = store.with_file_name("sessions.json.4242.11111111-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp");
    let (tmp, store) = (&tmp, &store);
    let out = std::thread::scope(|scope| {
        let begun = Cell::new(false);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let hook = |step| {
            if step == Step::BeforeChecks && !begun.replace(true) {
                fs::write(tmp, &theirs).unwrap();
                tx.send(()).unwrap();
            }
        };
        let finisher = scope.spawn(move || {
            rx.recv().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            fs::rename(tmp, store).unwrap();
        });
        let out = bump_store(
            store,
            &RoundOptions {
                at_step: Some(&hook),
                lock_timeout: Duration::from_secs(10),
                ..opts(NOW, &updated)
            },
        );
        finisher.join().unwrap();
        out
    })
    .unwrap();
    assert_eq!((out.attempts, out.written, out.put_back), (2, true, 0));
    assert!(out.writer_wait >= Duration::from_millis(50), "{out:?}");
    assert_eq!(
        replaced_timestamps(&theirs, &fs::read(store).unwrap(), NOW),
        3
    );
    assert_eq!(listing(store), ["sessions.json"]);
}

/// A write that never ends within the round's budget: "store busy", store and the gateway's
/// temp file untouched, ours gone.
#[test]
fn a_gateway_write_that_never_ends_is_store_busy() {
    let before = fixture("basic-6.json");
    let (_tmp, store) = store_with(&before);
    let tmp = store.with_file_name("sessions.json.4242.22222222-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp");
    fs::write(&tmp, b"{\"half\": ").unwrap();
    let err = run(&store, NOW, &updated).unwrap_err();
    assert!(matches!(err, StoreError::Writing { .. }), "{err}");
    assert_eq!(err.code(), "store_busy");
    assert!(err.to_string().starts_with("store busy:"), "{err}");
    assert_eq!(fs::read(&store).unwrap(), before);
    assert_eq!(fs::read(&tmp).unwrap(), b"{\"half\": ");
    assert_eq!(
        listing(&store),
        [
            "sessions.json",
            "sessions.json.4242.22222222-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp"
        ]
    );
}

/// A temp file a crashed gateway left long ago is not a write in progress.
#[test]
fn an_abandoned_gateway_temp_file_does_not_block() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let before = fs::read(&store).unwrap();
    let tmp = store.with_file_name("sessions.json.33333333-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp");
    fs::write(&tmp, b"{").unwrap();
    let old = SystemTime::now() - Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let out = run(&store, NOW, &updated).unwrap();
    assert!(out.written && out.writer_wait < Duration::from_secs(5));
    assert_eq!(
        replaced_timestamps(&before, &fs::read(&store).unwrap(), NOW),
        6
    );
    assert!(
        tmp.exists(),
        "the gateway's own leftover is its to clean up"
    );
}

/// A gateway write that ends after we took the lock, before the checks: seen, redone.
#[test]
fn a_rename_of_the_store_before_the_checks_is_seen() {
    let (_tmp, store) = store_with(&fixture("basic-6.json"));
    let theirs = fixture("typical-3-entries.json");
    let hook = once_at(Step::BeforeChecks, || gateway_writes(&store, &theirs, 3));
    let out = round_with(&store, &hook, 3).unwrap();
    assert_eq!((out.attempts, out.put_back, out.written), (2, 0, true));
    assert_eq!(
        replaced_timestamps(&theirs, &fs::read(&store).unwrap(), NOW),
        3
    );
}
