//! Validating scanner for a session store: one linear, non-recursive pass over the raw bytes
//! that checks RFC 8259 (accepting lone `\uD8xx` escapes, as JSON.parse does) and records,
//! for every top-level entry, where its own timestamps (`updatedAt`, `lastInteractionAt`,
//! `sessionStartedAt`) sit and what its own `sessionFile`, `chatType`, `channel` and
//! `lastChannel` strings say. Nothing is re-serialised: the caller splices new digits into
//! the original bytes.
//!
//! Over 400 lines on purpose: the scanner is one pass with one cursor, and every check of
//! RFC 8259 it makes (strings, numbers, literals, nesting) is easier to trust read in one
//! file. Picking out each entry's own members is apart, in `scan/members.rs`.

use std::fmt;
use std::ops::Range;

use members::{Own, OwnMembers, RawMember, RawString};

mod members;

/// Largest integer JavaScript represents exactly (`Number.MAX_SAFE_INTEGER`). Larger
/// timestamps are left alone: the gateway could not have meant them.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Where and why the bytes are not a complete JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {} ({})", self.offset, self.reason)
    }
}

impl std::error::Error for ScanError {}

/// What one of an entry's own top-level timestamp members is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timestamp {
    /// The entry's value is not an object; it is counted but never bumped.
    NotAnObject,
    /// An object without this member.
    Missing,
    /// A plain non-negative integer (`0|[1-9][0-9]*`) no larger than [`MAX_SAFE_INTEGER`];
    /// `span` is the byte range of its digits in the scanned input.
    Integer { value: u64, span: Range<usize> },
    /// Present but anything else: string, float, exponent, negative, too large, container.
    Unusable,
}

impl Timestamp {
    /// The value when it is a usable integer.
    pub fn value(&self) -> Option<u64> {
        match self {
            Timestamp::Integer { value, .. } => Some(*value),
            _ => None,
        }
    }
}

/// One session entry as JSON.parse would see it. Only the entry's own members count (not
/// nested ones, not text inside strings); escaped spellings of a member name count; when a
/// member repeats, the last one wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// The decoded session key. Lone surrogates (which Rust strings cannot hold) are
    /// replaced by U+FFFD; `key_lossy` says so.
    pub key: String,
    pub key_lossy: bool,
    /// `updatedAt`: every generation's activity timestamp, and the fallback of the newer ones.
    pub updated_at: Timestamp,
    /// `lastInteractionAt`: what the idle reset rule reads in json-v2 stores.
    pub last_interaction_at: Timestamp,
    /// `sessionStartedAt`: what the daily reset rule reads in json-v2 stores.
    pub session_started_at: Timestamp,
    /// The entry's own string members, decoded; None when absent, not a string, or not
    /// decodable (a lone surrogate). `sessionFile`: the transcript path.
    pub session_file: Option<String>,
    /// `chatType` (direct, group, channel...), which picks `session.resetByType`.
    pub chat_type: Option<String>,
    /// `channel`, which picks `session.resetByChannel`.
    pub channel: Option<String>,
    /// `lastChannel`, the channel fallback.
    pub last_channel: Option<String>,
    /// `sessionId`: the conversation now behind the key; the gateway gives the key a new one
    /// when it resets the session.
    pub session_id: Option<String>,
}

/// The result of scanning a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreScan {
    /// Distinct keys in order of first appearance. With duplicate keys the LAST occurrence's
    /// value is the one recorded, like JSON.parse; within an entry, likewise the last
    /// occurrence of a member counts.
    pub entries: Vec<EntryInfo>,
    /// How many top-level members repeated an earlier key (0 in anything the gateway wrote).
    pub duplicate_keys: usize,
}

const OBJ: u8 = 0;
const ARR: u8 = 1;

/// Bytes that end the fast path inside a string: quote, backslash, control characters.
static STRING_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// The first index at or after `i` holding a byte that ends the plain run of a string (a
/// quote, a backslash or a control character), or `b.len()`. Eight bytes at a time: string
/// contents are most of a store's bytes (the gateway keeps whole prompts and skill lists in
/// it), and this loop was the scanner's hottest.
fn skip_plain(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_le_bytes([b'\\'; 8]);
    const SPACES: u64 = u64::from_le_bytes([0x20; 8]);
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // (x - 0x01..) & !x & 0x80.. flags bytes of x that are zero; (w - 0x20..) & !w &
        // 0x80.. flags bytes below 0x20. The lowest flag of each is exact (borrows only add
        // flags above a real one), so the lowest flag of their union is the first special
        // byte. Bytes >= 0x80 (UTF-8 sequences) are never flagged themselves.
        let (q, s) = (w ^ QUOTES, w ^ BACKSLASHES);
        let flags =
            (q.wrapping_sub(ONES) & !q | s.wrapping_sub(ONES) & !s | w.wrapping_sub(SPACES) & !w)
                & HIGH;
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !STRING_SPECIAL[usize::from(b[i])] {
        i += 1;
    }
    i
}

/// Scan a whole store file. See the module docs for what is accepted.
pub fn scan(bytes: &[u8]) -> Result<StoreScan, ScanError> {
    let members = scan_members(bytes)?;
    Ok(members::dedup(bytes, members))
}

fn scan_members(b: &[u8]) -> Result<Vec<RawMember>, ScanError> {
    if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(err(0, "starts with a byte order mark"));
    }
    // Validating UTF-8 up front lets the string scanner treat every byte >= 0x80 as
    // ordinary content; the gateway would mangle invalid sequences into U+FFFD.
    if let Err(e) = std::str::from_utf8(b) {
        return Err(err(e.valid_up_to(), "invalid UTF-8"));
    }
    let mut s = Cursor { b, pos: 0 };
    s.skip_ws();
    match b.get(s.pos) {
        None if b.is_empty() => return Err(err(0, "empty file")),
        None => return Err(err(s.pos, "only whitespace")),
        Some(b'{') => {}
        Some(_) => return Err(err(s.pos, "the top level is not an object")),
    }

    let mut members: Vec<RawMember> = Vec::new();
    // Container kinds of the values we are inside; a heap stack, so depth costs one byte
    // per level and never recursion.
    let mut stack: Vec<u8> = Vec::new();
    // The next value is the value of this own member of the current entry.
    let mut own_value: Option<Own> = None;

    loop {
        // Parse one value starting at `s.pos` (whitespace already skipped).
        let depth = stack.len();
        let start = s.pos;
        let mut opened = false;
        let mut string_value = None;
        match s.peek()? {
            b'{' => {
                s.pos += 1;
                if depth == 1
                    && let Some(m) = members.last_mut()
                {
                    m.own = OwnMembers::object();
                }
                stack.push(OBJ);
                s.skip_ws();
                if s.peek()? == b'}' {
                    s.pos += 1;
                    stack.pop();
                } else {
                    opened = true;
                }
            }
            b'[' => {
                s.pos += 1;
                stack.push(ARR);
                s.skip_ws();
                if s.peek()? == b']' {
                    s.pos += 1;
                    stack.pop();
                } else {
                    opened = true;
                }
            }
            b'"' => {
                let (content, escaped) = s.string()?;
                string_value = Some(RawString { content, escaped });
            }
            b'-' | b'0'..=b'9' => s.number()?,
            b't' => s.literal(b"true")?,
            b'f' => s.literal(b"false")?,
            b'n' => s.literal(b"null")?,
            _ => return Err(err(start, "expected a value")),
        }
        if let Some(own) = own_value.take()
            && let Some(m) = members.last_mut()
        {
            // Last occurrence wins, as in JSON.parse. For a container, `start..s.pos` is just
            // its opening: neither an integer nor a string, which is all that matters.
            match own {
                Own::Timestamp(i) => m.own.timestamps[i] = classify(&b[start..s.pos], start),
                Own::String(i) => m.own.strings[i] = string_value,
            }
        }
        if opened {
            // Inside a fresh non-empty container: an object starts with a key, an array
            // with a value.
            if stack.last() == Some(&OBJ) {
                own_value = s.key(&mut members, stack.len())?;
            }
            continue;
        }
        // A value is complete: close containers until a ',' or the end.
        loop {
            s.skip_ws();
            let Some(&top) = stack.last() else {
                if s.pos != b.len() {
                    return Err(err(s.pos, "unexpected data after the top-level object"));
                }
                return Ok(members);
            };
            match (top, s.peek()?) {
                (_, b',') => {
                    s.pos += 1;
                    s.skip_ws();
                    if top == OBJ {
                        own_value = s.key(&mut members, stack.len())?;
                    }
                    break;
                }
                (OBJ, b'}') | (ARR, b']') => {
                    s.pos += 1;
                    stack.pop();
                }
                (OBJ, _) => return Err(err(s.pos, "expected ',' or '}'")),
                _ => return Err(err(s.pos, "expected ',' or ']'")),
            }
        }
    }
}

/// Classify the raw token of a timestamp value.
fn classify(token: &[u8], start: usize) -> Timestamp {
    let plain = !token.is_empty()
        && token.iter().all(u8::is_ascii_digit)
        && (token[0] != b'0' || token.len() == 1);
    if !plain || token.len() > 16 {
        return Timestamp::Unusable;
    }
    let value = token
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    if value > MAX_SAFE_INTEGER {
        return Timestamp::Unusable;
    }
    Timestamp::Integer {
        value,
        span: start..start + token.len(),
    }
}

fn err(offset: usize, reason: &'static str) -> ScanError {
    ScanError { offset, reason }
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Result<u8, ScanError> {
        self.b
            .get(self.pos)
            .copied()
            .ok_or_else(|| err(self.pos, "unexpected end of file"))
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Parse a member key, the ':' and the whitespace after it. `depth` is the number of
    /// open containers, the innermost being the object that owns the key. Records top-level
    /// members and returns which of an entry's own members of interest this is, if any.
    fn key(
        &mut self,
        members: &mut Vec<RawMember>,
        depth: usize,
    ) -> Result<Option<Own>, ScanError> {
        if self.peek()? != b'"' {
            return Err(err(self.pos, "expected a string key"));
        }
        let (range, escaped) = self.string()?;
        self.skip_ws();
        if self.peek()? != b':' {
            return Err(err(self.pos, "expected ':'"));
        }
        self.pos += 1;
        self.skip_ws();
        match depth {
            1 => {
                members.push(RawMember {
                    key: range,
                    key_escaped: escaped,
                    own: OwnMembers::not_an_object(),
                });
                Ok(None)
            }
            2 => Ok(members::own_member(&self.b[range], escaped)),
            _ => Ok(None),
        }
    }

    /// Parse a string at `pos` (which holds the opening quote); returns the range of its
    /// content between the quotes and whether it contains escapes.
    fn string(&mut self) -> Result<(Range<usize>, bool), ScanError> {
        let b = self.b;
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            i = skip_plain(b, i);
            match b.get(i) {
                None => return Err(err(b.len(), "unexpected end of file inside a string")),
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok((start..i, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    match b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = b.get(i + 2..i + 6);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(err(i, "invalid \\u escape"));
                            }
                            // Lone surrogates are deliberately accepted: JSON.stringify
                            // writes them and JSON.parse reads them.
                            i += 6;
                        }
                        None => return Err(err(b.len(), "unexpected end of file inside a string")),
                        Some(_) => return Err(err(i, "invalid escape")),
                    }
                }
                Some(_) => return Err(err(i, "unescaped control character in a string")),
            }
        }
    }

    fn number(&mut self) -> Result<(), ScanError> {
        let b = self.b;
        let mut i = self.pos;
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i + 1),
            _ => return Err(err(i, "invalid number")),
        }
        if b.get(i) == Some(&b'.') {
            let end = digits(i + 1);
            if end == i + 1 {
                return Err(err(end, "invalid number: no digits after '.'"));
            }
            i = end;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let end = digits(i);
            if end == i {
                return Err(err(end, "invalid number: no digits in the exponent"));
            }
            i = end;
        }
        self.pos = i;
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), ScanError> {
        if self.b.get(self.pos..self.pos + word.len()) != Some(word) {
            return Err(err(self.pos, "invalid literal"));
        }
        self.pos += word.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
