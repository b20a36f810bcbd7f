//! What each request does. Input is already parsed and validated by the
//! protocol crate; this module turns it into work for the agents and
//! settings, and builds the reply line.

use std::sync::Arc;
use std::time::Instant;

use keepalive_proto::{
    ActiveWithinReply, ErrorBody, ErrorCode, HelloReply, IntervalReply, MetricsReply, Request,
    ResetsReply, Rule, RuleAction, RulesReply, SessionsReply, ShutdownReply, StatusReply,
    encode_ok,
};

use super::agent::AgentHandle;
use super::state::Daemon;
use super::touch::{targets, touch};
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
        Request::Resets {
            agent,
            since_ms,
            after_seq,
        } => Ok(encode_ok(&ResetsReply {
            events: daemon.resets.query(agent.as_deref(), since_ms, after_seq),
            log_file: daemon.resets.path().display().to_string(),
            log_problem: daemon.resets.problem(),
        })),
        Request::Status {} => Ok(encode_ok(&status(daemon).await)),
        Request::Metrics {} => Ok(encode_ok(&MetricsReply {
            text: daemon.metrics_text(),
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
        dry_run: daemon.config.round.dry_run,
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

async fn sessions(daemon: &Daemon, agent: Option<String>) -> Result<String, ErrorBody> {
    let targets = targets(daemon, agent.as_deref(), Instant::now()).await?;
    let reports = futures_util::future::join_all(targets.iter().map(AgentHandle::report)).await;
    let mut rows = Vec::new();
    let mut last_resets = daemon.resets.last_resets();
    for (agent, report) in targets.iter().zip(reports) {
        match report {
            Ok(found) => rows.extend(found.into_iter().map(|mut row| {
                row.last_reset = last_resets.remove(&(row.agent.clone(), row.key.clone()));
                row
            })),
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
