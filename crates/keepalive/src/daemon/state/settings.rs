//! The daemon's settings: changed at run time by requests, saved before they apply, and
//! published with the policy in force (defaults < saved settings < start-up flags).

use std::path::PathBuf;
use std::sync::Arc;

use keepalive_proto::{ErrorBody, ErrorCode, Rule};

use super::Daemon;
use crate::daemon::setup::Config;
use crate::openclaw::discovery::Installation;
use crate::policy::{PolicyInputs, Rules};
use crate::settings::{ActiveWithin, Flags, InForce, Persisted, SettingsFile};

pub(super) struct Settings {
    pub(super) file: SettingsFile,
    pub(super) persisted: Persisted,
    pub(super) flags: Flags,
}

impl Daemon {
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
    pub(super) fn publish(&self, settings: &Settings) {
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
