//! Unit tests of the lock payload and the staleness verdicts.

use super::*;

const FRESH: Option<Duration> = Some(Duration::from_secs(1));
const OLD: Option<Duration> = Some(Duration::from_secs(60));

fn json(v: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(&v).unwrap()
}

#[test]
fn payload_matches_json_stringify() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_940_861_123);
    let p = payload(1234, t, Some(987654));
    assert_eq!(
        String::from_utf8(p).unwrap(),
        "{\n  \"pid\": 1234,\n  \"createdAt\": \"2026-11-29T08:27:41.123Z\",\n  \"starttime\": 987654\n}"
    );
    let p = payload(1, SystemTime::UNIX_EPOCH, None);
    assert_eq!(
        String::from_utf8(p).unwrap(),
        "{\n  \"pid\": 1,\n  \"createdAt\": \"1970-01-01T00:00:00.000Z\"\n}"
    );
}

#[test]
fn own_fresh_payload_is_live_and_old_one_is_stale() {
    let now = SystemTime::now();
    let me = std::process::id();
    let ours = payload(me, now, own_starttime());
    assert_eq!(assess(&ours, FRESH, now), Verdict::Live(Some(me)));
    // Trailing ownership-token line and extra fields are tolerated.
    let mut with_token = ours.clone();
    with_token.extend_from_slice(b"\ntoken:abc\n");
    assert_eq!(assess(&with_token, FRESH, now), Verdict::Live(Some(me)));
    let old = payload(me, now - Duration::from_secs(31), own_starttime());
    assert!(matches!(assess(&old, FRESH, now), Verdict::Stale(_)));
    let extra = json(
        serde_json::json!({"pid": me, "createdAt": humantime::format_rfc3339_millis(now).to_string(), "maxHoldMs": 1000}),
    );
    assert_eq!(assess(&extra, FRESH, now), Verdict::Live(Some(me)));
}

#[test]
fn legacy_started_at_form() {
    let now = SystemTime::now();
    let me = std::process::id();
    let ms = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    let fresh = json(serde_json::json!({"pid": me, "startedAt": ms(now)}));
    assert_eq!(assess(&fresh, OLD, now), Verdict::Live(Some(me)));
    let old = json(serde_json::json!({"pid": me, "startedAt": ms(now) - 31_000}));
    assert!(matches!(assess(&old, FRESH, now), Verdict::Stale(_)));
}

#[test]
fn unreadable_payload_goes_by_mtime() {
    let now = SystemTime::now();
    for junk in [&b""[..], b"{\"pid\": 12", b"not json", b"[1]", b"{\"x\":1}"] {
        assert_eq!(assess(junk, FRESH, now), Verdict::Live(None));
        assert!(matches!(assess(junk, OLD, now), Verdict::Stale(_)));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn recycled_pid_is_stale() {
    let now = SystemTime::now();
    let me = std::process::id();
    let wrong = own_starttime().unwrap() + 1;
    assert!(matches!(
        assess(&payload(me, now, Some(wrong)), FRESH, now),
        Verdict::Stale("holder pid was recycled")
    ));
    // A string starttime is compared too.
    let s = json(
        serde_json::json!({"pid": me, "createdAt": humantime::format_rfc3339_millis(now).to_string(), "starttime": own_starttime().unwrap().to_string()}),
    );
    assert_eq!(assess(&s, FRESH, now), Verdict::Live(Some(me)));
}

#[test]
fn acquire_and_release_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.json.lock");
    let a = acquire(&path, Duration::from_millis(100), None, &|| false).unwrap();
    assert!(!a.reclaimed_stale);
    assert!(a.guard.as_ref().unwrap().still_ours().unwrap());
    // A second acquire in the same (live) process waits and gives up.
    let e = acquire(&path, Duration::from_millis(120), None, &|| false).unwrap_err();
    match e {
        StoreError::Busy {
            holder_pid, waited, ..
        } => {
            assert_eq!(holder_pid, Some(std::process::id()));
            assert!(waited >= Duration::from_millis(120));
        }
        other => panic!("{other}"),
    }
    // Asked to give up, it stops at its first pause, without the lock.
    let asked = std::cell::Cell::new(0);
    let gave_up = acquire(&path, Duration::from_secs(10), None, &|| {
        asked.set(asked.get() + 1);
        true
    })
    .unwrap();
    assert!(gave_up.guard.is_none() && asked.get() == 1);
    assert!(gave_up.waited < Duration::from_secs(1));
    drop(a);
    assert!(!path.exists());
}
