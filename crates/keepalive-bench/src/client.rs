//! 2. A hook's touch as a whole process, and 3. a burst of concurrent touches.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::Section;
use crate::store::{self, Size};
use crate::util::{self, Env, Stat, ms, ratio};

/// The session every touch of these benchmarks bumps.
pub const KEY: &str = "agent:main:main";
pub fn touch(bins: &Path, runs: usize) -> Section {
    let env = Env::new(bins);
    let store = store::fresh_store(&env.state_dir(), "main", Size::SMALL);
    let _daemon = env.start_daemon(&[]);
    let copy = store.with_file_name("floor-copy.json");
    std::fs::copy(&store, &copy).expect("copy store");
    let mut touch = Vec::new();
    let mut floor = Vec::new();
    let mut version = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let (_, ok, _) = util::run_measured(env.ctl().arg("--version"));
        assert!(ok, "keepalivectl --version failed");
        let v = t.elapsed();
        util::floor_write(&store, &copy);
        floor.push(t.elapsed());
        version.push(v);

        let (d, ok, _) = util::run_measured(env.ctl().args(["touch", KEY]));
        assert!(ok, "keepalivectl touch failed");
        touch.push(d);
    }
    let (t, f, v) = (Stat::of(&touch), Stat::of(&floor), Stat::of(&version));
    let mut s = Section::new(
        "touch",
        "A hook's touch: `keepalivectl touch KEY` as a whole process, 200 KB store",
        &[
            "store",
            "touch median / p99",
            "floor median / p99",
            "of which `keepalivectl --version`",
            "touch ÷ floor (median)",
            "touch ÷ floor (p99)",
        ],
    );
    s.row(vec![
        Size::SMALL.label(),
        format!("{} / {} (n={})", ms(t.median), ms(t.p99), t.n),
        format!("{} / {}", ms(f.median), ms(f.p99)),
        format!("{} / {}", ms(v.median), ms(v.p99)),
        ratio(t.median, f.median),
        ratio(t.p99, f.p99),
    ]);
    s.note(
        "Against a running `keepalived` (default options). The floor spawns `keepalivectl --version` \
         and then makes one durable write of the store's bytes (temp file, fsync, rename, fsync dir) \
         to a sibling file the daemon ignores. Every touch is answered after its write is durable.",
    );
    s
}

/// One touch of [`KEY`] as a raw socket client on a connected stream: the daemon's reply.
pub fn send_touch(stream: &UnixStream) -> Result<serde_json::Value, String> {
    let mut writer = stream;
    writer
        .write_all(format!("{{\"v\":1,\"cmd\":\"touch\",\"sessions\":[\"{KEY}\"]}}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))
}

/// What a burst of raw socket clients got: per-client latency of the acknowledged ones,
/// the failures, and the wall time from the release to the last reply.
pub struct Burst {
    pub acked: Vec<Duration>,
    pub failures: Vec<String>,
    pub wall: Duration,
}

/// `clients` raw socket clients connect to `socket`, then all send a touch of [`KEY`] at
/// once (a barrier).
pub fn fire_burst(socket: &Path, clients: usize) -> Burst {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let socket = socket.to_path_buf();
            std::thread::spawn(move || -> Result<Duration, String> {
                let stream = UnixStream::connect(&socket);
                // Every thread reaches the barrier, connected or not, so none is left waiting.
                barrier.wait();
                let stream = stream.map_err(|e| e.to_string())?;
                let t = Instant::now();
                let reply = send_touch(&stream)?;
                if reply["ok"] == true {
                    Ok(t.elapsed())
                } else {
                    Err(reply.to_string())
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut acked = Vec::new();
    let mut failures = Vec::new();
    for t in threads {
        match t.join().expect("client thread") {
            Ok(d) => acked.push(d),
            Err(e) => failures.push(e),
        }
    }
    Burst {
        acked,
        failures,
        wall: start.elapsed(),
    }
}

pub fn burst(bins: &Path, clients: usize) -> Section {
    let env = Env::new(bins);
    store::fresh_store(&env.state_dir(), "main", Size::SMALL);
    let _daemon = env.start_daemon(&[]);
    let before = env.writes("main");
    let Burst {
        acked,
        failures,
        wall,
    } = fire_burst(&env.socket(), clients);
    let after = env.writes("main");
    let lat = Stat::of(&acked);
    let mut s = Section::new(
        "burst",
        "Burst: concurrent touches of one session on one agent (raw socket clients)",
        &[
            "clients",
            "acknowledged",
            "store writes",
            "total wall time",
            "per-client latency median / p99",
        ],
    );
    s.row(vec![
        clients.to_string(),
        format!("{} of {clients}", acked.len()),
        (after - before).to_string(),
        ms(wall.as_secs_f64() * 1e3),
        format!("{} / {}", ms(lat.median), ms(lat.p99)),
    ]);
    if let Some(e) = failures.first() {
        s.note(&format!(
            "{} clients failed; first failure: {}",
            failures.len(),
            e.trim()
        ));
    }
    s.note(
        "All clients connect first, then send `{\"v\":1,\"cmd\":\"touch\",\"sessions\":[\"agent:main:main\"]}` \
         at once (a barrier); wall time runs from the release to the last reply. Store writes are \
         `writes` in `keepalivectl --json status` after minus before. The same burst during a \
         gateway simulator's run, with the gateway updates lost counted (and the baseline script \
         racing the same simulator), is the `race` section.",
    );
    s
}
