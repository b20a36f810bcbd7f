//! Text output for people. `--json` bypasses all of this.

use std::fmt::Write;
use std::time::SystemTime;

use keepalive_proto::{
    ResetEvent, ResetKind, Rule, RuleAction, SessionRow, StatusReply, TouchReply,
};

use crate::time::unix_ms;

pub fn secs(secs: u64) -> String {
    crate::duration::format_secs(secs)
}

pub fn status(s: &StatusReply) -> String {
    let now = unix_ms(SystemTime::now());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "keepalived {} running (pid {}, up {})",
        s.version,
        s.pid,
        secs(s.uptime_s)
    );
    let _ = writeln!(out, "  socket:    {}", s.socket);
    let _ = writeln!(
        out,
        "  state dir: {} (from {})",
        s.state_dir, s.state_dir_source
    );
    let config = if s.config.found {
        s.config.path.clone()
    } else {
        format!("{} (none: gateway defaults)", s.config.path)
    };
    let _ = writeln!(out, "  config:    {config}");
    for problem in &s.config.problems {
        let _ = writeln!(out, "    problem: {problem}");
    }
    let release = &s.openclaw_release;
    let _ = writeln!(
        out,
        "  openclaw:  {} ({})",
        release.version.as_deref().unwrap_or("release unknown"),
        release.detail
    );
    let window = s
        .active_within_s
        .map_or_else(|| "all sessions".to_string(), secs);
    let _ = writeln!(
        out,
        "  schedule:  {}; keeping alive sessions active within {window}",
        s.schedule
    );
    let _ = writeln!(
        out,
        "  interval:  {} (next tick in {})",
        secs(s.interval_s),
        secs(s.next_tick_ms.saturating_sub(now).div_ceil(1000))
    );
    if s.dry_run {
        let _ = writeln!(out, "  dry run:   yes, nothing is written");
    }
    let _ = writeln!(out, "  settings:  {}", s.settings_file);
    if let Some(log) = &s.log_file {
        let _ = writeln!(out, "  log file:  {log}");
    }
    if s.agents.is_empty() {
        let _ = write!(
            out,
            "\nno agents yet: no sessions.json under {}/agents/*/sessions/",
            s.state_dir
        );
        return out;
    }
    let rows: Vec<[String; 10]> = s
        .agents
        .iter()
        .map(|a| {
            [
                a.id.clone(),
                a.generation.clone().unwrap_or_else(|| "-".into()),
                opt(a.sessions),
                opt(a.kept_alive),
                a.next_write_ms.map_or("-".into(), |t| when(now, t)),
                a.last_tick_ms.map_or("-".into(), |t| {
                    format!("{} ago", secs(now.saturating_sub(t) / 1000))
                }),
                a.last_tick_duration_ms
                    .map_or("-".into(), |d| format!("{d:.1} ms")),
                a.writes.to_string(),
                if a.resets_of_kept > 0 {
                    format!("{} ({} while kept alive)", a.resets, a.resets_of_kept)
                } else {
                    a.resets.to_string()
                },
                a.last_error
                    .as_ref()
                    .map_or("-".into(), |e| format!("{}: {}", e.code, e.message)),
            ]
        })
        .collect();
    let header = [
        "AGENT",
        "GENERATION",
        "SESSIONS",
        "KEPT ALIVE",
        "NEXT WRITE",
        "LAST ROUND",
        "TOOK",
        "WRITES",
        "RESETS",
        "LAST ERROR",
    ];
    let _ = writeln!(out);
    out.push_str(&table(&header, &rows));
    for a in &s.agents {
        let _ = write!(out, "\n{}: {}", a.id, a.store);
        if let Some(why) = &a.next_write_reason {
            let _ = write!(out, "\n  next write: {why}");
        }
        if let Some(note) = &a.note {
            let _ = write!(out, "\n  note: {note}");
        }
    }
    out
}

pub fn sessions(rows: &[SessionRow]) -> String {
    if rows.is_empty() {
        return "no sessions".into();
    }
    let now = unix_ms(SystemTime::now());
    let table_rows: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.agent.clone(),
                r.key.clone(),
                match (r.last_activity_ms, &r.activity_source) {
                    (Some(t), Some(source)) => {
                        format!("{} ago ({source})", secs(now.saturating_sub(t) / 1000))
                    }
                    _ => "-".into(),
                },
                match (r.stale_at_ms, &r.stale_rule) {
                    (Some(t), Some(rule)) => format!("{} ({rule})", when(now, t)),
                    _ => "never".into(),
                },
                if r.kept_alive {
                    "yes".into()
                } else {
                    "no".into()
                },
                r.last_reset.as_ref().map_or("-".into(), |reset| {
                    let verdict = reset.verdict.map_or("", |v| v.code());
                    format!("{} {verdict}", when(now, reset.noticed_ms))
                }),
                format!("{}: {}", r.reason, r.detail),
            ]
        })
        .collect();
    table(
        &[
            "AGENT",
            "SESSION",
            "LAST ACTIVITY",
            "EXPIRES WITHOUT KEEPALIVE",
            "KEPT",
            "LAST RESET",
            "WHY",
        ],
        &table_rows,
    )
}

/// `resets`: newest first, one line per event.
pub fn resets(events: &[&ResetEvent], all: bool) -> String {
    if events.is_empty() {
        return if all {
            "no resets, and no session appeared or disappeared, since keepalive has been looking"
                .into()
        } else {
            "no resets noticed".into()
        };
    }
    let now = unix_ms(SystemTime::now());
    let rows: Vec<[String; 6]> = events
        .iter()
        .map(|e| {
            [
                when(now, e.noticed_ms),
                e.agent.clone(),
                e.key.clone(),
                what(e),
                match (&e.stale_rule, e.stale_at_ms) {
                    (Some(rule), Some(at)) => format!("{rule}, {}", when(now, at)),
                    _ => "-".into(),
                },
                e.verdict.map_or("-", |v| v.words()).to_string(),
            ]
        })
        .collect();
    table(
        &[
            "NOTICED",
            "AGENT",
            "SESSION",
            "WHAT",
            "STALE BY",
            "KEEPALIVE'S VERDICT",
        ],
        &rows,
    )
}

/// One event as a line, for `resets --follow`.
pub fn reset_line(e: &ResetEvent) -> String {
    let at = jiff::Timestamp::from_millisecond(e.noticed_ms as i64)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    format!("{at}  {}  {}  {}: {}", e.agent, e.key, what(e), e.detail)
}

/// The kind of change, with the session ids shortened. A reset that kept the session id
/// (OpenClaw 2026.8+ give the entry a new `lifecycleRevision` instead) would read `c1 -> c1`:
/// it says so; the revisions are in the event's detail.
fn what(e: &ResetEvent) -> String {
    let short = |id: &Option<String>| -> String {
        id.as_deref()
            .map_or("?".into(), |id| id.chars().take(8).collect())
    };
    match e.kind {
        ResetKind::Reset if e.old_session_id.is_some() && e.old_session_id == e.new_session_id => {
            format!("reset {} (new lifecycle)", short(&e.new_session_id))
        }
        ResetKind::Reset => format!(
            "reset {} -> {}",
            short(&e.old_session_id),
            short(&e.new_session_id)
        ),
        ResetKind::Disappeared => "disappeared".into(),
        ResetKind::Appeared => "appeared".into(),
    }
}

/// A time relative to now: `in 5m`, `3m ago`, `now`.
pub fn when(now: u64, at: u64) -> String {
    if at > now + 999 {
        format!("in {}", secs((at - now).div_ceil(1000)))
    } else if now > at + 999 {
        format!("{} ago", secs((now - at) / 1000))
    } else {
        "now".into()
    }
}

pub fn touched(reply: &TouchReply) -> String {
    if reply.results.is_empty() {
        return "no agents to touch yet".into();
    }
    let mut lines = Vec::new();
    for r in &reply.results {
        let dry = if r.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        };
        if r.bumped.is_empty() {
            lines.push(format!(
                "{}: nothing to bump, {} session(s) already current{dry}",
                r.agent, r.sessions
            ));
        } else {
            lines.push(format!(
                "{}: bumped {} of {} session(s){dry}",
                r.agent,
                r.bumped.len(),
                r.sessions
            ));
            lines.extend(r.bumped.iter().map(|k| format!("  {k}")));
        }
    }
    lines.join("\n")
}

pub fn rules(rules: &[Rule]) -> String {
    if rules.is_empty() {
        return "no rules: every session is kept alive".into();
    }
    let rows: Vec<[String; 3]> = rules
        .iter()
        .map(|r| {
            [
                match r.action {
                    RuleAction::Include => "include".into(),
                    RuleAction::Exclude => "exclude".into(),
                },
                r.session.clone(),
                r.agent.clone().unwrap_or_else(|| "(all)".into()),
            ]
        })
        .collect();
    table(&["ACTION", "SESSION", "AGENT"], &rows)
}

fn opt(value: Option<usize>) -> String {
    value.map_or("-".into(), |v| v.to_string())
}

fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use keepalive_proto::ResetVerdict;

    use super::*;

    fn reset(old: &str, new: &str) -> ResetEvent {
        ResetEvent {
            seq: 1,
            agent: "main".into(),
            key: "agent:main:main".into(),
            kind: ResetKind::Reset,
            old_session_id: Some(old.into()),
            new_session_id: Some(new.into()),
            last_seen_ms: Some(1_800_000_000_000),
            noticed_ms: 1_800_000_060_000,
            stale_rule: None,
            stale_at_ms: None,
            verdict: Some(ResetVerdict::NotWritable),
            detail: "started afresh: lifecycleRevision r1 became r2 (sessionId c1 kept)".into(),
        }
    }

    #[test]
    fn a_reset_that_kept_its_session_id_reads_as_a_new_lifecycle() {
        let sqlite = reset("c1", "c1");
        let table = resets(&[&sqlite], false);
        assert!(table.contains("reset c1 (new lifecycle)"), "{table}");
        assert!(!table.contains("c1 -> c1"), "{table}");
        let line = reset_line(&sqlite);
        assert!(
            line.contains("reset c1 (new lifecycle): started afresh"),
            "{line}"
        );

        let json = reset("a1", "a2");
        assert!(resets(&[&json], false).contains("reset a1 -> a2"));
        assert!(reset_line(&json).contains("reset a1 -> a2: started afresh"));
        // Shortened ids that merely look alike are still two ids.
        let alike = reset("0123456789-a", "0123456789-b");
        assert!(reset_line(&alike).contains("reset 01234567 -> 01234567"));
    }
}
