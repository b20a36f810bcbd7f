//! Where things live: the socket, keepalive's own files.

use std::path::{Path, PathBuf};

/// The lock one daemon holds for its socket (`<socket>.lock`): the daemon takes it, the
/// client reads the pid in it.
pub fn instance_lock(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Socket file name inside the socket directory.
pub const SOCKET_FILE: &str = "keepalived.sock";

/// The default socket: `$XDG_RUNTIME_DIR/keepalive/keepalived.sock`, or a
/// per-user directory under the temp dir where there is no runtime dir.
pub fn default_socket() -> PathBuf {
    let runtime = directories::BaseDirs::new().and_then(|b| b.runtime_dir().map(Path::to_path_buf));
    match runtime {
        Some(dir) => dir.join("keepalive").join(SOCKET_FILE),
        None => std::env::temp_dir()
            .join(format!("keepalive-{}", current_uid()))
            .join(SOCKET_FILE),
    }
}

/// The socket to use: `--socket` (or `KEEPALIVE_SOCKET`, which clap folds
/// into the flag), else the default.
pub fn socket_path(flag: Option<&Path>) -> Result<PathBuf, String> {
    match flag {
        Some(path) => absolute(path),
        None => Ok(default_socket()),
    }
}

/// keepalive's own state directory (settings, logs):
/// `$XDG_STATE_HOME/keepalive` on Linux, the platform equivalent elsewhere.
pub fn keepalive_state_home() -> Result<PathBuf, String> {
    let dirs = directories::ProjectDirs::from("", "", "keepalive")
        .ok_or("cannot find your home directory to keep keepalive's settings; set HOME")?;
    Ok(dirs
        .state_dir()
        .unwrap_or_else(|| dirs.data_local_dir())
        .to_path_buf())
}

/// The default log file of a daemon started by `keepalivectl start`.
pub fn default_log_file() -> Result<PathBuf, String> {
    Ok(keepalive_state_home()?.join("keepalived.log"))
}

pub fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("cannot resolve {}: {e}", path.display()))
}
