//! `keepalivectl logs [-f] [-n N]`: the daemon's log, newest file first,
//! following rotation when asked to follow.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use keepalive_proto::{Request, StatusReply};

use super::connection::{ClientError, call};
use crate::logging::log_files;

pub async fn run(
    socket: &Path,
    file: Option<PathBuf>,
    lines: usize,
    follow: bool,
) -> Result<(), ClientError> {
    let base = match file {
        Some(file) => file,
        None => match call::<StatusReply>(socket, &Request::Status {}).await {
            Ok((_, status)) => status.log_file.map(PathBuf::from).ok_or_else(|| {
                ClientError::Failed(
                    "the running keepalived logs to stderr (it was started without --log-file); \
                     see wherever its stderr goes, e.g. journalctl --user -u openclaw-keepalive"
                        .into(),
                )
            })?,
            Err(ClientError::NotRunning { .. }) => {
                crate::paths::default_log_file().map_err(ClientError::Failed)?
            }
            Err(e) => return Err(e),
        },
    };
    let Some(mut current) = log_files(&base).pop() else {
        return Err(ClientError::Failed(format!(
            "no log files at {}.*: keepalived writes them when started by `keepalivectl start` or \
             with --log-file (pass the path with --file)",
            base.display()
        )));
    };
    let text = std::fs::read(&current).map_err(|e| io(&current, e))?;
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    for line in &all[all.len().saturating_sub(lines)..] {
        outln!("{line}");
    }
    if !follow {
        return Ok(());
    }
    let mut offset = text.len() as u64;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        offset = print_from(&current, offset)?;
        // Rotation: a newer file appeared; finish the old one, then switch.
        if let Some(newest) = log_files(&base).pop()
            && newest != current
        {
            print_from(&current, offset)?;
            current = newest;
            offset = 0;
        }
    }
}

/// Prints what was appended to `path` after `offset`; returns the new offset.
fn print_from(path: &Path, offset: u64) -> Result<u64, ClientError> {
    let mut file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let len = file.metadata().map_err(|e| io(path, e))?.len();
    if len <= offset {
        return Ok(len.min(offset));
    }
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| io(path, e))?;
    let mut new = Vec::new();
    file.read_to_end(&mut new).map_err(|e| io(path, e))?;
    // Print whole lines only; a partial last line waits for the next poll.
    let complete = new.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    for line in String::from_utf8_lossy(&new[..complete]).lines() {
        outln!("{line}");
    }
    Ok(offset + complete as u64)
}

fn io(path: &Path, e: std::io::Error) -> ClientError {
    ClientError::Failed(format!("cannot read log file {}: {e}", path.display()))
}
