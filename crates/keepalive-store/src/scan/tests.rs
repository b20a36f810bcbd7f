//! Unit tests of the scanner: grammar edge cases, location of each entry's own timestamps,
//! decoding of keys and of the entry's own string fields.

use super::*;

fn entry<'a>(s: &'a StoreScan, key: &str) -> &'a EntryInfo {
    s.entries
        .iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no entry {key}"))
}

fn value_at(input: &[u8], u: &Timestamp) -> String {
    match u {
        Timestamp::Integer { span, .. } => String::from_utf8(input[span.clone()].to_vec()).unwrap(),
        other => panic!("not an integer: {other:?}"),
    }
}

#[test]
fn locates_own_updated_at_only() {
    let input = br#"{
  "a": {"note": "\"updatedAt\": 1", "updatedAtHistory": [1], "skillsSnapshot": {"skills": [{"updatedAt": 2}]}, "updatedAt": 1700000000000},
  "b": {"skillsSnapshot": {"updatedAt": 3}},
  "c": [ {"updatedAt": 4} ],
  "d": "updatedAt",
  "e": {"updated\u0041t": 55},
  "f": {"updatedAt": "1700"},
  "g": {"updatedAt": 1.5},
  "h": {"updatedAt": -1},
  "i": {"updatedAt": 1e3},
  "j": {"updatedAt": 9007199254740992},
  "k": {"updatedAt": 99999999999999999999999},
  "l": {"updatedAt": {"x": 1}},
  "m": {"updatedAt": 0},
  "n": {"updatedAt": 9007199254740991},
  "o": {}
}"#;
    let s = scan(input).unwrap();
    assert_eq!(s.entries.len(), 15);
    assert_eq!(value_at(input, &entry(&s, "a").updated_at), "1700000000000");
    assert_eq!(entry(&s, "b").updated_at, Timestamp::Missing);
    assert_eq!(entry(&s, "c").updated_at, Timestamp::NotAnObject);
    assert_eq!(entry(&s, "d").updated_at, Timestamp::NotAnObject);
    assert_eq!(value_at(input, &entry(&s, "e").updated_at), "55");
    for k in ["f", "g", "h", "i", "j", "k", "l"] {
        assert_eq!(entry(&s, k).updated_at, Timestamp::Unusable, "{k}");
    }
    assert_eq!(value_at(input, &entry(&s, "m").updated_at), "0");
    assert_eq!(
        entry(&s, "n").updated_at,
        Timestamp::Integer {
            value: MAX_SAFE_INTEGER,
            span: match &entry(&s, "n").updated_at {
                Timestamp::Integer { span, .. } => span.clone(),
                _ => unreachable!(),
            }
        }
    );
    assert_eq!(entry(&s, "o").updated_at, Timestamp::Missing);
}

#[test]
fn duplicate_members_last_wins() {
    let input = br#"{"a":{"updatedAt":1,"updatedAt":"x"},"b":{"updatedAt":"x","updatedAt":2},"a\u0000":{},"a":{"updatedAt":3,"updatedAt":4}}"#;
    let s = scan(input).unwrap();
    assert_eq!(s.duplicate_keys, 1);
    let keys: Vec<_> = s.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "a\0"]);
    assert_eq!(value_at(input, &entry(&s, "a").updated_at), "4");
    assert_eq!(value_at(input, &entry(&s, "b").updated_at), "2");
    // Escaped and raw spellings of the same key are the same key to JSON.parse.
    let s = scan(br#"{"ab":{"updatedAt":1},"\u0061b":{"updatedAt":2}}"#).unwrap();
    assert_eq!(s.entries.len(), 1);
    assert_eq!(s.duplicate_keys, 1);
}

#[test]
fn lone_surrogates_are_accepted_and_kept_distinct() {
    let input = br#"{"k\ud83d":{"updatedAt":1},"k\ud83e":{"updatedAt":2},"ok\ud83d\ude00":{"s":"\udc00 lone","updatedAt":3}}"#;
    let s = scan(input).unwrap();
    assert_eq!(s.entries.len(), 3);
    assert!(s.entries[0].key_lossy && s.entries[1].key_lossy);
    assert_eq!(s.entries[0].key, "k\u{FFFD}");
    assert_eq!(s.entries[2].key, "ok😀");
    assert!(!s.entries[2].key_lossy);
}

#[test]
fn deep_nesting_is_iterative() {
    let depth = 100_000;
    let mut deep = b"{\"a\":{\"x\":".to_vec();
    deep.extend(std::iter::repeat_n(b'[', depth));
    deep.extend(std::iter::repeat_n(b']', depth));
    deep.extend_from_slice(b",\"updatedAt\":7}}");
    let s = scan(&deep).unwrap();
    assert_eq!(value_at(&deep, &s.entries[0].updated_at), "7");

    // Unbalanced: rejected cleanly with the end offset.
    let mut open = b"{\"a\":".to_vec();
    open.extend(std::iter::repeat_n(b'[', depth));
    let e = scan(&open).unwrap_err();
    assert_eq!(e.offset, open.len());
}

#[test]
fn rejects_what_json_parse_rejects() {
    let cases: &[(&[u8], usize)] = &[
        (b"", 0),
        (b"  \n", 3),
        (b"\xEF\xBB\xBF{}", 0),
        (b"[]", 0),
        (b"\"x\"", 0),
        (b"1", 0),
        (b"{", 1),
        (b"{\"a\":{\"updatedAt\":1", 19),
        (b"{\"a\":1}x", 7),
        (b"{\"a\":1}\0", 7),
        (b"{\"a\":1,}", 7),
        (b"{\"a\" 1}", 5),
        (b"{a:1}", 1),
        (b"{\"a\":01}", 6),
        (b"{\"a\":1.}", 7),
        (b"{\"a\":1e}", 7),
        (b"{\"a\":-}", 6),
        (b"{\"a\":+1}", 5),
        (b"{\"a\":tru}", 5),
        (b"{\"a\":\"\x01\"}", 6),
        (b"{\"a\":\"\\x\"}", 6),
        (b"{\"a\":\"\\u12g4\"}", 6),
        (b"{\"a\":\"\xff\"}", 6),
        (b"{\"a\":\"\xc3\"}", 6),
        (b"{\"a\":[1,]}", 8),
        (b"{\"a\":[1}", 7),
        (b"{\"a\":\"x}", 8),
        (b"{\"a\":NaN}", 5),
        (b"{\"a\":1}{}", 7),
        (b"{\"a\":1}\x0c", 7),
    ];
    for (input, offset) in cases {
        let e = scan(input).expect_err(&String::from_utf8_lossy(input));
        assert_eq!(
            e.offset,
            *offset,
            "{:?}: {e}",
            String::from_utf8_lossy(input)
        );
        // serde_json agrees that none of these is a JSON object.
        assert!(
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(input).is_err()
        );
    }
}

#[test]
fn accepts_surrounding_whitespace_and_all_value_kinds() {
    let input = b" \r\n\t{\"a\":{\"v\":[true,false,null,-0.5e-3,0,\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"],\"updatedAt\":12},\"b\":null} \n";
    let s = scan(input).unwrap();
    assert_eq!(value_at(input, &s.entries[0].updated_at), "12");
    assert_eq!(s.entries[1].updated_at, Timestamp::NotAnObject);
    assert!(scan(b"{}").unwrap().entries.is_empty());
}

#[test]
fn fixtures_scan_like_serde_json() {
    for (name, bytes) in [
        (
            "basic-6",
            &include_bytes!("../../tests/fixtures/basic-6.json")[..],
        ),
        (
            "schema-v2",
            include_bytes!("../../tests/fixtures/schema-v2.json"),
        ),
        ("padded", include_bytes!("../../tests/fixtures/padded.json")),
        (
            "typical",
            include_bytes!("../../tests/fixtures/typical-3-entries.json"),
        ),
    ] {
        let s = scan(bytes).unwrap();
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes).unwrap();
        assert_eq!(s.entries.len(), v.len(), "{name}");
        for e in &s.entries {
            let json = &v[&e.key];
            let int = |f: &str| json.get(f).and_then(|u| u.as_u64());
            assert_eq!(e.updated_at.value(), int("updatedAt"), "{name} {}", e.key);
            assert_eq!(e.last_interaction_at.value(), int("lastInteractionAt"));
            assert_eq!(e.session_started_at.value(), int("sessionStartedAt"));
            let text = |f: &str| json.get(f).and_then(|u| u.as_str());
            assert_eq!(e.session_file.as_deref(), text("sessionFile"));
            assert_eq!(e.chat_type.as_deref(), text("chatType"));
            assert_eq!(e.channel.as_deref(), text("channel"));
            assert_eq!(e.last_channel.as_deref(), text("lastChannel"));
            assert_eq!(e.session_id.as_deref(), text("sessionId"));
        }
    }
}

#[test]
fn locates_new_timestamps_like_updated_at() {
    let input = br#"{
  "a": {"updatedAt": 1, "lastInteractionAt": 2, "sessionStartedAt": 3},
  "nested": {"deliveryContext": {"lastInteractionAt": 4, "sessionStartedAt": 5}, "x": [{"lastInteractionAt": 6}], "note": "\"lastInteractionAt\": 7"},
  "escaped": {"last\u0049nteractionAt": 8, "session\u0053tarted\u0041t": 9},
  "twice": {"lastInteractionAt": 10, "lastInteractionAt": 11, "sessionStartedAt": 12, "sessionStartedAt": "12"},
  "kinds": {"lastInteractionAt": "13", "sessionStartedAt": 1.5},
  "near": {"lastInteractionAtX": 14, "LastInteractionAt": 15, "sessionStarted": 16},
  "dup": {"lastInteractionAt": 17},
  "dup": {"sessionStartedAt": 18},
  "array": [1]
}"#;
    let s = scan(input).unwrap();
    assert_eq!(s.duplicate_keys, 1);
    let e = entry(&s, "a");
    assert_eq!(value_at(input, &e.updated_at), "1");
    assert_eq!(value_at(input, &e.last_interaction_at), "2");
    assert_eq!(value_at(input, &e.session_started_at), "3");
    let e = entry(&s, "nested");
    assert_eq!(e.last_interaction_at, Timestamp::Missing);
    assert_eq!(e.session_started_at, Timestamp::Missing);
    let e = entry(&s, "escaped");
    assert_eq!(value_at(input, &e.last_interaction_at), "8");
    assert_eq!(value_at(input, &e.session_started_at), "9");
    let e = entry(&s, "twice");
    assert_eq!(value_at(input, &e.last_interaction_at), "11");
    assert_eq!(e.session_started_at, Timestamp::Unusable);
    let e = entry(&s, "kinds");
    assert_eq!(e.last_interaction_at, Timestamp::Unusable);
    assert_eq!(e.session_started_at, Timestamp::Unusable);
    let e = entry(&s, "near");
    assert_eq!(e.updated_at, Timestamp::Missing);
    assert_eq!(e.last_interaction_at, Timestamp::Missing);
    assert_eq!(e.session_started_at, Timestamp::Missing);
    // A repeated key keeps only its last value, so the first one's field is gone.
    let e = entry(&s, "dup");
    assert_eq!(e.last_interaction_at, Timestamp::Missing);
    assert_eq!(value_at(input, &e.session_started_at), "18");
    assert_eq!(e.session_started_at.value(), Some(18));
    let e = entry(&s, "array");
    assert_eq!(e.last_interaction_at, Timestamp::NotAnObject);
    assert_eq!(e.session_started_at.value(), None);
}

#[test]
fn decodes_own_string_fields() {
    let input = r#"{
  "a": {"sessionFile": "/home/al\u00efce/x \"q\" \\ \/ \n.jsonl", "chatType": "gr\u006fup", "channel": "télégram 😀", "lastChannel": "\ud83d\ude00"},
  "b": {"sessionFile": 1, "chatType": null, "channel": {"x": "y"}, "lastChannel": ["z"]},
  "c": {"sessionFile": "\ud83d lone", "chatType": "\udc00", "channel": "ok"},
  "d": {"deliveryContext": {"channel": "nested"}, "note": "\"channel\": \"quoted\""},
  "e": {"chann\u0065l": "escaped name", "chatType": "first", "chatType": "last", "lastChannel": "x", "lastChannel": 5},
  "f": "channel",
  "g": {"channel": "old"},
  "g": {"chatType": "new"}
}"#;
    let s = scan(input.as_bytes()).unwrap();
    let e = entry(&s, "a");
    assert_eq!(
        e.session_file.as_deref(),
        Some("/home/alïce/x \"q\" \\ / \n.jsonl")
    );
    assert_eq!(e.chat_type.as_deref(), Some("group"));
    assert_eq!(e.channel.as_deref(), Some("télégram 😀"));
    assert_eq!(e.last_channel.as_deref(), Some("😀"));
    let e = entry(&s, "b");
    assert_eq!(
        (&e.session_file, &e.chat_type, &e.channel, &e.last_channel),
        (&None, &None, &None, &None)
    );
    let e = entry(&s, "c");
    assert_eq!((&e.session_file, &e.chat_type), (&None, &None));
    assert_eq!(e.channel.as_deref(), Some("ok"));
    assert_eq!(e.last_channel, None);
    let e = entry(&s, "d");
    assert_eq!(e.channel, None);
    let e = entry(&s, "e");
    assert_eq!(e.channel.as_deref(), Some("escaped name"));
    assert_eq!(e.chat_type.as_deref(), Some("last"));
    assert_eq!(e.last_channel, None);
    assert_eq!(entry(&s, "f").channel, None);
    let e = entry(&s, "g");
    assert_eq!(e.channel, None);
    assert_eq!(e.chat_type.as_deref(), Some("new"));
}

/// The word-at-a-time skip finds exactly what the byte loop finds, wherever the special byte
/// sits in a word, next to UTF-8 bytes, control characters and 0x7f/0xff edge values.
#[test]
fn skip_plain_agrees_with_the_byte_loop() {
    let naive = |b: &[u8], mut i: usize| {
        while i < b.len() && !STRING_SPECIAL[usize::from(b[i])] {
            i += 1;
        }
        i
    };
    let alphabet: &[u8] = &[
        b'a', b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xc3, 0xa9, 0xff, b'"', b'\\', 0x00, 0x1f,
        0x0a, 0x21, 0x5b, 0x5d, 0x1c,
    ];
    // A small linear congruential generator: deterministic, no dependency.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for _ in 0..20_000 {
        let len = next() % 40;
        let plain_run = next() % 3 == 0;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let pick = next() % alphabet.len();
                if plain_run && pick >= 11 {
                    b'x'
                } else {
                    alphabet[pick]
                }
            })
            .collect();
        for start in 0..=len {
            assert_eq!(
                skip_plain(&bytes, start),
                naive(&bytes, start),
                "{bytes:?} from {start}"
            );
        }
    }
}
