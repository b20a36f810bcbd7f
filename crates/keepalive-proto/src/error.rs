//! Error replies: a stable machine-readable code plus a message for people.

use serde::{Deserialize, Serialize};

/// Stable, snake_case error codes. Clients branch on these, never on messages.
/// New codes may be added in minor releases; unknown ones decode as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The line was not valid JSON (or not a JSON object).
    BadJson,
    /// The line was longer than [`crate::MAX_FRAME_BYTES`]; it was discarded.
    FrameTooLarge,
    /// The line was not valid UTF-8.
    InvalidUtf8,
    /// `v` named a protocol version this daemon does not speak.
    UnsupportedVersion,
    /// `cmd` named no known command.
    UnknownCommand,
    /// A field was missing, of the wrong type, or not known for this command.
    InvalidRequest,
    /// A field had the right type but an unusable value (interval out of range...).
    InvalidArgument,
    /// The named agent is not served by this daemon.
    UnknownAgent,
    /// A named session key is in no served store.
    UnknownSession,
    /// `forget` named a rule that does not exist.
    NoSuchRule,
    /// A touch named a session the gateway would already reset; pass
    /// `revive` to bump it anyway.
    SessionStale,
    /// The gateway's lock on a store was held for longer than the daemon waits.
    StoreBusy,
    /// A store is not a complete JSON object; it was left untouched.
    StoreInvalid,
    /// A store file does not exist (any more).
    StoreNotFound,
    /// A store kept changing under the daemon; the round was abandoned.
    StoreChanged,
    /// The agent's store generation is one keepalive does not write (SQLite,
    /// or an unknown layout); nothing was written.
    GenerationUnsupported,
    /// Reading or writing a store failed at the OS level.
    StoreIo,
    /// Persisting the daemon's settings failed; the change was not applied.
    SettingsIo,
    /// The daemon is shutting down and takes no new work.
    ShuttingDown,
    /// The connecting user is not the daemon's user.
    PermissionDenied,
    /// A bug or an unexpected failure inside the daemon.
    Internal,
    /// A code from a newer daemon that this client does not know.
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// The wire spelling of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::InvalidUtf8 => "invalid_utf8",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::UnknownCommand => "unknown_command",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::UnknownAgent => "unknown_agent",
            ErrorCode::UnknownSession => "unknown_session",
            ErrorCode::NoSuchRule => "no_such_rule",
            ErrorCode::SessionStale => "session_stale",
            ErrorCode::StoreBusy => "store_busy",
            ErrorCode::StoreInvalid => "store_invalid",
            ErrorCode::StoreNotFound => "store_not_found",
            ErrorCode::StoreChanged => "store_changed",
            ErrorCode::GenerationUnsupported => "generation_unsupported",
            ErrorCode::StoreIo => "store_io",
            ErrorCode::SettingsIo => "settings_io",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::Internal => "internal",
            ErrorCode::Other => "other",
        }
    }

    /// Parses a wire spelling; unknown spellings give `Other`.
    pub fn from_wire(code: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(code.to_owned()))
            .unwrap_or(ErrorCode::Other)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` member of a failed reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} ({code})")]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// Structured context for programs (for example the versions a daemon
    /// speaks, or the per-agent results of a partly failed touch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// `unknown_session`: `touch` named keys that no targeted store holds; nothing was
    /// written, and `details.missing` lists the keys.
    pub fn unknown_sessions<K: AsRef<str>>(missing: &[K]) -> Self {
        let keys: Vec<&str> = missing.iter().map(AsRef::as_ref).collect();
        let quoted: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
        ErrorBody::new(
            ErrorCode::UnknownSession,
            format!(
                "unknown session {}: in no store (the gateway removed it?); `keepalivectl \
                 sessions` lists them",
                quoted.join(", ")
            ),
        )
        .with_details(serde_json::json!({ "missing": keys }))
    }
}
