//! The keepalive wire protocol, shared by `keepalived` and `keepalivectl`.
//!
//! This crate is the single source of truth for what travels over the socket:
//! one JSON object per `\n`-terminated line, requests `{"v": 1, "cmd": ...}` and
//! replies `{"v": 1, "ok": true, ...}` / `{"v": 1, "ok": false, "error": {...}}`.
//! `proto/PROTOCOL.md` at the repository root documents the same thing for
//! clients in other languages, and `proto/vectors/*.jsonl` are checked against
//! these types by the tests.

mod codec;
mod error;
mod reply;
mod request;
mod reset;

pub use codec::{Frame, FrameCodec, MAX_FRAME_BYTES, MAX_REPLY_BYTES};
pub use error::{ErrorBody, ErrorCode};
pub use reply::{
    ActiveWithinReply, AgentResult, AgentStatus, ConfigStatus, HelloReply, IntervalReply,
    LastReset, MetricsReply, ReleaseStatus, Reply, ResetsReply, RulesReply, SessionRow,
    SessionsReply, ShutdownReply, StatusReply, TouchReply, decode_reply, encode_error, encode_ok,
};
pub use request::{COMMANDS, PARSER_CODES, Request, Rule, RuleAction, parse_request};
pub use reset::{ResetEvent, ResetKind, ResetVerdict};

/// The protocol major version this crate speaks. A request carrying any other
/// `v` is refused with [`ErrorCode::UnsupportedVersion`].
pub const PROTOCOL_VERSION: u64 = 1;

/// Every protocol version a daemon built from this crate accepts.
pub const SUPPORTED_VERSIONS: &[u64] = &[PROTOCOL_VERSION];

/// Capability names returned by `hello`, so clients can feature-detect
/// (watchman-style) instead of comparing version numbers.
pub const CAPABILITIES: &[&str] = &[
    "touch",
    "touch-wait-durable",
    "interval",
    "rules",
    "status",
    "shutdown",
    "dry-run",
    "activity",
    "sessions",
    "revive",
    "generations",
    "policy-schedule",
    "metrics",
    "resets",
];

/// Longest session key a request may carry. Real keys are well under 200
/// bytes; the cap keeps hostile input from growing daemon state.
pub const MAX_NAME_BYTES: usize = 1024;

/// Longest agent id a request may carry (agent ids are directory names).
pub const MAX_AGENT_BYTES: usize = 128;
