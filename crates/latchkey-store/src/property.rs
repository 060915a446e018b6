//! Properties, units, door groups, doors and opening sensors.

use jiff::Timestamp;
use latchkey_core::model::{DoorKind, DoorMode, Policy, SensorKind};
use latchkey_core::schedule::Schedule;
use latchkey_core::{DoorGroupId, DoorId, PropertyId, SensorId, UnitId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{
    Door, DoorGroup, Property, Sensor, Unit, from_micros, opt_from_micros, to_micros,
};
use crate::sql::Sql;
use crate::{Conn, Result, StoreError, parse_named};

fn json_col<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

// ---- properties ----

fn property_row(row: &AnyRow) -> Result<Property> {
    Ok(Property {
        id: PropertyId(row.try_get("id")?),
        name: row.try_get("name")?,
        address: row.try_get("address")?,
        timezone: row.try_get("timezone")?,
        policy: json_col(row, "policy")?,
        office_hours: json_col(row, "office_hours")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

/// What a new property needs; the caller has validated the time zone and schedules.
#[derive(Clone, Debug)]
pub struct NewProperty {
    pub name: String,
    pub address: String,
    pub timezone: String,
    pub policy: Policy,
    pub office_hours: Schedule,
}

/// # Errors
/// `Conflict` when the name is taken.
pub async fn create_property(conn: &mut Conn, p: &NewProperty, at: Timestamp) -> Result<Property> {
    let row = sqlx::query(
        "INSERT INTO properties (name, address, timezone, policy, office_hours, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, name, address, timezone, policy, office_hours, created_at",
    )
    .bind(p.name.clone())
    .bind(p.address.clone())
    .bind(p.timezone.clone())
    .bind(to_json(&p.policy)?)
    .bind(to_json(&p.office_hours)?)
    .bind(to_micros(at))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    property_row(&row)
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_property(conn: &mut Conn, id: PropertyId) -> Result<Option<Property>> {
    let row = sqlx::query(
        "SELECT id, name, address, timezone, policy, office_hours, created_at FROM properties WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(property_row).transpose()
}

/// Every property, by id.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_properties(conn: &mut Conn) -> Result<Vec<Property>> {
    let rows = sqlx::query(
        "SELECT id, name, address, timezone, policy, office_hours, created_at FROM properties ORDER BY id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(property_row).collect()
}

/// Replaces the editable fields of a property.
///
/// # Errors
/// `Conflict` when the new name is taken.
pub async fn update_property(conn: &mut Conn, p: &Property) -> Result<()> {
    sqlx::query(
        "UPDATE properties SET name = $1, address = $2, timezone = $3, policy = $4, office_hours = $5 WHERE id = $6",
    )
    .bind(p.name.clone())
    .bind(p.address.clone())
    .bind(p.timezone.clone())
    .bind(to_json(&p.policy)?)
    .bind(to_json(&p.office_hours)?)
    .bind(p.id.0)
    .execute(conn)
    .await
    .map_err(StoreError::classify)?;
    Ok(())
}

// ---- units ----

fn unit_row(row: &AnyRow) -> Result<Unit> {
    Ok(Unit {
        id: UnitId(row.try_get("id")?),
        property_id: PropertyId(row.try_get("property_id")?),
        label: row.try_get("label")?,
        floor: row.try_get("floor")?,
        door_group_id: row
            .try_get::<Option<i64>, _>("door_group_id")?
            .map(DoorGroupId),
    })
}

/// # Errors
/// `Conflict` when the label is taken in the property.
pub async fn create_unit(
    conn: &mut Conn,
    property: PropertyId,
    label: &str,
    floor: i64,
    door_group: Option<DoorGroupId>,
) -> Result<Unit> {
    let row = sqlx::query(
        "INSERT INTO units (property_id, label, floor, door_group_id) VALUES ($1, $2, $3, $4) \
         RETURNING id, property_id, label, floor, door_group_id",
    )
    .bind(property.0)
    .bind(label.to_owned())
    .bind(floor)
    .bind(door_group.map(|g| g.0))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    unit_row(&row)
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_unit(conn: &mut Conn, id: UnitId) -> Result<Option<Unit>> {
    let row =
        sqlx::query("SELECT id, property_id, label, floor, door_group_id FROM units WHERE id = $1")
            .bind(id.0)
            .fetch_optional(conn)
            .await?;
    row.as_ref().map(unit_row).transpose()
}

/// # Errors
/// `Database` on a failed read.
pub async fn list_units(conn: &mut Conn, property: PropertyId) -> Result<Vec<Unit>> {
    let rows = sqlx::query(
        "SELECT id, property_id, label, floor, door_group_id FROM units WHERE property_id = $1 ORDER BY id",
    )
    .bind(property.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(unit_row).collect()
}

/// # Errors
/// `Conflict` when the label is taken.
pub async fn update_unit(conn: &mut Conn, u: &Unit) -> Result<()> {
    sqlx::query("UPDATE units SET label = $1, floor = $2, door_group_id = $3 WHERE id = $4")
        .bind(u.label.clone())
        .bind(u.floor)
        .bind(u.door_group_id.map(|g| g.0))
        .bind(u.id.0)
        .execute(conn)
        .await
        .map_err(StoreError::classify)?;
    Ok(())
}

// ---- door groups ----

async fn group_doors(conn: &mut Conn, id: DoorGroupId) -> Result<Vec<DoorId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT door_id FROM door_group_doors WHERE door_group_id = $1 ORDER BY door_id",
    )
    .bind(id.0)
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().map(DoorId).collect())
}

/// # Errors
/// `Conflict` when the name is taken in the property.
pub async fn create_door_group(
    conn: &mut Conn,
    property: PropertyId,
    name: &str,
    doors: &[DoorId],
) -> Result<DoorGroup> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO door_groups (property_id, name) VALUES ($1, $2) RETURNING id",
    )
    .bind(property.0)
    .bind(name.to_owned())
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::classify)?;
    set_group_doors(conn, DoorGroupId(id), doors).await?;
    Ok(DoorGroup {
        id: DoorGroupId(id),
        property_id: property,
        name: name.to_owned(),
        doors: sorted(doors),
    })
}

fn sorted(doors: &[DoorId]) -> Vec<DoorId> {
    let mut v = doors.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// Replaces the doors of a group.
///
/// # Errors
/// `MissingReference` when a door does not exist.
pub async fn set_group_doors(conn: &mut Conn, id: DoorGroupId, doors: &[DoorId]) -> Result<()> {
    sqlx::query("DELETE FROM door_group_doors WHERE door_group_id = $1")
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    for door in sorted(doors) {
        sqlx::query("INSERT INTO door_group_doors (door_group_id, door_id) VALUES ($1, $2)")
            .bind(id.0)
            .bind(door.0)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::classify)?;
    }
    Ok(())
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_door_group(conn: &mut Conn, id: DoorGroupId) -> Result<Option<DoorGroup>> {
    let row = sqlx::query("SELECT id, property_id, name FROM door_groups WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(DoorGroup {
        id,
        property_id: PropertyId(row.try_get("property_id")?),
        name: row.try_get("name")?,
        doors: group_doors(conn, id).await?,
    }))
}

/// # Errors
/// `Database` on a failed read.
pub async fn list_door_groups(conn: &mut Conn, property: PropertyId) -> Result<Vec<DoorGroup>> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM door_groups WHERE property_id = $1 ORDER BY id")
            .bind(property.0)
            .fetch_all(&mut *conn)
            .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(g) = get_door_group(conn, DoorGroupId(id)).await? {
            out.push(g);
        }
    }
    Ok(out)
}

// ---- doors ----

fn door_row(row: &AnyRow) -> Result<Door> {
    let kind: String = row.try_get("kind")?;
    let mode: String = row.try_get("mode")?;
    Ok(Door {
        id: DoorId(row.try_get("id")?),
        property_id: PropertyId(row.try_get("property_id")?),
        unit_id: row.try_get::<Option<i64>, _>("unit_id")?.map(UnitId),
        name: row.try_get("name")?,
        kind: parse_named::<DoorKind>(&kind, "door kind")?,
        mode: parse_named::<DoorMode>(&mode, "door mode")?,
        lock_name: row.try_get("lock_name")?,
        pin_slots: row.try_get("pin_slots")?,
        keypad_disabled_until: opt_from_micros(row.try_get("keypad_disabled_until")?)?,
    })
}

/// What a new door needs.
#[derive(Clone, Debug)]
pub struct NewDoor {
    pub property_id: PropertyId,
    pub unit_id: Option<UnitId>,
    pub name: String,
    pub kind: DoorKind,
    pub mode: DoorMode,
    pub pin_slots: i64,
}

/// # Errors
/// `Conflict` when the name is taken in the property.
pub async fn create_door(conn: &mut Conn, d: &NewDoor) -> Result<Door> {
    let row = sqlx::query(
        "INSERT INTO doors (property_id, unit_id, name, kind, mode, pin_slots) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, property_id, unit_id, name, kind, mode, lock_name, pin_slots, keypad_disabled_until",
    )
    .bind(d.property_id.0)
    .bind(d.unit_id.map(|u| u.0))
    .bind(d.name.clone())
    .bind(d.kind.as_str())
    .bind(d.mode.as_str())
    .bind(d.pin_slots)
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    door_row(&row)
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_door(conn: &mut Conn, id: DoorId) -> Result<Option<Door>> {
    let row = sqlx::query(
        "SELECT id, property_id, unit_id, name, kind, mode, lock_name, pin_slots, keypad_disabled_until FROM doors WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(door_row).transpose()
}

/// # Errors
/// `Database` on a failed read.
pub async fn list_doors(conn: &mut Conn, property: PropertyId) -> Result<Vec<Door>> {
    let rows = sqlx::query(
        "SELECT id, property_id, unit_id, name, kind, mode, lock_name, pin_slots, keypad_disabled_until FROM doors WHERE property_id = $1 ORDER BY id",
    )
    .bind(property.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(door_row).collect()
}

/// The doors at `property` of one of `units` or among `ids`, in id order: the narrowed read
/// behind a caller who sees only their own units' doors (the app still applies its rule to what
/// this returns).
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_doors_near(
    conn: &mut Conn,
    property: PropertyId,
    units: &[UnitId],
    ids: &[DoorId],
) -> Result<Vec<Door>> {
    if units.is_empty() && ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        crate::backend_of(conn),
        "SELECT id, property_id, unit_id, name, kind, mode, lock_name, pin_slots, \
         keypad_disabled_until FROM doors WHERE property_id = ",
    );
    sql.bind(property.0).push(" AND (");
    if !units.is_empty() {
        sql.push("unit_id IN ").bind_list(units.iter().map(|u| u.0));
    }
    if !units.is_empty() && !ids.is_empty() {
        sql.push(" OR ");
    }
    if !ids.is_empty() {
        sql.push("id IN ").bind_list(ids.iter().map(|d| d.0));
    }
    sql.push(") ORDER BY id");
    sql.query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(door_row)
        .collect()
}

/// The door whose lock has this Zigbee2MQTT friendly name.
///
/// # Errors
/// `Database` on a failed read.
pub async fn door_by_lock_name(conn: &mut Conn, name: &str) -> Result<Option<Door>> {
    let row = sqlx::query(
        "SELECT id, property_id, unit_id, name, kind, mode, lock_name, pin_slots, keypad_disabled_until FROM doors WHERE lock_name = $1",
    )
    .bind(name.to_owned())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(door_row).transpose()
}

/// Every door with a paired lock.
///
/// # Errors
/// `Database` on a failed read.
pub async fn paired_doors(conn: &mut Conn) -> Result<Vec<Door>> {
    let rows = sqlx::query(
        "SELECT id, property_id, unit_id, name, kind, mode, lock_name, pin_slots, keypad_disabled_until FROM doors WHERE lock_name IS NOT NULL ORDER BY id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(door_row).collect()
}

/// Replaces the editable fields of a door.
///
/// # Errors
/// `Conflict` when the name or lock name is taken.
pub async fn update_door(conn: &mut Conn, d: &Door) -> Result<()> {
    sqlx::query(
        "UPDATE doors SET unit_id = $1, name = $2, kind = $3, mode = $4, lock_name = $5, pin_slots = $6, \
         keypad_disabled_until = $7 WHERE id = $8",
    )
    .bind(d.unit_id.map(|u| u.0))
    .bind(d.name.clone())
    .bind(d.kind.as_str())
    .bind(d.mode.as_str())
    .bind(d.lock_name.clone())
    .bind(d.pin_slots)
    .bind(d.keypad_disabled_until.map(to_micros))
    .bind(d.id.0)
    .execute(conn)
    .await
    .map_err(StoreError::classify)?;
    Ok(())
}

// ---- sensors ----

fn sensor_row(row: &AnyRow) -> Result<Sensor> {
    let kind: String = row.try_get("kind")?;
    Ok(Sensor {
        id: SensorId(row.try_get("id")?),
        property_id: PropertyId(row.try_get("property_id")?),
        unit_id: row.try_get::<Option<i64>, _>("unit_id")?.map(UnitId),
        door_id: row.try_get::<Option<i64>, _>("door_id")?.map(DoorId),
        name: row.try_get("name")?,
        kind: parse_named::<SensorKind>(&kind, "sensor kind")?,
        floor: row.try_get("floor")?,
        device_name: row.try_get("device_name")?,
    })
}

/// What a new sensor needs.
#[derive(Clone, Debug)]
pub struct NewSensor {
    pub property_id: PropertyId,
    pub unit_id: Option<UnitId>,
    pub door_id: Option<DoorId>,
    pub name: String,
    pub kind: SensorKind,
    pub floor: i64,
}

/// # Errors
/// `Conflict` when the name is taken in the property.
pub async fn create_sensor(conn: &mut Conn, s: &NewSensor) -> Result<Sensor> {
    let row = sqlx::query(
        "INSERT INTO sensors (property_id, unit_id, door_id, name, kind, floor) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, property_id, unit_id, door_id, name, kind, floor, device_name",
    )
    .bind(s.property_id.0)
    .bind(s.unit_id.map(|u| u.0))
    .bind(s.door_id.map(|d| d.0))
    .bind(s.name.clone())
    .bind(s.kind.as_str())
    .bind(s.floor)
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    sensor_row(&row)
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_sensor(conn: &mut Conn, id: SensorId) -> Result<Option<Sensor>> {
    let row = sqlx::query(
        "SELECT id, property_id, unit_id, door_id, name, kind, floor, device_name FROM sensors WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(sensor_row).transpose()
}

/// The sensor with this Zigbee2MQTT friendly name.
///
/// # Errors
/// `Database` on a failed read.
pub async fn sensor_by_device_name(conn: &mut Conn, name: &str) -> Result<Option<Sensor>> {
    let row = sqlx::query(
        "SELECT id, property_id, unit_id, door_id, name, kind, floor, device_name FROM sensors WHERE device_name = $1",
    )
    .bind(name.to_owned())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(sensor_row).transpose()
}

/// Pairs a sensor with a device (or unpairs it with `None`).
///
/// # Errors
/// `Conflict` when the device is paired with another sensor.
pub async fn set_sensor_device(conn: &mut Conn, id: SensorId, device: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE sensors SET device_name = $1 WHERE id = $2")
        .bind(device.map(str::to_owned))
        .bind(id.0)
        .execute(conn)
        .await
        .map_err(StoreError::classify)?;
    Ok(())
}

/// # Errors
/// `Database` on a failed read.
pub async fn list_sensors(conn: &mut Conn, property: PropertyId) -> Result<Vec<Sensor>> {
    let rows = sqlx::query(
        "SELECT id, property_id, unit_id, door_id, name, kind, floor, device_name FROM sensors WHERE property_id = $1 ORDER BY id",
    )
    .bind(property.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(sensor_row).collect()
}
