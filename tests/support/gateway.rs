//! A stand-in for the OpenClaw gateway's store writer, written from
//! docs/GATEWAY.md (the lock era) independently of keepalive's own store code so that it can
//! catch keepalive's mistakes: O_EXCL lock file with the gateway's payload,
//! re-read under the lock, change a field, temp file + fsync + rename.
//!
//! Tests run it in a separate process (the test binary re-executes itself
//! into an ignored test, [`sim_main`]), so it really competes with the daemon.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

/// The gateway's lock file, removed when dropped.
pub struct GatewayLock {
    pub path: PathBuf,
}

impl Drop for GatewayLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub fn lock_path(store: &Path) -> PathBuf {
    let dir = store
        .parent()
        .expect("store dir")
        .canonicalize()
        .expect("realpath");
    dir.join("sessions.json.lock")
}

/// The payload the gateway writes: `JSON.stringify({pid, createdAt, starttime}, null, 2)`.
pub fn payload(pid: u32, created: SystemTime) -> String {
    let created_at = humantime::format_rfc3339_millis(created).to_string();
    match starttime(pid) {
        Some(start) => format!(
            "{{\n  \"pid\": {pid},\n  \"createdAt\": \"{created_at}\",\n  \"starttime\": {start}\n}}"
        ),
        None => format!("{{\n  \"pid\": {pid},\n  \"createdAt\": \"{created_at}\"\n}}"),
    }
}

/// Field 22 of /proc/<pid>/stat.
pub fn starttime(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 2..];
    after_comm.split(' ').nth(19)?.parse().ok()
}

/// Takes the lock like the gateway (O_CREAT|O_EXCL), retrying until `timeout`.
pub fn acquire(store: &Path, timeout: Duration) -> Option<GatewayLock> {
    let path = lock_path(store);
    let deadline = Instant::now() + timeout;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(payload(std::process::id(), SystemTime::now()).as_bytes())
                    .ok()?;
                return Some(GatewayLock { path });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if Instant::now() > deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("gateway lock {}: {e}", path.display()),
        }
    }
}

/// Atomic replace as the gateway does it: `sessions.json.<uuid>.tmp`, fsync, rename.
pub fn atomic_write(store: &Path, text: &str) {
    let dir = store.parent().expect("dir");
    let tmp = dir.join(format!("sessions.json.{:08x}-gw.tmp", rand_u32()));
    let mut file = std::fs::File::create(&tmp).expect("gateway temp");
    file.write_all(text.as_bytes()).expect("gateway write");
    file.sync_all().expect("gateway fsync");
    std::fs::rename(&tmp, store).expect("gateway rename");
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .expect("gateway dir fsync");
}

/// `JSON.stringify(value, null, 2)` for the plain values these tests use.
pub fn stringify(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("stringify")
}

/// One locked read-modify-write that sets `entry[key][field] = value`.
/// Returns the value the field held before.
pub fn locked_set(store: &Path, key: &str, field: &str, value: Value) -> Value {
    let _lock = acquire(store, Duration::from_secs(10)).expect("gateway could not take its lock");
    let mut parsed: Value =
        serde_json::from_slice(&std::fs::read(store).expect("read")).expect("store is JSON");
    let entry = parsed
        .get_mut(key)
        .and_then(Value::as_object_mut)
        .expect("entry");
    let previous = entry.insert(field.to_owned(), value).unwrap_or(Value::Null);
    atomic_write(store, &stringify(&parsed));
    previous
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

/// The simulator's body. Each round checks that its previous write is still
/// there (a lost update otherwise), then writes the next counter value.
/// Prints `lost=N` and fails if any update was lost.
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
    let mut lost = 0;
    for round in 0..rounds {
        if round > 0 && !pause.is_zero() {
            std::thread::sleep(pause);
        }
        let previous = locked_set(&store, &key, "gatewayCounter", Value::from(round));
        if round > 0 && previous != round - 1 {
            lost += 1;
            eprintln!(
                "gateway sim: round {round}: found {previous}, expected {}",
                round - 1
            );
        }
    }
    println!("lost={lost} rounds={rounds}");
    assert_eq!(lost, 0, "the gateway lost {lost} of its own updates");
}

fn rand_u32() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}
