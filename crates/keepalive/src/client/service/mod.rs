//! `keepalivectl service install|uninstall|status`: run keepalived as a
//! user service, started with the user's session and restarted on failure.
//!
//! - Linux: a systemd user unit, `openclaw-keepalive.service` (not
//!   `keepalived.service`, which is the unrelated VRRP daemon). `Type=notify`:
//!   keepalived sends `READY=1` once its socket answers. Logs go to the
//!   journal (`journalctl --user -u openclaw-keepalive`), which timestamps,
//!   rotates and caps them, and also catches what is printed before logging
//!   starts (a bad flag, say).
//! - macOS: a launchd agent, `ai.openclaw.keepalive`. launchd neither rotates
//!   nor captures logs for users, so keepalived logs to the same daily-rotated
//!   file as under `keepalivectl start` (`keepalivectl logs` finds it); the
//!   agent's stdout and stderr (a panic, a bad flag) go to a file beside it.
//!
//! The generators are pure functions of a [`ServiceSpec`], so both are
//! tested on every platform. keepalivectl never runs `systemctl` or
//! `launchctl` itself: it prints the exact command to run next.

use std::path::{Path, PathBuf};

use keepalive_proto::{HelloReply, Request, encode_ok};
use serde_json::json;

mod files;
mod units;

use files::{daemon_beside_ctl, systemd_enabled, unit_path};
pub use units::{ServiceSpec, launchd_plist, systemd_unit};
use units::{shell_quote, utf8};

use crate::cli::{ServiceAction, ServiceOptions, ServicePlatform};
use crate::client::connection::{ClientError, call};

/// The systemd unit's name, without `.service`.
pub const SYSTEMD_UNIT: &str = "openclaw-keepalive";
/// The launchd agent's label (and the plist's file name, without `.plist`).
pub const LAUNCHD_LABEL: &str = "ai.openclaw.keepalive";

/// Environment variables keepalived reads that a service does not inherit
/// from the shell that ran `service install`.
const SHELL_ONLY_VARS: [&str; 5] = [
    "OPENCLAW_STATE_DIR",
    "OPENCLAW_PROFILE",
    "OPENCLAW_HOME",
    "OPENCLAW_CONFIG_PATH",
    "CLAWDBOT_STATE_DIR",
];

pub async fn run(action: ServiceAction, socket: &Path, json: bool) -> Result<(), ClientError> {
    match action {
        ServiceAction::Install { options, print } => install(&options, print, socket, json).await,
        ServiceAction::Uninstall { platform } => uninstall(platform_or_default(platform), json),
        ServiceAction::Status { options } => status(&options, socket, json).await,
    }
}

/// The file a platform's service lives in, and what install writes there.
struct Target {
    platform: ServicePlatform,
    path: PathBuf,
    content: String,
}

fn platform_or_default(platform: Option<ServicePlatform>) -> ServicePlatform {
    platform.unwrap_or(if cfg!(target_os = "macos") {
        ServicePlatform::Launchd
    } else {
        ServicePlatform::Systemd
    })
}

fn target(options: &ServiceOptions, socket: &Path) -> Result<Target, ClientError> {
    let platform = platform_or_default(options.platform);
    let daemon = daemon_beside_ctl()?;
    let mut args = Vec::new();
    if let Some(dir) = &options.state_dir {
        let dir = std::path::absolute(dir)
            .map_err(|e| failed(format!("cannot resolve --state-dir {}: {e}", dir.display())))?;
        args.push("--state-dir".to_string());
        args.push(utf8(&dir).map_err(failed)?);
    }
    if let Some(profile) = &options.profile {
        args.push("--profile".to_string());
        args.push(profile.clone());
    }
    // A systemd user service sees the same $XDG_RUNTIME_DIR as the user's
    // shells, so the default socket is the same; launchd agents get a
    // different environment, so there the socket is always spelled out.
    if platform == ServicePlatform::Launchd || socket != crate::paths::default_socket() {
        args.push("--socket".to_string());
        args.push(utf8(socket).map_err(failed)?);
    }
    let (path, content) = match platform {
        ServicePlatform::Systemd => {
            let spec = ServiceSpec { daemon, args };
            (unit_path(platform)?, systemd_unit(&spec).map_err(failed)?)
        }
        ServicePlatform::Launchd => {
            let log_file = crate::paths::default_log_file().map_err(failed)?;
            args.push("--log-file".to_string());
            args.push(utf8(&log_file).map_err(failed)?);
            let spec = ServiceSpec { daemon, args };
            let output = log_file.with_file_name("keepalived.stdio.log");
            let plist = launchd_plist(&spec, &output).map_err(failed)?;
            (unit_path(platform)?, plist)
        }
    };
    Ok(Target {
        platform,
        path,
        content,
    })
}

async fn install(
    options: &ServiceOptions,
    print: bool,
    socket: &Path,
    json: bool,
) -> Result<(), ClientError> {
    let target = target(options, socket)?;
    for note in shell_only_notes(options) {
        eprintln!("keepalivectl: note: {note}");
    }
    if print {
        let mut out = std::io::stdout().lock();
        let _ = std::io::Write::write_all(&mut out, target.content.as_bytes());
        return Ok(());
    }
    let before = std::fs::read(&target.path).ok();
    let changed = before.as_deref() != Some(target.content.as_bytes());
    if changed {
        if target.platform == ServicePlatform::Launchd {
            // launchd opens the output file but does not create its directory.
            let state_home = crate::paths::keepalive_state_home().map_err(failed)?;
            std::fs::create_dir_all(&state_home)
                .map_err(|e| failed(format!("cannot create {}: {e}", state_home.display())))?;
        }
        crate::atomic_file::write_atomically(&target.path, target.content.as_bytes()).map_err(
            |e| {
                failed(format!(
                    "cannot write {}: {e}; check that its directory is yours and writable",
                    target.path.display()
                ))
            },
        )?;
    }
    let next = match (target.platform, before.is_some() && changed) {
        (ServicePlatform::Systemd, false) => format!(
            "systemctl --user daemon-reload && systemctl --user enable --now {SYSTEMD_UNIT}"
        ),
        (ServicePlatform::Systemd, true) => format!(
            "systemctl --user daemon-reload && systemctl --user enable {SYSTEMD_UNIT} && \
             systemctl --user restart {SYSTEMD_UNIT}"
        ),
        (ServicePlatform::Launchd, false) => launchctl_bootstrap(&target.path),
        (ServicePlatform::Launchd, true) => format!(
            "launchctl bootout gui/{uid}/{LAUNCHD_LABEL}; {}",
            launchctl_bootstrap(&target.path),
            uid = crate::paths::current_uid()
        ),
    };
    let running = daemon_on(socket).await;
    if json {
        outln!(
            "{}",
            encode_ok(&json!({
                "platform": platform_name(target.platform),
                "path": target.path, "changed": changed, "next": next,
            }))
        );
    } else {
        let verb = match (before.is_some(), changed) {
            (_, false) => "already current",
            (true, true) => "updated",
            (false, true) => "wrote",
        };
        outln!("{verb}: {}", target.path.display());
        outln!("next: {next}");
    }
    if let Some(pid) = running
        && !run_by_service(pid)
    {
        eprintln!(
            "keepalivectl: note: keepalived (pid {pid}) already serves {}; stop it first \
             (`keepalivectl stop`), or the service fails to start (exit 4: already running)",
            socket.display()
        );
    }
    Ok(())
}

fn uninstall(platform: ServicePlatform, json: bool) -> Result<(), ClientError> {
    let path = unit_path(platform)?;
    if std::fs::symlink_metadata(&path).is_err() {
        if json {
            outln!(
                "{}",
                encode_ok(
                    &json!({"platform": platform_name(platform), "path": path, "removed": false})
                )
            );
        } else {
            outln!("not installed: there is no {}", path.display());
        }
        return Ok(());
    }
    if platform == ServicePlatform::Systemd && systemd_enabled()? {
        // `systemctl disable` looks for the unit file; once it is gone,
        // disabling reports "unit ... does not exist".
        return Err(failed(format!(
            "{SYSTEMD_UNIT} is enabled; disable it while its unit file still exists: run \
             `systemctl --user disable --now {SYSTEMD_UNIT}` first, then \
             `keepalivectl service uninstall` again"
        )));
    }
    // Not enabled, but it may still run (`systemctl --user start`): stopping
    // works on the loaded unit after its file is gone.
    let advice = match platform {
        ServicePlatform::Systemd => {
            format!("systemctl --user stop {SYSTEMD_UNIT}; systemctl --user daemon-reload")
        }
        ServicePlatform::Launchd => format!(
            "launchctl bootout gui/{}/{LAUNCHD_LABEL}",
            crate::paths::current_uid()
        ),
    };
    if !json {
        outln!("if the service is running, stop it: {advice}");
    }
    std::fs::remove_file(&path).map_err(|e| {
        failed(format!(
            "cannot remove {}: {e}; remove it by hand",
            path.display()
        ))
    })?;
    if json {
        outln!(
            "{}",
            encode_ok(
                &json!({"platform": platform_name(platform), "path": path, "removed": true, "next": advice})
            )
        );
    } else {
        outln!("removed: {}", path.display());
    }
    Ok(())
}

async fn status(options: &ServiceOptions, socket: &Path, json: bool) -> Result<(), ClientError> {
    let target = target(options, socket)?;
    let installed = std::fs::read(&target.path).ok();
    let difference = installed
        .as_deref()
        .and_then(|have| first_difference(&String::from_utf8_lossy(have), &target.content));
    let current = installed.is_some() && difference.is_none();
    let enabled = match target.platform {
        ServicePlatform::Systemd => Some(systemd_enabled()?),
        ServicePlatform::Launchd => None,
    };
    let running = daemon_on(socket).await;
    if json {
        outln!(
            "{}",
            encode_ok(&json!({
                "platform": platform_name(target.platform),
                "path": target.path, "installed": installed.is_some(), "current": current,
                "enabled": enabled, "socket": socket, "running": running.is_some(), "pid": running,
            }))
        );
        return Ok(());
    }
    outln!(
        "service:  {} {}",
        match target.platform {
            ServicePlatform::Systemd => "systemd user unit",
            ServicePlatform::Launchd => "launchd agent",
        },
        target.path.display()
    );
    match (&installed, &difference) {
        (None, _) => outln!("file:     not installed (run `keepalivectl service install`)"),
        (Some(_), None) => outln!("file:     installed, current"),
        (Some(_), Some((line, have, want))) => outln!(
            "file:     installed, but differs from what `keepalivectl service install` would write \
             now (line {line}: has {have:?}, would be {want:?}); run it again to update"
        ),
    }
    if let Some(enabled) = enabled {
        outln!(
            "enabled:  {}",
            if enabled {
                "yes (starts with your session)"
            } else {
                "no"
            }
        );
    }
    match running {
        Some(pid) => outln!("daemon:   running (pid {pid}) on {}", socket.display()),
        None => outln!("daemon:   not running (no daemon on {})", socket.display()),
    }
    Ok(())
}

/// The pid of the daemon answering on `socket`, if any.
async fn daemon_on(socket: &Path) -> Option<u32> {
    call::<HelloReply>(socket, &Request::Hello {})
        .await
        .ok()
        .map(|(_, hello)| hello.pid)
}

/// Whether `pid` runs in the systemd unit's cgroup (Linux only).
fn run_by_service(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .is_ok_and(|cgroups| cgroups.contains(&format!("/{SYSTEMD_UNIT}.service")))
}

/// Notes about variables set in this shell that the service will not see.
fn shell_only_notes(options: &ServiceOptions) -> Vec<String> {
    SHELL_ONLY_VARS
        .iter()
        .filter(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
        .filter(|name| match **name {
            "OPENCLAW_STATE_DIR" | "CLAWDBOT_STATE_DIR" => options.state_dir.is_none(),
            "OPENCLAW_PROFILE" => options.profile.is_none(),
            _ => true,
        })
        .map(|name| {
            let fix = match *name {
                "OPENCLAW_STATE_DIR" | "CLAWDBOT_STATE_DIR" => {
                    format!("install with --state-dir \"${name}\"")
                }
                "OPENCLAW_PROFILE" => "install with --profile \"$OPENCLAW_PROFILE\"".into(),
                _ => "set it in the service's environment".into(),
            };
            format!("${name} is set in this shell, but the service does not see it; {fix}")
        })
        .collect()
}

/// The first line where `have` and `want` differ: (1-based line, have, want).
fn first_difference(have: &str, want: &str) -> Option<(usize, String, String)> {
    let mut have_lines = have.lines();
    let mut want_lines = want.lines();
    for line in 1.. {
        match (have_lines.next(), want_lines.next()) {
            (None, None) => return (have != want).then(|| (line, String::new(), String::new())),
            (a, b) if a == b => {}
            (a, b) => {
                return Some((
                    line,
                    a.unwrap_or("").to_string(),
                    b.unwrap_or("").to_string(),
                ));
            }
        }
    }
    None
}

fn platform_name(platform: ServicePlatform) -> &'static str {
    match platform {
        ServicePlatform::Systemd => "systemd",
        ServicePlatform::Launchd => "launchd",
    }
}

fn launchctl_bootstrap(plist: &Path) -> String {
    format!(
        "launchctl bootstrap gui/{} {}",
        crate::paths::current_uid(),
        shell_quote(&plist.to_string_lossy())
    )
}

fn failed(message: String) -> ClientError {
    ClientError::Failed(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_is_found() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
        assert_eq!(
            first_difference("a\nb\n", "a\nc\n"),
            Some((2, "b".into(), "c".into()))
        );
        assert_eq!(
            first_difference("a\n", "a\nc\n"),
            Some((2, String::new(), "c".into()))
        );
    }
}
