//! Limits on hostile payloads, the typed reasons a payload is refused, and the shared first
//! steps of every parser: size check, UTF-8 check, a cheap nesting pre-scan, then JSON.
//!
//! Anyone who can publish to the broker can send us anything, so every check here runs before
//! the payload is handed to a JSON parser, and nothing echoes payload contents back into an
//! error (an error may end up in a log; a payload may contain a PIN).

use serde_json::{Map, Value};

/// How much a single inbound payload may cost us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload accepted on any topic except `bridge/devices` (default 64 KiB).
    pub max_payload_bytes: usize,
    /// Largest `bridge/devices` payload accepted (default 4 MiB: it lists every device with its
    /// full definition).
    pub max_devices_payload_bytes: usize,
    /// Deepest nesting of JSON arrays/objects accepted (default 16). `{}` has depth 1.
    pub max_json_depth: usize,
    /// Deepest nesting accepted in `bridge/devices` (default 32: exposes nest `features`).
    pub max_devices_json_depth: usize,
}

impl Limits {
    /// The default limits as a constant.
    pub const DEFAULT: Limits = Limits {
        max_payload_bytes: 64 * 1024,
        max_devices_payload_bytes: 4 * 1024 * 1024,
        max_json_depth: 16,
        max_devices_json_depth: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Why an inbound payload was refused. Messages are short and never contain payload contents;
/// [`ParseError::code`] gives a stable label to count by.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("payload of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("payload is empty")]
    Empty,
    #[error("payload is not valid UTF-8")]
    NotUtf8,
    #[error("JSON nesting exceeds the limit of {max} levels")]
    TooDeep { max: usize },
    #[error("payload is not valid JSON (line {line}, column {column})")]
    InvalidJson { line: usize, column: usize },
    #[error("expected a JSON {expected}, got {found}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("required field `{field}` is missing")]
    MissingField { field: &'static str },
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField {
        field: &'static str,
        reason: &'static str,
    },
    #[error("unrecognised {what} payload")]
    Unrecognised { what: &'static str },
}

impl ParseError {
    /// A stable, short label for counting rejections (e.g. per device and reason).
    pub fn code(&self) -> &'static str {
        match self {
            ParseError::TooLarge { .. } => "too_large",
            ParseError::Empty => "empty",
            ParseError::NotUtf8 => "not_utf8",
            ParseError::TooDeep { .. } => "too_deep",
            ParseError::InvalidJson { .. } => "invalid_json",
            ParseError::WrongType { .. } => "wrong_type",
            ParseError::MissingField { .. } => "missing_field",
            ParseError::InvalidField { .. } => "invalid_field",
            ParseError::Unrecognised { .. } => "unrecognised",
        }
    }
}

/// Most warnings a single parse collects; the rest are summarised in one last entry.
pub const MAX_WARNINGS: usize = 32;

/// Collects "field ignored" notes for one payload, bounded in number.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    list: Vec<String>,
    dropped: usize,
}

impl Warnings {
    pub(crate) fn push(&mut self, field: &str, reason: &str) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(format!("{field}: {reason}"));
        } else {
            self.dropped += 1;
        }
    }

    pub(crate) fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.list
                .push(format!("{} further warnings suppressed", self.dropped));
        }
        self.list
    }
}

/// Checks size, then UTF-8: the steps every text payload goes through.
pub(crate) fn check_text(payload: &[u8], max_bytes: usize) -> Result<&str, ParseError> {
    if payload.len() > max_bytes {
        return Err(ParseError::TooLarge {
            len: payload.len(),
            max: max_bytes,
        });
    }
    std::str::from_utf8(payload).map_err(|_| ParseError::NotUtf8)
}

/// The deepest nesting of arrays and objects in `bytes`, stopping early once `max` is exceeded.
/// Brackets inside strings (including after escaped quotes) do not count. This is a pre-scan,
/// not a validator: malformed JSON is left for the real parser to refuse.
pub fn json_depth_exceeds(bytes: &[u8], max: usize) -> bool {
    let mut depth: usize = 0;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Size, UTF-8 and depth checks, then JSON parsing into a tree.
pub(crate) fn parse_json(
    payload: &[u8],
    max_bytes: usize,
    max_depth: usize,
) -> Result<Value, ParseError> {
    let text = check_text(payload, max_bytes)?;
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    if json_depth_exceeds(text.as_bytes(), max_depth) {
        return Err(ParseError::TooDeep { max: max_depth });
    }
    serde_json::from_str(text).map_err(|e| ParseError::InvalidJson {
        line: e.line(),
        column: e.column(),
    })
}

/// [`parse_json`] that also requires the top level to be an object.
pub(crate) fn parse_object(
    payload: &[u8],
    max_bytes: usize,
    max_depth: usize,
) -> Result<Map<String, Value>, ParseError> {
    match parse_json(payload, max_bytes, max_depth)? {
        Value::Object(map) => Ok(map),
        other => Err(ParseError::WrongType {
            expected: "object",
            found: json_type(&other),
        }),
    }
}

/// The JSON type name of a value, for error messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// A non-negative integer value no larger than `max`, or `None` (fractions, negatives,
/// strings and out-of-range numbers all give `None`).
pub(crate) fn as_uint(v: &Value, max: u64) -> Option<u64> {
    v.as_u64().filter(|n| *n <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_scan_counts_nesting_outside_strings_only() {
        assert!(!json_depth_exceeds(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(json_depth_exceeds(br#"{"a":[1,{"b":[]}]}"#, 3));
        assert!(!json_depth_exceeds(br#"{"a":"[[[[[[[[{{{{"}"#, 1));
        assert!(!json_depth_exceeds(br#"{"a":"\"[[[[[[[[\\"}"#, 1));
        assert!(json_depth_exceeds(br#"{"a":"\\"}[[[[[["#, 2));
        assert!(!json_depth_exceeds(b"]]]]]]}}}}", 0));
    }

    #[test]
    fn oversized_payload_is_refused_before_parsing() {
        let big = vec![b' '; 100];
        assert_eq!(
            parse_json(&big, 10, 16),
            Err(ParseError::TooLarge { len: 100, max: 10 })
        );
    }

    #[test]
    fn depth_bomb_is_refused() {
        let bomb = "[".repeat(10_000);
        assert_eq!(
            parse_json(bomb.as_bytes(), 64 * 1024, 16),
            Err(ParseError::TooDeep { max: 16 })
        );
    }

    #[test]
    fn non_utf8_and_non_object_are_typed_errors() {
        assert_eq!(parse_json(b"\xff\xfe", 100, 16), Err(ParseError::NotUtf8));
        assert_eq!(
            parse_object(b"[1]", 100, 16),
            Err(ParseError::WrongType {
                expected: "object",
                found: "array"
            })
        );
        assert!(matches!(
            parse_object(b"{", 100, 16),
            Err(ParseError::InvalidJson { .. })
        ));
        assert_eq!(parse_object(b"  ", 100, 16), Err(ParseError::Empty));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 5), "abc");
    }

    #[test]
    fn warnings_are_bounded() {
        let mut w = Warnings::default();
        for _ in 0..(MAX_WARNINGS + 5) {
            w.push("battery", "bad");
        }
        let list = w.finish();
        assert_eq!(list.len(), MAX_WARNINGS + 1);
        assert_eq!(list[MAX_WARNINGS], "5 further warnings suppressed");
    }
}
