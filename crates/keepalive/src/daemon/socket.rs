//! The daemon's socket: a private directory, one daemon per socket, and a
//! listener that only the daemon's own user may use.
//!
//! Uniqueness comes from an exclusive lock on `<socket>.lock`, held for the
//! daemon's lifetime. The kernel drops it when the process dies, even by
//! SIGKILL, so a crashed daemon never blocks the next one; and only the lock
//! holder may remove a leftover socket file and bind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::local_socket::ListenerOptionsExt;

use crate::paths::current_uid;

/// `sun_path` holds 108 bytes on Linux (104 on macOS) including the NUL.
const MAX_SOCKET_PATH: usize = 103;

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("keepalived is already running (pid {pid}) on {}", socket.display())]
    AlreadyRunning { pid: String, socket: PathBuf },
    #[error("keepalived is already running (pid {pid}) and writing the session stores of {}; only one keepalive may write them: talk to that one with keepalivectl (with --socket if it runs on another socket), or stop it first", state_dir.display())]
    WriterRunning { pid: String, state_dir: PathBuf },
    #[error("socket path {} is {len} bytes, longer than the {MAX_SOCKET_PATH} a Unix socket allows; pass a shorter --socket", path.display())]
    TooLong { path: PathBuf, len: usize },
    #[error("socket directory {} belongs to uid {owner}, not to you (uid {me}); pass a --socket in a directory you own", dir.display())]
    ForeignDirectory { dir: PathBuf, owner: u32, me: u32 },
    #[error("{} exists and is not a socket; refusing to replace it. Remove it or pass another --socket", path.display())]
    NotASocket { path: PathBuf },
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for the daemon's lifetime: the instance lock, and the socket path to
/// remove at a clean exit.
#[derive(Debug)]
pub struct SocketGuard {
    path: PathBuf,
    _lock: File,
}

impl SocketGuard {
    /// Removes the socket file. The lock file stays: deleting it while
    /// another process has it open would let two daemons lock two inodes.
    pub fn remove_socket(&self) {
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove socket {}: {e}", self.path.display());
        }
    }
}

/// The writer lock of an OpenClaw state dir (see [`crate::settings::SettingsFile::writer_lock`]):
/// one keepalive at a time writes its stores, ledgers and event log, whatever socket it was
/// started on (cron's default socket is not a login session's) and `--once` included. Held
/// until dropped, with this process's pid in it. Dry runs write nothing and need none.
pub fn lock_writer(lock_path: &Path, state_dir: &Path) -> Result<File, SocketError> {
    if let Some(dir) = lock_path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("create the state folder", dir))?;
    }
    let mut lock = open_lock(lock_path).map_err(io("open the writer lock", lock_path))?;
    hold(&mut lock, lock_path, state_dir).map_err(|e| match e {
        SocketError::AlreadyRunning { pid, .. } => SocketError::WriterRunning {
            pid,
            state_dir: state_dir.into(),
        },
        other => other,
    })?;
    write_pid(&mut lock, lock_path)?;
    Ok(lock)
}

/// Opens (creating it, private) the instance lock file; the lock itself is [`hold`]'s.
fn open_lock(lock_path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(lock_path)
}

/// Records our pid in the held lock, for the "already running" message of the next one.
fn write_pid(lock: &mut File, lock_path: &Path) -> Result<(), SocketError> {
    lock.set_len(0)
        .and_then(|()| lock.rewind())
        .and_then(|()| writeln!(lock, "{}", std::process::id()))
        .map_err(io("write the instance lock", lock_path))
}

/// Takes the exclusive lock on the open `lock` file, or says which daemon holds it.
fn hold(lock: &mut File, lock_path: &Path, socket: &Path) -> Result<(), SocketError> {
    match lock.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = lock.read_to_string(&mut pid);
            let pid = pid.trim();
            Err(SocketError::AlreadyRunning {
                pid: if pid.is_empty() {
                    "unknown".into()
                } else {
                    pid.into()
                },
                socket: socket.into(),
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io("lock", lock_path)(e)),
    }
}

/// Prepares the socket directory, takes the instance lock and binds.
/// `private_dir`: the directory is keepalive's own (the default location),
/// so its mode is enforced as 0700 rather than only its owner checked.
pub fn bind(path: &Path, private_dir: bool) -> Result<(SocketGuard, Listener), SocketError> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(SocketError::TooLong {
            path: path.into(),
            len,
        });
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    prepare_dir(dir, private_dir)?;

    let lock_path = crate::paths::instance_lock(path);
    let mut lock = open_lock(&lock_path).map_err(io("open the instance lock", &lock_path))?;
    hold(&mut lock, &lock_path, path)?;
    write_pid(&mut lock, &lock_path)?;

    // We hold the lock, so a socket file here is a crashed daemon's.
    match path.symlink_metadata() {
        Ok(meta) if meta.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(io("remove the stale socket", path))?;
        }
        Ok(_) => return Err(SocketError::NotASocket { path: path.into() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("inspect", path)(e)),
    }
    let name = path
        .to_fs_name::<GenericFilePath>()
        .map_err(io("name the socket", path))?;
    let listener = ListenerOptions::new()
        .name(name)
        .mode(0o600)
        .reclaim_name(false)
        .create_tokio()
        .map_err(io("bind", path))?;
    Ok((
        SocketGuard {
            path: path.into(),
            _lock: lock,
        },
        listener,
    ))
}

/// `<socket>.lock`, beside the socket.
fn prepare_dir(dir: &Path, private_dir: bool) -> Result<(), SocketError> {
    match dir.metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("create the socket directory", dir)),
        Err(e) => Err(io("inspect the socket directory", dir)(e)),
        Ok(meta) => {
            let me = current_uid();
            if meta.uid() != me {
                return Err(SocketError::ForeignDirectory {
                    dir: dir.into(),
                    owner: meta.uid(),
                    me,
                });
            }
            if private_dir && meta.mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(io("make private (0700)", dir))?;
            }
            Ok(())
        }
    }
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SocketError {
    let path = path.to_path_buf();
    move |source| SocketError::Io { op, path, source }
}
