//! The people and companies lockout recovery can call on: digital spare keys (granted by a
//! unit's residents to people they trust), the after-hours on-call roster and the property's
//! locksmiths (registered and verified by staff). Every change is audited.

use latchkey_core::model::Role;
use latchkey_core::schedule::Schedule;
use latchkey_core::{LocksmithId, PersonId, PropertyId, SpareKeyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::people;
use latchkey_store::recovery::{
    self as repo, Locksmith, NewLocksmith, NewSpareKey, OnCall, SpareKey,
};
use serde::Deserialize;
use serde_json::json;

use crate::authz::{Principal, SpareKeyRevoker, Staff, StaffOn, UnitAdmin};
use crate::{App, AppError, Result};

/// A locksmith company to register.
#[derive(Clone, Debug, Deserialize)]
pub struct LocksmithInput {
    pub company: String,
    pub licence: String,
    pub phone: String,
    pub hours: Schedule,
    pub callout_cents: i64,
}

fn text_field(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if !latchkey_core::text::has_visible_char(v) {
        return Err(AppError::invalid(field, crate::directory::INVISIBLE_ONLY));
    }
    if v.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

fn schedule_field(field: &str, s: &Schedule) -> Result<()> {
    s.validate()
        .map_err(|e| AppError::invalid(field, e.to_string()))
}

fn check_locksmith_status(status: &str) -> Result<()> {
    if ["verified", "suspended", "unverified"].contains(&status) {
        Ok(())
    } else {
        Err(AppError::invalid(
            "status",
            "must be verified, suspended or unverified",
        ))
    }
}

impl App {
    /// A resident of `unit` (or staff) gives `holder` a dormant spare key to it. The holder
    /// must have standing at the property (a trusted contact, household member or neighbour).
    ///
    /// # Errors
    /// `Forbidden`/`NotFound` per [`Principal::unit_admin`]; `Invalid` for a holder without
    /// standing or a bad schedule; `Conflict` when they already hold an active key to the unit.
    pub async fn grant_spare_key(
        &self,
        admin: UnitAdmin<'_>,
        holder: PersonId,
        reachable: Schedule,
    ) -> Result<SpareKey> {
        let who = admin.principal();
        let property = admin.property();
        let unit = admin.unit();
        schedule_field("reachable", &reachable)?;
        let now = self.now();
        let mut tx = self.store().write().await?;
        let unit_row = latchkey_store::property::get_unit(tx.conn(), unit)
            .await?
            .filter(|u| u.property_id == property)
            .ok_or_else(|| AppError::not_found("unit"))?;
        let standing = people::memberships_of(tx.conn(), holder)
            .await?
            .into_iter()
            .any(|m| m.property_id == property && m.is_active_at(now));
        if !standing {
            return Err(AppError::invalid(
                "holder_id",
                "the holder must be a person of this property (add them as a trusted contact first)",
            ));
        }
        let key = repo::create_spare_key(
            tx.conn(),
            &NewSpareKey {
                property_id: property,
                unit_id: unit_row.id,
                granted_by: admin.principal().id(),
                holder_id: holder,
                reachable,
            },
            now,
        )
        .await
        .map_err(|e| {
            AppError::conflict_or(e, "this person already holds a spare key to the unit")
        })?;
        let ev = NewEvent::new("spare_key.granted", format!("unit:{unit}"))
            .property(property)
            .actor(Some(who.id()))
            .data(json!({ "spare_key_id": key.id, "holder_id": holder }));
        self.commit_at(tx, vec![ev], now).await?;
        Ok(key)
    }

    /// Loads spare key `id` and checks that the caller may revoke it
    /// ([`Principal::spare_key_revoker`]).
    ///
    /// # Errors
    /// `NotFound` when the caller may not see the key; `Forbidden`/`NotFound` per
    /// [`Principal::unit_admin`].
    pub async fn may_revoke_spare_key<'a>(
        &self,
        who: &'a Principal,
        id: SpareKeyId,
    ) -> Result<SpareKeyRevoker<'a>> {
        let mut conn = self.store().read().await?;
        let key = repo::get_spare_key(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("spare key"))?;
        who.spare_key_revoker(key)
    }

    /// Revokes the spare key the capability carries: by the unit's residents, staff, or the
    /// holder giving it back.
    ///
    /// # Errors
    /// `Store` on a failed write.
    pub async fn revoke_spare_key(&self, revoker: SpareKeyRevoker<'_>) -> Result<()> {
        let who = revoker.principal();
        let key = revoker.key().clone();
        let id = key.id;
        let now = self.now();
        let mut tx = self.store().write().await?;
        repo::revoke_spare_key(tx.conn(), id, now).await?;
        let ev = NewEvent::new("spare_key.revoked", format!("unit:{}", key.unit_id))
            .property(key.property_id)
            .actor(Some(who.id()))
            .data(json!({ "spare_key_id": id, "holder_id": key.holder_id }));
        self.commit_at(tx, vec![ev], now).await?;
        Ok(())
    }

    /// Spare keys the caller may see: staff every key of the property, residents and household
    /// members the keys to their units, anyone the keys they hold. A guest or trusted contact
    /// of a unit is not told who holds its keys or when they can be reached.
    ///
    /// # Errors
    /// `NotFound` for outsiders.
    pub async fn list_spare_keys(
        &self,
        who: &Principal,
        property: PropertyId,
    ) -> Result<Vec<SpareKey>> {
        let member = who.member(property)?;
        let units = who.household_units(property);
        let mut conn = self.store().read().await?;
        Ok(repo::list_spare_keys(&mut conn, property, None)
            .await?
            .into_iter()
            .filter(|k| member.is_staff() || k.holder_id == who.id() || units.contains(&k.unit_id))
            .collect())
    }

    /// Puts a manager or installer of the property on call for `schedule` (staff only).
    ///
    /// # Errors
    /// `Invalid` when the person is not staff of the property or the schedule is bad.
    pub async fn set_on_call(
        &self,
        staff: Staff<'_>,
        person: PersonId,
        schedule: Schedule,
    ) -> Result<()> {
        let who = staff.principal();
        let property = staff.property();
        schedule_field("schedule", &schedule)?;
        let now = self.now();
        let mut tx = self.store().write().await?;
        let is_staff = people::memberships_of(tx.conn(), person)
            .await?
            .into_iter()
            .any(|m| {
                m.property_id == property
                    && m.is_active_at(now)
                    && matches!(m.role, Role::Manager | Role::Installer)
            });
        if !is_staff {
            return Err(AppError::invalid(
                "person_id",
                "only a manager or installer of this property can be on call",
            ));
        }
        repo::set_on_call(
            tx.conn(),
            &OnCall {
                property_id: property,
                person_id: person,
                schedule: schedule.clone(),
            },
            now,
        )
        .await?;
        let ev = NewEvent::new("on_call.set", format!("person:{person}"))
            .property(property)
            .actor(Some(who.id()))
            .data(json!({ "schedule": schedule }));
        self.commit_at(tx, vec![ev], now).await?;
        Ok(())
    }

    /// The property's on-call roster: staff, and the residents and household members who need
    /// to know who answers. Guests and trusted contacts are not told who is on call or when.
    ///
    /// # Errors
    /// `NotFound` for outsiders; `Forbidden` for anyone else who does not live at the property.
    pub async fn list_on_call(&self, who: &Principal, property: PropertyId) -> Result<Vec<OnCall>> {
        let member = who.member(property)?;
        if !member.is_staff() && who.household_units(property).is_empty() {
            return Err(AppError::forbidden(
                "only the building's staff and the people who live here see who is on call and when",
            ));
        }
        let mut conn = self.store().read().await?;
        Ok(repo::list_on_call(&mut conn, property).await?)
    }

    /// Registers a locksmith company (staff); it is offered only once verified.
    ///
    /// # Errors
    /// `Invalid` for an empty or over-long field, a bad schedule or a negative price;
    /// `Conflict` when the company is already registered.
    pub async fn add_locksmith(
        &self,
        staff: Staff<'_>,
        input: LocksmithInput,
    ) -> Result<Locksmith> {
        let who = staff.principal();
        let property = staff.property();
        let l = NewLocksmith {
            property_id: property,
            company: text_field("company", &input.company, 200)?,
            licence: text_field("licence", &input.licence, 100)?,
            phone: text_field("phone", &input.phone, 40)?,
            hours: input.hours,
            callout_cents: input.callout_cents,
        };
        schedule_field("hours", &l.hours)?;
        if !(0..=10_000_000).contains(&l.callout_cents) {
            return Err(AppError::invalid(
                "callout_cents",
                "must be between 0 and 10000000",
            ));
        }
        let now = self.now();
        let mut tx = self.store().write().await?;
        let created = repo::create_locksmith(tx.conn(), &l, now)
            .await
            .map_err(|e| AppError::conflict_or(e, "this company is already registered"))?;
        let ev = NewEvent::new("locksmith.registered", format!("locksmith:{}", created.id))
            .property(property)
            .actor(Some(who.id()))
            .data(json!({ "company": created.company, "licence": created.licence }));
        self.commit_at(tx, vec![ev], now).await?;
        Ok(created)
    }

    /// Checks `status`, loads locksmith `id` and checks that the caller is staff where it is
    /// registered ([`Principal::locksmith_admin`]).
    ///
    /// # Errors
    /// `Invalid` for another status; `NotFound`/`Forbidden` per [`Principal::staff`].
    pub async fn may_set_locksmith_status<'a>(
        &self,
        who: &'a Principal,
        id: LocksmithId,
        status: &str,
    ) -> Result<StaffOn<'a, Locksmith>> {
        check_locksmith_status(status)?;
        let mut conn = self.store().read().await?;
        let existing = repo::get_locksmith(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("locksmith"))?;
        who.locksmith_admin(existing)
    }

    /// Sets the status of the locksmith the capability carries after checking their licence
    /// and identity: `verified`, `suspended` or back to `unverified`.
    ///
    /// # Errors
    /// `Invalid` for another status.
    pub async fn set_locksmith_status(
        &self,
        staff: StaffOn<'_, Locksmith>,
        status: &str,
    ) -> Result<Locksmith> {
        check_locksmith_status(status)?;
        let who = staff.principal();
        let existing = staff.record().clone();
        let id = existing.id;
        let now = self.now();
        let mut tx = self.store().write().await?;
        repo::set_locksmith_status(tx.conn(), id, status, who.id(), now).await?;
        let ev = NewEvent::new("locksmith.status", format!("locksmith:{id}"))
            .property(existing.property_id)
            .actor(Some(who.id()))
            .data(json!({ "status": status }));
        self.commit_at(tx, vec![ev], now).await?;
        let mut conn = self.store().read().await?;
        repo::get_locksmith(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("locksmith"))
    }

    /// The property's locksmiths (any member).
    ///
    /// # Errors
    /// `NotFound` for outsiders.
    pub async fn list_locksmiths(
        &self,
        who: &Principal,
        property: PropertyId,
    ) -> Result<Vec<Locksmith>> {
        who.member(property)?;
        let mut conn = self.store().read().await?;
        Ok(repo::list_locksmiths(&mut conn, property).await?)
    }
}
