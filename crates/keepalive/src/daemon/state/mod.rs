//! The daemon's shared state: its configuration, the handles every task shares (shutdown,
//! task trackers, the settings and policy in force, the installation), and the registry of
//! agent actors. Settings changes are in [`settings`], looking at the state dir in
//! [`surveys`].

mod settings;
mod surveys;

use settings::Settings;
pub use settings::in_force;
use surveys::Surveys;
pub use surveys::{RESCAN_SPACING, log_release, survey};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use keepalive_proto::{AgentStatus, ConfigStatus};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::agent::{AgentHandle, Lifetime, lock};
use super::metrics::{DaemonGauges, render};
use super::setup::Config;
use crate::openclaw::discovery::{AgentFiles, Installation};
use crate::policy::PolicyInputs;
use crate::resets::ResetLog;
use crate::settings::{Persisted, SettingsFile};

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
    /// The resets the agents noticed (the event log).
    pub resets: Arc<ResetLog>,
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

impl Daemon {
    pub fn new(
        config: Config,
        file: SettingsFile,
        persisted: Persisted,
        installation: Installation,
    ) -> Arc<Self> {
        let flags = config.flags;
        let (interval, policy) = in_force(&config, flags, &persisted, &installation);
        let resets = Arc::new(ResetLog::open(&file.resets_log(), !config.round.dry_run));
        Arc::new(Daemon {
            resets,
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

    /// Starts an actor for each agent found that has none yet. (At start-up,
    /// with what `survey` found for [`Daemon::new`].)
    pub fn start_actors(&self, agents: std::io::Result<Vec<AgentFiles>>) {
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
                self.resets.clone(),
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
