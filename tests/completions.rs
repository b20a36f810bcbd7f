//! The committed completions in `completions/` match the clap definitions.
//! Regenerate with `KEEPALIVE_BLESS=1 cargo test --test completions`.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;
use keepalive::cli::{CtlArgs, DaemonArgs};

const SHELLS: [(Shell, &str); 5] = [
    (Shell::Bash, "{}.bash"),
    (Shell::Zsh, "_{}"),
    (Shell::Fish, "{}.fish"),
    (Shell::Elvish, "{}.elv"),
    (Shell::PowerShell, "_{}.ps1"),
];

#[test]
fn committed_completions_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../completions");
    let bless = std::env::var_os("KEEPALIVE_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, mut command) in [
        ("keepalivectl", CtlArgs::command()),
        ("keepalived", DaemonArgs::command()),
    ] {
        for (shell, pattern) in SHELLS {
            let mut generated = Vec::new();
            clap_complete::generate(shell, &mut command, name, &mut generated);
            let path = dir.join(pattern.replace("{}", name));
            if bless {
                std::fs::write(&path, &generated).expect("write completions");
            } else if std::fs::read(&path).ok() != Some(generated) {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "completions out of date: {stale:?}; run `KEEPALIVE_BLESS=1 cargo test --test completions` and commit"
    );
}
