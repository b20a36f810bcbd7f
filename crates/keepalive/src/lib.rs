//! keepalive: keeps OpenClaw sessions from expiring under long-running work.
//!
//! - [`daemon`]: `keepalived`, the only process that writes stores for keepalive.
//! - [`client`]: `keepalivectl`, which asks the daemon over its socket.
//! - [`policy`]: which sessions get bumped; [`settings`]: what persists.
//!
//! The wire protocol is in `keepalive-proto`; locking and patching a store is
//! in `keepalive-store`.

pub mod atomic_file;
pub mod cli;
pub mod client;
pub mod daemon;
pub mod duration;
pub mod logging;
pub mod openclaw;
pub mod paths;
pub mod policy;
pub mod resets;
pub mod settings;
pub mod time;

/// The version of both programs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `--version` prints after the program name. `keepalivectl start`
/// looks for the marker to tell our daemon from the unrelated VRRP
/// `keepalived` that many systems install.
pub const VERSION_TEXT: &str = concat!(env!("CARGO_PKG_VERSION"), " (keepalive for OpenClaw)");

/// The marker in [`VERSION_TEXT`].
pub const VERSION_MARKER: &str = "(keepalive for OpenClaw)";
