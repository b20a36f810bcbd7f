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
mod once;
pub mod readiness;
pub mod round;
pub mod scheduler;
pub mod server;
mod setup;
pub mod socket;
pub mod state;
mod touch;

use std::sync::Arc;
use std::time::Duration;

use crate::cli::DaemonArgs;
pub use once::run_once;
pub use setup::DaemonError;
use setup::configure;
use state::Daemon;

/// How long connections may take to send their last replies at shutdown.
const CONNECTION_GRACE: Duration = Duration::from_secs(2);

/// Runs the daemon until SIGTERM, SIGINT, SIGHUP, SIGQUIT or `shutdown`.
pub async fn run(args: DaemonArgs) -> Result<(), DaemonError> {
    let mut setup = configure(&args)?;
    // Held to the end: no other keepalive writes these stores meanwhile, whatever its socket.
    let _writer = setup.writer.take();
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

/// Starts serving the agents found at start-up and logs the set-up.
async fn announce(
    daemon: &Arc<Daemon>,
    agents: std::io::Result<Vec<crate::openclaw::discovery::AgentFiles>>,
) {
    let config = &daemon.config;
    daemon.start_actors(agents);
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
        if config.round.dry_run {
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
