//! Throughput check on a ~40 MB store shaped like the big ones in the wild (a thousand
//! entries, mostly skillsSnapshot/systemPromptReport text). Ignored by default; run with
//! `cargo test --release -p keepalive-store --test perf -- --ignored --nocapture`.

mod common;

use std::time::Instant;

use common::*;
use keepalive_store::scan;

fn big_store(entries: usize, blob: usize) -> Vec<u8> {
    let mut s = String::from("{");
    let text = "lorem ipsum \\\"quoted\\\" é 😀 ".repeat(blob / 32);
    for i in 0..entries {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            "\n  \"agent:main:telegram:direct:{i}\": {{\n    \"sessionId\": \"{i:08}-0000-4000-8000-000000000000\",\n    \"updatedAt\": {},\n    \"skillsSnapshot\": {{\n      \"prompt\": \"{text}\",\n      \"skills\": [\n        {{\n          \"name\": \"s\",\n          \"updatedAt\": 1\n        }}\n      ]\n    }},\n    \"systemPromptReport\": {{\n      \"chars\": 123,\n      \"sections\": [\n        {{\n          \"text\": \"{text}\"\n        }}\n      ]\n    }}\n  }}",
            FIXTURE_NOW - i as u64
        ));
    }
    s.push_str("\n}");
    s.into_bytes()
}

#[test]
#[ignore = "benchmark; run in release"]
fn scan_and_round_throughput() {
    let bytes = big_store(1000, 20_000);
    let mb = bytes.len() as f64 / 1e6;
    let t = Instant::now();
    let s = scan(&bytes).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(s.entries.len(), 1000);
    println!(
        "scan: {mb:.1} MB in {:.1} ms = {:.0} MB/s",
        secs * 1e3,
        mb / secs
    );

    let (_tmp, store) = store_with(&bytes);
    let out = run(&store, NOW, &updated).unwrap();
    assert_eq!(out.bumped.len(), 1000);
    println!(
        "round: lock held {:.1} ms (read + scan + patch + write + fsync)",
        out.lock_hold.as_secs_f64() * 1e3
    );
}
