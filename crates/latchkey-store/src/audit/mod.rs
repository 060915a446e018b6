//! The audit log: append inside the caller's transaction, query with filters and cursor paging,
//! and read the chain back for verification.
//!
//! Appends serialise on the `audit_head` row (PostgreSQL locks it; SQLite's write transaction
//! already holds the database lock), so the chain has exactly one order. Every hash is keyed
//! with the chain key the caller passes; a log written before the chain was keyed gets its
//! keying marker at the next append (see `latchkey_core::chain`).

use jiff::Timestamp;
use latchkey_core::chain::{
    self, BreakKind, ChainBreak, ChainKey, DIGEST_MARKER, EventBody, GENESIS, Hash, KEYED_MARKER,
    Keying, StoredEvent, Verifier,
};
use latchkey_core::{PersonId, PropertyId, UnitId};
use sqlx::Row;

use crate::records::{Event, from_micros, to_micros};
use crate::sql::Sql;
use crate::{Backend, Conn, Result, Store, StoreError, WriteTx};

mod anchors;
mod redact;
mod scan;

pub use redact::{Redaction, redact};

pub use anchors::check_anchors;

/// An event to append. `data` must never hold a secret (a PIN, a password, a token).
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub property_id: Option<PropertyId>,
    pub actor_id: Option<PersonId>,
    pub kind: String,
    pub subject: String,
    pub data: serde_json::Value,
}

impl NewEvent {
    pub fn new(kind: impl Into<String>, subject: impl Into<String>) -> NewEvent {
        NewEvent {
            property_id: None,
            actor_id: None,
            kind: kind.into(),
            subject: subject.into(),
            data: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    pub fn property(mut self, id: PropertyId) -> NewEvent {
        self.property_id = Some(id);
        self
    }

    pub fn actor(mut self, id: Option<PersonId>) -> NewEvent {
        self.actor_id = id;
        self
    }

    pub fn data(mut self, data: serde_json::Value) -> NewEvent {
        self.data = data;
        self
    }
}

/// SQLite allows 32,766 bound values per statement; 9 per row.
const ROWS_PER_INSERT: usize = 1_000;

/// The chain head as this process last wrote it, with where its markers stand. An append
/// starts from it without reading the head, and moves the head with a compare-and-set on
/// `(seq, hash)`: if any other writer (another process, a transaction that rolled back, a
/// restore) moved the head since, the set changes no row and the append reads the head and
/// starts again in the same transaction. So the chain always continues from the stored head;
/// the cache only saves a statement (docs/ARCHITECTURE.md, decision 95).
#[derive(Clone, Default)]
pub(crate) struct HeadCache(std::sync::Arc<std::sync::Mutex<Option<Head>>>);

#[derive(Clone, Copy)]
pub(crate) struct Head {
    seq: i64,
    hash: Hash,
    keyed: Option<i64>,
    digested: Option<i64>,
}

impl HeadCache {
    fn get(&self) -> Option<Head> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, head: Head) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(head);
    }
}

/// The chain's head and how its rows are hashed, read in one statement (an append's only
/// read: each statement is a hand-off to SQLite's connection thread). On PostgreSQL the head
/// row is locked until the commit.
async fn read_head_for_append(tx: &mut WriteTx) -> Result<Head> {
    let sql = match tx.backend {
        Backend::Sqlite => {
            "SELECT seq, hash, \
             (SELECT MIN(seq) FROM events WHERE kind = $1), \
             (SELECT MIN(seq) FROM events WHERE kind = $2) \
             FROM audit_head WHERE id = 1"
        }
        Backend::Postgres => {
            "SELECT seq, hash, \
             (SELECT MIN(seq) FROM events WHERE kind = $1), \
             (SELECT MIN(seq) FROM events WHERE kind = $2) \
             FROM audit_head WHERE id = 1 FOR UPDATE"
        }
    };
    let row = sqlx::query(sql)
        .bind(DIGEST_MARKER)
        .bind(KEYED_MARKER)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| {
            StoreError::Corrupt(
                "the audit chain head row is missing, so no event can be appended; run \
                 `latchkey audit verify`"
                    .into(),
            )
        })?;
    let seq: i64 = row.try_get(0)?;
    let bytes: Vec<u8> = row.try_get(1)?;
    let hash: Hash = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("audit head hash is not 32 bytes".into()))?;
    Ok(Head {
        seq,
        hash,
        digested: row.try_get(2)?,
        keyed: row.try_get(3)?,
    })
}

/// How the log's rows are hashed: the keyed chain starts at its first marker (of either kind),
/// links over payload digests at the digest marker (decision 41). Found through the
/// `(kind, seq)` index; the verifier checks that the markers stand there and nowhere else.
pub(crate) async fn keying_of(conn: &mut Conn, key: &ChainKey) -> Result<Keying> {
    let digested: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM events WHERE kind = $1")
        .bind(DIGEST_MARKER)
        .fetch_one(&mut *conn)
        .await?;
    let keyed: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM events WHERE kind = $1")
        .bind(KEYED_MARKER)
        .fetch_one(&mut *conn)
        .await?;
    Ok(Keying::from_markers(key.clone(), keyed, digested))
}

/// The digest marker that follows a log of `seq` events ending in `prev`: the event where links
/// over payload digests start (and the keyed chain, on a log that was not keyed), naming the
/// head it pins.
fn marker(seq: i64, prev: &Hash) -> NewEvent {
    NewEvent::new(DIGEST_MARKER, "audit:chain").data(serde_json::json!({
        "events_before": seq,
        "head_before": prev.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    }))
}

/// Appends `events` to the chain inside `tx`, all stamped `at`, hashed with `key`, and returns
/// the sequence number of the last one. On a log that is not keyed yet the keying marker goes
/// first (also when `events` is empty). If this fails the caller must not commit (dropping `tx`
/// rolls back), so a change never lands without its event.
///
/// # Errors
/// `Database` on any failure to read the head or write the rows; `Corrupt` when the head row is
/// missing or malformed.
pub async fn append(
    tx: &mut WriteTx,
    key: &ChainKey,
    at: Timestamp,
    events: &[NewEvent],
) -> Result<i64> {
    if let Some(e) = events.iter().find(|e| chain::is_marker(&e.kind)) {
        return Err(StoreError::Corrupt(format!(
            "an event of kind {} is written by the audit log itself, never by a caller",
            e.kind
        )));
    }
    // Without events there is nothing to chain: the head is read (and on PostgreSQL locked)
    // as it always was, for a log that still needs its marker.
    let cached = if events.is_empty() {
        None
    } else {
        tx.head.get()
    };
    let (head, fresh) = match cached {
        Some(h) => (h, false),
        None => (read_head_for_append(tx).await?, true),
    };
    let mut chained = Chained::from(head, key, at, events);
    if chained.rows.is_empty() {
        return Ok(head.seq);
    }
    let moved = move_head(tx, &chained, (!fresh).then_some(&head)).await?;
    if !moved {
        // Someone else wrote since this process last did: start from the stored head.
        let head = read_head_for_append(tx).await?;
        chained = Chained::from(head, key, at, events);
        move_head(tx, &chained, None).await?;
    }
    insert_rows(tx, &chained, events).await?;
    // Kept before the commit: if the transaction rolls back, the next append's
    // compare-and-set finds the stored head elsewhere and reads it.
    tx.head.set(chained.head);
    Ok(chained.head.seq)
}

/// Events hashed onto a head: the marker when this append writes it, each row's sequence
/// number, data and hashes (the marker's first), and the head they make.
struct Chained {
    at_us: i64,
    marker: Option<NewEvent>,
    rows: Vec<(i64, String, Hash, Hash)>,
    head: Head,
}

impl Chained {
    fn from(head: Head, key: &ChainKey, at: Timestamp, events: &[NewEvent]) -> Chained {
        let mut keying = Keying::from_markers(key.clone(), head.keyed, head.digested);
        let mut next = head;
        let marker = match keying.digested {
            Some(_) => None,
            None => {
                keying.digested = Some(head.seq + 1);
                keying.from = keying.from.or(Some(head.seq + 1));
                next.digested = Some(head.seq + 1);
                next.keyed = next.keyed.or(Some(head.seq + 1));
                Some(marker(head.seq, &head.hash))
            }
        };
        let at_us = to_micros(at);
        let mut rows = Vec::with_capacity(events.len() + 1);
        for ev in marker.iter().chain(events) {
            next.seq += 1;
            let data = ev.data.to_string();
            let hash = keying.hash(
                &next.hash,
                &EventBody {
                    seq: next.seq,
                    at_micros: at_us,
                    property: ev.property_id.map(|p| p.0),
                    actor: ev.actor_id.map(|p| p.0),
                    kind: &ev.kind,
                    subject: &ev.subject,
                    data: &data,
                },
            );
            rows.push((next.seq, data, next.hash, hash));
            next.hash = hash;
        }
        Chained {
            at_us,
            marker,
            rows,
            head: next,
        }
    }
}

/// Moves the head to the end of `chained`; with `from`, only if the head still stands there
/// (false when it does not). On PostgreSQL the head row stays locked until the commit, and the
/// same statement wakes every process's live-event follower at the commit.
async fn move_head(tx: &mut WriteTx, chained: &Chained, from: Option<&Head>) -> Result<bool> {
    let mut sql = Sql::new(tx.backend, "UPDATE audit_head SET seq = ");
    sql.bind(chained.head.seq)
        .push(", hash = ")
        .bind(chained.head.hash.to_vec())
        .push(" WHERE id = 1");
    if let Some(h) = from {
        sql.push(" AND seq = ")
            .bind(h.seq)
            .push(" AND hash = ")
            .bind(h.hash.to_vec());
    }
    if tx.backend == Backend::Postgres {
        // Wakes every process's live-event follower at the commit (`Store::events_waker`).
        sql.push(" RETURNING pg_notify(")
            .bind(EVENTS_CHANNEL)
            .push(", '')");
    }
    let done = sql.query().execute(tx.conn()).await?;
    match (done.rows_affected(), from) {
        (1, _) => Ok(true),
        (0, Some(_)) => Ok(false),
        (n, _) => Err(StoreError::Corrupt(format!(
            "moving the audit chain head changed {n} rows; run `latchkey audit verify`"
        ))),
    }
}

async fn insert_rows(tx: &mut WriteTx, chained: &Chained, events: &[NewEvent]) -> Result<()> {
    let all: Vec<_> = chained
        .marker
        .iter()
        .chain(events)
        .zip(&chained.rows)
        .collect();
    for chunk in all.chunks(ROWS_PER_INSERT) {
        let mut sql = Sql::new(
            tx.backend,
            "INSERT INTO events (seq, at, property_id, actor_id, kind, subject, data, prev_hash, hash) VALUES ",
        );
        for (i, (ev, (seq, data, prev, hash))) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(*seq)
                .push(", ")
                .bind(chained.at_us)
                .push(", ")
                .bind(ev.property_id.map(|p| p.0))
                .push(", ")
                .bind(ev.actor_id.map(|p| p.0))
                .push(", ")
                .bind(ev.kind.as_str())
                .push(", ")
                .bind(ev.subject.as_str())
                .push(", ")
                .bind(data.as_str())
                .push(", ")
                .bind(prev.to_vec())
                .push(", ")
                .bind(hash.to_vec())
                .push(")");
        }
        sql.query()
            .execute(tx.conn())
            .await
            .map_err(StoreError::classify)?;
    }
    Ok(())
}

/// The PostgreSQL channel notified by every append, at its commit.
pub const EVENTS_CHANNEL: &str = "latchkey_events";

/// Events with `seq > after`, oldest first, at most `limit`: what a live stream replays and
/// what each process's follower reads after a wake-up.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` on a row that cannot be decoded.
pub async fn after(conn: &mut Conn, after: i64, limit: i64) -> Result<Vec<Event>> {
    let rows = sqlx::query(
        "SELECT seq, at, property_id, actor_id, kind, subject, data FROM events \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(row_to_event).collect()
}

/// The event numbered `seq`, `None` when there is none.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` on a row that cannot be decoded.
pub async fn event_at(conn: &mut Conn, seq: i64) -> Result<Option<Event>> {
    let row = sqlx::query(
        "SELECT seq, at, property_id, actor_id, kind, subject, data FROM events WHERE seq = $1",
    )
    .bind(seq)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(row_to_event).transpose()
}

/// Filters for reading the event log. Paging goes backwards from the newest: pass the smallest
/// `seq` of a page as `before` to get the next (older) page.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Only events of these properties (`None`: every property, for admins).
    pub properties: Option<Vec<PropertyId>>,
    pub kind_prefix: Option<String>,
    pub actor_id: Option<PersonId>,
    pub subject: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub before: Option<i64>,
    /// For people who are not staff: only events they did, or about one of these subjects.
    pub visible_to: Option<(PersonId, Vec<String>)>,
    /// Events staff do not read (the personal events of units' doors).
    pub hidden: Option<HiddenEvents>,
    pub limit: u32,
}

/// Events of one of `kinds` about a unit's door or sensor are left out, unless `unless_actor`
/// did them. Which subjects those are is worked out by the query itself from the `doors` and
/// `sensors` tables (not read into the caller first), as [`UnitDevices`] says.
#[derive(Clone, Debug)]
pub struct HiddenEvents {
    pub unless_actor: PersonId,
    pub kinds: Vec<String>,
    pub subjects: UnitDevices,
}

/// The subjects (`door:N`, `sensor:N`) of the doors of units and of the sensors of units or on
/// those doors, at `properties` (`None`: every property), where the unit is not one of
/// `except_units`; minus the subjects in `shown`.
#[derive(Clone, Debug, Default)]
pub struct UnitDevices {
    pub properties: Option<Vec<PropertyId>>,
    pub except_units: Vec<UnitId>,
    pub shown: Vec<String>,
}

impl UnitDevices {
    /// Appends `subject IN (…)` for these subjects to `sql`.
    fn push_contains(&self, sql: &mut Sql) {
        // The doors whose events are hidden: of a unit, not one of the excepted.
        let unit_doors = |sql: &mut Sql| {
            sql.push(" FROM doors d WHERE d.unit_id IS NOT NULL");
            if !self.except_units.is_empty() {
                sql.push(" AND d.unit_id NOT IN ")
                    .bind_list(self.except_units.iter().map(|u| u.0));
            }
            if let Some(props) = &self.properties {
                sql.push(" AND d.property_id IN ")
                    .bind_list(props.iter().map(|p| p.0));
            }
        };
        sql.push("(subject IN (SELECT 'door:' || CAST(d.id AS TEXT)");
        unit_doors(sql);
        sql.push(" UNION ALL SELECT 'sensor:' || CAST(s.id AS TEXT) FROM sensors s WHERE ((s.unit_id IS NOT NULL");
        if !self.except_units.is_empty() {
            sql.push(" AND s.unit_id NOT IN ")
                .bind_list(self.except_units.iter().map(|u| u.0));
        }
        sql.push(") OR s.door_id IN (SELECT d.id");
        unit_doors(sql);
        sql.push("))");
        if let Some(props) = &self.properties {
            sql.push(" AND s.property_id IN ")
                .bind_list(props.iter().map(|p| p.0));
        }
        sql.push(")");
        if !self.shown.is_empty() {
            sql.push(" AND subject NOT IN ")
                .bind_list(self.shown.iter().map(String::as_str));
        }
        sql.push(")");
    }
}

fn row_to_event(row: &sqlx::any::AnyRow) -> Result<Event> {
    let data: String = row.try_get("data")?;
    Ok(Event {
        seq: row.try_get("seq")?,
        at: from_micros(row.try_get("at")?)?,
        property_id: row
            .try_get::<Option<i64>, _>("property_id")?
            .map(PropertyId),
        actor_id: row.try_get::<Option<i64>, _>("actor_id")?.map(PersonId),
        kind: row.try_get("kind")?,
        subject: row.try_get("subject")?,
        data: serde_json::from_str(&data)
            .map_err(|e| StoreError::Corrupt(format!("event data: {e}")))?,
    })
}

/// Events matching `filter`, newest first.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` on a row that cannot be decoded.
pub async fn query(conn: &mut Conn, filter: &EventFilter) -> Result<Vec<Event>> {
    let mut sql = Sql::new(
        crate::backend_of(conn),
        "SELECT seq, at, property_id, actor_id, kind, subject, data FROM events WHERE 1 = 1",
    );
    if let Some(props) = &filter.properties {
        if props.is_empty() {
            return Ok(Vec::new());
        }
        sql.push(" AND property_id IN ")
            .bind_list(props.iter().map(|p| p.0));
    }
    if let Some(prefix) = &filter.kind_prefix {
        // Prefix match without LIKE so that `_` and `%` in the filter are literal.
        sql.push(" AND substr(kind, 1, CAST(")
            .bind(prefix.chars().count() as i64)
            .push(" AS INTEGER)) = ")
            .bind(prefix.as_str());
    }
    if let Some(actor) = filter.actor_id {
        sql.push(" AND actor_id = ").bind(actor.0);
    }
    if let Some(subject) = &filter.subject {
        sql.push(" AND subject = ").bind(subject.as_str());
    }
    if let Some(since) = filter.since {
        sql.push(" AND at >= ").bind(to_micros(since));
    }
    if let Some(until) = filter.until {
        sql.push(" AND at < ").bind(to_micros(until));
    }
    if let Some((actor, subjects)) = &filter.visible_to {
        sql.push(" AND (actor_id = ").bind(actor.0);
        if !subjects.is_empty() {
            sql.push(" OR subject IN ")
                .bind_list(subjects.iter().map(String::as_str));
        }
        sql.push(")");
    }
    if let Some(h) = &filter.hidden
        && !h.kinds.is_empty()
    {
        // `actor_id = $n` is NULL for events without an actor: `NULL OR NOT (...)` keeps the
        // row exactly when it is not hidden. `subject` is never NULL.
        sql.push(" AND (actor_id = ")
            .bind(h.unless_actor.0)
            .push(" OR NOT (kind IN ")
            .bind_list(h.kinds.iter().map(String::as_str))
            .push(" AND ");
        h.subjects.push_contains(&mut sql);
        sql.push("))");
    }
    if let Some(before) = filter.before {
        sql.push(" AND seq < ").bind(before);
    }
    sql.push(" ORDER BY seq DESC LIMIT ")
        .bind(i64::from(filter.limit));
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(row_to_event).collect()
}

/// Reads events with `seq > after`, oldest first, at most `limit` of them, with their links.
///
/// # Errors
/// `Database` on a failed read.
pub async fn stored_after(conn: &mut Conn, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
    let rows = sqlx::query(
        "SELECT seq, at, property_id, actor_id, kind, subject, data, prev_hash, hash \
         FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredEvent {
                seq: row.try_get(0)?,
                at_micros: row.try_get(1)?,
                property: row.try_get(2)?,
                actor: row.try_get(3)?,
                kind: row.try_get(4)?,
                subject: row.try_get(5)?,
                data: row.try_get(6)?,
                prev_hash: row.try_get(7)?,
                hash: row.try_get(8)?,
            })
        })
        .collect()
}

/// The head row as stored, `None` when the row is gone.
async fn head_row(conn: &mut Conn) -> Result<Option<(i64, Vec<u8>)>> {
    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

fn missing_head(events: i64) -> ChainBreak {
    ChainBreak {
        seq: 0,
        kind: BreakKind::Head,
        detail: format!(
            "is missing: its row was deleted from the database, and the log holds {events} events"
        ),
    }
}

/// The stored chain head: the latest sequence number and its hash.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` when the head row is missing or malformed.
pub async fn read_head(conn: &mut Conn) -> Result<(i64, Hash)> {
    let (seq, bytes) = head_row(conn).await?.ok_or_else(|| {
        StoreError::Corrupt(
            "the audit chain head row is missing; run `latchkey audit verify`".into(),
        )
    })?;
    let hash: Hash = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("audit head hash is not 32 bytes".into()))?;
    Ok((seq, hash))
}

/// Outcome of a full verification.
pub type VerifyOutcome = std::result::Result<chain::VerifySummary, ChainBreak>;

/// One event of a verification page as the database writes it: the hashes in hex.
type PageRow = (
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    String,
    String,
    String,
    String,
    String,
);

/// Reads the events with `after < seq <= upto`, oldest first, as one JSON document built by the
/// database. Decoding one document is several times cheaper than decoding thousands of
/// rows through the driver, which is what makes verification fast.
async fn page_for_verify(
    conn: &mut Conn,
    backend: Backend,
    after: i64,
    upto: i64,
) -> Result<Vec<StoredEvent>> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT json_group_array(json_array(seq, at, property_id, actor_id, kind, subject, data, \
             hex(prev_hash), hex(hash))) FROM (SELECT * FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq)"
        }
        Backend::Postgres => {
            "SELECT COALESCE(json_agg(json_build_array(seq, at, property_id, actor_id, kind, subject, data, \
             encode(prev_hash, 'hex'), encode(hash, 'hex')) ORDER BY seq), '[]')::text \
             FROM events WHERE seq > $1 AND seq <= $2"
        }
    };
    let doc: String = sqlx::query_scalar(sql)
        .bind(after)
        .bind(upto)
        .fetch_one(conn)
        .await?;
    let rows: Vec<PageRow> =
        serde_json::from_str(&doc).map_err(|e| StoreError::Corrupt(format!("audit page: {e}")))?;
    let mut page = rows
        .into_iter()
        .map(
            |(seq, at_micros, property, actor, kind, subject, data, prev, hash)| {
                Ok(StoredEvent {
                    seq,
                    at_micros,
                    property,
                    actor,
                    kind,
                    subject,
                    data,
                    prev_hash: hex_bytes(&prev)?,
                    hash: hex_bytes(&hash)?,
                })
            },
        )
        .collect::<Result<Vec<_>>>()?;
    // The aggregate keeps the subquery's order in practice; make it certain.
    page.sort_by_key(|e| e.seq);
    Ok(page)
}

fn hex_bytes(text: &str) -> Result<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(StoreError::Corrupt("odd-length hex in audit page".into()));
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(StoreError::Corrupt("bad hex in audit page".into())),
        })
        .collect()
}

/// Walks the whole chain and checks every link against the stored head. On SQLite the file is
/// first scanned directly, one contiguous range per core (see [`scan`]); when that finds
/// anything amiss, or on PostgreSQL, the streaming verifier reads the log through the pool and
/// names the first break. `progress` is called with the number of events checked so far.
///
/// # Errors
/// `Database` when the log cannot be read; a broken chain is not an error but an `Err` inside
/// the outcome naming the first bad event.
pub async fn verify(
    store: &Store,
    key: &ChainKey,
    mut progress: impl FnMut(u64),
) -> Result<VerifyOutcome> {
    if let Some(file) = store.sqlite_file()
        && let Some(summary) = scan_file(file.to_owned(), key.clone(), &mut progress).await
    {
        return Ok(Ok(summary));
    }
    verify_streaming(store, key, progress).await
}

/// Runs the parallel scan of a SQLite file (see [`scan`]) on blocking threads, one per core,
/// reporting progress while it runs. `None` when the chain needs the classifying verifier or
/// the file could not be read directly.
async fn scan_file(
    file: std::path::PathBuf,
    key: ChainKey,
    progress: &mut impl FnMut(u64),
) -> Option<latchkey_core::chain::VerifySummary> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let checked = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&checked);
    let mut job =
        tokio::task::spawn_blocking(move || scan::verify(&file, key, threads, counter.as_ref()));
    let outcome = loop {
        match tokio::time::timeout(std::time::Duration::from_millis(100), &mut job).await {
            Ok(done) => break done,
            Err(_) => progress(checked.load(Ordering::Relaxed)),
        }
    };
    match outcome {
        Ok(Ok(Some(summary))) => {
            progress(summary.events);
            Some(summary)
        }
        Ok(Ok(None)) => None,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "direct read of the audit log failed; verifying through the pool");
            None
        }
        Err(e) => {
            tracing::debug!(error = %e, "audit scan did not finish; verifying through the pool");
            None
        }
    }
}

/// The streaming verification through the pool, for PostgreSQL and for naming the first break.
/// Two reader tasks, each on its own connection, fetch alternate pages (ranges of sequence
/// numbers) while this task checks them in order.
async fn verify_streaming(
    store: &Store,
    key: &ChainKey,
    mut progress: impl FnMut(u64),
) -> Result<VerifyOutcome> {
    const PAGE: i64 = 10_000;
    const READERS: i64 = 2;
    let (head, first, last, keying) = {
        let mut conn = store.read().await?;
        let row = sqlx::query("SELECT MIN(seq), MAX(seq), COUNT(*) FROM events")
            .fetch_one(&mut *conn)
            .await?;
        let first: Option<i64> = row.try_get(0)?;
        let last: Option<i64> = row.try_get(1)?;
        let count: i64 = row.try_get(2)?;
        let head = match head_row(&mut conn).await? {
            None => return Ok(Err(missing_head(count))),
            Some((seq, bytes)) => match Hash::try_from(bytes.as_slice()) {
                Ok(hash) => (seq, hash),
                Err(_) => {
                    return Ok(Err(ChainBreak {
                        seq,
                        kind: BreakKind::Head,
                        detail: format!(
                            "holds a hash of {} bytes instead of 32: it was changed",
                            bytes.len()
                        ),
                    }));
                }
            },
        };
        (head, first, last, keying_of(&mut conn, key).await?)
    };
    let mut verifier = Verifier::new(keying);
    let mut checked = 0u64;
    if let (Some(first), Some(last)) = (first, last) {
        let start = first - 1;
        let pages = (last - start + PAGE - 1) / PAGE;
        let mut readers = Vec::new();
        for r in 0..READERS {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<StoredEvent>>>(2);
            let store = store.clone();
            let task = tokio::spawn(async move {
                let mut conn = match store.read().await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let backend = store.backend();
                let mut page = r;
                while page < pages {
                    let after = start + page * PAGE;
                    let got = page_for_verify(&mut conn, backend, after, after + PAGE).await;
                    let failed = got.is_err();
                    if tx.send(got).await.is_err() || failed {
                        return;
                    }
                    page += READERS;
                }
            });
            readers.push((rx, task));
        }
        for page in 0..pages {
            let idx = usize::try_from(page % READERS).unwrap_or(0);
            let Some(events) = readers[idx].0.recv().await else {
                break;
            };
            let events = events?;
            let n = events.len() as u64;
            for ev in events {
                if let Err(brk) = verifier.push(ev) {
                    for (_, task) in &readers {
                        task.abort();
                    }
                    return Ok(Err(brk));
                }
            }
            checked += n;
            progress(checked);
        }
    }
    let head = if head.0 == 0 && head.1 == GENESIS {
        None
    } else {
        Some(head)
    };
    Ok(verifier.finish(head))
}

/// Number of events in the log.
///
/// # Errors
/// `Database` on a failed read.
pub async fn count(conn: &mut Conn) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(conn)
        .await?)
}
