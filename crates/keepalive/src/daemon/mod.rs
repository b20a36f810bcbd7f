//! `keepalived`: set-up, the long-running service, `--once`, and shutdown.
//!
//! The path of a tick or a touch: [`server`] reads a request line,
//! [`handler`] turns it into a job, the agent's [`agent`] actor merges jobs
//! into one round, and `keepalive_store::bump_store` locks, patches and
//! atomically replaces the store.

pub mod agent;
pub mod discovery;
pub mod handler;
pub mod scheduler;
pub mod server;
pub mod socket;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::cli::{DaemonArgs, exit};
use crate::paths::{resolve_state_dir, socket_path};
use crate::policy::{Rules, selected_on_tick};
use crate::settings::SettingsFile;
use agent::AgentConfig;
use state::{Config, Daemon};

/// A start-up failure, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Socket(#[from] socket::SocketError),
    #[error("{0}")]
    Setup(String),
    #[error("{failed} of {total} stores could not be bumped")]
    OnceFailed { failed: usize, total: usize },
}

impl DaemonError {
    pub fn exit_code(&self) -> i32 {
        match self {
            DaemonError::Socket(socket::SocketError::AlreadyRunning { .. }) => {
                exit::ALREADY_RUNNING
            }
            _ => exit::FAILED,
        }
    }
}

/// Runs the daemon until SIGTERM, SIGINT or a `shutdown` request.
pub async fn run(args: DaemonArgs) -> Result<(), DaemonError> {
    let (config, settings_file, persisted) = configure(&args)?;
    let private_dir = args.socket.is_none();
    let (guard, listener) = socket::bind(&config.socket, private_dir)?;
    let daemon = Daemon::new(config, settings_file, persisted);
    announce(&daemon).await;

    let signals = tokio::spawn(watch_signals(daemon.clone()));
    daemon.tracker.spawn(scheduler::run(daemon.clone()));
    daemon.tracker.spawn(server::run(daemon.clone(), listener));

    daemon.shutdown.cancelled().await;
    signals.abort();
    tracing::info!("shutting down: finishing in-flight writes");
    daemon.tracker.close();
    daemon.tracker.wait().await;
    guard.remove_socket();
    tracing::info!("stopped");
    Ok(())
}

/// `--once`: one round on every store, a summary on stdout, no socket.
pub async fn run_once(args: DaemonArgs) -> Result<(), DaemonError> {
    let (config, _, persisted) = configure(&args)?;
    let rules = Rules::new(persisted.rules);
    let state_dir = config.state_dir.clone();
    let only = config.only_agents.clone();
    let agents = tokio::task::spawn_blocking(move || discovery::discover(&state_dir, &only))
        .await
        .map_err(|e| DaemonError::Setup(e.to_string()))?
        .map_err(|e| {
            DaemonError::Setup(format!(
                "cannot list agents in {}: {e}",
                config.state_dir.display()
            ))
        })?;
    if agents.is_empty() {
        println!(
            "no OpenClaw agents under {} yet; nothing to do",
            config.state_dir.join("agents").display()
        );
        return Ok(());
    }
    let mut tasks = Vec::new();
    for (id, store) in agents {
        let (rules, agent_config) = (rules.clone(), config.agent.clone());
        tasks.push(tokio::task::spawn_blocking(move || {
            let decide = |entry: &keepalive_store::EntryInfo| {
                if selected_on_tick(&rules, &id, &entry.key) {
                    keepalive_store::Fields::UPDATED_AT
                } else {
                    keepalive_store::Fields::NONE
                }
            };
            let options = keepalive_store::RoundOptions {
                now_ms: agent::unix_ms(SystemTime::now()),
                decide: &decide,
                dry_run: agent_config.dry_run,
                lock_timeout: agent_config.lock_timeout,
                max_attempts: 3,
            };
            (id.clone(), keepalive_store::bump_store(&store, &options))
        }));
    }
    let (mut total, mut failed, mut bumped) = (0, 0, 0);
    for task in tasks {
        let (id, outcome) = task.await.map_err(|e| DaemonError::Setup(e.to_string()))?;
        total += 1;
        match outcome {
            Ok(o) => {
                bumped += o.bumped.len();
                let verb = if config.agent.dry_run {
                    "would bump"
                } else {
                    "bumped"
                };
                println!(
                    "  ✓ {id}: {verb} {} of {} session(s)",
                    o.bumped.len(),
                    o.sessions
                );
            }
            Err(e) => {
                failed += 1;
                println!("  ✗ {id}: {e}");
            }
        }
    }
    let verb = if config.agent.dry_run {
        "Would bump"
    } else {
        "Bumped"
    };
    println!(
        "{verb} {bumped} session(s) in {} of {total} store(s)",
        total - failed
    );
    if failed > 0 {
        return Err(DaemonError::OnceFailed { failed, total });
    }
    Ok(())
}

fn configure(
    args: &DaemonArgs,
) -> Result<(Config, SettingsFile, crate::settings::Persisted), DaemonError> {
    let state_dir = resolve_state_dir(args.state_dir.as_deref()).map_err(DaemonError::Setup)?;
    let socket = socket_path(args.socket.as_deref()).map_err(DaemonError::Setup)?;
    for id in &args.agents {
        if id.is_empty() || id == "." || id == ".." || id.contains('/') {
            return Err(DaemonError::Setup(format!(
                "--agent {id:?} is not an agent directory name"
            )));
        }
    }
    let state_home = crate::paths::keepalive_state_home().map_err(DaemonError::Setup)?;
    let settings_file = SettingsFile::for_state_dir(&state_home, &state_dir.path);
    let (persisted, warning) = settings_file
        .load()
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
    if let Some(warning) = warning {
        tracing::warn!("{warning}");
    }
    let config = Config {
        state_dir: state_dir.path,
        socket,
        only_agents: args.agents.clone(),
        agent: AgentConfig {
            dry_run: args.dry_run,
            lock_timeout: args.lock_timeout,
        },
        log_file: args.log_file.clone(),
        interval_flag: args.interval.map(|d| d.as_secs()),
    };
    Ok((config, settings_file, persisted))
}

async fn announce(daemon: &Arc<Daemon>) {
    let config = &daemon.config;
    daemon.refresh_agents().await;
    let agents: Vec<String> = daemon.agents().iter().map(|a| a.id.clone()).collect();
    tracing::info!(
        "keepalived {} (pid {}) on {}; state dir {}; interval {}{}",
        crate::VERSION,
        std::process::id(),
        config.socket.display(),
        config.state_dir.display(),
        crate::duration::format_secs(daemon.interval_s()),
        if config.agent.dry_run {
            "; DRY RUN: nothing will be written"
        } else {
            ""
        }
    );
    if agents.is_empty() {
        tracing::info!(
            "no OpenClaw agents under {} yet; watching for them",
            config.state_dir.join("agents").display()
        );
    } else {
        tracing::info!("agents: {}", agents.join(", "));
    }
    for id in &config.only_agents {
        if !agents.contains(id) {
            let store: PathBuf = discovery::store_path(&config.state_dir, id);
            tracing::warn!("{id}: no store at {} yet; watching for it", store.display());
        }
    }
}

async fn watch_signals(daemon: Arc<Daemon>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!(
            "cannot install signal handlers; stop the daemon with `keepalivectl shutdown`"
        );
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    daemon.shutdown.cancel();
}
