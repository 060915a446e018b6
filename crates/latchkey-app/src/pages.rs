//! What the residents' web pages read that the API has no single call for: a person's doors with
//! the live state of their locks, the properties a locked-out visitor may choose from, and the
//! form tokens that bind the pages' forms to a session. Everything else the pages do goes through
//! the same use cases as the API.

use std::collections::HashMap;

use latchkey_core::{DoorId, PersonId, PropertyId};
use latchkey_store::devices as device_repo;
use latchkey_store::people as people_repo;
use latchkey_store::property as repo;
use latchkey_store::records::{Door, Property};

use crate::authz::Principal;
use crate::directory::member_doors;
use crate::{App, Result};

/// The names a page of events shows, read for those events only.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub people: HashMap<PersonId, String>,
    pub doors: HashMap<DoorId, String>,
}

/// What a door's lock last reported, in the words a resident reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoorCondition {
    Locked,
    Unlocked,
    Open,
    Jammed,
    Offline,
    /// No lock paired, or no report yet.
    Unknown,
}

/// One door on a person's home page.
#[derive(Clone, Debug)]
pub struct DoorStatus {
    pub door: Door,
    pub condition: DoorCondition,
    /// The battery's last report in percent, when it is low.
    pub battery_low: Option<i64>,
    /// The battery's last report in percent, low or not.
    pub battery: Option<i64>,
    /// The lock's own position, whether or not the door stands open: locked, unlocked,
    /// jammed, offline or unknown (never `Open`).
    pub position: DoorCondition,
    /// Whether the lock's door sensor last said open (forced counts as open); `None`: it has
    /// not said.
    pub door_open: Option<bool>,
}

/// A property and the doors its member may open there.
#[derive(Clone, Debug)]
pub struct HomeProperty {
    pub property: Property,
    pub doors: Vec<DoorStatus>,
}

pub(crate) fn condition(availability: &str, lock_state: &str, door_state: &str) -> DoorCondition {
    if door_state == "open" || door_state.starts_with("error_forced") {
        return match position(availability, lock_state, door_state) {
            p @ (DoorCondition::Offline | DoorCondition::Jammed) => p,
            _ => DoorCondition::Open,
        };
    }
    position(availability, lock_state, door_state)
}

/// The lock's own position, the door aside.
fn position(availability: &str, lock_state: &str, door_state: &str) -> DoorCondition {
    if availability == "offline" {
        return DoorCondition::Offline;
    }
    if door_state.starts_with("error_jammed") {
        return DoorCondition::Jammed;
    }
    match lock_state {
        "locked" => DoorCondition::Locked,
        "unlocked" | "not_fully_locked" => DoorCondition::Unlocked,
        _ => DoorCondition::Unknown,
    }
}

impl App {
    /// The caller's properties, each with the doors they may open (staff: every door) and what
    /// each door's lock last reported.
    ///
    /// # Errors
    /// Only storage failures.
    pub async fn home(&self, who: &Principal) -> Result<Vec<HomeProperty>> {
        let mut out = Vec::new();
        for property in self.list_properties(who).await? {
            let doors = self.list_doors(who, property.id).await?;
            let mut conn = self.store().read().await?;
            let mut statuses = Vec::with_capacity(doors.len());
            for door in doors {
                let device = match &door.lock_name {
                    Some(name) => device_repo::get_device(&mut conn, name).await?,
                    None => None,
                };
                let status = match device {
                    Some(d) => DoorStatus {
                        condition: condition(&d.availability, &d.lock_state, &d.door_state),
                        battery_low: d.battery.filter(|b| *b <= crate::devices::LOW_BATTERY),
                        battery: d.battery,
                        position: position(&d.availability, &d.lock_state, &d.door_state),
                        door_open: match d.door_state.as_str() {
                            "open" => Some(true),
                            "closed" => Some(false),
                            s if s.starts_with("error_forced") => Some(true),
                            _ => None,
                        },
                        door,
                    },
                    None => DoorStatus {
                        door,
                        condition: DoorCondition::Unknown,
                        battery_low: None,
                        battery: None,
                        position: DoorCondition::Unknown,
                        door_open: None,
                    },
                };
                statuses.push(status);
            }
            out.push(HomeProperty {
                property,
                doors: statuses,
            });
        }
        Ok(out)
    }

    /// The names of `people` and `doors` at `property` that the caller may see: the rule of
    /// [`App::list_people`] and [`App::list_doors`], reading only the rows asked for (a page of
    /// events names a few of a building's people and doors, not all of them). Those the caller
    /// may not see are left out.
    ///
    /// # Errors
    /// `NotFound` when the caller has no standing at `property`; storage failures.
    pub async fn names_at(
        &self,
        who: &Principal,
        property: PropertyId,
        people: &[PersonId],
        doors: &[DoorId],
    ) -> Result<Names> {
        let m = who.member(property)?;
        let (people, doors): (Vec<PersonId>, Vec<DoorId>) = if m.is_staff() {
            (people.to_vec(), doors.to_vec())
        } else {
            let visible = self.visible_people(who, property).await?;
            let mut conn = self.store().read().await?;
            let mine = member_doors(&mut conn, &m).await?;
            (
                people
                    .iter()
                    .copied()
                    .filter(|p| visible.contains(p))
                    .collect(),
                doors.iter().copied().filter(|d| mine.contains(d)).collect(),
            )
        };
        let mut conn = self.store().read().await?;
        let mut out = Names::default();
        if !people.is_empty() {
            for p in people_repo::list_people_among(&mut conn, property, &people).await? {
                if people.contains(&p.id) {
                    out.people.insert(p.id, p.name);
                }
            }
        }
        if !doors.is_empty() {
            for d in repo::list_doors_near(&mut conn, property, &[], &doors).await? {
                if doors.contains(&d.id) {
                    out.doors.insert(d.id, d.name);
                }
            }
        }
        Ok(out)
    }

    /// The properties a visitor of the public "I'm locked out" page may pick, by name. The
    /// building's name is on its door; nothing about who lives there is in this list.
    ///
    /// # Errors
    /// Only storage failures.
    pub async fn public_properties(&self) -> Result<Vec<(PropertyId, String)>> {
        let mut conn = self.store().read().await?;
        Ok(repo::list_properties(&mut conn)
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect())
    }

    /// The form token for `binding` (see [`crate::secrets::Keys::form_token`]).
    pub fn form_token(&self, binding: &str) -> String {
        self.keys().form_token(binding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jammed_or_offline_lock_says_so_before_its_last_position() {
        assert_eq!(
            condition("offline", "locked", "closed"),
            DoorCondition::Offline
        );
        assert_eq!(
            condition("online", "locked", "error_jammed"),
            DoorCondition::Jammed
        );
        assert_eq!(condition("online", "locked", "open"), DoorCondition::Open);
        assert_eq!(
            condition("online", "unlocked", "closed"),
            DoorCondition::Unlocked
        );
        assert_eq!(
            condition("online", "locked", "closed"),
            DoorCondition::Locked
        );
    }
}
