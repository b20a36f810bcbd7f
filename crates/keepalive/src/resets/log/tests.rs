//! The event log on real files: numbering across reopenings, the caps, and a file it
//! cannot read, which it leaves alone.

use keepalive_proto::{ResetEvent, ResetKind, ResetVerdict};

use super::{MAX_BYTES, MAX_EVENTS, ResetLog};

fn event(key: &str, noticed_ms: u64, detail_bytes: usize) -> ResetEvent {
    ResetEvent {
        seq: 0,
        agent: "main".into(),
        key: key.into(),
        kind: ResetKind::Reset,
        old_session_id: Some("old".into()),
        new_session_id: Some("new".into()),
        last_seen_ms: Some(noticed_ms - 1),
        noticed_ms,
        stale_rule: None,
        stale_at_ms: None,
        verdict: Some(ResetVerdict::KeptAlive),
        detail: "x".repeat(detail_bytes),
    }
}

#[test]
fn events_are_numbered_kept_and_found_again_after_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.resets.jsonl");
    let log = ResetLog::open(&path, true);
    let first = log.append(vec![event("a", 10, 1), event("b", 20, 1)]);
    assert_eq!(first.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    drop(log);
    let log = ResetLog::open(&path, true);
    assert_eq!(log.problem(), None);
    let more = log.append(vec![event("a", 30, 1)]);
    assert_eq!(more[0].seq, 3, "numbering goes on from the file");
    assert_eq!(log.query(None, None, Some(1)).len(), 2);
    assert_eq!(log.query(None, Some(20), None).len(), 2);
    assert_eq!(log.query(Some("other"), None, None).len(), 0);
    assert_eq!(log.last_reset("main", "a").map(|r| r.noticed_ms), Some(30));
}

#[test]
fn the_log_keeps_only_the_newest_events_within_its_caps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.resets.jsonl");
    let log = ResetLog::open(&path, true);
    let batch: Vec<_> = (0..MAX_EVENTS as u64 + 10)
        .map(|i| event("k", 1_000 + i, 1))
        .collect();
    log.append(batch);
    let kept = log.query(None, None, None);
    assert_eq!(kept.len(), MAX_EVENTS);
    assert_eq!(kept[0].seq, 11, "the oldest ten were dropped");
    // Big events: the byte cap holds on disk, the newest survive.
    log.append(
        (0..40)
            .map(|i| event("big", 5_000 + i, 64 * 1024))
            .collect(),
    );
    let on_disk = std::fs::metadata(&path).expect("log file").len() as usize;
    assert!(on_disk <= MAX_BYTES, "{on_disk} bytes on disk");
    let reopened = ResetLog::open(&path, true).query(None, None, None);
    assert_eq!(reopened.last().map(|e| e.noticed_ms), Some(5_039));
    assert!(reopened.len() < 40, "{} events kept", reopened.len());
}

#[test]
fn an_unreadable_log_is_left_alone_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.resets.jsonl");
    let garbage = b"{\"seq\":1}\nnot json at all\n";
    std::fs::write(&path, garbage).expect("write");
    let log = ResetLog::open(&path, true);
    let problem = log.problem().expect("a problem is reported");
    assert!(
        problem.contains("line 1") && problem.contains("left as it is"),
        "{problem}"
    );
    let kept = log.append(vec![event("a", 10, 1)]);
    assert_eq!(kept[0].seq, 1);
    assert_eq!(log.query(None, None, None).len(), 1, "kept in memory");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        garbage,
        "the file is untouched"
    );
}

#[test]
fn a_dry_run_writes_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.resets.jsonl");
    let log = ResetLog::open(&path, false);
    log.append(vec![event("a", 10, 1)]);
    assert!(!path.exists());
    assert_eq!(log.query(None, None, None).len(), 1);
}
