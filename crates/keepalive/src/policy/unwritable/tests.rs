//! The expiry and the advice keepalive gives for sessions it never writes, under 2026.9.6's
//! rules: never under its default, the layer of the user's config that resets them otherwise.

use jiff::tz::TimeZone;
use keepalive_store::EntryInfo;
use serde_json::json;

use super::{Expiry, advice, detail, expiry};
use crate::openclaw::agent_db::SessionNode;
use crate::openclaw::release::Release;
use crate::openclaw::{Clock, Facing, Mode, ResetConfig, Rule};

const NOW: u64 = 1_767_323_045_000;
const MIN: u64 = 60_000;

fn node(key: &str, last_interaction: u64) -> SessionNode {
    SessionNode {
        key: key.into(),
        session_id: Some("s1".into()),
        lifecycle_revision: None,
        updated_at: Some(last_interaction),
        last_interaction_at: Some(last_interaction),
        session_started_at: Some(last_interaction - 10 * MIN),
        chat_type: None,
        channel: None,
        archived_at: None,
    }
}

fn clock() -> Clock {
    Clock {
        now_ms: NOW,
        tz: TimeZone::UTC,
    }
}

fn under(session: serde_json::Value, entry: &EntryInfo) -> Expiry {
    let facing = Facing::known(Release::new(2026, 9, 6));
    expiry(
        entry,
        &facing,
        &ResetConfig::from_session(session),
        &clock(),
    )
}

#[test]
fn under_the_sqlite_default_a_session_never_expires_and_nothing_is_advised() {
    let got = under(json!(null), &node("agent:main:main", NOW - MIN).entry());
    assert_eq!(got.rule.mode, Mode::None);
    assert_eq!(got.stale_at, None);
    assert_eq!(advice(&got.rule), None);
    let words = detail(&got, NOW);
    assert!(words.contains("never expires"), "{words}");
    assert!(words.contains("gateway default"), "{words}");
    assert!(!words.contains("openclaw config set"), "{words}");
}

#[test]
fn an_idle_rule_of_the_users_config_gives_the_time_and_the_exact_command() {
    let session = json!({"reset": {"mode": "idle", "idleMinutes": 60}});
    let got = under(session.clone(), &node("agent:main:main", NOW - MIN).entry());
    assert_eq!(got.stale_at, Some((NOW - MIN + 60 * MIN + 1, Rule::Idle)));
    assert_eq!(
        advice(&got.rule).as_deref(),
        Some("openclaw config set session.reset.mode none")
    );
    let words = detail(&got, NOW);
    assert!(words.contains("first message after"), "{words}");
    assert!(
        words.contains("to keep it, run `openclaw config set session.reset.mode none`"),
        "{words}"
    );

    // Already past it: the gateway starts it afresh at its next message.
    let stale = under(
        session,
        &node("agent:main:main", NOW - 2 * 60 * MIN).entry(),
    );
    let words = detail(&stale, NOW);
    assert!(words.contains("made it stale at"), "{words}");
    assert!(words.contains("session.reset.mode none"), "{words}");
}

#[test]
fn the_command_names_the_layer_that_resets_the_session() {
    // session.reset.mode none would not stop these: a resetByType entry without a mode means
    // daily once the base is none, and a resetByChannel entry replaces session.reset.
    let session = json!({
        "reset": {"mode": "idle", "idleMinutes": 60},
        "resetByType": {"group": {"idleMinutes": 30}},
        "resetByChannel": {"telegram": {"mode": "daily", "atHour": 5}}
    });
    let group = under(
        session.clone(),
        &node("agent:main:discord:group:1", NOW - MIN).entry(),
    );
    assert_eq!(
        advice(&group.rule).as_deref(),
        Some("openclaw config set session.resetByType.group.mode none"),
        "{:?}",
        group.rule
    );
    let mut on_telegram = node("agent:main:telegram:direct:7", NOW - MIN);
    on_telegram.channel = Some("telegram".into());
    let telegram = under(session, &on_telegram.entry());
    assert_eq!(telegram.rule.mode, Mode::Daily);
    assert_eq!(
        advice(&telegram.rule).as_deref(),
        Some("openclaw config set session.resetByChannel.telegram.mode none")
    );
}

#[test]
fn an_updated_at_of_zero_is_a_reset_owed_whatever_the_policy() {
    let mut owed = node("agent:main:main", NOW - MIN);
    owed.updated_at = Some(0);
    let got = under(json!(null), &owed.entry());
    assert_eq!(got.stale_at, Some((0, Rule::Owed)));
    let words = detail(&got, NOW);
    assert!(words.contains("reset owed"), "{words}");
    assert!(!words.contains("openclaw config set"), "{words}");
}

#[test]
fn not_knowing_the_release_takes_the_earliest_of_the_sqlite_lines() {
    let session = json!({"reset": {"mode": "idle", "idleMinutes": 60}});
    let entry = node("agent:main:main", NOW - MIN).entry();
    let facing = Facing::unknown(true, true);
    assert!(
        facing
            .candidates()
            .iter()
            .all(|rules| rules.sessions_in_sqlite)
    );
    let got = expiry(
        &entry,
        &facing,
        &ResetConfig::from_session(session),
        &clock(),
    );
    assert_eq!(got.stale_at, Some((NOW - MIN + 60 * MIN + 1, Rule::Idle)));
}
