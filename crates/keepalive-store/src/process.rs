//! Process liveness as the gateway judges it: `kill(pid, 0)` plus, on Linux, the state and
//! start time from `/proc/<pid>/stat` (zombies count as dead, a different start time means
//! the pid was recycled).

/// Whether `pid` names a process we should consider alive. EPERM means it exists but belongs
/// to another user, which is alive. Pids that `kill` would interpret as process groups
/// (0, or beyond `i32::MAX` which wraps negative) are treated as dead: no real holder has them.
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    // SAFETY: signal 0 performs only the existence/permission check; no signal is sent.
    let rc = unsafe { libc::kill(raw, 0) };
    if rc == 0 {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The parts of `/proc/<pid>/stat` we need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub state: u8,
    pub starttime: u64,
}

/// Parse a `/proc/<pid>/stat` line. Field 2 is `(comm)` and may itself contain spaces and
/// parentheses, so fields are counted from after the LAST `)`.
pub(crate) fn parse_proc_stat(line: &str) -> Option<ProcStat> {
    let rest = &line[line.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // `fields` now starts at field 3 (state); starttime is field 22.
    let state = *fields.next()?.as_bytes().first()?;
    let starttime = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, starttime })
}

/// `/proc/<pid>/stat` of a process, when the platform has it and the process exists.
#[cfg(target_os = "linux")]
pub(crate) fn proc_stat(pid: u32) -> Option<ProcStat> {
    let line = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_proc_stat(&line)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn proc_stat(_pid: u32) -> Option<ProcStat> {
    None
}

/// Our own start time, for the lock payload (absent where /proc is). It never changes, so
/// /proc is read once per process, not on every probe of a busy lock.
pub(crate) fn own_starttime() -> Option<u64> {
    static OWN: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *OWN.get_or_init(|| proc_stat(std::process::id()).map(|s| s.starttime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comm_with_spaces_and_parens() {
        let line = "4242 (evil) (name) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(
            parse_proc_stat(line),
            Some(ProcStat {
                state: b'S',
                starttime: 987654
            })
        );
        assert_eq!(parse_proc_stat("garbage"), None);
        assert_eq!(parse_proc_stat("1 (x) Z 1 2"), None);
    }

    #[test]
    fn own_process_is_alive_and_bogus_pids_are_not() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(0));
        assert!(!pid_alive(u32::MAX));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn own_starttime_matches_proc() {
        let own = own_starttime().expect("linux has /proc/self/stat");
        assert_eq!(
            proc_stat(std::process::id()).map(|s| s.starttime),
            Some(own)
        );
    }
}
