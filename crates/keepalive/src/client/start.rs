//! `keepalivectl start`: find our daemon (not the VRRP `keepalived` that
//! shares its name), start it in the background and wait until it answers.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use keepalive_proto::{HelloReply, Request, StatusReply, encode_ok};

use super::connection::{ClientError, call};
use crate::VERSION_MARKER;

/// How long a new daemon may take to answer `hello`.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn start(
    socket: &Path,
    daemon_args: &[String],
    exit_with: Option<u32>,
    json: bool,
) -> Result<(), ClientError> {
    if let Ok((_, hello)) = call::<HelloReply>(socket, &Request::Hello {}).await {
        if let Some(pid) = exit_with {
            eprintln!(
                "keepalivectl: note: --exit-with {pid} not applied: the running keepalived keeps \
                 the options it was started with (stop it first to change them)"
            );
        }
        if json {
            outln!(
                "{}",
                encode_ok(
                    &serde_json::json!({"started": false, "pid": hello.pid, "socket": socket})
                )
            );
        } else {
            outln!(
                "keepalived is already running (pid {}) on {}",
                hello.pid,
                socket.display()
            );
        }
        return Ok(());
    }
    if daemon_args
        .iter()
        .any(|a| a == "--socket" || a.starts_with("--socket="))
    {
        return Err(ClientError::Failed(
            "pass the socket to keepalivectl instead: `keepalivectl --socket PATH start`".into(),
        ));
    }
    let daemon = find_daemon()?;
    let log_file_arg = flag_value(daemon_args, "--log-file");
    let log_file = match log_file_arg {
        Some(path) => PathBuf::from(path),
        None => crate::paths::default_log_file().map_err(ClientError::Failed)?,
    };
    let mut command = tokio::process::Command::new(&daemon);
    command.args(daemon_args).arg("--socket").arg(socket);
    if let Some(pid) = exit_with {
        command.arg("--exit-with").arg(pid.to_string());
    }
    if log_file_arg.is_none() {
        command.arg("--log-file").arg(&log_file);
    }
    // Its own process group: a Ctrl-C in the terminal that ran `start`
    // must not stop the daemon. Its stdout/stderr (a panic, say) go to the
    // log file too.
    let log = open_log(&log_file)?;
    let log_err = log
        .try_clone()
        .map_err(|e| ClientError::Failed(format!("cannot use log file: {e}")))?;
    command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .kill_on_drop(false);
    let mut child = command
        .spawn()
        .map_err(|e| ClientError::Failed(format!("cannot start {}: {e}", daemon.display())))?;

    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok((_, status)) = call::<StatusReply>(socket, &Request::Status {}).await {
            report(&status, &log_file, json);
            return Ok(());
        }
        if let Ok(Some(exit)) = child.try_wait() {
            return Err(ClientError::Failed(format!(
                "keepalived exited at start-up ({exit}); see {}{}",
                log_file.display(),
                tail(&log_file)
            )));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(ClientError::Failed(format!(
                "keepalived (pid {}) did not answer on {} within {}s; see {}",
                child.id().unwrap_or(0),
                socket.display(),
                READY_TIMEOUT.as_secs(),
                log_file.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn report(status: &StatusReply, log_file: &Path, json: bool) {
    let agents: Vec<&str> = status.agents.iter().map(|a| a.id.as_str()).collect();
    if json {
        let line = encode_ok(&serde_json::json!({
            "started": true, "pid": status.pid, "socket": status.socket,
            "log_file": log_file, "agents": agents,
        }));
        outln!("{line}");
        return;
    }
    outln!("keepalived started (pid {})", status.pid);
    outln!("  socket:    {}", status.socket);
    outln!("  log file:  {}", log_file.display());
    outln!("  state dir: {}", status.state_dir);
    if agents.is_empty() {
        outln!(
            "  agents:    none yet (it keeps watching {}/agents)",
            status.state_dir
        );
    } else {
        outln!("  agents:    {}", agents.join(", "));
    }
}

/// `keepalived` next to this `keepalivectl`, else on PATH; either way it
/// must say it is keepalive's daemon.
fn find_daemon() -> Result<PathBuf, ClientError> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| daemon_beside(&exe));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("keepalived"));
    let mut rejected = Vec::new();
    for candidate in beside.into_iter().chain(on_path) {
        if !candidate.is_file() {
            continue;
        }
        if is_ours(&candidate) {
            return Ok(candidate);
        }
        rejected.push(candidate.display().to_string());
    }
    let mut message =
        "cannot find keepalive's keepalived next to keepalivectl or on PATH".to_string();
    if !rejected.is_empty() {
        message.push_str(&format!(
            " ({} is a different program, probably the VRRP keepalived)",
            rejected.join(", ")
        ));
    }
    message.push_str("; install both with `cargo install --path crates/keepalive`");
    Err(ClientError::Failed(message))
}

/// Where `keepalived` would be next to `ctl`, this keepalivectl.
pub(super) fn daemon_beside(ctl: &Path) -> Option<PathBuf> {
    ctl.parent().map(|dir| dir.join("keepalived"))
}

pub(super) fn is_ours(binary: &Path) -> bool {
    std::process::Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(VERSION_MARKER))
}

fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let prefix = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            args.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(&prefix)
        }
    })
}

fn open_log(path: &Path) -> Result<std::fs::File, ClientError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ClientError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| ClientError::Failed(format!("cannot open log file {}: {e}", path.display())))
}

/// The last lines of the log (the newest rotated file, then what the
/// daemon printed to stderr), to show why a daemon did not start.
fn tail(path: &Path) -> String {
    let mut files: Vec<std::path::PathBuf> =
        crate::logging::log_files(path).pop().into_iter().collect();
    files.push(path.to_path_buf());
    let text: String = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    if lines.is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = lines.into_iter().rev().collect();
    format!(":\n  {}", lines.join("\n  "))
}
