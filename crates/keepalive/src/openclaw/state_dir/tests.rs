//! State dir discovery: every step of the gateway's order.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::openclaw::state_dir::{Lookup, StateDirChoice, expand_tilde, resolve, validate_profile};

const HOME: &str = "/home/u";

/// A fake world: environment variables and the dirs that exist.
#[derive(Default)]
struct World {
    env: HashMap<&'static str, &'static str>,
    dirs: HashSet<PathBuf>,
    flag_dir: Option<&'static str>,
    flag_profile: Option<&'static str>,
}

impl World {
    fn env(mut self, k: &'static str, v: &'static str) -> Self {
        self.env.insert(k, v);
        self
    }
    fn dir(mut self, d: &str) -> Self {
        self.dirs.insert(PathBuf::from(d));
        self
    }
    fn flag_dir(mut self, d: &'static str) -> Self {
        self.flag_dir = Some(d);
        self
    }
    fn profile(mut self, p: &'static str) -> Self {
        self.flag_profile = Some(p);
        self
    }
    fn resolve(&self) -> Result<StateDirChoice, String> {
        let env = |k: &str| self.env.get(k).map(|v| v.to_string());
        let exists = |p: &Path| self.dirs.contains(p);
        resolve(&Lookup {
            flag_state_dir: self.flag_dir.map(Path::new),
            flag_profile: self.flag_profile,
            env: &env,
            home: Path::new(HOME),
            exists: &exists,
        })
    }
    fn pick(&self) -> (String, String) {
        let c = self.resolve().expect("resolves");
        (c.path.display().to_string(), c.source)
    }
}

fn p(path: &str, source: &str) -> (String, String) {
    (path.to_string(), source.to_string())
}

#[test]
fn flag_beats_everything() {
    let w = World::default()
        .flag_dir("/srv/oc")
        .env("OPENCLAW_STATE_DIR", "/env/oc")
        .env("OPENCLAW_PROFILE", "work")
        .dir("/home/u/.openclaw");
    assert_eq!(w.pick(), p("/srv/oc", "--state-dir"));
    let w = World::default().flag_dir("/srv/oc").profile("work");
    assert_eq!(w.pick(), p("/srv/oc", "--state-dir"));
}

#[test]
fn openclaw_state_dir_beats_home_and_profile() {
    let w = World::default()
        .env("OPENCLAW_STATE_DIR", "/env/oc")
        .env("OPENCLAW_HOME", "/oh")
        .env("CLAWDBOT_STATE_DIR", "/legacy")
        .profile("work")
        .dir("/home/u/.openclaw");
    assert_eq!(w.pick(), p("/env/oc", "$OPENCLAW_STATE_DIR"));
}

#[test]
fn tilde_in_env_values_is_expanded() {
    let w = World::default().env("OPENCLAW_STATE_DIR", "~/oc-state");
    assert_eq!(w.pick(), p("/home/u/oc-state", "$OPENCLAW_STATE_DIR"));
    // `~` in the gateway's variables means $OPENCLAW_HOME when that is set.
    let w = World::default()
        .env("OPENCLAW_HOME", "~/alt")
        .env("OPENCLAW_STATE_DIR", "~/st");
    assert_eq!(w.pick(), p("/home/u/alt/st", "$OPENCLAW_STATE_DIR"));
    let w = World::default().env("OPENCLAW_HOME", "~");
    assert_eq!(w.pick().0, "/home/u/.openclaw");
}

#[test]
fn relative_paths_become_absolute() {
    let cwd = std::env::current_dir().expect("cwd");
    let w = World::default().env("OPENCLAW_STATE_DIR", "rel/oc");
    assert_eq!(w.resolve().expect("ok").path, cwd.join("rel/oc"));
    let w = World::default().flag_dir("here");
    assert_eq!(w.resolve().expect("ok").path, cwd.join("here"));
}

#[test]
fn openclaw_home_moves_the_default_dir() {
    let w = World::default()
        .env("OPENCLAW_HOME", "/oh")
        .dir("/oh/.openclaw");
    assert_eq!(w.pick(), p("/oh/.openclaw", "$OPENCLAW_HOME/.openclaw"));
    // Even when it does not exist yet, and never falls back to ~/.openclaw.
    let w = World::default()
        .env("OPENCLAW_HOME", "/oh")
        .dir("/home/u/.openclaw");
    assert_eq!(
        w.pick(),
        p(
            "/oh/.openclaw",
            "$OPENCLAW_HOME/.openclaw (does not exist yet)"
        )
    );
    // Legacy dirs are looked for under it too.
    let w = World::default()
        .env("OPENCLAW_HOME", "/oh")
        .dir("/oh/.clawdbot");
    assert_eq!(
        w.pick(),
        p("/oh/.clawdbot", "$OPENCLAW_HOME/.clawdbot (legacy)")
    );
}

#[test]
fn profiles_flag_beats_env() {
    let w = World::default().profile("work").dir("/home/u/.openclaw");
    assert_eq!(w.pick(), p("/home/u/.openclaw-work", "--profile work"));
    let w = World::default().env("OPENCLAW_PROFILE", "work");
    assert_eq!(
        w.pick(),
        p("/home/u/.openclaw-work", "$OPENCLAW_PROFILE (work)")
    );
    let w = World::default()
        .env("OPENCLAW_PROFILE", "home")
        .profile("work");
    assert_eq!(w.pick(), p("/home/u/.openclaw-work", "--profile work"));
}

#[test]
fn profile_details() {
    // "default" is the plain dir, as in the gateway.
    let w = World::default().profile("Default");
    assert_eq!(w.pick(), p("/home/u/.openclaw", "--profile Default"));
    // Under $OPENCLAW_HOME.
    let w = World::default().env("OPENCLAW_HOME", "/oh").profile("dev");
    assert_eq!(
        w.pick(),
        p("/oh/.openclaw-dev", "--profile dev under $OPENCLAW_HOME")
    );
    // A profile beats the legacy state dir variable and existing legacy dirs.
    let w = World::default()
        .env("CLAWDBOT_STATE_DIR", "/legacy")
        .dir("/home/u/.clawdbot")
        .profile("work");
    assert_eq!(w.pick().0, "/home/u/.openclaw-work");
}

#[test]
fn invalid_profiles_are_refused() {
    for bad in ["", "..", ".", "a/b", "../x", "-x", "_x", "a b", "é"] {
        let w = World::default().profile(bad);
        assert!(w.resolve().is_err(), "flag {bad:?} accepted");
        assert!(validate_profile(bad).is_err(), "{bad:?} valid");
    }
    let long = "a".repeat(65);
    assert!(validate_profile(&long).is_err());
    assert!(validate_profile(&"a".repeat(64)).is_ok());
    for good in ["work", "W0rk_2-b", "9"] {
        assert!(validate_profile(good).is_ok(), "{good:?}");
    }
    let w = World::default().env("OPENCLAW_PROFILE", "../../etc");
    let err = w.resolve().expect_err("refused");
    assert!(err.contains("\"../../etc\""), "{err}");
}

#[test]
fn empty_env_values_count_as_unset() {
    let w = World::default()
        .env("OPENCLAW_STATE_DIR", "")
        .env("OPENCLAW_HOME", "  ")
        .env("OPENCLAW_PROFILE", "")
        .env("CLAWDBOT_STATE_DIR", " ")
        .dir("/home/u/.openclaw");
    assert_eq!(w.pick(), p("/home/u/.openclaw", "~/.openclaw"));
}

#[test]
fn default_dir_when_it_exists() {
    let w = World::default()
        .dir("/home/u/.openclaw")
        .dir("/home/u/.clawdbot");
    assert_eq!(w.pick(), p("/home/u/.openclaw", "~/.openclaw"));
}

#[test]
fn legacy_dirs_only_without_openclaw_dir() {
    let w = World::default()
        .dir("/home/u/.clawdbot")
        .dir("/home/u/.moltbot");
    assert_eq!(w.pick(), p("/home/u/.clawdbot", "~/.clawdbot (legacy)"));
    let w = World::default().dir("/home/u/.moltbot");
    assert_eq!(w.pick(), p("/home/u/.moltbot", "~/.moltbot (legacy)"));
    let w = World::default()
        .dir("/home/u/.moldbot")
        .dir("/home/u/.moltbot");
    assert_eq!(w.pick(), p("/home/u/.moldbot", "~/.moldbot (legacy)"));
}

#[test]
fn clawdbot_state_dir_is_the_legacy_name_of_openclaw_state_dir() {
    // The gateway reads `OPENCLAW_STATE_DIR || CLAWDBOT_STATE_DIR`: it wins
    // over the default dir whether or not that exists.
    let w = World::default().env("CLAWDBOT_STATE_DIR", "~/cb");
    assert_eq!(w.pick(), p("/home/u/cb", "$CLAWDBOT_STATE_DIR (legacy)"));
    let w = World::default()
        .env("CLAWDBOT_STATE_DIR", "/cb")
        .dir("/home/u/.openclaw");
    assert_eq!(w.pick(), p("/cb", "$CLAWDBOT_STATE_DIR (legacy)"));
}

#[test]
fn nothing_exists() {
    let w = World::default();
    assert_eq!(
        w.pick(),
        p("/home/u/.openclaw", "~/.openclaw (does not exist yet)")
    );
}

#[test]
fn tilde_expansion_rules() {
    let home = Path::new("/h");
    assert_eq!(expand_tilde("~", home), PathBuf::from("/h"));
    assert_eq!(expand_tilde("~/a/b", home), PathBuf::from("/h/a/b"));
    assert_eq!(expand_tilde("~bob/a", home), PathBuf::from("~bob/a"));
    assert_eq!(expand_tilde("/x/~/y", home), PathBuf::from("/x/~/y"));
}
