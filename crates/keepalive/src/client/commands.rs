//! One function per `keepalivectl` command.

use std::path::Path;
use std::time::Duration;

use clap::CommandFactory;
use keepalive_proto::{
    ActiveWithinReply, IntervalReply, MetricsReply, Request, RulesReply, SessionsReply,
    ShutdownReply, StatusReply, TouchReply, encode_ok,
};

use super::connection::{ClientError, call};
use super::output;
use crate::cli::{CtlArgs, CtlCommand};

pub async fn run(command: CtlCommand, socket: &Path, json: bool) -> Result<(), ClientError> {
    match command {
        CtlCommand::Start {
            daemon_args,
            exit_with,
        } => super::start::start(socket, &daemon_args, exit_with, json).await,
        CtlCommand::Status => {
            let (line, status) = call::<StatusReply>(socket, &Request::Status {}).await?;
            print(json, &line, || output::status(&status));
            Ok(())
        }
        CtlCommand::Touch {
            sessions,
            agent,
            revive,
        } => {
            let request = Request::Touch {
                revive,
                sessions: (!sessions.is_empty()).then_some(sessions),
                agent: agent.agent,
            };
            let (line, touched) = call::<TouchReply>(socket, &request).await?;
            print(json, &line, || output::touched(&touched));
            Ok(())
        }
        CtlCommand::Interval { interval: None } => {
            let (line, reply) = call::<IntervalReply>(socket, &Request::GetInterval {}).await?;
            print(json, &line, || {
                format!("interval: {}", output::secs(reply.interval_s))
            });
            Ok(())
        }
        CtlCommand::Interval {
            interval: Some(interval),
        } => {
            let request = Request::SetInterval {
                interval_s: interval.as_secs(),
            };
            let (line, reply) = call::<IntervalReply>(socket, &request).await?;
            print(json, &line, || {
                format!(
                    "interval set to {} (was {}); saved for restarts",
                    output::secs(reply.interval_s),
                    reply
                        .previous_s
                        .map_or_else(|| "unknown".into(), output::secs)
                )
            });
            Ok(())
        }
        CtlCommand::Include(rule) => {
            rules(
                socket,
                json,
                Request::Include {
                    session: rule.session,
                    agent: rule.agent.agent,
                },
            )
            .await
        }
        CtlCommand::Exclude(rule) => {
            rules(
                socket,
                json,
                Request::Exclude {
                    session: rule.session,
                    agent: rule.agent.agent,
                },
            )
            .await
        }
        CtlCommand::Forget(rule) => {
            rules(
                socket,
                json,
                Request::Forget {
                    session: rule.session,
                    agent: rule.agent.agent,
                },
            )
            .await
        }
        CtlCommand::Rules => rules(socket, json, Request::Rules {}).await,
        CtlCommand::Metrics => {
            let (line, reply) = call::<MetricsReply>(socket, &Request::Metrics {}).await?;
            print(json, &line, || reply.text.trim_end().to_string());
            Ok(())
        }
        CtlCommand::Logs {
            follow,
            lines,
            file,
        } => super::logs::run(socket, file, lines, follow).await,
        CtlCommand::ActiveWithin { window } => {
            let request = match window {
                None => Request::GetActiveWithin {},
                Some(w) => Request::SetActiveWithin {
                    active_within_s: w.secs(),
                },
            };
            let (line, reply) = call::<ActiveWithinReply>(socket, &request).await?;
            print(json, &line, || {
                let shown = reply.active_within_s.map_or_else(
                    || "all (every session is kept alive)".to_string(),
                    output::secs,
                );
                match window {
                    None => format!("active within: {shown}"),
                    Some(_) => format!("active within set to {shown}; saved for restarts"),
                }
            });
            Ok(())
        }
        CtlCommand::Sessions { agent } => {
            let request = Request::Sessions { agent: agent.agent };
            let (line, reply) = call::<SessionsReply>(socket, &request).await?;
            print(json, &line, || output::sessions(&reply.sessions));
            Ok(())
        }
        CtlCommand::Resets {
            agent,
            since,
            all,
            follow,
        } => {
            let query = super::resets::Query {
                agent: agent.agent,
                since,
                all,
                follow,
            };
            super::resets::run(socket, query, json).await
        }
        CtlCommand::Doctor { state_dir, profile } => {
            super::doctor::run(socket, state_dir.as_deref(), profile.as_deref(), json).await
        }
        CtlCommand::Shutdown => shutdown(socket, json).await,
        CtlCommand::Service { action } => super::service::run(action, socket, json).await,
        CtlCommand::Completions { shell } => {
            completions(shell);
            Ok(())
        }
    }
}

async fn rules(socket: &Path, json: bool, request: Request) -> Result<(), ClientError> {
    let (line, reply) = call::<RulesReply>(socket, &request).await?;
    print(json, &line, || output::rules(&reply.rules));
    Ok(())
}

/// Asks the daemon to stop and waits until its socket stops answering, so
/// `keepalivectl stop && keepalivectl start` works.
async fn shutdown(socket: &Path, json: bool) -> Result<(), ClientError> {
    let stopping = call::<ShutdownReply>(socket, &Request::Shutdown {}).await;
    let (line, pid) = match stopping {
        Ok((line, reply)) => (line, reply.pid),
        Err(ClientError::NotRunning { .. }) => {
            let line = encode_ok(&serde_json::json!({"stopping": false}));
            print(json, &line, || {
                format!(
                    "keepalived was not running (no daemon on {})",
                    socket.display()
                )
            });
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    // The socket stops answering before in-flight writes are done. The
    // daemon is gone, and a new one may start, once its instance lock is
    // free: the kernel releases it when the process exits.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while instance_lock_held(socket) {
        if tokio::time::Instant::now() > deadline {
            return Err(ClientError::Failed(format!(
                "keepalived (pid {pid}) accepted the shutdown but is still running after 90 s; \
                 see its log, or stop it with `kill {pid}`"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    print(json, &line, || "keepalived stopped".into());
    Ok(())
}

/// Whether a daemon still holds the instance lock beside `socket`.
fn instance_lock_held(socket: &Path) -> bool {
    let Ok(file) = std::fs::File::open(crate::paths::instance_lock(socket)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
    }
}

pub fn completions(shell: clap_complete::Shell) {
    clap_complete::generate(
        shell,
        &mut CtlArgs::command(),
        "keepalivectl",
        &mut std::io::stdout(),
    );
}

/// Prints the reply as JSON (`--json`) or as text for people.
fn print(json: bool, line: &str, text: impl FnOnce() -> String) {
    if json {
        outln!("{line}");
    } else {
        outln!("{}", text());
    }
}
