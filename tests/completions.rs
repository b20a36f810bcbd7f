//! The committed completions in `completions/` and man pages in `man/` match
//! the clap definitions. Regenerate both with
//! `KEEPALIVE_BLESS=1 cargo test --test completions`.

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

/// `man/`: one page per program and per visible keepalivectl subcommand
/// (`keepalivectl-service-install.1`, ...), from clap_mangen. A page whose
/// command is gone counts as stale too.
#[test]
fn committed_man_pages_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../man");
    let generated = tempfile::tempdir().expect("tempdir");
    for command in [CtlArgs::command(), DaemonArgs::command()] {
        clap_mangen::generate_to(command, generated.path()).expect("generate man pages");
    }
    let pages = |dir: &Path| -> std::collections::BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".1"))
            .map(|e| {
                let bytes = std::fs::read(e.path()).expect("read man page");
                (e.file_name().to_string_lossy().into_owned(), bytes)
            })
            .collect()
    };
    let want = pages(generated.path());
    assert!(want.contains_key("keepalived.1") && want.contains_key("keepalivectl.1"));
    if std::env::var_os("KEEPALIVE_BLESS").is_some() {
        std::fs::create_dir_all(&dir).expect("create man/");
        for name in pages(&dir).keys() {
            std::fs::remove_file(dir.join(name)).expect("remove old man page");
        }
        for (name, bytes) in &want {
            std::fs::write(dir.join(name), bytes).expect("write man page");
        }
        return;
    }
    let have = pages(&dir);
    let stale: Vec<&String> = want
        .keys()
        .chain(have.keys())
        .filter(|name| want.get(*name) != have.get(*name))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        stale.is_empty(),
        "man pages out of date: {stale:?}; run `KEEPALIVE_BLESS=1 cargo test --test completions` and commit man/"
    );
}
