//! Broken and hostile stores against a real daemon: timestamps it cannot safely bump, symlinks,
//! modes and owners, a store emptied under it; a store it cannot safely bump stays
//! byte-identical while the other agents carry on.
//!
//! Over 400 lines because it is one suite: every way a store can be hostile.
//!
//! Each test prints `RELIABILITY ...` lines with its figures; run with
//! `--nocapture` to see them.

mod support;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keepalive::paths::current_uid;
use serde_json::json;
use support::hostile::{TOUCH_MAIN, agent, assert_error, code, tree};
use support::{Env, bumped_digit_spans, fixture, now_ms};

fn entry(key: &str, updated_at: &str) -> String {
    format!(
        r#""{key}": {{"sessionId": "s-{key}", "updatedAt": {updated_at}, "chatType": "direct"}}"#
    )
}

#[test]
fn odd_numbers_and_unusable_timestamps_are_never_bumped() {
    let env = Env::new();
    let recent = (now_ms() - 60_000).to_string();
    // Stores whose only timestamp cannot be bumped: left byte-identical.
    let odd = [
        ("string", "\"1776081268770\""),
        ("float", "1776081268770.5"),
        ("onepointzero", "1.0"),
        ("exponent", "1.77608126877e12"),
        ("negative", "-1776081268770"),
        ("negzero", "-0"),
        ("huge", "1e400"),
        ("tiny", "1e-400"),
        ("bigint", "12345678901234567890123"),
        ("over2p53", "9007199254740993"),
        ("is2p53", "9007199254740992"),
        ("u64max", "18446744073709551616"),
        ("null", "null"),
        ("bool", "true"),
        ("object", "{\"ms\": 1776081268770}"),
        ("array", "[1776081268770]"),
        ("leadingzero", "01776081268770"),
    ];
    let mut stores: Vec<(String, Vec<u8>)> = odd
        .iter()
        .map(|(name, v)| {
            (
                name.to_string(),
                format!("{{{}}}", entry(&format!("agent:{name}:main"), v)).into_bytes(),
            )
        })
        .collect();
    stores.push((
        "missing".into(),
        br#"{"agent:missing:main": {"sessionId": "s", "chatType": "direct"}}"#.to_vec(),
    ));
    stores.push(("noentries".into(), b"{}".to_vec()));
    stores.push((
        "notobjects".into(),
        br#"{"a": 1, "b": "x", "c": [1], "d": null, "e": true}"#.to_vec(),
    ));
    // One store mixing all of it with entries that must be bumped, and odd
    // numbers elsewhere in the good entries (kept verbatim).
    let mut mixed = vec![format!(
        r#""agent:mixed:good1": {{"sessionId": "g1", "updatedAt": {recent}, "n1": 1e400, "n2": -0, "n3": 1.0, "n4": 12345678901234567890123, "n5": -1e-400, "n6": 9007199254740993}}"#
    )];
    // (A leading zero is not JSON at all: that store is invalid as a whole.)
    for (name, v) in odd.iter().filter(|(name, _)| *name != "leadingzero") {
        mixed.push(entry(&format!("agent:mixed:{name}"), v));
    }
    mixed.push(r#""agent:mixed:str": "not an object""#.into());
    mixed.push(r#""agent:mixed:num": 1776081268770"#.into());
    mixed.push(r#""agent:mixed:arr": [{"updatedAt": 1776081268770}]"#.into());
    mixed.push(r#""agent:mixed:nul": null"#.into());
    mixed.push(format!(
        r#""agent:mixed:good2": {{"sessionId": "g2", "updatedAt": {recent}}}"#
    ));
    let mixed = format!("{{\n  {}\n}}", mixed.join(",\n  ")).into_bytes();
    for (name, bytes) in &stores {
        env.add_agent(name, bytes);
    }
    env.add_agent("mixed", &mixed);
    env.add_agent("good", &fixture("v1-6.json"));
    let total = stores.len() + 2;
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    let status = env.wait_status("every agent's first round", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.len() == total && a.iter().all(|a| a["last_tick_ms"].is_u64()))
    });
    let mut observed = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut touches = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (name, bytes) in &stores {
        let a = agent(&status, name);
        assert_eq!(a["writes"], 0, "{name}: {a}");
        assert_eq!(
            &env.read_store(name),
            bytes,
            "{name} must stay byte-identical"
        );
        // Either a clear error or a note saying why nothing is written.
        // Either a clear error, a note saying why nothing is written, or
        // every session reported as `no_timestamp` (json-v1 with nothing usable).
        let why = if !a["last_error"].is_null() {
            format!("error {}", a["last_error"]["code"])
        } else if let Some(note) = a["note"].as_str() {
            format!("note: {note}")
        } else {
            let rows = env
                .client()
                .request(&format!(r#"{{"v":1,"cmd":"sessions","agent":"{name}"}}"#));
            assert_eq!(rows["ok"], true, "{name}: {rows}");
            let rows = rows["sessions"].as_array().expect("sessions").clone();
            assert!(
                rows.iter()
                    .all(|r| r["reason"] == "no_timestamp" && r["kept_alive"] == false),
                "{name}: neither an error, a note nor no_timestamp: {a} {rows:?}"
            );
            assert_eq!(a["kept_alive"], 0, "{name}: {a}");
            format!("{} sessions, all no_timestamp", rows.len())
        };
        observed
            .entry(format!(
                "{} / {}",
                a["generation"],
                why.chars().take(90).collect::<String>()
            ))
            .or_default()
            .push(name.clone());
        // A touch by name is refused clearly and writes nothing.
        let key = if *name == "notobjects" {
            "a".to_string()
        } else {
            format!("agent:{name}:main")
        };
        let line = format!(r#"{{"v":1,"cmd":"touch","agent":"{name}","sessions":["{key}"]}}"#);
        let reply = env.client().request(&line);
        if *name == "noentries" {
            assert_error(&line, &reply, &["unknown_session"]);
        } else if *name == "leadingzero" {
            // Not JSON at all: the touch says so rather than "unknown session".
            assert_error(&line, &reply, &["store_invalid"]);
        } else if reply["ok"] == true {
            // Documented: "if no timestamp would change, nothing is written".
            let results = reply["results"].as_array().expect("results");
            assert!(
                results
                    .iter()
                    .all(|r| r["bumped"] == json!([]) && r["written"] == false),
                "{line} -> {reply}"
            );
        } else {
            assert_error(
                &line,
                &reply,
                &["generation_unsupported", "unknown_session"],
            );
        }
        touches
            .entry(if reply["ok"] == true {
                "ok, bumped nothing".to_string()
            } else {
                code(&reply).to_string()
            })
            .or_default()
            .push(name.clone());
        assert_eq!(&env.read_store(name), bytes, "{name}: touched");
    }
    for (how, names) in &observed {
        println!("RELIABILITY stores: status {how}: {names:?}");
    }
    for (how, names) in &touches {
        println!("RELIABILITY stores: touch by name -> {how}: {names:?}");
    }
    // The mixed store: exactly the two good entries move, nothing else.
    let a = agent(&status, "mixed");
    assert!(a["last_error"].is_null(), "{a}");
    assert_eq!(a["writes"], 1, "{a}");
    let after = env.read_store("mixed");
    let moved = bumped_digit_spans(&mixed, &after);
    assert_eq!(moved.len(), 2, "only good1 and good2: {moved:?}");
    let text = String::from_utf8(after).expect("utf8");
    for kept in [
        "1e400",
        "\"n2\": -0",
        "\"n3\": 1.0",
        "12345678901234567890123",
        "-1e-400",
        "9007199254740993",
        "\"not an object\"",
    ] {
        assert!(text.contains(kept), "lost {kept}");
    }
    let reply = env
        .client()
        .request(r#"{"v":1,"cmd":"touch","agent":"mixed","sessions":["agent:mixed:over2p53"]}"#);
    println!(
        "RELIABILITY stores: touch of an entry with updatedAt > 2^53 in a good store -> {reply}"
    );
    assert!(
        reply["ok"] == false || reply["results"][0]["bumped"] == json!([]),
        "{reply}"
    );
    assert_eq!(
        bumped_digit_spans(&mixed, &env.read_store("mixed")).len(),
        2
    );
    let good = agent(&status, "good");
    assert_eq!(good["writes"], 1, "{good}");
    assert_eq!(
        bumped_digit_spans(&fixture("v1-6.json"), &env.read_store("good")).len(),
        6
    );
    println!(
        "RELIABILITY stores: bad timestamp stores tried = {} (+ {} odd values in one mixed store)",
        stores.len(),
        odd.len() - 1 + 10
    );
}

#[test]
fn a_symlinked_store_is_refused_and_nothing_is_written_outside_its_directory() {
    let env = Env::new();
    let outside = env.dir.path().join("outside");
    std::fs::create_dir_all(&outside).expect("outside");
    let target = outside.join("target.json");
    let content = fixture("v1-6.json");
    std::fs::write(&target, &content).expect("target");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let target_meta = std::fs::metadata(&target).expect("meta");
    // An absolute link, a relative one, and a dangling one into the outside dir.
    let links = [
        ("abs", target.clone()),
        ("rel", PathBuf::from("../../../../outside/target.json")),
        ("dangling", outside.join("created-by-keepalive.json")),
    ];
    for (name, to) in &links {
        let store = env.store(name);
        std::fs::create_dir_all(store.parent().expect("dir")).expect("dir");
        std::os::unix::fs::symlink(to, &store).expect("symlink");
    }
    env.add_agent("good", &content);
    let outside_tree = tree(&outside);
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    let status = env.wait_status("every agent's first round", |s| {
        s["agents"].as_array().is_some_and(|a| {
            a.len() == links.len() + 1 && a.iter().all(|a| a["last_tick_ms"].is_u64())
        })
    });
    for (name, to) in &links {
        let a = agent(&status, name);
        println!(
            "RELIABILITY stores: symlinked store {name} -> {}: {}",
            to.display(),
            a["last_error"]
        );
        assert_eq!(a["writes"], 0, "{a}");
        assert!(
            !a["last_error"].is_null(),
            "{name}: a symlink must be an error: {a}"
        );
        if *name != "dangling" {
            assert_eq!(a["last_error"]["code"], "store_invalid", "{a}");
            assert!(
                a["last_error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("symbolic link"),
                "{a}"
            );
        }
        let reply = env
            .client()
            .request(&format!(r#"{{"v":1,"cmd":"touch","agent":"{name}"}}"#));
        assert_eq!(
            reply["ok"], false,
            "{name}: touch through a symlink: {reply}"
        );
        let sessions = env
            .client()
            .request(&format!(r#"{{"v":1,"cmd":"sessions","agent":"{name}"}}"#));
        println!(
            "RELIABILITY stores: sessions of symlinked {name}: ok={} ({} rows, error {})",
            sessions["ok"],
            sessions["sessions"].as_array().map_or(0, |s| s.len()),
            sessions["error"]["code"]
        );
        let store = env.store(name);
        let meta = std::fs::symlink_metadata(&store).expect("the link is still there");
        assert!(
            meta.file_type().is_symlink(),
            "{name}: the link was replaced"
        );
        assert_eq!(&std::fs::read_link(&store).expect("link"), to);
        assert_eq!(
            tree(store.parent().expect("dir")),
            vec!["sessions.json"],
            "{name}: nothing written beside the link"
        );
    }
    assert_eq!(
        std::fs::read(&target).expect("target"),
        content,
        "the target is untouched"
    );
    let after = std::fs::metadata(&target).expect("meta");
    assert_eq!(
        (after.ino(), after.mtime(), after.mtime_nsec(), after.mode()),
        (
            target_meta.ino(),
            target_meta.mtime(),
            target_meta.mtime_nsec(),
            target_meta.mode()
        ),
        "the target was rewritten"
    );
    assert_eq!(
        tree(&outside),
        outside_tree,
        "something was created outside the store's directory"
    );
    assert!(agent(&status, "good")["last_error"].is_null());
    assert_eq!(
        bumped_digit_spans(&content, &env.read_store("good")).len(),
        6
    );
    println!(
        "RELIABILITY stores: symlinked stores tried = {}",
        links.len()
    );
}

#[test]
fn a_bump_keeps_the_stores_mode_and_owner() {
    let env = Env::new();
    let content = fixture("v1-6.json");
    let modes = [
        ("m600", 0o600),
        ("m644", 0o644),
        ("m640", 0o640),
        ("m444", 0o444),
        ("m666", 0o666),
    ];
    for (name, mode) in modes {
        let store = env.add_agent(name, &content);
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let root = current_uid() == 0;
    if root {
        let store = env.add_agent("nobody", &content);
        std::os::unix::fs::chown(&store, Some(65534), Some(65534)).expect("chown");
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        // And a store whose whole sessions directory belongs to nobody, 0700.
        let store = env.add_agent("nobodydir", &content);
        let dir = store.parent().expect("dir");
        std::os::unix::fs::chown(&store, Some(65534), Some(65534)).expect("chown");
        std::os::unix::fs::chown(dir, Some(65534), Some(65534)).expect("chown");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    } else {
        println!(
            "SKIPPED: a store owned by another user needs root (running as uid {})",
            current_uid()
        );
    }
    // A read-only sessions directory.
    let ro = env.add_agent("rodir", &content);
    let ro_dir = ro.parent().expect("dir").to_path_buf();
    std::fs::set_permissions(&ro_dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");

    let _daemon = env.daemon_all(&["--interval", "1h"]);
    let count = modes.len() + 1 + if root { 2 } else { 0 };
    let status = env.wait_status("every agent's first round", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.len() == count && a.iter().all(|a| a["last_tick_ms"].is_u64()))
    });
    for (name, mode) in modes {
        let a = agent(&status, name);
        assert!(a["last_error"].is_null(), "{name}: {a}");
        let meta = std::fs::metadata(env.store(name)).expect("meta");
        assert_eq!(meta.mode() & 0o7777, mode, "{name}: mode not preserved");
        assert_eq!(meta.uid(), current_uid());
        assert_eq!(
            bumped_digit_spans(&content, &env.read_store(name)).len(),
            6,
            "{name}"
        );
    }
    if root {
        for name in ["nobody", "nobodydir"] {
            let a = agent(&status, name);
            let meta = std::fs::metadata(env.store(name)).expect("meta");
            println!(
                "RELIABILITY stores: root daemon, store of uid 65534 ({name}): error {}, now uid {} gid {} mode {:o}",
                a["last_error"],
                meta.uid(),
                meta.gid(),
                meta.mode() & 0o7777
            );
            assert!(a["last_error"].is_null(), "{name}: {a}");
            assert_eq!(
                (meta.uid(), meta.gid()),
                (65534, 65534),
                "{name}: the owner was taken away"
            );
            assert_eq!(
                bumped_digit_spans(&content, &env.read_store(name)).len(),
                6,
                "{name}"
            );
            let dir = env.store(name).parent().expect("dir").to_path_buf();
            assert_eq!(tree(&dir), vec!["sessions.json"], "{name}: leftovers");
        }
        assert_eq!(
            std::fs::metadata(env.store("nobody")).expect("m").mode() & 0o7777,
            0o644
        );
    }
    // The read-only directory: root writes anyway; anyone else gets a clear
    // store_io and an untouched file.
    let a = agent(&status, "rodir");
    println!(
        "RELIABILITY stores: read-only sessions dir as uid {}: error {}",
        current_uid(),
        a["last_error"]
    );
    if root {
        assert!(a["last_error"].is_null(), "{a}");
        assert_eq!(
            bumped_digit_spans(&content, &env.read_store("rodir")).len(),
            6
        );
    } else {
        assert_eq!(a["last_error"]["code"], "store_io", "{a}");
        assert_eq!(env.read_store("rodir"), content);
    }
    assert_eq!(tree(&ro_dir), vec!["sessions.json"]);
    std::fs::set_permissions(&ro_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    println!("RELIABILITY stores: mode/owner/permission cases tried = {count}");
}

#[test]
fn a_store_emptied_by_another_writer_is_an_error_then_recovers() {
    let env = Env::new();
    let content = fixture("v1-6.json");
    let store = env.add_agent("main", &content);
    env.add_agent("other", &content);
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("the first rounds", |s| {
        s["agents"]
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|a| a["writes"] == 1))
    });
    let bumped = env.read_store("main");

    // Another process truncates the store in place, as a crashed in-place writer would.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&store)
        .expect("truncate");
    drop(file);
    // A touch naming the session cannot find it (the message says why); a
    // touch of the whole agent fails on the store.
    let reply = env.client().request(TOUCH_MAIN);
    println!("RELIABILITY stores: touch by name of an emptied store -> {reply}");
    assert_error(
        "touch of an empty store",
        &reply,
        &["store_invalid", "unknown_session"],
    );
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("empty file"),
        "{reply}"
    );
    let reply = env
        .client()
        .request(r#"{"v":1,"cmd":"touch","agent":"main"}"#);
    println!("RELIABILITY stores: touch of the agent of an emptied store -> {reply}");
    let failure = if reply["ok"] == false {
        &reply
    } else {
        &reply["results"][0]
    };
    assert_eq!(failure["error"]["code"], "store_invalid", "{reply}");
    assert_eq!(
        std::fs::read(&store).expect("read"),
        b"",
        "the empty file stays empty"
    );
    assert_eq!(std::fs::metadata(&store).expect("m").mode() & 0o777, 0o600);
    let status = env.status();
    assert_eq!(
        agent(&status, "main")["last_error"]["code"],
        "store_invalid",
        "{status:#}"
    );
    // Other agents keep working meanwhile.
    let reply = env
        .client()
        .request(r#"{"v":1,"cmd":"touch","agent":"other"}"#);
    assert_eq!(reply["ok"], true, "{reply}");
    // The writer finishes: the next touch succeeds and the error clears.
    std::fs::write(&store, &bumped).expect("restore");
    let reply = env.client().request(TOUCH_MAIN);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["results"][0]["written"], true, "{reply}");
    assert_eq!(
        bumped_digit_spans(&bumped, &env.read_store("main")).len(),
        1
    );
    assert!(agent(&env.status(), "main")["last_error"].is_null());

    // Now a writer that keeps truncating and rewriting in place while touches
    // arrive: each touch succeeds or fails cleanly; no mix is ever written.
    let stop = Arc::new(AtomicBool::new(false));
    let restored = env.read_store("main");
    let flapper = {
        let (stop, store, restored) = (stop.clone(), store.clone(), restored.clone());
        std::thread::spawn(move || {
            let mut flaps = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&store)
                    .expect("open");
                std::thread::sleep(Duration::from_micros(500));
                f.write_all(&restored).expect("rewrite");
                drop(f);
                std::thread::sleep(Duration::from_micros(500));
                flaps += 1;
            }
            flaps
        })
    };
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    let mut client = env.client();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let reply = client.request(TOUCH_MAIN);
        let what = if reply["ok"] == true {
            "ok".to_string()
        } else {
            code(&reply).to_string()
        };
        assert!(
            [
                "ok",
                "store_invalid",
                "store_changed",
                "store_busy",
                "store_not_found",
                "unknown_session"
            ]
            .contains(&what.as_str()),
            "{reply}"
        );
        *outcomes.entry(what).or_default() += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let flaps = flapper.join().expect("flapper");
    // The in-place writer's last write may have landed in a file we since
    // replaced, or over ours; either way what is there is whole.
    let now = env.read_store("main");
    assert!(!now.is_empty());
    bumped_digit_spans(&restored, &now);
    let reply = client.request(TOUCH_MAIN);
    assert_eq!(reply["ok"], true, "{reply}");
    let last = env.read_store("main");
    assert_eq!(bumped_digit_spans(&restored, &last).len(), 1);
    support::parse(&last);
    assert!(
        outcomes.keys().any(|k| k != "ok"),
        "no touch ever saw the flapping store: {outcomes:?}"
    );
    println!("RELIABILITY stores: {flaps} in-place truncations during touches -> {outcomes:?}");
    let other = env.read_store("other");
    assert_eq!(bumped_digit_spans(&content, &other).len(), 6);
    let dir = store.parent().expect("dir").to_path_buf();
    assert_eq!(
        tree(&dir),
        vec!["sessions.json"],
        "no temp or lock file left"
    );
}
