//! The crate's layers import downward only (issue 12): the client, the OpenClaw knowledge,
//! the policy and the helpers below them never name the daemon, and nothing below the client
//! names it. Checked on the source text, so a new `use crate::daemon::...` in the wrong place
//! fails here, with the file and line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Lines under `src/<area>` (a folder or a file) that name `crate::<module>` for any of
/// `forbidden`.
fn offenders(area: &str, forbidden: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let root = src.join(area);
    let mut files = Vec::new();
    if root.is_dir() {
        rust_files(&root, &mut files);
    } else {
        let file = src.join(format!("{area}.rs"));
        assert!(file.is_file(), "no source for {area} in {}", src.display());
        files.push(file);
    }
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let names = |m: &&str| {
                line.contains(&format!("crate::{m}::")) || line.contains(&format!("crate::{m};"))
            };
            if forbidden.iter().any(names) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_client_does_not_reach_into_the_daemon() {
    assert_eq!(offenders("client", &["daemon"]), Vec::<String>::new());
}

#[test]
fn openclaw_policy_and_helpers_import_neither_daemon_nor_client() {
    for area in [
        "openclaw",
        "policy",
        "paths",
        "time",
        "settings",
        "atomic_file",
        "duration",
    ] {
        assert_eq!(
            offenders(area, &["daemon", "client"]),
            Vec::<String>::new(),
            "{area} imports a layer above it"
        );
    }
}

/// The check itself sees an offending line (so the tests above cannot pass by reading nothing).
#[test]
fn the_check_finds_an_upward_import() {
    let found = offenders("daemon", &["openclaw"]);
    assert!(
        !found.is_empty(),
        "the daemon imports crate::openclaw::..., which must be seen"
    );
}

/// Lines of `src/daemon/<file>.rs` that import a sibling module from `above`.
fn daemon_imports_of(file: &str, above: &[&str]) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/daemon")
        .join(format!("{file}.rs"));
    let text = std::fs::read_to_string(&path).expect("read source");
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            above.iter().any(|m| {
                line.contains(&format!("super::{m}::"))
                    || line.contains(&format!("super::{m};"))
                    || line.contains(&format!("crate::daemon::{m}::"))
            })
        })
        .map(|(n, line)| format!("{}:{}: {}", path.display(), n + 1, line.trim()))
        .collect()
}

/// The daemon runs server → handler → state → agent actor → round; the round and the actor
/// never import the layers above them (this was a cycle: state → agent → round → state, and
/// the actor took the whole daemon to spawn).
#[test]
fn the_round_and_the_actor_import_nothing_above_them() {
    let above_round = ["server", "handler", "state", "agent", "scheduler"];
    assert_eq!(
        daemon_imports_of("round", &above_round),
        Vec::<String>::new()
    );
    let above_agent = ["server", "handler", "state", "scheduler"];
    assert_eq!(
        daemon_imports_of("agent", &above_agent),
        Vec::<String>::new()
    );
}
