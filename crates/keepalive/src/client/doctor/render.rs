//! How `keepalivectl doctor` prints what it found (`--json` prints the report itself).

use std::fmt::Write;
use std::time::SystemTime;

use super::{Report, SqliteSession};
use crate::client::output::when;
use crate::openclaw::{Generation, Mode, ResetRule};
use crate::time::unix_ms;

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let exists = if r.state_dir_exists {
        ""
    } else {
        " (does not exist)"
    };
    let _ = writeln!(
        out,
        "state dir:  {}{exists}\n  found via {}",
        r.state_dir, r.state_dir_source
    );
    if r.config.found {
        let _ = writeln!(out, "config:     {}", r.config.path);
    } else {
        let _ = writeln!(
            out,
            "config:     {} (not found: the gateway's defaults apply)",
            r.config.path
        );
    }
    for problem in &r.config.problems {
        let _ = writeln!(out, "  problem: {problem}");
    }
    let release = &r.openclaw_release;
    let _ = writeln!(
        out,
        "OpenClaw:   {}\n  {}",
        release.version.as_deref().unwrap_or("release unknown"),
        release.detail
    );
    let _ = writeln!(out, "reset policy:");
    for line in &r.reset_policy {
        let _ = writeln!(
            out,
            "  {} {}: {}  [{}]",
            line.release,
            line.applies_to,
            describe(&line.rule),
            line.rule.source
        );
    }
    let _ = writeln!(out, "agents:");
    if r.agents.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for a in &r.agents {
        let sessions = a
            .sessions
            .map_or_else(String::new, |n| format!(", {n} sessions"));
        let lock = match (a.lock.state.as_str(), a.lock.pid) {
            ("free", _) => "lock free".to_string(),
            (state, Some(pid)) => format!("lock {state} by pid {pid}"),
            (state, None) => format!("lock {state}"),
        };
        let _ = writeln!(
            out,
            "  {}: {}{sessions}, {lock}\n    {}",
            a.id,
            a.generation.map_or("unreadable", Generation::as_str),
            a.store
        );
        if let Some(db) = &a.database {
            let what = match (db.holds_sessions, db.user_version) {
                (Some(true), Some(v)) => format!("holds the sessions, user_version {v}"),
                (Some(false), Some(v)) => {
                    format!("no session tables, user_version {v}: the sessions are in the store")
                }
                _ => "unreadable, see below".to_string(),
            };
            let _ = writeln!(out, "    {} ({what})", db.path);
        }
        if let Some(sessions) = &a.sqlite_sessions {
            render_sqlite_sessions(&mut out, sessions);
        }
    }
    let daemon = match r.daemon.pid {
        Some(pid) if r.daemon.running => format!("running (pid {pid}) on {}", r.daemon.socket),
        _ => format!("not running (no daemon on {})", r.daemon.socket),
    };
    let _ = writeln!(out, "keepalived: {daemon}");
    let _ = writeln!(
        out,
        "effect:     {}",
        if r.effective {
            "keepalive can keep sessions alive here"
        } else {
            "keepalive has nothing to keep alive here"
        }
    );
    if !r.advice.is_empty() {
        let _ = writeln!(out, "advice:");
        for advice in &r.advice {
            let _ = writeln!(out, "  - {advice}");
        }
    }
    out.trim_end().to_string()
}

/// How many sessions of an SQLite store are listed, soonest to expire first.
const SESSIONS_SHOWN: usize = 10;

fn render_sqlite_sessions(out: &mut String, sessions: &[SqliteSession]) {
    let now = unix_ms(SystemTime::now());
    let mut shown: Vec<&SqliteSession> = sessions.iter().collect();
    shown.sort_by_key(|s| (s.stale_at_ms.unwrap_or(u64::MAX), s.key.as_str()));
    for s in shown.iter().take(SESSIONS_SHOWN) {
        let last = s.last_interaction_ms.map_or_else(
            || "no interaction recorded".to_owned(),
            |t| format!("last interaction {}", when(now, t)),
        );
        let source = &s.rule.source;
        let expires = match (s.stale_at_ms, &s.stale_rule) {
            (Some(at), Some(rule)) if at <= now => format!(
                "went stale {} ({rule}, {source}): reset at its next message",
                when(now, at)
            ),
            (Some(at), Some(rule)) => format!("expires {} ({rule}, {source})", when(now, at)),
            _ => format!("never expires ({source})"),
        };
        let _ = writeln!(out, "    {}: {last}, {expires}", s.key);
    }
    if sessions.len() > SESSIONS_SHOWN {
        let _ = writeln!(
            out,
            "    ... and {} more (`keepalivectl sessions` lists them all)",
            sessions.len() - SESSIONS_SHOWN
        );
    }
}

fn describe(rule: &ResetRule) -> String {
    match rule.mode {
        Mode::None => "never expires (mode none)".into(),
        Mode::Idle => format!("idle after {} min", rule.idle_minutes),
        Mode::Daily if rule.idle_minutes > 0 => {
            format!(
                "daily at {:02}:00, and idle after {} min",
                rule.at_hour, rule.idle_minutes
            )
        }
        Mode::Daily => format!("daily at {:02}:00", rule.at_hour),
    }
}
