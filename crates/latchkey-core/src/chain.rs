//! The arithmetic of the tamper-evident audit log (docs/ARCHITECTURE.md): how an event's hash is
//! computed from its predecessor's, and a streaming verifier that names the first break.
//!
//! Each event stores `prev_hash` (its predecessor's hash, [`GENESIS`] for event 1) and
//! `hash = SHA-256(tag, prev_hash, every field)`, so changing, removing, adding or moving a row
//! breaks a link. The chain is not keyed: someone with write access to the database can
//! rewrite every row from the change onwards and recompute all hashes. What catches that is
//! the *head*: the latest `(seq, hash)`, stored in its own row, which [`Verifier::finish`]
//! checks, and which operators export somewhere else (`latchkey audit head`) so that a
//! rewritten log no longer matches the head they kept.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The `prev_hash` of the first event.
pub const GENESIS: Hash = [0; 32];

/// Separates these hashes from every other use of SHA-256; the version lets the encoding change.
const DOMAIN: &[u8; 24] = b"latchkey.audit.event.v1\0";

/// How many rows after the first anomaly the verifier may hold to tell a moved row from a
/// deleted or edited one. Rows in a log are not moved far by accident, and the bound keeps
/// memory constant.
pub const LOOKAHEAD: usize = 64;

/// The hashed fields of one event.
#[derive(Clone, Copy, Debug)]
pub struct EventBody<'a> {
    pub seq: i64,
    pub at_micros: i64,
    pub property: Option<i64>,
    pub actor: Option<i64>,
    pub kind: &'a str,
    pub subject: &'a str,
    pub data: &'a str,
}

const HEADER_LEN: usize = DOMAIN.len() + 32 + 8 + 8 + 9 + 9 + 3 * 8;

/// The hash of an event that follows `prev`. Every field is encoded unambiguously: integers at
/// fixed width (big-endian), options with a tag byte, strings with their byte length up front,
/// so no two different events share an encoding.
pub fn hash_event(prev: &Hash, body: &EventBody<'_>) -> Hash {
    let mut header = [0u8; HEADER_LEN];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        header[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(DOMAIN);
    put(prev);
    put(&body.seq.to_be_bytes());
    put(&body.at_micros.to_be_bytes());
    for opt in [body.property, body.actor] {
        match opt {
            None => put(&[0; 9]),
            Some(v) => {
                put(&[1]);
                put(&v.to_be_bytes());
            }
        }
    }
    for s in [body.kind, body.subject, body.data] {
        put(&(s.len() as u64).to_be_bytes());
    }
    let mut h = Sha256::new();
    h.update(header);
    h.update(body.kind.as_bytes());
    h.update(body.subject.as_bytes());
    h.update(body.data.as_bytes());
    h.finalize().into()
}

/// One row of the event log as read from storage. The hashes are `Vec<u8>` because storage may
/// hold anything; a hash of the wrong length simply does not match.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub seq: i64,
    pub at_micros: i64,
    pub property: Option<i64>,
    pub actor: Option<i64>,
    pub kind: String,
    pub subject: String,
    pub data: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl StoredEvent {
    pub fn body(&self) -> EventBody<'_> {
        EventBody {
            seq: self.seq,
            at_micros: self.at_micros,
            property: self.property,
            actor: self.actor,
            kind: &self.kind,
            subject: &self.subject,
            data: &self.data,
        }
    }

    /// Whether the row's hash matches its own fields and stored `prev_hash`.
    fn self_consistent(&self) -> bool {
        match <&Hash>::try_from(self.prev_hash.as_slice()) {
            Ok(prev) => hash_event(prev, &self.body()) == self.hash.as_slice(),
            Err(_) => false,
        }
    }
}

/// What kind of tampering a break looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    Edited,
    Deleted,
    Inserted,
    Reordered,
}

/// The first place the chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// The event the break is blamed on (for a deletion, the first missing one).
    pub seq: i64,
    pub kind: BreakKind,
    /// Why, as the second half of a sentence (see `Display`).
    pub detail: String,
}

impl ChainBreak {
    fn new(seq: i64, kind: BreakKind, detail: impl Into<String>) -> Self {
        ChainBreak {
            seq,
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            BreakKind::Edited => "was edited",
            BreakKind::Deleted => "was deleted",
            BreakKind::Inserted => "was inserted",
            BreakKind::Reordered => "is out of order",
        };
        write!(f, "event {} {what}: {}", self.seq, self.detail)
    }
}

impl std::error::Error for ChainBreak {}

/// The result of verifying an intact chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifySummary {
    pub events: u64,
    /// 0 for an empty log.
    pub last_seq: i64,
    /// The hash of the last event ([`GENESIS`] for an empty log).
    pub head: Hash,
}

/// Verifies a log streamed in ascending `seq` order, in constant memory.
///
/// Intact rows are checked and forgotten. At the first anomaly the verifier keeps up to
/// [`LOOKAHEAD`] further rows to classify it, then reports the first break:
///
/// * a row whose hash does not match its own fields → `Edited` at that row;
/// * a row whose `prev_hash` is the hash two back (the previous row is not part of the chain)
///   → `Inserted` at the previous row;
/// * a missing `seq` that does not turn up within the lookahead, or a log shorter than its
///   head → `Deleted` at the first missing `seq`;
/// * a `seq` lower than expected, a missing `seq` that turns up later, or a row linking to a
///   row that comes after it → `Reordered`;
/// * a self-consistent row whose `prev_hash` matches nothing → `Edited` at the previous row
///   (it was changed and its hash recomputed).
///
/// After a break every further `push` returns the same break.
#[derive(Debug)]
pub struct Verifier {
    next: i64,
    prev: Hash,
    prev2: Option<Hash>,
    events: u64,
    pending: Vec<StoredEvent>,
    broken: Option<ChainBreak>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    pub fn new() -> Self {
        Verifier {
            next: 1,
            prev: GENESIS,
            prev2: None,
            events: 0,
            pending: Vec::new(),
            broken: None,
        }
    }

    /// Checks the next row.
    ///
    /// # Errors
    /// The first [`ChainBreak`], as soon as it can be classified (which may be a few rows
    /// after the row it names).
    pub fn push(&mut self, ev: StoredEvent) -> Result<(), ChainBreak> {
        if let Some(b) = &self.broken {
            return Err(b.clone());
        }
        if self.pending.is_empty() && ev.seq == self.next && ev.prev_hash == self.prev {
            let hash = hash_event(&self.prev, &ev.body());
            if ev.hash != hash {
                return Err(self.fail(ChainBreak::new(
                    ev.seq,
                    BreakKind::Edited,
                    "its contents no longer match its hash",
                )));
            }
            self.prev2 = Some(self.prev);
            self.prev = hash;
            self.next += 1;
            self.events += 1;
            return Ok(());
        }
        self.pending.push(ev);
        match self.classify(false) {
            Some(b) => Err(self.fail(b)),
            None => Ok(()),
        }
    }

    /// Ends verification. `head` is the separately stored chain head (latest `seq` and hash);
    /// `None` when the log has no recorded head, in which case a truncated tail cannot be
    /// detected.
    ///
    /// # Errors
    /// The first [`ChainBreak`], including one between the log and its head.
    pub fn finish(mut self, head: Option<(i64, Hash)>) -> Result<VerifySummary, ChainBreak> {
        if let Some(b) = self.broken.take() {
            return Err(b);
        }
        if !self.pending.is_empty() {
            let fallback = ChainBreak::new(
                self.pending[0].seq,
                BreakKind::Edited,
                "it does not fit the chain",
            );
            return Err(self.classify(true).unwrap_or(fallback));
        }
        let last_seq = self.next - 1;
        if let Some((head_seq, head_hash)) = head {
            if last_seq < head_seq {
                return Err(ChainBreak::new(
                    last_seq + 1,
                    BreakKind::Deleted,
                    format!(
                        "the chain head records event {head_seq} but the log ends at event {last_seq}"
                    ),
                ));
            }
            if last_seq > head_seq {
                return Err(ChainBreak::new(
                    head_seq.saturating_add(1),
                    BreakKind::Inserted,
                    format!("the log continues past its recorded head (event {head_seq})"),
                ));
            }
            if self.prev != head_hash {
                return Err(ChainBreak::new(
                    head_seq,
                    BreakKind::Edited,
                    "its hash no longer matches the recorded chain head",
                ));
            }
        }
        Ok(VerifySummary {
            events: self.events,
            last_seq,
            head: self.prev,
        })
    }

    fn fail(&mut self, b: ChainBreak) -> ChainBreak {
        self.pending = Vec::new();
        self.broken = Some(b.clone());
        b
    }

    /// Classifies the anomaly at `pending[0]` from the rows after it. Returns `None` while the
    /// answer could still depend on rows not yet seen; with `last` (or a full lookahead) it
    /// always decides.
    fn classify(&self, last: bool) -> Option<ChainBreak> {
        let (r, later) = self.pending.split_first()?;
        let decide_now = last || self.pending.len() > LOOKAHEAD;
        let next = self.next;
        if r.seq < next {
            return Some(ChainBreak::new(
                r.seq,
                BreakKind::Reordered,
                format!(
                    "it comes after event {} although its number is not higher",
                    next - 1
                ),
            ));
        }
        if r.seq > next {
            if later.iter().any(|e| e.seq == next) {
                return Some(ChainBreak::new(
                    next,
                    BreakKind::Reordered,
                    format!("it comes after event {} in the log", r.seq),
                ));
            }
            return decide_now.then(|| {
                ChainBreak::new(
                    next,
                    BreakKind::Deleted,
                    format!("the log jumps from event {} to event {}", next - 1, r.seq),
                )
            });
        }
        // r.seq == next, and its prev_hash is not the previous row's hash.
        if self.prev2.is_some_and(|p2| r.prev_hash == p2) {
            return Some(ChainBreak::new(
                next - 1,
                BreakKind::Inserted,
                format!(
                    "event {next} links to the event before it, so it is not part of the chain"
                ),
            ));
        }
        if let Some(target) = later.iter().find(|e| e.hash == r.prev_hash) {
            return Some(ChainBreak::new(
                r.seq,
                BreakKind::Reordered,
                format!("it links to event {}, which comes after it", target.seq),
            ));
        }
        if !decide_now {
            return None;
        }
        Some(if r.self_consistent() && self.events > 0 {
            ChainBreak::new(
                next - 1,
                BreakKind::Edited,
                format!(
                    "event {next} no longer links to it: it was changed and its hash recomputed"
                ),
            )
        } else if r.self_consistent() {
            ChainBreak::new(
                r.seq,
                BreakKind::Edited,
                "its link to the start of the chain was changed",
            )
        } else {
            ChainBreak::new(
                r.seq,
                BreakKind::Edited,
                "neither its contents nor its link to the previous event match",
            )
        })
    }
}

#[cfg(test)]
mod tests;
