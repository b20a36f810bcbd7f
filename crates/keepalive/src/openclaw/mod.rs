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

pub mod agent_db;
pub mod channels;
pub mod config;
pub mod discovery;
pub mod gateway_probe;
pub mod generation;
pub mod js;
pub mod release;
pub mod reset;
pub mod reset_policy;
pub mod state_dir;
pub mod which_release;

pub use config::{OpenClawConfig, config_path, store_path, template_is_shared};
pub use release::{Facing, Release, ReleaseRules};
pub use reset::{
    Clock, Generation, Mode, PartialRule, ResetConfig, ResetRule, Rule, Times, daily_timestamp,
    defaults, goes_stale_at, idle_timestamp, idle_window, last_boundary, last_boundary_of,
    next_boundary_after, stale_reason,
};
pub use reset_policy::{effective_rule, session_reset_type};
pub use state_dir::{Lookup, StateDirChoice, resolve_from_process};
pub use which_release::{DetectedRelease, ReleaseSource};
