//! The daemon's shared state: configuration, the settings and policy in
//! force, the registry of agent actors, and the shutdown signal.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keepalive_proto::{AgentStatus, ConfigStatus, ErrorBody, ErrorCode, Rule};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::agent::{AgentHandle, Lifetime, lock};
use super::metrics::{DaemonGauges, render};
use super::setup::Config;
use crate::openclaw::discovery::{AgentSpec, Installation, discover};
use crate::policy::{PolicyInputs, Rules};
use crate::settings::{ActiveWithin, Flags, InForce, Persisted, SettingsFile};

struct Settings {
    file: SettingsFile,
    persisted: Persisted,
    flags: Flags,
}

pub struct Daemon {
    pub config: Config,
    pub shutdown: CancellationToken,
    /// Set with `shutdown`, read by blocking rounds waiting for a lock.
    pub cancel: Arc<AtomicBool>,
    /// Actors and the scheduler: waited for in full at shutdown.
    pub workers: TaskTracker,
    /// Client connections: given a short grace at shutdown, then dropped.
    pub connections: TaskTracker,
    pub started: Instant,
    pub next_tick_ms: AtomicU64,
    settings: tokio::sync::Mutex<Settings>,
    interval: watch::Sender<u64>,
    policy: watch::Sender<Arc<PolicyInputs>>,
    installation: Mutex<Arc<Installation>>,
    /// Held across discovery and registration, so two surveys never race;
    /// a fair lock, so requests waiting for a re-scan queue in order.
    surveys: tokio::sync::Mutex<Surveys>,
    /// Re-scans asked for by requests (`keepalive_rescans_total`).
    rescans: AtomicU64,
    agents: Mutex<BTreeMap<String, AgentHandle>>,
}

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
struct Surveys {
    /// The start of the latest survey, tick or re-scan: a request that arrived
    /// before it is answered by what it found.
    last_started: Option<Instant>,
    /// The start of the latest re-scan asked for by a request, for the spacing.
    last_rescan: Option<Instant>,
}

impl Daemon {
    pub fn new(
        config: Config,
        file: SettingsFile,
        persisted: Persisted,
        installation: Installation,
    ) -> Arc<Self> {
        let flags = config.flags;
        let (interval, policy) = in_force(&config, flags, &persisted, &installation);
        Arc::new(Daemon {
            config,
            shutdown: CancellationToken::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            workers: TaskTracker::new(),
            connections: TaskTracker::new(),
            started: Instant::now(),
            next_tick_ms: AtomicU64::new(0),
            settings: tokio::sync::Mutex::new(Settings {
                file,
                persisted,
                flags,
            }),
            interval: watch::Sender::new(interval),
            policy: watch::Sender::new(Arc::new(policy)),
            installation: Mutex::new(Arc::new(installation)),
            surveys: tokio::sync::Mutex::new(Surveys::default()),
            rescans: AtomicU64::new(0),
            agents: Mutex::new(BTreeMap::new()),
        })
    }

    /// Starts stopping: new work is refused, lock waits end.
    pub fn begin_shutdown(&self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.shutdown.cancel();
    }

    pub fn interval_s(&self) -> u64 {
        *self.interval.borrow()
    }

    pub fn watch_interval(&self) -> watch::Receiver<u64> {
        self.interval.subscribe()
    }

    pub fn policy(&self) -> Arc<PolicyInputs> {
        self.policy.borrow().clone()
    }

    pub fn installation(&self) -> Arc<Installation> {
        lock(&self.installation).clone()
    }

    pub fn config_status(&self) -> ConfigStatus {
        let installation = self.installation();
        ConfigStatus {
            path: installation.config.path.display().to_string(),
            found: installation.config.found,
            problems: installation.config.problems.clone(),
        }
    }

    pub async fn settings_path(&self) -> PathBuf {
        self.settings.lock().await.file.path().to_path_buf()
    }

    pub async fn active_within(&self) -> ActiveWithin {
        let settings = self.settings.lock().await;
        InForce::of(&settings.persisted, settings.flags).active_within
    }

    /// Persists a new interval, then applies it. Nothing changes if the
    /// settings cannot be saved: a setting that silently reverts at the
    /// next restart would surprise more than an error now.
    pub async fn set_interval(&self, secs: u64) -> Result<u64, ErrorBody> {
        let previous = self.interval_s();
        self.update_settings(|p, flags| {
            p.interval_s = Some(secs);
            flags.interval_s = None;
            Ok(())
        })
        .await?;
        Ok(previous)
    }

    pub async fn set_active_within(&self, window: ActiveWithin) -> Result<(), ErrorBody> {
        self.update_settings(|p, flags| {
            p.active_within = Some(window);
            flags.active_within = None;
            Ok(())
        })
        .await
    }

    /// Applies `change` to the rules, persists them and publishes them.
    pub async fn update_rules(
        &self,
        change: impl FnOnce(&mut Rules) -> Result<(), ErrorBody>,
    ) -> Result<Vec<Rule>, ErrorBody> {
        let mut list = Vec::new();
        self.update_settings(|p, _| {
            let mut rules = Rules::new(p.rules.clone());
            change(&mut rules)?;
            p.rules = rules.as_slice().to_vec();
            list = p.rules.clone();
            Ok(())
        })
        .await?;
        Ok(list)
    }

    /// Every settings change: computed from the persisted settings, saved,
    /// and published while the settings lock is held, so concurrent changes
    /// can neither lose each other nor publish out of order.
    async fn update_settings(
        &self,
        change: impl FnOnce(&mut Persisted, &mut Flags) -> Result<(), ErrorBody>,
    ) -> Result<(), ErrorBody> {
        let mut settings = self.settings.lock().await;
        let mut next = settings.persisted.clone();
        let mut flags = settings.flags;
        change(&mut next, &mut flags)?;
        let file = settings.file.clone();
        let to_save = next.clone();
        tokio::task::spawn_blocking(move || file.save(&to_save))
            .await
            .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))?
            .map_err(|e| {
                ErrorBody::new(
                    ErrorCode::SettingsIo,
                    format!("{e}; the change was not applied"),
                )
            })?;
        settings.persisted = next;
        settings.flags = flags;
        self.publish(&settings);
        Ok(())
    }

    /// Publishes the settings in force (persisted plus flags).
    fn publish(&self, settings: &Settings) {
        let installation = self.installation();
        let (interval, policy) = in_force(
            &self.config,
            settings.flags,
            &settings.persisted,
            &installation,
        );
        self.interval
            .send_if_modified(|current| std::mem::replace(current, interval) != interval);
        self.policy.send_if_modified(|current| {
            if **current == policy {
                return false;
            }
            *current = Arc::new(policy);
            true
        });
    }

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

    /// Starts an actor for each agent found that has none yet. (At start-up,
    /// with what `survey` found for [`Daemon::new`].)
    pub fn start_actors(&self, agents: std::io::Result<Vec<AgentSpec>>) {
        let agents = match agents {
            Ok(agents) => agents,
            Err(e) => {
                tracing::warn!(
                    "cannot list agents in {}: {e}",
                    self.config.state_dir.path.display()
                );
                return;
            }
        };
        let mut registry = lock(&self.agents);
        for spec in agents {
            if registry.contains_key(&spec.id) {
                continue;
            }
            tracing::info!("{}: serving {}", spec.id, spec.store.display());
            let lifetime = Lifetime {
                workers: &self.workers,
                shutdown: self.shutdown.clone(),
                cancel: self.cancel.clone(),
            };
            let handle = AgentHandle::spawn(
                spec,
                self.config.round.clone(),
                lifetime,
                self.policy.subscribe(),
            );
            registry.insert(handle.id.clone(), handle);
        }
    }

    /// The agents served, by id.
    pub fn agents(&self) -> Vec<AgentHandle> {
        lock(&self.agents).values().cloned().collect()
    }

    /// The agent served as `id`, if any.
    pub fn agent(&self, id: &str) -> Option<AgentHandle> {
        lock(&self.agents).get(id).cloned()
    }

    /// The ids of the agents served, sorted.
    pub fn agent_ids(&self) -> Vec<String> {
        lock(&self.agents).keys().cloned().collect()
    }

    pub fn agent_statuses(&self) -> Vec<AgentStatus> {
        self.agents().iter().map(AgentHandle::status).collect()
    }

    /// The metrics exposition (`keepalivectl metrics`, `--metrics-file`).
    pub fn metrics_text(&self) -> String {
        let agents: Vec<_> = self.agents().iter().map(AgentHandle::metrics).collect();
        let gauges = DaemonGauges {
            version: crate::VERSION,
            uptime_seconds: self.started.elapsed().as_secs(),
            interval_seconds: self.interval_s(),
            rescans: self.rescans(),
        };
        render(&gauges, &agents)
    }

    pub fn set_next_tick_ms(&self, ms: u64) {
        self.next_tick_ms.store(ms, Ordering::Relaxed);
    }
}

/// Reads `openclaw.json` and lists the agents in the state dir, off the
/// async threads.
pub async fn survey(
    config: &Config,
) -> Result<(Installation, std::io::Result<Vec<AgentSpec>>), tokio::task::JoinError> {
    let state_dir = config.state_dir.path.clone();
    let only = config.only_agents.clone();
    tokio::task::spawn_blocking(move || {
        let installation = Installation::load(&state_dir);
        let agents = discover(&installation, &only);
        (installation, agents)
    })
    .await
}

/// The interval and policy inputs in force for `persisted` settings under the
/// start-up `flags` still applied (also used by `--once`).
pub fn in_force(
    config: &Config,
    flags: Flags,
    persisted: &Persisted,
    installation: &Installation,
) -> (u64, PolicyInputs) {
    let settings = InForce::of(persisted, flags);
    let policy = PolicyInputs::in_force(
        &settings,
        installation,
        config.schedule_flag,
        config.bump_session_start,
    );
    (settings.interval_s, policy)
}

/// Says which release's rules apply (at start-up, and when it changes).
pub fn log_release(release: &crate::openclaw::DetectedRelease) {
    match release.release {
        Some(r) => tracing::info!("OpenClaw {r} ({})", release.detail),
        None => tracing::warn!("OpenClaw release unknown: {}", release.detail),
    }
}
