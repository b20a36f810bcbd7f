//! Line framing with a size bound that survives bad input.
//!
//! tokio-util's `LinesCodec` already discards an over-long line up to its
//! newline, but a `FramedRead` stops for good after its decoder returns an
//! error. This codec turns those errors into frames, so the connection can
//! answer a bad line and carry on with the next one.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder, LinesCodec, LinesCodecError};

/// The largest request line the daemon reads, newline excluded.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The largest reply line a client reads. Replies are not bounded by the
/// request limit: a touch of every session lists every bumped key, which on
/// a store of thousands of sessions exceeds 64 KiB. This is only a guard
/// against a runaway peer.
pub const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// One decoded line, or why the line could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Line(String),
    /// The line exceeded the limit; its bytes up to the next newline are skipped.
    TooLarge,
    /// The line was not UTF-8.
    InvalidUtf8,
}

/// A `\n`-delimited codec bounded at `max_len` bytes per line.
#[derive(Debug)]
pub struct FrameCodec {
    lines: LinesCodec,
}

impl FrameCodec {
    pub fn new() -> Self {
        Self::with_max_length(MAX_FRAME_BYTES)
    }

    pub fn with_max_length(max_len: usize) -> Self {
        FrameCodec {
            lines: LinesCodec::new_with_max_length(max_len),
        }
    }

    fn map(result: Result<Option<String>, LinesCodecError>) -> std::io::Result<Option<Frame>> {
        match result {
            Ok(line) => Ok(line.map(Frame::Line)),
            Err(LinesCodecError::MaxLineLengthExceeded) => Ok(Some(Frame::TooLarge)),
            // Decoding does no I/O: an io::Error out of LinesCodec::decode is
            // its report of a line that is not UTF-8 (the line is consumed).
            Err(LinesCodecError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                Ok(Some(Frame::InvalidUtf8))
            }
            Err(LinesCodecError::Io(e)) => Err(e),
        }
    }
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> std::io::Result<Option<Frame>> {
        Self::map(self.lines.decode(buf))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> std::io::Result<Option<Frame>> {
        Self::map(self.lines.decode_eof(buf))
    }
}

impl<T: AsRef<str>> Encoder<T> for FrameCodec {
    type Error = std::io::Error;

    fn encode(&mut self, line: T, buf: &mut BytesMut) -> std::io::Result<()> {
        // Replies are built by this crate and never contain a raw newline
        // (serde_json escapes them), so the line needs no length check.
        let line = line.as_ref();
        buf.reserve(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.extend_from_slice(b"\n");
        Ok(())
    }
}
