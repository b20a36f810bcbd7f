//! Reads the gateway's `openclaw.json` (JSON5) for what keepalive needs:
//! where the stores are (`session.store`) and the reset policy. Read only:
//! keepalive never writes this file.
//!
//! The file is parsed into a `serde_json::Value` and the fields are then
//! read by hand, leniently, so that one wrongly typed field costs only that
//! field (with a problem saying so) rather than the whole config. Anything
//! that cannot be read falls back to the gateway's defaults, and the
//! problems say where and why, for `doctor` and the log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::reset::{Mode, PartialRule, ResetConfig};
use super::state_dir::{absolute, env_value, expand_tilde};

/// Config file names the gateway accepts in a state dir, in its order
/// (`resolveConfigPath`): the current one, then the legacy ones.
pub const CONFIG_FILE_NAMES: [&str; 4] = [
    "openclaw.json",
    "clawdbot.json",
    "moldbot.json",
    "moltbot.json",
];

/// What keepalive understood of `openclaw.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenClawConfig {
    pub path: PathBuf,
    /// The file exists (even when it could not be read or parsed).
    pub found: bool,
    /// `session.store`, verbatim; see [`store_path`].
    pub store_template: Option<String>,
    pub reset: ResetConfig,
    /// `meta.lastTouchedVersion`: the release that last saved the file.
    pub last_touched_version: Option<String>,
    /// For people: `<file>:<line>:<col>: <reason>; using the gateway's
    /// defaults`, or `<file>: <field>: <reason>` for a field that was ignored.
    pub problems: Vec<String>,
}

/// The config file: `$OPENCLAW_CONFIG_PATH` (with `~` expanded) if set, else
/// the first existing of [`CONFIG_FILE_NAMES`] in the state dir, else
/// `<stateDir>/openclaw.json`. Looks at the real file system for the legacy
/// names; [`config_path_in`] is the pure form.
pub fn config_path(state_dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    config_path_in(state_dir, env, &|p: &Path| p.exists())
}

/// [`config_path`] with the existence check injected. `~` expands to
/// `$OPENCLAW_HOME`, else `$HOME`, as the gateway's `resolveUserPath` does.
pub fn config_path_in(
    state_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(value) = env_value(env, "OPENCLAW_CONFIG_PATH") {
        let expanded = match env_home(env) {
            Some(home) => expand_tilde(&value, &home),
            None => PathBuf::from(&value),
        };
        return absolute(&expanded).unwrap_or(expanded);
    }
    CONFIG_FILE_NAMES
        .iter()
        .map(|name| state_dir.join(name))
        .find(|p| exists(p))
        .unwrap_or_else(|| state_dir.join(CONFIG_FILE_NAMES[0]))
}

fn env_home(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let user_home = env_value(env, "HOME").map(PathBuf::from);
    match env_value(env, "OPENCLAW_HOME") {
        Some(h) => Some(match &user_home {
            Some(home) => expand_tilde(&h, home),
            None => PathBuf::from(h),
        }),
        None => user_home,
    }
}

/// Reads and parses the config. Never fails: a missing file is `found:
/// false` with no problems; anything else that goes wrong is a problem and
/// the gateway's defaults.
pub fn load(path: &Path) -> OpenClawConfig {
    let mut config = OpenClawConfig {
        path: path.to_path_buf(),
        ..OpenClawConfig::default()
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return config,
        Err(e) => {
            config.found = true;
            config.problems.push(format!(
                "{}: cannot read it: {e}; using the gateway's defaults",
                path.display()
            ));
            return config;
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => parse(path, &text),
        Err(e) => {
            config.found = true;
            config.problems.push(format!(
                "{}: not UTF-8 text ({e}); using the gateway's defaults",
                path.display()
            ));
            config
        }
    }
}

/// Parses config text as if read from `path` (pure; `found` is true).
pub fn parse(path: &Path, text: &str) -> OpenClawConfig {
    let mut config = OpenClawConfig {
        path: path.to_path_buf(),
        found: true,
        ..OpenClawConfig::default()
    };
    let file = path.display().to_string();
    let root: Value = match json5::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            config.problems.push(json5_problem(&file, &e));
            return config;
        }
    };
    let Some(root) = root.as_object() else {
        config.problems.push(format!(
            "{file}: the top level is {}, not an object; using the gateway's defaults",
            kind(&root)
        ));
        return config;
    };
    let mut fields = Fields {
        file: &file,
        problems: &mut config.problems,
    };
    // The gateway writes this whenever it saves the config; it tells which
    // release runs here when no gateway process can be seen.
    config.last_touched_version = root
        .get("meta")
        .and_then(|m| m.get("lastTouchedVersion"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some(session) = root.get("session") else {
        return config;
    };
    config.reset.session = session.clone();
    let Some(session) = fields.object("session", session) else {
        return config;
    };
    if let Some(v) = session.get("store") {
        config.store_template = fields.string("session.store", v);
    }
    let reset = &mut config.reset;
    if let Some(v) = session.get("reset") {
        reset.explicit_reset = true;
        reset.reset = fields.rule("session.reset", v);
    }
    if let Some(v) = session.get("resetByType") {
        reset.explicit_reset = true;
        reset.by_type = fields.rules("session.resetByType", v);
    }
    if let Some(v) = session.get("resetByChannel") {
        reset.by_channel = fields.rules("session.resetByChannel", v);
    }
    if let Some(v) = session.get("idleMinutes") {
        reset.legacy_idle_minutes = fields.minutes("session.idleMinutes", v);
    }
    config
}

/// `<file>:<line>:<col>: <reason>`, 1-based like editors (json5 counts
/// from 0).
fn json5_problem(file: &str, e: &json5::Error) -> String {
    let reason = match e.code() {
        Some(code) => code.to_string(),
        // A custom error's Display carries the position too; keep it whole.
        None => e.to_string(),
    };
    match e.position() {
        Some(p) => format!(
            "{file}:{}:{}: invalid JSON5: {reason}; using the gateway's defaults",
            p.line + 1,
            p.column + 1
        ),
        None => format!("{file}: invalid JSON5: {reason}; using the gateway's defaults"),
    }
}

/// Reads fields leniently, recording a problem for each one it ignores.
struct Fields<'a> {
    file: &'a str,
    problems: &'a mut Vec<String>,
}

impl Fields<'_> {
    fn ignore(&mut self, field: &str, expected: &str, v: &Value) {
        self.problems.push(format!(
            "{}: {field}: expected {expected}, found {}; ignoring it (the gateway's default applies)",
            self.file,
            describe(v)
        ));
    }

    fn object<'v>(&mut self, field: &str, v: &'v Value) -> Option<&'v Map<String, Value>> {
        let obj = v.as_object();
        if obj.is_none() {
            self.ignore(field, "an object", v);
        }
        obj
    }

    fn string(&mut self, field: &str, v: &Value) -> Option<String> {
        let s = v.as_str().map(str::to_string);
        if s.is_none() {
            self.ignore(field, "a string", v);
        }
        s
    }

    /// A whole number >= 0; fractions are floored as the gateway does.
    fn whole(&mut self, field: &str, v: &Value, expected: &str) -> Option<u64> {
        let n = v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.floor() as u64)
        });
        if n.is_none() {
            self.ignore(field, expected, v);
        }
        n
    }

    fn minutes(&mut self, field: &str, v: &Value) -> Option<u64> {
        self.whole(field, v, "a number of minutes >= 0")
    }

    fn rules(&mut self, field: &str, v: &Value) -> BTreeMap<String, PartialRule> {
        let Some(obj) = self.object(field, v) else {
            return BTreeMap::new();
        };
        obj.iter()
            .filter_map(|(key, v)| {
                let name = format!("{field}.{key}");
                self.object(&name, v)?;
                Some((key.clone(), self.rule(&name, v)))
            })
            .collect()
    }

    fn rule(&mut self, field: &str, v: &Value) -> PartialRule {
        let mut rule = PartialRule::default();
        let Some(obj) = self.object(field, v) else {
            return rule;
        };
        if let Some(v) = obj.get("mode") {
            let name = format!("{field}.mode");
            rule.mode = v.as_str().and_then(parse_mode);
            if rule.mode.is_none() {
                self.ignore(&name, "\"daily\", \"idle\" or \"none\"", v);
            }
        }
        if let Some(v) = obj.get("atHour") {
            let name = format!("{field}.atHour");
            if let Some(hour) = self.whole(&name, v, "a whole hour 0-23") {
                // The gateway clamps (`normalizeResetAtHour`); so do we, aloud.
                if hour > 23 {
                    self.problems.push(format!(
                        "{}: {name}: {hour} is past 23; the gateway uses 23",
                        self.file
                    ));
                }
                rule.at_hour = Some(hour.min(23) as u8);
            }
        }
        if let Some(v) = obj.get("idleMinutes") {
            rule.idle_minutes = self.minutes(&format!("{field}.idleMinutes"), v);
        }
        rule
    }
}

/// Reset modes: no release reads anything but these exact strings
/// (`"Daily"`, `"off"` or `"manual"` just mean "not daily" to the gateway),
/// so anything else is reported as a problem (docs/GATEWAY.md).
fn parse_mode(s: &str) -> Option<Mode> {
    match s {
        "daily" => Some(Mode::Daily),
        "idle" => Some(Mode::Idle),
        "none" => Some(Mode::None),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for a problem message: scalars shown, containers named.
fn describe(v: &Value) -> String {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {
            format!("{} {v}", kind(v))
        }
        _ => kind(v).to_string(),
    }
}

/// The store file of `agent_id`. Without a template:
/// `<stateDir>/agents/<id>/sessions/sessions.json`. With one: a leading `~`
/// is expanded, every `{agentId}` replaced, and a relative result resolved
/// against `config_dir` (the directory of `openclaw.json`). A blank template
/// counts as none.
pub fn store_path(
    template: Option<&str>,
    state_dir: &Path,
    agent_id: &str,
    home: &Path,
    config_dir: &Path,
) -> PathBuf {
    match template.map(str::trim).filter(|t| !t.is_empty()) {
        None => state_dir
            .join("agents")
            .join(agent_id)
            .join("sessions")
            .join("sessions.json"),
        Some(t) => {
            let path = expand_tilde(&t.replace("{agentId}", agent_id), home);
            if path.is_absolute() {
                path
            } else {
                config_dir.join(path)
            }
        }
    }
}

/// A template without `{agentId}` names one file that every agent shares.
pub fn template_is_shared(template: Option<&str>) -> bool {
    template
        .map(str::trim)
        .is_some_and(|t| !t.is_empty() && !t.contains("{agentId}"))
}

#[cfg(test)]
mod tests;
