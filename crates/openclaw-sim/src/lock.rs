//! The gateway's store lock of the lock era (`withSessionStoreLock`, docs/GATEWAY.md):
//! `<realpath(dir)>/sessions.json.lock` created with O_CREAT|O_EXCL, holding
//! `JSON.stringify({pid, createdAt, starttime}, null, 2)`; a lock found held is removed when
//! stale (dead, zombie or recycled pid, `createdAt` older than 30 s, unreadable and older than
//! 30 s), otherwise retried.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};

/// The gateway's `staleMs` for the store lock.
pub const STALE: Duration = Duration::from_secs(30);
/// The gateway's `timeoutMs` for the store lock.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// `<realpath(dir)>/sessions.json.lock` for the store `<dir>/sessions.json`.
pub fn lock_path(store: &Path) -> std::io::Result<PathBuf> {
    let dir = store.parent().unwrap_or(Path::new("."));
    Ok(std::fs::canonicalize(dir)?.join("sessions.json.lock"))
}

/// The payload the gateway writes: `JSON.stringify({pid, createdAt, starttime}, null, 2)`
/// (`starttime` left out where /proc has none, as JS leaves out `undefined`).
pub fn payload(pid: u32, created: SystemTime) -> String {
    let created = jiff::Timestamp::try_from(created).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut p = Map::new();
    p.insert("pid".into(), pid.into());
    // Date.prototype.toISOString: 2026-11-24T10:00:00.123Z
    p.insert(
        "createdAt".into(),
        created
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
pub fn starttime(pid: u32) -> Option<u64> {
    proc_stat(pid)?.get(22 - 3)?.parse().ok()
}

/// The fields of `/proc/<pid>/stat` after the command name (which is in parentheses and may
/// hold spaces): index 0 is field 3 (state), so field N is at index N - 3.
fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// How a writer that finds the lock held tries again.
#[derive(Debug, Clone, Copy)]
pub enum Retry {
    /// As the gateway does: after min(1000, 50 × attempt) ms.
    Gateway,
    /// Every so often: a harsher competitor than the gateway, for tests that want the lock
    /// contended as much as possible.
    Every(Duration),
}

impl Retry {
    fn delay(self, attempt: u32) -> Duration {
        match self {
            Retry::Gateway => Duration::from_millis((50 * u64::from(attempt)).min(1000)),
            Retry::Every(pause) => pause,
        }
    }
}

/// What waiting for the lock cost, summed over a writer's updates.
#[derive(Debug, Default, Clone, Copy)]
pub struct Waits {
    /// Updates that found the lock held (and not stale) at least once.
    pub waited: u64,
    pub max_wait: Duration,
    /// Stale locks removed.
    pub stale_removed: u64,
}

/// The gateway's lock, released (removed) when dropped.
pub struct Lock {
    pub path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Takes the lock of `store` as the gateway does: O_CREAT|O_EXCL and the payload; a lock found
/// held is removed when stale, else tried again after `retry`'s delay for up to `timeout`
/// (then `None`). What the waiting cost is added to `waits`.
pub fn acquire(
    store: &Path,
    retry: Retry,
    timeout: Duration,
    waits: &mut Waits,
) -> std::io::Result<Option<Lock>> {
    let path = lock_path(store)?;
    let start = Instant::now();
    let mut attempt = 0u32;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                let lock = Lock { path };
                file.write_all(payload(std::process::id(), SystemTime::now()).as_bytes())?;
                if attempt > 0 {
                    waits.waited += 1;
                    waits.max_wait = waits.max_wait.max(start.elapsed());
                }
                return Ok(Some(lock));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if is_stale(&path) {
                    if std::fs::remove_file(&path).is_ok() {
                        waits.stale_removed += 1;
                    }
                    continue;
                }
                attempt += 1;
                let delay = retry.delay(attempt);
                if start.elapsed() + delay > timeout {
                    waits.waited += 1;
                    waits.max_wait = waits.max_wait.max(start.elapsed());
                    return Ok(None);
                }
                std::thread::sleep(delay);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The gateway's stale rules for a lock it found held.
pub fn is_stale(path: &Path) -> bool {
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
    exists && proc_stat(pid).is_none_or(|f| f.first().map(String::as_str) != Some("Z"))
}

fn mtime_older_than_stale(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > STALE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_lock_payload_is_the_gateways() {
        let text = payload(std::process::id(), SystemTime::now());
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
        is_stale(&path)
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
}
