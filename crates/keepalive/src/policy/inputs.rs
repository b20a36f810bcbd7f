//! What every agent's decisions depend on besides its store: the rules, the gateway's reset
//! config and release, the activity window and the schedule. The daemon's state builds it
//! from defaults, saved settings and flags; the actors read it at the start of each round.

use super::{Rules, Schedule};
use crate::openclaw::{Release, ResetConfig};

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
