//! What the manager's console reads that the API has no single call for: every door of a
//! building with what its lock last reported and how far its slots are, in a fixed number of
//! reads whatever the building's size, and the same for one door with its settings. Staff of
//! the property only (the `Staff` capability); what a lock reports now is theirs to see without
//! a reason (docs/ARCHITECTURE.md, decision 45), its history is not (the door page reads events
//! through [`App::list_events`]).

use latchkey_core::DoorId;
use latchkey_core::model::DoorKind;
use latchkey_store::building::BuildingDoor;
use latchkey_store::devices::{self as repo, Device, SlotStatus};
use latchkey_store::property as property_repo;
use latchkey_store::records::{Door, Property};

use crate::authz::{Principal, Staff};
use crate::devices::{SettingsView, desired_settings};
use crate::directory::load_property;
use crate::pages::{DoorCondition, condition};
use crate::{App, Result};

/// How far a lock is with the codes latchkey manages on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotCounts {
    pub set: i64,
    /// Accepted by a lock that cannot show which code a slot holds (docs/DEVICES.md).
    pub assumed: i64,
    /// Waiting to be written, read or removed (pending, probing, removing).
    pub pending: i64,
    pub failed: i64,
    /// Codes on the lock that latchkey does not know.
    pub unmanaged: i64,
}

impl SlotCounts {
    fn add(&mut self, status: SlotStatus, n: i64) {
        match status {
            SlotStatus::Set => self.set += n,
            SlotStatus::Assumed => self.assumed += n,
            SlotStatus::Pending | SlotStatus::Probing | SlotStatus::Removing => self.pending += n,
            SlotStatus::Failed => self.failed += n,
            SlotStatus::Unmanaged => self.unmanaged += n,
            SlotStatus::Removed => {}
        }
    }
}

/// One door of the building as the console shows it.
#[derive(Clone, Debug)]
pub struct ConsoleDoor {
    pub door: Door,
    /// The unit's label and floor, for a unit's door.
    pub unit: Option<(String, i64)>,
    pub condition: DoorCondition,
    /// The battery's last report in percent.
    pub battery: Option<i64>,
    pub battery_low: bool,
    pub slots: SlotCounts,
}

/// A building's doors.
#[derive(Clone, Debug)]
pub struct BuildingView {
    pub property: Property,
    pub doors: Vec<ConsoleDoor>,
}

/// One door with what the door page shows beside its events.
#[derive(Clone, Debug)]
pub struct DoorView {
    pub property: Property,
    pub door: ConsoleDoor,
    pub device: Option<Device>,
    /// For a paired lock: the settings it should hold and those it last reported.
    pub settings: Option<SettingsView>,
}

/// A glance at one door of the building page: where it is and what is wrong with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoorGlance {
    pub id: DoorId,
    /// The unit's floor, for a unit's door.
    pub floor: Option<i64>,
    pub kind: DoorKind,
    pub paired: bool,
    pub condition: DoorCondition,
    pub battery_low: bool,
    /// A slot of its lock failed, or holds a code latchkey does not know.
    pub codes_in_trouble: bool,
}

impl DoorGlance {
    /// A door its manager should look at: its paired lock is offline, jammed, silent since it
    /// was paired or its door open; its battery is low; or a code failed or is unknown on it.
    /// Locked or unlocked is the household's business, and pending codes are on their way.
    #[must_use]
    pub fn needs_attention(&self) -> bool {
        self.paired
            && (matches!(
                self.condition,
                DoorCondition::Offline
                    | DoorCondition::Jammed
                    | DoorCondition::Open
                    | DoorCondition::Unknown
            ) || self.battery_low
                || self.codes_in_trouble)
    }
}

/// The building page's doors: a glance at each, and the chosen ones in full.
#[derive(Clone, Debug)]
pub struct BuildingPageView {
    pub property: Property,
    pub glance: Vec<DoorGlance>,
    pub doors: Vec<ConsoleDoor>,
}

fn sort_by_floor_and_name(doors: &mut [ConsoleDoor]) {
    doors.sort_by(|a, b| {
        let floor = |d: &ConsoleDoor| d.unit.as_ref().map(|u| u.1);
        floor(a)
            .cmp(&floor(b))
            .then_with(|| a.door.name.cmp(&b.door.name))
    });
}

fn console_door_of(b: BuildingDoor) -> ConsoleDoor {
    let condition = match &b.door.lock_name {
        Some(_) => condition(
            b.availability.as_deref().unwrap_or("unknown"),
            b.lock_state.as_deref().unwrap_or("unknown"),
            b.door_state.as_deref().unwrap_or("unknown"),
        ),
        None => DoorCondition::Unknown,
    };
    let [set, pending, failed, unmanaged, assumed] = b.slots;
    ConsoleDoor {
        door: b.door,
        unit: b.unit,
        condition,
        battery: b.battery,
        battery_low: b.battery.is_some_and(|x| x <= crate::devices::LOW_BATTERY),
        slots: SlotCounts {
            set,
            assumed,
            pending,
            failed,
            unmanaged,
        },
    }
}

fn console_door(
    door: Door,
    unit: Option<(String, i64)>,
    device: Option<&Device>,
    slots: SlotCounts,
) -> ConsoleDoor {
    let (condition, battery) = match device {
        Some(d) => (
            condition(&d.availability, &d.lock_state, &d.door_state),
            d.battery,
        ),
        None => (DoorCondition::Unknown, None),
    };
    ConsoleDoor {
        door,
        unit,
        condition,
        battery,
        battery_low: battery.is_some_and(|b| b <= crate::devices::LOW_BATTERY),
        slots,
    }
}

impl App {
    /// Every door of the staff member's property with its lock's state and slot counts, by
    /// floor then name (doors of no unit first). Two reads, whatever the building's size.
    ///
    /// # Errors
    /// Only storage failures.
    pub async fn building(&self, staff: Staff<'_>) -> Result<BuildingView> {
        let p = staff.property();
        let mut conn = self.store().read().await?;
        let property = load_property(&mut conn, p).await?;
        // One row for the whole building (decision 76).
        let mut doors: Vec<ConsoleDoor> = latchkey_store::building::building_doors(&mut conn, p)
            .await?
            .into_iter()
            .map(console_door_of)
            .collect();
        sort_by_floor_and_name(&mut doors);
        Ok(BuildingView { property, doors })
    }

    /// The building page: a glance at every door of the staff member's property, and the doors
    /// `choose` picks from it read in full, by floor then name (decision 79). Two reads, the
    /// slots counted only for the chosen doors.
    ///
    /// # Errors
    /// Only storage failures.
    pub async fn building_page(
        &self,
        staff: Staff<'_>,
        choose: impl FnOnce(&[DoorGlance]) -> Vec<DoorId>,
    ) -> Result<BuildingPageView> {
        let p = staff.property();
        let mut conn = self.store().read().await?;
        let property = load_property(&mut conn, p).await?;
        let glance: Vec<DoorGlance> = latchkey_store::building::building_glance(&mut conn, p)
            .await?
            .into_iter()
            .map(|g| {
                let condition = if g.paired {
                    condition(
                        g.availability.as_deref().unwrap_or("unknown"),
                        g.lock_state.as_deref().unwrap_or("unknown"),
                        g.door_state.as_deref().unwrap_or("unknown"),
                    )
                } else {
                    DoorCondition::Unknown
                };
                DoorGlance {
                    id: g.id,
                    floor: g.floor,
                    kind: g.kind,
                    paired: g.paired,
                    condition,
                    battery_low: g.battery.is_some_and(|x| x <= crate::devices::LOW_BATTERY),
                    codes_in_trouble: g.codes_in_trouble,
                }
            })
            .collect();
        let ids = choose(&glance);
        let every = ids.len() == glance.len();
        let rows = if every {
            latchkey_store::building::building_doors(&mut conn, p).await?
        } else {
            latchkey_store::building::building_doors_among(&mut conn, p, &ids).await?
        };
        let mut doors: Vec<ConsoleDoor> = rows.into_iter().map(console_door_of).collect();
        if !every {
            let wanted: std::collections::HashSet<DoorId> = ids.into_iter().collect();
            doors.retain(|d| wanted.contains(&d.door.id));
        }
        sort_by_floor_and_name(&mut doors);
        Ok(BuildingPageView {
            property,
            glance,
            doors,
        })
    }

    /// One door for its console page: staff of its property only. Someone who may not see the
    /// door is told it is not found; someone who sees it (its household) is not allowed.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden` as above; storage failures.
    pub async fn door_view(&self, who: &Principal, id: DoorId) -> Result<DoorView> {
        let door = self.get_door(who, id).await?;
        who.staff(door.property_id)?;
        let mut conn = self.store().read().await?;
        let property = load_property(&mut conn, door.property_id).await?;
        let unit = match door.unit_id {
            Some(u) => property_repo::get_unit(&mut conn, u)
                .await?
                .map(|u| (u.label, u.floor)),
            None => None,
        };
        let device = match &door.lock_name {
            Some(name) => repo::get_device(&mut conn, name).await?,
            None => None,
        };
        let mut counts = SlotCounts::default();
        for s in repo::slots_of_door(&mut conn, id).await? {
            counts.add(s.status, 1);
        }
        let settings = device.as_ref().map(|d| SettingsView {
            desired: desired_settings(&property.policy, door.mode),
            reported: d.reported,
        });
        Ok(DoorView {
            door: console_door(door, unit, device.as_ref(), counts),
            property,
            device,
            settings,
        })
    }
}
