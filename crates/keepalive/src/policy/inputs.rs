//! What every agent's decisions depend on besides its store: the rules, the gateway's reset
//! config and release, the activity window and the schedule. Made here from the settings in
//! force (`settings::InForce`: defaults < saved settings < flags) and the installation; the
//! daemon republishes it on every change, the actors read it at the start of each round.

use super::{Rules, Schedule};
use crate::openclaw::discovery::Installation;
use crate::openclaw::{Release, ReleaseSource, ResetConfig};
use crate::settings::InForce;

/// Republished whenever any part changes.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInputs {
    pub rules: Rules,
    pub reset: ResetConfig,
    /// The gateway release whose rules apply; `None`: not known, so every
    /// line the store allows is considered.
    pub release: Option<Release>,
    /// `release` was said by the running gateway itself; otherwise it is a
    /// hint (the config or an installed package), and later lines count too.
    pub release_certain: bool,
    pub window_ms: Option<u64>,
    pub schedule: Schedule,
    pub margin_ms: u64,
    pub bump_session_start: bool,
}

impl PolicyInputs {
    /// The policy for the `settings` in force on `installation`. `schedule_flag` is
    /// `--schedule`; without it, policy scheduling trusts the reset policy, and when the
    /// user's config could not be read keepalive does not know it and writes every tick.
    pub fn in_force(
        settings: &InForce,
        installation: &Installation,
        schedule_flag: Option<Schedule>,
        bump_session_start: bool,
    ) -> Self {
        let openclaw = &installation.config;
        let schedule = schedule_flag.unwrap_or(if openclaw.problems.is_empty() {
            Schedule::Policy
        } else {
            Schedule::Interval
        });
        PolicyInputs {
            rules: Rules::new(settings.rules.clone()),
            reset: openclaw.reset.clone(),
            release: installation.release.release,
            release_certain: installation.release.source == ReleaseSource::Process,
            window_ms: settings.active_within.window_ms(),
            schedule,
            margin_ms: settings.interval_s.saturating_mul(2000),
            bump_session_start,
        }
    }
}
