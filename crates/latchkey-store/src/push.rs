//! Web Push subscriptions (one per browser that turned notifications on) and the server's own
//! key pairs (the VAPID key), as schema 22 keeps them.

use jiff::Timestamp;
use latchkey_core::PersonId;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result, StoreError};

/// A browser's push subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub id: i64,
    pub person_id: PersonId,
    /// The push service's URL for this browser (a capability: never shown to others).
    pub endpoint: String,
    /// The browser's P-256 public key, uncompressed (65 bytes).
    pub p256dh: Vec<u8>,
    /// The browser's authentication secret (16 bytes).
    pub auth: Vec<u8>,
    pub name: String,
    pub created_at: Timestamp,
    pub last_sent_at: Option<Timestamp>,
}

/// A subscription to write.
#[derive(Clone, Debug)]
pub struct NewSubscription<'a> {
    pub person: PersonId,
    pub endpoint: &'a str,
    pub p256dh: &'a [u8],
    pub auth: &'a [u8],
    pub name: &'a str,
}

const COLUMNS: &str = "id, person_id, endpoint, p256dh, auth, name, created_at, last_sent_at";

fn row(r: &AnyRow) -> Result<Subscription> {
    Ok(Subscription {
        id: r.try_get("id")?,
        person_id: PersonId(r.try_get("person_id")?),
        endpoint: r.try_get("endpoint")?,
        p256dh: r.try_get("p256dh")?,
        auth: r.try_get("auth")?,
        name: r.try_get("name")?,
        created_at: from_micros(r.try_get("created_at")?)?,
        last_sent_at: opt_from_micros(r.try_get("last_sent_at")?)?,
    })
}

/// The subscription with this endpoint, whoever's it is.
///
/// # Errors
/// `Database` on a failed read.
pub async fn by_endpoint(conn: &mut Conn, endpoint: &str) -> Result<Option<Subscription>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM push_subscriptions WHERE endpoint = $1"
    )))
    .bind(endpoint.to_owned())
    .fetch_optional(conn)
    .await?;
    r.as_ref().map(row).transpose()
}

/// The subscription with this id, whoever's it is.
///
/// # Errors
/// `Database` on a failed read.
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Subscription>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM push_subscriptions WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    r.as_ref().map(row).transpose()
}

/// A person's subscriptions, oldest first.
///
/// # Errors
/// `Database` on a failed read.
pub async fn of_person(conn: &mut Conn, person: PersonId) -> Result<Vec<Subscription>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM push_subscriptions WHERE person_id = $1 ORDER BY id"
    )))
    .bind(person.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(row).collect()
}

/// Writes a new subscription.
///
/// # Errors
/// `Conflict` when the endpoint is taken (by anyone); `Database` otherwise.
pub async fn insert(
    conn: &mut Conn,
    s: &NewSubscription<'_>,
    at: Timestamp,
) -> Result<Subscription> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO push_subscriptions (person_id, endpoint, p256dh, auth, name, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    )))
    .bind(s.person.0)
    .bind(s.endpoint.to_owned())
    .bind(s.p256dh.to_vec())
    .bind(s.auth.to_vec())
    .bind(s.name.to_owned())
    .bind(to_micros(at))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    row(&r)
}

/// Replaces the keys and name of subscription `id` (the browser subscribed again with the
/// same endpoint).
///
/// # Errors
/// `Database` on a failed write.
pub async fn refresh(conn: &mut Conn, id: i64, s: &NewSubscription<'_>) -> Result<()> {
    sqlx::query("UPDATE push_subscriptions SET p256dh = $1, auth = $2, name = $3 WHERE id = $4")
        .bind(s.p256dh.to_vec())
        .bind(s.auth.to_vec())
        .bind(s.name.to_owned())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes subscription `id`. Returns whether there was one.
///
/// # Errors
/// `Database` on a failed write.
pub async fn delete(conn: &mut Conn, id: i64) -> Result<bool> {
    let done = sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes every subscription of a person (erasure). Returns how many.
///
/// # Errors
/// `Database` on a failed write.
pub async fn delete_of_person(conn: &mut Conn, person: PersonId) -> Result<u64> {
    let done = sqlx::query("DELETE FROM push_subscriptions WHERE person_id = $1")
        .bind(person.0)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Records a message accepted by the push service for subscription `id`.
///
/// # Errors
/// `Database` on a failed write.
pub async fn mark_sent(conn: &mut Conn, id: i64, at: Timestamp) -> Result<()> {
    sqlx::query("UPDATE push_subscriptions SET last_sent_at = $1 WHERE id = $2")
        .bind(to_micros(at))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A server key pair as stored: the private key sealed, the public key in clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerKey {
    pub sealed: Vec<u8>,
    pub public_key: Vec<u8>,
}

/// The server key named `name`, if made.
///
/// # Errors
/// `Database` on a failed read.
pub async fn server_key(conn: &mut Conn, name: &str) -> Result<Option<ServerKey>> {
    let r = sqlx::query("SELECT sealed, public_key FROM server_keys WHERE name = $1")
        .bind(name.to_owned())
        .fetch_optional(conn)
        .await?;
    r.map(|r| {
        Ok(ServerKey {
            sealed: r.try_get("sealed")?,
            public_key: r.try_get("public_key")?,
        })
    })
    .transpose()
}

/// Stores server key `name` unless one is stored already (another replica made it first);
/// the caller reads it back to learn which won.
///
/// # Errors
/// `Database` on a failed write.
pub async fn offer_server_key(
    conn: &mut Conn,
    name: &str,
    key: &ServerKey,
    at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO server_keys (name, sealed, public_key, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name.to_owned())
    .bind(key.sealed.clone())
    .bind(key.public_key.clone())
    .bind(to_micros(at))
    .execute(conn)
    .await?;
    Ok(())
}
