//! keepalive-oracle: keepalive's verdict on reset-model cases, one JSON line in, one out, so
//! the interop suite (interop/tests/reset-model.test.mjs) can put the same cases to each real
//! OpenClaw release and to keepalive and compare.
//!
//! The case goes through the daemon's own paths: the `config` object through the
//! `openclaw.json` parser, the `entry` through the store scanner (so only timestamps keepalive
//! can read count), the reset type and channel through the decision's own derivation unless
//! the case names them.
//!
//! In:  `{"id", "release": "2026.6.35"|null, "config": {...}, "key", "chatType"?, "channel"?,
//!        "resetType"?, "entry": {...}, "transcriptStartedAt"?: ms, "now": ms}`; the time zone
//!        is the process's `TZ`. `transcriptStartedAt` is the `timestamp` of the transcript's
//!        header line, which releases from 2026.4.25 read when the entry has no
//!        `sessionStartedAt`.
//! Out: `{"id", "policy": {"mode", "atHour", "idleMinutes"|null}, "fresh": bool}`, or
//!      `{"id", "error": "..."}` for a case it cannot read.

use std::io::{BufRead, Write};
use std::path::Path;

use jiff::tz::TimeZone;
use keepalive::openclaw::{
    Clock, Facing, Mode, Release, Times, config, effective_rule, idle_window, stale_reason,
};
use keepalive::policy::reset_inputs;
use serde_json::{Value, json};

fn main() {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let tz = TimeZone::system();
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(case) => {
                let id = case.get("id").cloned().unwrap_or(Value::Null);
                match verdict(&case, &tz) {
                    Ok(mut v) => {
                        v["id"] = id;
                        v
                    }
                    Err(e) => json!({"id": id, "error": e}),
                }
            }
            Err(e) => json!({"id": null, "error": format!("not a JSON case: {e}")}),
        };
        if writeln!(stdout, "{answer}").is_err() {
            break;
        }
    }
    let _ = stdout.flush();
}

fn verdict(case: &Value, tz: &TimeZone) -> Result<Value, String> {
    let text = |name: &str| case.get(name).and_then(Value::as_str);
    let now_ms = case
        .get("now")
        .and_then(Value::as_u64)
        .ok_or("`now` must be a non-negative integer (ms)")?;
    let config_text = case.get("config").unwrap_or(&Value::Null).to_string();
    let config = config::parse(Path::new("openclaw.json"), &config_text);

    // The entry as the daemon would see it in a store.
    let key = text("key").ok_or("`key` must be a string")?;
    let entry = case.get("entry").cloned().unwrap_or(json!({}));
    let store = serde_json::to_vec(&json!({ key: entry })).map_err(|e| e.to_string())?;
    let scan = keepalive_store::scan(&store).map_err(|e| format!("entry: {e}"))?;
    let mut entry = scan.entries.into_iter().next().ok_or("no entry")?;
    if let Some(chat_type) = text("chatType") {
        entry.chat_type = Some(chat_type.to_string());
    }
    let times = Times {
        updated_at: entry.updated_at.value(),
        last_interaction_at: entry.last_interaction_at.value(),
        session_started_at: entry.session_started_at.value(),
        transcript_started_at: case.get("transcriptStartedAt").and_then(Value::as_u64),
    };
    let facing = match text("release") {
        Some(r) => Facing::known(r.parse::<Release>().map_err(|e| e.to_string())?),
        None => Facing::unknown(
            times.last_interaction_at.is_some() || times.session_started_at.is_some(),
            false,
        ),
    };
    let (rules, _) = facing.split();
    let (derived_type, derived_channel) = reset_inputs(rules, &entry);
    let reset_type = text("resetType").unwrap_or(derived_type);
    let channel = text("channel").or(derived_channel);
    let rule = effective_rule(&config.reset, rules, reset_type, channel);
    let clock = Clock {
        now_ms,
        tz: tz.clone(),
    };
    let fresh = stale_reason(&rule, rules, &times, &clock).is_none();
    let mode = match rule.mode {
        Mode::Daily => "daily",
        Mode::Idle => "idle",
        Mode::None => "none",
    };
    Ok(json!({
        "policy": {"mode": mode, "atHour": rule.at_hour, "idleMinutes": idle_window(&rule)},
        "fresh": fresh,
    }))
}
