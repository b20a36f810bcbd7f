//! What each request does. Input is already parsed and validated by the
//! protocol crate; this module turns it into work for the agents and
//! settings, and builds the reply line.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use keepalive_proto::{
    AgentResult, ErrorBody, ErrorCode, HelloReply, IntervalReply, Request, Rule, RuleAction,
    RulesReply, ShutdownReply, StatusReply, TouchReply, encode_ok,
};

use super::agent::{AgentHandle, Job};
use super::state::Daemon;
use crate::duration::check_interval_secs;
use crate::policy::normalize_key;

/// The reply line, and whether the daemon should stop once it is sent.
pub struct Handled {
    pub reply: Result<String, ErrorBody>,
    pub then_shut_down: bool,
}

pub async fn handle(daemon: &Arc<Daemon>, request: Request) -> Handled {
    let then_shut_down = matches!(request, Request::Shutdown {});
    let reply = match request {
        Request::Hello {} => Ok(encode_ok(&HelloReply {
            daemon: "keepalived".into(),
            version: crate::VERSION.into(),
            protocol: keepalive_proto::PROTOCOL_VERSION,
            capabilities: keepalive_proto::CAPABILITIES
                .iter()
                .map(|c| c.to_string())
                .collect(),
            pid: std::process::id(),
        })),
        Request::Touch { sessions, agent } => touch(daemon, sessions, agent).await,
        Request::GetInterval {} => Ok(encode_ok(&IntervalReply {
            interval_s: daemon.interval_s(),
            previous_s: None,
        })),
        Request::SetInterval { interval_s } => set_interval(daemon, interval_s).await,
        Request::Include { session, agent } => {
            set_rule(daemon, session, agent, RuleAction::Include).await
        }
        Request::Exclude { session, agent } => {
            set_rule(daemon, session, agent, RuleAction::Exclude).await
        }
        Request::Forget { session, agent } => forget(daemon, session, agent).await,
        Request::Rules {} => Ok(encode_ok(&RulesReply {
            rules: daemon.rules().as_slice().to_vec(),
        })),
        Request::Status {} => Ok(encode_ok(&status(daemon).await)),
        Request::Shutdown {} => Ok(encode_ok(&ShutdownReply { stopping: true })),
    };
    Handled {
        reply,
        then_shut_down,
    }
}

async fn set_interval(daemon: &Daemon, secs: u64) -> Result<String, ErrorBody> {
    let secs =
        check_interval_secs(secs).map_err(|m| ErrorBody::new(ErrorCode::InvalidArgument, m))?;
    let previous = daemon.set_interval(secs).await?;
    tracing::info!("interval set to {}", crate::duration::format_secs(secs));
    Ok(encode_ok(&IntervalReply {
        interval_s: secs,
        previous_s: Some(previous),
    }))
}

async fn set_rule(
    daemon: &Daemon,
    session: String,
    agent: Option<String>,
    action: RuleAction,
) -> Result<String, ErrorBody> {
    let rule = Rule {
        session: normalize_key(&session),
        agent,
        action,
    };
    let verb = match action {
        RuleAction::Include => "include",
        RuleAction::Exclude => "exclude",
    };
    tracing::info!(
        "rule: {verb} {} (agent: {})",
        rule.session,
        rule.agent.as_deref().unwrap_or("all")
    );
    let rules = daemon
        .update_rules(|rules| {
            rules.set(rule);
            Ok(())
        })
        .await?;
    Ok(encode_ok(&RulesReply { rules }))
}

async fn forget(
    daemon: &Daemon,
    session: String,
    agent: Option<String>,
) -> Result<String, ErrorBody> {
    let session = normalize_key(&session);
    let rules = daemon
        .update_rules(|rules| {
            if rules.forget(&session, agent.as_deref()) {
                Ok(())
            } else {
                Err(ErrorBody::new(
                    ErrorCode::NoSuchRule,
                    format!(
                        "there is no rule for {session:?}{}; `keepalivectl rules` lists them",
                        agent
                            .as_deref()
                            .map(|a| format!(" in agent {a:?}"))
                            .unwrap_or_default()
                    ),
                ))
            }
        })
        .await?;
    Ok(encode_ok(&RulesReply { rules }))
}

async fn status(daemon: &Daemon) -> StatusReply {
    StatusReply {
        pid: std::process::id(),
        version: crate::VERSION.into(),
        uptime_s: daemon.started.elapsed().as_secs(),
        interval_s: daemon.interval_s(),
        state_dir: daemon.config.state_dir.display().to_string(),
        socket: daemon.config.socket.display().to_string(),
        dry_run: daemon.config.agent.dry_run,
        settings_file: daemon.settings_path().await.display().to_string(),
        log_file: daemon
            .config
            .log_file
            .as_ref()
            .map(|p| p.display().to_string()),
        next_tick_ms: daemon
            .next_tick_ms
            .load(std::sync::atomic::Ordering::Relaxed),
        agents: daemon.agent_statuses(),
    }
}

/// `touch`: with keys, bump exactly those (looked up in every targeted
/// store first, so an unknown key writes nothing); without, every selected
/// session of the targeted agents.
async fn touch(
    daemon: &Arc<Daemon>,
    sessions: Option<Vec<String>>,
    agent: Option<String>,
) -> Result<String, ErrorBody> {
    // A touch may name an agent created since the last tick.
    daemon.refresh_agents().await;
    let mut targets = daemon.agents();
    if let Some(id) = &agent {
        targets.retain(|a| &a.id == id);
        if targets.is_empty() {
            return Err(unknown_agent(daemon, id));
        }
    }
    let jobs: Vec<(AgentHandle, Job)> = match sessions {
        None => targets.into_iter().map(|a| (a, Job::Selected)).collect(),
        Some(sessions) => {
            let keys: BTreeSet<String> = sessions.iter().map(|k| normalize_key(k)).collect();
            locate(targets, keys).await?
        }
    };
    let results = futures_util::future::join_all(jobs.into_iter().map(|(agent, job)| async move {
        let id = agent.id.clone();
        let store = agent.store.display().to_string();
        agent.run(job).await.unwrap_or_else(|error| AgentResult {
            agent: id,
            store,
            sessions: 0,
            bumped: Vec::new(),
            written: false,
            dry_run: false,
            error: Some(error),
        })
    }))
    .await;
    if let Some(first) = results.iter().find_map(|r| r.error.clone()) {
        let failed: Vec<String> = results
            .iter()
            .filter_map(|r| {
                r.error
                    .as_ref()
                    .map(|e| format!("{}: {}", r.agent, e.message))
            })
            .collect();
        let details = serde_json::json!({ "results": results });
        return Err(ErrorBody::new(first.code, failed.join("; ")).with_details(details));
    }
    Ok(encode_ok(&TouchReply { results }))
}

/// Finds which agents hold each key. Any key found nowhere is an error
/// naming it, and nothing is written.
async fn locate(
    targets: Vec<AgentHandle>,
    keys: BTreeSet<String>,
) -> Result<Vec<(AgentHandle, Job)>, ErrorBody> {
    let mut unreadable = Vec::new();
    let mut found: BTreeMap<String, (AgentHandle, Vec<String>)> = BTreeMap::new();
    for agent in targets {
        let store = agent.store.clone();
        let listed = tokio::task::spawn_blocking(move || keepalive_store::read_keys(&store))
            .await
            .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))?;
        match listed {
            Ok(in_store) => {
                let in_store: BTreeSet<String> = in_store.into_iter().collect();
                let here: Vec<String> = keys
                    .iter()
                    .filter(|k| in_store.contains(*k))
                    .cloned()
                    .collect();
                if !here.is_empty() {
                    found.insert(agent.id.clone(), (agent, here));
                }
            }
            Err(e) => unreadable.push(format!("{}: {e}", agent.id)),
        }
    }
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !found.values().any(|(_, here)| here.contains(k)))
        .collect();
    if !missing.is_empty() {
        let mut message = format!(
            "unknown session {}: in no store; `keepalivectl status` lists the stores",
            missing
                .iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !unreadable.is_empty() {
            message.push_str(&format!(
                " (some stores could not be read: {})",
                unreadable.join("; ")
            ));
        }
        return Err(ErrorBody::new(ErrorCode::UnknownSession, message)
            .with_details(serde_json::json!({ "missing": missing })));
    }
    Ok(found
        .into_values()
        .map(|(agent, here)| (agent, Job::Keys(here)))
        .collect())
}

fn unknown_agent(daemon: &Daemon, id: &str) -> ErrorBody {
    let known: Vec<String> = daemon.agents().iter().map(|a| a.id.clone()).collect();
    ErrorBody::new(
        ErrorCode::UnknownAgent,
        format!(
            "agent {id:?} has no store under {} (agents served: {})",
            daemon.config.state_dir.join("agents").display(),
            if known.is_empty() {
                "none yet".to_string()
            } else {
                known.join(", ")
            }
        ),
    )
}
