//! Command-line definitions of both programs. They live in the library so
//! that completions are generated from exactly what the binaries parse.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::duration::{parse_interval, parse_since, parse_window};
use crate::settings::ActiveWithin;

/// Exit codes shared by both programs (also listed in `--help` and the README).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// The request failed: the daemon answered with an error, a store could
    /// not be written, or the program hit an unexpected error.
    pub const FAILED: i32 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: i32 = 2;
    /// keepalivectl: no daemon is listening on the socket.
    pub const NOT_RUNNING: i32 = 3;
    /// keepalived: another keepalived already serves this socket.
    pub const ALREADY_RUNNING: i32 = 4;
}

const DAEMON_EXIT_CODES: &str = "\
Exit codes:
  0  stopped cleanly (SIGTERM, SIGINT, `keepalivectl shutdown`), or --once wrote every store
  1  error (bad state dir, socket cannot be bound, --once could not write some store)
  2  bad command line
  4  another keepalived already serves this socket";

const CTL_EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the daemon answered with an error, or the request failed
  2  bad command line
  3  keepalived is not running on the socket (start it with `keepalivectl start`)";

/// keepalived: keeps OpenClaw sessions alive by bumping their timestamps in
/// the gateway's session stores, under the gateway's own lock.
#[derive(Debug, Clone, Parser)]
#[command(name = "keepalived", version = crate::VERSION_TEXT, after_help = DAEMON_EXIT_CODES)]
pub struct DaemonArgs {
    /// OpenClaw state dir [default: found like the gateway: $OPENCLAW_STATE_DIR, profile, ~/.openclaw, legacy dirs]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// OpenClaw profile: the state dir ~/.openclaw-PROFILE [default: $OPENCLAW_PROFILE]
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// Unix socket to listen on [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]
    #[arg(long, value_name = "PATH", env = "KEEPALIVE_SOCKET")]
    pub socket: Option<PathBuf>,

    /// How often to bump (90, 90s, 5m, 1h; 1s to 24h) [default: 60s, or the persisted setting]
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub interval: Option<Duration>,

    /// Keep alive sessions really used within this window (24h, 90m; or `all`) [default: 24h, or the persisted setting]
    #[arg(long, value_name = "DURATION|all", value_parser = parse_window)]
    pub active_within: Option<ActiveWithin>,

    /// When to write: `policy` (just before sessions would expire) or `interval` (every tick) [default: policy, or interval when openclaw.json cannot be read]
    #[arg(long, value_enum, value_name = "MODE")]
    pub schedule: Option<ScheduleArg>,

    /// Also bump sessionStartedAt on json-v2 stores, which stops the daily reset but rewrites each session's recorded start
    #[arg(long)]
    pub bump_session_start: bool,

    /// Only serve this agent (repeatable) [default: every agent in the state dir]
    #[arg(long = "agent", value_name = "ID")]
    pub agents: Vec<String>,

    /// One pass over the stores, print a summary and exit (replaces update-session-timestamps.sh)
    #[arg(long)]
    pub once: bool,

    /// Compute and log what would be written, write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Write logs to this file instead of stderr, rotated daily (PATH.YYYY-MM-DD, 7 kept)
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Log format: `text` for people, `json` for log shippers
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub log_format: LogFormat,

    /// Log level or filter (error, warn, info, debug, trace) [default: $RUST_LOG, else info]
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Rewrite this file atomically each tick with the metrics (Prometheus text format)
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// Test-only: tick every this many milliseconds, beating --interval (for
    /// crash and contention tests, which need rounds faster than 1 s)
    #[arg(long, hide = true, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub tick_ms: Option<u64>,

    /// How long to wait for the gateway's store lock before skipping a round (at most 60s)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_lock_timeout)]
    pub lock_timeout: Duration,

    /// Exit gracefully when this process exits (e.g. the gateway that started keepalived)
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64), conflicts_with = "once")]
    pub exit_with: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleArg {
    Interval,
    Policy,
}

fn parse_lock_timeout(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration ({e}); use e.g. 5s"))?;
    if d > Duration::from_secs(60) {
        return Err(format!(
            "{text} is too long: a lock the gateway holds longer than 60s is stale anyway"
        ));
    }
    Ok(d)
}

/// keepalivectl: talk to keepalived (touch sessions, change settings, status).
#[derive(Debug, Clone, Parser)]
#[command(name = "keepalivectl", version = crate::VERSION_TEXT, after_help = CTL_EXIT_CODES)]
pub struct CtlArgs {
    /// Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]
    #[arg(long, global = true, value_name = "PATH", env = "KEEPALIVE_SOCKET")]
    pub socket: Option<PathBuf>,

    /// Print the daemon's reply as JSON instead of text
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum CtlCommand {
    /// Start keepalived in the background and wait until it answers
    Start {
        /// Arguments passed to keepalived (after `--`), e.g. `-- --interval 5m`
        #[arg(last = true, value_name = "DAEMON ARGS")]
        daemon_args: Vec<String>,
        /// Stop the daemon when this process exits (passed on as keepalived --exit-with)
        #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
        exit_with: Option<u32>,
    },
    /// Show whether the daemon runs, its settings and every agent's last round
    Status,
    /// Bump sessions now and wait until the write is durable
    Touch {
        /// Session keys to bump [default: every session kept alive]
        #[arg(value_name = "SESSION_KEY")]
        sessions: Vec<String>,
        #[command(flatten)]
        agent: AgentArg,
        /// Also bump named sessions the gateway would already reset
        #[arg(long)]
        revive: bool,
    },
    /// Show the activity window, or set and persist it (24h, 90m, or `all`)
    ActiveWithin {
        #[arg(value_name = "DURATION|all", value_parser = parse_window)]
        window: Option<ActiveWithin>,
    },
    /// One row per session: last activity, when it would expire, whether it is kept alive and why
    Sessions {
        #[command(flatten)]
        agent: AgentArg,
    },
    /// The resets keepalive noticed, with its verdict on each session just before
    ///
    /// The table lists them newest first. With --json (and with --follow) they are oldest
    /// first instead: in the order keepalive noticed them, by their `seq`.
    Resets {
        #[command(flatten)]
        agent: AgentArg,
        /// Only those noticed within this long (90m, 24h, 7d)
        #[arg(long, value_name = "DURATION", value_parser = parse_since)]
        since: Option<Duration>,
        /// Also entries that disappeared from a store or appeared in one
        #[arg(long)]
        all: bool,
        /// Then keep printing new ones as they are noticed (one line each; one JSON object each
        /// with --json), until interrupted or the daemon stops (which ends it with exit 0)
        #[arg(long)]
        follow: bool,
    },
    /// Explain this installation: state dir, config, reset policy, generations, locks (needs no daemon)
    Doctor {
        /// OpenClaw state dir [default: found like the gateway]
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// OpenClaw profile [default: $OPENCLAW_PROFILE]
        #[arg(long, value_name = "PROFILE")]
        profile: Option<String>,
    },
    /// Show the tick interval, or set and persist it
    Interval {
        /// New interval (90, 90s, 5m, 1h; 1s to 24h)
        #[arg(value_name = "DURATION", value_parser = parse_interval)]
        interval: Option<Duration>,
    },
    /// Always keep a session alive
    Include(RuleArgs),
    /// Never bump a session on ticks or `touch` without keys
    Exclude(RuleArgs),
    /// Remove the include/exclude rule for a session
    Forget(RuleArgs),
    /// List the include/exclude rules
    Rules,
    /// Print the daemon's metrics (Prometheus text format)
    Metrics,
    /// Show the daemon's log (the newest file)
    Logs {
        /// Keep printing new lines as they are written
        #[arg(short, long)]
        follow: bool,
        /// How many lines to show
        #[arg(short = 'n', long, value_name = "N", default_value_t = 50)]
        lines: usize,
        /// The log file [default: the running daemon's, else keepalivectl start's]
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
    },
    /// Stop the daemon gracefully (exit 0 also when none was running)
    #[command(visible_alias = "stop")]
    Shutdown,
    /// Install, remove or check keepalived as a user service (systemd on Linux, launchd on macOS)
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Args)]
pub struct AgentArg {
    /// Only this agent [default: every agent]
    #[arg(long, value_name = "ID")]
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RuleArgs {
    /// The session key, e.g. agent:main:main
    #[arg(value_name = "SESSION_KEY")]
    pub session: String,
    #[command(flatten)]
    pub agent: AgentArg,
}

/// `keepalivectl service ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum ServiceAction {
    /// Write the systemd user unit (Linux) or launchd agent (macOS) and print the command that starts it
    Install {
        #[command(flatten)]
        options: ServiceOptions,
        /// Print the file instead of writing it
        #[arg(long)]
        print: bool,
    },
    /// Remove the unit or agent file (it says what to run first to stop the service)
    Uninstall {
        /// Service manager [default: launchd on macOS, systemd elsewhere]
        #[arg(long, value_enum, value_name = "MANAGER", hide = true)]
        platform: Option<ServicePlatform>,
    },
    /// Whether the file is installed and current, and whether a daemon answers on the socket
    Status {
        #[command(flatten)]
        options: ServiceOptions,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ServiceOptions {
    /// OpenClaw state dir the service passes to keepalived [default: keepalived's own discovery]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// OpenClaw profile the service passes to keepalived
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Service manager to write for [default: launchd on macOS, systemd elsewhere]
    #[arg(long, value_enum, value_name = "MANAGER", hide = true)]
    pub platform: Option<ServicePlatform>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServicePlatform {
    Systemd,
    Launchd,
}
