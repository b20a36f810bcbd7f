//! Helpers shared by the integration tests: stores in temp dirs laid out like the gateway's,
//! decisions, and an independent check that a rewrite changed nothing but timestamp digits.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keepalive_store::{EntryInfo, Fields, RoundOptions, RoundOutcome, StoreError, bump_store};

pub const FIXTURE_NOW: u64 = 1_776_081_742_311;
/// An hour after the fixtures were generated: every fixture timestamp is older.
pub const NOW: u64 = FIXTURE_NOW + 3_600_000;

pub fn fixture(name: &str) -> Vec<u8> {
    fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

pub const FIXTURES: &[&str] = &[
    "basic-6.json",
    "tricky.json",
    "schema-v2.json",
    "padded.json",
    "typical-3-entries.json",
];

/// `<tmp>/agents/main/sessions/sessions.json` holding `bytes`, mode 0600.
pub fn store_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("agents/main/sessions");
    fs::create_dir_all(&dir).unwrap();
    let store = dir.join("sessions.json");
    fs::write(&store, bytes).unwrap();
    fs::set_permissions(&store, fs::Permissions::from_mode(0o600)).unwrap();
    (tmp, store)
}

/// The old behaviour: bump every entry's `updatedAt`.
pub fn updated(_: &EntryInfo) -> Fields {
    Fields::UPDATED_AT
}

/// Bump every timestamp field an entry has.
pub fn all_fields(_: &EntryInfo) -> Fields {
    Fields::ALL
}

/// `updatedAt` of the entries whose key passes `pred`.
pub fn updated_if(pred: impl Fn(&str) -> bool) -> impl Fn(&EntryInfo) -> Fields {
    move |e| {
        if pred(&e.key) {
            Fields::UPDATED_AT
        } else {
            Fields::NONE
        }
    }
}

pub fn run(
    store: &Path,
    now_ms: u64,
    decide: &dyn Fn(&EntryInfo) -> Fields,
) -> Result<RoundOutcome, StoreError> {
    bump_store(store, &opts(now_ms, decide))
}

pub fn opts(now_ms: u64, decide: &dyn Fn(&EntryInfo) -> Fields) -> RoundOptions<'_> {
    RoundOptions {
        now_ms,
        decide,
        dry_run: false,
        lock_timeout: Duration::from_millis(300),
        max_attempts: 3,
        cancel: None,
        at_step: None,
    }
}

/// Names in the store's directory, sorted.
pub fn listing(store: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(store.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

pub fn lock_path(store: &Path) -> PathBuf {
    fs::canonicalize(store.parent().unwrap())
        .unwrap()
        .join("sessions.json.lock")
}

/// The three timestamp member names, as the gateway writes them.
pub const TIMESTAMP_NAMES: &[&str] = &["updatedAt", "lastInteractionAt", "sessionStartedAt"];

/// [`replaced_fields`] allowing `updatedAt` only.
pub fn replaced_timestamps(before: &[u8], after: &[u8], now: u64) -> usize {
    replaced_fields(before, after, now, &["updatedAt"])
}

/// Check that `after` equals `before` except for digit runs that were integers below `now`
/// in `before`, each preceded by a `"<name>":` key with a name from `names`, and are exactly
/// `now` in `after`. Returns how many such replacements there were. Written without the
/// crate's scanner so that a bug there cannot hide here.
pub fn replaced_fields(before: &[u8], after: &[u8], now: u64, names: &[&str]) -> usize {
    let now_digits = now.to_string();
    let (mut i, mut j, mut count) = (0, 0, 0);
    loop {
        // Advance over identical bytes.
        while i < before.len() && j < after.len() && before[i] == after[j] {
            i += 1;
            j += 1;
        }
        if i == before.len() && j == after.len() {
            return count;
        }
        // Back up to the start of the digit run holding the difference (both sides agree up
        // to here, so they back up together).
        while i > 0 && before[i - 1].is_ascii_digit() {
            i -= 1;
            j -= 1;
        }
        let old_end = i + before[i..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let new_end = j + after[j..].iter().take_while(|b| b.is_ascii_digit()).count();
        let old = std::str::from_utf8(&before[i..old_end]).unwrap();
        let new = std::str::from_utf8(&after[j..new_end]).unwrap();
        assert!(!old.is_empty(), "non-digit difference at byte {i}");
        assert_eq!(new, now_digits, "replacement at byte {i} is not now");
        assert!(
            old.parse::<u64>().unwrap() < now,
            "raised {old} which was not older than now"
        );
        assert!(
            i == 0 || before[i - 1] != b'-',
            "touched a negative number at {i}"
        );
        let prefix = String::from_utf8_lossy(&before[..i]);
        let prefix = prefix.trim_end();
        assert!(
            names.iter().any(|n| prefix.ends_with(&format!("\"{n}\":"))),
            "replaced digits at {i} do not follow a key in {names:?}"
        );
        let next = before.get(old_end).copied();
        assert!(
            !matches!(next, Some(b'.' | b'e' | b'E')),
            "touched a non-integer at {i}"
        );
        count += 1;
        i = old_end;
        j = new_end;
    }
}

/// serde_json cannot hold lone surrogates; swap the one in the tricky fixture for U+FFFD
/// (same byte length, so spans are unaffected) before comparing semantically.
pub fn parseable(bytes: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let text = text.replace("\\ud83d and", "\\ufffd and");
    serde_json::from_str(&text).unwrap()
}
