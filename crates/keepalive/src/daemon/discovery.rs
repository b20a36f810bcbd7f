//! Finding agents: every `<stateDir>/agents/<id>/sessions/sessions.json`.
//! Re-run on each tick so agents created after start-up are picked up.

use std::path::{Path, PathBuf};

/// Store file name inside an agent's `sessions` directory.
pub const STORE_FILE: &str = "sessions.json";

/// The store path of agent `id`.
pub fn store_path(state_dir: &Path, id: &str) -> PathBuf {
    state_dir
        .join("agents")
        .join(id)
        .join("sessions")
        .join(STORE_FILE)
}

/// The agents that have a store, sorted by id, restricted to `only` when it
/// is not empty. A missing `agents` directory is simply no agents yet.
pub fn discover(state_dir: &Path, only: &[String]) -> std::io::Result<Vec<(String, PathBuf)>> {
    let entries = match std::fs::read_dir(state_dir.join("agents")) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut agents = Vec::new();
    for entry in entries {
        let entry = entry?;
        // Agent ids are directory names; one that is not UTF-8 cannot be
        // named over the protocol, so it is skipped rather than mangled.
        let Ok(id) = entry.file_name().into_string() else {
            continue;
        };
        if !only.is_empty() && !only.contains(&id) {
            continue;
        }
        let store = store_path(state_dir, &id);
        if store.symlink_metadata().is_ok() {
            agents.push((id, store));
        }
    }
    agents.sort();
    Ok(agents)
}
