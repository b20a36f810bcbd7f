//! Counters and gauges, rendered in the Prometheus text exposition format
//! for `keepalivectl metrics` and for `--metrics-file` (node_exporter's
//! textfile collector).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use keepalive_proto::{AgentStatus, ResetKind};

use super::round::{Batch, RoundResult};

/// What an agent's actor counts, beside its status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentCounters {
    pub rounds: u64,
    pub ticks: u64,
    pub writes: u64,
    pub bumps: u64,
    /// Rounds whose write had to wait for the gateway's lock.
    pub lock_waits: u64,
    pub lock_reclaims: u64,
    /// Writes that waited for a write of the gateway's in progress to end.
    pub writer_waits: u64,
    /// Gateway writes that landed at the moment of ours and were put back in place.
    pub put_backs: u64,
    /// Failed rounds, by error code.
    pub errors: BTreeMap<String, u64>,
    /// Resets noticed, by keepalive's verdict just before.
    pub resets: BTreeMap<String, u64>,
    /// Entries that disappeared from the store.
    pub disappeared: u64,
    pub last_write_seconds: Option<f64>,
    pub last_lock_hold_seconds: Option<f64>,
}

impl AgentCounters {
    /// Counts one round that took `ms`.
    pub fn count(&mut self, out: &RoundResult, batch: &Batch, ms: f64) {
        let write = &out.write;
        self.rounds += 1;
        if batch.tick {
            self.ticks += 1;
        }
        if let Some(e) = &out.found.error {
            *self.errors.entry(e.code.as_str().to_string()).or_default() += 1;
        }
        if write.written {
            self.writes += 1;
            self.bumps += write.bumped.len() as u64;
            self.last_write_seconds = Some(ms / 1000.0);
            self.last_lock_hold_seconds = Some(write.lock_hold.as_secs_f64());
        }
        // Taking a free lock takes microseconds; a millisecond means the
        // gateway held it and the round had to wait.
        if write.lock_wait > Duration::from_millis(1) {
            self.lock_waits += 1;
        }
        if write.reclaimed_stale_lock {
            self.lock_reclaims += 1;
        }
        if write.writer_wait > Duration::from_millis(1) {
            self.writer_waits += 1;
        }
        self.put_backs += u64::from(write.put_back);
        for event in &out.found.resets {
            match (event.kind, event.verdict) {
                (ResetKind::Reset, Some(verdict)) => {
                    *self.resets.entry(verdict.code().to_owned()).or_default() += 1;
                }
                (ResetKind::Disappeared, _) => self.disappeared += 1,
                _ => {}
            }
        }
    }
}

/// The daemon-wide values.
pub struct DaemonGauges<'a> {
    pub version: &'a str,
    pub uptime_seconds: u64,
    pub interval_seconds: u64,
    /// Re-scans of the state dir asked for by requests, between ticks.
    pub rescans: u64,
}

pub fn render(daemon: &DaemonGauges, agents: &[(AgentStatus, AgentCounters)]) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "keepalive_info",
        "gauge",
        "keepalived's version (always 1)",
    );
    let _ = writeln!(
        out,
        "keepalive_info{{version=\"{}\"}} 1",
        escape(daemon.version)
    );
    family(
        &mut out,
        "keepalive_uptime_seconds",
        "gauge",
        "Seconds since keepalived started",
    );
    let _ = writeln!(out, "keepalive_uptime_seconds {}", daemon.uptime_seconds);
    family(
        &mut out,
        "keepalive_interval_seconds",
        "gauge",
        "The tick interval",
    );
    let _ = writeln!(
        out,
        "keepalive_interval_seconds {}",
        daemon.interval_seconds
    );
    family(
        &mut out,
        "keepalive_rescans_total",
        "counter",
        "Re-scans of the agents between ticks, for requests naming an agent, session or store not found",
    );
    let _ = writeln!(out, "keepalive_rescans_total {}", daemon.rescans);

    type Value = fn(&AgentStatus, &AgentCounters) -> Option<f64>;
    let per_agent: [(&str, &str, &str, Value); 15] = [
        (
            "keepalive_ticks_total",
            "counter",
            "Ticks handled",
            |_, c| Some(c.ticks as f64),
        ),
        (
            "keepalive_rounds_total",
            "counter",
            "Rounds (ticks, touches, lookups, reports)",
            |_, c| Some(c.rounds as f64),
        ),
        (
            "keepalive_writes_total",
            "counter",
            "Store files written",
            |_, c| Some(c.writes as f64),
        ),
        (
            "keepalive_bumps_total",
            "counter",
            "Sessions bumped",
            |_, c| Some(c.bumps as f64),
        ),
        (
            "keepalive_lock_waits_total",
            "counter",
            "Writes that waited for the gateway's lock",
            |_, c| Some(c.lock_waits as f64),
        ),
        (
            "keepalive_lock_reclaims_total",
            "counter",
            "Stale gateway locks removed",
            |_, c| Some(c.lock_reclaims as f64),
        ),
        (
            "keepalive_gateway_write_waits_total",
            "counter",
            "Writes that waited for a write of the gateway's in progress to end",
            |_, c| Some(c.writer_waits as f64),
        ),
        (
            "keepalive_gateway_writes_put_back_total",
            "counter",
            "Gateway writes that landed at the moment of keepalive's and were put back in place",
            |_, c| Some(c.put_backs as f64),
        ),
        (
            "keepalive_sessions_disappeared_total",
            "counter",
            "Entries that disappeared from the store (pruned or deleted)",
            |_, c| Some(c.disappeared as f64),
        ),
        (
            "keepalive_sessions",
            "gauge",
            "Sessions in the store at the last round",
            |s, _| s.sessions.map(|n| n as f64),
        ),
        (
            "keepalive_kept_alive_sessions",
            "gauge",
            "Sessions keepalive keeps alive",
            |s, _| s.kept_alive.map(|n| n as f64),
        ),
        (
            "keepalive_last_tick_timestamp_seconds",
            "gauge",
            "Unix time of the last round",
            |s, _| s.last_tick_ms.map(|t| t as f64 / 1000.0),
        ),
        (
            "keepalive_next_write_timestamp_seconds",
            "gauge",
            "Unix time of the next planned write",
            |s, _| s.next_write_ms.map(|t| t as f64 / 1000.0),
        ),
        (
            "keepalive_last_write_duration_seconds",
            "gauge",
            "Duration of the last round that wrote",
            |_, c| c.last_write_seconds,
        ),
        (
            "keepalive_last_lock_hold_seconds",
            "gauge",
            "How long the last write held the gateway's lock",
            |_, c| c.last_lock_hold_seconds,
        ),
    ];
    for (name, kind, help, value) in per_agent {
        family(&mut out, name, kind, help);
        for (status, counters) in agents {
            if let Some(v) = value(status, counters) {
                let _ = writeln!(
                    out,
                    "{name}{{agent=\"{}\"}} {}",
                    escape(&status.id),
                    number(v)
                );
            }
        }
    }
    family(
        &mut out,
        "keepalive_errors_total",
        "counter",
        "Failed rounds, by error code",
    );
    for (status, counters) in agents {
        for (code, n) in &counters.errors {
            let _ = writeln!(
                out,
                "keepalive_errors_total{{agent=\"{}\",code=\"{}\"}} {n}",
                escape(&status.id),
                escape(code)
            );
        }
    }
    family(
        &mut out,
        "keepalive_resets_total",
        "counter",
        "Sessions the gateway started afresh, by keepalive's verdict just before (kept_alive: a keepalive failure)",
    );
    for (status, counters) in agents {
        for (verdict, n) in &counters.resets {
            let _ = writeln!(
                out,
                "keepalive_resets_total{{agent=\"{}\",verdict=\"{}\"}} {n}",
                escape(&status.id),
                escape(verdict)
            );
        }
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_and_escapes_labels() {
        let status = AgentStatus {
            id: "we\"ird\\id".into(),
            store: "/s".into(),
            sessions: Some(3),
            kept_alive: Some(2),
            last_tick_ms: Some(1_500),
            last_tick_duration_ms: Some(1.0),
            writes: 1,
            last_error: None,
            generation: None,
            next_write_ms: None,
            next_write_reason: None,
            note: None,
            resets: 3,
            resets_of_kept: 1,
        };
        let mut counters = AgentCounters {
            writes: 4,
            ..AgentCounters::default()
        };
        counters.errors.insert("store_busy".into(), 2);
        counters.resets.insert("kept_alive".into(), 1);
        let text = render(
            &DaemonGauges {
                version: "0.1.0",
                uptime_seconds: 5,
                interval_seconds: 60,
                rescans: 2,
            },
            &[(status, counters)],
        );
        assert!(
            text.contains("keepalive_writes_total{agent=\"we\\\"ird\\\\id\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "keepalive_resets_total{agent=\"we\\\"ird\\\\id\",verdict=\"kept_alive\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("keepalive_last_tick_timestamp_seconds{agent=\"we\\\"ird\\\\id\"} 1.5\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "keepalive_errors_total{agent=\"we\\\"ird\\\\id\",code=\"store_busy\"} 2\n"
            ),
            "{text}"
        );
        assert!(text.contains("keepalive_rescans_total 2\n"), "{text}");
        assert!(
            !text.contains("keepalive_next_write_timestamp_seconds{"),
            "absent values are left out"
        );
    }
}
