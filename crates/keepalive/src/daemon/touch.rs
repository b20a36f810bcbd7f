//! How a touch is answered: which agents the request targets, which of them hold the keys,
//! one try and (when nothing was written for want of an agent, a key or a store) one more
//! after a fresh look at the state dir, and the wire reply made from each agent's result.

use std::collections::BTreeSet;
use std::time::Instant;

use keepalive_proto::{AgentResult, ErrorBody, ErrorCode, TouchReply, encode_ok};

use super::agent::AgentHandle;
use super::round::Touched;
use super::state::Daemon;
use crate::policy::normalize_key;

/// `touch`: with keys, bump exactly those (looked up in every targeted store
/// first, so an unknown key writes nothing); without, every session kept
/// alive in the targeted agents.
///
/// The gateway creates a store before its hooks touch a session in it, so a
/// touch that wrote nothing for want of an agent, a key or a store makes the
/// daemon look at the state dir again at once (bounded: `Daemon::rescan`) and
/// is then tried once more on what it found; the second answer is final.
pub async fn touch(
    daemon: &Daemon,
    sessions: Option<Vec<String>>,
    agent: Option<String>,
    revive: bool,
) -> Result<String, ErrorBody> {
    let asked_at = Instant::now();
    let keys: Option<BTreeSet<String>> =
        sessions.map(|s| s.iter().map(|k| normalize_key(k)).collect());
    let first = touch_in(
        &targets(daemon, agent.as_deref(), asked_at).await?,
        keys.as_ref(),
        revive,
    )
    .await;
    let Some(why) = first.look_again else {
        return first.reply;
    };
    daemon.rescan(asked_at, why).await;
    let targets = targets(daemon, agent.as_deref(), asked_at).await?;
    touch_in(&targets, keys.as_ref(), revive).await.reply
}

/// One try of a touch: its reply, and why a fresh look at the state dir could
/// change it (only when nothing was written).
struct Attempt {
    reply: Result<String, ErrorBody>,
    look_again: Option<&'static str>,
}

async fn touch_in(
    targets: &[AgentHandle],
    keys: Option<&BTreeSet<String>>,
    revive: bool,
) -> Attempt {
    let Some(keys) = keys else {
        let ran = futures_util::future::join_all(targets.iter().map(AgentHandle::touch_all)).await;
        // With several agents some may have written: only a lone one is tried again.
        let look_again = match ran.as_slice() {
            [] => Some("a touch found no agent"),
            [Err(e)] if e.code == ErrorCode::StoreNotFound => Some("a touch found no store"),
            _ => None,
        };
        let results = targets
            .iter()
            .zip(ran)
            .map(|(a, r)| agent_result(a, r))
            .collect();
        return Attempt {
            reply: touch_reply(results),
            look_again,
        };
    };
    // One store to look in (the usual install): its actor checks every key itself,
    // all or nothing, in the same round that writes, so the store is read once.
    if let [only] = targets {
        let keys: Vec<String> = keys.iter().cloned().collect();
        return match only.touch_keys(keys, revive).await {
            Err(e) if e.code == ErrorCode::UnknownSession => Attempt {
                reply: Err(e),
                look_again: Some("a touch named a key in no known store"),
            },
            Err(e) => Attempt {
                look_again: (e.code == ErrorCode::StoreNotFound)
                    .then_some("a touch found no store"),
                reply: touch_reply(vec![agent_result(only, Err(e))]),
            },
            Ok(result) => Attempt {
                reply: touch_reply(vec![agent_result(only, Ok(result))]),
                look_again: None,
            },
        };
    }
    let owners = match locate(targets, keys).await {
        Ok(owners) => owners,
        Err(e) => {
            return Attempt {
                reply: Err(e),
                look_again: Some("a touch named a key in no known store"),
            };
        }
    };
    let ran = futures_util::future::join_all(
        owners
            .iter()
            .map(|(agent, here)| agent.touch_keys(here.clone(), revive)),
    )
    .await;
    let results = owners
        .iter()
        .zip(ran)
        .map(|((a, _), r)| agent_result(a, r))
        .collect();
    Attempt {
        reply: touch_reply(results),
        look_again: None,
    }
}

/// The reply to a touch: the results, or the first agent's error with every result attached.
fn touch_reply(results: Vec<AgentResult>) -> Result<String, ErrorBody> {
    if let Some(first) = results.iter().find_map(|r| r.error.clone()) {
        let failed: Vec<String> = results
            .iter()
            .filter_map(|r| {
                r.error
                    .as_ref()
                    .map(|e| format!("{}: {}", r.agent, e.message))
            })
            .collect();
        let details = serde_json::json!({ "results": results });
        return Err(ErrorBody::new(first.code, failed.join("; ")).with_details(details));
    }
    Ok(encode_ok(&TouchReply { results }))
}

/// The wire result of one agent's part in a touch.
fn agent_result(agent: &AgentHandle, touched: Result<Touched, ErrorBody>) -> AgentResult {
    let (agent, store) = (agent.id.clone(), agent.store.display().to_string());
    match touched {
        Ok(t) => AgentResult {
            agent,
            store,
            sessions: t.sessions,
            bumped: t.bumped,
            written: t.written,
            dry_run: t.dry_run,
            error: None,
            note: t.note,
        },
        Err(error) => AgentResult {
            agent,
            store,
            sessions: 0,
            bumped: Vec::new(),
            written: false,
            dry_run: false,
            error: Some(error),
            note: None,
        },
    }
}

/// Finds which agents hold each key, asking each agent's actor (which reads
/// its store once however many touches wait). Any key found nowhere is an
/// error naming it, and nothing is written.
async fn locate(
    targets: &[AgentHandle],
    keys: &BTreeSet<String>,
) -> Result<Vec<(AgentHandle, Vec<String>)>, ErrorBody> {
    let wanted: Vec<String> = keys.iter().cloned().collect();
    let found =
        futures_util::future::join_all(targets.iter().map(|a| a.lookup(wanted.clone()))).await;
    let mut owners = Vec::new();
    let mut unreadable = Vec::new();
    for (agent, found) in targets.iter().zip(found) {
        match found {
            Ok(here) if !here.is_empty() => owners.push((agent.clone(), here)),
            Ok(_) => {}
            Err(e) => unreadable.push(format!("{}: {}", agent.id, e.message)),
        }
    }
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !owners.iter().any(|(_, here)| here.contains(k)))
        .collect();
    if !missing.is_empty() {
        let mut error = ErrorBody::unknown_sessions(&missing);
        if !unreadable.is_empty() {
            error.message.push_str(&format!(
                " (some stores could not be read: {})",
                unreadable.join("; ")
            ));
        }
        return Err(error);
    }
    Ok(owners)
}

fn unknown_agent(daemon: &Daemon, id: &str) -> ErrorBody {
    let known = daemon.agent_ids();
    let why = if daemon.config.only_agents.is_empty()
        || daemon.config.only_agents.iter().any(|a| a == id)
    {
        format!(
            "agent {id:?} has no store under {}",
            daemon.config.state_dir.path.join("agents").display()
        )
    } else {
        format!(
            "agent {id:?} is not served: this keepalived was started with --agent for other agents"
        )
    };
    ErrorBody::new(
        ErrorCode::UnknownAgent,
        format!(
            "{why} (agents served: {})",
            if known.is_empty() {
                "none yet".to_string()
            } else {
                known.join(", ")
            }
        ),
    )
}

/// The agents a request targets: one by id, or all. An id not served yet
/// makes the daemon look at the state dir again first: the gateway may have
/// created that agent since the last tick.
pub async fn targets(
    daemon: &Daemon,
    agent: Option<&str>,
    asked_at: Instant,
) -> Result<Vec<AgentHandle>, ErrorBody> {
    let Some(id) = agent else {
        return Ok(daemon.agents());
    };
    if let Some(found) = daemon.agent(id) {
        return Ok(vec![found]);
    }
    daemon
        .rescan(asked_at, &format!("a request named agent {id:?}"))
        .await;
    daemon
        .agent(id)
        .map(|found| vec![found])
        .ok_or_else(|| unknown_agent(daemon, id))
}
