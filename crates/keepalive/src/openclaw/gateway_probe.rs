//! Asking a running gateway which release it is. Its command line cannot
//! tell: every release sets `process.title`, which overwrites argv. What a
//! running gateway does leave (docs/GATEWAY.md, "Which release is running"):
//! its instance lock `<tmp>/openclaw-<uid>/gateway.<hash>.lock` with its
//! `pid` and `configPath` (and `port` from 2026.7.35), a loopback listening
//! socket, and `GET /control-ui-config.json` answering its `serverVersion`.
//! Only loopback is contacted, with short timeouts; nothing is written.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// A running gateway of this user that serves the given config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningGateway {
    pub pid: u32,
    /// What it said its release is, or why it could not be asked.
    pub version: Result<String, String>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// For the whole exchange, not each read: a peer trickling bytes must not
/// hold up a tick.
const ANSWER_DEADLINE: Duration = Duration::from_millis(800);
/// The answer is a small JSON object; more than this is not it.
const MAX_ANSWER: u64 = 256 * 1024;

/// The running gateway whose instance lock names `config_path` (or a
/// config in `state_dir`), if any.
pub fn serving(state_dir: &Path, config_path: &Path) -> Option<RunningGateway> {
    let uid = crate::paths::current_uid();
    let wanted = [canonical(config_path), canonical(state_dir)];
    let mut dirs = vec![std::env::temp_dir().join(format!("openclaw-{uid}"))];
    let default = PathBuf::from(format!("/tmp/openclaw-{uid}"));
    if !dirs.contains(&default) {
        dirs.push(default);
    }
    // Only a folder and files of this user, that nobody else can write: a
    // planted lock must not choose the release keepalive believes in.
    let mut locks: Vec<Value> = dirs
        .iter()
        .filter(|dir| private_to(dir, uid, true))
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("gateway.") && name.ends_with(".lock")
        })
        .filter(|e| private_to(&e.path(), uid, false))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect();
    locks.sort_by_key(|l| l.get("pid").and_then(Value::as_u64));
    locks.into_iter().find_map(|lock| {
        let pid = u32::try_from(lock.get("pid")?.as_u64()?).ok()?;
        let config = PathBuf::from(lock.get("configPath")?.as_str()?);
        let serves = canonical(&config) == wanted[0]
            || config
                .parent()
                .is_some_and(|dir| canonical(dir) == wanted[1]);
        if !serves || !alive_and_ours(pid, uid) {
            return None;
        }
        let port = lock.get("port").and_then(Value::as_u64);
        // Up to 2026.4 the lock's pid is a launcher whose child listens. A
        // port named in the lock is asked only if the process listens on it.
        let listening: Vec<u16> = std::iter::once(pid)
            .chain(children(pid))
            .flat_map(listening_ports)
            .collect();
        let ports = match port.and_then(|p| u16::try_from(p).ok()) {
            Some(p) if listening.contains(&p) => vec![p],
            _ => listening,
        };
        let version = ask_version(&ports);
        Some(RunningGateway { pid, version })
    })
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A directory (or a small regular file) owned by `uid` and not writable by
/// group or others.
fn private_to(path: &Path, uid: u32, dir: bool) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| {
        let kind = if dir {
            m.is_dir()
        } else {
            m.is_file() && m.len() <= 64 * 1024
        };
        kind && m.uid() == uid && m.mode() & 0o022 == 0
    })
}

fn alive_and_ours(pid: u32, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == uid)
}

/// The child processes of `pid` (from every thread's `children` list).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The TCP ports `pid` listens on: its socket inodes matched against the
/// LISTEN rows of `/proc/net/tcp` and `tcp6`.
fn listening_ports(pid: u32) -> Vec<u16> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inodes: Vec<String> = fds
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for row in text.lines().skip(1) {
            let cols: Vec<&str> = row.split_whitespace().collect();
            // local_address is ADDR:PORT in hex; st 0A is LISTEN; col 9 the inode.
            let (Some(local), Some("0A"), Some(inode)) =
                (cols.get(1), cols.get(3).copied(), cols.get(9))
            else {
                continue;
            };
            if inodes.iter().any(|i| i == inode)
                && let Some(port) = local
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
                && !ports.contains(&port)
            {
                ports.push(port);
            }
        }
    }
    ports
}

/// `serverVersion` from the first port that answers `/control-ui-config.json`.
fn ask_version(ports: &[u16]) -> Result<String, String> {
    if ports.is_empty() {
        return Err("it listens on no TCP port keepalive can see".into());
    }
    let mut last = String::new();
    for port in ports {
        match ask_port(*port) {
            Ok(version) => return Ok(version),
            Err(e) => last = format!("port {port}: {e}"),
        }
    }
    Err(last)
}

fn ask_port(port: u16) -> Result<String, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream =
        TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + ANSWER_DEADLINE;
    stream
        .set_write_timeout(Some(ANSWER_DEADLINE))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(
            b"GET /control-ui-config.json HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n",
        )
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline
            .checked_duration_since(std::time::Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or("no complete answer in time")?;
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(e.to_string()),
        }
        if answer.len() as u64 > MAX_ANSWER {
            return Err("an answer too large to be the one asked for".into());
        }
    }
    let body_at = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP answer")?;
    let status = String::from_utf8_lossy(&answer[..body_at.min(64)]).into_owned();
    if !status.starts_with("HTTP/1.") || !status.contains(" 200 ") {
        let line = status.lines().next().unwrap_or_default().to_string();
        return Err(format!("answered {line:?}"));
    }
    let body: Value =
        serde_json::from_slice(&answer[body_at + 4..]).map_err(|e| format!("not JSON: {e}"))?;
    body.get("serverVersion")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "no serverVersion in its answer".into())
}
