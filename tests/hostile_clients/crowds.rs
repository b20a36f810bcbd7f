//! Crowds: a thousand clients at once, slow loris, and clients that vanish mid-request.

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::Env;
use crate::support::hostile::{TOUCH_MAIN, agent};
use crate::{HELLO, STATUS, open_fds, read_line};

/// `clients` connections at once, more than the daemon serves concurrently
/// (512): the extra ones wait in the backlog and are all answered.
pub fn serves_a_thousand_clients_at_once(env: &Env, pid: u32, clients: usize) {
    let base_fds = open_fds(pid);
    let done = Arc::new(AtomicBool::new(false));
    let monitor = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut max = 0;
            while !done.load(Ordering::Relaxed) {
                max = max.max(open_fds(pid));
                std::thread::sleep(Duration::from_millis(5));
            }
            max
        })
    };
    let connected = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(std::sync::Barrier::new(clients));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let socket = env.socket.clone();
            let (gate, connected) = (gate.clone(), connected.clone());
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || -> Result<Duration, String> {
                    gate.wait(); // all connect at the same moment
                    let t0 = Instant::now();
                    let stream =
                        UnixStream::connect(&socket).map_err(|e| format!("connect: {e}"))?;
                    connected.fetch_add(1, Ordering::Relaxed);
                    stream.set_read_timeout(Some(Duration::from_secs(60))).ok();
                    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
                    let request = if i % 10 == 0 { STATUS } else { HELLO };
                    writer
                        .write_all(format!("{request}\n").as_bytes())
                        .map_err(|e| format!("send: {e}"))?;
                    let reply = read_line(&mut BufReader::new(stream))
                        .map_err(|e| format!("reply: {e}"))?;
                    if reply["ok"] != true {
                        return Err(format!("refused: {reply}"));
                    }
                    let waited = t0.elapsed();
                    // Hold the connection a little so the cap is really reached.
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(waited)
                })
                .expect("spawn a client thread")
        })
        .collect();
    let mut waits = Vec::new();
    let mut failures = Vec::new();
    for t in threads {
        match t.join().expect("client thread") {
            Ok(w) => waits.push(w),
            Err(e) => failures.push(e),
        }
    }
    let total = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let max_fds = monitor.join().expect("monitor");
    waits.sort();
    println!(
        "RELIABILITY hostile: {clients} simultaneous clients: {} answered in {total:.1?} \
         (answer after median {:.1?}, max {:.1?}); daemon fds {base_fds} -> max {max_fds}",
        waits.len(),
        waits.get(waits.len() / 2).copied().unwrap_or_default(),
        waits.last().copied().unwrap_or_default(),
    );
    assert!(
        failures.is_empty(),
        "{} of {clients} clients failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(connected.load(Ordering::Relaxed), clients);
    assert!(
        total < Duration::from_secs(30),
        "{clients} clients took {total:?}"
    );
    assert!(
        max_fds <= base_fds + 512 + 16,
        "the daemon held {max_fds} fds at once (cap 512 connections over {base_fds})"
    );
}

/// `idle` connections that never send and `half` that sent half a line and
/// stalled, while another client's `status` requests are timed.
pub fn serves_status_under_slow_loris(env: &Env, idle: usize, half: usize, probes: usize) {
    let mut lurkers: Vec<UnixStream> = (0..idle)
        .map(|_| UnixStream::connect(&env.socket).expect("idle connection"))
        .collect();
    for _ in 0..half {
        let mut s = UnixStream::connect(&env.socket).expect("half connection");
        s.write_all(br#"{"v":1,"cmd":"sta"#).expect("half a line");
        lurkers.push(s);
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut persistent = env.client();
    let mut latencies = Vec::new();
    for i in 0..probes {
        let t0 = Instant::now();
        let reply = if i % 2 == 0 {
            persistent.request(STATUS)
        } else {
            env.client().request(STATUS)
        };
        latencies.push(t0.elapsed());
        assert_eq!(reply["ok"], true, "status {i} under slow-loris: {reply}");
        assert!(reply["agents"].is_array(), "{reply}");
    }
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "RELIABILITY hostile: status latency with {idle} idle + {half} half-line connections \
         ({probes} probes): median {:.2?}, p99 {:.2?}, max {:.2?}",
        p(0.5),
        p(0.99),
        latencies[latencies.len() - 1]
    );
    // A lurker that finally speaks is served; the half line completes into
    // `status` once the rest arrives.
    let mut first = lurkers.swap_remove(0);
    first.set_read_timeout(Some(Duration::from_secs(30))).ok();
    first
        .write_all(format!("{HELLO}\n").as_bytes())
        .expect("send");
    assert_eq!(
        read_line(&mut BufReader::new(first)).expect("reply")["ok"],
        true
    );
    let mut last = lurkers.pop().expect("a half-line lurker");
    last.set_read_timeout(Some(Duration::from_secs(30))).ok();
    last.write_all(b"tus\"}\n").expect("send the rest");
    let reply = read_line(&mut BufReader::new(last)).expect("reply");
    assert_eq!(reply["ok"], true, "{reply}");
    assert!(reply["agents"].is_array(), "{reply}");
}

/// Clients that go away in the middle: half a line then close, a touch then
/// close before the reply, a burst of pipelined requests never read.
pub fn survives_clients_that_vanish(env: &Env, rounds: usize) -> usize {
    let writes_before = agent(&env.status(), "main")["writes"]
        .as_u64()
        .expect("writes");
    let mut tried = 0;
    for i in 0..rounds {
        let mut s = UnixStream::connect(&env.socket).expect("connect");
        let line = format!("{TOUCH_MAIN}\n");
        let cut = 1 + i % (line.len() - 1);
        s.write_all(&line.as_bytes()[..cut]).expect("half");
        drop(s);
        tried += 1;
    }
    for i in 0..rounds {
        let mut s = UnixStream::connect(&env.socket).expect("connect");
        s.write_all(format!("{TOUCH_MAIN}\n").as_bytes())
            .expect("touch");
        if i % 2 == 0 {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        drop(s);
        tried += 1;
    }
    // Pipelined requests whose replies are never read, then a reset.
    for _ in 0..20 {
        let mut s = UnixStream::connect(&env.socket).expect("connect");
        let burst = format!("{STATUS}\n").repeat(500);
        let _ = s.write_all(burst.as_bytes());
        drop(s);
        tried += 500;
    }
    // A touch whose reader closed but whose writer lingers.
    let mut s = UnixStream::connect(&env.socket).expect("connect");
    s.shutdown(std::net::Shutdown::Read).expect("shut read");
    s.write_all(format!("{TOUCH_MAIN}\n").as_bytes())
        .expect("touch");
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    tried += 1;
    // The touches that were sent whole finish anyway (they may coalesce).
    let status = env.wait_status("the orphaned touches written", |s| {
        agent(s, "main")["writes"].as_u64().expect("writes") > writes_before
    });
    assert!(agent(&status, "main")["last_error"].is_null(), "{status:#}");
    let mut client = env.client();
    assert_eq!(client.request(HELLO)["ok"], true);
    tried
}
