//! Devices seen on the MQTT bridge, the PIN slots of each lock, remote commands, ingested message
//! identities and leases.

use jiff::Timestamp;
use latchkey_core::{CredentialId, DoorId, PersonId};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::sql::Sql;
use crate::{Conn, Result, StoreError};

/// A device as last reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Device {
    pub id: i64,
    pub friendly_name: String,
    pub ieee_address: Option<String>,
    pub model: Option<String>,
    pub vendor: Option<String>,
    pub is_lock: bool,
    pub has_pin: bool,
    /// online | offline | unknown
    pub availability: String,
    /// locked | unlocked | not_fully_locked | unknown
    pub lock_state: String,
    /// open | closed | error_jammed | error_forced_open | … | unknown
    pub door_state: String,
    pub battery: Option<i64>,
    pub linkquality: Option<i64>,
    pub first_seen: Timestamp,
    pub last_seen: Option<Timestamp>,
    pub left_network: bool,
    /// The settings the lock last reported; `None` until it reports them.
    pub reported: LockSettings,
}

/// A lock's settings that latchkey drives from the property's policy and the door's mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LockSettings {
    /// Seconds after which the lock relocks itself (0 = never).
    pub auto_relock_seconds: Option<i64>,
    /// Wrong codes in a row before the lock disables its keypad.
    pub wrong_code_limit: Option<i64>,
    /// Seconds the keypad stays disabled after the limit.
    pub keypad_disable_seconds: Option<i64>,
}

fn device_row(row: &AnyRow) -> Result<Device> {
    Ok(Device {
        id: row.try_get("id")?,
        friendly_name: row.try_get("friendly_name")?,
        ieee_address: row.try_get("ieee_address")?,
        model: row.try_get("model")?,
        vendor: row.try_get("vendor")?,
        is_lock: row.try_get::<i64, _>("is_lock")? != 0,
        has_pin: row.try_get::<i64, _>("has_pin")? != 0,
        availability: row.try_get("availability")?,
        lock_state: row.try_get("lock_state")?,
        door_state: row.try_get("door_state")?,
        battery: row.try_get("battery")?,
        linkquality: row.try_get("linkquality")?,
        first_seen: from_micros(row.try_get("first_seen")?)?,
        last_seen: opt_from_micros(row.try_get("last_seen")?)?,
        left_network: row.try_get::<i64, _>("left_network")? != 0,
        reported: LockSettings {
            auto_relock_seconds: row.try_get("reported_auto_relock")?,
            wrong_code_limit: row.try_get("reported_wrong_code_limit")?,
            keypad_disable_seconds: row.try_get("reported_keypad_disable")?,
        },
    })
}

/// What `bridge/devices` says about a device.
#[derive(Clone, Debug)]
pub struct Announced {
    pub friendly_name: String,
    pub ieee_address: Option<String>,
    pub model: Option<String>,
    pub vendor: Option<String>,
    pub is_lock: bool,
    pub has_pin: bool,
}

/// Records a device announced by the bridge (creating it, or refreshing what is known).
///
/// # Errors
/// `Database` on a failed write.
pub async fn upsert_announced(conn: &mut Conn, d: &Announced, at: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO devices (friendly_name, ieee_address, model, vendor, is_lock, has_pin, first_seen) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (friendly_name) DO UPDATE SET ieee_address = excluded.ieee_address, \
         model = excluded.model, vendor = excluded.vendor, is_lock = excluded.is_lock, \
         has_pin = excluded.has_pin, left_network = 0",
    )
    .bind(d.friendly_name.clone())
    .bind(d.ieee_address.clone())
    .bind(d.model.clone())
    .bind(d.vendor.clone())
    .bind(i64::from(d.is_lock))
    .bind(i64::from(d.has_pin))
    .bind(to_micros(at))
    .execute(conn)
    .await?;
    Ok(())
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_device(conn: &mut Conn, name: &str) -> Result<Option<Device>> {
    let row = sqlx::query(
        "SELECT id, friendly_name, ieee_address, model, vendor, is_lock, has_pin, availability, \
         lock_state, door_state, battery, linkquality, first_seen, last_seen, left_network, \
         reported_auto_relock, reported_wrong_code_limit, reported_keypad_disable FROM devices WHERE friendly_name = $1",
    )
    .bind(name.to_owned())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(device_row).transpose()
}

/// How many devices last said they are online.
///
/// # Errors
/// `Database` on a failed read.
pub async fn count_reporting(conn: &mut Conn) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE availability = 'online'")
            .fetch_one(conn)
            .await?,
    )
}

/// Every device known, by name.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_devices(conn: &mut Conn) -> Result<Vec<Device>> {
    let rows = sqlx::query(
        "SELECT id, friendly_name, ieee_address, model, vendor, is_lock, has_pin, availability, \
         lock_state, door_state, battery, linkquality, first_seen, last_seen, left_network, \
         reported_auto_relock, reported_wrong_code_limit, reported_keypad_disable FROM devices ORDER BY friendly_name",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(device_row).collect()
}

/// The live state of a device; `None` fields keep their stored value.
#[derive(Clone, Debug, Default)]
pub struct DeviceState {
    pub availability: Option<String>,
    pub lock_state: Option<String>,
    pub door_state: Option<String>,
    pub battery: Option<i64>,
    pub linkquality: Option<i64>,
    pub left_network: Option<bool>,
    /// Settings the lock reported; a `None` field keeps its stored value.
    pub reported: LockSettings,
}

/// Updates a device's live state, creating the device if it was never announced.
///
/// # Errors
/// `Database` on a failed write.
pub async fn update_state(
    conn: &mut Conn,
    name: &str,
    s: &DeviceState,
    at: Timestamp,
) -> Result<()> {
    update_states(conn, &[(name.to_owned(), s.clone())], at).await
}

/// [`update_state`] for many devices in one statement, whatever their number: every change
/// at once, and only when some device had no row yet (never announced), their rows and the
/// change again. What ingestion writes once per batch of reports, so that a batch of a hundred
/// locks' reports is not a hundred writes. A name must appear once.
///
/// # Errors
/// `Database` on a failed write.
pub async fn update_states(
    conn: &mut Conn,
    states: &[(String, DeviceState)],
    at: Timestamp,
) -> Result<()> {
    let backend = crate::backend_of(conn);
    let at = to_micros(at);
    for chunk in states.chunks(500) {
        let done = states_update(backend, chunk, at)
            .query()
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() == chunk.len() as u64 {
            continue;
        }
        let mut sql = Sql::new(
            backend,
            "INSERT INTO devices (friendly_name, first_seen, last_seen) VALUES ",
        );
        for (i, (name, _)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(name.as_str())
                .push(", ")
                .bind(at)
                .push(", ")
                .bind(at)
                .push(")");
        }
        sql.push(" ON CONFLICT (friendly_name) DO NOTHING");
        sql.query().execute(&mut *conn).await?;
        states_update(backend, chunk, at)
            .query()
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The statement that writes what changed of each device in `states` that has a row.
fn states_update(backend: crate::Backend, states: &[(String, DeviceState)], at: i64) -> Sql {
    let mut sql = Sql::new(
        backend,
        // A VALUES list's columns are column1, column2, … in both databases.
        "UPDATE devices SET last_seen = v.column2, \
         availability = COALESCE(v.column3, devices.availability), \
         lock_state = COALESCE(v.column4, devices.lock_state), \
         door_state = COALESCE(v.column5, devices.door_state), \
         battery = COALESCE(v.column6, devices.battery), \
         linkquality = COALESCE(v.column7, devices.linkquality), \
         left_network = COALESCE(v.column8, devices.left_network), \
         reported_auto_relock = COALESCE(v.column9, devices.reported_auto_relock), \
         reported_wrong_code_limit = COALESCE(v.column10, devices.reported_wrong_code_limit), \
         reported_keypad_disable = COALESCE(v.column11, devices.reported_keypad_disable) \
         FROM (VALUES ",
    );
    for (i, (name, s)) in states.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        // Typed, so that PostgreSQL knows what a NULL in the list is.
        sql.push("(CAST(")
            .bind(name.as_str())
            .push(" AS TEXT), CAST(")
            .bind(at)
            .push(" AS BIGINT), CAST(")
            .bind(s.availability.clone())
            .push(" AS TEXT), CAST(")
            .bind(s.lock_state.clone())
            .push(" AS TEXT), CAST(")
            .bind(s.door_state.clone())
            .push(" AS TEXT), CAST(")
            .bind(s.battery)
            .push(" AS BIGINT), CAST(")
            .bind(s.linkquality)
            .push(" AS BIGINT), CAST(")
            .bind(s.left_network.map(i64::from))
            .push(" AS BIGINT), CAST(")
            .bind(s.reported.auto_relock_seconds)
            .push(" AS BIGINT), CAST(")
            .bind(s.reported.wrong_code_limit)
            .push(" AS BIGINT), CAST(")
            .bind(s.reported.keypad_disable_seconds)
            .push(" AS BIGINT))");
    }
    sql.push(") AS v WHERE devices.friendly_name = v.column1");
    sql
}

// ---- slots ----

/// What a slot should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Desired {
    /// The credential's PIN, usable.
    Enabled,
    /// The credential's PIN, refused by the lock (outside its schedule, frozen).
    Disabled,
    /// A one-time code the lock recognises and reports but never opens for.
    NonAccess,
    /// Nothing.
    Empty,
}

/// How far the lock is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotStatus {
    Pending,
    /// The lock itself showed the slot holds the code.
    Set,
    /// Sent, and verified as far as the lock allows: it accepted the code but cannot show which
    /// code a slot holds (a masked read-back, or no read at all). Never `set`
    /// (docs/DEVICES.md, "Where each PIN stands").
    Assumed,
    Failed,
    Removing,
    Removed,
    /// Read before anything is written: latchkey believes the slot free and has not yet seen
    /// what the lock holds there.
    Probing,
    /// The lock holds a code there that latchkey does not know; nothing is written to the slot
    /// until an admin adopts or removes the code.
    Unmanaged,
}

impl Desired {
    pub fn as_str(self) -> &'static str {
        match self {
            Desired::Enabled => "enabled",
            Desired::Disabled => "disabled",
            Desired::NonAccess => "non_access",
            Desired::Empty => "empty",
        }
    }
    fn parse(s: &str) -> Result<Desired> {
        Ok(match s {
            "enabled" => Desired::Enabled,
            "disabled" => Desired::Disabled,
            "non_access" => Desired::NonAccess,
            "empty" => Desired::Empty,
            _ => return Err(StoreError::Corrupt(format!("slot desired `{s}`"))),
        })
    }
}

impl SlotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotStatus::Pending => "pending",
            SlotStatus::Set => "set",
            SlotStatus::Assumed => "assumed",
            SlotStatus::Failed => "failed",
            SlotStatus::Removing => "removing",
            SlotStatus::Removed => "removed",
            SlotStatus::Probing => "probing",
            SlotStatus::Unmanaged => "unmanaged",
        }
    }
    fn parse(s: &str) -> Result<SlotStatus> {
        Ok(match s {
            "pending" => SlotStatus::Pending,
            "set" => SlotStatus::Set,
            "assumed" => SlotStatus::Assumed,
            "failed" => SlotStatus::Failed,
            "removing" => SlotStatus::Removing,
            "removed" => SlotStatus::Removed,
            "probing" => SlotStatus::Probing,
            "unmanaged" => SlotStatus::Unmanaged,
            _ => return Err(StoreError::Corrupt(format!("slot status `{s}`"))),
        })
    }
}

/// One managed slot of a door's lock.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Slot {
    pub door_id: DoorId,
    pub slot: i64,
    pub credential_id: Option<CredentialId>,
    pub desired: Desired,
    pub status: SlotStatus,
    /// Why the slot failed, or what was last heard.
    pub reason: Option<String>,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

fn slot_row(row: &AnyRow) -> Result<Slot> {
    let desired: String = row.try_get("desired")?;
    let status: String = row.try_get("status")?;
    Ok(Slot {
        door_id: DoorId(row.try_get("door_id")?),
        slot: row.try_get("slot")?,
        credential_id: row
            .try_get::<Option<i64>, _>("credential_id")?
            .map(CredentialId),
        desired: Desired::parse(&desired)?,
        status: SlotStatus::parse(&status)?,
        reason: row.try_get("reason")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: opt_from_micros(row.try_get("next_attempt_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

/// Every managed slot, of every door (the reconciler's starting state).
///
/// # Errors
/// `Database` on a failed read.
pub async fn all_slots(conn: &mut Conn) -> Result<Vec<Slot>> {
    let rows = sqlx::query(
        "SELECT door_id, slot, credential_id, desired, status, reason, attempts, next_attempt_at, updated_at \
         FROM lock_slots ORDER BY door_id, slot",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(slot_row).collect()
}

/// The slots holding (or last holding) a credential, on every door.
///
/// # Errors
/// `Database` on a failed read.
pub async fn slots_of_credential(conn: &mut Conn, id: CredentialId) -> Result<Vec<Slot>> {
    let rows = sqlx::query(
        "SELECT door_id, slot, credential_id, desired, status, reason, attempts, next_attempt_at, updated_at \
         FROM lock_slots WHERE credential_id = $1 ORDER BY door_id",
    )
    .bind(id.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(slot_row).collect()
}

/// The credentials of `property` held only as `assumed` on some lock of its doors (a lock that
/// took the code but cannot show it), each once, in id order.
///
/// # Errors
/// `Database` on a failed read.
pub async fn assumed_credentials(
    conn: &mut Conn,
    property: latchkey_core::PropertyId,
) -> Result<Vec<CredentialId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT s.credential_id FROM lock_slots s JOIN doors d ON d.id = s.door_id \
         WHERE d.property_id = $1 AND s.status = 'assumed' AND s.credential_id IS NOT NULL \
         ORDER BY s.credential_id",
    )
    .bind(property.0)
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().map(CredentialId).collect())
}

/// How many slots of a credential have `status`, counted by the database.
///
/// # Errors
/// `Database` on a failed read.
pub async fn count_slots_of_credential(
    conn: &mut Conn,
    id: CredentialId,
    status: SlotStatus,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM lock_slots WHERE credential_id = $1 AND status = $2",
    )
    .bind(id.0)
    .bind(status.as_str())
    .fetch_one(conn)
    .await?)
}

/// The managed slots of one door.
///
/// # Errors
/// `Database` on a failed read.
pub async fn slots_of_door(conn: &mut Conn, door: DoorId) -> Result<Vec<Slot>> {
    let rows = sqlx::query(
        "SELECT door_id, slot, credential_id, desired, status, reason, attempts, next_attempt_at, updated_at \
         FROM lock_slots WHERE door_id = $1 ORDER BY slot",
    )
    .bind(door.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(slot_row).collect()
}

/// Slots where a lock holds a code latchkey does not know, on every door.
///
/// # Errors
/// `Database` on a failed read.
pub async fn unmanaged_slots(conn: &mut Conn) -> Result<Vec<Slot>> {
    let rows = sqlx::query(
        "SELECT door_id, slot, credential_id, desired, status, reason, attempts, next_attempt_at, updated_at \
         FROM lock_slots WHERE status = 'unmanaged' ORDER BY door_id, slot",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(slot_row).collect()
}

/// Slots waiting for the lock whose next attempt is due at `now`, oldest first.
///
/// # Errors
/// `Database` on a failed read.
pub async fn due_slots(conn: &mut Conn, now: Timestamp, limit: i64) -> Result<Vec<Slot>> {
    let rows = sqlx::query(
        "SELECT door_id, slot, credential_id, desired, status, reason, attempts, next_attempt_at, updated_at \
         FROM lock_slots WHERE status IN ('pending', 'removing', 'probing') AND next_attempt_at <= $1 \
         ORDER BY CASE WHEN desired = 'empty' THEN 0 ELSE 1 END, next_attempt_at LIMIT $2",
    )
    .bind(to_micros(now))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(slot_row).collect()
}

/// Makes every unfinished slot of a door due at `now` with its attempts reset: pending and
/// removing slots, and failed ones (which go back to pending or removing). Used when a lock
/// returns, so what it missed is sent at once rather than at the next backoff step. Returns how
/// many slots were made due.
///
/// # Errors
/// `Database` on a failed write.
pub async fn expedite_door(conn: &mut Conn, door: DoorId, now: Timestamp) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE lock_slots SET \
           status = CASE WHEN status = 'failed' AND reason = $3 THEN 'probing' \
                         WHEN status = 'failed' AND desired = 'empty' THEN 'removing' \
                         WHEN status = 'failed' THEN 'pending' ELSE status END, \
           attempts = 0, next_attempt_at = $2, reason = NULL, updated_at = $2 \
         WHERE door_id = $1 AND status IN ('pending', 'removing', 'failed')",
    )
    .bind(door.0)
    .bind(to_micros(now))
    .bind(PROBE_UNANSWERED)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The reason of a `failed` slot whose read (before a first write) the lock never answered: it
/// is read again, never written blindly.
pub const PROBE_UNANSWERED: &str = "the lock did not answer a read of this slot";

/// One managed slot.
///
/// # Errors
/// `Database` on a failed read.
pub async fn get_slot(conn: &mut Conn, door: DoorId, slot: i64) -> Result<Option<Slot>> {
    let row = sqlx::query(
        "SELECT door_id, slot, credential_id, desired, status, reason, attempts, next_attempt_at, updated_at \
         FROM lock_slots WHERE door_id = $1 AND slot = $2",
    )
    .bind(door.0)
    .bind(slot)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(slot_row).transpose()
}

/// Rows per statement when writing slots (9 values each, well under SQLite's 32,766).
const SLOTS_PER_STATEMENT: usize = 500;

/// Writes slots (insert or replace) inside the caller's transaction, in multi-row statements.
/// When one slot appears twice, the later entry wins.
///
/// # Errors
/// `Database` on a failed write.
pub async fn save_slots(conn: &mut Conn, slots: &[Slot]) -> Result<()> {
    let backend = crate::backend_of(conn);
    // One statement may not touch a row twice (PostgreSQL refuses), so keep the last of each.
    let mut last: std::collections::HashMap<(DoorId, i64), usize> =
        std::collections::HashMap::with_capacity(slots.len());
    for (i, s) in slots.iter().enumerate() {
        last.insert((s.door_id, s.slot), i);
    }
    let unique: Vec<&Slot> = slots
        .iter()
        .enumerate()
        .filter(|(i, s)| last.get(&(s.door_id, s.slot)) == Some(i))
        .map(|(_, s)| s)
        .collect();
    for chunk in unique.chunks(SLOTS_PER_STATEMENT) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO lock_slots (door_id, slot, credential_id, desired, status, reason, attempts, next_attempt_at, updated_at) VALUES ",
        );
        for (i, s) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(s.door_id.0)
                .push(", ")
                .bind(s.slot)
                .push(", ")
                .bind(s.credential_id.map(|c| c.0))
                .push(", ")
                .bind(s.desired.as_str())
                .push(", ")
                .bind(s.status.as_str())
                .push(", ")
                .bind(s.reason.clone())
                .push(", ")
                .bind(s.attempts)
                .push(", ")
                .bind(s.next_attempt_at.map(to_micros))
                .push(", ")
                .bind(to_micros(s.updated_at))
                .push(")");
        }
        sql.push(
            " ON CONFLICT (door_id, slot) DO UPDATE SET credential_id = excluded.credential_id, \
             desired = excluded.desired, status = excluded.status, reason = excluded.reason, \
             attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at",
        );
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The slots with these `(door, slot)` keys that exist, in one statement per 1,000 keys.
///
/// # Errors
/// `Database` on a failed read.
pub async fn get_slots(conn: &mut Conn, keys: &[(DoorId, i64)]) -> Result<Vec<Slot>> {
    let backend = crate::backend_of(conn);
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(1_000) {
        let mut sql = Sql::new(
            backend,
            "SELECT door_id, slot, credential_id, desired, status, reason, attempts, next_attempt_at, updated_at \
             FROM lock_slots WHERE (door_id, slot) IN (VALUES ",
        );
        for (i, (door, slot)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(CAST(")
                .bind(door.0)
                .push(" AS BIGINT), CAST(")
                .bind(*slot)
                .push(" AS BIGINT))");
        }
        sql.push(")");
        for row in sql.query().fetch_all(&mut *conn).await? {
            out.push(slot_row(&row)?);
        }
    }
    Ok(out)
}

// ---- commands ----

/// A remote lock or unlock and how it ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LockCommand {
    pub id: i64,
    pub door_id: DoorId,
    /// lock | unlock
    pub action: String,
    pub requested_by: Option<PersonId>,
    pub requested_at: Timestamp,
    pub deadline_at: Timestamp,
    /// sent | confirmed | failed | unconfirmed
    pub status: String,
    pub completed_at: Option<Timestamp>,
    pub detail: Option<String>,
}

fn command_row(row: &AnyRow) -> Result<LockCommand> {
    Ok(LockCommand {
        id: row.try_get("id")?,
        door_id: DoorId(row.try_get("door_id")?),
        action: row.try_get("action")?,
        requested_by: row.try_get::<Option<i64>, _>("requested_by")?.map(PersonId),
        requested_at: from_micros(row.try_get("requested_at")?)?,
        deadline_at: from_micros(row.try_get("deadline_at")?)?,
        status: row.try_get("status")?,
        completed_at: opt_from_micros(row.try_get("completed_at")?)?,
        detail: row.try_get("detail")?,
    })
}

/// A command to record with [`create_commands`].
#[derive(Clone, Debug)]
pub struct NewCommand<'a> {
    pub door: DoorId,
    pub action: &'a str,
    pub by: Option<PersonId>,
    pub at: Timestamp,
    pub deadline: Timestamp,
}

/// Records commands in one statement (what the command writer's group commit does), returned
/// in the order given, all `sent`.
///
/// # Errors
/// `Database` on a failed write.
pub async fn create_commands(conn: &mut Conn, new: &[NewCommand<'_>]) -> Result<Vec<LockCommand>> {
    let backend = crate::backend_of(conn);
    let mut out = Vec::with_capacity(new.len());
    for chunk in new.chunks(500) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO lock_commands (door_id, action, requested_by, requested_at, deadline_at, status) VALUES ",
        );
        for (i, c) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(c.door.0)
                .push(", ")
                .bind(c.action)
                .push(", ")
                .bind(c.by.map(|p| p.0))
                .push(", ")
                .bind(to_micros(c.at))
                .push(", ")
                .bind(to_micros(c.deadline))
                .push(", 'sent')");
        }
        sql.push(
            " RETURNING id, door_id, action, requested_by, requested_at, deadline_at, status, \
             completed_at, detail",
        );
        let mut made = sql
            .query()
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(command_row)
            .collect::<Result<Vec<_>>>()?;
        // Neither database promises RETURNING's order; ids are handed out in the order of the
        // rows, so each command takes the lowest id among the rows that match it.
        made.sort_by_key(|c| c.id);
        for c in chunk {
            let i = made
                .iter()
                .position(|m| {
                    m.door_id == c.door
                        && m.action == c.action
                        && m.requested_by == c.by
                        && to_micros(m.requested_at) == to_micros(c.at)
                        && to_micros(m.deadline_at) == to_micros(c.deadline)
                })
                .ok_or_else(|| StoreError::Corrupt("a recorded command was not returned".into()))?;
            out.push(made.remove(i));
        }
    }
    Ok(out)
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_command(conn: &mut Conn, id: i64) -> Result<Option<LockCommand>> {
    let row = sqlx::query(
        "SELECT id, door_id, action, requested_by, requested_at, deadline_at, status, completed_at, detail \
         FROM lock_commands WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(command_row).transpose()
}

/// The open commands of a door that a report received at `now` can answer, oldest first: those
/// requested at or before `now` (and not before `since`) that are still within their deadline,
/// and, past its deadline, only the door's most recent command (a newer command takes the
/// answer over from an older one; docs/DEVICES.md, "Which command a report answers").
///
/// # Errors
/// `Database` on a failed read.
pub async fn answerable_commands(
    conn: &mut Conn,
    door: DoorId,
    now: Timestamp,
    since: Timestamp,
) -> Result<Vec<LockCommand>> {
    answerable_commands_of(conn, &[door], now, since).await
}

/// [`answerable_commands`] for several doors in one statement, each door's oldest first: what
/// ingestion reads once per batch of reports.
///
/// # Errors
/// `Database` on a failed read.
pub async fn answerable_commands_of(
    conn: &mut Conn,
    doors: &[DoorId],
    now: Timestamp,
    since: Timestamp,
) -> Result<Vec<LockCommand>> {
    let backend = crate::backend_of(conn);
    let mut out = Vec::new();
    for chunk in doors.chunks(1_000) {
        let mut sql = Sql::new(
            backend,
            "SELECT c.id, c.door_id, c.action, c.requested_by, c.requested_at, c.deadline_at, \
             c.status, c.completed_at, c.detail FROM lock_commands c \
             WHERE c.status IN ('sent', 'unconfirmed') AND c.requested_at <= ",
        );
        sql.bind(to_micros(now))
            .push(" AND c.requested_at >= ")
            .bind(to_micros(since))
            .push(" AND (c.deadline_at >= ")
            .bind(to_micros(now))
            .push(
                " OR NOT EXISTS (SELECT 1 FROM lock_commands n \
                 WHERE n.id > c.id AND n.door_id = c.door_id)) AND c.door_id IN ",
            )
            .bind_list(chunk.iter().map(|d| d.0))
            .push(" ORDER BY c.door_id, c.id");
        for row in sql.query().fetch_all(&mut *conn).await? {
            out.push(command_row(&row)?);
        }
    }
    Ok(out)
}

/// [`set_command_status`] for many commands that end the same way, in one statement. Only a
/// command still open (`sent`, `unconfirmed`) is ended: one that another transaction ended
/// meanwhile keeps its end.
///
/// # Errors
/// `Database` on a failed write.
pub async fn set_commands_status(
    conn: &mut Conn,
    ids: &[i64],
    status: &str,
    at: Option<Timestamp>,
    detail: Option<&str>,
) -> Result<()> {
    let backend = crate::backend_of(conn);
    for chunk in ids.chunks(1_000) {
        let mut sql = Sql::new(backend, "UPDATE lock_commands SET status = ");
        sql.bind(status)
            .push(", completed_at = COALESCE(")
            .bind(at.map(to_micros))
            .push(", completed_at), detail = COALESCE(")
            .bind(detail.map(str::to_owned))
            .push(", detail) WHERE status IN ('sent', 'unconfirmed') AND id IN ")
            .bind_list(chunk.iter().copied());
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Ends a command (confirmed or failed) or marks it unconfirmed at its deadline.
///
/// # Errors
/// `Database` on a failed write.
pub async fn set_command_status(
    conn: &mut Conn,
    id: i64,
    status: &str,
    at: Option<Timestamp>,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE lock_commands SET status = $1, completed_at = COALESCE($2, completed_at), \
         detail = COALESCE($3, detail) WHERE id = $4",
    )
    .bind(status.to_owned())
    .bind(at.map(to_micros))
    .bind(detail.map(str::to_owned))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- asking locks for their state ----

/// A lock latchkey asked for its state that has not answered yet.
#[derive(Clone, Debug, PartialEq)]
pub struct Asked {
    pub name: String,
    pub asked_at: Timestamp,
    /// Why it was asked: `start` or `reconnect`.
    pub why: String,
    /// When latchkey last stored a change reported by the lock, before the ask.
    pub last_seen: Option<Timestamp>,
}

/// Marks the lock `name` as asked for its state at `at`, unless it was asked at or after
/// `not_before` (by another replica starting at the same time, or a reconnect moments ago).
/// True when the caller should send the ask.
///
/// # Errors
/// `Database` on a failed write.
pub async fn mark_asked(
    conn: &mut Conn,
    name: &str,
    why: &str,
    at: Timestamp,
    not_before: Timestamp,
) -> Result<bool> {
    sqlx::query(
        "INSERT INTO devices (friendly_name, first_seen) VALUES ($1, $2) \
         ON CONFLICT (friendly_name) DO NOTHING",
    )
    .bind(name.to_owned())
    .bind(to_micros(at))
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query(
        "UPDATE devices SET asked_at = $1, asked_why = $2 \
         WHERE friendly_name = $3 AND (asked_at IS NULL OR asked_at < $4)",
    )
    .bind(to_micros(at))
    .bind(why.to_owned())
    .bind(name.to_owned())
    .bind(to_micros(not_before))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every ask not answered yet (few: an index holds only these rows).
///
/// # Errors
/// `Database` on a failed read.
pub async fn outstanding_asks(conn: &mut Conn) -> Result<Vec<Asked>> {
    let rows = sqlx::query(
        "SELECT friendly_name, asked_at, asked_why, last_seen FROM devices WHERE asked_at IS NOT NULL",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Asked {
                name: r.try_get("friendly_name")?,
                asked_at: from_micros(r.try_get("asked_at")?)?,
                why: r
                    .try_get::<Option<String>, _>("asked_why")?
                    .unwrap_or_default(),
                last_seen: opt_from_micros(r.try_get("last_seen")?)?,
            })
        })
        .collect()
}

/// The lock answered its ask.
///
/// # Errors
/// `Database` on a failed write.
pub async fn clear_asked(conn: &mut Conn, name: &str) -> Result<()> {
    sqlx::query("UPDATE devices SET asked_at = NULL, asked_why = NULL WHERE friendly_name = $1")
        .bind(name.to_owned())
        .execute(conn)
        .await?;
    Ok(())
}

// ---- ingestion and leases ----

/// Records message identities; returns, for each one, whether it was seen here for the first
/// time (a later copy within the same list counts as seen). One statement per 1,000.
///
/// # Errors
/// `Database` on a failed write.
pub async fn first_sightings(
    conn: &mut Conn,
    identities: &[[u8; 32]],
    at: Timestamp,
) -> Result<Vec<bool>> {
    let backend = crate::backend_of(conn);
    let mut fresh: std::collections::HashSet<[u8; 32]> = std::collections::HashSet::new();
    for chunk in identities.chunks(1_000) {
        let mut seen_in_chunk = std::collections::HashSet::new();
        let mut sql = Sql::new(backend, "INSERT INTO ingested (identity, at) VALUES ");
        let mut first = true;
        for id in chunk {
            if !seen_in_chunk.insert(*id) {
                continue;
            }
            if !first {
                sql.push(", ");
            }
            first = false;
            sql.push("(")
                .bind(id.to_vec())
                .push(", ")
                .bind(to_micros(at))
                .push(")");
        }
        sql.push(" ON CONFLICT (identity) DO NOTHING RETURNING identity");
        for row in sql.query().fetch_all(&mut *conn).await? {
            let id: Vec<u8> = row.try_get(0)?;
            if let Ok(id) = <[u8; 32]>::try_from(id.as_slice()) {
                fresh.insert(id);
            }
        }
    }
    // The first copy of each fresh identity is new; any later copy is a duplicate.
    Ok(identities.iter().map(|id| fresh.remove(id)).collect())
}

/// Forgets identities older than `before`.
///
/// # Errors
/// `Database` on a failed write.
pub async fn prune_ingested(conn: &mut Conn, before: Timestamp) -> Result<u64> {
    let done = sqlx::query("DELETE FROM ingested WHERE at < $1")
        .bind(to_micros(before))
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Takes or renews the lease `name` for `holder` until `until`. Returns the lease's generation
/// (epoch), or `None` when another holder's lease has not expired. The generation goes up each
/// time the lease is taken rather than renewed (a new holder, or the same one after its lease
/// lapsed), so a check against it ([`holds_lease`]) fails for anyone who lost the lease
/// meanwhile.
///
/// # Errors
/// `Database` on a failed write.
pub async fn acquire_lease(
    conn: &mut Conn,
    name: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<Option<i64>> {
    let epoch: Option<i64> = sqlx::query_scalar(
        "INSERT INTO leases (name, holder, expires_at, epoch) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
           expires_at = excluded.expires_at, \
           epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at >= $4 \
                   THEN leases.epoch ELSE leases.epoch + 1 END \
         WHERE leases.holder = excluded.holder OR leases.expires_at < $4 \
         RETURNING epoch",
    )
    .bind(name.to_owned())
    .bind(holder.to_owned())
    .bind(to_micros(until))
    .bind(to_micros(now))
    .fetch_optional(conn)
    .await?;
    Ok(epoch)
}

/// Whether `holder` still holds the lease `name` in generation `epoch` at `now`: the fence a
/// lease holder checks, in the transaction that records an attempt, before sending commands.
///
/// # Errors
/// `Database` on a failed read.
pub async fn holds_lease(
    conn: &mut Conn,
    name: &str,
    holder: &str,
    epoch: i64,
    now: Timestamp,
) -> Result<bool> {
    let held: Option<i64> = sqlx::query_scalar(
        "SELECT epoch FROM leases WHERE name = $1 AND holder = $2 AND epoch = $3 \
         AND expires_at >= $4",
    )
    .bind(name.to_owned())
    .bind(holder.to_owned())
    .bind(epoch)
    .bind(to_micros(now))
    .fetch_optional(conn)
    .await?;
    Ok(held.is_some())
}

/// Makes every slot still awaiting a lock's answer due now, as a write rather than a read-back
/// (its attempt count is rounded up to the next even number, which the reconciler writes on): a
/// new lease holder calls it, so that what the previous holder had recorded but perhaps never
/// sent goes out at once instead of at its retry time. Returns how many slots it moved.
///
/// # Errors
/// `Database` on a failed write.
pub async fn make_in_flight_due(conn: &mut Conn, now: Timestamp) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE lock_slots SET next_attempt_at = $1, attempts = attempts + (attempts % 2) \
         WHERE (status IN ('pending', 'removing') OR (status = 'probing' AND attempts > 0)) \
           AND next_attempt_at > $1",
    )
    .bind(to_micros(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
