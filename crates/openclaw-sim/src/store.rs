//! The gateway's writes of `sessions.json` in the lock era (docs/GATEWAY.md): under the lock,
//! re-read the store, change it, then `JSON.stringify(store, null, 2)` into
//! `sessions.json.<uuid>.tmp`, fsync, rename, fsync the directory, chmod 0600.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::lock::{self, Retry, Waits};

/// `JSON.stringify(value, null, 2)` for the plain values a store holds: two-space indent,
/// insertion order (serde_json's `preserve_order`), no newline at the end.
pub fn stringify(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Replaces `store` as the gateway does: `sessions.json.<uuid>.tmp` beside it, fsync, rename,
/// fsync the directory, chmod 0600. No lock: the caller holds it, or is a writer that takes
/// none (the gateway's heartbeat runner).
pub fn atomic_write(store: &Path, text: &str) -> std::io::Result<()> {
    let dir = store.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!("sessions.json.{}.tmp", uuid_v4()?));
    durable_replace(&tmp, store, text.as_bytes())?;
    std::fs::set_permissions(store, std::fs::Permissions::from_mode(0o600))
}

/// Writes `bytes` to `tmp` (created 0600, in `dst`'s directory), fsync, rename over `dst`,
/// fsync the directory: the least any durable replace of a file does. The temp file is
/// removed when a step fails.
pub fn durable_replace(tmp: &Path, dst: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let steps = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(tmp, dst)?;
        let dir = dst.parent().unwrap_or(Path::new("."));
        std::fs::File::open(dir)?.sync_all()
    };
    let result = steps();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// A random (version 4) UUID, as the gateway names its temp files.
pub fn uuid_v4() -> std::io::Result<String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
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

/// How the gateway waits for its lock before an update.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub retry: Retry,
    pub timeout: Duration,
}

impl Wait {
    /// The gateway's own: min(1000, 50 × attempt) ms between tries, for up to 10 s.
    pub const GATEWAY: Wait = Wait {
        retry: Retry::Gateway,
        timeout: lock::TIMEOUT,
    };
}

/// What one locked update did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Written; the field held `previous` before (`null` when it was absent).
    Made { previous: Value },
    /// Not made: the lock was still held after the wait's timeout.
    GaveUp,
    /// Not made: the store was not a JSON object. (The gateway would load `{}` and its write
    /// would erase every entry; the simulator skips instead.)
    Unreadable,
}

/// One gateway update: lock, re-read, set `entry[key][field]` to `next(previous)`, atomic write,
/// unlock. An error is an I/O error or a missing entry; what waiting for the lock cost is added
/// to `waits`.
pub fn update_field(
    store: &Path,
    key: &str,
    field: &str,
    wait: Wait,
    waits: &mut Waits,
    next: impl FnOnce(&Value) -> Value,
) -> Result<Outcome, String> {
    let held = lock::acquire(store, wait.retry, wait.timeout, waits).map_err(|e| {
        let lock = lock::lock_path(store).unwrap_or_default();
        format!("lock {}: {e}", lock.display())
    })?;
    let Some(_held) = held else {
        return Ok(Outcome::GaveUp);
    };
    let bytes = std::fs::read(store).map_err(|e| format!("read: {e}"))?;
    let mut parsed = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Ok(Outcome::Unreadable),
    };
    let entry = parsed
        .get_mut(key)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("no entry {key}"))?;
    let previous = entry.get(field).cloned().unwrap_or(Value::Null);
    entry.insert(field.to_owned(), next(&previous));
    atomic_write(store, &stringify(&parsed)).map_err(|e| format!("write: {e}"))?;
    Ok(Outcome::Made { previous })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_uuids() {
        let u = uuid_v4().expect("uuid");
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_ne!(u, uuid_v4().expect("uuid"));
    }
}
