//! Well-formed lines with bad requests, one kind per phase: unknown commands and fields,
//! wrong types, absurd values, path-like names. Each phase returns how many bad inputs it
//! tried.

use serde_json::json;

use crate::HELLO;
use crate::support::Env;
use crate::support::hostile::assert_error;

pub fn refuses_unknown_commands_fields_and_wrong_types(env: &Env) -> usize {
    let long_cmd = format!(r#"{{"v":1,"cmd":"{}"}}"#, "x".repeat(60_000));
    let mut cases: Vec<(String, &[&str])> = vec![
        (r#"{"v":1,"cmd":"explode"}"#.into(), &["unknown_command"]),
        (r#"{"v":1,"cmd":"HELLO"}"#.into(), &["unknown_command"]),
        (r#"{"v":1,"cmd":""}"#.into(), &["unknown_command"]),
        (r#"{"v":1,"cmd":"hello "}"#.into(), &["unknown_command"]),
        (r#"{"v":1,"cmd":"../status"}"#.into(), &["unknown_command"]),
        (
            r#"{"v":1,"cmd":"status\u0000"}"#.into(),
            &["unknown_command"],
        ),
        (long_cmd, &["unknown_command"]),
        // Unknown fields, including the misspelling that must not widen a touch.
        (
            r#"{"v":1,"cmd":"touch","agnet":"main"}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":1,"cmd":"status","x":1}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":1,"cmd":"hello","":null}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":1,"cmd":"touch","sessions":["agent:main:main"],"force":true}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":1,"cmd":"shutdown","now":true}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":1,"cmd":"set_interval","interval_s":60,"interval":60}"#.into(),
            &["invalid_request"],
        ),
        // Wrong types.
        (r#"{"v":1,"cmd":["hello"]}"#.into(), &["invalid_request"]),
        (r#"{"v":1,"cmd":null}"#.into(), &["invalid_request"]),
        (
            r#"{"v":1,"cmd":{"name":"hello"}}"#.into(),
            &["invalid_request"],
        ),
        (
            r#"{"v":"1","cmd":"hello"}"#.into(),
            &["unsupported_version"],
        ),
        (
            r#"{"v":true,"cmd":"hello"}"#.into(),
            &["unsupported_version"],
        ),
        (
            r#"{"v":[1],"cmd":"hello"}"#.into(),
            &["unsupported_version"],
        ),
    ];
    for value in [
        r#""60""#,
        "60.0",
        "6e1",
        "true",
        "null",
        "[60]",
        r#"{"s":60}"#,
    ] {
        cases.push((
            format!(r#"{{"v":1,"cmd":"set_interval","interval_s":{value}}}"#),
            &["invalid_request"],
        ));
    }
    for value in ["7", "[]", "{}", "true", r#"["main"]"#] {
        cases.push((
            format!(r#"{{"v":1,"cmd":"touch","agent":{value}}}"#),
            &["invalid_request"],
        ));
        cases.push((
            format!(r#"{{"v":1,"cmd":"sessions","agent":{value}}}"#),
            &["invalid_request"],
        ));
    }
    for value in [
        r#""agent:main:main""#,
        "null",
        "[1]",
        "[null]",
        r#"[["agent:main:main"]]"#,
        r#"{"agent:main:main":true}"#,
    ] {
        cases.push((
            format!(r#"{{"v":1,"cmd":"touch","sessions":{value}}}"#),
            &["invalid_request"],
        ));
    }
    for value in [r#""true""#, "1", "null", "[]"] {
        cases.push((
            format!(r#"{{"v":1,"cmd":"touch","sessions":["agent:main:main"],"revive":{value}}}"#),
            &["invalid_request"],
        ));
    }
    for value in [r#""1h""#, "1.5", "true", "[3600]"] {
        cases.push((
            format!(r#"{{"v":1,"cmd":"set_active_within","active_within_s":{value}}}"#),
            &["invalid_request"],
        ));
    }
    cases.push((
        r#"{"v":1,"cmd":"set_active_within"}"#.into(),
        &["invalid_request"],
    ));
    for cmd in ["include", "exclude", "forget"] {
        for value in ["5", "null", "[]", r#"{"k":"agent:main:main"}"#] {
            cases.push((
                format!(r#"{{"v":1,"cmd":"{cmd}","session":{value}}}"#),
                &["invalid_request"],
            ));
        }
        cases.push((format!(r#"{{"v":1,"cmd":"{cmd}"}}"#), &["invalid_request"]));
    }
    let mut client = env.client();
    for (line, codes) in &cases {
        let reply = client.request(line);
        assert_error(&line.chars().take(120).collect::<String>(), &reply, codes);
    }
    assert_eq!(client.request(HELLO)["ok"], true);
    cases.len()
}

pub fn refuses_absurd_values(env: &Env) -> usize {
    let mut client = env.client();
    let interval = client.request(r#"{"v":1,"cmd":"get_interval"}"#)["interval_s"].clone();
    let window = client.request(r#"{"v":1,"cmd":"get_active_within"}"#)["active_within_s"].clone();
    assert_eq!(interval, 3600);
    assert!(
        window.is_null(),
        "started with --active-within all: {window}"
    );
    // (value, codes): out of the documented range is invalid_argument, not an
    // integer of the wire type at all is invalid_request.
    let either: &[&str] = &["invalid_request", "invalid_argument"];
    let numbers: [(&str, &[&str]); 10] = [
        ("0", &["invalid_argument"]),
        ("-1", &["invalid_request"]),
        ("-0", either),
        ("86401", &["invalid_argument"]),
        ("4294967297", &["invalid_argument"]),
        ("18446744073709551615", &["invalid_argument"]),
        ("18446744073709551616", &["invalid_request"]),
        ("1000000000000000000000000000000", &["invalid_request"]),
        ("1e30", &["invalid_request"]),
        // Valid JSON, but serde_json refuses numbers beyond f64 as bad_json.
        (
            "1e400",
            &["bad_json", "invalid_request", "invalid_argument"],
        ),
    ];
    let mut tried = 0;
    for (value, codes) in numbers {
        let line = format!(r#"{{"v":1,"cmd":"set_interval","interval_s":{value}}}"#);
        assert_error(&line, &client.request(&line), codes);
        tried += 1;
    }
    let windows: [(&str, &[&str]); 8] = [
        ("0", &["invalid_argument"]),
        ("-1", &["invalid_request"]),
        ("-86400", &["invalid_request"]),
        ("31622401", &["invalid_argument"]),
        ("9007199254740993", &["invalid_argument"]),
        ("18446744073709551615", &["invalid_argument"]),
        ("1000000000000000000000000000000", &["invalid_request"]),
        (
            "1e400",
            &["bad_json", "invalid_request", "invalid_argument"],
        ),
    ];
    for (value, codes) in windows {
        let line = format!(r#"{{"v":1,"cmd":"set_active_within","active_within_s":{value}}}"#);
        assert_error(&line, &client.request(&line), codes);
        tried += 1;
    }
    // Absurd but well-formed touches: nothing may be written by them.
    for line in [
        r#"{"v":1,"cmd":"touch","sessions":[]}"#.to_string(),
        format!(
            r#"{{"v":1,"cmd":"touch","sessions":["{}"]}}"#,
            "k".repeat(1025)
        ),
        format!(
            r#"{{"v":1,"cmd":"touch","agent":"main","sessions":[{}]}}"#,
            vec!["\"agent:main:nope\""; 3000].join(",")
        ),
        r#"{"v":1,"cmd":"touch","sessions":["   "]}"#.into(),
        r#"{"v":1,"cmd":"touch","sessions":["agent:main:main\u0007"]}"#.into(),
        r#"{"v":1,"cmd":"touch","sessions":["agent:main:main\u009f"]}"#.into(),
    ] {
        let reply = client.request(&line);
        let short: String = line.chars().take(100).collect();
        if line.contains(r#""sessions":[]"#) {
            // Documented: refused, so an empty filter never means "every session".
            assert_error(&short, &reply, &["invalid_argument"]);
        } else {
            assert_error(&short, &reply, &["invalid_argument", "unknown_session"]);
        }
        tried += 1;
    }
    assert_eq!(
        client.request(r#"{"v":1,"cmd":"get_interval"}"#)["interval_s"],
        interval
    );
    assert_eq!(
        client.request(r#"{"v":1,"cmd":"get_active_within"}"#)["active_within_s"],
        window
    );
    tried
}

pub fn refuses_path_like_names(env: &Env) -> usize {
    let mut client = env.client();
    let long = "a".repeat(129);
    let agents = [
        "../x",
        "..",
        ".",
        "/etc",
        "/",
        "a/b",
        "main/../main",
        "main/",
        "a\\\\b",
        "..\\\\..",
        "a\\u0000b",
        "\\u0000",
        "main\\u0000",
        "x\\n",
        "\\u007f",
        "",
        long.as_str(),
    ];
    let mut tried = 0;
    for name in agents {
        for line in [
            format!(r#"{{"v":1,"cmd":"touch","agent":"{name}"}}"#),
            format!(r#"{{"v":1,"cmd":"touch","agent":"{name}","sessions":["agent:main:main"]}}"#),
            format!(r#"{{"v":1,"cmd":"sessions","agent":"{name}"}}"#),
            format!(r#"{{"v":1,"cmd":"include","session":"agent:main:main","agent":"{name}"}}"#),
            format!(r#"{{"v":1,"cmd":"exclude","session":"agent:main:main","agent":"{name}"}}"#),
            format!(r#"{{"v":1,"cmd":"forget","session":"agent:main:main","agent":"{name}"}}"#),
        ] {
            assert_error(&line, &client.request(&line), &["invalid_argument"]);
            tried += 1;
        }
    }
    // Valid agent ids that merely look odd: no store, so unknown_agent.
    for name in [" ", "etc", "...", "-", "main ", "MAIN", "~"] {
        for cmd in ["touch", "sessions"] {
            let line = format!(r#"{{"v":1,"cmd":"{cmd}","agent":"{name}"}}"#);
            assert_error(&line, &client.request(&line), &["unknown_agent"]);
            tried += 1;
        }
    }
    // Session keys that look like paths are keys like any other: unknown here.
    for key in [
        "../x",
        "/etc/passwd",
        "..",
        "../../agents/main/sessions/sessions.json",
    ] {
        let line = format!(r#"{{"v":1,"cmd":"touch","sessions":["{key}"]}}"#);
        let reply = client.request(&line);
        assert_error(&line, &reply, &["unknown_session"]);
        tried += 1;
    }
    for key in ["a\\u0000b", "\\u0000", "../x\\u0000", "\\n"] {
        for cmd in [
            "touch\",\"sessions\":[\"KEY\"]",
            "include\",\"session\":\"KEY\"",
        ] {
            let line = format!(r#"{{"v":1,"cmd":"{}}}"#, cmd.replace("KEY", key));
            assert_error(&line, &client.request(&line), &["invalid_argument"]);
            tried += 1;
        }
    }
    let rules = client.request(r#"{"v":1,"cmd":"rules"}"#);
    assert_eq!(rules["ok"], true, "{rules}");
    assert_eq!(rules["rules"], json!([]), "no rule was added: {rules}");
    tried
}
