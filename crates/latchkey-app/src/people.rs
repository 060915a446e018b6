//! People and memberships: move-in, household, guests, trusted contacts, move-out.

use jiff::Timestamp;
use latchkey_core::model::{CredentialStatus, Role};
use latchkey_core::{MembershipId, PersonId, PropertyId, UnitId};
use latchkey_store::audit::NewEvent;
use latchkey_store::lockout::Notification;
use latchkey_store::people::{self as repo, NewMembership, NewPerson};
use latchkey_store::records::{Membership, Person};
use latchkey_store::{credentials as creds, property};
use serde::Deserialize;
use serde_json::json;

use crate::auth::normalize_email;
use crate::authz::{MembershipAdder, MembershipEnder, PersonEditor, Principal, RoleGranter};
use crate::directory::check_text;
use crate::{App, AppError, Result, secrets};

pub(crate) fn check_name(name: &str) -> Result<String> {
    check_text("name", name, 200)
}

/// A role to hold, at a unit or at the whole property.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipInput {
    pub role: Role,
    pub unit_id: Option<UnitId>,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
}

impl MembershipInput {
    /// A property-wide role has no unit, a unit's role has one, and it ends after it starts.
    ///
    /// # Errors
    /// `Invalid` on the field at fault.
    pub fn check(&self) -> Result<()> {
        if self.role.is_property_wide() != self.unit_id.is_none() {
            return Err(AppError::invalid(
                "membership.unit_id",
                if self.role.is_property_wide() {
                    "installers, managers and locksmiths belong to the property, not to a unit"
                } else {
                    "residents, household members, guests and trusted contacts need a unit"
                },
            ));
        }
        if let (Some(f), Some(u)) = (self.valid_from, self.valid_until)
            && u <= f
        {
            return Err(AppError::invalid(
                "membership.valid_until",
                "must be after valid_from",
            ));
        }
        Ok(())
    }
}

/// A new person with their first membership at the property.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonInput {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Lets the person sign in; optional (a child may have only a PIN).
    pub password: Option<String>,
    pub membership: MembershipInput,
}

fn check_phone(phone: &str) -> Result<String> {
    let p = phone.trim();
    let ok =
        (4..=32).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
    if ok {
        Ok(p.to_owned())
    } else {
        Err(AppError::invalid(
            "phone",
            "must be a phone number of digits, spaces and + - ( )",
        ))
    }
}

impl App {
    /// Checks that `m` is well-formed, then that the caller may grant it at `property`
    /// ([`Principal::role_granter`]).
    ///
    /// # Errors
    /// `Invalid` for a malformed membership; `NotFound`/`Forbidden` as
    /// [`Principal::role_granter`].
    pub fn may_create_person<'a>(
        &self,
        who: &'a Principal,
        property: PropertyId,
        input: &PersonInput,
    ) -> Result<RoleGranter<'a>> {
        let m = &input.membership;
        m.check()?;
        who.role_granter(property, m.unit_id, m.role)
    }

    /// Checks that the caller is staff, that `m` is well-formed, then that the caller may grant
    /// it ([`Principal::membership_adder`]).
    ///
    /// # Errors
    /// As [`App::may_create_person`], `Forbidden` for non-staff first.
    pub fn may_create_membership<'a>(
        &self,
        who: &'a Principal,
        property: PropertyId,
        m: &MembershipInput,
    ) -> Result<MembershipAdder<'a>> {
        who.staff(property)?;
        m.check()?;
        who.membership_adder(property, m.unit_id, m.role)
    }

    /// Checks that `m` is well-formed, what `granter` covers and that its unit is in the
    /// property.
    async fn check_membership(&self, granter: &RoleGranter<'_>, m: &MembershipInput) -> Result<()> {
        m.check()?;
        granter.covers(m.unit_id, m.role)?;
        let property = granter.property();
        if let Some(unit) = m.unit_id {
            let mut conn = self.store().read().await?;
            property::get_unit(&mut conn, unit)
                .await?
                .filter(|u| u.property_id == property)
                .ok_or_else(|| {
                    AppError::invalid("membership.unit_id", "is not a unit of this property")
                })?;
        }
        Ok(())
    }

    /// Adds a person together with their first membership (move-in, a new household member,
    /// a guest, a trusted contact).
    ///
    /// An address that is already someone's sign-in address gets the same answer as a new one,
    /// so the creator never learns it is registered: the new person shows it, but it stays
    /// unconfirmed (it signs nobody in; the account that owns it is untouched), and the owner is
    /// told that someone typed their address (ARCHITECTURE.md, decisions).
    ///
    /// # Errors
    /// `Forbidden` when the caller may not grant that role there; `Invalid`.
    pub async fn create_person(
        &self,
        granter: RoleGranter<'_>,
        input: PersonInput,
    ) -> Result<(Person, Membership)> {
        self.check_membership(&granter, &input.membership).await?;
        let who = granter.principal();
        let property = granter.property();
        let name = check_name(&input.name)?;
        let email = input.email.as_deref().map(normalize_email).transpose()?;
        let phone = input.phone.as_deref().map(check_phone).transpose()?;
        let password_hash = match input.password {
            Some(pw) => {
                if email.is_none() {
                    return Err(AppError::invalid(
                        "email",
                        "is needed to sign in with a password",
                    ));
                }
                secrets::check_password_strength(&pw)?;
                Some(
                    tokio::task::spawn_blocking(move || secrets::hash_password(&pw))
                        .await
                        .map_err(|e| AppError::Internal(e.to_string()))??,
                )
            }
            None => None,
        };
        let now = self.now();
        let mut tx = self.store().write().await?;
        // Admins stand at every property id, so the property itself may still be missing.
        crate::directory::load_property(tx.conn(), property).await?;
        let owner = match &email {
            Some(e) => repo::find_by_email(tx.conn(), e).await?.map(|(p, _)| p.id),
            None => None,
        };
        let mut person = repo::create_person(
            tx.conn(),
            &NewPerson {
                name,
                email: if owner.is_some() { None } else { email.clone() },
                phone,
                password_hash,
                is_admin: false,
            },
            now,
        )
        .await
        .map_err(|e| {
            AppError::conflict_or(e, "a person with this e-mail address already exists")
        })?;
        if let (Some(owner), Some(address)) = (owner, email) {
            repo::set_unconfirmed_email(tx.conn(), person.id, &address).await?;
            let note = Notification {
                property_id: Some(property),
                person_id: owner,
                kind: "email_typed_for_new_person".into(),
                case_id: None,
                body: json!({
                    "to": address,
                    "message": "Someone added a new person with your e-mail address. Your account \
                                is unchanged and that person cannot sign in with it; if it was \
                                meant to be you, ask the building's staff to add your account.",
                }),
                created_at: now,
                sent_at: None,
            };
            latchkey_store::lockout::queue(tx.conn(), &[note]).await?;
            person.email = Some(address);
        }
        let m = input.membership;
        let membership = repo::create_membership(
            tx.conn(),
            &NewMembership {
                person_id: person.id,
                property_id: property,
                unit_id: m.unit_id,
                role: m.role,
                valid_from: m.valid_from,
                valid_until: m.valid_until,
            },
            now,
        )
        .await?;
        let events = vec![
            NewEvent::new("person.created", format!("person:{}", person.id))
                .property(property)
                .actor(Some(who.id()))
                .data(json!({ "name": person.name })),
            membership_event("membership.created", &membership, who),
        ];
        self.commit_with(tx, events).await?;
        Ok((person, membership))
    }

    /// Adds a membership to an existing person (staff only: residents add new people).
    ///
    /// # Errors
    /// As [`App::create_person`]; `Invalid` when the person does not exist, `NotFound` when the
    /// property does not.
    pub async fn create_membership(
        &self,
        adder: MembershipAdder<'_>,
        person: PersonId,
        m: MembershipInput,
    ) -> Result<Membership> {
        let granter = adder.granter();
        self.check_membership(granter, &m).await?;
        let who = granter.principal();
        let property = granter.property();
        let mut tx = self.store().write().await?;
        // Admins stand at every property id, so the property itself may still be missing.
        crate::directory::load_property(tx.conn(), property).await?;
        repo::get_person(tx.conn(), person)
            .await?
            .ok_or_else(|| AppError::invalid("person_id", "no such person"))?;
        let membership = repo::create_membership(
            tx.conn(),
            &NewMembership {
                person_id: person,
                property_id: property,
                unit_id: m.unit_id,
                role: m.role,
                valid_from: m.valid_from,
                valid_until: m.valid_until,
            },
            self.now(),
        )
        .await?;
        let ev = membership_event("membership.created", &membership, who);
        self.commit_with(tx, vec![ev]).await?;
        Ok(membership)
    }

    /// People the caller may see: everyone at the property for staff; the people of their own
    /// units (and themselves) for others.
    ///
    /// # Errors
    /// `NotFound` for outsiders.
    pub async fn list_people(&self, who: &Principal, property: PropertyId) -> Result<Vec<Person>> {
        let m = who.member(property)?;
        if m.is_staff() {
            let mut conn = self.store().read().await?;
            return Ok(repo::list_people(&mut conn, property).await?);
        }
        // The read is narrowed to the people named; the rule below still decides.
        let visible = self.visible_people(who, property).await?;
        let mut conn = self.store().read().await?;
        Ok(repo::list_people_among(&mut conn, property, &visible)
            .await?
            .into_iter()
            .filter(|p| visible.contains(&p.id))
            .collect())
    }

    /// The caller and the people who share a unit with them.
    pub(crate) async fn visible_people(
        &self,
        who: &Principal,
        property: PropertyId,
    ) -> Result<Vec<PersonId>> {
        let units = who.units(property);
        let mut conn = self.store().read().await?;
        // Narrowed in SQL to the caller's units and own memberships; the filter below is the rule.
        let mut ids: Vec<PersonId> =
            repo::list_memberships_near(&mut conn, property, &units, who.id())
                .await?
                .into_iter()
                .filter(|m| m.unit_id.is_some_and(|u| units.contains(&u)))
                .map(|m| m.person_id)
                .collect();
        ids.push(who.id());
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// # Errors
    /// `NotFound` when the person does not exist or the caller may not see them.
    pub async fn get_person(&self, who: &Principal, id: PersonId) -> Result<Person> {
        let mut conn = self.store().read().await?;
        let p = repo::get_person(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("person"))?;
        if who.id() == id || who.is_admin() {
            return Ok(p);
        }
        let their = repo::memberships_of(&mut conn, id).await?;
        drop(conn);
        for m in &their {
            if who.staff(m.property_id).is_ok() {
                return Ok(p);
            }
            if self
                .visible_people(who, m.property_id)
                .await
                .is_ok_and(|v| v.contains(&id))
            {
                return Ok(p);
            }
        }
        Err(AppError::not_found("person"))
    }

    /// Loads person `id` and checks that the caller may change them
    /// ([`Principal::person_editor`]).
    ///
    /// # Errors
    /// `NotFound` when the caller may not see them; `Forbidden` as
    /// [`Principal::person_editor`].
    pub async fn may_update_person<'a>(
        &self,
        who: &'a Principal,
        id: PersonId,
    ) -> Result<PersonEditor<'a>> {
        let p = self.get_person(who, id).await?;
        let mut conn = self.store().read().await?;
        let their = repo::memberships_of(&mut conn, id).await?;
        who.person_editor(p, &their)
    }

    /// Changes the name, e-mail or phone of the person the capability carries. The sign-in
    /// e-mail address changes only when the capability allows it
    /// ([`PersonEditor::may_change_email`]); the old address is told of every change, in the
    /// same transaction.
    ///
    /// # Errors
    /// `Forbidden` (a resident changing another member's e-mail), `Invalid`, `Conflict` as
    /// the case may be.
    pub async fn update_person(
        &self,
        editor: PersonEditor<'_>,
        name: Option<&str>,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Person> {
        let who = editor.principal();
        let mut p = editor.person().clone();
        let id = p.id;
        if let Some(n) = name {
            p.name = check_name(n)?;
        }
        let old_email = p.email.clone();
        if let Some(e) = email {
            let e = normalize_email(e)?;
            if old_email.as_deref() != Some(e.as_str()) {
                editor.may_change_email()?;
            }
            p.email = Some(e);
        }
        if let Some(ph) = phone {
            p.phone = Some(check_phone(ph)?);
        }
        let email_changed = old_email != p.email;
        let mut tx = self.store().write().await?;
        repo::update_person(tx.conn(), &p).await.map_err(|e| {
            AppError::conflict_or(e, "a person with this e-mail address already exists")
        })?;
        if let Some(old) = old_email.filter(|_| email_changed) {
            let note = Notification {
                property_id: None,
                person_id: id,
                kind: "email_changed".into(),
                case_id: None,
                body: json!({
                    "to": old,
                    "new_email": p.email,
                    "changed_by": who.id(),
                    "message": "The sign-in e-mail address of your latchkey account was changed. \
                                If you did not ask for this, tell the building's staff now.",
                }),
                created_at: self.now(),
                sent_at: None,
            };
            latchkey_store::lockout::queue(tx.conn(), &[note]).await?;
        }
        let ev = NewEvent::new("person.updated", format!("person:{id}"))
            .actor(Some(who.id()))
            .data(json!({ "email_changed": email_changed }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(p)
    }

    /// Memberships the caller may see at a property.
    ///
    /// # Errors
    /// `NotFound` for outsiders.
    pub async fn list_memberships(
        &self,
        who: &Principal,
        property: PropertyId,
    ) -> Result<Vec<Membership>> {
        let m = who.member(property)?;
        let units = who.units(property);
        let mut conn = self.store().read().await?;
        // Staff read the whole property; anyone else reads only the rows near them (their units
        // and their own), and the rule below still decides, so the narrowing never widens it.
        let rows = if m.is_staff() {
            repo::list_memberships(&mut conn, property).await?
        } else {
            repo::list_memberships_near(&mut conn, property, &units, who.id()).await?
        };
        Ok(rows
            .into_iter()
            .filter(|x| {
                m.is_staff()
                    || x.person_id == who.id()
                    || x.unit_id.is_some_and(|u| units.contains(&u))
            })
            .collect())
    }

    /// # Errors
    /// `NotFound` when it does not exist or the caller may not see it.
    pub async fn get_membership(&self, who: &Principal, id: MembershipId) -> Result<Membership> {
        let mut conn = self.store().read().await?;
        let m = repo::get_membership(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("membership"))?;
        drop(conn);
        self.list_memberships(who, m.property_id)
            .await
            .ok()
            .and_then(|v| v.into_iter().find(|x| x.id == id))
            .ok_or_else(|| AppError::not_found("membership"))
    }

    /// Loads membership `id` and checks that the caller may end it
    /// ([`Principal::membership_ender`]).
    ///
    /// # Errors
    /// `NotFound` when the caller may not see it; `Forbidden` when they may not end it.
    pub async fn may_end_membership<'a>(
        &self,
        who: &'a Principal,
        id: MembershipId,
    ) -> Result<MembershipEnder<'a>> {
        let m = self.get_membership(who, id).await?;
        who.membership_ender(m)
    }

    /// Ends the membership the capability carries now or at `at` (move-out). Every credential
    /// the person holds for that unit (or, for a property-wide role, at the property) is
    /// revoked in the same transaction.
    ///
    /// # Errors
    /// `Invalid` for an end before its start.
    pub async fn end_membership(
        &self,
        ender: MembershipEnder<'_>,
        at: Option<Timestamp>,
    ) -> Result<Membership> {
        let who = ender.principal();
        let mut m = ender.membership().clone();
        let id = m.id;
        let now = self.now();
        let until = at.unwrap_or(now);
        if m.valid_from.is_some_and(|f| until < f) {
            return Err(AppError::invalid(
                "until",
                "is before the membership starts",
            ));
        }
        let mut tx = self.store().write().await?;
        repo::end_membership(tx.conn(), id, until).await?;
        m.valid_until = Some(until);
        let mut events = vec![membership_event("membership.ended", &m, who)];
        let mut touched = Vec::new();
        if until <= now {
            for c in creds::list_credentials(tx.conn(), m.property_id, Some(m.person_id)).await? {
                let in_scope = m.unit_id.is_none() || c.unit_id == m.unit_id;
                if in_scope && c.status != CredentialStatus::Revoked {
                    creds::set_status(tx.conn(), c.id, CredentialStatus::Revoked, now).await?;
                    events.push(
                        NewEvent::new("credential.revoked", format!("credential:{}", c.id))
                            .property(m.property_id)
                            .actor(Some(who.id()))
                            .data(json!({ "reason": "membership_ended", "membership": id, "doors": c.doors })),
                    );
                    touched.extend(c.doors);
                }
            }
        }
        let scheduled: Vec<(latchkey_core::CredentialId, Vec<latchkey_core::DoorId>)> =
            if until > now {
                creds::list_credentials(tx.conn(), m.property_id, Some(m.person_id))
                    .await?
                    .into_iter()
                    .filter(|c| m.unit_id.is_none() || c.unit_id == m.unit_id)
                    .filter(|c| c.status != CredentialStatus::Revoked)
                    .map(|c| (c.id, c.doors))
                    .collect()
            } else {
                Vec::new()
            };
        self.commit_with(tx, events).await?;
        touched.sort_unstable();
        touched.dedup();
        for d in touched {
            self.devices().desired_state_changed(d);
        }
        // A move-out at a set time: the reconciler's timer ends these credentials at `until`.
        for (c, doors) in scheduled {
            self.devices().credential_changed(c, &doors);
        }
        Ok(m)
    }

    /// Revokes those of `ids` whose holder's membership has ended (a move-out set for a later
    /// time, reached now): the credential is no longer active, as if the membership had been
    /// ended at that moment, and the move-out receipt lists its removal. A credential whose
    /// holder still has a membership in force for it is left alone. Returns the doors whose
    /// locks must change.
    ///
    /// # Errors
    /// `Store` when the database fails; nothing is revoked then.
    pub(crate) async fn end_credentials_of_ended_memberships(
        &self,
        ids: &[latchkey_core::CredentialId],
    ) -> Result<Vec<latchkey_core::DoorId>> {
        let now = self.now();
        let mut tx = self.store().write().await?;
        let mut events = Vec::new();
        let mut touched = Vec::new();
        for &id in ids {
            let Some(c) = creds::get_credential(tx.conn(), id).await? else {
                continue;
            };
            if c.status == CredentialStatus::Revoked {
                continue;
            }
            let ms = repo::memberships_of(tx.conn(), c.person_id).await?;
            let Some(ended) = ended_membership(&ms, &c, now) else {
                continue;
            };
            creds::set_status(tx.conn(), c.id, CredentialStatus::Revoked, now).await?;
            events.push(
                NewEvent::new("credential.revoked", format!("credential:{}", c.id))
                    .property(c.property_id)
                    .data(json!({
                        "reason": "membership_ended", "membership": ended.id,
                        "scheduled_for": ended.valid_until, "doors": c.doors,
                    })),
            );
            touched.extend(c.doors.iter().copied());
        }
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.commit_at(tx, events, now).await?;
        touched.sort_unstable();
        touched.dedup();
        for d in &touched {
            self.devices().desired_state_changed(*d);
        }
        Ok(touched)
    }
}

/// The membership whose end leaves `c` without standing at `now`: an ended membership in the
/// credential's scope (its unit, or property-wide), when no membership in that scope is in
/// force.
pub(crate) fn ended_membership<'a>(
    ms: &'a [Membership],
    c: &latchkey_store::records::Credential,
    now: Timestamp,
) -> Option<&'a Membership> {
    let scope: Vec<&Membership> = ms
        .iter()
        .filter(|m| m.property_id == c.property_id && m.person_id == c.person_id)
        .filter(|m| m.unit_id.is_none() || m.unit_id == c.unit_id)
        .collect();
    if scope.iter().any(|m| m.is_active_at(now)) {
        return None;
    }
    scope
        .into_iter()
        .filter(|m| m.valid_until.is_some_and(|u| u <= now))
        .max_by_key(|m| m.valid_until)
}

pub(crate) fn membership_event(kind: &str, m: &Membership, who: &Principal) -> NewEvent {
    NewEvent::new(kind, format!("person:{}", m.person_id))
        .property(m.property_id)
        .actor(Some(who.id()))
        .data(json!({
            "membership": m.id, "role": m.role, "unit_id": m.unit_id,
            "valid_from": m.valid_from, "valid_until": m.valid_until,
        }))
}
