//! Where the service's files are: the systemd unit or the launchd plist, and the keepalived
//! that it runs.

use std::path::PathBuf;

use super::{LAUNCHD_LABEL, SYSTEMD_UNIT, failed};
use crate::cli::ServicePlatform;
use crate::client::connection::ClientError;

/// keepalived next to this keepalivectl, checked to be keepalive's.
pub fn daemon_beside_ctl() -> Result<PathBuf, ClientError> {
    let exe = std::env::current_exe()
        .map_err(|e| failed(format!("cannot find where keepalivectl is installed: {e}")))?;
    let daemon = crate::client::start::daemon_beside(&exe)
        .filter(|path| path.is_file())
        .ok_or_else(|| {
            failed(format!(
                "there is no keepalived next to {}; install both with `cargo install --path \
                 crates/keepalive`, then run that keepalivectl",
                exe.display()
            ))
        })?;
    if !crate::client::start::is_ours(&daemon) {
        return Err(failed(format!(
            "{} is not keepalive's keepalived (its --version lacks {:?}); reinstall with \
             `cargo install --path crates/keepalive`",
            daemon.display(),
            crate::VERSION_MARKER
        )));
    }
    Ok(daemon)
}

fn home() -> Result<PathBuf, ClientError> {
    directories::BaseDirs::new()
        .map(|b| b.home_dir().to_path_buf())
        .ok_or_else(|| failed("cannot find your home directory; set HOME".into()))
}

/// `$XDG_CONFIG_HOME/systemd/user` (default `~/.config/systemd/user`), where
/// the user's systemd looks for units.
fn systemd_user_dir() -> Result<PathBuf, ClientError> {
    let config = match std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => home()?.join(".config"),
    };
    Ok(config.join("systemd").join("user"))
}

/// The file a platform's service lives in.
pub fn unit_path(platform: ServicePlatform) -> Result<PathBuf, ClientError> {
    match platform {
        ServicePlatform::Systemd => systemd_unit_path(),
        ServicePlatform::Launchd => launchd_plist_path(),
    }
}

fn systemd_unit_path() -> Result<PathBuf, ClientError> {
    Ok(systemd_user_dir()?.join(format!("{SYSTEMD_UNIT}.service")))
}

/// Whether `systemctl --user enable` linked the unit into default.target.
pub fn systemd_enabled() -> Result<bool, ClientError> {
    let link = systemd_user_dir()?
        .join("default.target.wants")
        .join(format!("{SYSTEMD_UNIT}.service"));
    Ok(std::fs::symlink_metadata(link).is_ok())
}

fn launchd_plist_path() -> Result<PathBuf, ClientError> {
    Ok(home()?
        .join("Library")
        .join("LaunchAgents")
        .join(format!("{LAUNCHD_LABEL}.plist")))
}
