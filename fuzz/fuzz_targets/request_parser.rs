//! Bytes off a socket → `FrameCodec` → `parse_request`, as the daemon reads them.
//!
//! Input: one control byte, then the byte stream. The control byte seeds the chunk sizes
//! the stream arrives in and the limit of a second, small codec that exercises
//! `frame_too_large`. Must never panic; frames must not depend on the chunking; no line is
//! longer than the limit; every refusal has a parser error code (never `other`) and a
//! non-empty message; every accepted request survives its own line form.

#![no_main]

use bytes::BytesMut;
use keepalive_proto::{ErrorCode, Frame, FrameCodec, MAX_FRAME_BYTES, PARSER_CODES, parse_request};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

/// A tiny deterministic generator for chunk sizes (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Decodes `stream` the way `FramedRead` does: decode after each chunk until the codec
/// wants more, then `decode_eof` until it has nothing left.
fn frames(mut codec: FrameCodec, stream: &[u8], chunk: &mut dyn FnMut() -> usize) -> Vec<Frame> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let n = chunk().clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        while let Some(frame) = codec.decode(&mut buf).expect("decoding does no I/O") {
            out.push(frame);
        }
    }
    while let Some(frame) = codec.decode_eof(&mut buf).expect("decoding does no I/O") {
        out.push(frame);
    }
    out
}

fn check_frames(frames: &[Frame], max: usize) {
    for frame in frames {
        if let Frame::Line(line) = frame {
            assert!(
                line.len() <= max,
                "{} byte line past the {max} limit",
                line.len()
            );
            assert!(!line.contains('\n'), "line holds a newline: {line:?}");
        }
    }
}

fn check_line(line: &str) {
    match parse_request(line) {
        Ok(request) => {
            let again = request.to_line();
            assert!(!again.contains('\n'), "line form has a newline: {again:?}");
            assert_eq!(
                parse_request(&again).as_ref(),
                Ok(&request),
                "{line:?} → {again:?}"
            );
        }
        Err(e) => {
            assert!(
                PARSER_CODES.contains(&e.code),
                "code {} for {line:?}",
                e.code
            );
            assert!(!e.message.trim().is_empty(), "empty message for {line:?}");
            assert_eq!(ErrorCode::from_wire(e.code.as_str()), e.code);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };

    // The daemon's own codec, whole and in seeded chunks.
    let whole = frames(FrameCodec::new(), stream, &mut || usize::MAX);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(control));
    let chunked = frames(FrameCodec::new(), stream, &mut || 1 + rng.below(17));
    assert_eq!(chunked, whole, "frames depend on chunking");
    check_frames(&whole, MAX_FRAME_BYTES);
    for frame in &whole {
        if let Frame::Line(line) = frame {
            check_line(line);
        }
    }

    // A small limit, so that over-long lines (and what follows them) are exercised too.
    let max = usize::from(control & 0x3f);
    let small_whole = frames(FrameCodec::with_max_length(max), stream, &mut || usize::MAX);
    let small_bytes = frames(FrameCodec::with_max_length(max), stream, &mut || 1);
    assert_eq!(
        small_bytes, small_whole,
        "frames depend on chunking (limit {max})"
    );
    check_frames(&small_whole, max);
    // Every line a small codec passes, the big one passed too, in the same order.
    let small_lines: Vec<_> = small_whole
        .iter()
        .filter(|f| matches!(f, Frame::Line(_)))
        .collect();
    let mut big_lines = whole.iter().filter(|f| matches!(f, Frame::Line(_)));
    for line in small_lines {
        assert!(
            big_lines.any(|b| b == line),
            "limit {max} passed {line:?} which the daemon's codec did not"
        );
    }
});
