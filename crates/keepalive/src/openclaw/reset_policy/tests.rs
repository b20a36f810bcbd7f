//! Which rule applies: defaults per generation and the layering of
//! `openclaw.json` sections.

use crate::openclaw::config::parse;
use crate::openclaw::release::test_releases::{old, sqlite, v1, v2};
use crate::openclaw::reset::{Generation, Mode, ResetConfig, ResetRule, defaults};
use crate::openclaw::reset_policy::{effective_rule, session_reset_type};

fn reset_config(text: &str) -> ResetConfig {
    let c = parse(std::path::Path::new("/st/openclaw.json"), text);
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    c.reset
}

/// (mode, atHour, idleMinutes) of a rule, for compact asserts.
fn mai(r: &ResetRule) -> (Mode, u8, u64) {
    (r.mode, r.at_hour, r.idle_minutes)
}

/// No release has an idle rule by default: daily at 4 in every
/// `sessions.json` release, no reset in the SQLite ones (docs/GATEWAY.md).
#[test]
fn defaults_per_release() {
    for rules in [old(), v1(), v2()] {
        let d = defaults(&rules);
        assert_eq!(mai(&d), (Mode::Daily, 4, 0), "{rules:?}");
        assert_eq!(d.source, "gateway default (daily at 4)");
    }
    assert_eq!(mai(&defaults(&sqlite())), (Mode::None, 4, 0));
}

#[test]
fn serialised_names() {
    let j = |v: &dyn erased::Ser| v.json();
    assert_eq!(j(&Generation::JsonV1), "\"json-v1\"");
    assert_eq!(j(&Generation::JsonV2), "\"json-v2\"");
    assert_eq!(j(&Generation::Sqlite), "\"sqlite\"");
    assert_eq!(j(&Generation::Unknown), "\"unknown\"");
    assert_eq!(j(&Mode::None), "\"none\"");
    assert_eq!(j(&crate::openclaw::reset::Rule::Idle), "\"idle\"");
    assert_eq!(j(&crate::openclaw::reset::Rule::Owed), "\"owed\"");
}

/// A tiny object-safe wrapper so the test above can take mixed types.
mod erased {
    pub trait Ser {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).expect("serialises")
        }
    }
}

#[test]
fn empty_config_is_the_defaults() {
    let c = ResetConfig::default();
    for g in [&v1(), &v2(), &sqlite()] {
        assert_eq!(effective_rule(&c, g, "direct", None), defaults(g));
    }
}

#[test]
fn session_reset_overrides_only_what_it_sets() {
    let c = reset_config("{session:{reset:{atHour: 2}}}");
    let r = effective_rule(&c, &v2(), "direct", None);
    assert_eq!(mai(&r), (Mode::Daily, 2, 0));
    assert_eq!(r.source, "session.reset + gateway default (daily at 4)");
    let r = effective_rule(&c, &v1(), "direct", None);
    assert_eq!(mai(&r), (Mode::Daily, 2, 0));
}

/// Up to 2026.3.13 mode idle without minutes meant 60 and an explicit 0
/// meant 1; from 2026.3.22 both mean no idle expiry.
#[test]
fn idle_mode_without_minutes_follows_the_release() {
    let unset = reset_config("{session:{reset:{mode: 'idle'}}}");
    let zero = reset_config("{session:{reset:{mode: 'idle', idleMinutes: 0}}}");
    assert_eq!(
        mai(&effective_rule(&unset, &old(), "direct", None)),
        (Mode::Idle, 4, 60)
    );
    assert_eq!(
        mai(&effective_rule(&zero, &old(), "direct", None)),
        (Mode::Idle, 4, 1)
    );
    for rules in [v1(), v2()] {
        assert_eq!(
            mai(&effective_rule(&unset, &rules, "direct", None)),
            (Mode::None, 4, 0)
        );
        assert_eq!(
            mai(&effective_rule(&zero, &rules, "direct", None)),
            (Mode::None, 4, 0),
            "no rule applies: the effect is mode none"
        );
    }
}

#[test]
fn sqlite_defaults_to_none_unless_configured() {
    assert_eq!(
        effective_rule(&ResetConfig::default(), &sqlite(), "direct", None).mode,
        Mode::None
    );
    // From 2026.8 a reset block without a mode means daily.
    let c = reset_config("{session:{reset:{atHour: 3}}}");
    let r = effective_rule(&c, &sqlite(), "direct", None);
    assert_eq!(mai(&r), (Mode::Daily, 3, 0));
    let c = reset_config("{session:{reset:{mode: 'daily', idleMinutes: 30}}}");
    let r = effective_rule(&c, &sqlite(), "direct", None);
    assert_eq!(mai(&r), (Mode::Daily, 4, 30));
}

#[test]
fn legacy_idle_minutes() {
    // Alone, it means mode idle (the gateway's backward compatibility).
    let c = reset_config("{session:{idleMinutes: 90}}");
    let r = effective_rule(&c, &v2(), "direct", None);
    assert_eq!(mai(&r), (Mode::Idle, 4, 90));
    assert!(r.source.starts_with("session.idleMinutes"), "{}", r.source);
    // From 2026.8 the legacy field is not read at all.
    let r = effective_rule(&c, &sqlite(), "direct", None);
    assert_eq!(r.mode, Mode::None);
    // With session.reset present, it only fills idleMinutes.
    let c = reset_config("{session:{idleMinutes: 90, reset:{atHour: 5}}}");
    let r = effective_rule(&c, &v2(), "direct", None);
    assert_eq!(mai(&r), (Mode::Daily, 5, 90));
    // And session.reset's own idleMinutes beats it.
    let c = reset_config("{session:{idleMinutes: 90, reset:{idleMinutes: 15}}}");
    let r = effective_rule(&c, &v2(), "direct", None);
    assert_eq!(r.idle_minutes, 15);
    assert!(!r.source.contains("session.idleMinutes"), "{}", r.source);
    // An empty session.reset still counts as present.
    let c = reset_config("{session:{idleMinutes: 90, reset:{}}}");
    assert_eq!(effective_rule(&c, &v2(), "direct", None).mode, Mode::Daily);
}

#[test]
fn reset_by_type_layers_over_session_reset() {
    let c = reset_config(
        "{session:{reset:{mode:'daily', atHour: 5, idleMinutes: 120},
          resetByType:{group:{mode:'idle', idleMinutes: 30}, thread:{atHour: 1}}}}",
    );
    let g = effective_rule(&c, &v2(), "group", None);
    assert_eq!(mai(&g), (Mode::Idle, 5, 30));
    assert_eq!(g.source, "session.resetByType.group + session.reset");
    let t = effective_rule(&c, &v2(), "thread", None);
    assert_eq!(mai(&t), (Mode::Daily, 1, 120));
    let d = effective_rule(&c, &v2(), "direct", None);
    assert_eq!(mai(&d), (Mode::Daily, 5, 120));
    assert_eq!(d.source, "session.reset");
}

#[test]
fn dm_is_an_alias_of_direct() {
    let c = reset_config("{session:{resetByType:{dm:{mode:'idle', idleMinutes: 10}}}}");
    let r = effective_rule(&c, &v2(), "direct", None);
    assert_eq!(mai(&r), (Mode::Idle, 4, 10));
    assert!(r.source.starts_with("session.resetByType.dm"));
    // From 2026.8 `dm` is no longer read.
    let r = effective_rule(&c, &sqlite(), "direct", None);
    assert_eq!(r.mode, Mode::None);
    // "direct" wins when both are there.
    let c =
        reset_config("{session:{resetByType:{dm:{idleMinutes: 10}, direct:{idleMinutes: 20}}}}");
    let r = effective_rule(&c, &v2(), "direct", None);
    assert_eq!(r.idle_minutes, 20);
    // Groups do not read it.
    let r = effective_rule(&c, &v2(), "group", None);
    assert_eq!(r.idle_minutes, 0);
}

#[test]
fn reset_by_channel_overrides_type_and_reset() {
    let c = reset_config(
        "{session:{idleMinutes: 500, reset:{mode:'daily', atHour: 5, idleMinutes: 120},
          resetByType:{group:{mode:'idle', idleMinutes: 30}},
          resetByChannel:{discord:{mode:'daily', idleMinutes: 240}, slack:{mode:'none'}}}}",
    );
    let r = effective_rule(&c, &v2(), "group", Some("discord"));
    // atHour comes from the defaults, not session.reset: the gateway uses
    // the channel entry in place of session.reset.
    assert_eq!(mai(&r), (Mode::Daily, 4, 240));
    assert_eq!(r.source, "session.resetByChannel.discord");
    let r = effective_rule(&c, &v2(), "group", Some(" Slack "));
    assert_eq!(mai(&r), (Mode::None, 4, 0));
    // Another channel falls through to type and reset.
    let r = effective_rule(&c, &v2(), "group", Some("telegram"));
    assert_eq!(mai(&r), (Mode::Idle, 5, 30));
}

#[test]
fn reset_types_from_keys() {
    assert_eq!(session_reset_type(&v2(), "agent:main:main", None), "direct");
    assert_eq!(
        session_reset_type(&v2(), "agent:main:telegram:group:-100", None),
        "group"
    );
    assert_eq!(
        session_reset_type(&v2(), "agent:main:discord:channel:42", None),
        "group"
    );
    assert_eq!(
        session_reset_type(&v2(), "agent:main:discord:channel:42:thread:7", None),
        "thread"
    );
    // From 2026.4 a `:topic:` key is a thread only where a channel plugin
    // says so; up to 2026.3 it always was.
    assert_eq!(
        session_reset_type(&old(), "agent:main:x:topic:1", Some("group")),
        "thread"
    );
    assert_eq!(
        session_reset_type(&v2(), "agent:main:main", Some("Group")),
        "group"
    );
    // The gateway's chat types are direct, group and channel: "thread" is
    // none of them.
    assert_eq!(
        session_reset_type(&v2(), "agent:main:main", Some("thread")),
        "direct"
    );
    assert_eq!(
        session_reset_type(&v2(), "cron:job", Some("direct")),
        "direct"
    );
}
