//! Telling a store's generation from what its entries carry (docs/GATEWAY.md,
//! "The store and its writers"). The SQLite generation is told by the agent
//! database's tables ([`super::agent_db`]), before the store is even read.

use keepalive_store::{StoreScan, Timestamp};

use super::Generation;

/// json-v2 when any entry has an integer `lastInteractionAt` or
/// `sessionStartedAt`; json-v1 when entries carry an integer `updatedAt`
/// (or there are none yet: nothing to write either way); unknown otherwise
/// (as PROTOCOL.md says: timestamps keepalive could never move are not a
/// layout it knows).
pub fn detect(scan: &StoreScan) -> Generation {
    let has = |t: &Timestamp| matches!(t, Timestamp::Integer { .. });
    if scan
        .entries
        .iter()
        .any(|e| has(&e.last_interaction_at) || has(&e.session_started_at))
    {
        Generation::JsonV2
    } else if scan.entries.is_empty() || scan.entries.iter().any(|e| has(&e.updated_at)) {
        Generation::JsonV1
    } else {
        Generation::Unknown
    }
}
