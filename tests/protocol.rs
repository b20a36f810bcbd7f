//! The wire protocol against a real daemon, spoken by hand: golden vectors,
//! malformed frames, pipelining, and that a bad line never costs the
//! connection or writes anything.

mod support;

use serde_json::Value;
use support::{Env, fixture};

fn vectors(file: &str) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../proto/vectors")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{file}: bad case {l}: {e}")))
        .collect();
    assert!(!cases.is_empty(), "{file} has no cases");
    cases
}

#[test]
fn every_error_vector_gets_its_code_from_a_real_daemon_on_one_connection() {
    let env = Env::new();
    env.add_agent("main", &fixture("v1-6.json"));
    let _daemon = env.daemon_all(&["--interval", "1h"]);
    env.wait_status("the first round", |s| s["agents"][0]["writes"] == 1);
    let before = env.read_store("main");
    let mut client = env.client();
    let mut checked = 0;
    for case in vectors("errors.jsonl") {
        let request = case["request"].as_str().expect("request is a string");
        let reply = client.request(request);
        assert_eq!(reply["v"], 1, "{case}");
        assert_eq!(reply["ok"], false, "{case} -> {reply}");
        assert_eq!(
            reply["error"]["code"], case["reply"]["error"]["code"],
            "{case} -> {reply}"
        );
        assert!(
            reply["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{reply}"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} error vectors");
    // The same connection still works, and nothing was written.
    assert_eq!(client.request(r#"{"v":1,"cmd":"hello"}"#)["ok"], true);
    assert_eq!(env.read_store("main"), before);
}

#[test]
fn request_vectors_are_understood_by_a_real_daemon() {
    let env = Env::new();
    let _daemon = env.daemon_all(&[]);
    let mut client = env.client();
    for case in vectors("requests.jsonl") {
        let request = case["request"].as_str().expect("request");
        let command: Value = serde_json::from_str(request).expect("request JSON");
        // Commands whose effect depends on stores or would stop the daemon
        // are exercised in the other tests.
        if matches!(
            command["cmd"].as_str(),
            Some("touch" | "shutdown" | "forget")
        ) || command.get("agent").is_some()
        {
            continue;
        }
        let reply = client.request(request);
        assert_eq!(reply["ok"], true, "{request} -> {reply}");
        // Every field the vector documents is present in the real reply.
        for field in case["reply"].as_object().expect("reply object").keys() {
            assert!(
                reply.get(field).is_some(),
                "{request}: reply lacks {field}: {reply}"
            );
        }
    }
}

#[test]
fn oversized_and_non_utf8_lines_get_errors_and_the_connection_survives() {
    let env = Env::new();
    let _daemon = env.daemon_all(&[]);
    let mut client = env.client();
    let mut huge = vec![b'x'; 200 * 1024];
    huge.push(b'\n');
    client.send_raw(&huge);
    assert_eq!(client.read_reply()["error"]["code"], "frame_too_large");
    client.send_raw(b"{\"v\":1,\"cmd\":\"hel\xff\xfelo\"}\n");
    assert_eq!(client.read_reply()["error"]["code"], "invalid_utf8");
    let deep = format!("{}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    client.send_raw(deep.as_bytes());
    assert_eq!(client.read_reply()["error"]["code"], "frame_too_large");
    let nested = format!("{}1{}", "[".repeat(20_000), "]".repeat(20_000));
    assert_eq!(client.request(&nested)["error"]["code"], "bad_json");
    assert_eq!(
        client.request(r#"{"v":1,"cmd":"hello"}"#)["daemon"],
        "keepalived"
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let env = Env::new();
    let _daemon = env.daemon_all(&[]);
    let mut client = env.client();
    client.send_raw(
        b"{\"v\":1,\"cmd\":\"set_interval\",\"interval_s\":120}\n{\"v\":1,\"cmd\":\"get_interval\"}\n{\"v\":1,\"cmd\":\"nope\"}\n{\"v\":1,\"cmd\":\"set_interval\",\"interval_s\":7}\n{\"v\":1,\"cmd\":\"get_interval\"}",
    );
    // The last line has no newline: it is still answered at EOF... but only
    // after the client half-closes, which a UnixStream can do.
    client.shutdown_write();
    assert_eq!(client.read_reply()["previous_s"], 60);
    assert_eq!(client.read_reply()["interval_s"], 120);
    assert_eq!(client.read_reply()["error"]["code"], "unknown_command");
    assert_eq!(client.read_reply()["interval_s"], 7);
    assert_eq!(client.read_reply()["interval_s"], 7);
}

#[test]
fn hello_names_the_daemon_protocol_and_capabilities() {
    let env = Env::new();
    let daemon = env.daemon_all(&[]);
    let reply = env.client().request(r#"{"v":1,"cmd":"hello"}"#);
    assert_eq!(reply["daemon"], "keepalived");
    assert_eq!(reply["protocol"], 1);
    assert_eq!(reply["pid"], daemon.pid());
    let capabilities = reply["capabilities"].as_array().expect("capabilities");
    assert!(capabilities.contains(&"touch".into()), "{reply}");
    let reply = env.client().request(r#"{"v":2,"cmd":"hello"}"#);
    assert_eq!(reply["error"]["code"], "unsupported_version");
    assert_eq!(
        reply["error"]["details"]["supported"],
        serde_json::json!([1])
    );
}

#[test]
fn the_socket_is_private_to_its_user() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let env = Env::new();
    let _daemon = env.daemon_all(&[]);
    let socket = std::fs::symlink_metadata(&env.socket).expect("socket");
    assert_eq!(socket.permissions().mode() & 0o777, 0o600);
    let dir = std::fs::metadata(env.socket.parent().expect("dir")).expect("dir");
    assert_eq!(dir.permissions().mode() & 0o777, 0o700, "created 0700");
    assert_eq!(socket.uid(), keepalive::paths::current_uid());
}
