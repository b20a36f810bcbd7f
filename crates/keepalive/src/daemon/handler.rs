//! What each request does. Input is already parsed and validated by the
//! protocol crate; this module turns it into work for the agents and
//! settings, and builds the reply line.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use keepalive_proto::{
    ActiveWithinReply, AgentResult, ErrorBody, ErrorCode, HelloReply, IntervalReply, MetricsReply,
    Request, Rule, RuleAction, RulesReply, SessionsReply, ShutdownReply, StatusReply, TouchReply,
    encode_ok,
};

use super::agent::AgentHandle;
use super::state::Daemon;
use crate::duration::{check_interval_secs, check_window_secs};
use crate::policy::normalize_key;
use crate::settings::ActiveWithin;

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
        Request::Touch {
            sessions,
            agent,
            revive,
        } => touch(daemon, sessions, agent, revive).await,
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
            rules: daemon.policy().rules.as_slice().to_vec(),
        })),
        Request::GetActiveWithin {} => Ok(encode_ok(&ActiveWithinReply {
            active_within_s: daemon.active_within().await.secs(),
        })),
        Request::SetActiveWithin { active_within_s } => {
            set_active_within(daemon, active_within_s).await
        }
        Request::Sessions { agent } => sessions(daemon, agent).await,
        Request::Status {} => Ok(encode_ok(&status(daemon).await)),
        Request::Metrics {} => Ok(encode_ok(&MetricsReply {
            text: metrics_text(daemon),
        })),
        Request::Shutdown {} => Ok(encode_ok(&ShutdownReply {
            stopping: true,
            pid: std::process::id(),
        })),
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
    let policy = daemon.policy();
    StatusReply {
        pid: std::process::id(),
        version: crate::VERSION.into(),
        uptime_s: daemon.started.elapsed().as_secs(),
        interval_s: daemon.interval_s(),
        state_dir: daemon.config.state_dir.path.display().to_string(),
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
        schedule: policy.schedule.as_str().into(),
        active_within_s: daemon.active_within().await.secs(),
        state_dir_source: daemon.config.state_dir.source.clone(),
        openclaw_release: daemon.installation().release.status(),
        config: daemon.config_status(),
        agents: daemon.agent_statuses(),
    }
}

/// The metrics exposition (also written to `--metrics-file`).
pub fn metrics_text(daemon: &Daemon) -> String {
    let agents: Vec<_> = daemon.agents().iter().map(AgentHandle::metrics).collect();
    super::metrics::render(
        &super::metrics::DaemonGauges {
            version: crate::VERSION,
            uptime_seconds: daemon.started.elapsed().as_secs(),
            interval_seconds: daemon.interval_s(),
            rescans: daemon.rescans(),
        },
        &agents,
    )
}

async fn set_active_within(daemon: &Daemon, secs: Option<u64>) -> Result<String, ErrorBody> {
    let window = match secs {
        None => ActiveWithin::All,
        Some(secs) => ActiveWithin::Secs(
            check_window_secs(secs).map_err(|m| ErrorBody::new(ErrorCode::InvalidArgument, m))?,
        ),
    };
    daemon.set_active_within(window).await?;
    tracing::info!(
        "activity window set to {}",
        window.secs().map_or_else(
            || "all (every session kept alive)".into(),
            crate::duration::format_secs
        )
    );
    Ok(encode_ok(&ActiveWithinReply {
        active_within_s: window.secs(),
    }))
}

/// The agents a request targets: one by id, or all. An id not served yet
/// makes the daemon look at the state dir again first: the gateway may have
/// created that agent since the last tick.
async fn targets(
    daemon: &Daemon,
    agent: Option<&str>,
    asked_at: Instant,
) -> Result<Vec<AgentHandle>, ErrorBody> {
    let Some(id) = agent else {
        return Ok(daemon.agents());
    };
    if let Some(found) = daemon.agent(id) {
        return Ok(vec![found]);
    }
    daemon
        .rescan(asked_at, &format!("a request named agent {id:?}"))
        .await;
    daemon
        .agent(id)
        .map(|found| vec![found])
        .ok_or_else(|| unknown_agent(daemon, id))
}

async fn sessions(daemon: &Daemon, agent: Option<String>) -> Result<String, ErrorBody> {
    let targets = targets(daemon, agent.as_deref(), Instant::now()).await?;
    let reports = futures_util::future::join_all(targets.iter().map(AgentHandle::report)).await;
    let mut rows = Vec::new();
    for (agent, report) in targets.iter().zip(reports) {
        match report {
            Ok(mut found) => rows.append(&mut found),
            Err(e) => {
                return Err(ErrorBody::new(
                    e.code,
                    format!("agent {}: {}", agent.id, e.message),
                ));
            }
        }
    }
    Ok(encode_ok(&SessionsReply { sessions: rows }))
}

/// `touch`: with keys, bump exactly those (looked up in every targeted store
/// first, so an unknown key writes nothing); without, every session kept
/// alive in the targeted agents.
///
/// The gateway creates a store before its hooks touch a session in it, so a
/// touch that wrote nothing for want of an agent, a key or a store makes the
/// daemon look at the state dir again at once (bounded: `Daemon::rescan`) and
/// is then tried once more on what it found; the second answer is final.
async fn touch(
    daemon: &Daemon,
    sessions: Option<Vec<String>>,
    agent: Option<String>,
    revive: bool,
) -> Result<String, ErrorBody> {
    let asked_at = Instant::now();
    let keys: Option<BTreeSet<String>> =
        sessions.map(|s| s.iter().map(|k| normalize_key(k)).collect());
    let first = touch_in(
        &targets(daemon, agent.as_deref(), asked_at).await?,
        keys.as_ref(),
        revive,
    )
    .await;
    let Some(why) = first.look_again else {
        return first.reply;
    };
    daemon.rescan(asked_at, why).await;
    let targets = targets(daemon, agent.as_deref(), asked_at).await?;
    touch_in(&targets, keys.as_ref(), revive).await.reply
}

/// One try of a touch: its reply, and why a fresh look at the state dir could
/// change it (only when nothing was written).
struct Attempt {
    reply: Result<String, ErrorBody>,
    look_again: Option<&'static str>,
}

async fn touch_in(
    targets: &[AgentHandle],
    keys: Option<&BTreeSet<String>>,
    revive: bool,
) -> Attempt {
    let Some(keys) = keys else {
        let ran = futures_util::future::join_all(targets.iter().map(AgentHandle::touch_all)).await;
        // With several agents some may have written: only a lone one is tried again.
        let look_again = match ran.as_slice() {
            [] => Some("a touch found no agent"),
            [Err(e)] if e.code == ErrorCode::StoreNotFound => Some("a touch found no store"),
            _ => None,
        };
        let results = targets
            .iter()
            .zip(ran)
            .map(|(a, r)| r.unwrap_or_else(|e| failed(a, e)))
            .collect();
        return Attempt {
            reply: touch_reply(results),
            look_again,
        };
    };
    // One store to look in (the usual install): its actor checks every key itself,
    // all or nothing, in the same round that writes, so the store is read once.
    if let [only] = targets {
        let keys: Vec<String> = keys.iter().cloned().collect();
        return match only.touch_keys(keys, revive).await {
            Err(e) if e.code == ErrorCode::UnknownSession => Attempt {
                reply: Err(e),
                look_again: Some("a touch named a key in no known store"),
            },
            Err(e) => Attempt {
                look_again: (e.code == ErrorCode::StoreNotFound)
                    .then_some("a touch found no store"),
                reply: touch_reply(vec![failed(only, e)]),
            },
            Ok(result) => Attempt {
                reply: touch_reply(vec![result]),
                look_again: None,
            },
        };
    }
    let owners = match locate(targets, keys).await {
        Ok(owners) => owners,
        Err(e) => {
            return Attempt {
                reply: Err(e),
                look_again: Some("a touch named a key in no known store"),
            };
        }
    };
    let ran = futures_util::future::join_all(
        owners
            .iter()
            .map(|(agent, here)| agent.touch_keys(here.clone(), revive)),
    )
    .await;
    let results = owners
        .iter()
        .zip(ran)
        .map(|((a, _), r)| r.unwrap_or_else(|e| failed(a, e)))
        .collect();
    Attempt {
        reply: touch_reply(results),
        look_again: None,
    }
}

/// The reply to a touch: the results, or the first agent's error with every result attached.
fn touch_reply(results: Vec<AgentResult>) -> Result<String, ErrorBody> {
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

fn failed(agent: &AgentHandle, error: ErrorBody) -> AgentResult {
    AgentResult {
        agent: agent.id.clone(),
        store: agent.store.display().to_string(),
        sessions: 0,
        bumped: Vec::new(),
        written: false,
        dry_run: false,
        error: Some(error),
        note: None,
    }
}

/// Finds which agents hold each key, asking each agent's actor (which reads
/// its store once however many touches wait). Any key found nowhere is an
/// error naming it, and nothing is written.
async fn locate(
    targets: &[AgentHandle],
    keys: &BTreeSet<String>,
) -> Result<Vec<(AgentHandle, Vec<String>)>, ErrorBody> {
    let wanted: Vec<String> = keys.iter().cloned().collect();
    let found =
        futures_util::future::join_all(targets.iter().map(|a| a.lookup(wanted.clone()))).await;
    let mut owners = Vec::new();
    let mut unreadable = Vec::new();
    for (agent, found) in targets.iter().zip(found) {
        match found {
            Ok(here) if !here.is_empty() => owners.push((agent.clone(), here)),
            Ok(_) => {}
            Err(e) => unreadable.push(format!("{}: {}", agent.id, e.message)),
        }
    }
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !owners.iter().any(|(_, here)| here.contains(k)))
        .collect();
    if !missing.is_empty() {
        let mut error = super::round::unknown_sessions(&missing);
        if !unreadable.is_empty() {
            error.message.push_str(&format!(
                " (some stores could not be read: {})",
                unreadable.join("; ")
            ));
        }
        return Err(error);
    }
    Ok(owners)
}

fn unknown_agent(daemon: &Daemon, id: &str) -> ErrorBody {
    let known = daemon.agent_ids();
    let why = if daemon.config.only_agents.is_empty()
        || daemon.config.only_agents.iter().any(|a| a == id)
    {
        format!(
            "agent {id:?} has no store under {}",
            daemon.config.state_dir.path.join("agents").display()
        )
    } else {
        format!(
            "agent {id:?} is not served: this keepalived was started with --agent for other agents"
        )
    };
    ErrorBody::new(
        ErrorCode::UnknownAgent,
        format!(
            "{why} (agents served: {})",
            if known.is_empty() {
                "none yet".to_string()
            } else {
                known.join(", ")
            }
        ),
    )
}
