//! Settings changed at run time (interval, rules), persisted per OpenClaw
//! state dir so two daemons serving two installations never share rules.
//!
//! Precedence: built-in defaults < this file < flags given at start-up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keepalive_proto::Rule;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot {op} settings file {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What is persisted. `interval_s` is absent until someone sets it at run
/// time, so a later change of the built-in default still reaches users.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Persisted {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_s: Option<u64>,
    /// The activity window, `--active-within`: absent until set at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_within: Option<ActiveWithin>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// The default tick interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// The default activity window: a session used at any time in the last day survives the
/// night's daily reset and its idle timeouts; one untouched for a day is let go, so the
/// gateway's pruning keeps working.
pub const DEFAULT_ACTIVE_WITHIN: ActiveWithin = ActiveWithin::Secs(24 * 60 * 60);

/// Start-up flags still in force: a flag beats the persisted value until the same setting
/// is changed at run time, which then applies at once (and clears the flag).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Flags {
    pub interval_s: Option<u64>,
    pub active_within: Option<ActiveWithin>,
}

/// The settings in force: built-in defaults < the settings file < start-up flags.
#[derive(Debug, Clone, PartialEq)]
pub struct InForce {
    pub interval_s: u64,
    pub active_within: ActiveWithin,
    pub rules: Vec<Rule>,
}

impl InForce {
    pub fn of(persisted: &Persisted, flags: Flags) -> Self {
        InForce {
            interval_s: flags
                .interval_s
                .or(persisted.interval_s)
                .unwrap_or(DEFAULT_INTERVAL.as_secs()),
            active_within: flags
                .active_within
                .or(persisted.active_within)
                .unwrap_or(DEFAULT_ACTIVE_WITHIN),
            rules: persisted.rules.clone(),
        }
    }
}

/// How long after its last real activity a session is kept alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActiveWithin {
    /// Seconds.
    Secs(u64),
    /// Keep every session alive, whatever its activity (the seed behaviour).
    All,
}

impl ActiveWithin {
    /// The window in ms, `None` for all.
    pub fn window_ms(self) -> Option<u64> {
        match self {
            ActiveWithin::Secs(s) => Some(s.saturating_mul(1000)),
            ActiveWithin::All => None,
        }
    }

    pub fn secs(self) -> Option<u64> {
        match self {
            ActiveWithin::Secs(s) => Some(s),
            ActiveWithin::All => None,
        }
    }
}

/// The on-disk form: the state dir is recorded so the file explains itself.
#[derive(Debug, Serialize, Deserialize)]
struct OnDisk {
    format: u32,
    state_dir: PathBuf,
    #[serde(flatten)]
    settings: Persisted,
}

const FORMAT: u32 = 1;

/// The settings file for one OpenClaw state dir.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    path: PathBuf,
    state_dir: PathBuf,
}

impl SettingsFile {
    /// `<keepalive state home>/settings-<name>-<hash>.json`, where the hash is of
    /// the state dir's path (FNV-1a: stable across Rust releases, unlike std's).
    pub fn for_state_dir(state_home: &Path, state_dir: &Path) -> Self {
        let name: String = state_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(32)
            .collect();
        let hash = fnv1a64(state_dir.as_os_str().as_encoded_bytes());
        SettingsFile {
            path: state_home.join(format!("settings-{name}-{hash:016x}.json")),
            state_dir: state_dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the persisted settings. A missing file is no settings. A file
    /// that cannot be understood is moved aside (never silently overwritten)
    /// and reported, and the defaults apply.
    pub fn load(&self) -> Result<(Persisted, Option<String>), SettingsError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Persisted::default(), None));
            }
            Err(source) => return Err(self.io("read", source)),
        };
        match serde_json::from_slice::<OnDisk>(&bytes) {
            Ok(disk) if disk.format == FORMAT => Ok((disk.settings, None)),
            result => {
                let why = match result {
                    Ok(disk) => format!("unknown format {}", disk.format),
                    Err(e) => e.to_string(),
                };
                let aside = self.path.with_extension("json.invalid");
                std::fs::rename(&self.path, &aside).map_err(|e| self.io("move aside", e))?;
                Ok((
                    Persisted::default(),
                    Some(format!(
                        "settings file {} was unreadable ({why}); moved to {} and started from defaults",
                        self.path.display(),
                        aside.display()
                    )),
                ))
            }
        }
    }

    /// Writes the settings atomically (see [`crate::atomic_file`]).
    pub fn save(&self, settings: &Persisted) -> Result<(), SettingsError> {
        let disk = OnDisk {
            format: FORMAT,
            state_dir: self.state_dir.clone(),
            settings: settings.clone(),
        };
        let mut text = serde_json::to_vec_pretty(&disk)
            .map_err(|e| self.io("encode", std::io::Error::other(e)))?;
        text.push(b'\n');
        crate::atomic_file::write_atomically(&self.path, &text).map_err(|e| self.io("write", e))
    }

    /// The log of the resets keepalive noticed in this state dir.
    pub fn resets_log(&self) -> PathBuf {
        self.path.with_extension("resets.jsonl")
    }

    /// The lock held by the one keepalive that writes this state dir's stores, ledgers and
    /// event log (a daemon on any socket, or `--once`).
    pub fn writer_lock(&self) -> PathBuf {
        self.path.with_extension("lock")
    }

    /// The directory for per-agent activity ledgers of this state dir.
    pub fn ledger_dir(&self) -> PathBuf {
        self.path.with_extension("activity")
    }

    fn io(&self, op: &'static str, source: std::io::Error) -> SettingsError {
        SettingsError::Io {
            op,
            path: self.path.clone(),
            source,
        }
    }
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalive_proto::RuleAction;

    #[test]
    fn round_trips_and_separates_state_dirs() {
        let home = tempfile::tempdir().expect("tempdir");
        let a = SettingsFile::for_state_dir(home.path(), Path::new("/home/a/.openclaw"));
        let b = SettingsFile::for_state_dir(home.path(), Path::new("/home/b/.openclaw"));
        assert_ne!(a.path(), b.path());
        let settings = Persisted {
            interval_s: Some(90),
            active_within: Some(ActiveWithin::Secs(3600)),
            rules: vec![Rule {
                session: "agent:main:main".into(),
                agent: None,
                action: RuleAction::Exclude,
            }],
        };
        a.save(&settings).expect("save");
        assert_eq!(a.load().expect("load").0, settings);
        assert_eq!(b.load().expect("load").0, Persisted::default());
    }

    #[test]
    fn an_unreadable_file_is_moved_aside_not_lost() {
        let home = tempfile::tempdir().expect("tempdir");
        let file = SettingsFile::for_state_dir(home.path(), Path::new("/x/.openclaw"));
        std::fs::write(file.path(), b"{ not json").expect("write");
        let (settings, warning) = file.load().expect("load");
        assert_eq!(settings, Persisted::default());
        assert!(warning.expect("a warning").contains("moved to"));
        let aside = file.path().with_extension("json.invalid");
        assert_eq!(std::fs::read(aside).expect("aside kept"), b"{ not json");
    }
}
