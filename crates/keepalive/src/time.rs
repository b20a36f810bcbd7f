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
