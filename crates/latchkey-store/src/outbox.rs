//! The delivery outbox: one row per notification and channel, claimed by one worker at a time.
//!
//! A claim is a lease: the worker's name and an instant after which the claim lapses, written
//! by one atomic `UPDATE … RETURNING`. On PostgreSQL the rows to claim are picked with
//! `FOR UPDATE SKIP LOCKED`, so workers on several replicas take disjoint rows without waiting
//! for each other; on SQLite the write transaction (`BEGIN IMMEDIATE`) serialises claims. A
//! worker killed mid-delivery leaves its claim behind; the row becomes claimable again when
//! the lease ends, and is sent again (at least once; its id stays the same, so the receiver
//! can drop the duplicate). Every completion names its claimer and does nothing when another
//! worker has taken the row meanwhile.

use jiff::Timestamp;
use latchkey_core::{LockoutCaseId, PersonId, PropertyId};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::sql::Sql;
use crate::{Backend, Conn, Result, StoreError};

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not sent yet: waiting for its first attempt or for a retry.
    Pending,
    Sent,
    /// Given up on after the retry horizon (or refused for good); waits for a redelivery.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sent => "sent",
            DeliveryState::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Result<DeliveryState> {
        match s {
            "pending" => Ok(DeliveryState::Pending),
            "sent" => Ok(DeliveryState::Sent),
            "dead" => Ok(DeliveryState::Dead),
            other => Err(StoreError::Corrupt(format!("delivery state `{other}`"))),
        }
    }
}

/// A notification not routed yet.
#[derive(Clone, Debug, PartialEq)]
pub struct Unrouted {
    pub id: i64,
    pub person_id: PersonId,
    pub kind: String,
    pub created_at: Timestamp,
}

/// A delivery to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDelivery {
    pub notification_id: i64,
    pub channel: String,
    pub target: String,
    /// The first attempt waits until then (quiet hours), or `created` for at once.
    pub first_attempt: Timestamp,
}

/// A delivery and what it carries, as a worker or a reader sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub notification_id: i64,
    pub channel: String,
    pub target: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub created_at: Timestamp,
    pub retry_from: Timestamp,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub sent_at: Option<Timestamp>,
    pub dead_at: Option<Timestamp>,
    pub property_id: Option<PropertyId>,
    pub person_id: PersonId,
    pub kind: String,
    pub case_id: Option<LockoutCaseId>,
    /// The notification's body (secrets in it are sealed).
    #[serde(skip)]
    pub body: serde_json::Value,
}

pub(crate) const COLUMNS: &str = "d.id, d.notification_id, d.channel, d.target, d.state, d.attempts, \
     d.created_at, d.retry_from, d.next_attempt_at, d.last_error, d.sent_at, d.dead_at, \
     n.property_id, n.person_id, n.kind, n.case_id, n.body";

pub(crate) fn delivery_row(r: &AnyRow) -> Result<Delivery> {
    let state: String = r.try_get("state")?;
    let body: String = r.try_get("body")?;
    Ok(Delivery {
        id: r.try_get("id")?,
        notification_id: r.try_get("notification_id")?,
        channel: r.try_get("channel")?,
        target: r.try_get("target")?,
        state: DeliveryState::parse(&state)?,
        attempts: r.try_get("attempts")?,
        created_at: from_micros(r.try_get("created_at")?)?,
        retry_from: from_micros(r.try_get("retry_from")?)?,
        next_attempt_at: from_micros(r.try_get("next_attempt_at")?)?,
        last_error: r.try_get("last_error")?,
        sent_at: opt_from_micros(r.try_get("sent_at")?)?,
        dead_at: opt_from_micros(r.try_get("dead_at")?)?,
        property_id: r.try_get::<Option<i64>, _>("property_id")?.map(PropertyId),
        person_id: PersonId(r.try_get("person_id")?),
        kind: r.try_get("kind")?,
        case_id: r.try_get::<Option<i64>, _>("case_id")?.map(LockoutCaseId),
        body: serde_json::from_str(&body)
            .map_err(|e| StoreError::Corrupt(format!("notification body: {e}")))?,
    })
}

/// Up to `limit` notifications not routed yet, oldest first, locked for the caller's
/// transaction (on PostgreSQL, rows another worker holds are skipped).
///
/// # Errors
/// `Database` on a failed read.
pub async fn unrouted(conn: &mut Conn, backend: Backend, limit: i64) -> Result<Vec<Unrouted>> {
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, person_id, kind, created_at FROM notifications WHERE routed_at IS NULL \
         ORDER BY id LIMIT $1{lock}"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Unrouted {
                id: r.try_get("id")?,
                person_id: PersonId(r.try_get("person_id")?),
                kind: r.try_get("kind")?,
                created_at: from_micros(r.try_get("created_at")?)?,
            })
        })
        .collect()
}

/// Writes the deliveries (a pair of notification and channel that exists already is left as
/// it is) and marks their notifications, `routed`, routed at `at`.
///
/// # Errors
/// `Database` on a failed write.
pub async fn route(
    conn: &mut Conn,
    backend: Backend,
    routed: &[i64],
    deliveries: &[NewDelivery],
    at: Timestamp,
) -> Result<()> {
    for d in deliveries {
        sqlx::query(
            "INSERT INTO deliveries (notification_id, channel, target, created_at, retry_from, \
             next_attempt_at) VALUES ($1, $2, $3, $4, $4, $5) \
             ON CONFLICT (notification_id, channel, target) DO NOTHING",
        )
        .bind(d.notification_id)
        .bind(d.channel.clone())
        .bind(d.target.clone())
        .bind(to_micros(at))
        .bind(to_micros(d.first_attempt))
        .execute(&mut *conn)
        .await?;
    }
    if !routed.is_empty() {
        let mut sql = Sql::new(backend, "UPDATE notifications SET routed_at = ");
        sql.bind(to_micros(at))
            .push(" WHERE id IN ")
            .bind_list(routed.iter().copied());
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Claims up to `limit` pending deliveries due at `now` whose claim (if any) has lapsed, for
/// `worker` until `until`; returns them, oldest due first. Webhook deliveries are claimed in
/// order per endpoint instead ([`crate::webhooks::claim_in_order`]).
///
/// # Errors
/// `Database` on a failed write.
pub async fn claim(
    conn: &mut Conn,
    backend: Backend,
    worker: &str,
    now: Timestamp,
    until: Timestamp,
    limit: i64,
) -> Result<Vec<Delivery>> {
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "UPDATE deliveries SET claimed_by = $1, claimed_until = $2 WHERE id IN (\
         SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= $3 \
         AND (claimed_until IS NULL OR claimed_until <= $3) AND channel <> 'webhook' \
         ORDER BY next_attempt_at, id LIMIT $4{lock}) RETURNING id"
    )))
    .bind(worker.to_owned())
    .bind(to_micros(until))
    .bind(to_micros(now))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(d) = get(conn, id).await? {
            out.push(d);
        }
    }
    out.sort_by_key(|d| (d.next_attempt_at, d.id));
    Ok(out)
}

/// One delivery with its notification.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a row this binary cannot read.
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Delivery>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
         WHERE d.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(delivery_row).transpose()
}

/// Records a delivery as sent, if `worker` still holds it. Returns whether it did.
///
/// # Errors
/// `Database` on a failed write.
pub async fn mark_sent(conn: &mut Conn, id: i64, worker: &str, at: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'sent', sent_at = $1, attempts = attempts + 1, \
         claimed_by = NULL, claimed_until = NULL, last_error = NULL \
         WHERE id = $2 AND claimed_by = $3 AND state = 'pending'",
    )
    .bind(to_micros(at))
    .bind(id)
    .bind(worker.to_owned())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt, if `worker` still holds the delivery: retried at `retry_at`, or
/// dead-lettered at `at` when `retry_at` is `None`. Returns whether it did.
///
/// # Errors
/// `Database` on a failed write.
pub async fn mark_failed(
    conn: &mut Conn,
    id: i64,
    worker: &str,
    at: Timestamp,
    retry_at: Option<Timestamp>,
    error: &str,
) -> Result<bool> {
    let (state, next, dead) = match retry_at {
        Some(t) => ("pending", to_micros(t), None),
        None => ("dead", to_micros(at), Some(to_micros(at))),
    };
    let done = sqlx::query(
        "UPDATE deliveries SET state = $1, next_attempt_at = $2, dead_at = $3, \
         attempts = attempts + 1, last_error = $4, claimed_by = NULL, claimed_until = NULL \
         WHERE id = $5 AND claimed_by = $6 AND state = 'pending'",
    )
    .bind(state)
    .bind(next)
    .bind(dead)
    .bind(error.chars().take(500).collect::<String>())
    .bind(id)
    .bind(worker.to_owned())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts a dead or failing delivery back in line at `at`, its retry horizon restarted. Returns
/// whether it did (a sent delivery is not sent again).
///
/// # Errors
/// `Database` on a failed write.
pub async fn redeliver(conn: &mut Conn, id: i64, at: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'pending', retry_from = $1, next_attempt_at = $1, \
         dead_at = NULL, claimed_by = NULL, claimed_until = NULL WHERE id = $2 AND state <> 'sent'",
    )
    .bind(to_micros(at))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Which deliveries a reader asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// Dead letters.
    Dead,
    /// Pending deliveries that have failed at least once.
    Failing,
}

/// Dead or failing deliveries, newest first, of `property` (or of every property and none,
/// for `None`), at most `limit`.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a row this binary cannot read.
pub async fn troubled(
    conn: &mut Conn,
    backend: Backend,
    property: Option<PropertyId>,
    which: Trouble,
    limit: i64,
) -> Result<Vec<Delivery>> {
    let mut sql = Sql::new(backend, "SELECT ");
    sql.push(COLUMNS)
        .push(" FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE ");
    sql.push(match which {
        Trouble::Dead => "d.state = 'dead'",
        Trouble::Failing => "d.state = 'pending' AND d.attempts > 0",
    });
    if let Some(p) = property {
        sql.push(" AND n.property_id = ").bind(p.0);
    }
    sql.push(" ORDER BY d.id DESC LIMIT ").bind(limit);
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(delivery_row).collect()
}

/// Every delivery of one notification, by id.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a row this binary cannot read.
pub async fn of_notification(conn: &mut Conn, notification: i64) -> Result<Vec<Delivery>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
         WHERE d.notification_id = $1 ORDER BY d.id"
    )))
    .bind(notification)
    .fetch_all(conn)
    .await?;
    rows.iter().map(delivery_row).collect()
}

/// A person's stored preferences (JSON), if they set any.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a body that is not JSON.
pub async fn preferences(conn: &mut Conn, person: PersonId) -> Result<Option<serde_json::Value>> {
    let body: Option<String> =
        sqlx::query_scalar("SELECT body FROM notification_preferences WHERE person_id = $1")
            .bind(person.0)
            .fetch_optional(conn)
            .await?;
    body.map(|b| {
        serde_json::from_str(&b)
            .map_err(|e| StoreError::Corrupt(format!("notification preferences: {e}")))
    })
    .transpose()
}

/// Replaces a person's preferences.
///
/// # Errors
/// `Database` on a failed write.
pub async fn set_preferences(
    conn: &mut Conn,
    person: PersonId,
    body: &serde_json::Value,
    at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO notification_preferences (person_id, body, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (person_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(person.0)
    .bind(body.to_string())
    .bind(to_micros(at))
    .execute(conn)
    .await?;
    Ok(())
}
