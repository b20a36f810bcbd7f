//! Validating scanner for a session store: one linear, non-recursive pass over the raw bytes
//! that checks RFC 8259 (accepting lone `\uD8xx` escapes, as JSON.parse does) and records,
//! for every top-level entry, where its own `updatedAt` value sits. Nothing is re-serialised:
//! the caller splices new digits into the original bytes.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

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

/// What an entry's own top-level `updatedAt` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdatedAt {
    /// The entry's value is not an object; it is counted but never bumped.
    NotAnObject,
    /// An object without an own `updatedAt` member.
    Missing,
    /// A plain non-negative integer (`0|[1-9][0-9]*`) no larger than [`MAX_SAFE_INTEGER`];
    /// `span` is the byte range of its digits in the scanned input.
    Integer { value: u64, span: Range<usize> },
    /// Present but anything else: string, float, exponent, negative, too large, container.
    Unusable,
}

/// One session entry as JSON.parse would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// The decoded session key. Lone surrogates (which Rust strings cannot hold) are
    /// replaced by U+FFFD; `key_lossy` says so.
    pub key: String,
    pub key_lossy: bool,
    pub updated_at: UpdatedAt,
}

/// The result of scanning a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreScan {
    /// Distinct keys in order of first appearance. With duplicate keys the LAST occurrence's
    /// value is the one recorded, like JSON.parse; within an entry, likewise the last
    /// `updatedAt` member counts.
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

/// A top-level member before key decoding and de-duplication.
struct RawMember {
    key: Range<usize>,
    key_escaped: bool,
    updated_at: UpdatedAt,
}

/// Scan a whole store file. See the module docs for what is accepted.
pub fn scan(bytes: &[u8]) -> Result<StoreScan, ScanError> {
    let members = scan_members(bytes)?;
    Ok(dedup(bytes, members))
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
    // The next value is the value of an entry's own `updatedAt` member.
    let mut updated_at_value = false;

    loop {
        // Parse one value starting at `s.pos` (whitespace already skipped).
        let depth = stack.len();
        let start = s.pos;
        let mut opened = false;
        match s.peek()? {
            b'{' => {
                s.pos += 1;
                if depth == 1
                    && let Some(m) = members.last_mut()
                {
                    m.updated_at = UpdatedAt::Missing;
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
                s.string()?;
            }
            b'-' | b'0'..=b'9' => s.number()?,
            b't' => s.literal(b"true")?,
            b'f' => s.literal(b"false")?,
            b'n' => s.literal(b"null")?,
            _ => return Err(err(start, "expected a value")),
        }
        if updated_at_value {
            updated_at_value = false;
            let value = classify(&b[start..s.pos], start);
            if let Some(m) = members.last_mut() {
                // Last occurrence wins, as in JSON.parse.
                m.updated_at = value;
            }
        }
        if opened {
            // Inside a fresh non-empty container: an object starts with a key, an array
            // with a value.
            if stack.last() == Some(&OBJ) {
                updated_at_value = s.key(&mut members, stack.len())?;
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
                        updated_at_value = s.key(&mut members, stack.len())?;
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

/// Classify the raw token of an `updatedAt` value.
fn classify(token: &[u8], start: usize) -> UpdatedAt {
    let plain = !token.is_empty()
        && token.iter().all(u8::is_ascii_digit)
        && (token[0] != b'0' || token.len() == 1);
    if !plain || token.len() > 16 {
        return UpdatedAt::Unusable;
    }
    let value = token
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    if value > MAX_SAFE_INTEGER {
        return UpdatedAt::Unusable;
    }
    UpdatedAt::Integer {
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
    /// members and returns whether this is an entry's own `updatedAt`.
    fn key(&mut self, members: &mut Vec<RawMember>, depth: usize) -> Result<bool, ScanError> {
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
                    updated_at: UpdatedAt::NotAnObject,
                });
                Ok(false)
            }
            2 => Ok(is_updated_at(&self.b[range], escaped)),
            _ => Ok(false),
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
            while i < b.len() && !STRING_SPECIAL[usize::from(b[i])] {
                i += 1;
            }
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

fn is_updated_at(raw: &[u8], escaped: bool) -> bool {
    if !escaped {
        return raw == b"updatedAt";
    }
    matches!(decode_units(raw), Some(units) if String::from_utf16(&units).is_ok_and(|s| s == "updatedAt"))
}

/// Decode the content of a validated JSON string into UTF-16 code units (the form JS keeps
/// strings in, so lone surrogates survive).
fn decode_units(raw: &[u8]) -> Option<Vec<u16>> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut units = Vec::with_capacity(raw.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let unit = match chars.next()? {
            '"' => 0x22,
            '\\' => 0x5C,
            '/' => 0x2F,
            'b' => 0x08,
            'f' => 0x0C,
            'n' => 0x0A,
            'r' => 0x0D,
            't' => 0x09,
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                u16::from_str_radix(&hex, 16).ok()?
            }
            _ => return None,
        };
        units.push(unit);
    }
    Some(units)
}

/// Decode a key token's content: the text (lossy if it holds lone surrogates), whether it was
/// lossy, and an identity that distinguishes every JS string.
fn decode_key(raw: &[u8], escaped: bool) -> (String, bool, KeyId) {
    if !escaped {
        let text = String::from_utf8_lossy(raw).into_owned();
        return (text.clone(), false, KeyId::Text(text));
    }
    let units = decode_units(raw).unwrap_or_default();
    match String::from_utf16(&units) {
        Ok(text) => (text.clone(), false, KeyId::Text(text)),
        Err(_) => (String::from_utf16_lossy(&units), true, KeyId::Units(units)),
    }
}

/// A key's identity as a JS string: two lossy keys that differ only in which lone surrogate
/// they hold are different keys to the gateway, so they must not be merged.
#[derive(PartialEq, Eq, Hash)]
enum KeyId {
    Text(String),
    Units(Vec<u16>),
}

fn dedup(b: &[u8], members: Vec<RawMember>) -> StoreScan {
    let mut out = StoreScan::default();
    let mut seen: HashMap<KeyId, usize> = HashMap::with_capacity(members.len());
    for m in members {
        let (key, key_lossy, id) = decode_key(&b[m.key], m.key_escaped);
        if let Some(&i) = seen.get(&id) {
            out.entries[i].updated_at = m.updated_at;
            out.duplicate_keys += 1;
        } else {
            seen.insert(id, out.entries.len());
            out.entries.push(EntryInfo {
                key,
                key_lossy,
                updated_at: m.updated_at,
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
