//! Finds the OpenClaw state dir the way the gateway does, so keepalive
//! bumps the stores the gateway actually reads.
//!
//! The gateway's order (`src/config/paths.ts` `resolveStateDir`,
//! `src/cli/profile.ts` `applyCliProfileEnv`, `src/infra/home-dir.ts`):
//!
//! 1. `--state-dir` (keepalive's own flag; the person knows best);
//! 2. `$OPENCLAW_STATE_DIR`;
//! 3. a profile, `--profile P` before `$OPENCLAW_PROFILE`: `<home>/.openclaw-P`
//!    (`default` means `<home>/.openclaw`). The gateway's CLI turns a profile
//!    into `OPENCLAW_STATE_DIR` only when that is unset, hence its place;
//! 4. `$CLAWDBOT_STATE_DIR`, the legacy name of `OPENCLAW_STATE_DIR`. The
//!    gateway reads it as `OPENCLAW_STATE_DIR || CLAWDBOT_STATE_DIR`, so it
//!    wins even when `~/.openclaw` exists;
//! 5. `<home>/.openclaw` when it exists;
//! 6. the first existing legacy dir: `<home>/.clawdbot`, `.moldbot`, `.moltbot`
//!    (the gateway's order);
//! 7. `<home>/.openclaw`, which does not exist yet.
//!
//! `<home>` is `$OPENCLAW_HOME` when set (the gateway's `resolveRequiredHomeDir`
//! uses it for every home-relative path, profiles and legacy dirs included),
//! else the user's home. Environment values are trimmed, and empty ones count
//! as unset, as in the gateway.

use std::path::{Path, PathBuf};

/// The chosen state dir and, for people, how it was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StateDirChoice {
    pub path: PathBuf,
    /// E.g. `--state-dir`, `$OPENCLAW_STATE_DIR`, `--profile work`,
    /// `~/.openclaw`, `~/.clawdbot (legacy)`, `~/.openclaw (does not exist yet)`.
    pub source: String,
}

/// Everything [`resolve`] looks at, injected so tests need no real
/// environment or file system.
pub struct Lookup<'a> {
    pub flag_state_dir: Option<&'a Path>,
    pub flag_profile: Option<&'a str>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The user's home (not `$OPENCLAW_HOME`: that is read from `env`).
    pub home: &'a Path,
    pub exists: &'a dyn Fn(&Path) -> bool,
}

/// The legacy state dir names, in the order the gateway tries them.
pub const LEGACY_DIRS: [&str; 3] = [".clawdbot", ".moldbot", ".moltbot"];

/// Resolves the state dir (see the module doc for the order). Fails only on
/// an invalid profile name or a path that cannot be made absolute.
pub fn resolve(lookup: &Lookup) -> Result<StateDirChoice, String> {
    if let Some(flag) = lookup.flag_state_dir {
        let path = expand_tilde(&flag.to_string_lossy(), lookup.home);
        return choice(path, "--state-dir");
    }
    // `~` in the gateway's own variables means the effective home, which
    // `$OPENCLAW_HOME` replaces (its own `~` is the user's home).
    let (home, home_label) = match env_value(lookup.env, "OPENCLAW_HOME") {
        Some(value) => (
            absolute(&expand_tilde(&value, lookup.home))?,
            "$OPENCLAW_HOME",
        ),
        None => (lookup.home.to_path_buf(), "~"),
    };
    if let Some(value) = env_value(lookup.env, "OPENCLAW_STATE_DIR") {
        return choice(expand_tilde(&value, &home), "$OPENCLAW_STATE_DIR");
    }

    let profile = match lookup.flag_profile.map(str::trim) {
        Some(flag) => Some((flag.to_string(), format!("--profile {flag}"))),
        None => env_value(lookup.env, "OPENCLAW_PROFILE").map(|p| {
            let source = format!("$OPENCLAW_PROFILE ({p})");
            (p, source)
        }),
    };
    if let Some((name, source)) = profile {
        validate_profile(&name)?;
        let dir = if name.eq_ignore_ascii_case("default") {
            ".openclaw".to_string()
        } else {
            format!(".openclaw-{name}")
        };
        let source = if home_label == "~" {
            source
        } else {
            format!("{source} under $OPENCLAW_HOME")
        };
        return choice(home.join(dir), &source);
    }

    if let Some(value) = env_value(lookup.env, "CLAWDBOT_STATE_DIR") {
        return choice(expand_tilde(&value, &home), "$CLAWDBOT_STATE_DIR (legacy)");
    }

    let new_dir = home.join(".openclaw");
    if (lookup.exists)(&new_dir) {
        return choice(new_dir, &format!("{home_label}/.openclaw"));
    }
    for legacy in LEGACY_DIRS {
        let dir = home.join(legacy);
        if (lookup.exists)(&dir) {
            return choice(dir, &format!("{home_label}/{legacy} (legacy)"));
        }
    }
    choice(
        new_dir,
        &format!("{home_label}/.openclaw (does not exist yet)"),
    )
}

/// [`resolve`] against this process's environment and file system, with the
/// home directory from `directories::BaseDirs` (`$HOME` on Unix).
pub fn resolve_from_process(
    flag_state_dir: Option<&Path>,
    flag_profile: Option<&str>,
) -> Result<StateDirChoice, String> {
    let home = directories::BaseDirs::new()
        .map(|b| b.home_dir().to_path_buf())
        .ok_or("cannot find the home directory (is $HOME set?)")?;
    let env = |name: &str| std::env::var(name).ok();
    let exists = |path: &Path| path.exists();
    resolve(&Lookup {
        flag_state_dir,
        flag_profile,
        env: &env,
        home: &home,
        exists: &exists,
    })
}

/// Expands a leading `~` (alone or followed by `/`) to `home`, like the
/// gateway's `expandHomePrefix`; `~user` is left alone.
pub fn expand_tilde(value: &str, home: &Path) -> PathBuf {
    if value == "~" {
        return home.to_path_buf();
    }
    match value.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(value),
    }
}

/// An environment variable, trimmed; empty counts as unset (the gateway
/// reads `env.X?.trim() || ...`).
pub(crate) fn env_value(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The gateway's profile rule (`isValidProfileName`):
/// `^[a-z0-9][a-z0-9_-]{0,63}$`, case-insensitive. It keeps the name a single
/// path component: no `/`, no `.` or `..`, not empty.
pub fn validate_profile(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if first_ok && rest_ok && name.len() <= 64 {
        Ok(())
    } else {
        Err(format!(
            "invalid OpenClaw profile name {name:?}: use letters, digits, \"_\" and \"-\", \
             starting with a letter or digit, at most 64 characters"
        ))
    }
}

fn choice(path: PathBuf, source: &str) -> Result<StateDirChoice, String> {
    Ok(StateDirChoice {
        path: absolute(&path)?,
        source: source.to_string(),
    })
}

/// Makes a path absolute against the current directory, without touching
/// the file system (the dir may not exist yet).
pub(crate) fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("cannot make {} absolute: {e}", path.display()))
}

#[cfg(test)]
mod tests;
