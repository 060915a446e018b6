//! Anchors: signed copies of the chain head kept outside the database. The server appends one
//! line per anchor to a file the operator chooses (and writes it to its log); `latchkey audit
//! verify --anchor FILE` then checks every line's signature and that the log still holds each
//! anchored `(seq, hash)`. A log rewritten with the key, truncated below an anchor, or replaced by
//! another copy no longer contains what the anchors say it did.
//!
//! The signature is HMAC-SHA-256 with a key derived from the master key (its own label, not the
//! chain key), so checking anchors needs the master key, and nobody without it can write an
//! anchor that passes.
//!
//! One anchor is one line: `latchkey-audit-anchor v1 seq=S hash=HEX at=RFC3339 sig=HEX`.

use std::collections::HashMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sha2::Sha256;

use super::Hash;

/// Separates anchor signatures from every other use of the key.
const DOMAIN: &[u8; 25] = b"latchkey.audit.anchor.v1\0";

/// How every anchor line starts.
pub const PREFIX: &str = "latchkey-audit-anchor v1";

/// The key that signs anchors. `Debug` never prints it.
#[derive(Clone)]
pub struct AnchorKey(Hmac<Sha256>);

impl AnchorKey {
    pub fn new(key: &[u8; 32]) -> AnchorKey {
        AnchorKey(
            <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
        )
    }

    fn mac(&self, seq: i64, hash: &Hash, at: Timestamp) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(DOMAIN);
        mac.update(&seq.to_be_bytes());
        mac.update(hash);
        mac.update(&at.as_microsecond().to_be_bytes());
        mac
    }
}

impl fmt::Debug for AnchorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AnchorKey(****)")
    }
}

/// A signed chain head: event `seq` had hash `hash` at `at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: Hash,
    /// When the anchor was written, to the microsecond.
    pub at: Timestamp,
    pub sig: [u8; 32],
}

impl Anchor {
    /// Signs the head `(seq, hash)` as seen at `at` (kept to the microsecond).
    pub fn sign(key: &AnchorKey, seq: i64, hash: Hash, at: Timestamp) -> Anchor {
        let at = Timestamp::from_microsecond(at.as_microsecond()).unwrap_or(at);
        let sig = key.mac(seq, &hash, at).finalize().into_bytes().into();
        Anchor { seq, hash, at, sig }
    }

    /// Whether the signature was made with `key` over exactly these fields (compared in
    /// constant time).
    pub fn is_genuine(&self, key: &AnchorKey) -> bool {
        key.mac(self.seq, &self.hash, self.at)
            .verify_slice(&self.sig)
            .is_ok()
    }

    /// The anchor as one line of the anchor file, without the line break.
    pub fn to_line(&self) -> String {
        format!(
            "{PREFIX} seq={} hash={} at={} sig={}",
            self.seq,
            hex::encode(self.hash),
            self.at,
            hex::encode(self.sig)
        )
    }

    /// Reads a line written by [`Anchor::to_line`].
    ///
    /// # Errors
    /// Why the line is not an anchor, as the end of a sentence.
    pub fn parse(line: &str) -> Result<Anchor, String> {
        let rest = line
            .trim()
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("it does not start with `{PREFIX}`"))?;
        let mut fields = rest.split_whitespace();
        let mut field = |name: &str| {
            fields
                .next()
                .and_then(|f| f.strip_prefix(name)?.strip_prefix('='))
                .ok_or_else(|| format!("its field `{name}=` is missing or out of place"))
        };
        let seq = field("seq")?
            .parse::<i64>()
            .map_err(|_| "its seq is not a number".to_owned())?;
        let hash = hex32(field("hash")?).ok_or("its hash is not 64 hex digits")?;
        let at = field("at")?
            .parse::<Timestamp>()
            .map_err(|_| "its time is not an RFC 3339 instant".to_owned())?;
        let sig = hex32(field("sig")?).ok_or("its signature is not 64 hex digits")?;
        if fields.next().is_some() {
            return Err("it has more fields than an anchor".to_owned());
        }
        Ok(Anchor { seq, hash, at, sig })
    }

    fn describe(&self, line: usize) -> String {
        format!(
            "anchor on line {line} (event {}, written {})",
            self.seq, self.at
        )
    }
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

/// Why the anchors and the log disagree, as one sentence naming the anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorBreak {
    /// The line of the anchor file (1-based; 0 when the file as a whole is at fault).
    pub line: usize,
    pub message: String,
}

impl fmt::Display for AnchorBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AnchorBreak {}

/// Reads every anchor of an anchor file and checks its signature. Blank lines and lines
/// starting with `#` are skipped.
///
/// # Errors
/// The first line that is not an anchor or whose signature does not match, or a file with no
/// anchor at all.
pub fn read_signed(text: &str, key: &AnchorKey) -> Result<Vec<(usize, Anchor)>, AnchorBreak> {
    let mut anchors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let anchor = Anchor::parse(trimmed).map_err(|why| AnchorBreak {
            line: line_no,
            message: format!("line {line_no} of the anchor file is not an anchor: {why}"),
        })?;
        if !anchor.is_genuine(key) {
            return Err(AnchorBreak {
                line: line_no,
                message: format!(
                    "{} has a signature that does not match: it was not written with this \
                     master key, or it was altered",
                    anchor.describe(line_no)
                ),
            });
        }
        anchors.push((line_no, anchor));
    }
    if anchors.is_empty() {
        return Err(AnchorBreak {
            line: 0,
            message: "the anchor file holds no anchors".to_owned(),
        });
    }
    Ok(anchors)
}

/// What a check of the anchors found when they all hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorSummary {
    pub anchors: usize,
    /// The anchor with the highest `seq` (the latest written when several share it).
    pub latest: Anchor,
}

/// Compares signed anchors with a verified log that ends at `last_seq`; `stored` holds the
/// log's hash of every anchored `seq` it has.
///
/// # Errors
/// The first anchor (in file order) past the end of the log or whose hash differs from the
/// log's.
pub fn compare(
    anchors: &[(usize, Anchor)],
    last_seq: i64,
    stored: &HashMap<i64, Vec<u8>>,
) -> Result<AnchorSummary, AnchorBreak> {
    let mut latest: Option<&Anchor> = None;
    for (line, anchor) in anchors {
        let fail = |message: String| AnchorBreak {
            line: *line,
            message,
        };
        if anchor.seq > last_seq {
            return Err(fail(format!(
                "{} is past the end of the log, which ends at event {last_seq}: the log was \
                 truncated or replaced by an older copy",
                anchor.describe(*line)
            )));
        }
        match stored.get(&anchor.seq) {
            None if anchor.seq == 0 => {}
            None => {
                return Err(fail(format!(
                    "{}: the log has no event {}; it was truncated or replaced",
                    anchor.describe(*line),
                    anchor.seq
                )));
            }
            Some(hash) if hash.as_slice() != anchor.hash => {
                return Err(fail(format!(
                    "{} does not match the log: the anchor says hash {}, the log's event {} has \
                     {}; the log was rewritten or replaced at or before event {}",
                    anchor.describe(*line),
                    hex::encode(anchor.hash),
                    anchor.seq,
                    hex::encode(hash),
                    anchor.seq
                )));
            }
            Some(_) => {}
        }
        if latest.is_none_or(|l| anchor.seq >= l.seq) {
            latest = Some(anchor);
        }
    }
    let latest = latest.cloned().ok_or(AnchorBreak {
        line: 0,
        message: "the anchor file holds no anchors".to_owned(),
    })?;
    Ok(AnchorSummary {
        anchors: anchors.len(),
        latest,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key() -> AnchorKey {
        AnchorKey::new(&[3; 32])
    }

    fn at() -> Timestamp {
        "2026-12-04T12:00:00.123456789Z".parse().unwrap()
    }

    #[test]
    fn an_anchor_reads_back_from_its_line_and_keeps_its_signature() {
        let a = Anchor::sign(&key(), 4821, [9; 32], at());
        let line = a.to_line();
        assert!(
            line.starts_with("latchkey-audit-anchor v1 seq=4821 hash=0909"),
            "{line}"
        );
        let back = Anchor::parse(&line).unwrap();
        assert_eq!(back, a);
        assert!(back.is_genuine(&key()));
        assert!(!back.is_genuine(&AnchorKey::new(&[4; 32])));
    }

    #[test]
    fn changing_any_field_of_a_line_voids_its_signature() {
        let line = Anchor::sign(&key(), 10, [1; 32], at()).to_line();
        for forged in [
            line.replace("seq=10", "seq=11"),
            line.replace("hash=0101", "hash=0201"),
            line.replace("12:00:00", "12:00:01"),
        ] {
            let a = Anchor::parse(&forged).unwrap();
            assert!(!a.is_genuine(&key()), "{forged}");
            let err = read_signed(&forged, &key()).unwrap_err();
            assert!(
                err.message.contains("anchor on line 1 (event 1")
                    && err.message.contains("signature"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_line_that_is_not_an_anchor_is_named_with_why() {
        let good = Anchor::sign(&key(), 1, [1; 32], at()).to_line();
        let text = format!("# anchors\n\n{good}\nlatchkey-audit-anchor v1 seq=x\n");
        let err = read_signed(&text, &key()).unwrap_err();
        assert_eq!(err.line, 4);
        assert_eq!(
            err.message,
            "line 4 of the anchor file is not an anchor: its seq is not a number"
        );
        let err = read_signed("\n# nothing\n", &key()).unwrap_err();
        assert_eq!(err.message, "the anchor file holds no anchors");
    }

    #[test]
    fn anchors_past_the_end_or_with_another_hash_are_named() {
        let anchors = vec![
            (1, Anchor::sign(&key(), 2, [2; 32], at())),
            (2, Anchor::sign(&key(), 5, [5; 32], at())),
        ];
        let mut stored = HashMap::from([(2, vec![2; 32]), (5, vec![5; 32])]);
        let ok = compare(&anchors, 5, &stored).unwrap();
        assert_eq!((ok.anchors, ok.latest.seq), (2, 5));

        let err = compare(&anchors, 4, &stored).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(
            err.message
                .contains("past the end of the log, which ends at event 4"),
            "{err}"
        );

        stored.insert(2, vec![7; 32]);
        let err = compare(&anchors, 5, &stored).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("does not match the log"), "{err}");
        assert!(
            err.message
                .contains("rewritten or replaced at or before event 2"),
            "{err}"
        );
    }
}
