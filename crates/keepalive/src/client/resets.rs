//! `keepalivectl resets`: the resets keepalive noticed (the table newest first, `--json` in
//! the order noticed, oldest first), and with `--follow` the new ones as they come (the
//! daemon is asked again every second for events numbered after the last one printed), until
//! the daemon stops.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use keepalive_proto::{
    ErrorBody, ErrorCode, Request, ResetEvent, ResetKind, ResetsReply, StatusReply, encode_ok,
};

use super::connection::{ClientError, call};
use super::output;
use crate::time::unix_ms;

/// How often `--follow` asks for new events.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

pub struct Query {
    pub agent: Option<String>,
    pub since: Option<Duration>,
    /// Also entries that disappeared or appeared.
    pub all: bool,
    pub follow: bool,
}

pub async fn run(socket: &Path, query: Query, json: bool) -> Result<(), ClientError> {
    let since_ms = query
        .since
        .map(|since| window_start_ms(unix_ms(SystemTime::now()), since));
    let request = Request::Resets {
        agent: query.agent.clone(),
        since_ms,
        after_seq: None,
    };
    let (_, mut reply) = call::<ResetsReply>(socket, &request).await?;
    if let Some(agent) = &query.agent
        && reply.events.is_empty()
    {
        check_agent(socket, agent, since_ms).await?;
    }
    if let Some(problem) = &reply.log_problem {
        eprintln!("keepalivectl: {problem}");
    }
    let shown = |e: &ResetEvent| query.all || e.kind == ResetKind::Reset;
    let mut last_seq = reply.events.last().map_or(0, |e| e.seq);
    if !query.follow {
        if json {
            reply.events.retain(shown);
            outln!("{}", encode_ok(&reply));
        } else {
            let events: Vec<&ResetEvent> = reply.events.iter().rev().filter(|e| shown(e)).collect();
            outln!("{}", output::resets(&events, query.all));
        }
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    // Oldest first when following: each line is one event, in the order noticed.
    for event in reply.events.iter().filter(|e| shown(e)) {
        if !print_event(&mut out, event, json) {
            return Ok(());
        }
    }
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        // The window too: with nothing in it yet, `last_seq` is 0 and would reach back to
        // the first event ever noticed.
        let request = Request::Resets {
            agent: query.agent.clone(),
            since_ms,
            after_seq: Some(last_seq),
        };
        let reply = match call::<ResetsReply>(socket, &request).await {
            Ok((_, reply)) => reply,
            // Following "until the daemon stops" ends there, and that is no failure.
            Err(e) if e.daemon_stopped() => {
                eprintln!(
                    "keepalivectl: keepalived stopped, so no more resets are noticed for now; \
                     start it again (`keepalivectl start`) and run this command again"
                );
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        for event in &reply.events {
            last_seq = last_seq.max(event.seq);
            if shown(event) && !print_event(&mut out, event, json) {
                return Ok(());
            }
        }
    }
}

/// An `--agent` that keepalive neither serves nor has any event of is most likely mistyped:
/// an error naming the agents it serves says so, where an empty list would not. An agent no
/// longer served but with events in the log is still shown.
async fn check_agent(socket: &Path, agent: &str, since_ms: Option<u64>) -> Result<(), ClientError> {
    let (_, status) = call::<StatusReply>(socket, &Request::Status {}).await?;
    let served: Vec<&str> = status.agents.iter().map(|a| a.id.as_str()).collect();
    if served.contains(&agent) {
        return Ok(());
    }
    if since_ms.is_some() {
        let ever = Request::Resets {
            agent: Some(agent.into()),
            since_ms: None,
            after_seq: None,
        };
        if !call::<ResetsReply>(socket, &ever)
            .await?
            .1
            .events
            .is_empty()
        {
            return Ok(());
        }
    }
    Err(ClientError::Daemon(ErrorBody::new(
        ErrorCode::UnknownAgent,
        format!(
            "agent {agent:?} is not served by keepalived and has no event in its log (agents \
             served: {})",
            if served.is_empty() {
                "none yet".to_string()
            } else {
                served.join(", ")
            }
        ),
    )))
}

/// Where the `--since` window starts, in unix ms. A window longer than a u64 counts in
/// milliseconds reaches back to the epoch rather than wrapping into a short one.
fn window_start_ms(now_ms: u64, since: Duration) -> u64 {
    now_ms.saturating_sub(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// Prints one event as a line; false once nobody reads the output any more.
fn print_event(out: &mut impl Write, event: &ResetEvent, json: bool) -> bool {
    let line = if json {
        serde_json::to_string(event).unwrap_or_default()
    } else {
        output::reset_line(event)
    };
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_starts_since_ago_and_an_endless_one_at_the_epoch() {
        let now = 1_800_000_000_000;
        assert_eq!(window_start_ms(now, Duration::from_secs(60)), now - 60_000);
        assert_eq!(window_start_ms(now, Duration::from_secs(u64::MAX)), 0);
        // 2^64 ms and 384 ms: cast to u64 it would wrap to a 384 ms window.
        let just_over = Duration::from_secs(18_446_744_073_709_552);
        assert_eq!(window_start_ms(now, just_over), 0);
        assert_eq!(window_start_ms(5, Duration::from_secs(1)), 0);
    }
}
