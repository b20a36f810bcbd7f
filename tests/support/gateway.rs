//! The OpenClaw gateway's store writer (lock era) in the tests: the `openclaw-sim` crate, which
//! is written from docs/GATEWAY.md independently of keepalive's store code so that it can catch
//! keepalive's mistakes, seen the way a test wants it (a failure panics).
//!
//! Tests run its writer in a separate process (the test binary re-executes itself into an
//! ignored test, [`sim_main`]), so it really competes with the daemon.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use openclaw_sim::lock::{self, Lock, Retry, Waits};
use openclaw_sim::store::{self, Outcome, Wait};
use openclaw_sim::writer::{self, Event, Plan};
use serde_json::Value;

#[allow(unused_imports)] // each test binary uses a different part of the harness
pub use openclaw_sim::{lock::payload, store::stringify};

/// How the tests' gateway waits for its lock: for the gateway's 10 s, but trying every 2 ms,
/// harsher than the real gateway's 50 ms × attempt, so that the lock is contended the most.
const WAIT: Wait = Wait {
    retry: Retry::Every(Duration::from_millis(2)),
    timeout: lock::TIMEOUT,
};

pub fn lock_path(store: &Path) -> PathBuf {
    lock::lock_path(store).expect("realpath of the store's dir")
}

/// Takes the lock like the gateway (O_CREAT|O_EXCL), retrying until `timeout`.
pub fn acquire(store: &Path, timeout: Duration) -> Option<Lock> {
    lock::acquire(store, WAIT.retry, timeout, &mut Waits::default())
        .unwrap_or_else(|e| panic!("gateway lock of {}: {e}", store.display()))
}

/// Atomic replace as the gateway does it: `sessions.json.<uuid>.tmp`, fsync, rename.
pub fn atomic_write(store: &Path, text: &str) {
    store::atomic_write(store, text).expect("gateway write");
}

/// One locked read-modify-write that sets `entry[key][field] = value`.
/// Returns the value the field held before.
pub fn locked_set(store: &Path, key: &str, field: &str, value: Value) -> Value {
    let outcome = store::update_field(store, key, field, WAIT, &mut Waits::default(), |_| value);
    match outcome {
        Ok(Outcome::Made { previous }) => previous,
        other => panic!("the gateway's write failed: {other:?}"),
    }
}

/// Starts the gateway simulator as a separate process: `rounds` locked
/// writes of a counter into `entry[key].gatewayCounter`.
pub fn spawn(store: &Path, key: &str, rounds: u32) -> Child {
    spawn_paced(store, key, rounds, Duration::ZERO)
}

/// [`spawn`], with the simulator pausing `pause` between rounds (outside
/// its lock), as a real gateway does between writes: without a pause a
/// writer retrying every 2 ms starves the daemon's 50 ms × attempt backoff.
pub fn spawn_paced(store: &Path, key: &str, rounds: u32, pause: Duration) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "gateway_sim_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GATEWAY_SIM_STORE", store)
        .env("GATEWAY_SIM_KEY", key)
        .env("GATEWAY_SIM_ROUNDS", rounds.to_string())
        .env("GATEWAY_SIM_PAUSE_US", pause.as_micros().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the gateway simulator")
}

/// The simulator's body. Round N writes N to the counter, after checking that
/// its previous write is still there (a lost update otherwise).
/// Prints `lost=N` and fails if any update was lost or not made.
pub fn sim_main() {
    let Some(store) = std::env::var_os("GATEWAY_SIM_STORE") else {
        panic!("gateway_sim_process only runs as a helper process; other tests start it");
    };
    let store = PathBuf::from(store);
    let key = std::env::var("GATEWAY_SIM_KEY").expect("GATEWAY_SIM_KEY");
    let rounds: u32 = std::env::var("GATEWAY_SIM_ROUNDS")
        .expect("rounds")
        .parse()
        .expect("rounds");
    let pause = std::env::var("GATEWAY_SIM_PAUSE_US")
        .ok()
        .and_then(|p| p.parse().ok())
        .map_or(Duration::ZERO, Duration::from_micros);
    let plan = Plan {
        store: &store,
        key: &key,
        field: "gatewayCounter",
        updates: rounds.into(),
        pause,
        wait: WAIT,
        first: 0,
    };
    let report = writer::run(&plan, |event| match event {
        Event::Made(_) => {}
        Event::Lost {
            update,
            found,
            expected,
        } => eprintln!("gateway sim: round {update}: found {found}, expected {expected}"),
        Event::Failed { update, error } => eprintln!("gateway sim: round {update}: {error}"),
    });
    let lost = report.lost;
    println!("lost={lost} rounds={rounds}");
    assert_eq!(lost, 0, "the gateway lost {lost} of its own updates");
    assert_eq!(
        report.made,
        u64::from(rounds),
        "the gateway could not make all its updates: {report:?}"
    );
}
