//! Credentials: phone keys, PINs, RFID cards and physical-key records. A PIN is checked against
//! the rules in `latchkey_core::pin`, sealed at rest, unique per door, and shown once to its
//! owner — never to a manager, never in a log line or an event.

use latchkey_core::model::{CredentialKind, CredentialStatus, Role};
use latchkey_core::pin::{Pin, PinContext};
use latchkey_core::schedule::Schedule;
use latchkey_core::{CredentialId, DoorId, PersonId, PropertyId, UnitId};
use latchkey_store::audit::NewEvent;
use latchkey_store::credentials::{self as repo, NewCredential};
use latchkey_store::records::Credential;
use latchkey_store::{Conn, StoreError, people, property};
use serde::Deserialize;
use serde_json::json;

use crate::authz::Principal;
use crate::directory::check_text;
use crate::{App, AppError, Result};

/// A new credential.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialInput {
    pub person_id: PersonId,
    pub kind: CredentialKind,
    pub label: Option<String>,
    /// The unit this credential belongs to; `None` for a property-wide (staff) credential.
    pub unit_id: Option<UnitId>,
    /// Defaults to the unit's door group and its own doors.
    pub doors: Option<Vec<DoorId>>,
    #[serde(default = "always")]
    pub schedule: Schedule,
    pub max_uses: Option<i64>,
    #[serde(default)]
    pub duress: bool,
    /// For PINs: the code; when absent a random one is generated.
    pub pin: Option<String>,
    /// For RFID cards: the card's UID in hex.
    pub card_uid: Option<String>,
}

fn always() -> Schedule {
    Schedule::Always
}

/// A created credential and, when the caller may see it, the PIN (this one time).
pub struct Created {
    pub credential: Credential,
    pub pin: Option<String>,
}

/// Changes to a credential's schedule, use limit or label.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialPatch {
    pub label: Option<String>,
    pub schedule: Option<Schedule>,
    pub max_uses: Option<Option<i64>>,
}

async fn unit_doors(conn: &mut Conn, unit: UnitId) -> Result<Vec<DoorId>> {
    let u = property::get_unit(conn, unit)
        .await?
        .ok_or_else(|| AppError::invalid("unit_id", "no such unit"))?;
    let mut doors: Vec<DoorId> = property::list_doors(conn, u.property_id)
        .await?
        .into_iter()
        .filter(|d| d.unit_id == Some(unit))
        .map(|d| d.id)
        .collect();
    if let Some(g) = u.door_group_id
        && let Some(group) = property::get_door_group(conn, g).await?
    {
        doors.extend(group.doors);
    }
    doors.sort_unstable();
    doors.dedup();
    Ok(doors)
}

fn random_pin(ctx: &PinContext<'_>) -> Result<Pin> {
    crate::mint::random_pin(ctx, 6)
}

fn check_card_uid(uid: &str) -> Result<String> {
    let u = uid.trim().to_ascii_uppercase();
    if (4..=32).contains(&u.len())
        && u.len().is_multiple_of(2)
        && u.chars().all(|c| c.is_ascii_hexdigit())
    {
        Ok(u)
    } else {
        Err(AppError::invalid(
            "card_uid",
            "must be 4–32 hex digits (2–16 bytes)",
        ))
    }
}

impl App {
    /// Creates a credential.
    ///
    /// Residents create credentials for the people of their unit, on that unit's doors; staff
    /// for anyone at the property. The PIN comes back only when the caller is its holder, or a
    /// resident handing a code to someone of their unit — never to staff acting for others
    /// (the holder reveals it once with [`App::reveal_pin`]).
    ///
    /// # Errors
    /// `Invalid` for a rejected PIN (with the reason), a schedule that ends before it starts,
    /// doors of another property or outside the unit; `Conflict` when the PIN is in use on one
    /// of the doors; `Forbidden`/`NotFound` when the caller may not do this.
    pub async fn create_credential(
        &self,
        who: &Principal,
        property_id: PropertyId,
        input: CredentialInput,
    ) -> Result<Created> {
        let (staff, unit_label) = match input.unit_id {
            Some(u) => {
                let admin = who.unit_admin(property_id, u)?;
                let mut conn = self.store().read().await?;
                let unit = property::get_unit(&mut conn, u)
                    .await?
                    .filter(|x| x.property_id == property_id)
                    .ok_or_else(|| {
                        AppError::invalid("unit_id", "is not a unit of this property")
                    })?;
                (admin.is_staff(), Some(unit.label))
            }
            None => {
                who.staff(property_id)?;
                (true, None)
            }
        };
        let label = match &input.label {
            Some(l) => check_text("label", l, 100)?,
            None => input.kind.as_str().replace('_', " "),
        };
        input
            .schedule
            .validate()
            .map_err(|e| AppError::invalid("schedule", e.to_string()))?;
        let max_uses = match (input.max_uses, input.schedule.is_one_time()) {
            (Some(n), _) if !(1..=100_000).contains(&n) => {
                return Err(AppError::invalid(
                    "max_uses",
                    "must be between 1 and 100000",
                ));
            }
            (None, true) => Some(1),
            (n, _) => n,
        };
        if input.duress && input.kind != CredentialKind::Pin {
            return Err(AppError::invalid(
                "duress",
                "only a PIN can be a duress code",
            ));
        }
        if input.pin.is_some() && input.kind != CredentialKind::Pin {
            return Err(AppError::invalid("pin", "only PIN credentials take a pin"));
        }
        let card_uid = match (input.kind, &input.card_uid) {
            (CredentialKind::RfidCard, Some(uid)) => Some(check_card_uid(uid)?),
            (CredentialKind::RfidCard, None) => {
                return Err(AppError::invalid("card_uid", "an RFID card needs its UID"));
            }
            (_, Some(_)) => {
                return Err(AppError::invalid("card_uid", "only RFID cards have a UID"));
            }
            (_, None) => None,
        };
        let ctx = PinContext {
            unit_label: unit_label.as_deref(),
        };
        let (pin, chosen) = match (input.kind, &input.pin) {
            (CredentialKind::Pin, Some(p)) => (
                Some(Pin::parse(p, &ctx).map_err(|r| AppError::invalid("pin", r.to_string()))?),
                true,
            ),
            (CredentialKind::Pin, None) => (Some(random_pin(&ctx)?), false),
            _ => (None, false),
        };

        let mut conn = self.store().read().await?;
        // The holder must have standing where the credential applies.
        let holder_ms = people::memberships_of(&mut conn, input.person_id).await?;
        let holder_ok = holder_ms.iter().any(|m| {
            m.property_id == property_id
                && (m.unit_id.is_none() || m.unit_id == input.unit_id)
                && (input.unit_id.is_some() || m.role.is_property_wide())
        });
        if !holder_ok {
            return Err(AppError::invalid(
                "person_id",
                "this person has no membership for this unit (add them to the unit first)",
            ));
        }
        let holder_role = holder_ms
            .iter()
            .find(|m| m.property_id == property_id && m.unit_id == input.unit_id)
            .map(|m| m.role);
        let allowed = match input.unit_id {
            Some(u) => unit_doors(&mut conn, u).await?,
            None => property::list_doors(&mut conn, property_id)
                .await?
                .into_iter()
                .map(|d| d.id)
                .collect(),
        };
        drop(conn);
        let doors = match &input.doors {
            Some(list) => {
                if list.is_empty() {
                    return Err(AppError::invalid("doors", "must name at least one door"));
                }
                let all_doors = self.list_property_door_ids(property_id).await?;
                for d in list {
                    if !all_doors.contains(d) {
                        return Err(AppError::invalid(
                            "doors",
                            format!("door {d} is not in this property"),
                        ));
                    }
                    if !staff && !allowed.contains(d) {
                        return Err(AppError::invalid(
                            "doors",
                            format!("door {d} is not one of this unit's doors"),
                        ));
                    }
                }
                list.clone()
            }
            None if allowed.is_empty() => {
                return Err(AppError::invalid(
                    "doors",
                    "this unit has no doors yet; name the doors",
                ));
            }
            None => allowed,
        };

        let mut attempt = pin;
        let credential = loop {
            let secret = attempt
                .as_ref()
                .map(|p| self.keys().seal_pin(property_id, p))
                .transpose()?;
            let digest = attempt
                .as_ref()
                .map(|p| self.keys().pin_digest(property_id, p));
            let mut tx = self.store().write().await?;
            let created = repo::create_credential(
                tx.conn(),
                &NewCredential {
                    property_id,
                    person_id: input.person_id,
                    unit_id: input.unit_id,
                    kind: input.kind,
                    label: label.clone(),
                    schedule: input.schedule.clone(),
                    max_uses,
                    duress: input.duress,
                    non_access: false,
                    secret,
                    pin_digest: digest,
                    card_uid: card_uid.clone(),
                    doors: doors.clone(),
                },
                self.now(),
            )
            .await;
            match created {
                Ok(c) => {
                    let show = attempt.is_some()
                        && (who.id() == input.person_id
                            || (!staff
                                && matches!(
                                    holder_role,
                                    Some(Role::Household | Role::Guest | Role::TrustedContact)
                                )));
                    if show {
                        repo::mark_revealed(tx.conn(), c.id).await?;
                    }
                    let ev = NewEvent::new("credential.created", format!("credential:{}", c.id))
                        .property(property_id)
                        .actor(Some(who.id()))
                        .data(json!({
                            "person_id": c.person_id, "kind": c.kind, "unit_id": c.unit_id,
                            "doors": c.doors, "schedule": c.schedule, "max_uses": c.max_uses,
                            "duress": c.duress, "pin_shown_to_creator": show,
                        }));
                    self.commit_with(tx, vec![ev]).await?;
                    let pin = if show {
                        attempt.map(|p| p.expose().to_owned())
                    } else {
                        None
                    };
                    break Created { credential: c, pin };
                }
                Err(StoreError::Conflict(_)) if attempt.is_some() && !chosen => {
                    attempt = Some(random_pin(&ctx)?);
                }
                Err(StoreError::Conflict(_)) if attempt.is_some() => {
                    return Err(AppError::Conflict(
                        "this PIN is already in use on one of these doors; choose another".into(),
                    ));
                }
                Err(e) => {
                    return Err(AppError::conflict_or(
                        e,
                        "this credential conflicts with an existing one",
                    ));
                }
            }
        };
        self.devices()
            .credential_changed(credential.credential.id, &credential.credential.doors);
        Ok(credential)
    }

    async fn list_property_door_ids(&self, property: PropertyId) -> Result<Vec<DoorId>> {
        let mut conn = self.store().read().await?;
        Ok(property::list_doors(&mut conn, property)
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect())
    }

    /// Credentials the caller may see: all for staff; their units' for residents; their own
    /// for everyone else.
    ///
    /// # Errors
    /// `NotFound` for outsiders.
    pub async fn list_credentials(
        &self,
        who: &Principal,
        property: PropertyId,
        person: Option<PersonId>,
    ) -> Result<Vec<Credential>> {
        let m = who.member(property)?;
        let resident_of = who.resident_units(property);
        let mut conn = self.store().read().await?;
        Ok(repo::list_credentials(&mut conn, property, person)
            .await?
            .into_iter()
            .filter(|c| {
                m.is_staff()
                    || c.person_id == who.id()
                    || c.unit_id.is_some_and(|u| resident_of.contains(&u))
            })
            .collect())
    }

    /// # Errors
    /// `NotFound` when it does not exist or the caller may not see it.
    pub async fn get_credential(&self, who: &Principal, id: CredentialId) -> Result<Credential> {
        let mut conn = self.store().read().await?;
        let c = repo::get_credential(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("credential"))?;
        let m = who
            .member(c.property_id)
            .map_err(|_| AppError::not_found("credential"))?;
        let visible = m.is_staff()
            || c.person_id == who.id()
            || c.unit_id
                .is_some_and(|u| who.resident_units(c.property_id).contains(&u));
        if visible {
            Ok(c)
        } else {
            Err(AppError::not_found("credential"))
        }
    }

    /// A credential the caller may freeze at once because its phone or card is lost (PRODUCT.md
    /// §5): its holder, anyone who lives in its unit, an active spare-key holder of its unit,
    /// or staff. Freezing never blocks recovery, so the circle is wider than who may see it.
    ///
    /// # Errors
    /// `NotFound` for anyone else (they may not know it exists).
    async fn credential_to_freeze(&self, who: &Principal, id: CredentialId) -> Result<Credential> {
        let mut conn = self.store().read().await?;
        let c = repo::get_credential(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("credential"))?;
        let m = who
            .member(c.property_id)
            .map_err(|_| AppError::not_found("credential"))?;
        let lives_there = c.unit_id.is_some_and(|u| {
            who.active().any(|mm| {
                mm.property_id == c.property_id
                    && mm.unit_id == Some(u)
                    && matches!(mm.role, Role::Resident | Role::Household)
            })
        });
        let holds_spare_key = match c.unit_id {
            Some(u) => latchkey_store::recovery::list_spare_keys(&mut conn, c.property_id, Some(u))
                .await?
                .iter()
                .any(|k| k.status == "active" && k.holder_id == who.id()),
            None => false,
        };
        if m.is_staff() || c.person_id == who.id() || lives_there || holds_spare_key {
            Ok(c)
        } else {
            Err(AppError::not_found("credential"))
        }
    }

    /// Whether the caller manages this credential (its unit's residents, or staff).
    fn manages(&self, who: &Principal, c: &Credential) -> bool {
        match c.unit_id {
            Some(u) => who.unit_admin(c.property_id, u).is_ok(),
            None => who.staff(c.property_id).is_ok(),
        }
    }

    /// Revokes, freezes or unfreezes a credential.
    ///
    /// Revoke: its holder, its unit's residents, staff. Freeze (a lost phone or card): its
    /// holder, anyone who lives in its unit, a spare-key holder of the unit, staff; the holder is
    /// told when someone else froze it. Unfreeze: its unit's residents, staff.
    ///
    /// # Errors
    /// `Forbidden` when the caller may not; `Conflict` when the change makes no sense (a
    /// revoked credential stays revoked).
    pub async fn set_credential_status(
        &self,
        who: &Principal,
        id: CredentialId,
        to: CredentialStatus,
    ) -> Result<Credential> {
        let c = match to {
            CredentialStatus::Frozen => self.credential_to_freeze(who, id).await?,
            _ => self.get_credential(who, id).await?,
        };
        let holder = c.person_id == who.id();
        let allowed = match to {
            CredentialStatus::Revoked => holder || self.manages(who, &c),
            // Checked by `credential_to_freeze`.
            CredentialStatus::Frozen => true,
            CredentialStatus::Active => self.manages(who, &c),
        };
        if !allowed {
            return Err(AppError::forbidden("you may not change this credential"));
        }
        match (c.status, to) {
            (CredentialStatus::Revoked, _) => {
                return Err(AppError::Conflict(
                    "this credential is revoked; create a new one".into(),
                ));
            }
            (from, to) if from == to => return Ok(c),
            (CredentialStatus::Active, CredentialStatus::Active) => return Ok(c),
            _ => {}
        }
        let mut tx = self.store().write().await?;
        repo::set_status(tx.conn(), id, to, self.now()).await?;
        let kind = match to {
            CredentialStatus::Revoked => "credential.revoked",
            CredentialStatus::Frozen => "credential.frozen",
            CredentialStatus::Active => "credential.unfrozen",
        };
        let ev = NewEvent::new(kind, format!("credential:{id}"))
            .property(c.property_id)
            .actor(Some(who.id()))
            .data(json!({ "from": c.status, "doors": c.doors }));
        if to == CredentialStatus::Frozen && !holder {
            latchkey_store::lockout::queue(
                tx.conn(),
                &[latchkey_store::lockout::Notification {
                    property_id: Some(c.property_id),
                    person_id: c.person_id,
                    kind: "credential.frozen".into(),
                    case_id: None,
                    body: json!({ "credential_id": id, "by": who.id(), "label": c.label }),
                    created_at: self.now(),
                    sent_at: None,
                }],
            )
            .await?;
        }
        self.commit_with(tx, vec![ev]).await?;
        self.devices().credential_changed(id, &c.doors);
        let mut conn = self.store().read().await?;
        repo::get_credential(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("credential"))
    }

    /// Changes label, schedule or use limit.
    ///
    /// # Errors
    /// `Forbidden` for anyone but its unit's residents and staff; `Invalid` for a bad schedule.
    pub async fn update_credential(
        &self,
        who: &Principal,
        id: CredentialId,
        patch: CredentialPatch,
    ) -> Result<Credential> {
        let mut c = self.get_credential(who, id).await?;
        if !self.manages(who, &c) {
            return Err(AppError::forbidden(
                "only the unit's residents and staff may change this credential",
            ));
        }
        if c.status == CredentialStatus::Revoked {
            return Err(AppError::Conflict(
                "this credential is revoked; create a new one".into(),
            ));
        }
        if let Some(l) = &patch.label {
            c.label = check_text("label", l, 100)?;
        }
        if let Some(s) = &patch.schedule {
            s.validate()
                .map_err(|e| AppError::invalid("schedule", e.to_string()))?;
            c.schedule = s.clone();
        }
        if let Some(m) = patch.max_uses {
            if m.is_some_and(|n| !(1..=100_000).contains(&n)) {
                return Err(AppError::invalid(
                    "max_uses",
                    "must be between 1 and 100000",
                ));
            }
            c.max_uses = m;
        }
        let mut tx = self.store().write().await?;
        repo::set_schedule(tx.conn(), id, &c.schedule, c.max_uses).await?;
        let ev = NewEvent::new("credential.updated", format!("credential:{id}"))
            .property(c.property_id)
            .actor(Some(who.id()))
            .data(json!({ "label": c.label, "schedule": c.schedule, "max_uses": c.max_uses }));
        self.commit_with(tx, vec![ev]).await?;
        self.devices().credential_changed(id, &c.doors);
        Ok(c)
    }

    /// Shows a PIN to its holder, once, if it was not shown at creation. Rate-limited.
    ///
    /// # Errors
    /// `Forbidden` for anyone but the holder; `Conflict` once it has been shown, or when it is
    /// not an active PIN.
    pub async fn reveal_pin(&self, who: &Principal, id: CredentialId) -> Result<String> {
        self.limiter().hit(
            &format!("reveal:{}", who.id()),
            10,
            std::time::Duration::from_secs(600),
        )?;
        let c = self.get_credential(who, id).await?;
        if c.person_id != who.id() {
            return Err(AppError::forbidden("only the holder of a PIN may see it"));
        }
        if c.kind != CredentialKind::Pin || c.status == CredentialStatus::Revoked {
            return Err(AppError::Conflict(
                "this credential is not an active PIN; only a PIN is revealed".to_owned(),
            ));
        }
        let mut tx = self.store().write().await?;
        if !repo::mark_revealed(tx.conn(), id).await? {
            return Err(AppError::Conflict(
                "this PIN was already shown once; ask for a new PIN if you lost it".into(),
            ));
        }
        let sealed = repo::secret(tx.conn(), id)
            .await?
            .ok_or_else(|| AppError::Internal(format!("PIN credential {id} has no sealed PIN")))?;
        let pin = self.keys().open_pin(c.property_id, &sealed)?;
        let ev = NewEvent::new("credential.pin_revealed", format!("credential:{id}"))
            .property(c.property_id)
            .actor(Some(who.id()));
        self.commit_with(tx, vec![ev]).await?;
        Ok(pin)
    }
}
