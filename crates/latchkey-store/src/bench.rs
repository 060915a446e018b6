//! Bulk writers for `latchkey bench` only. They skip every rule the app layer enforces (no
//! validation, no audit events, no PIN sealing) to build large data sets quickly, so nothing but
//! the benchmarks may call them. Each writes in one transaction with multi-row inserts.

use jiff::Timestamp;
use latchkey_core::model::{CredentialKind, CredentialStatus, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{CredentialId, DoorId, PersonId, PropertyId, UnitId};
use sqlx::QueryBuilder;

use crate::audit::NewEvent;
use crate::records::to_micros;
use crate::{Result, Store, StoreError};

/// SQLite binds at most 32,766 values per statement; these keep every batch under it.
const CREDENTIAL_ROWS: usize = 2_000;
const LINK_ROWS: usize = 10_000;
const PEOPLE_ROWS: usize = 4_000;

/// A credential to insert in bulk.
#[derive(Clone, Debug)]
pub struct BulkCredential {
    pub person_id: PersonId,
    pub unit_id: Option<UnitId>,
    pub kind: CredentialKind,
    pub status: CredentialStatus,
    pub schedule: Schedule,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub doors: Vec<DoorId>,
}

/// A person with one membership, to insert in bulk.
#[derive(Clone, Debug)]
pub struct BulkPerson {
    pub name: String,
    pub unit_id: Option<UnitId>,
    pub role: Role,
}

async fn next_id(conn: &mut crate::Conn, table: &'static str) -> Result<i64> {
    let sql = match table {
        "credentials" => "SELECT COALESCE(MAX(id), 0) FROM credentials",
        "people" => "SELECT COALESCE(MAX(id), 0) FROM people",
        _ => return Err(StoreError::Corrupt(format!("no id sequence for {table}"))),
    };
    let max: i64 = sqlx::query_scalar(sql).fetch_one(conn).await?;
    Ok(max + 1)
}

/// Inserts people and their memberships at `property`; returns their ids in input order.
///
/// # Errors
/// `Database` on any failure (nothing is written).
pub async fn insert_people(
    store: &Store,
    property: PropertyId,
    people: &[BulkPerson],
    at: Timestamp,
) -> Result<Vec<PersonId>> {
    let mut tx = store.write().await?;
    let first = next_id(tx.conn(), "people").await?;
    let at = to_micros(at);
    let rows: Vec<(i64, &BulkPerson)> = people
        .iter()
        .enumerate()
        .map(|(i, p)| (first + i as i64, p))
        .collect();
    for chunk in rows.chunks(PEOPLE_ROWS) {
        let mut qb: QueryBuilder<sqlx::Any> =
            QueryBuilder::new("INSERT INTO people (id, name, is_admin, created_at) ");
        qb.push_values(chunk, |mut b, (id, p)| {
            b.push_bind(*id)
                .push_bind(p.name.clone())
                .push_bind(false)
                .push_bind(at);
        });
        qb.build()
            .execute(tx.conn())
            .await
            .map_err(StoreError::classify)?;
        let mut qb: QueryBuilder<sqlx::Any> = QueryBuilder::new(
            "INSERT INTO memberships (person_id, property_id, unit_id, role, created_at) ",
        );
        qb.push_values(chunk, |mut b, (id, p)| {
            b.push_bind(*id)
                .push_bind(property.0)
                .push_bind(p.unit_id.map(|u| u.0))
                .push_bind(p.role.as_str())
                .push_bind(at);
        });
        qb.build()
            .execute(tx.conn())
            .await
            .map_err(StoreError::classify)?;
    }
    tx.commit().await?;
    Ok(rows.iter().map(|(id, _)| PersonId(*id)).collect())
}

/// Inserts credentials and their `credential_doors` rows at `property`; returns their ids in
/// input order. No PIN secrets or digests are written.
///
/// # Errors
/// `Database` on any failure (nothing is written); `Corrupt` when a schedule cannot be encoded.
pub async fn insert_credentials(
    store: &Store,
    property: PropertyId,
    creds: &[BulkCredential],
    at: Timestamp,
) -> Result<Vec<CredentialId>> {
    let mut tx = store.write().await?;
    let first = next_id(tx.conn(), "credentials").await?;
    let at = to_micros(at);
    let mut rows = Vec::with_capacity(creds.len());
    for (i, c) in creds.iter().enumerate() {
        let schedule =
            serde_json::to_string(&c.schedule).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        rows.push((first + i as i64, c, schedule));
    }
    for chunk in rows.chunks(CREDENTIAL_ROWS) {
        let mut qb: QueryBuilder<sqlx::Any> = QueryBuilder::new(
            "INSERT INTO credentials (id, property_id, person_id, unit_id, kind, label, status, \
             schedule, max_uses, uses, duress, created_at) ",
        );
        qb.push_values(chunk, |mut b, (id, c, schedule)| {
            b.push_bind(*id)
                .push_bind(property.0)
                .push_bind(c.person_id.0)
                .push_bind(c.unit_id.map(|u| u.0))
                .push_bind(c.kind.as_str())
                .push_bind(c.kind.as_str())
                .push_bind(c.status.as_str())
                .push_bind(schedule.clone())
                .push_bind(c.max_uses)
                .push_bind(c.uses)
                .push_bind(false)
                .push_bind(at);
        });
        qb.build()
            .execute(tx.conn())
            .await
            .map_err(StoreError::classify)?;
    }
    let mut links: Vec<(i64, i64)> = Vec::new();
    for (id, c, _) in &rows {
        let mut doors = c.doors.clone();
        doors.sort_unstable();
        doors.dedup();
        links.extend(doors.into_iter().map(|d| (*id, d.0)));
    }
    for chunk in links.chunks(LINK_ROWS) {
        let mut qb: QueryBuilder<sqlx::Any> =
            QueryBuilder::new("INSERT INTO credential_doors (credential_id, door_id) ");
        qb.push_values(chunk, |mut b, (cred, door)| {
            b.push_bind(*cred).push_bind(*door);
        });
        qb.build()
            .execute(tx.conn())
            .await
            .map_err(StoreError::classify)?;
    }
    tx.commit().await?;
    Ok(rows.iter().map(|(id, _, _)| CredentialId(*id)).collect())
}

/// Creates `bench_plain_events`, a copy of the `events` columns with no chain behind it: the
/// floor that the audit append is measured against.
///
/// # Errors
/// `Database` when the table cannot be created.
pub async fn create_plain_events(store: &Store) -> Result<()> {
    let mut tx = store.write().await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_plain_events (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, \
         property_id BIGINT, actor_id BIGINT, kind TEXT NOT NULL, subject TEXT NOT NULL, \
         data TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL)",
    )
    .execute(tx.conn())
    .await?;
    tx.commit().await
}

/// Inserts `events` into `bench_plain_events` from `first_seq` on, in one write transaction
/// (as the audit append does), with constant dummy hashes and the same multi-row statements.
///
/// # Errors
/// `Database` on any failure.
pub async fn insert_plain_events(
    store: &Store,
    first_seq: i64,
    at: Timestamp,
    events: &[NewEvent],
) -> Result<()> {
    const ROWS_PER_INSERT: usize = 1_000;
    let dummy = vec![0u8; 32];
    let at = to_micros(at);
    let mut tx = store.write().await?;
    let rows: Vec<(i64, &NewEvent, String)> = events
        .iter()
        .enumerate()
        .map(|(i, ev)| (first_seq + i as i64, ev, ev.data.to_string()))
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut qb: QueryBuilder<sqlx::Any> = QueryBuilder::new(
            "INSERT INTO bench_plain_events (seq, at, property_id, actor_id, kind, subject, data, prev_hash, hash) ",
        );
        qb.push_values(chunk, |mut b, (seq, ev, data)| {
            b.push_bind(*seq)
                .push_bind(at)
                .push_bind(ev.property_id.map(|p| p.0))
                .push_bind(ev.actor_id.map(|p| p.0))
                .push_bind(ev.kind.clone())
                .push_bind(ev.subject.clone())
                .push_bind(data.clone())
                .push_bind(dummy.clone())
                .push_bind(dummy.clone());
        });
        qb.build()
            .execute(tx.conn())
            .await
            .map_err(StoreError::classify)?;
    }
    tx.commit().await
}
