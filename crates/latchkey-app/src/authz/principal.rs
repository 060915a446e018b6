//! Who is asking: the [`Principal`] that authentication mints, and the facts about them that
//! the rules in the sibling modules read.

use jiff::Timestamp;
use latchkey_core::model::Role;
use latchkey_core::{PersonId, PropertyId, UnitId};
use latchkey_store::records::{Membership, Person};

/// How a request was authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Session(i64),
    ApiToken(i64),
    /// A person at the installer's terminal (the CLI has the data directory, so it is trusted).
    Terminal,
}

impl Via {
    /// How the audit log names it: `session`, `api_token` or `terminal`.
    pub fn name(self) -> &'static str {
        match self {
            Via::Session(_) => "session",
            Via::ApiToken(_) => "api_token",
            Via::Terminal => "terminal",
        }
    }
}

/// An authenticated person with their memberships as of the request's instant.
#[derive(Clone, Debug)]
pub struct Principal {
    person: Person,
    memberships: Vec<Membership>,
    via: Via,
    at: Timestamp,
}

impl Principal {
    pub(crate) fn new(
        person: Person,
        memberships: Vec<Membership>,
        via: Via,
        at: Timestamp,
    ) -> Self {
        Principal {
            person,
            memberships,
            via,
            at,
        }
    }

    pub fn person(&self) -> &Person {
        &self.person
    }

    pub fn id(&self) -> PersonId {
        self.person.id
    }

    pub fn via(&self) -> Via {
        self.via
    }

    /// The request's instant.
    pub(super) fn at(&self) -> Timestamp {
        self.at
    }

    pub fn is_admin(&self) -> bool {
        self.person.is_admin
    }

    /// Memberships in force at the request's instant.
    pub fn active(&self) -> impl Iterator<Item = &Membership> {
        self.memberships.iter().filter(|m| m.is_active_at(self.at))
    }

    /// Properties where this person has any standing (admins: `None`, meaning all).
    pub fn visible_properties(&self) -> Option<Vec<PropertyId>> {
        if self.is_admin() {
            return None;
        }
        let mut v: Vec<PropertyId> = self.active().map(|m| m.property_id).collect();
        v.sort_unstable();
        v.dedup();
        Some(v)
    }

    pub(super) fn staff_role(&self, property: PropertyId) -> Option<Role> {
        if self.is_admin() {
            return Some(Role::Installer);
        }
        self.active()
            .filter(|m| m.property_id == property && m.role.is_staff())
            .map(|m| m.role)
            .min_by_key(|r| if *r == Role::Installer { 0 } else { 1 })
    }

    /// Units of `property` where this person is a resident.
    pub fn resident_units(&self, property: PropertyId) -> Vec<UnitId> {
        self.active()
            .filter(|m| m.property_id == property && m.role == Role::Resident)
            .filter_map(|m| m.unit_id)
            .collect()
    }

    /// Units of `property` this person lives in: as a resident or a household member (not as
    /// a guest or trusted contact, who are not told the household's arrangements).
    pub fn household_units(&self, property: PropertyId) -> Vec<UnitId> {
        self.active()
            .filter(|m| {
                m.property_id == property && matches!(m.role, Role::Resident | Role::Household)
            })
            .filter_map(|m| m.unit_id)
            .collect()
    }

    /// Units of `property` this person belongs to in any role.
    pub fn units(&self, property: PropertyId) -> Vec<UnitId> {
        self.active()
            .filter(|m| m.property_id == property)
            .filter_map(|m| m.unit_id)
            .collect()
    }

    /// Units of `property` where this person lives (resident or household member): the units
    /// whose entry notices they see.
    pub fn home_units(&self, property: PropertyId) -> Vec<UnitId> {
        self.active()
            .filter(|m| m.property_id == property)
            .filter(|m| matches!(m.role, Role::Resident | Role::Household))
            .filter_map(|m| m.unit_id)
            .collect()
    }
}
