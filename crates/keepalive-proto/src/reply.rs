//! Replies: `{"v": 1, "ok": true, ...result}` or
//! `{"v": 1, "ok": false, "error": {"code", "message"}}`, one per request, in order.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{ErrorBody, ErrorCode, PROTOCOL_VERSION, ResetEvent, ResetVerdict, Rule};

/// A decoded reply line, before the caller picks the result type it expects.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Ok(Map<String, Value>),
    Err(ErrorBody),
}

impl Reply {
    /// Reads the result of a successful reply as the type the command returns.
    pub fn into_result<T: DeserializeOwned>(self) -> Result<T, ErrorBody> {
        match self {
            Reply::Ok(map) => serde_json::from_value(Value::Object(map)).map_err(|e| {
                ErrorBody::new(
                    ErrorCode::Internal,
                    format!("the daemon's reply has an unexpected shape: {e}"),
                )
            }),
            Reply::Err(body) => Err(body),
        }
    }
}

/// Encodes a successful reply carrying `result`'s fields.
pub fn encode_ok<T: Serialize>(result: &T) -> String {
    let mut line = Map::new();
    line.insert("v".into(), Value::from(PROTOCOL_VERSION));
    line.insert("ok".into(), Value::Bool(true));
    match serde_json::to_value(result) {
        Ok(Value::Object(fields)) => line.extend(fields),
        Ok(Value::Null) => {}
        Ok(other) => {
            line.insert("result".into(), other);
        }
        Err(e) => {
            return encode_error(&ErrorBody::new(
                ErrorCode::Internal,
                format!("could not encode the reply: {e}"),
            ));
        }
    }
    Value::Object(line).to_string()
}

/// Encodes a failed reply.
pub fn encode_error(error: &ErrorBody) -> String {
    serde_json::json!({ "v": PROTOCOL_VERSION, "ok": false, "error": error }).to_string()
}

/// Decodes one reply line.
pub fn decode_reply(line: &str) -> Result<Reply, ErrorBody> {
    let bad = |why: String| ErrorBody::new(ErrorCode::Internal, why);
    let value: Value = serde_json::from_str(line)
        .map_err(|e| bad(format!("the daemon's reply is not valid JSON: {e}")))?;
    let Value::Object(mut map) = value else {
        return Err(bad("the daemon's reply is not a JSON object".into()));
    };
    match map.remove("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(PROTOCOL_VERSION) => {}
        other => {
            return Err(bad(format!(
                "the daemon replied with protocol version {}, this client speaks {PROTOCOL_VERSION}",
                other.map_or_else(|| "(none)".to_string(), |v| v.to_string())
            )));
        }
    }
    match map.remove("ok") {
        Some(Value::Bool(true)) => Ok(Reply::Ok(map)),
        Some(Value::Bool(false)) => {
            let error = map
                .remove("error")
                .ok_or_else(|| bad("the daemon's error reply has no \"error\" member".into()))?;
            let body = serde_json::from_value(error)
                .map_err(|e| bad(format!("the daemon's error reply is malformed: {e}")))?;
            Ok(Reply::Err(body))
        }
        _ => Err(bad("the daemon's reply has no boolean \"ok\" member".into())),
    }
}

/// `hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelloReply {
    /// Always `"keepalived"`, so clients can tell they reached the right daemon.
    pub daemon: String,
    pub version: String,
    pub protocol: u64,
    pub capabilities: Vec<String>,
    pub pid: u32,
}

/// `touch`: what happened in each store the touch reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TouchReply {
    pub results: Vec<AgentResult>,
}

/// The outcome of one write round (or dry run) on one agent's store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentResult {
    pub agent: String,
    pub store: String,
    /// Entries in the store.
    pub sessions: usize,
    /// Keys whose timestamp moved forward (or would have, in a dry run).
    pub bumped: Vec<String>,
    /// Whether a new store file was written.
    pub written: bool,
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// Why this store was not written, when that is by design (e.g. the
    /// SQLite generation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `get_interval` / `set_interval`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalReply {
    pub interval_s: u64,
    /// The interval before a `set_interval`; absent for `get_interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_s: Option<u64>,
}

/// `include`, `exclude`, `forget`, `rules`: the rules now in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesReply {
    pub rules: Vec<Rule>,
}

/// `get_active_within` / `set_active_within`. `null`: every session is kept alive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveWithinReply {
    pub active_within_s: Option<u64>,
}

/// `sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionsReply {
    pub sessions: Vec<SessionRow>,
}

/// One session as keepalive sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRow {
    pub agent: String,
    pub key: String,
    /// Unix ms of the last real activity (not keepalive's own bumps); null if none is known.
    pub last_activity_ms: Option<u64>,
    /// `transcript` (the session's .jsonl was appended to), `gateway` (its
    /// timestamps were moved by someone else than keepalive) or `touch` (a client touched it).
    pub activity_source: Option<String>,
    /// Unix ms at which the gateway would reset it if nothing bumped it (in
    /// the past when it is stale already); null when it never expires.
    pub stale_at_ms: Option<u64>,
    /// `daily` or `idle`: the rule behind `stale_at_ms`.
    pub stale_rule: Option<String>,
    pub kept_alive: bool,
    /// Stable code: `included`, `in_use`, `excluded`, `idle_too_long`,
    /// `stale_already`, `no_timestamp`.
    pub reason: String,
    /// The reason in words, with the numbers behind it.
    pub detail: String,
    /// The session's last reset keepalive noticed (`resets` has the whole event); absent
    /// when it noticed none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reset: Option<LastReset>,
}

/// When a session was last reset, and keepalive's verdict on it just before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastReset {
    pub noticed_ms: u64,
    pub verdict: Option<ResetVerdict>,
}

/// `resets`: the changes keepalive noticed, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResetsReply {
    pub events: Vec<ResetEvent>,
    /// The event log's file.
    pub log_file: String,
    /// Why the log file is not written (it was unreadable, and is left alone for a person to
    /// look at): events are then kept in memory only, until the daemon stops.
    pub log_problem: Option<String>,
}

/// `metrics`: the Prometheus text exposition (format 0.0.4), one string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsReply {
    pub text: String,
}

/// `shutdown`: sent before the daemon stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShutdownReply {
    pub stopping: bool,
    /// The daemon's pid, so a client can wait until the process is gone.
    pub pid: u32,
}

/// `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReply {
    pub pid: u32,
    pub version: String,
    pub uptime_s: u64,
    pub interval_s: u64,
    pub state_dir: String,
    pub socket: String,
    pub dry_run: bool,
    /// Where run-time settings (interval, rules) are persisted.
    pub settings_file: String,
    /// The daemon's log file; null when it logs to stderr.
    pub log_file: Option<String>,
    /// Unix ms of the next scheduled tick.
    pub next_tick_ms: u64,
    /// `policy` (write just before sessions would expire) or `interval` (write every tick).
    pub schedule: String,
    /// Sessions active within this many seconds are kept alive; null: all of them.
    pub active_within_s: Option<u64>,
    /// How the state dir was found, e.g. `$OPENCLAW_STATE_DIR`.
    pub state_dir_source: String,
    /// The OpenClaw release whose rules keepalive applies, and how it knows.
    pub openclaw_release: ReleaseStatus,
    pub config: ConfigStatus,
    pub agents: Vec<AgentStatus>,
}

/// The OpenClaw release keepalive believes it faces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseStatus {
    /// E.g. `2026.6.35`; null when it cannot be told.
    pub version: Option<String>,
    /// `process` (a running gateway serving this state dir), `config`
    /// (`meta.lastTouchedVersion` in `openclaw.json`), `package` (an
    /// installed `openclaw` package) or `unknown`.
    pub source: String,
    /// The evidence, or when unknown, why and what keepalive assumes.
    pub detail: String,
}

/// The gateway config keepalive read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigStatus {
    pub path: String,
    pub found: bool,
    /// Problems reading it (file, line, reason); the gateway's defaults apply for those parts.
    pub problems: Vec<String>,
}

/// One agent in `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    pub id: String,
    pub store: String,
    /// Entries in the store at the last round; null before the first.
    pub sessions: Option<usize>,
    /// Sessions the last round kept alive (bumped or already current).
    pub kept_alive: Option<usize>,
    /// Unix ms when the last round (tick or touch) finished; null before the first.
    pub last_tick_ms: Option<u64>,
    pub last_tick_duration_ms: Option<f64>,
    /// Store files written since the daemon started.
    pub writes: u64,
    /// The error of the last round, cleared by the next successful one.
    pub last_error: Option<ErrorBody>,
    /// `json-v1`, `json-v2`, `sqlite` or `unknown`; null before the first round.
    pub generation: Option<String>,
    /// Unix ms of the next planned write; null when none is planned.
    pub next_write_ms: Option<u64>,
    /// Why that write is planned (or why none is).
    pub next_write_reason: Option<String>,
    /// Something people should know about this agent (e.g. why keepalive does not write it).
    pub note: Option<String>,
    /// Resets of this agent's sessions noticed since the daemon started.
    #[serde(default)]
    pub resets: u64,
    /// Of those, resets of sessions keepalive was keeping alive (its failures).
    #[serde(default)]
    pub resets_of_kept: u64,
}
