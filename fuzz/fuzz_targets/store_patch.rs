//! Bytes of a would-be session store → `scan` → `plan_bumps` → `apply_bumps`.
//!
//! Input: one control byte, then the store. The control byte picks `now` (always large) and
//! seeds the per-entry choice of fields to bump. Must never panic, and the patch must
//! change nothing but the planned digit spans, which must hold `now`'s digits. When
//! serde_json accepts the input as an object, the scanner must accept it too, and the output
//! must parse to the input's value with exactly the requested timestamps below `now` (plain
//! integers within 2^53) set to `now`.

#![no_main]

use keepalive_store::{EntryInfo, Fields, MAX_SAFE_INTEGER, apply_bumps, plan_bumps, scan};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const FIELDS: [&str; 3] = ["updatedAt", "lastInteractionAt", "sessionStartedAt"];

/// The fields to bump for a key: a hash of the key mixed with the control byte, so the
/// choice differs between entries and between runs on the same store.
fn choose(control: u8, key: &str) -> Fields {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(control);
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let bits = (h >> 29) as u8;
    Fields {
        updated_at: bits & 1 != 0,
        last_interaction_at: bits & 2 != 0,
        session_started_at: bits & 4 != 0,
    }
}

fn asked(fields: Fields) -> [bool; 3] {
    [
        fields.updated_at,
        fields.last_interaction_at,
        fields.session_started_at,
    ]
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let now = match control >> 6 {
        0 => MAX_SAFE_INTEGER,
        1 => 9_999_999_999_999,
        2 => 1_776_085_342_311,
        _ => 4_000_000_000_000,
    };
    let serde: Option<serde_json::Map<String, Value>> = serde_json::from_slice(input).ok();

    let scanned = match scan(input) {
        Ok(s) => s,
        Err(e) => {
            assert!(
                serde.is_none(),
                "scan refused a store serde_json accepts: {e}"
            );
            assert!(
                e.offset <= input.len(),
                "error offset {} past the end",
                e.offset
            );
            return;
        }
    };

    let decide = |e: &EntryInfo| choose(control, &e.key);
    let bumps = plan_bumps(&scanned, now, &decide);
    let out = apply_bumps(input, &bumps, now);

    // Byte level: out = input with each planned span (sorted, disjoint, an integer below
    // now that is a member's value) replaced by now's digits, and nothing else changed.
    let digits = now.to_string();
    let mut spans: Vec<_> = bumps.iter().collect();
    spans.sort_by_key(|b| b.span.start);
    let mut expected = Vec::with_capacity(out.len());
    let mut copied = 0;
    for bump in &spans {
        let span = bump.span.clone();
        assert!(
            copied <= span.start && span.start < span.end && span.end <= input.len(),
            "bad span {span:?}"
        );
        let old = std::str::from_utf8(&input[span.clone()]).expect("span is digits");
        assert!(
            old.bytes().all(|b| b.is_ascii_digit()),
            "span {span:?} is {old:?}"
        );
        assert!(
            old == "0" || !old.starts_with('0'),
            "span {span:?} is {old:?}"
        );
        assert_eq!(old.parse::<u64>().ok(), Some(bump.old), "span {span:?}");
        assert!(bump.old < now, "planned to lower {} to {now}", bump.old);
        let before = input[..span.start].trim_ascii_end();
        assert!(
            before.ends_with(b":"),
            "span {span:?} is not a member's value"
        );
        let after = input[span.end..].trim_ascii_start();
        assert!(
            matches!(after.first(), Some(b',' | b'}')),
            "span {span:?} is not a whole value"
        );
        expected.extend_from_slice(&input[copied..span.start]);
        expected.extend_from_slice(digits.as_bytes());
        copied = span.end;
    }
    expected.extend_from_slice(&input[copied..]);
    assert!(
        out == expected,
        "output differs from input outside the bumped spans"
    );

    // Value level, when serde_json reads the input (so it has no lone surrogates).
    let Some(before) = serde else {
        return;
    };
    let after: serde_json::Map<String, Value> =
        serde_json::from_slice(&out).expect("output of a valid store is not valid JSON");
    let mut want = before.clone();
    let mut planned = 0;
    for (key, entry) in want.iter_mut() {
        for (name, asked) in FIELDS.iter().zip(asked(choose(control, key))) {
            let Some(v) = entry.as_object_mut().and_then(|o| o.get_mut(*name)) else {
                continue;
            };
            let usable = v.is_u64() && v.as_u64().is_some_and(|n| n <= MAX_SAFE_INTEGER);
            if asked && usable && v.as_u64().is_some_and(|n| n < now) {
                *v = Value::from(now);
                planned += 1;
            }
        }
    }
    assert_eq!(
        after, want,
        "output value is not the input with the asked timestamps at now"
    );
    assert_eq!(
        planned,
        bumps.len(),
        "serde_json and the plan disagree on what to bump"
    );
});
