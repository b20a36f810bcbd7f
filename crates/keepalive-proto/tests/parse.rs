//! Request parsing and framing edge cases that the golden vectors do not cover.

use bytes::BytesMut;
use keepalive_proto::{ErrorCode, Frame, FrameCodec, Request, parse_request};
use tokio_util::codec::Decoder;

fn code(line: &str) -> ErrorCode {
    parse_request(line).expect_err(line).code
}

#[test]
fn unknown_fields_are_refused_not_ignored() {
    // A misspelt `agent` must not silently widen a touch to every agent.
    assert_eq!(
        code(r#"{"v":1,"cmd":"touch","agnet":"main"}"#),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(r#"{"v":1,"cmd":"hello","x":1}"#),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn version_and_command_errors_are_distinct() {
    assert_eq!(
        code(r#"{"v":2,"cmd":"hello"}"#),
        ErrorCode::UnsupportedVersion
    );
    assert_eq!(
        code(r#"{"v":"1","cmd":"hello"}"#),
        ErrorCode::UnsupportedVersion
    );
    assert_eq!(code(r#"{"cmd":"hello"}"#), ErrorCode::InvalidRequest);
    assert_eq!(
        code(r#"{"v":1,"cmd":"explode"}"#),
        ErrorCode::UnknownCommand
    );
    assert_eq!(code(r#"{"v":1}"#), ErrorCode::InvalidRequest);
    assert_eq!(code(r#"{"v":1,"cmd":7}"#), ErrorCode::InvalidRequest);
    assert_eq!(code(r#"[1,2]"#), ErrorCode::BadJson);
    assert_eq!(code(r#"{"v":1,"#), ErrorCode::BadJson);
}

#[test]
fn wrong_types_and_values_are_refused() {
    assert_eq!(
        code(r#"{"v":1,"cmd":"set_interval","interval_s":-5}"#),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(r#"{"v":1,"cmd":"set_interval","interval_s":1e30}"#),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(r#"{"v":1,"cmd":"set_interval"}"#),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(r#"{"v":1,"cmd":"touch","sessions":"agent:main:main"}"#),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(r#"{"v":1,"cmd":"touch","agent":"../x"}"#),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(r#"{"v":1,"cmd":"exclude","session":"a","agent":"/etc"}"#),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code("{\"v\":1,\"cmd\":\"include\",\"session\":\"a\\u0000b\"}"),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(r#"{"v":1,"cmd":"include","session":"  "}"#),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn requests_round_trip_through_their_line_form() {
    let requests = [
        Request::Hello {},
        Request::Touch {
            sessions: Some(vec!["agent:main:main".into()]),
            revive: true,
            agent: Some("main".into()),
        },
        Request::Touch {
            sessions: None,
            revive: false,
            agent: None,
        },
        Request::SetInterval { interval_s: 90 },
        Request::Forget {
            session: "cron:x".into(),
            agent: None,
        },
        Request::Shutdown {},
    ];
    for request in requests {
        let line = request.to_line();
        assert!(line.starts_with(r#"{"v":1,"cmd":""#), "{line}");
        assert_eq!(parse_request(&line), Ok(request));
    }
}

#[test]
fn codec_survives_oversized_and_non_utf8_lines() {
    let mut codec = FrameCodec::with_max_length(16);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(b"0123456789abcdefXYZ-too-long\n");
    buf.extend_from_slice(b"\xff\xfe\n");
    buf.extend_from_slice(b"{\"ok\":1}\n");
    let mut frames = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).expect("decode") {
        frames.push(frame);
    }
    assert_eq!(
        frames,
        vec![
            Frame::TooLarge,
            Frame::InvalidUtf8,
            Frame::Line("{\"ok\":1}".into())
        ]
    );
}
