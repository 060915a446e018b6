//! Webhook endpoints of a property, the cursor that routes the audit log to them, and the
//! in-order claim of their deliveries (docs/ARCHITECTURE.md, decisions 53–54).
//!
//! A webhook delivery is an outbox delivery (`channel = 'webhook'`, `target` = the endpoint's
//! id) of a notification written for it, already marked routed so the e-mail router leaves it
//! alone. Its body is the payload, frozen when the event was routed.
//!
//! **In order per endpoint**: the generic claim skips webhook rows; [`claim_in_order`] looks at
//! each enabled endpoint's oldest pending delivery (its head) and claims the head and the
//! pending rows after it only when the head is due and nobody holds it. A delivery in backoff
//! so holds back every later one of its endpoint; other endpoints go on.

use jiff::Timestamp;
use latchkey_core::{PersonId, PropertyId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::outbox::{COLUMNS, Delivery, delivery_row};
use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::sql::Sql;
use crate::{Backend, Conn, Result, StoreError};

/// The channel name of webhook deliveries.
pub const CHANNEL: &str = "webhook";

/// An endpoint as stored (its secrets sealed).
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub id: i64,
    pub property_id: PropertyId,
    pub created_by: PersonId,
    pub url: String,
    pub description: String,
    /// The event kinds it receives.
    pub kinds: Vec<String>,
    pub enabled: bool,
    /// Why it was disabled (by its owner, a 410 from the receiver, a day of failures).
    pub disabled_reason: Option<String>,
    pub secret: Vec<u8>,
    pub previous_secret: Option<Vec<u8>>,
    pub previous_until: Option<Timestamp>,
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const ENDPOINT_COLUMNS: &str = "id, property_id, created_by, url, description, kinds, enabled, \
     disabled_reason, secret, previous_secret, previous_until, failing_since, created_at, \
     updated_at";

fn endpoint_row(r: &AnyRow) -> Result<Endpoint> {
    let kinds: String = r.try_get("kinds")?;
    Ok(Endpoint {
        id: r.try_get("id")?,
        property_id: PropertyId(r.try_get("property_id")?),
        created_by: PersonId(r.try_get("created_by")?),
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        kinds: serde_json::from_str(&kinds)
            .map_err(|e| StoreError::Corrupt(format!("webhook kinds: {e}")))?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        disabled_reason: r.try_get("disabled_reason")?,
        secret: r.try_get("secret")?,
        previous_secret: r.try_get("previous_secret")?,
        previous_until: opt_from_micros(r.try_get("previous_until")?)?,
        failing_since: opt_from_micros(r.try_get("failing_since")?)?,
        created_at: from_micros(r.try_get("created_at")?)?,
        updated_at: from_micros(r.try_get("updated_at")?)?,
    })
}

/// What a new endpoint holds; its secret is sealed after its id is known ([`set_secret`]).
#[derive(Clone, Debug, PartialEq)]
pub struct NewEndpoint {
    pub property_id: PropertyId,
    pub created_by: PersonId,
    pub url: String,
    pub description: String,
    pub kinds: Vec<String>,
}

fn kinds_json(kinds: &[String]) -> String {
    serde_json::Value::from(kinds.to_vec()).to_string()
}

/// Writes a new endpoint, enabled, with an empty secret.
///
/// # Errors
/// `MissingReference` for an unknown property or person; `Database` otherwise.
pub async fn create(conn: &mut Conn, e: &NewEndpoint, at: Timestamp) -> Result<Endpoint> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO webhook_endpoints (property_id, created_by, url, description, kinds, \
         secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         RETURNING {ENDPOINT_COLUMNS}"
    )))
    .bind(e.property_id.0)
    .bind(e.created_by.0)
    .bind(e.url.clone())
    .bind(e.description.clone())
    .bind(kinds_json(&e.kinds))
    .bind(Vec::<u8>::new())
    .bind(to_micros(at))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    endpoint_row(&row)
}

/// One endpoint.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a row this binary cannot read.
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Endpoint>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(endpoint_row).transpose()
}

/// The endpoints of a property, by id.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a row this binary cannot read.
pub async fn of_property(conn: &mut Conn, property: PropertyId) -> Result<Vec<Endpoint>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE property_id = $1 ORDER BY id"
    )))
    .bind(property.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(endpoint_row).collect()
}

/// Every enabled endpoint, by id.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a row this binary cannot read.
pub async fn enabled(conn: &mut Conn) -> Result<Vec<Endpoint>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE enabled = 1 ORDER BY id"
    )))
    .fetch_all(conn)
    .await?;
    rows.iter().map(endpoint_row).collect()
}

/// Replaces what an owner may change; `None` when no endpoint has this id.
///
/// # Errors
/// `Database` on a failed write.
pub async fn update(
    conn: &mut Conn,
    id: i64,
    kinds: &[String],
    description: &str,
    enabled: bool,
    at: Timestamp,
) -> Result<Option<Endpoint>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_endpoints SET kinds = $1, description = $2, enabled = $3, \
         disabled_reason = CASE WHEN $3 = 1 THEN NULL ELSE COALESCE(disabled_reason, 'disabled by its owner') END, \
         failing_since = CASE WHEN $3 = 1 THEN NULL ELSE failing_since END, updated_at = $4 \
         WHERE id = $5 RETURNING {ENDPOINT_COLUMNS}"
    )))
    .bind(kinds_json(kinds))
    .bind(description.to_owned())
    .bind(i64::from(enabled))
    .bind(to_micros(at))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(endpoint_row).transpose()
}

/// Replaces the sealed secret; the previous one, when given, stays valid until its instant.
///
/// # Errors
/// `Database` on a failed write.
pub async fn set_secret(
    conn: &mut Conn,
    id: i64,
    secret: &[u8],
    previous: Option<(&[u8], Timestamp)>,
    at: Timestamp,
) -> Result<Option<Endpoint>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_endpoints SET secret = $1, previous_secret = $2, previous_until = $3, \
         updated_at = $4 WHERE id = $5 RETURNING {ENDPOINT_COLUMNS}"
    )))
    .bind(secret.to_vec())
    .bind(previous.map(|(s, _)| s.to_vec()))
    .bind(previous.map(|(_, t)| to_micros(t)))
    .bind(to_micros(at))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(endpoint_row).transpose()
}

/// Deletes an endpoint and what it has not been sent yet. Returns whether it existed.
///
/// # Errors
/// `Database` on a failed write.
pub async fn delete(conn: &mut Conn, id: i64) -> Result<bool> {
    sqlx::query("DELETE FROM deliveries WHERE channel = $1 AND target = $2 AND state <> 'sent'")
        .bind(CHANNEL)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the outcome of an attempt for the endpoint's failure run: a success ends it, a
/// failure starts it at `at` unless it runs already. Returns the run's start (`None` after a
/// success).
///
/// # Errors
/// `Database` on a failed write.
pub async fn record_outcome(
    conn: &mut Conn,
    id: i64,
    ok: bool,
    at: Timestamp,
) -> Result<Option<Timestamp>> {
    let since: Option<Option<i64>> = if ok {
        sqlx::query_scalar(
            "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 \
             RETURNING failing_since",
        )
        .bind(id)
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_scalar(
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1) \
             WHERE id = $2 RETURNING failing_since",
        )
        .bind(to_micros(at))
        .bind(id)
        .fetch_optional(conn)
        .await?
    };
    opt_from_micros(since.flatten())
}

/// Disables an enabled endpoint, saying why. Returns the endpoint when this call disabled it.
///
/// # Errors
/// `Database` on a failed write.
pub async fn disable(
    conn: &mut Conn,
    id: i64,
    reason: &str,
    at: Timestamp,
) -> Result<Option<Endpoint>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 \
         WHERE id = $3 AND enabled = 1 RETURNING {ENDPOINT_COLUMNS}"
    )))
    .bind(reason.chars().take(300).collect::<String>())
    .bind(to_micros(at))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(endpoint_row).transpose()
}

/// The audit log's last sequence number routed to endpoints, locked for the caller's
/// transaction on PostgreSQL (one router at a time; SQLite's write transaction serialises).
///
/// # Errors
/// `Database` on a failed read.
pub async fn cursor(conn: &mut Conn, backend: Backend) -> Result<i64> {
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT seq FROM webhook_cursor WHERE id = 1{lock}"
    )))
    .fetch_one(conn)
    .await?)
}

/// Moves the cursor.
///
/// # Errors
/// `Database` on a failed write.
pub async fn set_cursor(conn: &mut Conn, seq: i64) -> Result<()> {
    sqlx::query("UPDATE webhook_cursor SET seq = $1 WHERE id = 1")
        .bind(seq)
        .execute(conn)
        .await?;
    Ok(())
}

/// An event of the log as the router reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedEvent {
    pub seq: i64,
    pub at: Timestamp,
    pub property_id: Option<PropertyId>,
    pub actor_id: Option<PersonId>,
    pub kind: String,
    pub subject: String,
    pub data: serde_json::Value,
}

/// Up to `limit` events after `seq`, oldest first.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for data that is not JSON.
pub async fn events_after(conn: &mut Conn, seq: i64, limit: i64) -> Result<Vec<LoggedEvent>> {
    let rows = sqlx::query(
        "SELECT seq, at, property_id, actor_id, kind, subject, data FROM events \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(seq)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let data: String = r.try_get("data")?;
            Ok(LoggedEvent {
                seq: r.try_get("seq")?,
                at: from_micros(r.try_get("at")?)?,
                property_id: r.try_get::<Option<i64>, _>("property_id")?.map(PropertyId),
                actor_id: r.try_get::<Option<i64>, _>("actor_id")?.map(PersonId),
                kind: r.try_get("kind")?,
                subject: r.try_get("subject")?,
                data: serde_json::from_str(&data)
                    .map_err(|e| StoreError::Corrupt(format!("event data: {e}")))?,
            })
        })
        .collect()
}

/// A message for one endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Queued {
    pub endpoint: i64,
    pub property_id: PropertyId,
    /// The endpoint's owner (the notification row needs a person).
    pub owner: PersonId,
    pub kind: String,
    pub body: serde_json::Value,
}

/// Writes each message as a notification, routed already, and its webhook delivery, due `at`.
///
/// # Errors
/// `Database` on a failed write.
pub async fn queue(conn: &mut Conn, messages: &[Queued], at: Timestamp) -> Result<()> {
    let at = to_micros(at);
    for m in messages {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO notifications (property_id, person_id, kind, body, created_at, \
             routed_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(m.property_id.0)
        .bind(m.owner.0)
        .bind(m.kind.clone())
        .bind(m.body.to_string())
        .bind(at)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO deliveries (notification_id, channel, target, created_at, retry_from, \
             next_attempt_at) VALUES ($1, $2, $3, $4, $4, $4)",
        )
        .bind(id)
        .bind(CHANNEL)
        .bind(m.endpoint.to_string())
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Claims, for `worker` until `until`, up to `per_endpoint` pending deliveries of each of
/// `endpoints` whose oldest pending delivery is due at `now` and held by nobody; returns them
/// per endpoint, oldest first. Only the run from the oldest on is returned: a row another worker
/// took meanwhile ends the run.
///
/// # Errors
/// `Database` on a failed write; `Corrupt` for a row this binary cannot read.
pub async fn claim_in_order(
    conn: &mut Conn,
    backend: Backend,
    endpoints: &[i64],
    worker: &str,
    now: Timestamp,
    until: Timestamp,
    per_endpoint: i64,
) -> Result<Vec<(i64, Vec<Delivery>)>> {
    // FOR UPDATE (no SKIP LOCKED): a second worker waits for the first to commit and then
    // sees the head taken, rather than claiming the rows after it.
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let now_us = to_micros(now);
    let mut out = Vec::new();
    for &endpoint in endpoints {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, next_attempt_at, claimed_until FROM deliveries \
             WHERE channel = $1 AND target = $2 AND state = 'pending' ORDER BY id LIMIT $3{lock}"
        )))
        .bind(CHANNEL)
        .bind(endpoint.to_string())
        .bind(per_endpoint)
        .fetch_all(&mut *conn)
        .await?;
        let Some(head) = rows.first() else { continue };
        let due: i64 = head.try_get("next_attempt_at")?;
        let held: Option<i64> = head.try_get("claimed_until")?;
        if due > now_us || held.is_some_and(|h| h > now_us) {
            continue;
        }
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        let mut sql = Sql::new(backend, "UPDATE deliveries SET claimed_by = ");
        sql.bind(worker)
            .push(", claimed_until = ")
            .bind(to_micros(until))
            .push(" WHERE state = 'pending' AND (claimed_until IS NULL OR claimed_until <= ")
            .bind(now_us)
            .push(") AND id IN ")
            .bind_list(ids.iter().copied())
            .push(" RETURNING id");
        let claimed: Vec<i64> = sql
            .query()
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<std::result::Result<_, _>>()?;
        let run: Vec<i64> = ids
            .iter()
            .copied()
            .take_while(|id| claimed.contains(id))
            .collect();
        let stray: Vec<i64> = claimed
            .iter()
            .copied()
            .filter(|id| !run.contains(id))
            .collect();
        if !stray.is_empty() {
            release(conn, backend, &stray, worker).await?;
        }
        if run.is_empty() {
            continue;
        }
        out.push((endpoint, by_ids(conn, backend, &run).await?));
    }
    Ok(out)
}

async fn by_ids(conn: &mut Conn, backend: Backend, ids: &[i64]) -> Result<Vec<Delivery>> {
    let mut sql = Sql::new(backend, "SELECT ");
    sql.push(COLUMNS)
        .push(" FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE d.id IN ")
        .bind_list(ids.iter().copied())
        .push(" ORDER BY d.id");
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(delivery_row).collect()
}

/// Records deliveries as sent, those `worker` still holds. Returns how many it recorded.
///
/// # Errors
/// `Database` on a failed write.
pub async fn mark_sent(
    conn: &mut Conn,
    backend: Backend,
    ids: &[i64],
    worker: &str,
    at: Timestamp,
) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new(backend, "UPDATE deliveries SET state = 'sent', sent_at = ");
    sql.bind(to_micros(at))
        .push(
            ", attempts = attempts + 1, claimed_by = NULL, claimed_until = NULL, \
             last_error = NULL WHERE state = 'pending' AND claimed_by = ",
        )
        .bind(worker)
        .push(" AND id IN ")
        .bind_list(ids.iter().copied());
    Ok(sql.query().execute(conn).await?.rows_affected())
}

/// Gives back claims not used (rows after a failed one), so that they wait their turn.
///
/// # Errors
/// `Database` on a failed write.
pub async fn release(conn: &mut Conn, backend: Backend, ids: &[i64], worker: &str) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(
        backend,
        "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ",
    );
    sql.bind(worker)
        .push(" AND id IN ")
        .bind_list(ids.iter().copied());
    sql.query().execute(conn).await?;
    Ok(())
}

/// The managers and installers of a property in force at `at` (whom a disabled endpoint is
/// told of).
///
/// # Errors
/// `Database` on a failed read.
pub async fn staff_of(
    conn: &mut Conn,
    property: PropertyId,
    at: Timestamp,
) -> Result<Vec<PersonId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT person_id FROM memberships WHERE property_id = $1 \
         AND role IN ('manager', 'installer') AND (valid_from IS NULL OR valid_from <= $2) \
         AND (valid_until IS NULL OR valid_until > $2) ORDER BY person_id",
    )
    .bind(property.0)
    .bind(to_micros(at))
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().map(PersonId).collect())
}

/// Whether the log has events the webhook router has not read.
///
/// # Errors
/// `Database` on a failed read.
pub async fn events_waiting(conn: &mut Conn) -> Result<bool> {
    let row = sqlx::query(
        "SELECT COALESCE((SELECT MAX(seq) FROM events), 0) AS head, \
         (SELECT seq FROM webhook_cursor WHERE id = 1) AS routed",
    )
    .fetch_one(conn)
    .await?;
    let head: i64 = row.try_get("head")?;
    let routed: i64 = row.try_get("routed")?;
    Ok(head > routed)
}
