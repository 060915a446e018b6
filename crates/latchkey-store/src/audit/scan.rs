//! The fast path of `audit verify` on SQLite: the log is read straight from the database file
//! through SQLite's own row API (rusqlite, borrowing each value instead of copying it), split
//! into contiguous ranges that threads check at the same time, and the ranges joined at their
//! seams.
//!
//! A range is checked link by link: consecutive sequence numbers, each row's `prev_hash` equal
//! to the hash before it, each row's hash equal to the hash of its own fields (keyed from the
//! keying marker on, which must stand where the log's first marker is). Any anomaly
//! stops the scan and answers `None`; the caller then runs the streaming [`Verifier`], which
//! classifies the break (edited, deleted, inserted, reordered). An intact chain is therefore
//! accepted here exactly when the `Verifier` would accept it.
//!
//! [`Verifier`]: latchkey_core::chain::Verifier

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use latchkey_core::chain::{
    ChainKey, DIGEST_MARKER, EventBody, GENESIS, Hash, KEYED_MARKER, Keying, VerifySummary,
};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

/// Rows between two updates of the shared progress counter.
const PROGRESS_EVERY: u64 = 8_192;

/// What one range of rows looked like, when all its links held.
struct Span {
    first_seq: i64,
    first_prev: Hash,
    last_seq: i64,
    last_hash: Hash,
    rows: u64,
}

/// The outcome of the scan: `Ok(None)` when the chain needs the classifying verifier (an
/// anomaly somewhere, or rows it cannot read as the schema says), `Ok(Some(_))` for an intact
/// chain that matches `head`.
pub(super) fn verify(
    file: &Path,
    key: ChainKey,
    threads: usize,
    checked: &AtomicU64,
) -> rusqlite::Result<Option<VerifySummary>> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let first = Connection::open_with_flags(file, flags)?;
    // One read transaction fixes the head and the extent of the log together; rows up to the
    // extent never change under an append-only writer, so the other readers may start later.
    first.execute_batch("BEGIN")?;
    let (head_seq, head_hash): (i64, Vec<u8>) =
        first.query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (lo, hi): (Option<i64>, Option<i64>) =
        first.query_row("SELECT MIN(rowid), MAX(rowid) FROM events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let marker = |kind: &str| -> rusqlite::Result<Option<i64>> {
        first.query_row("SELECT MIN(seq) FROM events WHERE kind = ?1", [kind], |r| {
            r.get(0)
        })
    };
    let keying = &Keying::from_markers(key, marker(KEYED_MARKER)?, marker(DIGEST_MARKER)?);
    let head = if head_seq == 0 && head_hash == GENESIS {
        None
    } else {
        Some((head_seq, head_hash))
    };
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(head.is_none().then_some(VerifySummary {
            events: 0,
            last_seq: 0,
            head: GENESIS,
        }));
    };
    let bounds = split(lo - 1, hi, threads.max(1));
    let spans = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for &(after, upto) in &bounds[1..] {
            handles.push(scope.spawn(move || {
                let conn = Connection::open_with_flags(file, flags)?;
                scan(&conn, keying, after, upto, checked)
            }));
        }
        let (after, upto) = bounds[0];
        let mut spans = vec![scan(&first, keying, after, upto, checked)];
        for handle in handles {
            // A reader that panicked leaves the answer to the classifying verifier.
            spans.push(handle.join().unwrap_or(Ok(None)));
        }
        spans
    });
    let mut joined: Option<Span> = None;
    for span in spans {
        let Some(span) = span? else {
            return Ok(None);
        };
        if span.rows == 0 {
            continue;
        }
        joined = match joined {
            None if span.first_seq == 1 && span.first_prev == GENESIS => Some(span),
            Some(before)
                if span.first_seq == before.last_seq + 1 && span.first_prev == before.last_hash =>
            {
                Some(Span {
                    rows: before.rows + span.rows,
                    first_seq: before.first_seq,
                    first_prev: before.first_prev,
                    ..span
                })
            }
            _ => return Ok(None),
        };
    }
    let Some(all) = joined else {
        return Ok(None);
    };
    if let Some((seq, hash)) = head
        && (seq != all.last_seq || hash != all.last_hash)
    {
        return Ok(None);
    }
    if keying.from.is_none() {
        return Ok(None);
    }
    Ok(Some(VerifySummary {
        events: all.rows,
        last_seq: all.last_seq,
        head: all.last_hash,
    }))
}

/// `parts` contiguous `(after, upto]` ranges covering `(after, upto]`.
fn split(after: i64, upto: i64, parts: usize) -> Vec<(i64, i64)> {
    let parts = i64::try_from(parts).unwrap_or(1);
    let len = upto - after;
    (0..parts)
        .map(|i| (after + len * i / parts, after + len * (i + 1) / parts))
        .collect()
}

/// Checks the rows with `after < rowid <= upto` in rowid order (the order they were appended
/// in). `Ok(None)` at the first row that does not continue the chain.
fn scan(
    conn: &Connection,
    keying: &Keying,
    after: i64,
    upto: i64,
    checked: &AtomicU64,
) -> rusqlite::Result<Option<Span>> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, property_id, actor_id, kind, subject, data, prev_hash, hash \
         FROM events WHERE rowid > ?1 AND rowid <= ?2 ORDER BY rowid",
    )?;
    let mut rows = stmt.query([after, upto])?;
    let mut span: Option<Span> = None;
    let mut unreported = 0u64;
    while let Some(row) = rows.next()? {
        let Some(fields) = Fields::read(row) else {
            return Ok(None);
        };
        let Ok(prev) = <&Hash>::try_from(fields.prev) else {
            return Ok(None);
        };
        if let Some(s) = &span
            && (fields.body.seq != s.last_seq + 1 || *prev != s.last_hash)
        {
            return Ok(None);
        }
        if !keying.in_place(fields.body.seq, fields.body.kind) {
            return Ok(None);
        }
        let hash = keying.hash(prev, &fields.body);
        if hash.as_slice() != fields.hash {
            return Ok(None);
        }
        match &mut span {
            Some(s) => {
                s.last_seq = fields.body.seq;
                s.last_hash = hash;
                s.rows += 1;
            }
            None => {
                span = Some(Span {
                    first_seq: fields.body.seq,
                    first_prev: *prev,
                    last_seq: fields.body.seq,
                    last_hash: hash,
                    rows: 1,
                });
            }
        }
        unreported += 1;
        if unreported == PROGRESS_EVERY {
            checked.fetch_add(unreported, Ordering::Relaxed);
            unreported = 0;
        }
    }
    checked.fetch_add(unreported, Ordering::Relaxed);
    Ok(Some(span.unwrap_or(Span {
        first_seq: 0,
        first_prev: GENESIS,
        last_seq: 0,
        last_hash: GENESIS,
        rows: 0,
    })))
}

/// One row's fields, borrowed from SQLite's buffers.
struct Fields<'r> {
    body: EventBody<'r>,
    prev: &'r [u8],
    hash: &'r [u8],
}

impl<'r> Fields<'r> {
    /// `None` when a column does not hold the type the schema gives it.
    fn read(row: &'r rusqlite::Row<'_>) -> Option<Fields<'r>> {
        let int = |i: usize| match row.get_ref(i).ok()? {
            ValueRef::Integer(v) => Some(v),
            _ => None,
        };
        let opt_int = |i: usize| match row.get_ref(i).ok()? {
            ValueRef::Integer(v) => Some(Some(v)),
            ValueRef::Null => Some(None),
            _ => None,
        };
        let text = |i: usize| match row.get_ref(i).ok()? {
            ValueRef::Text(t) => std::str::from_utf8(t).ok(),
            _ => None,
        };
        let blob = |i: usize| match row.get_ref(i).ok()? {
            ValueRef::Blob(b) => Some(b),
            _ => None,
        };
        Some(Fields {
            body: EventBody {
                seq: int(0)?,
                at_micros: int(1)?,
                property: opt_int(2)?,
                actor: opt_int(3)?,
                kind: text(4)?,
                subject: text(5)?,
                data: text(6)?,
            },
            prev: blob(7)?,
            hash: blob(8)?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{split, verify};
    use crate::Store;
    use crate::audit::{self, NewEvent};
    use latchkey_core::chain::ChainKey;
    use std::sync::atomic::AtomicU64;

    fn key() -> ChainKey {
        ChainKey::new(&[5; 32])
    }

    #[test]
    fn ranges_cover_the_extent_without_gaps_or_overlap() {
        for (after, upto, parts) in [(0, 10, 3), (4, 5, 2), (0, 1_000_001, 4), (9, 9, 2)] {
            let ranges = split(after, upto, parts);
            assert_eq!(ranges.len(), parts);
            assert_eq!(ranges[0].0, after);
            assert_eq!(ranges[parts - 1].1, upto);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].1, pair[1].0);
                assert!(pair[0].0 <= pair[0].1);
            }
        }
    }

    /// A log of `n` events after the keying marker (event 1) in a fresh file, with the path to
    /// scan.
    async fn log_of(n: usize) -> (Store, tempfile_path::Guard) {
        let guard = tempfile_path::Guard::new();
        let store = Store::open(&format!("sqlite://{}", guard.0.display()))
            .await
            .unwrap();
        let mut tx = store.write().await.unwrap();
        let events: Vec<_> = (0..n)
            .map(|i| {
                NewEvent::new("test.event", format!("thing:{i}"))
                    .data(serde_json::json!({ "i": i }))
            })
            .collect();
        audit::append(&mut tx, &key(), jiff::Timestamp::now(), &events)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (store, guard)
    }

    async fn exec(store: &Store, sql: &str) {
        let mut conn = store.read().await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut *conn)
            .await
            .unwrap();
    }

    fn scan(guard: &tempfile_path::Guard, threads: usize) -> Option<u64> {
        verify(&guard.0, key(), threads, &AtomicU64::new(0))
            .unwrap()
            .map(|s| s.events)
    }

    mod tempfile_path {
        pub struct Guard(pub std::path::PathBuf);
        impl Guard {
            pub fn new() -> Guard {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Guard(std::env::temp_dir().join(format!("lk-scan-{}-{n}.db", std::process::id())))
            }
        }
        impl Drop for Guard {
            fn drop(&mut self) {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
                }
            }
        }
    }

    #[tokio::test]
    async fn an_intact_log_is_accepted_whole_by_any_number_of_readers() {
        let (_store, file) = log_of(1_001).await;
        for threads in 1..=5 {
            assert_eq!(scan(&file, threads), Some(1_002), "{threads} readers");
        }
        let (_empty, none) = log_of(0).await;
        assert_eq!(scan(&none, 2), Some(1), "the keying marker alone");
    }

    #[tokio::test]
    async fn every_kind_of_tampering_is_refused_wherever_the_readers_meet() {
        // The marker and 1,000 events split in two meet between seq 501 and 502; in three, after
        // 334 and 667.
        let tampering = [
            "DELETE FROM events WHERE seq = 501",
            "DELETE FROM events WHERE seq = 500",
            "DELETE FROM events WHERE seq = 1",
            "DELETE FROM events WHERE seq = 1000",
            "UPDATE events SET data = '{\"i\":0}' WHERE seq = 501",
            "UPDATE events SET kind = 'other' WHERE seq = 334",
            "UPDATE events SET prev_hash = hash WHERE seq = 667",
            "UPDATE events SET seq = seq + 1 WHERE seq >= 1001",
            "UPDATE audit_head SET seq = 999",
            "UPDATE events SET subject = CAST(subject AS BLOB) WHERE seq = 2",
            "INSERT INTO events SELECT 1002, at, property_id, actor_id, kind, subject, data, hash, hash \
             FROM events WHERE seq = 1001",
            "UPDATE events SET kind = 'audit.chain_keyed' WHERE seq = 700",
            "UPDATE events SET kind = 'test.event' WHERE seq = 1",
        ];
        for sql in tampering {
            let (store, file) = log_of(1_000).await;
            exec(&store, sql).await;
            for threads in 1..=3 {
                assert_eq!(scan(&file, threads), None, "{sql} with {threads} readers");
            }
        }
        let (_store, file) = log_of(1_000).await;
        let other = verify(&file.0, ChainKey::new(&[6; 32]), 2, &AtomicU64::new(0)).unwrap();
        assert!(other.is_none(), "another key");
    }
}
