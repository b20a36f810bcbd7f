//! `keepalived --exit-with PID`: stop gracefully when another process (a
//! gateway that started keepalive as its companion) exits.
//!
//! On Linux the daemon holds a pidfd (`pidfd_open(2)`), which becomes
//! readable when the process exits: no polling, and no confusion with a
//! later process that reuses the PID. Elsewhere, or where pidfds are not
//! available (kernels before 5.3, seccomp filters), it checks the PID once
//! a second with `kill(pid, 0)`; on Linux a zombie (exited, not yet reaped
//! by its parent) counts as exited there too.

use std::sync::Arc;
use std::time::Duration;

use super::state::Daemon;

/// How often the portable fallback looks at the process.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// A process to follow, checked to exist when it was created.
#[derive(Debug)]
pub struct ExitWith {
    pid: libc::pid_t,
    #[cfg(target_os = "linux")]
    pidfd: Option<std::os::fd::OwnedFd>,
}

impl ExitWith {
    /// Checks that `pid` names a live process, and on Linux opens its pidfd
    /// now, so that an exit between this check and the wait is not missed.
    pub fn new(pid: u32) -> Result<Self, String> {
        let pid = libc::pid_t::try_from(pid)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("--exit-with {pid} is not a process id"))?;
        match alive(pid) {
            Alive::Yes => {}
            Alive::No => {
                return Err(format!(
                    "--exit-with {pid}: no process with that id is running; pass the PID of the \
                     running process keepalived should follow (e.g. the gateway's)"
                ));
            }
            Alive::Zombie => {
                return Err(format!(
                    "--exit-with {pid}: that process has already exited (it is a zombie waiting \
                     for its parent); pass the PID of a running process"
                ));
            }
        }
        Ok(ExitWith {
            pid,
            #[cfg(target_os = "linux")]
            pidfd: linux::pidfd_open(pid),
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid.unsigned_abs()
    }

    /// Waits until the process exits.
    pub async fn exited(self) {
        #[cfg(target_os = "linux")]
        if let Some(fd) = self.pidfd {
            // SAFETY: the OwnedFd is open, owned by the AsyncFd from here on,
            // and always returns the same descriptor.
            let registered = unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
            };
            match registered {
                Ok(fd) => match fd.readable().await {
                    Ok(_) => return,
                    Err(e) => tracing::debug!("pidfd wait failed ({e}); polling instead"),
                },
                Err(e) => tracing::debug!("cannot register the pidfd ({e}); polling instead"),
            }
        }
        let mut ticks = tokio::time::interval(POLL_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if !matches!(alive(self.pid), Alive::Yes) {
                return;
            }
        }
    }

    /// Begins the daemon's normal graceful shutdown when the process exits;
    /// ends on its own when the daemon stops for another reason.
    pub async fn watch(self, daemon: Arc<Daemon>) {
        let pid = self.pid();
        tokio::select! {
            () = self.exited() => {
                tracing::info!("process {pid} (--exit-with) exited: shutting down");
                daemon.begin_shutdown();
            }
            () = daemon.shutdown.cancelled() => {}
        }
    }
}

enum Alive {
    Yes,
    No,
    Zombie,
}

fn alive(pid: libc::pid_t) -> Alive {
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
        // ESRCH: gone. (EPERM means it exists but belongs to someone else.)
        return Alive::No;
    }
    #[cfg(target_os = "linux")]
    if linux::is_zombie(pid) {
        return Alive::Zombie;
    }
    Alive::Yes
}

#[cfg(target_os = "linux")]
mod linux {
    use std::os::fd::{FromRawFd, OwnedFd};

    /// The pidfd of `pid`, or `None` where the kernel cannot give one.
    pub fn pidfd_open(pid: libc::pid_t) -> Option<OwnedFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            tracing::debug!(
                "pidfd_open({pid}) failed ({}); polling the process instead",
                std::io::Error::last_os_error()
            );
            return None;
        }
        let fd = i32::try_from(fd).ok()?;
        // SAFETY: the kernel just returned this fd to us, and nothing else owns it.
        Some(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Whether `/proc/<pid>/stat` says the process is a zombie (`Z`) or dead (`X`).
    pub fn is_zombie(pid: libc::pid_t) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // "pid (comm) S ...": comm may contain spaces and parentheses, so
        // the state is the first field after the last ')'.
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_pid_zero_is_refused() {
        assert!(matches!(alive(std::process::id() as i32), Alive::Yes));
        assert!(ExitWith::new(0).is_err());
        assert!(ExitWith::new(u32::MAX).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_reaped_child_is_gone_and_an_unreaped_one_is_a_zombie() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id() as i32;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !linux::is_zombie(pid) {
            assert!(std::time::Instant::now() < deadline, "child never exited");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(matches!(alive(pid), Alive::Zombie));
        let err = ExitWith::new(pid as u32).expect_err("a zombie is refused");
        assert!(err.contains("already exited"), "{err}");
        child.wait().expect("wait");
        assert!(matches!(alive(pid), Alive::No));
    }

    /// The portable fallback (no pidfd) sees an exit even before the
    /// process is reaped.
    #[tokio::test]
    async fn polling_sees_an_exit_without_a_pidfd() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn");
        #[allow(unused_mut)]
        let mut watch = ExitWith::new(child.id()).expect("a running child");
        #[cfg(target_os = "linux")]
        {
            watch.pidfd = None;
        }
        let waiting = tokio::spawn(watch.exited());
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!waiting.is_finished(), "the child still runs");
        child.kill().expect("kill");
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the exit was seen within 5 s")
            .expect("join");
        child.wait().expect("wait");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_pidfd_sees_an_exit() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn");
        let watch = ExitWith::new(child.id()).expect("a running child");
        if watch.pidfd.is_none() {
            eprintln!("SKIPPED: this kernel (or its seccomp filter) gives no pidfds");
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        let waiting = tokio::spawn(watch.exited());
        child.kill().expect("kill");
        child.wait().expect("wait");
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("the exit was seen at once")
            .expect("join");
    }
}
