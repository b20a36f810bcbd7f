//! Property tests: on random stores serialised like `JSON.stringify(x, null, 2)`, the scanner
//! agrees with serde_json, the patch changes only timestamp digits, and on random byte
//! mutations the scanner accepts exactly what serde_json accepts.

mod common;

use common::replaced_timestamps;
use keepalive_store::{MAX_SAFE_INTEGER, UpdatedAt, apply_bumps, plan_bumps, scan};
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
        Just("sessionId".to_owned()),
        "[a-z:\"\\\\é😀\u{7}]{0,10}",
    ]
}

fn updated_at() -> impl Strategy<Value = Value> {
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
            prop::option::of(updated_at()),
            prop::collection::vec((key(), value()), 0..4),
        )
            .prop_map(|(a, u, b)| {
                let mut m = Map::new();
                m.extend(a);
                if let Some(u) = u {
                    m.insert("updatedAt".into(), u);
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

fn expected_updated_at(v: &Value) -> Option<u64> {
    let u = v.get("updatedAt")?;
    u.as_u64().filter(|n| u.is_u64() && *n <= MAX_SAFE_INTEGER)
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
            let got = match e.updated_at {
                UpdatedAt::Integer { value, .. } => Some(value),
                _ => None,
            };
            prop_assert_eq!(got, expected_updated_at(v));
            prop_assert_eq!(matches!(e.updated_at, UpdatedAt::NotAnObject), !v.is_object());
        }

        // Select a pseudo-random subset of keys.
        let select = |k: &str| !(k.len() as u64 ^ pick).is_multiple_of(3);
        let bumps = plan_bumps(&scanned, now, &select);
        let after = apply_bumps(bytes, &bumps, now);
        prop_assert_eq!(replaced_timestamps(bytes, &after, now), bumps.len());
        let mut want = store.clone();
        for (k, v) in want.iter_mut() {
            if select(k) && expected_updated_at(v).is_some_and(|u| u < now) {
                v["updatedAt"] = Value::from(now);
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
