//! The hidden `keepalive-bench gateway-sim` mode: a stand-in for the OpenClaw gateway's
//! store writer of the lock era, written from docs/GATEWAY.md: the O_EXCL lock file with the
//! gateway's payload, stale rules and backoff, a re-read under the lock, then a temp file,
//! fsync and rename. `race` runs it in its own process, so it really competes with the writer
//! under test; each update increments one entry's `benchCounter`, so a lost update shows.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use serde_json::{Map, Value, json};

use crate::client::KEY;
use crate::util;

/// The member of entry [`KEY`] that the simulator increments, once per update.
pub const FIELD: &str = "benchCounter";
/// The gateway's `staleMs` for the store lock.
const STALE: Duration = Duration::from_secs(30);
/// The gateway's `timeoutMs` for the store lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// `keepalive-bench gateway-sim`: a stand-in for the gateway's store writer (run by `race`).
#[derive(Parser)]
#[command(name = "keepalive-bench gateway-sim")]
struct SimArgs {
    /// The store, `<state>/agents/<id>/sessions/sessions.json`.
    #[arg(long)]
    store: PathBuf,
    /// The entry whose `benchCounter` each update increments.
    #[arg(long, default_value = KEY)]
    key: String,
    /// How many updates to make.
    #[arg(long)]
    updates: u64,
    /// Pause between updates, outside the lock.
    #[arg(long, default_value_t = 5)]
    interval_ms: u64,
}

/// What the simulator did.
#[derive(Default)]
struct SimReport {
    made: u64,
    /// Updates not made: the lock was still held after [`LOCK_TIMEOUT`].
    gave_up: u64,
    /// Updates not made: the store was not a JSON object. (The gateway would load `{}` and
    /// its write would erase every entry; the simulator skips and counts instead.)
    unreadable: u64,
    /// Updates not made: an I/O error or a missing entry.
    errors: u64,
    /// Increments found missing when re-reading the store for the next update.
    rolled_back: u64,
    /// Updates that found the lock held at least once.
    waited: u64,
    max_wait: Duration,
    stale_removed: u64,
}

/// The `gateway-sim ARGS...` mode (`args[0]` is the mode's name): make the updates, print
/// `made N` after each and `done {json}` at the end.
pub fn gateway_sim_main(args: &[OsString]) -> ! {
    let a = SimArgs::parse_from(args);
    let lock = match lock_path(&a.store) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("gateway-sim: {}: {e}", a.store.display());
            std::process::exit(1);
        }
    };
    let mut r = SimReport::default();
    let mut last_written = 0u64;
    let start = Instant::now();
    for i in 0..a.updates {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(a.interval_ms));
        }
        match update(&a.store, &a.key, &lock, &mut r, &mut last_written) {
            Ok(true) => println!("made {}", r.made),
            Ok(false) => {}
            Err(e) => {
                r.errors += 1;
                eprintln!("gateway-sim: update {}: {e}", i + 1);
            }
        }
    }
    let report = json!({
        "made": r.made,
        "gaveUp": r.gave_up,
        "unreadable": r.unreadable,
        "errors": r.errors,
        "rolledBack": r.rolled_back,
        "waited": r.waited,
        "maxWaitMs": r.max_wait.as_secs_f64() * 1e3,
        "staleRemoved": r.stale_removed,
        "wallMs": start.elapsed().as_secs_f64() * 1e3,
    });
    println!("done {report}");
    std::process::exit(0);
}

/// `<realpath(dir)>/sessions.json.lock`.
fn lock_path(store: &Path) -> std::io::Result<PathBuf> {
    let dir = store.parent().unwrap_or(Path::new("."));
    Ok(std::fs::canonicalize(dir)?.join("sessions.json.lock"))
}

/// One gateway update: lock, re-read, increment, atomic write, unlock. `Ok(false)` when no
/// update was made (counted in `r`).
fn update(
    store: &Path,
    key: &str,
    lock: &Path,
    r: &mut SimReport,
    last_written: &mut u64,
) -> Result<bool, String> {
    let Some(_held) = acquire(lock, r).map_err(|e| format!("lock {}: {e}", lock.display()))? else {
        r.gave_up += 1;
        return Ok(false);
    };
    let bytes = std::fs::read(store).map_err(|e| format!("read: {e}"))?;
    let mut parsed = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            r.unreadable += 1;
            return Ok(false);
        }
    };
    let entry = parsed
        .get_mut(key)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("no entry {key}"))?;
    let found = entry.get(FIELD).and_then(Value::as_u64).unwrap_or(0);
    r.rolled_back += last_written.saturating_sub(found);
    let next = found + 1;
    entry.insert(FIELD.into(), next.into());
    // JSON.stringify(store, null, 2): two-space indent, insertion order, no newline at the end.
    let text = serde_json::to_vec_pretty(&parsed).map_err(|e| e.to_string())?;
    let dir = store.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!("sessions.json.{}.tmp", uuid_v4()?));
    util::durable_replace(&tmp, store, &text).map_err(|e| format!("write: {e}"))?;
    std::fs::set_permissions(store, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("chmod: {e}"))?;
    *last_written = next;
    r.made += 1;
    Ok(true)
}

/// The gateway's lock, released (removed) when dropped.
struct Held(PathBuf);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Take the lock as the gateway does: O_CREAT|O_EXCL, the payload; on EEXIST remove a stale
/// lock, else retry after min(1000, 50 × attempt) ms until [`LOCK_TIMEOUT`] (`None`).
fn acquire(path: &Path, r: &mut SimReport) -> std::io::Result<Option<Held>> {
    let start = Instant::now();
    let mut attempt = 0u64;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(mut file) => {
                let held = Held(path.to_path_buf());
                file.write_all(lock_payload().as_bytes())?;
                if attempt > 0 {
                    r.waited += 1;
                    r.max_wait = r.max_wait.max(start.elapsed());
                }
                return Ok(Some(held));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if lock_is_stale(path) {
                    if std::fs::remove_file(path).is_ok() {
                        r.stale_removed += 1;
                    }
                    continue;
                }
                attempt += 1;
                let delay = Duration::from_millis((50 * attempt).min(1000));
                if start.elapsed() + delay > LOCK_TIMEOUT {
                    r.waited += 1;
                    r.max_wait = r.max_wait.max(start.elapsed());
                    return Ok(None);
                }
                std::thread::sleep(delay);
            }
            Err(e) => return Err(e),
        }
    }
}

/// `JSON.stringify({pid, createdAt, starttime}, null, 2)` for this process.
fn lock_payload() -> String {
    let pid = std::process::id();
    let mut p = Map::new();
    p.insert("pid".into(), pid.into());
    p.insert(
        "createdAt".into(),
        jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
            .into(),
    );
    if let Some(st) = starttime(pid) {
        p.insert("starttime".into(), st.into());
    }
    serde_json::to_string_pretty(&Value::Object(p)).unwrap_or_default()
}

/// Field 22 of /proc/<pid>/stat.
fn starttime(pid: u32) -> Option<u64> {
    util::proc_stat(pid)?.get(22 - 3)?.parse().ok()
}

/// The gateway's stale rules for a lock it found held.
fn lock_is_stale(path: &Path) -> bool {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        // Released meanwhile: "stale" makes the caller retry at once.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return true,
        Err(_) => return mtime_older_than_stale(path),
    };
    // The first JSON value: later releases may append an ownership-token line after it.
    let payload = serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok);
    let Some(Value::Object(p)) = payload else {
        return mtime_older_than_stale(path);
    };
    if let Some(pid) = p
        .get("pid")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n > 0)
    {
        if !pid_alive(pid) {
            return true;
        }
        let recorded = p
            .get("starttime")
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
        if let (Some(recorded), Some(now)) = (recorded, starttime(pid))
            && recorded != now
        {
            return true;
        }
    }
    let created_ms = p
        .get("createdAt")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_millisecond())
        .or_else(|| p.get("startedAt").and_then(Value::as_i64));
    match created_ms {
        Some(ms) => jiff::Timestamp::now().as_millisecond() - ms > STALE.as_millis() as i64,
        None => mtime_older_than_stale(path),
    }
}

/// kill(pid, 0) succeeds (or is refused: another user's live process) and not a zombie.
fn pid_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    let exists = r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && util::proc_stat(pid).is_none_or(|f| f.first().map(String::as_str) != Some("Z"))
}

fn mtime_older_than_stale(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > STALE)
}

/// A random (version 4) UUID, as the gateway names its temp files.
fn uuid_v4() -> Result<String, String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_payload_is_the_gateways() {
        let text = lock_payload();
        let v: Value = serde_json::from_str(&text).expect("payload is JSON");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["pid", "createdAt", "starttime"], "{text}");
        assert!(text.starts_with("{\n  \"pid\": "), "{text}");
        let created = v["createdAt"].as_str().expect("createdAt");
        // Date.prototype.toISOString: 2026-11-24T10:00:00.123Z
        assert_eq!(created.len(), 24, "{created}");
        assert!(created.ends_with('Z') && created.as_bytes()[19] == b'.');
        assert!(!lock_is_stale_text(&text));
    }

    fn lock_is_stale_text(text: &str) -> bool {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sessions.json.lock");
        std::fs::write(&path, text).expect("write lock");
        lock_is_stale(&path)
    }

    #[test]
    fn stale_rules() {
        let me = std::process::id();
        let now = jiff::Timestamp::now();
        let iso = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let old = now - jiff::SignedDuration::from_secs(31);
        let live = json!({"pid": me, "createdAt": iso(now)}).to_string();
        assert!(!lock_is_stale_text(&live));
        let aged = json!({"pid": me, "createdAt": iso(old)}).to_string();
        assert!(lock_is_stale_text(&aged));
        let recycled =
            json!({"pid": me, "createdAt": iso(now), "starttime": starttime(me).map(|s| s + 1)});
        assert!(lock_is_stale_text(&recycled.to_string()));
        // A pid above the kernel's limit is never alive.
        let dead = json!({"pid": 4_194_304 + 7, "createdAt": iso(now)}).to_string();
        assert!(lock_is_stale_text(&dead));
        let legacy = json!({"pid": me, "startedAt": old.as_millisecond()}).to_string();
        assert!(lock_is_stale_text(&legacy));
        // An ownership-token line after the JSON is ignored; unreadable but fresh is live.
        assert!(!lock_is_stale_text(&format!("{live}\ntoken-123\n")));
        assert!(!lock_is_stale_text(""));
        assert!(!lock_is_stale_text("{\"pid\": 1"));
    }

    #[test]
    fn temp_names_are_uuids() {
        let u = uuid_v4().expect("uuid");
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_ne!(u, uuid_v4().expect("uuid"));
    }
}
