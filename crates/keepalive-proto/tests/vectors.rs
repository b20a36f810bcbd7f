//! The golden vectors in `proto/vectors/*.jsonl` against the real types.
//!
//! Each line of a vector file is one case:
//! `{"name", "request", "reply", "checked_by"?, "note"?}`. Success cases must
//! parse, round-trip through `Request::to_line`, and their reply must decode
//! into the command's reply type and re-encode to the same object. Error cases
//! are either refused by `parse_request` with the same code (`"parser"`) or
//! parse fine and are refused by the daemon (`"daemon"`), which the end-to-end
//! tests check. Error messages are for people and written as `"*"`.
//!
//! Over 400 lines: every reply type is decoded and checked by name (`check_ok_reply`), so a
//! command added without its vector or its PROTOCOL.md entry fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use keepalive_proto::{
    ActiveWithinReply, CAPABILITIES, COMMANDS, ErrorBody, ErrorCode, HelloReply, IntervalReply,
    MAX_FRAME_BYTES, MetricsReply, Reply, Request, ResetKind, ResetsReply, RulesReply,
    SessionsReply, ShutdownReply, StatusReply, TouchReply, decode_reply, encode_error, encode_ok,
    parse_request,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    request: String,
    reply: Value,
    #[serde(default)]
    checked_by: Option<CheckedBy>,
    /// What a daemon-checked case assumes about the daemon's stores or rules.
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CheckedBy {
    Parser,
    Daemon,
}

/// A case with where it came from, for failure messages.
struct Loaded {
    at: String,
    case: Case,
}

/// Every documented error code (all but `other` and `internal`).
const DOCUMENTED_CODES: &[ErrorCode] = &[
    ErrorCode::BadJson,
    ErrorCode::FrameTooLarge,
    ErrorCode::InvalidUtf8,
    ErrorCode::UnsupportedVersion,
    ErrorCode::UnknownCommand,
    ErrorCode::InvalidRequest,
    ErrorCode::InvalidArgument,
    ErrorCode::UnknownAgent,
    ErrorCode::UnknownSession,
    ErrorCode::NoSuchRule,
    ErrorCode::SessionStale,
    ErrorCode::StoreBusy,
    ErrorCode::StoreInvalid,
    ErrorCode::StoreNotFound,
    ErrorCode::StoreChanged,
    ErrorCode::GenerationUnsupported,
    ErrorCode::StoreIo,
    ErrorCode::SettingsIo,
    ErrorCode::ShuttingDown,
    ErrorCode::PermissionDenied,
];

/// Exhaustive on purpose: a new code must be added to `DOCUMENTED_CODES`
/// (and to PROTOCOL.md) or explicitly left out here.
fn is_documented(code: ErrorCode) -> bool {
    match code {
        ErrorCode::BadJson
        | ErrorCode::FrameTooLarge
        | ErrorCode::InvalidUtf8
        | ErrorCode::UnsupportedVersion
        | ErrorCode::UnknownCommand
        | ErrorCode::InvalidRequest
        | ErrorCode::InvalidArgument
        | ErrorCode::UnknownAgent
        | ErrorCode::UnknownSession
        | ErrorCode::NoSuchRule
        | ErrorCode::SessionStale
        | ErrorCode::StoreBusy
        | ErrorCode::StoreInvalid
        | ErrorCode::StoreNotFound
        | ErrorCode::StoreChanged
        | ErrorCode::GenerationUnsupported
        | ErrorCode::StoreIo
        | ErrorCode::SettingsIo
        | ErrorCode::ShuttingDown
        | ErrorCode::PermissionDenied => true,
        ErrorCode::Internal | ErrorCode::Other => false,
    }
}

/// Every wire spelling in `ErrorCode::as_str`, read from the crate's source.
/// That match is exhaustive, so this sees a new code even if nobody added it
/// to `DOCUMENTED_CODES` or `is_documented`.
fn codes_in_source() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/error.rs");
    let source =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let body = source
        .split("pub fn as_str(self)")
        .nth(1)
        .and_then(|rest| rest.split("\n    }\n").next())
        .expect("src/error.rs has ErrorCode::as_str");
    let codes: Vec<String> = body
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ErrorCode::"))
        .filter_map(|l| l.split("=> \"").nth(1))
        .filter_map(|l| l.split('"').next())
        .map(str::to_owned)
        .collect();
    assert!(
        codes.len() > DOCUMENTED_CODES.len(),
        "as_str lists {codes:?}"
    );
    codes
}

fn proto_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto")
}

fn load_cases() -> Vec<Loaded> {
    let dir = proto_dir().join("vectors");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the vector directory {}: {e}", dir.display()))
        .map(|entry| entry.expect("vector directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.jsonl vector files in {}",
        dir.display()
    );

    let mut cases = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let before = cases.len();
        for (index, line) in text.lines().enumerate() {
            let at = format!("{}:{}", file.display(), index + 1);
            assert!(!line.trim().is_empty(), "{at}: blank line in a vector file");
            let case: Case = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{at}: not a vector case: {e}"));
            cases.push(Loaded { at, case });
        }
        assert!(cases.len() > before, "{}: no cases", file.display());
    }
    cases
}

/// Decodes `reply` as `T`, re-encodes it, and checks nothing was lost or added.
fn assert_reply_round_trips<T>(at: &str, reply: &Value, result: Reply)
where
    T: DeserializeOwned + serde::Serialize,
{
    let typed: T = result.into_result().unwrap_or_else(|e| {
        panic!(
            "{at}: reply does not decode as {}: {e}",
            std::any::type_name::<T>()
        )
    });
    let encoded: Value = serde_json::from_str(&encode_ok(&typed)).expect("encode_ok gives JSON");
    assert_eq!(
        &encoded, reply,
        "{at}: reply does not survive decode and encode_ok"
    );
}

fn check_success(at: &str, case: &Case) {
    assert!(
        case.checked_by.is_none(),
        "{at}: success cases take no checked_by"
    );
    let request = parse_request(&case.request)
        .unwrap_or_else(|e| panic!("{at}: request {:?} is refused: {e}", case.request));
    check_line_round_trip(at, &request);
    let reply = decode_reply(&case.reply.to_string())
        .unwrap_or_else(|e| panic!("{at}: reply does not decode: {e}"));
    assert!(
        matches!(reply, Reply::Ok(_)),
        "{at}: reply is not a success"
    );
    check_ok_reply(at, &request, &case.reply, reply);
}

/// Checks a success reply `r` (decoded as `reply`) against the reply type of
/// `request`'s command, and what the reply must say about that request.
fn check_ok_reply(at: &str, request: &Request, r: &Value, reply: Reply) {
    match request.clone() {
        Request::Hello {} => {
            assert_reply_round_trips::<HelloReply>(at, r, reply.clone());
            let hello: HelloReply = reply.into_result().expect("checked above");
            assert_eq!(hello.daemon, "keepalived", "{at}");
            assert_eq!(hello.protocol, keepalive_proto::PROTOCOL_VERSION, "{at}");
            assert_eq!(
                hello.capabilities, CAPABILITIES,
                "{at}: capabilities differ from CAPABILITIES"
            );
        }
        Request::Touch { .. } => {
            assert_reply_round_trips::<TouchReply>(at, r, reply.clone());
            let touch: TouchReply = reply.into_result().expect("checked above");
            for result in &touch.results {
                assert!(
                    result.error.is_none(),
                    "{at}: a successful touch has no per-agent error"
                );
                assert!(
                    !result.written || !result.dry_run,
                    "{at}: a dry run writes nothing"
                );
            }
        }
        Request::GetInterval {} => {
            assert_reply_round_trips::<IntervalReply>(at, r, reply.clone());
            let interval: IntervalReply = reply.into_result().expect("checked above");
            assert_eq!(
                interval.previous_s, None,
                "{at}: get_interval has no previous_s"
            );
        }
        Request::SetInterval { interval_s } => {
            assert_reply_round_trips::<IntervalReply>(at, r, reply.clone());
            let interval: IntervalReply = reply.into_result().expect("checked above");
            assert_eq!(
                interval.interval_s, interval_s,
                "{at}: reply names another interval"
            );
            assert!(
                interval.previous_s.is_some(),
                "{at}: set_interval has previous_s"
            );
        }
        Request::Include { .. }
        | Request::Exclude { .. }
        | Request::Forget { .. }
        | Request::Rules {} => assert_reply_round_trips::<RulesReply>(at, r, reply),
        Request::GetActiveWithin {} => {
            assert_reply_round_trips::<ActiveWithinReply>(at, r, reply.clone());
            let window: ActiveWithinReply = reply.into_result().expect("checked above");
            check_window(at, window.active_within_s);
        }
        Request::SetActiveWithin { active_within_s } => {
            assert_reply_round_trips::<ActiveWithinReply>(at, r, reply.clone());
            let window: ActiveWithinReply = reply.into_result().expect("checked above");
            assert_eq!(
                window.active_within_s, active_within_s,
                "{at}: reply names another window"
            );
            check_window(at, window.active_within_s);
        }
        Request::Sessions { agent } => {
            assert_reply_round_trips::<SessionsReply>(at, r, reply.clone());
            let sessions: SessionsReply = reply.into_result().expect("checked above");
            for row in &sessions.sessions {
                if let Some(agent) = &agent {
                    assert_eq!(&row.agent, agent, "{at}: a row of another agent");
                }
                let kept = match row.reason.as_str() {
                    "included" | "in_use" => true,
                    "excluded" | "idle_too_long" | "stale_already" | "no_timestamp" => false,
                    other => panic!("{at}: {}: undocumented reason {other:?}", row.key),
                };
                assert_eq!(row.kept_alive, kept, "{at}: {}: kept_alive", row.key);
                assert_one_of(
                    at,
                    "activity_source",
                    &row.activity_source,
                    ACTIVITY_SOURCES,
                );
                assert_eq!(
                    row.activity_source.is_some(),
                    row.last_activity_ms.is_some(),
                    "{at}: {}: activity_source and last_activity_ms go together",
                    row.key
                );
                assert_one_of(at, "stale_rule", &row.stale_rule, STALE_RULES);
                assert_eq!(
                    row.stale_rule.is_some(),
                    row.stale_at_ms.is_some(),
                    "{at}: {}: stale_rule and stale_at_ms go together",
                    row.key
                );
                assert!(!row.detail.is_empty(), "{at}: {}: no detail", row.key);
            }
        }
        Request::Status {} => {
            assert_reply_round_trips::<StatusReply>(at, r, reply.clone());
            let status: StatusReply = reply.into_result().expect("checked above");
            assert_one_of(at, "schedule", &Some(status.schedule), SCHEDULES);
            check_window(at, status.active_within_s);
            for agent in &status.agents {
                assert_one_of(at, "generation", &agent.generation, GENERATIONS);
            }
        }
        Request::Resets {
            agent,
            since_ms,
            after_seq,
        } => {
            assert_reply_round_trips::<ResetsReply>(at, r, reply.clone());
            let resets: ResetsReply = reply.into_result().expect("checked above");
            let mut last_seq = 0;
            for e in &resets.events {
                assert!(e.seq > last_seq, "{at}: events come oldest first, numbered");
                last_seq = e.seq;
                assert!(
                    agent.as_ref().is_none_or(|a| &e.agent == a),
                    "{at}: another agent"
                );
                assert!(
                    since_ms.is_none_or(|s| e.noticed_ms >= s),
                    "{at}: before since_ms"
                );
                assert!(
                    after_seq.is_none_or(|s| e.seq > s),
                    "{at}: not after after_seq"
                );
                assert_eq!(
                    e.verdict.is_none(),
                    e.kind == ResetKind::Appeared,
                    "{at}: every change but a new entry has a verdict"
                );
                assert_one_of(at, "stale_rule", &e.stale_rule, STALE_RULES);
                assert!(!e.detail.is_empty(), "{at}: {}: no detail", e.key);
            }
        }
        Request::Metrics {} => {
            assert_reply_round_trips::<MetricsReply>(at, r, reply.clone());
            let metrics: MetricsReply = reply.into_result().expect("checked above");
            assert!(
                metrics.text.is_empty() || metrics.text.ends_with('\n'),
                "{at}: the exposition ends with a newline"
            );
        }
        Request::Shutdown {} => {
            assert_reply_round_trips::<ShutdownReply>(at, r, reply.clone());
            let shutdown: ShutdownReply = reply.into_result().expect("checked above");
            assert!(shutdown.stopping, "{at}: shutdown always says stopping");
        }
    }
}

/// The documented values of the string fields that work like enums.
const ACTIVITY_SOURCES: &[&str] = &["transcript", "gateway", "touch"];
const STALE_RULES: &[&str] = &["daily", "idle"];
const SCHEDULES: &[&str] = &["policy", "interval"];
const GENERATIONS: &[&str] = &["json-v1", "json-v2", "sqlite", "unknown"];

/// Longest activity window in seconds (366 days); the daemon refuses more.
const MAX_WINDOW_S: u64 = 366 * 24 * 60 * 60;

fn assert_one_of(at: &str, field: &str, value: &Option<String>, allowed: &[&str]) {
    if let Some(value) = value {
        assert!(
            allowed.contains(&value.as_str()),
            "{at}: {field} {value:?} is none of {allowed:?}"
        );
    }
}

fn check_window(at: &str, secs: Option<u64>) {
    if let Some(secs) = secs {
        assert!(
            (1..=MAX_WINDOW_S).contains(&secs),
            "{at}: active_within_s {secs} is outside 1..={MAX_WINDOW_S}"
        );
    }
}

fn check_line_round_trip(at: &str, request: &Request) {
    let line = request.to_line();
    assert!(
        line.starts_with(r#"{"v":1,"cmd":""#),
        "{at}: to_line gives {line}"
    );
    assert_eq!(
        parse_request(&line).as_ref(),
        Ok(request),
        "{at}: to_line {line:?} does not parse back"
    );
}

fn check_error(at: &str, case: &Case) {
    let checked_by = case
        .checked_by
        .unwrap_or_else(|| panic!("{at}: error cases need checked_by \"parser\" or \"daemon\""));
    let expected: ErrorBody = match decode_reply(&case.reply.to_string()) {
        Ok(Reply::Err(body)) => body,
        Ok(Reply::Ok(_)) => panic!("{at}: reply is not an error"),
        Err(e) => panic!("{at}: reply does not decode: {e}"),
    };
    assert_ne!(expected.code, ErrorCode::Other, "{at}: unknown error code");
    assert_eq!(
        expected.message, "*",
        "{at}: write error messages as \"*\" (not compared)"
    );
    let encoded: Value =
        serde_json::from_str(&encode_error(&expected)).expect("encode_error gives JSON");
    assert_eq!(
        encoded, case.reply,
        "{at}: error reply does not survive decode and encode_error"
    );

    match (checked_by, parse_request(&case.request)) {
        (CheckedBy::Parser, Err(actual)) => {
            assert_eq!(actual.code, expected.code, "{at}: parser gives {actual}");
            assert_eq!(
                actual.details, expected.details,
                "{at}: parser gives other details"
            );
            assert!(
                !actual.message.is_empty(),
                "{at}: parser gives an empty message"
            );
        }
        (CheckedBy::Parser, Ok(request)) => {
            panic!("{at}: parser accepts {:?} as {request:?}", case.request)
        }
        (CheckedBy::Daemon, Ok(request)) => check_line_round_trip(at, &request),
        (CheckedBy::Daemon, Err(e)) => {
            panic!("{at}: daemon-checked request is refused by the parser: {e}")
        }
    }
}

#[test]
fn every_vector_holds() {
    let cases = load_cases();
    let mut names = BTreeSet::new();
    for Loaded { at, case } in &cases {
        assert!(!case.name.trim().is_empty(), "{at}: case has no name");
        assert!(
            names.insert(case.name.as_str()),
            "{at}: duplicate case name {:?}",
            case.name
        );
        match case.reply.get("ok") {
            Some(Value::Bool(true)) => check_success(at, case),
            Some(Value::Bool(false)) => check_error(at, case),
            _ => panic!("{at}: reply has no boolean \"ok\""),
        }
    }
}

#[test]
fn every_command_has_a_success_vector() {
    let mut seen: BTreeMap<&str, usize> = COMMANDS.iter().map(|c| (*c, 0)).collect();
    for Loaded { case, .. } in load_cases() {
        if case.reply.get("ok") == Some(&Value::Bool(true))
            && let Ok(request) = parse_request(&case.request)
        {
            *seen
                .get_mut(request.command())
                .expect("command in COMMANDS") += 1;
        }
    }
    let missing: Vec<&str> = seen
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(c, _)| *c)
        .collect();
    assert!(
        missing.is_empty(),
        "commands without a success vector: {missing:?}"
    );
}

#[test]
fn command_list_matches_the_parser() {
    for command in COMMANDS {
        let line = format!(r#"{{"v":1,"cmd":"{command}"}}"#);
        match parse_request(&line) {
            Ok(request) => assert_eq!(request.command(), *command),
            // Commands with required arguments are known but incomplete.
            Err(e) => assert_eq!(e.code, ErrorCode::InvalidRequest, "{command}: {e}"),
        }
    }
    // The parser's own list, as it tells people in the unknown_command message.
    let unknown = parse_request(r#"{"v":1,"cmd":"no-such-command"}"#).expect_err("unknown");
    assert_eq!(unknown.code, ErrorCode::UnknownCommand);
    assert!(
        unknown.message.ends_with(&COMMANDS.join(", ")),
        "the parser knows other commands: {}",
        unknown.message
    );
}

#[test]
fn protocol_md_documents_every_code_command_and_capability() {
    let path = proto_dir().join("PROTOCOL.md");
    let doc =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    for code in DOCUMENTED_CODES {
        assert!(is_documented(*code));
        assert_eq!(
            ErrorCode::from_wire(code.as_str()),
            *code,
            "{code} does not round-trip"
        );
        let row = format!("| `{code}` |");
        assert!(
            doc.contains(&row),
            "PROTOCOL.md has no error table row starting {row:?}"
        );
    }
    let table_codes: Vec<String> = DOCUMENTED_CODES.iter().map(|c| c.to_string()).collect();
    for wire in codes_in_source() {
        let code = ErrorCode::from_wire(&wire);
        assert_eq!(code.as_str(), wire, "{wire} does not round-trip");
        assert_eq!(
            is_documented(code),
            table_codes.contains(&wire),
            "{wire}: is_documented and DOCUMENTED_CODES disagree"
        );
        if !matches!(code, ErrorCode::Internal | ErrorCode::Other) {
            assert!(
                table_codes.contains(&wire),
                "ErrorCode {wire:?} is not in DOCUMENTED_CODES (nor in the PROTOCOL.md table)"
            );
        }
    }
    for command in COMMANDS {
        let heading = format!("### `{command}`");
        assert!(
            doc.contains(&heading),
            "PROTOCOL.md has no heading {heading:?}"
        );
    }
    for capability in CAPABILITIES {
        assert!(
            doc.contains(&format!("`{capability}`")),
            "PROTOCOL.md does not name capability {capability:?}"
        );
    }
    // Every row of the error table names a code the crate knows.
    let table = doc
        .split("\n## ")
        .find(|section| section.starts_with("6. Error codes"))
        .expect("PROTOCOL.md has a section \"## 6. Error codes\"");
    let mut rows = 0;
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let code = row
            .trim_start_matches("| `")
            .split('`')
            .next()
            .unwrap_or_default();
        assert_ne!(
            ErrorCode::from_wire(code),
            ErrorCode::Other,
            "PROTOCOL.md documents {code:?}, which is no ErrorCode"
        );
        rows += 1;
    }
    assert_eq!(rows, DOCUMENTED_CODES.len(), "error table rows");
    // Capabilities: the table in section 4 lists exactly CAPABILITIES, in order.
    let versioning = doc
        .split("\n## ")
        .find(|section| section.starts_with("4. Versioning"))
        .expect("PROTOCOL.md has a section \"## 4. Versioning\"");
    let listed: Vec<&str> = versioning
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert_eq!(listed, CAPABILITIES, "PROTOCOL.md capability table");
    assert!(
        doc.contains(&MAX_FRAME_BYTES.to_string()),
        "PROTOCOL.md does not give the frame limit"
    );
}

/// The `→ request` / `← reply` examples in PROTOCOL.md must be real lines.
/// Replies shortened with `...` are only illustrations and are skipped.
#[test]
fn protocol_md_examples_parse() {
    let path = proto_dir().join("PROTOCOL.md");
    let doc =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let (mut requests, mut replies) = (0, 0);
    let mut last_request: Option<Request> = None;
    for (index, line) in doc.lines().enumerate() {
        let at = format!("PROTOCOL.md:{}", index + 1);
        if let Some(request) = line.strip_prefix("→ ") {
            let parsed = parse_request(request)
                .unwrap_or_else(|e| panic!("{at}: example request is refused: {e}"));
            check_line_round_trip(&at, &parsed);
            requests += 1;
            last_request = Some(parsed);
        } else if let Some(reply) = line.strip_prefix("← ")
            && !reply.contains("...")
        {
            let decoded = decode_reply(reply)
                .unwrap_or_else(|e| panic!("{at}: example reply does not decode: {e}"));
            // A success reply has the shape of the command just above it.
            if let (Reply::Ok(_), Some(request)) = (&decoded, &last_request) {
                let value: Value = serde_json::from_str(reply).expect("decoded above");
                check_ok_reply(&at, request, &value, decoded);
            }
            replies += 1;
        }
    }
    assert!(
        requests >= COMMANDS.len() && replies >= COMMANDS.len(),
        "PROTOCOL.md has {requests} example requests and {replies} example replies"
    );
}
