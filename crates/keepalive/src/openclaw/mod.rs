//! A pure model of the OpenClaw installation keepalive runs against: where
//! the gateway keeps its state ([`state_dir`]), what its `openclaw.json`
//! says about stores and resets ([`config`]), and when the gateway would
//! reset a session ([`reset`]).
//!
//! Nothing here writes anything or keeps state: the daemon and `doctor` feed
//! it paths, environment and clocks, and act on the answers. Each rule
//! mirrors the gateway's own code (`src/config/paths.ts`,
//! `src/cli/profile.ts`, `src/config/sessions/reset.ts` in openclaw/openclaw)
//! so that keepalive predicts what the gateway will do; where the gateway
//! differs between releases, the stricter reading is taken and says so.
//! The contract is `shared/openclaw/STORE-FACTS.md`.

pub mod agent_db;
pub mod config;
pub mod generation;
pub mod reset;
pub mod state_dir;

#[cfg(test)]
mod tests;

pub use config::{OpenClawConfig, config_path, store_path, template_is_shared};
pub use reset::{
    Clock, Generation, Mode, PartialRule, ResetConfig, ResetRule, Rule, Times, daily_timestamp,
    defaults, effective_rule, goes_stale_at, idle_timestamp, last_boundary, next_boundary_after,
    session_reset_type, stale_reason,
};
pub use state_dir::{Lookup, StateDirChoice, resolve_from_process};
