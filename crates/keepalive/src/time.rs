//! Wall-clock helpers shared by the daemon, the client and the policy: below everything else,
//! so no layer reaches into another for them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const MINUTE_MS: u64 = 60_000;

/// Milliseconds since the epoch; 0 for a time before it, `u64::MAX` far beyond.
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A Unix ms time as people read it (UTC, to the second).
pub fn utc(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// How long this machine has been suspended since it booted: the boot-time clock counts the
/// time asleep, the monotonic clock does not. `None` where that cannot be told (not Linux).
/// Two readings tell whether the machine slept in between, whatever the wall clock did.
pub fn asleep_total() -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        let read = |clock| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid, writable timespec for the call's duration.
            let ok = unsafe { libc::clock_gettime(clock, &mut ts) } == 0;
            let secs = u64::try_from(ts.tv_sec).ok()?;
            let nanos = u32::try_from(ts.tv_nsec).ok()?;
            ok.then(|| Duration::new(secs, nanos))
        };
        // Boot time first: read the other way round, a reading could come out negative.
        let monotonic = read(libc::CLOCK_MONOTONIC)?;
        let boot = read(libc::CLOCK_BOOTTIME)?;
        Some(boot.saturating_sub(monotonic))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// A sleep shorter than this is not told (the two clocks are read a moment apart).
const SLEEP_TOLD_FROM: Duration = Duration::from_secs(2);

/// How long the machine slept between two readings of [`asleep_total`].
pub fn slept_ms(then: Option<Duration>, now: Option<Duration>) -> u64 {
    match (then, now) {
        (Some(then), Some(now)) if now.saturating_sub(then) >= SLEEP_TOLD_FROM => {
            u64::try_from(now.saturating_sub(then).as_millis()).unwrap_or(u64::MAX)
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_time_asleep_is_read_and_does_not_go_back() {
        let first = super::asleep_total();
        if cfg!(target_os = "linux") {
            let first = first.expect("Linux has CLOCK_BOOTTIME");
            let again = super::asleep_total().expect("again");
            // Not asleep between two readings; the clocks' own jitter is far under 1 ms.
            assert!(again + std::time::Duration::from_millis(1) >= first);
            assert!(again.saturating_sub(first) < std::time::Duration::from_millis(50));
        } else {
            assert_eq!(first, None);
        }
    }

    #[test]
    fn a_sleep_is_told_from_two_seconds_on() {
        use super::slept_ms;
        use std::time::Duration;
        let s = Duration::from_secs;
        assert_eq!(slept_ms(None, Some(s(100))), 0, "no earlier reading");
        assert_eq!(slept_ms(Some(s(100)), None), 0, "no reading now");
        assert_eq!(slept_ms(Some(s(100)), Some(s(101))), 0, "under two seconds");
        assert_eq!(slept_ms(Some(s(100)), Some(s(102))), 2_000);
        assert_eq!(slept_ms(Some(s(100)), Some(s(90))), 0, "never negative");
        assert_eq!(slept_ms(Some(s(0)), Some(s(7 * 3600))), 7 * 3_600_000);
    }
}
