//! Which OpenClaw release keepalive faces, and how it knows: a running
//! gateway serving this state dir (asked through its instance lock and its
//! loopback port, see [`super::gateway_probe`]; or a process whose command
//! line still leads to the package's `package.json`), else
//! `meta.lastTouchedVersion` in `openclaw.json`, else an `openclaw` package
//! installed on `PATH`. Read-only, and cheap enough to run each tick, so an
//! upgraded gateway is noticed.

use std::path::{Path, PathBuf};

use super::release::Release;
use super::state_dir::{Lookup, resolve};

/// How the release was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseSource {
    /// A running gateway process of this user, serving this state dir.
    Process,
    /// `meta.lastTouchedVersion` in `openclaw.json`.
    Config,
    /// An installed `openclaw` package (on `PATH`).
    Package,
    Unknown,
}

impl ReleaseSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseSource::Process => "process",
            ReleaseSource::Config => "config",
            ReleaseSource::Package => "package",
            ReleaseSource::Unknown => "unknown",
        }
    }
}

/// The release found, where, and for people, the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedRelease {
    pub release: Option<Release>,
    pub source: ReleaseSource,
    /// E.g. `gateway pid 4242: /opt/node_modules/openclaw/package.json`.
    pub detail: String,
}

/// What a release from the config or a package means for the rules.
const HINT: &str =
    "a gateway upgraded since may be newer, so later release lines are considered too";

impl DetectedRelease {
    /// As reported in `status`.
    pub fn status(&self) -> keepalive_proto::ReleaseStatus {
        keepalive_proto::ReleaseStatus {
            version: self.release.map(|r| r.to_string()),
            source: self.source.as_str().to_string(),
            detail: self.detail.clone(),
        }
    }

    fn unknown(detail: String) -> Self {
        DetectedRelease {
            release: None,
            source: ReleaseSource::Unknown,
            detail,
        }
    }
}

/// Finds the release for `state_dir` (see the module doc for the order).
/// `config_path` is the config keepalive reads, `last_touched` its
/// `meta.lastTouchedVersion`.
pub fn detect(state_dir: &Path, config_path: &Path, last_touched: Option<&str>) -> DetectedRelease {
    let mut problems: Vec<String> = Vec::new();
    // A running gateway that could not say its release still tells that the
    // config's version is the running one's, and is named in the detail.
    let mut running: Option<String> = None;
    if let Some(gateway) = super::gateway_probe::serving(state_dir, config_path) {
        match gateway.version.as_deref().map(str::parse::<Release>) {
            Ok(Ok(release)) => {
                return DetectedRelease {
                    release: Some(release),
                    source: ReleaseSource::Process,
                    detail: format!(
                        "gateway pid {}: it said serverVersion {release}",
                        gateway.pid
                    ),
                };
            }
            Ok(Err(e)) => problems.push(format!("gateway pid {}: {e}", gateway.pid)),
            Err(e) => {
                running = Some(format!(
                    "gateway pid {} is running but does not say its release ({e})",
                    gateway.pid
                ))
            }
        }
    }
    match running_gateway(state_dir) {
        Ok(Some((pid, package))) => match package_release(&package) {
            Ok(release) => {
                return DetectedRelease {
                    release: Some(release),
                    source: ReleaseSource::Process,
                    detail: format!("gateway pid {pid}: {}", package.display()),
                };
            }
            Err(e) => problems.push(format!("gateway pid {pid}: {e}")),
        },
        Ok(None) => {}
        Err(e) => problems.push(e),
    }
    if let Some(text) = last_touched {
        match text.parse::<Release>() {
            Ok(release) => {
                let detail = match &running {
                    Some(gateway) => format!("openclaw.json meta.lastTouchedVersion; {gateway}"),
                    None => {
                        "openclaw.json meta.lastTouchedVersion (no running gateway seen)".into()
                    }
                };
                return DetectedRelease {
                    release: Some(release),
                    source: ReleaseSource::Config,
                    detail,
                };
            }
            Err(e) => problems.push(format!("openclaw.json meta.lastTouchedVersion: {e}")),
        }
    }
    if let Some(package) = installed_package() {
        match package_release(&package) {
            Ok(release) => {
                return DetectedRelease {
                    release: Some(release),
                    source: ReleaseSource::Package,
                    detail: format!("installed package {}; {HINT}", package.display()),
                };
            }
            Err(e) => problems.push(e),
        }
    }
    let gateway = match running {
        Some(gateway) => gateway,
        None => "no running gateway".into(),
    };
    let mut detail = format!(
        "{gateway}, no meta.lastTouchedVersion in openclaw.json, and no openclaw package on PATH"
    );
    if !problems.is_empty() {
        detail = format!("{detail} ({})", problems.join("; "));
    }
    DetectedRelease::unknown(format!(
        "{detail}; keepalive assumes each release line the stores allow: it writes by the earliest \
         deadline any of them sets, and never gives up on a session one of them would keep"
    ))
}

/// The `package.json` of a running OpenClaw process of this user whose
/// state dir is `state_dir`, with its pid; the lowest pid when several are.
fn running_gateway(state_dir: &Path) -> Result<Option<(u32, PathBuf)>, String> {
    let proc = Path::new("/proc");
    let entries = match std::fs::read_dir(proc) {
        Ok(entries) => entries,
        // No procfs (macOS): the config and PATH still tell.
        Err(_) => return Ok(None),
    };
    let uid = crate::paths::current_uid();
    let wanted = canonical(state_dir);
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        if !owned_by(&dir, uid) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let Some(package) = package_in_cmdline(&cmdline, &dir) else {
            continue;
        };
        if let Ok(environ) = std::fs::read(dir.join("environ"))
            && process_state_dir(&environ).is_some_and(|d| canonical(&d) != wanted)
        {
            continue;
        }
        found.push((pid, package));
    }
    found.sort();
    Ok(found.into_iter().next())
}

fn owned_by(dir: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).is_ok_and(|m| m.uid() == uid)
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The OpenClaw `package.json` an argv (NUL-separated) runs: an argument
/// that is, or lies inside, an `openclaw` package folder (`.../openclaw/
/// openclaw.mjs`, `.../openclaw/dist/index.js`, or the `openclaw` bin link,
/// resolved). Relative arguments resolve against the process's cwd.
pub fn package_in_cmdline(cmdline: &[u8], proc_dir: &Path) -> Option<PathBuf> {
    let args = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .filter_map(|a| std::str::from_utf8(a).ok());
    // Only arguments naming an openclaw path are resolved: resolving every
    // argument of every process could block on a hung network mount.
    for arg in args.take(8).filter(|a| a.contains("openclaw")) {
        let path = Path::new(arg);
        let path = if path.is_relative() {
            match std::fs::read_link(proc_dir.join("cwd")) {
                Ok(cwd) => cwd.join(path),
                Err(_) => continue,
            }
        } else {
            path.to_path_buf()
        };
        let Ok(real) = std::fs::canonicalize(&path) else {
            continue;
        };
        if let Some(package) = enclosing_package(&real) {
            return Some(package);
        }
    }
    None
}

/// The nearest `package.json` above `file` whose folder is named `openclaw`.
fn enclosing_package(file: &Path) -> Option<PathBuf> {
    file.ancestors()
        .skip(1)
        .take(4)
        .find(|dir| dir.file_name().is_some_and(|n| n == "openclaw"))
        .map(|dir| dir.join("package.json"))
        .filter(|p| p.is_file())
}

/// The state dir a process with this environment (NUL-separated `K=V`)
/// would use, resolved the gateway's way; `None` when it cannot be told.
fn process_state_dir(environ: &[u8]) -> Option<PathBuf> {
    let vars: Vec<(&str, &str)> = environ
        .split(|b| *b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let env = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let home = PathBuf::from(env("HOME")?);
    let exists = |p: &Path| p.exists();
    resolve(&Lookup {
        flag_state_dir: None,
        flag_profile: None,
        env: &env,
        home: &home,
        exists: &exists,
    })
    .ok()
    .map(|choice| choice.path)
}

/// The `openclaw` command on `PATH`, resolved to its package's `package.json`.
fn installed_package() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("openclaw"))
        .filter(|bin| bin.is_file())
        .find_map(|bin| enclosing_package(&std::fs::canonicalize(bin).ok()?))
}

/// The release a `package.json` declares, if it is OpenClaw's.
pub fn package_release(package: &Path) -> Result<Release, String> {
    let text = std::fs::read_to_string(package)
        .map_err(|e| format!("cannot read {}: {e}", package.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", package.display()))?;
    if value.get("name").and_then(|n| n.as_str()) != Some("openclaw") {
        return Err(format!(
            "{} is not openclaw's package.json",
            package.display()
        ));
    }
    let version = value
        .get("version")
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("{} has no version", package.display()))?;
    version
        .parse()
        .map_err(|e| format!("{}: {e}", package.display()))
}
