//! Wall-clock helpers shared by the daemon, the client and the policy: below everything else,
//! so no layer reaches into another for them.

use std::time::{SystemTime, UNIX_EPOCH};

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
