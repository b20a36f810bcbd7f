//! Decide which timestamps to move forward and splice the new digits into the original
//! bytes, so everything else in the file stays byte-for-byte what the gateway wrote.

use std::ops::Range;

use crate::scan::{EntryInfo, MAX_SAFE_INTEGER, StoreScan, Timestamp};

/// Which of an entry's timestamp fields to bump. The caller decides per entry: which fields
/// the gateway reads depends on its generation and on the entry's reset policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Fields {
    pub updated_at: bool,
    pub last_interaction_at: bool,
    pub session_started_at: bool,
}

impl Fields {
    pub const NONE: Fields = Fields {
        updated_at: false,
        last_interaction_at: false,
        session_started_at: false,
    };
    pub const UPDATED_AT: Fields = Fields {
        updated_at: true,
        ..Fields::NONE
    };
    pub const ALL: Fields = Fields {
        updated_at: true,
        last_interaction_at: true,
        session_started_at: true,
    };

    /// Whether any field is asked for.
    pub fn any(self) -> bool {
        self.updated_at || self.last_interaction_at || self.session_started_at
    }

    fn has(self, field: Field) -> bool {
        match field {
            Field::UpdatedAt => self.updated_at,
            Field::LastInteractionAt => self.last_interaction_at,
            Field::SessionStartedAt => self.session_started_at,
        }
    }
}

/// One timestamp field of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    UpdatedAt,
    LastInteractionAt,
    SessionStartedAt,
}

impl Field {
    /// Every field, in the order bumps of one entry are planned.
    const EVERY: [Field; 3] = [
        Field::UpdatedAt,
        Field::LastInteractionAt,
        Field::SessionStartedAt,
    ];

    /// The JSON member name, as the gateway spells it.
    pub fn name(self) -> &'static str {
        match self {
            Field::UpdatedAt => "updatedAt",
            Field::LastInteractionAt => "lastInteractionAt",
            Field::SessionStartedAt => "sessionStartedAt",
        }
    }

    fn of(self, entry: &EntryInfo) -> &Timestamp {
        match self {
            Field::UpdatedAt => &entry.updated_at,
            Field::LastInteractionAt => &entry.last_interaction_at,
            Field::SessionStartedAt => &entry.session_started_at,
        }
    }
}

/// One planned replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bump {
    pub key: String,
    pub field: Field,
    /// Byte range of the old digits in the scanned input.
    pub span: Range<usize>,
    pub old: u64,
}

/// The bumps for one round. Calls `decide` once per entry that has at least one bumpable
/// (plain safe integer) timestamp, whether or not it is behind the clock, so callers can
/// count what they keep alive; then plans a bump for each requested field the entry has as
/// an integer strictly below `now_ms` and above 0. Missing or unusable fields are never
/// written, so no field is ever added and no value lowered; a 0 is never written either (the
/// gateway reads `updatedAt` 0 as "a reset is owed", so moving it would be a revival). A `now_ms` that JS could not represent exactly
/// plans nothing (and asks nothing).
pub fn plan(scan: &StoreScan, now_ms: u64, decide: &dyn Fn(&EntryInfo) -> Fields) -> Vec<Bump> {
    plan_by_entry(scan, now_ms, decide)
        .into_iter()
        .flatten()
        .collect()
}

/// [`plan`], grouped: one non-empty list per entry with at least one bump, in store order.
/// Lets a round count entries without relying on keys being distinct (two keys holding
/// different lone surrogates decode to the same lossy text).
pub(crate) fn plan_by_entry(
    scan: &StoreScan,
    now_ms: u64,
    decide: &dyn Fn(&EntryInfo) -> Fields,
) -> Vec<Vec<Bump>> {
    if now_ms > MAX_SAFE_INTEGER {
        tracing::warn!(
            now_ms,
            "clock value beyond 2^53: not writing it into the store"
        );
        return Vec::new();
    }
    let mut planned = Vec::new();
    for entry in &scan.entries {
        let bumpable = Field::EVERY.iter().any(|f| f.of(entry).value().is_some());
        if !bumpable {
            continue;
        }
        let wanted = decide(entry);
        let bumps: Vec<Bump> = Field::EVERY
            .into_iter()
            .filter(|f| wanted.has(*f))
            .filter_map(|field| match field.of(entry) {
                Timestamp::Integer { value, span } if *value > 0 && *value < now_ms => Some(Bump {
                    key: entry.key.clone(),
                    field,
                    span: span.clone(),
                    old: *value,
                }),
                _ => None,
            })
            .collect();
        if !bumps.is_empty() {
            planned.push(bumps);
        }
    }
    planned
}

/// Replace each bump's span in `input` with the decimal digits of `now_ms`. Spans come from
/// distinct members (several per entry), so they never overlap; an overlapping one would be
/// skipped rather than corrupt the output.
pub fn apply(input: &[u8], bumps: &[Bump], now_ms: u64) -> Vec<u8> {
    let digits = now_ms.to_string();
    splice(input, bumps.iter().map(|b| &b.span), digits.as_bytes()).concat()
}

/// The patched file as a list of pieces: the unchanged stretches of `input` with `digits`
/// between them where the bumps' spans are. Their concatenation is [`apply`]'s result; a
/// round writes them out directly instead of copying the whole store once more.
pub(crate) fn splice<'a, 's>(
    input: &'a [u8],
    spans: impl IntoIterator<Item = &'s Range<usize>>,
    digits: &'a [u8],
) -> Vec<&'a [u8]> {
    let mut spans: Vec<&Range<usize>> = spans.into_iter().collect();
    // Entries are listed by first appearance but a duplicate key's span is its last one, and
    // an entry's fields are planned in a fixed order, not in file order.
    spans.sort_by_key(|s| s.start);
    let mut pieces = Vec::with_capacity(spans.len() * 2 + 1);
    let mut copied = 0;
    for span in spans {
        if span.start < copied || span.end > input.len() {
            debug_assert!(false, "overlapping or out-of-range span {span:?}");
            continue;
        }
        pieces.push(&input[copied..span.start]);
        pieces.push(digits);
        copied = span.end;
    }
    pieces.push(&input[copied..]);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::scan;

    fn updated(_: &EntryInfo) -> Fields {
        Fields::UPDATED_AT
    }

    #[test]
    fn splices_only_digits() {
        let input = br#"{"a":{"updatedAt":5,"x":1},"b":{"x":{"updatedAt":1},"updatedAt":100}}"#;
        let s = scan(input).unwrap();
        let bumps = plan(&s, 1000, &updated);
        assert_eq!(bumps.len(), 2);
        let out = apply(input, &bumps, 1000);
        assert_eq!(
            out,
            br#"{"a":{"updatedAt":1000,"x":1},"b":{"x":{"updatedAt":1},"updatedAt":1000}}"#
        );
    }

    #[test]
    fn never_lowers_and_respects_decision_and_safe_range() {
        let input = br#"{"a":{"updatedAt":5},"b":{"updatedAt":2000},"c":{"updatedAt":7}}"#;
        let s = scan(input).unwrap();
        let not_c = |e: &EntryInfo| {
            if e.key != "c" {
                Fields::UPDATED_AT
            } else {
                Fields::NONE
            }
        };
        let keys: Vec<_> = plan(&s, 1000, &not_c).into_iter().map(|b| b.key).collect();
        assert_eq!(keys, ["a"]);
        assert!(plan(&s, MAX_SAFE_INTEGER + 1, &updated).is_empty());
        assert_eq!(plan(&s, 1000, &updated).len(), 2);
    }

    #[test]
    fn duplicate_keys_bump_last_occurrence_only() {
        let input =
            br#"{"a":{"updatedAt":1,"updatedAt":2},"b":{"updatedAt":3},"a":{"updatedAt":4}}"#;
        let s = scan(input).unwrap();
        assert_eq!(s.duplicate_keys, 1);
        let bumps = plan(&s, 9, &updated);
        let out = apply(input, &bumps, 9);
        assert_eq!(
            out,
            br#"{"a":{"updatedAt":1,"updatedAt":2},"b":{"updatedAt":9},"a":{"updatedAt":9}}"#
        );
    }

    #[test]
    fn fields_are_chosen_per_entry_and_spliced_out_of_order() {
        // sessionStartedAt comes first in the file but is planned last: apply must sort.
        let input = br#"{"a":{"sessionStartedAt":1,"updatedAt":2,"lastInteractionAt":3},"b":{"updatedAt":4,"sessionStartedAt":5}}"#;
        let s = scan(input).unwrap();
        let decide = |e: &EntryInfo| match e.key.as_str() {
            "a" => Fields::ALL,
            _ => Fields {
                session_started_at: true,
                ..Fields::NONE
            },
        };
        let bumps = plan(&s, 9, &decide);
        let fields: Vec<_> = bumps.iter().map(|b| (b.key.as_str(), b.field)).collect();
        assert_eq!(
            fields,
            [
                ("a", Field::UpdatedAt),
                ("a", Field::LastInteractionAt),
                ("a", Field::SessionStartedAt),
                ("b", Field::SessionStartedAt),
            ]
        );
        assert_eq!(
            apply(input, &bumps, 9),
            br#"{"a":{"sessionStartedAt":9,"updatedAt":9,"lastInteractionAt":9},"b":{"updatedAt":4,"sessionStartedAt":9}}"#
        );
        assert_eq!(plan_by_entry(&s, 9, &decide).len(), 2);
    }

    #[test]
    fn fields_helpers() {
        assert!(!Fields::NONE.any() && Fields::UPDATED_AT.any() && Fields::ALL.any());
        assert_eq!(Fields::default(), Fields::NONE);
        let names: Vec<_> = Field::EVERY.iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            ["updatedAt", "lastInteractionAt", "sessionStartedAt"]
        );
    }
}
