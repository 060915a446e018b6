//! Properties, units, door groups, doors and sensors: the building as the installer sets it up.

use jiff::tz::TimeZone;
use latchkey_core::model::{DoorKind, DoorMode, Policy, SensorKind};
use latchkey_core::schedule::Schedule;
use latchkey_core::{DoorGroupId, DoorId, PropertyId, SensorId, UnitId};
use latchkey_store::Conn;
use latchkey_store::audit::NewEvent;
use latchkey_store::property::{self as repo, NewDoor, NewProperty, NewSensor};
use latchkey_store::records::{Door, DoorGroup, Property, Sensor, Unit};
use serde::Deserialize;
use serde_json::json;

use crate::authz::{Admin, DoorChanger, Member, Principal, PropertyChanger, Staff, StaffOn};
use crate::{App, AppError, Result};

/// What a name made only of invisible characters is told.
pub(crate) const INVISIBLE_ONLY: &str =
    "must contain a visible character (not only spaces, zero-width or direction characters)";

pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if !latchkey_core::text::has_visible_char(v) {
        return Err(AppError::invalid(field, INVISIBLE_ONLY));
    }
    if v.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_owned())
}

/// Resolves an IANA time zone name.
///
/// # Errors
/// `Invalid` naming the field when the zone is unknown.
pub fn time_zone(name: &str) -> Result<TimeZone> {
    TimeZone::get(name).map_err(|_| {
        AppError::invalid(
            "timezone",
            format!(
                "`{name}` is not a known IANA time zone (e.g. Europe/Berlin, America/New_York)"
            ),
        )
    })
}

fn check_office_hours(s: &Schedule) -> Result<()> {
    s.validate()
        .map_err(|e| AppError::invalid("office_hours", e.to_string()))?;
    match s {
        Schedule::Always | Schedule::Weekly { .. } => Ok(()),
        _ => Err(AppError::invalid(
            "office_hours",
            "must be `always` or `weekly` windows",
        )),
    }
}

fn check_policy(p: &Policy) -> Result<()> {
    p.validate().map_err(|m| AppError::invalid("policy", m))
}

/// A new property.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyInput {
    pub name: String,
    #[serde(default)]
    pub address: String,
    pub timezone: String,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default = "always")]
    pub office_hours: Schedule,
}

fn always() -> Schedule {
    Schedule::Always
}

/// Changes to a property; absent fields stay as they are.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyPatch {
    pub name: Option<String>,
    pub address: Option<String>,
    pub timezone: Option<String>,
    pub policy: Option<Policy>,
    pub office_hours: Option<Schedule>,
}

impl PropertyPatch {
    /// Whether it changes the property's settings (policy, time zone): an installer's change.
    pub fn touches_settings(&self) -> bool {
        self.policy.is_some() || self.timezone.is_some()
    }
}

/// A new door.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorInput {
    pub name: String,
    pub kind: DoorKind,
    pub unit_id: Option<UnitId>,
    #[serde(default = "normal")]
    pub mode: DoorMode,
    #[serde(default = "default_slots")]
    pub pin_slots: i64,
}

fn normal() -> DoorMode {
    DoorMode::Normal
}

fn default_slots() -> i64 {
    30
}

/// Changes to a door.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorPatch {
    pub name: Option<String>,
    pub mode: Option<DoorMode>,
    pub pin_slots: Option<i64>,
    /// Why the mode changes: required when staff change the mode of a unit's own door (the
    /// household is told who changed it and why).
    pub reason: Option<String>,
}

impl DoorPatch {
    /// Whether it changes anything but the mode (a staff change).
    pub fn touches_settings(&self) -> bool {
        self.name.is_some() || self.pin_slots.is_some()
    }
}

/// A new sensor.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorInput {
    pub name: String,
    pub kind: SensorKind,
    pub unit_id: Option<UnitId>,
    pub door_id: Option<DoorId>,
    #[serde(default)]
    pub floor: i64,
}

pub(crate) async fn load_property(conn: &mut Conn, id: PropertyId) -> Result<Property> {
    repo::get_property(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("property"))
}

async fn unit_in(conn: &mut Conn, property: PropertyId, unit: UnitId) -> Result<Unit> {
    repo::get_unit(conn, unit)
        .await?
        .filter(|u| u.property_id == property)
        .ok_or_else(|| AppError::invalid("unit_id", format!("unit {unit} is not in this property")))
}

async fn doors_in(conn: &mut Conn, property: PropertyId, doors: &[DoorId]) -> Result<()> {
    for d in doors {
        repo::get_door(conn, *d)
            .await?
            .filter(|x| x.property_id == property)
            .ok_or_else(|| {
                AppError::invalid("doors", format!("door {d} is not in this property"))
            })?;
    }
    Ok(())
}

/// The doors a non-staff member may see: those their units' door groups hold and their units' own.
pub(crate) async fn member_doors(conn: &mut Conn, m: &Member<'_>) -> Result<Vec<DoorId>> {
    let units = m.principal().units(m.property());
    let mut doors = Vec::new();
    // Narrowed in SQL to the units' doors; the test below is the rule.
    for d in repo::list_doors_near(conn, m.property(), &units, &[]).await? {
        if d.unit_id.is_some_and(|u| units.contains(&u)) {
            doors.push(d.id);
        }
    }
    for unit in units {
        if let Some(u) = repo::get_unit(conn, unit).await?
            && let Some(g) = u.door_group_id
            && let Some(group) = repo::get_door_group(conn, g).await?
        {
            doors.extend(group.doors);
        }
    }
    doors.sort_unstable();
    doors.dedup();
    Ok(doors)
}

impl App {
    /// Creates a property (admins only).
    ///
    /// # Errors
    /// `Forbidden` for non-admins; `Invalid` for a bad field; `Conflict` for a taken name.
    pub async fn create_property(
        &self,
        admin: Admin<'_>,
        input: PropertyInput,
    ) -> Result<Property> {
        let who = admin.principal();
        let name = check_text("name", &input.name, 200)?;
        time_zone(&input.timezone)?;
        check_policy(&input.policy)?;
        check_office_hours(&input.office_hours)?;
        let mut tx = self.store().write().await?;
        let p = repo::create_property(
            tx.conn(),
            &NewProperty {
                name,
                address: input.address.trim().to_owned(),
                timezone: input.timezone,
                policy: input.policy,
                office_hours: input.office_hours,
            },
            self.now(),
        )
        .await
        .map_err(|e| AppError::conflict_or(e, "a property with this name already exists"))?;
        let ev = NewEvent::new("property.created", format!("property:{}", p.id))
            .property(p.id)
            .actor(Some(who.id()))
            .data(json!({ "name": p.name, "timezone": p.timezone }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(p)
    }

    /// Properties the caller has standing at.
    ///
    /// # Errors
    /// `Store` on a failed read.
    pub async fn list_properties(&self, who: &Principal) -> Result<Vec<Property>> {
        let mut conn = self.store().read().await?;
        let all = repo::list_properties(&mut conn).await?;
        Ok(match who.visible_properties() {
            None => all,
            Some(ids) => all.into_iter().filter(|p| ids.contains(&p.id)).collect(),
        })
    }

    /// # Errors
    /// `NotFound` for outsiders.
    pub async fn get_property(&self, who: &Principal, id: PropertyId) -> Result<Property> {
        who.member(id)?;
        let mut conn = self.store().read().await?;
        load_property(&mut conn, id).await
    }

    /// Changes a property. Policy and time zone need a changer minted for settings (an
    /// installer's, [`Principal::property_changer`]); the rest a manager's.
    ///
    /// # Errors
    /// `Forbidden` for settings without an installer's check, `Invalid` or `Conflict` as the
    /// case may be.
    pub async fn update_property(
        &self,
        changer: PropertyChanger<'_>,
        patch: PropertyPatch,
    ) -> Result<Property> {
        if patch.touches_settings() && !changer.settings() {
            return Err(AppError::forbidden(
                "only the property's installers may do this",
            ));
        }
        let who = changer.principal();
        let id = changer.property();
        let mut tx = self.store().write().await?;
        let mut p = load_property(tx.conn(), id).await?;
        if let Some(name) = &patch.name {
            p.name = check_text("name", name, 200)?;
        }
        if let Some(address) = &patch.address {
            p.address = address.trim().to_owned();
        }
        if let Some(tz) = &patch.timezone {
            time_zone(tz)?;
            p.timezone = tz.clone();
        }
        if let Some(policy) = &patch.policy {
            check_policy(policy)?;
            p.policy = policy.clone();
        }
        if let Some(hours) = &patch.office_hours {
            check_office_hours(hours)?;
            p.office_hours = hours.clone();
        }
        repo::update_property(tx.conn(), &p)
            .await
            .map_err(|e| AppError::conflict_or(e, "a property with this name already exists"))?;
        let ev = NewEvent::new("property.updated", format!("property:{id}"))
            .property(id)
            .actor(Some(who.id()))
            .data(json!({ "fields": changed(&[
                ("name", patch.name.is_some()), ("address", patch.address.is_some()),
                ("timezone", patch.timezone.is_some()), ("policy", patch.policy.is_some()),
                ("office_hours", patch.office_hours.is_some())]) }));
        self.commit_with(tx, vec![ev]).await?;
        if patch.policy.is_some() || patch.timezone.is_some() {
            // New lock settings, and schedules now fall at other instants.
            let mut conn = self.store().read().await?;
            for d in repo::list_doors(&mut conn, id).await? {
                self.devices().desired_state_changed(d.id);
            }
        }
        Ok(p)
    }

    // ---- units ----

    /// # Errors
    /// `Forbidden` for non-staff; `Invalid`; `Conflict` for a taken label.
    pub async fn create_unit(
        &self,
        staff: Staff<'_>,
        label: &str,
        floor: i64,
        door_group: Option<DoorGroupId>,
    ) -> Result<Unit> {
        let property = staff.property();
        let label = check_text("label", label, 32)?;
        if !(-10..=300).contains(&floor) {
            return Err(AppError::invalid("floor", "must be between -10 and 300"));
        }
        let mut tx = self.store().write().await?;
        if let Some(g) = door_group {
            repo::get_door_group(tx.conn(), g)
                .await?
                .filter(|x| x.property_id == property)
                .ok_or_else(|| {
                    AppError::invalid("door_group_id", "is not a door group of this property")
                })?;
        }
        let u = repo::create_unit(tx.conn(), property, &label, floor, door_group)
            .await
            .map_err(|e| AppError::conflict_or(e, "a unit with this label already exists here"))?;
        let ev = NewEvent::new("unit.created", format!("unit:{}", u.id))
            .property(property)
            .actor(Some(staff.principal().id()))
            .data(json!({ "label": u.label, "floor": u.floor }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(u)
    }

    /// Units the caller may see: all of them for staff, their own for others.
    ///
    /// # Errors
    /// `NotFound` for outsiders.
    pub async fn list_units(&self, who: &Principal, property: PropertyId) -> Result<Vec<Unit>> {
        let m = who.member(property)?;
        let mut conn = self.store().read().await?;
        let units = repo::list_units(&mut conn, property).await?;
        let mine = who.units(property);
        Ok(units
            .into_iter()
            .filter(|u| m.is_staff() || mine.contains(&u.id))
            .collect())
    }

    /// # Errors
    /// `NotFound` when it does not exist or the caller may not see it.
    pub async fn get_unit(&self, who: &Principal, id: UnitId) -> Result<Unit> {
        let mut conn = self.store().read().await?;
        let u = repo::get_unit(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("unit"))?;
        let m = who
            .member(u.property_id)
            .map_err(|_| AppError::not_found("unit"))?;
        if m.is_staff() || who.units(u.property_id).contains(&id) {
            Ok(u)
        } else {
            Err(AppError::not_found("unit"))
        }
    }

    /// Loads unit `id` for a change by staff.
    ///
    /// # Errors
    /// `NotFound` when the caller may not see it; `Forbidden` for non-staff.
    pub async fn may_update_unit<'a>(
        &self,
        who: &'a Principal,
        id: UnitId,
    ) -> Result<StaffOn<'a, Unit>> {
        let u = self.get_unit(who, id).await?;
        who.staff_on(u)
    }

    /// Changes the unit the capability carries.
    ///
    /// # Errors
    /// As [`App::create_unit`].
    pub async fn update_unit(
        &self,
        staff: StaffOn<'_, Unit>,
        label: Option<&str>,
        floor: Option<i64>,
        door_group: Option<Option<DoorGroupId>>,
    ) -> Result<Unit> {
        let who = staff.principal();
        let mut u = staff.record().clone();
        let id = u.id;
        if let Some(l) = label {
            u.label = check_text("label", l, 32)?;
        }
        if let Some(f) = floor {
            if !(-10..=300).contains(&f) {
                return Err(AppError::invalid("floor", "must be between -10 and 300"));
            }
            u.floor = f;
        }
        let mut tx = self.store().write().await?;
        if let Some(g) = door_group {
            if let Some(g) = g {
                repo::get_door_group(tx.conn(), g)
                    .await?
                    .filter(|x| x.property_id == u.property_id)
                    .ok_or_else(|| {
                        AppError::invalid("door_group_id", "is not a door group of this property")
                    })?;
            }
            u.door_group_id = g;
        }
        repo::update_unit(tx.conn(), &u)
            .await
            .map_err(|e| AppError::conflict_or(e, "a unit with this label already exists here"))?;
        let ev = NewEvent::new("unit.updated", format!("unit:{id}"))
            .property(u.property_id)
            .actor(Some(who.id()))
            .data(json!({ "label": u.label, "floor": u.floor, "door_group_id": u.door_group_id }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(u)
    }

    // ---- door groups ----

    /// # Errors
    /// `Forbidden` for non-staff; `Invalid` for doors of another property; `Conflict`.
    pub async fn create_door_group(
        &self,
        staff: Staff<'_>,
        name: &str,
        doors: &[DoorId],
    ) -> Result<DoorGroup> {
        let who = staff.principal();
        let property = staff.property();
        let name = check_text("name", name, 100)?;
        let mut tx = self.store().write().await?;
        doors_in(tx.conn(), property, doors).await?;
        let g = repo::create_door_group(tx.conn(), property, &name, doors)
            .await
            .map_err(|e| {
                AppError::conflict_or(e, "a door group with this name already exists here")
            })?;
        let ev = NewEvent::new("door_group.created", format!("door_group:{}", g.id))
            .property(property)
            .actor(Some(who.id()))
            .data(json!({ "name": g.name, "doors": g.doors }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(g)
    }

    /// # Errors
    /// `Forbidden` for non-staff.
    pub async fn list_door_groups(
        &self,
        who: &Principal,
        property: PropertyId,
    ) -> Result<Vec<DoorGroup>> {
        who.staff(property)?;
        let mut conn = self.store().read().await?;
        Ok(repo::list_door_groups(&mut conn, property).await?)
    }

    /// # Errors
    /// `NotFound` for outsiders and `Forbidden` for non-staff.
    pub async fn get_door_group(&self, who: &Principal, id: DoorGroupId) -> Result<DoorGroup> {
        let mut conn = self.store().read().await?;
        let g = repo::get_door_group(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("door group"))?;
        who.staff(g.property_id)?;
        Ok(g)
    }

    /// Loads door group `id` for a change by staff.
    ///
    /// # Errors
    /// As [`App::get_door_group`].
    pub async fn may_set_door_group_doors<'a>(
        &self,
        who: &'a Principal,
        id: DoorGroupId,
    ) -> Result<StaffOn<'a, DoorGroup>> {
        let g = self.get_door_group(who, id).await?;
        who.staff_on(g)
    }

    /// Replaces the doors of the group the capability carries.
    ///
    /// # Errors
    /// As [`App::create_door_group`].
    pub async fn set_door_group_doors(
        &self,
        staff: StaffOn<'_, DoorGroup>,
        doors: &[DoorId],
    ) -> Result<DoorGroup> {
        let who = staff.principal();
        let g = staff.record();
        let id = g.id;
        let mut tx = self.store().write().await?;
        doors_in(tx.conn(), g.property_id, doors).await?;
        repo::set_group_doors(tx.conn(), id, doors).await?;
        let g = repo::get_door_group(tx.conn(), id)
            .await?
            .ok_or_else(|| AppError::not_found("door group"))?;
        let ev = NewEvent::new("door_group.updated", format!("door_group:{id}"))
            .property(g.property_id)
            .actor(Some(who.id()))
            .data(json!({ "doors": g.doors }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(g)
    }

    // ---- doors ----

    /// # Errors
    /// `Forbidden` for non-staff; `Invalid`; `Conflict` for a taken name.
    pub async fn create_door(&self, staff: Staff<'_>, input: DoorInput) -> Result<Door> {
        let who = staff.principal();
        let property = staff.property();
        let name = check_text("name", &input.name, 100)?;
        if !(1..=250).contains(&input.pin_slots) {
            return Err(AppError::invalid("pin_slots", "must be between 1 and 250"));
        }
        let mut tx = self.store().write().await?;
        if let Some(u) = input.unit_id {
            unit_in(tx.conn(), property, u).await?;
        }
        let d = repo::create_door(
            tx.conn(),
            &NewDoor {
                property_id: property,
                unit_id: input.unit_id,
                name,
                kind: input.kind,
                mode: input.mode,
                pin_slots: input.pin_slots,
            },
        )
        .await
        .map_err(|e| AppError::conflict_or(e, "a door with this name already exists here"))?;
        let ev = NewEvent::new("door.created", format!("door:{}", d.id))
            .property(property)
            .actor(Some(who.id()))
            .data(json!({ "name": d.name, "kind": d.kind, "unit_id": d.unit_id, "mode": d.mode }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(d)
    }

    /// Doors the caller may see: all for staff; for others the doors they may open.
    ///
    /// # Errors
    /// `NotFound` for outsiders.
    pub async fn list_doors(&self, who: &Principal, property: PropertyId) -> Result<Vec<Door>> {
        let m = who.member(property)?;
        let mut conn = self.store().read().await?;
        if m.is_staff() {
            return Ok(repo::list_doors(&mut conn, property).await?);
        }
        // Only the caller's doors are read; the rule below still decides.
        let mine = member_doors(&mut conn, &m).await?;
        let doors = repo::list_doors_near(&mut conn, property, &[], &mine).await?;
        Ok(doors.into_iter().filter(|d| mine.contains(&d.id)).collect())
    }

    /// # Errors
    /// `NotFound` when it does not exist or the caller may not see it.
    pub async fn get_door(&self, who: &Principal, id: DoorId) -> Result<Door> {
        let mut conn = self.store().read().await?;
        let d = repo::get_door(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("door"))?;
        let m = who
            .member(d.property_id)
            .map_err(|_| AppError::not_found("door"))?;
        if m.is_staff() || member_doors(&mut conn, &m).await?.contains(&id) {
            Ok(d)
        } else {
            Err(AppError::not_found("door"))
        }
    }

    /// Loads door `id` and checks that the caller may make `patch`
    /// ([`Principal::door_changer`]).
    ///
    /// # Errors
    /// `NotFound` when the caller may not see the door; `Forbidden` as
    /// [`Principal::door_changer`].
    pub async fn may_update_door<'a>(
        &self,
        who: &'a Principal,
        id: DoorId,
        patch: &DoorPatch,
    ) -> Result<DoorChanger<'a>> {
        let d = self.get_door(who, id).await?;
        who.door_changer(d, patch.touches_settings(), patch.mode)
    }

    /// Changes the door the capability carries. Staff may change anything; a unit's residents
    /// may switch their own entry door between normal, privacy and vacation.
    ///
    /// # Errors
    /// `Forbidden` for a change the capability does not cover, `Invalid` or `Conflict` as the
    /// case may be.
    pub async fn update_door(&self, changer: DoorChanger<'_>, patch: DoorPatch) -> Result<Door> {
        changer.covers(patch.touches_settings(), patch.mode)?;
        let who = changer.principal();
        let mut d = changer.door().clone();
        let id = d.id;
        if let Some(n) = &patch.name {
            d.name = check_text("name", n, 100)?;
        }
        if let Some(slots) = patch.pin_slots {
            if !(1..=250).contains(&slots) {
                return Err(AppError::invalid("pin_slots", "must be between 1 and 250"));
            }
            d.pin_slots = slots;
        }
        let old_mode = d.mode;
        if let Some(mode) = patch.mode {
            d.mode = mode;
        }
        let reason = match &patch.reason {
            Some(_) if patch.mode.is_none() => {
                return Err(AppError::invalid(
                    "reason",
                    "a reason goes with a change of `mode`; send the mode too",
                ));
            }
            Some(r) => Some(check_text("reason", r, 500)?),
            None => None,
        };
        // Staff changing the mode of someone's home (not their own) say why, and the household
        // is told who and why, in the change's transaction.
        let household = d.unit_id.filter(|u| {
            changer.is_staff()
                && old_mode != d.mode
                && !who.household_units(d.property_id).contains(u)
        });
        if household.is_some() && reason.as_ref().is_none_or(|r| r.chars().count() < 5) {
            return Err(AppError::invalid(
                "reason",
                "say why you change the mode of a home's door (at least 5 characters); the household is told",
            ));
        }
        let mut tx = self.store().write().await?;
        repo::update_door(tx.conn(), &d)
            .await
            .map_err(|e| AppError::conflict_or(e, "a door with this name already exists here"))?;
        let mut events = vec![
            NewEvent::new("door.updated", format!("door:{id}"))
                .property(d.property_id)
                .actor(Some(who.id()))
                .data(json!({ "name": d.name, "pin_slots": d.pin_slots })),
        ];
        if old_mode != d.mode {
            let told = match household {
                Some(unit) => {
                    let body = json!({
                        "door_id": id, "door": d.name, "from": old_mode, "to": d.mode,
                        "by": who.id(), "by_name": who.person().name, "reason": reason,
                        "text": "Building staff changed your door's mode, for the reason given.",
                    });
                    let messages = crate::entry::tell_household(
                        tx.conn(),
                        d.property_id,
                        unit,
                        "door.mode_changed",
                        &body,
                        self.now(),
                    )
                    .await?;
                    latchkey_store::lockout::queue(tx.conn(), &messages).await?;
                    Some(messages.iter().map(|m| m.person_id).collect::<Vec<_>>())
                }
                None => None,
            };
            events.push(
                NewEvent::new("door.mode_changed", format!("door:{id}"))
                    .property(d.property_id)
                    .actor(Some(who.id()))
                    .data(
                        json!({ "from": old_mode, "to": d.mode, "reason": reason, "told": told }),
                    ),
            );
        }
        self.commit_with(tx, events).await?;
        self.devices().desired_state_changed(id);
        if (old_mode == DoorMode::Passage) != (d.mode == DoorMode::Passage) {
            self.passage_changed(&d, Some(who.id()));
        }
        Ok(d)
    }

    // ---- sensors ----

    /// # Errors
    /// `Forbidden` for non-staff; `Invalid`; `Conflict` for a taken name.
    pub async fn create_sensor(&self, staff: Staff<'_>, input: SensorInput) -> Result<Sensor> {
        let who = staff.principal();
        let property = staff.property();
        let name = check_text("name", &input.name, 100)?;
        let mut tx = self.store().write().await?;
        if let Some(u) = input.unit_id {
            unit_in(tx.conn(), property, u).await?;
        }
        if let Some(d) = input.door_id {
            doors_in(tx.conn(), property, &[d]).await?;
        }
        let s = repo::create_sensor(
            tx.conn(),
            &NewSensor {
                property_id: property,
                unit_id: input.unit_id,
                door_id: input.door_id,
                name,
                kind: input.kind,
                floor: input.floor,
            },
        )
        .await
        .map_err(|e| AppError::conflict_or(e, "a sensor with this name already exists here"))?;
        let ev = NewEvent::new("sensor.created", format!("sensor:{}", s.id))
            .property(property)
            .actor(Some(who.id()))
            .data(json!({ "name": s.name, "kind": s.kind, "unit_id": s.unit_id }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(s)
    }

    /// Sensors the caller may see: all for staff; their units' for others.
    ///
    /// # Errors
    /// `NotFound` for outsiders.
    pub async fn list_sensors(&self, who: &Principal, property: PropertyId) -> Result<Vec<Sensor>> {
        let m = who.member(property)?;
        let units = who.units(property);
        let mut conn = self.store().read().await?;
        Ok(repo::list_sensors(&mut conn, property)
            .await?
            .into_iter()
            .filter(|s| m.is_staff() || s.unit_id.is_some_and(|u| units.contains(&u)))
            .collect())
    }

    /// # Errors
    /// `NotFound` when it does not exist or the caller may not see it.
    pub async fn get_sensor(&self, who: &Principal, id: SensorId) -> Result<Sensor> {
        let mut conn = self.store().read().await?;
        let s = repo::get_sensor(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("sensor"))?;
        let m = who
            .member(s.property_id)
            .map_err(|_| AppError::not_found("sensor"))?;
        if m.is_staff()
            || s.unit_id
                .is_some_and(|u| who.units(s.property_id).contains(&u))
        {
            Ok(s)
        } else {
            Err(AppError::not_found("sensor"))
        }
    }
}

fn changed(fields: &[(&str, bool)]) -> Vec<String> {
    fields
        .iter()
        .filter(|(_, c)| *c)
        .map(|(f, _)| (*f).to_owned())
        .collect()
}
