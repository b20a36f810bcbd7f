//! `keepalived`: set-up, the long-running service, `--once`, and shutdown.
//!
//! The path of a tick or a touch: [`server`] reads a request line,
//! [`handler`] turns it into a job, the agent's [`agent`] actor merges jobs
//! into one round, [`round`] reads the store once and decides per session
//! (`crate::policy`), and `keepalive_store::bump_snapshot` writes the patched
//! copy, then locks, checks and atomically replaces the store.

pub mod agent;
pub mod exit_with;
pub mod handler;
pub mod metrics;
pub mod readiness;
pub mod round;
pub mod scheduler;
pub mod server;
pub mod socket;
pub mod state;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::cli::{DaemonArgs, exit};
use crate::openclaw::Clock;
use crate::paths::socket_path;
use crate::policy::{LedgerFile, Schedule};
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

/// How long connections may take to send their last replies at shutdown.
const CONNECTION_GRACE: Duration = Duration::from_secs(2);

/// Runs the daemon until SIGTERM, SIGINT, SIGHUP, SIGQUIT or `shutdown`.
pub async fn run(args: DaemonArgs) -> Result<(), DaemonError> {
    let setup = configure(&args)?;
    let exit_with = args
        .exit_with
        .map(exit_with::ExitWith::new)
        .transpose()
        .map_err(DaemonError::Setup)?;
    let private_dir = args.socket.is_none();
    let (guard, listener) = socket::bind(&setup.config.socket, private_dir)?;
    let (installation, agents) = state::survey(&setup.config)
        .await
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
    let daemon = Daemon::new(
        setup.config,
        setup.settings_file,
        setup.persisted,
        installation,
    );
    announce(&daemon, agents).await;

    let signals = tokio::spawn(watch_signals(daemon.clone()));
    daemon.workers.spawn(scheduler::run(daemon.clone()));
    daemon.workers.spawn(server::run(daemon.clone(), listener));
    if let Some(exit_with) = exit_with {
        tracing::info!("following process {} (--exit-with)", exit_with.pid());
        tokio::spawn(exit_with.watch(daemon.clone()));
    }
    readiness::ready(&format!(
        "serving {} agent(s) on {}",
        daemon.agents().len(),
        daemon.config.socket.display()
    ));

    daemon.shutdown.cancelled().await;
    readiness::stopping();
    tracing::info!("shutting down: finishing in-flight writes");
    daemon.workers.close();
    daemon.workers.wait().await;
    daemon.connections.close();
    if tokio::time::timeout(CONNECTION_GRACE, daemon.connections.wait())
        .await
        .is_err()
    {
        tracing::info!(
            "closing connections that did not finish within {}s",
            CONNECTION_GRACE.as_secs()
        );
    }
    guard.remove_socket();
    signals.abort();
    tracing::info!("stopped");
    Ok(())
}

/// `--once`: one round on every store (every session kept alive is bumped
/// now), a summary on stdout, no socket. Ctrl-C ends lock waits; rounds
/// that are writing finish.
pub async fn run_once(args: DaemonArgs) -> Result<(), DaemonError> {
    let setup = configure(&args)?;
    let config = setup.config;
    let cancel = Arc::new(AtomicBool::new(false));
    let on_signal = cancel.clone();
    let signals = tokio::spawn(async move {
        if let Ok(mut int) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            && let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            on_signal.store(true, Ordering::Relaxed);
        }
    });
    let (installation, agents) = state::survey(&config)
        .await
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
    for problem in &installation.config.problems {
        tracing::warn!("{problem}");
    }
    let agents = agents.map_err(|e| {
        DaemonError::Setup(format!(
            "cannot list agents in {}: {e}",
            config.state_dir.path.display()
        ))
    })?;
    let mut out = std::io::stdout().lock();
    if agents.is_empty() {
        let _ = writeln!(
            out,
            "no OpenClaw agents under {} yet; nothing to do",
            config.state_dir.path.join("agents").display()
        );
        return Ok(());
    }
    let (_, policy) = state::in_force(
        &config,
        state::Flags::of(&config),
        &setup.persisted,
        &installation,
    );
    let policy = Arc::new(policy);
    let tasks: Vec<_> = agents
        .into_iter()
        .map(|spec| {
            let input = round::Input {
                spec,
                config: config.agent.clone(),
                policy: policy.clone(),
                cancel: cancel.clone(),
                clock: Clock::system(),
            };
            tokio::task::spawn_blocking(move || {
                let file = LedgerFile::new(&input.config.ledger_dir, &input.spec.id);
                let mut ledger = round::prepare(&input.spec.store, &file, input.config.dry_run);
                let before = ledger.clone();
                let batch = round::Batch {
                    touch_all: 1,
                    ..round::Batch::default()
                };
                let result = round::run(&input, &batch, &mut ledger);
                if ledger != before && !input.config.dry_run {
                    file.save_or_warn(&ledger);
                }
                (input.spec.id, result)
            })
        })
        .collect();
    // Every round is awaited, even after a failure: none is cut short.
    let results = futures_util::future::join_all(tasks).await;
    signals.abort();
    let (mut total, mut failed, mut bumped) = (0, 0, 0);
    let verb = if config.agent.dry_run {
        "would bump"
    } else {
        "bumped"
    };
    for result in results {
        total += 1;
        let Ok((id, r)) = result else {
            failed += 1;
            let _ = writeln!(out, "  ✗ internal error in a round; see the log");
            continue;
        };
        match (&r.touch_all, &r.note) {
            (Err(e), _) => {
                failed += 1;
                let _ = writeln!(out, "  ✗ {id}: {}", e.message);
            }
            (Ok(done), Some(note)) if done.bumped.is_empty() => {
                let _ = writeln!(out, "  - {id}: {note}");
            }
            (Ok(done), _) => {
                bumped += done.bumped.len();
                let _ = writeln!(
                    out,
                    "  ✓ {id}: {verb} {} of {} session(s) ({} kept alive)",
                    done.bumped.len(),
                    done.sessions,
                    r.kept_alive.unwrap_or(0)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} {bumped} session(s) in {} of {total} store(s)",
        if config.agent.dry_run {
            "Would bump"
        } else {
            "Bumped"
        },
        total - failed
    );
    if failed > 0 {
        return Err(DaemonError::OnceFailed { failed, total });
    }
    Ok(())
}

struct Setup {
    config: Config,
    settings_file: SettingsFile,
    persisted: crate::settings::Persisted,
}

fn configure(args: &DaemonArgs) -> Result<Setup, DaemonError> {
    let state_dir =
        crate::openclaw::resolve_from_process(args.state_dir.as_deref(), args.profile.as_deref())
            .map_err(DaemonError::Setup)?;
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
    if !args.dry_run {
        crate::atomic_file::remove_leftovers(&state_home);
        crate::atomic_file::remove_leftovers(&settings_file.ledger_dir());
    }
    let (persisted, warning) = settings_file
        .load()
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
    if let Some(warning) = warning {
        tracing::warn!("{warning}");
    }
    let config = Config {
        socket,
        only_agents: args.agents.clone(),
        agent: AgentConfig {
            dry_run: args.dry_run,
            lock_timeout: args.lock_timeout,
            ledger_dir: settings_file.ledger_dir(),
        },
        log_file: args.log_file.clone(),
        metrics_file: args.metrics_file.clone(),
        tick_override: args.tick_ms.map(std::time::Duration::from_millis),
        interval_flag: args.interval.map(|d| d.as_secs()),
        active_within_flag: args.active_within,
        schedule_flag: args.schedule.map(|s| match s {
            crate::cli::ScheduleArg::Interval => Schedule::Interval,
            crate::cli::ScheduleArg::Policy => Schedule::Policy,
        }),
        bump_session_start: args.bump_session_start,
        state_dir,
    };
    Ok(Setup {
        config,
        settings_file,
        persisted,
    })
}

/// Starts serving the agents found at start-up and logs the set-up.
async fn announce(
    daemon: &Arc<Daemon>,
    agents: std::io::Result<Vec<crate::openclaw::discovery::AgentSpec>>,
) {
    let config = &daemon.config;
    daemon.serve(agents);
    let agents = daemon.agent_ids();
    let policy = daemon.policy();
    tracing::info!(
        "keepalived {} (pid {}) on {}; state dir {} ({}); interval {}; schedule {}; active within {}{}",
        crate::VERSION,
        std::process::id(),
        config.socket.display(),
        config.state_dir.path.display(),
        config.state_dir.source,
        crate::duration::format_secs(daemon.interval_s()),
        policy.schedule.as_str(),
        daemon
            .active_within()
            .await
            .secs()
            .map_or_else(|| "all".into(), crate::duration::format_secs),
        if config.agent.dry_run {
            "; DRY RUN: nothing will be written"
        } else {
            ""
        }
    );
    let installation = daemon.installation();
    if installation.config.found {
        tracing::info!("gateway config: {}", installation.config.path.display());
    }
    for problem in &installation.config.problems {
        tracing::warn!("{problem}");
    }
    state::log_release(&installation.release);
    if agents.is_empty() {
        tracing::info!(
            "no OpenClaw agents under {} yet; watching for them",
            config.state_dir.path.join("agents").display()
        );
    } else {
        tracing::info!("agents: {}", agents.join(", "));
    }
    for id in &config.only_agents {
        if !agents.contains(id) {
            tracing::warn!(
                "{id}: no store at {} yet; watching for it",
                installation.store_of(id).display()
            );
        }
    }
}

/// The first signal starts a graceful stop; a second one exits at once
/// (a round that is writing may then leave a temp file, which the next
/// start removes; the store itself is replaced atomically or not at all).
async fn watch_signals(daemon: Arc<Daemon>) {
    use tokio::signal::unix::{SignalKind, signal};
    let kinds = [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
    ];
    let mut streams = Vec::new();
    for (kind, name) in kinds {
        match signal(kind) {
            Ok(stream) => streams.push((stream, name)),
            Err(e) => tracing::warn!("cannot handle {name}: {e}"),
        }
    }
    let mut first = true;
    loop {
        let received = futures_util::future::select_all(
            streams
                .iter_mut()
                .map(|(stream, name)| Box::pin(async move { stream.recv().await.map(|_| *name) })),
        )
        .await
        .0;
        let Some(name) = received else { return };
        if first {
            tracing::info!("{name} received");
            daemon.begin_shutdown();
            first = false;
        } else {
            tracing::warn!("{name} received again: exiting now");
            std::process::exit(crate::cli::exit::FAILED);
        }
    }
}
