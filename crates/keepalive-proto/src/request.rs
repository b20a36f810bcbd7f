//! Requests: `{"v": 1, "cmd": "<command>", ...arguments}`, one per line.
//!
//! Parsing is strict on purpose. An unknown field is an error rather than
//! ignored: a misspelt `agent` would otherwise widen a `touch` to every store.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    ErrorBody, ErrorCode, MAX_AGENT_BYTES, MAX_NAME_BYTES, PROTOCOL_VERSION, SUPPORTED_VERSIONS,
};

/// Every command a client can send. The `cmd` field selects the variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Who are you, what do you speak, what can you do.
    Hello {},
    /// Bump now and answer once the write is durable. No `sessions`: every
    /// selected session (of `agent`, or of every agent). An empty list is
    /// refused: a filter that matched nothing must not touch everything.
    Touch {
        #[serde(
            default,
            deserialize_with = "present_list",
            skip_serializing_if = "Option::is_none"
        )]
        sessions: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
        /// Also bump named sessions the gateway would already reset. Without
        /// it such a touch is refused with `session_stale`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        revive: bool,
    },
    GetInterval {},
    SetInterval {
        interval_s: u64,
    },
    /// Always keep this session alive.
    Include {
        session: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// Never bump this session on ticks or touch-all.
    Exclude {
        session: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// Drop the include/exclude rule for this session.
    Forget {
        session: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    Rules {},
    /// The activity window: sessions used within it are kept alive.
    GetActiveWithin {},
    /// `active_within_s: null` keeps every session alive (no window).
    SetActiveWithin {
        #[serde(deserialize_with = "nullable_secs")]
        active_within_s: Option<u64>,
    },
    /// One row per session: its activity and whether keepalive keeps it alive, and why.
    Sessions {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    Status {},
    /// The resets (and appeared or disappeared entries) keepalive noticed, oldest first:
    /// of one agent or all, noticed at or after `since_ms`, newer than `after_seq`.
    Resets {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_seq: Option<u64>,
    },
    /// Counters and gauges in the Prometheus text format.
    Metrics {},
    Shutdown {},
}

impl Request {
    /// The wire name of the command.
    pub fn command(&self) -> &'static str {
        match self {
            Request::Hello {} => "hello",
            Request::Touch { .. } => "touch",
            Request::GetInterval {} => "get_interval",
            Request::SetInterval { .. } => "set_interval",
            Request::Include { .. } => "include",
            Request::Exclude { .. } => "exclude",
            Request::Forget { .. } => "forget",
            Request::Rules {} => "rules",
            Request::GetActiveWithin {} => "get_active_within",
            Request::SetActiveWithin { .. } => "set_active_within",
            Request::Sessions { .. } => "sessions",
            Request::Status {} => "status",
            Request::Resets { .. } => "resets",
            Request::Metrics {} => "metrics",
            Request::Shutdown {} => "shutdown",
        }
    }

    /// The request as one wire line, without the trailing newline.
    pub fn to_line(&self) -> String {
        let mut object = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // A unit-like enum of plain fields always serialises to an object.
            _ => Map::new(),
        };
        object.insert("v".into(), Value::from(PROTOCOL_VERSION));
        // Put `v` and `cmd` first so the lines read like the documentation.
        let mut ordered = Map::new();
        for key in ["v", "cmd"] {
            if let Some(value) = object.remove(key) {
                ordered.insert(key.into(), value);
            }
        }
        ordered.extend(object);
        Value::Object(ordered).to_string()
    }

    /// Checks values that the types cannot express (lengths, names).
    fn validate(&self) -> Result<(), ErrorBody> {
        let (sessions, agent): (&[String], &Option<String>) = match self {
            Request::Touch {
                sessions: Some(sessions),
                ..
            } if sessions.is_empty() => {
                return Err(ErrorBody::new(
                    ErrorCode::InvalidArgument,
                    "\"sessions\" is an empty list; omit it to touch every selected session",
                ));
            }
            Request::Touch {
                sessions, agent, ..
            } => (sessions.as_deref().unwrap_or_default(), agent),
            Request::Sessions { agent } | Request::Resets { agent, .. } => (&[][..], agent),
            Request::Include { session, agent }
            | Request::Exclude { session, agent }
            | Request::Forget { session, agent } => (std::slice::from_ref(session), agent),
            _ => return Ok(()),
        };
        for session in sessions {
            check_session_key(session)?;
        }
        if let Some(agent) = agent {
            check_agent_id(agent)?;
        }
        Ok(())
    }
}

/// `sessions`, when present, must be a list: `null` is refused like `[]`,
/// because either would otherwise mean "every session".
fn present_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Vec::<String>::deserialize(d).map(Some)
}

/// `active_within_s` must be present; `null` is a deliberate "no window".
fn nullable_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)
}

/// The action of an include/exclude rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    Include,
    Exclude,
}

/// One include/exclude rule. `agent: None` applies to the key in every agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub session: String,
    #[serde(default)]
    pub agent: Option<String>,
    pub action: RuleAction,
}

/// The codes [`parse_request`] may answer with. The others belong to the daemon.
pub const PARSER_CODES: &[ErrorCode] = &[
    ErrorCode::BadJson,
    ErrorCode::UnsupportedVersion,
    ErrorCode::UnknownCommand,
    ErrorCode::InvalidRequest,
    ErrorCode::InvalidArgument,
];

/// Parses one request line. The error is ready to send back as the reply.
pub fn parse_request(line: &str) -> Result<Request, ErrorBody> {
    let value: Value = serde_json::from_str(line).map_err(|e| {
        ErrorBody::new(
            ErrorCode::BadJson,
            format!("request is not valid JSON ({e}); send one JSON object per line"),
        )
    })?;
    let Value::Object(mut object) = value else {
        return Err(ErrorBody::new(
            ErrorCode::BadJson,
            "request must be a JSON object like {\"v\":1,\"cmd\":\"hello\"}",
        ));
    };
    match object.remove("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(PROTOCOL_VERSION) => {}
        Some(other) => {
            return Err(ErrorBody::new(
                ErrorCode::UnsupportedVersion,
                format!(
                    "protocol version {other} is not supported; this daemon speaks version {}",
                    join(SUPPORTED_VERSIONS)
                ),
            )
            .with_details(serde_json::json!({ "supported": SUPPORTED_VERSIONS })));
        }
        None => {
            return Err(ErrorBody::new(
                ErrorCode::InvalidRequest,
                format!("request has no \"v\" field; add \"v\": {PROTOCOL_VERSION}"),
            ));
        }
    }
    let command = match object.get("cmd") {
        Some(Value::String(cmd)) => cmd.clone(),
        Some(_) => {
            return Err(ErrorBody::new(
                ErrorCode::InvalidRequest,
                "\"cmd\" must be a string naming the command",
            ));
        }
        None => {
            return Err(ErrorBody::new(
                ErrorCode::InvalidRequest,
                "request has no \"cmd\" field naming the command",
            ));
        }
    };
    if !COMMANDS.contains(&command.as_str()) {
        return Err(ErrorBody::new(
            ErrorCode::UnknownCommand,
            format!(
                "unknown command {:?}; known commands: {}",
                truncate(&command, 64),
                COMMANDS.join(", ")
            ),
        ));
    }
    let request: Request = serde_json::from_value(Value::Object(object)).map_err(|e| {
        ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!("invalid {command:?} request: {e}"),
        )
    })?;
    request.validate()?;
    Ok(request)
}

/// Every command name, in documentation order.
pub const COMMANDS: &[&str] = &[
    "hello",
    "touch",
    "get_interval",
    "set_interval",
    "include",
    "exclude",
    "forget",
    "rules",
    "get_active_within",
    "set_active_within",
    "sessions",
    "status",
    "resets",
    "metrics",
    "shutdown",
];

fn check_session_key(key: &str) -> Result<(), ErrorBody> {
    let invalid = |why: &str| {
        Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!(
                "session key {:?} {why}; keys look like \"agent:main:main\"",
                truncate(key, 80)
            ),
        ))
    };
    if key.trim().is_empty() {
        return invalid("is empty");
    }
    if key.len() > MAX_NAME_BYTES {
        return invalid(&format!("is longer than {MAX_NAME_BYTES} bytes"));
    }
    if key.chars().any(char::is_control) {
        return invalid("contains control characters");
    }
    Ok(())
}

/// Agent ids name directories under `<stateDir>/agents/`, so anything that
/// could walk out of that directory is refused before it reaches a path.
fn check_agent_id(agent: &str) -> Result<(), ErrorBody> {
    let ok = !agent.is_empty()
        && agent.len() <= MAX_AGENT_BYTES
        && agent != "."
        && agent != ".."
        && !agent.contains(['/', '\\'])
        && !agent.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!(
                "agent id {:?} is not a valid agent directory name; agent ids look like \"main\"",
                truncate(agent, 80)
            ),
        ))
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn join(versions: &[u64]) -> String {
    versions
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
