//! The daemon's shared state: configuration, the settings in force, the
//! registry of agent actors, and the shutdown signal.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use keepalive_proto::{AgentStatus, ErrorBody, ErrorCode, Rule};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::agent::{AgentConfig, AgentHandle};
use super::discovery::discover;
use crate::policy::Rules;
use crate::settings::{Persisted, SettingsFile};

/// Fixed for the daemon's lifetime.
#[derive(Debug, Clone)]
pub struct Config {
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub only_agents: Vec<String>,
    pub agent: AgentConfig,
    pub log_file: Option<PathBuf>,
    /// The interval given on the command line, which beats the persisted one.
    pub interval_flag: Option<u64>,
}

/// Settings that change at run time, and where they are persisted.
struct Settings {
    file: SettingsFile,
    persisted: Persisted,
}

pub struct Daemon {
    pub config: Config,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    pub started: Instant,
    pub next_tick_ms: AtomicU64,
    settings: tokio::sync::Mutex<Settings>,
    interval: watch::Sender<u64>,
    rules: watch::Sender<Arc<Rules>>,
    agents: Mutex<BTreeMap<String, AgentHandle>>,
}

impl Daemon {
    pub fn new(config: Config, file: SettingsFile, persisted: Persisted) -> Arc<Self> {
        let interval = config
            .interval_flag
            .or(persisted.interval_s)
            .unwrap_or(crate::duration::DEFAULT_INTERVAL.as_secs());
        let rules = Rules::new(persisted.rules.clone());
        Arc::new(Daemon {
            config,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            started: Instant::now(),
            next_tick_ms: AtomicU64::new(0),
            settings: tokio::sync::Mutex::new(Settings { file, persisted }),
            interval: watch::Sender::new(interval),
            rules: watch::Sender::new(Arc::new(rules)),
            agents: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn interval_s(&self) -> u64 {
        *self.interval.borrow()
    }

    pub fn watch_interval(&self) -> watch::Receiver<u64> {
        self.interval.subscribe()
    }

    pub fn rules(&self) -> Arc<Rules> {
        self.rules.borrow().clone()
    }

    pub async fn settings_path(&self) -> PathBuf {
        self.settings.lock().await.file.path().to_path_buf()
    }

    /// Persists a new interval, then applies it. Nothing changes if the
    /// settings cannot be saved: a setting that silently reverts at the
    /// next restart would surprise more than an error now.
    pub async fn set_interval(&self, secs: u64) -> Result<u64, ErrorBody> {
        self.update_settings(|p| p.interval_s = Some(secs)).await?;
        Ok(self.interval.send_replace(secs))
    }

    /// Applies `change` to the rules, persists them, then publishes them.
    pub async fn update_rules(
        &self,
        change: impl FnOnce(&mut Rules) -> Result<(), ErrorBody>,
    ) -> Result<Vec<Rule>, ErrorBody> {
        let mut rules = (*self.rules()).clone();
        change(&mut rules)?;
        let list = rules.as_slice().to_vec();
        self.update_settings(|p| p.rules = list.clone()).await?;
        self.rules.send_replace(Arc::new(rules));
        Ok(list)
    }

    async fn update_settings(&self, change: impl FnOnce(&mut Persisted)) -> Result<(), ErrorBody> {
        let mut settings = self.settings.lock().await;
        let mut next = settings.persisted.clone();
        change(&mut next);
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
        Ok(())
    }

    /// Re-reads the state dir: starts actors for new agents, drops those
    /// whose store is gone (their actors finish queued work and stop).
    pub async fn refresh_agents(&self) {
        let state_dir = self.config.state_dir.clone();
        let only = self.config.only_agents.clone();
        let found = match tokio::task::spawn_blocking(move || discover(&state_dir, &only)).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                tracing::warn!(
                    "cannot list agents in {}: {e}",
                    self.config.state_dir.display()
                );
                return;
            }
            Err(_) => return,
        };
        let mut agents = match self.agents.lock() {
            Ok(agents) => agents,
            Err(poisoned) => poisoned.into_inner(),
        };
        agents.retain(|id, _| {
            let keep = found.iter().any(|(found, _)| found == id);
            if !keep {
                tracing::info!("{id}: store is gone; no longer served");
            }
            keep
        });
        for (id, store) in found {
            if agents.contains_key(&id) {
                continue;
            }
            tracing::info!("{id}: serving {}", store.display());
            let handle = AgentHandle::spawn(
                id.clone(),
                store,
                self.config.agent.clone(),
                self.rules.subscribe(),
                self.shutdown.clone(),
                &self.tracker,
            );
            agents.insert(id, handle);
        }
    }

    /// The agents now served, by id.
    pub fn agents(&self) -> Vec<AgentHandle> {
        match self.agents.lock() {
            Ok(agents) => agents.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        }
    }

    pub fn agent_statuses(&self) -> Vec<AgentStatus> {
        self.agents().iter().map(AgentHandle::status).collect()
    }

    pub fn set_next_tick_ms(&self, ms: u64) {
        self.next_tick_ms.store(ms, Ordering::Relaxed);
    }
}
