//! Replacing keepalive's own small files (settings, activity ledgers)
//! atomically: a temp file beside the target, fsynced, renamed over it,
//! directory fsynced. A crash leaves the old file or the new one, never half,
//! and at most a temp file named `<file>.keepalive-<pid>-*.tmp`, which
//! [`remove_leftovers`] (run at start-up) removes once that pid is gone.

use std::io::Write;
use std::path::Path;

pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (dir, name) = keepalive_store::dir_and_name(path);
    std::fs::create_dir_all(dir)?;
    let name = name
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = keepalive_store::temp_file_in(dir, &name)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Removes temp files that a killed keepalive left in `dir` (same naming
/// and rule as the store's: only when their pid is gone).
pub fn remove_leftovers(dir: &Path) {
    match keepalive_store::remove_stale_temp_files(dir) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            "removed {n} temp file(s) an earlier keepalived left in {}",
            dir.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::debug!("cannot look for old temp files in {}: {e}", dir.display()),
    }
}
