//! 4. Idle cost: a daemon serving 10 agents at the default interval, over a fixed window.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::Section;
use crate::store::{self, Size};
use crate::util::{self, Env, mib};

/// utime + stime of the whole process (all threads, dead ones included), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let f = util::proc_stat(pid).expect("read /proc/pid/stat");
    // utime is field 14, stime field 15.
    let field = |n: usize| {
        f.get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

/// CPU time of the whole process in nanoseconds, from its CPU-time clock
/// (`clock_getcpuclockid`), far finer than the clock ticks of /proc/<pid>/stat.
fn cpu_ns(pid: u32) -> Option<u64> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: out-parameters owned by this frame.
    if unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) } != 0 {
        return None;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: as above.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

pub fn run(bins: &Path, agents: usize, window: Duration, warmup: Duration) -> Section {
    let env = Env::new(bins);
    for i in 0..agents {
        store::fresh_store(&env.state_dir(), &format!("agent{i}"), Size::SMALL);
    }
    let daemon = env.start_daemon(&[]);
    let pid = daemon.pid();
    std::thread::sleep(warmup);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let (t0, n0, w0) = (cpu_ticks(pid), cpu_ns(pid), Instant::now());
    std::thread::sleep(window);
    let (t1, n1, w1) = (cpu_ticks(pid), cpu_ns(pid), Instant::now());
    let secs = (w1 - w0).as_secs_f64();
    let rss = status_kib(pid, "VmRSS:");
    let hwm = status_kib(pid, "VmHWM:");
    let tick_cpu = (t1 - t0) as f64 / hz;
    let ns_cpu = match (n0, n1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e9),
        _ => None,
    };
    let mut s = Section::new(
        "idle",
        "Idle cost: one daemon, 10 agents (200 KB stores), default interval (60 s), policy schedule",
        &[
            "agents",
            "window",
            "CPU time (utime+stime)",
            "% CPU (utime+stime)",
            "CPU time (process CPU clock)",
            "% CPU (process CPU clock)",
            "CPU since start (incl. start-up, first round)",
            "RSS at end",
            "peak RSS (VmHWM)",
        ],
    );
    s.row(vec![
        agents.to_string(),
        format!("{secs:.1} s"),
        format!("{:.0} ms", tick_cpu * 1e3),
        format!("{:.4} %", tick_cpu / secs * 100.0),
        ns_cpu.map_or("unavailable".into(), |c| format!("{:.2} ms", c * 1e3)),
        ns_cpu.map_or("unavailable".into(), |c| {
            format!("{:.4} %", c / secs * 100.0)
        }),
        n1.map_or("unavailable".into(), |n| {
            format!("{:.1} ms", n as f64 / 1e6)
        }),
        mib(rss),
        mib(hwm),
    ]);
    s.note(&format!(
        "Measured after a {:.1} s warm-up (start-up and the first round excluded). utime+stime come \
         from /proc/<pid>/stat in clock ticks ({hz:.0} Hz: resolution {:.3} % over this window); \
         the process CPU clock (`clock_getcpuclockid`) gives the same total in nanoseconds. With a 60 s window exactly one tick per agent falls inside; a \
         shorter window may catch none.",
        warmup.as_secs_f64(),
        100.0 / hz / secs
    ));
    drop(daemon);
    s
}
