//! Read-only snapshots for the daemon's planning pass: what they hold, that they notice a
//! replaced or rewritten store, and that they leave everything as it was.

mod common;

use std::fs;
use std::time::Duration;

use common::*;
use keepalive_store::{StoreError, bump_snapshot, read_snapshot};

#[test]
fn snapshot_holds_the_scan_and_detects_replacement() {
    let bytes = fixture("schema-v2.json");
    let (_tmp, store) = store_with(&bytes);
    let snap = read_snapshot(&store).unwrap();
    assert_eq!(snap.len, bytes.len() as u64);
    assert_eq!(snap.scan.entries.len(), 4);
    let main = &snap.scan.entries[0];
    assert_eq!(main.key, "agent:main:main");
    assert_eq!(main.session_started_at.value(), Some(1_776_062_006_190));
    assert_eq!(main.last_channel.as_deref(), Some("telegram"));
    assert!(snap.unchanged_on_disk(&store).unwrap());
    // No lock, no temp file, nothing changed.
    assert_eq!(listing(&store), ["sessions.json"]);
    assert_eq!(fs::read(&store).unwrap(), bytes);

    // The same bytes renamed over it, as the gateway writes: a different file.
    let tmp = store.with_file_name("sessions.json.gateway.tmp");
    fs::write(&tmp, &bytes).unwrap();
    fs::rename(&tmp, &store).unwrap();
    assert!(!snap.unchanged_on_disk(&store).unwrap());
    let again = read_snapshot(&store).unwrap();
    assert_eq!(again.scan, snap.scan);
    assert!(again.unchanged_on_disk(&store).unwrap());

    // A bump by a round replaces it too.
    assert!(run(&store, NOW, &updated).unwrap().written);
    assert!(!again.unchanged_on_disk(&store).unwrap());

    // Gone: changed, not an error.
    fs::remove_file(&store).unwrap();
    assert!(!again.unchanged_on_disk(&store).unwrap());
    assert!(matches!(
        read_snapshot(&store),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn snapshot_detects_in_place_rewrite_of_same_length() {
    let bytes = fixture("basic-6.json");
    let (_tmp, store) = store_with(&bytes);
    let snap = read_snapshot(&store).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    fs::write(&store, &bytes).unwrap();
    assert!(!snap.unchanged_on_disk(&store).unwrap());
}

#[test]
fn snapshot_follows_symlinks_and_refuses_invalid_json() {
    let bytes = fixture("basic-6.json");
    let (tmp, store) = store_with(&bytes);
    let link = tmp.path().join("sessions-link.json");
    std::os::unix::fs::symlink(&store, &link).unwrap();
    let snap = read_snapshot(&link).unwrap();
    assert_eq!(snap.scan.entries.len(), 6);
    assert!(snap.unchanged_on_disk(&link).unwrap());
    assert!(snap.unchanged_on_disk(&store).unwrap());

    let (_tmp2, bad) = store_with(&bytes[..bytes.len() - 1]);
    let err = read_snapshot(&bad).unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert_eq!(fs::read(&bad).unwrap(), &bytes[..bytes.len() - 1]);
}

/// The daemon plans from a snapshot and writes from it: the store is read once. A snapshot
/// the gateway has since replaced is not written from; the round redoes from the new file.
#[test]
fn a_round_writes_from_its_snapshot_or_redoes_from_the_new_store() {
    let bytes = fixture("basic-6.json");
    let (_tmp, store) = store_with(&bytes);
    let snap = read_snapshot(&store).unwrap();
    let out = bump_snapshot(&store, &snap, &opts(NOW, &updated)).unwrap();
    assert_eq!((out.attempts, out.written, out.bumped.len()), (1, true, 6));
    assert_eq!(
        replaced_timestamps(&bytes, &fs::read(&store).unwrap(), NOW),
        6
    );

    let stale = read_snapshot(&store).unwrap();
    let replacement = fixture("typical-3-entries.json");
    let tmp = store.with_file_name("sessions.json.gateway.tmp");
    fs::write(&tmp, &replacement).unwrap();
    fs::rename(&tmp, &store).unwrap();
    let out = bump_snapshot(&store, &stale, &opts(NOW + 1, &updated)).unwrap();
    assert_eq!((out.attempts, out.written, out.sessions), (2, true, 3));
    assert_eq!(
        replaced_timestamps(&replacement, &fs::read(&store).unwrap(), NOW + 1),
        3
    );
    assert_eq!(listing(&store), ["sessions.json"]);
}

/// A snapshot may be read through a symlink; a round through it is still refused.
#[test]
fn a_round_from_a_snapshot_read_through_a_symlink_is_refused() {
    let bytes = fixture("basic-6.json");
    let (tmp, store) = store_with(&bytes);
    let link = tmp.path().join("sessions-link.json");
    std::os::unix::fs::symlink(&store, &link).unwrap();
    let snap = read_snapshot(&link).unwrap();
    let err = bump_snapshot(&link, &snap, &opts(NOW, &updated)).unwrap_err();
    assert_eq!(err.code(), "store_invalid", "{err}");
    assert_eq!(fs::read(&store).unwrap(), bytes);
    assert_eq!(listing(&store), ["sessions.json"]);
}
