//! The arithmetic of the tamper-evident audit log (docs/ARCHITECTURE.md): how an event's hash is
//! computed from its predecessor's, and a streaming verifier that names the first break.
//!
//! Each event stores `prev_hash` (its predecessor's hash, [`GENESIS`] for event 1) and
//! `hash = HMAC-SHA-256(chain key, tag, prev_hash, every field)`, so changing, removing, adding or
//! moving a row breaks a link, and recomputing the links after a change needs the chain key
//! (derived from the master key), not only write access to the database. The *head* — the
//! latest `(seq, hash)`, stored in its own row and checked by [`Verifier::finish`] — catches a
//! truncated tail; signed copies of it kept outside the database ([`anchor`]) catch a log that
//! was rewritten with the key or replaced.
//!
//! Logs written before the chain was keyed keep their plain SHA-256 links: the keyed part starts
//! with one marker event of kind [`KEYED_MARKER`] (event 1 of a new log), itself keyed, whose
//! `prev_hash` pins every unkeyed event before it. Every row before the marker is checked with
//! the unkeyed hash, the marker and every row after it with the keyed one, and a log that holds
//! events but no marker does not verify (see docs/ARCHITECTURE.md, "The audit log").
//!
//! From the marker of kind [`DIGEST_MARKER`] on (decision 41) the chain covers a keyed digest of
//! each event's personal part (its actor and data) instead of the part itself, so that retention
//! can *redact* an old event: its actor is cleared and its data replaced by
//! `{"redacted":"<the digest in hex>"}` ([`redacted_data`]), and the row still verifies. Editing
//! the data without redacting it changes the digest and breaks the link as before; forging a
//! redaction needs the digest, which only the chain key computes. On a log started by this
//! version the digest marker is also where the keyed chain starts (event 1); on an older log it
//! follows the keyed part.

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

pub mod anchor;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The `prev_hash` of the first event.
pub const GENESIS: Hash = [0; 32];

/// Separates these hashes from every other use of SHA-256; the version lets the encoding change.
const DOMAIN: &[u8; 24] = b"latchkey.audit.event.v1\0";

/// The same for keyed hashes, so an unkeyed hash can never pass for a keyed one.
const DOMAIN_KEYED: &[u8; 24] = b"latchkey.audit.event.v2\0";

/// The same for chain links over a payload digest (decision 41).
const DOMAIN_DIGESTED: &[u8; 24] = b"latchkey.audit.event.v3\0";

/// Separates the digest of an event's actor and data from every other keyed hash.
const DOMAIN_PAYLOAD: &[u8; 24] = b"latchkey.audit.payload1\0";

/// The kind of the event where the keyed chain starts, on logs keyed before payload digests.
pub const KEYED_MARKER: &str = "audit.chain_keyed";

/// The kind of the event where links over payload digests start (and, on a log that was not
/// keyed yet, the keyed chain too).
pub const DIGEST_MARKER: &str = "audit.chain_digested";

/// The start of a redacted event's data; the digest in hex and `"}` follow.
const REDACTED_PREFIX: &str = "{\"redacted\":\"";

/// Whether `kind` is one the audit log writes itself.
pub fn is_marker(kind: &str) -> bool {
    kind == KEYED_MARKER || kind == DIGEST_MARKER
}

/// How many rows after the first anomaly the verifier may hold to tell a moved row from a
/// deleted or edited one. Rows in a log are not moved far by accident, and the bound keeps
/// memory constant.
pub const LOOKAHEAD: usize = 64;

/// The key of the chain's HMAC. HMAC-SHA-256's inner and outer states are computed once, here,
/// so each event costs its own compressions plus one for the outer hash. `Debug` never prints
/// the key.
#[derive(Clone)]
pub struct ChainKey(Hmac<Sha256>);

impl ChainKey {
    pub fn new(key: &[u8; 32]) -> ChainKey {
        ChainKey(
            <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
        )
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainKey(****)")
    }
}

/// How the rows of one log are hashed: over a payload digest from the digest marker at
/// `digested` on, with the key from the first marker at `from` on, without it before (`from` is
/// `None` for a log that was never keyed).
#[derive(Clone, Debug)]
pub struct Keying {
    pub key: ChainKey,
    pub from: Option<i64>,
    pub digested: Option<i64>,
}

impl Keying {
    /// The keying of a log whose first [`KEYED_MARKER`] stands at `keyed` and first
    /// [`DIGEST_MARKER`] at `digested`: the keyed chain starts at whichever comes first.
    pub fn from_markers(key: ChainKey, keyed: Option<i64>, digested: Option<i64>) -> Keying {
        let from = match (keyed, digested) {
            (Some(k), Some(d)) => Some(k.min(d)),
            (k, d) => k.or(d),
        };
        Keying {
            key,
            from,
            digested,
        }
    }

    /// The hash of event `body.seq` after `prev`, keyed or not by its place in the log.
    pub fn hash(&self, prev: &Hash, body: &EventBody<'_>) -> Hash {
        if self.digested.is_some_and(|m| body.seq >= m) {
            hash_event_digested(&self.key, prev, body)
        } else if self.from.is_some_and(|m| body.seq >= m) {
            hash_event_keyed(&self.key, prev, body)
        } else {
            hash_event(prev, body)
        }
    }

    /// The marker kind that must stand at `seq`, `None` where no marker may.
    fn marker_at(&self, seq: i64) -> Option<&'static str> {
        if self.digested == Some(seq) {
            Some(DIGEST_MARKER)
        } else if self.from == Some(seq) {
            Some(KEYED_MARKER)
        } else {
            None
        }
    }

    /// Whether a row of this kind may stand at `seq`: each marker where its part of the chain
    /// starts and nowhere else.
    pub fn in_place(&self, seq: i64, kind: &str) -> bool {
        match self.marker_at(seq) {
            Some(m) => kind == m,
            None => !is_marker(kind),
        }
    }

    /// Whether the row at `seq` may be redacted (it is chained over its payload's digest).
    pub fn redactable(&self, seq: i64) -> bool {
        self.digested.is_some_and(|m| seq > m)
    }

    /// The data a redacted event at `seq` keeps in place of `actor` and `data`: the payload's
    /// digest, which keeps the link verifying. `None` for a row before the digest marker.
    pub fn redacted_data(&self, seq: i64, actor: Option<i64>, data: &str) -> Option<String> {
        if !self.redactable(seq) {
            return None;
        }
        Some(redacted_data(&payload_digest(&self.key, actor, data)))
    }
}

/// The keyed digest of an event's personal part: what the chain covers from the digest marker
/// on, and all a redacted event keeps of it.
pub fn payload_digest(key: &ChainKey, actor: Option<i64>, data: &str) -> Hash {
    let mut mac = key.0.clone();
    mac.update(DOMAIN_PAYLOAD);
    match actor {
        None => mac.update(&[0; 9]),
        Some(v) => {
            mac.update(&[1]);
            mac.update(&v.to_be_bytes());
        }
    }
    mac.update(&(data.len() as u64).to_be_bytes());
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The data of a redacted event whose payload had `digest`.
pub fn redacted_data(digest: &Hash) -> String {
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{REDACTED_PREFIX}{hex}\"}}")
}

/// The digest a redacted event's data holds, `None` for any other data.
pub fn redacted_digest(data: &str) -> Option<Hash> {
    let hex = data.strip_prefix(REDACTED_PREFIX)?.strip_suffix("\"}")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// The link of an event from the digest marker on: the keyed encoding of [`hash_event_keyed`]
/// under its own tag, with the actor and data replaced by their digest ([`payload_digest`]), or
/// by the digest a redacted event keeps (an event without an actor whose data is exactly
/// [`redacted_data`]).
pub fn hash_event_digested(key: &ChainKey, prev: &Hash, body: &EventBody<'_>) -> Hash {
    let digest = match (body.actor, redacted_digest(body.data)) {
        (None, Some(d)) => d,
        _ => payload_digest(key, body.actor, body.data),
    };
    let mut mac = key.0.clone();
    let bare = EventBody {
        actor: None,
        data: "",
        ..*body
    };
    mac.update(&header(DOMAIN_DIGESTED, prev, &bare));
    mac.update(body.kind.as_bytes());
    mac.update(body.subject.as_bytes());
    mac.update(&digest);
    mac.finalize().into_bytes().into()
}

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

fn header(domain: &[u8; 24], prev: &Hash, body: &EventBody<'_>) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        header[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(domain);
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
    header
}

/// The unkeyed hash of an event that follows `prev`, as logs written before the chain was keyed
/// carry it. Every field is encoded unambiguously: integers at fixed width (big-endian), options
/// with a tag byte, strings with their byte length up front, so no two different events share
/// an encoding.
pub fn hash_event(prev: &Hash, body: &EventBody<'_>) -> Hash {
    let mut h = Sha256::new();
    h.update(header(DOMAIN, prev, body));
    h.update(body.kind.as_bytes());
    h.update(body.subject.as_bytes());
    h.update(body.data.as_bytes());
    h.finalize().into()
}

/// The keyed hash of an event that follows `prev`: the same encoding as [`hash_event`] under
/// its own tag, through HMAC-SHA-256 with the chain key.
pub fn hash_event_keyed(key: &ChainKey, prev: &Hash, body: &EventBody<'_>) -> Hash {
    let mut mac = key.0.clone();
    mac.update(&header(DOMAIN_KEYED, prev, body));
    mac.update(body.kind.as_bytes());
    mac.update(body.subject.as_bytes());
    mac.update(body.data.as_bytes());
    mac.finalize().into_bytes().into()
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
    fn self_consistent(&self, keying: &Keying) -> bool {
        match <&Hash>::try_from(self.prev_hash.as_slice()) {
            Ok(prev) => keying.hash(prev, &self.body()) == self.hash.as_slice(),
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
    /// The log holds events but no keying marker.
    Unkeyed,
    /// The chain head row itself is missing.
    Head,
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
            BreakKind::Edited => "was changed",
            BreakKind::Deleted => "is missing",
            BreakKind::Inserted => "was inserted",
            BreakKind::Reordered => "is out of order",
            BreakKind::Unkeyed => "is not keyed",
            BreakKind::Head => return write!(f, "the chain head {}", self.detail),
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

/// Verifies a log streamed in ascending `seq` order, in constant memory, hashing each row as
/// [`Keying`] says.
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
///   (it was changed and its hash recomputed);
/// * a keying marker anywhere but where the keyed chain starts, or another row there → `Edited`
///   at that row; a log with events and no marker → `Unkeyed`.
///
/// After a break every further `push` returns the same break.
#[derive(Debug)]
pub struct Verifier {
    keying: Keying,
    next: i64,
    prev: Hash,
    prev2: Option<Hash>,
    events: u64,
    pending: Vec<StoredEvent>,
    /// A row that links to its predecessor but whose hash does not match: edited, unless the
    /// row after it links past it (then it was inserted).
    suspect: Option<ChainBreak>,
    broken: Option<ChainBreak>,
}

impl Verifier {
    pub fn new(keying: Keying) -> Self {
        Verifier {
            keying,
            next: 1,
            prev: GENESIS,
            prev2: None,
            events: 0,
            pending: Vec::new(),
            suspect: None,
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
        if let Some(mut b) = self.suspect.take() {
            if ev.seq == b.seq + 1 && ev.prev_hash == self.prev {
                b = ChainBreak::new(
                    b.seq,
                    BreakKind::Inserted,
                    format!(
                        "it is not part of the chain: its hash does not match, and event {} links \
                         to the event before it",
                        ev.seq
                    ),
                );
            }
            return Err(self.fail(b));
        }
        if self.pending.is_empty() && ev.seq == self.next && ev.prev_hash == self.prev {
            if !self.keying.in_place(ev.seq, &ev.kind) {
                return Err(self.fail(self.misplaced_marker(&ev)));
            }
            let hash = self.keying.hash(&self.prev, &ev.body());
            if ev.hash != hash {
                let detail = if self.keying.from == Some(ev.seq) {
                    "it starts the keyed chain but does not verify with this master key: the log \
                     was written with another key, or this event was forged"
                } else {
                    "its contents no longer match its hash"
                };
                self.suspect = Some(ChainBreak::new(ev.seq, BreakKind::Edited, detail));
                return Ok(());
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
        if let Some(b) = self.broken.take().or(self.suspect.take()) {
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
            if self.events == 0 && head_seq > 0 {
                return Err(ChainBreak::new(
                    1,
                    BreakKind::Deleted,
                    format!("the log is empty but the head says {head_seq}"),
                ));
            }
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
        if self.events > 0 && self.keying.from.is_none() {
            return Err(ChainBreak::new(
                1,
                BreakKind::Unkeyed,
                format!(
                    "the log holds {} events but no keying marker ({KEYED_MARKER}), so none of \
                     them is protected by the key; a log written by latchkey is keyed when it \
                     opens the database",
                    self.events
                ),
            ));
        }
        Ok(VerifySummary {
            events: self.events,
            last_seq,
            head: self.prev,
        })
    }

    /// The break for a row whose kind disagrees with where the keyed chain starts.
    fn misplaced_marker(&self, ev: &StoredEvent) -> ChainBreak {
        let detail = match self.keying.from {
            Some(_) if ev.kind == DIGEST_MARKER => match self.keying.digested {
                Some(d) => format!(
                    "it claims to start the links over payload digests, which started at event {d}"
                ),
                None => "it claims to start the links over payload digests, but the log has none"
                    .to_owned(),
            },
            Some(_) if self.keying.marker_at(ev.seq) == Some(DIGEST_MARKER) => {
                "the links over payload digests started here, but this is no longer their marker"
                    .to_owned()
            }
            Some(m) if ev.kind == KEYED_MARKER => {
                format!("it claims to start the keyed chain, which started at event {m}")
            }
            Some(_) => {
                "the keyed chain started here, but this is no longer the keying marker".to_owned()
            }
            None => "it claims to start the keyed chain, but the log has no keyed part".to_owned(),
        };
        ChainBreak::new(ev.seq, BreakKind::Edited, detail)
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
        Some(if r.self_consistent(&self.keying) && self.events > 0 {
            ChainBreak::new(
                next - 1,
                BreakKind::Edited,
                format!(
                    "event {next} no longer links to it: it was changed and its hash recomputed"
                ),
            )
        } else if r.self_consistent(&self.keying) {
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
