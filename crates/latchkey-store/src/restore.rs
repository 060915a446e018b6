//! What latchkey knows of lock slots beyond its own slot rows (`slot_notes`), and the restored
//! state (`restored_state`): one row while latchkey runs on a database older than the history it
//! had recorded outside it (docs/ARCHITECTURE.md, decisions 31–33).

use jiff::Timestamp;
use latchkey_core::DoorId;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result};

/// What latchkey noted about one slot of a door's lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotNote {
    pub door_id: DoorId,
    pub slot: i64,
    /// When latchkey last sent a PIN of its own to the slot (a code found there may be ours).
    pub written_at: Option<Timestamp>,
    /// When the lock last reported the slot empty.
    pub seen_free_at: Option<Timestamp>,
    /// When an admin last adopted or removed the code found there.
    pub decided_at: Option<Timestamp>,
}

/// Which note to take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Written,
    SeenFree,
    Decided,
}

fn note_row(row: &AnyRow) -> Result<SlotNote> {
    Ok(SlotNote {
        door_id: DoorId(row.try_get("door_id")?),
        slot: row.try_get("slot")?,
        written_at: opt_from_micros(row.try_get("written_at")?)?,
        seen_free_at: opt_from_micros(row.try_get("seen_free_at")?)?,
        decided_at: opt_from_micros(row.try_get("decided_at")?)?,
    })
}

/// Notes `mark` at `at` for each slot, inside the caller's transaction.
///
/// # Errors
/// `Database` on a failed write.
pub async fn mark(
    conn: &mut Conn,
    mark: Mark,
    slots: &[(DoorId, i64)],
    at: Timestamp,
) -> Result<()> {
    let sql = match mark {
        Mark::Written => {
            "INSERT INTO slot_notes (door_id, slot, written_at) VALUES ($1, $2, $3) \
             ON CONFLICT (door_id, slot) DO UPDATE SET written_at = excluded.written_at"
        }
        Mark::SeenFree => {
            "INSERT INTO slot_notes (door_id, slot, seen_free_at) VALUES ($1, $2, $3) \
             ON CONFLICT (door_id, slot) DO UPDATE SET seen_free_at = excluded.seen_free_at"
        }
        Mark::Decided => {
            "INSERT INTO slot_notes (door_id, slot, decided_at) VALUES ($1, $2, $3) \
             ON CONFLICT (door_id, slot) DO UPDATE SET decided_at = excluded.decided_at"
        }
    };
    for (door, slot) in slots {
        sqlx::query(sql)
            .bind(door.0)
            .bind(*slot)
            .bind(to_micros(at))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// What latchkey noted about one slot.
///
/// # Errors
/// `Database` on a failed read.
pub async fn note(conn: &mut Conn, door: DoorId, slot: i64) -> Result<Option<SlotNote>> {
    let row = sqlx::query(
        "SELECT door_id, slot, written_at, seen_free_at, decided_at FROM slot_notes \
         WHERE door_id = $1 AND slot = $2",
    )
    .bind(door.0)
    .bind(slot)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(note_row).transpose()
}

/// The restored state, while latchkey is in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Restored {
    /// When latchkey found the database older than its recorded history.
    pub since: Timestamp,
    /// The head of the database it found.
    pub head_seq: i64,
    /// How far the history recorded outside the database went.
    pub marker_seq: i64,
}

/// The restored state, or `None` when latchkey is not in it.
///
/// # Errors
/// `Database` on a failed read.
pub async fn restored(conn: &mut Conn) -> Result<Option<Restored>> {
    let row = sqlx::query("SELECT since, head_seq, marker_seq FROM restored_state WHERE id = 1")
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(Restored {
            since: from_micros(r.try_get("since")?)?,
            head_seq: r.try_get("head_seq")?,
            marker_seq: r.try_get("marker_seq")?,
        })
    })
    .transpose()
}

/// Enters the restored state; returns false when latchkey was already in it (the first entry
/// stands).
///
/// # Errors
/// `Database` on a failed write.
pub async fn enter_restored(conn: &mut Conn, r: &Restored) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO restored_state (id, since, head_seq, marker_seq) VALUES (1, $1, $2, $3) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(to_micros(r.since))
    .bind(r.head_seq)
    .bind(r.marker_seq)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Leaves the restored state; returns false when latchkey was not in it.
///
/// # Errors
/// `Database` on a failed write.
pub async fn leave_restored(conn: &mut Conn) -> Result<bool> {
    let done = sqlx::query("DELETE FROM restored_state WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}
