//! A pure model of the OpenClaw installation keepalive runs against: where
//! the gateway keeps its state ([`state_dir`]), what its `openclaw.json`
//! says about stores and resets ([`config`]), which release runs
//! ([`which_release`]) and what that release does ([`release`]), and when
//! the gateway would reset a session ([`reset`]).
//!
//! Nothing here writes anything or keeps state: the daemon and `doctor` feed
//! it paths, environment and clocks, and act on the answers. Each rule
//! mirrors the gateway's own code (`src/config/paths.ts`,
//! `src/cli/profile.ts`, `src/config/sessions/reset.ts` in openclaw/openclaw)
//! so that keepalive predicts what the gateway will do, release by release.
//! The contract is docs/GATEWAY.md; the interop suite checks it against
//! the real releases.

pub mod config;
pub mod generation;
pub mod release;
pub mod reset;
pub mod state_dir;
pub mod which_release;

#[cfg(test)]
mod tests;

pub use config::{OpenClawConfig, config_path, store_path, template_is_shared};
pub use release::{Facing, Release, ReleaseRules};
pub use reset::{
    Clock, Generation, Mode, PartialRule, ResetConfig, ResetRule, Rule, Times, daily_timestamp,
    defaults, effective_rule, goes_stale_at, idle_timestamp, idle_window, last_boundary,
    next_boundary_after, session_reset_type, stale_reason,
};
pub use state_dir::{Lookup, StateDirChoice, resolve_from_process};
pub use which_release::{DetectedRelease, ReleaseSource};
