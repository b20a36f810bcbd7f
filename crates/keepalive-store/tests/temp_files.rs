//! `remove_stale_temp_files` removes only our own leftovers of dead processes.

use std::fs;
use std::process::Command;

use keepalive_store::remove_stale_temp_files;

#[test]
fn removes_only_dead_keepalive_temp_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let live = std::process::id();
    let names = [
        format!("sessions.json.keepalive-{dead}-AbC123.tmp"),
        format!("sessions.json.keepalive-{live}-XyZ789.tmp"),
        "sessions.json.3f1e2a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp".to_owned(),
        "sessions.json".to_owned(),
        "sessions.json.lock".to_owned(),
        format!("sessions.json.keepalive-{dead}-AbC123.tmp.bak"),
    ];
    for n in &names {
        fs::write(dir.join(n), b"{}").unwrap();
    }
    // A directory with our naming is not a temp file of ours.
    fs::create_dir(dir.join(format!("sessions.json.keepalive-{dead}-dir.tmp"))).unwrap();
    assert_eq!(remove_stale_temp_files(dir).unwrap(), 1);
    assert!(!dir.join(&names[0]).exists());
    for n in &names[1..] {
        assert!(dir.join(n).exists(), "{n}");
    }
    assert_eq!(remove_stale_temp_files(dir).unwrap(), 0);
    assert!(remove_stale_temp_files(&dir.join("missing")).is_err());
}
