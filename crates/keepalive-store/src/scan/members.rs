//! The per-entry half of the scanner: which member names are an entry's own fields of
//! interest, what a member's raw value was, and turning raw top-level members into
//! de-duplicated [`EntryInfo`]s the way JSON.parse would (last occurrence wins).

use std::collections::HashMap;
use std::ops::Range;

use super::{EntryInfo, StoreScan, Timestamp};

/// Timestamp members, in the order of [`OwnMembers::timestamps`].
const TIMESTAMP_NAMES: [&str; 3] = ["updatedAt", "lastInteractionAt", "sessionStartedAt"];
/// String members, in the order of [`OwnMembers::strings`].
const STRING_NAMES: [&str; 5] = [
    "sessionFile",
    "chatType",
    "channel",
    "lastChannel",
    "sessionId",
];

/// An entry's own member whose value the scanner records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Own {
    Timestamp(usize),
    String(usize),
}

/// Which own member a key at entry level names, if any. Escaped spellings count: JSON.parse
/// decodes the key before the gateway looks the field up.
pub(super) fn own_member(raw: &[u8], escaped: bool) -> Option<Own> {
    let decoded;
    let name: &[u8] = if escaped {
        // Only valid UTF-16 can equal one of our ASCII names.
        decoded = String::from_utf16(&decode_units(raw)?).ok()?;
        decoded.as_bytes()
    } else {
        raw
    };
    if let Some(i) = TIMESTAMP_NAMES.iter().position(|n| n.as_bytes() == name) {
        return Some(Own::Timestamp(i));
    }
    STRING_NAMES
        .iter()
        .position(|n| n.as_bytes() == name)
        .map(Own::String)
}

/// The raw content (between the quotes) of a string value, decoded only once the entry is
/// known to be the one JSON.parse keeps.
#[derive(Debug, Clone)]
pub(super) struct RawString {
    pub content: Range<usize>,
    pub escaped: bool,
}

/// What the scanner saw of one top-level member's own fields.
#[derive(Debug, Clone)]
pub(super) struct OwnMembers {
    pub timestamps: [Timestamp; 3],
    pub strings: [Option<RawString>; 5],
}

impl OwnMembers {
    /// A member whose value is not (yet) known to be an object.
    pub fn not_an_object() -> Self {
        OwnMembers {
            timestamps: [const { Timestamp::NotAnObject }; 3],
            strings: [const { None }; 5],
        }
    }

    /// The member's value is an object: its timestamps are missing until seen.
    pub fn object() -> Self {
        OwnMembers {
            timestamps: [const { Timestamp::Missing }; 3],
            strings: [const { None }; 5],
        }
    }
}

/// A top-level member before key decoding and de-duplication.
pub(super) struct RawMember {
    pub key: Range<usize>,
    pub key_escaped: bool,
    pub own: OwnMembers,
}

/// Decode the content of a validated JSON string into UTF-16 code units (the form JS keeps
/// strings in, so lone surrogates survive).
fn decode_units(raw: &[u8]) -> Option<Vec<u16>> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut units = Vec::with_capacity(raw.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let unit = match chars.next()? {
            '"' => 0x22,
            '\\' => 0x5C,
            '/' => 0x2F,
            'b' => 0x08,
            'f' => 0x0C,
            'n' => 0x0A,
            'r' => 0x0D,
            't' => 0x09,
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                u16::from_str_radix(&hex, 16).ok()?
            }
            _ => return None,
        };
        units.push(unit);
    }
    Some(units)
}

/// Decode a key token's content: the text (lossy if it holds lone surrogates), whether it was
/// lossy, and an identity that distinguishes every JS string.
fn decode_key(raw: &[u8], escaped: bool) -> (String, bool, KeyId) {
    if !escaped {
        let text = String::from_utf8_lossy(raw).into_owned();
        return (text.clone(), false, KeyId::Text(text));
    }
    let units = decode_units(raw).unwrap_or_default();
    match String::from_utf16(&units) {
        Ok(text) => (text.clone(), false, KeyId::Text(text)),
        Err(_) => (String::from_utf16_lossy(&units), true, KeyId::Units(units)),
    }
}

/// Decode a string value. Unlike keys, a value holding a lone surrogate is refused (None)
/// rather than made lossy: the daemon judges activity from these, and a mangled path or
/// channel name would be a wrong answer, not an approximate one.
fn decode_string(b: &[u8], raw: &RawString) -> Option<String> {
    let content = b.get(raw.content.clone())?;
    if !raw.escaped {
        return std::str::from_utf8(content).ok().map(str::to_owned);
    }
    // Strict UTF-16 decoding refuses lone surrogates, which is what we want.
    String::from_utf16(&decode_units(content)?).ok()
}

/// A key's identity as a JS string: two lossy keys that differ only in which lone surrogate
/// they hold are different keys to the gateway, so they must not be merged.
#[derive(PartialEq, Eq, Hash)]
enum KeyId {
    Text(String),
    Units(Vec<u16>),
}

pub(super) fn dedup(b: &[u8], members: Vec<RawMember>) -> StoreScan {
    let mut duplicate_keys = 0;
    let mut kept: Vec<(String, bool, OwnMembers)> = Vec::with_capacity(members.len());
    let mut seen: HashMap<KeyId, usize> = HashMap::with_capacity(members.len());
    for m in members {
        let (key, key_lossy, id) = decode_key(&b[m.key], m.key_escaped);
        if let Some(&i) = seen.get(&id) {
            // The entry keeps its first position but takes the last value, like JSON.parse.
            kept[i].2 = m.own;
            duplicate_keys += 1;
        } else {
            seen.insert(id, kept.len());
            kept.push((key, key_lossy, m.own));
        }
    }
    let entries = kept
        .into_iter()
        .map(|(key, key_lossy, own)| {
            let [updated_at, last_interaction_at, session_started_at] = own.timestamps;
            let [session_file, chat_type, channel, last_channel, session_id] =
                own.strings.map(|s| s.and_then(|s| decode_string(b, &s)));
            EntryInfo {
                key,
                key_lossy,
                updated_at,
                last_interaction_at,
                session_started_at,
                session_file,
                chat_type,
                channel,
                last_channel,
                session_id,
            }
        })
        .collect();
    StoreScan {
        entries,
        duplicate_keys,
    }
}
