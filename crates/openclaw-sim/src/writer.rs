//! A gateway that writes one counter of one entry over and over, each time under its lock and
//! after re-reading the store, as the simulator processes of keepalive's tests and of
//! `keepalive-bench race` run it beside another writer. Each update writes the counter it found
//! plus one, so an update that another writer overwrote with an older copy of the store shows:
//! the next update finds less than it wrote.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lock::Waits;
use crate::store::{Outcome, Wait, update_field};

/// What the writer does.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    pub store: &'a Path,
    /// The entry whose counter it writes.
    pub key: &'a str,
    /// The counter, a member of the entry.
    pub field: &'a str,
    pub updates: u64,
    /// Pause between updates, outside the lock.
    pub pause: Duration,
    pub wait: Wait,
    /// What an update writes when the counter holds no number (the first, normally).
    pub first: u64,
}

/// What happened, as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// An update was written: `made` so far.
    Made(u64),
    /// Update `update` (counted from 0, as all here) found `found` where the previous one
    /// wrote `expected`.
    Lost {
        update: u64,
        found: &'a Value,
        expected: u64,
    },
    /// Update `update` failed.
    Failed { update: u64, error: &'a str },
}

/// What the writer did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    pub made: u64,
    /// Updates not made: the lock was still held after the wait's timeout.
    pub gave_up: u64,
    /// Updates not made: the store was not a JSON object.
    pub unreadable: u64,
    /// Updates not made: an I/O error or a missing entry.
    pub errors: u64,
    /// Updates that found the counter not holding what the previous update wrote.
    pub lost: u64,
    /// The increments found missing, summed: how far the counter was found set back.
    pub rolled_back: u64,
    pub waits: Waits,
    pub wall: Duration,
}

/// Makes `plan.updates` updates, telling `on` of each event; returns the report.
pub fn run(plan: &Plan, mut on: impl FnMut(Event)) -> Report {
    let mut r = Report::default();
    let mut last_written: Option<u64> = None;
    let next = |found: &Value| found.as_u64().map_or(plan.first, |n| n + 1);
    let start = Instant::now();
    for update in 0..plan.updates {
        if update > 0 {
            std::thread::sleep(plan.pause);
        }
        let outcome = update_field(
            plan.store,
            plan.key,
            plan.field,
            plan.wait,
            &mut r.waits,
            |found| next(found).into(),
        );
        match outcome {
            Ok(Outcome::Made { previous }) => {
                if let Some(expected) = last_written {
                    let found = previous.as_u64().unwrap_or(0);
                    r.rolled_back += expected.saturating_sub(found);
                    if previous.as_u64() != Some(expected) {
                        r.lost += 1;
                        on(Event::Lost {
                            update,
                            found: &previous,
                            expected,
                        });
                    }
                }
                last_written = Some(next(&previous));
                r.made += 1;
                on(Event::Made(r.made));
            }
            Ok(Outcome::GaveUp) => r.gave_up += 1,
            Ok(Outcome::Unreadable) => r.unreadable += 1,
            Err(error) => {
                r.errors += 1;
                on(Event::Failed {
                    update,
                    error: &error,
                });
            }
        }
    }
    r.wall = start.elapsed();
    r
}
