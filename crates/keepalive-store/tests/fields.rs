//! Rounds that bump several timestamp fields per entry (json-v2 stores): exactly the asked
//! fields an entry already has move, forward only, and `decide` sees every entry it could
//! keep alive.

mod common;

use std::cell::{Cell, RefCell};
use std::fs;

use common::*;
use keepalive_store::{EntryInfo, Field, Fields, RoundOptions, bump_store, plan_bumps, scan};
use serde_json::Value;

#[test]
fn v2_fixture_bumps_all_three_fields() {
    let before = fixture("schema-v2.json");
    let (_tmp, store) = store_with(&before);
    let out = run(&store, NOW, &all_fields).unwrap();
    let after = fs::read(&store).unwrap();
    let parsed = parseable(&before);
    assert_eq!(out.sessions, parsed.len());
    assert_eq!(out.bumped, parsed.keys().cloned().collect::<Vec<_>>());
    assert_eq!(out.bumped_fields, 3 * parsed.len());
    assert!(out.written);
    // Byte level: exactly the three timestamp digit runs per entry changed.
    assert_eq!(
        replaced_fields(&before, &after, NOW, TIMESTAMP_NAMES),
        3 * parsed.len()
    );
    let mut want = parsed;
    for e in want.values_mut() {
        for name in TIMESTAMP_NAMES {
            e[*name] = Value::from(NOW);
        }
    }
    assert_eq!(parseable(&after), want);
    assert_eq!(listing(&store), ["sessions.json"]);

    // Everything is now at `now`: asked again, the same entries, nothing to write.
    let out = run(&store, NOW, &all_fields).unwrap();
    assert!(!out.written && out.bumped.is_empty() && out.bumped_fields == 0);
    assert_eq!(fs::read(&store).unwrap(), after);
}

#[test]
fn only_fields_the_entry_has_are_bumped() {
    let before = br#"{"v1":{"updatedAt":1},"idle":{"lastInteractionAt":2,"x":{"updatedAt":3}},"none":{"sessionId":"s"}}"#;
    let (_tmp, store) = store_with(before);
    let out = run(&store, NOW, &all_fields).unwrap();
    assert_eq!(out.bumped, ["v1", "idle"]);
    assert_eq!(out.bumped_fields, 2);
    let after = fs::read(&store).unwrap();
    assert_eq!(
        String::from_utf8(after).unwrap(),
        format!(
            r#"{{"v1":{{"updatedAt":{NOW}}},"idle":{{"lastInteractionAt":{NOW},"x":{{"updatedAt":3}}}},"none":{{"sessionId":"s"}}}}"#
        )
    );
}

#[test]
fn each_field_is_forward_only_and_plain_integers_only() {
    let future = NOW + 1;
    let before = format!(
        r#"{{
  "a": {{"updatedAt": 5, "lastInteractionAt": "5", "sessionStartedAt": {future}}},
  "b": {{"updatedAt": {NOW}, "lastInteractionAt": 5.0, "sessionStartedAt": 5}},
  "c": {{"updatedAt": -5, "lastInteractionAt": 5, "sessionStartedAt": 9007199254740993}},
  "d": {{"updatedAt": null, "lastInteractionAt": 5e3, "sessionStartedAt": [5]}}
}}"#
    );
    let (_tmp, store) = store_with(before.as_bytes());
    let out = run(&store, NOW, &all_fields).unwrap();
    assert_eq!(out.bumped, ["a", "b", "c"]);
    assert_eq!(out.bumped_fields, 3);
    let want = before
        .replacen("\"updatedAt\": 5,", &format!("\"updatedAt\": {NOW},"), 1)
        .replacen(
            "\"sessionStartedAt\": 5}",
            &format!("\"sessionStartedAt\": {NOW}}}"),
            1,
        )
        .replacen(
            "\"lastInteractionAt\": 5,",
            &format!("\"lastInteractionAt\": {NOW},"),
            1,
        );
    assert_eq!(String::from_utf8(fs::read(&store).unwrap()).unwrap(), want);
}

#[test]
fn escaped_duplicate_and_nested_members() {
    let before = br#"{
  "esc": {"last\u0049nteractionAt": 1, "session\u0053tartedAt": 2},
  "dup": {"lastInteractionAt": 3, "sessionStartedAt": 4, "lastInteractionAt": 5, "sessionStartedAt": "x"},
  "nested": {"updatedAt": 6, "ctx": {"lastInteractionAt": 7, "sessionStartedAt": 8}, "note": "\"sessionStartedAt\": 9"}
}"#;
    let (_tmp, store) = store_with(before);
    let out = run(&store, NOW, &all_fields).unwrap();
    assert_eq!(out.bumped, ["esc", "dup", "nested"]);
    assert_eq!(out.bumped_fields, 4);
    let text = String::from_utf8(before.to_vec()).unwrap();
    let want = text
        .replace("nteractionAt\": 1,", &format!("nteractionAt\": {NOW},"))
        .replace("tartedAt\": 2}", &format!("tartedAt\": {NOW}}}"))
        .replace(
            "\"lastInteractionAt\": 5,",
            &format!("\"lastInteractionAt\": {NOW},"),
        )
        .replace("\"updatedAt\": 6,", &format!("\"updatedAt\": {NOW},"));
    assert_eq!(String::from_utf8(fs::read(&store).unwrap()).unwrap(), want);
}

#[test]
fn decide_sees_entry_contents_and_picks_fields() {
    let before = fixture("schema-v2.json");
    let (_tmp, store) = store_with(&before);
    let seen = RefCell::new(Vec::new());
    // A policy shaped like the daemon's: idle field for cron sessions, daily for the rest.
    let decide = |e: &EntryInfo| {
        seen.borrow_mut()
            .push((e.chat_type.clone(), e.last_channel.clone()));
        assert!(
            e.session_file
                .as_deref()
                .is_some_and(|f| f.ends_with(".jsonl"))
        );
        if e.key.starts_with("cron:") {
            Fields {
                last_interaction_at: true,
                ..Fields::NONE
            }
        } else {
            Fields {
                session_started_at: true,
                ..Fields::NONE
            }
        }
    };
    let out = run(&store, NOW, &decide).unwrap();
    assert_eq!(out.bumped_fields, 4);
    let seen = seen.into_inner();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|(t, _)| t.as_deref() == Some("direct")));
    assert_eq!(seen[0].1.as_deref(), Some("telegram"));
    let after = parseable(&fs::read(&store).unwrap());
    let parsed = parseable(&before);
    for (k, e) in &after {
        let field = if k.starts_with("cron:") {
            "lastInteractionAt"
        } else {
            "sessionStartedAt"
        };
        for name in TIMESTAMP_NAMES {
            let want = if *name == field {
                Value::from(NOW)
            } else {
                parsed[k][*name].clone()
            };
            assert_eq!(e[*name], want, "{k} {name}");
        }
    }
}

#[test]
fn decide_is_asked_even_when_nothing_is_behind_now() {
    // One entry per kind: integer timestamps in the future or at now, none at all,
    // unusable only, not an object.
    let before = format!(
        r#"{{"future":{{"updatedAt":{f}}},"equal":{{"lastInteractionAt":{NOW}}},"none":{{"sessionId":"s"}},"bad":{{"updatedAt":"1"}},"null":null,"idle":{{"updatedAt":"x","sessionStartedAt":{f}}}}}"#,
        f = NOW + 5
    );
    let (_tmp, store) = store_with(before.as_bytes());
    let asked = RefCell::new(Vec::new());
    let decide = |e: &EntryInfo| {
        asked.borrow_mut().push(e.key.clone());
        Fields::ALL
    };
    let out = run(&store, NOW, &decide).unwrap();
    assert!(!out.written && out.bumped.is_empty());
    assert_eq!(out.sessions, 6);
    assert_eq!(asked.into_inner(), ["future", "equal", "idle"]);
    assert_eq!(fs::read(&store).unwrap(), before.as_bytes());
}

#[test]
fn dry_run_counts_fields_and_plan_reports_them() {
    let before = fixture("schema-v2.json");
    let (_tmp, store) = store_with(&before);
    let o = RoundOptions {
        dry_run: true,
        ..opts(NOW, &all_fields)
    };
    let out = bump_store(&store, &o).unwrap();
    assert_eq!((out.bumped.len(), out.bumped_fields), (4, 12));
    assert!(!out.written);
    assert_eq!(fs::read(&store).unwrap(), before);

    let s = scan(&before).unwrap();
    let bumps = plan_bumps(&s, NOW, &all_fields);
    let first: Vec<Field> = bumps.iter().take(3).map(|b| b.field).collect();
    assert_eq!(
        first,
        [
            Field::UpdatedAt,
            Field::LastInteractionAt,
            Field::SessionStartedAt
        ]
    );
    for b in &bumps {
        let name = b.field.name();
        let text = std::str::from_utf8(&before[..b.span.start]).unwrap();
        assert!(text.trim_end().ends_with(&format!("\"{name}\":")), "{b:?}");
        assert_eq!(before[b.span.clone()], *b.old.to_string().as_bytes());
    }
}

#[test]
fn decide_runs_again_on_a_redo() {
    let (_tmp, store) = store_with(&fixture("schema-v2.json"));
    let original = fixture("schema-v2.json");
    let calls = Cell::new(0u32);
    let decide = |_: &EntryInfo| {
        if calls.get() == 0 {
            let tmp = store.with_file_name("sessions.json.gateway.tmp");
            fs::write(&tmp, &original).unwrap();
            fs::rename(&tmp, &store).unwrap();
        }
        calls.set(calls.get() + 1);
        Fields::ALL
    };
    let out = run(&store, NOW, &decide).unwrap();
    assert_eq!(out.attempts, 2);
    assert_eq!(calls.get(), 8);
    assert_eq!((out.bumped.len(), out.bumped_fields), (4, 12));
}

/// The SQLite releases read `updatedAt` 0 as "a reset is owed" (docs/GATEWAY.md): a 0 is
/// never turned into a real time, in any field, even when asked; its neighbours still move.
#[test]
fn a_zero_timestamp_is_never_written() {
    let before = r#"{"a": {"updatedAt": 0, "lastInteractionAt": 5, "sessionStartedAt": 0}, "b": {"updatedAt": 0}}"#;
    let (_tmp, store) = store_with(before.as_bytes());
    let out = run(&store, NOW, &all_fields).unwrap();
    assert_eq!(out.bumped, ["a"]);
    assert_eq!(out.bumped_fields, 1);
    let want = before.replacen(
        "\"lastInteractionAt\": 5",
        &format!("\"lastInteractionAt\": {NOW}"),
        1,
    );
    assert_eq!(String::from_utf8(fs::read(&store).unwrap()).unwrap(), want);
}
