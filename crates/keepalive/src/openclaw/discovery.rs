//! Finding agents and their stores the way the gateway lays them out:
//! every `<stateDir>/agents/<id>/`, with its store at
//! `sessions/sessions.json` or wherever `session.store` in `openclaw.json`
//! puts it, and its database at `agent/openclaw-agent.sqlite` (which holds the
//! sessions only from OpenClaw 2026.8 on). Re-run on each tick.

use std::path::{Path, PathBuf};

use super::{
    DetectedRelease, OpenClawConfig, agent_db, config_path, store_path, template_is_shared,
};

/// The id under which a store shared by every agent (a `session.store`
/// without `{agentId}`) is served.
pub const SHARED_AGENT: &str = "shared";

/// The gateway config as read this tick, and where paths resolve from.
#[derive(Debug, Clone)]
pub struct Installation {
    pub state_dir: PathBuf,
    pub config: OpenClawConfig,
    pub home: PathBuf,
    /// The gateway release serving this state dir, and how it was found.
    pub release: DetectedRelease,
}

impl Installation {
    /// Reads `openclaw.json` (path from `$OPENCLAW_CONFIG_PATH` or the state
    /// dir). Never fails: problems are in `config.problems`.
    pub fn load(state_dir: &Path) -> Self {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let config = crate::openclaw::config::load(&config_path(state_dir, &env));
        let home = directories::BaseDirs::new()
            .map(|b| b.home_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from("/"));
        let release = crate::openclaw::which_release::detect(
            state_dir,
            &config.path,
            config.last_touched_version.as_deref(),
        );
        Installation {
            state_dir: state_dir.to_path_buf(),
            config,
            home,
            release,
        }
    }

    pub fn store_of(&self, agent: &str) -> PathBuf {
        let config_dir = self.config.path.parent().unwrap_or(&self.state_dir);
        store_path(
            self.config.store_template.as_deref(),
            &self.state_dir,
            agent,
            &self.home,
            config_dir,
        )
    }
}

/// One agent to serve: its id, and where its sessions may be (a store or the database).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AgentFiles {
    pub id: String,
    pub store: PathBuf,
    /// The agent's database: the SQLite generation keeps the sessions there, earlier
    /// releases other things (see [`crate::openclaw::agent_db`]).
    pub sqlite: PathBuf,
}

/// The agents with a store or a database that holds their sessions (or that
/// cannot be read, so that the round reports why), sorted by id, restricted to
/// `only` when it is not empty. No `agents` directory is no agents yet, and a
/// database without sessions and no store is no store yet.
pub fn discover(installation: &Installation, only: &[String]) -> std::io::Result<Vec<AgentFiles>> {
    let agents_dir = installation.state_dir.join("agents");
    let entries = match std::fs::read_dir(&agents_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let template = installation.config.store_template.as_deref();
    if template_is_shared(template) {
        // One file for every agent: one actor, or two actors would write it.
        let store = installation.store_of(SHARED_AGENT);
        let wanted = only.is_empty() || only.iter().any(|a| a == SHARED_AGENT);
        return Ok(if wanted && store.symlink_metadata().is_ok() {
            vec![AgentFiles {
                id: SHARED_AGENT.into(),
                store,
                sqlite: agents_dir
                    .join(SHARED_AGENT)
                    .join("agent")
                    .join(SQLITE_FILE),
            }]
        } else {
            Vec::new()
        });
    }
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
        let store = installation.store_of(&id);
        let sqlite = agents_dir.join(&id).join("agent").join(SQLITE_FILE);
        if store.symlink_metadata().is_ok() || may_hold_sessions(&sqlite) {
            agents.push(AgentFiles { id, store, sqlite });
        }
    }
    agents.sort();
    Ok(agents)
}

/// Whether the agent database at `path` holds sessions, or cannot be read to tell.
/// (Only asked for agents without a store: a store is served either way, and its
/// rounds read the database again.)
fn may_hold_sessions(path: &Path) -> bool {
    match agent_db::probe(path) {
        Ok(found) => found.is_some_and(|db| db.holds_sessions),
        Err(_) => true,
    }
}

/// The per-agent database (OpenClaw >= 2026.6.11; it holds the sessions from 2026.8).
pub const SQLITE_FILE: &str = "openclaw-agent.sqlite";
