//! Redaction of old personal events (docs/ARCHITECTURE.md, decision 41): an event chained over
//! its payload's digest loses its actor and data, keeping only the digest, and still verifies.

use jiff::Timestamp;
use latchkey_core::chain::ChainKey;
use latchkey_core::{PersonId, PropertyId};
use sqlx::Row;

use super::keying_of;
use crate::records::to_micros;
use crate::sql::Sql;
use crate::{Result, WriteTx};

/// Which events to redact: those of `kinds` (all kinds when empty) at `property` before
/// `before`, done by `actor`, about `subject` (every condition given must hold).
#[derive(Clone, Debug, Default)]
pub struct Redaction<'a> {
    pub property: Option<PropertyId>,
    pub actor: Option<PersonId>,
    pub subject: Option<String>,
    pub before: Option<Timestamp>,
    pub kinds: &'a [&'a str],
}

/// Redacts, inside `tx`, at most `limit` events that match `r`, are chained over their
/// payload's digest (after the digest marker) and are not redacted yet, oldest first. Returns
/// their `seq`s. The caller records the redaction as its own event in the same transaction.
///
/// # Errors
/// `Database` on a failed read or write.
pub async fn redact(
    tx: &mut WriteTx,
    key: &ChainKey,
    r: &Redaction<'_>,
    limit: i64,
) -> Result<Vec<i64>> {
    let keying = keying_of(tx.conn(), key).await?;
    let Some(digested) = keying.digested else {
        return Ok(Vec::new());
    };
    let mut sql = Sql::new(
        tx.backend,
        "SELECT seq, actor_id, data FROM events WHERE seq > ",
    );
    sql.bind(digested);
    // Redacted data starts so; nothing else latchkey writes does.
    sql.push(" AND substr(data, 1, 13) <> '{\"redacted\":\"'");
    if let Some(p) = r.property {
        sql.push(" AND property_id = ").bind(p.0);
    }
    if let Some(a) = r.actor {
        sql.push(" AND actor_id = ").bind(a.0);
    }
    if let Some(subject) = &r.subject {
        sql.push(" AND subject = ").bind(subject.as_str());
    }
    if let Some(before) = r.before {
        sql.push(" AND at < ").bind(to_micros(before));
    }
    if !r.kinds.is_empty() {
        sql.push(" AND kind IN ").bind_list(r.kinds.iter().copied());
    }
    sql.push(" ORDER BY seq LIMIT ").bind(limit);
    let rows = sql.query().fetch_all(tx.conn()).await?;
    let mut done = Vec::with_capacity(rows.len());
    for row in rows {
        let seq: i64 = row.try_get(0)?;
        let actor: Option<i64> = row.try_get(1)?;
        let data: String = row.try_get(2)?;
        let Some(redacted) = keying.redacted_data(seq, actor, &data) else {
            continue;
        };
        sqlx::query("UPDATE events SET actor_id = NULL, data = $1 WHERE seq = $2")
            .bind(redacted)
            .bind(seq)
            .execute(tx.conn())
            .await?;
        done.push(seq);
    }
    Ok(done)
}
