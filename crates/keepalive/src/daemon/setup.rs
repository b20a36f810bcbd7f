//! What `keepalived` is started with: the arguments checked and turned into the daemon's
//! fixed [`Config`], the settings file loaded, and the start-up failures with their exit
//! codes.

use std::path::PathBuf;

use crate::cli::{DaemonArgs, exit};
use crate::openclaw::StateDirChoice;
use crate::paths::socket_path;
use crate::policy::Schedule;
use crate::settings::{Flags, Persisted, SettingsFile};

use super::round::RoundConfig;
use super::socket;

/// Fixed for the daemon's lifetime.
#[derive(Debug, Clone)]
pub struct Config {
    pub state_dir: StateDirChoice,
    pub socket: PathBuf,
    pub only_agents: Vec<String>,
    pub round: RoundConfig,
    pub log_file: Option<PathBuf>,
    pub metrics_file: Option<PathBuf>,
    /// Test-only tick period (`--tick-ms`), beating the interval.
    pub tick_override: Option<std::time::Duration>,
    /// Start-up flags, which beat persisted settings without being saved.
    pub flags: Flags,
    /// `--schedule`; `None`: policy when the gateway config could be read.
    pub schedule_flag: Option<Schedule>,
    pub bump_session_start: bool,
}

/// A start-up failure, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Socket(#[from] socket::SocketError),
    #[error("{0}")]
    Setup(String),
    #[error("{failed} of {total} stores could not be bumped")]
    OnceFailed { failed: usize, total: usize },
    #[error(
        "keepalived is already running (pid {pid}) and is the one writer of the session \
         stores of {} while it runs; ask it for a round now with `keepalivectl touch`, or \
         stop it before using --once (--once --dry-run may run beside it)",
        state_dir.display()
    )]
    OnceBesideDaemon { pid: String, state_dir: PathBuf },
}

impl DaemonError {
    pub fn exit_code(&self) -> i32 {
        match self {
            DaemonError::Socket(
                socket::SocketError::AlreadyRunning { .. }
                | socket::SocketError::WriterRunning { .. },
            )
            | DaemonError::OnceBesideDaemon { .. } => exit::ALREADY_RUNNING,
            _ => exit::FAILED,
        }
    }
}

pub struct Setup {
    pub config: Config,
    pub settings_file: SettingsFile,
    pub persisted: Persisted,
    /// The state dir's writer lock (none on a dry run): whoever holds it is the one keepalive
    /// writing its stores, ledgers and event log. Taken before anything is tidied there.
    pub writer: Option<std::fs::File>,
}

pub fn configure(args: &DaemonArgs) -> Result<Setup, DaemonError> {
    let state_dir =
        crate::openclaw::resolve_from_process(args.state_dir.as_deref(), args.profile.as_deref())
            .map_err(DaemonError::Setup)?;
    let socket = socket_path(args.socket.as_deref()).map_err(DaemonError::Setup)?;
    for id in &args.agents {
        if id.is_empty() || id == "." || id == ".." || id.contains('/') {
            return Err(DaemonError::Setup(format!(
                "--agent {id:?} is not an agent directory name"
            )));
        }
    }
    let state_home = crate::paths::keepalive_state_home().map_err(DaemonError::Setup)?;
    let settings_file = SettingsFile::for_state_dir(&state_home, &state_dir.path);
    let writer = if args.dry_run {
        None
    } else {
        let lock = settings_file.writer_lock();
        Some(socket::lock_writer(&lock, &state_dir.path)?)
    };
    if !args.dry_run {
        crate::atomic_file::remove_leftovers(&state_home);
        crate::atomic_file::remove_leftovers(&settings_file.ledger_dir());
    }
    let (persisted, warning) = settings_file
        .load()
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
    if let Some(warning) = warning {
        tracing::warn!("{warning}");
    }
    let config = Config {
        socket,
        only_agents: args.agents.clone(),
        round: RoundConfig {
            dry_run: args.dry_run,
            lock_timeout: args.lock_timeout,
            ledger_dir: settings_file.ledger_dir(),
        },
        log_file: args.log_file.clone(),
        metrics_file: args.metrics_file.clone(),
        tick_override: args.tick_ms.map(std::time::Duration::from_millis),
        flags: Flags {
            interval_s: args.interval.map(|d| d.as_secs()),
            active_within: args.active_within,
        },
        schedule_flag: args.schedule.map(|s| match s {
            crate::cli::ScheduleArg::Interval => Schedule::Interval,
            crate::cli::ScheduleArg::Policy => Schedule::Policy,
        }),
        bump_session_start: args.bump_session_start,
        state_dir,
    };
    Ok(Setup {
        config,
        settings_file,
        persisted,
        writer,
    })
}
