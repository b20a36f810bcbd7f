//! `openclaw.json`: JSON5 parsing, lenient fields, problems, store paths.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::openclaw::config::{
    OpenClawConfig, config_path, config_path_in, load, parse, store_path, template_is_shared,
};
use crate::openclaw::reset::{Mode, PartialRule};

fn cfg(text: &str) -> OpenClawConfig {
    parse(Path::new("/st/openclaw.json"), text)
}

fn rule(mode: Option<Mode>, at_hour: Option<u8>, idle_minutes: Option<u64>) -> PartialRule {
    PartialRule {
        mode,
        at_hour,
        idle_minutes,
    }
}

#[test]
fn json5_features_and_every_reset_field() {
    let c = cfg(r#"
        // The gateway's config, as people write it.
        {
          /* block comment */
          session: {
            store: '~/stores/{agentId}.json',
            reset: { mode: 'daily', atHour: 5, idleMinutes: 90, },
            resetByType: {
              dm: { mode: "idle", idleMinutes: 30 },
              group: { atHour: 2 },
            },
            "resetByChannel": { discord: { mode: 'none' } },
            idleMinutes: 45,
          },
          agents: { list: [ { id: 'main', }, ], },
        }
    "#);
    assert!(c.found);
    assert_eq!(c.problems, Vec::<String>::new());
    assert_eq!(c.store_template.as_deref(), Some("~/stores/{agentId}.json"));
    let r = &c.reset;
    assert_eq!(r.reset, rule(Some(Mode::Daily), Some(5), Some(90)));
    assert_eq!(r.by_type["dm"], rule(Some(Mode::Idle), None, Some(30)));
    assert_eq!(r.by_type["group"], rule(None, Some(2), None));
    assert_eq!(r.by_channel["discord"], rule(Some(Mode::None), None, None));
    assert_eq!(r.legacy_idle_minutes, Some(45));
    assert!(r.explicit_reset);
}

#[test]
fn no_session_section_is_all_defaults() {
    let c = cfg("{ gateway: { port: 18789 } }");
    assert!(c.found && c.problems.is_empty());
    assert_eq!(c.store_template, None);
    assert_eq!(c.reset, Default::default());
}

/// No release knows `off`, `manual` or other spellings: they are reported.
#[test]
fn only_the_exact_mode_names_are_modes() {
    let c = cfg("{session:{reset:{mode:'off'}, resetByType:{thread:{mode:'Daily'}}}}");
    assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
    assert!(
        c.problems[0].contains("session.reset.mode"),
        "{:?}",
        c.problems
    );
    assert_eq!(c.reset.reset.mode, None);
    let c = cfg("{session:{reset:{mode:'none'}}}");
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    assert_eq!(c.reset.reset.mode, Some(Mode::None));
}

#[test]
fn invalid_json5_reports_line_and_column() {
    // Line 3, the `atHour` after a missing comma: column 28.
    let text = "{\n  session: {\n    reset: { mode: \"daily\" atHour: 4 },\n  }\n}\n";
    let c = cfg(text);
    assert!(c.found);
    assert_eq!(c.reset, Default::default());
    assert_eq!(c.store_template, None);
    assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
    let problem = &c.problems[0];
    assert!(
        problem.starts_with("/st/openclaw.json:3:28: invalid JSON5: "),
        "{problem}"
    );
    assert!(
        problem.ends_with("; using the gateway's defaults"),
        "{problem}"
    );
}

#[test]
fn unterminated_file_is_a_problem() {
    let c = cfg("{ session: { store: 'x'");
    assert_eq!(c.problems.len(), 1);
    assert!(
        c.problems[0].starts_with("/st/openclaw.json:1:"),
        "{:?}",
        c.problems
    );
    assert_eq!(c.store_template, None);
}

#[test]
fn top_level_must_be_an_object() {
    let c = cfg("[1, 2]");
    assert_eq!(c.problems.len(), 1);
    assert!(
        c.problems[0].contains("top level is an array"),
        "{:?}",
        c.problems
    );
}

#[test]
fn a_wrongly_typed_field_costs_only_that_field() {
    let c = cfg(r#"{
      session: {
        store: "/s/{agentId}/sessions.json",
        reset: { mode: "daily", atHour: "4am", idleMinutes: 120 },
        resetByType: { group: { mode: "weekly", atHour: 3 }, thread: 7 },
        resetByChannel: "discord",
        idleMinutes: -5,
      }
    }"#);
    assert_eq!(
        c.store_template.as_deref(),
        Some("/s/{agentId}/sessions.json")
    );
    assert_eq!(c.reset.reset, rule(Some(Mode::Daily), None, Some(120)));
    assert_eq!(c.reset.by_type.len(), 1);
    assert_eq!(c.reset.by_type["group"], rule(None, Some(3), None));
    assert!(c.reset.by_channel.is_empty());
    assert_eq!(c.reset.legacy_idle_minutes, None);
    let all = c.problems.join("\n");
    assert_eq!(c.problems.len(), 5, "{all}");
    for needle in [
        "/st/openclaw.json: session.reset.atHour: expected a whole hour 0-23, found a string \"4am\"",
        "session.resetByType.group.mode: expected \"daily\", \"idle\" or \"none\", found a string \"weekly\"",
        "session.resetByType.thread: expected an object, found a number 7",
        "session.resetByChannel: expected an object, found a string \"discord\"",
        "session.idleMinutes: expected a number of minutes >= 0, found a number -5",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in\n{all}");
    }
}

#[test]
fn numbers_are_floored_and_hours_clamped_like_the_gateway() {
    let c =
        cfg("{session:{reset:{atHour: 30, idleMinutes: 90.7}, resetByType:{group:{atHour: 3.9}}}}");
    assert_eq!(c.reset.reset.at_hour, Some(23));
    assert_eq!(c.reset.reset.idle_minutes, Some(90));
    assert_eq!(c.reset.by_type["group"].at_hour, Some(3));
    assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
    assert!(c.problems[0].contains("session.reset.atHour: 30 is past 23"));
}

#[test]
fn store_must_be_a_string() {
    let c = cfg("{session:{store: 42, reset: {atHour: 1}}}");
    assert_eq!(c.store_template, None);
    assert_eq!(c.reset.reset.at_hour, Some(1));
    assert!(c.problems[0].contains("session.store: expected a string"));
}

#[test]
fn load_missing_unreadable_and_real_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = load(&dir.path().join("openclaw.json"));
    assert!(!missing.found && missing.problems.is_empty());
    assert_eq!(missing.reset, Default::default());

    // A directory where the file should be cannot be read.
    let as_dir = dir.path().join("dir.json");
    std::fs::create_dir(&as_dir).expect("mkdir");
    let unreadable = load(&as_dir);
    assert!(unreadable.found);
    assert_eq!(unreadable.problems.len(), 1);
    assert!(unreadable.problems[0].contains("cannot read it"));
    assert!(unreadable.problems[0].ends_with("using the gateway's defaults"));

    let file = dir.path().join("openclaw.json");
    std::fs::write(&file, "{session: {reset: {atHour: 6}}} // trailing comment").expect("write");
    let c = load(&file);
    assert!(c.found && c.problems.is_empty(), "{:?}", c.problems);
    assert_eq!(c.path, file);
    assert_eq!(c.reset.reset.at_hour, Some(6));

    std::fs::write(&file, b"{\"a\": \"\xff\"}").expect("write");
    let c = load(&file);
    assert!(c.found);
    assert!(c.problems[0].contains("not UTF-8"), "{:?}", c.problems);
}

#[test]
fn config_path_override_and_legacy_names() {
    let vars: HashMap<&str, &str> = [
        ("OPENCLAW_CONFIG_PATH", "~/cfg/oc.json5"),
        ("HOME", "/home/u"),
    ]
    .into();
    let env = |k: &str| vars.get(k).map(|v| v.to_string());
    let st = Path::new("/st");
    assert_eq!(config_path(st, &env), PathBuf::from("/home/u/cfg/oc.json5"));

    let vars2: HashMap<&str, &str> = [
        ("OPENCLAW_CONFIG_PATH", "~/oc.json"),
        ("HOME", "/home/u"),
        ("OPENCLAW_HOME", "/oh"),
    ]
    .into();
    let env2 = |k: &str| vars2.get(k).map(|v| v.to_string());
    assert_eq!(config_path(st, &env2), PathBuf::from("/oh/oc.json"));

    let none = |_: &str| None;
    let empty = |k: &str| (k == "OPENCLAW_CONFIG_PATH").then(|| " ".to_string());
    let nothing = |_: &Path| false;
    assert_eq!(
        config_path_in(st, &none, &nothing),
        PathBuf::from("/st/openclaw.json")
    );
    assert_eq!(
        config_path_in(st, &empty, &nothing),
        PathBuf::from("/st/openclaw.json")
    );
    let legacy = |p: &Path| p == Path::new("/st/clawdbot.json");
    assert_eq!(
        config_path_in(st, &none, &legacy),
        PathBuf::from("/st/clawdbot.json")
    );
    let both = |p: &Path| p.starts_with("/st");
    assert_eq!(
        config_path_in(st, &none, &both),
        PathBuf::from("/st/openclaw.json")
    );
}

#[test]
fn store_paths() {
    let st = Path::new("/st");
    let home = Path::new("/home/u");
    let cd = Path::new("/cfg");
    let sp = |t: Option<&str>, id: &str| store_path(t, st, id, home, cd);
    assert_eq!(
        sp(None, "main"),
        PathBuf::from("/st/agents/main/sessions/sessions.json")
    );
    assert_eq!(sp(Some("  "), "main"), sp(None, "main"));
    assert_eq!(
        sp(Some("~/s/{agentId}/{agentId}.json"), "ops"),
        PathBuf::from("/home/u/s/ops/ops.json")
    );
    assert_eq!(
        sp(Some("stores/{agentId}.json"), "ops"),
        PathBuf::from("/cfg/stores/ops.json")
    );
    assert_eq!(
        sp(Some("/abs/shared.json"), "ops"),
        PathBuf::from("/abs/shared.json")
    );
}

#[test]
fn shared_templates() {
    assert!(!template_is_shared(None));
    assert!(!template_is_shared(Some("")));
    assert!(!template_is_shared(Some("~/s/{agentId}.json")));
    assert!(template_is_shared(Some("~/s/all.json")));
}
