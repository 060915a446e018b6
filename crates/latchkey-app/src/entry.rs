//! How staff reach a unit's own door. A staff credential never includes one (and `decide()`
//! refuses one that still does); staff open it remotely only
//!
//! 1. under an **entry notice**: a scheduled visit with a purpose and a window, created at least
//!    the property's notice period (`policy.entry_notice_hours`, 24 h by default) before the
//!    window starts, and told at once to everyone who lives in the unit; any staff member of the
//!    property may open the notice's doors inside its window, and each opening is audited
//!    (`entry_notice.opened`) and told to the household; or
//! 2. as an **emergency** with a reason, told to the household at once (see `devices/remote.rs`).
//!
//! Households are told through the notification outbox, in the transaction of what they are told
//! of, so a notice or an opening that was not told did not happen.

use jiff::{SignedDuration, Timestamp};
use latchkey_core::{DoorId, PersonId, PropertyId, UnitId};
use latchkey_store::audit::NewEvent;
use latchkey_store::entry::{self as repo, NewEntryNotice};
use latchkey_store::lockout::{Notification, occupants_of_unit};
use latchkey_store::records::{Door, Membership};
use latchkey_store::{Conn, credentials as creds, people, property};
use serde::Deserialize;
use serde_json::json;

pub use latchkey_store::entry::EntryNotice;

use crate::access::{holder_membership, is_unit_door};
use crate::authz::{Principal, Staff, StaffOn};
use crate::directory::{check_text, load_property};
use crate::{App, AppError, Result};

/// The longest window of one notice: a visit, not a standing key.
const LONGEST_WINDOW: SignedDuration = SignedDuration::from_hours(12);

/// A scheduled visit to announce.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryNoticeInput {
    pub unit_id: UnitId,
    /// The unit's own doors to open; defaults to all of them.
    pub doors: Option<Vec<DoorId>>,
    /// What the visit is for, as the household will read it.
    pub purpose: String,
    pub window_from: Timestamp,
    pub window_until: Timestamp,
}

/// What staff may do at a unit's door right now, by notice.
pub(crate) enum NoticeBasis {
    Open(EntryNotice),
    Refused(String),
}

/// The messages telling everyone who lives in `unit` (residents and household members) of
/// something, to be queued in the transaction of that something.
pub(crate) async fn tell_household(
    conn: &mut Conn,
    property: PropertyId,
    unit: UnitId,
    kind: &str,
    body: &serde_json::Value,
    now: Timestamp,
) -> Result<Vec<Notification>> {
    Ok(occupants_of_unit(conn, unit, now)
        .await?
        .into_iter()
        .map(|o| Notification {
            property_id: Some(property),
            person_id: o.person_id,
            kind: kind.to_owned(),
            case_id: None,
            body: body.clone(),
            created_at: now,
            sent_at: None,
        })
        .collect())
}

fn told_ids(messages: &[Notification]) -> Vec<PersonId> {
    messages.iter().map(|m| m.person_id).collect()
}

impl App {
    /// Announces a visit by staff to a unit and tells everyone who lives there at once.
    ///
    /// # Errors
    /// `NotFound` for outsiders, `Forbidden` for anyone but staff; `Invalid` for a unit of
    /// another property, a door that is not the unit's own, a purpose that says nothing, a
    /// window that starts sooner than the property's notice period, ends before it starts or
    /// lasts longer than 12 hours. Nothing is written or told then.
    pub async fn create_entry_notice(
        &self,
        staff: Staff<'_>,
        input: EntryNoticeInput,
    ) -> Result<EntryNotice> {
        let who = staff.principal();
        let property_id = staff.property();
        let purpose = check_text("purpose", &input.purpose, 500)?;
        if purpose.chars().count() < 5 {
            return Err(AppError::invalid(
                "purpose",
                "say what the visit is for (at least 5 characters); the household reads it",
            ));
        }
        let now = self.now();
        let mut tx = self.store().write().await?;
        let prop = load_property(tx.conn(), property_id).await?;
        let unit = property::get_unit(tx.conn(), input.unit_id)
            .await?
            .filter(|u| u.property_id == property_id)
            .ok_or_else(|| AppError::invalid("unit_id", "is not a unit of this property"))?;
        let own: Vec<DoorId> = property::list_doors(tx.conn(), property_id)
            .await?
            .into_iter()
            .filter(|d| d.unit_id == Some(unit.id))
            .map(|d| d.id)
            .collect();
        let doors = match input.doors {
            Some(list) if list.is_empty() => {
                return Err(AppError::invalid("doors", "must name at least one door"));
            }
            Some(list) => {
                if let Some(d) = list.iter().find(|d| !own.contains(d)) {
                    return Err(AppError::invalid(
                        "doors",
                        format!("door {d} is not one of unit {}'s own doors", unit.label),
                    ));
                }
                list
            }
            None if own.is_empty() => {
                return Err(AppError::invalid(
                    "unit_id",
                    format!("unit {} has no door of its own", unit.label),
                ));
            }
            None => own,
        };
        let hours = prop.policy.entry_notice_hours;
        let earliest = now
            .checked_add(SignedDuration::from_hours(i64::from(hours)))
            .map_err(|e| AppError::Internal(format!("notice period: {e}")))?;
        if input.window_from < earliest {
            return Err(AppError::invalid(
                "window_from",
                format!(
                    "must be at least {hours} hours from now: the household is told now and gets \
                     the property's full notice period before anyone enters; in an emergency, \
                     open the door as an emergency with a reason instead"
                ),
            ));
        }
        if input.window_until <= input.window_from {
            return Err(AppError::invalid(
                "window_until",
                "must be after window_from",
            ));
        }
        if input.window_until.duration_since(input.window_from) > LONGEST_WINDOW {
            return Err(AppError::invalid(
                "window_until",
                "a notice's window lasts at most 12 hours; give each visit its own notice",
            ));
        }
        let notice = repo::create_notice(
            tx.conn(),
            &NewEntryNotice {
                property_id,
                unit_id: unit.id,
                doors,
                purpose,
                window_from: input.window_from,
                window_until: input.window_until,
                created_by: staff.principal().id(),
            },
            now,
        )
        .await?;
        let body = json!({
            "entry_notice_id": notice.id, "unit": unit.label, "doors": notice.doors,
            "purpose": notice.purpose, "window_from": notice.window_from,
            "window_until": notice.window_until, "by": who.id(),
            "text": "Building staff will enter your home in this window, for this purpose. \
                     Each time they open the door you are told.",
        });
        let messages = tell_household(
            tx.conn(),
            property_id,
            unit.id,
            "entry_notice.created",
            &body,
            now,
        )
        .await?;
        latchkey_store::lockout::queue(tx.conn(), &messages).await?;
        let ev = NewEvent::new(
            "entry_notice.created",
            format!("entry_notice:{}", notice.id),
        )
        .property(property_id)
        .actor(Some(who.id()))
        .data(json!({
            "unit_id": unit.id, "doors": notice.doors, "purpose": notice.purpose,
            "window_from": notice.window_from, "window_until": notice.window_until,
            "notice_hours": hours, "told": told_ids(&messages),
        }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(notice)
    }

    /// Entry notices of a property, latest window first: all of them for staff; their own
    /// units' for the people who live there.
    ///
    /// # Errors
    /// `NotFound` for outsiders; `Forbidden` for members who neither manage the building nor
    /// live in a unit of it (guests, trusted contacts).
    pub async fn list_entry_notices(
        &self,
        who: &Principal,
        property: PropertyId,
    ) -> Result<Vec<EntryNotice>> {
        let m = who.member(property)?;
        let homes = who.home_units(property);
        if !m.is_staff() && homes.is_empty() {
            return Err(AppError::forbidden(
                "only staff and the people who live in a unit see its entry notices",
            ));
        }
        let mut conn = self.store().read().await?;
        Ok(repo::list_notices(&mut conn, property, None)
            .await?
            .into_iter()
            .filter(|n| m.is_staff() || homes.contains(&n.unit_id))
            .collect())
    }

    /// Loads notice `id` and checks that the caller may cancel it
    /// ([`Principal::entry_notice_canceller`]).
    ///
    /// # Errors
    /// `NotFound` for anyone who may not see it; `Forbidden` for its household (only staff
    /// cancel).
    pub async fn may_cancel_entry_notice<'a>(
        &self,
        who: &'a Principal,
        id: i64,
    ) -> Result<StaffOn<'a, EntryNotice>> {
        let mut conn = self.store().read().await?;
        let notice = repo::get_notice(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("entry notice"))?;
        who.entry_notice_canceller(notice)
    }

    /// Cancels the notice the capability carries before its window ends and tells the
    /// household.
    ///
    /// # Errors
    /// `Conflict` when it is already cancelled or over.
    pub async fn cancel_entry_notice(
        &self,
        staff: StaffOn<'_, EntryNotice>,
    ) -> Result<EntryNotice> {
        let who = staff.principal();
        let id = staff.record().id;
        let now = self.now();
        let mut tx = self.store().write().await?;
        let notice = repo::get_notice(tx.conn(), id)
            .await?
            .ok_or_else(|| AppError::not_found("entry notice"))?;
        if notice.cancelled_at.is_some() {
            return Err(AppError::Conflict(
                "this entry notice is already cancelled".into(),
            ));
        }
        if notice.window_until <= now {
            return Err(AppError::Conflict("this entry notice is over".into()));
        }
        repo::cancel_notice(tx.conn(), id, who.id(), now).await?;
        let body = json!({
            "entry_notice_id": id, "purpose": notice.purpose,
            "window_from": notice.window_from, "window_until": notice.window_until,
            "by": who.id(),
            "text": "The announced visit by building staff is cancelled; nobody enters under it.",
        });
        let messages = tell_household(
            tx.conn(),
            notice.property_id,
            notice.unit_id,
            "entry_notice.cancelled",
            &body,
            now,
        )
        .await?;
        latchkey_store::lockout::queue(tx.conn(), &messages).await?;
        let ev = NewEvent::new("entry_notice.cancelled", format!("entry_notice:{id}"))
            .property(notice.property_id)
            .actor(Some(who.id()))
            .data(json!({ "unit_id": notice.unit_id, "told": told_ids(&messages) }));
        let cancelled = repo::get_notice(tx.conn(), id)
            .await?
            .ok_or_else(|| AppError::Internal(format!("entry notice {id} vanished")))?;
        self.commit_with(tx, vec![ev]).await?;
        Ok(cancelled)
    }

    /// Whether a notice lets staff open this unit door at `now`, or why not.
    pub(crate) async fn notice_basis(&self, door: &Door, now: Timestamp) -> Result<NoticeBasis> {
        let mut conn = self.store().read().await?;
        let hours = load_property(&mut conn, door.property_id)
            .await?
            .policy
            .entry_notice_hours;
        let notices = match door.unit_id {
            Some(unit) => repo::list_notices(&mut conn, door.property_id, Some(unit)).await?,
            None => Vec::new(),
        };
        drop(conn);
        let mine: Vec<&EntryNotice> = notices
            .iter()
            .filter(|n| n.cancelled_at.is_none() && n.doors.contains(&door.id))
            .collect();
        if let Some(n) = mine.iter().find(|n| n.opens(door.id, now)) {
            return Ok(NoticeBasis::Open((*n).clone()));
        }
        let rest = "staff open a unit's door only inside the window of an entry notice, or as an \
                    audited emergency with a reason";
        let next = mine
            .iter()
            .filter(|n| n.window_from > now)
            .min_by_key(|n| n.window_from);
        let last = mine
            .iter()
            .filter(|n| n.window_until <= now)
            .max_by_key(|n| n.window_until);
        Ok(NoticeBasis::Refused(match (next, last) {
            (Some(n), _) => format!(
                "entry notice {} for this door opens its window at {} (until {}); {rest}",
                n.id, n.window_from, n.window_until
            ),
            (None, Some(n)) => format!(
                "entry notice {} for this door ended at {}; {rest}",
                n.id, n.window_until
            ),
            (None, None) => format!(
                "staff open a unit's door only under an entry notice told to the household at \
                 least {hours} hours before, inside its window, or as an audited emergency with \
                 a reason, told to the household at once"
            ),
        }))
    }

    /// Takes every unit's own door off credentials held in a property-wide role (staff), as an
    /// older latchkey issued them; each change is audited (`credential.unit_doors_removed`) and
    /// the locks are told. Run at start-up; returns how many credentials changed.
    ///
    /// # Errors
    /// `Store` on a failed read or write; then nothing changed.
    pub async fn remove_staff_unit_doors(&self) -> Result<usize> {
        let now = self.now();
        // Read first: at almost every start there is nothing to change, and then no write
        // transaction is opened. Nothing else runs yet, so what was read still holds.
        let mut conn = self.store().read().await?;
        let mut events = Vec::new();
        let mut changed = Vec::new();
        for prop in property::list_properties(&mut conn).await? {
            let unit_doors: Vec<DoorId> = property::list_doors(&mut conn, prop.id)
                .await?
                .iter()
                .filter(|d| is_unit_door(d))
                .map(|d| d.id)
                .collect();
            if unit_doors.is_empty() {
                continue;
            }
            let memberships = people::list_memberships(&mut conn, prop.id).await?;
            for c in creds::list_credentials(&mut conn, prop.id, None).await? {
                let held_by_staff = holder_membership(&memberships, &c, now)
                    .is_some_and(|m: &Membership| m.unit_id.is_none());
                let remove: Vec<DoorId> = c
                    .doors
                    .iter()
                    .copied()
                    .filter(|d| unit_doors.contains(d))
                    .collect();
                if !held_by_staff || remove.is_empty() {
                    continue;
                }
                events.push(
                    NewEvent::new(
                        "credential.unit_doors_removed",
                        format!("credential:{}", c.id),
                    )
                    .property(prop.id)
                    .data(json!({
                        "person_id": c.person_id, "doors": remove,
                        "reason": "a credential held as staff never opens a unit's own door; \
                                   staff enter under an entry notice or as an emergency",
                    })),
                );
                changed.push((c.id, remove));
            }
        }
        drop(conn);
        if events.is_empty() {
            return Ok(0);
        }
        let mut tx = self.store().write().await?;
        for (id, doors) in &changed {
            creds::remove_doors(tx.conn(), *id, doors).await?;
        }
        self.commit_at(tx, events, now).await?;
        for (id, doors) in &changed {
            tracing::warn!(credential = %id, doors = ?doors, "took unit doors off a staff credential");
            self.devices().credential_changed(*id, doors);
        }
        Ok(changed.len())
    }

    /// Refuses a unit's own door on a credential held in a property-wide role: a property-wide
    /// credential, or one filed under a unit whose holder has no membership in that unit.
    pub(crate) async fn refuse_unit_doors_to_staff(
        &self,
        property_id: PropertyId,
        holder: &[Membership],
        unit: Option<UnitId>,
        doors: &[DoorId],
    ) -> Result<()> {
        let property_wide = unit.is_none()
            || !holder
                .iter()
                .any(|m| m.property_id == property_id && m.unit_id == unit);
        if !property_wide {
            return Ok(());
        }
        let mut conn = self.store().read().await?;
        let found = property::list_doors(&mut conn, property_id)
            .await?
            .into_iter()
            .find(|d| doors.contains(&d.id) && is_unit_door(d));
        match found {
            Some(d) => Err(AppError::invalid(
                "doors",
                format!(
                    "door {} ({}) is a unit's own door, and a credential held as staff never \
                     opens one: staff enter a unit under an entry notice told to the household \
                     in advance, or as an emergency with a reason",
                    d.id, d.name
                ),
            )),
            None => Ok(()),
        }
    }
}
