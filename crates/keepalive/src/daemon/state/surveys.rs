//! Looking at the state dir: each tick, and between ticks when a request names an agent, a
//! key or a store not known yet (spaced, so a client cannot make the daemon re-scan in a
//! hot loop). New agents get actors.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Daemon;
use crate::daemon::agent::lock;
use crate::daemon::setup::Config;
use crate::openclaw::discovery::{AgentFiles, Installation, discover};

/// The least time between two re-scans asked for by requests.
///
/// A re-scan lists `<stateDir>/agents/`, looks at each agent's store and
/// re-reads `openclaw.json`: well under a millisecond on a usual install, a
/// few with hundreds of agents. What a demanding user expects decides the rest:
/// - the first touch of a brand-new session is answered at once: after a
///   quiet spell the re-scan starts immediately, without waiting;
/// - a touch of a session that exists is never refused for keepalive's own
///   bookkeeping: requests that need a re-scan wait for one, none is turned
///   away, and one re-scan answers every request that arrived before it began;
/// - a client sending unknown keys in a loop cannot make the daemon re-scan
///   in a hot loop: at most ten re-scans a second, a few percent of a core
///   at worst, and that client is slowed to the same pace;
/// - the hook pack waits 150 ms for its touch: a new session touched during
///   such a flood still gets its answer within about that budget (and the
///   daemon finishes the touch even if the hook stopped waiting).
pub const RESCAN_SPACING: Duration = Duration::from_millis(100);

/// When the state dir was last looked at.
#[derive(Default)]
pub(super) struct Surveys {
    /// The start of the latest survey, tick or re-scan: a request that arrived
    /// before it is answered by what it found.
    last_started: Option<Instant>,
    /// The start of the latest re-scan asked for by a request, for the spacing.
    last_rescan: Option<Instant>,
}

impl Daemon {
    /// Each tick: re-reads `openclaw.json` and the state dir.
    pub async fn refresh(&self) {
        let mut surveys = self.surveys.lock().await;
        surveys.last_started = Some(Instant::now());
        self.rediscover(&surveys).await;
    }

    /// Between ticks, for a request that found no agent, key or store it
    /// named (it arrived at `asked_at`): returns once a survey that began
    /// after `asked_at` is done, starting one unless another request's or
    /// a tick's already did, and no sooner than [`RESCAN_SPACING`] after the
    /// last one. Whatever the gateway created before the request is then known.
    pub async fn rescan(&self, asked_at: Instant, why: &str) {
        let mut surveys = self.surveys.lock().await;
        if surveys.last_started.is_some_and(|at| at >= asked_at) {
            return;
        }
        if let Some(last) = surveys.last_rescan {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep_until((last + RESCAN_SPACING).into()) => {}
            }
        }
        let now = Instant::now();
        surveys.last_started = Some(now);
        surveys.last_rescan = Some(now);
        self.rescans.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("re-scanning the agents: {why}");
        self.rediscover(&surveys).await;
    }

    /// Re-scans asked for by requests so far.
    pub fn rescans(&self) -> u64 {
        self.rescans.load(Ordering::Relaxed)
    }

    /// Re-reads `openclaw.json` and the state dir: new agents get actors;
    /// agents whose store vanished keep theirs, which report
    /// `store_not_found` (replacing an actor could let two write at once).
    /// Only under the `surveys` lock, whose guard `_held` is.
    async fn rediscover(&self, _held: &Surveys) {
        let previous = self.installation();
        let Ok((installation, agents)) = survey(&self.config).await else {
            return;
        };
        if installation.config.problems != previous.config.problems {
            for problem in &installation.config.problems {
                tracing::warn!("{problem}");
            }
        }
        if installation.release.release != previous.release.release {
            log_release(&installation.release);
        }
        *lock(&self.installation) = Arc::new(installation);
        // Whatever in openclaw.json changed (its reset policy, or whether it
        // could be read at all, which picks the schedule), the policy in force
        // is recomputed; it is republished only if it differs.
        self.publish(&*self.settings.lock().await);
        self.start_actors(agents);
    }
}

/// Reads `openclaw.json` and lists the agents in the state dir, off the
/// async threads.
pub async fn survey(
    config: &Config,
) -> Result<(Installation, std::io::Result<Vec<AgentFiles>>), tokio::task::JoinError> {
    let state_dir = config.state_dir.path.clone();
    let only = config.only_agents.clone();
    tokio::task::spawn_blocking(move || {
        let installation = Installation::load(&state_dir);
        let agents = discover(&installation, &only);
        (installation, agents)
    })
    .await
}

/// Says which release's rules apply (at start-up, and when it changes).
pub fn log_release(release: &crate::openclaw::DetectedRelease) {
    match release.release {
        Some(r) => tracing::info!("OpenClaw {r} ({})", release.detail),
        None => tracing::warn!("OpenClaw release unknown: {}", release.detail),
    }
}
