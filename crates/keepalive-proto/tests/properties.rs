//! Property tests for the request parser and the line codec, the stable-Rust twin of the
//! `fuzz/` targets: arbitrary text and JSON-ish lines never panic the parser and every
//! refusal carries a stable code and a message; every valid request round-trips through
//! its line form; the codec yields the same frames however its input is chunked, and none
//! longer than its limit.

use bytes::BytesMut;
use keepalive_proto::{
    COMMANDS, ErrorCode, Frame, FrameCodec, MAX_AGENT_BYTES, MAX_NAME_BYTES, PARSER_CODES, Request,
    parse_request,
};
use proptest::prelude::*;
use serde_json::{Map, Value};
use tokio_util::codec::Decoder;

/// Parses `line` and checks the invariants that hold for any input: a refusal has a parser
/// code (never `other`) and a message; an acceptance survives its own line form.
fn check_line(line: &str) -> Result<(), TestCaseError> {
    match parse_request(line) {
        Ok(request) => {
            let again = request.to_line();
            prop_assert!(!again.contains('\n'), "line form has a newline: {again:?}");
            prop_assert_eq!(parse_request(&again), Ok(request));
        }
        Err(e) => {
            prop_assert!(
                PARSER_CODES.contains(&e.code),
                "code {} for {line:?}",
                e.code
            );
            prop_assert_ne!(e.code, ErrorCode::Other);
            prop_assert!(!e.message.trim().is_empty(), "empty message for {line:?}");
            prop_assert_eq!(ErrorCode::from_wire(e.code.as_str()), e.code);
        }
    }
    Ok(())
}

// ---- valid requests -------------------------------------------------------------------

fn session_key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z0-9:_.\\- \"\\\\/é😀\u{2028}]{1,40}",
        1 => Just("x".repeat(MAX_NAME_BYTES)),
        1 => Just(format!("{}é", "k".repeat(MAX_NAME_BYTES - 2))),
    ]
    .prop_filter("a key must not be blank", |k| !k.trim().is_empty())
}

fn agent_id() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z0-9._\\- é😀\"]{1,24}",
        1 => Just("a".repeat(MAX_AGENT_BYTES)),
    ]
    .prop_filter("not a path step", |a| a != "." && a != "..")
}

fn request() -> impl Strategy<Value = Request> {
    let agent = || prop::option::of(agent_id());
    prop_oneof![
        Just(Request::Hello {}),
        (
            prop::option::of(prop::collection::vec(session_key(), 1..4)),
            agent(),
            any::<bool>()
        )
            .prop_map(|(sessions, agent, revive)| Request::Touch {
                sessions,
                agent,
                revive
            }),
        Just(Request::GetInterval {}),
        any::<u64>().prop_map(|interval_s| Request::SetInterval { interval_s }),
        (session_key(), agent()).prop_map(|(session, agent)| Request::Include { session, agent }),
        (session_key(), agent()).prop_map(|(session, agent)| Request::Exclude { session, agent }),
        (session_key(), agent()).prop_map(|(session, agent)| Request::Forget { session, agent }),
        Just(Request::Rules {}),
        Just(Request::GetActiveWithin {}),
        prop::option::of(any::<u64>())
            .prop_map(|active_within_s| Request::SetActiveWithin { active_within_s }),
        agent().prop_map(|agent| Request::Sessions { agent }),
        Just(Request::Status {}),
        Just(Request::Metrics {}),
        Just(Request::Shutdown {}),
    ]
}

// ---- JSON-ish lines --------------------------------------------------------------------

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        Just(Value::from(1)),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop::sample::select(COMMANDS).prop_map(Value::from),
        "[a-z:._/\\\\ \u{0}\u{1f}\u{7f}é😀\"]{0,12}".prop_map(Value::from),
        Just(Value::from("..")),
        Just(Value::from("x".repeat(MAX_NAME_BYTES + 1))),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((field_name(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "v",
                "cmd",
                "sessions",
                "agent",
                "revive",
                "interval_s",
                "session",
                "active_within_s",
            ][..]
        )
        .prop_map(str::to_owned),
        "[a-zA-Z_]{0,8}",
    ]
}

/// An object that is often nearly a request: usually `v: 1`, a known `cmd` and fields
/// the commands take, with values of any type.
fn request_like() -> impl Strategy<Value = Value> {
    let version = prop_oneof![
        6 => Just(Some(Value::from(1))),
        1 => Just(None),
        1 => scalar().prop_map(Some),
    ];
    let command = prop_oneof![
        6 => prop::sample::select(COMMANDS).prop_map(|c| Some(Value::from(c))),
        1 => Just(None),
        1 => scalar().prop_map(Some),
    ];
    (
        version,
        command,
        prop::collection::vec((field_name(), json()), 0..4),
    )
        .prop_map(|(v, cmd, rest)| {
            let mut m = Map::new();
            if let Some(v) = v {
                m.insert("v".into(), v);
            }
            if let Some(cmd) = cmd {
                m.insert("cmd".into(), cmd);
            }
            for (k, v) in rest {
                if k != "v" && k != "cmd" {
                    m.insert(k, v);
                }
            }
            Value::Object(m)
        })
}

/// A serialised request-like object, sometimes cut short or with a byte spliced in.
fn json_line() -> impl Strategy<Value = String> {
    (
        prop_oneof![4 => request_like(), 1 => json()],
        any::<prop::sample::Index>(),
        0u8..4,
        prop::sample::select(&['{', '}', '[', ']', ',', ':', '"', '\\', ' ', '1', 'n', 'é'][..]),
    )
        .prop_map(|(value, at, op, c)| {
            let mut line = value.to_string();
            let mut i = at.index(line.len() + 1);
            while !line.is_char_boundary(i) {
                i -= 1;
            }
            match op {
                0 => line.truncate(i),
                1 => line.insert(i, c),
                _ => {}
            }
            line
        })
}

// ---- the codec ------------------------------------------------------------------------

/// Feeds `chunks` to a fresh codec the way `FramedRead` does: decode after each chunk until
/// it wants more, then `decode_eof` until it has nothing left.
fn decode_all(max: usize, chunks: &[&[u8]]) -> Vec<Frame> {
    let mut codec = FrameCodec::with_max_length(max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode(&mut buf).expect("decoding does no I/O") {
            frames.push(frame);
        }
    }
    while let Some(frame) = codec.decode_eof(&mut buf).expect("decoding does no I/O") {
        frames.push(frame);
    }
    // `decode_eof` leaves a lone trailing `\r` in the buffer (it is no line).
    assert!(
        buf.is_empty() || buf == b"\r"[..],
        "bytes left over after EOF: {buf:?}"
    );
    frames
}

/// What the frames should be, worked out line by line: a line (its newline excluded) longer
/// than `max` is `TooLarge`; otherwise one trailing `\r` goes and the rest must be UTF-8.
/// Unterminated trailing bytes are a last line unless they are empty or a lone `\r`.
fn expected_frames(max: usize, input: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut parts: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
    let last = parts.pop().unwrap_or_default();
    let frame = |line: &[u8]| {
        if line.len() > max {
            return Frame::TooLarge;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match std::str::from_utf8(line) {
            Ok(s) => Frame::Line(s.to_owned()),
            Err(_) => Frame::InvalidUtf8,
        }
    };
    for line in parts {
        frames.push(frame(line));
    }
    // The length check comes first: with a limit of 0 even a lone `\r` is too large.
    if last.len() > max {
        frames.push(Frame::TooLarge);
    } else if !last.is_empty() && last != b"\r" {
        frames.push(frame(last));
    }
    frames
}

fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..96),
        prop::collection::vec(
            prop::sample::select(b"ab{}\"\n\n\r\xc3\xa9\xff\x80 ".to_vec()),
            0..96
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics_the_parser(line in any::<String>()) {
        check_line(&line)?;
    }

    #[test]
    fn json_ish_lines_get_a_request_or_a_coded_refusal(line in json_line()) {
        check_line(&line)?;
    }

    #[test]
    fn valid_requests_round_trip(request in request()) {
        let line = request.to_line();
        prop_assert!(line.starts_with(r#"{"v":1,"cmd":""#), "{}", line);
        prop_assert!(!line.contains('\n'));
        prop_assert_eq!(parse_request(&line), Ok(request.clone()));
        // Any field order and whitespace is the same request.
        let object: Map<String, Value> = serde_json::from_str(&line).unwrap();
        let reversed: Map<String, Value> = object.into_iter().rev().collect();
        let pretty = serde_json::to_string_pretty(&Value::Object(reversed)).unwrap();
        prop_assert_eq!(parse_request(&pretty), Ok(request));
    }

    #[test]
    fn codec_frames_do_not_depend_on_chunking(
        input in wire_bytes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        max in 0usize..24,
    ) {
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        at.push(0);
        at.push(input.len());
        at.sort_unstable();
        let chunks: Vec<&[u8]> = at.windows(2).map(|w| &input[w[0]..w[1]]).collect();
        let whole = decode_all(max, &[&input]);
        let chunked = decode_all(max, &chunks);
        let byte_by_byte = decode_all(
            max,
            &input.chunks(1).collect::<Vec<_>>(),
        );
        prop_assert_eq!(&chunked, &whole);
        prop_assert_eq!(&byte_by_byte, &whole);
        for frame in &whole {
            if let Frame::Line(line) = frame {
                prop_assert!(line.len() <= max, "{} bytes > {}", line.len(), max);
                prop_assert!(!line.contains('\n'));
            }
        }
        prop_assert_eq!(whole, expected_frames(max, &input));
    }
}

#[test]
fn codec_at_the_real_limit() {
    let limit = keepalive_proto::MAX_FRAME_BYTES;
    let mut input = vec![b'a'; limit];
    input.push(b'\n');
    input.extend(vec![b'b'; limit + 1]);
    input.extend_from_slice(b"\n{}\n");
    let frames = decode_all(limit, &[&input]);
    let chunked = decode_all(limit, &input.chunks(4096).collect::<Vec<_>>());
    assert_eq!(frames, chunked);
    assert_eq!(
        frames,
        vec![
            Frame::Line("a".repeat(limit)),
            Frame::TooLarge,
            Frame::Line("{}".into())
        ]
    );
}
