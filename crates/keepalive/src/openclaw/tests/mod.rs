//! Unit tests for the OpenClaw model: pure, no sleeps, fake environments
//! and fixed clocks. Config tests that need files use temp dirs.

mod agent_db;
mod config;
mod reset_rules;
mod reset_time;
mod state_dir;

use super::release::{Release, ReleaseRules};

/// A release of each line the tests need (docs/GATEWAY.md's table).
pub fn old() -> ReleaseRules {
    ReleaseRules::of(Release::new(2026, 3, 13))
}
/// `updatedAt` only, no lock-free writer yet.
pub fn v1() -> ReleaseRules {
    ReleaseRules::of(Release::new(2026, 4, 12))
}
/// Split timestamps, `sessions.json`.
pub fn v2() -> ReleaseRules {
    ReleaseRules::of(Release::new(2026, 6, 35))
}
pub fn sqlite() -> ReleaseRules {
    ReleaseRules::of(Release::new(2026, 9, 6))
}
