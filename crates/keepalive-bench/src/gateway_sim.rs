//! The hidden `keepalive-bench gateway-sim` mode: the `openclaw-sim` crate's stand-in for the
//! OpenClaw gateway's store writer of the lock era (written from docs/GATEWAY.md), run by
//! `race` in its own process so that it really competes with the writer under test. Each
//! update adds 1 to one entry's `benchCounter`, so a lost update shows.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use openclaw_sim::store::Wait;
use openclaw_sim::writer::{self, Event, Plan};
use serde_json::json;

use crate::client::KEY;

/// The member of entry [`KEY`] that the simulator increments, once per update.
pub const FIELD: &str = "benchCounter";

/// `keepalive-bench gateway-sim`: a stand-in for the gateway's store writer (run by `race`).
#[derive(Parser)]
#[command(name = "keepalive-bench gateway-sim")]
struct SimArgs {
    /// The store, `<state>/agents/<id>/sessions/sessions.json`.
    #[arg(long)]
    store: PathBuf,
    /// The entry whose `benchCounter` each update increments.
    #[arg(long, default_value = KEY)]
    key: String,
    /// How many updates to make.
    #[arg(long)]
    updates: u64,
    /// Pause between updates, outside the lock.
    #[arg(long, default_value_t = 5)]
    interval_ms: u64,
}

/// The `gateway-sim ARGS...` mode (`args[0]` is the mode's name): make the updates, print
/// `made N` after each and `done {json}` at the end.
pub fn gateway_sim_main(args: &[OsString]) -> ! {
    let a = SimArgs::parse_from(args);
    if let Err(e) = openclaw_sim::lock::lock_path(&a.store) {
        eprintln!("gateway-sim: {}: {e}", a.store.display());
        std::process::exit(1);
    }
    let plan = Plan {
        store: &a.store,
        key: &a.key,
        field: FIELD,
        updates: a.updates,
        pause: Duration::from_millis(a.interval_ms),
        wait: Wait::GATEWAY,
        first: 1,
    };
    let r = writer::run(&plan, |event| match event {
        Event::Made(made) => println!("made {made}"),
        Event::Lost { .. } => {}
        Event::Failed { update, error } => eprintln!("gateway-sim: update {}: {error}", update + 1),
    });
    let report = json!({
        "made": r.made,
        "gaveUp": r.gave_up,
        "unreadable": r.unreadable,
        "errors": r.errors,
        "rolledBack": r.rolled_back,
        "waited": r.waits.waited,
        "maxWaitMs": r.waits.max_wait.as_secs_f64() * 1e3,
        "staleRemoved": r.waits.stale_removed,
        "wallMs": r.wall.as_secs_f64() * 1e3,
    });
    println!("done {report}");
    std::process::exit(0);
}
