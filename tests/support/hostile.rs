//! What the two hostile suites (tests/hostile_clients.rs, tests/hostile_stores.rs) both check:
//! error replies, an agent's row of `status`, and the files left in a folder.

use std::path::Path;

use serde_json::Value;

pub const TOUCH_MAIN: &str =
    r#"{"v":1,"cmd":"touch","agent":"main","sessions":["agent:main:main"]}"#;

/// Sorted relative paths of everything under `dir` (symlinks not followed).
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let entry = entry.expect("entry");
            let path = entry.path();
            out.push(
                path.strip_prefix(root)
                    .expect("prefix")
                    .display()
                    .to_string(),
            );
            if entry.file_type().expect("type").is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

pub fn code(reply: &Value) -> &str {
    reply["error"]["code"].as_str().unwrap_or("")
}

/// Asserts `reply` is a well-formed error reply whose code is one of `codes`.
pub fn assert_error(what: &str, reply: &Value, codes: &[&str]) {
    assert_eq!(reply["v"], 1, "{what} -> {reply}");
    assert_eq!(reply["ok"], false, "{what} must be refused -> {reply}");
    assert!(
        codes.contains(&code(reply)),
        "{what}: expected one of {codes:?}, got {reply}"
    );
    assert!(
        reply["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: no message: {reply}"
    );
}

pub fn agent<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == id))
        .unwrap_or_else(|| panic!("no agent {id} in {status:#}"))
}
