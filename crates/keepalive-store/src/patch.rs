//! Decide which `updatedAt` values to move forward and splice the new digits into the
//! original bytes, so everything else in the file stays byte-for-byte what the gateway wrote.

use std::ops::Range;

use crate::scan::{MAX_SAFE_INTEGER, StoreScan, UpdatedAt};

/// One planned replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bump {
    pub key: String,
    /// Byte range of the old digits in the scanned input.
    pub span: Range<usize>,
    pub old: u64,
}

/// The bumps for one round: selected entries whose own `updatedAt` is a plain safe integer
/// strictly below `now_ms`. Never lowers a value, never adds a field. A `now_ms` that JS
/// could not represent exactly plans nothing.
pub fn plan(scan: &StoreScan, now_ms: u64, select: &dyn Fn(&str) -> bool) -> Vec<Bump> {
    if now_ms > MAX_SAFE_INTEGER {
        tracing::warn!(
            now_ms,
            "clock value beyond 2^53: not writing it into the store"
        );
        return Vec::new();
    }
    scan.entries
        .iter()
        .filter_map(|e| match &e.updated_at {
            // `select` is asked about every bumpable entry, not only those behind the
            // clock, so callers can count what they keep alive.
            UpdatedAt::Integer { value, span } if select(&e.key) && *value < now_ms => Some(Bump {
                key: e.key.clone(),
                span: span.clone(),
                old: *value,
            }),
            _ => None,
        })
        .collect()
}

/// Replace each bump's span in `input` with the decimal digits of `now_ms`. Spans come from
/// distinct members, so they never overlap; an overlapping one would be skipped rather than
/// corrupt the output.
pub fn apply(input: &[u8], bumps: &[Bump], now_ms: u64) -> Vec<u8> {
    let digits = now_ms.to_string();
    let mut spans: Vec<&Range<usize>> = bumps.iter().map(|b| &b.span).collect();
    // Entries are listed by first appearance but a duplicate key's span is its last one.
    spans.sort_by_key(|s| s.start);
    let mut out = Vec::with_capacity(input.len() + bumps.len() * digits.len());
    let mut copied = 0;
    for span in spans {
        if span.start < copied || span.end > input.len() {
            debug_assert!(false, "overlapping or out-of-range span {span:?}");
            continue;
        }
        out.extend_from_slice(&input[copied..span.start]);
        out.extend_from_slice(digits.as_bytes());
        copied = span.end;
    }
    out.extend_from_slice(&input[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::scan;

    #[test]
    fn splices_only_digits() {
        let input = br#"{"a":{"updatedAt":5,"x":1},"b":{"x":{"updatedAt":1},"updatedAt":100}}"#;
        let s = scan(input).unwrap();
        let bumps = plan(&s, 1000, &|_| true);
        assert_eq!(bumps.len(), 2);
        let out = apply(input, &bumps, 1000);
        assert_eq!(
            out,
            br#"{"a":{"updatedAt":1000,"x":1},"b":{"x":{"updatedAt":1},"updatedAt":1000}}"#
        );
    }

    #[test]
    fn never_lowers_and_respects_selection_and_safe_range() {
        let input = br#"{"a":{"updatedAt":5},"b":{"updatedAt":2000},"c":{"updatedAt":7}}"#;
        let s = scan(input).unwrap();
        let keys: Vec<_> = plan(&s, 1000, &|k| k != "c")
            .into_iter()
            .map(|b| b.key)
            .collect();
        assert_eq!(keys, ["a"]);
        assert!(plan(&s, MAX_SAFE_INTEGER + 1, &|_| true).is_empty());
        assert_eq!(plan(&s, 1000, &|_| true).len(), 2);
    }

    #[test]
    fn duplicate_keys_bump_last_occurrence_only() {
        let input =
            br#"{"a":{"updatedAt":1,"updatedAt":2},"b":{"updatedAt":3},"a":{"updatedAt":4}}"#;
        let s = scan(input).unwrap();
        assert_eq!(s.duplicate_keys, 1);
        let bumps = plan(&s, 9, &|_| true);
        let out = apply(input, &bumps, 9);
        assert_eq!(
            out,
            br#"{"a":{"updatedAt":1,"updatedAt":2},"b":{"updatedAt":9},"a":{"updatedAt":9}}"#
        );
    }
}
