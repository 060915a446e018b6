//! Checking anchors (signed copies of the chain head kept outside the database) against the log.

use std::collections::HashMap;

use latchkey_core::chain::anchor::{self, AnchorBreak, AnchorKey, AnchorSummary};
use sqlx::Row;

use super::ROWS_PER_INSERT;
use crate::sql::Sql;
use crate::{Conn, Result};

/// Checks the anchors in `text` (an anchor file) against a log that verified intact up to
/// `last_seq`: every signature with `key`, and that the log holds each anchored `(seq, hash)`.
/// The inner `Err` names the first anchor that does not hold.
///
/// # Errors
/// `Database` when the log cannot be read.
pub async fn check_anchors(
    conn: &mut Conn,
    key: &AnchorKey,
    text: &str,
    last_seq: i64,
) -> Result<std::result::Result<AnchorSummary, AnchorBreak>> {
    let anchors = match anchor::read_signed(text, key) {
        Ok(anchors) => anchors,
        Err(brk) => return Ok(Err(brk)),
    };
    let mut seqs: Vec<i64> = anchors
        .iter()
        .map(|(_, a)| a.seq)
        .filter(|s| (1..=last_seq).contains(s))
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    let stored = hashes_at(conn, &seqs).await?;
    Ok(anchor::compare(&anchors, last_seq, &stored))
}

/// The stored hashes of those events of `seqs` that exist.
async fn hashes_at(conn: &mut Conn, seqs: &[i64]) -> Result<HashMap<i64, Vec<u8>>> {
    let mut found = HashMap::with_capacity(seqs.len());
    for chunk in seqs.chunks(ROWS_PER_INSERT) {
        let mut sql = Sql::new(
            crate::backend_of(conn),
            "SELECT seq, hash FROM events WHERE seq IN ",
        );
        sql.bind_list(chunk.iter().copied());
        for row in sql.query().fetch_all(&mut *conn).await? {
            found.insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    Ok(found)
}
