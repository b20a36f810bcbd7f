//! Noticing resets on hand-made looks: each kind of change once, the verdict it carries,
//! and nothing told before keepalive ever looked.

use std::collections::BTreeMap;

use keepalive_proto::{ResetKind, ResetVerdict};

use super::{Before, carry_lapses, notice};
use crate::policy::Look;

const T0: u64 = 1_800_000_000_000;

fn look(id: Option<&str>, verdict: ResetVerdict, stale_at: Option<u64>) -> Look {
    Look {
        session_id: id.map(str::to_owned),
        lifecycle: None,
        verdict,
        stale_at_ms: stale_at,
        stale_rule: stale_at.map(|_| "idle".to_owned()),
    }
}

fn looks(items: &[(&str, Look)]) -> BTreeMap<String, Look> {
    items
        .iter()
        .map(|(k, l)| (k.to_string(), l.clone()))
        .collect()
}

#[test]
fn a_new_session_id_is_one_reset_with_the_verdict_of_the_last_look() {
    let was = looks(&[
        (
            "a",
            look(Some("s1"), ResetVerdict::KeptAlive, Some(T0 + 30_000)),
        ),
        ("b", look(Some("s2"), ResetVerdict::Excluded, None)),
    ]);
    let now = looks(&[
        ("a", look(Some("s9"), ResetVerdict::KeptAlive, None)),
        ("b", look(Some("s2"), ResetVerdict::Excluded, None)),
    ]);
    let before = Before {
        looks: &was,
        at_ms: Some(T0),
        by_previous_daemon: false,
        slept_ms: 0,
    };
    let events = notice("main", &before, &now, T0 + 60_000);
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!((e.kind, e.key.as_str()), (ResetKind::Reset, "a"));
    assert_eq!(e.old_session_id.as_deref(), Some("s1"));
    assert_eq!(e.new_session_id.as_deref(), Some("s9"));
    assert_eq!((e.last_seen_ms, e.noticed_ms), (Some(T0), T0 + 60_000));
    assert_eq!(e.verdict, Some(ResetVerdict::KeptAlive));
    // The idle rule had made it stale 30 s after the last look: it is named.
    assert_eq!(e.stale_rule.as_deref(), Some("idle"));
    assert_eq!(e.stale_at_ms, Some(T0 + 30_000));
    assert!(e.detail.contains("keepalive failure"), "{}", e.detail);
}

#[test]
fn a_rule_that_had_not_yet_struck_is_not_named() {
    let was = looks(&[(
        "a",
        look(Some("s1"), ResetVerdict::NotInUse, Some(T0 + 3_600_000)),
    )]);
    let now = looks(&[("a", look(Some("s2"), ResetVerdict::NotInUse, None))]);
    let before = Before {
        looks: &was,
        at_ms: Some(T0),
        by_previous_daemon: false,
        slept_ms: 0,
    };
    let e = &notice("main", &before, &now, T0 + 60_000)[0];
    assert_eq!((e.stale_rule.as_deref(), e.stale_at_ms), (None, None));
    assert!(e.detail.contains("/new"), "{}", e.detail);
}

#[test]
fn after_a_restart_the_verdict_is_that_keepalive_was_not_running() {
    let was = looks(&[("a", look(Some("s1"), ResetVerdict::KeptAlive, None))]);
    let now = looks(&[("a", look(Some("s2"), ResetVerdict::KeptAlive, None))]);
    let before = Before {
        looks: &was,
        at_ms: Some(T0),
        by_previous_daemon: true,
        slept_ms: 0,
    };
    let e = &notice("main", &before, &now, T0 + 3_600_000)[0];
    assert_eq!(e.verdict, Some(ResetVerdict::DaemonNotRunning));
    assert!(
        e.detail
            .contains("before it stopped: keepalive was keeping it alive")
    );
}

#[test]
fn disappeared_and_appeared_entries_are_their_own_kinds() {
    let was = looks(&[("gone", look(Some("s1"), ResetVerdict::NotInUse, None))]);
    let now = looks(&[("new", look(Some("s2"), ResetVerdict::KeptAlive, None))]);
    let before = Before {
        looks: &was,
        at_ms: Some(T0),
        by_previous_daemon: false,
        slept_ms: 0,
    };
    let events = notice("main", &before, &now, T0 + 1_000);
    let kinds: Vec<_> = events.iter().map(|e| (e.key.as_str(), e.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("new", ResetKind::Appeared),
            ("gone", ResetKind::Disappeared)
        ]
    );
    assert_eq!(events[0].verdict, None);
    assert_eq!(events[1].verdict, Some(ResetVerdict::NotInUse));
    assert_eq!(events[1].new_session_id, None);
}

#[test]
fn nothing_is_told_before_the_first_look_nor_without_session_ids() {
    let now = looks(&[("a", look(Some("s1"), ResetVerdict::KeptAlive, None))]);
    let empty = BTreeMap::new();
    let never = Before {
        looks: &empty,
        at_ms: None,
        by_previous_daemon: true,
        slept_ms: 0,
    };
    assert!(notice("main", &never, &now, T0).is_empty());
    let was = looks(&[("a", look(None, ResetVerdict::KeptAlive, None))]);
    let before = Before {
        looks: &was,
        at_ms: Some(T0),
        by_previous_daemon: false,
        slept_ms: 0,
    };
    assert!(notice("main", &before, &now, T0 + 1).is_empty());
}

#[test]
fn a_new_lifecycle_revision_under_the_same_session_id_is_a_reset() {
    // OpenClaw 2026.8+ resets a session in SQLite by minting a new lifecycleRevision and
    // keeping its sessionId; an entry imported from sessions.json has no revision yet.
    let sqlite = |revision: &str| Look {
        lifecycle: Some(revision.to_owned()),
        ..look(Some("s1"), ResetVerdict::NotWritable, None)
    };
    let was = looks(&[
        ("imported", sqlite("")),
        ("used", sqlite("r1")),
        ("same", sqlite("r7")),
    ]);
    let now = looks(&[
        ("imported", sqlite("r2")),
        ("used", sqlite("r3")),
        ("same", sqlite("r7")),
    ]);
    let before = Before {
        looks: &was,
        at_ms: Some(T0),
        by_previous_daemon: false,
        slept_ms: 0,
    };
    let events = notice("main", &before, &now, T0 + 60_000);
    let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["imported", "used"], "{events:#?}");
    let e = &events[1];
    assert_eq!(e.kind, ResetKind::Reset);
    assert_eq!(e.old_session_id, e.new_session_id);
    assert_eq!(e.verdict, Some(ResetVerdict::NotWritable));
    assert!(
        e.detail
            .contains("lifecycleRevision r1 became r3 (sessionId s1 kept"),
        "{}",
        e.detail
    );
    assert!(
        events[0]
            .detail
            .contains("lifecycleRevision (none) became r2")
    );

    // A look that does not follow lifecycles (a JSON store's) never makes one up.
    let json = looks(&[("used", look(Some("s1"), ResetVerdict::KeptAlive, None))]);
    let before = Before {
        looks: &json,
        at_ms: Some(T0),
        by_previous_daemon: false,
        slept_ms: 0,
    };
    let now = looks(&[("used", sqlite("r3"))]);
    assert!(notice("main", &before, &now, T0 + 60_000).is_empty());
}

/// The looks `now` after [`carry_lapses`] against `was`.
fn carried(
    was: &BTreeMap<String, Look>,
    now: &[(&str, Look)],
    restarted: bool,
) -> Vec<ResetVerdict> {
    let mut now = looks(now);
    let before = Before {
        looks: was,
        at_ms: Some(T0),
        by_previous_daemon: restarted,
        slept_ms: 0,
    };
    carry_lapses(&before, &mut now);
    now.values().map(|l| l.verdict).collect()
}

#[test]
fn a_session_that_went_stale_keeps_the_reason_until_its_reset() {
    let stale = |id: &str| look(Some(id), ResetVerdict::AlreadyStale, Some(T0 - 1));
    let was = looks(&[
        (
            "kept",
            look(Some("k1"), ResetVerdict::KeptAlive, Some(T0 + 1)),
        ),
        (
            "failed",
            look(Some("f1"), ResetVerdict::WriteFailed, Some(T0 + 1)),
        ),
        (
            "idle",
            look(Some("i1"), ResetVerdict::NotInUse, Some(T0 + 1)),
        ),
        ("first-seen", stale("s1")),
        (
            "new-id",
            look(Some("n1"), ResetVerdict::KeptAlive, Some(T0 + 1)),
        ),
    ]);
    let now = [
        ("failed", stale("f1")),
        ("first-seen", stale("s1")),
        ("idle", stale("i1")),
        ("kept", stale("k1")),
        ("new-id", stale("n2")),
    ];
    // keepalive running all along: the kept session lapsed under it (its failure).
    assert_eq!(
        carried(&was, &now, false),
        [
            ResetVerdict::WriteFailed,
            ResetVerdict::AlreadyStale,
            ResetVerdict::NotInUse,
            ResetVerdict::KeptAlive,
            ResetVerdict::AlreadyStale,
        ]
    );
    // Found stale at a new daemon's first look: it lapsed while keepalive was not running.
    assert_eq!(
        carried(&was, &now, true),
        [
            ResetVerdict::DaemonNotRunning,
            ResetVerdict::AlreadyStale,
            ResetVerdict::NotInUse,
            ResetVerdict::DaemonNotRunning,
            ResetVerdict::AlreadyStale,
        ]
    );
    // And that reason stands at the looks after, up to the reset.
    let was = looks(&[(
        "kept",
        look(Some("k1"), ResetVerdict::DaemonNotRunning, None),
    )]);
    assert_eq!(
        carried(&was, &[("kept", stale("k1"))], false),
        [ResetVerdict::DaemonNotRunning]
    );
}

#[test]
fn a_machine_that_slept_since_the_last_look_is_keepalive_not_running() {
    let was = looks(&[
        (
            "lapsed",
            look(Some("l1"), ResetVerdict::KeptAlive, Some(T0 + 1)),
        ),
        (
            "reset",
            look(Some("r1"), ResetVerdict::KeptAlive, Some(T0 + 1)),
        ),
    ]);
    let mut now = looks(&[
        (
            "lapsed",
            look(Some("l1"), ResetVerdict::AlreadyStale, Some(T0 + 1)),
        ),
        ("reset", look(Some("r2"), ResetVerdict::KeptAlive, None)),
    ]);
    let before = Before {
        looks: &was,
        at_ms: Some(T0),
        by_previous_daemon: false,
        slept_ms: 7 * 3_600_000,
    };
    carry_lapses(&before, &mut now);
    assert_eq!(now["lapsed"].verdict, ResetVerdict::DaemonNotRunning);
    let events = notice("main", &before, &now, T0 + 8 * 3_600_000);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].verdict, Some(ResetVerdict::DaemonNotRunning));
    assert!(
        events[0].detail.contains("this machine slept for 7h"),
        "{}",
        events[0].detail
    );
}

#[test]
fn a_lapse_seen_while_keepalive_ran_stays_its_failure_across_a_restart() {
    // The last look found the kept session stale already (carried: kept alive); then the
    // daemon restarted (or the machine slept), then the gateway reset the session.
    let was = looks(&[(
        "a",
        look(Some("s1"), ResetVerdict::KeptAlive, Some(T0 - 60_000)),
    )]);
    let stale = looks(&[(
        "a",
        look(Some("s1"), ResetVerdict::AlreadyStale, Some(T0 - 60_000)),
    )]);
    for (restarted, slept_ms) in [(true, 0), (false, 3_600_000)] {
        let before = Before {
            looks: &was,
            at_ms: Some(T0),
            by_previous_daemon: restarted,
            slept_ms,
        };
        let mut now = stale.clone();
        carry_lapses(&before, &mut now);
        assert_eq!(now["a"].verdict, ResetVerdict::KeptAlive);
        let reset = looks(&[("a", look(Some("s2"), ResetVerdict::KeptAlive, None))]);
        let e = &notice("main", &before, &reset, T0 + 7_200_000)[0];
        assert_eq!(e.verdict, Some(ResetVerdict::KeptAlive), "{e:#?}");
        assert!(e.detail.contains("a keepalive failure"), "{}", e.detail);
    }
}
