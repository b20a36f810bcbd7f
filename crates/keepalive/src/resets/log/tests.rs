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
    let first = log.record(vec![event("a", 10, 1), event("b", 20, 1)], None);
    assert_eq!(first.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert!(log.write(), "the file holds them");
    drop(log);
    let log = ResetLog::open(&path, true);
    assert_eq!(log.problem(), None);
    let more = log.record(vec![event("a", 30, 1)], None);
    assert_eq!(more[0].seq, 3, "numbering goes on from the file");
    assert_eq!(log.query(None, None, Some(1)).len(), 2);
    assert_eq!(log.query(None, Some(20), None).len(), 2);
    assert_eq!(log.query(Some("other"), None, None).len(), 0);
    let last = log.last_resets();
    let of = |key: &str| {
        last.get(&("main".to_owned(), key.to_owned()))
            .map(|r| r.noticed_ms)
    };
    assert_eq!((of("a"), of("b"), of("c")), (Some(30), Some(20), None));
}

#[test]
fn the_log_keeps_only_the_newest_events_within_its_caps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.resets.jsonl");
    let log = ResetLog::open(&path, true);
    let batch: Vec<_> = (0..MAX_EVENTS as u64 + 10)
        .map(|i| event("k", 1_000 + i, 1))
        .collect();
    assert!(log.append(batch, None));
    let kept = log.query(None, None, None);
    assert_eq!(kept.len(), MAX_EVENTS);
    assert_eq!(kept[0].seq, 11, "the oldest ten were dropped");
    // Big events: the byte cap holds on disk, the newest survive.
    log.append(
        (0..40)
            .map(|i| event("big", 5_000 + i, 64 * 1024))
            .collect(),
        None,
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
    let kept = log.record(vec![event("a", 10, 1)], None);
    assert_eq!(kept[0].seq, 1);
    assert!(
        log.write(),
        "nothing comes of waiting for a file never written"
    );
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
    log.append(vec![event("a", 10, 1)], None);
    assert!(!path.exists());
    assert_eq!(log.query(None, None, None).len(), 1);
}

#[test]
fn entries_gone_or_new_make_room_before_resets_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = ResetLog::open(&dir.path().join("s.resets.jsonl"), true);
    log.record(vec![event("reset-first", 1, 1)], None);
    let comings_and_goings: Vec<_> = (0..MAX_EVENTS as u64)
        .map(|i| ResetEvent {
            kind: if i % 2 == 0 {
                ResetKind::Appeared
            } else {
                ResetKind::Disappeared
            },
            ..event(&format!("subagent-{i}"), 2 + i, 1)
        })
        .collect();
    log.record(comings_and_goings, None);
    log.record(vec![event("reset-last", 5_000, 1)], None);
    let kept = log.query(None, None, None);
    assert_eq!(kept.len(), MAX_EVENTS);
    assert_eq!(kept[0].key, "reset-first", "the old reset stays");
    assert_eq!(
        kept[1].key, "subagent-2",
        "the two oldest comings and goings went"
    );
    assert_eq!(kept.last().map(|e| e.key.as_str()), Some("reset-last"));
}

#[test]
fn a_change_noticed_again_after_a_crash_is_recorded_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = ResetLog::open(&dir.path().join("s.resets.jsonl"), true);
    // Noticed at 100 against a look made at 90; the ledger's look on disk is from 50.
    log.record(vec![event("a", 100, 1)], Some(90));
    let again = ResetEvent {
        last_seen_ms: Some(50),
        ..event("a", 200, 1)
    };
    assert!(log.record(vec![again.clone()], Some(50)).is_empty());
    assert_eq!(log.query(None, None, None).len(), 1);
    // The same ids again after a look made since (OpenClaw 2026.8+ keep the id through a
    // reset): a new reset, recorded.
    let next = log.record(vec![again], Some(100));
    assert_eq!(next.len(), 1, "{next:?}");
    // Same ids, another lifecycle (a second reset while keepalive was down): not the same.
    let revision = |from: &str, to: &str, at: u64| ResetEvent {
        detail: format!("started afresh: lifecycleRevision {from} became {to} between a and b"),
        ..event("sqlite", at, 1)
    };
    log.record(vec![revision("r1", "r2", 300)], Some(290));
    assert!(
        log.record(vec![revision("r1", "r2", 400)], Some(250))
            .is_empty()
    );
    assert_eq!(
        log.record(vec![revision("r1", "r3", 400)], Some(250)).len(),
        1
    );
}

#[test]
fn a_failed_write_is_reported_and_done_when_it_works_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("not-yet");
    let path = missing.join("s.resets.jsonl");
    let log = ResetLog::open(&path, true);
    assert!(log.write(), "nothing to write");
    // A file where the log's folder should be: no write can get through.
    std::fs::write(&missing, b"").expect("blocker");
    log.record(vec![event("a", 10, 1)], None);
    assert!(!log.write(), "the folder is a file");
    let problem = log.problem().expect("reported");
    assert!(problem.contains("cannot write the event log"), "{problem}");
    assert_eq!(log.query(None, None, None).len(), 1, "answered from memory");
    std::fs::remove_file(&missing).expect("unblock");
    std::fs::create_dir(&missing).expect("mkdir");
    assert!(log.write());
    assert_eq!(log.problem(), None);
    assert_eq!(ResetLog::open(&path, true).query(None, None, None).len(), 1);
}

#[test]
fn a_file_far_over_the_cap_is_not_read_but_left_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.resets.jsonl");
    let line = serde_json::to_string(&event("a", 10, 1)).expect("json") + "\n";
    let huge = line.repeat(5 * MAX_BYTES / line.len());
    std::fs::write(&path, &huge).expect("write");
    let log = ResetLog::open(&path, true);
    let problem = log.problem().expect("reported");
    assert!(
        problem.contains("far more than keepalive writes"),
        "{problem}"
    );
    log.append(vec![event("b", 20, 1)], None);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), huge);
}
