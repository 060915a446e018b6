//! The change feed: a short-lived table of "what a lock should hold changed here" (and "a
//! broker login changed"), written by whichever process made the change, read by every server
//! process. On PostgreSQL each write
//! also sends `NOTIFY latchkey_changes`, so listeners wake at once; on SQLite readers look at the
//! newest sequence number a few times a second, which costs one index lookup.

use std::time::Duration;

use jiff::Timestamp;
use latchkey_core::{CredentialId, DoorId};
use sqlx::Row;

use crate::records::to_micros;
use crate::sql::Sql;
use crate::{Backend, Conn, Result, Store, StoreError};

/// The PostgreSQL notification channel.
const CHANNEL: &str = "latchkey_changes";
/// The kind of the rows that say notifications were queued.
const OUTBOX: &str = "outbox";
/// Rows per INSERT statement.
const ROWS: usize = 1_000;

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Everything a door's lock should hold (slots, mode, settings).
    Door(DoorId),
    /// One credential on one door.
    Credential(CredentialId, DoorId),
    /// A device was paired or unpaired: a lock with this door, or (without a door) a sensor.
    Pairing(Option<DoorId>),
    /// A broker login was rotated or revoked: the process running the embedded broker checks
    /// its connected clients' logins again at once.
    BrokerLogins,
    /// Notifications were queued: the outbox workers have something to route.
    Outbox,
}

impl Change {
    fn parts(self) -> (&'static str, Option<i64>, Option<i64>) {
        match self {
            Change::Door(d) => ("door", Some(d.0), None),
            Change::Credential(c, d) => ("credential", Some(d.0), Some(c.0)),
            Change::Pairing(d) => ("pairing", d.map(|d| d.0), None),
            Change::BrokerLogins => ("broker_logins", None, None),
            Change::Outbox => (OUTBOX, None, None),
        }
    }
}

/// One row of the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedRow {
    pub seq: i64,
    /// The process that made the change.
    pub origin: String,
    pub change: Change,
}

/// Records `changes` made by `origin`, and on PostgreSQL wakes the listeners.
///
/// # Errors
/// The database refused the write.
pub async fn append(
    conn: &mut Conn,
    backend: Backend,
    at: Timestamp,
    origin: &str,
    changes: &[Change],
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let at = to_micros(at);
    for chunk in changes.chunks(ROWS) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO changes (at, origin, kind, door_id, credential_id) VALUES ",
        );
        for (i, change) in chunk.iter().enumerate() {
            let (kind, door, credential) = change.parts();
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(at)
                .push(", ")
                .bind(origin)
                .push(", ")
                .bind(kind)
                .push(", ")
                .bind(door)
                .push(", ")
                .bind(credential)
                .push(")");
        }
        sql.query()
            .execute(&mut *conn)
            .await
            .map_err(StoreError::classify)?;
    }
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The rows after `seq`, oldest first, at most `limit`.
///
/// # Errors
/// The feed cannot be read, or holds a kind this binary does not know.
pub async fn after(conn: &mut Conn, seq: i64, limit: i64) -> Result<Vec<FeedRow>> {
    let rows = sqlx::query(
        "SELECT seq, origin, kind, door_id, credential_id FROM changes \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(seq)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get(2)?;
            let door: Option<i64> = row.try_get(3)?;
            let door = door.map(DoorId);
            let credential: Option<i64> = row.try_get(4)?;
            let change = match (kind.as_str(), door, credential) {
                ("door", Some(d), _) => Change::Door(d),
                ("pairing", d, _) => Change::Pairing(d),
                ("broker_logins", _, _) => Change::BrokerLogins,
                (OUTBOX, _, _) => Change::Outbox,
                ("credential", Some(d), Some(c)) => Change::Credential(CredentialId(c), d),
                _ => return Err(StoreError::Corrupt(format!("change kind `{kind}`"))),
            };
            Ok(FeedRow {
                seq: row.try_get(0)?,
                origin: row.try_get(1)?,
                change,
            })
        })
        .collect()
}

/// The newest sequence number (0 for an empty feed).
///
/// # Errors
/// The feed cannot be read.
pub async fn last_seq(conn: &mut Conn) -> Result<i64> {
    Ok(
        sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(seq) FROM changes")
            .fetch_one(conn)
            .await?
            .unwrap_or(0),
    )
}

/// The newest sequence number of an "outbox" row after `seq`, if any: notifications were queued
/// since then. Reads the primary key's range after `seq` only.
///
/// # Errors
/// The feed cannot be read.
pub async fn outbox_after(conn: &mut Conn, seq: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar::<_, Option<i64>>(
        "SELECT MAX(seq) FROM changes WHERE seq > $1 AND kind = $2",
    )
    .bind(seq)
    .bind(OUTBOX)
    .fetch_one(conn)
    .await?)
}

/// Removes the rows written before `before`; returns how many.
///
/// # Errors
/// The database refused the delete.
pub async fn prune(conn: &mut Conn, before: Timestamp) -> Result<u64> {
    let done = sqlx::query("DELETE FROM changes WHERE at < $1")
        .bind(to_micros(before))
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Wakes a reader of the feed when there may be something new.
pub enum Waker {
    /// PostgreSQL: a `LISTEN latchkey_changes` connection (with a slow poll as a safety net,
    /// since a notification sent while the connection was being re-established is lost).
    Listen(Box<sqlx::postgres::PgListener>),
    /// SQLite: a poll of the newest sequence number.
    Poll(Duration),
}

impl Waker {
    /// Resolves when the feed may have grown.
    pub async fn wait(&mut self) {
        match self {
            Waker::Listen(listener) => {
                // A failed receive (the connection was lost) waits a second; the listener
                // reconnects on its next call, and the caller reads the feed meanwhile.
                if let Ok(Err(e)) =
                    tokio::time::timeout(Duration::from_secs(1), listener.recv()).await
                {
                    tracing::warn!(error = %e, "listening for changes failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Waker::Poll(every) => tokio::time::sleep(*every).await,
        }
    }
}

impl Store {
    /// A way to hear of new feed rows: LISTEN on PostgreSQL, a 50 ms poll on SQLite.
    ///
    /// # Errors
    /// PostgreSQL refused the listening connection.
    pub async fn feed_waker(&self) -> Result<Waker> {
        self.waker(CHANNEL).await
    }

    /// A way to hear of new audit events, committed by any process: LISTEN on PostgreSQL
    /// (every append notifies), a 50 ms poll on SQLite.
    ///
    /// # Errors
    /// PostgreSQL refused the listening connection.
    pub async fn events_waker(&self) -> Result<Waker> {
        self.waker(crate::audit::EVENTS_CHANNEL).await
    }

    async fn waker(&self, channel: &str) -> Result<Waker> {
        match (self.backend(), self.url()) {
            (Backend::Postgres, Some(url)) => {
                let mut listener = sqlx::postgres::PgListener::connect(url).await?;
                listener.listen(channel).await?;
                Ok(Waker::Listen(Box::new(listener)))
            }
            _ => Ok(Waker::Poll(Duration::from_millis(50))),
        }
    }
}
