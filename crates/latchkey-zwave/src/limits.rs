//! Limits on hostile payloads, the typed reasons a payload is refused, a tally of refusals by
//! reason, and the shared first steps of every parser: size check, UTF-8 check, a cheap nesting
//! pre-scan, then JSON.
//!
//! Anyone who can publish under the gateway's prefix can send us anything, so every check here
//! runs before the payload reaches a JSON parser, and no error quotes payload contents (an error
//! may end up in a log; gateway payloads carry PINs).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// How much a single inbound payload may cost us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload accepted on a value, status or event topic (default 16 KiB).
    pub max_payload_bytes: usize,
    /// Largest API response accepted (default 8 MiB: `getNodes` lists every value of every
    /// node).
    pub max_api_payload_bytes: usize,
    /// Deepest nesting of JSON arrays/objects accepted (default 16). `{}` has depth 1.
    pub max_json_depth: usize,
    /// Most nodes a `getNodes` answer may list (default 1,000; a Z-Wave network has at most
    /// 232 classic nodes plus long-range ones).
    pub max_nodes: usize,
}

impl Limits {
    /// The default limits as a constant.
    pub const DEFAULT: Limits = Limits {
        max_payload_bytes: 16 * 1024,
        max_api_payload_bytes: 8 * 1024 * 1024,
        max_json_depth: 16,
        max_nodes: 1_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Why an inbound message was refused. Messages are short and never contain payload contents;
/// [`ParseError::code`] gives a stable label to count by (see [`Rejections`]).
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
    #[error("the message is about a node the gateway did not list")]
    UnknownNode,
    #[error("too many nodes listed (limit {max})")]
    TooManyNodes { max: usize },
}

impl ParseError {
    /// A stable, short label for counting rejections.
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
            ParseError::UnknownNode => "unknown_node",
            ParseError::TooManyNodes { .. } => "too_many_nodes",
        }
    }
}

/// Refused messages counted by [`ParseError::code`]. Kept by the [`crate::Decoder`], read by
/// whoever exports metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rejections {
    by_code: BTreeMap<&'static str, u64>,
}

impl Rejections {
    /// Counts one refusal.
    pub fn record(&mut self, error: &ParseError) {
        *self.by_code.entry(error.code()).or_default() += 1;
    }

    /// Refusals with this code so far.
    pub fn count(&self, code: &str) -> u64 {
        self.by_code.get(code).copied().unwrap_or(0)
    }

    /// All refusals so far.
    pub fn total(&self) -> u64 {
        self.by_code.values().sum()
    }

    /// Every code with its count, in code order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.by_code.iter().map(|(k, v)| (*k, *v))
    }
}

/// Checks size, then UTF-8.
pub(crate) fn check_text(payload: &[u8], max_bytes: usize) -> Result<&str, ParseError> {
    if payload.len() > max_bytes {
        return Err(ParseError::TooLarge {
            len: payload.len(),
            max: max_bytes,
        });
    }
    std::str::from_utf8(payload).map_err(|_| ParseError::NotUtf8)
}

/// Whether the nesting of arrays and objects in `bytes` goes deeper than `max`. Brackets inside
/// strings do not count. A pre-scan, not a validator: malformed JSON is left to the parser.
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
        other => Err(wrong_type("object", &other)),
    }
}

pub(crate) fn wrong_type(expected: &'static str, found: &Value) -> ParseError {
    ParseError::WrongType {
        expected,
        found: json_type(found),
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

/// A non-negative integer no larger than `max`, or `None`.
pub(crate) fn as_uint(v: &Value, max: u64) -> Option<u64> {
    v.as_u64().filter(|n| *n <= max)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_scan_counts_nesting_outside_strings_only() {
        assert!(!json_depth_exceeds(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(json_depth_exceeds(br#"{"a":[1,{"b":[]}]}"#, 3));
        assert!(!json_depth_exceeds(br#"{"a":"[[[[[[[[{{{{"}"#, 1));
        assert!(!json_depth_exceeds(br#"{"a":"\"[[[[[[[[\\"}"#, 1));
    }

    #[test]
    fn a_depth_bomb_and_an_oversized_payload_are_refused_before_parsing() {
        let bomb = "[".repeat(100_000);
        assert_eq!(
            parse_json(bomb.as_bytes(), 1 << 20, 16),
            Err(ParseError::TooDeep { max: 16 })
        );
        assert_eq!(
            parse_json(&[b' '; 100], 10, 16),
            Err(ParseError::TooLarge { len: 100, max: 10 })
        );
    }

    #[test]
    fn rejections_are_counted_by_code() {
        let mut r = Rejections::default();
        r.record(&ParseError::UnknownNode);
        r.record(&ParseError::UnknownNode);
        r.record(&ParseError::Empty);
        assert_eq!(r.count("unknown_node"), 2);
        assert_eq!(r.count("empty"), 1);
        assert_eq!(r.total(), 3);
    }
}
