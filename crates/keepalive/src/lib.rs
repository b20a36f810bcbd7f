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
pub mod openclaw;
pub mod paths;
pub mod policy;
pub mod settings;

/// The version of both programs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `--version` prints after the program name. `keepalivectl start`
/// looks for the marker to tell our daemon from the unrelated VRRP
/// `keepalived` that many systems install.
pub const VERSION_TEXT: &str = concat!(env!("CARGO_PKG_VERSION"), " (keepalive for OpenClaw)");

/// The marker in [`VERSION_TEXT`].
pub const VERSION_MARKER: &str = "(keepalive for OpenClaw)";

/// Sets up `tracing` to stderr or to `log_file`, level from `RUST_LOG`
/// (default `info`).
pub fn init_logging(log_file: Option<&std::path::Path>) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match log_file {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create log directory {}: {e}", dir.display()))?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None => {
            use std::io::IsTerminal;
            builder
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .init();
        }
    }
    Ok(())
}
