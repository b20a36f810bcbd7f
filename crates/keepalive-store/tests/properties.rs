//! Property tests: on random stores serialised like `JSON.stringify(x, null, 2)`, the scanner
//! agrees with serde_json (timestamps and string fields), the patch changes only the
//! requested timestamp digits, and on random byte mutations the scanner accepts exactly what
//! serde_json accepts.

mod common;

use std::cell::Cell;

use common::{TIMESTAMP_NAMES, replaced_fields};
use keepalive_store::{EntryInfo, Fields, MAX_SAFE_INTEGER, apply_bumps, plan_bumps, scan};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n) / 100.0)),
        "[a-zA-Z0-9 \"\\\\/\u{1}\u{1f}é😀\u{2028}]{0,12}".prop_map(Value::from),
        Just(Value::from("updatedAt")),
        Just(Value::from("lastInteractionAt")),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("updatedAt".to_owned()),
        Just("updatedAtHistory".to_owned()),
        Just("lastInteractionAt".to_owned()),
        Just("sessionStartedAt".to_owned()),
        Just("sessionId".to_owned()),
        Just("chatType".to_owned()),
        Just("channel".to_owned()),
        "[a-z:\"\\\\é😀\u{7}]{0,10}",
    ]
}

fn timestamp() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0u64..2_000_000_000_000).prop_map(Value::from),
        1 => Just(Value::from(MAX_SAFE_INTEGER)),
        1 => Just(Value::from(MAX_SAFE_INTEGER + 1)),
        1 => Just(Value::from(u64::MAX)),
        1 => any::<i64>().prop_map(Value::from),
        1 => leaf(),
    ]
}

fn entry() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (
            prop::collection::vec((key(), value()), 0..4),
            prop::collection::vec(prop::option::of(timestamp()), 3),
            prop::collection::vec(prop::option::of(leaf()), 4),
            prop::collection::vec((key(), value()), 0..4),
        )
            .prop_map(|(a, ts, strings, b)| {
                let mut m = Map::new();
                m.extend(a);
                for (name, t) in TIMESTAMP_NAMES.iter().zip(ts) {
                    if let Some(t) = t {
                        m.insert((*name).into(), t);
                    }
                }
                for (name, v) in STRING_NAMES.iter().zip(strings) {
                    if let Some(v) = v {
                        m.insert((*name).into(), v);
                    }
                }
                m.extend(b);
                Value::Object(m)
            }),
        1 => value(),
    ]
}

fn store() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec(("[a-z:0-9\"é]{0,16}", entry()), 0..8)
        .prop_map(|kv| kv.into_iter().collect())
}

const STRING_NAMES: [&str; 4] = ["sessionFile", "chatType", "channel", "lastChannel"];

/// What serde_json says an entry's timestamp member is, when usable.
fn expected_timestamp(v: &Value, name: &str) -> Option<u64> {
    let u = v.get(name)?;
    u.as_u64().filter(|n| u.is_u64() && *n <= MAX_SAFE_INTEGER)
}

fn timestamps(e: &EntryInfo) -> [Option<u64>; 3] {
    [
        e.updated_at.value(),
        e.last_interaction_at.value(),
        e.session_started_at.value(),
    ]
}

fn strings(e: &EntryInfo) -> [Option<&str>; 4] {
    [
        e.session_file.as_deref(),
        e.chat_type.as_deref(),
        e.channel.as_deref(),
        e.last_channel.as_deref(),
    ]
}

/// A pseudo-random choice of fields for a key.
fn choose(key: &str, pick: u64) -> Fields {
    let bits = (key.len() as u64).wrapping_mul(0x9E37_79B9) ^ pick;
    Fields {
        updated_at: bits & 1 != 0,
        last_interaction_at: bits & 2 != 0,
        session_started_at: bits & 4 != 0,
    }
}

fn chosen(f: Fields) -> [bool; 3] {
    [f.updated_at, f.last_interaction_at, f.session_started_at]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn scanner_matches_serde_and_patch_only_moves_digits(
        store in store(),
        now in 1_000_000_000_000u64..MAX_SAFE_INTEGER,
        pick in any::<u64>(),
    ) {
        let text = serde_json::to_string_pretty(&store).unwrap();
        let bytes = text.as_bytes();
        let scanned = scan(bytes).unwrap();
        prop_assert_eq!(scanned.entries.len(), store.len());
        for (e, (k, v)) in scanned.entries.iter().zip(&store) {
            prop_assert_eq!(&e.key, k);
            let want: Vec<_> = TIMESTAMP_NAMES.iter().map(|n| expected_timestamp(v, n)).collect();
            prop_assert_eq!(timestamps(e).to_vec(), want);
            let want: Vec<_> = STRING_NAMES.iter().map(|n| v.get(*n).and_then(Value::as_str)).collect();
            prop_assert_eq!(strings(e).to_vec(), want);
            prop_assert_eq!(
                matches!(e.updated_at, keepalive_store::Timestamp::NotAnObject),
                !v.is_object()
            );
        }

        // A pseudo-random subset of fields per entry; count the calls.
        let calls = Cell::new(0usize);
        let decide = |e: &EntryInfo| {
            calls.set(calls.get() + 1);
            choose(&e.key, pick)
        };
        let bumps = plan_bumps(&scanned, now, &decide);
        let bumpable = scanned
            .entries
            .iter()
            .filter(|e| timestamps(e).iter().any(Option::is_some))
            .count();
        prop_assert_eq!(calls.get(), bumpable);
        let after = apply_bumps(bytes, &bumps, now);
        prop_assert_eq!(replaced_fields(bytes, &after, now, TIMESTAMP_NAMES), bumps.len());
        let mut want = store.clone();
        for (k, v) in want.iter_mut() {
            for (name, asked) in TIMESTAMP_NAMES.iter().zip(chosen(choose(k, pick))) {
                if asked && expected_timestamp(v, name).is_some_and(|u| u < now) {
                    v[*name] = Value::from(now);
                }
            }
        }
        let reparsed: Map<String, Value> = serde_json::from_slice(&after).unwrap();
        prop_assert_eq!(reparsed, want);
    }

    #[test]
    fn validity_agrees_with_serde_on_mutations(
        store in store(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(
            b"{}[],:\"\\ \t\n0123456789-+.eEtrufalsn\x00\x1f\x7f\xc3\xa9\xff\xef\xbb\xbf".to_vec())), 1..3),
    ) {
        let mut bytes = serde_json::to_string_pretty(&store).unwrap().into_bytes();
        for (at, op, b) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 if i < bytes.len() => { bytes.remove(i); }
                1 if i < bytes.len() => bytes[i] = b,
                _ => bytes.insert(i, b),
            }
        }
        // serde_json rejects lone surrogates that JSON.parse (and we) accept.
        let lower = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        prop_assume!(!["\\ud8", "\\ud9", "\\uda", "\\udb", "\\udc", "\\udd", "\\ude", "\\udf"]
            .iter()
            .any(|s| lower.contains(s)));
        let ours = scan(&bytes).is_ok();
        let theirs = serde_json::from_slice::<Map<String, Value>>(&bytes);
        // RFC 8259 allows any exponent (JSON.parse gives Infinity); serde_json does not.
        prop_assume!(!theirs.as_ref().is_err_and(|e| e.to_string().contains("number out of range")));
        let theirs = theirs.is_ok();
        prop_assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(&bytes));
    }
}
