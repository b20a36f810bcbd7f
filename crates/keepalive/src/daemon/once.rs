//! `keepalived --once`: one round on every store, every session kept alive bumped now, a
//! summary on stdout, no socket. Each agent's round is the actor's own
//! ([`AgentRounds::run`]), with its ledger loaded and saved the same way.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::round::{AgentRounds, Batch};
use super::setup::{DaemonError, configure};
use super::socket;
use super::state;
use crate::cli::DaemonArgs;
use crate::openclaw::Clock;
use crate::resets::ResetLog;

/// Runs `--once`. Ctrl-C ends lock waits; rounds that are writing finish.
pub async fn run_once(args: DaemonArgs) -> Result<(), DaemonError> {
    // The writer lock, held to the end (in `setup`), so that no daemon starts writing
    // meanwhile either.
    let setup = configure(&args).map_err(|e| match e {
        DaemonError::Socket(socket::SocketError::WriterRunning { pid, state_dir }) => {
            DaemonError::OnceBesideDaemon { pid, state_dir }
        }
        other => other,
    })?;
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
    let (_, policy) = state::in_force(&config, config.flags, &setup.persisted, &installation);
    let policy = Arc::new(policy);
    let log = Arc::new(ResetLog::open(
        &setup.settings_file.resets_log(),
        !config.round.dry_run,
    ));
    let tasks: Vec<_> = agents
        .into_iter()
        .map(|agent| {
            let mut rounds = AgentRounds::new(agent, config.round.clone());
            let (policy, cancel, log) = (policy.clone(), cancel.clone(), log.clone());
            tokio::task::spawn_blocking(move || {
                let batch = Batch {
                    touches_of_all: 1,
                    ..Batch::default()
                };
                let mut result = rounds.run(&batch, &policy, &cancel, &Clock::system());
                // As the actor does: the events first, then the look that found them.
                let found = std::mem::take(&mut result.found.resets);
                if log.append(found, result.found.compared_with_ms) {
                    rounds.save_ledger_now();
                }
                (rounds.agent().id.clone(), result)
            })
        })
        .collect();
    // Every round is awaited, even after a failure: none is cut short.
    let results = futures_util::future::join_all(tasks).await;
    signals.abort();
    let (mut total, mut failed, mut bumped) = (0, 0, 0);
    let dry_run = config.round.dry_run;
    let verb = if dry_run { "would bump" } else { "bumped" };
    for result in results {
        total += 1;
        let Ok((id, r)) = result else {
            failed += 1;
            let _ = writeln!(out, "  ✗ internal error in a round; see the log");
            continue;
        };
        match (&r.answers.touch_all, &r.found.note) {
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
                    r.found.kept_alive.unwrap_or(0)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} {bumped} session(s) in {} of {total} store(s)",
        if dry_run { "Would bump" } else { "Bumped" },
        total - failed
    );
    if failed > 0 {
        return Err(DaemonError::OnceFailed { failed, total });
    }
    Ok(())
}
