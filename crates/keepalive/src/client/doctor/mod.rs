//! `keepalivectl doctor`: explain this installation without a daemon. It
//! only reads: the state dir and how it was found, the gateway config and
//! reset policy, each agent's generation and lock, and what to do. What it finds is
//! printed by [`render`].

mod render;

use std::path::Path;

use keepalive_proto::{ReleaseStatus, Request, StatusReply};
use serde::Serialize;

use super::connection::{ClientError, call};
use crate::openclaw::agent_db::SessionNode;
use crate::openclaw::discovery::{Installation, discover};
use crate::openclaw::{
    Clock, DetectedRelease, Facing, Generation, Mode, ReleaseSource, ResetConfig, ResetRule,
    agent_db, effective_rule, generation,
};
use crate::policy::decide::rule_name;
use crate::policy::unwritable;
use render::render;

#[derive(Debug, Serialize)]
struct Report {
    state_dir: String,
    state_dir_source: String,
    state_dir_exists: bool,
    config: ConfigReport,
    openclaw_release: ReleaseStatus,
    reset_policy: Vec<PolicyLine>,
    agents: Vec<AgentReport>,
    daemon: DaemonReport,
    /// Whether keepalive can keep any session alive here.
    effective: bool,
    advice: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ConfigReport {
    path: String,
    found: bool,
    problems: Vec<String>,
}

#[derive(Debug, Serialize)]
struct PolicyLine {
    /// The release (or, when it is unknown, the release line) whose rules
    /// these are.
    release: String,
    applies_to: String,
    rule: ResetRule,
}

#[derive(Debug, Serialize)]
struct AgentReport {
    id: String,
    store: String,
    generation: Option<Generation>,
    sessions: Option<usize>,
    error: Option<String>,
    lock: LockReport,
    /// The agent's own database, when there is one: its tables tell whether the
    /// sessions live there.
    database: Option<DatabaseReport>,
    /// An `sqlite` agent's sessions, each with when the gateway would reset it under the
    /// policy in force; null for other agents.
    sqlite_sessions: Option<Vec<SqliteSession>>,
    /// The rows read, until the policy they are judged by is known.
    #[serde(skip)]
    nodes: Vec<SessionNode>,
}

/// One session of an agent's SQLite store.
#[derive(Debug, Serialize)]
struct SqliteSession {
    key: String,
    session_id: Option<String>,
    /// Unix ms of its last interaction (`lastInteractionAt`, else `updatedAt`).
    last_interaction_ms: Option<u64>,
    /// When the gateway resets it at its next message (in the past when that is so
    /// already); null: never, under the policy in force.
    stale_at_ms: Option<u64>,
    stale_rule: Option<String>,
    rule: ResetRule,
    /// The command that stops it, when the user's config is what resets it.
    advice: Option<String>,
}

#[derive(Debug, Serialize)]
struct DatabaseReport {
    path: String,
    /// Whether it has the session table (`session_nodes`); null when unreadable.
    holds_sessions: Option<bool>,
    user_version: Option<i64>,
    journal: Option<agent_db::Journal>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct LockReport {
    path: String,
    /// `free`, `held` (by a live writer, by the gateway's rules), `stale` (the
    /// gateway would remove it; `why` says why) or `unreadable`.
    state: String,
    pid: Option<u32>,
    why: Option<String>,
}

#[derive(Debug, Serialize)]
struct DaemonReport {
    running: bool,
    pid: Option<u32>,
    socket: String,
}

pub async fn run(
    socket: &Path,
    state_dir: Option<&Path>,
    profile: Option<&str>,
    json: bool,
) -> Result<(), ClientError> {
    let choice =
        crate::openclaw::resolve_from_process(state_dir, profile).map_err(ClientError::Failed)?;
    let daemon = match call::<StatusReply>(socket, &Request::Status {}).await {
        Ok((_, status)) => DaemonReport {
            running: true,
            pid: Some(status.pid),
            socket: status.socket,
        },
        Err(_) => DaemonReport {
            running: false,
            pid: None,
            socket: socket.display().to_string(),
        },
    };
    let path = choice.path.clone();
    let report = tokio::task::spawn_blocking(move || inspect(&path, choice.source, daemon))
        .await
        .map_err(|e| ClientError::Failed(format!("internal error: {e}")))?;
    if json {
        let line =
            serde_json::to_string(&report).map_err(|e| ClientError::Failed(e.to_string()))?;
        outln!("{line}");
    } else {
        outln!("{}", render(&report));
    }
    Ok(())
}

fn inspect(state_dir: &Path, source: String, daemon: DaemonReport) -> Report {
    let installation = Installation::load(state_dir);
    let specs = discover(&installation, &[]);
    let mut advice = Vec::new();
    let mut agents = Vec::new();
    match &specs {
        Ok(specs) => {
            for spec in specs {
                agents.push(inspect_agent(spec));
            }
        }
        Err(e) => advice.push(format!(
            "cannot list {}: {e}",
            state_dir.join("agents").display()
        )),
    }
    let config = &installation.config;
    let release = &installation.release;
    let facing = facing_for(release, &agents);
    let clock = Clock::system();
    for agent in &mut agents {
        if agent.generation == Some(Generation::Sqlite) {
            let judged = std::mem::take(&mut agent.nodes)
                .iter()
                .map(|node| sqlite_session(node, &facing, &config.reset, &clock))
                .collect();
            agent.sqlite_sessions = Some(judged);
        }
    }
    let mut reset_policy = Vec::new();
    for rules in facing.candidates() {
        let label = match facing {
            Facing::Known(_) => rules.release.to_string(),
            Facing::Unknown { .. } => format!("if {}", rules.line()),
        };
        let mut line = |applies_to: String, rule: ResetRule| {
            reset_policy.push(PolicyLine {
                release: label.clone(),
                applies_to,
                rule,
            })
        };
        for kind in ["direct", "group", "thread"] {
            line(
                format!("{kind} sessions"),
                effective_rule(&config.reset, rules, kind, None),
            );
        }
        for channel in config.reset.by_channel.keys() {
            line(
                format!("channel {channel}"),
                effective_rule(&config.reset, rules, "direct", Some(channel)),
            );
        }
    }
    let writable =
        |a: &AgentReport| matches!(a.generation, Some(Generation::JsonV1 | Generation::JsonV2));
    let expires = reset_policy.iter().any(|p| p.rule.mode != Mode::None);
    let effective = agents.iter().any(writable) && expires;
    if let Facing::Known(rules) = &facing
        && !rules.store_lock
        && !rules.sessions_in_sqlite
        && agents.iter().any(writable)
    {
        advice.push(format!(
            "OpenClaw {} writes sessions.json without the store lock (2026.5.2 to 2026.7.35): \
             keepalive checks that the store is still the file it read just before replacing it, \
             and re-applies a bump the gateway's cache undoes; RELIABILITY.md gives the residual \
             risk of replacing a gateway write",
            rules.release
        ));
    }
    if release.release.is_none() {
        advice.push(
            "keepalive cannot tell which OpenClaw release runs here, so the reset policy above is \
             listed for each release line it assumes possible; run it while the gateway runs, or \
             let the gateway save openclaw.json once (meta.lastTouchedVersion), to use the exact rules"
                .into(),
        );
    }

    let state_dir_exists = state_dir.exists();
    if !state_dir_exists {
        advice.push(format!(
            "there is no OpenClaw state dir at {} (found via {source}): is OpenClaw installed for this \
             user? Point keepalive at it with --state-dir or --profile",
            state_dir.display()
        ));
    } else if agents.is_empty() {
        advice.push(format!(
            "no agent has a session store under {} yet",
            state_dir.join("agents").display()
        ));
    }
    if !config.problems.is_empty() {
        advice.push(
            "fix the problems in openclaw.json listed above; until then keepalive applies the gateway's \
             defaults to those parts and writes every tick (--schedule interval)"
                .into(),
        );
    }
    for a in &agents {
        match (a.generation, &a.error) {
            (_, Some(e)) => advice.push(format!("{}: {e}", a.id)),
            (Some(Generation::Sqlite), _) => advice.push(sqlite_advice(a, &reset_policy)),
            (Some(Generation::Unknown), _) => advice.push(format!(
                "{}: the store layout is not one keepalive knows; it writes nothing there",
                a.id
            )),
            _ => {}
        }
        if a.lock.state == "stale" {
            advice.push(format!(
                "{}: {} is stale ({}); the gateway and keepalive remove it at their next write",
                a.id,
                a.lock.path,
                a.lock.why.as_deref().unwrap_or("by the gateway's rules")
            ));
        }
    }
    if agents
        .iter()
        .any(|a| a.generation == Some(Generation::JsonV2))
        && reset_policy.iter().any(|p| p.rule.mode == Mode::Daily)
    {
        advice.push(
            "json-v2 stores reset daily by sessionStartedAt, which keepalive leaves alone unless you pass \
             --bump-session-start to keepalived (it rewrites each session's recorded start)"
                .into(),
        );
    }
    if agents.iter().any(writable) && !expires {
        advice.push(
            "your reset policy never expires sessions (mode none): keepalive has nothing to do"
                .into(),
        );
    }
    if effective && !daemon.running {
        advice.push("keepalived is not running: start it with `keepalivectl start`".into());
    }
    Report {
        state_dir: state_dir.display().to_string(),
        state_dir_source: source,
        state_dir_exists,
        config: ConfigReport {
            path: config.path.display().to_string(),
            found: config.found,
            problems: config.problems.clone(),
        },
        openclaw_release: release.status(),
        reset_policy,
        agents,
        daemon,
        effective,
        advice,
    }
}

/// A session of an SQLite store, judged by the policy in force.
fn sqlite_session(
    node: &SessionNode,
    facing: &Facing,
    reset: &ResetConfig,
    clock: &Clock,
) -> SqliteSession {
    let expiry = unwritable::expiry(&node.entry(), facing, reset, clock);
    SqliteSession {
        key: node.key.clone(),
        session_id: node.session_id.clone(),
        last_interaction_ms: node
            .last_interaction_at
            .or(node.updated_at)
            .filter(|t| *t > 0),
        stale_at_ms: expiry.stale_at.map(|(at, _)| at),
        stale_rule: expiry.stale_at.map(|(_, r)| rule_name(r).to_owned()),
        advice: unwritable::advice(&expiry.rule),
        rule: expiry.rule,
    }
}

/// What to do about an `sqlite` agent: keepalive writes nothing there, so where the user's
/// config resets its sessions, the commands that stop it (those of its sessions, or, with
/// none yet, those of the policy lines).
fn sqlite_advice(agent: &AgentReport, policy: &[PolicyLine]) -> String {
    let sessions = agent.sqlite_sessions.as_deref().unwrap_or_default();
    let expiring = sessions.iter().filter(|s| s.stale_at_ms.is_some()).count();
    let mut commands: Vec<String> = if sessions.is_empty() {
        policy
            .iter()
            .filter_map(|line| unwritable::advice(&line.rule))
            .collect()
    } else {
        sessions.iter().filter_map(|s| s.advice.clone()).collect()
    };
    commands.sort();
    commands.dedup();
    let head = format!(
        "{}: OpenClaw 2026.8+ keeps sessions in SQLite and forbids other writers, so keepalive \
         writes nothing there",
        agent.id
    );
    let expire = if sessions.is_empty() {
        "the policy in force expires its sessions".to_owned()
    } else {
        format!(
            "{expiring} of its {} sessions expire under the policy in force",
            sessions.len()
        )
    };
    match commands.as_slice() {
        [] if expiring == 0 && !sessions.is_empty() => {
            format!("{head}; under the policy in force its sessions never expire")
        }
        [] if sessions.is_empty() => format!("{head}; it has no sessions yet"),
        [] => format!("{head}; {expire}, whatever openclaw.json says (updatedAt 0)"),
        commands => {
            let commands: Vec<String> = commands.iter().map(|c| format!("`{c}`")).collect();
            format!(
                "{head}; {expire}, set by your openclaw.json: to keep them, run {}",
                commands.join(" and ")
            )
        }
    }
}

/// The release's rules when it is known; otherwise every line the agents'
/// stores allow.
fn facing_for(release: &DetectedRelease, agents: &[AgentReport]) -> Facing {
    let split_fields = agents
        .iter()
        .any(|a| a.generation == Some(Generation::JsonV2));
    let in_sqlite = !agents.is_empty()
        && agents
            .iter()
            .all(|a| a.generation == Some(Generation::Sqlite));
    match release.release {
        Some(r) if release.source == ReleaseSource::Process => Facing::known(r),
        Some(hint) => Facing::hinted(hint, split_fields, in_sqlite),
        None => Facing::unknown(split_fields, in_sqlite),
    }
}

fn inspect_agent(spec: &crate::openclaw::discovery::AgentFiles) -> AgentReport {
    let lock = inspect_lock(&spec.store);
    let read = agent_db::sessions(&spec.sqlite);
    let database = match &read {
        Ok(None) => None,
        Ok(Some((db, _))) => Some(DatabaseReport {
            path: spec.sqlite.display().to_string(),
            holds_sessions: Some(db.holds_sessions),
            user_version: Some(db.user_version),
            journal: Some(db.journal),
            error: None,
        }),
        Err(e) => Some(DatabaseReport {
            path: spec.sqlite.display().to_string(),
            holds_sessions: None,
            user_version: None,
            journal: None,
            error: Some(e.to_string()),
        }),
    };
    let base = AgentReport {
        id: spec.id.clone(),
        store: spec.store.display().to_string(),
        generation: None,
        sessions: None,
        error: None,
        lock,
        database,
        sqlite_sessions: None,
        nodes: Vec::new(),
    };
    match read {
        Ok(Some((db, nodes))) if db.holds_sessions => {
            return AgentReport {
                generation: Some(Generation::Sqlite),
                sessions: Some(nodes.len()),
                nodes,
                ..base
            };
        }
        // As in a round: where the sessions are cannot be told, so nothing is assumed.
        Err(e) => {
            return AgentReport {
                error: Some(e.to_string()),
                ..base
            };
        }
        Ok(_) => {}
    }
    match keepalive_store::read_snapshot(&spec.store) {
        Ok(snapshot) => AgentReport {
            generation: Some(generation::detect(&snapshot.scan)),
            sessions: Some(snapshot.scan.entries.len()),
            ..base
        },
        Err(e) => AgentReport {
            error: Some(e.to_string()),
            ..base
        },
    }
}

/// Who holds the gateway's lock on this store, judged by the same rules a
/// round applies (`keepalive_store::lock_state`).
fn inspect_lock(store: &Path) -> LockReport {
    use keepalive_store::LockState;
    match keepalive_store::lock_state(store) {
        Ok((path, state)) => {
            let (state, pid, why) = match state {
                LockState::Free => ("free", None, None),
                LockState::Held { pid } => ("held", pid, None),
                LockState::Stale { pid, why } => ("stale", pid, Some(why.to_string())),
            };
            LockReport {
                path: path.display().to_string(),
                state: state.into(),
                pid,
                why,
            }
        }
        Err(e) => LockReport {
            path: store.display().to_string(),
            state: "unreadable".into(),
            pid: None,
            why: Some(e.to_string()),
        },
    }
}
