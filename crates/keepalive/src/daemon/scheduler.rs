//! The tick loop: every interval, re-read the installation and queue a
//! round on every agent. An interval change takes effect from the last tick.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::state::Daemon;
use crate::time::unix_ms;

/// `--metrics-file`: rewritten atomically each tick, so node_exporter's
/// textfile collector never reads half a file. (It shows the rounds up to
/// this tick; the round this tick queued appears in the next one.)
async fn write_metrics(daemon: &Daemon) {
    let Some(path) = daemon.config.metrics_file.clone() else {
        return;
    };
    let text = daemon.metrics_text();
    let written = tokio::task::spawn_blocking(move || {
        crate::atomic_file::write_atomically(&path, text.as_bytes()).map_err(|e| (path, e))
    })
    .await;
    if let Ok(Err((path, e))) = written {
        tracing::warn!("cannot write the metrics file {}: {e}", path.display());
    }
}

pub async fn run(daemon: Arc<Daemon>) {
    let mut interval = daemon.watch_interval();
    loop {
        daemon.refresh().await;
        for agent in daemon.agents() {
            agent.tick();
        }
        write_metrics(&daemon).await;
        let last_tick = Instant::now();
        loop {
            let secs = *interval.borrow_and_update();
            let period = daemon
                .config
                .tick_override
                .unwrap_or(Duration::from_secs(secs));
            let next = last_tick + period;
            let wall = SystemTime::now() + next.saturating_duration_since(Instant::now());
            daemon.set_next_tick_ms(unix_ms(wall));
            tokio::select! {
                _ = daemon.shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(next) => break,
                changed = interval.changed() => if changed.is_err() { return },
            }
        }
    }
}
